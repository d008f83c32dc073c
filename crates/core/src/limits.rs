//! How large an output may be: every operation that makes a new volume computes its size first
//! and refuses, with the size and the reason, one larger than the machine's physical memory
//! (an allocation that large would abort the process instead of failing). The limit is the
//! machine's memory as `/proc/meminfo` gives it (no limit where it is unknown), or the
//! environment variable `MEDBURN_MAX_BYTES` (bytes, or with a `K`, `M`, `G` or `T` suffix).

use crate::ImageError;

/// The largest buffer an operation may make, in bytes.
///
/// ```
/// assert!(medburn_core::limits::max_bytes() > 1 << 20);
/// ```
pub fn max_bytes() -> u64 {
    if let Some(v) = std::env::var("MEDBURN_MAX_BYTES")
        .ok()
        .and_then(|s| parse_bytes(&s))
    {
        return v;
    }
    physical_memory().unwrap_or(u64::MAX)
}

/// `12345`, `512M`, `4G`, `1.5T` as bytes (binary units).
///
/// ```
/// use medburn_core::limits::parse_bytes;
/// assert_eq!(parse_bytes("512M"), Some(512 << 20));
/// assert_eq!(parse_bytes("2g"), Some(2 << 30));
/// assert_eq!(parse_bytes("1000"), Some(1000));
/// assert_eq!(parse_bytes("lots"), None);
/// ```
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
        _ => (t, 'B'),
    };
    let scale: u64 = match unit {
        'B' => 1,
        'K' => 1 << 10,
        'M' => 1 << 20,
        'G' => 1 << 30,
        'T' => 1 << 40,
        _ => return None,
    };
    let v: f64 = number.trim().parse().ok()?;
    (v.is_finite() && v > 0.0).then_some((v * scale as f64) as u64)
}

/// Total physical memory from `/proc/meminfo` (Linux); `None` elsewhere.
fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses `elements` values of `bytes_each` bytes for `what` above [`max_bytes`]; the count is
/// taken in u128 so that no product overflows on the way.
///
/// ```
/// use medburn_core::limits::check_elements;
/// assert!(check_elements("a 4^3 float image", 64, 4).is_ok());
/// let e = check_elements("resampling to 5000000 x 5000000 x 5000000 voxels", 125_000_000_000_000_000_000, 4).unwrap_err();
/// assert!(e.to_string().contains("MEDBURN_MAX_BYTES"), "{e}");
/// ```
pub fn check_elements(what: &str, elements: u128, bytes_each: usize) -> Result<(), ImageError> {
    let bytes = elements.saturating_mul(bytes_each as u128);
    let limit = max_bytes();
    if bytes > limit as u128 {
        return Err(ImageError::TooLarge {
            what: what.to_string(),
            bytes,
            limit,
        });
    }
    Ok(())
}

/// [`check_elements`] for a volume of `size` voxels (i, j, k) and `channels` channels.
///
/// ```
/// let e = medburn_core::limits::check_volume("pad", [100_000; 3], 1, 4).unwrap_err();
/// assert!(e.to_string().starts_with("pad to 100000 x 100000 x 100000 voxels, 1 channel(s) would need"), "{e}");
/// ```
pub fn check_volume(
    what: &str,
    size: [usize; 3],
    channels: usize,
    bytes_each: usize,
) -> Result<(), ImageError> {
    let elements = size.iter().map(|&n| n as u128).product::<u128>() * channels as u128;
    check_elements(
        &format!(
            "{what} to {} x {} x {} voxels, {channels} channel(s)",
            size[0], size[1], size[2]
        ),
        elements,
        bytes_each,
    )
}
