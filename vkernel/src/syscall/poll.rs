//! poll and ppoll: regular files, directories and memory devices are always ready (as
//! on Linux); every other file reports its state through `FileKind::poll` (the code
//! epoll uses too) and wakes pollers through its wait queue.

use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::time::{deadline_after, wall_now};
use super::SysResult;
use crate::fs::event::Caller;
use crate::fs::FileKind;
use crate::mm::{GuestPtr, UserMem};
use crate::sched::{block_on, WaitQueue};
use crate::signal::RestartBlock;
use crate::task::Task;

const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;
const POLLNVAL: i16 = 0x20;
const POLLERR: i16 = 0x8;
const POLLHUP: i16 = 0x10;
const POLLRDNORM: i16 = 0x40;
const POLLWRNORM: i16 = 0x100;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

// SAFETY: repr(C), integers only.
unsafe impl crate::mm::Pod for PollFd {}

pub fn poll(t: &mut Task, a: [u64; 6]) -> SysResult {
    let timeout_ms = a[2] as i32;
    let target = u64::try_from(timeout_ms)
        .ok()
        .map(|ms| wall_now(libc::CLOCK_MONOTONIC) + Duration::from_millis(ms));
    poll_until(t, a[0], a[1], target)
}

/// poll(2) until `target` on the guest's monotonic clock. An interrupted poll goes
/// on here through restart_syscall with the time it has left, after a signal without
/// a handler or a thaw (Linux's do_restart_poll).
pub(super) fn poll_until(t: &mut Task, fds: u64, nfds: u64, target: Option<Duration>) -> SysResult {
    let block = RestartBlock::Poll { fds, nfds, target };
    let deadline =
        target.map(|d| deadline_after(d.saturating_sub(wall_now(libc::CLOCK_MONOTONIC))));
    t.restartable(block, |t| do_poll(t, fds, nfds, deadline))
}

/// ppoll: its mask argument is the sigset pointer itself, with the size in a[4].
pub fn ppoll(t: &mut Task, a: [u64; 6]) -> SysResult {
    with_mask(t, a[3], a[4], |t| ppoll_inner(t, a))
}

fn ppoll_inner(t: &mut Task, a: [u64; 6]) -> SysResult {
    let deadline = super::time::read_timeout(t, a[2])?.map(deadline_after);
    do_poll(t, a[0], a[1], deadline)
}

/// What we wait on for one pollfd: a fixed answer (POLLNVAL), or a file's kind, which
/// holds the object (not the open file, so polling never keeps a pipe end open).
enum Source {
    Ready(i16),
    File(FileKind),
}

const ALWAYS: i16 = POLLERR | POLLHUP | POLLNVAL;
/// A file without a poll method is always ready (Linux's DEFAULT_POLLMASK).
const DEFAULT_POLLMASK: u32 = (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM) as u32;

fn source(t: &Task, p: &PollFd) -> Source {
    let Ok(f) = t.process.files().file(p.fd) else {
        return Source::Ready(POLLNVAL);
    };
    match &f.kind {
        FileKind::Path => Source::Ready(POLLNVAL),
        k => Source::File(k.clone()),
    }
}

/// Readiness of the kernel-side sources, as revents.
fn check(cur: &Caller, sources: &[(usize, Source)], fds: &mut [PollFd]) -> usize {
    let mut n = 0;
    for (i, s) in sources {
        let p = &mut fds[*i];
        p.revents = match s {
            Source::Ready(r) => *r,
            Source::File(k) => {
                let mask = k.poll(cur).map_or(DEFAULT_POLLMASK, |r| r.mask);
                // Readiness bits all sit in the low 16 (EPOLLRDHUP is 0x2000).
                (mask as u16 as i16) & (p.events | ALWAYS)
            }
        };
        if p.revents != 0 {
            n += 1;
        }
    }
    n
}

fn do_poll(t: &mut Task, addr: u64, n: u64, deadline: Option<Instant>) -> SysResult {
    if n > t.process.nofile() as u64 {
        return Err(Errno::EINVAL);
    }
    let mut fds: Vec<PollFd> = {
        let mut mm = t.process.mm();
        (0..n)
            .map(|i| mm.read_val(GuestPtr(addr + i * 8)))
            .collect::<Result<_, _>>()?
    };
    let count = poll_fds(t, &mut fds, deadline)?;
    let mut mm = t.process.mm();
    for (i, p) in fds.iter().enumerate() {
        mm.write_val(GuestPtr(addr + i as u64 * 8), p)?;
    }
    Ok(count as u64)
}

/// The poll core: fills revents; returns how many are nonzero.
fn poll_fds(t: &Task, fds: &mut [PollFd], deadline: Option<Instant>) -> Result<usize, Errno> {
    let sources: Vec<(usize, Source)> = fds
        .iter()
        .enumerate()
        .filter(|(_, p)| p.fd >= 0)
        .map(|(i, p)| (i, source(t, p)))
        .collect();
    for p in fds.iter_mut() {
        p.revents = 0;
    }
    wait_ready(t, &sources, fds, deadline)
}

/// select and pselect6: fd_sets turned into pollfds and back.
fn do_select(t: &mut Task, n: u64, sets: [u64; 3], deadline: Option<Instant>) -> SysResult {
    // Linux's n is an int, and it looks no further than the table's size (bits above
    // it are neither checked nor touched), whatever RLIMIT_NOFILE says.
    let n = usize::try_from(n as i32).map_err(|_| Errno::EINVAL)?;
    let n = n.min(t.process.files().max_fds());
    let words = n.div_ceil(64);
    let mut bits = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (set, &addr) in bits.iter_mut().zip(&sets) {
        if addr != 0 {
            let mut mm = t.process.mm();
            for (i, w) in set.iter_mut().enumerate() {
                *w = mm.read_val(GuestPtr(addr + 8 * i as u64))?;
            }
        }
    }
    let wanted = [
        POLLIN | POLLRDNORM | POLLHUP | POLLERR,
        POLLOUT | POLLWRNORM | POLLERR,
        0x2, /* POLLPRI */
    ];
    let events = [POLLIN, POLLOUT, 0x2];
    let mut fds: Vec<PollFd> = Vec::new();
    for fd in 0..n {
        let mut ev = 0;
        for (k, set) in bits.iter().enumerate() {
            if set[fd / 64] & (1 << (fd % 64)) != 0 {
                ev |= events[k];
            }
        }
        if ev != 0 {
            fds.push(PollFd {
                fd: fd as i32,
                events: ev,
                revents: 0,
            });
        }
    }
    poll_fds(t, &mut fds, deadline)?;
    if fds.iter().any(|p| p.revents & POLLNVAL != 0) {
        return Err(Errno::EBADF);
    }
    let mut count = 0;
    for set in bits.iter_mut() {
        set.fill(0);
    }
    for p in &fds {
        for (k, set) in bits.iter_mut().enumerate() {
            if p.events & events[k] != 0 && p.revents & wanted[k] != 0 {
                set[p.fd as usize / 64] |= 1 << (p.fd % 64);
                count += 1;
            }
        }
    }
    for (set, &addr) in bits.iter().zip(&sets) {
        if addr != 0 {
            let mut mm = t.process.mm();
            for (i, w) in set.iter().enumerate() {
                mm.write_val(GuestPtr(addr + 8 * i as u64), w)?;
            }
        }
    }
    Ok(count)
}

pub fn select(t: &mut Task, a: [u64; 6]) -> SysResult {
    let deadline = if a[4] == 0 {
        None
    } else {
        let tv: libc::timeval = t.process.mm().read_val(GuestPtr(a[4]))?;
        if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
            return Err(Errno::EINVAL);
        }
        Some(super::time::deadline_after(Duration::new(
            tv.tv_sec as u64,
            tv.tv_usec as u32 * 1000,
        )))
    };
    let r = do_select(t, a[0], [a[1], a[2], a[3]], deadline);
    if let (Some(d), true) = (deadline, a[4] != 0) {
        // Linux reports the time left.
        let left = d.saturating_duration_since(Instant::now());
        let tv = libc::timeval {
            tv_sec: left.as_secs() as i64,
            tv_usec: left.subsec_micros() as i64,
        };
        t.process.mm().write_val(GuestPtr(a[4]), &tv)?;
    }
    r
}

/// pselect6: like select with a timespec and, atomically, a temporary signal mask.
pub fn pselect6(t: &mut Task, a: [u64; 6]) -> SysResult {
    let deadline = super::time::read_timeout(t, a[4])?.map(super::time::deadline_after);
    let r = with_sigmask(t, a[5], |t| {
        do_select(t, a[0], [a[1], a[2], a[3]], deadline)
    });
    if let Some(d) = deadline {
        // Like select, Linux's pselect6 reports the time left (glibc's select uses it).
        let left = super::time::duration_timespec(d.saturating_duration_since(Instant::now()));
        t.process.mm().write_val(GuestPtr(a[4]), &left)?;
    }
    r
}

/// pselect6 passes its mask as a {sigset_t *, size_t} pair.
fn with_sigmask(t: &mut Task, arg: u64, f: impl FnOnce(&mut Task) -> SysResult) -> SysResult {
    if arg == 0 {
        return f(t);
    }
    let (ptr, size): (u64, u64) = {
        let mut mm = t.process.mm();
        (mm.read_val(GuestPtr(arg))?, mm.read_val(GuestPtr(arg + 8))?)
    };
    with_mask(t, ptr, size, f)
}

/// Runs `f` with a temporary signal mask. If a signal interrupts it, the old mask
/// returns only after delivery (like sigsuspend), so the handler runs in between.
/// The old mask is the saved mask throughout, so a checkpoint taken during `f`
/// records the caller's own mask for the re-issued call.
pub(super) fn with_mask(
    t: &mut Task,
    ptr: u64,
    size: u64,
    f: impl FnOnce(&mut Task) -> SysResult,
) -> SysResult {
    if ptr == 0 {
        return f(t);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let tmp: u64 = t.process.mm().read_val(GuestPtr(ptr))?;
    let old = std::mem::replace(&mut t.me.signals().mask, tmp & !crate::signal::UNBLOCKABLE);
    t.saved_mask = Some(old);
    let r = f(t);
    if r != Err(Errno::EINTR) {
        t.saved_mask = None;
        t.me.signals().mask = old;
    }
    r
}

/// Waits until some source is ready, the deadline passes (0) or a signal arrives
/// (EINTR). Every source's wait queue ends the sleep so the state is checked again.
fn wait_ready(
    t: &Task,
    sources: &[(usize, Source)],
    fds: &mut [PollFd],
    deadline: Option<Instant>,
) -> Result<usize, Errno> {
    let cur = Caller {
        thread: &t.me,
        process: &t.process,
    };
    let kinds: Vec<FileKind> = sources
        .iter()
        .filter_map(|(_, s)| match s {
            Source::File(k) => Some(k.clone()),
            Source::Ready(_) => None,
        })
        .collect();
    let watched = crate::fs::epoll::expand(kinds);
    let queues: Vec<&WaitQueue> = crate::fs::epoll::queues(&watched, &cur);
    let ready = block_on(t, &queues, deadline, || {
        let n = check(&cur, sources, fds);
        (n > 0).then_some(n)
    });
    match ready {
        Err(Errno::ETIMEDOUT) => Ok(0),
        other => other,
    }
}
