//! Image-only transforms on Flex against host computations of their formulas (MONAI, TorchIO,
//! nnU-Net), untouched samples kept bit for bit, labels never touched.

mod common;

use burn::tensor::{Device, Tensor};
use common::*;
use medburn_augment::{
    ClipPercentiles, Drawn, NoiseSample, Pipeline, PipelineParams, RandomAnisotropy,
    RandomBiasField, RandomBrightness, RandomContrast, RandomGamma, RandomGaussianBlur,
    RandomGaussianNoise, RandomHistogramShift, RandomLowResolution, RandomRicianNoise,
    RandomSharpen, RescaleIntensity, SharpenSample, Transform, ZNormalize, GAMMA_EPSILON,
};
use medburn_core::Geometry;
use medburn_ops::{gaussian_smooth_3d, Padding};

fn dev() -> Device {
    Device::flex()
}

const DIMS: [usize; 5] = [2, 2, 6, 7, 8];

fn params(drawn: Drawn) -> PipelineParams {
    PipelineParams {
        batch: DIMS[0],
        size: [DIMS[4], DIMS[3], DIMS[2]],
        drawn: vec![drawn],
    }
}

fn apply(drawn: Drawn, x: Tensor<5>) -> Vec<f32> {
    let g = Geometry::unit([DIMS[4], DIMS[3], DIMS[2]]).unwrap();
    values(
        Pipeline::none()
            .apply(&params(drawn), &g, x, None)
            .unwrap()
            .0,
    )
}

/// Voxels per sample.
const PER: usize = 2 * 6 * 7 * 8;

fn close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    let d = max_abs_diff(got, want);
    assert!(d <= tol, "{what}: off by {d}");
}

#[test]
fn gamma_contrast_brightness_follow_their_formulas_and_skip_undrawn_samples() {
    let x = image(1, DIMS, &dev());
    let xs = values(x.clone());
    // Gamma (MONAI): per sample over its channels.
    let got = apply(Drawn::Gamma(vec![Some(0.6), None]), x.clone());
    let s0 = &xs[..PER];
    let (min, max) = (
        s0.iter().cloned().fold(f32::MAX, f32::min),
        s0.iter().cloned().fold(f32::MIN, f32::max),
    );
    let want: Vec<f32> = s0
        .iter()
        .map(|v| {
            (((v - min) as f64 / ((max - min) as f64 + GAMMA_EPSILON)).powf(0.6)
                * (max - min) as f64
                + min as f64) as f32
        })
        .collect();
    close(&got[..PER], &want, 1e-5, "gamma");
    assert_eq!(&got[PER..], &xs[PER..], "an undrawn sample changed");

    // Contrast (nnU-Net): per sample and channel about the mean, range preserved.
    let got = apply(
        Drawn::Contrast {
            factors: vec![None, Some(1.5)],
            preserve_range: true,
        },
        x.clone(),
    );
    assert_eq!(&got[..PER], &xs[..PER]);
    for c in 0..2 {
        let ch = &xs[PER + c * PER / 2..PER + (c + 1) * PER / 2];
        let mean = ch.iter().sum::<f32>() / ch.len() as f32;
        let (lo, hi) = (
            ch.iter().cloned().fold(f32::MAX, f32::min),
            ch.iter().cloned().fold(f32::MIN, f32::max),
        );
        let want: Vec<f32> = ch
            .iter()
            .map(|v| ((v - mean) * 1.5 + mean).clamp(lo, hi))
            .collect();
        close(
            &got[PER + c * PER / 2..PER + (c + 1) * PER / 2],
            &want,
            1e-5,
            "contrast",
        );
    }
    let got = apply(Drawn::Brightness(vec![Some(0.8), Some(1.2)]), x);
    let want: Vec<f32> = xs
        .iter()
        .enumerate()
        .map(|(n, v)| v * if n < PER { 0.8 } else { 1.2 })
        .collect();
    close(&got, &want, 1e-6, "brightness");
}

#[test]
fn noise_is_the_drawn_stream() {
    let x = image(2, DIMS, &dev());
    let xs = values(x.clone());
    let s = NoiseSample {
        mean: 0.1,
        std: 0.3,
        seed: 77,
    };
    let got = apply(Drawn::GaussianNoise(vec![None, Some(s)]), x.clone());
    let n = s.values(PER).unwrap();
    let want: Vec<f32> = xs[PER..].iter().zip(&n).map(|(a, b)| a + b).collect();
    assert_eq!(&got[..PER], &xs[..PER]);
    close(&got[PER..], &want, 1e-6, "gaussian noise");
    // Rician: the stream's first PER values are the real part's noise, the next PER the imaginary.
    let got = apply(Drawn::RicianNoise(vec![Some(s), None]), x);
    let n = s.values(2 * PER).unwrap();
    let want: Vec<f32> = (0..PER)
        .map(|i| ((xs[i] + n[i]).powi(2) + n[PER + i].powi(2)).sqrt())
        .collect();
    close(&got[..PER], &want, 1e-5, "rician noise");
    // The std drawn is bounded by the config's.
    let cfg = RandomGaussianNoise {
        prob: 1.0,
        mean: 0.0,
        std: 0.2,
    };
    let p = Pipeline::new(vec![
        Transform::GaussianNoise(cfg),
        Transform::RicianNoise(RandomRicianNoise {
            prob: 1.0,
            ..Default::default()
        }),
    ]);
    let g = Geometry::unit([8, 7, 6]).unwrap();
    use rand::SeedableRng;
    let params = p
        .sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1), &g, 2)
        .unwrap();
    let Drawn::GaussianNoise(v) = &params.drawn[0] else {
        panic!()
    };
    assert!(v.iter().flatten().all(|s| s.std <= 0.2));
}

/// NumPy's default (linear) percentile.
fn percentile(v: &[f32], q: f64) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let pos = q / 100.0 * (s.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, (pos - pos.floor()) as f32);
    if i + 1 < s.len() {
        s[i] + (s[i + 1] - s[i]) * f
    } else {
        s[i]
    }
}

#[test]
fn normalizations_match_host_statistics() {
    let x = image(3, DIMS, &dev());
    let xs = values(x.clone());
    let on = vec![true, true];
    // Rescale by percentiles, clipped.
    let spec = RescaleIntensity {
        out_min: -1.0,
        out_max: 1.0,
        percentiles: (2.0, 97.0),
        clip: true,
    };
    let got = apply(
        Drawn::Rescale {
            spec,
            on: on.clone(),
        },
        x.clone(),
    );
    for s in 0..2 {
        let v = &xs[s * PER..(s + 1) * PER];
        let (lo, hi) = (percentile(v, 2.0), percentile(v, 97.0));
        let want: Vec<f32> = v
            .iter()
            .map(|a| ((a - lo) / (hi - lo) * 2.0 - 1.0).clamp(-1.0, 1.0))
            .collect();
        close(&got[s * PER..(s + 1) * PER], &want, 1e-5, "rescale");
    }
    // Clip to percentiles.
    let got = apply(
        Drawn::ClipPercentiles {
            spec: ClipPercentiles {
                lower: 10.0,
                upper: 60.0,
            },
            on: vec![false, true],
        },
        x.clone(),
    );
    assert_eq!(&got[..PER], &xs[..PER]);
    let v = &xs[PER..];
    let (lo, hi) = (percentile(v, 10.0), percentile(v, 60.0));
    let want: Vec<f32> = v.iter().map(|a| a.clamp(lo, hi)).collect();
    close(&got[PER..], &want, 1e-6, "clip");
    // Z-normalization inside the nonzero mask, per sample and channel.
    let masked = x.clone().mask_fill(x.clone().lower_elem(0.0), 0.0);
    let ms = values(masked.clone());
    let got = apply(
        Drawn::ZNormalize {
            spec: ZNormalize { nonzero: true },
            on,
        },
        masked,
    );
    for ch in 0..4 {
        let v = &ms[ch * PER / 2..(ch + 1) * PER / 2];
        let nz: Vec<f32> = v.iter().cloned().filter(|a| *a != 0.0).collect();
        let mean = nz.iter().sum::<f32>() / nz.len() as f32;
        let std = (nz.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / nz.len() as f32).sqrt();
        let want: Vec<f32> = v
            .iter()
            .map(|a| if *a == 0.0 { 0.0 } else { (a - mean) / std })
            .collect();
        close(
            &got[ch * PER / 2..(ch + 1) * PER / 2],
            &want,
            1e-4,
            "z-normalize",
        );
    }
}

#[test]
fn bias_field_is_the_exponential_of_the_drawn_polynomial() {
    let x = image(4, DIMS, &dev());
    let xs = values(x.clone());
    // Order 1: 1, z, y, x in the crate's monomial order (a over x, then b over y, then c over z).
    let coef = vec![0.1, 0.2, -0.3, 0.4];
    let got = apply(Drawn::BiasField(vec![Some(coef.clone()), None]), x);
    let [_, c, d, h, w] = DIMS;
    let u = |i: usize, n: usize| 2.0 * i as f64 / (n - 1) as f64 - 1.0;
    for ch in 0..c {
        for k in 0..d {
            for j in 0..h {
                for i in 0..w {
                    // (a, b, c) = (0,0,0), (0,0,1), (0,1,0), (1,0,0)
                    let f =
                        (coef[0] + coef[1] * u(k, d) + coef[2] * u(j, h) + coef[3] * u(i, w)).exp();
                    let n = ((ch * d + k) * h + j) * w + i;
                    let want = xs[n] as f64 * f;
                    assert!((got[n] as f64 - want).abs() < 1e-5, "bias field at {n}");
                }
            }
        }
    }
    assert_eq!(&got[PER..], &xs[PER..]);
}

#[test]
fn histogram_shift_is_the_drawn_piecewise_linear_map() {
    let x = image(5, DIMS, &dev());
    let xs = values(x.clone());
    let points = vec![0.0, 0.1, 0.7, 1.0];
    let got = apply(Drawn::HistogramShift(vec![None, Some(points.clone())]), x);
    let v = &xs[PER..];
    let (min, max) = (
        v.iter().cloned().fold(f32::MAX, f32::min),
        v.iter().cloned().fold(f32::MIN, f32::max),
    );
    let want: Vec<f32> = v
        .iter()
        .map(|a| {
            let u = ((a - min) / (max - min)) as f64;
            let k = ((u * 3.0).floor() as usize).min(2);
            let t = u * 3.0 - k as f64;
            ((points[k] + (points[k + 1] - points[k]) * t) * (max - min) as f64 + min as f64) as f32
        })
        .collect();
    close(&got[PER..], &want, 1e-5, "histogram shift");
    assert_eq!(&got[..PER], &xs[..PER]);
}

#[test]
fn blur_and_sharpen_use_widths_in_mm() {
    let device = dev();
    let x = smooth(DIMS, &device);
    let spacing = [2.0, 1.0, 0.5]; // (i, j, k)
    let g = Geometry::new(
        [8, 7, 6],
        [0.0; 3],
        spacing,
        medburn_core::Direction::identity(),
    )
    .unwrap();
    let run = |d: Drawn| {
        values(
            Pipeline::none()
                .apply(&params(d), &g, x.clone(), None)
                .unwrap()
                .0,
        )
    };
    let got = run(Drawn::GaussianBlur(vec![Some(1.0), None]));
    let x0 = x.clone().slice([0..1, 0..2, 0..6, 0..7, 0..8]);
    // Tensor order (D, H, W) = (k, j, i): 1 mm is 2, 1 and 0.5 voxels.
    let want = values(gaussian_smooth_3d(x0.clone(), [2.0, 1.0, 0.5], Padding::Border).unwrap());
    close(&got[..PER], &want, 1e-6, "blur");
    let s = SharpenSample {
        sigma1_mm: 1.0,
        sigma2_mm: 0.5,
        alpha: 12.0,
    };
    let got = run(Drawn::Sharpen(vec![Some(s), None]));
    let b1 = gaussian_smooth_3d(x0, [2.0, 1.0, 0.5], Padding::Border).unwrap();
    let b2 = gaussian_smooth_3d(b1.clone(), [1.0, 0.5, 0.25], Padding::Border).unwrap();
    let want = values(b1.clone() + (b1 - b2) * 12.0);
    close(&got[..PER], &want, 1e-4, "sharpen");
    assert_eq!(&got[PER..], &values(x)[PER..]);
}

#[test]
fn resolution_loss_changes_only_the_degraded_axis() {
    let device = dev();
    // Constant along k, varying along i and j: thick slices along k change nothing.
    let dims = [1, 1, 8, 6, 6];
    let mut v = Vec::new();
    for _k in 0..8 {
        for j in 0..6 {
            for i in 0..6 {
                v.push((i * 7 + j * 3) as f32);
            }
        }
    }
    let x = tensor(v, dims, &device);
    let g = Geometry::unit([6, 6, 8]).unwrap();
    let run = |z: [f64; 3], x: Tensor<5>| {
        let p = PipelineParams {
            batch: 1,
            size: [6, 6, 8],
            drawn: vec![Drawn::Resolution(vec![Some(z)])],
        };
        values(Pipeline::none().apply(&p, &g, x, None).unwrap().0)
    };
    assert_eq!(run([1.0, 1.0, 0.5], x.clone()), values(x.clone()));
    assert_ne!(run([0.5, 1.0, 1.0], x.clone()), values(x.clone()));
    // A zoom of 1 is the identity.
    assert_eq!(run([1.0; 3], x.clone()), values(x));
    // Draws: anisotropy picks one allowed axis; low resolution is isotropic.
    use rand::SeedableRng;
    let p = Pipeline::new(vec![
        Transform::Anisotropy(RandomAnisotropy {
            prob: 1.0,
            axes: [false, true, false],
            downsampling: (2.0, 4.0),
        }),
        Transform::LowResolution(RandomLowResolution {
            prob: 1.0,
            zoom: (0.5, 0.9),
        }),
    ]);
    let params = p
        .sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &g, 4)
        .unwrap();
    let Drawn::Resolution(a) = &params.drawn[0] else {
        panic!()
    };
    assert!(a
        .iter()
        .flatten()
        .all(|z| z[0] == 1.0 && z[2] == 1.0 && z[1] <= 0.5 && z[1] >= 0.25));
    let Drawn::Resolution(l) = &params.drawn[1] else {
        panic!()
    };
    assert!(l
        .iter()
        .flatten()
        .all(|z| z[0] == z[1] && z[1] == z[2] && z[0] >= 0.5 && z[0] <= 0.9));
}

#[test]
fn intensity_transforms_never_touch_labels() {
    let device = dev();
    let all = Pipeline::new(vec![
        Transform::Rescale(RescaleIntensity::default()),
        Transform::ZNormalize(ZNormalize::default()),
        Transform::ClipPercentiles(ClipPercentiles::default()),
        Transform::Gamma(RandomGamma {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::Contrast(RandomContrast {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::Brightness(RandomBrightness {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::GaussianNoise(RandomGaussianNoise {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::RicianNoise(RandomRicianNoise {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::GaussianBlur(RandomGaussianBlur {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::Sharpen(RandomSharpen {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::BiasField(RandomBiasField {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::HistogramShift(RandomHistogramShift {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::Anisotropy(RandomAnisotropy {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::LowResolution(RandomLowResolution {
            prob: 1.0,
            ..Default::default()
        }),
    ]);
    let x = image(6, [2, 1, 8, 8, 8], &device);
    let lab = labels([2, 1, 8, 8, 8], &device);
    let (y, l) = all.run(3, x.clone(), Some(lab.clone())).unwrap();
    assert_eq!(values(l.unwrap()), values(lab));
    let y = values(y);
    assert!(y.iter().all(|v| v.is_finite()));
    assert_ne!(y, values(x));
}
