use std::io::Write;
use std::path::{Path, PathBuf};

use super::gz::write_gzip_parallel;
use super::{Extension, NiftiHeader, NiftiVersion};
use crate::atomic::{write_all_atomically, write_atomically};
use crate::{with_array, IoError, IoErrorKind, Rescale, Result, Volume, VoxelArray, WriteOptions};

/// Writes a volume as NIfTI: `.nii`, `.nii.gz`, or a `.hdr`/`.img` pair (by the
/// extension of `path`). NIfTI-1 unless a dimension exceeds 32767 (then NIfTI-2)
/// or `options.nifti_version` says otherwise. sform = qform = the geometry.
///
/// With no `options.dtype` (or the stored type), the stored values and the volume's
/// rescale (`scl_slope`/`scl_inter`) are written unchanged; with another type the
/// rescaled values are converted, exactly unless `options.lossy`.
///
/// ```
/// # use medburn_core::Geometry;
/// use medburn_io::{nifti, Volume, VoxelArray, VoxelType, WriteOptions};
/// let dir = tempfile::tempdir()?;
/// let v = Volume::new(VoxelArray::F64(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 2, 2]))), Geometry::unit([2; 3])?)?;
/// let opts = WriteOptions { dtype: Some(VoxelType::U8), ..Default::default() };
/// nifti::write_nifti(&v, &dir.path().join("a.hdr"), &opts)?;
/// assert!(dir.path().join("a.img").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_nifti(volume: &Volume, path: &Path, options: &WriteOptions) -> Result<()> {
    let err = |k: IoErrorKind| IoError::new(path, k);
    let (data, rescale) = match options.dtype {
        Some(t) if t != volume.data.voxel_type() => (
            volume.real_values(t, options.lossy).map_err(err)?,
            Rescale::IDENTITY,
        ),
        _ => (volume.data.clone(), volume.rescale),
    };
    let lower = path.to_string_lossy().to_ascii_lowercase();
    let pair = lower.ends_with(".hdr") || lower.ends_with(".img");
    let gz = lower.ends_with(".gz");

    let mut dims: Vec<usize> = volume.geometry.size().to_vec();
    let channels = volume.channels();
    if volume.extra_dims.iter().product::<usize>() == channels && !volume.extra_dims.is_empty() {
        dims.extend(&volume.extra_dims);
    } else if channels > 1 {
        dims.push(channels);
    }
    if dims.len() > 7 {
        return Err(err(IoErrorKind::Unsupported(format!(
            "{} dimensions: NIfTI holds at most 7",
            dims.len()
        ))));
    }
    let version = options
        .nifti_version
        .unwrap_or(if dims.iter().any(|&d| d > i16::MAX as usize) {
            NiftiVersion::Two
        } else {
            NiftiVersion::One
        });
    if version == NiftiVersion::One && dims.iter().any(|&d| d > i16::MAX as usize) {
        return Err(err(IoErrorKind::Unsupported(
            "a dimension exceeds 32767: NIfTI-1 cannot hold it (use NIfTI-2)".into(),
        )));
    }

    let mut h = NiftiHeader {
        version,
        single_file: !pair,
        ..Default::default()
    };
    h.dim = [1; 8];
    h.dim[0] = dims.len() as i64;
    for (n, &d) in dims.iter().enumerate() {
        h.dim[n + 1] = d as i64;
    }
    let (code, bitpix) = NiftiHeader::datatype_of(data.voxel_type());
    h.datatype = code;
    h.bitpix = bitpix;
    h.scl_slope = rescale.slope;
    h.scl_inter = rescale.inter;
    let meta_code = |key: &str| {
        volume
            .metadata
            .get(key)
            .and_then(|v| v.parse::<i32>().ok())
            .filter(|&c| c > 0)
    };
    // Keep the file's codes (scanner, aligned, MNI...) where it had them; else "scanner anat".
    let sform_code = meta_code("nifti:sform_code").unwrap_or(1);
    let qform_code = meta_code("nifti:qform_code").unwrap_or(sform_code);
    h.set_geometry(&volume.geometry, sform_code, qform_code);
    if let Some(extra) = volume.metadata.get("nifti:pixdim_extra") {
        for (n, p) in extra
            .split(',')
            .filter_map(|p| p.parse::<f64>().ok())
            .enumerate()
            .take(4)
        {
            h.pixdim[4 + n] = p;
        }
    }
    if let Some(u) = meta_code("nifti:xyzt_units") {
        h.xyzt_units = u;
    }
    if let Some(d) = volume.metadata.get("nifti:descrip") {
        let b = d.as_bytes();
        let n = b.len().min(79);
        h.descrip[..n].copy_from_slice(&b[..n]);
    }
    if let Some(c) = meta_code("nifti:intent_code") {
        h.intent_code = c;
    }
    let extensions = if options.keep_extensions {
        Extension::from_metadata(&volume.metadata)
    } else {
        vec![]
    };
    let ext_bytes = Extension::encode_all(&extensions);
    let header_len = h.header_size() + ext_bytes.len();
    h.vox_offset = if pair { 0.0 } else { header_len as f64 };
    let header = h.to_bytes();

    let le_data = little_endian_bytes(&data);
    let level = options.compression_level.min(9);
    let emit = |parts: &[&[u8]], w: &mut dyn Write| -> std::result::Result<(), IoErrorKind> {
        if gz {
            write_gzip_parallel(parts, level, &mut WriteAdapter(w))?;
        } else {
            for p in parts {
                w.write_all(p)?;
            }
        }
        Ok(())
    };
    if pair {
        let (hdr, img) = pair_paths(path, gz);
        let write_hdr = |w: &mut std::io::BufWriter<std::fs::File>| emit(&[&header, &ext_bytes], w);
        let write_img = |w: &mut std::io::BufWriter<std::fs::File>| emit(&[&le_data], w);
        write_all_atomically(&[(&hdr, &write_hdr), (&img, &write_img)])
    } else {
        write_atomically(path, |w| emit(&[&header, &ext_bytes, &le_data], w))
    }
}

/// `&mut dyn Write` as a sized `Write`.
struct WriteAdapter<'a>(&'a mut dyn Write);

impl Write for WriteAdapter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn pair_paths(path: &Path, gz: bool) -> (PathBuf, PathBuf) {
    let s = path.to_string_lossy();
    let cut = if gz { 7 } else { 4 };
    let stem = &s[..s.len() - cut];
    let suffix = if gz { ".gz" } else { "" };
    (
        PathBuf::from(format!("{stem}.hdr{suffix}")),
        PathBuf::from(format!("{stem}.img{suffix}")),
    )
}

/// The values as little-endian bytes (borrowed as-is on little-endian machines).
fn little_endian_bytes(data: &VoxelArray) -> std::borrow::Cow<'_, [u8]> {
    with_array!(data, a => {
        match a.as_slice() {
            Some(s) if cfg!(target_endian = "little") => std::borrow::Cow::Borrowed(bytemuck::cast_slice(s)),
            _ => {
                let size = data.voxel_type().size();
                let mut out: Vec<u8> = Vec::with_capacity(a.len() * size);
                for v in a.iter() {
                    let mut b = bytemuck::bytes_of(v).to_vec();
                    if cfg!(target_endian = "big") {
                        b.reverse();
                    }
                    out.extend_from_slice(&b);
                }
                std::borrow::Cow::Owned(out)
            }
        }
    })
}
