//! Any bytes as a whole `.nii` / `.nii.gz` file: the reader must return an error or a
//! volume, never panic or allocate beyond what the file can hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("medburn-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let name = if data.starts_with(&[0x1f, 0x8b]) { "f.nii.gz" } else { "f.nii" };
    let path = dir.join(name);
    if std::fs::write(&path, data).is_ok() {
        let _ = medburn_io::nifti::read_nifti(&path);
    }
});
