//! Time calls: clocks and sleeps.

use std::time::Duration;

use nix::errno::Errno;

use super::SysResult;
use crate::kernel::Kernel;
use crate::mm::{GuestPtr, UserMem};
use crate::sched::cpuclock::{poll_delay, CpuClock};
use crate::signal::RestartBlock;
use crate::task::Task;

/// A guest clock, resolved: a wall clock (the host clock of that id) or a CPU clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Clock {
    Wall(libc::clockid_t),
    Cpu(CpuClock),
}

/// Resolves a guest clock id; EINVAL for one Linux does not know, or a CPU clock of
/// a process or thread the caller cannot name.
pub(super) fn clock_of(t: &Task, id: i32) -> Result<Clock, Errno> {
    let exists = |pid| t.kernel.process(pid).is_some();
    let mine = |tid| t.process.threads().iter().any(|th| th.tid == tid);
    if let Some(cpu) = CpuClock::decode(id, t.process.pid, t.tid, exists, mine) {
        return cpu.map(Clock::Cpu);
    }
    Ok(Clock::Wall(match id {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_REALTIME_COARSE
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_TAI => id,
        // They read like their plain clocks; only their timers differ (waking a
        // suspended machine), and there is no such machine here.
        libc::CLOCK_REALTIME_ALARM => libc::CLOCK_REALTIME,
        libc::CLOCK_BOOTTIME_ALARM => libc::CLOCK_BOOTTIME,
        _ => return Err(Errno::EINVAL),
    }))
}

/// The _ALARM clocks' timers need CAP_WAKE_ALARM (root here) and run as their plain
/// clocks.
pub(super) fn alarm_clock(t: &Task, id: i32) -> Result<libc::clockid_t, Errno> {
    if t.process.cred().euid != 0 {
        return Err(Errno::EPERM);
    }
    Ok(if id == libc::CLOCK_REALTIME_ALARM {
        libc::CLOCK_REALTIME
    } else {
        libc::CLOCK_BOOTTIME
    })
}

/// A clock that can time a POSIX timer or a sleep. The raw and coarse clocks cannot
/// (EOPNOTSUPP, as Linux's clocks without timer_create and nsleep).
pub(super) fn timer_clock(t: &Task, id: i32) -> Result<Clock, Errno> {
    match id {
        libc::CLOCK_MONOTONIC_RAW | libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE => {
            Err(Errno::EOPNOTSUPP)
        }
        libc::CLOCK_REALTIME_ALARM | libc::CLOCK_BOOTTIME_ALARM => {
            alarm_clock(t, id).map(Clock::Wall)
        }
        _ => clock_of(t, id),
    }
}

/// A wall clock's time since its epoch, as the guest sees it (crate::clock).
pub(super) fn wall_now(id: libc::clockid_t) -> Duration {
    crate::clock::now(id)
}

/// A CPU clock's reading; None once its process is gone.
pub(super) fn cpu_now(k: &Kernel, c: &CpuClock) -> Option<Duration> {
    c.read(&*k.process(c.pid)?)
}

/// The threads that can advance a CPU clock (how fast it can move).
pub(super) fn cpu_threads(k: &Kernel, c: &CpuClock) -> usize {
    match (c.tid, k.process(c.pid)) {
        (None, Some(p)) => p.threads().len(),
        _ => 1,
    }
}

fn clock_now(k: &Kernel, c: &Clock) -> Option<Duration> {
    match c {
        Clock::Wall(id) => Some(wall_now(*id)),
        Clock::Cpu(cpu) => cpu_now(k, cpu),
    }
}

pub fn clock_gettime(t: &mut Task, a: [u64; 6]) -> SysResult {
    let now = clock_now(&t.kernel, &clock_of(t, a[0] as i32)?).ok_or(Errno::EINVAL)?;
    t.process
        .mm()
        .write_val(GuestPtr(a[1]), &duration_timespec(now))?;
    Ok(0)
}

pub fn clock_getres(t: &mut Task, a: [u64; 6]) -> SysResult {
    let ts = match clock_of(t, a[0] as i32)? {
        Clock::Cpu(c) => c.resolution(),
        Clock::Wall(id) => {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: valid clock id and timespec.
            unsafe { libc::clock_getres(id, &mut ts) };
            ts
        }
    };
    if a[1] != 0 {
        t.process.mm().write_val(GuestPtr(a[1]), &ts)?;
    }
    Ok(0)
}

fn now(clk: libc::clockid_t) -> libc::timespec {
    duration_timespec(wall_now(clk))
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
pub(super) fn read_duration(t: &Task, addr: u64) -> Result<Duration, Errno> {
    timespec_duration(t.process.mm().read_val(GuestPtr(addr))?)
}

/// An optional timeout argument (a NULL pointer waits forever).
pub(super) fn read_timeout(t: &Task, addr: u64) -> Result<Option<Duration>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    read_duration(t, addr).map(Some)
}

pub fn nanosleep(t: &mut Task, a: [u64; 6]) -> SysResult {
    let req = read_duration(t, a[0])?;
    let target = wall_now(libc::CLOCK_MONOTONIC).saturating_add(req);
    sleep(t, libc::CLOCK_MONOTONIC, target, a[1])
}

/// clock_nanosleep. As Linux: CLOCK_THREAD_CPUTIME_ID has no sleep (EOPNOTSUPP;
/// libc says EINVAL itself), and the caller's own thread clock by its CPUCLOCK id is
/// EINVAL. Any process's CPU clock can be slept on, even the caller's own (which
/// then only other threads can advance).
pub fn clock_nanosleep(t: &mut Task, a: [u64; 6]) -> SysResult {
    let id = a[0] as i32;
    if id == libc::CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EOPNOTSUPP);
    }
    let clock = timer_clock(t, id)?;
    if let Clock::Cpu(c) = clock {
        if c.tid == Some(t.tid) {
            return Err(Errno::EINVAL);
        }
    }
    let req = read_duration(t, a[2])?;
    let abs = (a[1] as i32) & libc::TIMER_ABSTIME != 0;
    // A relative sleep lasts its length whatever happens to the wall clock it names
    // (Linux arms a relative timer), and across a thaw: time it on the monotonic
    // clock. (glibc's nanosleep is a relative sleep on CLOCK_REALTIME.)
    let (id, clock) = match clock {
        Clock::Wall(libc::CLOCK_REALTIME | libc::CLOCK_TAI) if !abs => {
            (libc::CLOCK_MONOTONIC, Clock::Wall(libc::CLOCK_MONOTONIC))
        }
        _ => (id, clock),
    };
    let target = if abs {
        req
    } else {
        clock_now(&t.kernel, &clock)
            .ok_or(Errno::EINVAL)?
            .saturating_add(req)
    };
    sleep(t, id, target, if abs { 0 } else { a[3] })
}

/// Sleeps until guest clock `id` reads `target`; while it sleeps, a checkpoint
/// records the sleep as a restart block, so a thaw continues it to the same deadline
/// on the guest's clock (which goes on from the checkpoint's reading).
pub(super) fn sleep(t: &mut Task, id: i32, target: Duration, rem: u64) -> SysResult {
    // A CPU clock whose process ended meanwhile (a restarted sleep): the sleep is
    // over, as on Linux, whose timer is released with the process.
    let Ok(clock) = clock_of(t, id) else {
        return Ok(0);
    };
    let block = RestartBlock::Sleep {
        clock: id,
        target,
        rem,
    };
    t.restartable(block, |t| sleep_on(t, clock, target, rem))
}

/// A wall clock is waited for in one go (and re-read, in case it was not monotonic);
/// a CPU clock is polled as its timers are. Interrupted: writes the remaining time to
/// `rem` and says EINTR.
fn sleep_on(t: &mut Task, clock: Clock, target: Duration, rem: u64) -> SysResult {
    loop {
        // A CPU clock that is gone ended the sleep (see restart_syscall).
        let Some(now) = clock_now(&t.kernel, &clock) else {
            return Ok(0);
        };
        let Some(left) = target.checked_sub(now).filter(|d| !d.is_zero()) else {
            return Ok(0);
        };
        let wait = match &clock {
            Clock::Wall(_) => left,
            Clock::Cpu(c) => poll_delay(left, cpu_threads(&t.kernel, c)),
        };
        match crate::sched::block_on(t, &[], Some(deadline_after(wait)), || None::<()>) {
            Err(Errno::ETIMEDOUT) => continue,
            Err(Errno::EINTR) => {
                if rem != 0 {
                    let now = clock_now(&t.kernel, &clock).unwrap_or(target);
                    let left = duration_timespec(target.saturating_sub(now));
                    t.process.mm().write_val(GuestPtr(rem), &left)?;
                }
                return Err(Errno::EINTR);
            }
            other => return other.map(|_| 0),
        }
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
    Ok((t.kernel.uptime().as_millis() / 10) as u64)
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
