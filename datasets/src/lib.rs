//! Data for medburn: synthetic phantoms now; manifests, loaders, caching and
//! patch samplers as they arrive.
//!
//! ```
//! use medburn_core::Device;
//! let img = medburn_datasets::phantom::shepp_logan(&medburn_datasets::phantom::PhantomSpec::cube(16), &Device::flex())?;
//! assert_eq!(img.geometry().size(), [16, 16, 16]);
//! # Ok::<(), medburn_core::ImageError>(())
//! ```

pub mod phantom;
