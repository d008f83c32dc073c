//! Output buffers of the CPU kernels.
//!
//! A large zeroed `Vec` is fresh memory from the kernel (glibc maps allocations of 32 MiB and
//! more on its own), so its first touch costs one page fault per 4 KiB page: 8,192 faults for a
//! 256 x 256 x 128 float32 volume, a quarter of a nearest-neighbour rotation's time. Where the
//! system grants transparent huge pages on request (`madvise` mode, the common default), asking
//! for them before the first touch makes that 16 faults of 2 MiB.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::taps::Real;

/// Below this many bytes a buffer is not worth a system call.
const HUGE_PAGE_MIN_BYTES: usize = 4 << 20;

/// `len` zeros, their memory advised for huge pages where that is large enough to matter.
pub(crate) fn zeroed<T: Real>(len: usize) -> Vec<T> {
    let buf = vec![T::ZERO; len];
    advise_huge_pages(&buf);
    buf
}

/// A vector of `len` values whose pieces of `piece` values (the last may be shorter) `fill`
/// writes in parallel, given each piece's index. Not zeroed first: where every value is
/// written anyway, zeroing is one more pass over the output (a memset per normalization and
/// activation, about 3% of a U-Net training step).
///
/// # Safety
/// `fill` must write every element of the piece it is given.
pub(crate) unsafe fn par_written<T: Send>(
    len: usize,
    piece: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    let mut out = Vec::with_capacity(len);
    if len > 0 {
        out.spare_capacity_mut()[..len]
            .par_chunks_mut(piece.max(1))
            .enumerate()
            .for_each(|(i, p)| fill(i, p));
    }
    // SAFETY: the capacity is at least `len`, and the caller's `fill` wrote every element of
    // every piece, which together are the first `len` elements.
    unsafe { out.set_len(len) };
    out
}

/// Writes `value` to every element of `out`: `<[MaybeUninit<T>]>::write_filled`, which is not
/// stable yet. A plain loop over one slice, which the compiler can turn into a `memset` (an
/// iterator chaining two slices compiled to one scalar store per element).
pub(crate) fn write_filled<T: Copy>(out: &mut [MaybeUninit<T>], value: T) {
    for v in out {
        v.write(value);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece, the shorter last one included, is handed out once with its index.
    #[test]
    fn pieces_cover_the_output_once() {
        for (len, piece) in [(0, 4), (10, 4), (12, 4), (3, 7), (5, 0)] {
            let fill = |i: usize, p: &mut [MaybeUninit<u64>]| {
                for (j, v) in p.iter_mut().enumerate() {
                    v.write((i * piece.max(1) + j) as u64);
                }
            };
            // SAFETY: `fill` writes every element of its piece.
            let v = unsafe { par_written(len, piece, fill) };
            assert_eq!(
                v,
                (0..len as u64).collect::<Vec<_>>(),
                "{len} in pieces of {piece}"
            );
        }
    }
}
