use std::io::Cursor;

use std::path::Path;

use super::*;
use crate::wire::OfferId;

fn offer_of(bytes: &[u8], name: &str) -> FileOffer {
    let (sum, size) = checksum_of(bytes).unwrap();
    FileOffer {
        id: OfferId(7),
        size,
        sum,
        name: name.into(),
    }
}

fn part_in(dir: &Path, offer: &FileOffer) -> PartFile {
    PartFile::for_offer(dir, offer)
}

fn go_on(_: u64) -> bool {
    true
}

/// Sends `bytes` from `from` through `send_bytes` into a buffer, and
/// receives that into `part`.
fn round_trip(
    bytes: &[u8],
    part: &PartFile,
    offer: &FileOffer,
    from: u64,
) -> Result<PathBuf, TransferError> {
    let mut wire = Vec::new();
    let count = offer.size - from;
    send_bytes(&mut Cursor::new(bytes), from, count, &mut wire, &mut go_on).unwrap();
    assert_eq!(wire.len() as u64, count);
    receive_bytes(&mut wire.as_slice(), part, offer, from, &mut go_on)
}

#[test]
fn files_of_every_size_arrive_whole_and_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3 * BUFFER as u32 + 17)
        .map(|i| (i * 7919 % 251) as u8)
        .collect();
    for (bytes, name) in [
        (&b""[..], "empty"),
        (&b"x"[..], "one"),
        (&big[..], "big.bin"),
    ] {
        let offer = offer_of(bytes, name);
        let part = part_in(dir.path(), &offer);
        let saved = round_trip(bytes, &part, &offer, 0).unwrap();
        assert_eq!(saved, dir.path().join(name));
        assert_eq!(fs::read(&saved).unwrap(), bytes);
        assert!(!part.part().exists() && !part.note().exists());
    }
    // The same name again is saved beside it, numbered.
    let offer = offer_of(b"x", "one");
    let saved = round_trip(b"x", &part_in(dir.path(), &offer), &offer, 0).unwrap();
    assert_eq!(saved, dir.path().join("one (1)"));
    assert_eq!(fs::read(dir.path().join("one")).unwrap(), b"x");
}

#[cfg(unix)]
#[test]
fn a_saved_file_its_part_and_note_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let bytes = vec![5u8; 1000];
    let offer = offer_of(&bytes, "private.bin");
    let part = part_in(dir.path(), &offer);
    let cut = receive_bytes(&mut &bytes[..10], &part, &offer, 0, &mut go_on);
    assert!(matches!(cut, Err(TransferError::CutOff { .. })));
    assert_eq!(mode(&part.part()), 0o600);
    assert_eq!(mode(&part.note()), 0o600);
    let saved = round_trip(&bytes, &part, &offer, 10).unwrap();
    assert_eq!(mode(&saved), 0o600);
}

#[test]
fn a_cut_off_transfer_keeps_its_part_and_resumes_with_fewer_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let offer = offer_of(&bytes, "cut.bin");
    let part = part_in(dir.path(), &offer);
    let half = &bytes[..100_000];
    let err = receive_bytes(&mut &half[..], &part, &offer, 0, &mut go_on).unwrap_err();
    assert!(
        matches!(
            err,
            TransferError::CutOff {
                got: 100_000,
                expected: 200_000
            }
        ),
        "{err}"
    );
    assert!(err.keeps_part());
    let (note, len) = part.kept();
    let from = super::super::partial::resume_from(note.as_deref(), len, &offer);
    assert_eq!(from, 100_000);
    let saved = round_trip(&bytes, &part, &offer, from).unwrap();
    assert_eq!(fs::read(saved).unwrap(), bytes);
}

#[test]
fn wrong_or_too_many_bytes_remove_the_part() {
    let dir = tempfile::tempdir().unwrap();
    let offer = offer_of(b"hello", "h.txt");
    let part = part_in(dir.path(), &offer);
    let err = receive_bytes(&mut &b"hellO"[..], &part, &offer, 0, &mut go_on).unwrap_err();
    assert!(matches!(err, TransferError::WrongSum), "{err}");
    assert!(!part.part().exists() && !part.note().exists());
    let err = receive_bytes(&mut &b"hello!"[..], &part, &offer, 0, &mut go_on).unwrap_err();
    assert!(matches!(err, TransferError::TooMany(5)), "{err}");
    assert!(!part.part().exists());
    assert!(!dir.path().join("h.txt").exists());
    // A resumed prefix that was wrong is caught at the end, too.
    fs::write(part.part(), b"HE").unwrap();
    fs::write(part.note(), super::super::partial::part_note(&offer)).unwrap();
    let err = receive_bytes(&mut &b"llo"[..], &part, &offer, 2, &mut go_on).unwrap_err();
    assert!(matches!(err, TransferError::WrongSum), "{err}");
    assert!(!part.part().exists());
}

#[test]
fn a_sender_whose_file_shrank_or_a_step_that_says_stop_ends_it() {
    let mut out = Vec::new();
    let err = send_bytes(&mut Cursor::new(b"abc"), 0, 5, &mut out, &mut go_on).unwrap_err();
    assert!(matches!(err, TransferError::Changed), "{err}");
    let err = send_bytes(&mut Cursor::new(b"abc"), 1, 2, &mut out, &mut |_| false).unwrap_err();
    assert!(matches!(err, TransferError::Cancelled), "{err}");
    let mut out = Vec::new();
    let mut seen = Vec::new();
    send_bytes(&mut Cursor::new(b"abcdef"), 2, 4, &mut out, &mut |done| {
        seen.push(done);
        true
    })
    .unwrap();
    assert_eq!(
        (out.as_slice(), seen.as_slice()),
        (&b"cdef"[..], &[6u64][..])
    );
}

#[test]
fn an_unwritable_folder_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let offer = offer_of(b"x", "x");
    let part = part_in(&dir.path().join("missing"), &offer);
    let err = receive_bytes(&mut &b"x"[..], &part, &offer, 0, &mut go_on).unwrap_err();
    assert!(matches!(err, TransferError::Io(_)), "{err}");
}

#[test]
fn two_files_whose_names_clean_the_same_never_share_a_part() {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<u8> = (0..3 * BUFFER as u32).map(|i| (i % 251) as u8).collect();
    let second = b"another report".to_vec();
    let one = offer_of(&first, "report.pdf");
    let other = offer_of(&second, "other/report.pdf");
    let (part_one, part_other) = (part_in(dir.path(), &one), part_in(dir.path(), &other));
    assert_eq!(part_one.name, part_other.name);
    assert_ne!(part_one.part(), part_other.part());
    // The second file arrives whole while the first is half way.
    let mut other_saved = None;
    let first_saved = receive_bytes(&mut first.as_slice(), &part_one, &one, 0, &mut |done| {
        if done == BUFFER as u64 && other_saved.is_none() {
            other_saved = Some(round_trip(&second, &part_other, &other, 0).unwrap());
        }
        true
    })
    .unwrap();
    let other_saved = other_saved.unwrap();
    assert_ne!(first_saved, other_saved);
    assert_eq!(fs::read(&first_saved).unwrap(), first);
    assert_eq!(fs::read(&other_saved).unwrap(), second);
}

#[test]
fn a_kept_part_shorter_than_the_resume_point_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let offer = offer_of(b"hello", "h.txt");
    let part = part_in(dir.path(), &offer);
    fs::write(part.part(), b"he").unwrap();
    fs::write(part.note(), super::super::partial::part_note(&offer)).unwrap();
    let err = receive_bytes(&mut &b"lo"[..], &part, &offer, 3, &mut go_on).unwrap_err();
    assert!(matches!(err, TransferError::Io(_)), "{err}");
    assert!(!dir.path().join("h.txt").exists());
}

#[cfg(unix)]
#[test]
fn a_part_that_is_a_link_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    let offer = offer_of(b"hello", "h.txt");
    let part = part_in(dir.path(), &offer);
    std::os::unix::fs::symlink(&victim, part.part()).unwrap();
    fs::write(part.note(), super::super::partial::part_note(&offer)).unwrap();
    let resumed = receive_bytes(&mut &b"llo"[..], &part, &offer, 2, &mut go_on);
    assert!(matches!(resumed, Err(TransferError::Io(_))), "{resumed:?}");
    assert_eq!(part.kept().1, 0);
    // A new transfer removes the link and writes a file of its own.
    let saved = round_trip(b"hello", &part, &offer, 0).unwrap();
    assert_eq!(fs::read(saved).unwrap(), b"hello");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}
