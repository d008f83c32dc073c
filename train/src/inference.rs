//! Sliding-window inference on whole volumes (MONAI's `sliding_window_inference`, nnU-Net's
//! predictor): windows of the training patch size overlap, each window's output is weighted by
//! a Gaussian that trusts its centre more than its border, and the weighted sum is divided by
//! the summed weights. Optionally averaged over flips along every axis (test-time augmentation).
//! The inferer blends whatever the network gives (raw logits, or the probabilities of a
//! network wrapped in a softmax); activations and arg-max belong to the task.

use burn::tensor::{Int, Tensor, TensorData};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// How windows are laid and blended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlidingWindow {
    /// Window size along i, j, k.
    pub roi_size: [usize; 3],
    /// Overlap of neighbouring windows, in [0, 1).
    pub overlap: f64,
    /// Windows per forward pass.
    pub sw_batch_size: usize,
    /// Gaussian sigma as a fraction of the window size (MONAI and nnU-Net: 0.125).
    pub sigma_scale: f64,
    /// Average over the 8 combinations of flips along the three axes.
    pub flip_tta: bool,
}

impl SlidingWindow {
    /// Windows of `roi_size` with 50% overlap, 4 per pass, Gaussian blending, no flips.
    ///
    /// ```
    /// let sw = medburn_train::SlidingWindow::new([32, 32, 32]);
    /// assert_eq!(sw.overlap, 0.5);
    /// ```
    pub fn new(roi_size: [usize; 3]) -> SlidingWindow {
        SlidingWindow {
            roi_size,
            overlap: 0.5,
            sw_batch_size: 4,
            sigma_scale: 0.125,
            flip_tta: false,
        }
    }

    /// The blended outputs `[1, K, D, H, W]` of a whole image `[1, C, D, H, W]`, where `forward`
    /// maps windows `[B, C, d, h, w]` to outputs `[B, K, d, h, w]` (averaged over the flips
    /// when `flip_tta`). Images smaller than a window are zero-padded around and cropped back.
    ///
    /// ```
    /// use burn::tensor::activation::softmax;
    /// use burn::tensor::{Device, Tensor};
    /// let sw = medburn_train::SlidingWindow::new([4, 4, 4]);
    /// let image = Tensor::<5>::ones([1, 1, 6, 5, 9], &Device::flex());
    /// // A "network" whose logits favour class 1 everywhere, and its probabilities.
    /// let net = |x: Tensor<5>| Tensor::cat(vec![x.clone() * 0.0, x], 1);
    /// let probs = sw.infer(image.clone(), |x| softmax(net(x), 1))?;
    /// assert_eq!(probs.dims(), [1, 2, 6, 5, 9]);
    /// let p1 = probs.slice([0..1, 1..2]).mean().into_scalar::<f32>();
    /// assert!((p1 - 0.7311).abs() < 1e-3); // sigmoid(1): blending keeps a constant constant
    /// // Raw logits blend the same way.
    /// let logits = sw.infer(image, net)?;
    /// assert!((logits.slice([0..1, 1..2]).mean().into_scalar::<f32>() - 1.0).abs() < 1e-5);
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn infer(
        &self,
        image: Tensor<5>,
        forward: impl Fn(Tensor<5>) -> Tensor<5>,
    ) -> Result<Tensor<5>> {
        self.infer_with_progress(image, forward, &ProgressBar::hidden())
    }

    /// [`infer`](Self::infer) showing its window passes on `bar`: its length is set to the
    /// count ([`check_work`](Self::check_work)) before the first pass, and it advances as
    /// each batch of windows is blended.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// let sw = medburn_train::SlidingWindow::new([4, 4, 4]);
    /// let bar = indicatif::ProgressBar::hidden();
    /// let image = Tensor::<5>::ones([1, 1, 6, 6, 6], &Device::flex());
    /// sw.infer_with_progress(image, |x| x, &bar)?;
    /// assert_eq!((bar.position(), bar.length()), (8, Some(8)));
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn infer_with_progress(
        &self,
        image: Tensor<5>,
        forward: impl Fn(Tensor<5>) -> Tensor<5>,
        bar: &ProgressBar,
    ) -> Result<Tensor<5>> {
        self.validate()?;
        let [_, _, d, h, w] = image.dims();
        let passes = self.check_work([d, h, w])?;
        bar.set_length(passes as u64);
        bar.set_position(0);
        let forward = |x: Tensor<5>| {
            let n = x.dims()[0] as u64;
            let y = forward(x);
            bar.inc(n);
            y
        };
        if !self.flip_tta {
            return self.blend(image, &forward);
        }
        let mut sum: Option<Tensor<5>> = None;
        for mask in 0..8usize {
            let flip = |mut t: Tensor<5>| {
                for a in (0..3).filter(|a| mask >> a & 1 == 1) {
                    t = t.flip([a + 2]);
                }
                t
            };
            let p = flip(self.blend(flip(image.clone()), &forward)?);
            sum = Some(match sum {
                Some(s) => s + p,
                None => p,
            });
        }
        Ok(sum.expect("8 passes") / 8.0)
    }

    /// Checks the settings: overlap in `[0, 1)`, at least one window per pass, no empty window
    /// side, a positive sigma.
    ///
    /// ```
    /// let mut sw = medburn_train::SlidingWindow::new([8, 8, 8]);
    /// assert!(sw.validate().is_ok());
    /// sw.overlap = 1.0;
    /// assert!(sw.validate().unwrap_err().to_string().contains("overlap"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.overlap) || self.sw_batch_size == 0 {
            return Err(TrainError::Config(format!(
                "sliding window: overlap {} must be in [0, 1) and sw_batch_size at least 1",
                self.overlap
            )));
        }
        if self.roi_size.contains(&0) {
            return Err(TrainError::Config("sliding window: zero roi size".into()));
        }
        if !(self.sigma_scale > 0.0 && self.sigma_scale.is_finite()) {
            return Err(TrainError::Config(format!(
                "sliding window: sigma_scale {} must be positive",
                self.sigma_scale
            )));
        }
        Ok(())
    }

    /// The first voxels `[z, y, x]` of the windows over an image of `[D, H, W]` voxels (padded
    /// to a window where smaller), in the order they run.
    ///
    /// ```
    /// let sw = medburn_train::SlidingWindow::new([4, 4, 4]);
    /// assert_eq!(sw.windows([10, 4, 3]).len(), 4); // 4 along D, 1 along H, 1 along W
    /// ```
    pub fn windows(&self, dhw: [usize; 3]) -> Vec<[usize; 3]> {
        let [rw, rh, rd] = self.roi_size;
        let size = [dhw[0].max(rd), dhw[1].max(rh), dhw[2].max(rw)];
        let mut windows = Vec::new();
        for z in window_starts(size[0], rd, self.overlap) {
            for y in window_starts(size[1], rh, self.overlap) {
                for x in window_starts(size[2], rw, self.overlap) {
                    windows.push([z, y, x]);
                }
            }
        }
        windows
    }

    /// The forward passes' windows for an image of `[D, H, W]` voxels (eight times the windows
    /// with flip test-time augmentation), refused above [`SlidingWindow::MAX_WINDOWS`] with the
    /// count at overlap 0.5 for comparison: a high overlap multiplies the work by its cube.
    ///
    /// ```
    /// let mut sw = medburn_train::SlidingWindow::new([32, 32, 32]);
    /// assert_eq!(sw.check_work([80, 80, 80])?, 64);
    /// sw.overlap = 0.97;
    /// let e = sw.check_work([80, 80, 80]).unwrap_err().to_string();
    /// assert!(e.contains("117649 window passes") && e.contains("64 at overlap 0.5"), "{e}");
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn check_work(&self, dhw: [usize; 3]) -> Result<usize> {
        let passes = if self.flip_tta { 8 } else { 1 };
        let n = self.windows(dhw).len() * passes;
        if n > Self::MAX_WINDOWS {
            let half = SlidingWindow {
                overlap: 0.5,
                ..self.clone()
            };
            return Err(TrainError::Config(format!(
                "sliding window: overlap {} makes {n} window passes of {:?} over an image of \
                 {dhw:?} voxels ({} at overlap 0.5), above the {} this runs: lower the overlap",
                self.overlap,
                self.roi_size,
                half.windows(dhw).len() * passes,
                Self::MAX_WINDOWS
            )));
        }
        Ok(n)
    }

    /// The most window passes one image may take ([`check_work`](Self::check_work)).
    pub const MAX_WINDOWS: usize = 4096;

    fn blend(
        &self,
        image: Tensor<5>,
        forward: &impl Fn(Tensor<5>) -> Tensor<5>,
    ) -> Result<Tensor<5>> {
        let device = image.device();
        let [_, c, d, h, w] = image.dims();
        let [rw, rh, rd] = self.roi_size;
        // Zero-pad where the image is smaller than a window.
        let size = [d.max(rd), h.max(rh), w.max(rw)];
        let lo = [(size[0] - d) / 2, (size[1] - h) / 2, (size[2] - w) / 2];
        let padded = if size != [d, h, w] {
            Tensor::<5>::zeros([1, c, size[0], size[1], size[2]], &device).slice_assign(
                [
                    0..1,
                    0..c,
                    lo[0]..lo[0] + d,
                    lo[1]..lo[1] + h,
                    lo[2]..lo[2] + w,
                ],
                image,
            )
        } else {
            image
        };
        let importance = gaussian_importance([rd, rh, rw], self.sigma_scale, &device);
        let windows = self.windows([d, h, w]);
        let mut acc: Option<Tensor<5>> = None;
        let mut weight = Tensor::<5>::zeros([1, 1, size[0], size[1], size[2]], &device);
        for chunk in windows.chunks(self.sw_batch_size) {
            let batch = Tensor::cat(
                chunk
                    .iter()
                    .map(|&[z, y, x]| {
                        padded
                            .clone()
                            .slice([0..1, 0..c, z..z + rd, y..y + rh, x..x + rw])
                    })
                    .collect(),
                0,
            );
            let logits = forward(batch);
            let [b, k, ld, lh, lw] = logits.dims();
            if b != chunk.len() || [ld, lh, lw] != [rd, rh, rw] {
                return Err(TrainError::Invalid(format!(
                    "sliding window: the network mapped {} windows of {:?} to {:?}",
                    chunk.len(),
                    [rd, rh, rw],
                    logits.dims()
                )));
            }
            let probs = logits * importance.clone();
            let mut sum =
                acc.unwrap_or_else(|| Tensor::zeros([1, k, size[0], size[1], size[2]], &device));
            for (n, &[z, y, x]) in chunk.iter().enumerate() {
                let at = [0..1, 0..k, z..z + rd, y..y + rh, x..x + rw];
                let p = probs.clone().slice([n..n + 1, 0..k]);
                sum = sum.clone().slice_assign(at.clone(), sum.slice(at) + p);
                let at = [0..1, 0..1, z..z + rd, y..y + rh, x..x + rw];
                weight = weight
                    .clone()
                    .slice_assign(at.clone(), weight.slice(at) + importance.clone());
            }
            acc = Some(sum);
        }
        let probs = acc.expect("at least one window") / weight;
        let k = probs.dims()[1];
        Ok(probs.slice([
            0..1,
            0..k,
            lo[0]..lo[0] + d,
            lo[1]..lo[1] + h,
            lo[2]..lo[2] + w,
        ]))
    }
}

/// The label map `[1, 1, D', H', W']` on `target` of class probabilities `[1, K, D, H, W]` on
/// `grid`: the probabilities resampled linearly, then arg-max (as nnU-Net returns a
/// prediction to the input's grid).
pub(crate) fn labels_on_grid(
    probs: Tensor<5>,
    grid: medburn_core::Geometry,
    target: &medburn_core::Geometry,
) -> Result<Tensor<5, Int>> {
    let probs = medburn_core::MedImage::new(probs, grid)?;
    let back =
        medburn_spatial::resample(&probs, target, None, medburn_spatial::Interpolation::Linear)?;
    Ok(back.into_voxels().argmax(1))
}

/// A label map read back to the host as u8 class indices.
pub(crate) fn labels_to_host(labels: Tensor<5, Int>) -> Result<Vec<u8>> {
    Ok(labels
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map_err(|e| TrainError::Invalid(format!("{e:?}")))?
        .into_iter()
        .map(|v| v as u8)
        .collect())
}

/// First voxels of windows of size `roi` over `n` voxels with the given overlap: evenly
/// stepped, the last one flush with the end.
///
/// ```
/// assert_eq!(medburn_train::window_starts(10, 4, 0.5), vec![0, 2, 4, 6]);
/// assert_eq!(medburn_train::window_starts(3, 4, 0.5), vec![0]);
/// assert_eq!(medburn_train::window_starts(9, 4, 0.0), vec![0, 4, 5]);
/// ```
pub fn window_starts(n: usize, roi: usize, overlap: f64) -> Vec<usize> {
    if n <= roi {
        return vec![0];
    }
    let step = ((roi as f64 * (1.0 - overlap)).floor() as usize).max(1);
    let mut starts: Vec<usize> = (0..)
        .map(|k| k * step)
        .take_while(|&s| s + roi < n)
        .collect();
    starts.push(n - roi);
    starts
}

/// The blending weights of a window `[1, 1, d, h, w]`: a separable Gaussian centred on the
/// window, sigma `sigma_scale` times each side, scaled to a maximum of 1 and kept above 1e-3
/// so that corners still count where only one window reaches.
fn gaussian_importance(
    size: [usize; 3],
    sigma_scale: f64,
    device: &burn::tensor::Device,
) -> Tensor<5> {
    let axis = |n: usize| -> Vec<f64> {
        let sigma = (n as f64 * sigma_scale).max(1e-6);
        let c = (n as f64 - 1.0) / 2.0;
        (0..n)
            .map(|x| (-((x as f64 - c) / sigma).powi(2) / 2.0).exp())
            .collect()
    };
    let (gz, gy, gx) = (axis(size[0]), axis(size[1]), axis(size[2]));
    let mut v = Vec::with_capacity(size.iter().product());
    for z in &gz {
        for y in &gy {
            for x in &gx {
                v.push(z * y * x);
            }
        }
    }
    let max = v.iter().cloned().fold(0.0, f64::max).max(1e-12);
    let v: Vec<f32> = v.iter().map(|x| (x / max).max(1e-3) as f32).collect();
    Tensor::from_data(
        TensorData::new(v, [1, 1, size[0], size[1], size[2]]),
        device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    fn values(t: Tensor<5>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec().unwrap()
    }

    /// A voxel-wise "network" (outputs depend only on the voxel): blending must give back its
    /// outputs exactly, whatever the windows, padding and flips.
    #[test]
    fn a_voxelwise_network_is_reproduced_exactly() {
        let device = Device::flex();
        let image = Tensor::<5>::random([1, 2, 7, 9, 5], Distribution::Normal(0.0, 1.0), &device);
        let net = |x: Tensor<5>| {
            let a = x.clone().slice([0..x.dims()[0], 0..1]);
            let b = x.clone().slice([0..x.dims()[0], 1..2]);
            let n = x.dims()[0];
            Tensor::cat(vec![a.clone() * 2.0, b - a, x.slice([0..n, 0..1]) * 0.0], 1)
        };
        let want = values(net(image.clone()));
        for (roi, flip) in [([4, 4, 4], false), ([6, 3, 8], true), ([5, 9, 7], false)] {
            let sw = SlidingWindow {
                roi_size: roi,
                overlap: 0.25,
                sw_batch_size: 3,
                sigma_scale: 0.125,
                flip_tta: flip,
            };
            let got = values(sw.infer(image.clone(), net).unwrap());
            let err = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(err < 1e-5, "roi {roi:?} flip {flip}: {err}");
        }
    }

    #[test]
    fn bad_settings_and_networks_are_errors() {
        let device = Device::flex();
        let image = Tensor::<5>::zeros([1, 1, 4, 4, 4], &device);
        let mut sw = SlidingWindow::new([2, 2, 2]);
        sw.overlap = 1.0;
        assert!(sw.infer(image.clone(), |x| x).is_err());
        let sw = SlidingWindow::new([2, 2, 2]);
        let e = sw
            .infer(image, |x| x.slice([0..1, 0..1, 0..1, 0..1, 0..1]))
            .unwrap_err();
        assert!(e.to_string().contains("mapped"), "{e}");
    }
}
