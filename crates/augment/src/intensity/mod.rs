//! Intensity transforms: they change image values only, never labels or geometry. Each has a
//! config (ranges, probability), a per-sample draw, and an `apply_*` function of the drawn
//! values; per-sample values become `[N, 1, 1, 1, 1]` columns, so a batch is one set of tensor
//! ops.

pub(crate) mod bias_field;
pub(crate) mod blur;
pub(crate) mod contrast;
mod fft;
pub(crate) mod gamma;
pub(crate) mod histogram;
pub(crate) mod kspace;
pub(crate) mod noise;
pub(crate) mod normalize;
pub(crate) mod resolution;
