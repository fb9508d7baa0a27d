//! Signals: pending queues, default actions and the syscall restart rules.

pub mod deliver;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGSEGV: i32 = 11;
pub const SIGPIPE: i32 = 13;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const NSIG: i32 = 64;

/// si_code values the kernel produces.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const SI_TIMER: i32 = -2;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

pub fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// Signals that can be neither blocked, caught nor ignored.
pub const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

pub fn valid(sig: i32) -> bool {
    (1..=NSIG).contains(&sig)
}

/// What a signal carries to its handler (the parts of siginfo we produce).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigInfo {
    pub signo: i32,
    pub code: i32,
    pub pid: i32,
    pub uid: u32,
    pub status: i32,
    pub addr: u64,
    pub value: u64,
    /// SI_TIMER: expirations folded into this signal (si_overrun); `pid` is the
    /// timer id (si_tid) then.
    pub overrun: i32,
}

impl SigInfo {
    pub fn user(signo: i32, pid: i32, uid: u32) -> SigInfo {
        SigInfo {
            signo,
            code: SI_USER,
            pid,
            uid,
            ..Default::default()
        }
    }

    pub fn kernel(signo: i32) -> SigInfo {
        SigInfo {
            signo,
            code: SI_KERNEL,
            ..Default::default()
        }
    }
}

/// Pending signals: standard signals are pending at most once; real-time signals queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigQueue {
    set: u64,
    infos: VecDeque<SigInfo>,
}

impl SigQueue {
    pub fn push(&mut self, info: SigInfo) {
        let realtime = info.signo >= 32;
        if self.set & bit(info.signo) != 0 && !realtime {
            return;
        }
        self.set |= bit(info.signo);
        self.infos.push_back(info);
    }

    pub fn set(&self) -> u64 {
        self.set
    }

    /// Takes the lowest-numbered pending signal not in `blocked`.
    pub fn take(&mut self, blocked: u64) -> Option<SigInfo> {
        let ready = self.set & !blocked;
        if ready == 0 {
            return None;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        let i = self.infos.iter().position(|s| s.signo == sig)?;
        let info = self.infos.remove(i)?;
        if !self.infos.iter().any(|s| s.signo == sig) {
            self.set &= !bit(sig);
        }
        Some(info)
    }

    /// Counts `by` more expirations of POSIX timer `timer` into its signal if that is
    /// still pending (Linux's send_sigqueue on a queued timer signal); false if none is.
    pub fn bump_timer(&mut self, signo: i32, timer: i32, by: i32) -> bool {
        let queued = self
            .infos
            .iter_mut()
            .find(|s| s.code == SI_TIMER && s.signo == signo && s.pid == timer);
        queued
            .map(|s| s.overrun = s.overrun.saturating_add(by))
            .is_some()
    }

    /// Discards every pending instance of the signals in `mask`.
    pub fn discard(&mut self, mask: u64) {
        self.infos.retain(|s| bit(s.signo) & mask == 0);
        self.set &= !mask;
    }
}

/// Takes the next pending signal not in `blocked` for thread `th`: its own first,
/// then its process's. Every dequeue goes through here, as through Linux's
/// dequeue_signal, so a timer's overrun count follows its signals out of the queue.
pub fn dequeue(
    th: &crate::process::Thread,
    p: &crate::process::Process,
    blocked: u64,
) -> Option<SigInfo> {
    let own = th.signals().pending.take(blocked);
    let info = own.or_else(|| p.shared_pending().take(blocked))?;
    if info.code == SI_TIMER {
        p.timers().delivered(info.pid, info.overrun);
    }
    Some(info)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    Core,
    Stop,
    Continue,
    Ignore,
}

pub fn default_action(sig: i32) -> DefaultAction {
    use DefaultAction::*;
    match sig {
        SIGCHLD | 23 /* SIGURG */ | 28 /* SIGWINCH */ => Ignore,
        SIGCONT => Continue,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => Stop,
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | 24 /* SIGXCPU */ | 25 /* SIGXFSZ */ | 31 /* SIGSYS */ => Core,
        _ => Terminate,
    }
}

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// How an interrupted system call continues (Linux's ERESTART* codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Restart {
    /// ERESTARTSYS: restart if the handler has SA_RESTART (or there is no handler).
    Sys,
    /// ERESTARTNOHAND: restart only if no handler runs.
    NoHandler,
    /// ERESTART_RESTARTBLOCK: without a handler, continue through restart_syscall.
    Block,
    /// Never restarted: the caller sees EINTR.
    Never,
}

/// What restart_syscall continues (Linux's restart_block): a call that cannot simply
/// be issued again with the same arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartBlock {
    /// A relative sleep, to its original deadline on guest clock `clock`; the time
    /// left goes to `rem` if it is interrupted again.
    Sleep {
        clock: i32,
        target: std::time::Duration,
        rem: u64,
    },
    /// A vfork parent's wait for `child` to exec or exit, after which vfork returns
    /// the child's pid (a thaw resumes a parent frozen there this way, rather than
    /// issuing vfork again).
    Vfork { child: i32 },
    /// poll(2) of `nfds` pollfds at `fds`, until `target` on CLOCK_MONOTONIC (None:
    /// no timeout), Linux's do_restart_poll.
    Poll {
        fds: u64,
        nfds: u64,
        target: Option<std::time::Duration>,
    },
    /// epoll_wait of `epfd` into `max` events at `events`, until `target` on
    /// CLOCK_MONOTONIC (None: no timeout). Only a thaw continues it: a signal ends
    /// epoll_wait with EINTR, as on Linux.
    Epoll {
        epfd: u64,
        events: u64,
        max: u64,
        target: Option<std::time::Duration>,
    },
    /// A futex wait with a timeout, until `target` on guest clock `clock`, Linux's
    /// futex_wait_restart.
    Futex {
        addr: u64,
        val: u32,
        bitset: u32,
        clock: i32,
        target: std::time::Duration,
    },
}

/// The restart rule of an interrupted system call.
pub fn restart_rule(nr: u64) -> Restart {
    match nr as i64 {
        libc::SYS_ppoll | libc::SYS_select | libc::SYS_pselect6 => Restart::NoHandler,
        libc::SYS_poll
        | libc::SYS_nanosleep
        | libc::SYS_clock_nanosleep
        | libc::SYS_restart_syscall => Restart::Block,
        libc::SYS_pause
        | libc::SYS_rt_sigsuspend
        | libc::SYS_rt_sigtimedwait
        | libc::SYS_epoll_wait
        | libc::SYS_epoll_pwait
        | libc::SYS_epoll_pwait2 => Restart::Never,
        _ => Restart::Sys,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_signals_merge_realtime_queue() {
        let mut q = SigQueue::default();
        q.push(SigInfo::kernel(SIGPIPE));
        q.push(SigInfo::kernel(SIGPIPE));
        q.push(SigInfo {
            signo: 40,
            value: 1,
            ..Default::default()
        });
        q.push(SigInfo {
            signo: 40,
            value: 2,
            ..Default::default()
        });
        assert_eq!(q.take(0).map(|s| s.signo), Some(SIGPIPE));
        assert_eq!(q.take(0).map(|s| s.value), Some(1));
        assert_eq!(q.take(0).map(|s| s.value), Some(2));
        assert_eq!(q.take(0), None);
    }

    #[test]
    fn a_pending_timer_signal_counts_overruns() {
        let mut q = SigQueue::default();
        let timer = |id| SigInfo {
            signo: 40,
            code: SI_TIMER,
            pid: id,
            ..Default::default()
        };
        assert!(!q.bump_timer(40, 1, 1));
        q.push(timer(1));
        q.push(timer(2));
        assert!(q.bump_timer(40, 1, 1) && q.bump_timer(40, 1, 3));
        assert!(!q.bump_timer(41, 2, 1));
        assert_eq!(q.take(0).map(|s| (s.pid, s.overrun)), Some((1, 4)));
        assert_eq!(q.take(0).map(|s| (s.pid, s.overrun)), Some((2, 0)));
    }

    #[test]
    fn blocked_signals_stay_pending() {
        let mut q = SigQueue::default();
        q.push(SigInfo::kernel(SIGCHLD));
        assert_eq!(q.take(bit(SIGCHLD)), None);
        assert_eq!(q.set(), bit(SIGCHLD));
        q.discard(bit(SIGCHLD));
        assert_eq!(q.set(), 0);
    }

    #[test]
    fn pending_signals_round_trip_through_a_checkpoint() {
        let mut q = SigQueue::default();
        q.push(SigInfo::user(SIGCHLD, 7, 1000));
        q.push(SigInfo::user(SIGCHLD, 8, 1000)); // merged into the first
        for value in [1, 2] {
            q.push(SigInfo {
                signo: 40,
                code: -1, // SI_QUEUE
                value,
                ..Default::default()
            });
        }
        let mut back: SigQueue = ckpt::decode(&ckpt::encode(&q).unwrap()).unwrap();
        assert_eq!(back, q);
        assert_eq!(back.take(0).map(|s| s.pid), Some(7));
        assert_eq!(back.take(0).map(|s| s.value), Some(1));
        assert_eq!(back.take(0).map(|s| s.value), Some(2));
        assert_eq!(back.take(0), None);
    }
}
