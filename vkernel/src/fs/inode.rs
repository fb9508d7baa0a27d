//! Inodes of the in-memory filesystem tree.
//!
//! The root filesystem image is read once at boot into this tree (metadata only: file
//! bytes stay in the image until written, then are copied up into memory), so the
//! read-only lower layer and the writable upper layer are one tree with per-file data
//! sources. Deleting a file from the image just unlinks it here; the image is never
//! consulted for names again, which is what an overlay's whiteout achieves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::errno::Errno;

use super::procfs::ProcNode;

pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_IFSOCK: u32 = 0o140000;

/// Device numbers of the kernel's filesystems (st_dev).
pub const DEV_ROOTFS: u64 = 0x801;
pub const DEV_DEVFS: u64 = 5;
pub const DEV_PROCFS: u64 = 4;
pub const DEV_PIPEFS: u64 = 0xd;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

impl Timespec {
    pub fn now() -> Timespec {
        let (sec, nsec) = crate::host::clock(libc::CLOCK_REALTIME);
        Timespec { sec, nsec }
    }
}

pub enum FileData {
    /// Still in the read-only image.
    Lower {
        image: Arc<rootfs::Image>,
        data: rootfs::DataRef,
    },
    /// Copied up (or created) in memory.
    Upper(Vec<u8>),
}

pub struct DirData {
    pub entries: BTreeMap<Vec<u8>, Arc<Inode>>,
    /// Directories have exactly one name, so they can find their way up.
    pub parent: Weak<Inode>,
    pub name: Vec<u8>,
}

pub enum Body {
    Regular(FileData),
    Dir(DirData),
    Symlink(Vec<u8>),
    /// Devices, FIFOs and sockets: everything is in the mode and rdev.
    Special,
    /// A /proc node, generated on demand.
    Proc(ProcNode),
}

pub struct InodeState {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub rdev: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    pub body: Body,
}

pub struct Inode {
    pub ino: u64,
    pub dev: u64,
    /// The pipe behind a FIFO (named or anonymous), made at first open.
    pub fifo: std::sync::OnceLock<Arc<super::pipe::Pipe>>,
    /// flock and POSIX record locks; waiters for a lock sleep on `lock_wq`.
    pub locks: Mutex<super::lock::FileLocks>,
    pub lock_wq: crate::sched::WaitQueue,
    /// Mount roots (/dev, /proc) cannot be renamed or removed.
    pub mount_root: bool,
    state: Mutex<InodeState>,
}

static NEXT_INO: AtomicU64 = AtomicU64::new(1 << 32);

/// Inode numbers for inodes created at run time (image inodes keep small numbers).
pub fn next_ino() -> u64 {
    NEXT_INO.fetch_add(1, Ordering::Relaxed)
}

/// A thawed inode numbered `ino` exists: inodes created from now on get higher
/// numbers, so they never collide with it.
pub fn reserve_ino(ino: u64) {
    if ino >= 1 << 32 {
        NEXT_INO.fetch_max(ino.saturating_add(1), Ordering::Relaxed);
    }
}

impl Inode {
    pub fn new(ino: u64, dev: u64, st: InodeState) -> Arc<Inode> {
        Self::make(ino, dev, st, false)
    }

    pub fn new_mount_root(ino: u64, dev: u64, st: InodeState) -> Arc<Inode> {
        Self::make(ino, dev, st, true)
    }

    fn make(ino: u64, dev: u64, st: InodeState, mount_root: bool) -> Arc<Inode> {
        Arc::new(Inode {
            ino,
            dev,
            fifo: std::sync::OnceLock::new(),
            locks: Mutex::default(),
            lock_wq: crate::sched::WaitQueue::default(),
            mount_root,
            state: Mutex::new(st),
        })
    }

    pub fn locks(&self) -> MutexGuard<'_, super::lock::FileLocks> {
        self.locks.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lock(&self) -> MutexGuard<'_, InodeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn mode(&self) -> u32 {
        self.lock().mode
    }

    pub fn file_type(&self) -> u32 {
        self.mode() & S_IFMT
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }

    pub fn proc_node(&self) -> Option<ProcNode> {
        match &self.lock().body {
            Body::Proc(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// The parent directory (itself for a root).
    pub fn parent(self: &Arc<Self>) -> Arc<Inode> {
        match &self.lock().body {
            Body::Dir(d) => d.parent.upgrade().unwrap_or_else(|| self.clone()),
            _ => self.clone(),
        }
    }

    pub fn size(&self) -> u64 {
        match &self.lock().body {
            Body::Regular(FileData::Lower { data, .. }) => data.len(),
            Body::Regular(FileData::Upper(v)) => v.len() as u64,
            Body::Symlink(t) => t.len() as u64,
            // One block, as ext2/3/4 (where root images come from) report a directory;
            // /proc directories read 0 as on Linux.
            Body::Dir(_) if self.dev != DEV_PROCFS => 4096,
            _ => 0,
        }
    }
}

impl InodeState {
    pub fn new(mode: u32, uid: u32, gid: u32, body: Body) -> InodeState {
        let now = Timespec::now();
        InodeState {
            mode,
            uid,
            gid,
            nlink: 1,
            rdev: 0,
            atime: now,
            mtime: now,
            ctime: now,
            body,
        }
    }

    pub fn dir(&self) -> Result<&DirData, Errno> {
        match &self.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    pub fn dir_mut(&mut self) -> Result<&mut DirData, Errno> {
        match &mut self.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The file's bytes in memory, copying them up from the image on first use.
    pub fn upper_data(&mut self) -> Result<&mut Vec<u8>, Errno> {
        if let Body::Regular(FileData::Lower { image, data }) = &self.body {
            let mut buf = vec![0u8; data.len() as usize];
            read_lower(image, data, 0, &mut buf)?;
            self.body = Body::Regular(FileData::Upper(buf));
        }
        match &mut self.body {
            Body::Regular(FileData::Upper(v)) => Ok(v),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Reads file bytes at `off` (short at end of file).
    pub fn read_data(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        match &self.body {
            Body::Regular(FileData::Lower { image, data }) => read_lower(image, data, off, buf),
            Body::Regular(FileData::Upper(v)) => {
                let start = (off as usize).min(v.len());
                let n = buf.len().min(v.len() - start);
                buf[..n].copy_from_slice(&v[start..start + n]);
                Ok(n)
            }
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }
}

fn read_lower(
    image: &rootfs::Image,
    data: &rootfs::DataRef,
    off: u64,
    buf: &mut [u8],
) -> Result<usize, Errno> {
    let mut done = 0;
    while done < buf.len() {
        let n = image
            .read_at(data, off + done as u64, &mut buf[done..])
            .map_err(|e| {
                tracing_log(&e);
                Errno::EIO
            })?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

fn tracing_log(e: &rootfs::ImageError) {
    eprintln!("vkernel: {e}");
}

/// The root directory of a kernel filesystem (/dev, /dev/pts, /proc), mounted on
/// `parent` as `name`.
pub fn mount_root_dir(
    ino: u64,
    dev: u64,
    mode: u32,
    parent: &Arc<Inode>,
    name: &[u8],
) -> Arc<Inode> {
    Inode::new_mount_root(ino, dev, dir_state(mode, 0, 0, parent, name))
}

/// Creates a directory inode under `parent` named `name` (not yet linked).
pub fn new_dir(
    dev: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    parent: &Arc<Inode>,
    name: &[u8],
) -> Arc<Inode> {
    Inode::new(next_ino(), dev, dir_state(mode, uid, gid, parent, name))
}

fn dir_state(mode: u32, uid: u32, gid: u32, parent: &Arc<Inode>, name: &[u8]) -> InodeState {
    let body = Body::Dir(DirData {
        entries: BTreeMap::new(),
        parent: Arc::downgrade(parent),
        name: name.to_vec(),
    });
    let mut st = InodeState::new(S_IFDIR | (mode & 0o7777), uid, gid, body);
    st.nlink = 2;
    st
}
