//! Published ports (`--publish [HOSTIP:]HOSTPORT:GUESTPORT`): vkernel listens on the
//! host port, and a guest TCP listener on the guest port (bound to the wildcard or
//! to 10.0.2.15) takes the connections as if they came in on vke0. The guest pulls
//! them: an accept, or a poll of the listener, takes what the host listener has
//! while the guest backlog has room, so the host's backlog holds the rest, as a full
//! backlog does on Linux. The pump wakes the guest listeners when one comes.
//!
//! The host listeners are bound at boot and again at every thaw (a checkpoint saves
//! the list); a host port someone else has taken is an error then, not a silently
//! missing service.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::str::FromStr;
use std::sync::{Arc, Mutex, Weak};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::host::HostSocket;
use super::pump::{self, Watch, Watcher};

/// One forwarded port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    pub host: SocketAddr,
    pub guest_port: u16,
}

impl FromStr for Publish {
    type Err = String;

    /// `HOSTPORT:GUESTPORT` (on the host's 127.0.0.1), or `HOSTIP:HOSTPORT:GUESTPORT`
    /// (an IPv6 host address in brackets).
    fn from_str(s: &str) -> Result<Publish, String> {
        let bad = || format!("'{s}' is not [HOSTIP:]HOSTPORT:GUESTPORT");
        let (host, guest) = s.rsplit_once(':').ok_or_else(bad)?;
        let guest_port: u16 = guest.parse().map_err(|_| bad())?;
        let host = match host.parse::<u16>() {
            Ok(port) => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
            Err(_) => host.parse().map_err(|_| bad())?,
        };
        if guest_port == 0 {
            return Err(format!("'{s}': the guest port may not be 0"));
        }
        Ok(Publish { host, guest_port })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot publish host port {addr} (guest port {guest_port}): {source}")]
pub struct PublishError {
    addr: SocketAddr,
    guest_port: u16,
    source: std::io::Error,
}

/// A host listener and the guest port it forwards to.
struct Listener {
    guest_port: u16,
    /// Dropped before the listener closes.
    _watch: Watch,
    sock: TcpListener,
    _waker: Arc<PortWaker>,
}

/// Wakes the guest listeners of a port.
struct PortWaker(u16);

impl Watcher for PortWaker {
    fn host_ready(&self) {
        crate::net::inet::published_ready(self.0);
    }
}

static LISTENERS: Mutex<Vec<Listener>> = Mutex::new(Vec::new());

fn listeners() -> std::sync::MutexGuard<'static, Vec<Listener>> {
    LISTENERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Binds every published host port.
pub(super) fn start(list: &[Publish]) -> Result<(), PublishError> {
    for p in list {
        let err = |source| PublishError {
            addr: p.host,
            guest_port: p.guest_port,
            source,
        };
        let sock = TcpListener::bind(p.host).map_err(err)?;
        sock.set_nonblocking(true).map_err(err)?;
        let waker = Arc::new(PortWaker(p.guest_port));
        let weak: Weak<dyn Watcher> = Arc::downgrade(&waker) as Weak<dyn Watcher>;
        let watch = pump::watch(&sock, weak).map_err(|e| err(e.into()))?;
        listeners().push(Listener {
            guest_port: p.guest_port,
            _watch: watch,
            sock,
            _waker: waker,
        });
    }
    Ok(())
}

/// Whether host connections come to guest port `port`.
pub fn published(port: u16) -> bool {
    listeners().iter().any(|l| l.guest_port == port)
}

/// A host connection waiting for guest port `port`, with its peer's address.
pub fn accept(port: u16) -> Result<Option<(HostSocket, SocketAddr)>, Errno> {
    for l in listeners().iter().filter(|l| l.guest_port == port) {
        if let Some(c) = HostSocket::accepted(l.sock.as_raw_fd())? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Resets every host connection waiting for guest port `port`.
pub fn refuse(port: u16) {
    while let Ok(Some((c, _))) = accept(port) {
        c.abort_on_close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_specs_parse_as_docker_writes_them() {
        let p: Publish = "8080:80".parse().unwrap();
        assert_eq!(p.host, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(p.guest_port, 80);
        let p: Publish = "0.0.0.0:8080:80".parse().unwrap();
        assert_eq!(p.host, "0.0.0.0:8080".parse().unwrap());
        let p: Publish = "[::1]:8080:80".parse().unwrap();
        assert_eq!(p.host, "[::1]:8080".parse().unwrap());
        for bad in ["80", "x:80", "8080:0", "8080:70000", "1.2.3.4:80"] {
            assert!(bad.parse::<Publish>().is_err(), "{bad}");
        }
    }
}
