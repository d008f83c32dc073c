//! 3D FFTs of one volume on the host (rustfft, line by line on rayon), and the index map of
//! NumPy's `fftshift`: k-space artifacts are described on the centred spectrum, and indexing
//! through the map avoids moving the data.

use rayon::prelude::*;
use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;

/// A volume `[k][j][i]` (`i` fastest) of complex values with its size `[i, j, k]`.
pub(crate) struct Spectrum {
    pub(crate) size: [usize; 3],
    pub(crate) data: Vec<Complex32>,
}

impl Spectrum {
    /// The (unnormalized) FFT of real voxels `[k][j][i]`.
    pub(crate) fn forward(voxels: &[f32], size: [usize; 3]) -> Self {
        let mut s = Spectrum {
            size,
            data: voxels.iter().map(|&v| Complex32::new(v, 0.0)).collect(),
        };
        s.transform(false);
        s
    }

    /// The real part of the inverse FFT (normalized by the voxel count, as `numpy.fft.ifftn`).
    pub(crate) fn inverse_real(mut self) -> Vec<f32> {
        self.transform(true);
        let scale = 1.0 / self.data.len() as f32;
        self.data.iter().map(|c| c.re * scale).collect()
    }

    /// The flat index of centred (fftshifted) index `s`.
    pub(crate) fn at_shifted(&self, s: [usize; 3]) -> usize {
        let [ni, nj, nk] = self.size;
        let u = |s: usize, n: usize| (s + n - n / 2) % n;
        (u(s[2], nk) * nj + u(s[1], nj)) * ni + u(s[0], ni)
    }

    fn transform(&mut self, inverse: bool) {
        let [ni, nj, nk] = self.size;
        let mut planner = FftPlanner::<f32>::new();
        for (axis, n) in [ni, nj, nk].into_iter().enumerate() {
            if n == 1 {
                continue;
            }
            let fft = if inverse {
                planner.plan_fft_inverse(n)
            } else {
                planner.plan_fft_forward(n)
            };
            let stride = [1, ni, ni * nj][axis];
            // Lines along `axis`: gather, transform, scatter (planes are independent).
            let lines: Vec<usize> = (0..self.data.len())
                .filter(|&x| (x / stride) % n == 0)
                .collect();
            let results: Vec<(usize, Vec<Complex32>)> = lines
                .par_iter()
                .map(|&start| {
                    let mut line: Vec<Complex32> =
                        (0..n).map(|t| self.data[start + t * stride]).collect();
                    fft.process(&mut line);
                    (start, line)
                })
                .collect();
            for (start, line) in results {
                for (t, v) in line.into_iter().enumerate() {
                    self.data[start + t * stride] = v;
                }
            }
        }
    }
}
