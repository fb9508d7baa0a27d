//! Data on AF_UNIX sockets: a stream's bytes and a datagram's or seqpacket's
//! messages, with SCM_RIGHTS and SCM_CREDENTIALS riding along.
//!
//! Both kinds queue messages at the receiver (a stream's writes in chunks, as Linux's
//! skbs). Flow control is the sender's: every queued message charges the sender's send
//! buffer until it is read (Linux's sk_wmem_alloc); a datagram receiver that is not
//! connected back to its sender also takes at most `MAX_DGRAM_QLEN` + 1 messages.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use nix::errno::Errno;

use super::{gc, names, Conn, State, UnixSocket, RCV_SHUTDOWN, SEND_SHUTDOWN};
use crate::fs::file::OpenFile;
use crate::net::addr::UnixAddr;
use crate::net::{
    Ctx, Incoming, Outgoing, SockType, Ucred, Wait, MSG_NOSIGNAL, MSG_OOB, MSG_PEEK, MSG_WAITALL,
};

/// What Linux charges a send buffer for an skb beyond its data (sk_buff and
/// skb_shared_info), so that even empty messages fill a buffer.
const MSG_OVERHEAD: usize = 576;
/// A stream's writes are queued in messages of at most this much (Linux's skbs hold
/// up to half the send buffer, and at most 32 KiB of pages).
const STREAM_CHUNK: usize = 32768;
/// net.unix.max_dgram_qlen.
const MAX_DGRAM_QLEN: usize = 10;

/// One queued message (an skb).
pub(super) struct Msg {
    pub(super) data: Vec<u8>,
    /// Stream: how much of `data` has been read.
    pub(super) read: usize,
    pub(super) from: Arc<UnixSocket>,
    pub(super) rights: Vec<Arc<OpenFile>>,
    /// None: the sender attached none and nobody asked for them.
    pub(super) creds: Option<Ucred>,
    /// What the sender's send buffer was charged for it.
    pub(super) charge: usize,
}

impl Msg {
    pub(super) fn unread(&self) -> usize {
        self.data.len() - self.read
    }
}

thread_local! {
    /// Messages a release on this thread is letting go of (see `discard`).
    static DISCARDING: RefCell<Option<Vec<Msg>>> = const { RefCell::new(None) };
}

/// Drops messages nobody will read: their senders get their send buffer back, and
/// the files in flight are let go (outside any socket lock). A file in flight may be
/// the last hold on a socket whose queue holds more files, and so on: the outermost
/// call lets go of them one batch at a time, so a long chain of sockets sent over
/// sockets cannot run the kernel out of stack.
pub(super) fn discard(msgs: VecDeque<Msg>) {
    for m in &msgs {
        m.from.uncharge(m.charge);
        gc::left(&m.rights);
    }
    let outermost = DISCARDING.with(|d| {
        let mut d = d.borrow_mut();
        match d.as_mut() {
            Some(later) => {
                later.extend(msgs);
                false
            }
            None => {
                *d = Some(Vec::from(msgs));
                true
            }
        }
    });
    if !outermost {
        return;
    }
    loop {
        let batch = DISCARDING.with(|d| d.borrow_mut().as_mut().map(std::mem::take));
        match batch {
            Some(b) if !b.is_empty() => drop(b),
            _ => break,
        }
    }
    DISCARDING.with(|d| *d.borrow_mut() = None);
}

impl UnixSocket {
    /// A message of ours was read or dropped: its charge leaves our send buffer.
    fn uncharge(&self, charge: usize) {
        self.wmem.fetch_sub(charge, Ordering::SeqCst);
        self.ev.output();
    }

    /// Waits until our send buffer has room (Linux's sock_alloc_send_pskb): a pending
    /// error first, EPIPE once we may not send.
    fn wait_for_room(&self, w: &Wait) -> Result<(), Errno> {
        let sndbuf = self.common.opts().sndbuf;
        w.until(&[self.ev.queue()], || {
            let mut st = self.lock();
            if let Some(e) = st.err.take() {
                return Some(Err(e));
            }
            if st.shutdown & SEND_SHUTDOWN != 0 {
                return Some(Err(Errno::EPIPE));
            }
            (self.wmem.load(Ordering::SeqCst) < sndbuf).then_some(Ok(()))
        })?
    }

    /// The credentials a message to `to` carries: the ones the sender attached, else
    /// its own if either side has SO_PASSCRED or the receiver is not accepted yet
    /// (Linux's maybe_add_creds).
    fn creds_for(
        &self,
        attached: Option<Ucred>,
        to: &State,
        to_sock: &UnixSocket,
        ctx: &Ctx,
    ) -> Option<Ucred> {
        let wanted = self.passcred() || to_sock.passcred() || to.embryo;
        attached.or_else(|| wanted.then(|| ctx.scm_cred()))
    }

    /// Queues `m` at this socket, charging its sender.
    fn enqueue(&self, st: &mut MutexGuard<'_, State>, m: Msg) {
        m.from.wmem.fetch_add(m.charge, Ordering::SeqCst);
        gc::entered(&m.rights);
        st.queue.push_back(m);
    }

    /// Refused to write: SIGPIPE unless MSG_NOSIGNAL or the call already sent some,
    /// and EPIPE.
    fn broken_pipe(flags: u32, w: &Wait) -> Errno {
        if flags & MSG_NOSIGNAL == 0 && !w.has_moved() {
            w.sigpipe();
        }
        Errno::EPIPE
    }

    /// send on a stream socket (unix_stream_sendmsg): the data goes in chunks as the
    /// send buffer allows; SCM_RIGHTS ride with the first.
    pub(super) fn send_stream(&self, msg: Outgoing, ctx: &Ctx, w: &Wait) -> Result<usize, Errno> {
        if msg.flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let (peer, shutdown) = {
            let st = self.lock();
            if msg.to.is_some() {
                let connected = matches!(st.conn, Conn::Connected);
                return Err(if connected {
                    Errno::EISCONN
                } else {
                    Errno::EOPNOTSUPP
                });
            }
            (st.peer.clone(), st.shutdown)
        };
        let peer = peer.ok_or(Errno::ENOTCONN)?;
        if shutdown & SEND_SHUTDOWN != 0 {
            return Err(Self::broken_pipe(msg.flags, w));
        }
        let me = self.me()?;
        let mut rights = Some(msg.rights);
        let mut sent = 0;
        while sent < msg.data.len() {
            if let Err(e) = self.wait_for_room(w) {
                return if sent > 0 { Ok(sent) } else { Err(e) };
            }
            let sndbuf = self.common.opts().sndbuf;
            let n = (msg.data.len() - sent)
                .min(STREAM_CHUNK)
                .min(sndbuf / 2 - 64);
            let mut pst = peer.lock();
            if peer.is_closed() || pst.shutdown & RCV_SHUTDOWN != 0 {
                drop(pst);
                drop(rights);
                return match sent {
                    0 => Err(Self::broken_pipe(msg.flags, w)),
                    _ => Ok(sent),
                };
            }
            let m = Msg {
                data: msg.data[sent..sent + n].to_vec(),
                read: 0,
                from: me.clone(),
                rights: rights.take().unwrap_or_default(),
                creds: self.creds_for(msg.creds, &pst, &peer, ctx),
                charge: n + MSG_OVERHEAD,
            };
            peer.enqueue(&mut pst, m);
            drop(pst);
            peer.input_event();
            w.moved();
            sent += n;
        }
        Ok(sent)
    }

    /// recv on a stream socket (unix_stream_read_generic): bytes across messages, up to
    /// `len`; waits until there is some (with MSG_WAITALL: all of it, else
    /// SO_RCVLOWAT), end of file or an error.
    pub(super) fn recv_stream(&self, len: usize, flags: u32, w: &Wait) -> Result<Incoming, Errno> {
        if !matches!(self.lock().conn, Conn::Connected) {
            return Err(Errno::EINVAL);
        }
        if flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let lowat = self.common.opts().rcvlowat;
        let wanted = if flags & MSG_WAITALL != 0 {
            len
        } else {
            lowat.min(len)
        };
        let target = wanted.max(1);
        let mut got = StreamRead::new(self.passcred(), flags);
        loop {
            // A peek that waited looks at everything again.
            if flags & MSG_PEEK != 0 {
                got = StreamRead::new(got.passcred, flags);
            }
            if self.read_pass(&mut got, len, w)
                || got.inc.data.len() >= target
                || self.at_end(&got)?
            {
                break;
            }
            if let Err(e) = self.wait_for_data(w, &got) {
                if got.inc.data.is_empty() {
                    return Err(e);
                }
                break;
            }
        }
        Ok(got.finish())
    }

    /// Reads what the queue has into `got`; true when the read must end there.
    fn read_pass(&self, got: &mut StreamRead, len: usize, w: &Wait) -> bool {
        let (stopped, done) = {
            let mut st = self.lock();
            let stopped = got.take(&mut st, len);
            (stopped, std::mem::take(&mut got.done))
        };
        if !got.inc.data.is_empty() && got.flags & MSG_PEEK == 0 {
            w.moved();
        }
        discard(done);
        stopped
    }

    /// With the queue empty: whether the read ends (end of file, or a pending error
    /// after some data, which the error does not replace), or its error.
    fn at_end(&self, got: &StreamRead) -> Result<bool, Errno> {
        let mut st = self.lock();
        match st.err.take() {
            Some(e) if got.inc.data.is_empty() => Err(e),
            Some(_) => Ok(true),
            None => Ok(st.shutdown & RCV_SHUTDOWN != 0),
        }
    }

    /// Waits for more to read (or an error, or end of file). With MSG_PEEK the
    /// messages looked at stay queued: it waits for another.
    fn wait_for_data(&self, w: &Wait, got: &StreamRead) -> Result<(), Errno> {
        let seen = if got.flags & MSG_PEEK != 0 {
            got.peeked
        } else {
            0
        };
        w.until(&[self.ev.queue()], || {
            let st = self.lock();
            let any = st.queue.len() > seen;
            (any || st.err.is_some() || st.shutdown & RCV_SHUTDOWN != 0).then_some(())
        })
    }

    /// send on a datagram or seqpacket socket (unix_dgram_sendmsg): one message, to
    /// the address given or the peer.
    pub(super) fn send_dgram(&self, msg: Outgoing, ctx: &Ctx, w: &Wait) -> Result<usize, Errno> {
        if msg.flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let seqpacket = self.ty == SockType::SeqPacket;
        let (to, peer) = self.destination(msg.to)?;
        if self.passcred() {
            self.autobind()?;
        }
        if msg.data.len() > self.common.opts().sndbuf.saturating_sub(32) {
            return Err(Errno::EMSGSIZE);
        }
        self.wait_for_room(w)?;
        let me = self.me()?;
        let mut pending = Some(msg);
        loop {
            let other = match &to {
                Some(a) => names::find(a, self.ty, ctx)?,
                None => peer.clone().ok_or(Errno::ENOTCONN)?,
            };
            match self.deliver(&me, &other, &mut pending, ctx) {
                Delivery::Sent(n) => return Ok(n),
                Delivery::Failed(e) => return Err(e),
                Delivery::Dead if seqpacket => return Err(Errno::EPIPE),
                Delivery::Dead if to.is_none() => {
                    // Our peer is gone: we are disconnected, and told once.
                    self.set_dgram_peer(None);
                    return Err(Errno::ECONNREFUSED);
                }
                Delivery::Dead => {}
                Delivery::Full => {
                    w.until(&[other.ev.queue(), self.ev.queue()], || {
                        (!other.full_for(&me, false)).then_some(())
                    })?;
                }
            }
        }
    }

    /// Where a datagram goes: the address given (a seqpacket socket ignores it) or
    /// the peer; ENOTCONN with neither, and for a seqpacket socket not connected (a
    /// pending error comes first there).
    fn destination(&self, to: Option<&[u8]>) -> Result<Destination, Errno> {
        let seqpacket = self.ty == SockType::SeqPacket;
        let to = match to.filter(|_| !seqpacket) {
            Some(raw) => Some(UnixAddr::parse(raw)?),
            None => None,
        };
        let mut st = self.lock();
        if seqpacket {
            if let Some(e) = st.err.take() {
                return Err(e);
            }
            if !matches!(st.conn, Conn::Connected) {
                return Err(Errno::ENOTCONN);
            }
        }
        if to.is_none() && st.peer.is_none() {
            return Err(Errno::ENOTCONN);
        }
        Ok((to, st.peer.clone()))
    }

    /// One attempt to queue the datagram at `other`.
    fn deliver(
        &self,
        me: &Arc<UnixSocket>,
        other: &Arc<UnixSocket>,
        pending: &mut Option<Outgoing>,
        ctx: &Ctx,
    ) -> Delivery {
        let mut ost = other.lock();
        if ost.peer.as_ref().is_some_and(|p| !Arc::ptr_eq(p, me)) {
            return Delivery::Failed(Errno::EPERM);
        }
        if other.is_closed() {
            return Delivery::Dead;
        }
        if ost.shutdown & RCV_SHUTDOWN != 0 {
            return Delivery::Failed(Errno::EPIPE);
        }
        if other.queue_full(&ost, me) {
            remember_blocked(&mut ost, me);
            return Delivery::Full;
        }
        let Some(msg) = pending.take() else {
            return Delivery::Failed(Errno::EINVAL);
        };
        let n = msg.data.len();
        let m = Msg {
            data: msg.data.to_vec(),
            read: 0,
            from: me.clone(),
            creds: self.creds_for(msg.creds, &ost, other, ctx),
            rights: msg.rights,
            charge: n + MSG_OVERHEAD,
        };
        other.enqueue(&mut ost, m);
        drop(ost);
        other.input_event();
        Delivery::Sent(n)
    }

    /// Linux's unix_recvq_full test as a datagram send applies it: only a receiver
    /// that is not us and not connected back to us limits its queue.
    fn queue_full(&self, st: &State, sender: &Arc<UnixSocket>) -> bool {
        let ours = std::ptr::eq(self, &**sender)
            || st.peer.as_ref().is_some_and(|p| Arc::ptr_eq(p, sender));
        !ours && st.queue.len() > MAX_DGRAM_QLEN
    }

    /// Whether `sender` would find our queue full (a closed socket is not full: the
    /// send must go on to learn it is gone). `register`: remember the sender, to tell
    /// it when there is room (for poll).
    pub(super) fn full_for(&self, sender: &Arc<UnixSocket>, register: bool) -> bool {
        let mut st = self.lock();
        let full =
            !self.is_closed() && st.shutdown & RCV_SHUTDOWN == 0 && self.queue_full(&st, sender);
        if full && register {
            remember_blocked(&mut st, sender);
        }
        full
    }

    /// recv on a datagram or seqpacket socket (unix_dgram_recvmsg): one message,
    /// truncated to `len` (MSG_TRUNC in the flags, and with MSG_TRUNC asked for, its
    /// full length as the result).
    pub(super) fn recv_dgram(&self, len: usize, flags: u32, w: &Wait) -> Result<Incoming, Errno> {
        let seqpacket = self.ty == SockType::SeqPacket;
        if seqpacket && !matches!(self.lock().conn, Conn::Connected) {
            return Err(Errno::ENOTCONN);
        }
        if flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        // A non-blocking datagram read of an empty, shut-down socket is EAGAIN; a
        // seqpacket one, or any blocking one, is end of file.
        let eof_now = seqpacket || !w.nonblocking();
        let taken = w.until(&[self.ev.queue()], || {
            let mut st = self.lock();
            if !st.queue.is_empty() {
                return Some(Ok(take_message(&mut st, flags)));
            }
            if let Some(e) = st.err.take() {
                return Some(Err(e));
            }
            (eof_now && st.shutdown & RCV_SHUTDOWN != 0).then_some(Ok(None))
        })??;
        let Some(m) = taken else {
            return Ok(Incoming::default());
        };
        if flags & MSG_PEEK == 0 {
            m.from.uncharge(m.charge);
            self.wake_blocked();
            self.ev.queue().notify_all();
        }
        let inc = Incoming {
            from: m.from.bound_name(),
            creds: Some(m.creds.unwrap_or(Ucred::NOBODY)),
            rights: m.rights,
            data: m.data,
            ..Default::default()
        };
        Ok(inc.datagram(len, flags))
    }

    /// The sender address a receiver sees: ours if we have a name (an accepted
    /// socket's is its listener's), else none (recvfrom says length 0).
    pub(super) fn bound_name(&self) -> Option<Vec<u8>> {
        self.lock().addr.as_ref().map(UnixAddr::sockaddr)
    }
}

/// A sender to tell when the queue drains (once, however often it looks).
fn remember_blocked(st: &mut State, sender: &Arc<UnixSocket>) {
    let me = Arc::downgrade(sender);
    if !st.blocked.iter().any(|w| w.ptr_eq(&me)) {
        st.blocked.push(me);
    }
}

/// The front message, taken, or copied with MSG_PEEK (its files then in flight
/// twice, as Linux's scm_fp_dup).
fn take_message(st: &mut State, flags: u32) -> Option<Msg> {
    if flags & MSG_PEEK == 0 {
        let m = st.queue.pop_front();
        if let Some(m) = &m {
            gc::left(&m.rights);
        }
        return m;
    }
    st.queue.front().map(|m| Msg {
        data: m.data.clone(),
        read: 0,
        from: m.from.clone(),
        rights: m.rights.clone(),
        creds: m.creds,
        charge: m.charge,
    })
}

/// A datagram's address, if it has one, and the sender's peer.
type Destination = (Option<UnixAddr>, Option<Arc<UnixSocket>>);

/// One attempt of a datagram send.
enum Delivery {
    Sent(usize),
    Failed(Errno),
    /// The receiver is closed.
    Dead,
    /// The receiver's queue is full: wait and try again.
    Full,
}

/// A stream read in progress: what it has, and the messages it finished.
struct StreamRead {
    inc: Incoming,
    passcred: bool,
    flags: u32,
    /// With SO_PASSCRED: the credentials of the first message read; a message from
    /// another writer ends the read (Linux never glues them).
    creds: Option<Option<Ucred>>,
    sender: Option<Arc<UnixSocket>>,
    /// Messages read to the end, to let go of outside the lock.
    done: VecDeque<Msg>,
    /// With MSG_PEEK: how many messages were looked at.
    peeked: usize,
}

impl StreamRead {
    fn new(passcred: bool, flags: u32) -> StreamRead {
        StreamRead {
            inc: Incoming::default(),
            passcred,
            flags,
            creds: None,
            sender: None,
            done: VecDeque::new(),
            peeked: 0,
        }
    }

    /// Reads from the queue up to `len` bytes in all. True when the read must end
    /// here (files received, another writer's message next, `len` reached); false
    /// when the queue ran out first.
    fn take(&mut self, st: &mut State, len: usize) -> bool {
        let peek = self.flags & MSG_PEEK != 0;
        loop {
            let at = if peek { self.peeked } else { 0 };
            let Some(m) = st.queue.get_mut(at) else {
                return false;
            };
            if self.passcred {
                match self.creds {
                    Some(c) if c != m.creds => return true,
                    Some(_) => {}
                    None => self.creds = Some(m.creds),
                }
            }
            self.sender.get_or_insert_with(|| m.from.clone());
            let n = m.unread().min(len - self.inc.data.len());
            self.inc.data.extend_from_slice(&m.data[m.read..m.read + n]);
            let with_files = !m.rights.is_empty();
            if peek {
                self.inc.rights.extend(m.rights.iter().cloned());
                self.peeked += 1;
            } else {
                m.read += n;
                gc::left(&m.rights);
                self.inc.rights.append(&mut m.rights);
                if m.unread() > 0 {
                    return true;
                }
                self.done.extend(st.queue.pop_front());
            }
            if with_files || self.inc.data.len() >= len {
                return true;
            }
        }
    }

    fn finish(self) -> Incoming {
        let mut inc = self.inc;
        inc.len = inc.data.len();
        inc.from = self.sender.and_then(|s| s.bound_name());
        // A read that got nothing reports all-zero credentials, as Linux's blank
        // scm_cookie.
        let none = Ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        inc.creds = self
            .creds
            .map(|c| c.unwrap_or(Ucred::NOBODY))
            .or(Some(none));
        inc
    }
}
