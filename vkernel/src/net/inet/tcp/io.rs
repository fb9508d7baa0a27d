//! Bytes on a TCP connection: a send appends to the peer's receive queue as far as
//! the connection's window lets it (the receiver's SO_RCVBUF and the sender's
//! SO_SNDBUF, what Linux's buffers hold between two endpoints on lo before a writer
//! blocks); a receive takes them in order. Readiness as tcp_poll reports it.

use std::sync::Arc;

use nix::errno::Errno;

use super::{Conn, State, TcpSocket, RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK};
use crate::fs::epoll::{
    EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLRDNORM, EPOLLWRNORM,
};
use crate::net::iface::interfaces;
use crate::net::nat::host::HostSocket;
use crate::net::{Incoming, Wait, MSG_NOSIGNAL, MSG_OOB, MSG_PEEK, MSG_TRUNC, MSG_WAITALL};

/// Who a send goes to.
enum Dest {
    /// A guest socket (None once it is gone).
    Guest(Option<Arc<TcpSocket>>),
    Host(Arc<HostSocket>),
}

/// Where a send's bytes can go now.
enum Room {
    Bytes(usize),
    /// The peer has closed: what we send meets its reset.
    Gone,
    /// We may not send any more (a pending error, or shut down for writing).
    Broken,
}

impl TcpSocket {
    /// How much may wait unread on the way from us to `peer`.
    fn window(&self, peer: &TcpSocket) -> usize {
        peer.common.opts().rcvbuf + self.common.opts().sndbuf
    }

    /// The other end, while it is there.
    pub(in crate::net::inet) fn peer_of(st: &State) -> Option<Arc<TcpSocket>> {
        match &st.conn {
            Conn::Connected { peer, .. } => peer.clone(),
            _ => None,
        }
    }

    /// What we sent to `peer` that its receive buffer does not hold (Linux keeps it
    /// in the sender's queue, unacknowledged: SIOCOUTQ, /proc/net/tcp's tx_queue).
    pub(in crate::net::inet) fn unsent_to(peer: Option<Arc<TcpSocket>>) -> usize {
        peer.map_or(0, |p| {
            let rcvbuf = p.common.opts().rcvbuf;
            p.lock().rx.len().saturating_sub(rcvbuf)
        })
    }

    /// The error of a send that may not go on (sk_stream_error): the pending error,
    /// else EPIPE; EPIPE raises SIGPIPE unless MSG_NOSIGNAL. A call that already
    /// moved data (an earlier piece of it) ends with what went instead, and leaves
    /// the error and the signal to the next call, as tcp_sendmsg does.
    pub(super) fn send_error(st: &mut State, flags: u32, w: &Wait) -> Errno {
        if w.has_moved() {
            return Errno::EPIPE;
        }
        let e = st.err.take().unwrap_or(Errno::EPIPE);
        if e == Errno::EPIPE && flags & MSG_NOSIGNAL == 0 {
            w.sigpipe();
        }
        e
    }

    /// Who a send goes to, after a connection that is still being made (waiting in
    /// a backlog, or through vke0) is made.
    fn sending_to(&self, flags: u32, w: &Wait) -> Result<Dest, Errno> {
        loop {
            {
                let mut st = self.lock();
                Self::host_progress(&mut st);
                if st.err.is_some() || st.shutdown & SEND_SHUTDOWN != 0 {
                    return Err(Self::send_error(&mut st, flags, w));
                }
                match &st.conn {
                    Conn::Connected { peer, .. } => return Ok(Dest::Guest(peer.clone())),
                    Conn::Host { link, up: true, .. } => return Ok(Dest::Host(link.clone())),
                    Conn::SynSent { .. } | Conn::Host { .. } => {}
                    _ => return Err(Self::send_error(&mut st, flags, w)),
                }
            }
            w.until(&[self.ev.queue()], || {
                let mut st = self.lock();
                Self::host_progress(&mut st);
                (!Self::connecting(&st)).then_some(())
            })?;
        }
    }

    /// A connection is still being made.
    pub(super) fn connecting(st: &State) -> bool {
        matches!(st.conn, Conn::SynSent { .. } | Conn::Host { up: false, .. })
    }

    /// Waits until the peer's queue has room (or the connection broke).
    fn wait_room(&self, peer: &TcpSocket, w: &Wait) -> Result<Room, Errno> {
        let window = self.window(peer);
        w.until(&[self.ev.queue()], || {
            {
                let st = self.lock();
                if st.err.is_some() || st.shutdown & SEND_SHUTDOWN != 0 {
                    return Some(Room::Broken);
                }
                if !matches!(st.conn, Conn::Connected { peer: Some(_), .. }) {
                    return Some(Room::Gone);
                }
            }
            let pst = peer.lock();
            if pst.released {
                return Some(Room::Gone);
            }
            let used = pst.rx.len();
            (used < window).then_some(Room::Bytes(window - used))
        })
    }

    /// send on a connected socket (tcp_sendmsg): all of `data` unless the call must
    /// not wait or is interrupted after some went.
    pub(super) fn send_stream(&self, data: &[u8], flags: u32, w: &Wait) -> Result<usize, Errno> {
        if flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let peer = match self.sending_to(flags, w)? {
            Dest::Guest(Some(peer)) => peer,
            Dest::Guest(None) => {
                self.reset_by_peer();
                return Ok(data.len());
            }
            Dest::Host(link) => return self.send_host(&link, data, flags, w),
        };
        let mut sent = 0;
        while sent < data.len() {
            let n = match self.wait_room(&peer, w) {
                Ok(Room::Bytes(n)) => n.min(data.len() - sent),
                Ok(Room::Gone) => {
                    self.reset_by_peer();
                    return Ok(data.len());
                }
                Ok(Room::Broken) | Err(_) if sent > 0 => return Ok(sent),
                Ok(Room::Broken) => return Err(Self::send_error(&mut self.lock(), flags, w)),
                Err(e) => return Err(e),
            };
            let mut pst = peer.lock();
            if pst.released {
                continue;
            }
            pst.rx.extend(&data[sent..sent + n]);
            drop(pst);
            // From here a checkpoint may not re-issue the call (the bytes are gone).
            w.moved();
            interfaces().loopback().stats.looped(n);
            peer.input_event();
            sent += n;
        }
        Ok(sent)
    }

    /// Takes (or with `peek`, copies) up to `len` bytes into `out`, a slice at a time.
    fn take(st: &mut State, out: &mut Vec<u8>, len: usize, peek: bool) {
        if peek {
            out.clear();
        }
        let n = (len - out.len()).min(st.rx.len());
        let (a, b) = st.rx.as_slices();
        let first = n.min(a.len());
        out.extend_from_slice(&a[..first]);
        out.extend_from_slice(&b[..n - first]);
        if !peek {
            st.rx.drain(..n);
        }
    }

    /// Whether a receive with `got` bytes stops here (tcp_recvmsg's checks, in its
    /// order): Some(Ok) to return what it has, Some(Err) for an error.
    fn recv_stops(st: &mut State, got: usize) -> Option<Result<(), Errno>> {
        let closed = matches!(st.conn, Conn::Closed);
        if got > 0 {
            return (st.err.is_some() || closed || st.shutdown & RCV_SHUTDOWN != 0)
                .then_some(Ok(()));
        }
        if st.fin {
            return Some(Ok(()));
        }
        if let Some(e) = st.err.take() {
            return Some(Err(e));
        }
        if st.shutdown & RCV_SHUTDOWN != 0 {
            return Some(Ok(()));
        }
        closed.then_some(Err(Errno::ENOTCONN))
    }

    /// recv on a connected socket: waits for SO_RCVLOWAT bytes (all `len` with
    /// MSG_WAITALL), end of file or an error.
    pub(super) fn recv_stream(&self, len: usize, flags: u32, w: &Wait) -> Result<Incoming, Errno> {
        if flags & MSG_OOB != 0 {
            return Err(Errno::EINVAL);
        }
        if matches!(self.lock().conn, Conn::Listening { .. }) {
            return Err(Errno::ENOTCONN);
        }
        if len == 0 {
            return Ok(Incoming::default());
        }
        let peek = flags & MSG_PEEK != 0;
        let lowat = self.common.opts().rcvlowat;
        let target = match flags & MSG_WAITALL {
            0 => lowat.min(len),
            _ => len,
        };
        let mut data = Vec::new();
        loop {
            {
                let mut st = self.lock();
                self.host_pull(&mut st);
                Self::take(&mut st, &mut data, len, peek);
                if data.len() >= target.max(1) {
                    break;
                }
                match Self::recv_stops(&mut st, data.len()) {
                    Some(Ok(())) => break,
                    Some(Err(e)) => return Err(e),
                    None => {}
                }
            }
            let seen = if peek { data.len() } else { 0 };
            if !peek && !data.is_empty() {
                w.moved();
            }
            let more = w.until(&[self.ev.queue()], || {
                let mut st = self.lock();
                self.host_pull(&mut st);
                let news = st.rx.len() > seen || st.err.is_some() || st.fin;
                let end = st.shutdown & RCV_SHUTDOWN != 0 || matches!(st.conn, Conn::Closed);
                (news || end).then_some(())
            });
            match more {
                Ok(()) => {}
                Err(e) if data.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        if !peek && !data.is_empty() {
            self.room_freed();
        }
        let n = data.len();
        // MSG_TRUNC on a stream throws the bytes away (tcp_recvmsg does not copy them).
        if flags & MSG_TRUNC != 0 {
            data.clear();
        }
        Ok(Incoming {
            data,
            len: n,
            ..Default::default()
        })
    }

    /// We read: the peer may write more.
    fn room_freed(&self) {
        let peer = Self::peer_of(&self.lock());
        if let Some(p) = peer {
            p.output_event();
        }
    }

    /// tcp_poll.
    pub(super) fn mask_now(&self) -> u32 {
        let (mut mask, peer, writable) = {
            let mut st = self.lock();
            self.pull_published(&mut st);
            self.host_pull(&mut st);
            if let Conn::Listening { queue, .. } = &st.conn {
                return if queue.is_empty() {
                    0
                } else {
                    EPOLLIN | EPOLLRDNORM
                };
            }
            let mut m = 0;
            if st.shutdown == SHUTDOWN_MASK || matches!(st.conn, Conn::Closed) {
                m |= EPOLLHUP;
            }
            if st.shutdown & RCV_SHUTDOWN != 0 {
                m |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
            }
            if st.err.is_some() {
                m |= EPOLLERR;
            }
            let syn = Self::connecting(&st);
            if !syn && st.rx.len() >= self.common.opts().rcvlowat.max(1) {
                m |= EPOLLIN | EPOLLRDNORM;
            }
            let peer = match &st.conn {
                Conn::Connected { peer, .. } if st.shutdown & SEND_SHUTDOWN == 0 => peer.clone(),
                _ => None,
            };
            (m, peer, !syn && Self::host_writable(&st))
        };
        // Writable while at most two thirds of the window are in use
        // (sk_stream_is_writeable).
        let room = peer.is_none_or(|p| p.lock().rx.len() * 3 <= self.window(&p) * 2);
        if writable && room {
            mask |= EPOLLOUT | EPOLLWRNORM;
        }
        mask
    }
}
