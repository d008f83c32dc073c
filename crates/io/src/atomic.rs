//! Writing files so that a failure leaves nothing half-written.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{IoError, IoErrorKind, Result};

/// Writes `path` by calling `fill` on a temporary file beside it, then renaming
/// it into place. On any error the temporary file is removed and `path` is untouched.
pub(crate) fn write_atomically<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> std::result::Result<(), IoErrorKind>,
{
    let tmp = temporary_name(path);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        Ok::<(), IoErrorKind>(())
    })();
    if let Err(kind) = result {
        let _ = fs::remove_file(&tmp);
        return Err(IoError::new(path, kind));
    }
    Ok(())
}

/// `dir/.name.medburn-tmp-PID` beside the target, so the rename stays on one file system.
pub(crate) fn temporary_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.medburn-tmp-{}", std::process::id()))
}

/// Fills one file of a multi-file write.
pub(crate) type Filler<'a> =
    &'a dyn Fn(&mut BufWriter<File>) -> std::result::Result<(), IoErrorKind>;

/// Writes several files (a `.hdr`/`.img` pair) all-or-nothing: each goes to a
/// temporary name first, and they are renamed only once all are complete.
pub(crate) fn write_all_atomically(files: &[(&Path, Filler<'_>)]) -> Result<()> {
    let mut done: Vec<PathBuf> = Vec::new();
    for (path, fill) in files {
        let tmp = temporary_name(path);
        let r = (|| {
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
            fill(&mut w)?;
            w.flush()?;
            w.get_ref().sync_all()?;
            Ok::<(), IoErrorKind>(())
        })();
        done.push(tmp);
        if let Err(kind) = r {
            for t in &done {
                let _ = fs::remove_file(t);
            }
            return Err(IoError::new(path, kind));
        }
    }
    for ((path, _), tmp) in files.iter().zip(&done) {
        if let Err(e) = fs::rename(tmp, path) {
            for t in &done {
                let _ = fs::remove_file(t);
            }
            return Err(IoError::new(path, e));
        }
    }
    Ok(())
}
