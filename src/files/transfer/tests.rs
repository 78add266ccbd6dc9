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

fn part_in(dir: &Path, name: &str) -> PartFile {
    PartFile {
        dir: dir.to_path_buf(),
        name: name.into(),
    }
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
        let part = part_in(dir.path(), name);
        let saved = round_trip(bytes, &part, &offer, 0).unwrap();
        assert_eq!(saved, dir.path().join(name));
        assert_eq!(fs::read(&saved).unwrap(), bytes);
        assert!(!part.part().exists() && !part.note().exists());
    }
    // The same name again is saved beside it, numbered.
    let offer = offer_of(b"x", "one");
    let saved = round_trip(b"x", &part_in(dir.path(), "one"), &offer, 0).unwrap();
    assert_eq!(saved, dir.path().join("one (1)"));
    assert_eq!(fs::read(dir.path().join("one")).unwrap(), b"x");
}

#[test]
fn a_cut_off_transfer_keeps_its_part_and_resumes_with_fewer_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let offer = offer_of(&bytes, "cut.bin");
    let part = part_in(dir.path(), "cut.bin");
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
    let part = part_in(dir.path(), "h.txt");
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
    let part = part_in(&dir.path().join("missing"), "x");
    let err = receive_bytes(&mut &b"x"[..], &part, &offer, 0, &mut go_on).unwrap_err();
    assert!(matches!(err, TransferError::Io(_)), "{err}");
}
