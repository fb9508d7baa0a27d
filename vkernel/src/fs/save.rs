//! Saving the filesystem for a checkpoint, and restoring it.
//!
//! Inodes, open file descriptions, pipes and sockets are shared objects: two names on one inode,
//! two fds on one description, a pipe's two ends (and a FIFO's inode). A checkpoint
//! gives each such object an index the first time it meets it ([`FsSaver`]), and every
//! reference becomes that index: directory entries, a directory's parent, a FIFO's
//! pipe, a description's inode and pipe, an epoll item's file, a flock lock's owner,
//! and (outside this module) fd tables, cwds and roots. Sockets name each other, open
//! files (SCM_RIGHTS in flight) and inodes (their path names) the same way, through
//! `net::SaveIndex`. Restoring makes one object per index, so whatever was shared is
//! shared again.
//!
//! - Saved inodes are everything reachable from the root (the image's tree with every
//!   change, /dev with its nodes and /dev/pts with the pty nodes, the /proc mount root),
//!   plus whatever the caller asks for: the inodes of open files (also unlinked ones),
//!   cwds and roots. A regular file still in the root image is saved as its place in
//!   the image (`rootfs::DataRef`), a copied-up or new one with its bytes.
//! - /proc keeps no state: a /proc inode is saved as the node it stands for (its
//!   directories by their inode number, which names the node), and a /proc file open
//!   for reading keeps the bytes generated at its open.
//! - Terminals are saved by their table (`devpts::Ttys::save`): files name them by
//!   [`TtyId`], and /dev/pts/N nodes are ordinary device inodes of the tree.
//! - Restore checks the saved form first (indices in range, types matching contents,
//!   directories entered once from their own parent, no parent or epoll cycles, lower
//!   data that is in the image) and only then builds anything, so a corrupt image is a
//!   [`CkptError`] and never a panic.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

use ckpt::CkptError;
use serde::{Deserialize, Serialize};

use super::dev::Device;
use super::epoll::{Epoll, SavedEpoll, MAX_NESTS};
use super::event::{
    anon_inode, EventFd, EventFdState, SavedTimerFd, SignalFd, SignalFdState, TimerFd,
};
use super::file::{FileKind, OpenFile};
use super::inode::*;
use super::lock::{FileLocks, Owner, SavedFileLocks};
use super::pipe::{Ends, Pipe, SavedPipe};
use super::procfs::ProcNode;
use super::tty::{Tty, TtyId};
use super::Vfs;
use crate::net::{self, SavedSocket, Socket};
use crate::sched::timer::Timers;

/// The filesystem as a checkpoint saves it. Indices into `inodes`, `files` and `pipes`
/// are the checkpoint's names for those objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFs {
    pub root: usize,
    /// /dev/pts, where the pty table adds and removes nodes.
    pub pts: usize,
    pub inodes: Vec<SavedInode>,
    pub files: Vec<SavedFile>,
    pub pipes: Vec<SavedPipe>,
    pub sockets: Vec<SavedSocket>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedInode {
    pub ino: u64,
    pub dev: u64,
    pub mount_root: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub rdev: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    pub body: SavedBody,
    /// The pipe of a FIFO (or of an anonymous pipe's inode), once made.
    pub fifo: Option<usize>,
    /// flock locks name their description by its index in [`SavedFs::files`].
    pub locks: SavedFileLocks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedBody {
    /// A regular file whose bytes are still in the root image.
    Lower(rootfs::DataRef),
    /// A regular file's bytes in memory (copied up, or created since boot).
    Upper(Vec<u8>),
    Dir {
        entries: Vec<(Vec<u8>, usize)>,
        /// None for a root; a removed directory keeps the parent it had.
        parent: Option<usize>,
        name: Vec<u8>,
    },
    Symlink(Vec<u8>),
    /// Devices, FIFOs, sockets: the mode and rdev say everything.
    Special,
    /// A /proc file or link, generated from the process table when read.
    Proc(ProcNode),
    /// The one anonymous inode of eventfd, timerfd, signalfd and epoll files.
    Anon,
}

/// An open file description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFile {
    pub inode: usize,
    pub path: Vec<u8>,
    pub flags: u32,
    pub pos: u64,
    pub kind: SavedKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedKind {
    Regular,
    Dir,
    Device(Device),
    Tty {
        tty: TtyId,
        stderr: bool,
    },
    PtyMaster(TtyId),
    /// The bytes generated when the /proc file was opened.
    ProcData(Vec<u8>),
    Path,
    Pipe {
        pipe: usize,
        ends: Ends,
    },
    EventFd(EventFdState),
    TimerFd(SavedTimerFd),
    SignalFd(SignalFdState),
    Epoll(SavedEpoll),
    /// A socket index.
    Socket(usize),
}

fn corrupt(what: String) -> CkptError {
    CkptError::Decode(what)
}

/// The identity of a shared object while the kernel runs.
fn key<T: ?Sized>(a: &Arc<T>) -> usize {
    Arc::as_ptr(a) as *const () as usize
}

/// Index of each object met so far, in the order met.
struct Indexed<T: ?Sized> {
    all: Vec<Arc<T>>,
    ix: HashMap<usize, usize>,
}

impl<T: ?Sized> Default for Indexed<T> {
    fn default() -> Self {
        Indexed {
            all: Vec::new(),
            ix: HashMap::new(),
        }
    }
}

impl<T: ?Sized> Indexed<T> {
    fn index(&mut self, a: &Arc<T>) -> usize {
        *self.ix.entry(key(a)).or_insert_with(|| {
            self.all.push(a.clone());
            self.all.len() - 1
        })
    }
}

/// Hands out the checkpoint's indices of inodes and open file descriptions, and saves
/// everything they lead to. Made by [`Vfs::saver`]; the checkpoint writer asks for the
/// index of every description in every fd table (`FdTable::save(|f| saver.file(f))`)
/// and of every cwd and root (`saver.inode`), then calls [`FsSaver::finish`].
pub struct FsSaver {
    root: usize,
    pts: usize,
    inodes: Indexed<Inode>,
    files: Indexed<OpenFile>,
    pipes: Indexed<Pipe>,
    sockets: Indexed<dyn Socket>,
}

impl Vfs {
    /// A saver that already holds the tree (root and /dev/pts).
    pub fn saver(&self) -> FsSaver {
        let mut s = FsSaver {
            root: 0,
            pts: 0,
            inodes: Indexed::default(),
            files: Indexed::default(),
            pipes: Indexed::default(),
            sockets: Indexed::default(),
        };
        s.root = s.inode(&self.root);
        s.pts = s.inode(&self.pts);
        s
    }

    /// Rebuilds a saved filesystem. `env` gives what is not saved here: the root
    /// image (the caller has checked its identity), the timer thread and the restored
    /// terminals.
    pub fn restore(saved: SavedFs, env: &RestoreEnv) -> Result<RestoredFs, CkptError> {
        let ttys = check(&saved, env)?;
        let inodes: Vec<Arc<Inode>> = saved.inodes.iter().map(new_inode).collect();
        let pipes = restore_pipes(&saved)?;
        for (s, inode) in saved.inodes.iter().zip(&inodes) {
            fill_inode(s, inode, &inodes, &pipes, env.image);
        }
        let sockets: Vec<Arc<dyn Socket>> = saved.sockets.iter().map(net::bare).collect();
        let mut files = Vec::with_capacity(saved.files.len());
        for s in &saved.files {
            files.push(new_file(s, &inodes, &pipes, &sockets, &ttys, env)?);
        }
        let ix = Restored {
            inodes: &inodes,
            files: &files,
            sockets: &sockets,
        };
        for (s, sock) in saved.sockets.iter().zip(&sockets) {
            net::restore(sock, s, &ix)?;
        }
        for (s, f) in saved.files.iter().zip(&files) {
            if let (SavedKind::Epoll(e), FileKind::Epoll(ep)) = (&s.kind, &f.kind) {
                ep.restore_items(e.items.iter().map(|(st, i)| (*st, &files[*i])).collect());
            }
        }
        for (s, inode) in saved.inodes.iter().zip(&inodes) {
            *inode.locks() = FileLocks::restore(s.locks.clone(), |i| key(&files[i]));
        }
        let vfs = Vfs {
            root: inodes[saved.root].clone(),
            pts: inodes[saved.pts].clone(),
            namespace: Mutex::new(()),
            lock_waits: Default::default(),
        };
        Ok(RestoredFs { vfs, inodes, files })
    }
}

impl FsSaver {
    /// The checkpoint's index of an inode (a cwd, a root, anything).
    pub fn inode(&mut self, i: &Arc<Inode>) -> usize {
        self.inodes.index(i)
    }

    /// The checkpoint's index of an open file description: the same for every fd on it.
    pub fn file(&mut self, f: &Arc<OpenFile>) -> usize {
        self.files.index(f)
    }

    /// Saves every indexed object and everything they lead to.
    pub fn finish(mut self) -> SavedFs {
        let (mut inodes, mut files, mut sockets) = (Vec::new(), Vec::new(), Vec::new());
        while inodes.len() < self.inodes.all.len()
            || files.len() < self.files.all.len()
            || sockets.len() < self.sockets.all.len()
        {
            while let Some(i) = self.inodes.all.get(inodes.len()).cloned() {
                inodes.push(self.save_inode(&i));
            }
            while let Some(f) = self.files.all.get(files.len()).cloned() {
                files.push(self.save_file(&f));
            }
            while let Some(s) = self.sockets.all.get(sockets.len()).cloned() {
                sockets.push(s.save(&mut self));
            }
        }
        // Locks last, once every description has its index: a flock lock of a
        // description nothing saved (so nothing can restore) goes with it.
        for (s, i) in inodes.iter_mut().zip(&self.inodes.all) {
            let mut locks = i
                .locks()
                .save(|id| *self.files.ix.get(&id).unwrap_or(&usize::MAX));
            locks.held.retain(|l| l.owner != Owner::File(usize::MAX));
            s.locks = locks;
        }
        SavedFs {
            root: self.root,
            pts: self.pts,
            inodes,
            files,
            pipes: self.pipes.all.iter().map(|p| p.save()).collect(),
            sockets,
        }
    }

    fn save_inode(&mut self, inode: &Arc<Inode>) -> SavedInode {
        let fifo = inode.fifo.get().map(|p| self.pipes.index(p));
        let anon = Arc::ptr_eq(inode, &anon_inode());
        let st = inode.lock();
        let body = match &st.body {
            _ if anon => SavedBody::Anon,
            Body::Regular(FileData::Lower { data, .. }) => SavedBody::Lower(*data),
            Body::Regular(FileData::Upper(v)) => SavedBody::Upper(v.clone()),
            Body::Dir(d) => SavedBody::Dir {
                entries: d
                    .entries
                    .iter()
                    .map(|(name, child)| (name.clone(), self.inodes.index(child)))
                    .collect(),
                parent: d.parent.upgrade().map(|p| self.inodes.index(&p)),
                name: d.name.clone(),
            },
            Body::Symlink(t) => SavedBody::Symlink(t.clone()),
            Body::Special => SavedBody::Special,
            Body::Proc(n) => SavedBody::Proc(n.clone()),
        };
        SavedInode {
            ino: inode.ino,
            dev: inode.dev,
            mount_root: inode.mount_root,
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            nlink: st.nlink,
            rdev: st.rdev,
            atime: st.atime,
            mtime: st.mtime,
            ctime: st.ctime,
            body,
            fifo,
            locks: SavedFileLocks { held: Vec::new() },
        }
    }

    fn save_file(&mut self, f: &Arc<OpenFile>) -> SavedFile {
        let kind = match &f.kind {
            FileKind::Regular => SavedKind::Regular,
            FileKind::Dir => SavedKind::Dir,
            FileKind::Device(d) => SavedKind::Device(*d),
            FileKind::Tty { tty, stderr } => SavedKind::Tty {
                tty: tty.id,
                stderr: *stderr,
            },
            FileKind::PtyMaster(tty) => SavedKind::PtyMaster(tty.id),
            FileKind::ProcData(d) => SavedKind::ProcData(d.to_vec()),
            FileKind::Path => SavedKind::Path,
            FileKind::Pipe { pipe, ends } => SavedKind::Pipe {
                pipe: self.pipes.index(pipe),
                ends: *ends,
            },
            FileKind::EventFd(e) => SavedKind::EventFd(e.state()),
            FileKind::TimerFd(t) => SavedKind::TimerFd(t.save()),
            FileKind::SignalFd(s) => SavedKind::SignalFd(s.state()),
            FileKind::Epoll(ep) => SavedKind::Epoll(ep.save(|w| self.files.index(w))),
            FileKind::Socket(s) => SavedKind::Socket(self.sockets.index(s)),
        };
        SavedFile {
            inode: self.inodes.index(&f.inode),
            path: f.path.clone(),
            flags: f.flags(),
            pos: f.pos(),
            kind,
        }
    }
}

impl net::SaveIndex for FsSaver {
    fn file(&mut self, f: &Arc<OpenFile>) -> usize {
        self.files.index(f)
    }

    fn inode(&mut self, i: &Arc<Inode>) -> usize {
        self.inodes.index(i)
    }

    fn socket(&mut self, s: &Arc<dyn Socket>) -> usize {
        self.sockets.index(s)
    }
}

/// Restored objects by index, for the sockets that name them.
struct Restored<'a> {
    inodes: &'a [Arc<Inode>],
    files: &'a [Arc<OpenFile>],
    sockets: &'a [Arc<dyn Socket>],
}

fn nth<T: ?Sized>(v: &[Arc<T>], i: usize, what: &str) -> Result<Arc<T>, CkptError> {
    v.get(i)
        .cloned()
        .ok_or_else(|| corrupt(format!("a socket names {what} {i} of {}", v.len())))
}

impl net::RestoreIndex for Restored<'_> {
    fn file(&self, i: usize) -> Result<Arc<OpenFile>, CkptError> {
        nth(self.files, i, "open file")
    }

    fn inode(&self, i: usize) -> Result<Arc<Inode>, CkptError> {
        nth(self.inodes, i, "inode")
    }

    fn socket(&self, i: usize) -> Result<Arc<dyn Socket>, CkptError> {
        nth(self.sockets, i, "socket")
    }
}

/// What restoring the filesystem needs besides its saved form.
pub struct RestoreEnv<'a> {
    /// The root image, already checked to be the one the checkpoint was made with.
    pub image: &'a Arc<rootfs::Image>,
    pub timers: &'a Arc<Timers>,
    /// The restored terminals (`devpts::RestoredTtys::get`).
    pub tty: &'a dyn Fn(TtyId) -> Option<Arc<Tty>>,
}

/// A restored filesystem, and its objects by checkpoint index for the fd tables, cwds
/// and roots that name them. Descriptions and removed inodes live as long as something
/// holds them, so keep this until those are restored.
pub struct RestoredFs {
    pub vfs: Vfs,
    inodes: Vec<Arc<Inode>>,
    files: Vec<Arc<OpenFile>>,
}

impl RestoredFs {
    /// The filesystem, once the fd tables, cwds and roots hold what they name.
    pub fn into_vfs(self) -> Vfs {
        self.vfs
    }

    pub fn inode(&self, i: usize) -> Result<Arc<Inode>, CkptError> {
        let n = self.inodes.len();
        self.inodes
            .get(i)
            .cloned()
            .ok_or_else(|| corrupt(format!("inode {i} named, of {n} saved")))
    }

    pub fn file(&self, i: usize) -> Result<Arc<OpenFile>, CkptError> {
        let n = self.files.len();
        self.files
            .get(i)
            .cloned()
            .ok_or_else(|| corrupt(format!("open file {i} named, of {n} saved")))
    }
}

/// Checks everything restore relies on, and finds the terminals files name.
fn check(saved: &SavedFs, env: &RestoreEnv) -> Result<HashMap<TtyId, Arc<Tty>>, CkptError> {
    let n = saved.inodes.len();
    let inode = |i: usize, what: &dyn Fn() -> String| {
        saved
            .inodes
            .get(i)
            .ok_or_else(|| corrupt(format!("{} names inode {i} of {n}", what())))
    };
    let is_dir = |s: &SavedInode| matches!(s.body, SavedBody::Dir { .. });
    for (what, i) in [("the root", saved.root), ("/dev/pts", saved.pts)] {
        let s = inode(i, &|| what.to_string())?;
        if !is_dir(s) || (i == saved.root && parent(s).is_some()) {
            return Err(corrupt(format!("{what} is inode {i}, no root directory")));
        }
    }
    let lower: HashSet<rootfs::DataRef> = env
        .image
        .entries()
        .iter()
        .filter_map(|e| match e.kind {
            rootfs::EntryKind::Regular(d) => Some(d),
            _ => None,
        })
        .collect();
    let mut entered = vec![false; n];
    for (i, s) in saved.inodes.iter().enumerate() {
        let at = || format!("inode {i}");
        let ftype = s.mode & S_IFMT;
        let matches = match &s.body {
            SavedBody::Lower(d) if !lower.contains(d) => {
                return Err(corrupt(format!(
                    "inode {i}'s data is no file of the root image"
                )));
            }
            SavedBody::Lower(_) | SavedBody::Upper(_) => ftype == S_IFREG,
            SavedBody::Dir {
                entries,
                parent: up,
                ..
            } => {
                if let Some(p) = up {
                    if !is_dir(inode(*p, &at)?) {
                        return Err(corrupt(format!("inode {i}'s parent is no directory")));
                    }
                }
                let mut names = HashSet::new();
                for (name, c) in entries {
                    check_name(name, &names)
                        .map_err(|why| corrupt(format!("inode {i} has an entry {why}")))?;
                    names.insert(name.as_slice());
                    let child = inode(*c, &at)?;
                    if is_dir(child) {
                        if entered[*c] || parent(child) != Some(i) {
                            return Err(corrupt(format!(
                                "directory {c} entered from {i}, not (only) from its parent"
                            )));
                        }
                        entered[*c] = true;
                    }
                }
                ftype == S_IFDIR
            }
            SavedBody::Symlink(_) => ftype == S_IFLNK,
            SavedBody::Special => !matches!(ftype, S_IFREG | S_IFDIR | S_IFLNK),
            SavedBody::Proc(_) => s.dev == DEV_PROCFS && ftype != S_IFDIR,
            // The kernel's one anonymous inode: nothing of it is restored.
            SavedBody::Anon => s.fifo.is_none() && s.locks.held.is_empty(),
        };
        if !matches {
            return Err(corrupt(format!(
                "inode {i}'s mode {:o} does not fit its contents",
                s.mode
            )));
        }
        if let Some(p) = s.fifo.filter(|&p| p >= saved.pipes.len()) {
            return Err(corrupt(format!("inode {i} names pipe {p}")));
        }
        for l in &s.locks.held {
            if let Owner::File(f) = l.owner {
                if f >= saved.files.len() {
                    return Err(corrupt(format!("a lock on inode {i} names open file {f}")));
                }
            }
        }
    }
    check_parents(saved)?;
    let ttys = check_files(saved, env)?;
    check_epoll_nesting(&saved.files)?;
    Ok(ttys)
}

fn parent(s: &SavedInode) -> Option<usize> {
    match s.body {
        SavedBody::Dir { parent, .. } => parent,
        _ => None,
    }
}

fn check_name(name: &[u8], seen: &HashSet<&[u8]>) -> Result<(), String> {
    if name.is_empty() || name == b"." || name == b".." || name.len() > 255 {
        return Err(format!("named {:?}", String::from_utf8_lossy(name)));
    }
    if name.contains(&b'/') || name.contains(&0) {
        return Err("with a slash or NUL in its name".into());
    }
    if seen.contains(name) {
        return Err("twice".into());
    }
    Ok(())
}

/// Following parents from any directory must end at a root: `..` and getcwd follow
/// them, and a rename checks ancestry with them.
fn check_parents(saved: &SavedFs) -> Result<(), CkptError> {
    const UNSEEN: u8 = 0;
    const ON_PATH: u8 = 1;
    const ENDS: u8 = 2;
    let mut state = vec![UNSEEN; saved.inodes.len()];
    for start in 0..saved.inodes.len() {
        let mut path = Vec::new();
        let mut cur = Some(start);
        while let Some(i) = cur {
            match state[i] {
                ENDS => break,
                ON_PATH => return Err(corrupt(format!("directory {i} is its own ancestor"))),
                _ => {}
            }
            state[i] = ON_PATH;
            path.push(i);
            cur = parent(&saved.inodes[i]);
        }
        for i in path {
            state[i] = ENDS;
        }
    }
    Ok(())
}

fn check_files(saved: &SavedFs, env: &RestoreEnv) -> Result<HashMap<TtyId, Arc<Tty>>, CkptError> {
    let mut ttys = HashMap::new();
    let mut tty = |id: TtyId| -> Result<Arc<Tty>, CkptError> {
        if let Some(t) = ttys.get(&id) {
            return Ok(Arc::clone(t));
        }
        let t = (env.tty)(id).ok_or_else(|| {
            corrupt(format!(
                "an open file names terminal {id:?}, which is not saved"
            ))
        })?;
        ttys.insert(id, t.clone());
        Ok(t)
    };
    for (i, f) in saved.files.iter().enumerate() {
        if f.inode >= saved.inodes.len() {
            return Err(corrupt(format!("open file {i} names inode {}", f.inode)));
        }
        match &f.kind {
            SavedKind::Pipe { pipe, ends }
                if *pipe >= saved.pipes.len() || !(ends.read || ends.write) =>
            {
                return Err(corrupt(format!("open file {i} names no end of a pipe")));
            }
            SavedKind::Tty { tty: id, .. } => {
                tty(*id)?;
            }
            SavedKind::PtyMaster(id) => {
                let t = tty(*id)?;
                if !t.is_pty() {
                    return Err(corrupt(format!("open file {i} is the master of {id:?}")));
                }
            }
            SavedKind::EventFd(st) if st.count == u64::MAX => {
                return Err(corrupt(format!("eventfd {i} overflowed")));
            }
            SavedKind::TimerFd(t)
                if ![
                    libc::CLOCK_MONOTONIC,
                    libc::CLOCK_REALTIME,
                    libc::CLOCK_BOOTTIME,
                ]
                .contains(&t.clock) =>
            {
                return Err(corrupt(format!("timerfd {i} on clock {}", t.clock)));
            }
            SavedKind::Epoll(e) => {
                if let Some((_, w)) = e.items.iter().find(|(_, w)| *w >= saved.files.len()) {
                    return Err(corrupt(format!("epoll file {i} watches open file {w}")));
                }
            }
            SavedKind::Socket(s) if *s >= saved.sockets.len() => {
                return Err(corrupt(format!("open file {i} names socket {s}")));
            }
            _ => {}
        }
    }
    Ok(ttys)
}

/// Epoll files poll the epoll files they watch: a cycle would never end, and Linux
/// refuses nesting deeper than EP_MAX_NESTS.
fn check_epoll_nesting(files: &[SavedFile]) -> Result<(), CkptError> {
    let kids: Vec<Vec<usize>> = files
        .iter()
        .map(|f| match &f.kind {
            SavedKind::Epoll(e) => e
                .items
                .iter()
                .map(|&(_, w)| w)
                .filter(|&w| matches!(files[w].kind, SavedKind::Epoll(_)))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut height: Vec<Option<usize>> = vec![None; files.len()];
    let mut active = vec![false; files.len()];
    for start in 0..files.len() {
        if height[start].is_some() {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        active[start] = true;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&c) = kids[node].get(*next) {
                *next += 1;
                if active[c] {
                    return Err(corrupt(format!("epoll file {c} watches itself")));
                }
                if height[c].is_none() {
                    active[c] = true;
                    stack.push((c, 0));
                }
                continue;
            }
            let h = 1 + kids[node]
                .iter()
                .filter_map(|&c| height[c])
                .max()
                .unwrap_or(0);
            if h > MAX_NESTS + 1 {
                return Err(corrupt(format!("epoll files nest {h} deep")));
            }
            height[node] = Some(h);
            active[node] = false;
            stack.pop();
        }
    }
    Ok(())
}

/// An inode with its metadata; contents come in `fill_inode` once all exist.
fn new_inode(s: &SavedInode) -> Arc<Inode> {
    if s.body == SavedBody::Anon {
        return anon_inode();
    }
    let mut st = InodeState::new(s.mode, s.uid, s.gid, Body::Special);
    st.nlink = s.nlink;
    st.rdev = s.rdev;
    st.atime = s.atime;
    st.mtime = s.mtime;
    st.ctime = s.ctime;
    // /proc numbers name nodes (pid << 32 | kind), not allocations.
    if s.dev != DEV_PROCFS {
        reserve_ino(s.ino);
    }
    if s.mount_root {
        Inode::new_mount_root(s.ino, s.dev, st)
    } else {
        Inode::new(s.ino, s.dev, st)
    }
}

fn fill_inode(
    s: &SavedInode,
    inode: &Arc<Inode>,
    inodes: &[Arc<Inode>],
    pipes: &[Arc<Pipe>],
    image: &Arc<rootfs::Image>,
) {
    if let Some(p) = s.fifo {
        let _ = inode.fifo.set(pipes[p].clone());
    }
    let body = match &s.body {
        SavedBody::Anon => return,
        SavedBody::Lower(data) => Body::Regular(FileData::Lower {
            image: image.clone(),
            data: *data,
        }),
        SavedBody::Upper(v) => Body::Regular(FileData::Upper(v.clone())),
        SavedBody::Dir {
            entries,
            parent,
            name,
        } => Body::Dir(DirData {
            entries: entries
                .iter()
                .map(|(n, c)| (n.clone(), inodes[*c].clone()))
                .collect::<BTreeMap<_, _>>(),
            parent: parent.map_or_else(Weak::new, |p| Arc::downgrade(&inodes[p])),
            name: name.clone(),
        }),
        SavedBody::Symlink(t) => Body::Symlink(t.clone()),
        SavedBody::Special => Body::Special,
        SavedBody::Proc(n) => Body::Proc(n.clone()),
    };
    inode.lock().body = body;
}

/// The pipes, each with as many readers and writers as restored descriptions hold
/// its ends: those are what release them, whatever the counts were at the freeze.
fn restore_pipes(saved: &SavedFs) -> Result<Vec<Arc<Pipe>>, CkptError> {
    let mut ends = vec![(0, 0); saved.pipes.len()];
    for f in &saved.files {
        if let SavedKind::Pipe { pipe, ends: e } = f.kind {
            ends[pipe].0 += usize::from(e.read);
            ends[pipe].1 += usize::from(e.write);
        }
    }
    saved
        .pipes
        .iter()
        .zip(ends)
        .map(|(p, (readers, writers))| {
            Pipe::restore(SavedPipe {
                readers,
                writers,
                ..p.clone()
            })
        })
        .collect()
}

fn new_file(
    s: &SavedFile,
    inodes: &[Arc<Inode>],
    pipes: &[Arc<Pipe>],
    sockets: &[Arc<dyn Socket>],
    ttys: &HashMap<TtyId, Arc<Tty>>,
    env: &RestoreEnv,
) -> Result<Arc<OpenFile>, CkptError> {
    let tty = |id: &TtyId| {
        ttys.get(id)
            .cloned()
            .ok_or_else(|| corrupt(format!("terminal {id:?} not found")))
    };
    let kind = match &s.kind {
        SavedKind::Regular => FileKind::Regular,
        SavedKind::Dir => FileKind::Dir,
        SavedKind::Device(d) => FileKind::Device(*d),
        SavedKind::Tty { tty: id, stderr } => FileKind::Tty {
            tty: tty(id)?,
            stderr: *stderr,
        },
        SavedKind::PtyMaster(id) => FileKind::PtyMaster(tty(id)?),
        SavedKind::ProcData(d) => FileKind::ProcData(Arc::new(d.clone())),
        SavedKind::Path => FileKind::Path,
        SavedKind::Pipe { pipe, ends } => FileKind::Pipe {
            pipe: pipes[*pipe].clone(),
            ends: *ends,
        },
        SavedKind::EventFd(st) => FileKind::EventFd(EventFd::new(*st)),
        SavedKind::TimerFd(t) => FileKind::TimerFd(TimerFd::restore(env.timers.clone(), t)?),
        SavedKind::SignalFd(st) => {
            let sfd = SignalFd::new(SignalFdState::default());
            sfd.set_mask(st.mask);
            FileKind::SignalFd(sfd)
        }
        SavedKind::Epoll(_) => FileKind::Epoll(Epoll::new()),
        SavedKind::Socket(i) => {
            sockets[*i].common().set_ino(inodes[s.inode].ino);
            FileKind::Socket(sockets[*i].clone())
        }
    };
    Ok(OpenFile::restored(
        inodes[s.inode].clone(),
        s.path.clone(),
        kind,
        s.flags,
        s.pos,
    ))
}

#[cfg(test)]
mod tests;
