//! Layers that run on medburn's own CPU kernels and otherwise behave as their `burn::nn`
//! counterparts: the same fields, so the same records and saved weights, and the same
//! configurations.

mod conv3d;
mod conv_transpose3d;
mod instance_norm;
mod prelu;

pub use conv3d::Conv3d;
pub use conv_transpose3d::ConvTranspose3d;
pub use instance_norm::InstanceNorm;
pub use prelu::PRelu;
