//! Any bytes as a DICOM file: the reader must return an error or a volume, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medburn_io::dicom::{read_dicom, SeriesSelector};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("medburn-fuzz-dicom-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("f.dcm");
    if std::fs::write(&path, data).is_ok() {
        let _ = read_dicom(&path, &SeriesSelector::First);
    }
});
