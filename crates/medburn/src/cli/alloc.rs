//! A counting global allocator, so that `medburn bench` can report the peak host memory an
//! operation allocates (device memory on a GPU is not seen here). It counts only once `bench`
//! has switched it on: every other command pays one relaxed load per allocation, nothing more.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// The system allocator, counting live and peak bytes while switched on.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
// Signed: blocks allocated before counting began may be freed while it runs.
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        let live = LIVE.fetch_add(bytes as isize, Ordering::Relaxed) + bytes as isize;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

fn shrank(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        LIVE.fetch_sub(bytes as isize, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

/// Switches counting on (for `bench`); before this, allocations are not counted.
pub fn start_counting() {
    ON.store(true, Ordering::Relaxed);
}

/// Starts a measurement: the peak is reset to what is live now.
pub fn reset_peak() -> isize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// Bytes allocated at the peak since `reset_peak` returned `base`, above `base`.
pub fn peak_since(base: isize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(base).max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only while switched on does an allocation count (the test binary does not install the
    /// allocator, so the hooks are called directly).
    #[test]
    fn counts_only_when_switched_on() {
        grew(1 << 20);
        assert_eq!(LIVE.load(Ordering::Relaxed), 0, "counted while off");
        start_counting();
        let base = reset_peak();
        grew(1 << 20);
        shrank(1 << 20);
        assert_eq!(peak_since(base), 1 << 20);
        assert_eq!(LIVE.load(Ordering::Relaxed), base);
    }
}
