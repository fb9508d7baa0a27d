//! AF_UNIX sockets as a checkpoint saves them. Sockets name each other (peers,
//! pending connections, the senders of queued messages) and open files (SCM_RIGHTS in
//! flight) by their checkpoint indices, so whatever was shared is shared again after
//! the thaw. Not saved: the wait queue and the senders waiting for room (every waiter
//! re-issues its call, every poller polls again), and the send buffers in use, which
//! are the charges of the queued messages, added up again.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ckpt::CkptError;
use serde::{Deserialize, Serialize};

use super::io::Msg;
use super::{gc, names, Conn, State, UnixSocket};
use crate::net::addr::UnixAddr;
use crate::net::{Opts, RestoreIndex, SaveIndex, SockType, Socket, Ucred};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedUnix {
    pub ty: SockType,
    pub opts: Opts,
    pub addr: Option<UnixAddr>,
    /// The inode of a path name.
    pub node: Option<usize>,
    /// Whether it holds its name in the namespace (it bound it itself).
    pub named: bool,
    pub conn: SavedConn,
    /// A socket index.
    pub peer: Option<usize>,
    pub queue: Vec<SavedMsg>,
    pub shutdown: u8,
    /// A pending error, as an errno.
    pub err: Option<i32>,
    pub peercred: Option<Ucred>,
    pub embryo: bool,
    /// Released (kept for a peer or a queued message that still names it).
    pub closed: bool,
    /// Its epoll counters (inputs, outputs).
    pub events: (u64, u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedConn {
    Unconnected,
    /// Connections not accepted yet, by socket index, oldest first.
    Listening {
        backlog: u32,
        pending: Vec<usize>,
    },
    Connected,
}

/// A queued message: its unread bytes, its sender (a socket index), the files in
/// flight with it (open file indices), its credentials and what it charges its sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMsg {
    pub data: Vec<u8>,
    pub from: usize,
    pub rights: Vec<usize>,
    pub creds: Option<Ucred>,
    pub charge: usize,
}

fn corrupt(what: &str) -> CkptError {
    CkptError::Decode(format!("unix socket: {what}"))
}

impl UnixSocket {
    /// An AF_UNIX socket behind a `dyn Socket`, or a corrupt image.
    pub(super) fn saved(&self, ix: &mut dyn SaveIndex) -> SavedUnix {
        let st = self.lock();
        let mut sock = |s: &Arc<UnixSocket>| ix.socket(&(s.clone() as Arc<dyn Socket>));
        let conn = match &st.conn {
            Conn::Unconnected => SavedConn::Unconnected,
            Conn::Listening { backlog, pending } => SavedConn::Listening {
                backlog: *backlog,
                pending: pending.iter().map(&mut sock).collect(),
            },
            Conn::Connected => SavedConn::Connected,
        };
        let peer = st.peer.as_ref().map(&mut sock);
        let queue = st
            .queue
            .iter()
            .map(|m| SavedMsg {
                data: m.data[m.read..].to_vec(),
                from: ix.socket(&(m.from.clone() as Arc<dyn Socket>)),
                rights: m.rights.iter().map(|f| ix.file(f)).collect(),
                creds: m.creds,
                charge: m.charge,
            })
            .collect();
        SavedUnix {
            ty: self.ty,
            opts: self.common.opts().clone(),
            addr: st.addr.clone(),
            node: st.node.as_ref().map(|n| ix.inode(n)),
            named: st.named,
            conn,
            peer,
            queue,
            shutdown: st.shutdown,
            err: st.err.map(|e| e as i32),
            peercred: st.peercred,
            embryo: st.embryo,
            closed: self.is_closed(),
            events: self.ev.counts(),
        }
    }
}

/// Fills in `u`, made by `UnixSocket::bare`, from its saved form: a live named socket
/// takes its name back, and every queued message charges its sender again.
pub fn restore(u: &Arc<UnixSocket>, s: &SavedUnix, ix: &dyn RestoreIndex) -> Result<(), CkptError> {
    let sock = |i: usize| ix.socket(i).and_then(crate::net::downcast::<UnixSocket>);
    let conn = match &s.conn {
        SavedConn::Unconnected => Conn::Unconnected,
        SavedConn::Listening { backlog, pending } => Conn::Listening {
            backlog: *backlog,
            pending: pending.iter().map(|&i| sock(i)).collect::<Result<_, _>>()?,
        },
        SavedConn::Connected => Conn::Connected,
    };
    let mut queue = VecDeque::with_capacity(s.queue.len());
    for m in &s.queue {
        let rights = m
            .rights
            .iter()
            .map(|&f| ix.file(f))
            .collect::<Result<_, _>>()?;
        queue.push_back(Msg {
            data: m.data.clone(),
            read: 0,
            from: sock(m.from)?,
            rights,
            creds: m.creds,
            charge: m.charge.max(m.data.len()),
        });
    }
    let node = s.node.map(|i| ix.inode(i)).transpose()?;
    let err = s.err.map(nix::errno::Errno::from_raw);
    let state = State {
        addr: s.addr.clone(),
        node,
        named: s.named,
        conn,
        peer: s.peer.map(sock).transpose()?,
        queue,
        shutdown: s.shutdown,
        err,
        peercred: s.peercred,
        embryo: s.embryo,
        blocked: Vec::new(),
    };
    take_name(u, &state, s.closed)?;
    for m in &state.queue {
        m.from.wmem.fetch_add(m.charge, Ordering::SeqCst);
        gc::entered(&m.rights);
    }
    *u.lock() = state;
    u.common.restore(s.opts.clone());
    u.closed.store(s.closed, Ordering::SeqCst);
    u.ev.restore(s.events);
    if !s.closed {
        u.claim()
            .map_err(|_| corrupt("more sockets than the kernel allows"))?;
    }
    Ok(())
}

/// A live socket that held a name holds it again.
fn take_name(u: &Arc<UnixSocket>, st: &State, closed: bool) -> Result<(), CkptError> {
    if closed || !st.named {
        return Ok(());
    }
    match (&st.addr, &st.node) {
        (Some(UnixAddr::Path(_)), Some(node)) => {
            names::bind_node(node.ino, u);
            Ok(())
        }
        (Some(UnixAddr::Abstract(n)), _) => names::bind_abstract(u.ty, n, u)
            .map_err(|_| corrupt("two sockets hold one abstract name")),
        _ => Err(corrupt("named without a name")),
    }
}
