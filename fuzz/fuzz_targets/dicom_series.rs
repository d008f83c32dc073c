//! The DICOM series reader: the input is cut into up to eight files in a folder (the cut
//! points from its first bytes), so that the scan, the grouping into series, the slice sorting
//! and spacing checks and the assembly of a volume run on what the fuzzer makes. The reader
//! must return a volume or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medburn_io::dicom::{read_dicom_with, DicomReadOptions, SeriesSelector};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let files = 1 + data[0] as usize % 8;
    let skip = data[1] & 1 == 1;
    let body = &data[2..];
    let dir = std::env::temp_dir().join(format!("medburn-fuzz-series-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let chunk = body.len().div_ceil(files).max(1);
    for (n, part) in body.chunks(chunk).enumerate() {
        let _ = std::fs::write(dir.join(format!("{n:03}.dcm")), part);
    }
    let options = DicomReadOptions {
        skip_unreadable: skip,
    };
    let _ = read_dicom_with(&dir, &SeriesSelector::First, &options);
    let _ = medburn_io::dicom::list_series(&dir);
});
