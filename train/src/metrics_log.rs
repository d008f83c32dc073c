//! The run's record: every logged step as one JSON line (`metrics.jsonl`), and the same as two
//! CSV tables (`train_log.csv`, `validation.csv`) for spreadsheets and pandas.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// One entry of the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LogEntry {
    /// A training step.
    Train {
        /// Step (1-based: steps done).
        step: u64,
        /// Epoch the step belongs to.
        epoch: u64,
        /// Learning rate used.
        lr: f64,
        /// Loss of the batch.
        loss: f64,
        /// Seconds since the run (or its resumption) started.
        seconds: f64,
    },
    /// A validation pass.
    Validation {
        /// Step.
        step: u64,
        /// Mean foreground Dice over cases and labels.
        mean_dice: f64,
        /// Mean Dice per foreground label (NaN where no case has the label).
        dice: Vec<f64>,
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
        crate::checkpoint::write_atomic(&path, text.as_bytes())?;
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

    /// Rewrites `train_log.csv` and `validation.csv`.
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
                } => train.push_str(&format!("{step},{epoch},{lr:.6e},{loss:.6},{seconds:.3}\n")),
                LogEntry::Validation {
                    step,
                    mean_dice,
                    dice,
                } => {
                    if val.is_empty() {
                        let labels: Vec<String> =
                            (1..=dice.len()).map(|l| format!("dice_{l}")).collect();
                        val = format!("step,mean_dice,{}\n", labels.join(","));
                    }
                    let d: Vec<String> = dice.iter().map(|v| format!("{v:.4}")).collect();
                    val.push_str(&format!("{step},{mean_dice:.4},{}\n", d.join(",")));
                }
            }
        }
        crate::checkpoint::write_atomic(&self.dir.join("train_log.csv"), train.as_bytes())?;
        if !val.is_empty() {
            crate::checkpoint::write_atomic(&self.dir.join("validation.csv"), val.as_bytes())?;
        }
        Ok(())
    }
}
