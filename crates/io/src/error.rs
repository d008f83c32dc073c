use std::fmt;
use std::path::{Path, PathBuf};

use medburn_core::{GeometryError, ImageError};
use thiserror::Error;

/// What went wrong reading or writing a file, without the path (see [`IoError`]).
#[derive(Debug, Error)]
pub enum IoErrorKind {
    /// The operating system refused (missing file, permissions, disk full...).
    #[error("{0}")]
    Os(#[from] std::io::Error),
    /// The file ends before the data its header promises.
    #[error("truncated: {what} needs {expected} bytes but only {got} are there")]
    Truncated {
        /// What was being read.
        what: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes present.
        got: u64,
    },
    /// The header is not a valid header of the format.
    #[error("bad header: {0}")]
    BadHeader(String),
    /// A valid file using a feature medburn does not read (a datatype, a transfer syntax...).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The geometry in the file is invalid.
    #[error("invalid geometry: {0}")]
    Geometry(#[from] GeometryError),
    /// The voxel data does not fit the image.
    #[error("invalid image: {0}")]
    Image(#[from] ImageError),
    /// A DICOM problem (bad series, missing pixel data, undecodable frames...).
    #[error("{0}")]
    Dicom(String),
    /// An HDF5 problem.
    #[error("HDF5: {0}")]
    Hdf5(String),
    /// The file name's extension names no format medburn knows.
    #[error("unknown format: {0}")]
    UnknownFormat(String),
    /// A value cannot be written in the requested type.
    #[error("cannot convert: {0}")]
    Conversion(String),
    /// The file's bytes are damaged (a gzip stream whose CRC-32 or length does not match its
    /// trailer, or whose trailer is missing).
    #[error("corrupt: {0}")]
    Corrupt(String),
}

/// An I/O error naming the file it concerns.
///
/// Its `Display` is one line, `PATH: what is wrong`, ready for a command-line tool to print.
///
/// ```
/// use medburn_io::{IoError, IoErrorKind};
/// let e = IoError::new("scan.nii", IoErrorKind::BadHeader("wrong magic".into()));
/// assert_eq!(e.to_string(), "scan.nii: bad header: wrong magic");
/// ```
#[derive(Debug)]
pub struct IoError {
    /// The file (or folder) concerned.
    pub path: PathBuf,
    /// What is wrong with it.
    pub kind: IoErrorKind,
}

impl IoError {
    /// An error about `path`.
    ///
    /// ```
    /// let e = medburn_io::IoError::new("a.nii", medburn_io::IoErrorKind::UnknownFormat("x".into()));
    /// assert_eq!(e.path.to_str(), Some("a.nii"));
    /// ```
    pub fn new(path: impl AsRef<Path>, kind: impl Into<IoErrorKind>) -> IoError {
        IoError {
            path: path.as_ref().to_path_buf(),
            kind: kind.into(),
        }
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line: messages from lower layers may hold newlines.
        let msg = self.kind.to_string().replace('\n', " ");
        write!(f, "{}: {}", self.path.display(), msg)
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.kind.source()
    }
}

/// Result of medburn's I/O functions.
pub type Result<T, E = IoError> = std::result::Result<T, E>;

/// Attaches a path to errors of a lower layer.
pub(crate) trait WithPath<T> {
    fn at(self, path: &Path) -> Result<T>;
}

impl<T, E: Into<IoErrorKind>> WithPath<T> for std::result::Result<T, E> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|e| IoError::new(path, e))
    }
}
