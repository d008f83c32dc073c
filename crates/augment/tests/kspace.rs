//! MR artifacts through k-space against TorchIO's Ghosting and Spike and a NumPy motion
//! (tests/scripts/make_kspace_fixtures.py), on Flex and wgpu; draws and refusals.

mod common;

use burn::tensor::Device;
use common::*;
use medburn_augment::{
    Drawn, GhostingSample, MotionSample, Pipeline, PipelineParams, RandomGhosting, RandomMotion,
    RandomSpike, SpikeSample, Transform,
};
use medburn_core::Geometry;
use serde_json::Value;

fn fixture() -> Value {
    let dir = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    );
    let path = dir.join("../../tests/fixtures/torchio/kspace.json");
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn drawn(case: &Value) -> Drawn {
    match case["kind"].as_str().unwrap() {
        "ghosting" => Drawn::Ghosting(vec![Some(GhostingSample {
            num_ghosts: case["num_ghosts"].as_u64().unwrap() as usize,
            axis: case["axis"].as_u64().unwrap() as usize,
            intensity: case["intensity"].as_f64().unwrap(),
            restore: case["restore"].as_f64().unwrap(),
        })]),
        "spike" => Drawn::Spike(vec![Some(SpikeSample {
            positions: case["positions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let p = floats(p);
                    [p[0] as f64, p[1] as f64, p[2] as f64]
                })
                .collect(),
            intensity: case["intensity"].as_f64().unwrap(),
        })]),
        _ => {
            let t = floats(&case["translation_mm"]);
            Drawn::Motion(vec![Some(MotionSample {
                motions: vec![([0.0; 3], [t[0] as f64, t[1] as f64, t[2] as f64])],
                times: vec![case["time"].as_f64().unwrap()],
            })])
        }
    }
}

fn check_on(device: &Device, tol: f32) {
    let f = fixture();
    let input = floats(&f["input"]);
    let g = Geometry::unit([8, 7, 6]).unwrap();
    for case in f["cases"].as_array().unwrap() {
        let x = tensor(input.clone(), [1, 1, 6, 7, 8], device);
        let p = PipelineParams {
            batch: 1,
            size: [8, 7, 6],
            drawn: vec![drawn(case)],
        };
        let got = values(Pipeline::none().apply(&p, &g, x, None).unwrap().0);
        let want = floats(&case["output"]);
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let diff = max_abs_diff(&got, &want);
        assert!(
            diff < tol * scale,
            "{}: off by {diff} (largest value {scale})",
            case["kind"]
        );
        assert_ne!(got, input, "{} changed nothing", case["kind"]);
    }
}

#[test]
fn artifacts_match_torchio_and_numpy() {
    check_on(&Device::flex(), 1e-5);
}

#[test]
fn artifacts_on_wgpu_match_the_references() {
    if let Some(gpu) = medburn_core::wgpu_device_or_skip("kspace_artifacts_on_wgpu") {
        check_on(&gpu, 1e-4);
    }
}

#[test]
fn draws_stay_in_their_ranges_and_zero_strength_changes_nothing() {
    use rand::SeedableRng;
    let device = Device::flex();
    let g = Geometry::unit([8, 8, 8]).unwrap();
    let p = Pipeline::new(vec![
        Transform::Ghosting(RandomGhosting {
            prob: 1.0,
            axes: [false, true, false],
            ..Default::default()
        }),
        Transform::Spike(RandomSpike {
            prob: 1.0,
            num_spikes: 3,
            ..Default::default()
        }),
        Transform::Motion(RandomMotion {
            prob: 1.0,
            num_transforms: 3,
            ..Default::default()
        }),
    ]);
    let params = p
        .sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(2), &g, 4)
        .unwrap();
    let Drawn::Ghosting(gs) = &params.drawn[0] else {
        panic!()
    };
    assert!(gs.iter().flatten().all(|s| s.axis == 1
        && (4..=10).contains(&s.num_ghosts)
        && (0.5..=1.0).contains(&s.intensity)));
    let Drawn::Spike(ss) = &params.drawn[1] else {
        panic!()
    };
    assert!(ss
        .iter()
        .flatten()
        .all(|s| s.positions.len() == 3 && (1.0..=3.0).contains(&s.intensity)));
    let Drawn::Motion(ms) = &params.drawn[2] else {
        panic!()
    };
    assert!(ms
        .iter()
        .flatten()
        .all(|m| m.times.windows(2).all(|w| w[0] < w[1]) && m.motions.len() == 3));
    let x = smooth([4, 1, 8, 8, 8], &device);
    let (y, _) = p.apply(&params, &g, x.clone(), None).unwrap();
    assert!(values(y).iter().all(|v| v.is_finite()));

    // No strength: the spectrum goes back unchanged (to float round-off) or is not touched.
    let none = PipelineParams {
        batch: 1,
        size: [8, 8, 8],
        drawn: vec![
            Drawn::Ghosting(vec![Some(GhostingSample {
                num_ghosts: 2,
                axis: 0,
                intensity: 0.0,
                restore: 0.1,
            })]),
            Drawn::Motion(vec![Some(MotionSample {
                motions: vec![([0.0; 3], [0.0; 3])],
                times: vec![0.5],
            })]),
        ],
    };
    let x1 = smooth([1, 1, 8, 8, 8], &device);
    let y1 = values(
        Pipeline::none()
            .apply(&none, &g, x1.clone(), None)
            .unwrap()
            .0,
    );
    assert!(max_abs_diff(&y1, &values(x1.clone())) < 1e-5);
    // Bad params are errors.
    let bad = PipelineParams {
        batch: 1,
        size: [8, 8, 8],
        drawn: vec![Drawn::Spike(vec![Some(SpikeSample {
            positions: vec![[1.5, 0.0, 0.0]],
            intensity: 1.0,
        })])],
    };
    assert!(Pipeline::none().apply(&bad, &g, x1, None).is_err());
    assert!(RandomGhosting {
        num_ghosts: (0, 2),
        ..Default::default()
    }
    .validate()
    .is_err());
}
