//! Signal calls. Dispositions and masks are recorded (and reported back) now;
//! delivery to guest handlers arrives with the signals work.

use nix::errno::Errno;

use super::SysResult;
use crate::mm::{GuestPtr, UserMem};
use crate::process::SigAction;
use crate::signal::RestartBlock;
use crate::task::Task;

const SIGKILL: u64 = 9;
const SIGSTOP: u64 = 19;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct KSigaction {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

// SAFETY: repr(C), integers only.
unsafe impl crate::mm::Pod for KSigaction {}

pub fn rt_sigaction(t: &mut Task, a: [u64; 6]) -> SysResult {
    let [sig, act, oact, size, ..] = a;
    if size != 8 || !(1..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        Some(t.process.mm().read_val::<KSigaction>(GuestPtr(act))?)
    } else {
        None
    };
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let slot = (sig - 1) as usize;
    let old = t.process.sigactions()[slot];
    if oact != 0 {
        let k = KSigaction {
            handler: old.handler,
            flags: old.flags,
            restorer: old.restorer,
            mask: old.mask,
        };
        t.process.mm().write_val(GuestPtr(oact), &k)?;
    }
    if let Some(n) = new {
        let unblockable = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));
        t.process.sigactions()[slot] = SigAction {
            handler: n.handler,
            flags: n.flags,
            restorer: n.restorer,
            mask: n.mask & !unblockable,
        };
        // Ignoring a signal discards what is pending of it, blocked or not.
        let ign = n.handler == crate::signal::SIG_IGN
            || (n.handler == crate::signal::SIG_DFL
                && crate::signal::default_action(sig as i32)
                    == crate::signal::DefaultAction::Ignore);
        if ign {
            let b = crate::signal::bit(sig as i32);
            t.me.signals().pending.discard(b);
            t.process.shared_pending().discard(b);
        }
    }
    Ok(0)
}

pub fn rt_sigprocmask(t: &mut Task, a: [u64; 6]) -> SysResult {
    let [how, set, oset, size, ..] = a;
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let old = t.me.signals().mask;
    let new = if set != 0 {
        Some(t.process.mm().read_val::<u64>(GuestPtr(set))?)
    } else {
        None
    };
    if let Some(s) = new {
        let s = s & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
        let new_mask = match how as i32 {
            libc::SIG_BLOCK => old | s,
            libc::SIG_UNBLOCK => old & !s,
            libc::SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL),
        };
        t.me.signals().mask = new_mask;
    }
    if oset != 0 {
        t.process.mm().write_val(GuestPtr(oset), &old)?;
    }
    Ok(0)
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct StackT {
    pub sp: u64,
    pub flags: i32,
    pub pad: i32,
    pub size: u64,
}

// SAFETY: repr(C), integers only, explicit padding.
unsafe impl crate::mm::Pod for StackT {}

pub fn sigaltstack(t: &mut Task, a: [u64; 6]) -> SysResult {
    use abi::sigframe::{AltStack, AltStackError, MINSIGSTKSZ};
    let sp = t.regs.0.rsp;
    let new = if a[0] != 0 {
        Some(t.process.mm().read_val::<StackT>(GuestPtr(a[0]))?)
    } else {
        None
    };
    let old = t.altstack.reported(sp);
    if let Some(n) = new {
        let want = AltStack {
            sp: n.sp,
            flags: n.flags,
            size: n.size,
        };
        t.altstack = t.altstack.set(want, sp, MINSIGSTKSZ).map_err(|e| match e {
            AltStackError::OnStack => Errno::EPERM,
            AltStackError::BadFlags => Errno::EINVAL,
            AltStackError::TooSmall => Errno::ENOMEM,
        })?;
    }
    if a[1] != 0 {
        let out = StackT {
            sp: old.sp,
            flags: old.flags,
            pad: 0,
            size: old.size,
        };
        t.process.mm().write_val(GuestPtr(a[1]), &out)?;
    }
    Ok(0)
}

use std::sync::Arc;

use crate::process::Process;
use crate::signal::{deliver, SigInfo, SI_TKILL};

fn sig_arg(a: u64) -> Result<i32, Errno> {
    let s = a as i32;
    if s == 0 || crate::signal::valid(s) {
        Ok(s)
    } else {
        Err(Errno::EINVAL)
    }
}

/// Root may signal anyone; others only processes of their own real or effective uid.
fn may_signal(t: &Task, target: &Process) -> bool {
    let (me, them) = (t.process.cred(), target.cred());
    me.euid == 0 || me.uid == them.uid || me.euid == them.uid
}

fn send(t: &Task, targets: Vec<Arc<Process>>, sig: i32, code: i32) -> SysResult {
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    let mut sent = false;
    for p in targets.iter().filter(|p| may_signal(t, p)) {
        sent = true;
        if sig != 0 && p.life().exit.is_none() {
            let info = SigInfo {
                signo: sig,
                code,
                pid: t.process.pid,
                uid: t.process.cred().uid,
                ..Default::default()
            };
            deliver::send_to_process(&t.kernel, p, info);
        }
    }
    if sent {
        Ok(0)
    } else {
        Err(Errno::EPERM)
    }
}

pub fn kill(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (pid, sig) = (a[0] as i32, sig_arg(a[1])?);
    let all = t.kernel.all_processes();
    let targets: Vec<Arc<Process>> = match pid {
        p if p > 0 => all.into_iter().filter(|x| x.pid == p).collect(),
        0 => {
            let g = t.process.pgid();
            all.into_iter().filter(|x| x.pgid() == g).collect()
        }
        -1 => all
            .into_iter()
            .filter(|x| x.pid != 1 && x.pid != t.process.pid)
            .collect(),
        p => all.into_iter().filter(|x| x.pgid() == -p).collect(),
    };
    send(t, targets, sig, crate::signal::SI_USER)
}

/// With one thread per process, thread-directed signals go to the process.
pub fn tgkill(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (tgid, tid, sig) = (a[0] as i32, a[1] as i32, sig_arg(a[2])?);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let (p, th) = find_thread(t, tid).ok_or(Errno::ESRCH)?;
    if p.pid != tgid {
        return Err(Errno::ESRCH);
    }
    let info = SigInfo {
        signo: sig,
        code: SI_TKILL,
        pid: t.process.pid,
        uid: t.process.cred().uid,
        ..Default::default()
    };
    send_to_one_thread(t, &p, &th, info)
}

pub fn tkill(t: &mut Task, a: [u64; 6]) -> SysResult {
    let tid = a[0] as i32;
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let tgid = find_thread(t, tid).ok_or(Errno::ESRCH)?.0.pid;
    tgkill(t, [tgid as u64, tid as u64, a[1], 0, 0, 0])
}

/// The live thread `tid` and its process.
fn find_thread(t: &Task, tid: i32) -> Option<(Arc<Process>, Arc<crate::process::Thread>)> {
    t.kernel
        .all_processes()
        .into_iter()
        .find_map(|p| p.thread(tid).map(|th| (p, th)))
}

fn send_to_one_thread(
    t: &Task,
    p: &Arc<Process>,
    th: &crate::process::Thread,
    info: SigInfo,
) -> SysResult {
    if !may_signal(t, p) {
        return Err(Errno::EPERM);
    }
    if info.signo != 0 {
        deliver::send_to_thread(&t.kernel, p, th, info);
    }
    Ok(0)
}

pub fn rt_sigreturn(t: &mut Task, _a: [u64; 6]) -> SysResult {
    deliver::sigreturn(t)
}

pub fn rt_sigpending(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    // One lock at a time: the thread's signal state, then the process's queue.
    let (own, mask) = {
        let s = t.me.signals();
        (s.pending.set(), s.mask)
    };
    let set = (own | t.process.shared_pending().set()) & mask;
    t.process.mm().write_val(GuestPtr(a[0]), &set)?;
    Ok(0)
}

/// Sleeps until a signal is pending; always EINTR (never restarted).
fn sleep_until_signal(t: &Task) -> SysResult {
    let _ = crate::sched::block_on(t, &[], None, || None::<()>);
    Err(Errno::EINTR)
}

pub fn pause(t: &mut Task, _a: [u64; 6]) -> SysResult {
    sleep_until_signal(t)
}

/// rt_sigsuspend: waits with a temporary mask. The handler's frame must save the
/// *old* mask, so the task puts it back right after the frame is built.
pub fn rt_sigsuspend(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let tmp: u64 = t.process.mm().read_val(GuestPtr(a[0]))?;
    let old = std::mem::replace(&mut t.me.signals().mask, tmp & !crate::signal::UNBLOCKABLE);
    t.saved_mask = Some(old);
    sleep_until_signal(t)
}

/// The 128-byte siginfo a guest receives for `info`.
fn siginfo_bytes(info: &SigInfo) -> [u8; 128] {
    deliver::to_abi_info(info).to_bytes()
}

/// rt_sigtimedwait: takes a pending signal from `set` (normally blocked by the
/// caller) without running a handler. EAGAIN on timeout; EINTR if another signal
/// arrives first.
pub fn rt_sigtimedwait(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let set: u64 = t.process.mm().read_val::<u64>(GuestPtr(a[0]))? & !crate::signal::UNBLOCKABLE;
    let deadline = super::time::read_timeout(t, a[2])?.map(super::time::deadline_after);
    let (me, p) = (t.me.clone(), t.process.clone());
    let take = || crate::signal::dequeue(&me, &p, !set);
    // Another thread may be the one kicked for a process-directed signal; the
    // process's signal queue wakes every waiter.
    let info = match crate::sched::block_on(t, &[&p.signal_event], deadline, take) {
        Ok(i) => i,
        Err(Errno::ETIMEDOUT) => return Err(Errno::EAGAIN),
        Err(e) => return Err(e),
    };
    if a[1] != 0 {
        t.process
            .mm()
            .write_bytes(GuestPtr(a[1]), &siginfo_bytes(&info))?;
    }
    Ok(info.signo as u64)
}

/// restart_syscall: continues what a signal or a thaw interrupted (the task's
/// restart block); EINTR when there is nothing to continue, as on Linux.
pub fn restart_syscall(t: &mut Task, _a: [u64; 6]) -> SysResult {
    match t.restart_block.take() {
        Some(RestartBlock::Sleep { clock, target, rem }) => {
            super::time::sleep(t, clock, target, rem)
        }
        Some(RestartBlock::Vfork { child }) => crate::fork::wait_for_vfork_child(t, child),
        Some(RestartBlock::Poll { fds, nfds, target }) => {
            super::poll::poll_until(t, fds, nfds, target)
        }
        Some(RestartBlock::Epoll {
            epfd,
            events,
            max,
            target,
        }) => super::event::epoll_wait_until(t, epfd, events, max, target),
        Some(RestartBlock::Futex {
            addr,
            val,
            bitset,
            clock,
            target,
        }) => super::futex::wait_until(t, addr, val, bitset, Some((clock, target))),
        None => Err(Errno::EINTR),
    }
}

/// The siginfo a guest queues with rt_sigqueueinfo: only negative si_codes (as
/// SI_QUEUE) may be forged for others, as on Linux.
fn queued_info(t: &Task, target: i32, sig: i32, addr: u64) -> Result<SigInfo, Errno> {
    let mut raw = [0u8; 128];
    t.process.mm().read_bytes(GuestPtr(addr), &mut raw)?;
    let word = |at: usize| i32::from_ne_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    let code = word(8);
    if (code >= 0 || code == SI_TKILL) && target != t.process.pid {
        return Err(Errno::EPERM);
    }
    let value = u64::from_ne_bytes(raw[24..32].try_into().unwrap_or([0; 8]));
    Ok(SigInfo {
        signo: sig,
        code,
        pid: word(16),
        uid: word(20) as u32,
        value,
        ..Default::default()
    })
}

pub fn rt_sigqueueinfo(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (pid, sig) = (a[0] as i32, sig_arg(a[1])?);
    let info = queued_info(t, pid, sig, a[2])?;
    let p = t.kernel.process(pid).ok_or(Errno::ESRCH)?;
    if !may_signal(t, &p) {
        return Err(Errno::EPERM);
    }
    if sig != 0 {
        deliver::send_to_process(&t.kernel, &p, info);
    }
    Ok(0)
}

/// rt_sigqueueinfo aimed at one thread.
pub fn rt_tgsigqueueinfo(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (tgid, tid, sig) = (a[0] as i32, a[1] as i32, sig_arg(a[2])?);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let info = queued_info(t, tgid, sig, a[3])?;
    let (p, th) = find_thread(t, tid).ok_or(Errno::ESRCH)?;
    if p.pid != tgid {
        return Err(Errno::ESRCH);
    }
    send_to_one_thread(t, &p, &th, info)
}
