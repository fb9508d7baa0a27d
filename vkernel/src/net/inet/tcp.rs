//! TCP over lo: a connection is two sockets pointing at each other, each with the
//! bytes the other sent queued for it (io.rs moves them; connect.rs makes them). No
//! segments are made; what the guest can see of TCP is kept:
//!
//! - connect finds the listener bound where it goes (else ECONNREFUSED) and, if the
//!   backlog has room (Linux lets one more than the backlog wait), makes the
//!   server's end at once and queues it for accept, so the client may write before
//!   the accept. A full backlog makes the connection wait, as Linux's dropped SYN
//!   does, until an accept makes room (Linux's retried SYN comes a second later;
//!   here at once).
//! - A non-blocking connect says EINPROGRESS even though it is done, as Linux does on
//!   lo; connect again says 0 once, then EISCONN (Linux's SS_CONNECTING).
//! - shutdown(SHUT_WR) and a close without unread data are a FIN: the peer reads to
//!   EOF. A close with unread data (or SO_LINGER 0) is a reset: the peer reads what
//!   it had, then ECONNRESET. A write to a peer that has closed goes nowhere and the
//!   peer's reset comes back: the next call sees EPIPE (after a FIN) or ECONNRESET.
//! - Listeners closed, or shut down for reading, reset their unaccepted connections
//!   and refuse the waiting ones.

mod connect;
mod host;
mod io;

pub use host::published_ready;

use crate::net::Events;
use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::errno::Errno;

use super::addr::{is_local, route, source_for, Endpoint, Family};
use super::opts::{InetOpts, Proto, IPV6_V6ONLY, MSS_DEFAULT, SOL_IPV6, SOL_TCP, TCP_MAXSEG};
use super::{bind_to, Binding, Hold, Ports, RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK};
use crate::net::addr::family;
use crate::net::nat::host::HostSocket;
use crate::net::{
    Common, Ctx, Incoming, Outgoing, SaveIndex, SavedSocket, SockType, Socket, Ucred, Wait,
    AF_UNSPEC,
};

/// TCP's port table.
pub(super) static PORTS: Ports<TcpSocket> = Ports::new();

/// A new TCP socket's buffers (net.ipv4.tcp_wmem and tcp_rmem, their defaults).
const SNDBUF: usize = 16384;
const RCVBUF: usize = 131072;
/// TCP_MAXSEG of a connection over lo: its MTU (65536) less the IP and TCP headers
/// and the timestamp option.
const LO_MSS_V4: i32 = 65536 - 20 - 20 - 12;
const LO_MSS_V6: i32 = 65536 - 40 - 20 - 12;

pub struct TcpSocket {
    pub(super) fam: Family,
    me: Weak<TcpSocket>,
    pub(super) common: Common,
    st: Mutex<State>,
    ev: Events,
}

pub(super) struct State {
    pub bound: Binding,
    pub opts: InetOpts,
    pub conn: Conn,
    /// Linux's socket state (SS_*), which connect answers by, beside the TCP state.
    pub sock: SockState,
    /// What the peer sent that is not read yet.
    pub rx: VecDeque<u8>,
    pub shutdown: u8,
    /// The pending error SO_ERROR and the next call report once.
    pub err: Option<Errno>,
    /// The peer's FIN came (Linux's SOCK_DONE): reads end in EOF, a reset now is EPIPE.
    pub fin: bool,
    /// Its last open file is gone.
    pub released: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SockState {
    Unconnected,
    /// A connect said EINPROGRESS (or was interrupted) and was not called again.
    Connecting,
    Connected,
}

pub(super) enum Conn {
    /// TCP_CLOSE: new, bound, refused, reset or disconnected.
    Closed,
    Listening {
        backlog: u32,
        /// Connections made and not accepted yet, oldest first.
        queue: VecDeque<Arc<TcpSocket>>,
        /// Connectors waiting for room in `queue` (their SYN "dropped").
        syn: VecDeque<Weak<TcpSocket>>,
    },
    /// TCP_SYN_SENT: waiting in a full listener's `syn` to be let in.
    SynSent { to: Endpoint },
    /// Established, and the states after a FIN: `peer` until it is gone.
    Connected {
        peer: Option<Arc<TcpSocket>>,
        addr: Endpoint,
    },
    /// To or from an address off the guest, through vke0 (host.rs): `link` carries
    /// the bytes; connecting until `up`. `addr` is the peer as the guest sees it.
    Host {
        link: Arc<HostSocket>,
        addr: Endpoint,
        up: bool,
    },
}

impl std::fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TcpSocket({:?})", self.fam)
    }
}

impl TcpSocket {
    /// socket(AF_INET or AF_INET6, SOCK_STREAM, 0).
    pub fn create(fam: Family) -> Arc<TcpSocket> {
        let s = Self::bare(fam);
        let mut o = s.common.opts();
        o.sndbuf = SNDBUF;
        o.rcvbuf = RCVBUF;
        drop(o);
        s
    }

    /// A socket with nothing in it (restore fills it in).
    pub fn bare(fam: Family) -> Arc<TcpSocket> {
        let st = State {
            bound: Binding::unbound(fam),
            opts: InetOpts::default(),
            conn: Conn::Closed,
            sock: SockState::Unconnected,
            rx: VecDeque::new(),
            shutdown: 0,
            err: None,
            fin: false,
            released: false,
        };
        Arc::new_cyclic(|me| TcpSocket {
            fam,
            me: me.clone(),
            common: Common::default(),
            st: Mutex::new(st),
            ev: Events::default(),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This socket as an `Arc` (for the peer and the backlog that point at it).
    fn me(&self) -> Result<Arc<TcpSocket>, Errno> {
        self.me.upgrade().ok_or(Errno::EBADF)
    }

    pub(super) fn weak(&self) -> Weak<TcpSocket> {
        self.me.clone()
    }

    /// Data, a connection, a FIN or a reset arrived.
    fn input_event(&self) {
        self.ev.input();
    }

    /// Room to write (or a connection) appeared.
    fn output_event(&self) {
        self.ev.output();
    }

    fn v6only(&self, st: &State) -> bool {
        self.fam == Family::V6 && st.opts.int(SOL_IPV6, IPV6_V6ONLY) != 0
    }

    pub(super) fn hold(&self, st: &State) -> Hold<TcpSocket> {
        Hold {
            v6only: self.v6only(st),
            share: super::share(&self.common.opts(), st.bound.uid),
            owner: self.me.clone(),
        }
    }

    /// The peer reset the connection (Linux's tcp_reset): EPIPE if its FIN came
    /// before, else ECONNRESET; what was received stays readable.
    pub(super) fn reset_by_peer(&self) {
        let mut st = self.lock();
        if st.released {
            return;
        }
        st.err = Some(if st.fin {
            Errno::EPIPE
        } else {
            Errno::ECONNRESET
        });
        st.conn = Conn::Closed;
        st.shutdown = SHUTDOWN_MASK;
        drop(st);
        self.input_event();
        self.output_event();
    }

    /// The peer's FIN: no more data comes. `gone`: the peer closed, so what we send
    /// now meets a reset.
    pub(super) fn fin_by_peer(&self, gone: bool) {
        let mut st = self.lock();
        st.fin = true;
        st.shutdown |= RCV_SHUTDOWN;
        if let Conn::Connected { peer, .. } = &mut st.conn {
            if gone {
                *peer = None;
            }
        }
        drop(st);
        self.input_event();
    }

    /// Back to a fresh socket after a failed connect or a disconnect (Linux's
    /// tcp_disconnect): what the kernel bound goes back.
    fn disconnect_local(&self) {
        let mut st = self.lock();
        st.conn = Conn::Closed;
        st.sock = SockState::Unconnected;
        st.shutdown = 0;
        st.fin = false;
        st.rx.clear();
        PORTS.release_unlocked(&mut st.bound, self.fam);
    }

    /// connect(AF_UNSPEC): drops the connection (a reset for the peer) or stops
    /// listening.
    fn disconnect(&self) -> Result<(), Errno> {
        let conn = std::mem::replace(&mut self.lock().conn, Conn::Closed);
        match conn {
            Conn::Listening { queue, syn, .. } => self.stop_listening(queue, syn),
            Conn::Connected { peer: Some(p), .. } => {
                p.reset_by_peer();
                self.lock().err = Some(Errno::ECONNRESET);
            }
            Conn::Host { link, .. } => {
                link.abort_on_close();
                self.lock().err = Some(Errno::ECONNRESET);
            }
            _ => {}
        }
        self.disconnect_local();
        self.input_event();
        Ok(())
    }

    /// A listener stops: its unaccepted connections are reset, its waiting ones
    /// refused.
    fn stop_listening(&self, queue: VecDeque<Arc<TcpSocket>>, syn: VecDeque<Weak<TcpSocket>>) {
        let b = self.lock().bound;
        PORTS.lock().unlisten(b.port, b.id);
        for e in queue {
            e.close(true);
        }
        for c in syn.iter().filter_map(Weak::upgrade) {
            if matches!(c.lock().conn, Conn::SynSent { .. }) {
                c.refuse();
            }
        }
    }

    /// The end of a socket: its last open file went away (or, `abort`, it was never
    /// accepted and its listener went). The peer gets a FIN, or a reset if we leave
    /// unread data (or SO_LINGER is 0, or we abort).
    fn close(&self, abort: bool) {
        let (conn, bound, unread) = {
            let mut st = self.lock();
            if st.released {
                return;
            }
            st.released = true;
            st.shutdown = SHUTDOWN_MASK;
            let unread = !std::mem::take(&mut st.rx).is_empty();
            (
                std::mem::replace(&mut st.conn, Conn::Closed),
                st.bound,
                unread,
            )
        };
        PORTS.unbind(&bound);
        let linger0 = self.common.opts().linger == (1, 0);
        match conn {
            Conn::Listening { queue, syn, .. } => self.stop_listening(queue, syn),
            Conn::Connected { peer: Some(p), .. } if unread || linger0 || abort => {
                p.reset_by_peer()
            }
            Conn::Connected { peer: Some(p), .. } => p.fin_by_peer(true),
            Conn::Host { link, .. } if unread || linger0 || abort => link.abort_on_close(),
            _ => {}
        }
        self.input_event();
    }

    fn listen_on(&self, st: &mut State, backlog: u32) -> Result<(), Errno> {
        if st.bound.port == 0 {
            let hold = self.hold(st);
            let any = self.fam.any();
            PORTS.bind(&mut st.bound, any, 0, hold)?;
        }
        PORTS.lock().listen(st.bound.port, st.bound.id)?;
        st.conn = Conn::Listening {
            backlog,
            queue: VecDeque::new(),
            syn: VecDeque::new(),
        };
        Ok(())
    }
}

impl Socket for TcpSocket {
    fn family(&self) -> i32 {
        self.fam.number()
    }

    fn sock_type(&self) -> SockType {
        SockType::Stream
    }

    fn protocol(&self) -> i32 {
        super::IPPROTO_TCP
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn bind(&self, raw: &[u8], ctx: &Ctx) -> Result<(), Errno> {
        let mut st = self.lock();
        let ep = self.fam.parse_bind(raw, self.v6only(&st))?;
        if !matches!(st.conn, Conn::Closed) {
            return Err(Errno::EINVAL);
        }
        let hold = self.hold(&st);
        bind_to(&PORTS, &mut st.bound, ep, ctx.cred.euid, hold)
    }

    fn listen(&self, backlog: u32, _ctx: &Ctx) -> Result<(), Errno> {
        let mut st = self.lock();
        let connecting = st.sock == SockState::Connecting;
        match &mut st.conn {
            Conn::Listening { backlog: b, .. } => *b = backlog,
            Conn::Closed if !connecting => self.listen_on(&mut st, backlog)?,
            _ => return Err(Errno::EINVAL),
        }
        drop(st);
        self.ev.queue().notify_all();
        Ok(())
    }

    fn accept(&self, w: &Wait) -> Result<Arc<dyn Socket>, Errno> {
        let e = w.until(&[self.ev.queue()], || {
            let mut st = self.lock();
            self.pull_published(&mut st);
            match &mut st.conn {
                Conn::Listening { queue, .. } => queue.pop_front().map(Ok),
                _ => Some(Err(Errno::EINVAL)),
            }
        })??;
        self.admit_waiting();
        Ok(e)
    }

    fn connect(&self, raw: &[u8], _ctx: &Ctx, w: &Wait) -> Result<(), Errno> {
        if family(raw)? == AF_UNSPEC {
            return self.disconnect();
        }
        if let Some(r) = self.connect_again(w) {
            return r;
        }
        let to = self.fam.parse_connect(raw)?;
        let v6only = self.v6only(&self.lock());
        let to = route(self.fam, v6only, to)?;
        if is_local(&to.ip) {
            self.connect_to(to, w)
        } else {
            self.connect_host(to, w)
        }
    }

    fn send(&self, msg: Outgoing, _ctx: &Ctx, w: &Wait) -> Result<usize, Errno> {
        self.send_stream(msg.data, msg.flags, w)
    }

    fn recv(&self, len: usize, flags: u32, w: &Wait) -> Result<Incoming, Errno> {
        self.recv_stream(len, flags, w)
    }

    fn shutdown(&self, how: i32) -> Result<(), Errno> {
        if !(0..=2).contains(&how) {
            return Err(Errno::EINVAL);
        }
        // SHUT_RD, SHUT_WR, SHUT_RDWR are RCV_SHUTDOWN, SEND_SHUTDOWN and both.
        let mode = how as u8 + 1;
        let mut st = self.lock();
        match &st.conn {
            Conn::Closed => {
                st.shutdown |= mode;
                drop(st);
                self.input_event();
                Err(Errno::ENOTCONN)
            }
            Conn::Listening { .. } if mode & RCV_SHUTDOWN == 0 => Ok(()),
            Conn::Listening { .. } | Conn::SynSent { .. } => {
                drop(st);
                self.disconnect()
            }
            Conn::Host { link, .. } => {
                Self::host_shutdown(link, mode);
                st.shutdown |= mode;
                drop(st);
                self.input_event();
                Ok(())
            }
            Conn::Connected { peer, .. } => {
                let peer = peer.clone().filter(|_| mode & SEND_SHUTDOWN != 0);
                st.shutdown |= mode;
                drop(st);
                if let Some(p) = peer {
                    p.fin_by_peer(false);
                }
                self.input_event();
                Ok(())
            }
        }
    }

    fn name(&self) -> Vec<u8> {
        let b = self.lock().bound;
        self.fam.sockaddr(b.endpoint())
    }

    fn peer_name(&self) -> Result<Vec<u8>, Errno> {
        match self.lock().conn {
            Conn::Connected { addr, .. } | Conn::Host { addr, up: true, .. } => {
                Ok(self.fam.sockaddr(addr))
            }
            _ => Err(Errno::ENOTCONN),
        }
    }

    fn peer_cred(&self) -> Option<Ucred> {
        None
    }

    fn listening(&self) -> bool {
        matches!(self.lock().conn, Conn::Listening { .. })
    }

    fn take_error(&self) -> i32 {
        self.lock().err.take().map_or(0, |e| e as i32)
    }

    fn queued(&self) -> Result<usize, Errno> {
        let mut st = self.lock();
        self.host_pull(&mut st);
        match st.conn {
            Conn::Listening { .. } => Err(Errno::EINVAL),
            _ => Ok(st.rx.len()),
        }
    }

    fn unsent(&self) -> usize {
        let st = self.lock();
        if let Conn::Host { link, .. } = &st.conn {
            return link.unsent();
        }
        let peer = Self::peer_of(&st);
        drop(st);
        Self::unsent_to(peer)
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
        SavedSocket::Tcp(self.saved(ix))
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        // IPV6_V6ONLY decides what a binding takes: fixed once bound.
        if (level, name) == (SOL_IPV6, IPV6_V6ONLY) && st.bound.port != 0 {
            return Err(Errno::EINVAL);
        }
        st.opts.set(self.fam, Proto::Tcp, level, name, val)
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        let st = self.lock();
        let val = st.opts.get(self.fam, Proto::Tcp, level, name)?;
        if (level, name) == (SOL_TCP, TCP_MAXSEG) {
            return Ok(self.mss(&st).to_ne_bytes().to_vec());
        }
        Ok(val)
    }
}

impl TcpSocket {
    /// TCP_MAXSEG: what was asked for before a connection; its path's on one (lo's
    /// or vke0's; no more than what was asked for).
    fn mss(&self, st: &State) -> i32 {
        let asked = st.opts.int(SOL_TCP, TCP_MAXSEG);
        let path = match st.conn {
            Conn::Connected { addr, .. } if super::addr::is_v4(&addr.ip) => LO_MSS_V4,
            Conn::Connected { .. } => LO_MSS_V6,
            Conn::Host { .. } => host::VKE0_MSS,
            _ => return asked,
        };
        if asked == MSS_DEFAULT {
            path
        } else {
            path.min(asked)
        }
    }
}
