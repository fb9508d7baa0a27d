//! Open file descriptions: an inode, an offset and status flags, shared by every fd
//! that was dup'ed (or inherited) from one open.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use super::dev::Device;
use super::epoll::{Epoll, EPOLLIN, EPOLLOUT, EPOLLRDNORM, EPOLLWRNORM};
use super::event::{Caller, EventFd, SignalFd, TimerFd};
use super::inode::*;
use super::pipe::{Ends, Pipe};
use super::procfs::{self, ProcView};
use super::tty::Tty;
use crate::sched::{Block, WaitQueue};

pub const O_ACCMODE: u32 = 0o3;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_PATH: u32 = 0o10000000;
/// Flags F_SETFL may change.
pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | 0o20000 /* O_ASYNC */ | 0o40000 /* O_DIRECT */ | 0o1000000 /* O_NOATIME */;

#[derive(Debug, Clone)]
pub enum FileKind {
    Regular,
    Dir,
    Device(Device),
    /// A terminal: the console or a pty slave. `stderr` marks the console's error
    /// stream: pid 1's fd 2 writes to the kernel's stderr, so a caller can tell the
    /// guest's errors from its output.
    Tty {
        tty: Arc<Tty>,
        stderr: bool,
    },
    /// The master side of a pseudo-terminal (the `Tty` is its slave).
    PtyMaster(Arc<Tty>),
    /// A /proc file: its content is generated at open, as Linux's seq files are per read.
    ProcData(Arc<Vec<u8>>),
    /// O_PATH: a handle for *at calls and fstat only.
    Path,
    /// One end of a pipe, or both (a FIFO opened O_RDWR).
    Pipe {
        pipe: Arc<Pipe>,
        ends: Ends,
    },
    /// Anonymous-inode objects: fs/event.rs and fs/epoll.rs.
    EventFd(Arc<EventFd>),
    TimerFd(Arc<TimerFd>),
    SignalFd(Arc<SignalFd>),
    Epoll(Arc<Epoll>),
    /// A socket of any family (net/).
    Socket(Arc<dyn crate::net::Socket>),
}

pub struct OpenFile {
    pub inode: Arc<Inode>,
    pub path: Vec<u8>,
    pub kind: FileKind,
    flags: AtomicU32,
    pos: Mutex<u64>,
}

impl OpenFile {
    pub fn new(inode: Arc<Inode>, path: Vec<u8>, kind: FileKind, flags: u32) -> Arc<OpenFile> {
        Arc::new(OpenFile {
            inode,
            path,
            kind,
            flags: AtomicU32::new(flags),
            pos: Mutex::new(0),
        })
    }

    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    pub fn set_status_flags(&self, f: u32) {
        let old = self.flags();
        self.flags
            .store((old & !SETFL_MASK) | (f & SETFL_MASK), Ordering::Relaxed);
    }

    pub fn readable(&self) -> bool {
        !matches!(self.kind, FileKind::Path) && self.flags() & O_ACCMODE != O_WRONLY
    }

    pub fn writable(&self) -> bool {
        !matches!(self.kind, FileKind::Path)
            && matches!(self.flags() & O_ACCMODE, O_WRONLY | O_RDWR)
    }

    fn lock_pos(&self) -> std::sync::MutexGuard<'_, u64> {
        self.pos.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn nonblocking(&self) -> bool {
        self.flags() & O_NONBLOCK != 0
    }

    /// read(2): at the file position, advancing it; may sleep (pipes).
    pub fn read(&self, buf: &mut [u8], b: &dyn Block) -> Result<usize, Errno> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        match &self.kind {
            FileKind::Pipe { pipe, .. } => return pipe.read(buf, self.nonblocking(), b),
            FileKind::Tty { tty, .. } => return tty.read(buf, self.nonblocking(), b),
            FileKind::PtyMaster(tty) => return tty.master_read(buf, self.nonblocking(), b),
            FileKind::EventFd(e) => return e.read(buf, self.nonblocking(), b),
            FileKind::TimerFd(t) => return t.read(buf, self.nonblocking(), b),
            FileKind::SignalFd(s) => return s.read_current(buf, self.nonblocking(), b),
            FileKind::Epoll(_) => return Err(Errno::EINVAL),
            FileKind::Socket(s) => return crate::net::file_read(&**s, buf, self.nonblocking(), b),
            _ => {}
        }
        let mut pos = self.lock_pos();
        let n = self.read_at(*pos, buf)?;
        if self.seekable() {
            *pos += n as u64;
        }
        Ok(n)
    }

    /// pread(2)-style read that leaves the position alone.
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        match &self.kind {
            FileKind::Regular => self.inode.lock().read_data(off, buf),
            FileKind::Dir => Err(Errno::EISDIR),
            FileKind::Device(d) => d.read_now(buf),
            FileKind::ProcData(data) => {
                let start = (off as usize).min(data.len());
                let n = buf.len().min(data.len() - start);
                buf[..n].copy_from_slice(&data[start..start + n]);
                Ok(n)
            }
            FileKind::Path => Err(Errno::EBADF),
            FileKind::Pipe { .. }
            | FileKind::Tty { .. }
            | FileKind::PtyMaster(_)
            | FileKind::EventFd(_)
            | FileKind::TimerFd(_)
            | FileKind::SignalFd(_)
            | FileKind::Epoll(_)
            | FileKind::Socket(_) => Err(Errno::ESPIPE),
        }
    }

    /// write(2); may sleep (pipes, terminals, sockets).
    pub fn write(&self, data: &[u8], b: &dyn Block) -> Result<usize, Errno> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        match &self.kind {
            FileKind::Pipe { pipe, .. } => return pipe.write(data, self.nonblocking(), b),
            FileKind::EventFd(e) => return e.write(data, self.nonblocking(), b),
            FileKind::Tty { tty, stderr } => {
                let host_fd = if *stderr { 2 } else { 1 };
                return tty.write(data, self.nonblocking(), b, host_fd);
            }
            FileKind::PtyMaster(tty) => return tty.master_write(data, self.nonblocking(), b),
            FileKind::Socket(s) => {
                return crate::net::file_write(&**s, data, self.nonblocking(), b)
            }
            k if k.is_anon() => return Err(Errno::EINVAL),
            _ => {}
        }
        let mut pos = self.lock_pos();
        if self.flags() & O_APPEND != 0 {
            *pos = self.inode.size();
        }
        let n = self.write_at(*pos, data)?;
        if self.seekable() {
            *pos += n as u64;
        }
        Ok(n)
    }

    pub fn write_at(&self, off: u64, data: &[u8]) -> Result<usize, Errno> {
        match &self.kind {
            FileKind::Regular => {
                let mut st = self.inode.lock();
                let v = st.upper_data()?;
                let end = (off as usize).checked_add(data.len()).ok_or(Errno::EFBIG)?;
                if end > v.len() {
                    v.resize(end, 0);
                }
                v[off as usize..end].copy_from_slice(data);
                let now = Timespec::now();
                st.mtime = now;
                st.ctime = now;
                Ok(data.len())
            }
            FileKind::Device(d) => d.write(data),
            FileKind::Dir => Err(Errno::EISDIR),
            FileKind::ProcData(_) | FileKind::Path => Err(Errno::EBADF),
            FileKind::Pipe { .. }
            | FileKind::Tty { .. }
            | FileKind::PtyMaster(_)
            | FileKind::EventFd(_)
            | FileKind::TimerFd(_)
            | FileKind::SignalFd(_)
            | FileKind::Epoll(_)
            | FileKind::Socket(_) => Err(Errno::ESPIPE),
        }
    }

    pub fn seekable(&self) -> bool {
        match &self.kind {
            FileKind::Pipe { .. }
            | FileKind::Tty { .. }
            | FileKind::PtyMaster(_)
            | FileKind::Socket(_) => false,
            k => !k.is_anon(),
        }
    }

    pub fn seek(&self, off: i64, whence: i32) -> Result<u64, Errno> {
        // Linux gives these noop_llseek: success, and the position stays 0.
        if self.kind.is_anon() {
            return Ok(0);
        }
        if !self.seekable() {
            return Err(Errno::ESPIPE);
        }
        if matches!(self.kind, FileKind::Path) {
            return Err(Errno::EBADF);
        }
        let mut pos = self.lock_pos();
        let base = match whence {
            libc::SEEK_SET => 0,
            libc::SEEK_CUR => *pos as i64,
            libc::SEEK_END => self.end() as i64,
            _ => return Err(Errno::EINVAL),
        };
        let new = base
            .checked_add(off)
            .filter(|&n| n >= 0)
            .ok_or(Errno::EINVAL)?;
        *pos = new as u64;
        Ok(*pos)
    }

    fn end(&self) -> u64 {
        match &self.kind {
            FileKind::ProcData(d) => d.len() as u64,
            _ => self.inode.size(),
        }
    }

    /// getdents64: fills `out` with linux_dirent64 records from the directory cursor.
    pub fn getdents(
        &self,
        out: &mut Vec<u8>,
        cap: usize,
        view: &dyn ProcView,
    ) -> Result<(), Errno> {
        if !matches!(self.kind, FileKind::Dir) {
            return Err(Errno::ENOTDIR);
        }
        let list = list_dir(&self.inode, view)?;
        let mut pos = self.lock_pos();
        for (i, (name, ino, mode)) in list.iter().enumerate().skip(*pos as usize) {
            let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
            if out.len() + reclen > cap {
                if out.is_empty() {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            let start = out.len();
            out.extend_from_slice(&ino.to_ne_bytes());
            out.extend_from_slice(&((i + 1) as i64).to_ne_bytes());
            out.extend_from_slice(&(reclen as u16).to_ne_bytes());
            out.push(dtype(*mode));
            out.extend_from_slice(name);
            out.resize(start + reclen, 0);
            *pos = (i + 1) as u64;
        }
        Ok(())
    }
}

impl OpenFile {
    /// The file position, as a checkpoint saves it.
    pub fn pos(&self) -> u64 {
        *self.lock_pos()
    }

    /// A description as a checkpoint restores it, at its saved position.
    pub fn restored(
        inode: Arc<Inode>,
        path: Vec<u8>,
        kind: FileKind,
        flags: u32,
        pos: u64,
    ) -> Arc<OpenFile> {
        let f = OpenFile::new(inode, path, kind, flags);
        *f.lock_pos() = pos;
        f
    }
}

impl OpenFile {
    /// POSIX record locks belong to a process and go away when it closes any
    /// descriptor for the file (or exits).
    pub fn drop_posix_locks(&self, pid: i32) {
        self.release_locks(super::lock::Owner::Process(pid));
    }

    fn release_locks(&self, owner: super::lock::Owner) {
        if self.inode.locks().release_all(owner) {
            self.inode.lock_wq.notify_all();
        }
    }
}

impl OpenFile {
    /// What /proc/<pid>/fd/N shows: the path, with " (deleted)" once the file has no
    /// name left (as Linux).
    pub fn proc_link(&self) -> Vec<u8> {
        let mut p = self.path.clone();
        let named_file = matches!(self.kind, FileKind::Regular | FileKind::Dir);
        if named_file && self.inode.lock().nlink == 0 {
            p.extend_from_slice(b" (deleted)");
        }
        p
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        match &self.kind {
            FileKind::Pipe { pipe, ends } => pipe.release(*ends),
            FileKind::Tty { tty, .. } if tty.is_pty() => tty.release_slave(),
            FileKind::PtyMaster(tty) => tty.release_master(),
            FileKind::Socket(s) => s.release(),
            _ => {}
        }
        // flock locks belong to this open file description.
        self.release_locks(super::lock::Owner::File(self as *const OpenFile as usize));
    }
}

/// Every entry of a directory, "." and ".." first.
pub fn list_dir(dir: &Arc<Inode>, view: &dyn ProcView) -> Result<Vec<(Vec<u8>, u64, u32)>, Errno> {
    let parent = dir.parent();
    let mut v = vec![
        (b".".to_vec(), dir.ino, S_IFDIR),
        (b"..".to_vec(), parent.ino, S_IFDIR),
    ];
    if dir.dev == DEV_PROCFS {
        v.extend(procfs::readdir(dir, view)?);
        return Ok(v);
    }
    let st = dir.lock();
    for (name, i) in &st.dir()?.entries {
        v.push((name.clone(), i.ino, i.mode()));
    }
    Ok(v)
}

fn dtype(mode: u32) -> u8 {
    match mode & S_IFMT {
        S_IFREG => 8,
        S_IFDIR => 4,
        S_IFLNK => 10,
        S_IFCHR => 2,
        S_IFBLK => 6,
        S_IFIFO => 1,
        S_IFSOCK => 12,
        _ => 0,
    }
}

/// The stat(2) view of an inode.
pub fn stat_of(inode: &Inode) -> libc::stat {
    let size = inode.size();
    let st = inode.lock();
    // SAFETY: libc::stat is plain integers; all-zero is valid.
    let mut s: libc::stat = unsafe { std::mem::zeroed() };
    s.st_dev = inode.dev;
    s.st_ino = inode.ino;
    s.st_nlink = u64::from(st.nlink);
    s.st_mode = st.mode;
    s.st_uid = st.uid;
    s.st_gid = st.gid;
    s.st_rdev = st.rdev;
    s.st_size = size as i64;
    s.st_blksize = 4096;
    s.st_blocks = size.div_ceil(512) as i64;
    s.st_atime = st.atime.sec;
    s.st_atime_nsec = st.atime.nsec;
    s.st_mtime = st.mtime.sec;
    s.st_mtime_nsec = st.mtime.nsec;
    s.st_ctime = st.ctime.sec;
    s.st_ctime_nsec = st.ctime.nsec;
    s
}

/// Readiness as poll(2) and epoll see it (Linux's f_op->poll): EPOLL* bits, and two
/// counters that move with every input or output event of the object, which
/// edge-triggered epoll compares with what it saw last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Readiness {
    pub mask: u32,
    pub ins: u64,
    pub outs: u64,
}

impl FileKind {
    /// eventfd, timerfd, signalfd and epoll files (one shared anonymous inode).
    pub fn is_anon(&self) -> bool {
        matches!(
            self,
            FileKind::EventFd(_)
                | FileKind::TimerFd(_)
                | FileKind::SignalFd(_)
                | FileKind::Epoll(_)
        )
    }

    /// What a file of this kind is ready for; None when Linux has no poll method for
    /// it (regular files, directories, /proc, memory devices): poll(2) counts such a
    /// file always ready, epoll refuses it (EPERM). `cur` is the polling thread, whose
    /// signals a signalfd reports.
    pub fn poll(&self, cur: &Caller) -> Option<Readiness> {
        Some(match self {
            FileKind::Pipe { pipe, ends } => {
                let (writes, reads_from_full) = pipe.events();
                Readiness {
                    mask: with_norm(pipe.poll(*ends)),
                    ins: writes,
                    outs: reads_from_full,
                }
            }
            FileKind::Tty { tty, .. } => tty_readiness(tty, tty.poll()),
            FileKind::PtyMaster(tty) => tty_readiness(tty, tty.master_poll()),
            FileKind::EventFd(e) => e.poll(),
            FileKind::TimerFd(t) => t.poll(),
            FileKind::SignalFd(s) => s.poll(cur),
            FileKind::Epoll(ep) => ep.poll(cur),
            FileKind::Socket(s) => s.poll(),
            _ => return None,
        })
    }

    /// The queue notified whenever `poll` may change.
    pub fn wait_queue<'a>(&'a self, cur: &Caller<'a>) -> Option<&'a WaitQueue> {
        match self {
            FileKind::Pipe { pipe, .. } => Some(&pipe.wq),
            FileKind::Tty { tty, .. } | FileKind::PtyMaster(tty) => Some(&tty.wq),
            FileKind::EventFd(e) => Some(&e.wq),
            FileKind::TimerFd(t) => Some(&t.wq),
            FileKind::SignalFd(_) => Some(&cur.process.signal_event),
            FileKind::Epoll(ep) => Some(&ep.wq),
            FileKind::Socket(s) => Some(s.wait_queue()),
            _ => None,
        }
    }
}

/// Both sides of a terminal share one wait queue, whose notifications stand for
/// every input and output event.
fn tty_readiness(tty: &Tty, mask: u32) -> Readiness {
    let gen = tty.wq.generation();
    Readiness {
        mask,
        ins: gen,
        outs: gen,
    }
}

/// A pipe's POLL* bits with the RDNORM/WRNORM twins Linux's pipe_poll also sets.
fn with_norm(r: i16) -> u32 {
    let r = u32::from(r as u16);
    let mut m = r;
    if r & EPOLLIN != 0 {
        m |= EPOLLRDNORM;
    }
    if r & EPOLLOUT != 0 {
        m |= EPOLLWRNORM;
    }
    m
}
