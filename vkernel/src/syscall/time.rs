//! Time calls: clocks and sleeps.

use std::time::Duration;

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

pub(super) fn now(clk: libc::clockid_t) -> libc::timespec {
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

/// A timespec as the kernel accepts it: non-negative and normalised (EINVAL otherwise).
pub(super) fn timespec_duration(ts: libc::timespec) -> Result<Duration, Errno> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// The instant `d` from now. Guests may ask for centuries (tv_sec up to i64::MAX),
/// which would overflow Instant: anything past a hundred years is forever anyway.
pub(super) fn deadline_after(d: Duration) -> std::time::Instant {
    deadline_from(std::time::Instant::now(), d)
}

/// `start + d`, with the same cap (periodic timers step from their last expiry).
pub(super) fn deadline_from(start: std::time::Instant, d: Duration) -> std::time::Instant {
    const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    start + d.min(FOREVER)
}

pub(super) fn duration_timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

/// Reads and checks a guest timespec.
pub(super) fn read_timespec(t: &Task, addr: u64) -> Result<libc::timespec, Errno> {
    let ts: libc::timespec = t.process.mm().read_val(GuestPtr(addr))?;
    timespec_duration(ts)?;
    Ok(ts)
}

/// An optional timeout argument (a NULL pointer waits forever).
pub(super) fn read_timeout(t: &Task, addr: u64) -> Result<Option<Duration>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let ts = t.process.mm().read_val(GuestPtr(addr))?;
    timespec_duration(ts).map(Some)
}

pub fn nanosleep(t: &mut Task, a: [u64; 6]) -> SysResult {
    let req = read_timespec(t, a[0])?;
    sleep(t, libc::CLOCK_MONOTONIC, false, req, a[1])
}

pub fn clock_nanosleep(t: &mut Task, a: [u64; 6]) -> SysResult {
    let clk = a[0] as i32;
    if clk == libc::CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EINVAL);
    }
    let host = host_clock(t, clk)?;
    let req = read_timespec(t, a[2])?;
    let abs = (a[1] as i32) & libc::TIMER_ABSTIME != 0;
    sleep(t, host, abs, req, if abs { 0 } else { a[3] })
}

/// restart_syscall: continue a sleep a signal interrupted, to its original deadline.
pub fn restart_syscall(t: &mut Task, _a: [u64; 6]) -> SysResult {
    let Some((clk, target)) = t.restart_deadline.take() else {
        return Err(Errno::EINTR);
    };
    sleep(t, clk, true, target, 0)
}

fn ts_add(a: libc::timespec, b: libc::timespec) -> libc::timespec {
    let mut r = libc::timespec {
        tv_sec: a.tv_sec.saturating_add(b.tv_sec),
        tv_nsec: a.tv_nsec + b.tv_nsec,
    };
    if r.tv_nsec >= 1_000_000_000 {
        r.tv_sec = r.tv_sec.saturating_add(1);
        r.tv_nsec -= 1_000_000_000;
    }
    r
}

/// `target - now`, zero if past.
pub(super) fn ts_until(target: libc::timespec, now: libc::timespec) -> Duration {
    let t = target.tv_sec as i128 * 1_000_000_000 + target.tv_nsec as i128;
    let n = now.tv_sec as i128 * 1_000_000_000 + now.tv_nsec as i128;
    Duration::from_nanos((t - n).clamp(0, u64::MAX as i128) as u64)
}

/// Sleeps until `req` (absolute on `clk`, or relative). Interrupted: remembers the
/// deadline for restart_syscall, writes the remaining time to `rem` and says EINTR.
fn sleep(
    t: &mut Task,
    clk: libc::clockid_t,
    abs: bool,
    req: libc::timespec,
    rem: u64,
) -> SysResult {
    let target = if abs { req } else { ts_add(now(clk), req) };
    let deadline = deadline_after(ts_until(target, now(clk)));
    match crate::sched::block_on(t, &[], Some(deadline), || None::<()>) {
        Err(Errno::ETIMEDOUT) => Ok(0),
        Err(Errno::EINTR) => {
            t.restart_deadline = Some((clk, target));
            if rem != 0 {
                let left = duration_timespec(ts_until(target, now(clk)));
                t.process.mm().write_val(GuestPtr(rem), &left)?;
            }
            Err(Errno::EINTR)
        }
        other => other.map(|_| 0),
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Tms {
    utime: i64,
    stime: i64,
    cutime: i64,
    cstime: i64,
}

// SAFETY: repr(C), integers only.
unsafe impl crate::mm::Pod for Tms {}

/// times(2): CPU ticks of the process and its reaped children; returns ticks since boot.
pub fn times(t: &mut Task, a: [u64; 6]) -> SysResult {
    let own = t.process.cpu();
    let kids = t.process.life().children_cpu;
    if a[0] != 0 {
        let tms = Tms {
            utime: own.user as i64,
            stime: own.system as i64,
            cutime: kids.user as i64,
            cstime: kids.system as i64,
        };
        t.process.mm().write_val(GuestPtr(a[0]), &tms)?;
    }
    Ok((t.kernel.boot_time.elapsed().as_millis() / 10) as u64)
}

/// getrusage: CPU times (self, children or this thread) and the peak resident size.
pub fn getrusage(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (cpu, rss_pages) = match a[0] as i32 {
        libc::RUSAGE_SELF | libc::RUSAGE_THREAD => {
            (t.process.cpu(), t.process.mm().resident_pages())
        }
        libc::RUSAGE_CHILDREN => (t.process.life().children_cpu, 0),
        _ => return Err(Errno::EINVAL),
    };
    let raw = rusage_bytes(cpu, rss_pages * 4);
    t.process.mm().write_bytes(GuestPtr(a[1]), &raw)?;
    Ok(0)
}

/// struct rusage with the CPU times and ru_maxrss (kB) filled in; the rest is zero.
pub(super) fn rusage_bytes(cpu: crate::process::CpuTimes, maxrss_kb: u64) -> [u8; 144] {
    let tv = |ticks: u64| [(ticks / 100) as i64, ((ticks % 100) * 10_000) as i64];
    let [us, uu] = tv(cpu.user);
    let [ss, su] = tv(cpu.system);
    let mut raw = [0u8; 144];
    for (i, v) in [us, uu, ss, su, maxrss_kb as i64].iter().enumerate() {
        raw[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    }
    raw
}
