//! How the `medburn` program asks glibc's allocator to keep freed memory for reuse.
//!
//! A training step allocates and frees the same activation-sized buffers (a few MiB to 32 MiB)
//! over and over. By default glibc maps buffers above a threshold that moves with what is
//! freed, and gives freed memory at the top of a heap back to the kernel, so every step maps
//! fresh pages and pays a page fault and a zeroing per 4 KiB: 280,000 faults and half the time
//! of the U-Net's instance norm + PReLU forward here. Serving every buffer from the heaps (no
//! `mmap` of its own, however large) and never trimming them makes freed buffers come back
//! without faults, at the price of keeping the process's peak resident size (and what
//! fragmentation adds to it). The threshold alone cannot do it: glibc's largest is 32 MiB, and
//! a buffer of exactly 32 MiB (a 256 x 256 x 128 float32 volume, the top level of a U-Net on
//! 2 x 16 x 64^3) is mapped afresh each time, its pages zeroed by the kernel: a third of a
//! nearest-neighbour rotation. Requests beyond a thread arena's 64 MiB heaps are still mapped
//! (glibc's own fallback). Setting `GLIBC_TUNABLES` with a `glibc.malloc` entry leaves the
//! allocator as the user set it; other platforms' allocators are left alone. A program using
//! the medburn crates can do the same.

/// Applies the settings (glibc on Linux only), before any thread starts.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let user_set = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc"));
        if !user_set {
            // SAFETY: `mallopt` only sets allocator parameters; called from `main` before any
            // other thread exists.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_MMAP_MAX, 0);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
        }
    }
}
