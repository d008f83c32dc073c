//! Patches to the training device: the prepared cases as a Burn [`Dataset`], a Burn [`Batcher`]
//! that cuts patches and makes tensors on the device, and [`PatchLoader`], which runs the draws
//! and the batcher on a worker thread a few steps ahead of training.
//!
//! Every random choice of step `s` comes from its own RNG stream (ChaCha8, stream `s` of the
//! run's seed), so a batch depends only on the seed and the step: resuming at step `s` gives
//! the batches an uninterrupted run would have had, and no loader state needs saving.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{DatasetError, Result};
use crate::patch::{cut_patch, PatchDraw, PatchSampler};
use crate::preprocess::PreparedCase;

/// The prepared cases, cached in host memory, as a Burn dataset.
///
/// ```
/// use burn::data::dataset::Dataset;
/// use medburn_core::Geometry;
/// use medburn_datasets::{CaseCache, PreparedCase};
/// let g = Geometry::unit([2, 2, 2])?;
/// let case = PreparedCase { id: "a".into(), channels: 1, image: vec![0.0; 8], label: None, targets: vec![], geometry: g, source_geometry: g };
/// let cache = CaseCache::new(vec![case]);
/// assert_eq!(cache.len(), 1);
/// assert_eq!(cache.get(0).unwrap().id, "a");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct CaseCache {
    cases: Vec<Arc<PreparedCase>>,
}

impl CaseCache {
    /// Caches `cases`.
    pub fn new(cases: Vec<PreparedCase>) -> CaseCache {
        CaseCache {
            cases: cases.into_iter().map(Arc::new).collect(),
        }
    }

    /// The cached cases.
    pub fn cases(&self) -> &[Arc<PreparedCase>] {
        &self.cases
    }
}

impl Dataset<Arc<PreparedCase>, DatasetError> for CaseCache {
    fn get(&self, index: usize) -> Result<Arc<PreparedCase>> {
        self.cases
            .get(index)
            .cloned()
            .ok_or_else(|| DatasetError::Invalid(format!("case {index} of {}", self.cases.len())))
    }

    fn len(&self) -> usize {
        self.cases.len()
    }
}

/// One patch to cut: a case and where.
#[derive(Clone, Debug)]
pub struct PatchItem {
    /// The case.
    pub case: Arc<PreparedCase>,
    /// Where its patch starts.
    pub draw: PatchDraw,
}

/// A batch on the training device: image `[N, C, D, H, W]`, the label map `[N, 1, D, H, W]`
/// (class indices) where the cases have label maps, and the per-case targets `[N, T]` where
/// they have targets.
#[derive(Clone, Debug)]
pub struct PatchBatch {
    /// Image patches.
    pub image: Tensor<5>,
    /// Label patches (cases with label maps).
    pub label: Option<Tensor<5, Int>>,
    /// Targets (cases with targets: a standardized age, a class index, ...).
    pub targets: Option<Tensor<2>>,
    /// Which case each sample was cut from (indices into the loader's cases).
    pub cases: Vec<usize>,
}

/// Cuts patches and stacks them into a [`PatchBatch`] on the device.
///
/// ```
/// use std::sync::Arc;
/// use burn::data::dataloader::batcher::Batcher;
/// use medburn_core::{Device, Geometry};
/// use medburn_datasets::{PatchBatcher, PatchDraw, PatchItem, PreparedCase};
/// let g = Geometry::unit([4, 4, 4])?;
/// let case = Arc::new(PreparedCase { id: "a".into(), channels: 2, image: vec![1.0; 128], label: Some(vec![3; 64]), targets: vec![], geometry: g, source_geometry: g });
/// let item = PatchItem { case, draw: PatchDraw { case: 0, start: [0, 0, 0] } };
/// let b = PatchBatcher { patch_size: [2, 3, 4] }.batch(vec![item.clone(), item], &Device::flex());
/// assert_eq!(b.image.dims(), [2, 2, 4, 3, 2]);
/// assert_eq!(b.label.unwrap().dims(), [2, 1, 4, 3, 2]);
/// assert!(b.targets.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PatchBatcher {
    /// Patch size along i, j, k.
    pub patch_size: [usize; 3],
}

impl Batcher<PatchItem, PatchBatch> for PatchBatcher {
    fn batch(&self, items: Vec<PatchItem>, device: &Device) -> PatchBatch {
        let [d, h, w] = medburn_core::ijk_to_dhw(self.patch_size);
        let n = items.len();
        let channels = items.first().map_or(1, |i| i.case.channels);
        let labelled = items.iter().all(|i| i.case.label.is_some());
        let t = items.first().map_or(0, |i| i.case.targets.len());
        let (mut image, mut label, mut targets) = (Vec::new(), Vec::new(), Vec::<f32>::new());
        for item in &items {
            cut_patch(
                &item.case,
                &item.draw,
                self.patch_size,
                &mut image,
                &mut label,
            );
            if item.case.label.is_none() {
                label.extend(std::iter::repeat_n(0, w * h * d));
            }
            // The loader checks that every case has as many targets.
            targets.extend(
                item.case
                    .targets
                    .iter()
                    .chain(std::iter::repeat(&0.0))
                    .take(t),
            );
        }
        PatchBatch {
            image: Tensor::from_data(TensorData::new(image, [n, channels, d, h, w]), device),
            label: labelled
                .then(|| Tensor::from_data(TensorData::new(label, [n, 1, d, h, w]), device)),
            targets: (t > 0).then(|| Tensor::from_data(TensorData::new(targets, [n, t]), device)),
            cases: items.iter().map(|i| i.draw.case).collect(),
        }
    }
}

/// The RNG of step `step` of a run seeded with `seed`: its own ChaCha8 stream, for the patch
/// draws and (in the training loop) the augmentation parameters.
///
/// ```
/// use rand::Rng;
/// let a: u64 = medburn_datasets::step_rng(1, 5).random();
/// let b: u64 = medburn_datasets::step_rng(1, 5).random();
/// assert_eq!(a, b);
/// ```
pub fn step_rng(seed: u64, step: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(step);
    rng
}

/// The draws of one step: `batch_size` patches, each from a uniformly drawn case.
///
/// ```
/// # use medburn_core::Geometry;
/// # use medburn_datasets::{draw_step, PatchSampler, PreparedCase};
/// let g = Geometry::unit([8, 8, 8])?;
/// let case = PreparedCase { id: "a".into(), channels: 1, image: vec![0.0; 512], label: Some(vec![0; 512]), targets: vec![], geometry: g, source_geometry: g };
/// let s = PatchSampler { patch_size: [4, 4, 4], ..Default::default() };
/// let draws = draw_step(&[case.into()], &s, 2, &mut medburn_datasets::step_rng(0, 0));
/// assert_eq!(draws.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn draw_step<R: Rng + ?Sized>(
    cases: &[Arc<PreparedCase>],
    sampler: &PatchSampler,
    batch_size: usize,
    rng: &mut R,
) -> Vec<PatchDraw> {
    (0..batch_size)
        .map(|_| {
            let index = rng.random_range(0..cases.len());
            sampler.sample(&cases[index], index, rng)
        })
        .collect()
}

/// Batches for steps `start, start + 1, ...` made on a worker thread, at most `prefetch`
/// ahead (so host memory stays bounded), each with the step's RNG left over for augmentation.
pub struct PatchLoader {
    receiver: Receiver<(u64, PatchBatch, ChaCha8Rng)>,
    worker: Option<JoinHandle<()>>,
}

impl PatchLoader {
    /// Starts the worker. The cases must be alike: all with label maps or none, and as many
    /// targets each.
    ///
    /// ```
    /// use medburn_core::{Device, Geometry};
    /// use medburn_datasets::{CaseCache, PatchLoader, PatchSampler, PreparedCase};
    /// let g = Geometry::unit([8, 8, 8])?;
    /// let case = PreparedCase { id: "a".into(), channels: 1, image: vec![0.0; 512], label: Some(vec![1; 512]), targets: vec![], geometry: g, source_geometry: g };
    /// let s = PatchSampler { patch_size: [4, 4, 4], ..Default::default() };
    /// let mut loader = PatchLoader::start(&CaseCache::new(vec![case]), s, 2, 7, 10, 2, Device::flex())?;
    /// let (step, batch, _rng) = loader.next().unwrap();
    /// assert_eq!(step, 10);
    /// assert_eq!(batch.image.dims(), [2, 1, 4, 4, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(
        cases: &CaseCache,
        sampler: PatchSampler,
        batch_size: usize,
        seed: u64,
        start_step: u64,
        prefetch: usize,
        device: Device,
    ) -> Result<PatchLoader> {
        sampler.validate()?;
        if batch_size == 0 {
            return Err(DatasetError::Invalid(
                "batch size must be at least 1".into(),
            ));
        }
        if cases.cases().is_empty() {
            return Err(DatasetError::Invalid(
                "no cases to draw patches from".into(),
            ));
        }
        let first = &cases.cases()[0];
        if let Some(c) = cases
            .cases()
            .iter()
            .find(|c| c.label.is_some() != first.label.is_some())
        {
            let (with, without) = if c.label.is_some() {
                (&c.id, &first.id)
            } else {
                (&first.id, &c.id)
            };
            return Err(DatasetError::Case {
                case: without.clone(),
                message: format!("has no label map, but case {with} has one"),
            });
        }
        if let Some(c) = cases
            .cases()
            .iter()
            .find(|c| c.targets.len() != first.targets.len())
        {
            return Err(DatasetError::Case {
                case: c.id.clone(),
                message: format!(
                    "has {} targets, case {} has {}",
                    c.targets.len(),
                    first.id,
                    first.targets.len()
                ),
            });
        }
        let cases: Vec<Arc<PreparedCase>> = cases.cases().to_vec();
        let (sender, receiver) = sync_channel(prefetch.max(1));
        let batcher = PatchBatcher {
            patch_size: sampler.patch_size,
        };
        let worker = std::thread::spawn(move || {
            for step in start_step.. {
                let mut rng = step_rng(seed, step);
                let items = draw_step(&cases, &sampler, batch_size, &mut rng)
                    .into_iter()
                    .map(|draw| PatchItem {
                        case: cases[draw.case].clone(),
                        draw,
                    })
                    .collect();
                let batch = batcher.batch(items, &device);
                if sender.send((step, batch, rng)).is_err() {
                    return; // the loader was dropped
                }
            }
        });
        Ok(PatchLoader {
            receiver,
            worker: Some(worker),
        })
    }
}

impl Iterator for PatchLoader {
    type Item = (u64, PatchBatch, ChaCha8Rng);

    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.recv().ok()
    }
}

impl Drop for PatchLoader {
    fn drop(&mut self) {
        // Unblock the worker's send by dropping the receiver first, then wait for it.
        let (_, dead) = sync_channel(1);
        drop(std::mem::replace(&mut self.receiver, dead));
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medburn_core::Geometry;

    fn cache() -> CaseCache {
        let g = Geometry::unit([10, 9, 8]).unwrap();
        let label: Vec<u8> = (0..720).map(|k| (k % 7 == 0) as u8).collect();
        CaseCache::new(vec![
            PreparedCase {
                id: "a".into(),
                channels: 2,
                image: (0..1440).map(|v| v as f32).collect(),
                label: Some(label.clone()),
                targets: vec![],
                geometry: g,
                source_geometry: g,
            },
            PreparedCase {
                id: "b".into(),
                channels: 2,
                image: (0..1440).map(|v| -(v as f32)).collect(),
                label: Some(label),
                targets: vec![],
                geometry: g,
                source_geometry: g,
            },
        ])
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec().unwrap()
    }

    #[test]
    fn a_resumed_loader_gives_the_same_batches() {
        let s = PatchSampler {
            patch_size: [4, 5, 3],
            pos: 1.0,
            neg: 1.0,
        };
        let run = |start: u64, n: usize| {
            PatchLoader::start(&cache(), s.clone(), 3, 11, start, 2, Device::flex())
                .unwrap()
                .take(n)
                .map(|(step, b, _)| (step, values(b.image), values(b.label.unwrap().float())))
                .collect::<Vec<_>>()
        };
        let whole = run(0, 6);
        let resumed = run(4, 2);
        assert_eq!(&whole[4..], &resumed[..]);
        assert_ne!(whole[0].1, whole[1].1);
    }

    #[test]
    fn mixed_cases_and_empty_sets_are_refused_and_targets_travel() {
        let s = PatchSampler {
            patch_size: [2, 2, 2],
            ..Default::default()
        };
        let g = Geometry::unit([2, 2, 2]).unwrap();
        let case = |id: &str, label: Option<Vec<u8>>, targets: Vec<f32>| PreparedCase {
            id: id.into(),
            channels: 1,
            image: vec![0.0; 8],
            label,
            targets,
            geometry: g,
            source_geometry: g,
        };
        let mixed = CaseCache::new(vec![
            case("a", Some(vec![1; 8]), vec![]),
            case("t", None, vec![]),
        ]);
        let e = PatchLoader::start(&mixed, s.clone(), 1, 0, 0, 1, Device::flex())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("case t") && e.contains("no label map"), "{e}");
        let uneven = CaseCache::new(vec![case("a", None, vec![1.0]), case("b", None, vec![])]);
        let e = PatchLoader::start(&uneven, s.clone(), 1, 0, 0, 1, Device::flex())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("case b") && e.contains("0 targets"), "{e}");
        // Unlabelled cases with targets: whole volumes and their targets, no label batch.
        let scalar = CaseCache::new(vec![
            case("a", None, vec![1.5, -2.0]),
            case("b", None, vec![3.0, 4.0]),
        ]);
        let (_, batch, _) = PatchLoader::start(&scalar, s.clone(), 4, 0, 0, 1, Device::flex())
            .unwrap()
            .next()
            .unwrap();
        assert!(batch.label.is_none());
        let t = values(batch.targets.unwrap());
        for (n, &c) in batch.cases.iter().enumerate() {
            assert_eq!(&t[2 * n..2 * n + 2], &scalar.cases()[c].targets[..]);
        }
        assert!(
            PatchLoader::start(&CaseCache::default(), s.clone(), 1, 0, 0, 1, Device::flex())
                .is_err()
        );
        assert!(PatchLoader::start(&cache(), s, 0, 0, 0, 1, Device::flex()).is_err());
    }
}
