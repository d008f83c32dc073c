//! The training loop's hooks, through the library: the gradient-sync hook is called once per
//! optimizer step with every parameter, gradient accumulation and clipping run, and an
//! interrupter stops a run with a checkpoint that resumes to the end.

use std::path::Path;

use burn::optim::GradientsParams;
use medburn_datasets::synth::{write_msd_dataset, SynthConfig};
use medburn_train::{
    train, train_with_sync, GradientSync, Interrupter, ParamList, TaskKind, TrainConfig,
    TrainOptions,
};

fn data(dir: &Path) {
    let config = SynthConfig {
        size: 16,
        seed: 4,
        ..SynthConfig::default()
    };
    write_msd_dataset(dir, &config, 5, 0, &mut |_, _| {}).unwrap();
}

/// A regression on a 16^3 grid with a two-layer Regressor.
fn tiny(dir: &Path, out: &str) -> TrainConfig {
    let mut c = TrainConfig::for_task(TaskKind::Regress);
    c.data.dir = dir.join("data");
    c.out = dir.join(out);
    for s in [
        "data.channels=[\"T1\"]",
        "data.preprocess.size=[16,16,16]",
        "data.preprocess.spacing=[14.0,14.0,14.0]",
        "data.patch.patch_size=[16,16,16]",
        "data.val_cases=2",
        "data.batch_size=1",
        "model.name=regressor",
        "model.channels=[4,8]",
        "model.strides=[2,2]",
        "optim.steps=6",
        "optim.steps_per_epoch=3",
        "optim.warmup_steps=1",
        "validation.every=3",
    ] {
        c.set(s).unwrap();
    }
    c
}

/// Records each call and the gradients it saw.
#[derive(Default)]
struct Recorder {
    steps: Vec<u64>,
    params: Vec<usize>,
    grads: Vec<usize>,
}

impl GradientSync for Recorder {
    fn sync(
        &mut self,
        step: u64,
        grads: &mut GradientsParams,
        params: &ParamList,
    ) -> medburn_train::Result<()> {
        self.steps.push(step);
        self.params.push(params.ids.len());
        self.grads.push(grads.len());
        Ok(())
    }
}

#[test]
fn the_sync_hook_sees_every_step_and_parameter_with_accumulation_and_clipping() {
    let dir = tempfile::tempdir().unwrap();
    data(&dir.path().join("data"));
    let mut config = tiny(dir.path(), "run");
    config.optim.accumulate = 2;
    config.optim.clip_grad_norm = Some(0.5);
    let mut recorder = Recorder::default();
    let summary = train_with_sync(config, &TrainOptions::default(), &mut recorder).unwrap();
    assert_eq!(summary.steps, 6);
    assert_eq!(recorder.steps, vec![0, 1, 2, 3, 4, 5]);
    // Every parameter has its gradient when the hook runs (none missing, none extra).
    assert!(recorder.params[0] > 10);
    assert!(recorder.params.iter().all(|&p| p == recorder.params[0]));
    assert_eq!(recorder.grads, recorder.params);
    // One logged loss per optimizer step, not per micro-batch.
    let log = std::fs::read_to_string(dir.path().join("run/metrics.jsonl")).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\"train\"")).count(), 6);
}

#[test]
fn an_interrupted_run_stops_with_a_checkpoint_and_resumes_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    data(&dir.path().join("data"));
    let stop = Interrupter::new();
    stop.stop(); // set before the first step: the run stops after it
    let options = TrainOptions {
        interrupter: stop,
        ..Default::default()
    };
    let first = train(tiny(dir.path(), "run"), &options).unwrap();
    assert!(first.interrupted);
    assert_eq!(first.steps, 1);
    assert!(first.checkpoint.ends_with("step-000001"));
    assert!(first.test.is_none());
    let resumed = train(
        TrainConfig::default(), // ignored: a resumed run takes its checkpoint's configuration
        &TrainOptions {
            resume: Some(dir.path().join("run")),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!resumed.interrupted);
    assert_eq!(resumed.steps, 6);
    assert_eq!(resumed.task, TaskKind::Regress);
    assert!(resumed.best.is_some());
}
