//! TCP and UDP sockets as a checkpoint saves them: bindings, options, connection
//! state with the bytes queued each way (each socket holds what was sent to it),
//! listeners with their unaccepted and waiting connections (socket indices), and UDP
//! queues with their senders. A thaw puts every binding back into its port table as
//! it was (no conflict checks: the saved set was consistent). Not saved: wait queues
//! (every waiter re-issues its call) and the next ephemeral port to try.

use std::collections::VecDeque;
use std::sync::Arc;

use ckpt::CkptError;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::addr::{Endpoint, Family};
use super::opts::InetOpts;
use super::ports::Entry;
use super::tcp::{self, Conn, SockState, TcpSocket};
use super::udp::{self, Datagram, UdpSocket};
use super::{Binding, Hold, Ports};
use crate::net::{downcast, Opts, RestoreIndex, SaveIndex, SavedSocket, Socket};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedTcp {
    pub fam: Family,
    pub opts: Opts,
    pub inet: InetOpts,
    pub bound: Binding,
    pub conn: SavedConn,
    pub sock: SockState,
    pub rx: Vec<u8>,
    pub shutdown: u8,
    /// A pending error, as an errno.
    pub err: Option<i32>,
    pub fin: bool,
    pub released: bool,
    /// Its epoll counters (inputs, outputs).
    pub events: (u64, u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedConn {
    Closed,
    /// Unaccepted and waiting connections, by socket index, oldest first.
    Listening {
        backlog: u32,
        queue: Vec<usize>,
        syn: Vec<usize>,
    },
    SynSent {
        to: Endpoint,
    },
    Connected {
        peer: Option<usize>,
        addr: Endpoint,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedUdp {
    pub fam: Family,
    pub opts: Opts,
    pub inet: InetOpts,
    pub bound: Binding,
    pub peer: Option<Endpoint>,
    pub queue: Vec<Datagram>,
    pub shutdown: u8,
    pub err: Option<i32>,
    pub released: bool,
    /// Its epoll counters (inputs, outputs).
    pub events: (u64, u64),
}

fn corrupt(what: &str) -> CkptError {
    CkptError::Decode(format!("inet socket: {what}"))
}

impl TcpSocket {
    pub(super) fn saved(&self, ix: &mut dyn SaveIndex) -> SavedTcp {
        let st = self.lock();
        let mut sock = |s: &Arc<TcpSocket>| ix.socket(&(s.clone() as Arc<dyn Socket>));
        let conn = match &st.conn {
            Conn::Closed => SavedConn::Closed,
            Conn::Listening {
                backlog,
                queue,
                syn,
            } => SavedConn::Listening {
                backlog: *backlog,
                queue: queue.iter().map(&mut sock).collect(),
                syn: syn
                    .iter()
                    .filter_map(|w| w.upgrade())
                    .map(|s| sock(&s))
                    .collect(),
            },
            Conn::SynSent { to } => SavedConn::SynSent { to: *to },
            Conn::Connected { peer, addr } => SavedConn::Connected {
                peer: peer.as_ref().map(sock),
                addr: *addr,
            },
            // A host socket cannot be saved: the thawed guest finds the connection
            // reset (refused, if it was still being made).
            Conn::Host { .. } => SavedConn::Closed,
        };
        let host = matches!(st.conn, Conn::Host { .. });
        let err = match st.conn {
            Conn::Host { up: false, .. } => Some(Errno::ECONNREFUSED),
            Conn::Host { .. } if st.fin => Some(Errno::EPIPE),
            Conn::Host { .. } => Some(Errno::ECONNRESET),
            _ => st.err,
        };
        SavedTcp {
            fam: self.fam,
            opts: self.common.opts().clone(),
            inet: st.opts.clone(),
            bound: st.bound,
            conn,
            sock: st.sock,
            rx: st.rx.iter().copied().collect(),
            shutdown: if host {
                super::SHUTDOWN_MASK
            } else {
                st.shutdown
            },
            err: err.map(|e| e as i32),
            fin: st.fin,
            released: st.released,
            events: self.events().counts(),
        }
    }
}

impl UdpSocket {
    pub(super) fn saved(&self) -> SavedUdp {
        let st = self.lock();
        SavedUdp {
            fam: self.fam,
            opts: self.common.opts().clone(),
            inet: st.opts.clone(),
            bound: st.bound,
            peer: st.peer,
            queue: st.queue.iter().cloned().collect(),
            shutdown: st.shutdown,
            err: st.err.map(|e| e as i32),
            released: st.released,
            events: self.events().counts(),
        }
    }
}

/// Fills in a socket `net::bare` made, for `net::restore`.
pub fn restore(
    sock: &Arc<dyn Socket>,
    saved: &SavedSocket,
    ix: &dyn RestoreIndex,
) -> Result<(), CkptError> {
    match saved {
        SavedSocket::Tcp(t) => restore_tcp(&downcast::<TcpSocket>(sock.clone())?, t, ix),
        SavedSocket::Udp(u) => restore_udp(&downcast::<UdpSocket>(sock.clone())?, u),
        _ => Err(corrupt("not an inet socket")),
    }
}

/// A live socket's binding goes back into its port table, as it was.
fn rebind<T>(ports: &Ports<T>, b: &mut Binding, hold: Hold<T>, listening: bool) {
    if b.port == 0 {
        return;
    }
    let mut t = ports.lock();
    b.id = t.next_id();
    t.insert(
        b.port,
        Entry {
            id: b.id,
            ip: b.ip,
            v6only: hold.v6only,
            share: hold.share,
            listening,
            owner: hold.owner,
        },
    );
}

fn errno(e: Option<i32>) -> Option<Errno> {
    e.map(Errno::from_raw)
}

fn restore_tcp(s: &Arc<TcpSocket>, t: &SavedTcp, ix: &dyn RestoreIndex) -> Result<(), CkptError> {
    let tcp_of = |i: usize| -> Result<Arc<TcpSocket>, CkptError> { downcast(ix.socket(i)?) };
    let conn = match &t.conn {
        SavedConn::Closed => Conn::Closed,
        SavedConn::Listening {
            backlog,
            queue,
            syn,
        } => Conn::Listening {
            backlog: *backlog,
            queue: queue.iter().map(|&i| tcp_of(i)).collect::<Result<_, _>>()?,
            syn: syn
                .iter()
                .map(|&i| tcp_of(i).map(|s| s.weak()))
                .collect::<Result<_, _>>()?,
        },
        SavedConn::SynSent { to } => Conn::SynSent { to: *to },
        SavedConn::Connected { peer, addr } => Conn::Connected {
            peer: peer.map(tcp_of).transpose()?,
            addr: *addr,
        },
    };
    s.common.restore(t.opts.clone());
    let mut st = s.lock();
    st.opts = t.inet.clone();
    st.bound = t.bound;
    let listening = matches!(conn, Conn::Listening { .. });
    st.conn = conn;
    st.sock = t.sock;
    st.rx = VecDeque::from(t.rx.clone());
    st.shutdown = t.shutdown;
    st.err = errno(t.err);
    st.fin = t.fin;
    st.released = t.released;
    if !t.released {
        let hold = s.hold(&st);
        rebind(&tcp::PORTS, &mut st.bound, hold, listening);
    }
    s.events().restore(t.events);
    Ok(())
}

fn restore_udp(s: &Arc<UdpSocket>, u: &SavedUdp) -> Result<(), CkptError> {
    if u.fam != s.fam {
        return Err(corrupt("family changed"));
    }
    s.common.restore(u.opts.clone());
    let mut st = s.lock();
    st.opts = u.inet.clone();
    st.bound = u.bound;
    st.peer = u.peer;
    st.queue = u.queue.iter().cloned().collect();
    st.shutdown = u.shutdown;
    st.err = errno(u.err);
    st.released = u.released;
    if !u.released {
        let hold = s.hold(&st);
        rebind(&udp::PORTS, &mut st.bound, hold, false);
    }
    s.events().restore(u.events);
    Ok(())
}
