//! What a kept `.part` file is worth when a file is offered again, and the
//! progress a transfer reports. A `.part` is resumed only if its note (the
//! `<name>.part.sum` beside it, one line `<checksum> <size>`) names the
//! same checksum and size as the new offer: then its bytes, up to the
//! offered size, are the verified prefix (they came from a peer that proved
//! its key, and the whole file is checked against the checksum before it is
//! kept). Anything else starts over. Plain functions, no I/O.

use std::time::{Duration, SystemTime};

use crate::wire::{Checksum, FileOffer};

/// How long a `.part` that nothing was written to is kept for a resume:
/// after that, the next transfer into its folder removes it and its note.
pub const PART_KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Whether `name` is one of our `.part`s: `<name>.<16 hex digits>.part`.
pub fn is_part_name(name: &str) -> bool {
    let Some(rest) = name.strip_suffix(".part") else {
        return false;
    };
    let tag = rest.rsplit('.').next().unwrap_or_default();
    rest.len() > tag.len() + 1
        && tag.len() == 16
        && tag.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The tag in a `.part`'s name: the first 16 hex digits of the checksum.
pub fn part_tag(sum: &Checksum) -> String {
    sum.0[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `note`, the text of the note beside the `.part` named `name`,
/// is really its note: `<checksum> <size>`, the checksum beginning with the
/// part's tag. A file that only has the name of a `.part` (one the user
/// keeps there) has no such note beside it, and is never swept.
pub fn notes_part(name: &str, note: &str) -> bool {
    let Some(tag) = name
        .strip_suffix(".part")
        .and_then(|rest| rest.rsplit('.').next())
    else {
        return false;
    };
    let mut words = note.split_whitespace();
    let Some(sum) = words.next().and_then(|w| w.parse::<Checksum>().ok()) else {
        return false;
    };
    let sized = words.next().is_some_and(|w| w.parse::<u64>().is_ok());
    is_part_name(name) && sized && words.next().is_none() && part_tag(&sum) == tag
}

/// The `.part`s to remove, of `parts` (each name with when it or its note
/// was last written): ours, untouched for longer than `PART_KEPT_FOR` at
/// `now`, and not `keep` (the one about to be resumed).
pub fn stale_parts<'a>(
    parts: &'a [(String, SystemTime)],
    now: SystemTime,
    keep: &str,
) -> Vec<&'a str> {
    parts
        .iter()
        .filter(|(name, written)| {
            let age = now.duration_since(*written).unwrap_or_default();
            name != keep && is_part_name(name) && age > PART_KEPT_FOR
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

/// The note kept beside a `.part`: which file its bytes belong to.
pub fn part_note(offer: &FileOffer) -> String {
    format!("{} {}\n", offer.sum, offer.size)
}

/// The byte to resume `offer` from, given the `.part`'s note (if it has
/// one) and its length: the length if the note is the offer's and the
/// length is no more than the size, else 0 (start over).
pub fn resume_from(note: Option<&str>, part_len: u64, offer: &FileOffer) -> u64 {
    let Some(note) = note else {
        return 0;
    };
    let mut words = note.split_whitespace();
    let sum = words.next().and_then(|w| w.parse::<Checksum>().ok());
    let size = words.next().and_then(|w| w.parse::<u64>().ok());
    if sum == Some(offer.sum) && size == Some(offer.size) && part_len <= offer.size {
        part_len
    } else {
        0
    }
}

/// Which quarters of a transfer have been told: a line at the start, at
/// every 25 % and at the end, each once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarters {
    size: u64,
    told: u8,
}

impl Quarters {
    /// A transfer of `size` bytes, `from` of them there already.
    pub fn new(size: u64, from: u64) -> Quarters {
        let mut quarters = Quarters { size, told: 0 };
        quarters.told = quarters.reached(from);
        quarters
    }

    fn reached(&self, done: u64) -> u8 {
        if self.size == 0 {
            return 4;
        }
        // In u128, so that no size overflows.
        (u128::from(done.min(self.size)) * 4 / u128::from(self.size)) as u8
    }

    /// The percentage to tell, if `done` bytes passed a quarter not told
    /// yet (only the highest, when several passed at once).
    pub fn advance(&mut self, done: u64) -> Option<u8> {
        let reached = self.reached(done);
        if reached > self.told {
            self.told = reached;
            Some(reached * 25)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::OfferId;

    fn offer(size: u64, sum: u8) -> FileOffer {
        FileOffer {
            id: OfferId(1),
            size,
            sum: Checksum([sum; 32]),
            name: "f".into(),
        }
    }

    #[test]
    fn a_part_resumes_only_for_the_same_file() {
        let ten = offer(10, 1);
        let note = part_note(&ten);
        assert_eq!(resume_from(Some(&note), 4, &ten), 4);
        assert_eq!(resume_from(Some(&note), 10, &ten), 10);
        assert_eq!(resume_from(Some(&note), 11, &ten), 0);
        assert_eq!(resume_from(None, 4, &ten), 0);
        assert_eq!(resume_from(Some(&note), 4, &offer(10, 2)), 0);
        assert_eq!(resume_from(Some(&note), 4, &offer(11, 1)), 0);
        assert_eq!(resume_from(Some("garbage"), 4, &ten), 0);
        assert_eq!(resume_from(Some(""), 0, &ten), 0);
    }

    #[test]
    fn only_a_note_of_the_parts_own_checksum_makes_it_ours() {
        let tag = "0123456789abcdef";
        let part = format!("notes.{tag}.part");
        let sum = |first: &str| format!("sha256:{first}{}", "0".repeat(64 - first.len()));
        assert!(notes_part(&part, &format!("{} 5\n", sum(tag))));
        for note in [
            String::new(),
            "x 5".to_string(),
            sum(tag),
            format!("{} 5 more", sum(tag)),
            format!("{} five", sum(tag)),
            format!("{} 5", sum("fedcba9876543210")),
        ] {
            assert!(!notes_part(&part, &note), "{note:?}");
        }
        assert!(!notes_part("notes.pdf", &format!("{} 5", sum(tag))));
    }

    #[test]
    fn a_part_untouched_for_a_week_is_removed_unless_it_is_resumed() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30);
        let ago = |secs: u64| now - Duration::from_secs(secs);
        let week = PART_KEPT_FOR.as_secs();
        let tag = "0123456789abcdef";
        let parts: Vec<(String, SystemTime)> = [
            (format!("old.bin.{tag}.part"), ago(week + 1)),
            (format!("fresh.bin.{tag}.part"), ago(week - 1)),
            (format!("kept.bin.{tag}.part"), ago(week * 5)),
            ("mine.part".to_string(), ago(week * 5)),
            (format!("{tag}.part"), ago(week * 5)),
            ("x.0123456789ABCDEF.part".to_string(), ago(week * 5)),
            (format!("x.{tag}.part.sum"), ago(week * 5)),
            (format!("future.{tag}.part"), now + Duration::from_secs(60)),
        ]
        .into_iter()
        .collect();
        let keep = format!("kept.bin.{tag}.part");
        assert_eq!(
            stale_parts(&parts, now, &keep),
            [format!("old.bin.{tag}.part")]
        );
    }

    #[test]
    fn progress_is_told_at_each_quarter_once() {
        let mut q = Quarters::new(100, 0);
        let told: Vec<_> = [0, 10, 25, 26, 49, 50, 99, 100, 100]
            .into_iter()
            .map(|done| q.advance(done))
            .collect();
        assert_eq!(
            told,
            [
                None,
                None,
                Some(25),
                None,
                None,
                Some(50),
                Some(75),
                Some(100),
                None
            ]
        );
        let mut q = Quarters::new(100, 0);
        assert_eq!(q.advance(80), Some(75));
        let mut resumed = Quarters::new(100, 60);
        assert_eq!(resumed.advance(70), None);
        assert_eq!(resumed.advance(u64::MAX), Some(100));
        let mut empty = Quarters::new(0, 0);
        assert_eq!(empty.advance(0), None);
        let mut huge = Quarters::new(u64::MAX, 0);
        assert_eq!(huge.advance(u64::MAX / 2), Some(25));
    }
}
