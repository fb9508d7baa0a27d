//! rtnetlink (NETLINK_ROUTE) as guest tools use it: busybox `ip`, and glibc's
//! getaddrinfo, which asks for the addresses to honour AI_ADDRCONFIG. A request
//! datagram gets its answers built from [`Interfaces`]: dumps of links
//! (RTM_GETLINK), addresses (RTM_GETADDR) and routes (RTM_GETROUTE), one link by
//! index, and errors as Linux gives them: EPERM for changes (the guest cannot
//! reconfigure its network), EOPNOTSUPP for the rest.

use std::net::IpAddr;

use super::iface::{
    Interface, Interfaces, IFF_BROADCAST, IFF_LOOPBACK, RT_SCOPE_HOST, RT_SCOPE_UNIVERSE, TXQLEN,
};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
/// The first and last rtnetlink message types Linux knows (RTM_BASE, RTM_MAX).
const RTM_BASE: u16 = 16;
const RTM_MAX: u16 = 127;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// sizeof(struct nlmsghdr).
const HDR: usize = 16;

/// One message's header (struct nlmsghdr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl Header {
    fn parse(b: &[u8]) -> Option<Header> {
        let u32_at = |i: usize| Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?));
        let u16_at = |i: usize| Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?));
        Some(Header {
            len: u32_at(0)?,
            ty: u16_at(4)?,
            flags: u16_at(6)?,
            seq: u32_at(8)?,
            pid: u32_at(12)?,
        })
    }
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A message being built: header, fixed part, then attributes (struct rtattr).
struct Msg(Vec<u8>);

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32, pid: u32, body: &[u8]) -> Msg {
        let mut b = Vec::with_capacity(256);
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&ty.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&pid.to_ne_bytes());
        b.extend_from_slice(body);
        b.resize(align4(b.len()), 0);
        Msg(b)
    }

    fn attr(mut self, ty: u16, payload: &[u8]) -> Msg {
        let len = 4 + payload.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(payload);
        self.0.resize(align4(self.0.len()), 0);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

/// The answers to one request datagram, as the datagrams the requester reads.
pub fn answer(req: &[u8], ifs: &Interfaces, port: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(h) = req.get(at..).and_then(Header::parse) {
        let len = h.len as usize;
        let Some(body) = req.get(at + HDR..at + len).filter(|_| len >= HDR) else {
            break;
        };
        if h.flags & NLM_F_REQUEST != 0 {
            out.push(answer_one(&h, body, ifs, port));
        }
        at += align4(len);
    }
    out
}

fn answer_one(h: &Header, body: &[u8], ifs: &Interfaces, port: u32) -> Vec<u8> {
    let dump = h.flags & NLM_F_DUMP == NLM_F_DUMP;
    let family = body.first().copied().unwrap_or(AF_UNSPEC);
    let reply = |msgs: Vec<Msg>| -> Vec<u8> {
        let done = Msg::new(NLMSG_DONE, NLM_F_MULTI, h.seq, port, &0i32.to_ne_bytes());
        msgs.into_iter()
            .chain([done])
            .flat_map(Msg::finish)
            .collect()
    };
    match h.ty {
        RTM_GETLINK if dump => reply(ifs.all().iter().map(|i| link(i, h, port, true)).collect()),
        RTM_GETLINK => match link_index(body).and_then(|i| ifs.by_index(i)) {
            Some(i) => {
                let mut m = link(i, h, port, false).finish();
                if h.flags & NLM_F_ACK != 0 {
                    m.extend(error(h, port, 0));
                }
                m
            }
            None => error(h, port, -libc::ENODEV),
        },
        RTM_GETADDR if dump => reply(addresses(ifs, family, h, port)),
        RTM_GETROUTE if dump => reply(routes(ifs, family, h, port)),
        RTM_BASE..=RTM_MAX if h.ty % 4 != 2 => error(h, port, -libc::EPERM),
        _ => error(h, port, -libc::EOPNOTSUPP),
    }
}

/// NLMSG_ERROR: the error code and the request's header.
fn error(h: &Header, port: u32, errno: i32) -> Vec<u8> {
    let mut body = errno.to_ne_bytes().to_vec();
    for w in [
        h.len,
        u32::from(h.ty) | u32::from(h.flags) << 16,
        h.seq,
        h.pid,
    ] {
        body.extend_from_slice(&w.to_ne_bytes());
    }
    Msg::new(NLMSG_ERROR, 0, h.seq, port, &body).finish()
}

/// ifi_index of a request's struct ifinfomsg.
fn link_index(body: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(body.get(4..8)?.try_into().ok()?))
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// RTM_NEWLINK for one interface (struct ifinfomsg, then attributes).
fn link(i: &Interface, h: &Header, port: u32, multi: bool) -> Msg {
    const IFLA_ADDRESS: u16 = 1;
    const IFLA_BROADCAST: u16 = 2;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_MTU: u16 = 4;
    const IFLA_QDISC: u16 = 6;
    const IFLA_STATS: u16 = 7;
    const IFLA_TXQLEN: u16 = 13;
    const IFLA_OPERSTATE: u16 = 16;
    let mut body = vec![AF_UNSPEC, 0];
    body.extend_from_slice(&i.link_type.to_ne_bytes());
    body.extend_from_slice(&i.index.to_ne_bytes());
    body.extend_from_slice(&i.flags.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    let flags = if multi { NLM_F_MULTI } else { 0 };
    // struct rtnl_link_stats: rx_packets, tx_packets, rx_bytes, tx_bytes, then zeros.
    let [rb, rp, tb, tp] = i.stats.read();
    let mut stats = [0u32; 24];
    stats[..4].copy_from_slice(&[rp, tp, rb, tb].map(|v| v as u32));
    let stats: Vec<u8> = stats.iter().flat_map(|v| v.to_ne_bytes()).collect();
    // Loopback's operational state is IF_OPER_UNKNOWN and its broadcast address its
    // own; an Ethernet card's is IF_OPER_UP, broadcasting to all ones.
    let (operstate, brd) = if i.flags & IFF_LOOPBACK != 0 {
        (0, i.hwaddr)
    } else {
        (6, [0xff; 6])
    };
    Msg::new(RTM_NEWLINK, flags, h.seq, port, &body)
        .attr(IFLA_IFNAME, &cstr(i.name))
        .attr(IFLA_TXQLEN, &TXQLEN.to_ne_bytes())
        .attr(IFLA_OPERSTATE, &[operstate])
        .attr(IFLA_MTU, &i.mtu.to_ne_bytes())
        .attr(IFLA_QDISC, &cstr("noqueue"))
        .attr(IFLA_ADDRESS, &i.hwaddr)
        .attr(IFLA_BROADCAST, &brd)
        .attr(IFLA_STATS, &stats)
}

/// RTM_NEWADDR for every address of `family` (AF_UNSPEC: all).
fn addresses(ifs: &Interfaces, family: u8, h: &Header, port: u32) -> Vec<Msg> {
    let mut out = Vec::new();
    for i in ifs.all() {
        let v4 = Some((IpAddr::V4(i.v4.0), i.v4.1));
        let v6 = i.v6.map(|(a, p)| (IpAddr::V6(a), p));
        for (addr, prefix) in [v4, v6].into_iter().flatten() {
            let fam = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
            if family == AF_UNSPEC || family == fam {
                out.push(address(i, addr, prefix, h, port));
            }
        }
    }
    out
}

fn ip_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

fn address(i: &Interface, addr: IpAddr, prefix: u8, h: &Header, port: u32) -> Msg {
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFA_LABEL: u16 = 3;
    const IFA_BROADCAST: u16 = 4;
    const IFA_CACHEINFO: u16 = 6;
    const IFA_FLAGS: u16 = 8;
    const IFA_F_PERMANENT: u32 = 0x80;
    let fam = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
    let mut body = vec![fam, prefix, IFA_F_PERMANENT as u8, i.scope];
    body.extend_from_slice(&i.index.to_ne_bytes());
    // Preferred and valid lifetimes for ever, no timestamps.
    let cache: Vec<u8> = [u32::MAX, u32::MAX, 0, 0]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let m =
        Msg::new(RTM_NEWADDR, NLM_F_MULTI, h.seq, port, &body).attr(IFA_ADDRESS, &ip_bytes(addr));
    let m = if addr.is_ipv4() {
        let m = m.attr(IFA_LOCAL, &ip_bytes(addr));
        let m = if i.flags & IFF_BROADCAST != 0 {
            m.attr(IFA_BROADCAST, &i.broadcast().octets())
        } else {
            m
        };
        m.attr(IFA_LABEL, &cstr(i.name))
    } else {
        m
    };
    m.attr(IFA_FLAGS, &IFA_F_PERMANENT.to_ne_bytes())
        .attr(IFA_CACHEINFO, &cache)
}

/// A route as RTM_NEWROUTE says it.
struct Route {
    dst: IpAddr,
    prefix: u8,
    table: u8,
    scope: u8,
    ty: u8,
    /// The source address it gives (RTA_PREFSRC); IPv6 routes have a priority instead.
    src: Option<IpAddr>,
    gateway: Option<IpAddr>,
}

const RT_TABLE_MAIN: u8 = 254;
const RT_TABLE_LOCAL: u8 = 255;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
const RTN_LOCAL: u8 = 2;

/// The routes Linux has for these interfaces: lo's IPv4 network in the local table
/// (scope host), each IPv6 address's prefix in the main table; for an Ethernet
/// interface its own address in the local table, its network (scope link) and the
/// default route through the gateway in the main table.
fn routes(ifs: &Interfaces, family: u8, h: &Header, port: u32) -> Vec<Msg> {
    let mut out = Vec::new();
    for i in ifs.all() {
        let mut rs = Vec::new();
        if family != AF_INET6 {
            rs.extend(v4_routes(i));
        }
        if let (true, Some((a, prefix))) = (family != AF_INET, i.v6) {
            rs.push(Route {
                dst: IpAddr::V6(a),
                prefix,
                table: RT_TABLE_MAIN,
                scope: RT_SCOPE_UNIVERSE,
                ty: RTN_UNICAST,
                src: None,
                gateway: None,
            });
        }
        out.extend(rs.iter().map(|r| route(i, r, h, port)));
    }
    out
}

fn v4_routes(i: &Interface) -> Vec<Route> {
    let own = IpAddr::V4(i.v4.0);
    let net = IpAddr::V4((u32::from(i.v4.0) & u32::from(i.netmask())).into());
    let local = |dst, prefix| Route {
        dst,
        prefix,
        table: RT_TABLE_LOCAL,
        scope: RT_SCOPE_HOST,
        ty: RTN_LOCAL,
        src: Some(own),
        gateway: None,
    };
    if i.flags & IFF_LOOPBACK != 0 {
        return vec![local(net, i.v4.1)];
    }
    let main = |dst, prefix, scope, gateway: Option<IpAddr>| Route {
        dst,
        prefix,
        table: RT_TABLE_MAIN,
        scope,
        ty: RTN_UNICAST,
        src: gateway.is_none().then_some(own),
        gateway,
    };
    let gw = IpAddr::V4(crate::net::nat::GATEWAY);
    vec![
        main(IpAddr::V4(0.into()), 0, RT_SCOPE_UNIVERSE, Some(gw)),
        main(net, i.v4.1, RT_SCOPE_LINK, None),
        local(own, 32),
    ]
}

fn route(i: &Interface, r: &Route, h: &Header, port: u32) -> Msg {
    const RTA_DST: u16 = 1;
    const RTA_OIF: u16 = 4;
    const RTA_GATEWAY: u16 = 5;
    const RTA_PRIORITY: u16 = 6;
    const RTA_PREFSRC: u16 = 7;
    const RTA_TABLE: u16 = 15;
    const RTPROT_KERNEL: u8 = 2;
    const RTPROT_BOOT: u8 = 3;
    let fam = if r.dst.is_ipv4() { AF_INET } else { AF_INET6 };
    let proto = if r.gateway.is_some() {
        RTPROT_BOOT
    } else {
        RTPROT_KERNEL
    };
    let body = [
        fam, r.prefix, 0, 0, r.table, proto, r.scope, r.ty, 0, 0, 0, 0,
    ];
    let mut m = Msg::new(RTM_NEWROUTE, NLM_F_MULTI, h.seq, port, &body)
        .attr(RTA_TABLE, &u32::from(r.table).to_ne_bytes());
    if r.prefix > 0 {
        m = m.attr(RTA_DST, &ip_bytes(r.dst));
    }
    if let Some(g) = r.gateway {
        m = m.attr(RTA_GATEWAY, &ip_bytes(g));
    }
    m = m.attr(RTA_OIF, &i.index.to_ne_bytes());
    match r.src {
        Some(s) => m.attr(RTA_PREFSRC, &ip_bytes(s)),
        None if fam == AF_INET6 => m.attr(RTA_PRIORITY, &256u32.to_ne_bytes()),
        None => m,
    }
}

#[cfg(test)]
mod tests;
