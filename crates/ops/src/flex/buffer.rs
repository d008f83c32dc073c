//! Output buffers of the CPU kernels.
//!
//! A large zeroed `Vec` is fresh memory from the kernel (glibc maps allocations of 32 MiB and
//! more on its own), so its first touch costs one page fault per 4 KiB page: 8,192 faults for a
//! 256 x 256 x 128 float32 volume, a quarter of a nearest-neighbour rotation's time. Where the
//! system grants transparent huge pages on request (`madvise` mode, the common default), asking
//! for them before the first touch makes that 16 faults of 2 MiB.

use super::taps::Real;

/// Below this many bytes a buffer is not worth a system call.
const HUGE_PAGE_MIN_BYTES: usize = 4 << 20;

/// `len` zeros, their memory advised for huge pages where that is large enough to matter.
pub(crate) fn zeroed<T: Real>(len: usize) -> Vec<T> {
    let buf = vec![T::ZERO; len];
    advise_huge_pages(&buf);
    buf
}

/// Asks the kernel to back the whole 2 MiB pages within `buf` by huge pages. Advice only: the
/// contents are unchanged whatever the kernel does, and a refusal is ignored.
#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(buf: &[T]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(buf);
    if bytes < HUGE_PAGE_MIN_BYTES {
        return;
    }
    let start = buf.as_ptr() as usize;
    let first = start.next_multiple_of(HUGE);
    let end = (start + bytes) / HUGE * HUGE;
    if end > first {
        // SAFETY: the range lies within `buf`'s allocation; MADV_HUGEPAGE changes no contents
        // and no access rights, so no reference to the buffer is invalidated.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<T>(_: &[T]) {}
