//! The instruction set a CPU kernel runs with, detected at run time: the same Rust compiled
//! once for the build's baseline and once with AVX2 enabled (`#[target_feature]`), so one
//! binary vectorizes as wide as the machine allows without a `target-cpu` flag.

/// The instruction set to run a multiversioned kernel with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// The build's baseline (SSE2 on x86-64).
    Baseline,
    /// x86-64 with AVX2 (256-bit vectors).
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
        Isa::Baseline
    }
}
