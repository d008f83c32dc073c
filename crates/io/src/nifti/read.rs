use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use ndarray::{ArrayD, IxDyn};

use super::{Extension, NiftiHeader, NiftiVersion};
use crate::{IoError, IoErrorKind, Result, Volume, VoxelArray, VoxelType, WithPath};

/// Reads a NIfTI-1 or NIfTI-2 file (`.nii`, `.nii.gz`, `.hdr`/`.img`, gzipped pairs).
///
/// Dimensions beyond the third become channels (`Volume::extra_dims` keeps their
/// sizes); extensions are kept in the metadata so a writer can keep them.
///
/// ```no_run
/// let v = medburn_io::nifti::read_nifti("scan.nii.gz".as_ref())?;
/// println!("{:?} {}", v.size(), v.data.voxel_type());
/// # Ok::<(), medburn_io::IoError>(())
/// ```
pub fn read_nifti(path: &Path) -> Result<Volume> {
    let (header, extensions, mut src) = open_header(path)?;
    let data_path = if header.single_file {
        path.to_path_buf()
    } else {
        image_file_of(path)?
    };
    let skip = if header.single_file {
        let already = header.header_size() as u64 + src.consumed;
        (header.vox_offset as u64).saturating_sub(already)
    } else {
        src = Source::open(&data_path)?;
        header.vox_offset.max(0.0) as u64
    };
    let voxel_type = header.voxel_type().at(path)?;
    let dims = header.dims().at(path)?;
    let geometry = header.geometry().at(path)?;
    let n: usize = dims.iter().product();
    src.skip(skip).map_err(|e| IoError::new(&data_path, e))?;
    let data = read_voxels(&mut src, voxel_type, n, header.little_endian, &data_path)?;
    src.check_gzip_trailers()
        .map_err(|e| IoError::new(&data_path, e))?;
    let [d, h, w] = geometry.dhw();
    let extra: Vec<usize> = dims.iter().skip(3).copied().collect();
    let channels: usize = extra.iter().product();
    let shape = IxDyn(&[channels, d, h, w]);
    let data = reshape(data, shape).at(path)?;
    let mut v = Volume::new(data, geometry).at(path)?;
    v.extra_dims = extra;
    v.rescale = header.rescale();
    let m = &mut v.metadata;
    m.insert(
        "nifti:version".into(),
        match header.version {
            NiftiVersion::One => "1",
            NiftiVersion::Two => "2",
        }
        .into(),
    );
    m.insert("nifti:sform_code".into(), header.sform_code.to_string());
    m.insert("nifti:qform_code".into(), header.qform_code.to_string());
    m.insert("nifti:xyzt_units".into(), header.xyzt_units.to_string());
    if header.intent_code != 0 {
        m.insert("nifti:intent_code".into(), header.intent_code.to_string());
    }
    let descrip = text(&header.descrip);
    if !descrip.is_empty() {
        m.insert("nifti:descrip".into(), descrip);
    }
    if dims.len() > 3 {
        let extra_pixdim: Vec<String> = (4..=dims.len())
            .map(|d| header.pixdim[d].to_string())
            .collect();
        m.insert("nifti:pixdim_extra".into(), extra_pixdim.join(","));
    }
    for (n, e) in extensions.iter().enumerate() {
        m.insert(Extension::metadata_key(n, e.code), e.to_hex());
    }
    Ok(v)
}

/// Reads only the header and extensions (fast: no voxel data is read).
///
/// ```no_run
/// let (h, exts) = medburn_io::nifti::read_nifti_header("scan.nii".as_ref())?;
/// println!("{:?} {} extensions", h.dims(), exts.len());
/// # Ok::<(), medburn_io::IoError>(())
/// ```
pub fn read_nifti_header(path: &Path) -> Result<(NiftiHeader, Vec<Extension>)> {
    let (h, e, _) = open_header(path)?;
    Ok((h, e))
}

fn open_header(path: &Path) -> Result<(NiftiHeader, Vec<Extension>, Source)> {
    let mut src = Source::open(path)?;
    let mut buf = vec![0u8; 540];
    let got = src.read_up_to(&mut buf).at(path)?;
    buf.truncate(got);
    let header = NiftiHeader::parse(&buf).at(path)?;
    let hsize = header.header_size();
    // Whatever we read past the header (NIfTI-1 reads 540 bytes for 348) starts the extensions.
    let mut tail = buf.split_off(hsize.min(buf.len()));
    let ext_end = if header.single_file {
        let off = header.vox_offset;
        if !(off.is_finite() && off >= hsize as f64) {
            return Err(IoError::new(
                path,
                IoErrorKind::BadHeader(format!(
                    "vox_offset is {off}: it must be at least the header size {hsize}"
                )),
            ));
        }
        off as u64 - hsize as u64
    } else {
        u64::MAX // a .hdr holds header and extensions only
    };
    if (tail.len() as u64) > ext_end {
        // Data started within what we read: give it back to the stream.
        let data = tail.split_off(ext_end as usize);
        src.unread(data);
    } else if header.single_file {
        let want = ext_end - tail.len() as u64;
        let mut more = Vec::new();
        (&mut src).take(want).read_to_end(&mut more).at(path)?;
        if (more.len() as u64) < want {
            return Err(IoError::new(
                path,
                IoErrorKind::Truncated {
                    what: "the header extensions before vox_offset".into(),
                    expected: ext_end,
                    got: (tail.len() + more.len()) as u64,
                },
            ));
        }
        tail.extend(more);
    } else {
        src.read_to_end(&mut tail).at(path)?;
    }
    let extensions = Extension::parse_all(&tail, header.little_endian);
    src.consumed = tail.len() as u64;
    Ok((header, extensions, src))
}

/// The `.img` beside a `.hdr` (also `.img.gz` beside `.hdr.gz`; either case).
fn image_file_of(hdr: &Path) -> Result<PathBuf> {
    let name = hdr.to_string_lossy();
    let lower = name.to_ascii_lowercase();
    let stem_len = if lower.ends_with(".hdr.gz") {
        name.len() - 7
    } else if lower.ends_with(".hdr") {
        name.len() - 4
    } else {
        name.len()
    };
    let stem = &name[..stem_len];
    for ext in [".img", ".IMG", ".img.gz", ".IMG.GZ"] {
        let p = PathBuf::from(format!("{stem}{ext}"));
        if p.exists() {
            return Ok(p);
        }
    }
    Err(IoError::new(
        hdr,
        IoErrorKind::BadHeader(format!(
            "the header says the voxels are in a separate image file, but {stem}.img is missing"
        )),
    ))
}

/// A file, gunzipped on the fly if it starts with the gzip magic.
struct Source {
    inner: Box<dyn Read>,
    pushed_back: Vec<u8>,
    /// Bytes past the header consumed by header parsing (extensions).
    consumed: u64,
    /// On-disk size, for allocation limits.
    disk_len: u64,
    gzipped: bool,
}

impl Source {
    fn open(path: &Path) -> Result<Source> {
        let file = File::open(path).at(path)?;
        let disk_len = file.metadata().at(path)?.len();
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; 2];
        let n = read_up_to(&mut r, &mut magic).at(path)?;
        let gzipped = n == 2 && magic == [0x1f, 0x8b];
        let prefix = magic[..n].to_vec();
        let inner: Box<dyn Read> = if gzipped {
            Box::new(MultiGzDecoder::new(std::io::Cursor::new(prefix).chain(r)))
        } else {
            Box::new(std::io::Cursor::new(prefix).chain(r))
        };
        Ok(Source {
            inner,
            pushed_back: Vec::new(),
            consumed: 0,
            disk_len,
            gzipped,
        })
    }

    /// Reads a gzipped file to its end, so that the decoder checks the CRC-32 and length in the
    /// trailer of every member (it checks them only when it reaches them; the voxels end
    /// before the last trailer). A mismatch, a missing trailer or a damaged stream is an error;
    /// the voxels read before are dropped with it. Plain files are not read further.
    fn check_gzip_trailers(&mut self) -> std::result::Result<(), IoErrorKind> {
        if !self.gzipped {
            return Ok(());
        }
        std::io::copy(self, &mut std::io::sink())
            .map(|_| ())
            .map_err(|e| IoErrorKind::Corrupt(format!("gzip data: {e}")))
    }

    fn unread(&mut self, bytes: Vec<u8>) {
        let mut b = bytes;
        b.extend_from_slice(&self.pushed_back);
        self.pushed_back = b;
    }

    fn read_up_to(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        read_up_to(self, buf)
    }

    fn skip(&mut self, n: u64) -> std::result::Result<(), IoErrorKind> {
        let copied = std::io::copy(&mut self.take(n), &mut std::io::sink())?;
        if copied < n {
            return Err(IoErrorKind::Truncated {
                what: "the bytes before the voxel data (vox_offset)".into(),
                expected: n,
                got: copied,
            });
        }
        Ok(())
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.pushed_back.is_empty() {
            let n = buf.len().min(self.pushed_back.len());
            buf[..n].copy_from_slice(&self.pushed_back[..n]);
            self.pushed_back.drain(..n);
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Reads until `buf` is full or the stream ends; returns how much was read.
/// A gzip stream that ends early surfaces here as an error from the decoder.
fn read_up_to<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn read_voxels(
    src: &mut Source,
    t: VoxelType,
    n: usize,
    little_endian: bool,
    path: &Path,
) -> Result<VoxelArray> {
    macro_rules! typed {
        ($ty:ty, $variant:ident) => {{
            let v: Vec<$ty> = read_typed(src, n, little_endian, path)?;
            VoxelArray::$variant(ArrayD::from_shape_vec(IxDyn(&[n]), v).expect("length n"))
        }};
    }
    Ok(match t {
        VoxelType::U8 => typed!(u8, U8),
        VoxelType::I8 => typed!(i8, I8),
        VoxelType::I16 => typed!(i16, I16),
        VoxelType::U16 => typed!(u16, U16),
        VoxelType::I32 => typed!(i32, I32),
        VoxelType::U32 => typed!(u32, U32),
        VoxelType::I64 => typed!(i64, I64),
        VoxelType::U64 => typed!(u64, U64),
        VoxelType::F32 => typed!(f32, F32),
        VoxelType::F64 => typed!(f64, F64),
    })
}

/// Reads `n` values straight into their final buffer (no intermediate byte copy),
/// unless the header's size is implausible for the file, in which case the data is
/// read as it comes so that a lying header cannot make us allocate terabytes.
fn read_typed<T: bytemuck::Pod + Default>(
    src: &mut Source,
    n: usize,
    little_endian: bool,
    path: &Path,
) -> Result<Vec<T>> {
    let size = std::mem::size_of::<T>();
    let expected = (n as u64) * size as u64;
    let plausible = if src.gzipped {
        // Real images compress by far less than 1000:1.
        expected <= src.disk_len.saturating_mul(1000).saturating_add(1 << 20)
    } else {
        expected <= src.disk_len
    };
    let truncated = |got: u64| {
        IoError::new(
            path,
            IoErrorKind::Truncated {
                what: format!("the voxel data ({n} values of {size} bytes)"),
                expected,
                got,
            },
        )
    };
    let mut values: Vec<T>;
    if plausible {
        values = vec![T::default(); n];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
        let got = read_up_to(src, bytes).map_err(|e| IoError::new(path, e))?;
        if got < bytes.len() {
            return Err(truncated(got as u64));
        }
    } else {
        let mut raw = Vec::new();
        src.take(expected)
            .read_to_end(&mut raw)
            .map_err(|e| IoError::new(path, e))?;
        if (raw.len() as u64) < expected {
            return Err(truncated(raw.len() as u64));
        }
        values = bytemuck::allocation::pod_collect_to_vec(&raw);
    }
    if little_endian != cfg!(target_endian = "little") && size > 1 {
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
        for v in bytes.chunks_exact_mut(size) {
            v.reverse();
        }
    }
    Ok(values)
}

fn reshape(data: VoxelArray, shape: IxDyn) -> std::result::Result<VoxelArray, IoErrorKind> {
    macro_rules! re {
        ($a:expr, $v:ident) => {
            VoxelArray::$v(
                $a.into_shape_with_order(shape)
                    .map_err(|e| IoErrorKind::BadHeader(e.to_string()))?,
            )
        };
    }
    Ok(match data {
        VoxelArray::U8(a) => re!(a, U8),
        VoxelArray::I8(a) => re!(a, I8),
        VoxelArray::I16(a) => re!(a, I16),
        VoxelArray::U16(a) => re!(a, U16),
        VoxelArray::I32(a) => re!(a, I32),
        VoxelArray::U32(a) => re!(a, U32),
        VoxelArray::I64(a) => re!(a, I64),
        VoxelArray::U64(a) => re!(a, U64),
        VoxelArray::F32(a) => re!(a, F32),
        VoxelArray::F64(a) => re!(a, F64),
    })
}

fn text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}
