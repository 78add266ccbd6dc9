//! The free space of the disk a folder is on, behind one small function:
//! `statvfs` on unix, `GetDiskFreeSpaceExW` on Windows. `None` where it
//! cannot be told, and the caller then does not refuse for it.

use std::path::Path;

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
    #[test]
    fn a_real_folder_has_some_free_space_and_a_missing_one_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(super::free_space(dir.path()).is_some_and(|free| free > 0));
        assert_eq!(super::free_space(&dir.path().join("missing")), None);
    }
}
