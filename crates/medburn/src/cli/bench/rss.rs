//! Peak resident memory of a benchmark, measured as for the references: Linux's high-water
//! mark of the process's resident set (`VmHWM`), reset before the timed runs by writing 5 to
//! `/proc/self/clear_refs`, minus the resident set then. tests/scripts/bench_models.py measures
//! PyTorch the same way, so the two figures compare (the allocation counter beside it sees only
//! medburn's heap). Elsewhere than Linux there is no figure.

/// The resident set now, in bytes, after resetting its high-water mark.
pub(super) fn reset_peak() -> Option<u64> {
    let now = status_bytes("VmRSS:")?;
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    Some(now)
}

/// The resident set's high-water mark since [`reset_peak`], in bytes.
pub(super) fn peak() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}
