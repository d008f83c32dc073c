//! The registration task through the library: a short semi-supervised VoxelMorph run on
//! synthetic brains beats the unregistered pairs' Dice, scores its held-out test pairs, writes its
//! tables and pictures, and its checkpoint registers a pair of files; atlas pairs keep the atlas
//! on its side and out of every other pair; configurations the task cannot run are refused
//! before anything is written.

use std::path::Path;

use medburn_datasets::synth::{write_msd_dataset, SynthConfig};
use medburn_datasets::{CaseFiles, Manifest};
use medburn_models::voxelmorph::warp_image;
use medburn_train::task::register::RegistrationModel;
use medburn_train::{predict, train, PredictOptions, TaskKind, TrainConfig, TrainOptions};

fn data(dir: &Path, size: usize, cases: usize, test: usize) {
    let config = SynthConfig {
        size,
        seed: 3,
        ..SynthConfig::default()
    };
    write_msd_dataset(dir, &config, cases, test, &mut |_, _| {}).unwrap();
}

/// Registration on a `size`^3 grid covering 224 mm, with `extra` settings on top.
fn config(dir: &Path, out: &str, size: usize, extra: &[&str]) -> TrainConfig {
    let mut c = TrainConfig::for_task(TaskKind::Register);
    c.data.dir = dir.join("data");
    c.out = dir.join(out);
    let spacing = 224.0 / size as f64;
    for s in [
        format!("data.preprocess.size=[{size},{size},{size}]"),
        format!("data.patch.patch_size=[{size},{size},{size}]"),
        format!("data.preprocess.spacing=[{spacing},{spacing},{spacing}]"),
        "data.val_cases=2".into(),
        "optim.warmup_steps=2".into(),
    ] {
        c.set(&s).unwrap();
    }
    for s in extra {
        c.set(s).unwrap();
    }
    c
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn semi_supervised_registration_beats_the_unregistered_dice_and_registers_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    data(&dir.path().join("data"), 32, 10, 2);
    let c = config(
        dir.path(),
        "run",
        32,
        &[
            "data.val_cases=3",
            "optim.steps=200",
            "optim.steps_per_epoch=100",
            "validation.every=100",
            "loss.dice_weight=1.0",
        ],
    );
    let summary = train(c, &TrainOptions::default()).unwrap();
    assert_eq!(summary.steps, 200);
    let v = summary.validation.unwrap();
    let g = |n: &str| v.get(n).unwrap();
    println!("validation: {}", v.describe());
    assert!(
        g("mean_dice") > g("baseline_mean_dice") + 0.02,
        "Dice {} (unregistered {})",
        g("mean_dice"),
        g("baseline_mean_dice")
    );
    assert!(g("similarity") < g("baseline_similarity"));
    assert!(g("folding") < 0.01, "folding {}", g("folding"));
    assert_eq!(summary.best.unwrap().metric, "mean_dice");
    // The two test cases make two test pairs, scored by the best model (with Dice: their label
    // maps are read from labelsTs/).
    let test = summary.test.unwrap();
    println!("test: {}", test.describe());
    assert!(test.get("mean_dice").unwrap() > test.get("baseline_mean_dice").unwrap());
    assert!(test.get("similarity").unwrap() < test.get("baseline_similarity").unwrap());
    let out = dir.path().join("run");
    let pairs = csv_rows(&out.join("validation_pairs.csv"));
    assert_eq!(pairs.len(), 3);
    assert_eq!(csv_rows(&out.join("test_pairs.csv")).len(), 2);
    for row in &pairs {
        assert_ne!(row[0], row[1]);
        let png = out.join(format!("registrations/{}_to_{}.png", row[0], row[1]));
        assert!(png.is_file(), "{}", png.display());
    }

    // The best checkpoint registers two files.
    let device = burn::tensor::Device::flex();
    let model = RegistrationModel::load(&out.join("checkpoints/best"), &device).unwrap();
    let manifest = Manifest::open(&dir.path().join("data")).unwrap();
    let files = |i: usize| {
        let c = &manifest.training[i];
        CaseFiles::new(c.images.clone(), c.label.clone())
    };
    let moving = model.prepare(&files(7)).unwrap();
    let fixed = model.prepare(&files(8)).unwrap();
    assert_eq!(moving.channels, 1); // the first channel, as trained
    assert!(moving.label.is_some());
    let (warped, ddf) = model.register(&moving, &fixed).unwrap();
    assert_eq!(warped.dims(), [1, 1, 32, 32, 32]);
    assert_eq!(ddf.dims(), [1, 3, 32, 32, 32]);
    assert!(ddf.clone().abs().max().into_scalar::<f32>() > 0.1);
    // The warped image is the moving image warped by the displacement it returns.
    let again = warp_image(
        moving.image_on(&device).unwrap().into_voxels(),
        ddf.clone(),
        medburn_augment::Interpolation::Linear,
    )
    .unwrap();
    let diff = (again - warped.clone()).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-5, "{diff}");
    // In physical space (A = P_m P_f^-1 and u on P_f, as `medburn register` writes it), the
    // transform resamples the prepared moving image as the network warped it, inside the grid
    // (at its faces the network reads zeros half a voxel sooner than ITK's edge).
    let transform = model.physical_transform(&moving, &fixed, ddf).unwrap();
    let moving_image = moving.image_on(&device).unwrap();
    let again = transform
        .apply(
            &moving_image,
            &fixed.geometry,
            medburn_spatial::Interpolation::Linear,
        )
        .unwrap();
    let inner = |t: burn::tensor::Tensor<5>| t.slice([0..1, 0..1, 2..30, 2..30, 2..30]);
    let diff = (inner(again.into_voxels()) - inner(warped.clone()))
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(
        diff < 1e-4,
        "physical transform against the network's warp: {diff}"
    );
    // `predict` with a fixed image writes what `medburn register` writes.
    let pred = dir.path().join("pred");
    let options = PredictOptions {
        fixed: Some(files(8)),
        ..PredictOptions::default()
    };
    let results = predict(&out.join("checkpoints/best"), &[files(7)], &pred, &options).unwrap();
    let folder = &results[0].output;
    for f in [
        "warped.nii.gz",
        "warped_label.nii.gz",
        "affine.tfm",
        "displacement.nii.gz",
        "checkerboard_before.png",
        "checkerboard_after.png",
        "metrics.json",
    ] {
        assert!(folder.join(f).is_file(), "{}", folder.join(f).display());
    }
    let fixed_file = medburn_io::read(&files(8).images[0]).unwrap();
    let warped_file = medburn_io::read(&folder.join("warped.nii.gz")).unwrap();
    assert_eq!(warped_file.geometry.size(), fixed_file.geometry.size());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("metrics.json")).unwrap())
            .unwrap();
    let (before, after) = (
        m["labels"]["before"]["mean_dice"].as_f64().unwrap(),
        m["labels"]["after"]["mean_dice"].as_f64().unwrap(),
    );
    println!("predict: mean Dice {before:.4} -> {after:.4}");
    assert!(after.is_finite() && before.is_finite());
    // Without a fixed image, a model of subject pairs is refused, saying why, leaving nothing.
    let none = dir.path().join("pred_none");
    let e = predict(
        &out.join("checkpoints/best"),
        &[files(0)],
        &none,
        &PredictOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--fixed"), "{e}");
    assert!(!none.exists());
}

#[test]
fn atlas_pairs_keep_the_atlas_on_its_side() {
    let dir = tempfile::tempdir().unwrap();
    data(&dir.path().join("data"), 16, 6, 0);
    for (pairs, atlas_moving) in [("atlas_to_subject", true), ("subject_to_atlas", false)] {
        let pairing = format!("data.pairs={pairs}");
        let c = config(
            dir.path(),
            pairs,
            16,
            &[
                &pairing,
                "data.atlas=case_002",
                "optim.steps=2",
                "optim.steps_per_epoch=2",
                "validation.every=2",
            ],
        );
        let summary = train(c, &TrainOptions::default()).unwrap();
        assert_eq!(summary.steps, 2);
        let rows = csv_rows(&dir.path().join(pairs).join("validation_pairs.csv"));
        // The last two cases validate, each with the atlas; the atlas validates nothing else.
        assert_eq!(rows.len(), 2);
        for row in rows {
            let (atlas, subject) = if atlas_moving {
                (&row[0], &row[1])
            } else {
                (&row[1], &row[0])
            };
            assert_eq!(atlas, "case_002");
            assert!(subject == "case_004" || subject == "case_005", "{subject}");
        }
        let model = RegistrationModel::load(&dir.path().join(pairs), &burn::tensor::Device::flex())
            .unwrap();
        assert_eq!(model.atlas().unwrap().unwrap().id, "case_002");
    }
}

#[test]
fn configurations_registration_cannot_run_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    data(&dir.path().join("data"), 16, 5, 0);
    let refused = |extra: &[&str], wanted: &str| {
        let c = config(dir.path(), "run", 16, extra);
        let e = match c.validate() {
            Err(e) => e,
            Ok(()) => train(c, &TrainOptions::default()).unwrap_err(),
        };
        let e = e.to_string();
        assert!(e.contains(wanted), "{extra:?}: {e}");
        assert!(!dir.path().join("run").exists(), "{extra:?} left a folder");
    };
    refused(&["data.pairs=atlas_to_subject"], "data.atlas");
    refused(&["data.atlas=case_000"], "subject_to_subject");
    refused(
        &["data.pairs=subject_to_atlas", "data.atlas=case_9"],
        "not a training case",
    );
    refused(&["data.val_cases=1"], "2 validation cases");
    refused(
        &[
            "data.preprocess.size=[20,20,20]",
            "data.patch.patch_size=[20,20,20]",
        ],
        "levels",
    );
    refused(&["data.patch.patch_size=[8,8,8]"], "must equal");
    refused(&["augment.label_interpolation=label_linear"], "nearest");
    refused(&["loss.kernel_size=4"], "odd");
    refused(&["loss.regularization_weight=-1"], "regularization_weight");
    refused(&["model.name=unet"], "does not fit task register");
    refused(&["loss.name=mse"], "does not fit task register");
    // And the other way round: the segmentation task takes no VoxelMorph.
    let mut c = TrainConfig::for_task(TaskKind::Segment);
    c.set("model.name=voxelmorph").unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("voxelmorph"));
}

#[test]
fn without_label_maps_the_similarity_chooses_the_best_model() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    data(&data_dir, 16, 5, 0);
    // A CSV manifest of the images alone.
    let mut table = String::from("image\n");
    for i in 0..5 {
        table.push_str(&format!("imagesTr/case_{i:03}.nii.gz\n"));
    }
    std::fs::write(data_dir.join("cases.csv"), table).unwrap();
    let steps = [
        "optim.steps=2",
        "optim.steps_per_epoch=2",
        "validation.every=2",
    ];
    let unlabelled = |out: &str, extra: &[&str]| {
        let mut c = config(dir.path(), out, 16, &steps);
        c.data.dir = data_dir.join("cases.csv");
        for s in extra {
            c.set(s).unwrap();
        }
        c
    };
    let summary = train(unlabelled("run", &[]), &TrainOptions::default()).unwrap();
    let v = summary.validation.unwrap();
    assert!(v.get("mean_dice").is_none());
    assert_eq!(
        v.names().collect::<Vec<_>>(),
        [
            "similarity",
            "baseline_similarity",
            "folding",
            "log_det_std"
        ]
    );
    assert_eq!(summary.best.unwrap().metric, "similarity");
    // The Dice term and the Dice metric need label maps: refused, before anything is written.
    for (extra, wanted) in [
        ("loss.dice_weight=0.5", "dice_weight"),
        ("validation.metric=mean_dice", "mean_dice"),
    ] {
        let e = train(unlabelled("refused", &[extra]), &TrainOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(wanted) && e.contains("label map"), "{e}");
        assert!(!dir.path().join("refused").exists());
    }
}
