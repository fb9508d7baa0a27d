//! A host socket carrying guest traffic: non-blocking, close-on-exec, counted
//! against the guest's budget of host fds (`Config::max_host_sockets`), so that a
//! guest opening connections without end gets ENFILE while vkernel keeps the fds it
//! needs for itself. Every call here returns at once; errors come back as the
//! guest's errno.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Weak;

use nix::errno::Errno;
use nix::sys::socket::{
    self, getsockopt, sockopt, AddressFamily, MsgFlags, SockFlag, SockType, SockaddrStorage,
};

use super::pump::{self, Watch, Watcher};

/// Host sockets held for the guest now.
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Takes one host fd from the budget; ENFILE when it is spent.
fn take_slot() -> Result<(), Errno> {
    let max = super::config().max_host_sockets;
    IN_USE
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max).then_some(n + 1)
        })
        .map(|_| ())
        .map_err(|_| Errno::ENFILE)
}

#[derive(Debug)]
pub struct HostSocket {
    /// Dropped before the fd closes (fields drop in order).
    watch: Option<Watch>,
    fd: OwnedFd,
    v4: bool,
}

impl Drop for HostSocket {
    fn drop(&mut self) {
        IN_USE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The host ran out of fds: to the guest, the system's file table is full.
fn host_errno(e: Errno) -> Errno {
    match e {
        Errno::EMFILE => Errno::ENFILE,
        e => e,
    }
}

impl HostSocket {
    /// A new TCP socket to reach `to`.
    pub fn stream(to: &SocketAddr) -> Result<HostSocket, Errno> {
        Self::new(SockType::Stream, to)
    }

    /// A new UDP socket to reach `to`.
    pub fn datagram(to: &SocketAddr) -> Result<HostSocket, Errno> {
        Self::new(SockType::Datagram, to)
    }

    fn new(ty: SockType, to: &SocketAddr) -> Result<HostSocket, Errno> {
        let fam = match to {
            SocketAddr::V4(_) => AddressFamily::Inet,
            SocketAddr::V6(_) => AddressFamily::Inet6,
        };
        take_slot()?;
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        match socket::socket(fam, ty, flags, None) {
            Ok(fd) => Ok(HostSocket {
                watch: None,
                fd,
                v4: to.is_ipv4(),
            }),
            Err(e) => {
                IN_USE.fetch_sub(1, Ordering::SeqCst);
                Err(host_errno(e))
            }
        }
    }

    /// A connection a host listener accepted, if the budget has room for it (else
    /// it is closed, which the host client sees as a reset or an end).
    pub fn accepted(listener: RawFd) -> Result<Option<(HostSocket, SocketAddr)>, Errno> {
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        let raw = match socket::accept4(listener, flags) {
            Ok(fd) => fd,
            Err(Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(host_errno(e)),
        };
        // SAFETY: accept4 just returned this fd, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        take_slot()?;
        let mut s = HostSocket {
            watch: None,
            fd,
            v4: true,
        };
        let peer = s.peer().ok_or(Errno::ENOTCONN)?;
        s.v4 = peer.is_ipv4();
        Ok(Some((s, peer)))
    }

    /// The pump tells `w` when this socket becomes ready.
    pub fn watched(mut self, w: Weak<dyn Watcher>) -> Result<HostSocket, Errno> {
        self.watch = Some(pump::watch(&self.fd, w)?);
        Ok(self)
    }

    /// An IPv4 socket (else IPv6).
    pub fn is_ipv4(&self) -> bool {
        self.v4
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Starts a connection; EINPROGRESS while it is under way.
    pub fn connect(&self, to: &SocketAddr) -> Result<(), Errno> {
        socket::connect(self.raw(), &SockaddrStorage::from(*to))
    }

    /// A pending error (SO_ERROR), taken.
    pub fn take_error(&self) -> Option<Errno> {
        match getsockopt(&self.fd, sockopt::SocketError) {
            Ok(0) => None,
            Ok(e) => Some(Errno::from_raw(e)),
            Err(e) => Some(e),
        }
    }

    pub fn peer(&self) -> Option<SocketAddr> {
        let a: SockaddrStorage = socket::getpeername(self.raw()).ok()?;
        storage_addr(&a)
    }

    /// What poll says of `events` now (no waiting).
    pub fn ready(&self, events: libc::c_short) -> libc::c_short {
        let mut p = libc::pollfd {
            fd: self.raw(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no timeout.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n == 1 {
            p.revents
        } else {
            0
        }
    }

    /// Sends what it can of `data` (to `to`, for a datagram); never SIGPIPE.
    pub fn send(&self, data: &[u8], to: Option<&SocketAddr>) -> Result<usize, Errno> {
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        match to {
            Some(to) => socket::sendto(self.raw(), data, &SockaddrStorage::from(*to), flags),
            None => socket::send(self.raw(), data, flags),
        }
    }

    /// Receives what is there, with the sender's address: Ok((0, _)) is end of file
    /// on a stream; EAGAIN when nothing is.
    pub fn recv(&self, buf: &mut [u8]) -> Result<(usize, Option<SocketAddr>), Errno> {
        let (n, from) = socket::recvfrom::<SockaddrStorage>(self.raw(), buf)?;
        Ok((n, from.as_ref().and_then(storage_addr)))
    }

    pub fn shutdown(&self, how: socket::Shutdown) {
        let _ = socket::shutdown(self.raw(), how);
    }

    /// SO_LINGER 0: closing now resets the connection, as the guest's close did.
    pub fn abort_on_close(&self) {
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        let _ = socket::setsockopt(&self.fd, sockopt::Linger, &l);
    }

    /// Bytes sent and not yet acknowledged by the peer (SIOCOUTQ).
    pub fn unsent(&self) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: SIOCOUTQ writes one int.
        let r = unsafe { libc::ioctl(self.fd.as_fd().as_raw_fd(), libc::TIOCOUTQ, &mut n) };
        if r == 0 {
            usize::try_from(n).unwrap_or(0)
        } else {
            0
        }
    }
}

/// Calls `f` with this thread's 64 KiB buffer for what a host socket received (the
/// largest datagram fits), so that pulling from a host socket allocates nothing.
pub fn with_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 1 << 16]);
    }
    BUF.with_borrow_mut(|b| f(b))
}

fn storage_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}
