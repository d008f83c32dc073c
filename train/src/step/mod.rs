//! The parts of an optimizer step every task shares: gradient clipping by the global norm, the
//! gradient-sync hook, and the interruption handle.

mod clip;
mod interrupt;
mod sync;

pub use clip::{clip_grad_norm, global_grad_norm};
pub use interrupt::Interrupter;
pub use sync::{GradientSync, ParamList, SingleProcess};
