//! The gzip path of the NIfTI reader: the input's middle part becomes the voxels of a valid
//! NIfTI-1 file (uint8, one row), which is gzipped, then the input's first bytes flip bits of
//! the compressed stream (deflate blocks, the trailer's CRC-32 and ISIZE, a second member). The
//! reader must return a volume or an error: never panic, and never a volume from a stream whose
//! trailer does not match (checked here by decompressing with flate2 beside it).
#![no_main]

use std::io::{Read, Write};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let flips = (data[0] as usize % 8).min(data.len() / 4);
    let (damage, payload) = data[1..].split_at(flips * 3);
    let payload = nifti_bytes(payload);
    let payload = &payload[..];
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(payload);
    let Ok(mut gz) = e.finish() else { return };
    if data[0] & 0x80 != 0 {
        // A second member, as `cat a.gz b.gz` makes.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = e.write_all(&payload[..payload.len() / 2]);
        if let Ok(second) = e.finish() {
            gz.extend(second);
        }
    }
    for flip in damage.chunks_exact(3) {
        let at = u16::from_le_bytes([flip[0], flip[1]]) as usize % gz.len();
        gz[at] ^= flip[2];
    }
    let dir = std::env::temp_dir().join(format!("medburn-fuzz-gz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("f.nii.gz");
    if std::fs::write(&path, &gz).is_err() {
        return;
    }
    let read = medburn_io::nifti::read_nifti(&path);
    // Whether the whole stream is sound, by flate2 itself.
    let mut sink = Vec::new();
    let sound = flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut sink)
        .is_ok();
    if read.is_ok() {
        assert!(sound, "a volume was read from a damaged gzip stream");
    }
});

/// A whole NIfTI-1 file: medburn-io's own header for a 1 x 1 x N uint8 volume, an empty
/// extension flag, and `voxels` (at least one), so that the reader gets past the header and
/// the damage lands in what it must decompress and check.
fn nifti_bytes(voxels: &[u8]) -> Vec<u8> {
    let voxels: &[u8] = if voxels.is_empty() { &[0] } else { voxels };
    let voxels = &voxels[..voxels.len().min(i16::MAX as usize)];
    let header = medburn_io::nifti::NiftiHeader {
        dim: [3, 1, 1, voxels.len() as i64, 1, 1, 1, 1],
        ..Default::default()
    };
    let mut bytes = header.to_bytes();
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(voxels);
    bytes
}
