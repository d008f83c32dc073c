//! Intensity transforms: they change image values only, never labels, and need no geometry.

pub mod gamma;
pub mod noise;
