//! medburn-models against MONAI: the networks of tests/fixtures/models/unets.json (made by
//! tests/scripts/make_model_fixtures.py), loaded from MONAI's state_dicts, reproduce MONAI's
//! outputs in eval mode on Flex; parameter counts match; bad weight files are refused.

use std::path::PathBuf;

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use medburn_models::{load_monai_safetensors, monai_key_map, ModelError, UNet3dConfig};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../tests/fixtures/models")
}

fn unets() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("unets.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["unets"].as_array().unwrap().clone()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// The UNet3dConfig for MONAI's keyword arguments in the fixture.
fn config(args: &Value) -> UNet3dConfig {
    let n =
        |key: &str, default: u64| args.get(key).map_or(default, |v| v.as_u64().unwrap()) as usize;
    let mut c = UNet3dConfig::new(
        n("in_channels", 0),
        n("out_channels", 0),
        usizes(&args["channels"]),
        usizes(&args["strides"]),
    )
    .with_kernel_size(n("kernel_size", 3))
    .with_up_kernel_size(n("up_kernel_size", 3))
    .with_num_res_units(n("num_res_units", 0))
    .with_dropout(args.get("dropout").map_or(0.0, |v| v.as_f64().unwrap()));
    if let Some(norm) = args.get("norm") {
        assert_eq!(norm[0], "instance");
        c = c.with_norm_affine(norm[1]["affine"].as_bool().unwrap());
    }
    c
}

fn read_f32(name: &str) -> Vec<f32> {
    std::fs::read(fixtures().join(name))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn shape5(v: &Value) -> [usize; 5] {
    usizes(v).try_into().unwrap()
}

#[test]
fn tutorial_unet_has_monai_parameter_count() {
    let model = UNet3dConfig::new(1, 2, vec![16, 32, 64, 128], vec![2, 2, 2])
        .with_num_res_units(2)
        .init(&Device::flex())
        .unwrap();
    assert_eq!(model.num_params(), 1_186_765);
}

#[test]
fn parameter_counts_match_monai() {
    for unet in unets() {
        let model = config(&unet["monai_args"]).init(&Device::flex()).unwrap();
        let want = unet["num_params"].as_u64().unwrap() as usize;
        assert_eq!(model.num_params(), want, "unet {}", unet["name"]);
        // One MONAI key per parameter tensor: as many keys as the file has tensors.
        let keys = monai_key_map(&model);
        let mut names: Vec<_> = keys.iter().map(|(m, _)| m.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), keys.len());
    }
}

#[test]
fn loaded_unets_reproduce_monai_outputs() {
    let device = Device::flex();
    for unet in unets() {
        let name = unet["name"].as_str().unwrap();
        let model = config(&unet["monai_args"]).init(&device).unwrap();
        let model =
            load_monai_safetensors(model, fixtures().join(unet["weights"].as_str().unwrap()))
                .unwrap();
        let x = Tensor::<5>::from_data(
            TensorData::new(
                read_f32(unet["input"].as_str().unwrap()),
                shape5(&unet["input_shape"]),
            ),
            &device,
        );
        let y = model.try_forward(x).unwrap();
        assert_eq!(y.dims(), shape5(&unet["output_shape"]));
        let got = y.into_data().try_to_vec::<f32>().unwrap();
        let want = read_f32(unet["output"].as_str().unwrap());
        let err = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        println!("unet {name}: max |medburn - MONAI| = {err:.2e} (outputs up to {scale:.2})");
        assert!(err <= 1e-4, "unet {name}: max error {err:e}");
    }
}

#[test]
fn weights_of_another_configuration_are_refused() {
    let device = Device::flex();
    let path = fixtures().join("unet_b.safetensors");
    // Two residual subunits where the file has one: the second's weights are missing, and
    // named as MONAI names them.
    let more_units = UNet3dConfig::new(3, 5, vec![8, 16, 32], vec![2, 2])
        .with_num_res_units(2)
        .init(&device)
        .unwrap();
    match load_monai_safetensors(more_units, &path) {
        Err(ModelError::MissingWeights { keys, .. }) => {
            assert_eq!(keys.len(), 3 * 3, "{keys:?}"); // weight, bias, PReLU in 3 layers
            assert!(
                keys.iter()
                    .all(|k| k.starts_with("model.") && k.contains(".conv.unit1.")),
                "{keys:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    // One more level: the decoder's channels change, shapes disagree.
    let deeper = UNet3dConfig::new(3, 5, vec![8, 16, 32, 64], vec![2, 2, 2])
        .with_num_res_units(1)
        .init(&device)
        .unwrap();
    assert!(matches!(
        load_monai_safetensors(deeper, &path),
        Err(ModelError::Weights { .. })
    ));
    // Fewer residual units: the file has tensors the model does not take.
    let plain = UNet3dConfig::new(3, 5, vec![8, 16, 32], vec![2, 2])
        .init(&device)
        .unwrap();
    assert!(matches!(
        load_monai_safetensors(plain, &path),
        Err(ModelError::MissingWeights { .. } | ModelError::UnexpectedWeights { .. })
    ));
    // Same structure, other widths: shapes disagree.
    let wider = UNet3dConfig::new(3, 5, vec![8, 16, 48], vec![2, 2])
        .with_num_res_units(1)
        .init(&device)
        .unwrap();
    assert!(matches!(
        load_monai_safetensors(wider, &path),
        Err(ModelError::Weights { .. })
    ));
    // Not a safetensors file.
    let model = UNet3dConfig::new(3, 5, vec![8, 16, 32], vec![2, 2])
        .with_num_res_units(1)
        .init(&device)
        .unwrap();
    assert!(matches!(
        load_monai_safetensors(model, fixtures().join("unets.json")),
        Err(ModelError::Weights { .. })
    ));
}

#[test]
fn file_keys_beyond_the_network_are_refused() {
    // The affine-norm network's file into the same network without affine norms: the file's
    // `adn.N.*` tensors have nowhere to go.
    let unet = &unets()[2];
    let model = config(&unet["monai_args"])
        .with_norm_affine(false)
        .init(&Device::flex())
        .unwrap();
    match load_monai_safetensors(model, fixtures().join("unet_c.safetensors")) {
        Err(ModelError::UnexpectedWeights { keys, .. }) => {
            assert!(
                !keys.is_empty() && keys.iter().all(|k| k.contains(".adn.N.")),
                "{keys:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn config_round_trips_through_json() {
    let config = UNet3dConfig::new(3, 5, vec![8, 16, 32], vec![2, 1])
        .with_num_res_units(1)
        .with_dropout(0.1)
        .with_norm_affine(true)
        .with_adn_ordering("AN".into());
    let dir = std::env::temp_dir().join(format!("medburn-unet-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("unet.json");
    config.save(&file).unwrap();
    let back = UNet3dConfig::load(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(back, config);
}

#[test]
fn invalid_configs_are_refused() {
    let device = Device::flex();
    let base = || UNet3dConfig::new(1, 2, vec![8, 16], vec![2]);
    for bad in [
        UNet3dConfig::new(1, 2, vec![8], vec![]),
        UNet3dConfig::new(1, 2, vec![8, 16, 32], vec![2]),
        base().with_kernel_size(2),
        base().with_up_kernel_size(4),
        base().with_dropout(1.0),
        base().with_adn_ordering("NDX".into()),
        base().with_adn_ordering("NN".into()),
        UNet3dConfig::new(0, 2, vec![8, 16], vec![2]),
        UNet3dConfig::new(1, 2, vec![8, 16], vec![0]),
    ] {
        assert!(
            matches!(bad.init(&device), Err(ModelError::InvalidConfig(_))),
            "{bad}"
        );
    }
}

#[test]
fn every_parameter_gets_a_gradient() {
    let device = Device::flex().autodiff();
    let model = UNet3dConfig::new(2, 3, vec![4, 8, 16], vec![2, 2])
        .with_num_res_units(2)
        .with_dropout(0.2)
        .init(&device)
        .unwrap();
    device.seed(7);
    let x = Tensor::<5>::random(
        [2, 2, 8, 8, 4],
        burn::tensor::Distribution::Default,
        &device,
    );
    let loss = model.forward(x).powi_scalar(2).mean();
    let grads = loss.backward();
    let grads = burn::optim::GradientsParams::from_grads(grads, &model);
    let tensors = monai_key_map(&model).len();
    assert_eq!(grads.len(), tensors);
}
