//! The `medburn` binary as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn medburn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medburn"))
        .args(args)
        .output()
        .expect("run medburn")
}

/// The repository's `tests/fixtures`, from the package folder cargo gives the running test.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../tests/fixtures")
}

fn fixture(rel: &str) -> String {
    fixtures_dir().join("data").join(rel).display().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn info_json_reports_simpleitk_geometry() {
    // SimpleITK 2.5 on anatomical.nii: origin (-32, 40, -16), direction diag(1, -1, 1).
    let o = medburn(&["info", "--json", &fixture("nibabel/anatomical.nii")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["size"], serde_json::json!([33, 41, 25]));
    assert_eq!(j["spacing"], serde_json::json!([2.0, 2.0, 2.0]));
    assert_eq!(j["origin"], serde_json::json!([-32.0, 40.0, -16.0]));
    assert_eq!(
        j["direction"],
        serde_json::json!([1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0])
    );
    assert_eq!(j["orientation"], "LAS");
    assert_eq!(j["dtype"], "int16");
    let text = medburn(&["info", &fixture("nibabel/anatomical.nii")]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("orientation  LAS"));
}

#[test]
fn info_lists_the_series_of_a_dicom_folder() {
    let o = medburn(&[
        "info",
        "--json",
        &fixture("pydicom/dicomdirtests/98892003/MR1"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["series"].as_array().unwrap().len(), 3);
    assert_eq!(j["modality"], "MR");
}

#[test]
fn convert_then_info_keeps_geometry_and_values() {
    let dir = tempfile::tempdir().unwrap();
    for out in ["ct.nii.gz", "ct.h5", "ct.nii"] {
        let out = dir.path().join(out).display().to_string();
        let o = medburn(&[
            "convert",
            &fixture("pydicom/dicomdirtests/98892001/CT5N"),
            &out,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let j: serde_json::Value =
            serde_json::from_slice(&medburn(&["info", "--json", &out]).stdout).unwrap();
        assert_eq!(j["size"], serde_json::json!([16, 16, 5]));
        // CT values after RescaleIntercept fit int16 exactly.
        assert_eq!(j["dtype"], "int16");
        let spacing: Vec<f64> = j["spacing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!((spacing[2] - 2.5).abs() < 1e-4, "{spacing:?}");
    }
}

#[test]
fn bad_input_fails_with_one_line_and_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.nii");
    std::fs::write(&bad, vec![7u8; 400]).unwrap();
    let out = dir.path().join("out.nii.gz");
    let o = medburn(&["convert", bad.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.nii") && err.contains("not a NIfTI file"),
        "{err}"
    );
    assert!(!err.contains("panicked") && !err.contains("backtrace"));
    // Values that do not fit the asked type: refused, nothing written.
    let o = medburn(&[
        "convert",
        &fixture("nibabel/anatomical.nii"),
        out.to_str().unwrap(),
        "--dtype",
        "uint8",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot be stored exactly"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only bad.nii remains"
    );
    // Missing file, unknown output extension.
    let o = medburn(&["info", "/no/such/file.nii"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("medburn: /no/such/file.nii:"));
    let o = medburn(&[
        "convert",
        &fixture("nibabel/anatomical.nii"),
        dir.path().join("x.png").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown format"));
}

#[test]
fn io_demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let o = medburn(&[
        "io-demo",
        "--size",
        "24",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("medburn io-demo: OK"), "{out}");
    assert!(dir.path().join("phantom.nii.gz").exists());
    assert!(dir.path().join("phantom.h5").exists());
}

fn spatial(rel: &str) -> String {
    fixtures_dir()
        .join("spatial")
        .join(rel)
        .display()
        .to_string()
}

fn voxels(path: &str) -> (Vec<f32>, medburn_core::Geometry) {
    let img = medburn_io::read_image(path.as_ref(), &medburn_core::Device::flex()).unwrap();
    (img.to_vec().unwrap(), *img.geometry())
}

#[test]
fn transform_commands_match_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).display().to_string();
    let input = spatial("oblique.nii.gz");
    let (iv, _) = voxels(&input);
    let range =
        iv.iter().cloned().fold(f32::MIN, f32::max) - iv.iter().cloned().fold(f32::MAX, f32::min);
    // (command, SimpleITK's output, exact?)
    let runs: Vec<(Vec<String>, &str, bool)> = vec![
        (
            vec![
                "rotate".into(),
                input.clone(),
                out("r.nii.gz"),
                "--axis".into(),
                "1,1,0.5".into(),
                "--angle".into(),
                "40".into(),
            ],
            "oblique_rotate_vec_linear.nii.gz",
            false,
        ),
        (
            vec![
                "rotate".into(),
                input.clone(),
                out("rz.nii.gz"),
                "--axis".into(),
                "z".into(),
                "--angle".into(),
                "15".into(),
                "--interp".into(),
                "bspline".into(),
            ],
            "oblique_rotate_z_bspline.nii.gz",
            false,
        ),
        (
            vec![
                "resample".into(),
                input.clone(),
                out("s.nii.gz"),
                "--spacing".into(),
                "0.7,1.3,1.6".into(),
                "--interp".into(),
                "bspline".into(),
            ],
            "oblique_spacing_bspline.nii.gz",
            false,
        ),
        (
            vec![
                "resample".into(),
                input.clone(),
                out("l.nii.gz"),
                "--like".into(),
                spatial("oblique_fixed_grid.nii.gz"),
            ],
            "oblique_like_linear.nii.gz",
            false,
        ),
        (
            vec![
                "scale".into(),
                input.clone(),
                out("sc.nii.gz"),
                "--factor".into(),
                "1.3".into(),
            ],
            "oblique_scale.nii.gz",
            false,
        ),
        (
            vec![
                "translate".into(),
                input.clone(),
                out("t.nii.gz"),
                "--offset".into(),
                "5.5,-3.2,7.1".into(),
                "--resample".into(),
            ],
            "oblique_translate.nii.gz",
            false,
        ),
        (
            vec![
                "reorient".into(),
                input.clone(),
                out("o.nii.gz"),
                "--to".into(),
                "PIR".into(),
            ],
            "oblique_orient_PIR.nii.gz",
            true,
        ),
        (
            vec![
                "crop".into(),
                input.clone(),
                out("c.nii.gz"),
                "--start".into(),
                "2,3,1".into(),
                "--size".into(),
                "10,9,7".into(),
            ],
            "oblique_crop.nii.gz",
            true,
        ),
        (
            vec![
                "pad".into(),
                input.clone(),
                out("p.nii.gz"),
                "--before".into(),
                "0,2,2".into(),
                "--after".into(),
                "3,1,0".into(),
                "--mode".into(),
                "edge".into(),
            ],
            "oblique_pad_edge.nii.gz",
            true,
        ),
        (
            vec![
                "pad".into(),
                input.clone(),
                out("pc.nii.gz"),
                "--before".into(),
                "2,0,1".into(),
                "--after".into(),
                "1,3,0".into(),
                "--value".into(),
                "-5".into(),
            ],
            "oblique_pad_constant.nii.gz",
            true,
        ),
    ];
    for (args, reference, exact) in runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = medburn(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let (got, g) = voxels(args[2]);
        let (want, wg) = voxels(&spatial(reference));
        assert_eq!(g.size(), wg.size(), "{reference}");
        for (a, b) in g.origin().iter().zip(wg.origin()) {
            assert!(
                (a - b).abs() < 1e-4,
                "{reference}: origin {:?} vs {:?}",
                g.origin(),
                wg.origin()
            );
        }
        if exact {
            assert_eq!(got, want, "{reference}");
        } else {
            let err = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max)
                / range;
            assert!(err < 1e-4, "{reference}: {err:.2e} of the range");
        }
    }
    // Moving the origin is exact and changes nothing else.
    let o = medburn(&["translate", &input, &out("m.nii.gz"), "--offset", "1,-2,3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (moved, mg) = voxels(&out("m.nii.gz"));
    let (orig, og) = voxels(&input);
    assert_eq!(moved, orig);
    let shifted = [
        og.origin()[0] + 1.0,
        og.origin()[1] - 2.0,
        og.origin()[2] + 3.0,
    ];
    assert!(mg
        .origin()
        .iter()
        .zip(shifted)
        .all(|(a, b)| (a - b).abs() < 1e-4));
}

#[test]
fn label_maps_stay_integer_labels() {
    let dir = tempfile::tempdir().unwrap();
    // A label map: anatomical.nii's intensities binned into 0, 1, 2 by a conversion to uint8.
    let labels = dir.path().join("labels.nii.gz").display().to_string();
    let (v, g) = voxels(&fixture("nibabel/anatomical.nii"));
    let max = v.iter().cloned().fold(f32::MIN, f32::max);
    let binned: Vec<f32> = v
        .iter()
        .map(|x| (x.max(0.0) / max * 2.99).floor())
        .collect();
    let img =
        medburn_core::MedImage::from_vec(binned, 1, g, &medburn_core::Device::flex()).unwrap();
    let vol = medburn_io::Volume::from_image(&img).unwrap();
    let options = medburn_io::WriteOptions {
        dtype: Some(medburn_io::VoxelType::U8),
        ..Default::default()
    };
    medburn_io::write(&vol, labels.as_ref(), &options).unwrap();
    for interp in [None, Some("label-linear")] {
        let out = dir.path().join("rotated.nii.gz").display().to_string();
        let mut args = vec![
            "rotate",
            labels.as_str(),
            out.as_str(),
            "--axis",
            "x",
            "--angle",
            "-20",
            "--label",
        ];
        if let Some(i) = interp {
            args.extend(["--interp", i]);
        }
        let o = medburn(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let info = medburn(&["info", "--json", &out]);
        let j: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(j["dtype"], "uint8", "{interp:?}");
        let (r, _) = voxels(&out);
        assert!(r.iter().all(|x| [0.0, 1.0, 2.0].contains(x)), "{interp:?}");
    }
    let o = medburn(&[
        "rotate",
        &labels,
        &dir.path().join("x.nii.gz").display().to_string(),
        "--axis",
        "x",
        "--angle",
        "5",
        "--label",
        "--interp",
        "bspline",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("label"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn transform_commands_refuse_bad_arguments_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = spatial("oblique.nii.gz");
    let out = dir.path().join("out.nii.gz").display().to_string();
    for args in [
        vec![
            "rotate",
            input.as_str(),
            out.as_str(),
            "--axis",
            "0,0,0",
            "--angle",
            "5",
        ],
        vec![
            "crop",
            input.as_str(),
            out.as_str(),
            "--start",
            "20,0,0",
            "--size",
            "10,1,1",
        ],
        vec![
            "resample",
            input.as_str(),
            out.as_str(),
            "--spacing",
            "1,0,1",
        ],
        vec!["scale", input.as_str(), out.as_str(), "--factor", "-2"],
        vec![
            "pad",
            input.as_str(),
            out.as_str(),
            "--before",
            "30,0,0",
            "--after",
            "0,0,0",
            "--mode",
            "reflect",
        ],
        vec!["reorient", input.as_str(), out.as_str(), "--to", "LLS"],
        vec![
            "rotate",
            input.as_str(),
            out.as_str(),
            "--axis",
            "z",
            "--angle",
            "5",
            "--device",
            "tpu",
        ],
    ] {
        let o = medburn(&args);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(!std::path::Path::new(&out).exists(), "{args:?} left a file");
        // Our own errors are one line; clap's (a value it parses, like --to) end with a hint.
        let err = stderr(&o);
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.starts_with("medburn: ") || first.starts_with("error: "),
            "{args:?}: {err}"
        );
        assert!(!err.contains("internal error"), "{args:?}: {err}");
        if first.starts_with("medburn: ") {
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        }
    }
}

#[test]
fn augment_writes_reproducible_volumes_labels_and_a_montage() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = medburn(&[
        "synth",
        "--out",
        data.to_str().unwrap(),
        "--cases",
        "1",
        "--size",
        "24",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let image = data.join("imagesTr/case_000.nii.gz");
    let label = data.join("labelsTr/case_000.nii.gz");
    let config = dir.path().join("aug.toml");
    std::fs::write(
        &config,
        "label_interpolation = \"one_hot_linear\"\n\
         [[transforms]]\ntype = \"affine\"\nprob = 1.0\n\
         [[transforms]]\ntype = \"elastic\"\nprob = 1.0\n\
         [[transforms]]\ntype = \"flip\"\n\
         [[transforms]]\ntype = \"bias_field\"\nprob = 1.0\n",
    )
    .unwrap();
    let run = |out: &str| {
        let o = medburn(&[
            "augment",
            image.to_str().unwrap(),
            dir.path().join(out).join("t1.nii.gz").to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--seed",
            "5",
            "--label",
            label.to_str().unwrap(),
            "--label-out",
            dir.path().join(out).join("seg.nii.gz").to_str().unwrap(),
            "--count",
            "2",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    run("a");
    run("b");
    for f in [
        "t1_0.nii.gz",
        "t1_1.nii.gz",
        "seg_0.nii.gz",
        "seg_1.nii.gz",
        "t1_montage.png",
    ] {
        let (a, b) = (dir.path().join("a").join(f), dir.path().join("b").join(f));
        assert!(a.is_file(), "{f}");
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{f}: the same seed differs"
        );
    }
    // Labels keep the label's integer type and its label set; volumes keep the input's grid.
    let (seg, g) = voxels(dir.path().join("a/seg_1.nii.gz").to_str().unwrap());
    let (orig, g0) = voxels(label.to_str().unwrap());
    assert_eq!(g.size(), g0.size());
    let set: std::collections::BTreeSet<i64> = orig.iter().map(|v| *v as i64).collect();
    assert!(seg
        .iter()
        .all(|v| v.fract() == 0.0 && set.contains(&(*v as i64))));
    assert_ne!(seg, orig, "the label did not move");
    let info = medburn(&[
        "info",
        "--json",
        dir.path().join("a/seg_0.nii.gz").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("uint8"));
    // A bad config: one line, nothing written.
    std::fs::write(&config, "[[transforms]]\ntype = \"affine\"\nprob = 3.0\n").unwrap();
    let out = dir.path().join("c");
    let o = medburn(&[
        "augment",
        image.to_str().unwrap(),
        out.join("t1.nii.gz").to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("affine.prob"), "{}", stderr(&o));
    assert!(!out.exists(), "a refused run wrote {}", out.display());
}

#[test]
fn models_summary_gives_monai_parameter_counts() {
    // MONAI 1.6.1: sum(p.numel() for p in net.parameters()).
    for (args, want) in [
        (&["resnet10"][..], 14_356_929u64),
        (&["resnet18"][..], 33_161_409),
        (&["resnet50"][..], 46_160_961),
        (&["regressor"][..], 1_177_912),
        (&["unet", "--out-channels", "2"][..], 1_186_765),
    ] {
        let mut full = vec!["models", "summary"];
        full.extend_from_slice(args);
        full.push("--json");
        let o = medburn(&full);
        assert!(o.status.success(), "{}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["summary"]["total_params"], want, "{args:?}");
    }
    // A table, and a changed width.
    let o = medburn(&["models", "summary", "resnet10", "--set", "widen_factor=0.5"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("Conv3d") && table.contains("BatchNorm"),
        "{table}"
    );
    assert!(table.contains("[32, 1, 7, 7, 7]"), "{table}");
    // Unknown networks and fields are one-line errors.
    for bad in [
        &["models", "summary", "vgg16"][..],
        &["models", "summary", "resnet18", "--set", "channels=[4]"][..],
    ] {
        let o = medburn(bad);
        assert!(!o.status.success());
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    }
}

#[test]
fn print_config_gives_each_tasks_defaults() {
    let o = medburn(&["train", "--print-config", "--task", "regress"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let c = medburn_train::TrainConfig::from_toml(&text).unwrap();
    assert_eq!(
        c,
        medburn_train::TrainConfig::for_task(medburn_train::TaskKind::Regress)
    );
    assert!(text.contains("task = \"regress\"") && text.contains("name = \"resnet10\""));
    let o = medburn(&[
        "train",
        "--print-config",
        "--task",
        "classify",
        "--set",
        "loss.name=mse",
    ]);
    assert!(!o.status.success());
    let o = medburn(&["train", "--print-config", "--task", "segment"]);
    let c = medburn_train::TrainConfig::from_toml(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(c, medburn_train::TrainConfig::default());
}

#[test]
fn a_damaged_slice_is_refused_unless_skipped_and_what_is_skipped_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("ct");
    std::fs::create_dir_all(&series).unwrap();
    let src = fixtures_dir().join("data/pydicom/dicomdirtests/98892001/CT5N");
    let mut names: Vec<_> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for n in &names {
        std::fs::copy(src.join(n), series.join(n)).unwrap();
    }
    // The last slice cut in half (as a copy that stopped), and a file that is not DICOM.
    let last = series.join(names.last().unwrap());
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(series.join("notes.txt"), "scanned on Tuesday").unwrap();
    let out = dir.path().join("ct.nii.gz");
    let o = medburn(&["convert", series.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("cannot be read") && e.contains("--skip-unreadable") && e.lines().count() == 1,
        "{e}"
    );
    assert!(!out.exists());
    let o = medburn(&[
        "convert",
        series.to_str().unwrap(),
        out.to_str().unwrap(),
        "--skip-unreadable",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("1 unreadable DICOM file(s) skipped"), "{e}");
    assert!(
        e.contains("1 file(s) that are not DICOM images skipped"),
        "{e}"
    );
    let j: serde_json::Value =
        serde_json::from_slice(&medburn(&["info", "--json", out.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(j["size"], serde_json::json!([16, 16, names.len() - 1]));
}
