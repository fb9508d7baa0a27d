//! System information calls: uname, getrandom, sysinfo.

use nix::errno::Errno;

use super::SysResult;
use crate::mm::{GuestPtr, UserMem};
use crate::task::Task;

/// The kernel release guests see: new enough for glibc and musl's feature checks.
pub const RELEASE: &str = "6.1.0-vkernel";

fn field(dst: &mut [libc::c_char; 65], s: &str) {
    for (d, b) in dst.iter_mut().zip(s.bytes().chain(std::iter::repeat(0))) {
        *d = b as libc::c_char;
    }
    dst[64] = 0;
}

pub fn uname(t: &mut Task, a: [u64; 6]) -> SysResult {
    // SAFETY: utsname is arrays of chars; all-zero is valid.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    field(&mut u.sysname, "Linux");
    field(&mut u.nodename, "vkernel");
    field(&mut u.release, RELEASE);
    field(&mut u.version, "#1 SMP vkernel");
    field(&mut u.machine, "x86_64");
    field(&mut u.domainname, "(none)");
    t.process.mm().write_val(GuestPtr(a[0]), &u)?;
    Ok(0)
}

pub fn getrandom(t: &mut Task, a: [u64; 6]) -> SysResult {
    const GRND_ALL: u64 = 1 | 2 | 4;
    if a[2] & !GRND_ALL != 0 || a[2] & 6 == 6 {
        return Err(Errno::EINVAL);
    }
    let len = (a[1] as usize).min(33_554_431);
    let mut buf = vec![0u8; len];
    crate::host::fill_random(&mut buf);
    t.process.mm().write_bytes(GuestPtr(a[0]), &buf)?;
    Ok(len as u64)
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Sysinfo {
    uptime: i64,
    loads: [u64; 3],
    totalram: u64,
    freeram: u64,
    sharedram: u64,
    bufferram: u64,
    totalswap: u64,
    freeswap: u64,
    procs: u16,
    pad: u16,
    pad2: u32,
    totalhigh: u64,
    freehigh: u64,
    mem_unit: u32,
    pad3: u32,
}

// SAFETY: repr(C), integers only, explicit padding fields.
unsafe impl crate::mm::Pod for Sysinfo {}

pub fn sysinfo(t: &mut Task, a: [u64; 6]) -> SysResult {
    let pm = &t.kernel.physmem;
    let s = Sysinfo {
        uptime: t.kernel.uptime().as_secs() as i64,
        totalram: pm.size(),
        freeram: pm.size() - pm.used_bytes(),
        procs: 1,
        mem_unit: 1,
        ..Default::default()
    };
    t.process.mm().write_val(GuestPtr(a[0]), &s)?;
    Ok(0)
}
