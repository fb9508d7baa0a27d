//! AF_INET and AF_INET6 on the guest's own loopback interface lo (127.0.0.0/8, ::1):
//! TCP (tcp.rs) and UDP (udp.rs), entirely inside the kernel.
//!
//! Nothing here makes packets. Two guest endpoints of a TCP connection are two
//! sockets that point at each other, and what one sends is appended to the other's
//! receive queue, with TCP's observable rules kept (the listener's backlog, the SYN
//! that waits when it is full, half-close, a reset when one closes with unread data,
//! SO_ERROR); a UDP datagram goes straight into the queue of the socket bound where
//! it is sent. Who is bound where is each protocol's port table (ports.rs), with
//! Linux's sharing rules; addresses and routes are addr.rs; the inet-level options
//! opts.rs; saved forms save.rs; /proc/net/tcp and friends procnet.rs.
//!
//! Locks: as for AF_UNIX, each socket's state has its own mutex; only a connect
//! holds two (client and listener, in address order); a port table may be taken
//! while a socket's lock is held, never the other way round.

pub mod addr;
pub mod opts;
pub mod ports;
pub mod procnet;
mod save;
mod tcp;
#[cfg(test)]
mod tests;
mod udp;

use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::Socket;
use addr::{is_any, Family};
use ports::{Entry, PortTable, Share};
pub use save::{restore, SavedTcp, SavedUdp};
pub use tcp::{published_ready, TcpSocket};
pub use udp::UdpSocket;

pub const IPPROTO_TCP: i32 = 6;
pub const IPPROTO_UDP: i32 = 17;
/// Protocol numbers at or above IPPROTO_MAX are EINVAL.
const IPPROTO_MAX: i32 = 263;

/// sk_shutdown bits.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = 3;

/// socket(AF_INET or AF_INET6, ty, protocol), as inet_create and inet6_create choose
/// among their protocols: protocol 0 is the type's default.
pub fn create(fam: Family, ty: i32, protocol: i32) -> Result<Arc<dyn Socket>, Errno> {
    if !(0..IPPROTO_MAX).contains(&protocol) {
        return Err(Errno::EINVAL);
    }
    match (ty, protocol) {
        (1, 0 | IPPROTO_TCP) => Ok(TcpSocket::create(fam)),
        (2, 0 | IPPROTO_UDP) => Ok(UdpSocket::create(fam)),
        (1 | 2, _) => Err(Errno::EPROTONOSUPPORT),
        // Raw sockets would need packets; Linux refuses them without CAP_NET_RAW.
        (3, _) => Err(Errno::EPERM),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// AF_INET or AF_INET6.
pub fn is_inet(family: i32) -> bool {
    family == addr::AF_INET || family == addr::AF_INET6
}

/// Where a socket is bound (port 0: nowhere yet), and its entry in its protocol's
/// port table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub ip: Ipv6Addr,
    pub port: u16,
    /// bind named the address, the port (Linux's SOCK_BINDADDR_LOCK and
    /// SOCK_BINDPORT_LOCK): a disconnect gives back only what the kernel chose.
    pub addr_locked: bool,
    pub port_locked: bool,
    /// Who bound it (SO_REUSEPORT shares a port among one user's sockets).
    pub uid: u32,
    /// The entry's identity in the port table (a thaw gives it a new one).
    #[serde(skip)]
    pub id: u64,
}

impl Binding {
    /// The address and port, as getsockname says them.
    pub fn endpoint(&self) -> addr::Endpoint {
        addr::Endpoint {
            ip: self.ip,
            port: self.port,
        }
    }

    pub fn unbound(fam: Family) -> Binding {
        Binding {
            ip: fam.any(),
            port: 0,
            addr_locked: false,
            port_locked: false,
            uid: 0,
            id: 0,
        }
    }
}

/// One protocol's port table.
pub struct Ports<T: 'static>(Mutex<PortTable<T>>);

impl<T> Ports<T> {
    pub const fn new() -> Ports<T> {
        Ports(Mutex::new(PortTable::new()))
    }

    pub fn lock(&self) -> MutexGuard<'_, PortTable<T>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Binds `b` to `ip`, `port` (0: an ephemeral port) for `owner`.
    pub fn bind(
        &self,
        b: &mut Binding,
        ip: Ipv6Addr,
        port: u16,
        hold: Hold<T>,
    ) -> Result<(), Errno> {
        let mut t = self.lock();
        let id = t.next_id();
        let e = Entry {
            id,
            ip,
            v6only: hold.v6only,
            share: hold.share,
            listening: false,
            owner: hold.owner,
        };
        b.port = t.bind(port, e)?;
        b.ip = ip;
        b.id = id;
        Ok(())
    }

    /// Gives back a binding's port, and its address, unless bind named them (a
    /// disconnect, a refused connect).
    pub fn release_unlocked(&self, b: &mut Binding, fam: Family) {
        if !b.addr_locked {
            b.ip = fam.any();
        }
        if !b.port_locked && b.port != 0 {
            self.lock().unbind(b.port, b.id);
            b.port = 0;
        }
    }

    /// A closed socket's binding goes.
    pub fn unbind(&self, b: &Binding) {
        if b.port != 0 {
            self.lock().unbind(b.port, b.id);
        }
    }

    /// A connect fixes a wildcard binding to the address packets go out from.
    pub fn fix_source(&self, b: &mut Binding, ip: Ipv6Addr) {
        if is_any(&b.ip) {
            b.ip = ip;
            self.lock().set_ip(b.port, b.id, ip);
        }
    }
}

/// What a socket's entry in a port table says besides its address.
pub struct Hold<T> {
    pub v6only: bool,
    pub share: Share,
    pub owner: std::sync::Weak<T>,
}

/// The sharing rights of a socket with `opts`, bound by `uid`.
pub fn share(opts: &super::Opts, uid: u32) -> Share {
    Share {
        reuse: opts.on(super::SO_REUSEADDR),
        reuseport: opts.on(super::SO_REUSEPORT),
        uid,
    }
}

/// bind(2) of either protocol: an unbound socket takes the address and port given
/// (0: an ephemeral one); EINVAL if it is bound already. Ports below 1024 are for
/// root (CAP_NET_BIND_SERVICE). `uid` binds it.
pub fn bind_to<T>(
    ports: &Ports<T>,
    b: &mut Binding,
    ep: addr::Endpoint,
    uid: u32,
    mut hold: Hold<T>,
) -> Result<(), Errno> {
    if ep.port != 0 && ep.port < 1024 && uid != 0 {
        return Err(Errno::EACCES);
    }
    if b.port != 0 {
        return Err(Errno::EINVAL);
    }
    hold.share.uid = uid;
    ports.bind(b, ep.ip, ep.port, hold)?;
    b.uid = uid;
    b.addr_locked = !is_any(&ep.ip);
    b.port_locked = ep.port != 0;
    Ok(())
}
