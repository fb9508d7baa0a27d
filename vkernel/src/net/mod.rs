//! Networking: the socket layer and the address families behind it.
//!
//! A socket is an open file (`FileKind::Socket`) holding an `Arc<dyn Socket>`; the
//! socket system calls (syscall/net.rs), the file layer and the checkpoint reach it
//! only through that trait (socket.rs). An address family plugs in with a type that
//! implements it, an arm in [`create`] (and [`pair`] if it has socketpair), and a
//! variant of [`SavedSocket`] with arms in [`bare`] and [`restore`]. AF_UNIX is unix.rs;
//! AF_INET and AF_INET6 (TCP and UDP on the guest's loopback) are inet/; their way
//! out to the host's network, vke0, is nat/.

pub mod addr;
pub mod cmsg;
pub mod iface;
pub mod inet;
pub mod nat;
pub mod netlink;
pub mod rtnetlink;
pub mod socket;
pub mod unix;

use std::sync::Arc;

use ckpt::CkptError;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::fs::inode::{next_ino, Body, Inode, InodeState, S_IFSOCK};
pub use socket::*;

pub const AF_UNSPEC: i32 = 0;
pub const AF_UNIX: i32 = 1;
/// Linux's AF_MAX: family numbers at or above it are EAFNOSUPPORT before anything else.
const AF_MAX: i32 = 46;
/// Socket types are below SOCK_MAX (the flags above SOCK_TYPE_MASK aside).
const SOCK_MAX: i32 = 10;

/// socket(2) after the type flags are split off: a new socket of `family`.
pub fn create(family: i32, ty: i32, protocol: i32) -> Result<Arc<dyn Socket>, Errno> {
    check_args(family, ty)?;
    match family {
        AF_UNIX => Ok(unix::UnixSocket::create(unix_type(ty)?, protocol)?),
        netlink::AF_NETLINK => Ok(netlink::NetlinkSocket::create(ty, protocol)?),
        inet::addr::AF_INET => inet::create(inet::addr::Family::V4, ty, protocol),
        inet::addr::AF_INET6 => inet::create(inet::addr::Family::V6, ty, protocol),
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// socketpair(2): two sockets connected to each other. `ctx` is who makes them
/// (SO_PEERCRED of each is the other's creator).
pub fn pair(family: i32, ty: i32, protocol: i32, ctx: &Ctx) -> Result<[Arc<dyn Socket>; 2], Errno> {
    check_args(family, ty)?;
    match family {
        AF_UNIX => {
            let (a, b) = unix::UnixSocket::pair(unix_type(ty)?, protocol, ctx)?;
            Ok([a, b])
        }
        // Linux makes the socket, then finds that inet has no socketpair.
        inet::addr::AF_INET | inet::addr::AF_INET6 => {
            create(family, ty, protocol)?;
            Err(Errno::EOPNOTSUPP)
        }
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// Linux's __sock_create checks, in its order.
fn check_args(family: i32, ty: i32) -> Result<(), Errno> {
    if !(0..AF_MAX).contains(&family) {
        return Err(Errno::EAFNOSUPPORT);
    }
    if !(0..SOCK_MAX).contains(&ty) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// AF_UNIX takes SOCK_RAW as SOCK_DGRAM (as Linux, for BSD's sake).
fn unix_type(ty: i32) -> Result<SockType, Errno> {
    match ty {
        1 => Ok(SockType::Stream),
        2 | 3 => Ok(SockType::Dgram),
        5 => Ok(SockType::SeqPacket),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// Every socket's file has an inode of its own on sockfs (fstat shows a socket;
/// /proc/<pid>/fd/N says socket:[ino]); the socket keeps its number (for /proc/net).
pub fn socket_inode(s: &dyn Socket) -> Arc<Inode> {
    let st = InodeState::new(S_IFSOCK | 0o777, 0, 0, Body::Special);
    let inode = Inode::new(next_ino(), DEV_SOCKFS, st);
    s.common().set_ino(inode.ino);
    inode
}

/// st_dev of sockfs (0:8, what Linux shows).
pub const DEV_SOCKFS: u64 = 0x8;

/// A socket as a checkpoint saves it: one variant per address family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedSocket {
    Unix(unix::SavedUnix),
    Netlink(netlink::SavedNetlink),
    Tcp(inet::SavedTcp),
    Udp(inet::SavedUdp),
}

/// A socket of the saved one's family and type with nothing in it yet: restore makes
/// every socket first, then fills each in (`Socket::restore`), since they name each
/// other (peers, senders, pending connections).
pub fn bare(saved: &SavedSocket) -> Arc<dyn Socket> {
    match saved {
        SavedSocket::Unix(u) => unix::UnixSocket::bare(u.ty),
        SavedSocket::Netlink(_) => netlink::NetlinkSocket::bare(),
        SavedSocket::Tcp(t) => inet::TcpSocket::bare(t.fam),
        SavedSocket::Udp(u) => inet::UdpSocket::bare(u.fam),
    }
}

/// The family's own type behind a `dyn Socket` a checkpoint names, or a corrupt
/// image (it named a socket of another kind).
pub fn downcast<T: Send + Sync + 'static>(s: Arc<dyn Socket>) -> Result<Arc<T>, CkptError> {
    s.as_any()
        .downcast::<T>()
        .map_err(|_| CkptError::Decode("a socket names one of another kind".into()))
}

/// Fills in a socket made by [`bare`] from its saved form.
pub fn restore(
    sock: &Arc<dyn Socket>,
    saved: &SavedSocket,
    ix: &dyn RestoreIndex,
) -> Result<(), CkptError> {
    match saved {
        SavedSocket::Unix(u) => unix::restore(&downcast(sock.clone())?, u, ix),
        SavedSocket::Netlink(n) => downcast::<netlink::NetlinkSocket>(sock.clone())?.restore(n),
        SavedSocket::Tcp(_) | SavedSocket::Udp(_) => inet::restore(sock, saved, ix),
    }
}
