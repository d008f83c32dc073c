//! 3D FFTs of one volume on the host (line by line on rayon), and the index map of NumPy's
//! `fftshift`: k-space artifacts are described on the centred spectrum, and indexing through the
//! map avoids moving the data.
//!
//! The FFT is a small mixed-radix one written here, in f64. `rustfft` is the crate for this, but
//! its default features turn on `std` in `num-traits` and `num-complex`, which Burn builds
//! without: adding it rebuilds all of Burn (25 minutes on two cores, in every CI
//! configuration). Volume lines are short (tens to hundreds of voxels), so the O(n * sum of
//! prime factors) recursion below is fast enough, and TorchIO's fixtures check it.

use rayon::prelude::*;

/// A complex number in f64.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Complex {
    pub(crate) re: f64,
    pub(crate) im: f64,
}

impl Complex {
    fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }

    pub(crate) fn norm(self) -> f64 {
        self.re.hypot(self.im)
    }

    fn mul(self, o: Self) -> Self {
        Self::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }

    fn add(self, o: Self) -> Self {
        Self::new(self.re + o.re, self.im + o.im)
    }

    pub(crate) fn scale(&mut self, f: f64) {
        self.re *= f;
        self.im *= f;
    }
}

/// The DFT of `x` (`sign` -1 forward, +1 inverse, unnormalized), mixed radix: split by the
/// smallest prime factor `p` into `p` interleaved subsequences, transform each, and combine
/// with twiddles; a prime length is a direct DFT.
fn dft(x: &[Complex], sign: f64) -> Vec<Complex> {
    let n = x.len();
    if n <= 1 {
        return x.to_vec();
    }
    let twiddle = |k: usize, n: usize| {
        let a = sign * 2.0 * std::f64::consts::PI * (k % n) as f64 / n as f64;
        Complex::new(a.cos(), a.sin())
    };
    let p = (2..=n).find(|p| n.is_multiple_of(*p)).unwrap_or(n);
    if p == n {
        return (0..n)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .fold(Complex::default(), |acc, (t, v)| {
                        acc.add(v.mul(twiddle(k * t, n)))
                    })
            })
            .collect();
    }
    let m = n / p;
    let subs: Vec<Vec<Complex>> = (0..p)
        .map(|r| {
            dft(
                &x.iter().skip(r).step_by(p).copied().collect::<Vec<_>>(),
                sign,
            )
        })
        .collect();
    (0..n)
        .map(|k| {
            subs.iter()
                .enumerate()
                .fold(Complex::default(), |acc, (r, y)| {
                    acc.add(y[k % m].mul(twiddle(r * k, n)))
                })
        })
        .collect()
}

/// A volume `[k][j][i]` (`i` fastest) of complex values with its size `[i, j, k]`.
pub(crate) struct Spectrum {
    pub(crate) size: [usize; 3],
    pub(crate) data: Vec<Complex>,
}

impl Spectrum {
    /// The (unnormalized) FFT of real voxels `[k][j][i]`.
    pub(crate) fn forward(voxels: &[f32], size: [usize; 3]) -> Self {
        let mut s = Spectrum {
            size,
            data: voxels
                .iter()
                .map(|&v| Complex::new(v as f64, 0.0))
                .collect(),
        };
        s.transform(false);
        s
    }

    /// The real part of the inverse FFT (normalized by the voxel count, as `numpy.fft.ifftn`).
    pub(crate) fn inverse_real(mut self) -> Vec<f32> {
        self.transform(true);
        let scale = 1.0 / self.data.len() as f64;
        self.data.iter().map(|c| (c.re * scale) as f32).collect()
    }

    /// The flat index of centred (fftshifted) index `s`.
    pub(crate) fn at_shifted(&self, s: [usize; 3]) -> usize {
        let [ni, nj, nk] = self.size;
        let u = |s: usize, n: usize| (s + n - n / 2) % n;
        (u(s[2], nk) * nj + u(s[1], nj)) * ni + u(s[0], ni)
    }

    fn transform(&mut self, inverse: bool) {
        let [ni, nj, nk] = self.size;
        let sign = if inverse { 1.0 } else { -1.0 };
        for (axis, n) in [ni, nj, nk].into_iter().enumerate() {
            if n == 1 {
                continue;
            }
            let stride = [1, ni, ni * nj][axis];
            // Lines along `axis`: gather, transform, scatter (planes are independent).
            let lines: Vec<usize> = (0..self.data.len())
                .filter(|&x| (x / stride) % n == 0)
                .collect();
            let results: Vec<(usize, Vec<Complex>)> = lines
                .par_iter()
                .map(|&start| {
                    let line: Vec<Complex> =
                        (0..n).map(|t| self.data[start + t * stride]).collect();
                    (start, dft(&line, sign))
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
