//! The network device ioctls (Linux's dev_ioctl), on any socket: SIOCGIFCONF and the
//! SIOCGIF* queries of one interface by name (struct ifreq), answered from
//! `net::iface`. Changing an interface (SIOCSIF*) is EPERM: the guest's network is
//! the kernel's to configure, as for a container without CAP_NET_ADMIN.

use std::net::Ipv4Addr;

use nix::errno::Errno;

use super::SysResult;
use crate::mm::{GuestPtr, UserMem};
use crate::net::iface::{interfaces, Interface, TXQLEN};
use crate::task::Task;

const SIOCGIFNAME: u64 = 0x8910;
const SIOCGIFCONF: u64 = 0x8912;
const SIOCGIFFLAGS: u64 = 0x8913;
const SIOCGIFADDR: u64 = 0x8915;
const SIOCGIFBRDADDR: u64 = 0x8919;
const SIOCGIFNETMASK: u64 = 0x891b;
const SIOCGIFMTU: u64 = 0x8921;
const SIOCGIFHWADDR: u64 = 0x8927;
const SIOCGIFINDEX: u64 = 0x8933;
const SIOCGIFTXQLEN: u64 = 0x8942;
/// The SIOCSIF* requests Linux has between these (flags, addresses, mtu, names...).
const SETTERS: std::ops::RangeInclusive<u64> = 0x8914..=0x8938;

/// sizeof(struct ifreq) and IFNAMSIZ.
const IFREQ: usize = 40;
const IFNAMSIZ: usize = 16;

/// ENOTTY for a request that is no device ioctl. The address queries belong to the
/// IPv4 layer (Linux's devinet_ioctl): ENOTTY on sockets of other families.
pub fn ioctl(t: &Task, family: i32, req: u64, arg: u64) -> SysResult {
    match req {
        SIOCGIFCONF => ifconf(t, arg),
        SIOCGIFADDR | SIOCGIFBRDADDR | SIOCGIFNETMASK if family != libc::AF_INET => {
            Err(Errno::ENOTTY)
        }
        SIOCGIFNAME | SIOCGIFFLAGS | SIOCGIFADDR | SIOCGIFBRDADDR | SIOCGIFNETMASK | SIOCGIFMTU
        | SIOCGIFHWADDR | SIOCGIFINDEX | SIOCGIFTXQLEN => ifreq(t, req, arg),
        r if SETTERS.contains(&r) => Err(Errno::EPERM),
        _ => Err(Errno::ENOTTY),
    }
}

/// struct sockaddr_in of `a` (port 0), as the ifreq union holds it.
fn sockaddr_in(a: Ipv4Addr) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    b[4..8].copy_from_slice(&a.octets());
    b
}

/// One query: the interface named in the ifreq (by index for SIOCGIFNAME), its
/// answer written into the union at offset 16.
fn ifreq(t: &Task, req: u64, arg: u64) -> SysResult {
    let mut r = [0u8; IFREQ];
    t.process.mm().read_bytes(GuestPtr(arg), &mut r)?;
    let ifs = interfaces();
    let found = if req == SIOCGIFNAME {
        let index = i32::from_ne_bytes([r[16], r[17], r[18], r[19]]);
        ifs.by_index(index)
    } else {
        let end = r[..IFNAMSIZ]
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(IFNAMSIZ);
        ifs.by_name(&r[..end])
    };
    let i = found.ok_or(Errno::ENODEV)?;
    let answer = answer(i, req);
    if req == SIOCGIFNAME {
        r[..IFNAMSIZ].fill(0);
        r[..i.name.len()].copy_from_slice(i.name.as_bytes());
    } else {
        r[16..16 + answer.len()].copy_from_slice(&answer);
    }
    t.process.mm().write_bytes(GuestPtr(arg), &r)?;
    Ok(0)
}

/// What a query of `i` puts into the ifreq's union.
fn answer(i: &Interface, req: u64) -> Vec<u8> {
    match req {
        SIOCGIFFLAGS => (i.flags as u16).to_ne_bytes().to_vec(),
        SIOCGIFADDR => sockaddr_in(i.v4.0).to_vec(),
        SIOCGIFBRDADDR => sockaddr_in(i.broadcast()).to_vec(),
        SIOCGIFNETMASK => sockaddr_in(i.netmask()).to_vec(),
        SIOCGIFMTU => i.mtu.to_ne_bytes().to_vec(),
        SIOCGIFINDEX => i.index.to_ne_bytes().to_vec(),
        SIOCGIFTXQLEN => TXQLEN.to_ne_bytes().to_vec(),
        SIOCGIFHWADDR => {
            let mut b = i.link_type.to_ne_bytes().to_vec();
            b.extend_from_slice(&i.hwaddr);
            b
        }
        _ => Vec::new(),
    }
}

/// SIOCGIFCONF: struct ifconf { int ifc_len; char *ifc_buf; }. A NULL buffer asks
/// for the length needed; otherwise as many ifreqs (name and IPv4 address) as fit.
fn ifconf(t: &Task, arg: u64) -> SysResult {
    let mut mm = t.process.mm();
    let len: i32 = mm.read_val(GuestPtr(arg))?;
    let buf: u64 = mm.read_val(GuestPtr(arg + 8))?;
    let all = interfaces().all();
    let fits = if buf == 0 {
        all.len()
    } else {
        (usize::try_from(len).map_err(|_| Errno::EINVAL)? / IFREQ).min(all.len())
    };
    if buf != 0 {
        for (k, i) in all.iter().take(fits).enumerate() {
            let mut r = [0u8; IFREQ];
            r[..i.name.len()].copy_from_slice(i.name.as_bytes());
            r[16..32].copy_from_slice(&sockaddr_in(i.v4.0));
            mm.write_bytes(GuestPtr(buf + (k * IFREQ) as u64), &r)?;
        }
    }
    mm.write_val(GuestPtr(arg), &((fits * IFREQ) as i32))?;
    Ok(0)
}
