//! The read-only lower layer of vkernel's root filesystem.
//!
//! [`open`] recognises an image by its content (tar, cpio "newc" or ext2/3/4), lists
//! every file once as a flat [`Entry`] list that the kernel loads into its inode table
//! at boot, and then serves file data on demand through [`Image::read_at`], so a large
//! image is never loaded into memory. [`write_tar`] builds images for
//! `vkernel mkrootfs`.
//!
//! Untrusted images never make this crate panic: every inconsistency becomes an
//! [`ImageError`]. Archive paths that climb out of the root with ".." are clamped to the
//! root (see the `tree` module).
//!
//! Not supported:
//! - compressed images, and cpio formats other than newc (odc, old binary): reported
//!   as unrecognised; newc-crc checksums are not verified;
//! - tar sparse files and multi-volume archives (`Unsupported`); a tar hard link to a
//!   file that is not earlier in the archive, or a member below a non-directory (such
//!   as below a symlink to a directory), is `Corrupt`; a tar without its end-of-archive
//!   marker is `Truncated` (it may have lost members);
//! - ext: device numbers, and inode numbers of non-regular files, which ext4-view does
//!   not expose (see the `ext` module).

mod cpio;
mod error;
mod ext;
mod tar;
mod tree;
mod writer;

#[cfg(test)]
mod testutil;

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::ImageError;
use error::Problem;
pub use writer::write_tar;

/// The on-disk format of an image, as recognised from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tar,
    Cpio,
    Ext,
}

/// Identity of an image file, used to check that a checkpoint is thawed over the same
/// root filesystem it was frozen with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub size: u64,
    pub xxh3: u64,
}

/// One file of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Absolute and normalised ("/", "/bin", "/bin/ls"); bytes, not necessarily UTF-8.
    pub path: Vec<u8>,
    /// Entries with the same key are hard links to one file; distinct files have
    /// distinct keys.
    pub key: u64,
    pub kind: EntryKind,
    /// Permission bits only (`mode & 0o7777`), including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// File size for regular files, target length for symlinks, 0 otherwise.
    pub size: u64,
}

/// What kind of file an [`Entry`] is, with what the kernel needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    Regular(DataRef),
    Directory,
    Symlink(Vec<u8>),
    CharDevice { major: u32, minor: u32 },
    BlockDevice { major: u32, minor: u32 },
    Fifo,
    Socket,
}

/// Opaque reference to a regular file's bytes in the image. It is saved in
/// checkpoints, so it only holds plain numbers: a byte range of the image file for tar
/// and cpio, a file key (the inode number) for ext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct DataRef {
    loc: DataLoc,
    len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
enum DataLoc {
    /// The data is stored contiguously at this offset of the image file.
    Bytes { offset: u64 },
    /// The data belongs to the ext file with this key.
    Inode(u64),
}

impl DataRef {
    /// Size of the file in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn bytes(offset: u64, len: u64) -> Self {
        DataRef {
            loc: DataLoc::Bytes { offset },
            len,
        }
    }

    pub(crate) fn inode(key: u64, len: u64) -> Self {
        DataRef {
            loc: DataLoc::Inode(key),
            len,
        }
    }

    /// The ext file key, if this refers to an ext file.
    pub(crate) fn ext_key(&self) -> Option<u64> {
        match self.loc {
            DataLoc::Inode(key) => Some(key),
            DataLoc::Bytes { .. } => None,
        }
    }
}

/// An opened image: its entry list and the means to read file data.
///
/// `Send + Sync`: archive data is read with `pread`, and ext reads are serialised
/// through the reader's worker thread, so `&Image` can be shared by many threads.
pub struct Image {
    path: PathBuf,
    file: File,
    format: Format,
    entries: Vec<Entry>,
    /// Only for ext images, whose data must go through the filesystem driver.
    ext: Option<ext::ExtReader>,
}

/// Opens an image file, recognises its format and lists its entries.
pub fn open(path: &Path) -> Result<Image, ImageError> {
    open_inner(path).map_err(|problem| problem.at(path))
}

fn open_inner(path: &Path) -> Result<Image, Problem> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let format = sniff(&file)?.ok_or(Problem::Unrecognized)?;
    let (entries, ext) = match format {
        Format::Tar => (tar::read_entries(&file, file_len)?, None),
        Format::Cpio => (cpio::read_entries(&file, file_len)?, None),
        Format::Ext => {
            let (reader, entries) = ext::ExtReader::open(file.try_clone()?)?;
            (entries, Some(reader))
        }
    };
    Ok(Image {
        path: path.to_path_buf(),
        file,
        format,
        entries,
        ext,
    })
}

/// Offset of the ext2/3/4 superblock magic (superblock at 1024, magic at +56).
const EXT_MAGIC_OFFSET: usize = 1024 + 56;

/// Recognises the format from the first bytes of the file. cpio and tar are checked
/// first because their signatures (a 6-byte magic, a header checksum) are far stronger
/// than ext's 2-byte magic, which sits where an archive keeps arbitrary data.
fn sniff(file: &File) -> Result<Option<Format>, Problem> {
    let mut head = vec![0u8; EXT_MAGIC_OFFSET + 2];
    let len = read_full_at(file, &mut head, 0)?;
    let head = head.get(..len).unwrap_or_default();
    if cpio::has_magic(head) {
        Ok(Some(Format::Cpio))
    } else if tar::has_header(head) {
        Ok(Some(Format::Tar))
    } else if head.get(EXT_MAGIC_OFFSET..) == Some(&[0x53, 0xef][..]) {
        Ok(Some(Format::Ext))
    } else {
        Ok(None)
    }
}

/// Reads until `buf` is full or the file ends; returns the number of bytes read.
pub(crate) fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|rest| !rest.is_empty()) {
        match file.read_at(rest, offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(done)
}

/// Chunk size for hashing the whole image.
const HASH_CHUNK: usize = 1 << 20;

impl Image {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Every entry. Root "/" first; a directory always comes before anything inside
    /// it. Parent directories that an archive omits are synthesized (mode 0o755,
    /// uid/gid 0, mtime 0); for duplicate paths the later archive member wins.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Reads up to `buf.len()` bytes at `offset` within the file described by `data`.
    /// Returns the number of bytes read, 0 at end of file.
    pub fn read_at(
        &self,
        data: &DataRef,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, ImageError> {
        self.read_inner(data, offset, buf)
            .map_err(|problem| problem.at(&self.path))
    }

    fn read_inner(&self, data: &DataRef, offset: u64, buf: &mut [u8]) -> Result<usize, Problem> {
        let left = data.len.saturating_sub(offset);
        let want = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
        let Some(buf) = buf.get_mut(..want).filter(|buf| !buf.is_empty()) else {
            return Ok(0);
        };
        match (data.loc, &self.ext) {
            (DataLoc::Bytes { offset: start }, None) => self.read_bytes(start, offset, buf),
            (DataLoc::Inode(key), Some(ext)) => ext.read(key, offset, buf),
            _ => Err(Problem::BadDataRef(format!("{data:?}"))),
        }
    }

    /// Reads archive data stored contiguously at `start` in the image.
    fn read_bytes(&self, start: u64, offset: u64, buf: &mut [u8]) -> Result<usize, Problem> {
        let at = start
            .checked_add(offset)
            .ok_or_else(|| Problem::BadDataRef(format!("offset {start}+{offset}")))?;
        let n = read_full_at(&self.file, buf, at)?;
        if n < buf.len() {
            return Err(Problem::Truncated(format!(
                "file data at byte {at} is past the end of the image; was it changed after it was opened?"
            )));
        }
        Ok(n)
    }

    /// Size and xxh3-64 hash of the whole image file, computed now by streaming it.
    pub fn identity(&self) -> Result<Identity, ImageError> {
        self.hash_file()
            .map_err(|err| Problem::Io(err).at(&self.path))
    }

    fn hash_file(&self) -> io::Result<Identity> {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut chunk = vec![0u8; HASH_CHUNK];
        let mut size = 0u64;
        loop {
            let n = read_full_at(&self.file, &mut chunk, size)?;
            hasher.update(chunk.get(..n).unwrap_or_default());
            size += n as u64;
            if n < chunk.len() {
                break;
            }
        }
        Ok(Identity {
            size,
            xxh3: hasher.digest(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn image_is_send_and_sync() {
        assert_send_sync::<Image>();
    }

    #[test]
    fn empty_and_garbage_files_are_unrecognized() {
        let dir = tempfile::tempdir().unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty.tar", Vec::new()),
            ("zeros.img", vec![0; 20_000]),
            ("text.cpio", b"hello world\n".repeat(1000)),
            ("short.img", b"0707".to_vec()),
        ];
        for (name, content) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            let err = open(&path).err().unwrap();
            assert!(
                matches!(err, ImageError::Unrecognized { .. }),
                "{name}: {err}"
            );
            assert_eq!(
                err.to_string(),
                format!("{}: not a tar, cpio or ext2/3/4 image", path.display())
            );
        }
    }

    #[test]
    fn missing_file_is_io_error() {
        let err = open(Path::new("/nonexistent/rootfs.img")).err().unwrap();
        assert!(matches!(err, ImageError::Io { .. }));
        assert!(err.to_string().starts_with("/nonexistent/rootfs.img: "));
    }

    #[test]
    fn identity_hashes_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        // Larger than one hash chunk, so streaming is exercised.
        let big = testutil::pattern(HASH_CHUNK * 2 + 123);
        testutil::make_tar_with(&path, &[("big", &big[..])]);
        let image = open(&path).unwrap();
        let content = std::fs::read(&path).unwrap();
        let id = image.identity().unwrap();
        assert_eq!(id.size, content.len() as u64);
        assert_eq!(id.xxh3, xxhash_rust::xxh3::xxh3_64(&content));

        let other = dir.path().join("b.tar");
        testutil::make_tar_with(&other, &[("big", &big[1..])]);
        assert_ne!(open(&other).unwrap().identity().unwrap(), id);
    }

    #[test]
    fn data_ref_of_other_format_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        testutil::make_tar_with(&path, &[("f", b"data")]);
        let image = open(&path).unwrap();
        let mut buf = [0u8; 4];
        let err = image
            .read_at(&DataRef::inode(12, 4), 0, &mut buf)
            .unwrap_err();
        assert!(matches!(err, ImageError::BadDataRef { .. }), "{err}");
        // Reads past the end of a file return 0, not an error.
        assert_eq!(
            image.read_at(&DataRef::inode(12, 4), 9, &mut buf).unwrap(),
            0
        );
    }

    /// A small xorshift generator: reproducible corruption without a rand dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Opens `content` as an image; if that works, reads everything. Must not panic.
    fn open_and_read(path: &Path, content: &[u8]) {
        std::fs::write(path, content).unwrap();
        if let Ok(image) = open(path) {
            testutil::check_invariants(image.entries());
            testutil::read_every_file(&image);
        }
    }

    /// Offsets where headers start: corruption there exercises the parsers.
    fn header_offsets(content: &[u8], magic: &[u8], back: usize) -> Vec<usize> {
        content
            .windows(magic.len())
            .enumerate()
            .filter(|(_, w)| *w == magic)
            .map(|(i, _)| i.saturating_sub(back))
            .collect()
    }

    fn hammer(valid: &[u8], headers: &[usize], header_len: usize, path: &Path) {
        for cut in (0..valid.len())
            .step_by(11)
            .chain(valid.len().saturating_sub(600)..valid.len())
        {
            open_and_read(path, &valid[..cut]);
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..1000 {
            let mut bad = valid.to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = if round % 2 == 0 || headers.is_empty() {
                    rng.below(bad.len())
                } else {
                    (headers[rng.below(headers.len())] + rng.below(header_len)).min(bad.len() - 1)
                };
                bad[at] = match rng.below(4) {
                    0 => 0,
                    1 => 0xff,
                    2 => b"0123456789abcdefABCDEF/.!x"[rng.below(26)],
                    _ => rng.below(256) as u8,
                };
            }
            open_and_read(path, &bad);
        }
    }

    #[test]
    fn truncated_and_corrupted_archives_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        testutil::build_fixture(&src, true);
        let tar_img = dir.path().join("valid.tar");
        write_tar(&src, &tar_img).unwrap();
        let cpio_img = dir.path().join("valid.cpio");
        testutil::busybox_cpio(&src, &cpio_img);
        let victim = dir.path().join("victim.img");

        let tar = std::fs::read(&tar_img).unwrap();
        // "ustar" sits at byte 257 of every header block.
        hammer(&tar, &header_offsets(&tar, b"ustar", 257), 512, &victim);
        let cpio = std::fs::read(&cpio_img).unwrap();
        hammer(&cpio, &header_offsets(&cpio, b"07070", 0), 140, &victim);
    }

    #[test]
    fn corrupted_ext_images_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        testutil::build_fixture(&src, true);
        let img = dir.path().join("valid.img");
        testutil::mke2fs(&src, &img, "ext4");
        let valid = std::fs::read(&img).unwrap();
        let victim = dir.path().join("victim.img");
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        // Metadata (superblock, group descriptors, bitmaps, inode table, directories)
        // lives near the start of a small image.
        let metadata_end = valid.len().min(512 * 1024);
        for _ in 0..300 {
            let mut bad = valid.clone();
            for _ in 0..1 + rng.below(8) {
                let at = 1024 + rng.below(metadata_end - 1024);
                bad[at] = rng.below(256) as u8;
            }
            open_and_read(&victim, &bad);
        }
    }
}
