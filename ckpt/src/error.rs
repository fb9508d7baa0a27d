//! Errors. Every error the reader returns names the file and the problem on one line, so
//! the kernel can print it as is and exit 2.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong writing or reading a checkpoint image.
#[derive(thiserror::Error, Debug)]
pub enum CkptError {
    /// The host refused an operation on the file (missing, ENOSPC, EIO, ...).
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The file is not an x86-64 ELF core file at all.
    #[error("{}: not an ELF core file ({why})", path.display())]
    NotElf { path: PathBuf, why: String },
    /// The file ends before a structure its headers promise.
    #[error("{}: truncated: {what}", path.display())]
    Truncated { path: PathBuf, what: String },
    /// A stored checksum does not match the bytes it covers.
    #[error("{}: checksum mismatch in {what}", path.display())]
    Checksum { path: PathBuf, what: String },
    /// The image was written by an incompatible vkernel.
    #[error("{}: image format version {found}, this vkernel reads version {expected}", path.display())]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// The file is an ELF core but not laid out as a vkernel image.
    #[error("{}: malformed image: {what}", path.display())]
    Malformed { path: PathBuf, what: String },
    /// An I/O error from the stream given to [`crate::ImageWriter::write_to`], which has no
    /// path of its own ([`crate::ImageWriter::write_atomic`] reports `Io` instead).
    #[error("writing checkpoint image: {0}")]
    Write(io::Error),
    /// The writer was asked for something the format cannot hold (overlapping loads, a
    /// reserved note type, a note over 4 GiB, ...): a bug in the caller.
    #[error("cannot write checkpoint image: {0}")]
    Invalid(String),
    /// A value could not be serialized with bincode.
    #[error("cannot encode checkpoint state: {0}")]
    Encode(String),
    /// A note payload could not be deserialized (wrong type, corrupt or truncated bytes).
    #[error("cannot decode checkpoint state: {0}")]
    Decode(String),
}

/// A problem found while parsing, before the file name is known to the code that found it.
/// Keeps the parsing helpers free of paths; [`Problem::at`] turns it into a [`CkptError`].
#[derive(Debug)]
pub(crate) enum Problem {
    Io(io::Error),
    NotElf(String),
    Truncated(String),
    Checksum(String),
    Version(u32),
    Malformed(String),
}

impl Problem {
    /// Attaches the file name.
    pub(crate) fn at(self, path: &Path) -> CkptError {
        let path = path.to_owned();
        match self {
            Problem::Io(source) => CkptError::Io { path, source },
            Problem::NotElf(why) => CkptError::NotElf { path, why },
            Problem::Truncated(what) => CkptError::Truncated { path, what },
            Problem::Checksum(what) => CkptError::Checksum { path, what },
            Problem::Version(found) => CkptError::Version {
                path,
                found,
                expected: crate::FORMAT_VERSION,
            },
            Problem::Malformed(what) => CkptError::Malformed { path, what },
        }
    }
}

impl From<io::Error> for Problem {
    fn from(e: io::Error) -> Self {
        Problem::Io(e)
    }
}
