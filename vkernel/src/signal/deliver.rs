//! Delivering signals at the return to guest code: default actions, stops, handler
//! frames, and what happens to an interrupted system call.

use std::sync::Arc;

use abi::sigframe;

use super::*;
use crate::mm::{GuestPtr, UserMem};
use crate::process::{ExitStatus, SigAction};
use crate::task::Task;

/// A synchronous fault: it cannot stay blocked or ignored (as Linux's force_sig).
pub fn force_signal(t: &mut Task, info: SigInfo) {
    let sig = info.signo;
    {
        let mut acts = t.process.sigactions();
        let mut s = t.me.signals();
        if acts[(sig - 1) as usize].handler == SIG_IGN || s.mask & bit(sig) != 0 {
            acts[(sig - 1) as usize].handler = SIG_DFL;
        }
        s.mask &= !bit(sig);
        s.pending.push(info);
    }
}

/// Takes the next deliverable signal: the thread's own first, then the process's.
fn dequeue(t: &Task) -> Option<SigInfo> {
    let mask = t.me.signals().mask & !UNBLOCKABLE;
    super::dequeue(&t.me, &t.process, mask)
}

/// Handles every deliverable signal, then settles an interrupted system call. A
/// thread of a stopped process stops here first: the one that took the stop signal
/// kicked it, and a thaw starts the threads of a stopped process here.
pub fn handle_signals(t: &mut Task) {
    if t.process.life().stopped.is_some() {
        stay_stopped(t);
    }
    while t.exit.is_none() {
        let Some(info) = dequeue(t) else { break };
        let act = t.process.sigactions()[(info.signo - 1) as usize];
        match act.handler {
            SIG_IGN => {}
            SIG_DFL => default_action_of(t, info.signo),
            _ => {
                settle_restart(t, Some(&act));
                setup_frame(t, &info, &act);
            }
        }
    }
    settle_restart(t, None);
    if t.exit.is_none() && !t.signal_pending() {
        if let Some(m) = t.saved_mask.take() {
            t.me.signals().mask = m;
        }
    }
}

fn default_action_of(t: &mut Task, sig: i32) {
    match default_action(sig) {
        DefaultAction::Ignore | DefaultAction::Continue => {}
        DefaultAction::Stop => stop(t, sig),
        DefaultAction::Terminate | DefaultAction::Core => {
            let core = default_action(sig) == DefaultAction::Core;
            let execing = t.process.life().execing.is_some_and(|tid| tid != t.tid);
            if execing && sig == SIGKILL {
                // execve in another thread ends this one, not the process.
                t.exit = Some(ExitStatus::Signal(sig));
            } else {
                t.group_exit(ExitStatus::Signal(sig), core);
            }
        }
    }
}

/// Group stop: tell the parent, stop the other threads, then sleep until SIGCONT
/// (or SIGKILL).
fn stop(t: &mut Task, sig: i32) {
    {
        let mut l = t.process.life();
        l.stopped = Some(sig);
        l.stop_reported = false;
        l.continued = false;
    }
    t.kernel.notify_parent(&t.process, CLD_STOPPED, sig);
    t.process.kick_all();
    stay_stopped(t);
}

/// Sleeps while the process is stopped, unless SIGKILL comes.
fn stay_stopped(t: &Task) {
    let kill = bit(SIGKILL);
    let p = t.process.clone();
    let me = t.me.clone();
    let _ = crate::sched::wait_on(
        &t.me.waker,
        &[],
        None,
        &|| {
            t.freeze_point(false);
            (me.signals().pending.set() | p.shared_pending().set()) & kill != 0
        },
        || p.life().stopped.is_none().then_some(()),
    );
}

/// Decides how an interrupted system call continues, once per interruption: with a
/// handler about to run (`act`), or with none (restart transparently).
fn settle_restart(t: &mut Task, act: Option<&SigAction>) {
    let Some(rule) = t.restart.take() else { return };
    if t.regs.0.rax as i64 != -(libc::EINTR as i64) {
        return;
    }
    let restart = match (rule, act) {
        (Restart::Never, _) => false,
        (Restart::Sys, Some(a)) => a.flags & SA_RESTART != 0,
        (_, Some(_)) => false,
        (_, None) => true,
    };
    if !restart {
        return;
    }
    t.regs.0.rax = if rule == Restart::Block {
        libc::SYS_restart_syscall as u64
    } else {
        t.regs.0.orig_rax
    };
    // Back over the 2-byte `syscall` instruction, so the guest issues it again.
    t.regs.0.rip -= 2;
}

pub fn to_abi_info(i: &SigInfo) -> sigframe::SigInfo {
    use sigframe::SigFields;
    let fields = match i.signo {
        SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP if i.code > 0 => {
            SigFields::Fault { addr: i.addr }
        }
        // SI_TIMER: the union holds the timer id and overrun where si_pid/si_uid are.
        _ if i.code == SI_TIMER => SigFields::Timer {
            tid: i.pid,
            overrun: i.overrun,
            value: i.value,
        },
        SIGCHLD if i.code > 0 => SigFields::Child {
            pid: i.pid,
            uid: i.uid,
            status: i.status,
            utime: 0,
            stime: 0,
        },
        // Negative codes other than SI_TKILL come from rt_sigqueueinfo and carry a value.
        _ if (i.code < 0 && i.code != SI_TKILL) || i.signo >= 32 => SigFields::Rt {
            pid: i.pid,
            uid: i.uid,
            value: i.value,
        },
        _ if i.code <= 0 => SigFields::Kill {
            pid: i.pid,
            uid: i.uid,
        },
        _ => SigFields::None,
    };
    sigframe::SigInfo {
        signo: i.signo,
        errno: 0,
        code: i.code,
        fields,
    }
}

/// Builds the handler's frame on the guest stack and points the thread at it.
fn setup_frame(t: &mut Task, info: &SigInfo, act: &SigAction) {
    let sig = info.signo;
    let Ok(xs) = t.thread.get_xstate() else {
        t.group_exit(ExitStatus::Signal(SIGKILL), false);
        return;
    };
    // After sigsuspend the frame records the caller's mask, not the temporary one.
    let mask = t.saved_mask.take().unwrap_or(t.me.signals().mask);
    t.me.signals().mask = mask;
    let abi_info = to_abi_info(info);
    let alt = t.altstack;
    let d = sigframe::Delivery {
        regs: t.regs.to_words(),
        xsave: &xs.0,
        xfeatures: sigframe::ptrace_xcr0(&xs.0).unwrap_or(3),
        blocked: mask,
        altstack: alt,
        info: &abi_info,
        handler: act.handler,
        restorer: act.restorer,
        sa_flags: act.flags,
        fault: None,
    };
    let frame = match sigframe::build(&d) {
        Ok(f) => f,
        Err(_) => return fatal_segv(t, sig),
    };
    if t.process
        .mm()
        .write_bytes(GuestPtr(frame.addr), &frame.bytes)
        .is_err()
    {
        return fatal_segv(t, sig);
    }
    // The handler starts with a clean FPU, as on Linux.
    if t.thread
        .set_xstate(&vproc::XState(frame.handler_xsave))
        .is_err()
    {
        return fatal_segv(t, sig);
    }
    t.regs = vproc::Regs::from_words(frame.regs);
    t.regs.0.orig_rax = u64::MAX;
    if frame.disarm_altstack {
        t.altstack = sigframe::AltStack::reset();
    }
    let mut s = t.me.signals();
    s.mask |= act.mask & !UNBLOCKABLE;
    if act.flags & SA_NODEFER == 0 {
        s.mask |= bit(sig);
    }
    drop(s);
    if act.flags & SA_RESETHAND != 0 {
        t.process.sigactions()[(sig - 1) as usize] = SigAction {
            handler: SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
    }
}

/// Linux's force_sigsegv: a frame that cannot be written kills with SIGSEGV.
fn fatal_segv(t: &mut Task, _sig: i32) {
    t.process.sigactions()[(SIGSEGV - 1) as usize].handler = SIG_DFL;
    t.group_exit(ExitStatus::Signal(SIGSEGV), true);
}

/// rt_sigreturn: restore what the frame saved.
pub fn sigreturn(t: &mut Task) -> Result<u64, nix::errno::Errno> {
    let rsp = t.regs.0.rsp;
    let current = t.regs.to_words();
    let mm = &t.process.mm;
    let read = |addr: u64, len: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        mm.lock().read_bytes(GuestPtr(addr), &mut buf).ok()?;
        Some(buf)
    };
    let Ok(r) = sigframe::restore(rsp, &current, &read) else {
        fatal_segv(t, SIGSEGV);
        return Ok(t.regs.0.rax);
    };
    if r.regs[sigframe::reg::CS] != 0x33 {
        // A 32-bit code segment: vkernel runs 64-bit guests only.
        fatal_segv(t, SIGSEGV);
        return Ok(t.regs.0.rax);
    }
    let Ok(cur) = t.thread.get_xstate() else {
        fatal_segv(t, SIGSEGV);
        return Ok(t.regs.0.rax);
    };
    // The setter wants the whole regset; a frame may carry fewer components, and
    // one without fpstate means a reset FPU.
    let xs = match r.xsave {
        Some(xs) => sigframe::pad_xsave(xs, cur.0.len()),
        None => sigframe::reset_fpu(&cur.0),
    };
    if t.thread.set_xstate(&vproc::XState(xs)).is_err() {
        fatal_segv(t, SIGSEGV);
        return Ok(t.regs.0.rax);
    }
    t.regs = vproc::Regs::from_words(r.regs);
    t.me.signals().mask = r.blocked & !UNBLOCKABLE;
    t.altstack = t.altstack.after_sigreturn(r.altstack, t.regs.0.rsp);
    Ok(t.regs.0.rax)
}

/// Sends `info` to a whole process with Linux's side effects: SIGCONT resumes a
/// stopped process and discards pending stop signals; a stop signal discards a
/// pending SIGCONT; signals the process ignores are dropped at once.
pub fn send_to_process(k: &crate::kernel::Kernel, p: &Arc<crate::process::Process>, info: SigInfo) {
    send(k, p, None, info);
}

/// tgkill: a signal for one thread (stop, continue and kill still act on the group).
pub fn send_to_thread(
    k: &crate::kernel::Kernel,
    p: &Arc<crate::process::Process>,
    th: &crate::process::Thread,
    info: SigInfo,
) {
    send(k, p, Some(th), info);
}

fn send(
    k: &crate::kernel::Kernel,
    p: &Arc<crate::process::Process>,
    thread: Option<&crate::process::Thread>,
    info: SigInfo,
) {
    let sig = info.signo;
    let stops = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU);
    if sig == SIGKILL {
        // Queued before the stop ends, so the woken task takes it before anything else.
        p.shared_pending().push(info);
    }
    if sig == SIGCONT || sig == SIGKILL {
        p.shared_pending().discard(stops);
        let resumed = {
            let mut l = p.life();
            let was = l.stopped.take().is_some();
            // Only SIGCONT makes a "continued" report; SIGKILL just ends the stop.
            if was && sig == SIGCONT {
                l.continued = true;
                l.stop_reported = false;
            }
            was
        };
        if resumed && sig == SIGCONT {
            k.notify_parent(p, CLD_CONTINUED, SIGCONT);
        }
        if resumed {
            for th in p.threads() {
                th.kick();
            }
        }
    }
    if bit(sig) & stops != 0 {
        p.shared_pending().discard(bit(SIGCONT));
    }
    let act = p.sigactions()[(sig - 1) as usize];
    let blocked_everywhere = p.threads().iter().all(|t| t.signals().mask & bit(sig) != 0);
    let ignored = act.handler == SIG_IGN
        || (act.handler == SIG_DFL
            && matches!(
                default_action(sig),
                DefaultAction::Ignore | DefaultAction::Continue
            ));
    if sig == SIGKILL {
        p.kick_all();
        return;
    }
    if ignored && !blocked_everywhere {
        return;
    }
    match thread {
        Some(th) => {
            th.signals().pending.push(info);
            th.kick();
            p.signal_event.notify_all();
        }
        None => p.post_signal(info),
    }
}
