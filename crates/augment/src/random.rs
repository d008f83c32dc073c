//! The draws every transform makes. Each transform draws a fixed number of values per sample,
//! applied or not, so the stream position after `sample` depends only on the batch size and
//! which transforms exist, never on the outcomes: resuming from a saved RNG position is exact.

use rand::Rng;

/// Uniform in `[lo, hi)` (`lo` when `lo == hi`). By hand rather than `random_range`, which
/// panics on an empty range: a config is validated where it is applied, not where it is drawn.
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// True with probability `prob` (one draw).
pub(crate) fn chance<R: Rng + ?Sized>(rng: &mut R, prob: f64) -> bool {
    rng.random::<f64>() < prob
}
