//! What every socket is to the rest of the kernel, whatever its address family: the
//! [`Socket`] trait, the SOL_SOCKET options every socket has ([`Common`]), and how a
//! socket call waits ([`Wait`]).

use std::any::Any;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ckpt::CkptError;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::fs::file::{OpenFile, Readiness};
use crate::fs::inode::Inode;
use crate::fs::Cred;
use crate::sched::{Block, WaitQueue};

pub const SOL_SOCKET: i32 = 1;

pub const MSG_OOB: u32 = 0x1;
pub const MSG_PEEK: u32 = 0x2;
pub const MSG_CTRUNC: u32 = 0x8;
pub const MSG_TRUNC: u32 = 0x20;
pub const MSG_DONTWAIT: u32 = 0x40;
pub const MSG_WAITALL: u32 = 0x100;
pub const MSG_NOSIGNAL: u32 = 0x4000;
pub const MSG_WAITFORONE: u32 = 0x10000;
pub const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

pub const SO_DEBUG: i32 = 1;
pub const SO_REUSEADDR: i32 = 2;
pub const SO_TYPE: i32 = 3;
pub const SO_ERROR: i32 = 4;
pub const SO_DONTROUTE: i32 = 5;
pub const SO_BROADCAST: i32 = 6;
pub const SO_SNDBUF: i32 = 7;
pub const SO_RCVBUF: i32 = 8;
pub const SO_KEEPALIVE: i32 = 9;
pub const SO_OOBINLINE: i32 = 10;
pub const SO_NO_CHECK: i32 = 11;
pub const SO_PRIORITY: i32 = 12;
pub const SO_LINGER: i32 = 13;
pub const SO_REUSEPORT: i32 = 15;
pub const SO_PASSCRED: i32 = 16;
pub const SO_PEERCRED: i32 = 17;
pub const SO_RCVLOWAT: i32 = 18;
pub const SO_SNDLOWAT: i32 = 19;
pub const SO_RCVTIMEO: i32 = 20;
pub const SO_SNDTIMEO: i32 = 21;
pub const SO_ACCEPTCONN: i32 = 30;
pub const SO_SNDBUFFORCE: i32 = 32;
pub const SO_RCVBUFFORCE: i32 = 33;
pub const SO_PASSSEC: i32 = 34;
pub const SO_PROTOCOL: i32 = 38;
pub const SO_DOMAIN: i32 = 39;
pub const SO_RCVTIMEO_NEW: i32 = 66;
pub const SO_SNDTIMEO_NEW: i32 = 67;

/// Linux's defaults (net.core.wmem_default, wmem_max; the rmem pair is the same).
pub const SOCK_BUF_DEFAULT: usize = 212_992;
const SOCK_BUF_MAX: usize = 212_992;
/// SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF on x86-64 (twice and once an skb's overhead).
const SOCK_MIN_SNDBUF: usize = 4608;
const SOCK_MIN_RCVBUF: usize = 2304;

/// A socket's type, as socket(2) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SockType {
    Stream,
    Dgram,
    SeqPacket,
}

impl SockType {
    /// SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET.
    pub fn number(self) -> i32 {
        match self {
            SockType::Stream => 1,
            SockType::Dgram => 2,
            SockType::SeqPacket => 5,
        }
    }

    /// Stream and seqpacket sockets connect, listen and accept.
    pub fn connection_based(self) -> bool {
        self != SockType::Dgram
    }
}

/// Process credentials as sockets carry them (struct ucred).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ucred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

impl Ucred {
    /// What Linux reports for credentials nobody attached: no pid, the overflow ids.
    pub const NOBODY: Ucred = Ucred {
        pid: 0,
        uid: 65534,
        gid: 65534,
    };

    pub fn bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.pid.to_ne_bytes());
        b[4..8].copy_from_slice(&self.uid.to_ne_bytes());
        b[8..].copy_from_slice(&self.gid.to_ne_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Ucred> {
        let word = |i: usize| Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?));
        Some(Ucred {
            pid: word(0)? as i32,
            uid: word(4)?,
            gid: word(8)?,
        })
    }
}

/// Names in the filesystem, for families whose addresses are paths (AF_UNIX).
pub trait Paths {
    /// bind: makes a socket node at `path` (mode 0777 less the umask); EEXIST if the
    /// name is taken.
    fn make_node(&self, path: &[u8]) -> Result<Arc<Inode>, Errno>;
    /// Takes back a node `make_node` just made (a bind that failed after it).
    fn remove_node(&self, path: &[u8]);
    /// connect, sendto: the inode `path` names (symlinks followed), if the caller may
    /// write to it.
    fn find(&self, path: &[u8]) -> Result<Arc<Inode>, Errno>;
}

/// The process making a socket call, as sockets see it.
pub struct Ctx<'a> {
    pub pid: i32,
    pub cred: Cred,
    pub paths: &'a dyn Paths,
}

impl Ctx<'_> {
    /// SO_PEERCRED's view of the caller: its effective ids.
    pub fn peer_cred(&self) -> Ucred {
        Ucred {
            pid: self.pid,
            uid: self.cred.euid,
            gid: self.cred.egid,
        }
    }

    /// The credentials a message gets when the sender attached none: the real ids.
    pub fn scm_cred(&self) -> Ucred {
        Ucred {
            pid: self.pid,
            uid: self.cred.uid,
            gid: self.cred.gid,
        }
    }
}

/// A message to send: the bytes, where to (the raw sockaddr), and what rides with it.
#[derive(Default)]
pub struct Outgoing<'a> {
    pub data: &'a [u8],
    pub to: Option<&'a [u8]>,
    /// SCM_RIGHTS: open file descriptions in flight.
    pub rights: Vec<Arc<OpenFile>>,
    /// SCM_CREDENTIALS, already checked against the sender's own.
    pub creds: Option<Ucred>,
    /// MSG_* flags (MSG_DONTWAIT is the `Wait`'s business).
    pub flags: u32,
}

/// What a receive got.
#[derive(Default)]
pub struct Incoming {
    pub data: Vec<u8>,
    /// The call's return value: the bytes copied, or a datagram's full length with
    /// MSG_TRUNC.
    pub len: usize,
    /// The sender's address, when it has one.
    pub from: Option<Vec<u8>>,
    pub rights: Vec<Arc<OpenFile>>,
    /// The sender's credentials (reported when the receiver has SO_PASSCRED).
    pub creds: Option<Ucred>,
    /// MSG_TRUNC and the like, for msg_flags.
    pub flags: u32,
    /// Control messages the family hands out (IP_PKTINFO and the like), in order:
    /// level, type and data.
    pub control: Vec<(i32, i32, Vec<u8>)>,
}

impl Incoming {
    /// A datagram received into `len` bytes: cut to fit (MSG_TRUNC in the flags), and
    /// with MSG_TRUNC asked for in `flags`, its full length as the call's result.
    pub fn datagram(mut self, len: usize, flags: u32) -> Incoming {
        let full = self.data.len();
        if full > len {
            self.data.truncate(len);
            self.flags |= MSG_TRUNC;
        }
        self.len = if flags & MSG_TRUNC != 0 {
            full
        } else {
            self.data.len()
        };
        self
    }
}

/// The checkpoint's indices of what a socket refers to (`fs::save::FsSaver`).
pub trait SaveIndex {
    fn file(&mut self, f: &Arc<OpenFile>) -> usize;
    fn inode(&mut self, i: &Arc<Inode>) -> usize;
    fn socket(&mut self, s: &Arc<dyn Socket>) -> usize;
}

/// Restored objects by checkpoint index; an index out of range is a corrupt image.
pub trait RestoreIndex {
    fn file(&self, i: usize) -> Result<Arc<OpenFile>, CkptError>;
    fn inode(&self, i: usize) -> Result<Arc<Inode>, CkptError>;
    fn socket(&self, i: usize) -> Result<Arc<dyn Socket>, CkptError>;
}

/// One socket, of any family: what socket calls, the file layer and checkpoints use.
pub trait Socket: Send + Sync + std::fmt::Debug {
    /// SO_DOMAIN.
    fn family(&self) -> i32;
    fn sock_type(&self) -> SockType;
    /// SO_PROTOCOL (IPPROTO_TCP, IPPROTO_UDP; 0 for AF_UNIX).
    fn protocol(&self) -> i32 {
        0
    }
    /// The SOL_SOCKET options.
    fn common(&self) -> &Common;
    fn bind(&self, addr: &[u8], ctx: &Ctx) -> Result<(), Errno>;
    /// `backlog` is already capped at somaxconn.
    fn listen(&self, backlog: u32, ctx: &Ctx) -> Result<(), Errno>;
    fn accept(&self, w: &Wait) -> Result<Arc<dyn Socket>, Errno>;
    fn connect(&self, addr: &[u8], ctx: &Ctx, w: &Wait) -> Result<(), Errno>;
    /// The bytes sent; a blocking send that was interrupted after some went returns
    /// those.
    fn send(&self, msg: Outgoing, ctx: &Ctx, w: &Wait) -> Result<usize, Errno>;
    /// At most `len` bytes; `flags` are the MSG_* flags.
    fn recv(&self, len: usize, flags: u32, w: &Wait) -> Result<Incoming, Errno>;
    /// SHUT_RD, SHUT_WR or SHUT_RDWR.
    fn shutdown(&self, how: i32) -> Result<(), Errno>;
    /// getsockname's address bytes.
    fn name(&self) -> Vec<u8>;
    /// getpeername's; ENOTCONN without a peer.
    fn peer_name(&self) -> Result<Vec<u8>, Errno>;
    /// SO_PEERCRED: None when there is no peer.
    fn peer_cred(&self) -> Option<Ucred>;
    /// SO_ACCEPTCONN.
    fn listening(&self) -> bool;
    /// SO_ERROR: the pending error, cleared (0 for none).
    fn take_error(&self) -> i32;
    /// SIOCINQ (FIONREAD).
    fn queued(&self) -> Result<usize, Errno>;
    /// SIOCOUTQ: what this socket sent that nobody has read yet.
    fn unsent(&self) -> usize;
    /// Its wait queue and epoll counters.
    fn events(&self) -> &Events;
    /// The poll mask now (EPOLLIN, EPOLLOUT, ... as the family's poll reports them).
    fn poll_mask(&self) -> u32;
    fn poll(&self) -> Readiness {
        self.events().readiness(self.poll_mask())
    }
    /// The queue notified whenever `poll` may change.
    fn wait_queue(&self) -> &WaitQueue {
        self.events().queue()
    }
    /// The last open file description on the socket went away.
    fn release(&self);
    fn save(&self, ix: &mut dyn SaveIndex) -> super::SavedSocket;
    /// For restore (`net::restore`), which needs each family's own type back.
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// Options of the family's own levels (not SOL_SOCKET).
    fn setsockopt(&self, _level: i32, _name: i32, _val: &[u8]) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    fn getsockopt(&self, _level: i32, _name: i32) -> Result<Vec<u8>, Errno> {
        Err(Errno::EOPNOTSUPP)
    }
}

/// The SOL_SOCKET options every socket keeps, as a checkpoint saves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opts {
    pub sndbuf: usize,
    pub rcvbuf: usize,
    pub rcvlowat: usize,
    /// None: wait for ever.
    pub rcvtimeo: Option<Duration>,
    pub sndtimeo: Option<Duration>,
    /// Bit n set: boolean option n (SO_REUSEADDR, SO_PASSCRED, ...) is on.
    pub flags: u64,
    /// struct linger: l_onoff, l_linger.
    pub linger: (i32, i32),
    pub priority: i32,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            sndbuf: SOCK_BUF_DEFAULT,
            rcvbuf: SOCK_BUF_DEFAULT,
            rcvlowat: 1,
            rcvtimeo: None,
            sndtimeo: None,
            flags: 0,
            linger: (0, 0),
            priority: 0,
        }
    }
}

impl Opts {
    pub fn on(&self, opt: i32) -> bool {
        self.flags & (1 << opt) != 0
    }

    fn set_flag(&mut self, opt: i32, on: bool) {
        if on {
            self.flags |= 1 << opt;
        } else {
            self.flags &= !(1 << opt);
        }
    }
}

/// The boolean SOL_SOCKET options kept as flags.
const FLAG_OPTS: [i32; 10] = [
    SO_DEBUG,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_DONTROUTE,
    SO_BROADCAST,
    SO_KEEPALIVE,
    SO_OOBINLINE,
    SO_NO_CHECK,
    SO_PASSCRED,
    SO_PASSSEC,
];

/// What a socket's waiters and pollers share: the queue every change is notified on,
/// and the input events and freed room so far, which edge-triggered epoll compares.
#[derive(Default)]
pub struct Events {
    wq: WaitQueue,
    ins: AtomicU64,
    outs: AtomicU64,
}

impl Events {
    /// `n` inputs arrived (data, a connection, a hangup): wake readers and pollers.
    pub fn inputs(&self, n: u64) {
        self.ins.fetch_add(n, Ordering::SeqCst);
        self.wq.notify_all();
    }

    pub fn input(&self) {
        self.inputs(1);
    }

    /// Room to write (or a connection) appeared.
    pub fn output(&self) {
        self.outs.fetch_add(1, Ordering::SeqCst);
        self.wq.notify_all();
    }

    pub fn queue(&self) -> &WaitQueue {
        &self.wq
    }

    pub fn readiness(&self, mask: u32) -> Readiness {
        Readiness {
            mask,
            ins: self.ins.load(Ordering::SeqCst),
            outs: self.outs.load(Ordering::SeqCst),
        }
    }

    /// (inputs, outputs) so far, as a checkpoint saves them.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.ins.load(Ordering::SeqCst),
            self.outs.load(Ordering::SeqCst),
        )
    }

    pub fn restore(&self, (ins, outs): (u64, u64)) {
        self.ins.store(ins, Ordering::SeqCst);
        self.outs.store(outs, Ordering::SeqCst);
    }
}

#[derive(Debug, Default)]
pub struct Common {
    opts: Mutex<Opts>,
    /// The inode number of the socket's file (/proc/<pid>/fd/N says socket:[ino]);
    /// 0 while no file holds it (a connection not accepted yet), as Linux's
    /// sock_i_ino.
    ino: AtomicU64,
}

impl Common {
    pub fn opts(&self) -> MutexGuard<'_, Opts> {
        self.opts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn ino(&self) -> u64 {
        self.ino.load(Ordering::SeqCst)
    }

    /// The socket's file is made (or restored) with the inode numbered `ino`.
    pub fn set_ino(&self, ino: u64) {
        self.ino.store(ino, Ordering::SeqCst);
    }

    pub fn restore(&self, o: Opts) {
        *self.opts() = o;
    }
}

/// setsockopt(SOL_SOCKET) as Linux's sk_setsockopt does it. `privileged`: the caller
/// has CAP_NET_ADMIN (is root).
pub fn set_option(s: &dyn Socket, name: i32, val: &[u8], privileged: bool) -> Result<(), Errno> {
    if val.len() < 4 {
        return Err(Errno::EINVAL);
    }
    let int = i32::from_ne_bytes([val[0], val[1], val[2], val[3]]);
    let mut o = s.common().opts();
    match name {
        SO_DEBUG if int != 0 && !privileged => return Err(Errno::EACCES),
        // Only inet sockets can share ports (Linux's sk_is_inet check).
        SO_REUSEPORT if int != 0 && !super::inet::is_inet(s.family()) => {
            return Err(Errno::EOPNOTSUPP)
        }
        n if FLAG_OPTS.contains(&n) => o.set_flag(n, int != 0),
        SO_SNDBUF | SO_SNDBUFFORCE => {
            let v = buf_arg(int, name == SO_SNDBUFFORCE, privileged)?;
            o.sndbuf = (v * 2).max(SOCK_MIN_SNDBUF);
        }
        SO_RCVBUF | SO_RCVBUFFORCE => {
            let v = buf_arg(int, name == SO_RCVBUFFORCE, privileged)?;
            o.rcvbuf = (v * 2).max(SOCK_MIN_RCVBUF);
        }
        SO_PRIORITY if !(0..=6).contains(&int) && !privileged => return Err(Errno::EPERM),
        SO_PRIORITY => o.priority = int,
        SO_LINGER => {
            let l = val.get(4..8).ok_or(Errno::EINVAL)?;
            // Turning lingering off keeps the time (getsockopt reads it back).
            if int != 0 {
                o.linger = (1, i32::from_ne_bytes([l[0], l[1], l[2], l[3]]));
            } else {
                o.linger.0 = 0;
            }
        }
        // A negative low-water mark means "as much as asked for" (INT_MAX).
        SO_RCVLOWAT => o.rcvlowat = usize::try_from(int).unwrap_or(i32::MAX as usize).max(1),
        SO_RCVTIMEO | SO_RCVTIMEO_NEW => o.rcvtimeo = timeout_arg(val)?,
        SO_SNDTIMEO | SO_SNDTIMEO_NEW => o.sndtimeo = timeout_arg(val)?,
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

/// The buffer size SO_SNDBUF/SO_RCVBUF ask for, before Linux doubles it: taken as
/// unsigned (a negative one is huge) and capped at wmem_max/rmem_max; the FORCE
/// variants (root only) take any non-negative size.
fn buf_arg(v: i32, force: bool, privileged: bool) -> Result<usize, Errno> {
    let v = match (force, privileged) {
        (false, _) => (v as u32 as usize).min(SOCK_BUF_MAX),
        (true, true) => v.max(0) as usize,
        (true, false) => return Err(Errno::EPERM),
    };
    Ok(v.min(i32::MAX as usize / 2))
}

/// A struct timeval for SO_RCVTIMEO/SO_SNDTIMEO: all zero waits for ever, a negative
/// time does not wait at all, microseconds outside a second are EDOM.
fn timeout_arg(val: &[u8]) -> Result<Option<Duration>, Errno> {
    let field = |i: usize| -> Result<i64, Errno> {
        let b = val.get(i..i + 8).ok_or(Errno::EINVAL)?;
        Ok(i64::from_ne_bytes(b.try_into().map_err(|_| Errno::EINVAL)?))
    };
    let (sec, usec) = (field(0)?, field(8)?);
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno::EDOM);
    }
    if sec < 0 {
        return Ok(Some(Duration::ZERO));
    }
    if sec == 0 && usec == 0 {
        return Ok(None);
    }
    Ok(Some(Duration::new(sec as u64, usec as u32 * 1000)))
}

/// getsockopt(SOL_SOCKET): the option's value, which the caller truncates to the
/// guest's length.
pub fn get_option(s: &dyn Socket, name: i32) -> Result<Vec<u8>, Errno> {
    let int = |v: i32| Ok(v.to_ne_bytes().to_vec());
    let o = s.common().opts().clone();
    match name {
        n if FLAG_OPTS.contains(&n) => int(i32::from(o.on(n))),
        SO_TYPE => int(s.sock_type().number()),
        SO_DOMAIN => int(s.family()),
        SO_PROTOCOL => int(s.protocol()),
        SO_ERROR => int(s.take_error()),
        SO_ACCEPTCONN => int(i32::from(s.listening())),
        SO_SNDBUF => int(o.sndbuf as i32),
        SO_RCVBUF => int(o.rcvbuf as i32),
        SO_PRIORITY => int(o.priority),
        SO_RCVLOWAT => int(o.rcvlowat as i32),
        SO_SNDLOWAT => int(1),
        SO_LINGER => Ok([o.linger.0.to_ne_bytes(), o.linger.1.to_ne_bytes()].concat()),
        SO_RCVTIMEO | SO_RCVTIMEO_NEW => Ok(timeval(o.rcvtimeo)),
        SO_SNDTIMEO | SO_SNDTIMEO_NEW => Ok(timeval(o.sndtimeo)),
        // No peer: pid 0 and the ids -1, as Linux's cred_to_ucred without a cred.
        SO_PEERCRED => Ok(s
            .peer_cred()
            .unwrap_or(Ucred {
                pid: 0,
                uid: u32::MAX,
                gid: u32::MAX,
            })
            .bytes()
            .to_vec()),
        _ => Err(Errno::ENOPROTOOPT),
    }
}

fn timeval(t: Option<Duration>) -> Vec<u8> {
    let t = t.unwrap_or_default();
    let sec = t.as_secs() as i64;
    let usec = i64::from(t.subsec_micros());
    [sec.to_ne_bytes(), usec.to_ne_bytes()].concat()
}

/// How a socket call may wait: not at all (O_NONBLOCK, MSG_DONTWAIT), until a deadline
/// (SO_RCVTIMEO, SO_SNDTIMEO), or for ever; every wait is interruptible. One `Wait`
/// serves a whole system call, which may make several sends (a long stream write
/// goes in pieces).
pub struct Wait<'a> {
    b: &'a dyn Block,
    nonblock: bool,
    deadline: Option<Instant>,
    /// The call has moved data: a checkpoint cannot park it any more.
    moved: Cell<bool>,
}

impl<'a> Wait<'a> {
    pub fn new(b: &'a dyn Block, nonblock: bool, timeout: Option<Duration>) -> Wait<'a> {
        Wait {
            b,
            nonblock: nonblock || timeout == Some(Duration::ZERO),
            deadline: timeout.map(|t| Instant::now() + t),
            moved: Cell::new(false),
        }
    }

    /// Sleeps on `queues` until `cond` gives a value: EAGAIN when the call must not
    /// wait or its timeout passes, EINTR for a signal. Once the call has moved data, a
    /// checkpoint cannot park it and re-issue it after the thaw (that would move the
    /// data twice): it ends with EINTR instead, and the caller returns what it moved,
    /// as for a signal.
    pub fn until<R>(
        &self,
        queues: &[&crate::sched::WaitQueue],
        cond: impl FnMut() -> Option<R>,
    ) -> Result<R, Errno> {
        if self.nonblock {
            let mut cond = cond;
            return cond().ok_or(Errno::EAGAIN);
        }
        let b = self.b;
        let stop = || {
            if self.moved.get() {
                b.interrupted_after_progress()
            } else {
                b.interrupted()
            }
        };
        crate::sched::wait_on(b.waker(), queues, self.deadline, &stop, cond).map_err(|e| match e {
            crate::sched::WaitError::Interrupted => Errno::EINTR,
            crate::sched::WaitError::TimedOut => Errno::EAGAIN,
        })
    }

    /// The call moved data (see `until`).
    pub fn moved(&self) {
        self.moved.set(true);
    }

    pub fn has_moved(&self) -> bool {
        self.moved.get()
    }

    /// The caller wrote to a socket that will take no more: SIGPIPE for its thread.
    pub fn sigpipe(&self) {
        self.b.sigpipe();
    }

    pub fn nonblocking(&self) -> bool {
        self.nonblock
    }
}

/// No filesystem names: the paths of write(2) and friends, which carry no address
/// (and of families whose addresses are no paths).
pub struct NoPaths;

impl Paths for NoPaths {
    fn make_node(&self, _: &[u8]) -> Result<Arc<Inode>, Errno> {
        Err(Errno::EINVAL)
    }
    fn remove_node(&self, _: &[u8]) {}
    fn find(&self, _: &[u8]) -> Result<Arc<Inode>, Errno> {
        Err(Errno::EINVAL)
    }
}

/// read(2) of a socket through its open file (sendfile and other in-kernel copies;
/// the read system calls go through syscall/net.rs).
pub fn file_read(
    s: &dyn Socket,
    buf: &mut [u8],
    nonblock: bool,
    b: &dyn Block,
) -> Result<usize, Errno> {
    let timeout = s.common().opts().rcvtimeo;
    let got = s.recv(buf.len(), 0, &Wait::new(b, nonblock, timeout))?;
    buf[..got.data.len()].copy_from_slice(&got.data);
    Ok(got.data.len())
}

/// write(2) of a socket through its open file.
pub fn file_write(
    s: &dyn Socket,
    data: &[u8],
    nonblock: bool,
    b: &dyn Block,
) -> Result<usize, Errno> {
    let timeout = s.common().opts().sndtimeo;
    let (pid, cred) = b
        .caller()
        .map_or((0, Cred::ROOT), |(_, p)| (p.pid, p.cred()));
    let ctx = Ctx {
        pid,
        cred,
        paths: &NoPaths,
    };
    let msg = Outgoing {
        data,
        ..Default::default()
    };
    s.send(msg, &ctx, &Wait::new(b, nonblock, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::unix::UnixSocket;

    fn int(v: i32) -> Vec<u8> {
        v.to_ne_bytes().to_vec()
    }

    fn timeval(sec: i64, usec: i64) -> Vec<u8> {
        [sec.to_ne_bytes(), usec.to_ne_bytes()].concat()
    }

    #[test]
    fn options_follow_sk_setsockopt() {
        let s = UnixSocket::create(SockType::Stream, 0).unwrap();
        let get = |n| get_option(&*s, n).unwrap();
        set_option(&*s, SO_SNDBUF, &int(65536), false).unwrap();
        assert_eq!(get(SO_SNDBUF), int(131072), "doubled");
        set_option(&*s, SO_SNDBUF, &int(-1), false).unwrap();
        assert_eq!(get(SO_SNDBUF), int(2 * 212_992), "negative is huge, capped");
        set_option(&*s, SO_RCVBUF, &int(1), false).unwrap();
        assert_eq!(get(SO_RCVBUF), int(2304), "at least SOCK_MIN_RCVBUF");
        assert_eq!(
            set_option(&*s, SO_RCVBUFFORCE, &int(1 << 20), false),
            Err(Errno::EPERM)
        );
        set_option(&*s, SO_RCVBUFFORCE, &int(1 << 20), true).unwrap();
        assert_eq!(get(SO_RCVBUF), int(2 << 20), "FORCE passes wmem_max");

        let linger = |on: i32, secs: i32| [int(on), int(secs)].concat();
        set_option(&*s, SO_LINGER, &linger(1, 5), false).unwrap();
        set_option(&*s, SO_LINGER, &linger(0, 9), false).unwrap();
        assert_eq!(get(SO_LINGER), linger(0, 5), "off keeps the time");
        assert_eq!(
            set_option(&*s, SO_LINGER, &int(1), false),
            Err(Errno::EINVAL)
        );

        set_option(&*s, SO_RCVTIMEO, &timeval(1, 500_000), false).unwrap();
        assert_eq!(get(SO_RCVTIMEO), timeval(1, 500_000));
        set_option(&*s, SO_RCVTIMEO, &timeval(-3, 0), false).unwrap();
        assert_eq!(
            s.common().opts().rcvtimeo,
            Some(Duration::ZERO),
            "never waits"
        );
        set_option(&*s, SO_RCVTIMEO, &timeval(0, 0), false).unwrap();
        assert_eq!(s.common().opts().rcvtimeo, None, "waits for ever");
        let bad = set_option(&*s, SO_SNDTIMEO, &timeval(0, 1_000_000), false);
        assert_eq!(bad, Err(Errno::EDOM));

        assert_eq!(
            set_option(&*s, SO_DEBUG, &int(1), false),
            Err(Errno::EACCES)
        );
        assert_eq!(
            set_option(&*s, SO_PRIORITY, &int(7), false),
            Err(Errno::EPERM)
        );
        assert_eq!(
            set_option(&*s, SO_KEEPALIVE, &[1, 0], false),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            set_option(&*s, SO_TYPE, &int(1), false),
            Err(Errno::ENOPROTOOPT)
        );
        set_option(&*s, SO_RCVLOWAT, &int(-5), false).unwrap();
        assert_eq!(get(SO_RCVLOWAT), int(i32::MAX));
        assert_eq!(get(SO_PEERCRED), [int(0), int(-1), int(-1)].concat());
        s.release();
    }
}
