//! Tasks: one kernel thread per guest thread, the ptrace tracer of its stub thread.
//!
//! The loop: deliver pending signals, flush queued address-space changes into the
//! stub, run guest code until it traps; a system call goes to the dispatcher, a page
//! fault to the vmspace, a kick (host signal) back to the top of the loop.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use nix::errno::Errno;
use vproc::{Regs, Stop, StubThread};

use crate::kernel::{Kernel, KernelView};
use crate::mm::FaultOutcome;
use crate::process::{ExitStatus, Process, Thread};
use crate::sched::{Block, Waker};
use crate::signal::{Restart, SigInfo};
use crate::strace;
use crate::syscall;

pub struct Task {
    pub kernel: Arc<Kernel>,
    pub process: Arc<Process>,
    pub tid: i32,
    pub me: Arc<Thread>,
    pub thread: StubThread,
    pub regs: Regs,
    /// Set when the task must end (exit, exit_group, a fatal signal).
    pub exit: Option<ExitStatus>,
    /// Whether the fatal signal dumps core (the 0x80 bit of the wait status).
    pub core: bool,
    pub clear_child_tid: u64,
    pub robust_list: u64,
    pub altstack: abi::sigframe::AltStack,
    /// The last system call was interrupted: how it continues once signals are handled.
    pub restart: Option<Restart>,
    /// For restart_syscall: the absolute deadline of an interrupted sleep.
    pub restart_deadline: Option<(libc::clockid_t, libc::timespec)>,
    /// sigsuspend's caller mask, restored once a handler frame (which records it) is
    /// built, or when no handler runs.
    pub saved_mask: Option<u64>,
}

impl Block for Task {
    fn waker(&self) -> &Arc<Waker> {
        &self.me.waker
    }

    fn interrupted(&self) -> bool {
        self.signal_pending()
    }

    fn caller(&self) -> Option<(&Arc<Thread>, &Arc<Process>)> {
        Some((&self.me, &self.process))
    }

    fn sigpipe(&self) {
        let info = SigInfo::user(
            crate::signal::SIGPIPE,
            self.process.pid,
            self.process.cred().uid,
        );
        self.me.signals().pending.push(info);
    }
}

impl Task {
    /// The registers a fresh thread of this stub starts from (segment selectors).
    pub fn template_regs(&self) -> Regs {
        self.thread.get_regs().unwrap_or(self.regs)
    }

    pub fn view(&self) -> KernelView<'_> {
        KernelView {
            kernel: &self.kernel,
            current: self.process.pid,
            current_tid: self.tid,
        }
    }

    /// Whether an unblocked signal waits for this thread (SIGKILL always counts).
    pub fn signal_pending(&self) -> bool {
        let (own, mask) = {
            let s = self.me.signals();
            (s.pending.set(), s.mask)
        };
        let shared = self.process.shared_pending().set();
        (own | shared) & !mask != 0
            || (own | shared) & crate::signal::bit(crate::signal::SIGKILL) != 0
    }

    /// Applies queued address-space changes to the stub, then frees released frames.
    pub fn flush_mm(&mut self) -> Result<(), vproc::VprocError> {
        let calls = self.process.mm().take_pending();
        if !calls.is_empty() {
            self.thread.inject(&calls)?;
        }
        self.process.mm().release_frames();
        Ok(())
    }

    /// Runs the guest until the thread ends.
    pub fn run(&mut self) -> ExitStatus {
        self.thread.share_cpu_with_tracer();
        loop {
            crate::signal::deliver::handle_signals(self);
            if let Some(st) = self.exit {
                return st;
            }
            if let Err(e) = self.flush_mm() {
                return self.die(&format!("address space update failed: {e}"));
            }
            let Some(stop) = self.run_guest() else {
                continue;
            };
            match stop {
                Ok(Stop::Syscall) => self.syscall(),
                Ok(Stop::Fault(f)) => self.fault(f),
                Ok(Stop::Signal(_)) => {}
                Ok(Stop::Exited(_) | Stop::Killed(_)) => return self.die("stub process died"),
                Err(e) => return self.die(&format!("stub lost: {e}")),
            }
        }
    }

    /// Runs guest code unless a signal arrived since the last check (then None). The
    /// in_guest flag is raised before that check, so a signal posted after it kicks
    /// the stub and none is missed.
    fn run_guest(&mut self) -> Option<Result<Stop, vproc::VprocError>> {
        self.me.in_guest.store(true, Ordering::SeqCst);
        if self.signal_pending() {
            self.me.in_guest.store(false, Ordering::SeqCst);
            return None;
        }
        let mut regs = self.regs;
        let stop = self.thread.run(&mut regs);
        self.me.in_guest.store(false, Ordering::SeqCst);
        self.regs = regs;
        Some(stop)
    }

    fn syscall(&mut self) {
        let (nr, args) = self.regs.syscall();
        let traced = self
            .kernel
            .opts
            .strace
            .then(|| strace::entry(self, nr, &args));
        self.restart = None;
        let ret = match syscall::dispatch(self, nr, args) {
            Ok(v) => v as i64,
            Err(e) => {
                if e == Errno::EINTR {
                    self.restart = Some(crate::signal::restart_rule(nr));
                }
                -(e as i64)
            }
        };
        if let Some(entry) = traced {
            strace::exit(self, nr, &args, ret, &entry);
        }
        self.regs.0.rax = ret as u64;
    }

    fn fault(&mut self, f: vproc::FaultInfo) {
        let mut code = f.code;
        if matches!(f.signo, libc::SIGSEGV | libc::SIGBUS) && f.code != 0x80 {
            let outcome = self.process.mm().fault(f.addr);
            match outcome {
                FaultOutcome::Resolved => return,
                FaultOutcome::Oom => {
                    eprintln!(
                        "vkernel: out of guest memory: killing pid {}",
                        self.process.pid
                    );
                    self.exit = Some(ExitStatus::Signal(libc::SIGKILL));
                    return;
                }
                FaultOutcome::Segv(c) => code = c,
                FaultOutcome::Bus => {
                    let info = SigInfo {
                        signo: libc::SIGBUS,
                        code: 2, /* BUS_ADRERR */
                        addr: f.addr,
                        ..Default::default()
                    };
                    crate::signal::deliver::force_signal(self, info);
                    return;
                }
            }
        }
        let info = SigInfo {
            signo: f.signo,
            code,
            addr: f.addr,
            ..Default::default()
        };
        crate::signal::deliver::force_signal(self, info);
    }

    fn die(&mut self, why: &str) -> ExitStatus {
        eprintln!("vkernel: pid {}: {why}", self.process.pid);
        ExitStatus::Signal(libc::SIGKILL)
    }

    /// Copies a guest C string (a path) in.
    pub fn read_path(&self, addr: u64) -> Result<Vec<u8>, Errno> {
        use crate::mm::{GuestPtr, UserMem};
        if addr == 0 {
            return Err(Errno::EFAULT);
        }
        let p = self
            .process
            .mm()
            .read_cstr(GuestPtr(addr), crate::fs::PATH_MAX)?;
        Ok(p)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.thread.kill();
    }
}

/// A new task for `process` on the calling thread: forks a stub, which this thread
/// traces from now on.
pub fn new_task(
    kernel: &Arc<Kernel>,
    process: &Arc<Process>,
    me: Arc<Thread>,
) -> Result<Task, vproc::VprocError> {
    let (space, thread) = vproc::AddressSpace::spawn(&kernel.zygote, &kernel.physmem)?;
    me.stub_pid.store(space.pid(), Ordering::SeqCst);
    me.stub_tid.store(thread.tid(), Ordering::SeqCst);
    let regs = thread.get_regs()?;
    process.add_thread(me.clone());
    Ok(Task {
        kernel: kernel.clone(),
        process: process.clone(),
        tid: me.tid,
        me,
        thread,
        regs,
        exit: None,
        core: false,
        clear_child_tid: 0,
        robust_list: 0,
        altstack: Default::default(),
        restart: None,
        restart_deadline: None,
        saved_mask: None,
    })
}
