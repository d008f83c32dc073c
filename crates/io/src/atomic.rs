//! Writing files so that a failure leaves nothing half-written: the one home of medburn's
//! atomic writes, which every writer of the library and the `medburn` command goes through.
//!
//! A file is written under a temporary name beside its target (`.NAME.medburn-tmp-PID-N`, on
//! the same file system), flushed and synced to disk (`fsync`), then renamed over the target,
//! which readers therefore see either whole or as it was before. On any error the temporary
//! file is removed and the target is untouched.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("notes.txt");
//! medburn_io::atomic::write_atomic(&path, b"first")?;
//! medburn_io::atomic::write_atomically(&path, |w| {
//!     use std::io::Write;
//!     w.write_all(b"second")
//! })?;
//! assert_eq!(std::fs::read(&path)?, b"second");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{IoError, IoErrorKind, Result};

/// Writes `bytes` to `path` atomically (see the [module](self) documentation).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("params.json");
/// medburn_io::atomic::write_atomic(&path, br#"{"seed": 7}"#)?;
/// assert_eq!(std::fs::read_to_string(&path)?, r#"{"seed": 7}"#);
/// // A target in a folder that does not exist: an error, and nothing written.
/// assert!(medburn_io::atomic::write_atomic(&dir.path().join("no/such/file"), b"x").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |w| w.write_all(bytes))
}

/// Writes `path` atomically by calling `fill` on a buffered temporary file beside it (see the
/// [module](self) documentation). An error from `fill` (anything that converts into an
/// [`IoErrorKind`], such as `std::io::Error`) leaves `path` untouched and no temporary file.
///
/// ```
/// use std::io::Write;
/// use medburn_io::IoErrorKind;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("table.csv");
/// medburn_io::atomic::write_atomically(&path, |w| {
///     for i in 0..3 {
///         writeln!(w, "{i},{}", i * i)?;
///     }
///     Ok::<(), std::io::Error>(())
/// })?;
/// assert_eq!(std::fs::read_to_string(&path)?, "0,0\n1,1\n2,4\n");
/// // A failing fill keeps the old file and leaves nothing beside it.
/// let e = medburn_io::atomic::write_atomically(&path, |w| {
///     w.write_all(b"half")?;
///     Err(IoErrorKind::Conversion("out of range".into()))
/// });
/// assert!(e.is_err());
/// assert_eq!(std::fs::read_to_string(&path)?, "0,0\n1,1\n2,4\n");
/// assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomically<F, E>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> std::result::Result<(), E>,
    E: Into<IoErrorKind>,
{
    let tmp = temporary_name(path);
    let written = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        fill(&mut w).map_err(Into::into)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok::<(), IoErrorKind>(())
    })();
    rename_into_place(&tmp, path, written)
}

/// Writes `path` atomically through a writer that opens the file itself: `fill` creates and
/// writes the temporary path it is given (an HDF5 library, a serializer that takes a path),
/// then the file is synced to disk and renamed over `path`. On any error the temporary file is
/// removed and `path` is untouched.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("copy.bin");
/// medburn_io::atomic::write_atomically_at(&path, |tmp| std::fs::write(tmp, [1u8, 2, 3]))?;
/// assert_eq!(std::fs::read(&path)?, [1, 2, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomically_at<F, E>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&Path) -> std::result::Result<(), E>,
    E: Into<IoErrorKind>,
{
    let tmp = temporary_name(path);
    let written = (|| {
        fill(&tmp).map_err(Into::into)?;
        // fsync through a descriptor of our own: the writer's is closed.
        File::options().write(true).open(&tmp)?.sync_all()?;
        Ok::<(), IoErrorKind>(())
    })();
    rename_into_place(&tmp, path, written)
}

/// Renames the written temporary file `tmp` over `path`; on any error (`written`'s or the
/// rename's) removes `tmp` and reports the error against `path`.
fn rename_into_place(
    tmp: &Path,
    path: &Path,
    written: std::result::Result<(), IoErrorKind>,
) -> Result<()> {
    let result = written.and_then(|()| fs::rename(tmp, path).map_err(IoErrorKind::from));
    if let Err(kind) = result {
        let _ = fs::remove_file(tmp);
        return Err(IoError::new(path, kind));
    }
    Ok(())
}

/// `dir/.NAME.medburn-tmp-PID-N` beside the target, so the rename stays on one file system;
/// `N` counts the process's writes, so two threads writing one target never share a name.
pub(crate) fn temporary_name(path: &Path) -> PathBuf {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.medburn-tmp-{}-{n}", std::process::id()))
}

/// Fills one file of a multi-file write.
pub(crate) type Filler<'a> =
    &'a dyn Fn(&mut BufWriter<File>) -> std::result::Result<(), IoErrorKind>;

/// Writes several files (a `.hdr`/`.img` pair) all-or-nothing: each goes to a temporary name
/// first and is synced, and they are renamed only once all are complete.
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
