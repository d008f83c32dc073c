//! Training through the `medburn` binary as a user runs it: a short main job whose Dice
//! improves and whose prediction lands on the input's grid as uint8; a short age regression
//! whose MAE falls below the mean predictor's and a sex classification, with their tables,
//! pictures and predictions; a short super-resolution run that beats trilinear upsampling and
//! predicts onto the fine grid a low-resolution file came from; a run of each task
//! (registration and super-resolution included) killed with SIGKILL
//! mid-epoch that resumes to the same weights as an uninterrupted run; bad manifests refused
//! with nothing written.

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
    let snapshots = match state.task {
        medburn_train::TaskKind::Segment => {
            let model = medburn_train::build_unet(
                &config.model,
                state.in_channels,
                state.num_classes,
                &device,
            )
            .unwrap();
            medburn_train::load_model(model, checkpoint)
                .unwrap()
                .collect(None, None, false)
        }
        medburn_train::TaskKind::Register => {
            let model =
                medburn_train::build_voxelmorph(&config.model, state.in_channels, &device).unwrap();
            medburn_train::load_model(model, checkpoint)
                .unwrap()
                .collect(None, None, false)
        }
        medburn_train::TaskKind::Autoencode => {
            let model = medburn_train::build_reconstruction_net(
                &config.model,
                state.in_channels,
                config.data.preprocess.size.unwrap(),
                &device,
            )
            .unwrap();
            medburn_train::load_model(model, checkpoint)
                .unwrap()
                .collect(None, None, false)
        }
        medburn_train::TaskKind::SuperResolve => {
            let model =
                medburn_train::build_superres(&config.model, state.in_channels, &device).unwrap();
            medburn_train::load_model(model, checkpoint)
                .unwrap()
                .collect(None, None, false)
        }
        _ => {
            let model = medburn_train::build_vector_net(
                &config.model,
                state.in_channels,
                state.num_classes,
                config.data.preprocess.size.unwrap(),
                &device,
            )
            .unwrap();
            medburn_train::load_model(model, checkpoint)
                .unwrap()
                .collect(None, None, false)
        }
    };
    snapshots
        .into_iter()
        .map(|t| (t.name.clone(), t.to_bytes().unwrap().to_vec()))
        .collect()
}

fn train_steps_logged(out: &Path) -> usize {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .map(|t| t.lines().filter(|l| l.contains("\"train\"")).count())
        .unwrap_or(0)
}

/// A whole-volume task on a small grid (16^3 voxels of 14 mm) with an eighth of a resnet10
/// (8 to 64 features, batch norm) and a 3^3 stem, on every channel; `extra` may change the
/// grid and network.
fn tiny_whole_volume(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--set",
        "data.preprocess.size=[16,16,16]",
        "--set",
        "data.preprocess.spacing=[14.0,14.0,14.0]",
        "--set",
        "data.patch.patch_size=[16,16,16]",
        "--set",
        "model.widen_factor=0.125",
        "--set",
        "model.conv1_t_size=3",
        "--set",
        "data.val_cases=2",
        "--set",
        "data.batch_size=2",
        "--set",
        "optim.steps_per_epoch=4",
        "--set",
        "optim.warmup_steps=2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Trains 12 steps uninterrupted, and again killed with SIGKILL after step 6 (the checkpoint
/// of step 4 written, epoch 2 half done), moved, resumed: both end with the same weights, and
/// the record holds one line per step.
fn check_kill_and_resume(data: &Path, task_args: &[String]) {
    let dir = tempfile::tempdir().unwrap();
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
        .args(task_args)
        .args(["--set", "validation.every=6"]);
        c
    };
    // Uninterrupted.
    let whole = dir.path().join("whole");
    let o = run(&whole).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Killed mid-epoch.
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
    // The run folder is moved before resuming: the run continues where it now is. A kill in
    // the middle of a checkpoint write leaves its temporary folder: the resumed run removes it.
    let moved = dir.path().join("moved");
    std::fs::rename(&killed, &moved).unwrap();
    let killed = moved;
    let stale = killed.join("checkpoints/.tmp-step-000005-4242");
    std::fs::create_dir_all(&stale).unwrap();
    let o = medburn()
        .args(["train", "--resume", killed.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!stale.exists());
    let a = weights(&whole.join("checkpoints/step-000012"));
    let b = weights(&killed.join("checkpoints/step-000012"));
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 5);
    for (name, bytes) in &a {
        assert!(b[name] == *bytes, "{name} differs after resume");
    }
    // The record was cut back to the checkpoint and redone: one line per step.
    assert_eq!(train_steps_logged(&killed), 12);
    // `best` is a model for prediction, not a point to resume from: refused, saying why.
    let o = medburn()
        .args(["train", "--resume"])
        .arg(killed.join("checkpoints/best"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no optimizer state"), "{err}");
}

#[test]
fn ctrl_c_writes_a_checkpoint_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 3, 24);
    let out = dir.path().join("run");
    let mut child = medburn()
        .args(["train", "--data", data.to_str().unwrap(), "--out"])
        .arg(&out)
        .args(["--steps", "100000", "--seed", "5"])
        .args(tiny(&["--set", "validation.every=100000"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while train_steps_logged(&out) < 3 {
        assert!(t.elapsed() < Duration::from_secs(300), "no steps");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{:?}: {stdout} {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("interrupted after step"), "{stdout}");
    // The checkpoint is the step the run stopped at, and the record ends there.
    let latest = std::fs::read_to_string(out.join("checkpoints/latest")).unwrap();
    let steps = train_steps_logged(&out);
    assert_eq!(latest.trim(), format!("step-{steps:06}"));
    let (state, _) =
        medburn_train::read_checkpoint(&out.join("checkpoints").join(latest.trim())).unwrap();
    assert_eq!(state.step as usize, steps);
}

#[test]
fn a_killed_segmentation_run_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 3, 24);
    check_kill_and_resume(&data, &tiny(&[]));
}

#[test]
fn a_killed_regression_run_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 6, 24);
    let mut args = vec!["--task".to_string(), "regress".into()];
    args.extend(tiny_whole_volume(&["--channels", "T1"]));
    check_kill_and_resume(&data, &args);
}

#[test]
fn a_killed_registration_run_resumes_to_the_same_weights() {
    // Subject-to-subject pairs drawn per step, the Dice term on the pairs' label maps, and the
    // whole-volume augmentation (each spatial transform moving both images of a pair): every
    // random choice must come back the same after the kill.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 6, 32);
    let args: Vec<String> = [
        "--task",
        "register",
        "--set",
        "data.preprocess.size=[32,32,32]",
        "--set",
        "data.patch.patch_size=[32,32,32]",
        "--set",
        "data.preprocess.spacing=[7.0,7.0,7.0]",
        "--set",
        "data.val_cases=2",
        "--set",
        "loss.dice_weight=0.5",
        "--set",
        "optim.steps_per_epoch=4",
        "--set",
        "optim.warmup_steps=2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    check_kill_and_resume(&data, &args);
}

#[test]
fn the_registration_network_and_defaults_through_the_binary() {
    // MONAI 1.6.1: sum(p.numel() for p in VoxelMorph().parameters()).
    let o = medburn()
        .args(["models", "summary", "voxelmorph", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["summary"]["total_params"], 244_323);
    assert_eq!(j["out_channels"], 3);
    // Two channels per image: the first convolution takes four.
    let o = medburn()
        .args(["models", "summary", "voxelmorph", "--in-channels", "2"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("[16, 4, 3, 3, 3]"), "{table}");
    // The task's defaults print and read back.
    let o = medburn()
        .args(["train", "--print-config", "--task", "register"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let c = medburn_train::TrainConfig::from_toml(&text).unwrap();
    assert_eq!(
        c,
        medburn_train::TrainConfig::for_task(medburn_train::TaskKind::Register)
    );
    assert!(
        text.contains("name = \"voxelmorph\"") && text.contains("pairs = \"subject_to_subject\"")
    );
}

/// A column of a CSV table by name.
fn csv_column(path: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let k = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(k).unwrap().to_string())
        .collect()
}

#[test]
fn age_regression_learns_and_predicts_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = medburn()
        .args(["synth", "--out", data.to_str().unwrap(), "--cases", "100"])
        .args(["--test-cases", "8", "--size", "32", "--seed", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(data.join("participants.csv").is_file());
    let out = dir.path().join("run");
    let o = medburn()
        .args(["train", "--task", "regress", "--target", "age", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        // All three channels (FLAIR shows the lesions and white matter that age changes): the
        // age signal a 32^3 grid at 7 mm and 80 training cases still carry.
        .args(["--steps", "600", "--seed", "1"])
        .args(tiny_whole_volume(&[
            "--set",
            "data.preprocess.size=[32,32,32]",
            "--set",
            "data.preprocess.spacing=[7.0,7.0,7.0]",
            "--set",
            "data.patch.patch_size=[32,32,32]",
            "--set",
            "data.val_cases=20",
            "--set",
            "data.batch_size=4",
            "--set",
            "optim.warmup_steps=20",
            "--set",
            "optim.steps_per_epoch=100",
            "--set",
            "validation.every=100",
        ]))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("held-out test: MAE"), "{stdout}");
    // The validation MAE falls, and ends below the mean predictor's on the same cases.
    let mae: Vec<f64> = csv_column(&out.join("validation.csv"), "mae")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    let baseline: f64 = csv_column(&out.join("validation.csv"), "baseline_mae")[0]
        .parse()
        .unwrap();
    let best = mae.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(
        best < mae[0] && best < 0.7 * baseline,
        "MAE {mae:?}, mean predictor {baseline}"
    );
    for f in [
        "validation_predictions.csv",
        "validation_scatter.png",
        "test_predictions.csv",
        "test_scatter.png",
        "test_metrics.json",
        "curves.png",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("test_metrics.json")).unwrap())
            .unwrap();
    assert_eq!(test["cases"].as_array().unwrap().len(), 8);
    assert!(test["metrics"]["baseline_mae"].as_f64().unwrap() > 0.0);
    // Prediction from the files alone: one row per input, ages in a plausible range.
    let pred = dir.path().join("pred");
    let o = medburn()
        .args(["predict", "--model"])
        .arg(out.join("checkpoints/best"))
        .arg("--input")
        .arg(data.join("imagesTs/case_100.nii.gz"))
        .arg(data.join("imagesTs/case_101.nii.gz"))
        .arg("--out")
        .arg(&pred)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ages = csv_column(&pred.join("predictions.csv"), "age");
    assert_eq!(ages.len(), 2);
    for a in ages {
        let a: f64 = a.parse().unwrap();
        assert!((0.0..150.0).contains(&a), "{a}");
    }
}

#[test]
fn sex_classification_writes_its_roc_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 8, 24);
    let out = dir.path().join("run");
    let o = medburn()
        .args(["train", "--task", "classify", "--target", "sex", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args(["--steps", "8", "--seed", "1"])
        .args(tiny_whole_volume(&[
            "--channels",
            "T1",
            "--set",
            "validation.every=4",
            // MONAI's Regressor as the classifier: a network with a fixed input shape.
            "--set",
            "model.name=regressor",
            "--set",
            "model.channels=[4,8]",
            "--set",
            "model.strides=[2,2]",
        ]))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let header = std::fs::read_to_string(out.join("validation.csv")).unwrap();
    assert!(
        header.starts_with("step,auc,accuracy,cross_entropy"),
        "{header}"
    );
    let table = std::fs::read_to_string(out.join("validation_predictions.csv")).unwrap();
    assert!(
        table.starts_with("case,sex,predicted_sex,p_F,p_M\n"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 3);
    assert!(out.join("validation_roc.png").is_file());
    let (state, _) = medburn_train::read_checkpoint(&out.join("checkpoints/best")).unwrap();
    assert_eq!(state.channel_names, ["T1"]);
    assert_eq!(state.num_classes, 2);
}

#[test]
fn bad_manifests_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 4, 16);
    let image = data.join("imagesTr/case_000.nii.gz");
    let try_train = |manifest: &str, extra: &[&str]| {
        let m = dir.path().join("cases.csv");
        std::fs::write(&m, manifest).unwrap();
        let out = dir.path().join("never");
        let task = if extra.contains(&"sex") {
            "classify"
        } else {
            "regress"
        };
        let o = medburn()
            .args(["train", "--task", task, "--data"])
            .arg(&m)
            .arg("--out")
            .arg(&out)
            .args(tiny_whole_volume(&[
                "--set",
                "data.val_cases=1",
                "--channels",
                "T1",
            ]))
            .args(extra)
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(
            !out.exists(),
            "{manifest}: a refused run left {}",
            out.display()
        );
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        e
    };
    let img = image.display();
    let e = try_train(&format!("image_T1,age\n{img},30\nmissing.nii.gz,40\n"), &[]);
    assert!(e.contains("missing.nii.gz") && e.contains("missing"), "{e}");
    let e = try_train(
        &format!("image_T1,age\n{img},30\n{img},old\n{img},50\n"),
        &[],
    );
    assert!(e.contains("\"old\" is not a number"), "{e}");
    let e = try_train(
        &format!("image_T1,age\n{img},30\n{img},40\n{img},50\n"),
        &["--target", "weight"],
    );
    assert!(e.contains("no value for \"weight\""), "{e}");
    let e = try_train(
        &format!("image_T1,sex,split\n{img},F,train\n{img},M,train\n{img},X,val\n"),
        &["--target", "sex"],
    );
    assert!(
        e.contains("\"X\" is not a known class") && e.contains("F, M"),
        "{e}"
    );
    let e = try_train(
        &format!("image_T1,age\n{img},30\n{img},40\n"),
        &["--channels", "PD"],
    );
    assert!(e.contains("PD"), "{e}");
}

#[test]
fn a_short_main_job_improves_and_predicts_on_the_input_grid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut c = medburn();
    c.args([
        "demo",
        "--out",
        out.to_str().unwrap(),
        "--cases",
        "4",
        "--size",
        "32",
    ])
    .args(["--steps", "400"])
    .args(tiny(&[
        "--set",
        "validation.every=20",
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
    // The headline: the test cases' Dice beside the voxel classifier's on the same cases.
    assert!(
        stdout.contains("test mean foreground Dice") && stdout.contains("voxel classifier"),
        "{stdout}"
    );
    let table = std::fs::read_to_string(out.join("test_dice.csv")).unwrap();
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2 * 5, "{table}");
    assert!(rows.iter().any(|r| r.contains(",voxel_classifier,")));
    for r in &rows {
        let mean: f64 = r.split(',').nth(2).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&mean), "{r}");
    }
    // Dice improves over training.
    let csv = std::fs::read_to_string(out.join("validation.csv")).unwrap();
    let dice: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(dice.len(), 20, "{csv}");
    // The first two validations against the last two (one validation case: single values are
    // noisy).
    let (early, late) = ((dice[0] + dice[1]) / 2.0, (dice[18] + dice[19]) / 2.0);
    assert!(late > early + 0.08, "Dice did not improve: {dice:?}");
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

/// The super-resolution task on a small grid (16^3 voxels of 14 mm), slices 4 times thicker,
/// a network of 4 features and one residual unit.
fn tiny_superres(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--task",
        "superres",
        "--factor",
        "1,1,4",
        "--set",
        "data.preprocess.size=[16,16,16]",
        "--set",
        "data.preprocess.spacing=[14.0,14.0,14.0]",
        "--set",
        "data.patch.patch_size=[16,16,16]",
        "--set",
        "data.val_cases=2",
        "--set",
        "model.features=4",
        "--set",
        "model.num_res_units=1",
        "--set",
        "optim.steps_per_epoch=4",
        "--set",
        "optim.warmup_steps=2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn a_killed_superres_run_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 6, 24);
    check_kill_and_resume(&data, &tiny_superres(&["--channels", "T1"]));
}

#[test]
fn super_resolution_learns_and_predicts_on_the_fine_grid() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = medburn()
        .args(["synth", "--out", data.to_str().unwrap(), "--cases", "10"])
        .args(["--test-cases", "2", "--size", "32", "--seed", "4"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("run");
    let o = medburn()
        .args(["train", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args(["--steps", "120", "--seed", "1", "--channels", "T1"])
        .args(tiny_superres(&[
            "--set",
            "data.preprocess.size=[32,32,32]",
            "--set",
            "data.preprocess.spacing=[7.0,7.0,7.0]",
            "--set",
            "data.patch.patch_size=[32,32,32]",
            "--set",
            "model.features=8",
            "--set",
            "optim.steps_per_epoch=20",
            "--set",
            "validation.every=20",
        ]))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("held-out test: PSNR"), "{stdout}");
    // The validation PSNR rises, and ends above trilinear upsampling's on the same cases.
    let column = |name: &str| -> Vec<f64> {
        csv_column(&out.join("validation.csv"), name)
            .iter()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let (psnr, trilinear) = (column("psnr"), column("trilinear_psnr"));
    let best = psnr.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        best > psnr[0] && best > trilinear[0],
        "PSNR {psnr:?}, trilinear {trilinear:?}"
    );
    for f in [
        "validation_superres.csv",
        "validation_superres.png",
        "test_superres.csv",
        "test_superres.png",
        "test_metrics.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // Prediction from a low-resolution file alone lands on the high-resolution grid it was
    // made from: an oblique, flipped grid of 32 x 32 x 32 voxels.
    let device = medburn_core::Device::flex();
    let (c, s) = (0.2f64.cos(), 0.2f64.sin());
    let high = t1_on_oblique_grid(
        &data.join("imagesTs/case_010.nii.gz"),
        [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, -1.0]],
        [10.0, -20.0, 30.0],
    );
    let low = medburn_spatial::simulate_low_resolution(&high, [1, 1, 4]).unwrap();
    let low_path = dir.path().join("low.nii.gz");
    medburn_io::write_image(&low, &low_path).unwrap();
    let pred = dir.path().join("pred");
    let o = medburn()
        .args(["predict", "--model"])
        .arg(out.join("checkpoints/best"))
        .arg("--input")
        .arg(&low_path)
        .arg("--out")
        .arg(&pred)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fine = medburn_io::read_image(&pred.join("low_superres.nii.gz"), &device).unwrap();
    let (a, b) = (fine.geometry(), high.geometry());
    assert_eq!(a.size(), b.size());
    for k in 0..3 {
        assert!(
            (a.origin()[k] - b.origin()[k]).abs() < 1e-4,
            "{:?} {:?}",
            a.origin(),
            b.origin()
        );
        assert!((a.spacing()[k] - b.spacing()[k]).abs() < 1e-5);
    }
    let (da, db) = (a.direction().row_major(), b.direction().row_major());
    assert!((0..9).all(|k| (da[k] - db[k]).abs() < 1e-5));
}

/// The autoencoding task on a small grid (16^3 voxels of 14 mm): two levels of 4 and 8
/// channels, one residual unit; `vae` switches to the VAE with 8 latents.
fn tiny_autoencode(vae: bool, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["--task", "autoencode"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if vae {
        args.extend(["--set", "model.name=vae", "--set", "model.latent_size=8"].map(String::from));
    }
    args.extend(
        [
            "--set",
            "data.preprocess.size=[16,16,16]",
            "--set",
            "data.preprocess.spacing=[14.0,14.0,14.0]",
            "--set",
            "data.patch.patch_size=[16,16,16]",
            "--set",
            "data.val_cases=2",
            "--set",
            "model.channels=[4,8]",
            "--set",
            "model.strides=[2,2]",
            "--set",
            "model.num_res_units=1",
            "--set",
            "optim.steps_per_epoch=4",
            "--set",
            "optim.warmup_steps=2",
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn a_killed_vae_run_resumes_to_the_same_weights() {
    // The VAE's latent noise comes from the step's RNG stream, so the resumed run draws it
    // again as the uninterrupted one did.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 6, 24);
    check_kill_and_resume(&data, &tiny_autoencode(true, &["--channels", "T1"]));
}

#[test]
fn autoencoders_learn_reconstruct_on_the_input_grid_and_sample() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = medburn()
        .args(["synth", "--out", data.to_str().unwrap(), "--cases", "10"])
        .args(["--test-cases", "2", "--size", "32", "--seed", "4"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let grid = [
        "--set",
        "data.preprocess.size=[32,32,32]",
        "--set",
        "data.preprocess.spacing=[7.0,7.0,7.0]",
        "--set",
        "data.patch.patch_size=[32,32,32]",
        "--set",
        "optim.steps_per_epoch=20",
        "--set",
        "validation.every=20",
    ];
    let train = |out: &Path, vae: bool, steps: &str, lr: &str| {
        let o = medburn()
            .args(["train", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(out)
            .args(["--steps", steps, "--seed", "1", "--channels", "T1"])
            .args(["--set", &format!("optim.lr={lr}")])
            .args(tiny_autoencode(vae, &grid))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            stdout.contains("held-out test: reconstruction PSNR"),
            "{stdout}"
        );
    };
    let ae = dir.path().join("ae");
    train(&ae, false, "100", "0.01");
    // The validation PSNR rises.
    let psnr: Vec<f64> = csv_column(&ae.join("validation.csv"), "psnr")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(psnr.last().unwrap() > &(psnr[0] + 1.0), "PSNR {psnr:?}");
    for f in [
        "validation_reconstructions.csv",
        "validation_reconstructions.png",
        "test_reconstructions.csv",
        "test_reconstructions.png",
        "test_metrics.json",
    ] {
        assert!(ae.join(f).is_file(), "{f}");
    }
    // A reconstruction lies on its input's grid (an oblique one here), in its units.
    let device = medburn_core::Device::flex();
    let (c, s) = (0.3f64.cos(), 0.3f64.sin());
    let input = t1_on_oblique_grid(
        &data.join("imagesTs/case_010.nii.gz"),
        [[c, 0.0, -s], [0.0, -1.0, 0.0], [s, 0.0, c]],
        [5.0, 40.0, -8.0],
    );
    let input_path = dir.path().join("head.nii.gz");
    medburn_io::write_image(&input, &input_path).unwrap();
    let predict = |model: &Path, out: &Path| {
        let o = medburn()
            .args(["predict", "--model"])
            .arg(model)
            .arg("--input")
            .arg(&input_path)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let pred = dir.path().join("pred_ae");
    predict(&ae.join("checkpoints/best"), &pred);
    let r = medburn_io::read_image(&pred.join("head_reconstruction.nii.gz"), &device).unwrap();
    let (a, b) = (r.geometry(), input.geometry());
    assert_eq!(a.size(), b.size());
    let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(x, y)| (x - y).abs() < 1e-5);
    assert!(
        close(&a.origin(), &b.origin()) && close(&a.spacing(), &b.spacing()),
        "{a:?} {b:?}"
    );
    assert!(
        close(&a.direction().row_major(), &b.direction().row_major()),
        "{a:?} {b:?}"
    );
    // In the input's units: the means agree within a fifth of the input's spread (the
    // normalization was undone), not within z-scores.
    let stats = |v: Vec<f32>| {
        let n = v.len() as f64;
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let s = (v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n).sqrt();
        (m, s)
    };
    let (mi, si) = stats(input.to_vec().unwrap());
    let (mr, _) = stats(r.to_vec().unwrap());
    assert!(
        si > 1.0 && (mi - mr).abs() < 0.2 * si,
        "input {mi} +- {si}, reconstruction {mr}"
    );
    assert!(!pred.join("latents.csv").exists());
    // Sampling needs a VAE.
    let o = medburn()
        .args(["sample", "--model"])
        .arg(&ae)
        .args(["--count", "2", "--out"])
        .arg(dir.path().join("no"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("variational"));
    assert!(!dir.path().join("no").exists());

    // The VAE: latent codes from predict, decoded samples on the training grid.
    let vae = dir.path().join("vae");
    train(&vae, true, "40", "0.002");
    let pred = dir.path().join("pred_vae");
    predict(&vae, &pred);
    let latents = std::fs::read_to_string(pred.join("latents.csv")).unwrap();
    let lines: Vec<&str> = latents.lines().collect();
    assert_eq!(lines.len(), 2, "{latents}");
    assert_eq!(lines[0].split(',').count(), 9, "{latents}");
    assert!(lines[1].starts_with("head,"));
    assert!(lines[1]
        .split(',')
        .skip(1)
        .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite)));
    let samples = dir.path().join("samples");
    let o = medburn()
        .args(["sample", "--model"])
        .arg(&vae)
        .args(["--count", "3", "--seed", "2", "--out"])
        .arg(&samples)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(samples.join("samples.png").is_file());
    let mut first = Vec::new();
    for n in 0..3 {
        let s = medburn_io::read_image(&samples.join(format!("sample_{n:03}.nii.gz")), &device)
            .unwrap();
        let g = s.geometry();
        assert_eq!(g.size(), [32, 32, 32]);
        assert_eq!(g.spacing(), [7.0, 7.0, 7.0]);
        assert!(
            g.centre().iter().all(|c| c.abs() < 1e-6),
            "{:?}",
            g.centre()
        );
        let v = s.to_vec().unwrap();
        assert!(v.iter().all(|x| x.is_finite()));
        if n == 0 {
            first = v;
        } else {
            // Different draws decode to different volumes.
            assert_ne!(v, first);
        }
    }
}

#[test]
fn the_voxel_classifier_scores_the_test_cases_on_their_own_grids() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = medburn()
        .args(["synth", "--out", data.to_str().unwrap(), "--cases", "4"])
        .args(["--test-cases", "2", "--size", "24", "--seed", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = medburn()
        .args([
            "baseline",
            "--data",
            data.to_str().unwrap(),
            "--detect",
            "4",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "{json}");
    let mean = json["mean_dice"].as_f64().unwrap();
    // Realistic contrasts: intensity goes a long way even at 9 mm voxels.
    assert!(mean > 0.3 && mean <= 1.0, "{json}");
    assert_eq!(json["labels"].as_array().unwrap().len(), 4, "{json}");
    assert!(json["detections"]["true"].as_u64().is_some(), "{json}");
    // A data set whose test cases have no label maps is refused, naming it.
    std::fs::remove_dir_all(data.join("labelsTs")).unwrap();
    let o = medburn()
        .args(["baseline", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no test case has a label map"));
}

/// The first channel (T1) of a synthetic case's voxels on another grid: the same size and
/// spacing, the given direction rows and origin (an oblique, flipped grid for geometry tests).
fn t1_on_oblique_grid(
    path: &Path,
    direction: [[f64; 3]; 3],
    origin: [f64; 3],
) -> medburn_core::MedImage {
    let source = medburn_io::read_image(path, &medburn_core::Device::flex()).unwrap();
    let t1 = source.voxels().clone().narrow(1, 0, 1);
    let g = source.geometry();
    let direction = medburn_core::Direction::from_rows(direction);
    let grid = medburn_core::Geometry::new(g.size(), origin, g.spacing(), direction).unwrap();
    medburn_core::MedImage::new(t1, grid).unwrap()
}
