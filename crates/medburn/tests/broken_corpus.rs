//! The broken-input corpus (tests/fixtures/broken/corpus, made by
//! tests/scripts/make_broken_corpus.py): every case through the `medburn` binary must exit with
//! its code, say one line on stderr holding its text, and leave no output behind; `predict`
//! with a NaN input or NaN weights likewise.

use std::path::PathBuf;
use std::process::Command;

fn corpus() -> PathBuf {
    // The package folder cargo gives the running test, not the one the binary was built in:
    // a shared target directory may hold a binary built in another checkout.
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../tests/fixtures/broken/corpus")
}

#[test]
fn every_broken_input_is_refused_with_one_line_and_no_output() {
    let text = std::fs::read_to_string(corpus().join("cases.json")).unwrap();
    let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 19, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let out = tempfile::tempdir().unwrap();
        let args: Vec<String> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap()
                    .replace("{corpus}", corpus().to_str().unwrap())
                    .replace("{out}", out.path().to_str().unwrap())
            })
            .collect();
        let o = Command::new(env!("CARGO_BIN_EXE_medburn"))
            .args(&args)
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        let want_code = case["exit"].as_i64().unwrap() as i32;
        let want_text = case["stderr"].as_str().unwrap();
        let mut problems = Vec::new();
        if o.status.code() != Some(want_code) {
            problems.push(format!("exit {:?}, want {want_code}", o.status.code()));
        }
        if !stderr.contains(want_text) {
            problems.push(format!("stderr lacks {want_text:?}"));
        }
        // clap's usage errors end with a hint line; medburn's own errors are one line.
        let lines = stderr
            .trim()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        if want_code == 1 && lines != 1 {
            problems.push(format!("{lines} lines on stderr"));
        }
        if let Some(output) = case["output"].as_str() {
            if out.path().join(output).exists() {
                problems.push(format!("{output} was written"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name}: {} -- {}",
                problems.join("; "),
                stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `predict` with a NaN voxel in its input, or with a checkpoint whose weights are NaN (a
/// diverged run's), is refused with one line and writes no output folder. The checkpoints are
/// made here (a small U-Net saved with medburn's own checkpoint writer), the input is the
/// corpus image with a NaN voxel.
#[test]
fn predict_refuses_nan_inputs_and_nan_weights() {
    use burn::module::{Module, ModuleMapper, Param};
    use burn::tensor::Tensor;
    use medburn_train::{build_unet, save_checkpoint, TaskKind, TrainConfig, TrainState};

    struct Poison;
    impl ModuleMapper for Poison {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t * f32::NAN)
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let mut config = TrainConfig::for_task(TaskKind::Segment);
    for s in [
        "model.channels=[4,8]",
        "model.strides=[2]",
        "data.patch.patch_size=[8,8,8]",
    ] {
        config.set(s).unwrap();
    }
    let device = burn::tensor::Device::flex();
    let net = build_unet(&config.model, 1, 2, &device).unwrap();
    let state = TrainState {
        step: 1,
        epoch: 0,
        seed: 0,
        task: TaskKind::Segment,
        in_channels: 1,
        num_classes: 2,
        channel_names: vec!["MR".into()],
        source_channels: vec![],
        label_names: Default::default(),
        target: None,
        best: None,
        best_metric: "mean_dice".into(),
    };
    let good = save_checkpoint(dir.path(), "good", &net, None, &state, &config).unwrap();
    let nan = save_checkpoint(
        dir.path(),
        "nan",
        &net.map(&mut Poison),
        None,
        &state,
        &config,
    )
    .unwrap();
    let clean = corpus().join("msd_nan_image/imagesTr/c0.nii.gz");
    let with_nan = corpus().join("msd_nan_image/imagesTr/c2.nii.gz");
    for (model, input, text) in [
        (&good, &with_nan, "NaN"),
        (&nan, &clean, "NaN or infinite values"),
    ] {
        let out = dir.path().join("pred");
        let o = Command::new(env!("CARGO_BIN_EXE_medburn"))
            .args(["predict", "--model"])
            .arg(model)
            .arg("--input")
            .arg(input)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(text), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(!out.exists(), "{} was left", out.display());
    }
    // The clean input with the good checkpoint predicts (the refusals above are the NaNs').
    let out = dir.path().join("pred");
    let o = Command::new(env!("CARGO_BIN_EXE_medburn"))
        .args(["predict", "--model"])
        .arg(&good)
        .arg("--input")
        .arg(&clean)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("c0_seg.nii.gz").is_file());
}
