//! One benchmark case.

/// A name and a closure that runs the case once (inputs are made before, outside the timing).
pub(super) struct Case {
    pub name: &'static str,
    pub run: Box<dyn Fn() -> Result<(), Box<dyn std::error::Error>>>,
}

/// A case name made at run time. Names live as long as the process (a benchmark run makes a
/// few dozen), so leaking them keeps `Case` free of lifetimes.
pub(super) fn leak_name(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}
