//! Stopping a run from outside: a handle the caller passes in (as burn-train's `Interrupter`),
//! never a process-wide signal handler installed by the library. The `medburn` program sets
//! it from Ctrl-C; a test or an application sets it when it likes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared flag the training loop reads between steps: once set, the loop writes a
/// checkpoint and returns (resumable with `--resume`).
///
/// ```
/// let stop = medburn_train::Interrupter::new();
/// let handle = stop.clone(); // e.g. moved into a Ctrl-C handler
/// assert!(!stop.is_stopped());
/// handle.stop();
/// assert!(stop.is_stopped());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Interrupter(Arc<AtomicBool>);

impl Interrupter {
    /// A flag that is not set.
    pub fn new() -> Interrupter {
        Interrupter::default()
    }

    /// Asks the run to stop after its current step.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
