//! ext2/3/4 images, read with the `ext4-view` crate.
//!
//! `ext4_view::Ext4` is built on `Rc` and so can be used from one thread only, while
//! [`crate::Image`] must be `Send + Sync`. The filesystem therefore lives on a worker
//! thread owned by the [`ExtReader`]: the worker walks the tree at open time and then
//! serves data reads sent to it over a channel, one at a time.
//!
//! What ext4-view 1.0 does not expose, and how this reader copes:
//! - Inode numbers are not public. A regular file's inode number is read from the
//!   `Debug` output of its open `ext4_view::File` ("File { inode: 12, .. }") and used as
//!   its key, so hard links share a key. Directories, symlinks and special files get
//!   distinct synthetic keys (above `u32::MAX`, so they never collide with an inode
//!   number); hard links between symlinks or special files are thus seen as separate
//!   files. Should the `Debug` format ever change, regular files fall back to
//!   synthetic keys too (hard links then appear as copies; data stays correct).
//! - Device numbers (`rdev`) are not exposed: device nodes are listed with major and
//!   minor 0. vkernel provides /dev itself, so image device nodes are rarely used.
//! - Files are read by path; each file's first path is remembered by key.
//!
//! ext4-view has a few `unwrap`s that a corrupt image can reach, so every call into it
//! is wrapped in `catch_unwind` and a panic becomes a `Corrupt` error.

use std::collections::HashMap;
use std::error::Error;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::{self, JoinHandle};

use ext4_view::{Ext4, Ext4Error, Ext4Read, FileType, Metadata};

use crate::error::{show, Problem};
use crate::tree::sort_entries;
use crate::{DataRef, Entry, EntryKind};

/// Inode number of the root directory of every ext filesystem.
const ROOT_INODE: u64 = 2;
/// First synthetic key; inode numbers are 32-bit, so they stay below it.
const FIRST_SYNTHETIC_KEY: u64 = 1 << 32;
/// A bound on the walk, so that a corrupt directory loop cannot run (almost) forever.
const MAX_ENTRIES: usize = 1 << 22;

/// Owner of the worker thread that holds the filesystem.
pub(crate) struct ExtReader {
    requests: Option<Sender<ReadRequest>>,
    worker: Option<JoinHandle<()>>,
    /// Path of each regular file, by key: ext4-view opens files by path only.
    paths: HashMap<u64, Vec<u8>>,
}

struct ReadRequest {
    key: u64,
    path: Vec<u8>,
    offset: u64,
    len: usize,
    reply: SyncSender<Result<Vec<u8>, Problem>>,
}

impl ExtReader {
    /// Starts the worker on `file`, which walks the whole tree, and returns the reader
    /// with the entries.
    pub(crate) fn open(file: File) -> Result<(ExtReader, Vec<Entry>), Problem> {
        let (request_tx, request_rx) = mpsc::channel();
        let (walk_tx, walk_rx) = mpsc::sync_channel(1);
        let worker = thread::Builder::new()
            .name("rootfs-ext".to_string())
            .spawn(move || worker_main(file, walk_tx, request_rx))?;
        let walked = walk_rx
            .recv()
            .unwrap_or_else(|_| Err(Problem::corrupt("ext4 reader stopped unexpectedly")));
        let entries = match walked {
            Ok(entries) => entries,
            Err(problem) => {
                let _ = worker.join();
                return Err(problem);
            }
        };
        let paths = paths_by_key(&entries);
        let reader = ExtReader {
            requests: Some(request_tx),
            worker: Some(worker),
            paths,
        };
        Ok((reader, entries))
    }

    /// Reads file `key` at `offset` into `buf` (already clamped to the file size).
    pub(crate) fn read(&self, key: u64, offset: u64, buf: &mut [u8]) -> Result<usize, Problem> {
        let path = self
            .paths
            .get(&key)
            .ok_or_else(|| Problem::BadDataRef(format!("ext file key {key}")))?;
        let (reply, reply_rx) = mpsc::sync_channel(1);
        let request = ReadRequest {
            key,
            path: path.clone(),
            offset,
            len: buf.len(),
            reply,
        };
        let stopped = || Problem::corrupt("ext4 reader stopped unexpectedly");
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        requests.send(request).map_err(|_| stopped())?;
        let data = reply_rx.recv().map_err(|_| stopped())??;
        // `n` is within both lengths, so the slicing cannot fail.
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }
}

impl Drop for ExtReader {
    /// Closing the request channel ends the worker; joining it closes the image file.
    fn drop(&mut self) {
        self.requests = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The first path of every regular file, by key.
fn paths_by_key(entries: &[Entry]) -> HashMap<u64, Vec<u8>> {
    let mut paths = HashMap::new();
    for entry in entries {
        if let EntryKind::Regular(data) = &entry.kind {
            if let Some(key) = data.ext_key() {
                paths.entry(key).or_insert_with(|| entry.path.clone());
            }
        }
    }
    paths
}

/// Runs `f`, turning a panic inside ext4-view into a `Corrupt` error.
fn guarded<T>(doing: &str, f: impl FnOnce() -> Result<T, Problem>) -> Result<T, Problem> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Problem::corrupt(format!(
            "ext4 reader failed while {doing}"
        )))
    })
}

fn worker_main(
    file: File,
    walk_tx: SyncSender<Result<Vec<Entry>, Problem>>,
    requests: Receiver<ReadRequest>,
) {
    let loaded = guarded("loading the filesystem", || {
        let fs = Ext4::load(Box::new(ImageFile(file))).map_err(ext_problem)?;
        let entries = Walker::new(&fs).walk()?;
        Ok((fs, entries))
    });
    let fs = match loaded {
        Ok((fs, entries)) => {
            let _ = walk_tx.send(Ok(entries));
            fs
        }
        Err(problem) => {
            let _ = walk_tx.send(Err(problem));
            return;
        }
    };
    let mut open_file = None;
    for request in requests {
        let result = guarded("reading a file", || serve(&fs, &mut open_file, &request));
        if result.is_err() {
            open_file = None;
        }
        let _ = request.reply.send(result);
    }
}

/// Lets ext4-view read the image with `pread`.
struct ImageFile(File);

impl Ext4Read for ImageFile {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.0.read_exact_at(dst, start_byte).map_err(Box::from)
    }
}

fn ext_problem(err: Ext4Error) -> Problem {
    match err {
        Ext4Error::Io(inner) => match inner.downcast::<io::Error>() {
            Ok(io_err) if io_err.kind() == io::ErrorKind::UnexpectedEof => Problem::Truncated(
                "the ext filesystem refers to blocks past end of file".to_string(),
            ),
            Ok(io_err) => Problem::Io(*io_err),
            Err(other) => Problem::Io(io::Error::other(other)),
        },
        Ext4Error::Incompatible(what) => Problem::Unsupported(format!("ext4: {what}")),
        Ext4Error::Encrypted => Problem::Unsupported("ext4: encrypted files".to_string()),
        other => Problem::corrupt(format!("ext4: {other}")),
    }
}

fn ext_path(path: &[u8]) -> Result<ext4_view::Path<'_>, Problem> {
    ext4_view::Path::try_from(path)
        .map_err(|err| Problem::corrupt(format!("ext4 path '{}': {err}", show(path))))
}

/// The open file kept between reads, so that sequential reads continue where the
/// previous one stopped instead of seeking from the start (ext4-view's `seek_to` walks
/// the file's blocks from the beginning).
type OpenFile = Option<(u64, ext4_view::File)>;

fn serve(fs: &Ext4, open_file: &mut OpenFile, request: &ReadRequest) -> Result<Vec<u8>, Problem> {
    let file = match open_file.take() {
        Some((key, file)) if key == request.key => file,
        _ => fs.open(ext_path(&request.path)?).map_err(ext_problem)?,
    };
    let file = &mut open_file.insert((request.key, file)).1;
    if file.position() != request.offset {
        file.seek_to(request.offset).map_err(ext_problem)?;
    }
    let mut buf = vec![0u8; request.len];
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match file.read_bytes(rest).map_err(ext_problem)? {
            0 => break,
            n => filled += n,
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Walks the filesystem tree, producing entries.
struct Walker<'a> {
    fs: &'a Ext4,
    entries: Vec<Entry>,
    next_key: u64,
}

impl<'a> Walker<'a> {
    fn new(fs: &'a Ext4) -> Self {
        Walker {
            fs,
            entries: Vec::new(),
            next_key: FIRST_SYNTHETIC_KEY,
        }
    }

    fn walk(mut self) -> Result<Vec<Entry>, Problem> {
        let root = self
            .fs
            .symlink_metadata(ext_path(b"/")?)
            .map_err(ext_problem)?;
        self.entries.push(entry_from(
            b"/".to_vec(),
            ROOT_INODE,
            EntryKind::Directory,
            &root,
            0,
        ));
        let mut dirs = vec![b"/".to_vec()];
        while let Some(dir) = dirs.pop() {
            self.read_dir(&dir, &mut dirs)?;
        }
        let mut entries = self.entries;
        sort_entries(&mut entries);
        Ok(entries)
    }

    /// Adds the entries of directory `dir`, queueing its subdirectories on `dirs`.
    fn read_dir(&mut self, dir: &[u8], dirs: &mut Vec<Vec<u8>>) -> Result<(), Problem> {
        for item in self.fs.read_dir(ext_path(dir)?).map_err(ext_problem)? {
            let item = item.map_err(ext_problem)?;
            let name = item.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let path = item.path().as_ref().to_vec();
            let metadata = item.metadata().map_err(ext_problem)?;
            let entry = self.entry(path, &metadata)?;
            if entry.kind == EntryKind::Directory {
                dirs.push(entry.path.clone());
            }
            self.entries.push(entry);
            if self.entries.len() > MAX_ENTRIES {
                return Err(Problem::corrupt(format!(
                    "more than {MAX_ENTRIES} entries; is there a directory loop?"
                )));
            }
        }
        Ok(())
    }

    fn synthetic_key(&mut self) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        key
    }

    fn entry(&mut self, path: Vec<u8>, metadata: &Metadata) -> Result<Entry, Problem> {
        let file_type = metadata.file_type();
        if file_type.is_regular_file() {
            let key = self.regular_key(&path)?;
            let kind = EntryKind::Regular(DataRef::inode(key, metadata.len()));
            return Ok(entry_from(path, key, kind, metadata, metadata.len()));
        }
        let key = self.synthetic_key();
        if file_type.is_symlink() {
            let target = self.fs.read_link(ext_path(&path)?).map_err(ext_problem)?;
            let target = target.as_ref().to_vec();
            let len = target.len() as u64;
            return Ok(entry_from(
                path,
                key,
                EntryKind::Symlink(target),
                metadata,
                len,
            ));
        }
        Ok(entry_from(path, key, special_kind(file_type), metadata, 0))
    }

    /// The inode number of the regular file at `path`, or a synthetic key.
    fn regular_key(&mut self, path: &[u8]) -> Result<u64, Problem> {
        let file = self.fs.open(ext_path(path)?).map_err(ext_problem)?;
        match inode_from_debug(&format!("{file:?}")) {
            Some(inode) => Ok(inode),
            None => Ok(self.synthetic_key()),
        }
    }
}

/// Extracts `12` from ext4-view's "File { inode: 12, position: 0, .. }".
fn inode_from_debug(debug: &str) -> Option<u64> {
    let (_, rest) = debug.split_once("inode: ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .ok()
        .filter(|&inode| inode < FIRST_SYNTHETIC_KEY)
}

fn special_kind(file_type: FileType) -> EntryKind {
    if file_type.is_dir() {
        EntryKind::Directory
    } else if file_type.is_char_dev() {
        EntryKind::CharDevice { major: 0, minor: 0 }
    } else if file_type.is_block_dev() {
        EntryKind::BlockDevice { major: 0, minor: 0 }
    } else if file_type.is_fifo() {
        EntryKind::Fifo
    } else {
        EntryKind::Socket
    }
}

fn entry_from(path: Vec<u8>, key: u64, kind: EntryKind, metadata: &Metadata, size: u64) -> Entry {
    Entry {
        path,
        key,
        kind,
        mode: u32::from(metadata.mode()) & 0o7777,
        uid: metadata.uid(),
        gid: metadata.gid(),
        mtime: metadata.modified().seconds(),
        size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, Expect};
    use crate::{open, Format};

    #[test]
    fn reads_ext4_and_ext2_of_fixture() {
        for fs_type in ["ext4", "ext2", "ext3"] {
            let dir = tempfile::tempdir().unwrap();
            let src = dir.path().join("src");
            let fixture = testutil::build_fixture(&src, true);
            let img = dir.path().join("rootfs.img");
            testutil::mke2fs(&src, &img, fs_type);
            let image = open(&img).unwrap();
            assert_eq!(image.format(), Format::Ext);
            testutil::check_image(&image, &fixture, Expect::ext());
        }
    }

    #[test]
    fn recognised_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("f"), b"hi").unwrap();
        let img = dir.path().join("foo.tar");
        testutil::mke2fs(&src, &img, "ext4");
        assert_eq!(open(&img).unwrap().format(), Format::Ext);
    }

    #[test]
    fn parallel_reads_from_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let contents: Vec<Vec<u8>> = (0..4).map(|i| testutil::pattern(5000 + i * 3000)).collect();
        for (i, content) in contents.iter().enumerate() {
            std::fs::write(src.join(format!("f{i}")), content).unwrap();
        }
        let img = dir.path().join("rootfs.img");
        testutil::mke2fs(&src, &img, "ext4");
        let image = open(&img).unwrap();
        thread::scope(|scope| {
            for (i, content) in contents.iter().enumerate() {
                let image = &image;
                scope.spawn(move || {
                    let entry = testutil::find(image, format!("/f{i}").as_bytes());
                    for _ in 0..10 {
                        assert_eq!(&testutil::read_all(image, entry), content);
                    }
                });
            }
        });
    }

    #[test]
    fn parses_inode_from_debug() {
        assert_eq!(
            inode_from_debug("File { inode: 12, position: 0, .. }"),
            Some(12)
        );
        assert_eq!(inode_from_debug("File { .. }"), None);
        assert_eq!(inode_from_debug("File { inode: 99999999999 }"), None);
    }

    #[test]
    fn truncated_images_fail_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        testutil::build_fixture(&src, true);
        let img = dir.path().join("rootfs.img");
        testutil::mke2fs(&src, &img, "ext4");
        let full = std::fs::read(&img).unwrap();
        // Superblock only: the group descriptors that follow it are missing.
        std::fs::write(&img, &full[..2048]).unwrap();
        assert!(open(&img).is_err());
        for cut in [4096, 8192, 64 * 1024, 1 << 20] {
            std::fs::write(&img, &full[..cut]).unwrap();
            if let Ok(image) = open(&img) {
                testutil::read_every_file(&image);
            }
        }
    }
}
