//! File system calls: open files, I/O, metadata and the namespace.

use std::sync::Arc;

use nix::errno::Errno;

use super::{fd_arg, SysResult};
use crate::fs::dev::Device;
use crate::fs::file::{stat_of, O_ACCMODE, O_PATH, O_RDWR, O_WRONLY};
use crate::fs::inode::*;
use crate::fs::pipe::Ends;
use crate::fs::{
    self, permitted, FdEntry, FileKind, OpenFile, Walk, MAY_EXEC, MAY_READ, MAY_WRITE,
};
use crate::mm::{as_bytes, GuestPtr, UserMem};
use crate::task::Task;

pub(super) const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_SYMLINK_FOLLOW: u32 = 0x400;
const AT_EMPTY_PATH: u32 = 0x1000;
const AT_EACCESS: u32 = 0x200;
const O_CREAT: u32 = 0o100;
const O_EXCL: u32 = 0o200;
const O_TRUNC: u32 = 0o1000;
const O_DIRECTORY: u32 = 0o200000;
const O_NOFOLLOW: u32 = 0o400000;
const O_CLOEXEC: u32 = 0o2000000;
const FD_CLOEXEC: u64 = 1;
/// Largest single read or write (Linux's MAX_RW_COUNT).
pub(super) const MAX_RW: usize = 0x7fff_f000;
/// Bytes moved per chunk, so a huge read never needs a huge kernel buffer.
const CHUNK: usize = 1 << 20;
const IOV_MAX: u64 = 1024;

/// Starts a lookup for `dirfd` and runs `f` with it.
fn with_walk<R>(
    t: &Task,
    dirfd: i32,
    f: impl FnOnce(&Walk, &Arc<Inode>) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let (root, cwd) = {
        let fs = t.process.fs();
        (fs.root.clone(), fs.cwd.clone())
    };
    let start = if dirfd == AT_FDCWD {
        cwd.clone()
    } else {
        t.process.files().file(dirfd)?.inode.clone()
    };
    let view = t.view();
    let walk = Walk {
        root: &root,
        cred: t.process.cred(),
        view: &view,
    };
    f(&walk, &start)
}

/// Resolves `path` relative to `dirfd` (AT_EMPTY_PATH: the dirfd itself).
pub(super) fn resolve_at(
    t: &Task,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    empty_ok: bool,
) -> Result<Arc<Inode>, Errno> {
    if path.is_empty() {
        if !empty_ok {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            return Ok(t.process.fs().cwd.clone());
        }
        return Ok(t.process.files().file(dirfd)?.inode.clone());
    }
    with_walk(t, dirfd, |w, start| {
        if dirfd != AT_FDCWD && path[0] != b'/' && !start.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        w.resolve(start, path, follow)
    })
}

pub(super) fn resolve_parent_at(
    t: &Task,
    dirfd: i32,
    path: &[u8],
) -> Result<(Arc<Inode>, Vec<u8>), Errno> {
    with_walk(t, dirfd, |w, start| w.resolve_parent(start, path))
}

/// The absolute path a guest named, for /proc links (lexically normalised).
fn abs_path(t: &Task, dirfd: i32, path: &[u8]) -> Vec<u8> {
    let base = if path.first() == Some(&b'/') {
        Vec::new()
    } else if dirfd == AT_FDCWD {
        let fs = t.process.fs();
        fs::path_of(&fs.cwd, &fs.root)
    } else {
        t.process
            .files()
            .file(dirfd)
            .map(|f| f.path.clone())
            .unwrap_or_default()
    };
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in base.split(|&b| b == b'/').chain(path.split(|&b| b == b'/')) {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

fn file(t: &Task, fd: u64) -> Result<Arc<OpenFile>, Errno> {
    t.process.files().file(fd_arg(fd))
}

pub fn read(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    if let FileKind::Socket(s) = &f.kind {
        return super::net::read_iov(t, &f, &**s, &[(a[1], a[2] as usize)]);
    }
    super::tty::job_control(t, &f, false)?;
    read_into(t, a[1], a[2] as usize, |buf| f.read(buf, t))
}

pub fn pread64(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    let off = i64::try_from(a[3]).map_err(|_| Errno::EINVAL)? as u64;
    if !f.seekable() {
        return Err(Errno::ESPIPE);
    }
    if !f.readable() {
        return Err(Errno::EBADF);
    }
    let mut pos = off;
    read_into(t, a[1], a[2] as usize, |buf| {
        let n = f.read_at(pos, buf)?;
        pos += n as u64;
        Ok(n)
    })
}

/// Reads with `rd` into guest memory at `addr`, a chunk at a time; stops at a short
/// read. The first chunk's error is the call's error; later ones end it short.
fn read_into(
    t: &Task,
    addr: u64,
    len: usize,
    mut rd: impl FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> SysResult {
    let len = len.min(MAX_RW);
    let mut done = 0;
    let mut buf = vec![0u8; len.min(CHUNK)];
    while done < len {
        let want = (len - done).min(CHUNK);
        let n = match rd(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        t.process
            .mm()
            .write_bytes(GuestPtr(addr + done as u64), &buf[..n])?;
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done as u64)
}

/// Copies guest bytes in and writes them with `wr`, a chunk at a time.
fn write_from(
    t: &Task,
    addr: u64,
    len: usize,
    mut wr: impl FnMut(&[u8]) -> Result<usize, Errno>,
) -> SysResult {
    let len = len.min(MAX_RW);
    let mut done = 0;
    let mut buf = vec![0u8; len.min(CHUNK)];
    while done < len {
        let want = (len - done).min(CHUNK);
        t.process
            .mm()
            .read_bytes(GuestPtr(addr + done as u64), &mut buf[..want])?;
        let n = match wr(&buf[..want]) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done as u64)
}

pub fn write(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    if let FileKind::Socket(s) = &f.kind {
        return super::net::write_iov(t, &f, &**s, &[(a[1], a[2] as usize)]);
    }
    super::tty::job_control(t, &f, true)?;
    write_from(t, a[1], a[2] as usize, |buf| f.write(buf, t))
}

pub fn pwrite64(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    let mut pos = i64::try_from(a[3]).map_err(|_| Errno::EINVAL)? as u64;
    if !f.seekable() {
        return Err(Errno::ESPIPE);
    }
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    write_from(t, a[1], a[2] as usize, |buf| {
        let n = f.write_at(pos, buf)?;
        pos += n as u64;
        Ok(n)
    })
}

pub fn pipe2(t: &mut Task, a: [u64; 6]) -> SysResult {
    let flags = a[1] as u32;
    if flags & !(O_CLOEXEC | crate::fs::file::O_NONBLOCK | 0o40000/* O_DIRECT */) != 0 {
        return Err(Errno::EINVAL);
    }
    let pipe = crate::fs::pipe::Pipe::new();
    let inode = crate::fs::pipe::pipe_inode();
    // Reopening it through /proc/<pid>/fd/N reaches this same pipe.
    let _ = inode.fifo.set(pipe.clone());
    let status = flags & crate::fs::file::O_NONBLOCK;
    let end = |ends: Ends| {
        let acc = if ends.write { O_WRONLY } else { 0 };
        let kind = FileKind::Pipe {
            pipe: pipe.clone(),
            ends,
        };
        OpenFile::new(
            inode.clone(),
            format!("pipe:[{}]", inode.ino).into_bytes(),
            kind,
            acc | status,
        )
    };
    let (r, w) = (end(Ends::READ), end(Ends::WRITE));
    let cloexec = flags & O_CLOEXEC != 0;
    let fds = {
        let mut files = t.process.files();
        let rfd = files.install(r, cloexec, 0)?;
        match files.install(w, cloexec, 0) {
            Ok(wfd) => [rfd, wfd],
            Err(e) => {
                let _ = files.close(rfd);
                return Err(e);
            }
        }
    };
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&fds[0].to_ne_bytes());
    bytes[4..].copy_from_slice(&fds[1].to_ne_bytes());
    let written = t.process.mm().write_bytes(GuestPtr(a[0]), &bytes);
    if let Err(e) = written {
        let mut files = t.process.files();
        let _ = files.close(fds[0]);
        let _ = files.close(fds[1]);
        return Err(e);
    }
    Ok(0)
}

pub(super) fn iovecs(t: &Task, addr: u64, count: u64) -> Result<Vec<libc::iovec>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut mm = t.process.mm();
    (0..count)
        .map(|i| mm.read_val::<libc::iovec>(GuestPtr(addr + i * 16)))
        .collect()
}

/// Runs `one` over each iovec in turn until one comes up short: the bytes moved, or
/// the first error when nothing moved (as Linux).
fn vectored(
    t: &Task,
    addr: u64,
    count: u64,
    mut one: impl FnMut(u64, usize) -> SysResult,
) -> SysResult {
    let mut total = 0;
    for iov in iovecs(t, addr, count)? {
        let n = match one(iov.iov_base as u64, iov.iov_len) {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += n;
        if n < iov.iov_len as u64 {
            break;
        }
    }
    Ok(total)
}

pub fn readv(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    if let FileKind::Socket(s) = &f.kind {
        let iov = super::net::iov_list(t, a[1], a[2])?;
        return super::net::read_iov(t, &f, &**s, &iov);
    }
    super::tty::job_control(t, &f, false)?;
    vectored(t, a[1], a[2], |base, len| {
        read_into(t, base, len, |b| f.read(b, t))
    })
}

pub fn writev(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    if let FileKind::Socket(s) = &f.kind {
        let iov = super::net::iov_list(t, a[1], a[2])?;
        return super::net::write_iov(t, &f, &**s, &iov);
    }
    super::tty::job_control(t, &f, true)?;
    vectored(t, a[1], a[2], |base, len| {
        write_from(t, base, len, |b| f.write(b, t))
    })
}

pub fn open(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_open(t, AT_FDCWD, a[0], a[1] as u32, a[2] as u32)
}

pub fn openat(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_open(t, fd_arg(a[0]), a[1], a[2] as u32, a[3] as u32)
}

pub fn creat(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_open(t, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1] as u32)
}

fn do_open(t: &mut Task, dirfd: i32, path_addr: u64, flags: u32, mode: u32) -> SysResult {
    let path = t.read_path(path_addr)?;
    // Linux takes the descriptor before the lookup: a full table fails even an open
    // of a missing file with EMFILE, and creates nothing.
    t.process.files().room()?;
    let inode = open_inode(t, dirfd, &path, flags, mode)?;
    let file = open_file(t, inode, abs_path(t, dirfd, &path), flags)?;
    let fd = t.process.files().install(file, flags & O_CLOEXEC != 0, 0)?;
    Ok(fd as u64)
}

/// Finds (or with O_CREAT makes) the inode an open names.
fn open_inode(
    t: &Task,
    dirfd: i32,
    path: &[u8],
    flags: u32,
    mode: u32,
) -> Result<Arc<Inode>, Errno> {
    let follow = flags & O_NOFOLLOW == 0;
    if flags & O_CREAT == 0 {
        return resolve_at(t, dirfd, path, follow, false);
    }
    match resolve_at(t, dirfd, path, follow && flags & O_EXCL == 0, false) {
        Ok(_) if flags & O_EXCL != 0 => Err(Errno::EEXIST),
        Ok(i) if i.is_dir() => Err(Errno::EISDIR),
        Ok(i) => Ok(i),
        Err(Errno::ENOENT) => {
            if path.ends_with(b"/") {
                return Err(Errno::EISDIR);
            }
            let (dir, name) = resolve_parent_at(t, dirfd, path)?;
            let cred = t.process.cred();
            let umask = t.process.fs().umask;
            let st = InodeState::new(
                S_IFREG | (mode & 0o7777 & !umask),
                cred.euid,
                cred.egid,
                Body::Regular(FileData::Upper(Vec::new())),
            );
            t.kernel
                .vfs
                .create(&dir, &name, cred, || Inode::new(next_ino(), dir.dev, st))
        }
        Err(e) => Err(e),
    }
}

/// Makes the open file description for an inode, checking access.
fn open_file(
    t: &Task,
    inode: Arc<Inode>,
    path: Vec<u8>,
    flags: u32,
) -> Result<Arc<OpenFile>, Errno> {
    let ftype = inode.file_type();
    if flags & O_PATH != 0 {
        return Ok(OpenFile::new(
            inode,
            path,
            FileKind::Path,
            flags & (O_PATH | O_ACCMODE),
        ));
    }
    if ftype == S_IFLNK {
        return Err(Errno::ELOOP);
    }
    if flags & O_DIRECTORY != 0 && ftype != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    let acc = flags & O_ACCMODE;
    let writing = acc == O_WRONLY || acc == libc::O_RDWR as u32;
    if ftype == S_IFDIR && (writing || flags & O_CREAT != 0) {
        return Err(Errno::EISDIR);
    }
    let mask = if acc == O_WRONLY { 0 } else { MAY_READ } | if writing { MAY_WRITE } else { 0 };
    if !permitted(&inode, t.process.cred(), mask) {
        return Err(Errno::EACCES);
    }
    if writing && inode.dev == DEV_PROCFS {
        return Err(Errno::EACCES);
    }
    let kind = if inode.file_type() == S_IFIFO {
        open_fifo(t, &inode, flags)?
    } else {
        file_kind(t, &inode, flags)?
    };
    if flags & O_TRUNC != 0 && writing && matches!(kind, FileKind::Regular) {
        truncate_inode(&inode, 0)?;
    }
    let status = flags & !(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | 0o400/* O_NOCTTY */);
    Ok(OpenFile::new(inode, path, kind, status))
}

fn file_kind(t: &Task, inode: &Arc<Inode>, flags: u32) -> Result<FileKind, Errno> {
    if let Some(node) = inode.proc_node() {
        let data = crate::fs::procfs::content(&node, &t.view())?;
        return Ok(FileKind::ProcData(Arc::new(data)));
    }
    Ok(match inode.file_type() {
        S_IFREG => FileKind::Regular,
        S_IFDIR => FileKind::Dir,
        S_IFCHR => {
            let rdev = inode.lock().rdev;
            match super::tty::open_device(t, rdev, flags)? {
                Some(kind) => kind,
                None => FileKind::Device(Device::from_rdev(rdev)?),
            }
        }
        // Block devices, and socket nodes (connect reaches those): ENXIO, as Linux.
        _ => return Err(Errno::ENXIO),
    })
}

/// Opening a FIFO (named, or a pipe reached through /proc/<pid>/fd/N): one end of
/// its pipe with the open rendezvous, or both ends for O_RDWR (never waits).
fn open_fifo(t: &Task, inode: &Arc<Inode>, flags: u32) -> Result<FileKind, Errno> {
    let ends = match flags & O_ACCMODE {
        0 => Ends::READ,
        O_WRONLY => Ends::WRITE,
        O_RDWR => Ends::BOTH,
        _ => return Err(Errno::EINVAL),
    };
    let pipe = inode
        .fifo
        .get_or_init(crate::fs::pipe::Pipe::new_fifo)
        .clone();
    pipe.open_end(ends, flags & crate::fs::file::O_NONBLOCK != 0, t)?;
    Ok(FileKind::Pipe { pipe, ends })
}

fn truncate_inode(inode: &Inode, len: u64) -> Result<(), Errno> {
    if inode.file_type() == S_IFDIR {
        return Err(Errno::EISDIR);
    }
    if inode.file_type() != S_IFREG {
        return Err(Errno::EINVAL);
    }
    let len = usize::try_from(len).map_err(|_| Errno::EFBIG)?;
    let mut st = inode.lock();
    st.upper_data()?.resize(len, 0);
    let now = Timespec::now();
    st.mtime = now;
    st.ctime = now;
    Ok(())
}

pub fn close(t: &mut Task, a: [u64; 6]) -> SysResult {
    let e = t.process.files().close(fd_arg(a[0]))?;
    e.file.drop_posix_locks(t.process.pid);
    Ok(0)
}

pub fn lseek(t: &mut Task, a: [u64; 6]) -> SysResult {
    file(t, a[0])?.seek(a[1] as i64, a[2] as i32)
}

fn put_stat(t: &Task, addr: u64, inode: &Inode) -> SysResult {
    let st = stat_of(inode);
    t.process.mm().write_val(GuestPtr(addr), &st)?;
    Ok(0)
}

pub fn stat(t: &mut Task, a: [u64; 6]) -> SysResult {
    let path = t.read_path(a[0])?;
    let i = resolve_at(t, AT_FDCWD, &path, true, false)?;
    put_stat(t, a[1], &i)
}

pub fn lstat(t: &mut Task, a: [u64; 6]) -> SysResult {
    let path = t.read_path(a[0])?;
    let i = resolve_at(t, AT_FDCWD, &path, false, false)?;
    put_stat(t, a[1], &i)
}

pub fn fstat(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    put_stat(t, a[1], &f.inode)
}

/// The inode an *at call with flags names (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH).
fn at_inode(t: &Task, dirfd: u64, path_addr: u64, flags: u32) -> Result<Arc<Inode>, Errno> {
    let path = t.read_path(path_addr)?;
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    resolve_at(t, fd_arg(dirfd), &path, follow, flags & AT_EMPTY_PATH != 0)
}

pub fn newfstatat(t: &mut Task, a: [u64; 6]) -> SysResult {
    let i = at_inode(t, a[0], a[1], a[3] as u32)?;
    put_stat(t, a[2], &i)
}

pub fn statx(t: &mut Task, a: [u64; 6]) -> SysResult {
    let i = at_inode(t, a[0], a[1], a[2] as u32)?;
    let s = stat_of(&i);
    // SAFETY: libc::statx is plain integers; all-zero is valid.
    let mut x: libc::statx = unsafe { std::mem::zeroed() };
    x.stx_mask = 0x7ff; // STATX_BASIC_STATS
    x.stx_blksize = s.st_blksize as u32;
    x.stx_nlink = s.st_nlink as u32;
    x.stx_uid = s.st_uid;
    x.stx_gid = s.st_gid;
    x.stx_mode = s.st_mode as u16;
    x.stx_ino = s.st_ino;
    x.stx_size = s.st_size as u64;
    x.stx_blocks = s.st_blocks as u64;
    let ts = |sec: i64, nsec: i64| {
        // SAFETY: plain integers; all-zero is valid.
        let mut t: libc::statx_timestamp = unsafe { std::mem::zeroed() };
        t.tv_sec = sec;
        t.tv_nsec = nsec as u32;
        t
    };
    x.stx_atime = ts(s.st_atime, s.st_atime_nsec);
    x.stx_mtime = ts(s.st_mtime, s.st_mtime_nsec);
    x.stx_ctime = ts(s.st_ctime, s.st_ctime_nsec);
    x.stx_btime = ts(s.st_ctime, s.st_ctime_nsec);
    x.stx_rdev_major = crate::fs::lower_major(s.st_rdev);
    x.stx_rdev_minor = crate::fs::lower_minor(s.st_rdev);
    x.stx_dev_major = crate::fs::lower_major(s.st_dev);
    x.stx_dev_minor = crate::fs::lower_minor(s.st_dev);
    t.process.mm().write_val(GuestPtr(a[4]), &x)?;
    Ok(0)
}

pub fn getdents64(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    let cap = (a[2] as usize).min(CHUNK);
    let mut out = Vec::new();
    f.getdents(&mut out, cap, &t.view())?;
    t.process.mm().write_bytes(GuestPtr(a[1]), &out)?;
    Ok(out.len() as u64)
}

/// ioctl: the generic requests on any file, FIONREAD on pipes, the terminal ioctls
/// on the console and pseudo-terminals (syscall/tty.rs), SIOCINQ and SIOCOUTQ on
/// sockets (syscall/net.rs).
pub fn ioctl(t: &mut Task, a: [u64; 6]) -> SysResult {
    let fd = fd_arg(a[0]);
    let f = file(t, a[0])?;
    // The request is an unsigned int: musl passes it sign-extended (int request).
    let (req, arg) = (u64::from(a[1] as u32), a[2]);
    match req {
        FIONBIO => {
            let on: i32 = t.process.mm().read_val(GuestPtr(arg))?;
            let fl = f.flags() & crate::fs::file::SETFL_MASK;
            let nb = crate::fs::file::O_NONBLOCK;
            f.set_status_flags(if on != 0 { fl | nb } else { fl & !nb });
            return Ok(0);
        }
        FIOCLEX | FIONCLEX => {
            t.process.files().get_mut(fd)?.cloexec = req == FIOCLEX;
            return Ok(0);
        }
        _ => {}
    }
    match &f.kind {
        FileKind::Pipe { pipe, .. } if req == super::tty::FIONREAD => {
            t.process
                .mm()
                .write_val(GuestPtr(arg), &(pipe.available() as i32))?;
            Ok(0)
        }
        FileKind::Tty { tty, .. } => super::tty::ioctl(t, &f, tty, false, req, arg),
        FileKind::PtyMaster(tty) => super::tty::ioctl(t, &f, tty, true, req, arg),
        FileKind::Socket(s) => super::net::ioctl(t, &**s, req, arg),
        _ => Err(Errno::ENOTTY),
    }
}

const FIONBIO: u64 = 0x5421;
const FIONCLEX: u64 = 0x5450;
const FIOCLEX: u64 = 0x5451;

pub fn readlink(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_readlink(t, AT_FDCWD, a[0], a[1], a[2])
}

pub fn readlinkat(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_readlink(t, fd_arg(a[0]), a[1], a[2], a[3])
}

fn do_readlink(t: &Task, dirfd: i32, path: u64, buf: u64, size: u64) -> SysResult {
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path)?;
    let i = resolve_at(t, dirfd, &path, false, true)?;
    let target = fs::readlink(&i, &t.view())?;
    let n = target.len().min(size as usize);
    t.process.mm().write_bytes(GuestPtr(buf), &target[..n])?;
    Ok(n as u64)
}

pub fn access(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_access(t, AT_FDCWD, a[0], a[1] as u32, 0)
}

pub fn faccessat(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_access(t, fd_arg(a[0]), a[1], a[2] as u32, 0)
}

pub fn faccessat2(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_access(t, fd_arg(a[0]), a[1], a[2] as u32, a[3] as u32)
}

fn do_access(t: &Task, dirfd: i32, path: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let i = at_inode(t, dirfd as u64, path, flags)?;
    let mut cred = t.process.cred();
    if flags & AT_EACCESS == 0 {
        cred.euid = cred.uid;
        cred.egid = cred.gid;
    }
    if mode & MAY_WRITE != 0 && i.dev == DEV_PROCFS {
        return Err(Errno::EACCES);
    }
    if permitted(&i, cred, mode) {
        Ok(0)
    } else {
        Err(Errno::EACCES)
    }
}

pub fn getcwd(t: &mut Task, a: [u64; 6]) -> SysResult {
    let mut path = {
        let fs = t.process.fs();
        fs::path_of(&fs.cwd, &fs.root)
    };
    path.push(0);
    if path.len() > a[1] as usize {
        return Err(Errno::ERANGE);
    }
    t.process.mm().write_bytes(GuestPtr(a[0]), &path)?;
    Ok(path.len() as u64)
}

fn set_cwd(t: &Task, i: Arc<Inode>) -> SysResult {
    if !i.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !permitted(&i, t.process.cred(), MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    t.process.fs().cwd = i;
    Ok(0)
}

pub fn chdir(t: &mut Task, a: [u64; 6]) -> SysResult {
    let path = t.read_path(a[0])?;
    let i = resolve_at(t, AT_FDCWD, &path, true, false)?;
    set_cwd(t, i)
}

pub fn fchdir(t: &mut Task, a: [u64; 6]) -> SysResult {
    let i = file(t, a[0])?.inode.clone();
    set_cwd(t, i)
}

pub fn fcntl(t: &mut Task, a: [u64; 6]) -> SysResult {
    let fd = fd_arg(a[0]);
    let mut files = t.process.files();
    let entry = files.get(fd)?.clone();
    match a[1] as i32 {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = usize::try_from(a[2] as i32)
                .ok()
                .filter(|&m| m < files.limit())
                .ok_or(Errno::EINVAL)?;
            let cloexec = a[1] as i32 == libc::F_DUPFD_CLOEXEC;
            files.install(entry.file, cloexec, min).map(|f| f as u64)
        }
        libc::F_GETFD => Ok(u64::from(entry.cloexec)),
        libc::F_SETFD => {
            files.get_mut(fd)?.cloexec = a[2] & FD_CLOEXEC != 0;
            Ok(0)
        }
        libc::F_GETLK | libc::F_SETLK | libc::F_SETLKW => {
            drop(files);
            super::lock::record_lock(t, &entry.file, a[1] as i32, a[2])
        }
        libc::F_GETPIPE_SZ | libc::F_SETPIPE_SZ => {
            let FileKind::Pipe { pipe, .. } = &entry.file.kind else {
                return Err(Errno::EBADF);
            };
            let size = if a[1] as i32 == libc::F_GETPIPE_SZ {
                pipe.capacity()
            } else {
                pipe.set_capacity(usize::try_from(a[2] as i32).map_err(|_| Errno::EINVAL)?)?
            };
            Ok(size as u64)
        }
        libc::F_GETFL => Ok(u64::from(entry.file.flags())),
        libc::F_SETFL => {
            entry.file.set_status_flags(a[2] as u32);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn dup(t: &mut Task, a: [u64; 6]) -> SysResult {
    let mut files = t.process.files();
    let f = files.file(fd_arg(a[0]))?;
    files.install(f, false, 0).map(|fd| fd as u64)
}

pub fn dup2(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[0] == a[1] {
        t.process.files().get(fd_arg(a[0]))?;
        return Ok(a[1]);
    }
    dup3(t, [a[0], a[1], 0, 0, 0, 0])
}

pub fn dup3(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (old, new) = (fd_arg(a[0]), fd_arg(a[1]));
    if old == new || a[2] as u32 & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let mut files = t.process.files();
    let file = files.file(old)?;
    let e = FdEntry {
        file,
        cloexec: a[2] as u32 & O_CLOEXEC != 0,
    };
    files.install_at(new, e)?;
    Ok(new as u64)
}

pub fn mkdir(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_mkdir(t, AT_FDCWD, a[0], a[1] as u32)
}

pub fn mkdirat(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_mkdir(t, fd_arg(a[0]), a[1], a[2] as u32)
}

fn do_mkdir(t: &Task, dirfd: i32, path: u64, mode: u32) -> SysResult {
    let path = t.read_path(path)?;
    let (dir, name) = resolve_parent_at(t, dirfd, &path)?;
    let cred = t.process.cred();
    let umask = t.process.fs().umask;
    t.kernel.vfs.create(&dir, &name, cred, || {
        new_dir(
            dir.dev,
            mode & 0o7777 & !umask,
            cred.euid,
            cred.egid,
            &dir,
            &name,
        )
    })?;
    Ok(0)
}

pub fn unlink(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_remove(t, AT_FDCWD, a[0], false)
}

pub fn rmdir(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_remove(t, AT_FDCWD, a[0], true)
}

pub fn unlinkat(t: &mut Task, a: [u64; 6]) -> SysResult {
    let flags = a[2] as u32;
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    do_remove(t, fd_arg(a[0]), a[1], flags & AT_REMOVEDIR != 0)
}

fn do_remove(t: &Task, dirfd: i32, path: u64, dir: bool) -> SysResult {
    let path = t.read_path(path)?;
    let (parent, name) = resolve_parent_at(t, dirfd, &path)?;
    if !dir && path.ends_with(b"/") {
        let i = resolve_at(t, dirfd, &path, false, false)?;
        return Err(if i.is_dir() {
            Errno::EISDIR
        } else {
            Errno::ENOTDIR
        });
    }
    t.kernel.vfs.remove(&parent, &name, dir, t.process.cred())?;
    Ok(0)
}

pub fn rename(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_rename(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

pub fn renameat(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_rename(t, fd_arg(a[0]), a[1], fd_arg(a[2]), a[3], 0)
}

pub fn renameat2(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_rename(t, fd_arg(a[0]), a[1], fd_arg(a[2]), a[3], a[4] as u32)
}

fn do_rename(t: &Task, ofd: i32, old: u64, nfd: i32, new: u64, flags: u32) -> SysResult {
    let (old, new) = (t.read_path(old)?, t.read_path(new)?);
    let (odir, oname) = resolve_parent_at(t, ofd, &old)?;
    let (ndir, nname) = resolve_parent_at(t, nfd, &new)?;
    t.kernel
        .vfs
        .rename((&odir, &oname), (&ndir, &nname), flags, t.process.cred())?;
    Ok(0)
}

pub fn symlink(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_symlink(t, a[0], AT_FDCWD, a[1])
}

pub fn symlinkat(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_symlink(t, a[0], fd_arg(a[1]), a[2])
}

fn do_symlink(t: &Task, target: u64, dirfd: i32, path: u64) -> SysResult {
    let target = t.read_path(target)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let path = t.read_path(path)?;
    let (dir, name) = resolve_parent_at(t, dirfd, &path)?;
    let cred = t.process.cred();
    let st = InodeState::new(S_IFLNK | 0o777, cred.euid, cred.egid, Body::Symlink(target));
    t.kernel
        .vfs
        .create(&dir, &name, cred, || Inode::new(next_ino(), dir.dev, st))?;
    Ok(0)
}

pub fn link(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_link(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

pub fn linkat(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_link(t, fd_arg(a[0]), a[1], fd_arg(a[2]), a[3], a[4] as u32)
}

fn do_link(t: &Task, ofd: i32, old: u64, nfd: i32, new: u64, flags: u32) -> SysResult {
    let old = t.read_path(old)?;
    let src = resolve_at(
        t,
        ofd,
        &old,
        flags & AT_SYMLINK_FOLLOW != 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    let new = t.read_path(new)?;
    let (dir, name) = resolve_parent_at(t, nfd, &new)?;
    t.kernel.vfs.link(&src, &dir, &name, t.process.cred())?;
    Ok(0)
}

fn set_mode(t: &Task, i: &Inode, mode: u32) -> SysResult {
    let cred = t.process.cred();
    let mut st = i.lock();
    if cred.euid != 0 && cred.euid != st.uid {
        return Err(Errno::EPERM);
    }
    st.mode = (st.mode & S_IFMT) | (mode & 0o7777);
    st.ctime = Timespec::now();
    Ok(0)
}

pub fn chmod(t: &mut Task, a: [u64; 6]) -> SysResult {
    let i = at_inode(t, AT_FDCWD as u64, a[0], 0)?;
    set_mode(t, &i, a[1] as u32)
}

pub fn fchmod(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    set_mode(t, &f.inode, a[1] as u32)
}

pub fn fchmodat(t: &mut Task, a: [u64; 6]) -> SysResult {
    let i = at_inode(t, a[0], a[1], 0)?;
    set_mode(t, &i, a[2] as u32)
}

fn set_owner(t: &Task, i: &Inode, uid: u32, gid: u32) -> SysResult {
    let cred = t.process.cred();
    let mut st = i.lock();
    let changing_uid = uid != u32::MAX && uid != st.uid;
    // Without privilege: only the owner, and only to a group of its own.
    let foreign_group = gid != u32::MAX && gid != st.gid && gid != cred.egid;
    if cred.euid != 0 && (changing_uid || cred.euid != st.uid || foreign_group) {
        return Err(Errno::EPERM);
    }
    if uid != u32::MAX {
        st.uid = uid;
    }
    if gid != u32::MAX {
        st.gid = gid;
    }
    st.ctime = Timespec::now();
    Ok(0)
}

pub fn chown(t: &mut Task, a: [u64; 6], follow: bool) -> SysResult {
    let flags = if follow { 0 } else { AT_SYMLINK_NOFOLLOW };
    let i = at_inode(t, AT_FDCWD as u64, a[0], flags)?;
    set_owner(t, &i, a[1] as u32, a[2] as u32)
}

pub fn fchown(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    set_owner(t, &f.inode, a[1] as u32, a[2] as u32)
}

pub fn fchownat(t: &mut Task, a: [u64; 6]) -> SysResult {
    let i = at_inode(t, a[0], a[1], a[4] as u32)?;
    set_owner(t, &i, a[2] as u32, a[3] as u32)
}

pub fn umask(t: &mut Task, a: [u64; 6]) -> SysResult {
    let mut fs = t.process.fs();
    let old = fs.umask;
    fs.umask = a[0] as u32 & 0o777;
    Ok(u64::from(old))
}

pub fn truncate(t: &mut Task, a: [u64; 6]) -> SysResult {
    let i = at_inode(t, AT_FDCWD as u64, a[0], 0)?;
    if !permitted(&i, t.process.cred(), MAY_WRITE) {
        return Err(Errno::EACCES);
    }
    truncate_inode(&i, len_arg(a[1])?)?;
    Ok(0)
}

pub fn ftruncate(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    if !f.writable() {
        return Err(Errno::EINVAL);
    }
    truncate_inode(&f.inode, len_arg(a[1])?)?;
    Ok(0)
}

fn len_arg(a: u64) -> Result<u64, Errno> {
    if (a as i64) < 0 {
        Err(Errno::EINVAL)
    } else {
        Ok(a)
    }
}

pub fn utimensat(t: &mut Task, a: [u64; 6]) -> SysResult {
    let i = if a[1] == 0 {
        file(t, a[0])?.inode.clone()
    } else {
        at_inode(t, a[0], a[1], a[3] as u32)?
    };
    let now = Timespec::now();
    let times = if a[2] == 0 {
        [now, now]
    } else {
        let mut mm = t.process.mm();
        let at = mm.read_val::<libc::timespec>(GuestPtr(a[2]))?;
        let mt = mm.read_val::<libc::timespec>(GuestPtr(a[2] + 16))?;
        [time_arg(at, now)?, time_arg(mt, now)?]
    };
    check_utimes(t, &i, a[2] == 0 || times.iter().all(|x| *x == now))?;
    let mut st = i.lock();
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    if times[0].nsec != UTIME_OMIT {
        st.atime = times[0];
    }
    if times[1].nsec != UTIME_OMIT {
        st.mtime = times[1];
    }
    st.ctime = now;
    Ok(0)
}

/// Setting times to "now" needs ownership or write access (EACCES); any other times
/// need ownership (EPERM); root may do either.
fn check_utimes(t: &Task, i: &Inode, to_now: bool) -> Result<(), Errno> {
    let cred = t.process.cred();
    if cred.euid == 0 || cred.euid == i.lock().uid {
        return Ok(());
    }
    if !to_now {
        return Err(Errno::EPERM);
    }
    if permitted(i, cred, MAY_WRITE) {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

fn time_arg(ts: libc::timespec, now: Timespec) -> Result<Timespec, Errno> {
    const UTIME_NOW: i64 = (1 << 30) - 1;
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    match ts.tv_nsec {
        UTIME_NOW => Ok(now),
        UTIME_OMIT => Ok(Timespec {
            sec: 0,
            nsec: UTIME_OMIT,
        }),
        n if (0..1_000_000_000).contains(&n) => Ok(Timespec {
            sec: ts.tv_sec,
            nsec: n,
        }),
        _ => Err(Errno::EINVAL),
    }
}

fn put_statfs(t: &Task, addr: u64, i: &Inode) -> SysResult {
    // SAFETY: libc::statfs is plain integers; all-zero is valid.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    let (magic, total, free) = match i.dev {
        DEV_PROCFS => (0x9fa0, 0, 0),
        DEV_DEVFS => (0x1021994, 0, 0),
        _ => {
            let pm = &t.kernel.physmem;
            (
                0x01021994,
                pm.size() / 4096,
                (pm.size() - pm.used_bytes()) / 4096,
            )
        }
    };
    s.f_type = magic;
    s.f_bsize = 4096;
    s.f_blocks = total;
    s.f_bfree = free;
    s.f_bavail = free;
    s.f_files = 1 << 20;
    s.f_ffree = 1 << 19;
    s.f_namelen = 255;
    s.f_frsize = 4096;
    t.process.mm().write_bytes(GuestPtr(addr), as_bytes(&s))?;
    Ok(0)
}

pub fn statfs(t: &mut Task, a: [u64; 6]) -> SysResult {
    let i = at_inode(t, AT_FDCWD as u64, a[0], 0)?;
    put_statfs(t, a[1], &i)
}

pub fn fstatfs(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = file(t, a[0])?;
    put_statfs(t, a[1], &f.inode)
}

/// The filesystem lives in memory (and in checkpoints): there is nothing to flush.
pub fn fsync(t: &mut Task, a: [u64; 6]) -> SysResult {
    file(t, a[0])?;
    Ok(0)
}

/// Where a copy reads or writes: at an explicit offset (the file position is left
/// alone, and the offset is written back) or at the file position.
struct CopyEnd {
    file: Arc<OpenFile>,
    offset_ptr: u64,
    offset: u64,
}

impl CopyEnd {
    fn new(t: &Task, fd: u64, offset_ptr: u64) -> Result<CopyEnd, Errno> {
        let file = file(t, fd)?;
        let offset = if offset_ptr == 0 {
            0
        } else {
            let o: i64 = t.process.mm().read_val(GuestPtr(offset_ptr))?;
            u64::try_from(o).map_err(|_| Errno::EINVAL)?
        };
        Ok(CopyEnd {
            file,
            offset_ptr,
            offset,
        })
    }

    fn read(&mut self, t: &Task, buf: &mut [u8]) -> Result<usize, Errno> {
        if self.offset_ptr == 0 {
            return self.file.read(buf, t);
        }
        let n = self.file.read_at(self.offset, buf)?;
        self.offset += n as u64;
        Ok(n)
    }

    fn write(&mut self, t: &Task, data: &[u8]) -> Result<usize, Errno> {
        if self.offset_ptr == 0 {
            return self.file.write(data, t);
        }
        let n = self.file.write_at(self.offset, data)?;
        self.offset += n as u64;
        Ok(n)
    }

    fn finish(&self, t: &Task) -> Result<(), Errno> {
        if self.offset_ptr != 0 {
            t.process
                .mm()
                .write_val(GuestPtr(self.offset_ptr), &(self.offset as i64))?;
        }
        Ok(())
    }
}

/// Moves up to `len` bytes between two files inside the kernel.
fn copy_between(t: &Task, from: &mut CopyEnd, to: &mut CopyEnd, len: usize) -> SysResult {
    if !from.file.readable() || !to.file.writable() {
        return Err(Errno::EBADF);
    }
    let mut buf = vec![0u8; len.min(CHUNK)];
    let mut done = 0;
    while done < len {
        let want = (len - done).min(CHUNK);
        let n = match from.read(t, &mut buf[..want]) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        let w = match to.write(t, &buf[..n]) {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += w;
        if w < n {
            break;
        }
    }
    from.finish(t)?;
    to.finish(t)?;
    Ok(done as u64)
}

/// Where a copy end starts: its explicit offset or the file position.
fn copy_start(e: &CopyEnd) -> u64 {
    if e.offset_ptr != 0 {
        e.offset
    } else {
        e.file.seek(0, libc::SEEK_CUR).unwrap_or(0)
    }
}

pub fn sendfile(t: &mut Task, a: [u64; 6]) -> SysResult {
    let mut to = CopyEnd::new(t, a[0], 0)?;
    let mut from = CopyEnd::new(t, a[1], a[2])?;
    if to.file.flags() & crate::fs::file::O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if !matches!(from.file.kind, FileKind::Regular | FileKind::Device(_)) {
        return Err(Errno::EINVAL);
    }
    copy_between(t, &mut from, &mut to, (a[3] as usize).min(MAX_RW))
}

pub fn copy_file_range(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[5] != 0 {
        return Err(Errno::EINVAL);
    }
    let mut from = CopyEnd::new(t, a[0], a[1])?;
    let mut to = CopyEnd::new(t, a[2], a[3])?;
    if matches!(from.file.kind, FileKind::Dir) || matches!(to.file.kind, FileKind::Dir) {
        return Err(Errno::EISDIR);
    }
    let regular = |e: &CopyEnd| matches!(e.file.kind, FileKind::Regular);
    if !regular(&from) || !regular(&to) {
        return Err(Errno::EINVAL);
    }
    let len = (a[4] as usize).min(MAX_RW) as u64;
    let (fs, ts) = (copy_start(&from), copy_start(&to));
    let overlap = fs < ts.saturating_add(len) && ts < fs.saturating_add(len);
    if Arc::ptr_eq(&from.file.inode, &to.file.inode) && overlap {
        return Err(Errno::EINVAL);
    }
    if to.file.flags() & crate::fs::file::O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    copy_between(t, &mut from, &mut to, (a[4] as usize).min(MAX_RW))
}

pub fn mknod(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_mknod(t, AT_FDCWD, a[0], a[1] as u32, a[2])
}

pub fn mknodat(t: &mut Task, a: [u64; 6]) -> SysResult {
    do_mknod(t, fd_arg(a[0]), a[1], a[2] as u32, a[3])
}

/// Makes a regular file, FIFO, socket node or (root only) device node.
fn do_mknod(t: &Task, dirfd: i32, path: u64, mode: u32, dev: u64) -> SysResult {
    let cred = t.process.cred();
    let ftype = match mode & S_IFMT {
        0 | S_IFREG => S_IFREG,
        S_IFIFO => S_IFIFO,
        S_IFSOCK => S_IFSOCK,
        S_IFCHR | S_IFBLK if cred.euid != 0 => return Err(Errno::EPERM),
        f @ (S_IFCHR | S_IFBLK) => f,
        S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    let path = t.read_path(path)?;
    let (dir, name) = resolve_parent_at(t, dirfd, &path)?;
    let umask = t.process.fs().umask;
    let body = if ftype == S_IFREG {
        Body::Regular(FileData::Upper(Vec::new()))
    } else {
        Body::Special
    };
    let mut st = InodeState::new(ftype | (mode & 0o7777 & !umask), cred.euid, cred.egid, body);
    if matches!(ftype, S_IFCHR | S_IFBLK) {
        st.rdev = dev;
    }
    t.kernel
        .vfs
        .create(&dir, &name, cred, || Inode::new(next_ino(), dir.dev, st))?;
    Ok(0)
}
