//! HDF5: a [`Volume`] as one dataset plus attributes, after the MedImages.jl seed's
//! `save_to_hdf5`. Several images can share a file under different names.
//!
//! Pure Rust ([`hdf5_pure`]): no libhdf5 on the machine. Files written here are read by
//! h5py and libhdf5, and files that h5py writes (contiguous or chunked, gzip- and
//! shuffle-filtered, little- or big-endian) are read here.
//!
//! Layout of an image named `NAME` (default `image`): dataset `/NAME` of shape
//! `[C, k, j, i]` in the stored type (gzip-compressed, chunked by slice), with
//! attributes `origin`, `spacing` (3 x f64, LPS mm), `direction` (9 x f64, row-major),
//! `size` (u64: `[i, j, k, further dims...]`), `rescale_slope`, `rescale_intercept`
//! (f64), `modality`, `subtype`, `metadata` (variable-length UTF-8 strings; `metadata`
//! a JSON object of strings) and `medburn_layout` = 1 (u32).
//!
//! Reading is lenient about how the attributes were stored: any numeric type (h5py stores
//! a Python list of floats as f64 and one of ints as i64), fixed- or variable-length
//! strings; only `origin`, `spacing` and `direction` are required. A 3-D dataset
//! `[k, j, i]` is one channel, and h5py's boolean arrays read as uint8.
//!
//! ```
//! use medburn_core::Geometry;
//! use medburn_io::{hdf5, Volume, VoxelArray};
//! let dir = tempfile::tempdir()?;
//! let v = Volume::new(VoxelArray::U16(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 3, 4]))), Geometry::unit([4, 3, 2])?)?;
//! let path = dir.path().join("v.h5");
//! hdf5::write_hdf5(&v, &path, &Default::default())?;
//! assert_eq!(hdf5::read_hdf5(&path)?, v);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The pure-Rust HDF5 crate under this module, for building or opening files of several
/// images with [`write_dataset`] and [`read_dataset`].
///
/// ```
/// use medburn_io::hdf5::hdf5_pure;
/// let mut file = hdf5_pure::FileBuilder::new();
/// file.create_dataset("notes").with_f64_data(&[1.0, 2.0]);
/// let file = hdf5_pure::File::from_bytes(file.finish()?)?;
/// assert_eq!(file.root().datasets()?, ["notes"]);
/// # Ok::<(), hdf5_pure::Error>(())
/// ```
pub use hdf5_pure;

use hdf5_pure::{AttrValue, DType, FileBuilder, H5Element};
use medburn_core::{Direction, Geometry, Modality};
use ndarray::{ArrayD, IxDyn};

use crate::atomic::write_atomically;
use crate::{with_array, IoError, IoErrorKind, Result, Volume, VoxelArray, WriteOptions};

/// The dataset name used when none is given.
///
/// ```
/// # use medburn_core::Geometry;
/// # use medburn_io::{Volume, VoxelArray};
/// # let v = Volume::new(VoxelArray::U8(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 1, 1, 1]))), Geometry::unit([1, 1, 1])?)?;
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("v.h5");
/// medburn_io::write(&v, &path, &Default::default())?;
/// assert_eq!(medburn_io::hdf5::image_names(&path)?, [medburn_io::hdf5::DEFAULT_NAME]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_NAME: &str = "image";

/// The version of the layout above, in the attribute `medburn_layout`.
const LAYOUT: u32 = 1;

type KindResult<T> = std::result::Result<T, IoErrorKind>;

fn h5err(e: hdf5_pure::Error) -> IoErrorKind {
    match e {
        hdf5_pure::Error::Io(e) => IoErrorKind::Os(e),
        // Its own Display starts with "HDF5 format error: ", which IoErrorKind::Hdf5 says.
        hdf5_pure::Error::Format(f) => IoErrorKind::Hdf5(f.to_string()),
        other => IoErrorKind::Hdf5(other.to_string()),
    }
}

/// Writes `volume` as the dataset [`DEFAULT_NAME`] of a new file (replacing `path` atomically).
///
/// ```
/// # use medburn_core::Geometry;
/// # use medburn_io::{Volume, VoxelArray};
/// let v = Volume::new(VoxelArray::F32(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 2, 2]))), Geometry::unit([2, 2, 2])?)?;
/// let dir = tempfile::tempdir()?;
/// medburn_io::hdf5::write_hdf5(&v, &dir.path().join("ct.h5"), &Default::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_hdf5(volume: &Volume, path: &Path, options: &WriteOptions) -> Result<()> {
    write_hdf5_images(&[(DEFAULT_NAME, volume)], path, options)
}

/// Writes several images into one new file, each as the dataset of its name (replacing
/// `path` atomically).
///
/// ```
/// # use medburn_core::Geometry;
/// # use medburn_io::{Volume, VoxelArray};
/// let ct = Volume::new(VoxelArray::I16(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 2, 2]))), Geometry::unit([2, 2, 2])?)?;
/// let seg = Volume::new(VoxelArray::U8(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 2, 2]))), Geometry::unit([2, 2, 2])?)?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("pair.h5");
/// medburn_io::hdf5::write_hdf5_images(&[("ct", &ct), ("seg", &seg)], &path, &Default::default())?;
/// assert_eq!(medburn_io::hdf5::image_names(&path)?, ["ct", "seg"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_hdf5_images(
    images: &[(&str, &Volume)],
    path: &Path,
    options: &WriteOptions,
) -> Result<()> {
    let mut file = FileBuilder::new();
    for (name, volume) in images {
        write_dataset(&mut file, name, volume, options).map_err(|e| IoError::new(path, e))?;
    }
    write_atomically(path, |w| file.finish_to(w).map_err(h5err))
}

/// Adds `volume` as dataset `name` to a file being built; [`FileBuilder::write`] (or
/// `finish`) then writes it.
///
/// ```
/// # use medburn_core::Geometry;
/// # use medburn_io::{Volume, VoxelArray};
/// use medburn_io::hdf5::{hdf5_pure, read_dataset, write_dataset};
/// let pet = Volume::new(VoxelArray::F32(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 2, 2]))), Geometry::unit([2, 2, 2])?)?;
/// let mut file = hdf5_pure::FileBuilder::new();
/// write_dataset(&mut file, "pet", &pet, &Default::default())?;
/// let back = hdf5_pure::File::from_bytes(file.finish()?)?;
/// assert_eq!(read_dataset(&back.root(), "pet")?, pet);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_dataset(
    file: &mut FileBuilder,
    name: &str,
    volume: &Volume,
    options: &WriteOptions,
) -> KindResult<()> {
    if name.is_empty() || name.contains('/') || name == "." {
        return Err(IoErrorKind::Hdf5(format!(
            "dataset name {name:?}: a name must be non-empty and hold no '/'"
        )));
    }
    let (data, rescale) = match options.dtype {
        Some(t) if t != volume.data.voxel_type() => (
            Cow::Owned(volume.real_values(t, options.lossy)?),
            crate::Rescale::IDENTITY,
        ),
        _ => (Cow::Borrowed(&volume.data), volume.rescale),
    };
    let shape: Vec<u64> = data.shape().iter().map(|&s| s as u64).collect();
    if shape.len() != 4 {
        return Err(IoErrorKind::Image(
            medburn_core::ImageError::ShapeMismatch {
                got: data.shape().to_vec(),
                size: volume.geometry.size(),
            },
        ));
    }
    // One chunk per slice (of one channel): whole-volume reads stay fast, and
    // single slices can be read without decompressing the rest.
    let chunk = [1, 1, shape[2].max(1), shape[3].max(1)];
    let ds = file.create_dataset(name);
    with_array!(data.as_ref(), a => stage(ds, a));
    ds.with_shape(&shape).with_chunks(&chunk);
    let level = options.compression_level.min(9);
    if level > 0 {
        ds.with_deflate(level);
    }
    let g = &volume.geometry;
    let meta = serde_json::to_string(&volume.metadata)
        .map_err(|e| IoErrorKind::Hdf5(format!("metadata: {e}")))?;
    ds.set_attr("origin", AttrValue::F64Array(g.origin().to_vec()))
        .set_attr("spacing", AttrValue::F64Array(g.spacing().to_vec()))
        .set_attr(
            "direction",
            AttrValue::F64Array(g.direction().row_major().to_vec()),
        )
        .set_attr(
            "size",
            AttrValue::U64Array(volume.size().iter().map(|&s| s as u64).collect()),
        )
        .set_attr("rescale_slope", AttrValue::F64(rescale.slope))
        .set_attr("rescale_intercept", AttrValue::F64(rescale.inter))
        .set_attr("medburn_layout", AttrValue::U32(LAYOUT))
        .set_attr(
            "modality",
            AttrValue::VarLenString(volume.modality.to_string()),
        )
        .set_attr(
            "subtype",
            AttrValue::VarLenString(volume.subtype.clone().unwrap_or_default()),
        )
        .set_attr("metadata", AttrValue::VarLenString(meta));
    Ok(())
}

/// Gives the dataset its values, in row-major (C) order as HDF5 stores them.
fn stage<T: H5Element>(ds: &mut hdf5_pure::DatasetBuilder, a: &ArrayD<T>) {
    match a.as_slice() {
        Some(s) => ds.with_data(s),
        None => ds.with_data(&a.iter().copied().collect::<Vec<T>>()),
    };
}

/// Opens `path`, refusing a file shorter than its superblock says.
fn open(path: &Path) -> Result<hdf5_pure::File> {
    let err = |k: IoErrorKind| IoError::new(path, k);
    let bytes = std::fs::read(path).map_err(|e| err(e.into()))?;
    let got = bytes.len() as u64;
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err(err(IoErrorKind::BadHeader(
            "not an HDF5 file (no HDF5 signature)".into(),
        )));
    }
    let file = hdf5_pure::File::from_bytes(bytes).map_err(|e| err(h5err(e)))?;
    let sb = file.superblock();
    // libhdf5 refuses these too ("truncated file"); an undefined address is all ones.
    if sb.eof_address != u64::MAX {
        let expected = sb.base_address.get().saturating_add(sb.eof_address);
        if got < expected {
            return Err(err(IoErrorKind::Truncated {
                what: "HDF5 file (end-of-file address in its superblock)".into(),
                expected,
                got,
            }));
        }
    }
    Ok(file)
}

/// Reads the dataset [`DEFAULT_NAME`] (or the only dataset in the file's root group).
///
/// ```
/// # use medburn_core::Geometry;
/// # use medburn_io::{Volume, VoxelArray};
/// # let v = Volume::new(VoxelArray::F32(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 2, 2]))), Geometry::unit([2, 2, 2])?)?;
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("ct.h5");
/// # medburn_io::hdf5::write_hdf5(&v, &path, &Default::default())?;
/// let v = medburn_io::hdf5::read_hdf5(&path)?;
/// assert_eq!(v.size(), vec![2, 2, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_hdf5(path: &Path) -> Result<Volume> {
    let err = |k: IoErrorKind| IoError::new(path, k);
    let file = open(path)?;
    let names = file.root().datasets().map_err(|e| err(h5err(e)))?;
    let name = if names.iter().any(|n| n == DEFAULT_NAME) {
        DEFAULT_NAME.to_string()
    } else if let [only] = names.as_slice() {
        only.clone()
    } else if names.is_empty() {
        return Err(err(IoErrorKind::Hdf5(
            "no dataset in the file's root group".into(),
        )));
    } else {
        return Err(err(IoErrorKind::Hdf5(format!(
            "{} datasets ({}) and none named {DEFAULT_NAME:?}: read one by name \
             (medburn_io::hdf5::read_hdf5_image)",
            names.len(),
            sorted(names).join(", ")
        ))));
    };
    read_dataset(&file.root(), &name).map_err(err)
}

/// Reads the image stored as dataset `name` (a path from the root: `ct` or `case1/ct`).
///
/// ```
/// # use medburn_core::Geometry;
/// # use medburn_io::{Volume, VoxelArray};
/// # let v = Volume::new(VoxelArray::F32(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 2, 2]))), Geometry::unit([2, 2, 2])?)?;
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("pair.h5");
/// # medburn_io::hdf5::write_hdf5_images(&[("pet", &v)], &path, &Default::default())?;
/// let pet = medburn_io::hdf5::read_hdf5_image(&path, "pet")?;
/// assert!(medburn_io::hdf5::read_hdf5_image(&path, "ct").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_hdf5_image(path: &Path, name: &str) -> Result<Volume> {
    let file = open(path)?;
    read_dataset(&file.root(), name).map_err(|e| IoError::new(path, e))
}

/// The datasets in the root group of the file at `path`, sorted by name.
///
/// ```
/// # use medburn_core::Geometry;
/// # use medburn_io::{Volume, VoxelArray};
/// # let v = Volume::new(VoxelArray::F32(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 2, 2]))), Geometry::unit([2, 2, 2])?)?;
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("ct.h5");
/// # medburn_io::hdf5::write_hdf5(&v, &path, &Default::default())?;
/// assert_eq!(medburn_io::hdf5::image_names(&path)?, ["image"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn image_names(path: &Path) -> Result<Vec<String>> {
    let file = open(path)?;
    let names = file
        .root()
        .datasets()
        .map_err(|e| IoError::new(path, h5err(e)))?;
    Ok(sorted(names))
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// Reads dataset `name` of `group` (written by [`write_dataset`], or by h5py in the same
/// layout).
///
/// ```
/// # use medburn_core::Geometry;
/// # use medburn_io::{Volume, VoxelArray};
/// use medburn_io::hdf5::{hdf5_pure, read_dataset, write_dataset};
/// # let ct = Volume::new(VoxelArray::I16(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 2, 2]))), Geometry::unit([2, 2, 2])?)?;
/// let mut file = hdf5_pure::FileBuilder::new();
/// write_dataset(&mut file, "ct", &ct, &Default::default())?;
/// let file = hdf5_pure::File::from_bytes(file.finish()?)?;
/// assert_eq!(read_dataset(&file.root(), "ct")?, ct);
/// let e = read_dataset(&file.root(), "pet").unwrap_err();
/// assert!(e.to_string().contains("no dataset \"pet\""), "{e}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_dataset(group: &hdf5_pure::Group, name: &str) -> KindResult<Volume> {
    let ds = group.dataset(name).map_err(|e| match e {
        hdf5_pure::Error::Format(hdf5_pure::FormatError::PathNotFound(_)) => {
            let names = group.datasets().map(sorted).unwrap_or_default();
            IoErrorKind::Hdf5(format!(
                "no dataset {name:?} (datasets here: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        }
        e => h5err(e),
    })?;
    let in_ds = |k: IoErrorKind| match k {
        IoErrorKind::Hdf5(m) => IoErrorKind::Hdf5(format!("dataset {name:?}: {m}")),
        IoErrorKind::Unsupported(m) => IoErrorKind::Unsupported(format!("dataset {name:?}: {m}")),
        other => other,
    };
    read_image(&ds).map_err(in_ds)
}

fn read_image(ds: &hdf5_pure::Dataset) -> KindResult<Volume> {
    let shape = ds.shape().map_err(h5err)?;
    let shape: Vec<usize> = match shape.as_slice() {
        [c, k, j, i] => [*c, *k, *j, *i],
        [k, j, i] => [1, *k, *j, *i],
        _ => {
            return Err(IoErrorKind::Hdf5(format!(
                "shape {shape:?}: medburn images are [C, k, j, i] (or [k, j, i])"
            )))
        }
    }
    .iter()
    .map(|&n| usize::try_from(n).map_err(|_| IoErrorKind::Hdf5(format!("shape {shape:?}"))))
    .collect::<KindResult<_>>()?;
    let attrs = ds.attrs().map_err(h5err)?;
    if let Some(v) = attrs.get("medburn_layout") {
        match v.as_u64() {
            Some(n) if n == u64::from(LAYOUT) => {}
            n => {
                let n = n.map_or_else(|| v.type_name().to_string(), |n| n.to_string());
                return Err(IoErrorKind::Unsupported(format!(
                    "medburn_layout {n} (this medburn reads layout {LAYOUT})"
                )));
            }
        }
    }
    let origin = floats(&attrs, "origin", 3)?;
    let spacing = floats(&attrs, "spacing", 3)?;
    let direction = floats(&attrs, "direction", 9)?;
    let mut d9 = [0.0; 9];
    d9.copy_from_slice(&direction);
    let geometry = Geometry::new(
        [shape[3], shape[2], shape[1]],
        [origin[0], origin[1], origin[2]],
        [spacing[0], spacing[1], spacing[2]],
        Direction::from_row_major(d9),
    )?;
    let dtype = ds.dtype().map_err(h5err)?;
    let bytes_each = match &dtype {
        DType::U8 | DType::I8 => 1,
        DType::I16 | DType::U16 => 2,
        DType::I32 | DType::U32 | DType::F32 => 4,
        DType::I64 | DType::U64 | DType::F64 => 8,
        DType::Enum(names) if is_bool(names) => 1,
        other => {
            return Err(IoErrorKind::Unsupported(format!(
                "HDF5 element type {other} (medburn reads 8- to 64-bit integers, float32, float64 and h5py booleans)"
            )))
        }
    };
    // A damaged or hostile header may claim any shape: refuse one larger than memory
    // before the reader allocates it (chunks never written read as the fill value).
    let elements = shape.iter().map(|&n| n as u128).product::<u128>();
    medburn_core::limits::check_elements(
        &format!("an HDF5 dataset of shape {shape:?}"),
        elements,
        bytes_each,
    )?;
    fn load<T: H5Element>(ds: &hdf5_pure::Dataset, shape: &[usize]) -> KindResult<ArrayD<T>> {
        let v = ds.read::<T>().map_err(h5err)?;
        let n = v.len();
        ArrayD::from_shape_vec(IxDyn(shape), v)
            .map_err(|_| IoErrorKind::Hdf5(format!("{n} values read for shape {shape:?}")))
    }
    let s = &shape[..];
    let data = match dtype {
        DType::U8 | DType::Enum(_) => VoxelArray::U8(load(ds, s)?),
        DType::I8 => VoxelArray::I8(load(ds, s)?),
        DType::I16 => VoxelArray::I16(load(ds, s)?),
        DType::U16 => VoxelArray::U16(load(ds, s)?),
        DType::I32 => VoxelArray::I32(load(ds, s)?),
        DType::U32 => VoxelArray::U32(load(ds, s)?),
        DType::I64 => VoxelArray::I64(load(ds, s)?),
        DType::U64 => VoxelArray::U64(load(ds, s)?),
        DType::F32 => VoxelArray::F32(load(ds, s)?),
        _ => VoxelArray::F64(load(ds, s)?),
    };
    let mut v = Volume::new(data, geometry)?;
    if let Some(size) = attrs.get("size") {
        let size = size.to_u64s().ok_or_else(|| {
            IoErrorKind::Hdf5(format!(
                "attribute \"size\" is {}, expected non-negative integers",
                size.type_name()
            ))
        })?;
        let ijk: Vec<u64> = v.geometry.size().iter().map(|&n| n as u64).collect();
        let extra: Vec<usize> = size.iter().skip(3).map(|&s| s as usize).collect();
        if size.len() < 3 || size[..3] != ijk[..] {
            return Err(IoErrorKind::Hdf5(format!(
                "attribute \"size\" {size:?} does not match the dataset's shape {shape:?} (stored as [C, k, j, i])"
            )));
        }
        if extra.iter().try_fold(1usize, |a, &b| a.checked_mul(b)) != Some(v.channels())
            && !(extra.is_empty() && v.channels() > 1)
        {
            return Err(IoErrorKind::Hdf5(format!(
                "attribute \"size\" {size:?}: its dimensions beyond the third do not multiply to the {} channels of shape {shape:?}",
                v.channels()
            )));
        }
        if !extra.is_empty() {
            v.extra_dims = extra;
        }
    }
    v.rescale = crate::Rescale {
        slope: number(&attrs, "rescale_slope")?.unwrap_or(1.0),
        inter: number(&attrs, "rescale_intercept")?.unwrap_or(0.0),
    };
    if let Some(m) = text(&attrs, "modality")? {
        v.modality = m.parse().unwrap_or(Modality::Unknown);
    }
    v.subtype = text(&attrs, "subtype")?.filter(|s| !s.is_empty());
    if let Some(meta) = text(&attrs, "metadata")? {
        if !meta.is_empty() {
            v.metadata = serde_json::from_str::<BTreeMap<String, String>>(&meta).map_err(|e| {
                IoErrorKind::Hdf5(format!(
                    "attribute \"metadata\" is not a JSON object of strings: {e}"
                ))
            })?;
        }
    }
    Ok(v)
}

/// h5py's `bool`: an enum of `FALSE` and `TRUE` on an 8-bit integer.
fn is_bool(names: &[String]) -> bool {
    names == ["FALSE", "TRUE"]
}

/// Attribute `key` as `n` numbers of any numeric type (required).
fn floats(attrs: &HashMap<String, AttrValue>, key: &str, n: usize) -> KindResult<Vec<f64>> {
    let a = attrs.get(key).ok_or_else(|| {
        IoErrorKind::Hdf5(format!(
            "no attribute {key:?}: medburn's HDF5 layout needs origin, spacing and direction"
        ))
    })?;
    let v = as_f64s(a).ok_or_else(|| {
        IoErrorKind::Hdf5(format!(
            "attribute {key:?} is {}, expected numbers",
            a.type_name()
        ))
    })?;
    if v.len() != n {
        return Err(IoErrorKind::Hdf5(format!(
            "attribute {key:?} has {} values, expected {n}",
            v.len()
        )));
    }
    Ok(v)
}

fn as_f64s(a: &AttrValue) -> Option<Vec<f64>> {
    a.to_f64s()
        .or_else(|| a.to_i64s().map(|v| v.iter().map(|&x| x as f64).collect()))
        .or_else(|| a.to_u64s().map(|v| v.iter().map(|&x| x as f64).collect()))
}

/// Attribute `key` as one number of any numeric type, if present.
fn number(attrs: &HashMap<String, AttrValue>, key: &str) -> KindResult<Option<f64>> {
    let Some(a) = attrs.get(key) else {
        return Ok(None);
    };
    match as_f64s(a).as_deref() {
        Some([x]) => Ok(Some(*x)),
        _ => Err(IoErrorKind::Hdf5(format!(
            "attribute {key:?} is {}, expected one number",
            a.type_name()
        ))),
    }
}

/// Attribute `key` as a string (fixed- or variable-length), if present.
fn text(attrs: &HashMap<String, AttrValue>, key: &str) -> KindResult<Option<String>> {
    let Some(a) = attrs.get(key) else {
        return Ok(None);
    };
    a.as_str().map(|s| Some(s.to_string())).ok_or_else(|| {
        IoErrorKind::Hdf5(format!(
            "attribute {key:?} is {}, expected a string",
            a.type_name()
        ))
    })
}
