//! The options of the inet levels (SOL_IP, SOL_IPV6, SOL_TCP, SOL_UDP): checked as
//! Linux checks them and kept, so that a program reads back what it set. Loopback
//! has no use for most of them (there is no TTL to count down, no segment size to
//! honour); the ones that change behaviour are read by the sockets (IPV6_V6ONLY).

use std::collections::BTreeMap;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::addr::Family;

pub const SOL_IP: i32 = 0;
pub const SOL_TCP: i32 = 6;
pub const SOL_UDP: i32 = 17;
pub const SOL_IPV6: i32 = 41;

pub const IP_TOS: i32 = 1;
pub const IP_TTL: i32 = 2;
pub const IP_PKTINFO: i32 = 8;
pub const IP_RECVTTL: i32 = 12;
pub const IP_RECVTOS: i32 = 13;
pub const IPV6_UNICAST_HOPS: i32 = 16;
pub const IPV6_RECVPKTINFO: i32 = 49;
pub const IPV6_PKTINFO: i32 = 50;
pub const IPV6_RECVHOPLIMIT: i32 = 51;
pub const IPV6_HOPLIMIT: i32 = 52;
pub const IPV6_RECVTCLASS: i32 = 66;
pub const IPV6_TCLASS: i32 = 67;
pub const TCP_NODELAY: i32 = 1;
pub const TCP_MAXSEG: i32 = 2;
pub const TCP_CONGESTION: i32 = 13;
pub const IPV6_V6ONLY: i32 = 26;

/// TCP_MSS_DEFAULT: what TCP_MAXSEG says before a connection has a path.
pub const MSS_DEFAULT: i32 = 536;
/// TCP_CA_NAME_MAX, and the congestion controls one can ask for (Linux's default
/// and the one always built in).
const CA_NAME_MAX: usize = 16;
const CONGESTION: [&str; 2] = ["cubic", "reno"];

/// The protocol of the socket asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// How a value is checked.
#[derive(Clone, Copy)]
enum Rule {
    /// Kept as 0 or 1.
    Bool,
    /// Within the bounds, else EINVAL.
    Range(i32, i32),
    /// Within the bounds, or -1 for the default.
    OrDefault(i32, i32),
    /// IP_TOS: a byte; TCP keeps its ECN bits (the low two) to itself.
    Tos,
    /// TCP_MAXSEG: TCP_MIN_MSS to MAX_TCP_WINDOW, or 0 for the default.
    Mss,
}

struct Known {
    level: i32,
    name: i32,
    default: i32,
    rule: Rule,
}

const fn opt(level: i32, name: i32, default: i32, rule: Rule) -> Known {
    Known {
        level,
        name,
        default,
        rule,
    }
}

/// Every option kept, with Linux's default and checks.
const KNOWN: &[Known] = &[
    opt(SOL_IP, IP_TOS, 0, Rule::Tos),
    opt(SOL_IP, IP_TTL, 64, Rule::OrDefault(1, 255)),
    opt(SOL_IP, IP_PKTINFO, 0, Rule::Bool),
    opt(SOL_IP, 10, 1, Rule::Range(0, 5)), // IP_MTU_DISCOVER
    opt(SOL_IP, 11, 0, Rule::Bool),        // IP_RECVERR
    opt(SOL_IP, IP_RECVTTL, 0, Rule::Bool),
    opt(SOL_IP, IP_RECVTOS, 0, Rule::Bool),
    opt(SOL_IP, 15, 0, Rule::Bool),              // IP_FREEBIND
    opt(SOL_IP, 24, 0, Rule::Bool),              // IP_BIND_ADDRESS_NO_PORT
    opt(SOL_IP, 33, 1, Rule::OrDefault(0, 255)), // IP_MULTICAST_TTL
    opt(SOL_IP, 34, 1, Rule::Bool),              // IP_MULTICAST_LOOP
    opt(SOL_TCP, TCP_NODELAY, 0, Rule::Bool),
    opt(SOL_TCP, TCP_MAXSEG, MSS_DEFAULT, Rule::Mss),
    opt(SOL_TCP, 3, 0, Rule::Bool),                // TCP_CORK
    opt(SOL_TCP, 4, 7200, Rule::Range(1, 32767)),  // TCP_KEEPIDLE
    opt(SOL_TCP, 5, 75, Rule::Range(1, 32767)),    // TCP_KEEPINTVL
    opt(SOL_TCP, 6, 9, Rule::Range(1, 127)),       // TCP_KEEPCNT
    opt(SOL_TCP, 7, 6, Rule::Range(1, 127)),       // TCP_SYNCNT
    opt(SOL_TCP, 12, 1, Rule::Bool),               // TCP_QUICKACK
    opt(SOL_TCP, 18, 0, Rule::Range(0, i32::MAX)), // TCP_USER_TIMEOUT
    opt(SOL_UDP, 1, 0, Rule::Bool),                // UDP_CORK
    opt(SOL_IPV6, IPV6_UNICAST_HOPS, 64, Rule::OrDefault(0, 255)),
    opt(SOL_IPV6, 18, 1, Rule::OrDefault(0, 255)), // IPV6_MULTICAST_HOPS
    opt(SOL_IPV6, 19, 1, Rule::Bool),              // IPV6_MULTICAST_LOOP
    opt(SOL_IPV6, IPV6_V6ONLY, 0, Rule::Bool),
    opt(SOL_IPV6, IPV6_RECVPKTINFO, 0, Rule::Bool),
    opt(SOL_IPV6, IPV6_RECVHOPLIMIT, 0, Rule::Bool),
    opt(SOL_IPV6, IPV6_RECVTCLASS, 0, Rule::Bool),
    opt(SOL_IPV6, IPV6_TCLASS, 0, Rule::OrDefault(0, 255)),
];

/// A socket's options at the inet levels: those set, by (level, name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InetOpts {
    set: BTreeMap<(i32, i32), i32>,
    /// TCP_CONGESTION, when set.
    congestion: Option<String>,
}

/// Whether a socket of `fam` and `proto` has options at `level`: Ok, or what Linux
/// answers a setsockopt (ENOPROTOOPT) or getsockopt (EOPNOTSUPP, as ip_getsockopt
/// says for levels it does not know) at a level the socket does not have.
fn level_of(fam: Family, proto: Proto, level: i32, get: bool) -> Result<(), Errno> {
    let has = match level {
        SOL_IP => true,
        SOL_IPV6 => fam == Family::V6,
        SOL_TCP => proto == Proto::Tcp,
        // udp_lib_getsockopt answers itself: unknown UDP options are ENOPROTOOPT.
        SOL_UDP if proto == Proto::Udp => return Ok(()),
        _ => false,
    };
    match (has, get) {
        (true, _) => Ok(()),
        (false, false) => Err(Errno::ENOPROTOOPT),
        (false, true) => Err(Errno::EOPNOTSUPP),
    }
}

fn known(level: i32, name: i32) -> Result<&'static Known, Errno> {
    KNOWN
        .iter()
        .find(|k| k.level == level && k.name == name)
        .ok_or(Errno::ENOPROTOOPT)
}

impl InetOpts {
    /// setsockopt at an inet level.
    pub fn set(
        &mut self,
        fam: Family,
        proto: Proto,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Result<(), Errno> {
        level_of(fam, proto, level, false)?;
        if (level, name) == (SOL_TCP, TCP_CONGESTION) {
            return self.set_congestion(val);
        }
        let k = known(level, name)?;
        let b: [u8; 4] = val
            .get(..4)
            .ok_or(Errno::EINVAL)?
            .try_into()
            .map_err(|_| Errno::EINVAL)?;
        let v = i32::from_ne_bytes(b);
        let kept = match k.rule {
            Rule::Bool => i32::from(v != 0),
            Rule::Range(lo, hi) if (lo..=hi).contains(&v) => v,
            Rule::OrDefault(_, _) if v == -1 => k.default,
            Rule::OrDefault(lo, hi) if (lo..=hi).contains(&v) => v,
            Rule::Mss if v == 0 => k.default,
            Rule::Mss if (88..=32767).contains(&v) => v,
            Rule::Tos if proto == Proto::Tcp => v & 0xfc,
            Rule::Tos => v & 0xff,
            _ => return Err(Errno::EINVAL),
        };
        self.set.insert((level, name), kept);
        Ok(())
    }

    fn set_congestion(&mut self, val: &[u8]) -> Result<(), Errno> {
        let raw = &val[..val.len().min(CA_NAME_MAX - 1)];
        let name = raw.split(|&c| c == 0).next().unwrap_or_default();
        let name = CONGESTION
            .iter()
            .find(|c| c.as_bytes() == name)
            .ok_or(Errno::ENOENT)?;
        self.congestion = Some(name.to_string());
        Ok(())
    }

    /// getsockopt at an inet level: the value's bytes (the caller cuts them to the
    /// guest's length).
    pub fn get(&self, fam: Family, proto: Proto, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        level_of(fam, proto, level, true)?;
        if (level, name) == (SOL_TCP, TCP_CONGESTION) {
            let mut out = self
                .congestion
                .as_deref()
                .unwrap_or(CONGESTION[0])
                .as_bytes()
                .to_vec();
            out.resize(CA_NAME_MAX, 0);
            return Ok(out);
        }
        known(level, name)?;
        Ok(self.int(level, name).to_ne_bytes().to_vec())
    }

    /// An option's value: what was set, else Linux's default (0 for unknown ones).
    pub fn int(&self, level: i32, name: i32) -> i32 {
        self.set
            .get(&(level, name))
            .copied()
            .or_else(|| known(level, name).ok().map(|k| k.default))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i32) -> Vec<u8> {
        v.to_ne_bytes().to_vec()
    }

    #[test]
    fn values_are_checked_and_kept_as_linux_does() {
        let mut o = InetOpts::default();
        let (v4, tcp) = (Family::V4, Proto::Tcp);
        let set = |o: &mut InetOpts, level, name, v| o.set(v4, tcp, level, name, &int(v));
        assert_eq!(set(&mut o, SOL_TCP, TCP_NODELAY, 5), Ok(()));
        assert_eq!(o.int(SOL_TCP, TCP_NODELAY), 1);
        assert_eq!(set(&mut o, SOL_IP, IP_TTL, 0), Err(Errno::EINVAL));
        assert_eq!(set(&mut o, SOL_IP, IP_TTL, 7), Ok(()));
        assert_eq!(set(&mut o, SOL_IP, IP_TTL, -1), Ok(()));
        assert_eq!(o.int(SOL_IP, IP_TTL), 64);
        assert_eq!(set(&mut o, SOL_IP, IP_TOS, 0x13), Ok(()));
        assert_eq!(o.get(v4, tcp, SOL_IP, IP_TOS), Ok(int(0x10)));
        assert_eq!(set(&mut o, SOL_TCP, 4, 0), Err(Errno::EINVAL));
        assert_eq!(set(&mut o, SOL_TCP, TCP_MAXSEG, 10), Err(Errno::EINVAL));
        assert_eq!(o.int(SOL_TCP, TCP_MAXSEG), MSS_DEFAULT);
        assert_eq!(set(&mut o, SOL_TCP, 9999, 1), Err(Errno::ENOPROTOOPT));
        assert_eq!(o.get(v4, tcp, SOL_TCP, 9999), Err(Errno::ENOPROTOOPT));
        assert_eq!(
            o.set(v4, tcp, SOL_TCP, TCP_NODELAY, &[1, 0]),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn levels_belong_to_families_and_protocols() {
        let mut o = InetOpts::default();
        let one = int(1);
        assert_eq!(
            o.set(Family::V4, Proto::Tcp, SOL_IPV6, IPV6_V6ONLY, &one),
            Err(Errno::ENOPROTOOPT)
        );
        assert_eq!(
            o.get(Family::V4, Proto::Tcp, SOL_IPV6, IPV6_V6ONLY),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            o.get(Family::V4, Proto::Udp, SOL_TCP, TCP_NODELAY),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            o.set(Family::V6, Proto::Udp, SOL_IPV6, IPV6_V6ONLY, &one),
            Ok(())
        );
        assert_eq!(o.int(SOL_IPV6, IPV6_V6ONLY), 1);
        assert_eq!(o.get(Family::V4, Proto::Udp, 99, 1), Err(Errno::EOPNOTSUPP));
        assert_eq!(
            o.set(Family::V4, Proto::Udp, SOL_UDP, 99, &one),
            Err(Errno::ENOPROTOOPT)
        );
    }

    #[test]
    fn congestion_control_by_name() {
        let mut o = InetOpts::default();
        let (v4, tcp) = (Family::V4, Proto::Tcp);
        let name = o.get(v4, tcp, SOL_TCP, TCP_CONGESTION).unwrap();
        assert_eq!(&name[..6], b"cubic\0");
        assert_eq!(o.set(v4, tcp, SOL_TCP, TCP_CONGESTION, b"reno"), Ok(()));
        assert_eq!(
            &o.get(v4, tcp, SOL_TCP, TCP_CONGESTION).unwrap()[..5],
            b"reno\0"
        );
        assert_eq!(
            o.set(v4, tcp, SOL_TCP, TCP_CONGESTION, b"bogus"),
            Err(Errno::ENOENT)
        );
    }
}
