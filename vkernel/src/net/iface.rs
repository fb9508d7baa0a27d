//! The guest's network interfaces, as data: what rtnetlink dumps, the SIOCGIF*
//! ioctls and /proc/net/dev report. The loopback interface `lo` (127.0.0.1/8 and
//! ::1/128), whose traffic never leaves the kernel, and unless the system booted
//! with `--net none`, `vke0` (10.0.2.15/24), the way out to the host (`net::nat`).
//!
//! One table for the host process, like the clocks (`crate::clock`): one host
//! process runs one kernel, and sockets are made far from any `Kernel`. Its traffic
//! counters are guest-visible state, so a checkpoint saves them.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

static INTERFACES: LazyLock<Interfaces> = LazyLock::new(Interfaces::default);

/// The kernel's interfaces.
pub fn interfaces() -> &'static Interfaces {
    &INTERFACES
}

/// Every interface's counters, by index order, as a checkpoint saves them.
pub type SavedStats = Vec<[u64; 4]>;

pub fn save() -> SavedStats {
    INTERFACES.all().iter().map(|i| i.stats.read()).collect()
}

/// After a thaw: the counters go on from the checkpoint's.
pub fn restore(saved: &SavedStats) {
    for (i, s) in INTERFACES.all().iter().zip(saved) {
        i.stats.set(*s);
    }
}

/// IFF_UP, IFF_BROADCAST, IFF_LOOPBACK, IFF_RUNNING, IFF_MULTICAST, IFF_LOWER_UP.
pub const IFF_UP: u32 = 0x1;
pub const IFF_BROADCAST: u32 = 0x2;
pub const IFF_LOOPBACK: u32 = 0x8;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_MULTICAST: u32 = 0x1000;
pub const IFF_LOWER_UP: u32 = 0x1_0000;

/// ARPHRD_ETHER and ARPHRD_LOOPBACK: the link types of vke0 and `lo`.
pub const ARPHRD_ETHER: u16 = 1;
pub const ARPHRD_LOOPBACK: u16 = 772;

/// Every interface's transmit queue length (Linux's default, lo's too).
pub const TXQLEN: u32 = 1000;

/// RT_SCOPE_HOST: an address only this machine reaches; RT_SCOPE_UNIVERSE: any.
pub const RT_SCOPE_HOST: u8 = 254;
pub const RT_SCOPE_UNIVERSE: u8 = 0;

/// Traffic counters, as /proc/net/dev and IFLA_STATS show them. Whoever carries a
/// packet counts it: an AF_INET datagram or stream write over `lo` is one packet out
/// and one in, however long (there are no segments to count).
#[derive(Debug, Default)]
pub struct Stats {
    pub rx_bytes: AtomicU64,
    pub rx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
    pub tx_packets: AtomicU64,
}

impl Stats {
    /// A transfer over loopback: the bytes leave and arrive on the same interface.
    pub fn looped(&self, bytes: usize) {
        let b = bytes as u64;
        for (count, n) in [
            (&self.tx_bytes, b),
            (&self.rx_bytes, b),
            (&self.tx_packets, 1),
            (&self.rx_packets, 1),
        ] {
            count.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// A transfer out through this interface.
    pub fn sent(&self, bytes: usize) {
        self.tx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.tx_packets.fetch_add(1, Ordering::Relaxed);
    }

    /// A transfer in through this interface.
    pub fn received(&self, bytes: usize) {
        self.rx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.rx_packets.fetch_add(1, Ordering::Relaxed);
    }

    fn counters(&self) -> [&AtomicU64; 4] {
        [
            &self.rx_bytes,
            &self.rx_packets,
            &self.tx_bytes,
            &self.tx_packets,
        ]
    }

    /// (rx bytes, rx packets, tx bytes, tx packets).
    pub fn read(&self) -> [u64; 4] {
        self.counters().map(|c| c.load(Ordering::Relaxed))
    }

    fn set(&self, v: [u64; 4]) {
        for (c, v) in self.counters().into_iter().zip(v) {
            c.store(v, Ordering::Relaxed);
        }
    }
}

/// One interface.
#[derive(Debug)]
pub struct Interface {
    pub name: &'static str,
    pub index: i32,
    pub flags: u32,
    pub mtu: u32,
    pub link_type: u16,
    pub hwaddr: [u8; 6],
    /// Its IPv4 address and prefix length.
    pub v4: (Ipv4Addr, u8),
    pub v6: Option<(Ipv6Addr, u8)>,
    /// The scope of its addresses (rtnetlink's ifa_scope).
    pub scope: u8,
    pub stats: Stats,
}

impl Interface {
    /// The IPv4 netmask of its prefix.
    pub fn netmask(&self) -> Ipv4Addr {
        let bits = u32::MAX.checked_shl(32 - u32::from(self.v4.1)).unwrap_or(0);
        Ipv4Addr::from(bits)
    }

    /// The broadcast address of its IPv4 network (none for loopback, whose
    /// SIOCGIFBRDADDR Linux answers with 0.0.0.0).
    pub fn broadcast(&self) -> Ipv4Addr {
        if self.flags & IFF_LOOPBACK != 0 {
            return Ipv4Addr::UNSPECIFIED;
        }
        Ipv4Addr::from(u32::from(self.v4.0) | !u32::from(self.netmask()))
    }
}

/// The kernel's interfaces, by index order.
pub struct Interfaces {
    all: Vec<Interface>,
}

impl Default for Interfaces {
    /// lo, and vke0 if the network reaches the host.
    fn default() -> Interfaces {
        let lo = Interface {
            name: "lo",
            index: 1,
            flags: IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP,
            mtu: 65536,
            link_type: ARPHRD_LOOPBACK,
            hwaddr: [0; 6],
            v4: (Ipv4Addr::LOCALHOST, 8),
            v6: Some((Ipv6Addr::LOCALHOST, 128)),
            scope: RT_SCOPE_HOST,
            stats: Stats::default(),
        };
        let mut all = vec![lo];
        if crate::net::nat::enabled() {
            all.push(vke0());
        }
        Interfaces { all }
    }
}

/// vke0: an Ethernet card (QEMU's locally administered MAC prefix) with no IPv6.
fn vke0() -> Interface {
    Interface {
        name: "vke0",
        index: 2,
        flags: IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
        mtu: 1500,
        link_type: ARPHRD_ETHER,
        hwaddr: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
        v4: (crate::net::nat::GUEST, crate::net::nat::PREFIX),
        v6: None,
        scope: RT_SCOPE_UNIVERSE,
        stats: Stats::default(),
    }
}

/// Counts traffic through vke0 (if it exists).
pub fn vke0_traffic(count: impl FnOnce(&Stats)) {
    if let Some(i) = INTERFACES.by_name(b"vke0") {
        count(&i.stats);
    }
}

impl Interfaces {
    pub fn all(&self) -> &[Interface] {
        &self.all
    }

    pub fn by_index(&self, index: i32) -> Option<&Interface> {
        self.all.iter().find(|i| i.index == index)
    }

    /// `lo`, which carries the AF_INET traffic between the guest's own addresses.
    pub fn loopback(&self) -> &Interface {
        &self.all[0]
    }

    pub fn by_name(&self, name: &[u8]) -> Option<&Interface> {
        self.all.iter().find(|i| i.name.as_bytes() == name)
    }

    /// /proc/net/dev.
    pub fn proc_net_dev(&self) -> String {
        let mut s = String::from(
            "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    \
             packets errs drop fifo colls carrier compressed\n",
        );
        for i in &self.all {
            let [rb, rp, tb, tp] = i.stats.read();
            s += &format!(
                "{:>6}: {rb:>7} {rp:>7}    0    0    0     0          0         0 \
                 {tb:>8} {tp:>7}    0    0    0     0       0          0\n",
                i.name
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_linux_addresses_masks_and_flags() {
        let ifs = Interfaces::default();
        let lo = ifs.by_name(b"lo").expect("lo");
        assert_eq!(lo.index, 1);
        assert_eq!(lo.netmask(), Ipv4Addr::new(255, 0, 0, 0));
        assert_eq!(lo.broadcast(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(lo.flags, 0x1_0049);
        assert!(ifs.by_index(2).is_none());
    }

    #[test]
    fn proc_net_dev_shows_the_counters() {
        let ifs = Interfaces::default();
        ifs.all()[0].stats.set([1500, 1, 1500, 1]);
        let text = ifs.proc_net_dev();
        let lo = text.lines().nth(2).expect("lo line");
        let fields: Vec<&str> = lo.split_whitespace().collect();
        assert_eq!(fields[0], "lo:");
        assert_eq!((fields[1], fields[2]), ("1500", "1"));
        assert_eq!((fields[9], fields[10]), ("1500", "1"));
        assert_eq!(fields.len(), 17);
    }
}
