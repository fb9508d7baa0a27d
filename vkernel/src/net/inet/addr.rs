//! AF_INET and AF_INET6 addresses (struct sockaddr_in, sockaddr_in6) as Linux reads
//! and reports them, and the guest's one interface: lo, with 127.0.0.0/8 and ::1.
//!
//! Inside the kernel every address is an `Ipv6Addr`, IPv4 ones v4-mapped
//! (::ffff:a.b.c.d, as a dual-stack socket sees them), so that one port table serves
//! both families and a v6 socket compares v4 peers directly. Which family a socket
//! reports them in is the socket's business ([`Family::sockaddr`]).

use std::net::{Ipv4Addr, Ipv6Addr};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::net::addr::family;
use crate::net::nat;
use crate::net::AF_UNSPEC;

pub const AF_INET: i32 = 2;
pub const AF_INET6: i32 = 10;

/// sizeof(struct sockaddr_in).
const SOCKADDR_IN: usize = 16;
/// RFC 2133's sockaddr_in6, without sin6_scope_id: the shortest Linux takes.
const SIN6_LEN_RFC2133: usize = 24;

/// 0.0.0.0 and 127.0.0.1, v4-mapped.
pub const ANY4: Ipv6Addr = Ipv4Addr::UNSPECIFIED.to_ipv6_mapped();
pub const LOOPBACK4: Ipv6Addr = Ipv4Addr::LOCALHOST.to_ipv6_mapped();

/// An address and a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip: Ipv6Addr,
    pub port: u16,
}

/// An IPv4 address (v4-mapped).
pub fn is_v4(ip: &Ipv6Addr) -> bool {
    ip.to_ipv4_mapped().is_some()
}

/// INADDR_ANY or in6addr_any.
pub fn is_any(ip: &Ipv6Addr) -> bool {
    *ip == ANY4 || ip.is_unspecified()
}

/// An address of the guest's own (Linux's RTN_LOCAL): lo's 127.0.0.0/8 and ::1, and
/// vke0's 10.0.2.15 when it exists. Traffic between them stays in the kernel.
pub fn is_local(ip: &Ipv6Addr) -> bool {
    match ip.to_ipv4_mapped() {
        Some(v4) => v4.is_loopback() || (nat::enabled() && v4 == nat::GUEST),
        None => ip.is_loopback(),
    }
}

/// A socket's address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn number(self) -> i32 {
        match self {
            Family::V4 => AF_INET,
            Family::V6 => AF_INET6,
        }
    }

    /// The wildcard address an unbound socket reports.
    pub fn any(self) -> Ipv6Addr {
        match self {
            Family::V4 => ANY4,
            Family::V6 => Ipv6Addr::UNSPECIFIED,
        }
    }

    /// The sockaddr getsockname, getpeername, accept and recvfrom report.
    pub fn sockaddr(self, ep: Endpoint) -> Vec<u8> {
        let mut out = (self.number() as u16).to_ne_bytes().to_vec();
        out.extend_from_slice(&ep.port.to_be_bytes());
        match self {
            Family::V4 => {
                let v4 = ep.ip.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED);
                out.extend_from_slice(&v4.octets());
                out.resize(SOCKADDR_IN, 0);
            }
            Family::V6 => {
                out.extend_from_slice(&[0; 4]); // sin6_flowinfo
                out.extend_from_slice(&ep.ip.octets());
                out.extend_from_slice(&[0; 4]); // sin6_scope_id
            }
        }
        out
    }

    /// A sockaddr of this family (the length and family checked as `bind` and
    /// `connect` check them): EINVAL if too short, EAFNOSUPPORT for another family.
    /// An AF_INET socket also takes AF_UNSPEC when `unspec_ok` (for bind, only with
    /// INADDR_ANY: the caller checks).
    fn parse(self, raw: &[u8], min_v6: usize, unspec_ok: bool) -> Result<(Endpoint, i32), Errno> {
        let (min, af) = match self {
            Family::V4 => (SOCKADDR_IN, AF_INET),
            Family::V6 => (min_v6, AF_INET6),
        };
        if raw.len() < min {
            return Err(Errno::EINVAL);
        }
        let given = family(raw)?;
        if given != af && !(unspec_ok && given == AF_UNSPEC) {
            return Err(Errno::EAFNOSUPPORT);
        }
        let port = u16::from_be_bytes([raw[2], raw[3]]);
        let ip = match self {
            Family::V4 => Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]).to_ipv6_mapped(),
            Family::V6 => {
                let b: [u8; 16] = raw[8..24].try_into().map_err(|_| Errno::EINVAL)?;
                Ipv6Addr::from(b)
            }
        };
        Ok((Endpoint { ip, port }, given))
    }

    /// bind's address (inet_bind, inet6_bind): a local address or a wildcard, else
    /// EADDRNOTAVAIL; a v4-mapped one only for a socket that is not v6-only (EINVAL).
    pub fn parse_bind(self, raw: &[u8], v6only: bool) -> Result<Endpoint, Errno> {
        let (ep, given) = self.parse(raw, SIN6_LEN_RFC2133, self == Family::V4)?;
        // BSD's AF_UNSPEC bind only for INADDR_ANY (Linux keeps it for old programs).
        if given == AF_UNSPEC && ep.ip != ANY4 {
            return Err(Errno::EAFNOSUPPORT);
        }
        if self == Family::V6 && is_v4(&ep.ip) && v6only {
            return Err(Errno::EINVAL);
        }
        if !is_any(&ep.ip) && !is_local(&ep.ip) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        Ok(ep)
    }

    /// A TCP connect's destination (tcp_v4_connect, tcp_v6_connect).
    pub fn parse_connect(self, raw: &[u8]) -> Result<Endpoint, Errno> {
        Ok(self.parse(raw, SIN6_LEN_RFC2133, false)?.0)
    }

    /// A datagram's destination (udp_sendmsg, udpv6_sendmsg, the datagram connects):
    /// an AF_INET socket takes AF_UNSPEC as AF_INET; an AF_INET6 one also takes a
    /// sockaddr_in (as v4-mapped). None: AF_UNSPEC on AF_INET6, no destination.
    pub fn parse_dest(self, raw: &[u8]) -> Result<Option<Endpoint>, Errno> {
        if self == Family::V6 && family(raw)? == AF_INET {
            return Family::V4.parse_dest(raw);
        }
        if self == Family::V6 && family(raw)? == AF_UNSPEC {
            return Ok(None);
        }
        let ep = self.parse(raw, SIN6_LEN_RFC2133, self == Family::V4)?.0;
        Ok(Some(ep))
    }
}

/// Where a packet to `dst` goes from a socket of `fam` (v6-only or not): lo, with
/// the wildcard meaning loopback (Linux routes 0.0.0.0 and :: to the host itself),
/// for the guest's own addresses ([`is_local`]); vke0 for other IPv4 addresses when
/// it exists; else ENETUNREACH.
pub fn route(fam: Family, v6only: bool, dst: Endpoint) -> Result<Endpoint, Errno> {
    let ip = match dst.ip {
        ip if ip == ANY4 => LOOPBACK4,
        ip if ip.is_unspecified() => Ipv6Addr::LOCALHOST,
        ip => ip,
    };
    if is_v4(&ip) && fam == Family::V6 && v6only {
        return Err(Errno::ENETUNREACH);
    }
    let out_vke0 = nat::enabled() && is_v4(&ip);
    if !is_local(&ip) && !out_vke0 {
        return Err(Errno::ENETUNREACH);
    }
    Ok(Endpoint { ip, port: dst.port })
}

/// The source address of a packet to `dst` (on lo, lo's primary address of the
/// family: 127.0.0.1 even towards 127.0.0.2, as Linux's route says `src 127.0.0.1`;
/// to vke0's own address or out through it, vke0's), unless the socket is bound to a
/// specific one.
pub fn source_for(bound: &Ipv6Addr, dst: &Ipv6Addr) -> Ipv6Addr {
    if !is_any(bound) {
        *bound
    } else if is_v4(dst) && (*dst == nat::guest_ip() || !is_local(dst)) {
        nat::guest_ip()
    } else if is_v4(dst) {
        LOOPBACK4
    } else {
        Ipv6Addr::LOCALHOST
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(ip: [u8; 4], port: u16) -> Vec<u8> {
        Family::V4.sockaddr(Endpoint {
            ip: Ipv4Addr::from(ip).to_ipv6_mapped(),
            port,
        })
    }

    #[test]
    fn sockaddrs_round_trip_in_both_families() {
        let raw = v4([127, 0, 0, 1], 8080);
        assert_eq!(raw.len(), 16);
        assert_eq!(&raw[2..8], &[0x1f, 0x90, 127, 0, 0, 1]);
        let ep = Family::V4.parse_connect(&raw).unwrap();
        assert_eq!((ep.ip, ep.port), (LOOPBACK4, 8080));
        let six = Family::V6.sockaddr(ep);
        assert_eq!(six.len(), 28);
        assert_eq!(Family::V6.parse_connect(&six), Ok(ep));
        assert_eq!(Family::V6.parse_connect(&six[..24]), Ok(ep));
        assert_eq!(Family::V6.parse_connect(&six[..23]), Err(Errno::EINVAL));
        assert_eq!(Family::V4.parse_connect(&raw[..15]), Err(Errno::EINVAL));
        assert_eq!(Family::V4.parse_connect(&six), Err(Errno::EAFNOSUPPORT));
    }

    #[test]
    fn bind_takes_local_and_wildcard_addresses_only() {
        assert!(Family::V4.parse_bind(&v4([127, 0, 0, 9], 1), false).is_ok());
        assert!(Family::V4.parse_bind(&v4([0, 0, 0, 0], 0), false).is_ok());
        let far = v4([192, 0, 2, 1], 0);
        assert_eq!(
            Family::V4.parse_bind(&far, false),
            Err(Errno::EADDRNOTAVAIL)
        );
        let mut unspec = v4([0, 0, 0, 0], 0);
        unspec[0..2].copy_from_slice(&0u16.to_ne_bytes());
        assert!(Family::V4.parse_bind(&unspec, false).is_ok());
        let mut unspec_lo = v4([127, 0, 0, 1], 0);
        unspec_lo[0..2].copy_from_slice(&0u16.to_ne_bytes());
        assert_eq!(
            Family::V4.parse_bind(&unspec_lo, false),
            Err(Errno::EAFNOSUPPORT)
        );
        let mapped = Family::V6.sockaddr(Endpoint {
            ip: LOOPBACK4,
            port: 0,
        });
        assert!(Family::V6.parse_bind(&mapped, false).is_ok());
        assert_eq!(Family::V6.parse_bind(&mapped, true), Err(Errno::EINVAL));
    }

    #[test]
    fn routes_lead_to_lo_or_nowhere() {
        let to = |ip, port| Endpoint { ip, port };
        assert_eq!(route(Family::V4, false, to(ANY4, 5)), Ok(to(LOOPBACK4, 5)));
        let v6any = to(Ipv6Addr::UNSPECIFIED, 5);
        assert_eq!(
            route(Family::V6, false, v6any),
            Ok(to(Ipv6Addr::LOCALHOST, 5))
        );
        assert_eq!(
            route(Family::V6, true, to(LOOPBACK4, 5)),
            Err(Errno::ENETUNREACH)
        );
        let far = Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped();
        assert_eq!(
            route(Family::V4, false, to(far, 5)),
            Err(Errno::ENETUNREACH)
        );
        let two = Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped();
        assert_eq!(source_for(&ANY4, &two), LOOPBACK4);
        assert_eq!(source_for(&two, &LOOPBACK4), two);
    }
}
