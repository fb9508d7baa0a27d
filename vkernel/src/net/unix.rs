//! AF_UNIX sockets: stream, datagram and seqpacket, with Linux's connection rules.
//! Names live in names.rs, data (with SCM_RIGHTS and SCM_CREDENTIALS) in io.rs, saved
//! forms in save.rs, the table of live sockets (and /proc/net/unix) in table.rs.
//!
//! A connect makes the server's end at once (the "embryo") and queues it on the
//! listener, so the client may write before the server accepts, as on Linux.
//!
//! Locks: each socket's state has its own mutex. Only connect holds two sockets'
//! (in address order, `lock_two`); everything else holds one at a time, and the name
//! table may be taken while a socket's is held, never the other way round. Open files
//! (messages' SCM_RIGHTS) are never dropped under a socket's lock: dropping one can
//! release another socket. Sockets kept alive only by each other's files in flight
//! are collected by gc.rs.

mod gc;
mod io;
mod names;
mod save;
mod table;

use crate::net::Events;
use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::errno::Errno;

use super::addr::{self, UnixAddr};
use super::{Common, Ctx, Incoming, Outgoing, SockType, Socket, Ucred, Wait, AF_UNIX};
use super::{SaveIndex, SavedSocket, SO_PASSCRED};
use crate::fs::epoll::{
    EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLRDNORM, EPOLLWRBAND, EPOLLWRNORM,
};
use crate::fs::inode::Inode;
use io::Msg;
pub use save::{restore, SavedUnix};
pub use table::proc_net_unix;

/// sk_shutdown bits: no more receiving, no more sending.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = 3;

pub struct UnixSocket {
    ty: SockType,
    me: Weak<UnixSocket>,
    common: Common,
    st: Mutex<State>,
    ev: Events,
    /// Released: its last open file is gone (readable without the state lock, for
    /// the name table).
    closed: AtomicBool,
    /// Its key in the table of live sockets (table.rs) while it is there, else 0.
    key: AtomicU64,
    /// The send buffer in use: what this socket queued at receivers that is not read
    /// yet, each message with its overhead (Linux's sk_wmem_alloc).
    wmem: AtomicUsize,
}

struct State {
    /// The bound name; an accepted socket shows its listener's.
    addr: Option<UnixAddr>,
    /// The filesystem node of a path name.
    node: Option<Arc<Inode>>,
    /// Whether the socket holds its name in the table (it bound it itself).
    named: bool,
    conn: Conn,
    /// Stream and seqpacket: the other end, kept after it closes (getpeername still
    /// names it). Datagram: where a send without an address goes.
    peer: Option<Arc<UnixSocket>>,
    queue: VecDeque<Msg>,
    shutdown: u8,
    /// The pending error SO_ERROR and the next call report once.
    err: Option<Errno>,
    /// SO_PEERCRED.
    peercred: Option<Ucred>,
    /// A connection's server end that nobody accepted yet.
    embryo: bool,
    /// Senders that found this socket's queue full; told when it drains, so that their
    /// polls see the room (Linux's peer_wait relay).
    blocked: Vec<Weak<UnixSocket>>,
}

enum Conn {
    Unconnected,
    Listening {
        backlog: u32,
        pending: VecDeque<Arc<UnixSocket>>,
    },
    Connected,
}

impl std::fmt::Debug for UnixSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UnixSocket({:?})", self.ty)
    }
}

impl UnixSocket {
    /// socket(AF_UNIX, ty, protocol).
    pub fn create(ty: SockType, protocol: i32) -> Result<Arc<UnixSocket>, Errno> {
        if protocol != 0 && protocol != AF_UNIX {
            return Err(Errno::EPROTONOSUPPORT);
        }
        let s = Self::bare(ty);
        s.claim()?;
        Ok(s)
    }

    /// socketpair(AF_UNIX, ty, protocol): two sockets joined back to back.
    pub fn pair(
        ty: SockType,
        protocol: i32,
        ctx: &Ctx,
    ) -> Result<(Arc<UnixSocket>, Arc<UnixSocket>), Errno> {
        let a = Self::create(ty, protocol)?;
        let b = match Self::create(ty, protocol) {
            Ok(b) => b,
            Err(e) => {
                a.release();
                return Err(e);
            }
        };
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut st = x.lock();
            st.conn = Conn::Connected;
            st.peer = Some(y.clone());
            st.peercred = Some(ctx.peer_cred());
        }
        Ok((a, b))
    }

    /// A socket with nothing in it, not in the table of live sockets (restore enters
    /// it).
    pub fn bare(ty: SockType) -> Arc<UnixSocket> {
        let st = State {
            addr: None,
            node: None,
            named: false,
            conn: Conn::Unconnected,
            peer: None,
            queue: VecDeque::new(),
            shutdown: 0,
            err: None,
            peercred: None,
            embryo: false,
            blocked: Vec::new(),
        };
        Arc::new_cyclic(|me| UnixSocket {
            ty,
            me: me.clone(),
            common: Common::default(),
            st: Mutex::new(st),
            ev: Events::default(),
            closed: AtomicBool::new(false),
            key: AtomicU64::new(0),
            wmem: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This socket as an `Arc` (for messages and peers that point back at it).
    fn me(&self) -> Result<Arc<UnixSocket>, Errno> {
        self.me.upgrade().ok_or(Errno::EBADF)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn passcred(&self) -> bool {
        self.common.opts().on(SO_PASSCRED)
    }

    /// Something arrived (data, a connection, a hangup): wake readers and pollers.
    fn input_event(&self) {
        self.ev.input();
    }

    /// Binds an unbound socket to a fresh abstract name (autobind); a bound one keeps
    /// its name.
    fn autobind(&self) -> Result<(), Errno> {
        let me = self.me()?;
        let mut st = self.lock();
        if st.addr.is_none() {
            st.addr = Some(UnixAddr::Abstract(names::autobind(self.ty, &me)?));
            st.named = true;
        }
        Ok(())
    }

    fn bind_path(&self, path: &[u8], ctx: &Ctx) -> Result<(), Errno> {
        let me = self.me()?;
        // The node first, as Linux: a taken path is EADDRINUSE even for a bound socket.
        let node = ctx.paths.make_node(path).map_err(|e| match e {
            Errno::EEXIST => Errno::EADDRINUSE,
            e => e,
        })?;
        let mut st = self.lock();
        if st.addr.is_some() {
            drop(st);
            ctx.paths.remove_node(path);
            return Err(Errno::EINVAL);
        }
        names::bind_node(node.ino, &me);
        st.addr = Some(UnixAddr::Path(path.to_vec()));
        st.node = Some(node);
        st.named = true;
        Ok(())
    }

    fn bind_abstract(&self, name: &[u8]) -> Result<(), Errno> {
        let me = self.me()?;
        let mut st = self.lock();
        if st.addr.is_some() {
            return Err(Errno::EINVAL);
        }
        names::bind_abstract(self.ty, name, &me)?;
        st.addr = Some(UnixAddr::Abstract(name.to_vec()));
        st.named = true;
        Ok(())
    }

    /// connect on a stream or seqpacket socket.
    fn connect_stream(&self, raw: &[u8], ctx: &Ctx, w: &Wait) -> Result<(), Errno> {
        let addr = UnixAddr::parse(raw)?;
        if self.passcred() {
            self.autobind()?;
        }
        let me = self.me()?;
        let embryo = Self::bare(self.ty);
        embryo.claim()?;
        let done = loop {
            let listener = match names::find(&addr, self.ty, ctx) {
                Ok(l) => l,
                Err(e) => break Err(e),
            };
            match self.join(&me, &listener, &embryo, ctx) {
                Joined::Retry => {}
                Joined::Done(r) => break r,
                Joined::Full => {
                    let room = w.until(&[listener.ev.queue()], || {
                        listener.has_room_or_is_gone().then_some(())
                    });
                    if let Err(e) = room {
                        break Err(e);
                    }
                }
            }
        };
        if done.is_err() {
            embryo.release();
        }
        done
    }

    /// One attempt to queue `embryo`, the server end of our connection, on `listener`.
    fn join(
        &self,
        me: &Arc<UnixSocket>,
        listener: &Arc<UnixSocket>,
        embryo: &Arc<UnixSocket>,
        ctx: &Ctx,
    ) -> Joined {
        if Arc::ptr_eq(listener, me) {
            // Connecting to oneself: a listener is no client, anything else no listener.
            let listening = matches!(self.lock().conn, Conn::Listening { .. });
            let e = if listening {
                Errno::EINVAL
            } else {
                Errno::ECONNREFUSED
            };
            return Joined::Done(Err(e));
        }
        let (mut lg, mut st) = lock_two(listener, me);
        if listener.is_closed() {
            return Joined::Retry;
        }
        let l: &mut State = &mut lg;
        let Conn::Listening { backlog, pending } = &mut l.conn else {
            return Joined::Done(Err(Errno::ECONNREFUSED));
        };
        if l.shutdown & RCV_SHUTDOWN != 0 {
            return Joined::Done(Err(Errno::ECONNREFUSED));
        }
        // Linux lets one more than the backlog wait (unix_recvq_full is ">").
        if pending.len() > *backlog as usize {
            return Joined::Full;
        }
        match st.conn {
            Conn::Unconnected => {}
            Conn::Connected => return Joined::Done(Err(Errno::EISCONN)),
            Conn::Listening { .. } => return Joined::Done(Err(Errno::EINVAL)),
        }
        {
            let mut e = embryo.lock();
            e.conn = Conn::Connected;
            e.peer = Some(me.clone());
            e.addr = l.addr.clone();
            e.node = l.node.clone();
            e.peercred = Some(ctx.peer_cred());
            e.embryo = true;
        }
        pending.push_back(embryo.clone());
        st.conn = Conn::Connected;
        st.peer = Some(embryo.clone());
        st.peercred = l.peercred;
        drop((lg, st));
        listener.input_event();
        Joined::Done(Ok(()))
    }

    /// Whether a connector waiting for backlog room should look again.
    fn has_room_or_is_gone(&self) -> bool {
        let st = self.lock();
        match &st.conn {
            Conn::Listening { backlog, pending } => {
                pending.len() <= *backlog as usize || st.shutdown & RCV_SHUTDOWN != 0
            }
            _ => true,
        }
    }

    /// connect on a datagram socket: set (or with AF_UNSPEC, drop) the default
    /// destination, which then is the only sender this socket hears.
    fn connect_dgram(&self, raw: &[u8], ctx: &Ctx) -> Result<(), Errno> {
        if addr::family(raw)? == super::AF_UNSPEC {
            self.set_dgram_peer(None);
            return Ok(());
        }
        let addr = UnixAddr::parse(raw)?;
        if self.passcred() {
            self.autobind()?;
        }
        let me = self.me()?;
        let other = names::find(&addr, self.ty, ctx)?;
        if !other.may_hear(&me) {
            return Err(Errno::EPERM);
        }
        self.set_dgram_peer(Some(other));
        Ok(())
    }

    /// A datagram socket connected elsewhere may only receive from its peer.
    fn may_hear(&self, sender: &Arc<UnixSocket>) -> bool {
        let st = self.lock();
        st.peer.as_ref().is_none_or(|p| Arc::ptr_eq(p, sender))
    }

    /// Changes a datagram socket's peer. A datagram socket is `Connected` as Linux's
    /// is TCP_ESTABLISHED (what /proc/net/unix shows): with a peer, and as the peer
    /// of another, until that one leaves it while it has no peer of its own. Leaving
    /// a peer drops what is queued here (it may have come from the old peer), and if
    /// that peer was connected back to us, it learns of it (ECONNRESET), as Linux's
    /// unix_dgram_disconnected.
    fn set_dgram_peer(&self, new: Option<Arc<UnixSocket>>) {
        let (old, dropped) = {
            let mut st = self.lock();
            let old = std::mem::replace(&mut st.peer, new.clone());
            st.conn = if new.is_some() {
                Conn::Connected
            } else {
                Conn::Unconnected
            };
            let changed = old
                .as_ref()
                .is_some_and(|o| new.as_ref().is_none_or(|n| !Arc::ptr_eq(o, n)));
            let dropped = if changed {
                std::mem::take(&mut st.queue)
            } else {
                VecDeque::new()
            };
            (old.filter(|_| changed), dropped)
        };
        if let Some(n) = &new {
            n.lock().conn = Conn::Connected;
        }
        if let Some(old) = old {
            self.left(&old, !dropped.is_empty());
        }
        io::discard(dropped);
    }

    /// We stopped sending to `old` by default: it is no longer established unless it
    /// has a peer itself, and if we `dropped` messages while it was connected back
    /// to us, it is reset.
    fn left(&self, old: &UnixSocket, dropped: bool) {
        let mut o = old.lock();
        if o.peer.is_none() {
            o.conn = Conn::Unconnected;
        }
        if !dropped {
            return;
        }
        let back_to_us = o.peer.as_ref().is_some_and(|p| std::ptr::eq(&**p, self));
        if back_to_us && !old.is_closed() {
            o.err = Some(Errno::ECONNRESET);
        }
        drop(o);
        old.input_event();
    }

    /// Ends a socket: its last open file went away, or (for an `embryo`) its listener
    /// did. The peer of a connection sees a hangup, and ECONNRESET if we leave unread
    /// data behind or were never accepted.
    fn close(&self, embryo: bool) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.unclaim();
        let (peer, queue, pending, name) = {
            let mut st = self.lock();
            st.shutdown = SHUTDOWN_MASK;
            let pending = match std::mem::replace(&mut st.conn, Conn::Unconnected) {
                Conn::Listening { pending, .. } => pending,
                _ => VecDeque::new(),
            };
            let name = st
                .addr
                .clone()
                .filter(|_| st.named)
                .map(|a| (a, st.node.as_ref().map(|n| n.ino)));
            (st.peer.take(), std::mem::take(&mut st.queue), pending, name)
        };
        if let Some((a, node)) = name {
            names::forget(self, self.ty, &a, node);
        }
        if let Some(p) = peer.filter(|_| self.ty.connection_based()) {
            {
                let mut pst = p.lock();
                pst.shutdown = SHUTDOWN_MASK;
                if !queue.is_empty() || embryo {
                    pst.err = Some(Errno::ECONNRESET);
                }
            }
            p.input_event();
        }
        for e in pending {
            e.close(true);
        }
        self.input_event();
        self.wake_blocked();
        io::discard(queue);
        gc::after_release();
    }

    /// Tells the senders that found our queue full that it has room now.
    fn wake_blocked(&self) {
        let blocked = std::mem::take(&mut self.lock().blocked);
        for s in blocked.iter().filter_map(Weak::upgrade) {
            s.ev.output();
        }
    }

    /// Linux's unix_writable: not listening, and at most a quarter of the send buffer
    /// in use.
    fn writable(&self, listening: bool) -> bool {
        let sndbuf = self.common.opts().sndbuf;
        !listening && self.wmem.load(Ordering::SeqCst) * 4 <= sndbuf
    }

    /// unix_poll and unix_dgram_poll.
    fn mask_now(&self) -> u32 {
        let (mut mask, listening, peer) = {
            let st = self.lock();
            let mut m = 0;
            if st.err.is_some() {
                m |= EPOLLERR;
            }
            if st.shutdown == SHUTDOWN_MASK {
                m |= EPOLLHUP;
            }
            if st.shutdown & RCV_SHUTDOWN != 0 {
                m |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
            }
            let listening = matches!(st.conn, Conn::Listening { .. });
            let readable = match &st.conn {
                Conn::Listening { pending, .. } => !pending.is_empty(),
                _ => !st.queue.is_empty(),
            };
            if readable {
                m |= EPOLLIN | EPOLLRDNORM;
            }
            let closed_conn = matches!(st.conn, Conn::Unconnected);
            if closed_conn && self.ty.connection_based() {
                m |= EPOLLHUP;
            }
            (m, listening, st.peer.clone())
        };
        let mut writable = self.writable(listening);
        if writable && self.ty != SockType::Stream {
            if let (Some(p), Ok(me)) = (peer, self.me()) {
                writable = !p.full_for(&me, true);
            }
        }
        if writable {
            mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
        }
        mask
    }
}

/// What one connect attempt came to.
enum Joined {
    Done(Result<(), Errno>),
    /// The listener's backlog is full: wait for room and try again.
    Full,
    /// The listener went away under us: look the name up again.
    Retry,
}

/// Locks two different sockets' states in address order.
fn lock_two<'a>(
    a: &'a UnixSocket,
    b: &'a UnixSocket,
) -> (MutexGuard<'a, State>, MutexGuard<'a, State>) {
    if (a as *const UnixSocket) < (b as *const UnixSocket) {
        let ga = a.lock();
        (ga, b.lock())
    } else {
        let gb = b.lock();
        (a.lock(), gb)
    }
}

impl Socket for UnixSocket {
    fn family(&self) -> i32 {
        AF_UNIX
    }

    fn sock_type(&self) -> SockType {
        self.ty
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn bind(&self, raw: &[u8], ctx: &Ctx) -> Result<(), Errno> {
        match UnixAddr::parse_bind(raw)? {
            None => self.autobind(),
            Some(UnixAddr::Path(p)) => self.bind_path(&p, ctx),
            Some(UnixAddr::Abstract(n)) => self.bind_abstract(&n),
        }
    }

    fn listen(&self, backlog: u32, ctx: &Ctx) -> Result<(), Errno> {
        if !self.ty.connection_based() {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.lock();
        if st.addr.is_none() {
            return Err(Errno::EINVAL);
        }
        match &mut st.conn {
            Conn::Connected => return Err(Errno::EINVAL),
            Conn::Listening { backlog: b, .. } => *b = backlog,
            c @ Conn::Unconnected => {
                *c = Conn::Listening {
                    backlog,
                    pending: VecDeque::new(),
                }
            }
        }
        // What connect copies into its client's SO_PEERCRED.
        st.peercred = Some(ctx.peer_cred());
        drop(st);
        self.ev.queue().notify_all();
        Ok(())
    }

    fn accept(&self, w: &Wait) -> Result<Arc<dyn Socket>, Errno> {
        if !self.ty.connection_based() {
            return Err(Errno::EOPNOTSUPP);
        }
        let e = w.until(&[self.ev.queue()], || {
            let mut st = self.lock();
            let shut = st.shutdown & RCV_SHUTDOWN != 0;
            let Conn::Listening { pending, .. } = &mut st.conn else {
                return Some(Err(Errno::EINVAL));
            };
            match pending.pop_front() {
                Some(e) => Some(Ok(e)),
                None if shut => Some(Err(Errno::EINVAL)),
                None => None,
            }
        })??;
        // Connectors waiting for backlog room.
        self.ev.queue().notify_all();
        e.lock().embryo = false;
        if self.passcred() {
            e.common.opts().flags |= 1 << SO_PASSCRED;
        }
        Ok(e)
    }

    fn connect(&self, raw: &[u8], ctx: &Ctx, w: &Wait) -> Result<(), Errno> {
        if self.ty.connection_based() {
            self.connect_stream(raw, ctx, w)
        } else {
            if raw.len() < addr::SUN_PATH {
                return Err(Errno::EINVAL);
            }
            self.connect_dgram(raw, ctx)
        }
    }

    fn send(&self, msg: Outgoing, ctx: &Ctx, w: &Wait) -> Result<usize, Errno> {
        match self.ty {
            SockType::Stream => self.send_stream(msg, ctx, w),
            _ => self.send_dgram(msg, ctx, w),
        }
    }

    fn recv(&self, len: usize, flags: u32, w: &Wait) -> Result<Incoming, Errno> {
        match self.ty {
            SockType::Stream => self.recv_stream(len, flags, w),
            _ => self.recv_dgram(len, flags, w),
        }
    }

    fn shutdown(&self, how: i32) -> Result<(), Errno> {
        if !(0..=2).contains(&how) {
            return Err(Errno::EINVAL);
        }
        // SHUT_RD, SHUT_WR, SHUT_RDWR are RCV_SHUTDOWN, SEND_SHUTDOWN and both.
        let mode = how as u8 + 1;
        let peer = {
            let mut st = self.lock();
            st.shutdown |= mode;
            st.peer.clone()
        };
        self.input_event();
        if let Some(p) = peer.filter(|_| self.ty.connection_based()) {
            // What we no longer send, the peer no longer receives, and vice versa.
            let mirrored = ((mode & RCV_SHUTDOWN) << 1) | ((mode & SEND_SHUTDOWN) >> 1);
            p.lock().shutdown |= mirrored;
            p.input_event();
        }
        Ok(())
    }

    fn name(&self) -> Vec<u8> {
        self.lock()
            .addr
            .as_ref()
            .map_or_else(addr::unnamed, UnixAddr::sockaddr)
    }

    fn peer_name(&self) -> Result<Vec<u8>, Errno> {
        let peer = self.lock().peer.clone().ok_or(Errno::ENOTCONN)?;
        Ok(peer.name())
    }

    fn peer_cred(&self) -> Option<Ucred> {
        self.lock().peercred
    }

    fn listening(&self) -> bool {
        matches!(self.lock().conn, Conn::Listening { .. })
    }

    fn take_error(&self) -> i32 {
        self.lock().err.take().map_or(0, |e| e as i32)
    }

    fn queued(&self) -> Result<usize, Errno> {
        let st = self.lock();
        match (&st.conn, self.ty) {
            (Conn::Listening { .. }, _) => Err(Errno::EINVAL),
            (_, SockType::Dgram) => Ok(st.queue.front().map_or(0, Msg::unread)),
            _ => Ok(st.queue.iter().map(Msg::unread).sum()),
        }
    }

    fn unsent(&self) -> usize {
        self.wmem.load(Ordering::SeqCst)
    }

    fn events(&self) -> &Events {
        &self.ev
    }

    fn poll_mask(&self) -> u32 {
        self.mask_now()
    }

    fn release(&self) {
        self.close(false);
    }

    fn save(&self, ix: &mut dyn SaveIndex) -> SavedSocket {
        SavedSocket::Unix(self.saved(ix))
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

#[cfg(test)]
mod tests;
