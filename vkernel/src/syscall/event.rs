//! Event files: eventfd, timerfd, signalfd and epoll. The objects live in fs/event.rs
//! and fs/epoll.rs; this file checks arguments in Linux's order and moves data
//! between guest memory and them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::time::{deadline_after, wall_now};
use super::{fd_arg, SysResult};
use crate::fs::epoll::{self, Epoll, EPOLLEXCLUSIVE, EXCLUSIVE_OK};
use crate::fs::event::{
    anon_inode, Caller, EventFd, EventFdState, SignalFd, SignalFdState, TimerFd, TimerFdState,
    TimerSpec, EFD_SEMAPHORE,
};
use crate::fs::file::{O_NONBLOCK, O_RDWR};
use crate::fs::{FileKind, OpenFile};
use crate::mm::{GuestPtr, UserMem};
use crate::sched::{block_on, WaitQueue};
use crate::signal::RestartBlock;
use crate::task::Task;

/// O_CLOEXEC, which EFD_/TFD_/SFD_/EPOLL_CLOEXEC all equal.
const O_CLOEXEC: u32 = 0o2000000;
const TFD_TIMER_ABSTIME: u32 = 1;
const TFD_TIMER_CANCEL_ON_SET: u32 = 2;
const EPOLL_CTL_ADD: i32 = 1;
const EPOLL_CTL_DEL: i32 = 2;
const EPOLL_CTL_MOD: i32 = 3;
/// struct epoll_event is packed on x86-64: u32 events, u64 data.
const EVENT_SIZE: u64 = 12;
/// Linux's EP_MAX_EVENTS.
const MAX_EVENTS: i32 = i32::MAX / EVENT_SIZE as i32;
/// Where user space ends (access_ok).
const TASK_SIZE: u64 = 0x7fff_ffff_f000;

fn caller(t: &Task) -> Caller<'_> {
    Caller {
        thread: &t.me,
        process: &t.process,
    }
}

/// Installs a new anonymous-inode file ("anon_inode:[name]" in /proc/PID/fd). Only
/// O_NONBLOCK of `flags` becomes a status flag; O_CLOEXEC goes to the descriptor.
fn install(t: &Task, kind: FileKind, name: &str, flags: u32) -> SysResult {
    let path = format!("anon_inode:[{name}]").into_bytes();
    let file = OpenFile::new(anon_inode(), path, kind, O_RDWR | (flags & O_NONBLOCK));
    let fd = t.process.files().install(file, flags & O_CLOEXEC != 0, 0)?;
    Ok(fd as u64)
}

fn file(t: &Task, fd: u64) -> Result<Arc<OpenFile>, Errno> {
    t.process.files().file(fd_arg(fd))
}

// ---- eventfd -------------------------------------------------------------------------------

pub fn eventfd(t: &mut Task, a: [u64; 6]) -> SysResult {
    eventfd2(t, [a[0], 0, 0, 0, 0, 0])
}

pub fn eventfd2(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (count, flags) = (a[0] as u32, a[1] as u32);
    if flags & !(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL);
    }
    let e = EventFd::new(EventFdState {
        count: u64::from(count),
        semaphore: flags & EFD_SEMAPHORE != 0,
        ..Default::default()
    });
    install(t, FileKind::EventFd(e), "eventfd", flags)
}

// ---- timerfd -------------------------------------------------------------------------------

/// The host clock behind a timerfd clock id (timerfd knows fewer clocks than
/// timer_create: no TAI, no CPU clocks).
fn timer_clock(t: &Task, clock: i32) -> Result<i32, Errno> {
    match clock {
        libc::CLOCK_MONOTONIC | libc::CLOCK_REALTIME | libc::CLOCK_BOOTTIME => Ok(clock),
        libc::CLOCK_REALTIME_ALARM | libc::CLOCK_BOOTTIME_ALARM => {
            super::time::alarm_clock(t, clock)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn timerfd_create(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (clock, flags) = (a[0] as i32, a[1] as u32);
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let clock = timer_clock(t, clock)?;
    let tfd = TimerFd::new(
        t.kernel.timers.clone(),
        TimerFdState {
            clock,
            ..Default::default()
        },
    );
    install(t, FileKind::TimerFd(tfd), "timerfd", flags)
}

/// struct itimerspec as (interval, value); validated by the caller.
fn read_itimerspec(t: &Task, addr: u64) -> Result<[libc::timespec; 2], Errno> {
    let mut mm = t.process.mm();
    Ok([
        mm.read_val(GuestPtr(addr))?,
        mm.read_val(GuestPtr(addr + 16))?,
    ])
}

fn valid(ts: &libc::timespec) -> bool {
    super::time::timespec_duration(*ts).is_ok()
}

/// A valid timespec in nanoseconds, saturating where Linux's ktime does (KTIME_MAX).
fn to_ns(ts: &libc::timespec) -> u64 {
    let ns = (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64);
    ns.min(i64::MAX as u64)
}

fn to_timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i64,
    }
}

fn write_itimerspec(t: &Task, addr: u64, spec: TimerSpec) -> Result<(), Errno> {
    let mut mm = t.process.mm();
    mm.write_val(GuestPtr(addr), &to_timespec(spec.interval_ns))?;
    mm.write_val(GuestPtr(addr + 16), &to_timespec(spec.value_ns))
}

/// The timerfd behind `fd`: EBADF if none is open, EINVAL if it is something else.
fn timerfd_of(t: &Task, fd: u64) -> Result<Arc<TimerFd>, Errno> {
    match &file(t, fd)?.kind {
        FileKind::TimerFd(tfd) => Ok(tfd.clone()),
        _ => Err(Errno::EINVAL),
    }
}

pub fn timerfd_settime(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (flags, new_ptr, old_ptr) = (a[1] as u32, a[2], a[3]);
    let [interval, value] = read_itimerspec(t, new_ptr)?;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0
        || !valid(&interval)
        || !valid(&value)
    {
        return Err(Errno::EINVAL);
    }
    let tfd = timerfd_of(t, a[0])?;
    let new = TimerSpec {
        value_ns: to_ns(&value),
        interval_ns: to_ns(&interval),
    };
    // TFD_TIMER_CANCEL_ON_SET is accepted; the guest cannot set the clock, so the
    // timer is never cancelled.
    let old = tfd.set(new, flags & TFD_TIMER_ABSTIME != 0);
    if old_ptr != 0 {
        write_itimerspec(t, old_ptr, old)?;
    }
    Ok(0)
}

pub fn timerfd_gettime(t: &mut Task, a: [u64; 6]) -> SysResult {
    let spec = timerfd_of(t, a[0])?.get();
    write_itimerspec(t, a[1], spec)?;
    Ok(0)
}

// ---- signalfd ------------------------------------------------------------------------------

pub fn signalfd(t: &mut Task, a: [u64; 6]) -> SysResult {
    signalfd4(t, [a[0], a[1], a[2], 0, 0, 0])
}

pub fn signalfd4(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (fd, size, flags) = (fd_arg(a[0]), a[2], a[3] as u32);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = t.process.mm().read_val(GuestPtr(a[1]))?;
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let mask = mask & !crate::signal::UNBLOCKABLE;
    if fd == -1 {
        let s = SignalFd::new(SignalFdState { mask });
        return install(t, FileKind::SignalFd(s), "signalfd", flags);
    }
    let FileKind::SignalFd(s) = &file(t, a[0])?.kind else {
        return Err(Errno::EINVAL);
    };
    s.set_mask(mask);
    // A reader or poller waiting for the old mask checks the new one.
    t.process.signal_event.notify_all();
    Ok(fd as u64)
}

// ---- epoll ---------------------------------------------------------------------------------

pub fn epoll_create(t: &mut Task, a: [u64; 6]) -> SysResult {
    // The size hint is obsolete but must be positive.
    if a[0] as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    epoll_create1(t, [0; 6])
}

pub fn epoll_create1(t: &mut Task, a: [u64; 6]) -> SysResult {
    let flags = a[0] as u32;
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    install(t, FileKind::Epoll(Epoll::new()), "eventpoll", flags)
}

/// struct epoll_event as (events, data).
fn read_event(t: &Task, addr: u64) -> Result<(u32, u64), Errno> {
    let mut b = [0u8; EVENT_SIZE as usize];
    t.process.mm().read_bytes(GuestPtr(addr), &mut b)?;
    let (ev, data) = b.split_at(4);
    let ev = u32::from_ne_bytes(ev.try_into().map_err(|_| Errno::EFAULT)?);
    let data = u64::from_ne_bytes(data.try_into().map_err(|_| Errno::EFAULT)?);
    Ok((ev, data))
}

pub fn epoll_ctl(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (op, fd) = (a[1] as i32, fd_arg(a[2]));
    let (events, data) = if op != EPOLL_CTL_DEL {
        read_event(t, a[3])?
    } else {
        (0, 0)
    };
    let (ef, tf) = {
        let files = t.process.files();
        (files.file(fd_arg(a[0]))?, files.file(fd)?)
    };
    if matches!(ef.kind, FileKind::Path) || matches!(tf.kind, FileKind::Path) {
        return Err(Errno::EBADF);
    }
    if tf.kind.poll(&caller(t)).is_none() {
        return Err(Errno::EPERM);
    }
    let FileKind::Epoll(ep) = &ef.kind else {
        return Err(Errno::EINVAL);
    };
    if Arc::ptr_eq(&ef, &tf) {
        return Err(Errno::EINVAL);
    }
    if op != EPOLL_CTL_DEL && events & EPOLLEXCLUSIVE != 0 {
        let target_is_epoll = matches!(tf.kind, FileKind::Epoll(_));
        if op == EPOLL_CTL_MOD || target_is_epoll || events & !EXCLUSIVE_OK != 0 {
            return Err(Errno::EINVAL);
        }
    }
    match op {
        EPOLL_CTL_ADD => ep.insert(fd, &tf, events, data)?,
        EPOLL_CTL_MOD => ep.modify(fd, &tf, events, data)?,
        EPOLL_CTL_DEL => ep.remove(fd, &tf)?,
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

pub fn epoll_wait(t: &mut Task, a: [u64; 6]) -> SysResult {
    let target = u64::try_from(a[3] as i32)
        .ok()
        .map(|ms| wall_now(libc::CLOCK_MONOTONIC) + Duration::from_millis(ms));
    epoll_wait_until(t, a[0], a[1], a[2], target)
}

/// epoll_wait until `target` on the guest's monotonic clock; a thaw goes on waiting
/// here to the same deadline (see `RestartBlock::Epoll`).
pub(super) fn epoll_wait_until(
    t: &mut Task,
    epfd: u64,
    events: u64,
    max: u64,
    target: Option<Duration>,
) -> SysResult {
    let deadline =
        target.map(|d| deadline_after(d.saturating_sub(wall_now(libc::CLOCK_MONOTONIC))));
    let block = RestartBlock::Epoll {
        epfd,
        events,
        max,
        target,
    };
    t.resumable(block, |t| {
        do_epoll_wait(t, [epfd, events, max, 0, 0, 0], deadline)
    })
}

/// epoll_pwait: epoll_wait with a temporary signal mask (sigset pointer and size).
/// With a mask, a thaw issues it again (the mask is the caller's own by then).
pub fn epoll_pwait(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[4] == 0 {
        return epoll_wait(t, a);
    }
    let ms = a[3] as i32;
    let deadline = (ms >= 0).then(|| Instant::now() + Duration::from_millis(ms as u64));
    super::poll::with_mask(t, a[4], a[5], |t| do_epoll_wait(t, a, deadline))
}

/// epoll_pwait2: the timeout is a timespec (NULL: forever).
pub fn epoll_pwait2(t: &mut Task, a: [u64; 6]) -> SysResult {
    let deadline = super::time::read_timeout(t, a[3])?.map(super::time::deadline_after);
    super::poll::with_mask(t, a[4], a[5], |t| do_epoll_wait(t, a, deadline))
}

fn do_epoll_wait(t: &mut Task, a: [u64; 6], deadline: Option<Instant>) -> SysResult {
    let (addr, max) = (a[1], a[2] as i32);
    if max <= 0 || max > MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(max as u64 * EVENT_SIZE);
    if end.is_none_or(|e| e > TASK_SIZE) {
        return Err(Errno::EFAULT);
    }
    let ep = match &file(t, a[0])?.kind {
        FileKind::Epoll(ep) => ep.clone(),
        _ => return Err(Errno::EINVAL),
    };
    let events = wait_events(t, &ep, max as usize, deadline)?;
    let mut out = Vec::with_capacity(events.len() * EVENT_SIZE as usize);
    for (ev, data) in &events {
        out.extend_from_slice(&ev.to_ne_bytes());
        out.extend_from_slice(&data.to_ne_bytes());
    }
    t.process.mm().write_bytes(GuestPtr(addr), &out)?;
    Ok(events.len() as u64)
}

/// Waits until `ep` has events, the deadline passes (none) or a signal arrives (EINTR,
/// never restarted). The sleep watches the queues of every file in the interest list;
/// when the list changes under it, the queues are collected again.
fn wait_events(
    t: &Task,
    ep: &Epoll,
    max: usize,
    deadline: Option<Instant>,
) -> Result<Vec<(u32, u64)>, Errno> {
    let cur = caller(t);
    if deadline.is_some_and(|d| d <= Instant::now()) {
        // A zero timeout only looks: no sleep, so no EINTR either (as Linux).
        return Ok(ep.take_events(&cur, max));
    }
    loop {
        let generation = ep.generation();
        let mut watched = Vec::new();
        ep.watch(&mut watched);
        let mut queues: Vec<&WaitQueue> = epoll::queues(&watched, &cur);
        queues.push(&ep.wq);
        let r = block_on(t, &queues, deadline, || {
            let events = ep.take_events(&cur, max);
            if !events.is_empty() {
                return Some(Some(events));
            }
            (ep.generation() != generation).then_some(None)
        });
        match r {
            Ok(Some(events)) => return Ok(events),
            Ok(None) => continue,
            Err(Errno::ETIMEDOUT) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    }
}
