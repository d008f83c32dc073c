//! Every network trains: every parameter gets a gradient, batch norms update their running
//! statistics, and each network overfits one small seeded batch in a few dozen AdamW steps.
//! Also the output shapes of every configuration, the layer summary, and configurations
//! through JSON.

use std::sync::{Mutex, MutexGuard};

use burn::config::Config;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use medburn_models::blocks::{
    ActConfig, AdnConfig, ConvolutionConfig, NormConfig, ResidualUnitConfig,
    TransposedConvolutionConfig,
};
use medburn_models::resnet::ResNetLayerBlock;
use medburn_models::voxelmorph::{VoxelMorphConfig, VoxelMorphUNetConfig};
use medburn_models::{
    kl_divergence, summary, AutoEncoderConfig, ModelError, MonaiKeys, RegressorConfig, ResNet3d,
    ResNetConfig, ShortcutType, UNet3dConfig, VarAutoEncoderConfig,
};

/// Flex's random generator is shared by the tests of this binary, which run on parallel
/// threads, and weights are drawn lazily (at their first use): every test holds this lock
/// from its seed to its end, so that each one draws the same numbers in every run.
static RNG: Mutex<()> = Mutex::new(());

fn seeded(device: &Device, seed: u64) -> MutexGuard<'static, ()> {
    let guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    guard
}

/// Parameter tensors (MONAI keys without the running statistics).
fn num_param_tensors<M: MonaiKeys>(model: &M) -> usize {
    model
        .monai_key_map()
        .iter()
        .filter(|(m, _)| !m.contains("running_"))
        .count()
}

fn random(shape: [usize; 5], device: &Device) -> Tensor<5> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

fn mse<const D: usize>(y: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    (y - target).powi_scalar(2).mean()
}

/// Runs `steps` AdamW steps of `loss(model)` and returns the first and last loss.
fn fit<M, F>(mut model: M, steps: usize, lr: f64, loss: F) -> (f32, f32)
where
    M: Module,
    F: Fn(&M) -> Tensor<1>,
{
    let mut optim: ModuleOptimizer = AdamWConfig::new().with_weight_decay(0.0).init();
    let (mut first, mut last) = (f32::NAN, f32::NAN);
    for step in 0..steps {
        let l = loss(&model);
        let value = l.clone().into_scalar::<f32>();
        if step == 0 {
            first = value;
        }
        last = value;
        let grads = GradientsParams::from_grads(l.backward(), &model);
        model = optim.step(lr, model, grads);
    }
    (first, last)
}

#[test]
fn every_parameter_gets_a_gradient() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 11);
    // ResNet with both shortcut types' blocks (B) and bottlenecks.
    let resnet = ResNetConfig::resnet50(2, 3)
        .with_widen_factor(0.0625)
        .init(&device)
        .unwrap();
    let x = random([2, 2, 8, 8, 8], &device);
    let grads = resnet.forward(x).powi_scalar(2).mean().backward();
    let grads = GradientsParams::from_grads(grads, &resnet);
    assert_eq!(grads.len(), num_param_tensors(&resnet));
    // Shortcut A: no weights in the shortcut; every other tensor learns.
    let resnet = ResNetConfig::resnet18(1, 2)
        .with_widen_factor(0.125)
        .with_shortcut_type(ShortcutType::A)
        .init(&device)
        .unwrap();
    let grads = resnet
        .forward(random([2, 1, 8, 8, 8], &device))
        .powi_scalar(2)
        .mean()
        .backward();
    assert_eq!(
        GradientsParams::from_grads(grads, &resnet).len(),
        num_param_tensors(&resnet)
    );
    // Regressor with residual units, and with batch-normed plain blocks and dropout.
    for config in [
        RegressorConfig::new(vec![1, 8, 8, 8], vec![2], vec![4, 8], vec![2, 2]),
        RegressorConfig::new(vec![2, 8, 6, 4], vec![2, 3], vec![4, 8], vec![2, 1])
            .with_num_res_units(0)
            .with_norm(NormConfig::batch())
            .with_act(ActConfig::leakyrelu())
            .with_dropout(0.1),
    ] {
        let model = config.init(&device).unwrap();
        let shape: [usize; 5] = [
            2,
            config.in_shape[0],
            config.in_shape[1],
            config.in_shape[2],
            config.in_shape[3],
        ];
        let grads = model
            .forward(random(shape, &device))
            .powi_scalar(2)
            .mean()
            .backward();
        assert_eq!(
            GradientsParams::from_grads(grads, &model).len(),
            num_param_tensors(&model)
        );
    }
}

#[test]
fn batch_norm_running_statistics_update_in_training_only() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 3);
    let model = ResNetConfig::resnet10(1, 2)
        .with_widen_factor(0.125)
        .init(&device)
        .unwrap();
    let before = model.bn1.running_mean.value_sync().into_data();
    let x = random([2, 1, 8, 8, 8], &device) + 3.0;
    let _ = model.valid().forward(x.clone().inner());
    assert_eq!(model.bn1.running_mean.value_sync().into_data(), before);
    let _ = model.forward(x);
    let after = model.bn1.running_mean.value_sync();
    assert!(after.abs().max().into_scalar::<f32>() > 1e-3);
}

#[test]
fn unet_overfits_one_batch() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 21);
    let model = UNet3dConfig::new(1, 2, vec![4, 8, 16], vec![2, 2])
        .with_num_res_units(1)
        .init(&device)
        .unwrap();
    // Two noisy balls; the targets are their masks (class 0 inside, class 1 outside).
    let n = 16;
    let mut mask = Vec::with_capacity(2 * n * n * n);
    for centre in [[6.0, 7.0, 8.0], [9.0, 8.0, 6.5]] {
        for z in 0..n {
            for y in 0..n {
                for x in 0..n {
                    let d2: f32 = [z, y, x]
                        .iter()
                        .zip(centre)
                        .map(|(&p, c)| (p as f32 - c).powi(2))
                        .sum();
                    mask.push(if d2 < 4.5f32.powi(2) { 1.0f32 } else { 0.0 });
                }
            }
        }
    }
    let inside = Tensor::<5>::from_data(TensorData::new(mask, [2, 1, n, n, n]), &device);
    let x = inside.clone() * 2.0 - 1.0 + random([2, 1, n, n, n], &device) * 0.3;
    let target = Tensor::cat(vec![inside.clone(), inside.neg() + 1.0], 1);
    let (first, last) = fit(model, 40, 1e-2, |m| {
        mse(m.forward(x.clone()), target.clone())
    });
    println!("unet: loss {first:.4} -> {last:.4}");
    assert!(last < first / 10.0, "{first} -> {last}");
}

#[test]
fn resnet_overfits_one_batch() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 22);
    let model: ResNet3d = ResNetConfig::resnet10(1, 2)
        .with_widen_factor(0.125)
        .init(&device)
        .unwrap();
    let x = random([4, 1, 16, 16, 16], &device);
    let target = Tensor::<2>::random([4, 2], Distribution::Normal(0.0, 1.0), &device);
    let (first, last) = fit(model, 30, 1e-2, |m| {
        mse(m.forward(x.clone()), target.clone())
    });
    println!("resnet: loss {first:.4} -> {last:.4}");
    assert!(last < first / 20.0, "{first} -> {last}");
}

#[test]
fn regressor_overfits_one_batch() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 23);
    let model = RegressorConfig::new(vec![1, 16, 16, 16], vec![1], vec![4, 8, 16], vec![2, 2, 2])
        .init(&device)
        .unwrap();
    let x = random([4, 1, 16, 16, 16], &device);
    let target = Tensor::<2>::random([4, 1], Distribution::Normal(0.0, 1.0), &device);
    let (first, last) = fit(model, 30, 1e-2, |m| {
        mse(m.forward(x.clone()), target.clone())
    });
    println!("regressor: loss {first:.4} -> {last:.4}");
    assert!(last < first / 20.0, "{first} -> {last}");
}

#[test]
fn voxelmorph_gradients_reach_every_parameter() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 31);
    for config in [
        // MONAI's VoxelMorph(): max pooling, LeakyReLU, no norm, seven integration steps.
        VoxelMorphConfig::new(),
        // Strided convolutions, affine instance norm, PReLU, half-resolution integration, two
        // channels per image.
        VoxelMorphConfig::new()
            .with_backbone(
                VoxelMorphUNetConfig::new(4, 8, vec![4, 8, 8, 8], vec![6])
                    .with_use_maxpool(false)
                    .with_norm(NormConfig::Instance {
                        affine: true,
                        eps: 1e-5,
                    })
                    .with_act(ActConfig::prelu())
                    .with_final_conv_act(ActConfig::prelu()),
            )
            .with_half_res(true)
            .with_integration_steps(3),
    ] {
        let model = config.init(&device).unwrap();
        let c = model.image_channels();
        let moving = random([2, c, 8, 8, 16], &device);
        let fixed = random([2, c, 8, 8, 16], &device);
        let (warped, ddf) = model.try_forward(moving, fixed.clone()).unwrap();
        // A registration step's loss: similarity of the warped image plus smoothness.
        let loss = mse(warped, fixed) + ddf.powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        assert_eq!(grads.len(), num_param_tensors(&model));
        assert!(num_param_tensors(&model) >= 14);
    }
}

#[test]
fn voxelmorph_learns_a_shift() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 32);
    let model = VoxelMorphConfig::new()
        .with_backbone(VoxelMorphUNetConfig::new(
            2,
            8,
            vec![8, 16, 16, 16],
            vec![8],
        ))
        .init(&device)
        .unwrap();
    // A smooth blob, and the same blob 1.5 voxels further along W and 1 along D.
    let n = 16;
    let blob = |shift: [f32; 3]| {
        let mut v = Vec::with_capacity(n * n * n);
        for z in 0..n {
            for y in 0..n {
                for x in 0..n {
                    let p = [
                        z as f32 - shift[0],
                        y as f32 - shift[1],
                        x as f32 - shift[2],
                    ];
                    let d2: f32 = p.iter().map(|q| (q - 7.5).powi(2)).sum();
                    v.push((-d2 / 18.0).exp());
                }
            }
        }
        Tensor::<5>::from_data(TensorData::new(v, [1, 1, n, n, n]), &device)
    };
    let (moving, fixed) = (blob([0.0; 3]), blob([1.0, 0.0, 1.5]));
    let (first, last) = fit(model, 40, 3e-3, |m| {
        let (warped, _) = m.forward(moving.clone(), fixed.clone());
        mse(warped, fixed.clone())
    });
    println!("voxelmorph: loss {first:.5} -> {last:.5}");
    assert!(last < first / 4.0, "{first} -> {last}");
}

#[test]
fn output_shapes_of_every_configuration() {
    let device = Device::flex();
    let _rng = seeded(&device, 5);
    // Every ResNet depth (reduced widths), with and without fc, both shortcuts, stems.
    let depths = [
        (ResNetConfig::resnet10(1, 2), 64),
        (ResNetConfig::resnet18(1, 2), 64),
        (ResNetConfig::resnet34(1, 2), 64),
        (ResNetConfig::resnet50(1, 2), 256),
        (ResNetConfig::resnet101(1, 2), 256),
        (ResNetConfig::resnet152(1, 2), 256),
        (ResNetConfig::resnet200(1, 2), 256),
    ];
    for (config, features) in depths {
        let config = config.with_block_inplanes(vec![2, 4, 8, 16]);
        let x = random([2, 1, 9, 8, 7], &device);
        let model = config.init(&device).unwrap();
        assert_eq!(model.forward(x.clone()).dims(), [2, 2]);
        let features_only = config.clone().with_feed_forward(false);
        assert_eq!(features_only.out_features(), features / 4);
        let model = features_only
            .with_shortcut_type(ShortcutType::A)
            .with_no_max_pool(true)
            .with_conv1_t_size(3)
            .with_conv1_t_stride(2)
            .init(&device)
            .unwrap();
        assert_eq!(model.forward(x).dims(), [2, features / 4]);
    }
    // Block counts per layer.
    let model = ResNetConfig::resnet34(1, 2)
        .with_widen_factor(0.0625)
        .init(&device)
        .unwrap();
    let counts: Vec<usize> = [&model.layer1, &model.layer2, &model.layer3, &model.layer4]
        .iter()
        .map(|l| l.len())
        .collect();
    assert_eq!(counts, [3, 4, 6, 3]);
    assert!(matches!(model.layer1[0], ResNetLayerBlock::Basic(_)));
    // Regressors: output [N, prod(out_shape)] for odd sizes and strides.
    for (in_shape, strides, res) in [
        (vec![1, 9, 7, 5], vec![2, 2], 2),
        (vec![3, 8, 8, 8], vec![1, 2], 0),
        (vec![2, 5, 12, 3], vec![3, 1], 1),
    ] {
        let config = RegressorConfig::new(in_shape.clone(), vec![2, 2], vec![4, 6], strides)
            .with_num_res_units(res);
        let model = config.init(&device).unwrap();
        let x = random(
            [3, in_shape[0], in_shape[1], in_shape[2], in_shape[3]],
            &device,
        );
        assert_eq!(model.try_forward(x).unwrap().dims(), [3, 4]);
    }
    // U-Nets: the input size back, for plain and residual layers, several strides.
    for (res, strides) in [(0, vec![2, 2]), (2, vec![2, 1]), (1, vec![1, 2])] {
        let model = UNet3dConfig::new(2, 3, vec![4, 8, 16], strides)
            .with_num_res_units(res)
            .init(&device)
            .unwrap();
        assert_eq!(
            model
                .try_forward(random([1, 2, 8, 4, 12], &device))
                .unwrap()
                .dims(),
            [1, 3, 8, 4, 12]
        );
    }
    // Blocks with per-axis sizes.
    let conv = ConvolutionConfig::new(2, 4)
        .with_strides([1, 2, 2])
        .with_kernel_size([1, 3, 5])
        .init(&device)
        .unwrap();
    assert_eq!(
        conv.forward(random([1, 2, 5, 8, 8], &device)).dims(),
        [1, 4, 5, 4, 4]
    );
    let up = TransposedConvolutionConfig::new(4, 2)
        .with_strides([1, 2, 2])
        .init(&device)
        .unwrap();
    assert_eq!(
        up.forward(random([1, 4, 5, 4, 4], &device)).dims(),
        [1, 2, 5, 8, 8]
    );
    let unit = ResidualUnitConfig::new(2, 2)
        .with_dilation([2; 3])
        .with_norm(NormConfig::batch())
        .init(&device)
        .unwrap();
    assert!(unit.residual.is_none());
    assert_eq!(
        unit.forward(random([1, 2, 6, 6, 6], &device)).dims(),
        [1, 2, 6, 6, 6]
    );
}

#[test]
fn wrong_inputs_are_refused_with_an_error() {
    let device = Device::flex();
    let _rng = seeded(&device, 6);
    let resnet = ResNetConfig::resnet10(2, 2)
        .with_widen_factor(0.125)
        .init(&device)
        .unwrap();
    assert!(matches!(
        resnet.try_forward(random([1, 1, 8, 8, 8], &device)),
        Err(ModelError::InputShape { .. })
    ));
    let regressor = RegressorConfig::new(vec![1, 8, 8, 8], vec![1], vec![4], vec![2])
        .init(&device)
        .unwrap();
    for shape in [[1, 1, 8, 8, 9], [1, 2, 8, 8, 8], [0, 1, 8, 8, 8]] {
        let err = regressor
            .try_forward(Tensor::zeros(shape, &device))
            .unwrap_err();
        assert!(matches!(err, ModelError::InputShape { .. }), "{shape:?}");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}

#[test]
fn invalid_configurations_are_refused() {
    let device = Device::flex();
    let _rng = seeded(&device, 7);
    let resnet = || ResNetConfig::resnet18(1, 2);
    for bad in [
        ResNetConfig {
            layers: vec![1, 1],
            ..resnet()
        },
        resnet().with_block_inplanes(vec![8, 8, 8]),
        resnet().with_widen_factor(0.0),
        resnet().with_widen_factor(0.001),
        resnet().with_n_input_channels(0),
        resnet().with_conv1_t_size(0),
        resnet().with_num_classes(0),
        resnet()
            .with_shortcut_type(ShortcutType::A)
            .with_block_inplanes(vec![64, 32, 32, 32]),
    ] {
        assert!(
            matches!(bad.init(&device), Err(ModelError::InvalidConfig(_))),
            "{bad}"
        );
    }
    let reg = || RegressorConfig::new(vec![1, 8, 8, 8], vec![1], vec![4, 8], vec![2, 2]);
    for bad in [
        RegressorConfig {
            in_shape: vec![1, 8, 8],
            ..reg()
        },
        RegressorConfig {
            in_shape: vec![1, 8, 0, 8],
            ..reg()
        },
        RegressorConfig {
            out_shape: vec![],
            ..reg()
        },
        RegressorConfig {
            channels: vec![],
            ..reg()
        },
        RegressorConfig {
            strides: vec![2],
            ..reg()
        },
        RegressorConfig {
            strides: vec![2, 0],
            ..reg()
        },
        reg().with_kernel_size(2),
        reg().with_dropout(1.5),
        reg().with_act(ActConfig::PRelu {
            num_parameters: 3,
            init: 0.25,
        }),
        reg().with_norm(NormConfig::Batch {
            eps: -1.0,
            momentum: 0.1,
        }),
    ] {
        assert!(
            matches!(bad.init(&device), Err(ModelError::InvalidConfig(_))),
            "{bad}"
        );
    }
    assert!(ConvolutionConfig::new(1, 2)
        .with_strides([1, 0, 1])
        .init(&device)
        .is_err());
    assert!(AdnConfig::new(2)
        .with_ordering("AA".into())
        .init(&device)
        .is_err());
    assert!(TransposedConvolutionConfig::new(2, 2)
        .with_strides([2; 3])
        .with_output_padding(Some([2; 3]))
        .init(&device)
        .is_err());
}

#[test]
fn configurations_round_trip_through_json() {
    let dir = std::env::temp_dir().join(format!("medburn-model-configs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let resnet = ResNetConfig::resnet50(2, 7)
        .with_shortcut_type(ShortcutType::A)
        .with_widen_factor(0.5)
        .with_no_max_pool(true);
    resnet.save(dir.join("resnet.json")).unwrap();
    assert_eq!(ResNetConfig::load(dir.join("resnet.json")).unwrap(), resnet);
    let reg = RegressorConfig::new(vec![1, 8, 8, 8], vec![2], vec![4], vec![2])
        .with_act(ActConfig::LeakyRelu {
            negative_slope: 0.2,
        })
        .with_norm(NormConfig::Instance {
            affine: true,
            eps: 1e-3,
        });
    reg.save(dir.join("regressor.json")).unwrap();
    assert_eq!(
        RegressorConfig::load(dir.join("regressor.json")).unwrap(),
        reg
    );
    let unet = UNet3dConfig::new(1, 2, vec![4, 8], vec![2])
        .with_norm(NormConfig::batch())
        .with_act(ActConfig::Relu);
    unet.save(dir.join("unet.json")).unwrap();
    assert_eq!(UNet3dConfig::load(dir.join("unet.json")).unwrap(), unet);
    let text = std::fs::read_to_string(dir.join("unet.json")).unwrap();
    assert!(
        text.contains("\"batch\"") && text.contains("\"relu\""),
        "{text}"
    );
    let block = ResidualUnitConfig::new(1, 2).with_padding(Some([2, 1, 0]));
    block.save(dir.join("unit.json")).unwrap();
    assert_eq!(
        ResidualUnitConfig::load(dir.join("unit.json")).unwrap(),
        block
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn summary_lists_layers_and_counts_as_torch() {
    let device = Device::flex();
    let _rng = seeded(&device, 8);
    let model = ResNetConfig::resnet10(1, 2)
        .with_widen_factor(0.125)
        .init(&device)
        .unwrap();
    let s = summary(&model);
    // Burn counts the running statistics as parameters; torch (and the summary) does not.
    assert_eq!(model.num_params(), s.total_params + s.total_buffers);
    assert_eq!(s.layers[0].path, "conv1");
    assert_eq!(s.layers[0].kind, "Conv3d");
    assert_eq!(s.layers[0].params[0].shape, vec![8, 1, 7, 7, 7]);
    let fc = s.layers.last().unwrap();
    assert_eq!(
        (fc.path.as_str(), fc.kind.as_str(), fc.num_params),
        ("fc", "Linear", 64 * 2 + 2)
    );
    assert!(s
        .layers
        .iter()
        .any(|l| l.path == "layer2.0.Basic.downsample.B.conv"));
    assert_eq!(
        s.layers.iter().map(|l| l.num_params).sum::<usize>(),
        s.total_params
    );
    // One row per layer with tensors: convolutions and batch norms, and fc.
    let convs = s.layers.iter().filter(|l| l.kind == "Conv3d").count();
    let norms = s.layers.iter().filter(|l| l.kind == "BatchNorm").count();
    assert_eq!(
        (convs, norms, s.layers.len()),
        (1 + 4 * 2 + 3, 1 + 4 * 2 + 3, 25)
    );
    let json = serde_json::to_string(&s).unwrap();
    let back: medburn_models::ModelSummary = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let table = s.to_string();
    assert!(table.contains("layer1.0.Basic.conv1") && table.contains("total parameters: "));
}

/// Smooth blobs in `[0, 1]`, one per sample, `[n, 1, size, size, size]`.
fn blobs(n: usize, size: usize, device: &Device) -> Tensor<5> {
    let mut v = Vec::with_capacity(n * size * size * size);
    for b in 0..n {
        let centre = [5.0 + b as f32 * 3.0, 8.0, 9.0 - b as f32 * 2.0];
        for z in 0..size {
            for y in 0..size {
                for x in 0..size {
                    let d2: f32 = [z, y, x]
                        .iter()
                        .zip(centre)
                        .map(|(&p, c)| (p as f32 - c).powi(2))
                        .sum();
                    v.push((-d2 / 12.0).exp());
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [n, 1, size, size, size]), device)
}

#[test]
fn autoencoders_get_gradients_in_every_parameter() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 41);
    // Residual units, and plain blocks with a dilated intermediate section of residual units.
    for config in [
        AutoEncoderConfig::new(1, 2, vec![4, 8], vec![2, 2]).with_num_res_units(2),
        AutoEncoderConfig::new(2, 1, vec![4, 8], vec![2, 1])
            .with_inter_channels(Some(vec![6, 8]))
            .with_inter_dilations(Some(vec![1, 2])),
    ] {
        let model = config.init(&device).unwrap();
        let x = random([2, config.in_channels, 8, 8, 8], &device);
        let loss = model.try_forward(x).unwrap().powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        assert_eq!(grads.len(), num_param_tensors(&model));
    }
    let vae = VarAutoEncoderConfig::new(vec![1, 8, 8, 8], 1, 4, vec![4, 8], vec![2, 2])
        .with_num_res_units(1)
        .init(&device)
        .unwrap();
    let out = vae.try_forward(random([2, 1, 8, 8, 8], &device)).unwrap();
    let loss = out.reconstruction.mean() + kl_divergence(out.mu, out.logvar);
    let grads = GradientsParams::from_grads(loss.backward(), &vae);
    assert_eq!(grads.len(), num_param_tensors(&vae));
    // Encoder units 2 x (conv, PReLU, residual conv), decoder 2 x (transposed conv, PReLU,
    // conv) with the last conv alone, three linear layers: weights and biases.
    assert_eq!(num_param_tensors(&vae), 5 + 5 + 6 + 5 + 6);
}

#[test]
fn autoencoder_overfits_one_batch() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 42);
    let model = AutoEncoderConfig::new(1, 1, vec![4, 8, 16], vec![2, 2, 2])
        .with_num_res_units(1)
        .init(&device)
        .unwrap();
    let x = blobs(2, 16, &device);
    let (first, last) = fit(model, 40, 1e-2, |m| mse(m.forward(x.clone()), x.clone()));
    println!("autoencoder: loss {first:.5} -> {last:.5}");
    assert!(last < first / 10.0, "{first} -> {last}");
}

#[test]
fn var_autoencoder_overfits_one_batch() {
    let device = Device::flex().autodiff();
    let _rng = seeded(&device, 43);
    let model = VarAutoEncoderConfig::new(vec![1, 16, 16, 16], 1, 8, vec![4, 8, 16], vec![2, 2, 2])
        .with_num_res_units(1)
        .init(&device)
        .unwrap();
    let x = blobs(2, 16, &device);
    // Training mode (autodiff): z is drawn around mu, from the seeded generator.
    let (first, last) = fit(model, 40, 1e-2, |m| {
        let out = m.forward(x.clone());
        mse(out.reconstruction, x.clone()) + kl_divergence(out.mu, out.logvar) * 1e-4
    });
    println!("vae: loss {first:.5} -> {last:.5}");
    assert!(last < first / 5.0, "{first} -> {last}");
}
