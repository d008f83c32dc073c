//! Training through the `medburn` binary as a user runs it: a short main job whose Dice
//! improves and whose prediction lands on the input's grid as uint8, and a run killed with
//! SIGKILL mid-epoch that resumes to the same weights as an uninterrupted run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use burn::store::ModuleSnapshot;

fn medburn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_medburn"));
    // One thread: every float sum in the same order, so two runs agree bit for bit.
    c.env("RAYON_NUM_THREADS", "1");
    c
}

/// A tiny configuration: 16^3 patches, a 3-level U-Net, checkpoints every 4 steps.
fn tiny(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--set",
        "data.patch.patch_size=[16,16,16]",
        "--set",
        "data.preprocess.spacing=[6.0,6.0,6.0]",
        "--set",
        "data.val_cases=1",
        "--set",
        "model.channels=[4,8,16]",
        "--set",
        "model.strides=[2,2]",
        "--set",
        "model.num_res_units=1",
        "--set",
        "optim.steps_per_epoch=4",
        "--set",
        "optim.warmup_steps=2",
        "--set",
        "validation.sw_batch_size=8",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn synth(dir: &Path, cases: usize, size: usize) {
    let o = medburn()
        .args([
            "synth",
            "--out",
            dir.to_str().unwrap(),
            "--cases",
            &cases.to_string(),
        ])
        .args(["--size", &size.to_string(), "--seed", "3"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Every weight of the checkpoint's model, by name, as bytes.
fn weights(checkpoint: &Path) -> BTreeMap<String, Vec<u8>> {
    let (state, config) = medburn_train::read_checkpoint(checkpoint).unwrap();
    let device = burn::tensor::Device::flex();
    let model =
        medburn_train::build_unet(&config.model, state.in_channels, state.num_classes, &device)
            .unwrap();
    let model = medburn_train::load_model(model, checkpoint).unwrap();
    model
        .collect(None, None, false)
        .into_iter()
        .map(|t| (t.name.clone(), t.to_bytes().unwrap().to_vec()))
        .collect()
}

fn train_steps_logged(out: &Path) -> usize {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .map(|t| t.lines().filter(|l| l.contains("\"train\"")).count())
        .unwrap_or(0)
}

#[test]
fn a_killed_run_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 3, 24);
    let run = |out: &PathBuf| {
        let mut c = medburn();
        c.args([
            "train",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--steps", "12", "--seed", "5"])
        .args(tiny(&["--set", "validation.every=6"]));
        c
    };
    // Uninterrupted.
    let whole = dir.path().join("whole");
    let o = run(&whole).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Killed mid-epoch (after step 6: the checkpoint of step 4 exists, epoch 2 half done).
    let killed = dir.path().join("killed");
    let mut child = run(&killed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while train_steps_logged(&killed) < 6 {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the run did not reach step 6"
        );
        if child.try_wait().unwrap().is_some() {
            panic!("the run ended before it could be killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let latest = std::fs::read_to_string(killed.join("checkpoints/latest")).unwrap();
    assert!(
        latest.trim() == "step-000004" || latest.trim() == "step-000008",
        "{latest}"
    );
    // The run folder is moved before resuming: the run continues where it now is.
    let moved = dir.path().join("moved");
    std::fs::rename(&killed, &moved).unwrap();
    let killed = moved;
    let o = medburn()
        .args(["train", "--resume", killed.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = weights(&whole.join("checkpoints/step-000012"));
    let b = weights(&killed.join("checkpoints/step-000012"));
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 10);
    for (name, bytes) in &a {
        assert!(b[name] == *bytes, "{name} differs after resume");
    }
    // The record was cut back to the checkpoint and redone: one line per step.
    assert_eq!(train_steps_logged(&killed), 12);
}

#[test]
fn a_short_main_job_improves_and_predicts_on_the_input_grid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut c = Command::new(env!("CARGO_BIN_EXE_medburn"));
    c.args([
        "demo",
        "--out",
        out.to_str().unwrap(),
        "--cases",
        "4",
        "--size",
        "32",
    ])
    .args(["--steps", "300"])
    .args(tiny(&[
        "--set",
        "validation.every=50",
        "--set",
        "optim.lr=0.01",
    ]));
    let o = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("held-out mean foreground Dice"), "{stdout}");
    // Dice improves over training.
    let csv = std::fs::read_to_string(out.join("validation.csv")).unwrap();
    let dice: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(dice.len(), 6, "{csv}");
    assert!(dice[5] > dice[0] + 0.1, "Dice did not improve: {dice:?}");
    // Files a person looks at.
    for f in [
        "curves.png",
        "metrics.jsonl",
        "train_log.csv",
        "predictions/volumes.csv",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(std::fs::read_dir(out.join("overlays")).unwrap().count() >= 1);
    // The prediction: uint8, on the test image's grid.
    let pred = std::fs::read_dir(out.join("predictions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("_seg.nii.gz"))
        .unwrap();
    let p = medburn_io::read(&pred).unwrap();
    let name = pred
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace("_seg", "");
    let input = medburn_io::read(&out.join("data/imagesTs").join(name)).unwrap();
    assert_eq!(p.data.voxel_type(), medburn_io::VoxelType::U8);
    assert!(medburn_datasets::same_grid(&p.geometry, &input.geometry));
}

#[test]
fn bad_training_arguments_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = medburn()
        .args([
            "train",
            "--data",
            dir.path().to_str().unwrap(),
            "--set",
            "optim.nope=1",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("optim.nope"), "{e}");
    let o = medburn()
        .args(["train", "--data", dir.path().to_str().unwrap(), "--out"])
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("dataset.json"), "{e}");
    let o = medburn()
        .args([
            "predict",
            "--model",
            dir.path().to_str().unwrap(),
            "--input",
            "x.nii",
            "--out",
        ])
        .arg(dir.path().join("p"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no checkpoint"));
}
