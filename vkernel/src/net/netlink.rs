//! AF_NETLINK sockets of the NETLINK_ROUTE protocol: a datagram socket whose peer is
//! the kernel. Each request datagram sent is answered at once (rtnetlink.rs) and the
//! answers wait in the socket's queue for the reader. Other netlink protocols are
//! EPROTONOSUPPORT. The interfaces never change, so multicast groups may be joined
//! but never deliver anything.

use crate::net::Events;
use std::any::Any;
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use ckpt::CkptError;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::iface::interfaces;
use super::{
    Common, Ctx, Incoming, Opts, Outgoing, SaveIndex, SavedSocket, SockType, Socket, Ucred, Wait,
    MSG_PEEK,
};

pub const AF_NETLINK: i32 = 16;
pub const NETLINK_ROUTE: i32 = 0;
/// SOL_NETLINK: its options are accepted and kept (none changes what we answer).
const SOL_NETLINK: i32 = 270;
/// sizeof(struct sockaddr_nl): family, pad, port id, groups.
const SOCKADDR_NL: usize = 12;

/// Port ids in use, for bind's EADDRINUSE and autobind's choice.
static PORTS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn ports() -> MutexGuard<'static, BTreeSet<u32>> {
    PORTS.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Default)]
struct State {
    /// The bound port id (0: not bound yet).
    port: u32,
    groups: u32,
    /// Answers not yet read, one datagram each.
    queue: VecDeque<Vec<u8>>,
    /// SOL_NETLINK options set, by number.
    options: Vec<(i32, Vec<u8>)>,
}

pub struct NetlinkSocket {
    common: Common,
    ev: Events,
    st: Mutex<State>,
}

impl std::fmt::Debug for NetlinkSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NetlinkSocket(port {})", self.lock().port)
    }
}

/// A netlink socket as a checkpoint saves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedNetlink {
    pub port: u32,
    pub groups: u32,
    pub queue: Vec<Vec<u8>>,
    pub options: Vec<(i32, Vec<u8>)>,
    pub opts: Opts,
}

/// A sockaddr_nl's (port id, groups); EINVAL when it is short or of another family.
fn parse_addr(raw: &[u8]) -> Result<(u32, u32), Errno> {
    let word = |i: usize| u32::from_ne_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
    if raw.len() < SOCKADDR_NL || super::addr::family(raw)? != AF_NETLINK {
        return Err(Errno::EINVAL);
    }
    Ok((word(4), word(8)))
}

fn sockaddr(port: u32, groups: u32) -> Vec<u8> {
    let mut v = (AF_NETLINK as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&port.to_ne_bytes());
    v.extend_from_slice(&groups.to_ne_bytes());
    v
}

impl NetlinkSocket {
    /// socket(AF_NETLINK, SOCK_RAW or SOCK_DGRAM, protocol).
    pub fn create(ty: i32, protocol: i32) -> Result<Arc<NetlinkSocket>, Errno> {
        if !matches!(ty, 2 | 3) {
            return Err(Errno::ESOCKTNOSUPPORT);
        }
        if protocol != NETLINK_ROUTE {
            return Err(Errno::EPROTONOSUPPORT);
        }
        Ok(Self::bare())
    }

    /// A fresh socket (a thaw's, before `restore` fills it in).
    pub fn bare() -> Arc<NetlinkSocket> {
        Arc::new(NetlinkSocket {
            common: Common::default(),
            ev: Events::default(),
            st: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Linux's netlink_autobind: the caller's pid if it is free, else a negative id.
    fn autobind(&self, pid: i32) {
        let mut st = self.lock();
        if st.port != 0 {
            return;
        }
        let mut used = ports();
        let mut port = pid as u32;
        let mut next = u32::MAX - 4096;
        while port == 0 || used.contains(&port) {
            port = next;
            next -= 1;
        }
        used.insert(port);
        st.port = port;
    }

    pub fn restore(&self, s: &SavedNetlink) -> Result<(), CkptError> {
        if s.port != 0 && !ports().insert(s.port) {
            return Err(CkptError::Decode(format!("netlink port {} twice", s.port)));
        }
        let mut st = self.lock();
        st.port = s.port;
        st.groups = s.groups;
        st.queue = s.queue.iter().cloned().collect();
        st.options = s.options.clone();
        self.common.restore(s.opts.clone());
        Ok(())
    }
}

impl Socket for NetlinkSocket {
    fn family(&self) -> i32 {
        AF_NETLINK
    }

    fn sock_type(&self) -> SockType {
        SockType::Dgram
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn bind(&self, raw: &[u8], ctx: &Ctx) -> Result<(), Errno> {
        let (port, groups) = parse_addr(raw)?;
        if port == 0 {
            self.autobind(ctx.pid);
        } else {
            let mut st = self.lock();
            if st.port != port {
                if st.port != 0 {
                    return Err(Errno::EINVAL);
                }
                if !ports().insert(port) {
                    return Err(Errno::EADDRINUSE);
                }
                st.port = port;
            }
        }
        self.lock().groups = groups;
        Ok(())
    }

    fn listen(&self, _: u32, _: &Ctx) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn accept(&self, _: &Wait) -> Result<Arc<dyn Socket>, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Only the kernel (port 0) can be the peer: nothing in the guest answers.
    fn connect(&self, raw: &[u8], ctx: &Ctx, _: &Wait) -> Result<(), Errno> {
        if parse_addr(raw)?.0 != 0 {
            return Err(Errno::ECONNREFUSED);
        }
        self.autobind(ctx.pid);
        Ok(())
    }

    fn send(&self, msg: Outgoing, ctx: &Ctx, _: &Wait) -> Result<usize, Errno> {
        if let Some(to) = msg.to {
            if parse_addr(to)?.0 != 0 {
                return Err(Errno::ECONNREFUSED);
            }
        }
        self.autobind(ctx.pid);
        let answers = super::rtnetlink::answer(msg.data, interfaces(), self.lock().port);
        if !answers.is_empty() {
            let n = answers.len() as u64;
            self.lock().queue.extend(answers);
            self.ev.inputs(n);
        }
        Ok(msg.data.len())
    }

    fn recv(&self, len: usize, flags: u32, w: &Wait) -> Result<Incoming, Errno> {
        let data = w.until(&[self.ev.queue()], || {
            let mut st = self.lock();
            if flags & MSG_PEEK != 0 {
                st.queue.front().cloned()
            } else {
                st.queue.pop_front()
            }
        })?;
        let inc = Incoming {
            data,
            from: Some(sockaddr(0, 0)),
            creds: Some(Ucred {
                pid: 0,
                uid: 0,
                gid: 0,
            }),
            ..Default::default()
        };
        Ok(inc.datagram(len, flags))
    }

    fn shutdown(&self, how: i32) -> Result<(), Errno> {
        if !(0..=2).contains(&how) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn name(&self) -> Vec<u8> {
        let st = self.lock();
        sockaddr(st.port, st.groups)
    }

    fn peer_name(&self) -> Result<Vec<u8>, Errno> {
        Ok(sockaddr(0, 0))
    }

    fn peer_cred(&self) -> Option<Ucred> {
        None
    }

    fn listening(&self) -> bool {
        false
    }

    fn take_error(&self) -> i32 {
        0
    }

    fn queued(&self) -> Result<usize, Errno> {
        Ok(self.lock().queue.front().map_or(0, Vec::len))
    }

    fn unsent(&self) -> usize {
        0
    }

    fn events(&self) -> &Events {
        &self.ev
    }

    fn poll_mask(&self) -> u32 {
        const POLLIN: u32 = 0x1;
        const POLLOUT: u32 = 0x4;
        const POLLRDNORM: u32 = 0x40;
        const POLLWRNORM: u32 = 0x100;
        let readable = !self.lock().queue.is_empty();
        let input = if readable { POLLIN | POLLRDNORM } else { 0 };
        input | POLLOUT | POLLWRNORM
    }

    fn release(&self) {
        let port = std::mem::take(&mut self.lock().port);
        ports().remove(&port);
    }

    fn save(&self, _: &mut dyn SaveIndex) -> SavedSocket {
        let st = self.lock();
        SavedSocket::Netlink(SavedNetlink {
            port: st.port,
            groups: st.groups,
            queue: st.queue.iter().cloned().collect(),
            options: st.options.clone(),
            opts: self.common.opts().clone(),
        })
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        if level != SOL_NETLINK {
            return Err(Errno::ENOPROTOOPT);
        }
        if val.len() < 4 {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        st.options.retain(|(n, _)| *n != name);
        st.options.push((name, val[..4].to_vec()));
        Ok(())
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        if level != SOL_NETLINK {
            return Err(Errno::ENOPROTOOPT);
        }
        let st = self.lock();
        let val = st.options.iter().find(|(n, _)| *n == name);
        Ok(val.map_or_else(|| 0i32.to_ne_bytes().to_vec(), |(_, v)| v.clone()))
    }
}

#[cfg(test)]
mod tests;
