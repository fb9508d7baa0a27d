//! Signal timers: alarm, setitimer and getitimer (ITIMER_REAL, ITIMER_VIRTUAL,
//! ITIMER_PROF) and timer_create's POSIX timers, on wall clocks and CPU clocks.
//!
//! A wall-clock timer is a kernel timer at an instant. CPU time cannot be waited
//! for, so a process with an armed CPU timer has a poll on the timer thread that
//! reads its CPU clocks and fires what is due (Linux checks them at every tick); the
//! poll comes sooner as an expiry nears and stops when no CPU timer is armed.
//! SIGEV_NONE timers are never armed: timer_gettime steps them forward.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::time::{self, Clock};
use super::SysResult;
use crate::kernel::Kernel;
use crate::mm::{GuestPtr, UserMem};
use crate::process::Process;
use crate::sched::cpuclock::{poll_delay, CpuClock};
use crate::sched::sigtimer::{Expiry, SigTimer, SigTimers, TimerClock, Which};
use crate::signal::{deliver, SigInfo, SI_TIMER};
use crate::task::Task;

/// A periodic timer that expired `late` ago: the periods missed since, and how far
/// past the old expiry the next one is.
fn catch_up(late: Duration, interval: Duration) -> (i32, Duration) {
    let iv = interval.as_nanos().max(1);
    let missed = late.as_nanos() / iv;
    let step = iv.saturating_mul(missed + 1);
    (
        i32::try_from(missed).unwrap_or(i32::MAX),
        Duration::from_nanos(u64::try_from(step).unwrap_or(u64::MAX)),
    )
}

/// Moves an expired timer to its next period, or disarms a one-shot one; returns
/// the periods that passed unseen.
fn expire(tm: &mut SigTimer, late: Duration) -> i32 {
    if tm.interval.is_zero() {
        tm.next = None;
        return 0;
    }
    let (missed, step) = catch_up(late, tm.interval);
    tm.next = tm.next.map(|e| match e {
        Expiry::Wall(at) => Expiry::Wall(time::deadline_from(at, step)),
        Expiry::Cpu(at) => Expiry::Cpu(at.saturating_add(step)),
    });
    missed
}

/// How far past its expiry a timer is at `now` (None if not yet due).
fn lateness(tm: &SigTimer, now: Instant, cpu: Option<Duration>) -> Option<Duration> {
    match tm.next? {
        Expiry::Wall(at) => now.checked_duration_since(at),
        Expiry::Cpu(at) => cpu?.checked_sub(at),
    }
}

/// A timer's (time left, interval) at `now` (and `cpu`, its CPU clock's reading).
/// As Linux's timer_gettime: a due SIGEV_NONE timer steps forward (a one-shot one
/// reads 0); a due signalling one reads 1 ns until it fires.
fn current(tm: &mut SigTimer, now: Instant, cpu: Option<Duration>) -> (Duration, Duration) {
    if let Some(late) = lateness(tm, now, cpu) {
        if tm.signal.is_some() {
            return (Duration::from_nanos(1), tm.interval);
        }
        expire(tm, late);
    }
    let left = match tm.next {
        None => Duration::ZERO,
        Some(Expiry::Wall(at)) => at.saturating_duration_since(now),
        Some(Expiry::Cpu(at)) => at.saturating_sub(cpu.unwrap_or(at)),
    };
    (left, tm.interval)
}

/// A timer's clock's reading now, if it is a CPU clock (read before the timers'
/// lock is taken: one process lock at a time).
fn cpu_reading(k: &Kernel, p: &Process, w: Which) -> Option<Duration> {
    let clock = p.timers().get_mut(w).map(|tm| tm.clock)?;
    match clock {
        TimerClock::Cpu(c) => time::cpu_now(k, &c),
        TimerClock::Wall(_) => None,
    }
}

/// Raises a timer's signal. A POSIX timer whose last signal is still queued folds
/// this expiry (and any it missed) into that signal's overrun count instead, as
/// Linux keeps one queued signal per timer.
fn post(k: &Kernel, p: &Arc<Process>, info: SigInfo, missed: i32) {
    if info.code != SI_TIMER {
        deliver::send_to_process(k, p, info);
        return;
    }
    let by = missed.saturating_add(1);
    if !p.shared_pending().bump_timer(info.signo, info.pid, by) {
        let info = SigInfo {
            overrun: missed,
            ..info
        };
        deliver::send_to_process(k, p, info);
    }
}

/// Starts the kernel timer of a wall-clock timer that signals.
fn arm_wall(k: &Arc<Kernel>, p: &Arc<Process>, w: Which, tm: &mut SigTimer) {
    let (Some(Expiry::Wall(at)), Some(_)) = (tm.next, tm.signal) else {
        return;
    };
    let (k2, weak, generation) = (k.clone(), Arc::downgrade(p), tm.generation);
    let id = k
        .timers
        .arm(at, move || fire_wall(&k2, &weak, w, generation));
    tm.kernel_timer = Some(id);
}

/// A wall-clock timer's kernel timer went off.
fn fire_wall(k: &Arc<Kernel>, weak: &Weak<Process>, w: Which, generation: u64) {
    let Some(p) = weak.upgrade() else { return };
    let fired = {
        let mut ts = p.timers();
        let Some(tm) = ts.get_mut(w).filter(|tm| tm.generation == generation) else {
            return; // re-armed or deleted since
        };
        tm.kernel_timer = None;
        let late = lateness(tm, Instant::now(), None).unwrap_or_default();
        let missed = expire(tm, late);
        arm_wall(k, &p, w, tm);
        tm.signal.map(|s| (s, missed))
    };
    if let Some((info, missed)) = fired {
        post(k, &p, info, missed);
    }
}

/// (Re)starts the process's CPU poll at once: it finds its own pace from there.
fn restart_cpu_poll(k: &Arc<Kernel>, p: &Arc<Process>) {
    let mut ts = p.timers();
    if let Some(id) = ts.cpu_poll.take() {
        k.timers.cancel(id);
    }
    ts.poll_generation += 1;
    arm_cpu_poll(k, p, &mut ts, Duration::ZERO);
}

fn arm_cpu_poll(k: &Arc<Kernel>, p: &Arc<Process>, ts: &mut SigTimers, after: Duration) {
    let (k2, weak, generation) = (k.clone(), Arc::downgrade(p), ts.poll_generation);
    let at = Instant::now() + after;
    ts.cpu_poll = Some(k.timers.arm(at, move || poll_cpu(&k2, &weak, generation)));
}

/// Reads the clocks of the armed CPU timers, fires those that are due, and comes
/// back when the nearest of the others could be due.
fn poll_cpu(k: &Arc<Kernel>, weak: &Weak<Process>, generation: u64) {
    let Some(p) = weak.upgrade() else { return };
    let armed = p.timers().armed_cpu();
    let mut clocks: Vec<CpuClock> = Vec::new();
    for (_, c, _) in &armed {
        if !clocks.contains(c) {
            clocks.push(*c);
        }
    }
    let readings: Vec<(CpuClock, Option<Duration>, usize)> = clocks
        .into_iter()
        .map(|c| (c, time::cpu_now(k, &c), time::cpu_threads(k, &c)))
        .collect();
    let mut fired = Vec::new();
    {
        let mut ts = p.timers();
        if ts.poll_generation != generation {
            return; // a newer poll took over
        }
        ts.cpu_poll = None;
        let mut wait: Option<Duration> = None;
        for (w, clock, _) in armed {
            let Some(&(_, Some(now), threads)) = readings.iter().find(|r| r.0 == clock) else {
                continue; // its process is gone: it never fires
            };
            let Some(tm) = ts.get_mut(w) else { continue };
            if let Some(late) = lateness(tm, Instant::now(), Some(now)) {
                let missed = expire(tm, late);
                fired.extend(tm.signal.map(|s| (s, missed)));
            }
            if let Some(Expiry::Cpu(at)) = tm.next {
                let d = poll_delay(at.saturating_sub(now), threads);
                wait = Some(wait.map_or(d, |w: Duration| w.min(d)));
            }
        }
        if let Some(after) = wait {
            arm_cpu_poll(k, &p, &mut ts, after);
        }
    }
    for (info, missed) in fired {
        post(k, &p, info, missed);
    }
}

/// A new setting: the first expiry (None disarms), absolute on the timer's clock or
/// relative to now.
struct Setting {
    value: Option<(Duration, bool)>,
    interval: Duration,
}

/// Replaces timer `w`'s setting; returns the old (time left, interval), or None if
/// there is no such timer.
fn set_timer(t: &Task, w: Which, s: Setting) -> Option<(Duration, Duration)> {
    let (k, p) = (&t.kernel, &t.process);
    let cpu = cpu_reading(k, p, w);
    let now = Instant::now();
    let (old, cpu_timer) = {
        let mut ts = p.timers();
        let tm = ts.get_mut(w)?;
        let old = current(tm, now, cpu);
        if let Some(id) = tm.kernel_timer.take() {
            k.timers.cancel(id);
        }
        tm.generation += 1;
        tm.interval = s.interval;
        tm.next = s.value.map(|(v, abs)| expiry(tm.clock, v, abs, now, cpu));
        arm_wall(k, p, w, tm);
        (
            old,
            tm.next.is_some() && tm.signal.is_some() && cpu.is_some(),
        )
    };
    if cpu_timer {
        restart_cpu_poll(k, p);
    }
    Some(old)
}

/// The expiry of a timer set to `v` on `clock` (absolute or relative).
fn expiry(
    clock: TimerClock,
    v: Duration,
    abs: bool,
    now: Instant,
    cpu: Option<Duration>,
) -> Expiry {
    match clock {
        TimerClock::Wall(id) => {
            let left = if abs {
                v.saturating_sub(time::wall_now(id))
            } else {
                v
            };
            Expiry::Wall(time::deadline_from(now, left))
        }
        TimerClock::Cpu(_) if abs => Expiry::Cpu(v),
        TimerClock::Cpu(_) => Expiry::Cpu(cpu.unwrap_or_default().saturating_add(v)),
    }
}

fn get_timer(t: &Task, w: Which) -> Option<(Duration, Duration)> {
    let cpu = cpu_reading(&t.kernel, &t.process, w);
    let mut ts = t.process.timers();
    ts.get_mut(w).map(|tm| current(tm, Instant::now(), cpu))
}

/// The process ends: every timer stops.
pub fn cancel_all(k: &Kernel, p: &Process) {
    let mut ts = p.timers();
    let ids: Vec<_> = ts.all().filter_map(|(_, tm)| tm.kernel_timer).collect();
    for id in ids.into_iter().chain(ts.cpu_poll.take()) {
        k.timers.cancel(id);
    }
    *ts = SigTimers::new(p.pid);
}

/// execve deletes the POSIX timers (the interval timers stay).
pub fn delete_posix_timers(k: &Kernel, p: &Process) {
    let posix = std::mem::take(&mut p.timers().posix);
    for id in posix.values().filter_map(|tm| tm.kernel_timer) {
        k.timers.cancel(id);
    }
}

/// After a thaw restored `p`'s timers (`SigTimers::restore`): their kernel timers
/// and the CPU poll start again.
pub fn resume(k: &Arc<Kernel>, p: &Arc<Process>) {
    let cpu_armed = {
        let mut ts = p.timers();
        let names: Vec<Which> = ts.all().map(|(w, _)| w).collect();
        for w in names {
            if let Some(tm) = ts.get_mut(w) {
                arm_wall(k, p, w, tm);
            }
        }
        !ts.armed_cpu().is_empty()
    };
    if cpu_armed {
        restart_cpu_poll(k, p);
    }
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

fn relative(value: Duration, interval: Duration) -> Setting {
    Setting {
        value: (!value.is_zero()).then_some((value, false)),
        interval,
    }
}

pub fn alarm(t: &mut Task, a: [u64; 6]) -> SysResult {
    let value = Duration::from_secs(a[0] as u32 as u64);
    let (left, _) = set_timer(t, Which::Real, relative(value, Duration::ZERO)).unwrap_or_default();
    // Linux rounds a partial second up, and never reports 0 for a pending alarm.
    let secs = left.as_secs() + u64::from(left.subsec_nanos() >= 500_000_000);
    Ok(if secs == 0 && !left.is_zero() {
        1
    } else {
        secs
    })
}

fn itimer_which(which: u64) -> Result<Which, Errno> {
    match which {
        0 => Ok(Which::Real),
        1 => Ok(Which::Virtual),
        2 => Ok(Which::Prof),
        _ => Err(Errno::EINVAL),
    }
}

pub fn setitimer(t: &mut Task, a: [u64; 6]) -> SysResult {
    let w = itimer_which(a[0])?;
    let (interval, value) = if a[1] == 0 {
        (Duration::ZERO, Duration::ZERO)
    } else {
        let mut mm = t.process.mm();
        (
            dur(mm.read_val(GuestPtr(a[1]))?)?,
            dur(mm.read_val(GuestPtr(a[1] + 16))?)?,
        )
    };
    let old = set_timer(t, w, relative(value, interval)).unwrap_or_default();
    if a[2] != 0 {
        put_itimerval(t, a[2], old)?;
    }
    Ok(0)
}

fn put_itimerval(t: &Task, addr: u64, (left, interval): (Duration, Duration)) -> Result<(), Errno> {
    let mut mm = t.process.mm();
    mm.write_val(GuestPtr(addr), &tv(interval))?;
    mm.write_val(GuestPtr(addr + 16), &tv(left))
}

pub fn getitimer(t: &mut Task, a: [u64; 6]) -> SysResult {
    let w = itimer_which(a[0])?;
    let cur = get_timer(t, w).unwrap_or_default();
    put_itimerval(t, a[1], cur)?;
    Ok(0)
}

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD: i32 = 2;
const SIGEV_THREAD_ID: i32 = 4;
const TIMER_ABSTIME: u64 = 1;

/// What timer `id` raises, from the guest's struct sigevent (its head: sigev_value,
/// sigev_signo, sigev_notify, then the thread id); as Linux's good_sigevent. A NULL
/// sigevent means SIGALRM carrying the timer id.
fn read_sigevent(t: &Task, addr: u64, id: i32) -> Result<Option<SigInfo>, Errno> {
    let timer_signal = |signo, value| SigInfo {
        signo,
        code: SI_TIMER,
        pid: id,
        value,
        ..Default::default()
    };
    if addr == 0 {
        return Ok(Some(timer_signal(
            crate::sched::sigtimer::SIGALRM,
            id as u64,
        )));
    }
    let mut raw = [0u8; 20];
    t.process.mm().read_bytes(GuestPtr(addr), &mut raw)?;
    let value = u64::from_ne_bytes(raw[0..8].try_into().unwrap_or([0; 8]));
    let word = |at: usize| i32::from_ne_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    let (signo, notify, tid) = (word(8), word(12), word(16));
    // With one thread per process, the thread to notify is the process.
    let thread_ok = notify != SIGEV_THREAD_ID || t.process.threads().iter().any(|th| th.tid == tid);
    match notify {
        SIGEV_NONE => Ok(None),
        // SIGEV_THREAD is libc's business; the kernel sees a plain signal.
        SIGEV_SIGNAL | SIGEV_THREAD | SIGEV_THREAD_ID
            if crate::signal::valid(signo) && thread_ok =>
        {
            Ok(Some(timer_signal(signo, value)))
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn timer_create(t: &mut Task, a: [u64; 6]) -> SysResult {
    let clock = match time::timer_clock(t, a[0] as i32)? {
        Clock::Wall(id) => TimerClock::Wall(id),
        Clock::Cpu(c) => TimerClock::Cpu(c),
    };
    let id = {
        let mut ts = t.process.timers();
        let id = ts.next_id;
        ts.next_id = id.checked_add(1).unwrap_or(0);
        id
    };
    let signal = read_sigevent(t, a[1], id)?;
    t.process.mm().write_val(GuestPtr(a[2]), &id)?;
    t.process
        .timers()
        .posix
        .insert(id, SigTimer::new(clock, signal));
    Ok(0)
}

fn put_itimerspec(
    t: &Task,
    addr: u64,
    (left, interval): (Duration, Duration),
) -> Result<(), Errno> {
    let mut mm = t.process.mm();
    mm.write_val(GuestPtr(addr), &time::duration_timespec(interval))?;
    mm.write_val(GuestPtr(addr + 16), &time::duration_timespec(left))
}

pub fn timer_settime(t: &mut Task, a: [u64; 6]) -> SysResult {
    let interval = time::read_duration(t, a[2])?;
    let value = time::read_duration(t, a[2] + 16)?;
    let setting = Setting {
        value: (!value.is_zero()).then_some((value, a[1] & TIMER_ABSTIME != 0)),
        interval,
    };
    let old = set_timer(t, Which::Posix(a[0] as i32), setting).ok_or(Errno::EINVAL)?;
    if a[3] != 0 {
        put_itimerspec(t, a[3], old)?;
    }
    Ok(0)
}

pub fn timer_gettime(t: &mut Task, a: [u64; 6]) -> SysResult {
    let cur = get_timer(t, Which::Posix(a[0] as i32)).ok_or(Errno::EINVAL)?;
    put_itimerspec(t, a[1], cur)?;
    Ok(0)
}

/// The overrun count of the timer's last delivered signal (see `post`).
pub fn timer_getoverrun(t: &mut Task, a: [u64; 6]) -> SysResult {
    let ts = t.process.timers();
    let tm = ts.posix.get(&(a[0] as i32)).ok_or(Errno::EINVAL)?;
    Ok(tm.overrun as u64)
}

/// A signal of the timer still queued stays queued, as on Linux.
pub fn timer_delete(t: &mut Task, a: [u64; 6]) -> SysResult {
    let removed = t
        .process
        .timers()
        .posix
        .remove(&(a[0] as i32))
        .ok_or(Errno::EINVAL)?;
    if let Some(id) = removed.kernel_timer {
        t.kernel.timers.cancel(id);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::cpuclock::Which as CpuWhich;

    #[test]
    fn missed_periods_are_counted_and_skipped() {
        let ms = Duration::from_millis;
        assert_eq!(catch_up(ms(0), ms(10)), (0, ms(10)));
        assert_eq!(catch_up(ms(95), ms(10)), (9, ms(100)));
        assert_eq!(
            catch_up(Duration::from_secs(10), Duration::from_nanos(1)).0,
            i32::MAX
        );
    }

    #[test]
    fn sigev_none_timers_step_forward_when_read() {
        let ms = Duration::from_millis;
        let start = Instant::now();
        let mut tm = SigTimer::new(TimerClock::Wall(libc::CLOCK_MONOTONIC), None);
        tm.next = Some(Expiry::Wall(start + ms(10)));
        tm.interval = ms(10);
        assert_eq!(current(&mut tm, start + ms(35), None), (ms(5), ms(10)));
        tm.interval = Duration::ZERO;
        assert_eq!(current(&mut tm, start + ms(60), None), (ms(0), ms(0)));
        assert_eq!(tm.next, None);

        let clock = TimerClock::Cpu(CpuClock::process(1, CpuWhich::Sched));
        let mut sig = SigTimer::new(clock, Some(SigInfo::kernel(27)));
        sig.next = Some(Expiry::Cpu(ms(20)));
        assert_eq!(current(&mut sig, start, Some(ms(5))).0, ms(15));
        // Due but not yet fired: 1 ns left, as Linux.
        assert_eq!(
            current(&mut sig, start, Some(ms(25))).0,
            Duration::from_nanos(1)
        );
    }
}
