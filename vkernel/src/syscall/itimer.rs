//! Signal timers on the kernel's timer thread: alarm, setitimer and getitimer
//! (ITIMER_REAL: SIGALRM) and the POSIX timers of timer_create.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::SysResult;
use crate::kernel::Kernel;
use crate::mm::{GuestPtr, UserMem};
use crate::process::{PosixTimer, Process, RealTimer};
use crate::signal::{deliver, SigInfo};
use crate::task::Task;

const ITIMER_REAL: u64 = 0;
const SIGALRM: i32 = 14;

/// Which of a process's signal timers: ITIMER_REAL (alarm) or a POSIX timer.
#[derive(Clone, Copy)]
enum Which {
    Real,
    Posix(i32),
}

/// Runs `f` on the timer `w` of `p` (None if that POSIX timer was deleted).
fn with_timer<R>(p: &Process, w: Which, f: impl FnOnce(&mut RealTimer) -> R) -> Option<R> {
    match w {
        Which::Real => Some(f(&mut p.real_timer())),
        Which::Posix(id) => p
            .posix_timers()
            .timers
            .get_mut(&id)
            .map(|pt| f(&mut pt.timer)),
    }
}

/// The signal timer `w` raises: SIGALRM for ITIMER_REAL, the timer's own otherwise.
fn timer_signal(p: &Process, w: Which) -> Option<SigInfo> {
    match w {
        Which::Real => Some(SigInfo::kernel(SIGALRM)),
        Which::Posix(id) => p.posix_timers().timers.get(&id).and_then(|pt| pt.signal),
    }
}

fn arm(k: &Arc<Kernel>, p: &Arc<Process>, w: Which, at: Instant) {
    let (k2, weak) = (k.clone(), Arc::downgrade(p));
    let id = k.timers.arm(at, move || fire(&k2, &weak, w, at));
    with_timer(p, w, |rt| {
        rt.id = Some(id);
        rt.deadline = Some(at);
    });
}

/// The timer expired: its signal, and the next period if there is one.
fn fire(k: &Arc<Kernel>, weak: &Weak<Process>, w: Which, at: Instant) {
    let Some(p) = weak.upgrade() else { return };
    let Some(interval) = with_timer(&p, w, |rt| {
        rt.id = None;
        rt.deadline = None;
        rt.interval
    }) else {
        return;
    };
    if let Some(info) = timer_signal(&p, w) {
        deliver::send_to_process(k, &p, info);
    }
    if !interval.is_zero() {
        arm(k, &p, w, super::time::deadline_from(at, interval));
    }
}

/// Replaces a timer's setting (`at` = first expiry, None to disarm); returns the
/// old (time left, interval).
fn set_timer(
    t: &Task,
    w: Which,
    at: Option<Instant>,
    interval: Duration,
) -> Option<(Duration, Duration)> {
    let old = with_timer(&t.process, w, |rt| {
        if let Some(id) = rt.id.take() {
            t.kernel.timers.cancel(id);
        }
        let left = rt.deadline.take().map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        });
        let old = (left, rt.interval);
        rt.interval = interval;
        old
    })?;
    if let Some(at) = at {
        arm(&t.kernel, &t.process, w, at);
    }
    Some(old)
}

fn get_timer(p: &Process, w: Which) -> Option<(Duration, Duration)> {
    with_timer(p, w, |rt| {
        (
            rt.deadline.map_or(Duration::ZERO, |d| {
                d.saturating_duration_since(Instant::now())
            }),
            rt.interval,
        )
    })
}

fn set_real(t: &Task, value: Duration, interval: Duration) -> (Duration, Duration) {
    let at = (!value.is_zero()).then(|| super::time::deadline_after(value));
    set_timer(t, Which::Real, at, interval).unwrap_or_default()
}

fn tv(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs() as i64,
        tv_usec: d.subsec_micros() as i64,
    }
}

fn dur(v: libc::timeval) -> Result<Duration, Errno> {
    if v.tv_sec < 0 || !(0..1_000_000).contains(&v.tv_usec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(v.tv_sec as u64, v.tv_usec as u32 * 1000))
}

pub fn alarm(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (left, _) = set_real(t, Duration::from_secs(a[0] as u32 as u64), Duration::ZERO);
    // Linux rounds a partial second up, and never reports 0 for a pending alarm.
    let secs = left.as_secs() + u64::from(left.subsec_nanos() >= 500_000_000);
    Ok(if secs == 0 && !left.is_zero() {
        1
    } else {
        secs
    })
}

pub fn setitimer(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[0] != ITIMER_REAL {
        // ITIMER_VIRTUAL and ITIMER_PROF need CPU-time accounting; not yet.
        return Err(Errno::EINVAL);
    }
    let (interval, value) = if a[1] == 0 {
        (Duration::ZERO, Duration::ZERO)
    } else {
        let mut mm = t.process.mm();
        (
            dur(mm.read_val(GuestPtr(a[1]))?)?,
            dur(mm.read_val(GuestPtr(a[1] + 16))?)?,
        )
    };
    let (left, old_interval) = set_real(t, value, interval);
    if a[2] != 0 {
        let mut mm = t.process.mm();
        mm.write_val(GuestPtr(a[2]), &tv(old_interval))?;
        mm.write_val(GuestPtr(a[2] + 16), &tv(left))?;
    }
    Ok(0)
}

pub fn getitimer(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[0] != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let (left, interval) = {
        let rt = t.process.real_timer();
        (
            rt.deadline.map_or(Duration::ZERO, |d| {
                d.saturating_duration_since(Instant::now())
            }),
            rt.interval,
        )
    };
    let mut mm = t.process.mm();
    mm.write_val(GuestPtr(a[1]), &tv(interval))?;
    mm.write_val(GuestPtr(a[1] + 16), &tv(left))?;
    Ok(0)
}

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD_ID: i32 = 4;
const SI_TIMER: i32 = -2;
const TIMER_ABSTIME: u64 = 1;

/// struct sigevent's head: sigev_value, sigev_signo, sigev_notify, then the tid.
fn read_sigevent(t: &Task, addr: u64, id: i32) -> Result<Option<SigInfo>, Errno> {
    if addr == 0 {
        return Ok(Some(SigInfo {
            signo: SIGALRM,
            code: SI_TIMER,
            pid: id,
            value: id as u64,
            ..Default::default()
        }));
    }
    let mut raw = [0u8; 20];
    t.process.mm().read_bytes(GuestPtr(addr), &mut raw)?;
    let value = u64::from_ne_bytes(raw[0..8].try_into().unwrap_or([0; 8]));
    let word = |at: usize| i32::from_ne_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    let (signo, notify, tid) = (word(8), word(12), word(16));
    match notify {
        SIGEV_NONE => Ok(None),
        // With one thread per process, the thread to notify is the process.
        SIGEV_SIGNAL | SIGEV_THREAD_ID if crate::signal::valid(signo) => {
            if notify == SIGEV_THREAD_ID && tid != t.tid {
                return Err(Errno::EINVAL);
            }
            // For SI_TIMER the siginfo union carries the timer id where si_pid is.
            Ok(Some(SigInfo {
                signo,
                code: SI_TIMER,
                pid: id,
                value,
                ..Default::default()
            }))
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn timer_create(t: &mut Task, a: [u64; 6]) -> SysResult {
    let clock = a[0] as i32;
    if !matches!(
        clock,
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME
    ) {
        // CPU-time clocks need CPU-time accounting on the timer thread; not yet.
        return Err(Errno::EINVAL);
    }
    let id = t.process.posix_timers().next_id;
    let signal = read_sigevent(t, a[1], id)?;
    t.process.mm().write_val(GuestPtr(a[2]), &id)?;
    let mut pt = t.process.posix_timers();
    pt.next_id += 1;
    pt.timers.insert(
        id,
        PosixTimer {
            clock,
            signal,
            timer: RealTimer::default(),
        },
    );
    Ok(0)
}

fn timer_clock(t: &Task, id: i32) -> Result<i32, Errno> {
    t.process
        .posix_timers()
        .timers
        .get(&id)
        .map(|pt| pt.clock)
        .ok_or(Errno::EINVAL)
}

fn put_itimerspec(
    t: &Task,
    addr: u64,
    (left, interval): (Duration, Duration),
) -> Result<(), Errno> {
    let mut mm = t.process.mm();
    mm.write_val(GuestPtr(addr), &super::time::duration_timespec(interval))?;
    mm.write_val(GuestPtr(addr + 16), &super::time::duration_timespec(left))
}

pub fn timer_settime(t: &mut Task, a: [u64; 6]) -> SysResult {
    let id = a[0] as i32;
    let clock = timer_clock(t, id)?;
    let (interval, value) = {
        let mut mm = t.process.mm();
        (
            super::time::timespec_duration(mm.read_val(GuestPtr(a[2]))?)?,
            super::time::timespec_duration(mm.read_val(GuestPtr(a[2] + 16))?)?,
        )
    };
    let at = if value.is_zero() {
        None
    } else if a[1] & TIMER_ABSTIME != 0 {
        let (s, n) = crate::host::clock(clock);
        let now = Duration::new(s.max(0) as u64, n as u32);
        Some(super::time::deadline_after(value.saturating_sub(now)))
    } else {
        Some(super::time::deadline_after(value))
    };
    let old = set_timer(t, Which::Posix(id), at, interval).ok_or(Errno::EINVAL)?;
    if a[3] != 0 {
        put_itimerspec(t, a[3], old)?;
    }
    Ok(0)
}

pub fn timer_gettime(t: &mut Task, a: [u64; 6]) -> SysResult {
    let cur = get_timer(&t.process, Which::Posix(a[0] as i32)).ok_or(Errno::EINVAL)?;
    put_itimerspec(t, a[1], cur)?;
    Ok(0)
}

/// Expirations are delivered one signal each (a real-time signal queues every one),
/// so none is ever folded into an overrun count.
pub fn timer_getoverrun(t: &mut Task, a: [u64; 6]) -> SysResult {
    timer_clock(t, a[0] as i32).map(|_| 0)
}

pub fn timer_delete(t: &mut Task, a: [u64; 6]) -> SysResult {
    let removed = t
        .process
        .posix_timers()
        .timers
        .remove(&(a[0] as i32))
        .ok_or(Errno::EINVAL)?;
    if let Some(id) = removed.timer.id {
        t.kernel.timers.cancel(id);
    }
    Ok(0)
}
