//! HDF5: a [`Volume`] as one dataset plus attributes, after the MedImages.jl seed's
//! `save_to_hdf5`. Several images can share a file under different names.
//!
//! Layout of an image named `NAME` (default `image`): dataset `/NAME` of shape
//! `[C, k, j, i]` in the stored type (gzip-compressed, chunked by slice), with
//! attributes `origin`, `spacing` (3 x f64, LPS mm), `direction` (9 x f64, row-major),
//! `size` (`[i, j, k, further dims...]`), `rescale_slope`, `rescale_intercept`,
//! `modality`, `subtype`, `metadata` (JSON object of strings) and `medburn_layout` = 1.
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

use std::collections::BTreeMap;
use std::path::Path;

use ::hdf5 as h5;
use h5::types::{FloatSize, IntSize, TypeDescriptor, VarLenUnicode};
use medburn_core::{Direction, Geometry, Modality};

use crate::atomic::write_atomically_at;
use crate::{with_array, IoError, IoErrorKind, Result, Volume, VoxelArray, WriteOptions};

/// The dataset name used when none is given.
pub const DEFAULT_NAME: &str = "image";

fn h5err(e: h5::Error) -> IoErrorKind {
    IoErrorKind::Hdf5(e.to_string())
}

/// Writes `volume` as the dataset [`DEFAULT_NAME`] of a new file (replacing `path` atomically).
///
/// ```no_run
/// # let v: medburn_io::Volume = unimplemented!();
/// medburn_io::hdf5::write_hdf5(&v, "ct.h5".as_ref(), &Default::default())?;
/// # Ok::<(), medburn_io::IoError>(())
/// ```
pub fn write_hdf5(volume: &Volume, path: &Path, options: &WriteOptions) -> Result<()> {
    write_atomically_at(path, |tmp| -> std::result::Result<(), IoErrorKind> {
        let file = h5::File::create(tmp).map_err(h5err)?;
        write_dataset(&file, DEFAULT_NAME, volume, options)?;
        file.close().map_err(h5err)?;
        Ok(())
    })
}

/// Writes `volume` as dataset `name` in an open file or group.
///
/// ```no_run
/// # let (ct, pet): (medburn_io::Volume, medburn_io::Volume) = unimplemented!();
/// let f = hdf5::File::create("pair.h5").unwrap();
/// medburn_io::hdf5::write_dataset(&f, "ct", &ct, &Default::default())?;
/// medburn_io::hdf5::write_dataset(&f, "pet", &pet, &Default::default())?;
/// # Ok::<(), medburn_io::IoErrorKind>(())
/// ```
pub fn write_dataset(
    group: &h5::Group,
    name: &str,
    volume: &Volume,
    options: &WriteOptions,
) -> std::result::Result<(), IoErrorKind> {
    let (data, rescale) = match options.dtype {
        Some(t) if t != volume.data.voxel_type() => (
            volume.real_values(t, options.lossy)?,
            crate::Rescale::IDENTITY,
        ),
        _ => (volume.data.clone(), volume.rescale),
    };
    let shape = data.shape().to_vec();
    // One chunk per slice (of one channel): whole-volume reads stay fast, and
    // single slices can be read without decompressing the rest.
    let chunk = [1, 1, shape[2], shape[3]];
    let level = options.compression_level.min(9) as u8;
    let ds = with_array!(&data, a => {
        let mut b = group.new_dataset_builder().with_data(a.view()).chunk(chunk);
        if level > 0 {
            b = b.deflate(level);
        }
        b.create(name).map_err(h5err)?
    });
    let g = &volume.geometry;
    let size: Vec<u64> = volume.size().iter().map(|&s| s as u64).collect();
    ds.new_attr_builder()
        .with_data(&g.origin())
        .create("origin")
        .map_err(h5err)?;
    ds.new_attr_builder()
        .with_data(&g.spacing())
        .create("spacing")
        .map_err(h5err)?;
    ds.new_attr_builder()
        .with_data(&g.direction().row_major())
        .create("direction")
        .map_err(h5err)?;
    ds.new_attr_builder()
        .with_data(&size[..])
        .create("size")
        .map_err(h5err)?;
    ds.new_attr::<f64>()
        .create("rescale_slope")
        .map_err(h5err)?
        .write_scalar(&rescale.slope)
        .map_err(h5err)?;
    ds.new_attr::<f64>()
        .create("rescale_intercept")
        .map_err(h5err)?
        .write_scalar(&rescale.inter)
        .map_err(h5err)?;
    ds.new_attr::<u32>()
        .create("medburn_layout")
        .map_err(h5err)?
        .write_scalar(&1u32)
        .map_err(h5err)?;
    let text = |ds: &h5::Dataset, key: &str, value: &str| -> std::result::Result<(), IoErrorKind> {
        let v: VarLenUnicode = value
            .parse()
            .map_err(|e| IoErrorKind::Hdf5(format!("{key}: {e}")))?;
        ds.new_attr::<VarLenUnicode>()
            .create(key)
            .map_err(h5err)?
            .write_scalar(&v)
            .map_err(h5err)?;
        Ok(())
    };
    text(&ds, "modality", &volume.modality.to_string())?;
    text(&ds, "subtype", volume.subtype.as_deref().unwrap_or(""))?;
    let meta =
        serde_json::to_string(&volume.metadata).map_err(|e| IoErrorKind::Hdf5(e.to_string()))?;
    text(&ds, "metadata", &meta)?;
    Ok(())
}

/// Reads the dataset [`DEFAULT_NAME`] (or the only dataset in the file).
///
/// ```no_run
/// let v = medburn_io::hdf5::read_hdf5("ct.h5".as_ref())?;
/// # Ok::<(), medburn_io::IoError>(())
/// ```
pub fn read_hdf5(path: &Path) -> Result<Volume> {
    let err = |k: IoErrorKind| IoError::new(path, k);
    let file = h5::File::open(path).map_err(|e| err(h5err(e)))?;
    let names = file.member_names().map_err(|e| err(h5err(e)))?;
    let name = if names.iter().any(|n| n == DEFAULT_NAME) {
        DEFAULT_NAME.to_string()
    } else if names.len() == 1 {
        names[0].clone()
    } else {
        return Err(err(IoErrorKind::Hdf5(format!(
            "no dataset named {DEFAULT_NAME:?} and {} members ({}): name one with read_dataset",
            names.len(),
            names.join(", ")
        ))));
    };
    read_dataset(&file, &name).map_err(err)
}

/// Reads dataset `name` written by [`write_dataset`].
///
/// ```no_run
/// let f = hdf5::File::open("pair.h5").unwrap();
/// let pet = medburn_io::hdf5::read_dataset(&f, "pet")?;
/// # Ok::<(), medburn_io::IoErrorKind>(())
/// ```
pub fn read_dataset(group: &h5::Group, name: &str) -> std::result::Result<Volume, IoErrorKind> {
    let ds = group.dataset(name).map_err(h5err)?;
    let shape = ds.shape();
    if shape.len() != 4 {
        return Err(IoErrorKind::Hdf5(format!(
            "dataset {name:?} has shape {shape:?}; medburn images are [C, k, j, i]"
        )));
    }
    let f64s = |key: &str, n: usize| -> std::result::Result<Vec<f64>, IoErrorKind> {
        let v: Vec<f64> = ds
            .attr(key)
            .map_err(|e| IoErrorKind::Hdf5(format!("attribute {key:?}: {e}")))?
            .read_raw()
            .map_err(h5err)?;
        if v.len() != n {
            return Err(IoErrorKind::Hdf5(format!(
                "attribute {key:?} has {} values, expected {n}",
                v.len()
            )));
        }
        Ok(v)
    };
    let origin = f64s("origin", 3)?;
    let spacing = f64s("spacing", 3)?;
    let direction = f64s("direction", 9)?;
    let mut d9 = [0.0; 9];
    d9.copy_from_slice(&direction);
    let geometry = Geometry::new(
        [shape[3], shape[2], shape[1]],
        [origin[0], origin[1], origin[2]],
        [spacing[0], spacing[1], spacing[2]],
        Direction::from_row_major(d9),
    )?;
    let desc = ds.dtype().map_err(h5err)?.to_descriptor().map_err(h5err)?;
    macro_rules! load {
        ($t:ty, $v:ident) => {
            VoxelArray::$v(ds.read_dyn::<$t>().map_err(h5err)?)
        };
    }
    let data = match desc {
        TypeDescriptor::Unsigned(IntSize::U1) => load!(u8, U8),
        TypeDescriptor::Integer(IntSize::U1) => load!(i8, I8),
        TypeDescriptor::Integer(IntSize::U2) => load!(i16, I16),
        TypeDescriptor::Unsigned(IntSize::U2) => load!(u16, U16),
        TypeDescriptor::Integer(IntSize::U4) => load!(i32, I32),
        TypeDescriptor::Unsigned(IntSize::U4) => load!(u32, U32),
        TypeDescriptor::Integer(IntSize::U8) => load!(i64, I64),
        TypeDescriptor::Unsigned(IntSize::U8) => load!(u64, U64),
        TypeDescriptor::Float(FloatSize::U4) => load!(f32, F32),
        TypeDescriptor::Float(FloatSize::U8) => load!(f64, F64),
        other => {
            return Err(IoErrorKind::Unsupported(format!(
                "HDF5 element type {other:?}"
            )))
        }
    };
    let mut v = Volume::new(data, geometry)?;
    if let Ok(size) = ds.attr("size").and_then(|a| a.read_raw::<u64>()) {
        let extra: Vec<usize> = size.iter().skip(3).map(|&s| s as usize).collect();
        if extra.iter().product::<usize>() == v.channels() {
            v.extra_dims = extra;
        }
    }
    let scalar = |key: &str| ds.attr(key).and_then(|a| a.read_scalar::<f64>()).ok();
    v.rescale = crate::Rescale {
        slope: scalar("rescale_slope").unwrap_or(1.0),
        inter: scalar("rescale_intercept").unwrap_or(0.0),
    };
    let text = |key: &str| {
        ds.attr(key)
            .and_then(|a| a.read_scalar::<VarLenUnicode>())
            .ok()
            .map(|s| s.as_str().to_string())
    };
    if let Some(m) = text("modality") {
        v.modality = m.parse().unwrap_or(Modality::Unknown);
    }
    v.subtype = text("subtype").filter(|s| !s.is_empty());
    if let Some(meta) = text("metadata") {
        v.metadata = serde_json::from_str::<BTreeMap<String, String>>(&meta).map_err(|e| {
            IoErrorKind::Hdf5(format!(
                "attribute \"metadata\" is not a JSON object of strings: {e}"
            ))
        })?;
    }
    Ok(v)
}
