//! vke0: the guest's way out to the host's network, as user-mode networking (QEMU's
//! slirp) does it. No packets are made: a guest TCP connection or UDP flow off the
//! guest's own addresses is carried by a host socket of vkernel's (NAT), and the
//! guest sees itself as 10.0.2.15/24 behind a gateway 10.0.2.2 (the host itself: its
//! loopback) and a DNS server 10.0.2.3 (the host's resolver). `--publish` forwards
//! connections to a host port to a guest listener (publish.rs).
//!
//! Host sockets are non-blocking; guest calls use them directly and, when they would
//! block, sleep on their socket's wait queue, which the pump thread (pump.rs)
//! notifies when the host says a socket is ready. The pump changes no guest state,
//! so a frozen system stays frozen. A host socket cannot be saved: after a thaw the
//! guest finds its host connections reset (docs/ARCHITECTURE.md, "Networking").
//!
//! The setup is one per host process, like the interface table (iface.rs): set once
//! at boot or thaw ([`configure`]), saved in the kernel note.

pub mod host;
pub mod publish;
pub mod pump;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::inet::addr::Endpoint;

/// The guest's address on vke0, its network's prefix, the gateway (the host) and
/// the DNS server (the host's resolver).
pub const GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
pub const PREFIX: u8 = 24;
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
pub const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
const DNS_PORT: u16 = 53;

/// How the guest reaches the host's network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// vke0 exists (`--net user`); else the guest has lo alone (`--net none`).
    pub enabled: bool,
    /// Where DNS queries to 10.0.2.3 go; None: the host's /etc/resolv.conf's first
    /// nameserver, read where the system runs (a thaw on another host asks its own).
    pub dns: Option<SocketAddr>,
    /// Host ports forwarded to guest ports.
    pub publish: Vec<publish::Publish>,
    /// How many host sockets the guest may hold at once (more: ENFILE).
    pub max_host_sockets: usize,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// The default budget of host sockets: half the host's fd limit (raised to its hard
/// limit first), at most 4096; the other half stays for vkernel itself.
pub fn default_budget() -> usize {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(0, |(s, _)| s);
    usize::try_from(soft / 2).unwrap_or(usize::MAX).min(4096)
}

/// Sets the network up, once, before the guest runs: vke0 and its host-fd budget,
/// and the published ports (a clear error if one is taken).
pub fn configure(cfg: Config) -> Result<(), publish::PublishError> {
    if cfg.enabled {
        publish::start(&cfg.publish)?;
    }
    let _ = CONFIG.set(cfg);
    Ok(())
}

/// The network's setup (lo alone until [`configure`]).
pub fn config() -> &'static Config {
    static NONE: Config = Config {
        enabled: false,
        dns: None,
        publish: Vec::new(),
        max_host_sockets: 0,
    };
    CONFIG.get().unwrap_or(&NONE)
}

/// Whether vke0 exists.
pub fn enabled() -> bool {
    config().enabled
}

/// 10.0.2.15, v4-mapped, as inet compares addresses.
pub fn guest_ip() -> Ipv6Addr {
    GUEST.to_ipv6_mapped()
}

/// Where a guest's packet to `to` (an address off the guest) goes on the host: the
/// gateway is the host's loopback; the DNS server's port 53 the host's resolver.
/// IPv6 has no way out (vke0 has no IPv6 address): ENETUNREACH.
pub fn outbound(to: Endpoint) -> Result<SocketAddr, Errno> {
    let v4 = to.ip.to_ipv4_mapped().ok_or(Errno::ENETUNREACH)?;
    match v4 {
        GATEWAY => Ok(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), to.port)),
        DNS if to.port == DNS_PORT => resolver().ok_or(Errno::EHOSTUNREACH),
        // Nothing else answers at the DNS server's address.
        DNS => Err(Errno::ECONNREFUSED),
        ip => Ok(SocketAddr::new(ip.into(), to.port)),
    }
}

/// How a host address appears to the guest: the host's own (loopback) addresses as
/// the gateway, the resolver as the DNS server, anything else as itself.
pub fn inbound(from: SocketAddr) -> Endpoint {
    let (ip, port) = if Some(from) == resolver() {
        (DNS, DNS_PORT)
    } else {
        match from.ip().to_canonical() {
            IpAddr::V4(v4) if !v4.is_loopback() => (v4, from.port()),
            _ => (GATEWAY, from.port()),
        }
    };
    Endpoint {
        ip: ip.to_ipv6_mapped(),
        port,
    }
}

/// The host resolver DNS queries go to.
fn resolver() -> Option<SocketAddr> {
    static FROM_HOST: OnceLock<Option<SocketAddr>> = OnceLock::new();
    config().dns.or_else(|| {
        *FROM_HOST.get_or_init(|| {
            let conf = std::fs::read_to_string("/etc/resolv.conf").ok()?;
            first_nameserver(&conf)
        })
    })
}

/// resolv.conf's first `nameserver` line that parses.
fn first_nameserver(conf: &str) -> Option<SocketAddr> {
    conf.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("nameserver"))
            .then(|| w.next()?.parse::<IpAddr>().ok())
            .flatten()
            .map(|ip| SocketAddr::new(ip, DNS_PORT))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_gives_its_first_nameserver() {
        let conf = "# comment\nsearch example\nnameserver bogus\nnameserver 192.0.2.53\n\
                    nameserver 192.0.2.54\n";
        let want = SocketAddr::new(Ipv4Addr::new(192, 0, 2, 53).into(), 53);
        assert_eq!(first_nameserver(conf), Some(want));
        assert_eq!(first_nameserver("domain x\n"), None);
    }

    #[test]
    fn the_gateway_is_the_hosts_loopback() {
        let to = Endpoint {
            ip: GATEWAY.to_ipv6_mapped(),
            port: 8080,
        };
        let host = outbound(to).unwrap();
        assert_eq!(host, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(inbound(host), to);
        let far: SocketAddr = "192.0.2.7:80".parse().unwrap();
        let seen = inbound(far);
        assert_eq!(outbound(seen), Ok(far));
        let v6 = Endpoint {
            ip: "2001:db8::1".parse().unwrap(),
            port: 80,
        };
        assert_eq!(outbound(v6), Err(Errno::ENETUNREACH));
        let dns_other = Endpoint {
            ip: DNS.to_ipv6_mapped(),
            port: 80,
        };
        assert_eq!(outbound(dns_other), Err(Errno::ECONNREFUSED));
    }
}
