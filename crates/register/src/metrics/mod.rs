//! Measures of a registration's result: how regular its transform is (Jacobian
//! determinants). Dice of warped labels is `medburn_train`'s; surface distances and target
//! registration errors come with the registration command.

mod jacobian;

pub use jacobian::{jacobian_determinant, JacobianStats};
mod surface;
mod tre;
pub use surface::{dice, surface_distances, SurfaceDistances};
pub use tre::{target_registration_error, TargetRegistrationError};
