//! `medburn data check` on the layout fixtures (tests/fixtures/layouts, made by
//! tests/scripts/make_layout_fixtures.py): clean data sets exit 0 with their cases, grids and
//! labels listed; broken ones exit 1 naming each problem's file, as text and as JSON. And two
//! training steps on the nnU-Net raw layout, found by its file names alone.

use std::path::PathBuf;
use std::process::{Command, Output};

fn medburn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medburn"))
        .args(args)
        .output()
        .expect("run medburn")
}

fn layout(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/layouts")
        .join(name)
        .display()
        .to_string()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_clean_data_set_is_listed_and_exits_0() {
    let o = medburn(&["data", "check", &layout("nnunet")]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains(
            "4 cases (3 training, 1 test); channels T1, FLAIR; labels 0 background, 1 lesion"
        ),
        "{out}"
    );
    for row in ["brain_001", "brain_004  test"] {
        assert!(out.contains(row), "{row:?} not in {out}");
    }
    assert!(
        out.contains("8x8x8") && out.contains("1x1x1") && out.contains("LPS"),
        "{out}"
    );
    assert!(
        out.contains("label values found: 0, 1 (declared: 0 background, 1 lesion)"),
        "{out}"
    );
    assert!(
        out.contains("clean: 4 cases, 12 files read, no problem"),
        "{out}"
    );

    let o = medburn(&["data", "check", "--json", &layout("nnunet")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["clean"], true);
    assert_eq!(j["problem_count"], 0);
    assert_eq!(j["channel_names"], serde_json::json!(["T1", "FLAIR"]));
    assert_eq!(j["found_labels"], serde_json::json!([0, 1]));
    assert_eq!(j["declared_labels"]["1"], "lesion");
    let cases = j["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    assert_eq!(cases[3]["split"], "test");
    let grid = &cases[0]["images"][1]["grid"];
    assert_eq!(grid["size"], serde_json::json!([8, 8, 8]));
    assert_eq!(grid["origin"], serde_json::json!([10.0, -20.0, 5.0]));
    assert_eq!(grid["orientation"], "LPS");
    assert!(cases[0]["label"]["path"]
        .as_str()
        .unwrap()
        .ends_with("labelsTr/brain_001.nii.gz"));

    // Channels on other grids are problems, or notes when they will be resampled.
    for name in ["bids", "dicom_series"] {
        let o = medburn(&["data", "check", &layout(name)]);
        let (out, _) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(out.contains("is on a different grid than"), "{out}");
        let o = medburn(&["data", "check", "--resample-channels", &layout(name)]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
        assert!(
            out.contains("resampled onto it (linear)") && out.contains("clean:"),
            "{out}"
        );
    }
    // BIDS channels chosen by the caller.
    let o = medburn(&[
        "data",
        "check",
        "--json",
        "--channels",
        "T1w,T2w",
        &layout("bids"),
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["problems"][0]
        .as_str()
        .unwrap()
        .contains("no sub-02_ses-1_T2w.nii[.gz]"));
}

#[test]
fn a_broken_data_set_names_each_problem_and_exits_1() {
    let o = medburn(&["data", "check", &layout("nnunet_bad_labels")]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    for line in [
        "problem: case brain_001: label map",
        "labelsTr/brain_001.nii.gz holds value(s) 3 not among the declared labels (0 background, 1 lesion)",
        "imagesTr/brain_001_0001.nii.gz: 1 voxel(s) are NaN or infinite",
        "labelsTr/brain_002.nii.gz is empty",
        "imagesTr/brain_003_0001.nii.gz (size 4x4x4, spacing 2x2x2 mm",
        "label values found: 0, 1, 3",
        "4 problem(s) in 3 cases (9 files read)",
    ] {
        assert!(out.contains(line), "{line:?} not in {out}");
    }
    assert!(err.contains("4 problem(s) in the data set"), "{err}");
    let o = medburn(&["data", "check", "--json", &layout("nnunet_bad_labels")]);
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (j["clean"].clone(), j["problem_count"].clone()),
        (false.into(), 4.into())
    );
    assert_eq!(j["cases"][0]["label_values"], serde_json::json!([0, 1, 3]));
    assert_eq!(j["cases"][0]["images"][1]["non_finite"], 1);

    // A layout that cannot be read: the manifest's error is the problem.
    for (name, part) in [
        (
            "nnunet_missing_channel",
            "imagesTr/brain_002_0001.nii.gz: missing: channel 1 (FLAIR)",
        ),
        (
            "nnunet_num_training",
            "numTraining is 3 but imagesTr holds 2 case(s)",
        ),
        ("bids_no_shared_suffix", "sub-03 has T2w"),
    ] {
        let o = medburn(&["data", "check", &layout(name)]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
        assert!(out.contains(part), "{part:?} not in {out}");
        assert!(err.contains("the data set cannot be read"), "{err}");
        let o = medburn(&["data", "check", "--json", &layout(name)]);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(j["problems"][0].as_str().unwrap().contains(part), "{j}");
    }
}

#[test]
fn training_runs_on_an_nnunet_raw_folder() {
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_medburn"))
        .env("RAYON_NUM_THREADS", "2")
        .args(["train", "--data", &layout("nnunet"), "--out"])
        .arg(&run)
        .args(["--steps", "2", "--seed", "1"])
        .args([
            "--set",
            "data.patch.patch_size=[8,8,8]",
            "--set",
            "data.preprocess.spacing=[1.0,1.0,1.0]",
            "--set",
            "data.val_cases=1",
            "--set",
            "model.channels=[4,8,16]",
            "--set",
            "model.strides=[2,2]",
            "--set",
            "model.num_res_units=1",
            "--set",
            "optim.steps_per_epoch=2",
            "--set",
            "optim.warmup_steps=1",
            "--set",
            "validation.sw_batch_size=8",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let steps = metrics.lines().filter(|l| l.contains("\"train\"")).count();
    assert_eq!(steps, 2, "{metrics}");
    // Two channels in (T1, FLAIR), two classes out (background, lesion).
    let (state, _) = medburn_train::read_checkpoint(&run.join("checkpoints/best")).unwrap();
    assert_eq!((state.in_channels, state.num_classes), (2, 2));
    // The test case takes its label map from labelsTs/ and is scored.
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test_metrics.json")).unwrap())
            .unwrap();
    assert_eq!(test["cases"], serde_json::json!(["brain_004"]));
    assert!(test["metrics"]["mean_dice"].is_number(), "{test}");
}
