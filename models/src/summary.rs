//! A layer table of any Burn module: [`summary`] -> [`ModelSummary`].
//!
//! Built with Burn's module visitor (`burn::module::ModuleVisitor`): `Module::visit` walks the
//! module tree and calls `enter_module(field, container)` and `exit_module` around every
//! field that is a module (`container` is the type holding the field, `"Struct:Conv3d"`,
//! `"Enum:Norm"`, `"Vec"`), and `visit_float` at every float tensor. The summary keeps the
//! stack of entered names: at a tensor, the stack without its last name is the path of the
//! layer that owns it (the same path as Burn's records and burn-store's snapshots), and the
//! container of its last name is the layer's type. `Option` fields enter nothing, so an
//! absent layer has no row; layers without tensors (ReLU, dropout, pooling) are not visited at
//! tensors and have no row either. Shapes are read with `Param::lazy_shape`, so a model whose
//! weights are not yet initialized stays so.
//!
//! Burn's `RunningState` tensors (a batch norm's `running_mean` and `running_var`) are
//! visited like parameters; the summary lists them apart as buffers (fields named
//! `running_*`), so that [`ModelSummary::total_params`] counts what PyTorch's
//! `sum(p.numel() for p in net.parameters())` counts, where Burn's `Module::num_params` also
//! counts the running statistics.

use std::fmt;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// One tensor of a layer: its name (the field, `weight`, `gamma`, `running_mean`) and shape.
///
/// ```
/// use medburn_models::TensorSummary;
/// let t = TensorSummary { name: "weight".into(), shape: vec![8, 1, 3, 3, 3] };
/// assert_eq!(t.num_elements(), 216);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TensorSummary {
    /// The tensor's field name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
}

impl TensorSummary {
    /// The number of elements.
    ///
    /// ```
    /// let t = medburn_models::TensorSummary { name: "bias".into(), shape: vec![8] };
    /// assert_eq!(t.num_elements(), 8);
    /// ```
    pub fn num_elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// One layer: a module that owns tensors directly.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{summary, ResNetConfig};
///
/// let model = ResNetConfig::resnet10(1, 2).with_widen_factor(0.125).init(&Device::flex())?;
/// let bn1 = &summary(&model).layers[1];
/// assert_eq!((bn1.path.as_str(), bn1.kind.as_str()), ("bn1", "BatchNorm"));
/// assert_eq!(bn1.num_params, 16); // gamma and beta
/// assert_eq!(bn1.buffers.len(), 2); // running_mean and running_var
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LayerSummary {
    /// The layer's path in the module (Burn's record path; enum variants included), empty for
    /// the module itself.
    pub path: String,
    /// The layer's type (`Conv3d`, `BatchNorm`, `Linear`, `PRelu`, ...).
    pub kind: String,
    /// Its parameters.
    pub params: Vec<TensorSummary>,
    /// Its buffers (running statistics): state that is saved but not trained.
    pub buffers: Vec<TensorSummary>,
    /// Elements in its parameters.
    pub num_params: usize,
}

/// The layers of a module, in visiting order (the order of the fields), and the totals.
/// Serializable (`serde_json::to_string(&summary)`); `Display` prints a table.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{summary, UNet3dConfig};
///
/// let model = UNet3dConfig::new(1, 2, vec![16, 32, 64, 128], vec![2, 2, 2]).with_num_res_units(2).init(&Device::flex())?;
/// let s = summary(&model);
/// assert_eq!(s.total_params, 1_186_765);
/// assert_eq!(s.layers[0].path, "down.0.Residual.units.0.conv");
/// assert_eq!(s.layers[0].params[0].shape, vec![16, 1, 3, 3, 3]);
/// println!("{s}");
/// let json = serde_json::to_string(&s).unwrap();
/// assert!(json.contains("\"kind\":\"Conv3d\""));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ModelSummary {
    /// One row per layer with tensors.
    pub layers: Vec<LayerSummary>,
    /// Elements in all parameters (PyTorch's parameter count).
    pub total_params: usize,
    /// Elements in all buffers (running statistics).
    pub total_buffers: usize,
}

/// The layer table of `module`. See the [module documentation](self) for how it is built.
///
/// ```
/// use burn::nn::LinearConfig;
/// use burn::tensor::Device;
/// use medburn_models::summary;
///
/// let s = summary(&LinearConfig::new(3, 2).init(&Device::flex()));
/// assert_eq!((s.layers.len(), s.layers[0].path.as_str(), s.total_params), (1, "", 8));
/// // MONAI's VoxelMorph(): its backbone's convolutions (the integration and the warp hold no
/// // weights), `medburn models summary voxelmorph` on the command line.
/// let vm = summary(&medburn_models::VoxelMorphConfig::new().init(&Device::flex())?);
/// assert_eq!((vm.layers.len(), vm.total_params, vm.total_buffers), (10, 244_323, 0));
/// assert_eq!(vm.layers[9].path, "backbone.final_convs.2.conv");
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
pub fn summary<M: Module>(module: &M) -> ModelSummary {
    let mut collector = Collector::default();
    module.visit(&mut collector);
    let total_params = collector.layers.iter().map(|l| l.num_params).sum();
    let total_buffers = collector
        .layers
        .iter()
        .flat_map(|l| &l.buffers)
        .map(TensorSummary::num_elements)
        .sum();
    ModelSummary {
        layers: collector.layers,
        total_params,
        total_buffers,
    }
}

#[derive(Default)]
struct Collector {
    /// `(field name, type of the module holding it)` of every module entered.
    stack: Vec<(String, String)>,
    layers: Vec<LayerSummary>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let (name, container) = self
            .stack
            .last()
            .cloned()
            .unwrap_or_else(|| ("tensor".into(), String::new()));
        let path = self.stack[..self.stack.len().saturating_sub(1)]
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let kind = container
            .strip_prefix("Struct:")
            .or_else(|| container.strip_prefix("Enum:"))
            .unwrap_or(&container)
            .to_string();
        let tensor = TensorSummary {
            name: name.clone(),
            shape: param.lazy_shape().to_vec(),
        };
        if self.layers.last().is_none_or(|l| l.path != path) {
            self.layers.push(LayerSummary {
                path,
                kind,
                params: Vec::new(),
                buffers: Vec::new(),
                num_params: 0,
            });
        }
        let layer = self.layers.last_mut().expect("pushed above");
        if name.starts_with("running_") {
            layer.buffers.push(tensor);
        } else {
            layer.num_params += tensor.num_elements();
            layer.params.push(tensor);
        }
    }
}

fn shapes(tensors: &[TensorSummary]) -> String {
    tensors
        .iter()
        .map(|t| {
            let dims: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
            format!("{} [{}]", t.name, dims.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table: path, type, parameter shapes, parameter count; then the totals.
///
/// ```
/// use burn::nn::LinearConfig;
/// use burn::tensor::Device;
/// let table = medburn_models::summary(&LinearConfig::new(3, 2).init(&Device::flex())).to_string();
/// assert!(table.contains("weight [3, 2], bias [2]"));
/// assert!(table.contains("total parameters: 8"));
/// ```
impl fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 4]> = self
            .layers
            .iter()
            .map(|l| {
                let mut tensors = shapes(&l.params);
                if !l.buffers.is_empty() {
                    tensors.push_str(&format!("; buffers {}", shapes(&l.buffers)));
                }
                [
                    if l.path.is_empty() {
                        "(root)".into()
                    } else {
                        l.path.clone()
                    },
                    l.kind.clone(),
                    tensors,
                    l.num_params.to_string(),
                ]
            })
            .collect();
        let header = ["layer", "type", "tensors", "parameters"].map(String::from);
        let mut widths = header.clone().map(|h| h.len());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            writeln!(
                f,
                "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )?;
        }
        writeln!(f, "total parameters: {}", self.total_params)?;
        write!(f, "total buffers: {}", self.total_buffers)
    }
}
