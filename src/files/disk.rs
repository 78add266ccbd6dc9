//! The download folder on the disk: made private, and the free space of
//! the disk it is on, behind one small function: `statvfs` on unix,
//! `GetDiskFreeSpaceExW` on Windows. `None` where it cannot be told, and
//! the caller then does not refuse for it.

use std::fs::DirBuilder;
use std::io;
use std::path::Path;

/// Creates `dir` and any missing parents, each readable by its owner only
/// (0700 on unix): the files received are the user's private business.
/// A folder that exists already keeps its permissions: the user chose
/// them. (Windows gives a new folder its parent's permissions, which are
/// the user's own under the user's profile.)
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Removes from `dir` the `.part`s (with their notes) that
/// `partial::stale_parts` finds stale at `now`, but never `keep`. Best
/// effort: what cannot be read or removed stays.
pub fn sweep_parts(dir: &Path, now: std::time::SystemTime, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let written = |path: &Path| {
        std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.file_type().is_file())
            .and_then(|m| m.modified().ok())
    };
    let parts: Vec<(String, std::time::SystemTime)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let part = written(&entry.path())?;
            // Only a `.part` with its own note beside it, a plain file.
            let note_path = dir.join(format!("{name}.sum"));
            let note = written(&note_path)?;
            let text = read_note(&note_path)?;
            super::partial::notes_part(&name, &text).then_some((name, part.max(note)))
        })
        .collect();
    let keep = keep
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    for name in super::partial::stale_parts(&parts, now, keep) {
        let _ = std::fs::remove_file(dir.join(name));
        let _ = std::fs::remove_file(dir.join(format!("{name}.sum")));
    }
}

/// A note's text: a short line, so at most 256 bytes are read.
fn read_note(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(256)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Whether `needed` bytes fit in `free` (as `free_space` told it): an
/// unknown free space refuses nothing; too little is `Err` with what is
/// free, for the user's line.
pub fn room_for(free: Option<u64>, needed: u64) -> Result<(), u64> {
    match free {
        Some(free) if free < needed => Err(free),
        _ => Ok(()),
    }
}

/// Bytes free to this user on the disk `dir` is on.
#[cfg(unix)]
pub fn free_space(dir: &Path) -> Option<u64> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is a NUL-terminated string that lives across the call,
    // and `stat` points to memory for one `statvfs`, which the call fills.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: the call succeeded, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    let free = u64::from(stat.f_bavail as u64).checked_mul(stat.f_frsize as u64);
    free
}

/// Bytes free to this user on the disk `dir` is on.
#[cfg(windows)]
pub fn free_space(dir: &Path) -> Option<u64> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW;

    let wide: Vec<u16> = dir.as_os_str().encode_wide().chain([0]).collect();
    let mut free: u64 = 0;
    // SAFETY: `wide` is a NUL-terminated UTF-16 path that lives across the
    // call; the call writes one u64 to `free` and nothing to the null
    // pointers it is allowed to get.
    let ok = unsafe {
        GetDiskFreeSpaceExW(
            wide.as_ptr(),
            &mut free,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    (ok != 0).then_some(free)
}

#[cfg(not(any(unix, windows)))]
pub fn free_space(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::room_for;

    #[track_caller]
    fn check(free: Option<u64>, needed: u64, expected: Result<(), u64>) {
        assert_eq!(
            room_for(free, needed),
            expected,
            "{free:?} free, {needed} needed"
        );
    }

    #[test]
    fn a_file_fits_in_as_much_room_as_it_needs_or_where_the_room_is_unknown() {
        check(Some(10), 10, Ok(()));
        check(Some(10), 9, Ok(()));
        check(Some(10), 11, Err(10));
        check(Some(0), 0, Ok(()));
        check(Some(0), 1, Err(0));
        check(Some(u64::MAX), u64::MAX, Ok(()));
        check(None, u64::MAX, Ok(()));
    }

    #[cfg(unix)]
    #[test]
    fn a_download_folder_is_made_private_and_one_that_exists_is_left_alone() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let made = root.path().join("a").join("downloads");
        super::private_dir(&made).unwrap();
        assert_eq!(mode(&made), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        let chosen = root.path().join("chosen");
        std::fs::create_dir(&chosen).unwrap();
        std::fs::set_permissions(&chosen, std::fs::Permissions::from_mode(0o750)).unwrap();
        super::private_dir(&chosen).unwrap();
        assert_eq!(mode(&chosen), 0o750);
    }

    #[test]
    fn a_stale_part_and_its_note_are_swept_and_a_fresh_or_resumed_one_kept() {
        use std::time::{Duration, SystemTime};
        let dir = tempfile::tempdir().unwrap();
        let tag = "0123456789abcdef";
        let note = format!("sha256:{tag}{} 1\n", "0".repeat(48));
        for name in ["old", "new", "resumed"] {
            std::fs::write(dir.path().join(format!("{name}.{tag}.part")), b"x").unwrap();
            let note_file = dir.path().join(format!("{name}.{tag}.part.sum"));
            std::fs::write(note_file, &note).unwrap();
        }
        std::fs::write(dir.path().join("report.pdf"), b"x").unwrap();
        // Files that only have a `.part`'s name: no note, or a note that is
        // not one (or not this part's); the user's, never swept.
        std::fs::write(dir.path().join(format!("lonely.{tag}.part")), b"x").unwrap();
        std::fs::write(dir.path().join(format!("mine.{tag}.part")), b"x").unwrap();
        std::fs::write(dir.path().join(format!("mine.{tag}.part.sum")), b"x 1").unwrap();
        let other = format!("sha256:{} 1\n", "f".repeat(64));
        std::fs::write(dir.path().join(format!("odd.{tag}.part")), b"x").unwrap();
        std::fs::write(dir.path().join(format!("odd.{tag}.part.sum")), other).unwrap();
        let now = SystemTime::now() + crate::files::partial::PART_KEPT_FOR * 2;
        let old = SystemTime::now() + crate::files::partial::PART_KEPT_FOR * 3 / 2;
        // Only `new` was written lately, by the injected clock.
        for file in [format!("new.{tag}.part"), format!("new.{tag}.part.sum")] {
            let f = std::fs::File::options()
                .write(true)
                .open(dir.path().join(file))
                .unwrap();
            f.set_modified(old + Duration::from_secs(1)).unwrap();
        }
        let keep = dir.path().join(format!("resumed.{tag}.part"));
        super::sweep_parts(dir.path(), now, &keep);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                format!("lonely.{tag}.part"),
                format!("mine.{tag}.part"),
                format!("mine.{tag}.part.sum"),
                format!("new.{tag}.part"),
                format!("new.{tag}.part.sum"),
                format!("odd.{tag}.part"),
                format!("odd.{tag}.part.sum"),
                "report.pdf".to_string(),
                format!("resumed.{tag}.part"),
                format!("resumed.{tag}.part.sum"),
            ]
        );
    }

    #[test]
    fn a_real_folder_has_some_free_space_and_a_missing_one_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(super::free_space(dir.path()).is_some_and(|free| free > 0));
        assert_eq!(super::free_space(&dir.path().join("missing")), None);
    }
}
