//! medburn-models' ResNet, Regressor, VoxelMorph and autoencoders against MONAI: the networks
//! of tests/fixtures/models/networks.json (made by tests/scripts/make_network_fixtures.py),
//! voxelmorph.json (tests/scripts/make_voxelmorph_fixtures.py) and autoencoder.json
//! (tests/scripts/make_autoencoder_fixtures.py), loaded from MONAI's
//! state_dicts, reproduce MONAI's outputs in eval mode on Flex; the full-size networks have
//! MONAI's parameter counts; the key maps name exactly the tensors of MONAI's files; wrong
//! files are refused.

use std::collections::BTreeSet;
use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use medburn_models::blocks::{ActConfig, NormConfig};
use medburn_models::voxelmorph::{VoxelMorphConfig, VoxelMorphUNetConfig};
use medburn_models::{
    is_ignored_monai_key, load_monai_safetensors, summary, AutoEncoderConfig, ModelError,
    MonaiKeys, RegressorConfig, ResNetBlockType, ResNetConfig, ShortcutType, UNet3dConfig,
    VarAutoEncoderConfig,
};
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    // The package folder cargo gives the running test, not the one the binary was built in:
    // a shared target directory may hold a binary built in another checkout.
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../tests/fixtures/models")
}

fn index() -> Value {
    let text = std::fs::read_to_string(fixtures().join("networks.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn read_f32(name: &str) -> Vec<f32> {
    std::fs::read(fixtures().join(name))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// The tensor names of a safetensors file (its header is a JSON object after an 8-byte
/// length).
fn safetensors_keys(name: &str) -> BTreeSet<String> {
    let bytes = std::fs::read(fixtures().join(name)).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    header
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect()
}

/// The ResNetConfig for a MONAI constructor and its keyword arguments.
fn resnet_config(constructor: &str, args: &Value) -> ResNetConfig {
    let n = |key: &str| args.get(key).map(|v| v.as_u64().unwrap() as usize);
    let (inputs, classes) = (n("n_input_channels").unwrap(), n("num_classes").unwrap());
    let mut c = match constructor {
        "resnet10" => ResNetConfig::resnet10(inputs, classes),
        "resnet18" => ResNetConfig::resnet18(inputs, classes),
        "resnet34" => ResNetConfig::resnet34(inputs, classes),
        "resnet50" => ResNetConfig::resnet50(inputs, classes),
        "resnet101" => ResNetConfig::resnet101(inputs, classes),
        "resnet152" => ResNetConfig::resnet152(inputs, classes),
        "resnet200" => ResNetConfig::resnet200(inputs, classes),
        "ResNet" => {
            let block = match args["block"].as_str().unwrap() {
                "basic" => ResNetBlockType::Basic,
                _ => ResNetBlockType::Bottleneck,
            };
            ResNetConfig::new(block, usizes(&args["layers"]))
                .with_n_input_channels(inputs)
                .with_num_classes(classes)
        }
        other => panic!("constructor {other}"),
    };
    if let Some(v) = args.get("block_inplanes") {
        c.block_inplanes = usizes(v);
    }
    if let Some(v) = args.get("widen_factor") {
        c.widen_factor = v.as_f64().unwrap();
    }
    if let Some(v) = args.get("shortcut_type") {
        c.shortcut_type = match v.as_str().unwrap() {
            "A" => ShortcutType::A,
            _ => ShortcutType::B,
        };
    }
    if let Some(v) = n("conv1_t_size") {
        c.conv1_t_size = v;
    }
    if let Some(v) = n("conv1_t_stride") {
        c.conv1_t_stride = v;
    }
    for (key, field) in [
        ("no_max_pool", &mut c.no_max_pool),
        ("bias_downsample", &mut c.bias_downsample),
        ("feed_forward", &mut c.feed_forward),
    ] {
        if let Some(v) = args.get(key) {
            *field = v.as_bool().unwrap();
        }
    }
    c
}

/// MONAI's `act`/`norm` argument (`"name"` or `["name", {args}]`) as our serde form.
fn monai_layer<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    let (name, args) = match v {
        Value::String(s) => (s.to_lowercase(), json!({})),
        Value::Array(a) => (a[0].as_str().unwrap().to_lowercase(), a[1].clone()),
        other => panic!("{other}"),
    };
    serde_json::from_value(Value::String(name.clone()))
        .or_else(|_| serde_json::from_value(json!({ name: args })))
        .unwrap()
}

fn regressor_config(args: &Value) -> RegressorConfig {
    let mut c = RegressorConfig::new(
        usizes(&args["in_shape"]),
        usizes(&args["out_shape"]),
        usizes(&args["channels"]),
        usizes(&args["strides"]),
    );
    if let Some(v) = args.get("kernel_size") {
        c.kernel_size = v.as_u64().unwrap() as usize;
    }
    if let Some(v) = args.get("num_res_units") {
        c.num_res_units = v.as_u64().unwrap() as usize;
    }
    if let Some(v) = args.get("act") {
        c.act = monai_layer::<ActConfig>(v);
    }
    if let Some(v) = args.get("norm") {
        c.norm = monai_layer::<NormConfig>(v);
    }
    if let Some(v) = args.get("dropout") {
        c.dropout = v.as_f64().unwrap();
    }
    c
}

/// Max |a - b| and max |b|.
fn compare(got: &[f32], want: &[f32]) -> (f32, f32) {
    assert_eq!(got.len(), want.len());
    let err = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    (err, want.iter().fold(0.0f32, |m, v| m.max(v.abs())))
}

fn input(entry: &Value, device: &Device) -> Tensor<5> {
    let shape: [usize; 5] = usizes(&entry["input_shape"]).try_into().unwrap();
    Tensor::from_data(
        TensorData::new(read_f32(entry["input"].as_str().unwrap()), shape),
        device,
    )
}

#[test]
fn full_size_networks_have_monai_parameter_counts() {
    let device = Device::flex();
    let want = [
        ("resnet10", 14_356_929),
        ("resnet18", 33_161_409),
        ("resnet34", 63_471_041),
        ("resnet50", 46_160_961),
        ("Regressor", 1_177_912),
    ];
    let index = index();
    for entry in index["param_counts"].as_array().unwrap() {
        let constructor = entry["constructor"].as_str().unwrap();
        let args = &entry["monai_args"];
        let s = if constructor == "Regressor" {
            summary(&regressor_config(args).init(&device).unwrap())
        } else {
            summary(&resnet_config(constructor, args).init(&device).unwrap())
        };
        let params = entry["num_params"].as_u64().unwrap() as usize;
        let buffers = entry["num_buffers"].as_u64().unwrap() as usize;
        println!(
            "{constructor}: {} parameters, {} buffers",
            s.total_params, s.total_buffers
        );
        assert_eq!(
            (s.total_params, s.total_buffers),
            (params, buffers),
            "{constructor}"
        );
        if let Some((_, n)) = want.iter().find(|(c, _)| *c == constructor) {
            assert_eq!(s.total_params, *n, "{constructor}");
        }
    }
    // The five the brief names are all in the fixture.
    let names: Vec<&str> = index["param_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["constructor"].as_str().unwrap())
        .collect();
    assert!(want.iter().all(|(c, _)| names.contains(c)));
}

#[test]
fn key_maps_name_exactly_the_tensors_of_monai_files() {
    let device = Device::flex();
    let index = index();
    let mut checked = 0;
    for entry in index["resnets"]
        .as_array()
        .unwrap()
        .iter()
        .chain(index["regressors"].as_array().unwrap())
    {
        let args = &entry["monai_args"];
        let constructor = entry["constructor"].as_str().unwrap();
        let map = if constructor == "Regressor" {
            regressor_config(args)
                .init(&device)
                .unwrap()
                .monai_key_map()
        } else {
            resnet_config(constructor, args)
                .init(&device)
                .unwrap()
                .monai_key_map()
        };
        let ours: BTreeSet<String> = map.iter().map(|(m, _)| m.clone()).collect();
        assert_eq!(ours.len(), map.len(), "duplicate keys");
        let burn: BTreeSet<&String> = map.iter().map(|(_, b)| b).collect();
        assert_eq!(burn.len(), map.len(), "duplicate paths");
        let file: BTreeSet<String> = safetensors_keys(entry["weights"].as_str().unwrap())
            .into_iter()
            .filter(|k| !is_ignored_monai_key(k))
            .collect();
        assert_eq!(ours, file, "{}", entry["name"]);
        checked += 1;
    }
    // The U-Nets too.
    for (name, config) in [
        (
            "unet_a.safetensors",
            UNet3dConfig::new(1, 2, vec![16, 32, 64, 128], vec![2, 2, 2]).with_num_res_units(2),
        ),
        (
            "unet_b.safetensors",
            UNet3dConfig::new(3, 5, vec![8, 16, 32], vec![2, 2]).with_num_res_units(1),
        ),
    ] {
        let ours: BTreeSet<String> = config
            .init(&device)
            .unwrap()
            .monai_key_map()
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        assert_eq!(ours, safetensors_keys(name), "{name}");
        checked += 1;
    }
    assert_eq!(checked, 8);
}

#[test]
fn loaded_resnets_reproduce_monai_outputs() {
    let device = Device::flex();
    for entry in index()["resnets"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let config = resnet_config(entry["constructor"].as_str().unwrap(), &entry["monai_args"]);
        let model = config.init(&device).unwrap();
        assert_eq!(
            summary(&model).total_params,
            entry["num_params"].as_u64().unwrap() as usize
        );
        let model =
            load_monai_safetensors(model, fixtures().join(entry["weights"].as_str().unwrap()))
                .unwrap();
        let y = model.try_forward(input(entry, &device)).unwrap();
        assert_eq!(y.dims().to_vec(), usizes(&entry["output_shape"]), "{name}");
        let got = y.into_data().try_to_vec::<f32>().unwrap();
        let (err, scale) = compare(&got, &read_f32(entry["output"].as_str().unwrap()));
        println!("resnet {name}: max |medburn - MONAI| = {err:.2e} (outputs up to {scale:.2})");
        assert!(err <= 1e-4, "resnet {name}: max error {err:e}");
    }
}

#[test]
fn loaded_regressors_reproduce_monai_outputs() {
    let device = Device::flex();
    for entry in index()["regressors"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let model = regressor_config(&entry["monai_args"])
            .init(&device)
            .unwrap();
        assert_eq!(
            summary(&model).total_params,
            entry["num_params"].as_u64().unwrap() as usize
        );
        let model =
            load_monai_safetensors(model, fixtures().join(entry["weights"].as_str().unwrap()))
                .unwrap();
        let y = model.try_forward(input(entry, &device)).unwrap();
        let out = usizes(&entry["output_shape"]);
        assert_eq!(y.dims(), [out[0], out[1..].iter().product()], "{name}");
        let got = y.into_data().try_to_vec::<f32>().unwrap();
        let (err, scale) = compare(&got, &read_f32(entry["output"].as_str().unwrap()));
        println!("regressor {name}: max |medburn - MONAI| = {err:.2e} (outputs up to {scale:.2})");
        assert!(err <= 1e-4, "regressor {name}: max error {err:e}");
    }
}

#[test]
fn an_autodiff_model_in_valid_mode_gives_the_eval_outputs() {
    // Loaded on an autodiff device, `valid()` switches batch norm to its running statistics.
    let device = Device::flex().autodiff();
    let entry = &index()["resnets"][0];
    let config = resnet_config(entry["constructor"].as_str().unwrap(), &entry["monai_args"]);
    let model = load_monai_safetensors(
        config.init(&device).unwrap(),
        fixtures().join(entry["weights"].as_str().unwrap()),
    )
    .unwrap();
    let x = input(entry, &device);
    let want = read_f32(entry["output"].as_str().unwrap());
    let eval = model.valid().forward(x.clone().inner());
    let (err, _) = compare(&eval.into_data().try_to_vec::<f32>().unwrap(), &want);
    assert!(err <= 1e-4, "valid: {err:e}");
    // Training mode uses the batch's statistics: another result.
    let train = model.forward(x);
    let (err, _) = compare(&train.into_data().try_to_vec::<f32>().unwrap(), &want);
    assert!(err > 1e-3, "training mode gave the eval outputs");
}

#[test]
fn weights_of_another_configuration_are_refused() {
    let device = Device::flex();
    let index = index();
    let r10 = &index["resnets"][0];
    let path = fixtures().join(r10["weights"].as_str().unwrap());
    let base = || resnet_config("resnet10", &r10["monai_args"]);
    // More blocks: the second blocks' tensors are missing, named as MONAI names them.
    match load_monai_safetensors(
        ResNetConfig {
            layers: vec![2, 1, 1, 1],
            ..base()
        }
        .init(&device)
        .unwrap(),
        &path,
    ) {
        Err(ModelError::MissingWeights { keys, .. }) => {
            assert_eq!(keys.len(), 2 + 2 * 4, "{keys:?}"); // 2 convs, 2 batch norms
            assert!(keys.iter().all(|k| k.starts_with("layer1.1.")), "{keys:?}");
        }
        other => panic!("{other:?}"),
    }
    // Shortcut A: the file's downsample tensors have nowhere to go.
    match load_monai_safetensors(
        base()
            .with_shortcut_type(ShortcutType::A)
            .init(&device)
            .unwrap(),
        &path,
    ) {
        Err(ModelError::UnexpectedWeights { keys, .. }) => {
            assert!(keys.iter().all(|k| k.contains(".downsample.")), "{keys:?}");
            assert!(!keys.iter().any(|k| is_ignored_monai_key(k)));
        }
        other => panic!("{other:?}"),
    }
    // Other widths: shapes disagree.
    assert!(matches!(
        load_monai_safetensors(base().with_widen_factor(0.25).init(&device).unwrap(), &path),
        Err(ModelError::Weights { .. })
    ));
    // No bias in the downsampling convolutions: unexpected bias tensors.
    assert!(matches!(
        load_monai_safetensors(
            base().with_bias_downsample(false).init(&device).unwrap(),
            &path
        ),
        Err(ModelError::UnexpectedWeights { .. })
    ));
    // A regressor's file into a ResNet.
    let reg = fixtures().join(index["regressors"][0]["weights"].as_str().unwrap());
    assert!(matches!(
        load_monai_safetensors(base().init(&device).unwrap(), &reg),
        Err(ModelError::MissingWeights { .. } | ModelError::UnexpectedWeights { .. })
    ));
    // A regressor with one subunit per unit where the file has two.
    let args = &index["regressors"][0]["monai_args"];
    match load_monai_safetensors(
        regressor_config(args)
            .with_num_res_units(1)
            .init(&device)
            .unwrap(),
        &reg,
    ) {
        Err(ModelError::UnexpectedWeights { keys, .. }) => {
            // The second subunits, and the last unit's ADN (its only subunit is now the last).
            assert!(keys.iter().any(|k| k.contains(".conv.unit1.")), "{keys:?}");
            assert!(
                keys.iter()
                    .all(|k| k.contains(".conv.unit1.") || k.starts_with("net.layer_3.")),
                "{keys:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A regressor for another input size: the linear layer's shape disagrees.
    assert!(matches!(
        load_monai_safetensors(
            RegressorConfig {
                in_shape: vec![1, 16, 16, 16],
                ..regressor_config(args)
            }
            .init(&device)
            .unwrap(),
            &reg
        ),
        Err(ModelError::Weights { .. })
    ));
}

fn voxelmorph_index() -> Value {
    let text = std::fs::read_to_string(fixtures().join("voxelmorph.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The VoxelMorphConfig for MONAI's `VoxelMorphUNet(spatial_dims=3, **unet_args)` inside
/// `VoxelMorph(backbone, **voxelmorph_args)`.
fn voxelmorph_config(entry: &Value) -> VoxelMorphConfig {
    let args = &entry["unet_args"];
    let n = |key: &str| args.get(key).map(|v| v.as_u64().unwrap() as usize);
    let mut b = VoxelMorphUNetConfig::new(
        n("in_channels").unwrap(),
        n("unet_out_channels").unwrap(),
        usizes(&args["channels"]),
        usizes(&args["final_conv_channels"]),
    );
    if let Some(v) = n("kernel_size") {
        b.kernel_size = v;
    }
    if let Some(v) = n("up_kernel_size") {
        b.up_kernel_size = v;
    }
    if let Some(v) = args.get("act") {
        b.act = monai_layer::<ActConfig>(v);
    }
    if let Some(v) = args.get("final_conv_act") {
        b.final_conv_act = monai_layer::<ActConfig>(v);
    }
    if let Some(v) = args.get("norm") {
        b.norm = monai_layer::<NormConfig>(v);
    }
    if let Some(v) = args.get("dropout") {
        b.dropout = v.as_f64().unwrap();
    }
    if let Some(v) = args.get("use_maxpool") {
        b.use_maxpool = v.as_bool().unwrap();
    }
    if let Some(v) = args.get("adn_ordering") {
        b.adn_ordering = v.as_str().unwrap().to_string();
    }
    let vm = &entry["voxelmorph_args"];
    let mut c = VoxelMorphConfig::new().with_backbone(b);
    if let Some(v) = vm.get("integration_steps") {
        c.integration_steps = v.as_u64().unwrap() as usize;
    }
    if let Some(v) = vm.get("half_res") {
        c.half_res = v.as_bool().unwrap();
    }
    c
}

fn voxelmorph_input(entry: &Value, part: &str, device: &Device) -> Tensor<5> {
    let shape: [usize; 5] = usizes(&entry["input_shape"]).try_into().unwrap();
    Tensor::from_data(
        TensorData::new(read_f32(entry["files"][part].as_str().unwrap()), shape),
        device,
    )
}

#[test]
fn voxelmorph_has_monai_parameter_count() {
    let device = Device::flex();
    let index = voxelmorph_index();
    // MONAI's VoxelMorph(): 244,323 parameters (the number, and the fixture's).
    assert_eq!(index["default_num_params"].as_u64(), Some(244_323));
    let model = VoxelMorphConfig::new().init(&device).unwrap();
    assert_eq!(summary(&model).total_params, 244_323);
    assert_eq!(model.num_params(), 244_323);
    for entry in index["cases"].as_array().unwrap() {
        let model = voxelmorph_config(entry).init(&device).unwrap();
        assert_eq!(
            summary(&model).total_params as u64,
            entry["num_params"].as_u64().unwrap(),
            "{}",
            entry["name"]
        );
    }
}

#[test]
fn voxelmorph_key_maps_name_exactly_the_tensors_of_monai_files() {
    let device = Device::flex();
    let mut checked = 0;
    for entry in voxelmorph_index()["cases"].as_array().unwrap() {
        let map = voxelmorph_config(entry)
            .init(&device)
            .unwrap()
            .monai_key_map();
        let ours: BTreeSet<String> = map.iter().map(|(m, _)| m.clone()).collect();
        assert_eq!(ours.len(), map.len(), "duplicate keys");
        let burn: BTreeSet<&String> = map.iter().map(|(_, b)| b).collect();
        assert_eq!(burn.len(), map.len(), "duplicate paths");
        let file = safetensors_keys(entry["weights"].as_str().unwrap());
        assert_eq!(ours, file, "{}", entry["name"]);
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn voxelmorph_loaded_reproduces_monai_ddf_and_warped() {
    let device = Device::flex();
    let mut cases = Vec::new();
    for entry in voxelmorph_index()["cases"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let model = load_monai_safetensors(
            voxelmorph_config(entry).init(&device).unwrap(),
            fixtures().join(entry["weights"].as_str().unwrap()),
        )
        .unwrap();
        let moving = voxelmorph_input(entry, "moving", &device);
        let fixed = voxelmorph_input(entry, "fixed", &device);
        let (warped, ddf) = model.try_forward(moving, fixed).unwrap();
        assert_eq!(ddf.dims().to_vec(), usizes(&entry["ddf_shape"]), "{name}");
        assert_eq!(
            warped.dims().to_vec(),
            usizes(&entry["input_shape"]),
            "{name}"
        );
        let (ddf_err, ddf_scale) = compare(
            &ddf.into_data().try_to_vec::<f32>().unwrap(),
            &read_f32(entry["files"]["ddf"].as_str().unwrap()),
        );
        let (warped_err, warped_scale) = compare(
            &warped.into_data().try_to_vec::<f32>().unwrap(),
            &read_f32(entry["files"]["warped"].as_str().unwrap()),
        );
        println!(
            "voxelmorph {name}: max |medburn - MONAI| ddf {ddf_err:.2e} (up to {ddf_scale:.2} \
             voxels), warped {warped_err:.2e} (values up to {warped_scale:.2})"
        );
        // The fixture's displacements reach several voxels: a wrong component order, padding
        // or grid normalization would be off by far more than this.
        assert!(
            ddf_scale > 2.0,
            "{name}: the fixture's field is too small to test"
        );
        assert!(ddf_err <= 1e-4, "{name}: ddf max error {ddf_err:e}");
        assert!(
            warped_err <= 1e-4,
            "{name}: warped max error {warped_err:e}"
        );
        cases.push(name.to_string());
    }
    assert_eq!(cases, ["default", "small", "direct"]);
}

#[test]
fn voxelmorph_weights_of_another_configuration_are_refused() {
    let device = Device::flex();
    let index = voxelmorph_index();
    let entry = &index["cases"][0];
    let path = fixtures().join(entry["weights"].as_str().unwrap());
    // A fourth level: its layers are missing from the file.
    let deeper = VoxelMorphConfig::new().with_backbone(VoxelMorphUNetConfig {
        channels: vec![16, 32, 32, 32, 32, 32, 32, 32],
        ..VoxelMorphUNetConfig::voxelmorph()
    });
    match load_monai_safetensors(deeper.init(&device).unwrap(), &path) {
        Err(ModelError::MissingWeights { keys, .. }) => assert!(
            keys.iter()
                .all(|k| k.contains("1.submodule.1.submodule.1.submodule.")),
            "{keys:?}"
        ),
        other => panic!("{other:?}"),
    }
    // Strided convolutions instead of pooling: the file's keys sit elsewhere.
    let strided = VoxelMorphConfig::new()
        .with_backbone(VoxelMorphUNetConfig::voxelmorph().with_use_maxpool(false));
    assert!(matches!(
        load_monai_safetensors(strided.init(&device).unwrap(), &path),
        Err(ModelError::MissingWeights { .. } | ModelError::UnexpectedWeights { .. })
    ));
    // Other widths: shapes disagree.
    let wider = VoxelMorphConfig::new().with_backbone(VoxelMorphUNetConfig {
        final_conv_channels: vec![16, 8],
        ..VoxelMorphUNetConfig::voxelmorph()
    });
    assert!(matches!(
        load_monai_safetensors(wider.init(&device).unwrap(), &path),
        Err(ModelError::Weights { .. })
    ));
    // Bad inputs are errors, not panics.
    let model = VoxelMorphConfig::new().init(&device).unwrap();
    let x = |shape: [usize; 5]| Tensor::<5>::zeros(shape, &device);
    for (moving, fixed) in [
        ([1, 1, 16, 16, 20], [1, 1, 16, 16, 20]), // 20 is not divisible by 8
        ([1, 2, 16, 16, 16], [1, 2, 16, 16, 16]), // four channels together
        ([1, 1, 16, 16, 16], [1, 1, 16, 16, 8]),  // shapes differ
        ([1, 1, 0, 16, 16], [1, 1, 0, 16, 16]),   // empty
    ] {
        let e = model.try_forward(x(moving), x(fixed)).unwrap_err();
        assert!(matches!(e, ModelError::InputShape { .. }), "{e}");
    }
}

fn autoencoder_index() -> Value {
    let text = std::fs::read_to_string(fixtures().join("autoencoder.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// MONAI's keyword arguments as our configuration's JSON: the field names are MONAI's, so
/// each argument replaces the field of its name (`act` and `norm` in our serde form).
fn monai_config<C>(base: C, args: &Value) -> C
where
    C: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut value = serde_json::to_value(base).unwrap();
    for (key, arg) in args.as_object().unwrap() {
        let arg = match key.as_str() {
            "act" => serde_json::to_value(monai_layer::<ActConfig>(arg)).unwrap(),
            "norm" => serde_json::to_value(monai_layer::<NormConfig>(arg)).unwrap(),
            _ => arg.clone(),
        };
        assert!(value.get(key).is_some(), "no field {key}");
        value[key] = arg;
    }
    serde_json::from_value(value).unwrap()
}

fn autoencoder_config(args: &Value) -> AutoEncoderConfig {
    let base = AutoEncoderConfig::new(
        args["in_channels"].as_u64().unwrap() as usize,
        args["out_channels"].as_u64().unwrap() as usize,
        usizes(&args["channels"]),
        usizes(&args["strides"]),
    );
    monai_config(base, args)
}

fn var_autoencoder_config(args: &Value) -> VarAutoEncoderConfig {
    let base = VarAutoEncoderConfig::new(
        usizes(&args["in_shape"]),
        args["out_channels"].as_u64().unwrap() as usize,
        args["latent_size"].as_u64().unwrap() as usize,
        usizes(&args["channels"]),
        usizes(&args["strides"]),
    );
    monai_config(base, args)
}

fn autoencoder_file(entry: &Value, part: &str) -> Vec<f32> {
    read_f32(entry["files"][part].as_str().unwrap())
}

#[test]
fn autoencoders_have_monai_parameter_counts() {
    let device = Device::flex();
    let index = autoencoder_index();
    // The defaults the issue names, built from our constructors and from MONAI's arguments.
    let ae = AutoEncoderConfig::new(1, 1, vec![16, 32, 64], vec![2, 2, 2]).with_num_res_units(2);
    let vae =
        VarAutoEncoderConfig::new(vec![1, 64, 64, 64], 1, 64, vec![16, 32, 64], vec![2, 2, 2])
            .with_num_res_units(2);
    let want = [("AutoEncoder", 388_840), ("VarAutoEncoder", 6_713_192)];
    let defaults = index["default_num_params"].as_array().unwrap();
    assert_eq!(defaults.len(), 2);
    for (entry, (constructor, n)) in defaults.iter().zip(want) {
        assert_eq!(entry["constructor"], constructor);
        assert_eq!(
            entry["num_params"].as_u64(),
            Some(n as u64),
            "{constructor}"
        );
        let (from_args, ours) = if constructor == "AutoEncoder" {
            assert_eq!(autoencoder_config(&entry["monai_args"]), ae);
            let s = summary(&ae.init(&device).unwrap());
            (s.total_params, ae.init(&device).unwrap().num_params())
        } else {
            assert_eq!(var_autoencoder_config(&entry["monai_args"]), vae);
            let s = summary(&vae.init(&device).unwrap());
            (s.total_params, vae.init(&device).unwrap().num_params())
        };
        println!("{constructor}: {from_args} parameters");
        assert_eq!((from_args, ours), (n, n), "{constructor}");
    }
    for entry in index["cases"].as_array().unwrap() {
        let args = &entry["monai_args"];
        let params = if entry["constructor"] == "AutoEncoder" {
            summary(&autoencoder_config(args).init(&device).unwrap()).total_params
        } else {
            summary(&var_autoencoder_config(args).init(&device).unwrap()).total_params
        };
        assert_eq!(
            params as u64,
            entry["num_params"].as_u64().unwrap(),
            "{}",
            entry["name"]
        );
    }
}

#[test]
fn autoencoder_key_maps_name_exactly_the_tensors_of_monai_files() {
    let device = Device::flex();
    let mut checked = 0;
    for entry in autoencoder_index()["cases"].as_array().unwrap() {
        let args = &entry["monai_args"];
        let map = if entry["constructor"] == "AutoEncoder" {
            autoencoder_config(args)
                .init(&device)
                .unwrap()
                .monai_key_map()
        } else {
            var_autoencoder_config(args)
                .init(&device)
                .unwrap()
                .monai_key_map()
        };
        let ours: BTreeSet<String> = map.iter().map(|(m, _)| m.clone()).collect();
        assert_eq!(ours.len(), map.len(), "duplicate keys");
        let burn: BTreeSet<&String> = map.iter().map(|(_, b)| b).collect();
        assert_eq!(burn.len(), map.len(), "duplicate paths");
        let file = safetensors_keys(entry["weights"].as_str().unwrap());
        assert_eq!(ours, file, "{}", entry["name"]);
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn loaded_autoencoders_reproduce_monai_outputs() {
    let device = Device::flex();
    let mut cases = Vec::new();
    for entry in autoencoder_index()["cases"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let args = &entry["monai_args"];
        let path = fixtures().join(entry["weights"].as_str().unwrap());
        let shape: [usize; 5] = usizes(&entry["shapes"]["input"]).try_into().unwrap();
        let x = Tensor::<5>::from_data(
            TensorData::new(autoencoder_file(entry, "input"), shape),
            &device,
        );
        // (part, ours, shape) for each output MONAI gave.
        let outputs: Vec<(&str, Vec<usize>, Vec<f32>)> = if entry["constructor"] == "AutoEncoder" {
            let model =
                load_monai_safetensors(autoencoder_config(args).init(&device).unwrap(), &path)
                    .unwrap();
            let y = model.try_forward(x).unwrap();
            vec![(
                "output",
                y.dims().to_vec(),
                y.into_data().try_to_vec::<f32>().unwrap(),
            )]
        } else {
            let model =
                load_monai_safetensors(var_autoencoder_config(args).init(&device).unwrap(), &path)
                    .unwrap();
            let out = model.try_forward(x).unwrap();
            let flat2 = |t: Tensor<2>| {
                (
                    t.dims().to_vec(),
                    t.into_data().try_to_vec::<f32>().unwrap(),
                )
            };
            let (recon_shape, recon) = (
                out.reconstruction.dims().to_vec(),
                out.reconstruction.into_data().try_to_vec::<f32>().unwrap(),
            );
            let (mu_shape, mu) = flat2(out.mu);
            let (logvar_shape, logvar) = flat2(out.logvar);
            let (z_shape, z) = flat2(out.z);
            vec![
                ("output", recon_shape, recon),
                ("mu", mu_shape, mu),
                ("logvar", logvar_shape, logvar),
                ("z", z_shape, z),
            ]
        };
        for (part, dims, got) in outputs {
            assert_eq!(dims, usizes(&entry["shapes"][part]), "{name} {part}");
            let (err, scale) = compare(&got, &autoencoder_file(entry, part));
            println!(
                "autoencoder {name} {part}: max |medburn - MONAI| = {err:.2e} (values up to \
                 {scale:.2})"
            );
            assert!(
                scale > 0.1,
                "{name} {part}: the fixture's values are too small to test"
            );
            assert!(err <= 1e-4, "{name} {part}: max error {err:e}");
        }
        cases.push(name.to_string());
    }
    assert_eq!(cases, ["res", "inter", "pad", "vae", "vae_plain"]);
}

#[test]
fn autoencoder_eval_latent_is_mu_plus_std_as_monai() {
    // MONAI's eval-mode reparameterize returns `std.add_(mu)`; with use_mean_at_inference, mu.
    let index = autoencoder_index();
    for entry in index["cases"].as_array().unwrap() {
        if entry["constructor"] != "VarAutoEncoder" {
            continue;
        }
        let mu = autoencoder_file(entry, "mu");
        let logvar = autoencoder_file(entry, "logvar");
        let z = autoencoder_file(entry, "z");
        let mean_only = entry["monai_args"]
            .get("use_mean_at_inference")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        for i in 0..z.len() {
            let want = if mean_only {
                mu[i]
            } else {
                mu[i] + (0.5 * logvar[i]).exp()
            };
            assert!((z[i] - want).abs() < 1e-5, "{}: {i}", entry["name"]);
        }
    }
}

#[test]
fn autoencoder_weights_of_another_configuration_are_refused() {
    let device = Device::flex();
    let index = autoencoder_index();
    let cases = index["cases"].as_array().unwrap();
    let res = &cases[0];
    let path = fixtures().join(res["weights"].as_str().unwrap());
    let base = || autoencoder_config(&res["monai_args"]);
    // One subunit per encoder unit where the file has two.
    match load_monai_safetensors(base().with_num_res_units(1).init(&device).unwrap(), &path) {
        Err(ModelError::UnexpectedWeights { keys, .. }) => {
            assert!(keys.iter().all(|k| k.contains(".conv.unit1.")), "{keys:?}")
        }
        other => panic!("{other:?}"),
    }
    // An intermediate block the file lacks.
    match load_monai_safetensors(
        base()
            .with_inter_channels(Some(vec![16]))
            .init(&device)
            .unwrap(),
        &path,
    ) {
        Err(ModelError::MissingWeights { keys, .. }) => {
            assert!(
                keys.iter().all(|k| k.starts_with("intermediate.inter_0.")),
                "{keys:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Other widths: shapes disagree.
    assert!(matches!(
        load_monai_safetensors(
            AutoEncoderConfig {
                channels: vec![4, 8, 8],
                ..base()
            }
            .init(&device)
            .unwrap(),
            &path
        ),
        Err(ModelError::Weights { .. })
    ));
    // A VAE's file into its autoencoder: the linear layers have nowhere to go.
    let vae_entry = &cases[3];
    let vae_path = fixtures().join(vae_entry["weights"].as_str().unwrap());
    let vae_args = &vae_entry["monai_args"];
    match load_monai_safetensors(
        var_autoencoder_config(vae_args)
            .autoencoder()
            .init(&device)
            .unwrap(),
        &vae_path,
    ) {
        Err(ModelError::UnexpectedWeights { keys, .. }) => {
            let mut heads: Vec<&str> = keys.iter().map(|k| k.split('.').next().unwrap()).collect();
            heads.sort();
            heads.dedup();
            assert_eq!(heads, ["decodeL", "logvar", "mu"]);
        }
        other => panic!("{other:?}"),
    }
    // A VAE for another input size: the linear layers' shapes disagree.
    assert!(matches!(
        load_monai_safetensors(
            VarAutoEncoderConfig {
                in_shape: vec![1, 32, 16, 16],
                ..var_autoencoder_config(vae_args)
            }
            .init(&device)
            .unwrap(),
            &vae_path
        ),
        Err(ModelError::Weights { .. })
    ));
    // Another latent size.
    assert!(matches!(
        load_monai_safetensors(
            VarAutoEncoderConfig {
                latent_size: 9,
                ..var_autoencoder_config(vae_args)
            }
            .init(&device)
            .unwrap(),
            &vae_path
        ),
        Err(ModelError::Weights { .. })
    ));
    // Bad inputs are errors, not panics.
    let ae = base().init(&device).unwrap();
    let x = |shape: [usize; 5]| Tensor::<5>::zeros(shape, &device);
    for shape in [[1, 2, 16, 8, 24], [1, 1, 0, 8, 8], [0, 1, 8, 8, 8]] {
        let e = ae.try_forward(x(shape)).unwrap_err();
        assert!(matches!(e, ModelError::InputShape { .. }), "{shape:?}: {e}");
    }
    // Explicit zero padding: too small an input vanishes in a layer.
    let pad = autoencoder_config(&cases[2]["monai_args"])
        .init(&device)
        .unwrap();
    assert!(pad.check_input([1, 1, 21, 17, 15]).is_ok());
    let e = pad.try_forward(x([1, 1, 21, 17, 6])).unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
    let vae = var_autoencoder_config(vae_args).init(&device).unwrap();
    for shape in [[1, 1, 16, 16, 8], [1, 2, 16, 16, 16], [0, 1, 16, 16, 16]] {
        let e = vae.try_forward(x(shape)).unwrap_err();
        assert!(matches!(e, ModelError::InputShape { .. }), "{shape:?}: {e}");
    }
    assert!(vae.try_decode(Tensor::<2>::zeros([2, 5], &device)).is_err());
}
