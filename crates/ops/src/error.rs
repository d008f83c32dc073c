//! Errors of the public ops: bad shapes and arguments, reported before any kernel runs.

/// An op was called with arguments it cannot use.
///
/// ```
/// use medburn_ops::OpsError;
/// let e = OpsError::new("grid_sample_3d", "grid must be [N, D, H, W, 3], got [1, 2, 2, 2, 2]");
/// assert_eq!(e.to_string(), "grid_sample_3d: grid must be [N, D, H, W, 3], got [1, 2, 2, 2, 2]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op}: {message}")]
pub struct OpsError {
    /// The op that refused its arguments.
    pub op: &'static str,
    /// What was wrong, with the values seen.
    pub message: String,
}

impl OpsError {
    /// An error of `op` with a message.
    ///
    /// ```
    /// let e = medburn_ops::OpsError::new("max_pool3d", "kernel size 0");
    /// assert_eq!(e.op, "max_pool3d");
    /// ```
    pub fn new(op: &'static str, message: impl Into<String>) -> Self {
        Self {
            op,
            message: message.into(),
        }
    }
}

/// Shorthand for the ops' results.
pub type Result<T> = core::result::Result<T, OpsError>;

/// Fails unless every size is at least 1.
pub(crate) fn check_nonempty(op: &'static str, what: &str, dims: &[usize]) -> Result<()> {
    if dims.contains(&0) {
        return Err(OpsError::new(
            op,
            format!("{what} has an empty dimension: {dims:?}"),
        ));
    }
    Ok(())
}
