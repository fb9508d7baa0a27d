//! Errors of the rootfs reader and writer.
//!
//! Parsers work with [`Problem`], which does not know the image's path; `open`,
//! `read_at` and `write_tar` attach the path so every [`ImageError`] displays as one
//! line "FILE: what went wrong", which is what vkernel prints to the user.

use std::io;
use std::path::{Path, PathBuf};

/// Why an image could not be opened, read or written.
#[derive(thiserror::Error, Debug)]
pub enum ImageError {
    /// The operating system refused a read or write of the image file.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The content matches none of the supported formats.
    #[error("{}: not a tar, cpio or ext2/3/4 image", path.display())]
    Unrecognized { path: PathBuf },
    /// The image ends before data its own headers promise.
    #[error("{}: truncated ({what})", path.display())]
    Truncated { path: PathBuf, what: String },
    /// The image contradicts its own format.
    #[error("{}: corrupt: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// The image is well formed but uses a feature this reader does not implement.
    #[error("{}: unsupported: {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    /// A `DataRef` that this image did not produce (wrong format or unknown file).
    #[error("{}: data reference {data} does not belong to this image", path.display())]
    BadDataRef { path: PathBuf, data: String },
}

/// An [`ImageError`] before the image path is attached.
#[derive(Debug)]
pub(crate) enum Problem {
    Io(io::Error),
    Unrecognized,
    Truncated(String),
    Corrupt(String),
    Unsupported(String),
    BadDataRef(String),
}

impl Problem {
    pub(crate) fn corrupt(reason: impl Into<String>) -> Self {
        Problem::Corrupt(reason.into())
    }

    /// Attaches the image path, producing the public error.
    pub(crate) fn at(self, path: &Path) -> ImageError {
        let path = path.to_path_buf();
        match self {
            Problem::Io(source) => ImageError::Io { path, source },
            Problem::Unrecognized => ImageError::Unrecognized { path },
            Problem::Truncated(what) => ImageError::Truncated { path, what },
            Problem::Corrupt(reason) => ImageError::Corrupt { path, reason },
            Problem::Unsupported(what) => ImageError::Unsupported { path, what },
            Problem::BadDataRef(data) => ImageError::BadDataRef { path, data },
        }
    }
}

impl From<io::Error> for Problem {
    fn from(err: io::Error) -> Self {
        Problem::Io(err)
    }
}

/// Formats image-controlled bytes (a path inside the image) for an error message.
pub(crate) fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).escape_debug().to_string()
}
