//! A safe face on the `gemm` crate: strided matrix views whose extents are checked against
//! their buffers before the raw-pointer call.

use gemm::Parallelism;

use crate::flex::taps::Real;

/// A read-only strided matrix inside a slice.
#[derive(Clone, Copy)]
pub(super) struct MatRef<'a, T> {
    data: &'a [T],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// Index one past the last element a `rows x cols` view with these strides touches.
fn end(offset: usize, rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        offset
    } else {
        offset + (rows - 1) * row_stride + (cols - 1) * col_stride + 1
    }
}

impl<'a, T> MatRef<'a, T> {
    /// Element `(r, c)` is `data[offset + r * row_stride + c * col_stride]`.
    ///
    /// # Panics
    /// If the view reaches past `data`.
    pub fn new(
        data: &'a [T],
        offset: usize,
        [rows, cols]: [usize; 2],
        [row_stride, col_stride]: [usize; 2],
    ) -> Self {
        assert!(
            end(offset, rows, cols, row_stride, col_stride) <= data.len(),
            "matrix view past its buffer"
        );
        Self {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }
}

/// A buffer that several threads write to, each in its own elements.
pub(super) struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: `Shared` only hands out access through `unsafe` methods whose callers promise that
// concurrent users touch disjoint elements.
unsafe impl<T: Send> Send for Shared<T> {}
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub fn new(data: &mut [T]) -> Self {
        Self {
            ptr: data.as_mut_ptr(),
            len: data.len(),
        }
    }

    /// `len` elements from `start`.
    ///
    /// # Safety
    /// No other thread may access these elements while the slice lives.
    ///
    /// # Panics
    /// If the range reaches past the buffer.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start + len <= self.len, "slice past its buffer");
        // SAFETY: in bounds (checked); exclusive by the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }

    /// `dst := dst + lhs * rhs` (or `lhs * rhs` when `accumulate` is false) on the
    /// `rows x cols` matrix at `offset` with the given strides.
    ///
    /// # Safety
    /// No other thread may access the destination's elements during the call.
    ///
    /// # Panics
    /// If the shapes disagree or the destination reaches past the buffer.
    pub unsafe fn matmul(
        &self,
        offset: usize,
        [row_stride, col_stride]: [usize; 2],
        lhs: MatRef<'_, T>,
        rhs: MatRef<'_, T>,
        accumulate: bool,
    ) where
        T: Real,
    {
        let (rows, cols, inner) = (lhs.rows, rhs.cols, lhs.cols);
        assert_eq!(rhs.rows, inner, "inner dimensions disagree");
        assert!(
            end(offset, rows, cols, row_stride, col_stride) <= self.len,
            "matrix view past its buffer"
        );
        if rows == 0 || cols == 0 {
            return;
        }
        // SAFETY: every view is in bounds (checked above and in `MatRef::new`), `T` is f32 or
        // f64 (the only `Real`s), and the destination is exclusive by the caller's promise.
        unsafe {
            gemm::gemm(
                rows,
                cols,
                inner,
                self.ptr.add(offset),
                col_stride as isize,
                row_stride as isize,
                accumulate,
                lhs.data.as_ptr().add(lhs.offset),
                lhs.col_stride as isize,
                lhs.row_stride as isize,
                rhs.data.as_ptr().add(rhs.offset),
                rhs.col_stride as isize,
                rhs.row_stride as isize,
                T::ONE,
                T::ONE,
                false,
                false,
                false,
                Parallelism::None,
            )
        }
    }
}

/// `dst := dst + lhs * rhs` (or `lhs * rhs`) into a slice owned by the caller.
pub(super) fn matmul_into<T: Real>(
    dst: &mut [T],
    offset: usize,
    strides: [usize; 2],
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
) {
    let shared = Shared::new(dst);
    // SAFETY: `dst` is borrowed mutably for the whole call: nothing else can touch it.
    unsafe { shared.matmul(offset, strides, lhs, rhs, accumulate) }
}
