//! Any bytes given to the NIfTI-1/2 header parser: an error or a header, never a panic;
//! and whatever parses must give dims/geometry answers without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medburn_io::nifti::NiftiHeader;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = NiftiHeader::parse(data) {
        let _ = h.dims();
        let _ = h.data_bytes();
        let _ = h.voxel_type();
        let _ = h.geometry();
        let _ = NiftiHeader::parse(&h.to_bytes());
    }
});
