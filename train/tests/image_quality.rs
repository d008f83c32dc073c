//! SSIM and PSNR against scikit-image's `structural_similarity` and `peak_signal_noise_ratio`
//! on every case of tests/fixtures/metrics/ssim.json (made by
//! tests/scripts/make_ssim_fixtures.py, float64 on float32 volumes), computed here in f32 on
//! Flex; the inputs they refuse; the SSIM gradient against finite differences.

use burn::tensor::{Device, Tensor, TensorData};
use medburn_train::losses::InputError;
use medburn_train::metrics::{psnr, ssim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

fn fixture_cases() -> Vec<Value> {
    let path = format!(
        "{}/../tests/fixtures/metrics/ssim.json",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

/// A JSON array of numbers, `null` as +infinity (the fixtures' infinite PSNR).
fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::INFINITY))
        .collect()
}

fn volume(case: &Value, key: &str, device: &Device) -> Tensor<5> {
    let shape: Vec<usize> = case["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let shape: [usize; 5] = shape.try_into().unwrap();
    let values: Vec<f32> = numbers(&case[key]).iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Seeded uniform values in `[low, high)`: the same volume on every run.
fn seeded(shape: [usize; 5], low: f32, high: f32, seed: u64, device: &Device) -> Tensor<5> {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.random_range(low..high))
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn values(t: Tensor<1>) -> Vec<f64> {
    t.into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

#[test]
fn ssim_and_psnr_match_skimage() {
    let device = Device::flex();
    let mut samples = 0;
    let mut infinite = 0;
    for case in fixture_cases() {
        let name = case["name"].as_str().unwrap();
        let range = case["data_range"].as_f64().unwrap();
        let x = volume(&case, "x", &device);
        let y = volume(&case, "y", &device);
        let n = x.dims()[0];

        let got = values(ssim(x.clone(), y.clone(), range).unwrap());
        let want = numbers(&case["ssim"]);
        assert_eq!((got.len(), want.len()), (n, n), "{name}");
        let mut worst_ssim = 0.0f64;
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let err = (g - w).abs();
            assert!(err <= 1e-4, "{name} sample {i}: SSIM {g} vs skimage {w}");
            worst_ssim = worst_ssim.max(err);
        }

        let got = values(psnr(x, y, range).unwrap());
        let want = numbers(&case["psnr"]);
        assert_eq!((got.len(), want.len()), (n, n), "{name}");
        let mut worst_psnr = 0.0f64;
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if w.is_infinite() {
                assert_eq!(
                    *g,
                    f64::INFINITY,
                    "{name} sample {i}: PSNR {g}, skimage inf"
                );
                infinite += 1;
                continue;
            }
            let rel = ((g - w) / w).abs();
            assert!(rel <= 1e-4, "{name} sample {i}: PSNR {g} vs skimage {w}");
            worst_psnr = worst_psnr.max(rel);
        }
        println!(
            "{name}: max |SSIM - skimage| {worst_ssim:.1e}, max PSNR relative error {worst_psnr:.1e}"
        );
        samples += n;
    }
    // Five cases, seven samples, one of them identical to its reference.
    assert_eq!((samples, infinite), (7, 1));
}

#[test]
fn identical_volumes_score_one_and_infinity() {
    let device = Device::flex();
    // Far from 0, with a large range: the mean shift keeps the f32 variances exact enough.
    let x = seeded([1, 2, 9, 8, 7], -1000.0, 3000.0, 1, &device);
    assert_eq!(
        values(ssim(x.clone(), x.clone(), 4000.0).unwrap()),
        vec![1.0]
    );
    assert_eq!(
        values(psnr(x.clone(), x, 4000.0).unwrap()),
        vec![f64::INFINITY]
    );
}

#[test]
fn bad_inputs_are_refused() {
    let device = Device::flex();
    let x = Tensor::<5>::ones([1, 1, 8, 8, 8], &device);
    let other = Tensor::<5>::ones([1, 1, 8, 8, 9], &device);
    for metric in [ssim, psnr] {
        assert!(matches!(
            metric(x.clone(), other.clone(), 1.0),
            Err(InputError::Shape(_))
        ));
        let two = Tensor::<5>::ones([1, 2, 8, 8, 8], &device);
        assert!(matches!(
            metric(x.clone(), two, 1.0),
            Err(InputError::Shape(_))
        ));
        let empty = Tensor::<5>::ones([0, 1, 8, 8, 8], &device);
        assert!(matches!(
            metric(empty.clone(), empty, 1.0),
            Err(InputError::Shape(_))
        ));
        for range in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = metric(x.clone(), x.clone(), range).unwrap_err();
            assert!(matches!(e, InputError::Option(_)), "{range}: {e}");
            assert!(e.to_string().contains("data_range"), "{e}");
        }
        assert!(metric(x.clone(), x.clone(), 1e-3).is_ok());
    }
    // SSIM's 7x7x7 window must fit along each axis; PSNR has no window.
    for axis in 2..5 {
        let mut dims = [1, 1, 7, 7, 7];
        dims[axis] = 6;
        let small = Tensor::<5>::ones(dims, &device);
        let e = ssim(small.clone(), small.clone(), 1.0).unwrap_err();
        assert!(matches!(e, InputError::Shape(_)), "{dims:?}: {e}");
        assert!(e.to_string().contains("at least 7"), "{e}");
        assert!(psnr(small.clone(), small, 1.0).is_ok());
    }
    let smallest = Tensor::<5>::ones([1, 1, 7, 7, 7], &device);
    assert!(ssim(smallest.clone(), smallest, 1.0).is_ok());
}

#[test]
fn ssim_gradient_matches_finite_differences() {
    let device = Device::flex();
    let shape = [1, 1, 8, 7, 9];
    let x = seeded(shape, 0.0, 1.0, 2, &device);
    let y = seeded(shape, 0.0, 1.0, 3, &device);
    let ad = device.clone().autodiff();
    let ya = Tensor::<5>::from_data(y.to_data(), &ad).require_grad();
    let xa = Tensor::<5>::from_data(x.to_data(), &ad);
    let s = ssim(xa, ya.clone(), 1.0).unwrap().sum();
    let grads = s.backward();
    let g: Vec<f32> = ya.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
    let y_host: Vec<f32> = y.into_data().try_to_vec().unwrap();
    let eps = 1e-2f32;
    // Voxels inside the crop, on its border, and outside it (the window still reaches them).
    for index in [
        0,
        3 * 63 + 3 * 9 + 4,
        2 * 63 + 5 * 9 + 1,
        4 * 63 + 6 * 9 + 8,
    ] {
        let at = |delta: f32| {
            let mut v = y_host.clone();
            v[index] += delta;
            let y = Tensor::<5>::from_data(TensorData::new(v, shape), &device);
            f64::from(ssim(x.clone(), y, 1.0).unwrap().into_scalar::<f32>())
        };
        let fd = (at(eps) - at(-eps)) / (2.0 * f64::from(eps));
        let got = f64::from(g[index]);
        assert!(
            (got - fd).abs() <= 2e-3 * fd.abs().max(1e-3) + 2e-5,
            "voxel {index}: gradient {got} vs finite difference {fd}"
        );
    }
}
