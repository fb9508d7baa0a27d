//! UDP over lo: a datagram goes straight into the queue of the socket bound where it
//! is sent (the one bound to exactly that address first, and a connected socket only
//! hears its peer), with the sender's address. Nobody there: the datagram is lost,
//! and a connected sender learns it (ECONNREFUSED on its next call, as from Linux's
//! ICMP port unreachable). A queue holds at most SO_RCVBUF; more is dropped.
//!
//! A datagram to an address off the guest goes out through vke0: the socket gets a
//! host UDP socket of its own (NAT), whose datagrams are pulled into the queue when
//! the guest looks, with their senders as the guest sees them. A thaw gives it a new
//! one at its next send (datagrams the old one had not pulled are lost, as UDP may).

use crate::net::Events;
use std::any::Any;
use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use nix::errno::Errno;

use super::addr::{is_local, is_v4, route, source_for, Endpoint, Family};
use super::opts::{
    InetOpts, Proto, IPV6_HOPLIMIT, IPV6_PKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO,
    IPV6_RECVTCLASS, IPV6_TCLASS, IPV6_UNICAST_HOPS, IPV6_V6ONLY, IP_PKTINFO, IP_RECVTOS,
    IP_RECVTTL, IP_TOS, IP_TTL, SOL_IP, SOL_IPV6,
};
use super::{bind_to, Binding, Hold, Ports, RCV_SHUTDOWN, SHUTDOWN_MASK};
use crate::fs::epoll::{
    EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLRDNORM, EPOLLWRBAND, EPOLLWRNORM,
};
use crate::net::addr::family;
use crate::net::iface::{interfaces, vke0_traffic, IFF_LOOPBACK};
use crate::net::nat::host::{with_buffer, HostSocket};
use crate::net::nat::{self, pump::Watcher};
use crate::net::{
    Common, Ctx, Incoming, Outgoing, SaveIndex, SavedSocket, SockType, Socket, Ucred, Wait,
    AF_UNSPEC, MSG_OOB, MSG_PEEK,
};

/// UDP's port table.
pub(super) static PORTS: Ports<UdpSocket> = Ports::new();

/// The largest datagram: 65535 less the UDP header, and for IPv4 its IP header.
const MAX_DGRAM_V4: usize = 65535 - 8 - 20;
const MAX_DGRAM_V6: usize = 65535 - 8;
/// What a queued datagram costs its receiver's buffer beyond its bytes (an skb).
const OVERHEAD: usize = 768;

pub struct UdpSocket {
    pub(super) fam: Family,
    me: Weak<UdpSocket>,
    pub(super) common: Common,
    st: Mutex<State>,
    ev: Events,
}

pub(super) struct State {
    pub bound: Binding,
    pub opts: InetOpts,
    /// connect's destination: where sends without an address go, and the only
    /// sender heard.
    pub peer: Option<Endpoint>,
    pub queue: VecDeque<Datagram>,
    pub shutdown: u8,
    pub err: Option<Errno>,
    pub released: bool,
    /// The host socket carrying its datagrams through vke0, once it sent one there.
    pub host: Option<HostSocket>,
}

/// A queued datagram, where it came from and what its IP header said: where it went,
/// its TOS or traffic class, its TTL or hop limit (for IP_PKTINFO and the like).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Datagram {
    pub data: Vec<u8>,
    pub from: Endpoint,
    pub to: Ipv6Addr,
    pub tos: u8,
    pub ttl: u8,
}

/// The receive buffer in use: the queued datagrams with their overhead.
fn rmem(st: &State) -> usize {
    st.queue.iter().map(|d| d.data.len() + OVERHEAD).sum()
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UdpSocket({:?})", self.fam)
    }
}

impl UdpSocket {
    pub fn create(fam: Family) -> Arc<UdpSocket> {
        Self::bare(fam)
    }

    pub fn bare(fam: Family) -> Arc<UdpSocket> {
        let st = State {
            bound: Binding::unbound(fam),
            opts: InetOpts::default(),
            peer: None,
            queue: VecDeque::new(),
            shutdown: 0,
            err: None,
            released: false,
            host: None,
        };
        Arc::new_cyclic(|me| UdpSocket {
            fam,
            me: me.clone(),
            common: Common::default(),
            st: Mutex::new(st),
            ev: Events::default(),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn input_event(&self) {
        self.ev.input();
    }

    fn v6only(&self, st: &State) -> bool {
        self.fam == Family::V6 && st.opts.int(SOL_IPV6, IPV6_V6ONLY) != 0
    }

    pub(super) fn hold(&self, st: &State) -> Hold<UdpSocket> {
        Hold {
            v6only: self.v6only(st),
            share: super::share(&self.common.opts(), st.bound.uid),
            owner: self.me.clone(),
        }
    }

    /// Sending or connecting binds an unbound socket to an ephemeral port.
    fn autobind(&self, st: &mut State) -> Result<(), Errno> {
        if st.bound.port == 0 {
            let hold = self.hold(st);
            let any = self.fam.any();
            PORTS.bind(&mut st.bound, any, 0, hold)?;
        }
        Ok(())
    }

    /// A destination address as this socket takes it, routed.
    fn dest(&self, raw: &[u8], v6only: bool) -> Result<Option<Endpoint>, Errno> {
        match self.fam.parse_dest(raw)? {
            Some(to) => Ok(Some(route(self.fam, v6only, to)?)),
            None => Ok(None),
        }
    }

    /// Queues a datagram from `from` here if we hear that sender and have room;
    /// false if we do not hear it.
    fn deliver(&self, data: &[u8], head: &Datagram) -> bool {
        let mut st = self.lock();
        if st.released || st.peer.is_some_and(|p| p != head.from) {
            return false;
        }
        // Linux drops what comes once the buffer is full (it was heard all the same).
        if rmem(&st) < self.common.opts().rcvbuf {
            st.queue.push_back(Datagram {
                data: data.to_vec(),
                ..head.clone()
            });
            drop(st);
            interfaces().loopback().stats.looped(data.len());
            self.input_event();
        }
        true
    }

    fn send_to(&self, data: &[u8], to: Endpoint) -> Result<usize, Errno> {
        let (head, connected_to_it) = {
            let mut st = self.lock();
            if let Some(e) = st.err.take() {
                return Err(e);
            }
            let max = if is_v4(&to.ip) {
                MAX_DGRAM_V4
            } else {
                MAX_DGRAM_V6
            };
            if data.len() > max {
                return Err(Errno::EMSGSIZE);
            }
            self.autobind(&mut st)?;
            if !is_local(&to.ip) {
                return self.send_out(&mut st, data, to);
            }
            let from = Endpoint {
                ip: source_for(&st.bound.ip, &to.ip),
                port: st.bound.port,
            };
            (Self::header(&st, from, to.ip), st.peer == Some(to))
        };
        // The table's lock is let go before any socket's is taken.
        let receivers = PORTS.lock().lookup(to.port, &to.ip, |_| true);
        let heard = receivers.iter().any(|r| r.deliver(data, &head));
        if !heard && connected_to_it {
            self.lock().err = Some(Errno::ECONNREFUSED);
            self.input_event();
        }
        Ok(data.len())
    }

    /// Sends a datagram out through vke0 (a full host buffer drops it, as a full
    /// device queue does).
    fn send_out(&self, st: &mut State, data: &[u8], to: Endpoint) -> Result<usize, Errno> {
        let host_to = nat::outbound(to)?;
        let fits = |h: &HostSocket| h.is_ipv4() == host_to.is_ipv4();
        if !st.host.as_ref().is_some_and(fits) {
            let me: Weak<dyn Watcher> = self.me.clone();
            st.host = Some(HostSocket::datagram(&host_to)?.watched(me)?);
        }
        let host = st.host.as_ref().ok_or(Errno::EBADF)?;
        match host.send(data, Some(&host_to)) {
            Ok(_) | Err(Errno::EAGAIN) => {
                vke0_traffic(|s| s.sent(data.len()));
                Ok(data.len())
            }
            Err(e) => Err(e),
        }
    }

    /// Queues what the host socket received (from our peer, if connected), while
    /// the receive buffer has room.
    fn pull_host(&self, st: &mut State) {
        let Some(host) = &st.host else { return };
        let rcvbuf = self.common.opts().rcvbuf;
        let mut got = Vec::new();
        with_buffer(|buf| {
            while let Ok((n, Some(from))) = host.recv(buf) {
                got.push((buf[..n].to_vec(), nat::inbound(from)));
            }
        });
        for (data, from) in got {
            if st.peer.is_some_and(|p| p != from) || rmem(st) >= rcvbuf {
                continue;
            }
            vke0_traffic(|s| s.received(data.len()));
            st.queue.push_back(Datagram {
                data,
                from,
                to: nat::guest_ip(),
                tos: 0,
                ttl: 64,
            });
        }
    }

    /// What a datagram from `from` to `to` carries in its IP header: the sender's TOS
    /// and TTL (IPv4) or traffic class and hop limit (IPv6). No data yet.
    fn header(st: &State, from: Endpoint, to: Ipv6Addr) -> Datagram {
        let (tos, ttl) = if is_v4(&to) {
            (st.opts.int(SOL_IP, IP_TOS), st.opts.int(SOL_IP, IP_TTL))
        } else {
            let o = &st.opts;
            (
                o.int(SOL_IPV6, IPV6_TCLASS),
                o.int(SOL_IPV6, IPV6_UNICAST_HOPS),
            )
        };
        Datagram {
            data: Vec::new(),
            from,
            to,
            tos: tos as u8,
            ttl: ttl as u8,
        }
    }

    /// The control messages a receiver asked for (ip_cmsg_recv for an IPv4 datagram,
    /// ip6_datagram_recv_ctl for an IPv6 one), in Linux's order.
    fn ancillary(&self, o: &InetOpts, d: &Datagram) -> Vec<(i32, i32, Vec<u8>)> {
        let on = |level, name| o.int(level, name) != 0;
        // A datagram to vke0's address came in on vke0, any other on lo.
        let vke0 = d.to == nat::guest_ip();
        let lo = interfaces()
            .all()
            .iter()
            .find(|i| (i.flags & IFF_LOOPBACK == 0) == vke0)
            .map_or(1, |i| i.index)
            .to_ne_bytes();
        let mut out = Vec::new();
        if let Some(to4) = d.to.to_ipv4_mapped() {
            if on(SOL_IP, IP_PKTINFO) {
                let info = [&lo[..], &to4.octets(), &to4.octets()].concat();
                out.push((SOL_IP, IP_PKTINFO, info));
            }
            if on(SOL_IP, IP_RECVTTL) {
                out.push((SOL_IP, IP_TTL, i32::from(d.ttl).to_ne_bytes().to_vec()));
            }
            if on(SOL_IP, IP_RECVTOS) {
                out.push((SOL_IP, IP_TOS, vec![d.tos]));
            }
        }
        let v6 = self.fam == Family::V6;
        if v6 && on(SOL_IPV6, IPV6_RECVPKTINFO) {
            let info = [&d.to.octets()[..], &lo].concat();
            out.push((SOL_IPV6, IPV6_PKTINFO, info));
        }
        if v6 && !is_v4(&d.to) {
            let int = |v: u8| i32::from(v).to_ne_bytes().to_vec();
            if on(SOL_IPV6, IPV6_RECVHOPLIMIT) {
                out.push((SOL_IPV6, IPV6_HOPLIMIT, int(d.ttl)));
            }
            if on(SOL_IPV6, IPV6_RECVTCLASS) {
                out.push((SOL_IPV6, IPV6_TCLASS, int(d.tos)));
            }
        }
        out
    }

    /// connect(AF_UNSPEC) (Linux's __udp_disconnect): no peer, and what the kernel
    /// bound goes back.
    fn disconnect(&self) {
        let mut st = self.lock();
        st.peer = None;
        PORTS.release_unlocked(&mut st.bound, self.fam);
    }

    /// Its binding, peer and receive buffer in use, for /proc/net/udp.
    pub(super) fn table_view(&self) -> (Endpoint, Option<Endpoint>, usize) {
        let st = self.lock();
        (st.bound.endpoint(), st.peer, rmem(&st))
    }

    fn mask_now(&self) -> u32 {
        let mut st = self.lock();
        self.pull_host(&mut st);
        let mut m = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
        if !st.queue.is_empty() {
            m |= EPOLLIN | EPOLLRDNORM;
        }
        if st.shutdown & RCV_SHUTDOWN != 0 {
            m |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
        }
        if st.shutdown == SHUTDOWN_MASK {
            m |= EPOLLHUP;
        }
        if st.err.is_some() {
            m |= EPOLLERR;
        }
        m
    }
}

impl Watcher for UdpSocket {
    fn host_ready(&self) {
        self.input_event();
    }
}

impl Socket for UdpSocket {
    fn family(&self) -> i32 {
        self.fam.number()
    }

    fn sock_type(&self) -> SockType {
        SockType::Dgram
    }

    fn protocol(&self) -> i32 {
        super::IPPROTO_UDP
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn bind(&self, raw: &[u8], ctx: &Ctx) -> Result<(), Errno> {
        let mut st = self.lock();
        let ep = self.fam.parse_bind(raw, self.v6only(&st))?;
        let hold = self.hold(&st);
        bind_to(&PORTS, &mut st.bound, ep, ctx.cred.euid, hold)
    }

    fn listen(&self, _backlog: u32, _ctx: &Ctx) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn accept(&self, _w: &Wait) -> Result<Arc<dyn Socket>, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn connect(&self, raw: &[u8], _ctx: &Ctx, _w: &Wait) -> Result<(), Errno> {
        if family(raw)? == AF_UNSPEC {
            self.disconnect();
            return Ok(());
        }
        let mut st = self.lock();
        let to = self.dest(raw, self.v6only(&st))?.ok_or(Errno::EINVAL)?;
        self.autobind(&mut st)?;
        let src = source_for(&st.bound.ip, &to.ip);
        PORTS.fix_source(&mut st.bound, src);
        st.peer = Some(to);
        Ok(())
    }

    fn send(&self, msg: Outgoing, _ctx: &Ctx, _w: &Wait) -> Result<usize, Errno> {
        if msg.flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let (peer, v6only) = {
            let st = self.lock();
            (st.peer, self.v6only(&st))
        };
        let to = match msg.to {
            Some(raw) => self.dest(raw, v6only)?.or(peer),
            None => peer,
        };
        let to = to.ok_or(Errno::EDESTADDRREQ)?;
        if to.port == 0 {
            return Err(Errno::EINVAL);
        }
        self.send_to(msg.data, to)
    }

    fn recv(&self, len: usize, flags: u32, w: &Wait) -> Result<Incoming, Errno> {
        if flags & MSG_OOB != 0 {
            return Err(Errno::EINVAL);
        }
        // Past a shutdown, an empty queue is end of file for a call that would wait.
        let eof_now = !w.nonblocking();
        let got = w.until(&[self.ev.queue()], || {
            let mut st = self.lock();
            self.pull_host(&mut st);
            // A pending error comes before any queued datagram (__skb_recv_udp).
            if let Some(e) = st.err.take() {
                return Some(Err(e));
            }
            let d = match flags & MSG_PEEK {
                0 => st.queue.pop_front(),
                _ => st.queue.front().cloned(),
            };
            match d {
                Some(d) => Some(Ok(Some((self.ancillary(&st.opts, &d), d)))),
                None => (eof_now && st.shutdown & RCV_SHUTDOWN != 0).then_some(Ok(None)),
            }
        })??;
        let Some((control, d)) = got else {
            return Ok(Incoming::default());
        };
        let inc = Incoming {
            from: Some(self.fam.sockaddr(d.from)),
            data: d.data,
            control,
            ..Default::default()
        };
        Ok(inc.datagram(len, flags))
    }

    fn shutdown(&self, how: i32) -> Result<(), Errno> {
        if !(0..=2).contains(&how) {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        // Linux sets the bits even on an unconnected socket, which it says is not.
        st.shutdown |= how as u8 + 1;
        let connected = st.peer.is_some();
        drop(st);
        self.input_event();
        if connected {
            Ok(())
        } else {
            Err(Errno::ENOTCONN)
        }
    }

    fn name(&self) -> Vec<u8> {
        let b = self.lock().bound;
        self.fam.sockaddr(b.endpoint())
    }

    fn peer_name(&self) -> Result<Vec<u8>, Errno> {
        let peer = self.lock().peer.ok_or(Errno::ENOTCONN)?;
        Ok(self.fam.sockaddr(peer))
    }

    fn peer_cred(&self) -> Option<Ucred> {
        None
    }

    fn listening(&self) -> bool {
        false
    }

    fn take_error(&self) -> i32 {
        self.lock().err.take().map_or(0, |e| e as i32)
    }

    /// SIOCINQ on UDP: the next datagram's length.
    fn queued(&self) -> Result<usize, Errno> {
        Ok(self.lock().queue.front().map_or(0, |d| d.data.len()))
    }

    fn unsent(&self) -> usize {
        0
    }

    fn events(&self) -> &Events {
        &self.ev
    }

    fn poll_mask(&self) -> u32 {
        self.mask_now()
    }

    fn release(&self) {
        let mut st = self.lock();
        if st.released {
            return;
        }
        st.released = true;
        st.queue.clear();
        st.host = None;
        PORTS.unbind(&st.bound);
    }

    fn save(&self, _ix: &mut dyn SaveIndex) -> SavedSocket {
        SavedSocket::Udp(self.saved())
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        if (level, name) == (SOL_IPV6, IPV6_V6ONLY) && st.bound.port != 0 {
            return Err(Errno::EINVAL);
        }
        st.opts.set(self.fam, Proto::Udp, level, name, val)
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        self.lock().opts.get(self.fam, Proto::Udp, level, name)
    }
}
