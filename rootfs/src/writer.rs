//! Writing tar images for `vkernel mkrootfs DIR -o rootfs.img`.
//!
//! The archive holds "./" (the root's own metadata) followed by every file under DIR
//! with relative names ("bin/ls"), in sorted order so the same tree gives the same
//! image. Symlinks are stored, not followed; hard links are stored once plus link
//! members; device nodes and fifos are stored; sockets cannot be represented in tar
//! and are skipped (as GNU tar does). Modes, uid/gid and mtimes are kept. GNU headers
//! carry long names and large numbers.
//!
//! The image is written to a temporary file beside the output and renamed over it at
//! the end, so a failure never leaves a half-written image.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{Builder, EntryType, Header};

use crate::error::ImageError;

/// A file's identity on the host: (device, inode).
type HostId = (u64, u64);

/// Writes a tar image of the tree `dir` (which becomes the image's root) to `out`.
pub fn write_tar(dir: &Path, out: &Path) -> Result<(), ImageError> {
    let io_at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImageError::Io { path, source }
    };
    let root = fs::metadata(dir).map_err(io_at(dir))?;
    if !root.is_dir() {
        let source = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
        return Err(io_at(dir)(source));
    }
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".rootfs-")
        .suffix(".tmp")
        .tempfile_in(parent)
        .map_err(io_at(out))?;
    let mut writer =
        TarWriter::new(BufWriter::new(temp.as_file()), out, temp.as_file()).map_err(io_at(out))?;
    writer.add_tree(dir, &root)?;
    writer.finish().map_err(io_at(out))?;
    temp.as_file().sync_all().map_err(io_at(out))?;
    temp.persist(out).map_err(|err| io_at(out)(err.error))?;
    Ok(())
}

/// Failure while archiving: names the source file it concerns.
fn source_error(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

struct TarWriter<W: Write> {
    builder: Builder<W>,
    /// First archive name of every multiply-linked file seen so far.
    links: HashMap<HostId, PathBuf>,
    /// The output files themselves, in case they are inside the tree being archived.
    skip: HashSet<HostId>,
}

impl<W: Write> TarWriter<W> {
    fn new(sink: W, out: &Path, temp: &File) -> io::Result<Self> {
        let mut skip = HashSet::new();
        skip.insert(host_id(&temp.metadata()?));
        if let Ok(existing) = fs::symlink_metadata(out) {
            skip.insert(host_id(&existing));
        }
        Ok(TarWriter {
            builder: Builder::new(sink),
            links: HashMap::new(),
            skip,
        })
    }

    fn finish(self) -> io::Result<()> {
        self.builder.into_inner()?.flush()
    }

    /// Archives the root as "./", then everything below it.
    fn add_tree(&mut self, dir: &Path, root: &Metadata) -> Result<(), ImageError> {
        let mut header = header_for(root);
        header.set_entry_type(EntryType::Directory);
        self.builder
            .append_data(&mut header, "./", io::empty())
            .map_err(source_error(dir))?;
        self.add_children(dir, Path::new(""))
    }

    /// Archives the contents of host directory `dir`, named `name/...` in the archive.
    fn add_children(&mut self, dir: &Path, name: &Path) -> Result<(), ImageError> {
        let mut children = fs::read_dir(dir)
            .and_then(|items| {
                items
                    .map(|item| item.map(|item| item.file_name()))
                    .collect::<io::Result<Vec<_>>>()
            })
            .map_err(source_error(dir))?;
        children.sort();
        for child in children {
            let source = dir.join(&child);
            let meta = fs::symlink_metadata(&source).map_err(source_error(&source))?;
            if self.skip.contains(&host_id(&meta)) {
                continue;
            }
            let child_name = name.join(&child);
            self.add_file(&source, &child_name, &meta)?;
            if meta.is_dir() {
                self.add_children(&source, &child_name)?;
            }
        }
        Ok(())
    }

    /// Archives one file (not its directory contents).
    fn add_file(&mut self, source: &Path, name: &Path, meta: &Metadata) -> Result<(), ImageError> {
        let file_type = meta.file_type();
        let result = if let Some(first) = self.earlier_link(meta, name) {
            let mut header = header_for(meta);
            header.set_entry_type(EntryType::Link);
            self.builder.append_link(&mut header, name, first)
        } else if file_type.is_file() {
            self.append_regular(source, name, meta)
        } else if file_type.is_symlink() {
            let mut header = header_for(meta);
            header.set_entry_type(EntryType::Symlink);
            fs::read_link(source)
                .and_then(|target| self.builder.append_link(&mut header, name, target))
        } else if file_type.is_socket() {
            return Ok(());
        } else {
            self.append_special(name, meta)
        };
        result.map_err(source_error(source))
    }

    /// For a file with several links: the archive name it was first stored under, or
    /// `None` (remembering `name`) if this is the first time it is seen.
    fn earlier_link(&mut self, meta: &Metadata, name: &Path) -> Option<PathBuf> {
        if meta.nlink() < 2 || meta.is_dir() {
            return None;
        }
        let id = host_id(meta);
        if let Some(first) = self.links.get(&id) {
            return Some(first.clone());
        }
        self.links.insert(id, name.to_path_buf());
        None
    }

    fn append_regular(&mut self, source: &Path, name: &Path, meta: &Metadata) -> io::Result<()> {
        let mut header = header_for(meta);
        header.set_entry_type(EntryType::Regular);
        header.set_size(meta.len());
        let data = ExactLen {
            inner: File::open(source)?,
            left: meta.len(),
        };
        self.builder.append_data(&mut header, name, data)
    }

    /// Directories (named with a trailing slash, as tar does), devices and fifos.
    fn append_special(&mut self, name: &Path, meta: &Metadata) -> io::Result<()> {
        let mut header = header_for(meta);
        set_special(&mut header, meta)?;
        let name = if meta.is_dir() {
            name.join("")
        } else {
            name.to_path_buf()
        };
        self.builder.append_data(&mut header, name, io::empty())
    }
}

fn host_id(meta: &Metadata) -> HostId {
    (meta.dev(), meta.ino())
}

/// A GNU header with the metadata every member type shares. Size 0 until set.
fn header_for(meta: &Metadata) -> Header {
    let mut header = Header::new_gnu();
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(u64::from(meta.uid()));
    header.set_gid(u64::from(meta.gid()));
    // Negative times wrap to huge values, which the GNU header stores in base-256
    // and a reader turns back into the same negative number.
    header.set_mtime(meta.mtime() as u64);
    header.set_size(0);
    header
}

/// Sets the type (and device number) of a directory, device node or fifo.
fn set_special(header: &mut Header, meta: &Metadata) -> io::Result<()> {
    let file_type = meta.file_type();
    let entry_type = if file_type.is_dir() {
        EntryType::Directory
    } else if file_type.is_char_device() {
        EntryType::Char
    } else if file_type.is_block_device() {
        EntryType::Block
    } else {
        EntryType::Fifo
    };
    header.set_entry_type(entry_type);
    if file_type.is_char_device() || file_type.is_block_device() {
        let (major, minor) = split_dev(meta.rdev());
        header.set_device_major(major)?;
        header.set_device_minor(minor)?;
    }
    Ok(())
}

/// Splits a Linux `dev_t` into major and minor numbers (glibc's encoding).
fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// Yields exactly `left` bytes of `inner`: the header already promised that size, so a
/// file that shrinks while being archived is an error rather than a corrupt image, and
/// one that grows is cut at the promised size.
struct ExactLen<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactLen<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let cap = usize::try_from(self.left).map_or(buf.len(), |left| left.min(buf.len()));
        let Some(buf) = buf.get_mut(..cap).filter(|buf| !buf.is_empty()) else {
            return Ok(0);
        };
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being archived",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, Expect};
    use crate::{open, Format};

    #[test]
    fn round_trip_preserves_tree() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let fixture = testutil::build_fixture(&src, true);
        let img = dir.path().join("rootfs.img");
        write_tar(&src, &img).unwrap();
        let image = open(&img).unwrap();
        assert_eq!(image.format(), Format::Tar);
        testutil::check_image(&image, &fixture, Expect::archive());
        // System tar agrees that names are relative.
        let listing = std::process::Command::new("tar")
            .arg("-tf")
            .arg(&img)
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout).to_string();
        assert!(listing.lines().any(|line| line == "bin/hello"), "{listing}");
        assert!(
            listing.lines().all(|line| !line.starts_with('/')),
            "{listing}"
        );
    }

    #[test]
    fn output_inside_tree_is_not_archived_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), b"content").unwrap();
        let img = dir.path().join("rootfs.img");
        std::fs::write(&img, b"old image").unwrap();
        write_tar(dir.path(), &img).unwrap();
        let image = open(&img).unwrap();
        let paths: Vec<&[u8]> = image.entries().iter().map(|e| &e.path[..]).collect();
        assert_eq!(paths, vec![&b"/"[..], b"/file"]);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| name.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn failure_leaves_no_image() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("rootfs.img");
        let err = write_tar(&dir.path().join("missing"), &img).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(!img.exists());

        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let err = write_tar(&src, &dir.path().join("no/such/dir/rootfs.img")).unwrap_err();
        assert!(matches!(err, ImageError::Io { .. }), "{err}");
    }

    #[test]
    fn splits_device_numbers() {
        assert_eq!(split_dev(0x0103), (1, 3));
        assert_eq!(split_dev(0x0800), (8, 0));
        // makedev(259, 65536) in glibc's split encoding.
        assert_eq!(split_dev(0x1001_0300), (259, 65536));
    }

    #[test]
    fn exact_len_detects_shrinking() {
        let mut short = ExactLen {
            inner: &b"abc"[..],
            left: 5,
        };
        let mut out = Vec::new();
        assert!(short.read_to_end(&mut out).is_err());
        let mut long = ExactLen {
            inner: &b"abcdef"[..],
            left: 4,
        };
        let mut out = Vec::new();
        long.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcd");
    }
}
