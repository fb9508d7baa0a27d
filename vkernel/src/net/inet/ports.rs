//! A protocol's port table: who holds which port on which address, Linux's rules for
//! sharing one (inet_csk_bind_conflict, udp_lib_lport_inuse), ephemeral ports, and
//! the lookup of the socket a connection or datagram goes to.
//!
//! Every bound socket has an entry: listeners, connected sockets on their ephemeral
//! ports, and accepted ones on their listener's port (so a server restarted while
//! its connections live gets EADDRINUSE without SO_REUSEADDR, as on Linux). TCP's
//! TIME_WAIT is not kept: a port is free once its last socket is gone.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::{Arc, Weak};

use nix::errno::Errno;

use super::addr::{is_v4, ANY4};

/// net.ipv4.ip_local_port_range's default.
pub const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

/// What lets sockets share a port: SO_REUSEADDR, SO_REUSEPORT (among sockets of one
/// user) when they bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    pub reuse: bool,
    pub reuseport: bool,
    pub uid: u32,
}

/// One socket's hold on a port.
#[derive(Debug)]
pub struct Entry<T> {
    /// The socket's identity in the table (`next_id`).
    pub id: u64,
    pub ip: Ipv6Addr,
    /// IPV6_V6ONLY: a v6 wildcard that does not take IPv4.
    pub v6only: bool,
    pub share: Share,
    pub listening: bool,
    pub owner: Weak<T>,
}

/// The addresses an entry takes, per family.
#[derive(PartialEq)]
enum Span {
    None,
    Any,
    One(Ipv6Addr),
}

impl<T> Entry<T> {
    fn spans(&self) -> (Span, Span) {
        let any6 = self.ip.is_unspecified();
        let v4 = match self.ip {
            ip if ip == ANY4 => Span::Any,
            ip if is_v4(&ip) => Span::One(ip),
            _ if any6 && !self.v6only => Span::Any,
            _ => Span::None,
        };
        let v6 = match self.ip {
            _ if any6 => Span::Any,
            ip if is_v4(&ip) => Span::None,
            ip => Span::One(ip),
        };
        (v4, v6)
    }

    /// Whether a packet to `ip` may reach this entry's socket.
    pub fn takes(&self, ip: &Ipv6Addr) -> bool {
        let (v4, v6) = self.spans();
        let span = if is_v4(ip) { v4 } else { v6 };
        span == Span::Any || span == Span::One(*ip)
    }

    /// Whether some address is taken by both.
    fn overlaps(&self, other: &Entry<T>) -> bool {
        let meet = |a: Span, b: Span| match (a, b) {
            (Span::None, _) | (_, Span::None) => false,
            (Span::One(x), Span::One(y)) => x == y,
            _ => true,
        };
        let (a4, a6) = self.spans();
        let (b4, b6) = other.spans();
        meet(a4, b4) || meet(a6, b6)
    }

    /// Whether this entry may not join `other` on its port (inet_bind_conflict as a
    /// bind or listen applies it; UDP's rule is the same, nothing listening there).
    fn conflicts(&self, other: &Entry<T>) -> bool {
        let (a, b) = (self.share, other.share);
        self.overlaps(other)
            && !(a.reuse && b.reuse && !other.listening)
            && !(a.reuseport && b.reuseport && a.uid == b.uid)
    }
}

/// The ports of one protocol (TCP or UDP) and the sockets on them.
#[derive(Debug)]
pub struct PortTable<T> {
    ports: BTreeMap<u16, Vec<Entry<T>>>,
    /// Where the next search for an ephemeral port starts.
    cursor: u16,
    ids: u64,
}

impl<T> Default for PortTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PortTable<T> {
    pub const fn new() -> PortTable<T> {
        PortTable {
            ports: BTreeMap::new(),
            cursor: *EPHEMERAL.start(),
            ids: 0,
        }
    }

    /// A fresh identity for an entry.
    pub fn next_id(&mut self) -> u64 {
        self.ids += 1;
        self.ids
    }

    /// Takes `port` (0: a free ephemeral port) for `e`: EADDRINUSE if another socket
    /// holds an overlapping address there and they may not share it (SO_REUSEADDR on
    /// both and the other not listening; SO_REUSEPORT on both, one user's). Returns
    /// the port.
    pub fn bind(&mut self, port: u16, e: Entry<T>) -> Result<u16, Errno> {
        let port = match port {
            0 => self.free_port().ok_or(Errno::EADDRINUSE)?,
            p => p,
        };
        let taken = self
            .ports
            .get(&port)
            .is_some_and(|holders| holders.iter().any(|o| e.conflicts(o)));
        if taken {
            return Err(Errno::EADDRINUSE);
        }
        self.insert(port, e);
        Ok(port)
    }

    /// Puts `e` on `port` without asking anyone (an accepted connection on its
    /// listener's port; a thaw putting back what was there).
    pub fn insert(&mut self, port: u16, e: Entry<T>) {
        self.ports.entry(port).or_default().push(e);
    }

    /// The next port of the ephemeral range nobody holds.
    fn free_port(&mut self) -> Option<u16> {
        let (lo, hi) = (*EPHEMERAL.start(), *EPHEMERAL.end());
        for _ in EPHEMERAL {
            let p = self.cursor;
            self.cursor = if p >= hi { lo } else { p + 1 };
            if !self.ports.contains_key(&p) {
                return Some(p);
            }
        }
        None
    }

    pub fn unbind(&mut self, port: u16, id: u64) {
        if let Some(holders) = self.ports.get_mut(&port) {
            holders.retain(|e| e.id != id);
            if holders.is_empty() {
                self.ports.remove(&port);
            }
        }
    }

    /// A bound entry starts listening: EADDRINUSE if it overlaps one it may not
    /// share with (SO_REUSEADDR does not let two listen, SO_REUSEPORT does).
    pub fn listen(&mut self, port: u16, id: u64) -> Result<(), Errno> {
        let holders = self.ports.get_mut(&port).ok_or(Errno::EINVAL)?;
        let me = holders
            .iter()
            .position(|e| e.id == id)
            .ok_or(Errno::EINVAL)?;
        let conflict = holders
            .iter()
            .enumerate()
            .any(|(i, o)| i != me && holders[me].conflicts(o));
        if conflict {
            return Err(Errno::EADDRINUSE);
        }
        holders[me].listening = true;
        Ok(())
    }

    pub fn unlisten(&mut self, port: u16, id: u64) {
        if let Some(e) = self.entry_mut(port, id) {
            e.listening = false;
        }
    }

    /// A connect on a socket bound to a wildcard fixes its local address.
    pub fn set_ip(&mut self, port: u16, id: u64, ip: Ipv6Addr) {
        if let Some(e) = self.entry_mut(port, id) {
            e.ip = ip;
        }
    }

    fn entry_mut(&mut self, port: u16, id: u64) -> Option<&mut Entry<T>> {
        self.ports.get_mut(&port)?.iter_mut().find(|e| e.id == id)
    }

    /// Every socket in the table, by port.
    pub fn owners(&self) -> Vec<Arc<T>> {
        self.ports
            .values()
            .flatten()
            .filter_map(|e| e.owner.upgrade())
            .collect()
    }

    /// The sockets on `port` that take packets to `ip` and pass `wanted`, those bound
    /// to exactly `ip` first (Linux's lookup scores a specific address over a
    /// wildcard), then in the order they bound.
    pub fn lookup(
        &self,
        port: u16,
        ip: &Ipv6Addr,
        wanted: impl Fn(&Entry<T>) -> bool,
    ) -> Vec<Arc<T>> {
        let Some(holders) = self.ports.get(&port) else {
            return Vec::new();
        };
        let mut found: Vec<&Entry<T>> = holders
            .iter()
            .filter(|e| e.takes(ip) && wanted(e))
            .collect();
        found.sort_by_key(|e| e.ip != *ip);
        found.iter().filter_map(|e| e.owner.upgrade()).collect()
    }

    /// The sockets `lookup` ranks first: those bound to exactly `ip` if any, else
    /// the wildcard ones (more than one: a SO_REUSEPORT group).
    pub fn lookup_best(
        &self,
        port: u16,
        ip: &Ipv6Addr,
        wanted: impl Fn(&Entry<T>) -> bool,
    ) -> Vec<Arc<T>> {
        let exact = self.lookup(port, ip, |e| e.ip == *ip && wanted(e));
        if exact.is_empty() {
            self.lookup(port, ip, wanted)
        } else {
            exact
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv6Addr {
        Ipv4Addr::new(a, b, c, d).to_ipv6_mapped()
    }

    struct Sock;

    fn entry(t: &mut PortTable<Sock>, ip: Ipv6Addr, reuse: bool, v6only: bool) -> Entry<Sock> {
        Entry {
            id: t.next_id(),
            ip,
            v6only,
            share: Share {
                reuse,
                ..Share::default()
            },
            listening: false,
            owner: Weak::new(),
        }
    }

    #[test]
    fn overlapping_addresses_conflict() {
        let mut t = PortTable::new();
        let lo = v4(127, 0, 0, 1);
        let a = entry(&mut t, lo, false, false);
        assert_eq!(t.bind(5000, a), Ok(5000));
        for (ip, v6only, want) in [
            (lo, false, Err(Errno::EADDRINUSE)),
            (ANY4, false, Err(Errno::EADDRINUSE)),
            (v4(127, 0, 0, 2), false, Ok(5000)),
            (Ipv6Addr::UNSPECIFIED, false, Err(Errno::EADDRINUSE)),
            (Ipv6Addr::UNSPECIFIED, true, Ok(5000)),
            (Ipv6Addr::LOCALHOST, false, Ok(5000)),
        ] {
            let e = entry(&mut t, ip, false, v6only);
            let id = e.id;
            assert_eq!(t.bind(5000, e), want, "{ip} v6only {v6only}");
            t.unbind(5000, id);
        }
    }

    #[test]
    fn reuseaddr_shares_a_port_until_one_listens() {
        let mut t = PortTable::new();
        let a = entry(&mut t, ANY4, true, false);
        let a_id = a.id;
        t.bind(6000, a).unwrap();
        let b = entry(&mut t, v4(127, 0, 0, 1), true, false);
        let b_id = b.id;
        assert_eq!(t.bind(6000, b), Ok(6000));
        let c = entry(&mut t, ANY4, false, false);
        assert_eq!(t.bind(6000, c), Err(Errno::EADDRINUSE));
        assert_eq!(t.listen(6000, a_id), Ok(()));
        assert_eq!(t.listen(6000, b_id), Err(Errno::EADDRINUSE));
        let d = entry(&mut t, ANY4, true, false);
        assert_eq!(t.bind(6000, d), Err(Errno::EADDRINUSE));
        t.unlisten(6000, a_id);
        assert_eq!(t.listen(6000, b_id), Ok(()));
    }

    #[test]
    fn reuseport_lets_one_user_listen_twice() {
        let mut t = PortTable::new();
        let rp = |t: &mut PortTable<Sock>, uid| {
            let mut e = entry(t, ANY4, false, false);
            e.share.reuseport = true;
            e.share.uid = uid;
            e
        };
        let a = rp(&mut t, 1000);
        let a_id = a.id;
        t.bind(8000, a).unwrap();
        t.listen(8000, a_id).unwrap();
        let b = rp(&mut t, 1000);
        let b_id = b.id;
        assert_eq!(t.bind(8000, b), Ok(8000));
        assert_eq!(t.listen(8000, b_id), Ok(()));
        let other_user = rp(&mut t, 1001);
        assert_eq!(t.bind(8000, other_user), Err(Errno::EADDRINUSE));
        let plain = entry(&mut t, ANY4, false, false);
        assert_eq!(t.bind(8000, plain), Err(Errno::EADDRINUSE));
    }

    #[test]
    fn ephemeral_ports_are_free_ones_in_the_range() {
        let mut t = PortTable::new();
        let a = entry(&mut t, ANY4, false, false);
        let pa = t.bind(0, a).unwrap();
        let b = entry(&mut t, ANY4, false, false);
        let pb = t.bind(0, b).unwrap();
        assert!(EPHEMERAL.contains(&pa) && EPHEMERAL.contains(&pb) && pa != pb);
        t.cursor = *EPHEMERAL.end();
        let c = entry(&mut t, ANY4, false, false);
        assert_eq!(t.bind(0, c), Ok(*EPHEMERAL.end()));
        let d = entry(&mut t, ANY4, false, false);
        assert_eq!(
            t.bind(0, d),
            Ok(pb + 1),
            "wraps to the start, past taken ports"
        );
    }

    #[test]
    fn lookup_prefers_the_specific_address_and_honours_v6only() {
        let mut t: PortTable<Sock> = PortTable::new();
        let keep: Vec<Arc<Sock>> = (0..3).map(|_| Arc::new(Sock)).collect();
        let mut add = |ip, v6only, owner: &Arc<Sock>| {
            let mut e = entry(&mut t, ip, true, v6only);
            e.owner = Arc::downgrade(owner);
            t.bind(7000, e).unwrap();
        };
        add(Ipv6Addr::UNSPECIFIED, true, &keep[0]);
        add(ANY4, false, &keep[1]);
        add(v4(127, 0, 0, 1), false, &keep[2]);
        let found = t.lookup(7000, &v4(127, 0, 0, 1), |_| true);
        assert_eq!(found.len(), 2);
        assert!(Arc::ptr_eq(&found[0], &keep[2]) && Arc::ptr_eq(&found[1], &keep[1]));
        let six = t.lookup(7000, &Ipv6Addr::LOCALHOST, |_| true);
        assert!(six.len() == 1 && Arc::ptr_eq(&six[0], &keep[0]));
        assert!(t.lookup(7001, &Ipv6Addr::LOCALHOST, |_| true).is_empty());
    }
}
