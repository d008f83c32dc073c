//! The run's record: every logged step as one JSON line (`metrics.jsonl`), and the same as two
//! CSV tables (`train_log.csv`, `validation.csv`) for spreadsheets and pandas.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Result, TrainError};

/// Named metric values in a fixed order (the task's; the selection metric first). Written as a
/// JSON object in that order; NaN (a label absent from every case) is written as `null` and
/// read back as NaN.
///
/// ```
/// use medburn_train::Metrics;
/// let m = Metrics::new(vec![("mae".into(), 4.5), ("r2".into(), f64::NAN)]);
/// let json = serde_json::to_string(&m)?;
/// assert_eq!(json, r#"{"mae":4.5,"r2":null}"#);
/// let back: Metrics = serde_json::from_str(&json)?;
/// assert_eq!(back.get("mae"), Some(4.5));
/// assert!(back.get("r2").unwrap().is_nan());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics(pub Vec<(String, f64)>);

impl Metrics {
    /// Metrics from (name, value) pairs, in order.
    pub fn new(values: Vec<(String, f64)>) -> Metrics {
        Metrics(values)
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// `name value` pairs on one line, four decimals.
    ///
    /// ```
    /// let m = medburn_train::Metrics::new(vec![("mae".into(), 4.5), ("r2".into(), 0.81234)]);
    /// assert_eq!(m.describe(), "mae 4.5000  r2 0.8123");
    /// ```
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (n, (name, v)) in self.0.iter().enumerate() {
            if n > 0 {
                s.push_str("  ");
            }
            let _ = write!(s, "{name} {v:.4}");
        }
        s
    }
}

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, &value.is_finite().then_some(*value))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Metrics;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of metric values")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Metrics, A::Error> {
                let mut values = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, Option<f64>>()? {
                    values.push((name, value.unwrap_or(f64::NAN)));
                }
                Ok(Metrics(values))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

/// One entry of the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LogEntry {
    /// An optimizer step.
    Train {
        /// Step (1-based: steps done).
        step: u64,
        /// Epoch the step belongs to.
        epoch: u64,
        /// Learning rate used.
        lr: f64,
        /// Loss of the step (mean over its micro-batches).
        loss: f64,
        /// Seconds since the run (or its resumption) started.
        seconds: f64,
    },
    /// A validation pass.
    Validation {
        /// Step.
        step: u64,
        /// The task's metrics, the selection metric first.
        metrics: Metrics,
    },
}

impl LogEntry {
    /// The step of the entry.
    pub fn step(&self) -> u64 {
        match self {
            LogEntry::Train { step, .. } | LogEntry::Validation { step, .. } => *step,
        }
    }
}

/// Appends entries to `OUT/metrics.jsonl` and rewrites the CSV tables from them.
#[derive(Debug)]
pub struct MetricsLog {
    dir: PathBuf,
    entries: Vec<LogEntry>,
}

fn out_err(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl MetricsLog {
    /// Opens the record in `dir`, keeping the entries up to `resume_step` (those after it were
    /// made by a run that stopped before its next checkpoint, and will be made again).
    ///
    /// ```
    /// use medburn_train::{LogEntry, MetricsLog};
    /// let dir = tempfile::tempdir()?;
    /// let mut log = MetricsLog::open(dir.path(), 0)?;
    /// for step in 1..=3 {
    ///     log.push(LogEntry::Train { step, epoch: 0, lr: 0.1, loss: 1.0 / step as f64, seconds: 0.0 })?;
    /// }
    /// let log = MetricsLog::open(dir.path(), 2)?; // resumed from the checkpoint of step 2
    /// assert_eq!(log.entries().len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: &Path, resume_step: u64) -> Result<MetricsLog> {
        std::fs::create_dir_all(dir).map_err(|e| out_err(dir, e))?;
        let path = dir.join("metrics.jsonl");
        let mut entries = Vec::new();
        if resume_step > 0 {
            if let Ok(text) = std::fs::read_to_string(&path) {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    // A line cut by a kill is dropped, whole lines are kept.
                    if let Ok(e) = serde_json::from_str::<LogEntry>(line) {
                        if e.step() <= resume_step {
                            entries.push(e);
                        }
                    }
                }
            }
        }
        let log = MetricsLog {
            dir: dir.to_path_buf(),
            entries,
        };
        let mut text = String::new();
        for e in &log.entries {
            text.push_str(&serde_json::to_string(e).map_err(|e| out_err(&path, e))?);
            text.push('\n');
        }
        medburn_io::atomic::write_atomic(&path, text.as_bytes())?;
        log.write_csv()?;
        Ok(log)
    }

    /// The entries so far.
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// Appends one entry (a JSON line); CSV tables are rewritten for validation entries and by
    /// [`MetricsLog::write_csv`].
    pub fn push(&mut self, entry: LogEntry) -> Result<()> {
        let path = self.dir.join("metrics.jsonl");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| out_err(&path, e))?;
        let line = serde_json::to_string(&entry).map_err(|e| out_err(&path, e))?;
        writeln!(f, "{line}").map_err(|e| out_err(&path, e))?;
        let is_validation = matches!(entry, LogEntry::Validation { .. });
        self.entries.push(entry);
        if is_validation {
            self.write_csv()?;
        }
        Ok(())
    }

    /// Rewrites `train_log.csv` and `validation.csv` (`step` and the metrics in their order).
    ///
    /// ```
    /// use medburn_train::{LogEntry, Metrics, MetricsLog};
    /// let dir = tempfile::tempdir()?;
    /// let mut log = MetricsLog::open(dir.path(), 0)?;
    /// log.push(LogEntry::Validation { step: 5, metrics: Metrics::new(vec![("mae".into(), 3.25)]) })?;
    /// let csv = std::fs::read_to_string(dir.path().join("validation.csv"))?;
    /// assert_eq!(csv, "step,mae\n5,3.2500\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_csv(&self) -> Result<()> {
        let mut train = String::from("step,epoch,lr,loss,seconds\n");
        let mut val = String::new();
        for e in &self.entries {
            match e {
                LogEntry::Train {
                    step,
                    epoch,
                    lr,
                    loss,
                    seconds,
                } => {
                    let _ = writeln!(train, "{step},{epoch},{lr:.6e},{loss:.6},{seconds:.3}");
                }
                LogEntry::Validation { step, metrics } => {
                    if val.is_empty() {
                        let names: Vec<&str> = metrics.names().collect();
                        val = format!("step,{}\n", names.join(","));
                    }
                    let values: Vec<String> =
                        metrics.0.iter().map(|(_, v)| format!("{v:.4}")).collect();
                    let _ = writeln!(val, "{step},{}", values.join(","));
                }
            }
        }
        medburn_io::atomic::write_atomic(&self.dir.join("train_log.csv"), train.as_bytes())?;
        if !val.is_empty() {
            medburn_io::atomic::write_atomic(&self.dir.join("validation.csv"), val.as_bytes())?;
        }
        Ok(())
    }
}
