//! Readings of `/proc`: a process's memory and threads. Best effort: where
//! there is no `/proc` (not Linux) a figure is `None`, never an error.

/// A `kB` field of `/proc/<pid>/status` (`self` when `pid` is `None`), in
/// bytes; `None` where there is no such file (not Linux) or field.
pub fn proc_status_field(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let value = line[field.len()..].trim_start_matches(':').trim();
    let number: u64 = value.split_whitespace().next()?.parse().ok()?;
    Some(if value.ends_with("kB") {
        number * 1024
    } else {
        number
    })
}

/// The peak resident memory of a process (`VmHWM`), in bytes.
pub fn peak_memory(pid: Option<u32>) -> Option<u64> {
    proc_status_field(pid, "VmHWM")
}

/// The number of threads a process runs now.
pub fn thread_count(pid: Option<u32>) -> Option<u64> {
    proc_status_field(pid, "Threads")
}

/// Resets this process's `VmHWM` to its current resident size (Linux 4.0
/// and later), so the peak a run reports is the peak of that run and not of
/// whatever this process did before it. Best effort.
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
