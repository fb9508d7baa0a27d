//! Time calls: clocks and sleeps.

use nix::errno::Errno;

use super::SysResult;
use crate::mm::{GuestPtr, UserMem};
use crate::task::Task;

/// Maps a guest clock id to the host clock that answers it.
fn host_clock(t: &Task, clk: i32) -> Result<libc::clockid_t, Errno> {
    let stub = t.thread.space().pid();
    Ok(match clk {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_REALTIME_COARSE
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME => clk,
        // The CPU time of the guest is the CPU time of its stub.
        libc::CLOCK_PROCESS_CPUTIME_ID => (!stub << 3) | 2,
        libc::CLOCK_THREAD_CPUTIME_ID => (!t.thread.tid() << 3) | 6,
        _ => return Err(Errno::EINVAL),
    })
}

fn now(clk: libc::clockid_t) -> libc::timespec {
    let (s, n) = crate::host::clock(clk);
    libc::timespec {
        tv_sec: s,
        tv_nsec: n,
    }
}

pub fn clock_gettime(t: &mut Task, a: [u64; 6]) -> SysResult {
    let ts = now(host_clock(t, a[0] as i32)?);
    t.process.mm().write_val(GuestPtr(a[1]), &ts)?;
    Ok(0)
}

pub fn clock_getres(t: &mut Task, a: [u64; 6]) -> SysResult {
    let clk = host_clock(t, a[0] as i32)?;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and timespec.
    unsafe { libc::clock_getres(clk, &mut ts) };
    if a[1] != 0 {
        t.process.mm().write_val(GuestPtr(a[1]), &ts)?;
    }
    Ok(0)
}

pub fn gettimeofday(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[0] != 0 {
        let ts = now(libc::CLOCK_REALTIME);
        let tv = libc::timeval {
            tv_sec: ts.tv_sec,
            tv_usec: ts.tv_nsec / 1000,
        };
        t.process.mm().write_val(GuestPtr(a[0]), &tv)?;
    }
    if a[1] != 0 {
        // struct timezone { int tz_minuteswest; int tz_dsttime; }: UTC.
        t.process.mm().write_val(GuestPtr(a[1]), &0u64)?;
    }
    Ok(0)
}

pub fn time(t: &mut Task, a: [u64; 6]) -> SysResult {
    let s = now(libc::CLOCK_REALTIME).tv_sec;
    if a[0] != 0 {
        t.process.mm().write_val(GuestPtr(a[0]), &s)?;
    }
    Ok(s as u64)
}

fn read_timespec(t: &Task, addr: u64) -> Result<libc::timespec, Errno> {
    let ts: libc::timespec = t.process.mm().read_val(GuestPtr(addr))?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(ts)
}

pub fn nanosleep(t: &mut Task, a: [u64; 6]) -> SysResult {
    let req = read_timespec(t, a[0])?;
    sleep(libc::CLOCK_MONOTONIC, 0, &req);
    Ok(0)
}

pub fn clock_nanosleep(t: &mut Task, a: [u64; 6]) -> SysResult {
    let clk = a[0] as i32;
    if clk == libc::CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EINVAL);
    }
    let host = host_clock(t, clk)?;
    let req = read_timespec(t, a[2])?;
    sleep(host, (a[1] as i32) & libc::TIMER_ABSTIME, &req);
    Ok(0)
}

/// Blocks the task thread. (Interruption by guest signals and the freezer, with the
/// remaining time kept for a restart, comes with signal delivery.)
fn sleep(clk: libc::clockid_t, flags: i32, req: &libc::timespec) {
    let mut rem = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut left = *req;
    loop {
        // SAFETY: valid clock, flags and timespecs.
        let r = unsafe { libc::clock_nanosleep(clk, flags, &left, &mut rem) };
        if r != libc::EINTR {
            return;
        }
        if flags == 0 {
            left = rem;
        }
    }
}
