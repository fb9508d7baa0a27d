//! Socket system calls: socket, socketpair, bind, listen, accept, accept4, connect,
//! getsockname, getpeername, sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg,
//! shutdown, setsockopt and getsockopt, and read, write, readv and writev on sockets
//! (syscall/fs.rs hands those over). They copy guest memory in and out and reach the
//! socket only through `net::Socket`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::fs::{iovecs, resolve_at, resolve_parent_at, AT_FDCWD, MAX_RW};
use super::{fd_arg, SysResult};
use crate::fs::file::{O_NONBLOCK, O_RDWR};
use crate::fs::inode::{next_ino, Body, Inode, InodeState, S_IFSOCK};
use crate::fs::{permitted, FileKind, OpenFile, MAY_WRITE};
use crate::mm::{GuestPtr, Pod, UserMem};
use crate::net::cmsg::{self, CmsgOut, SCM_CREDENTIALS, SCM_MAX_FD, SCM_RIGHTS};
use crate::net::{self, Ctx, Incoming, Outgoing, Paths, SockType, Socket, Ucred, Wait};
use crate::net::{MSG_CMSG_CLOEXEC, MSG_CTRUNC, MSG_DONTWAIT, MSG_WAITFORONE, SOL_SOCKET};
use crate::task::Task;

const SOCK_NONBLOCK: u32 = O_NONBLOCK;
const SOCK_CLOEXEC: u32 = 0o2000000;
const SOCK_TYPE_MASK: u32 = 0xf;
/// net.core.somaxconn: listen's backlog is at most this.
const SOMAXCONN: u32 = 4096;
/// sizeof(struct sockaddr_storage): the longest address a call takes.
const MAX_ADDR: usize = 128;
/// More iovecs in a message than this is EMSGSIZE; more messages in one
/// sendmmsg/recvmmsg are not looked at.
const UIO_MAXIOV: u64 = 1024;
/// net.core.optmem_max: a longer control buffer is ENOBUFS.
const OPTMEM_MAX: u64 = 131072;
/// Option values longer than this are never needed (the longest is a timeval).
const MAX_OPTVAL: usize = 64;
/// A stream send copies in at most this much at a time.
const CHUNK: usize = 1 << 20;

/// struct msghdr.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct MsgHdr {
    name: u64,
    namelen: u32,
    _pad: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
    flags: i32,
    _pad2: u32,
}

// SAFETY: repr(C), integers only.
unsafe impl Pod for MsgHdr {}

/// Where recvmsg writes back in a msghdr, and where mmsghdr's msg_len is.
const NAMELEN_AT: u64 = 8;
const CONTROLLEN_AT: u64 = 40;
const FLAGS_AT: u64 = 48;
const MMSG_LEN_AT: u64 = 56;
const MMSGHDR: u64 = 64;

/// The socket behind `fd` (ENOTSOCK for another file).
fn socket_of(t: &Task, fd: u64) -> Result<(Arc<OpenFile>, Arc<dyn Socket>), Errno> {
    let f = t.process.files().file(fd_arg(fd))?;
    match &f.kind {
        FileKind::Socket(s) => {
            let s = s.clone();
            Ok((f, s))
        }
        _ => Err(Errno::ENOTSOCK),
    }
}

/// Names in the guest's filesystem, for AF_UNIX path addresses.
struct TaskPaths<'a>(&'a Task);

impl Paths for TaskPaths<'_> {
    fn make_node(&self, path: &[u8]) -> Result<Arc<Inode>, Errno> {
        let t = self.0;
        let (dir, name) = resolve_parent_at(t, AT_FDCWD, path)?;
        let cred = t.process.cred();
        let umask = t.process.fs().umask;
        let st = InodeState::new(
            S_IFSOCK | (0o777 & !umask),
            cred.euid,
            cred.egid,
            Body::Special,
        );
        t.kernel
            .vfs
            .create(&dir, &name, cred, || Inode::new(next_ino(), dir.dev, st))
    }

    fn remove_node(&self, path: &[u8]) {
        let t = self.0;
        if let Ok((dir, name)) = resolve_parent_at(t, AT_FDCWD, path) {
            let _ = t.kernel.vfs.remove(&dir, &name, false, t.process.cred());
        }
    }

    fn find(&self, path: &[u8]) -> Result<Arc<Inode>, Errno> {
        let t = self.0;
        let inode = resolve_at(t, AT_FDCWD, path, true, false)?;
        if !permitted(&inode, t.process.cred(), MAY_WRITE) {
            return Err(Errno::EACCES);
        }
        Ok(inode)
    }
}

/// Runs `f` with the caller as sockets see it.
fn with_ctx<R>(t: &Task, f: impl FnOnce(&Ctx) -> R) -> R {
    let paths = TaskPaths(t);
    let ctx = Ctx {
        pid: t.process.pid,
        cred: t.process.cred(),
        paths: &paths,
    };
    f(&ctx)
}

/// A socket wait with a timeout that a signal interrupts is never restarted (Linux's
/// sock_intr_errno gives EINTR, not ERESTARTSYS, once a timeout is set).
fn restart_rule<R>(
    t: &mut Task,
    timeout: Option<Duration>,
    r: Result<R, Errno>,
) -> Result<R, Errno> {
    if matches!(r, Err(Errno::EINTR)) && timeout.is_some() {
        t.restart = Some(crate::signal::Restart::Never);
    }
    r
}

/// An address from the guest (move_addr_to_kernel): at most a sockaddr_storage.
fn read_addr(t: &Task, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    let len = usize::try_from(len as i32).map_err(|_| Errno::EINVAL)?;
    if len > MAX_ADDR {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u8; len];
    if len > 0 {
        t.process.mm().read_bytes(GuestPtr(addr), &mut buf)?;
    }
    Ok(buf)
}

/// An address to the guest (move_addr_to_user): as much as its buffer takes, and
/// the full length in `*lenptr`.
fn write_addr(t: &Task, addr: u64, lenptr: u64, bytes: &[u8]) -> Result<(), Errno> {
    let mut mm = t.process.mm();
    let room: i32 = mm.read_val(GuestPtr(lenptr))?;
    let room = usize::try_from(room).map_err(|_| Errno::EINVAL)?;
    let n = room.min(bytes.len());
    if n > 0 {
        mm.write_bytes(GuestPtr(addr), &bytes[..n])?;
    }
    mm.write_val(GuestPtr(lenptr), &(bytes.len() as u32))
}

/// The open file of a new socket: O_RDWR, with its own sockfs inode.
fn socket_file(s: Arc<dyn Socket>, nonblock: bool) -> Arc<OpenFile> {
    let inode = net::socket_inode(&*s);
    let path = format!("socket:[{}]", inode.ino).into_bytes();
    let flags = O_RDWR | if nonblock { O_NONBLOCK } else { 0 };
    OpenFile::new(inode, path, FileKind::Socket(s), flags)
}

fn install(t: &Task, s: Arc<dyn Socket>, flags: u32) -> Result<i32, Errno> {
    let f = socket_file(s, flags & SOCK_NONBLOCK != 0);
    t.process.files().install(f, flags & SOCK_CLOEXEC != 0, 0)
}

/// The SOCK_NONBLOCK / SOCK_CLOEXEC flags of socket, socketpair and accept4.
fn type_flags(flags: u32) -> Result<u32, Errno> {
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(flags)
}

pub fn socket(t: &mut Task, a: [u64; 6]) -> SysResult {
    let ty = a[1] as u32;
    let flags = type_flags(ty & !SOCK_TYPE_MASK)?;
    let s = net::create(a[0] as i32, (ty & SOCK_TYPE_MASK) as i32, a[2] as i32)?;
    Ok(install(t, s, flags)? as u64)
}

pub fn socketpair(t: &mut Task, a: [u64; 6]) -> SysResult {
    let ty = a[1] as u32;
    let flags = type_flags(ty & !SOCK_TYPE_MASK)?;
    let [x, y] = with_ctx(t, |ctx| {
        net::pair(a[0] as i32, (ty & SOCK_TYPE_MASK) as i32, a[2] as i32, ctx)
    })?;
    let fx = install(t, x, flags)?;
    let fy = match install(t, y, flags) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = t.process.files().close(fx);
            return Err(e);
        }
    };
    let sv = [fx.to_ne_bytes(), fy.to_ne_bytes()].concat();
    if let Err(e) = t.process.mm().write_bytes(GuestPtr(a[3]), &sv) {
        let mut files = t.process.files();
        let _ = files.close(fx);
        let _ = files.close(fy);
        return Err(e);
    }
    Ok(0)
}

pub fn bind(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (_, s) = socket_of(t, a[0])?;
    let addr = read_addr(t, a[1], a[2])?;
    with_ctx(t, |ctx| s.bind(&addr, ctx))?;
    Ok(0)
}

pub fn listen(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (_, s) = socket_of(t, a[0])?;
    // A negative backlog is huge as unsigned: somaxconn.
    let backlog = (a[1] as u32).min(SOMAXCONN);
    with_ctx(t, |ctx| s.listen(backlog, ctx))?;
    Ok(0)
}

pub fn accept(t: &mut Task, a: [u64; 6]) -> SysResult {
    accept4(t, [a[0], a[1], a[2], 0, 0, 0])
}

pub fn accept4(t: &mut Task, a: [u64; 6]) -> SysResult {
    let flags = type_flags(a[3] as u32)?;
    let (f, s) = socket_of(t, a[0])?;
    // Linux takes the descriptor first: a full table is EMFILE before any wait.
    t.process.files().room()?;
    let timeout = s.common().opts().rcvtimeo;
    let got = s.accept(&Wait::new(t, f.nonblocking(), timeout));
    let new = restart_rule(t, timeout, got)?;
    if a[1] != 0 {
        let peer = new.peer_name().unwrap_or_else(|_| net::addr::unnamed());
        if let Err(e) = write_addr(t, a[1], a[2], &peer) {
            new.release();
            return Err(e);
        }
    }
    Ok(install(t, new, flags)? as u64)
}

pub fn connect(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (f, s) = socket_of(t, a[0])?;
    let addr = read_addr(t, a[1], a[2])?;
    let timeout = s.common().opts().sndtimeo;
    let r = with_ctx(t, |ctx| {
        s.connect(&addr, ctx, &Wait::new(t, f.nonblocking(), timeout))
    });
    restart_rule(t, timeout, r)?;
    Ok(0)
}

pub fn getsockname(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (_, s) = socket_of(t, a[0])?;
    write_addr(t, a[1], a[2], &s.name())?;
    Ok(0)
}

pub fn getpeername(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (_, s) = socket_of(t, a[0])?;
    write_addr(t, a[1], a[2], &s.peer_name()?)?;
    Ok(0)
}

pub fn shutdown(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (_, s) = socket_of(t, a[0])?;
    s.shutdown(a[1] as i32)?;
    Ok(0)
}

/// What a send sends besides its bytes.
#[derive(Default)]
struct Extras {
    to: Option<Vec<u8>>,
    rights: Vec<Arc<OpenFile>>,
    creds: Option<Ucred>,
    flags: u32,
}

/// One send of the bytes `iov` names, with the file's O_NONBLOCK as MSG_DONTWAIT and
/// SO_SNDTIMEO. A stream's bytes go in pieces of at most `CHUNK` (so a huge write
/// never needs a huge kernel buffer), on one `Wait`, until one goes short; the files
/// ride with the first. A message goes whole, and since no socket takes a message
/// longer than its send buffer, a byte more than that is all it needs to be refused.
fn send(t: &mut Task, f: &OpenFile, s: &dyn Socket, iov: &[(u64, usize)], x: Extras) -> SysResult {
    let flags = x.flags | if f.nonblocking() { MSG_DONTWAIT } else { 0 };
    let timeout = s.common().opts().sndtimeo;
    let len = total(iov);
    let stream = s.sock_type() == SockType::Stream;
    let piece = if stream {
        CHUNK
    } else {
        s.common().opts().sndbuf + 1
    };
    let r = with_ctx(t, |ctx| {
        let w = Wait::new(t, flags & MSG_DONTWAIT != 0, timeout);
        let mut rights = x.rights;
        let mut done = 0;
        loop {
            let data = match gather(t, iov, done, (len - done).min(piece)) {
                Ok(d) => d,
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            };
            let msg = Outgoing {
                data: &data,
                to: x.to.as_deref(),
                rights: std::mem::take(&mut rights),
                creds: x.creds,
                flags,
            };
            let n = match s.send(msg, ctx, &w) {
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            };
            done += n;
            if !stream || done == len || n < data.len() {
                return Ok(done);
            }
        }
    });
    Ok(restart_rule(t, timeout, r)? as u64)
}

/// One receive of at most `len` bytes, with O_NONBLOCK as MSG_DONTWAIT, SO_RCVTIMEO.
fn recv(
    t: &mut Task,
    f: &OpenFile,
    s: &dyn Socket,
    len: usize,
    mut flags: u32,
) -> Result<Incoming, Errno> {
    if f.nonblocking() {
        flags |= MSG_DONTWAIT;
    }
    let timeout = s.common().opts().rcvtimeo;
    let r = s.recv(
        len,
        flags,
        &Wait::new(t, flags & MSG_DONTWAIT != 0, timeout),
    );
    restart_rule(t, timeout, r)
}

pub fn sendto(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (f, s) = socket_of(t, a[0])?;
    let to = if a[4] != 0 {
        Some(read_addr(t, a[4], a[5])?).filter(|v| !v.is_empty())
    } else {
        None
    };
    let x = Extras {
        to,
        flags: a[3] as u32,
        ..Default::default()
    };
    send(t, &f, &*s, &[(a[1], a[2] as usize)], x)
}

pub fn recvfrom(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (f, s) = socket_of(t, a[0])?;
    let len = (a[2] as usize).min(MAX_RW);
    let got = recv(t, &f, &*s, len, a[3] as u32)?;
    scatter(t, &[(a[1], len)], &got.data)?;
    if a[4] != 0 {
        write_addr(t, a[4], a[5], got.from.as_deref().unwrap_or_default())?;
    }
    Ok(got.len as u64)
}

/// read(2) and readv(2) of a socket: a receive without flags (none at all for an
/// empty buffer, as Linux's sock_read_iter).
pub fn read_iov(t: &mut Task, f: &OpenFile, s: &dyn Socket, iov: &[(u64, usize)]) -> SysResult {
    let len = total(iov);
    if len == 0 {
        return Ok(0);
    }
    let got = recv(t, f, s, len, 0)?;
    scatter(t, iov, &got.data)?;
    Ok(got.data.len() as u64)
}

/// write(2) and writev(2) of a socket: one send of everything (one datagram).
pub fn write_iov(t: &mut Task, f: &OpenFile, s: &dyn Socket, iov: &[(u64, usize)]) -> SysResult {
    send(t, f, s, iov, Extras::default())
}

/// The guest's iovecs as (address, length), for readv/writev; a length that is
/// negative as a ssize_t is EINVAL.
pub fn iov_list(t: &Task, addr: u64, count: u64) -> Result<Vec<(u64, usize)>, Errno> {
    let iov = iovecs(t, addr, count)?;
    if iov.iter().any(|v| v.iov_len > isize::MAX as usize) {
        return Err(Errno::EINVAL);
    }
    Ok(iov.iter().map(|v| (v.iov_base as u64, v.iov_len)).collect())
}

/// How much the iovecs hold in all, at most MAX_RW (Linux's MAX_RW_COUNT).
fn total(iov: &[(u64, usize)]) -> usize {
    iov.iter()
        .map(|v| v.1)
        .fold(0usize, usize::saturating_add)
        .min(MAX_RW)
}

/// `len` bytes of the iovecs, from `skip` bytes in.
fn gather(t: &Task, iov: &[(u64, usize)], mut skip: usize, len: usize) -> Result<Vec<u8>, Errno> {
    let mut data = vec![0u8; len];
    let mut at = 0;
    let mut mm = t.process.mm();
    for &(base, n) in iov {
        if at == len {
            break;
        }
        let from = skip.min(n);
        skip -= from;
        let k = (n - from).min(len - at);
        mm.read_bytes(GuestPtr(base + from as u64), &mut data[at..at + k])?;
        at += k;
    }
    Ok(data)
}

fn scatter(t: &Task, iov: &[(u64, usize)], mut data: &[u8]) -> Result<(), Errno> {
    let mut mm = t.process.mm();
    for &(base, len) in iov {
        if data.is_empty() {
            break;
        }
        let n = len.min(data.len());
        mm.write_bytes(GuestPtr(base), &data[..n])?;
        data = &data[n..];
    }
    Ok(())
}

/// A msghdr and its iovecs.
fn read_msghdr(t: &Task, addr: u64) -> Result<(MsgHdr, Vec<(u64, usize)>), Errno> {
    let hdr: MsgHdr = t.process.mm().read_val(GuestPtr(addr))?;
    if hdr.iovlen > UIO_MAXIOV {
        return Err(Errno::EMSGSIZE);
    }
    if (hdr.namelen as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let iov = iov_list(t, hdr.iov, hdr.iovlen)?;
    Ok((hdr, iov))
}

pub fn sendmsg(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (f, s) = socket_of(t, a[0])?;
    send_msghdr(t, &f, &*s, a[1], a[2] as u32)
}

fn send_msghdr(t: &mut Task, f: &OpenFile, s: &dyn Socket, addr: u64, flags: u32) -> SysResult {
    let (hdr, iov) = read_msghdr(t, addr)?;
    let to = if hdr.name != 0 && hdr.namelen != 0 {
        // sendmsg cuts a long name to a sockaddr_storage (sendto refuses it).
        let len = (hdr.namelen as usize).min(MAX_ADDR);
        Some(read_addr(t, hdr.name, len as u64)?)
    } else {
        None
    };
    let (rights, creds) = control_in(t, s, &hdr)?;
    let x = Extras {
        to,
        rights,
        creds,
        flags,
    };
    send(t, f, s, &iov, x)
}

/// The SCM_RIGHTS and SCM_CREDENTIALS of a sendmsg (Linux's __scm_send): messages of
/// other levels are skipped, other types at SOL_SOCKET are EINVAL.
fn control_in(
    t: &Task,
    s: &dyn Socket,
    hdr: &MsgHdr,
) -> Result<(Vec<Arc<OpenFile>>, Option<Ucred>), Errno> {
    if hdr.controllen == 0 {
        return Ok((Vec::new(), None));
    }
    if hdr.controllen > OPTMEM_MAX {
        return Err(Errno::ENOBUFS);
    }
    let mut buf = vec![0u8; hdr.controllen as usize];
    t.process.mm().read_bytes(GuestPtr(hdr.control), &mut buf)?;
    let (mut rights, mut creds) = (Vec::new(), None);
    for c in cmsg::parse(&buf)? {
        if c.level != SOL_SOCKET {
            continue;
        }
        match c.ty {
            SCM_RIGHTS if s.family() == net::AF_UNIX => rights_in(t, c.data, &mut rights)?,
            SCM_CREDENTIALS if c.data.len() == 12 => {
                creds = Some(creds_in(
                    t,
                    Ucred::from_bytes(c.data).ok_or(Errno::EINVAL)?,
                )?);
            }
            _ => return Err(Errno::EINVAL),
        }
    }
    Ok((rights, creds))
}

/// The open file descriptions an SCM_RIGHTS message names (O_PATH ones too).
fn rights_in(t: &Task, data: &[u8], rights: &mut Vec<Arc<OpenFile>>) -> Result<(), Errno> {
    let n = data.len() / 4;
    if rights.len() + n > SCM_MAX_FD {
        return Err(Errno::EINVAL);
    }
    let files = t.process.files();
    for fd in data.chunks_exact(4) {
        let fd = i32::from_ne_bytes([fd[0], fd[1], fd[2], fd[3]]);
        rights.push(files.file(fd)?);
    }
    Ok(())
}

/// Credentials a sender attaches must be its own, unless it is root (Linux's
/// scm_check_creds), and name a process that exists.
fn creds_in(t: &Task, u: Ucred) -> Result<Ucred, Errno> {
    if u.uid == u32::MAX || u.gid == u32::MAX {
        return Err(Errno::EINVAL);
    }
    let c = t.process.cred();
    let root = c.euid == 0;
    let pid_ok = root || u.pid == t.process.pid;
    let uid_ok = root || [c.uid, c.euid, c.suid].contains(&u.uid);
    let gid_ok = root || [c.gid, c.egid, c.sgid].contains(&u.gid);
    if !(pid_ok && uid_ok && gid_ok) {
        return Err(Errno::EPERM);
    }
    if t.kernel.process(u.pid).is_none() {
        return Err(Errno::ESRCH);
    }
    Ok(u)
}

pub fn recvmsg(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (f, s) = socket_of(t, a[0])?;
    recv_msghdr(t, &f, &*s, a[1], a[2] as u32)
}

fn recv_msghdr(t: &mut Task, f: &OpenFile, s: &dyn Socket, addr: u64, flags: u32) -> SysResult {
    let (hdr, iov) = read_msghdr(t, addr)?;
    let got = recv(t, f, s, total(&iov), flags)?;
    scatter(t, &iov, &got.data)?;
    if hdr.name != 0 {
        let from = got.from.as_deref().unwrap_or_default();
        write_addr(t, hdr.name, addr + NAMELEN_AT, from)?;
    }
    let passcred = s.common().opts().on(net::SO_PASSCRED);
    let cap = if hdr.control == 0 {
        0
    } else {
        hdr.controllen as usize
    };
    let (control, truncated) = control_out(t, cap, passcred, &got, flags);
    let mut mm = t.process.mm();
    if !control.is_empty() {
        mm.write_bytes(GuestPtr(hdr.control), &control)?;
    }
    mm.write_val(GuestPtr(addr + CONTROLLEN_AT), &(control.len() as u64))?;
    let mut out_flags = got.flags | (flags & MSG_CMSG_CLOEXEC);
    if truncated {
        out_flags |= MSG_CTRUNC;
    }
    mm.write_val(GuestPtr(addr + FLAGS_AT), &out_flags)?;
    Ok(got.len as u64)
}

/// The control messages a receive hands out (Linux's scm_recv_unix): the sender's
/// credentials with SO_PASSCRED, then the files in flight, installed as new
/// descriptors as far as the buffer (and the descriptor table) has room; the rest
/// are closed. Returns the bytes and whether something did not fit.
fn control_out(
    t: &Task,
    cap: usize,
    passcred: bool,
    got: &Incoming,
    flags: u32,
) -> (Vec<u8>, bool) {
    let mut out = CmsgOut::new(cap);
    if passcred {
        let c = got.creds.unwrap_or(Ucred::NOBODY);
        out.put(SOL_SOCKET, SCM_CREDENTIALS, &c.bytes());
    }
    if !got.rights.is_empty() {
        let room = out.fd_room(got.rights.len());
        let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
        let mut fds = Vec::with_capacity(room);
        let mut files = t.process.files();
        for f in &got.rights[..room] {
            match files.install(f.clone(), cloexec, 0) {
                Ok(fd) => fds.push(fd),
                Err(_) => break,
            }
        }
        drop(files);
        out.put_fds(&fds, got.rights.len());
    }
    for (level, ty, data) in &got.control {
        out.put(*level, *ty, data);
    }
    let truncated = out.truncated;
    (out.into_bytes(), truncated)
}

pub fn sendmmsg(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (f, s) = socket_of(t, a[0])?;
    let mut sent = 0;
    for i in 0..a[2].min(UIO_MAXIOV) {
        let at = a[1] + i * MMSGHDR;
        match send_msghdr(t, &f, &*s, at, a[3] as u32) {
            Ok(n) => t
                .process
                .mm()
                .write_val(GuestPtr(at + MMSG_LEN_AT), &(n as u32))?,
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
        sent += 1;
    }
    Ok(sent)
}

pub fn recvmmsg(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (f, s) = socket_of(t, a[0])?;
    let deadline = super::time::read_timeout(t, a[4])?.map(|d| Instant::now() + d);
    let mut flags = a[3] as u32;
    let mut got = 0;
    for i in 0..a[2].min(UIO_MAXIOV) {
        let at = a[1] + i * MMSGHDR;
        match recv_msghdr(t, &f, &*s, at, flags) {
            Ok(n) => t
                .process
                .mm()
                .write_val(GuestPtr(at + MMSG_LEN_AT), &(n as u32))?,
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
        got += 1;
        if flags & MSG_WAITFORONE != 0 {
            flags |= MSG_DONTWAIT;
        }
        // As Linux, the timeout is looked at between messages only.
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    if let Some(d) = deadline {
        let left = d.saturating_duration_since(Instant::now());
        let ts = libc::timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        t.process.mm().write_val(GuestPtr(a[4]), &ts)?;
    }
    Ok(got)
}

pub fn setsockopt(t: &mut Task, a: [u64; 6]) -> SysResult {
    let len = usize::try_from(a[4] as i32).map_err(|_| Errno::EINVAL)?;
    let (_, s) = socket_of(t, a[0])?;
    let mut val = vec![0u8; len.min(MAX_OPTVAL)];
    t.process.mm().read_bytes(GuestPtr(a[3]), &mut val)?;
    let (level, name) = (a[1] as i32, a[2] as i32);
    if level == SOL_SOCKET {
        let root = t.process.cred().euid == 0;
        net::set_option(&*s, name, &val, root)?;
    } else {
        s.setsockopt(level, name, &val)?;
    }
    Ok(0)
}

pub fn getsockopt(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (_, s) = socket_of(t, a[0])?;
    let len: i32 = t.process.mm().read_val(GuestPtr(a[4]))?;
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    let (level, name) = (a[1] as i32, a[2] as i32);
    let val = if level == SOL_SOCKET {
        net::get_option(&*s, name)?
    } else {
        s.getsockopt(level, name)?
    };
    let n = len.min(val.len());
    let mut mm = t.process.mm();
    mm.write_bytes(GuestPtr(a[3]), &val[..n])?;
    mm.write_val(GuestPtr(a[4]), &(n as i32))?;
    Ok(0)
}

/// ioctl on a socket: SIOCINQ (FIONREAD) and SIOCOUTQ (TIOCOUTQ), and the network
/// device ioctls (syscall/netdev.rs).
pub fn ioctl(t: &Task, s: &dyn Socket, req: u64, arg: u64) -> SysResult {
    const SIOCINQ: u64 = super::tty::FIONREAD;
    const SIOCOUTQ: u64 = 0x5411;
    let n = match req {
        SIOCINQ => s.queued()?,
        SIOCOUTQ => s.unsent(),
        _ => return super::netdev::ioctl(t, s.family(), req, arg),
    };
    t.process
        .mm()
        .write_val(GuestPtr(arg), &(n.min(i32::MAX as usize) as i32))?;
    Ok(0)
}
