//! One benchmark case.

/// A name and a closure that runs the case once (inputs are made before, outside the timing).
pub(super) struct Case {
    pub name: &'static str,
    pub run: Box<dyn Fn() -> Result<(), Box<dyn std::error::Error>>>,
}
