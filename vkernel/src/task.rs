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
use crate::mm::{FaultOutcome, GuestPtr, UserMem, Vmspace, SEGV_MAPERR};
use crate::process::{CpuTimes, ExitStatus, Process, Thread};
use crate::sched::cpuclock::{CpuBase, CpuClock, Which};
use crate::sched::{Block, Waker};
use crate::signal::{Restart, RestartBlock, SigInfo};
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
    /// For restart_syscall: what an interrupted call continues as.
    pub restart_block: Option<RestartBlock>,
    /// While the task waits inside a call that a plain re-issue would get wrong (a
    /// relative sleep, a vfork parent's wait): how a checkpoint records it instead.
    pub waiting_in: Option<RestartBlock>,
    /// sigsuspend's caller mask, restored once a handler frame (which records it) is
    /// built, or when no handler runs.
    pub saved_mask: Option<u64>,
}

impl Block for Task {
    fn waker(&self) -> &Arc<Waker> {
        &self.me.waker
    }

    fn interrupted(&self) -> bool {
        self.freeze_point(true);
        self.signal_pending()
    }

    fn interrupted_after_progress(&self) -> bool {
        self.kernel.freezer.requested() || self.signal_pending()
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
        (own | shared) & !mask != 0 || self.fatal_signal_pending()
    }

    /// Whether SIGKILL is on its way: the only thing that ends an uninterruptible
    /// (Linux: killable) wait.
    pub fn fatal_signal_pending(&self) -> bool {
        let kill = crate::signal::bit(crate::signal::SIGKILL);
        self.me.signals().pending.set() & kill != 0
            || self.process.shared_pending().set() & kill != 0
    }

    /// Starts guest registers `regs` on this task's fresh stub thread; the segment
    /// selectors stay the stub's own.
    pub fn load_regs(&mut self, mut regs: Regs) {
        regs.0.cs = self.regs.0.cs;
        regs.0.ss = self.regs.0.ss;
        self.regs = regs;
    }

    /// Makes another host thread in this stub and starts the task of guest thread `me`
    /// on it (clone with CLONE_THREAD, and thaw); true once that task has taken it over.
    pub fn start_sibling(
        &mut self,
        me: Arc<Thread>,
        setup: impl FnOnce(&mut Task) -> bool + Send + 'static,
    ) -> bool {
        let Ok(host_tid) = self.thread.spawn_thread() else {
            return false;
        };
        let stub = StubSource::Adopt(self.thread.space().clone(), host_tid);
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = self
            .kernel
            .spawn_task(self.process.clone(), me, stub, setup, Some(tx));
        spawned.is_ok() && rx.recv() == Ok(true)
    }

    /// The thread's name: its own (PR_SET_NAME) or the process's.
    pub fn thread_name(&self) -> Vec<u8> {
        let own = self
            .me
            .comm
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if own.is_empty() {
            self.process.exec_info().comm.clone()
        } else {
            own
        }
    }

    /// The stub's host address space, as the vmspace knows it.
    pub fn space(&self) -> crate::mm::SpaceId {
        self.thread.space().pid()
    }

    /// Applies queued address-space changes to the stub, then frees released frames.
    /// The vmspace stays locked throughout: the stub's other threads share the queue,
    /// and none may free a frame (or run on) before the calls that drop it have run.
    pub fn flush_mm(&mut self) -> Result<(), vproc::VprocError> {
        let space = self.space();
        let mut mm = self.process.mm();
        let calls = mm.take_pending(space);
        if !calls.is_empty() {
            self.thread.inject(&calls)?;
        }
        mm.release_frames();
        Ok(())
    }

    /// Parks here if a checkpoint is being taken (see checkpoint/freezer.rs);
    /// `in_syscall` when called from inside a system call's wait.
    pub fn freeze_point(&self, in_syscall: bool) {
        if self.kernel.freezer.requested() {
            self.kernel.freezer.park(self.snapshot(in_syscall));
        }
    }

    /// Runs `call`, a wait that `block` continues: a checkpoint taken meanwhile
    /// records the block, so a thaw continues through restart_syscall. A signal ends
    /// the call as it would anyway.
    pub fn resumable(
        &mut self,
        block: RestartBlock,
        call: impl FnOnce(&mut Task) -> syscall::SysResult,
    ) -> syscall::SysResult {
        self.waiting_in = Some(block);
        let r = call(self);
        self.waiting_in = None;
        r
    }

    /// [`Task::resumable`], and a signal that interrupts the call when no handler
    /// runs continues it through the block too (ERESTART_RESTARTBLOCK).
    pub fn restartable(
        &mut self,
        block: RestartBlock,
        call: impl FnOnce(&mut Task) -> syscall::SysResult,
    ) -> syscall::SysResult {
        let r = self.resumable(block, call);
        if r == Err(Errno::EINTR) {
            self.restart_block = Some(block);
            self.restart = Some(Restart::Block);
        }
        r
    }

    /// The thread as the checkpoint records it.
    fn snapshot(&self, in_syscall: bool) -> crate::checkpoint::ThreadSnapshot {
        let (mut mask, pending) = {
            let s = self.me.signals();
            (s.mask, s.pending.clone())
        };
        let (mut regs, mut restart_block, mut saved_mask) =
            (self.regs, self.restart_block, self.saved_mask);
        if in_syscall {
            // Resuming from here re-issues the call, as a transparent restart does, or
            // continues it through restart_syscall. A re-issued call starts from the
            // caller's own mask (sigsuspend and ppoll set theirs again).
            regs.0.rax = match self.waiting_in {
                Some(b) => {
                    restart_block = Some(b);
                    libc::SYS_restart_syscall as u64
                }
                None => {
                    mask = saved_mask.take().unwrap_or(mask);
                    regs.0.orig_rax
                }
            };
            regs.0.rip -= 2;
        }
        crate::checkpoint::ThreadSnapshot {
            pid: self.process.pid,
            tid: self.tid,
            regs: regs.to_words(),
            xstate: self.thread.get_xstate().map(|x| x.0).unwrap_or_default(),
            in_syscall: in_syscall.then_some(self.regs.0.orig_rax),
            mask,
            pending,
            clear_child_tid: self.clear_child_tid,
            robust_list: self.robust_list,
            altstack: (self.altstack.sp, self.altstack.flags, self.altstack.size),
            comm: self.thread_name(),
            restart: self.restart,
            restart_block,
            saved_mask,
            cpu: CpuBase::now(CpuClock::thread(self.process.pid, self.tid), &self.process),
        }
    }

    /// Runs the guest until the thread ends.
    pub fn run(&mut self) -> ExitStatus {
        self.thread.share_cpu_with_tracer();
        loop {
            self.freeze_point(false);
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
                // A call may have chosen its own rule (a socket wait with a timeout).
                if e == Errno::EINTR && self.restart.is_none() {
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
            let not_present = f.signo == libc::SIGSEGV && f.code == SEGV_MAPERR;
            let outcome = self.process.mm().fault(f.addr, not_present);
            match outcome {
                FaultOutcome::Resolved => return,
                FaultOutcome::Oom => {
                    eprintln!(
                        "vkernel: out of guest memory: killing pid {}",
                        self.process.pid
                    );
                    self.group_exit(ExitStatus::Signal(libc::SIGKILL), false);
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

    /// The process is done with guest memory (Linux's exit_mm): whoever shares it
    /// sees the CLONE_CHILD_CLEARTID word cleared, and the stub leaves the vmspace,
    /// whose frames go back to physmem unless another process shares it.
    pub fn exit_mm(&mut self) {
        if self.process.mm.is_shared() {
            self.release_child_tid();
        }
        let space = self.space();
        let old = self
            .process
            .mm
            .replace(Vmspace::new(self.kernel.physmem.clone()));
        old.lock().leave(space);
    }

    /// exit_group, or a fatal signal: the whole thread group ends with `status` (the
    /// first such event decides), every other thread by a SIGKILL of its own.
    pub fn group_exit(&mut self, status: ExitStatus, core: bool) {
        {
            let mut l = self.process.life();
            if l.group_exit.is_none() {
                l.group_exit = Some((status, core));
            }
        }
        self.zap_other_threads();
        self.exit = Some(status);
        self.core = core;
    }

    /// Sends SIGKILL to every other thread of the process.
    pub fn zap_other_threads(&self) {
        for th in self.process.threads() {
            if th.tid != self.tid {
                th.signals()
                    .pending
                    .push(crate::signal::SigInfo::kernel(crate::signal::SIGKILL));
                th.kick();
            }
        }
    }

    /// Whether the stub thread is its process's first (host) thread, which cannot end
    /// before the others (as a thread group leader on Linux).
    pub fn hosts_the_leader(&self) -> bool {
        self.thread.tid() == self.thread.space().pid()
    }

    /// execve from a thread: this task leaves its stub for a fresh one. The old stub
    /// dies with the old StubThread; a parked leader task sees the move and ends. The
    /// CPU time the old stub was charged stays the process's and the thread's.
    pub fn move_to_fresh_stub(&mut self) -> Result<(), vproc::VprocError> {
        let fresh = StubSource::Fresh.take(&self.kernel)?;
        let pid = self.process.pid;
        let process_cpu = CpuBase::now(CpuClock::process(pid, Which::Sched), &self.process);
        let thread_cpu = CpuBase::now(CpuClock::thread(pid, self.tid), &self.process);
        self.thread = fresh;
        self.thread.share_cpu_with_tracer();
        let (stub, tid) = (self.thread.space().pid(), self.thread.tid());
        self.me.stub_pid.store(stub, Ordering::SeqCst);
        self.me.stub_tid.store(tid, Ordering::SeqCst);
        self.process.stub_pid.store(stub, Ordering::SeqCst);
        // After the switch: a reading in between is a little behind, never ahead
        // (which could fire an ITIMER_PROF early).
        *self.process.cpu_base() = process_cpu;
        *self.me.cpu_base() = thread_cpu;
        self.process.thread_exit.notify_all();
        Ok(())
    }

    /// execve from a thread: the caller takes the leader's tid (the pid).
    pub fn become_leader(&mut self) {
        let leader = Thread::new(self.process.pid);
        {
            let mut old = self.me.signals();
            let mut new = leader.signals();
            new.mask = old.mask;
            new.pending = std::mem::take(&mut old.pending);
        }
        let (pid, tid) = (&self.me.stub_pid, &self.me.stub_tid);
        leader
            .stub_pid
            .store(pid.load(Ordering::SeqCst), Ordering::SeqCst);
        leader
            .stub_tid
            .store(tid.load(Ordering::SeqCst), Ordering::SeqCst);
        self.process.replace_thread(self.tid, leader.clone());
        self.me = leader;
        self.tid = self.process.pid;
    }

    /// The end of this guest thread. Returns the process's end (status, core, CPU
    /// time) when this was its last thread; the caller then ends the process.
    pub fn finish(&mut self, status: ExitStatus) -> Option<(ExitStatus, bool, CpuTimes)> {
        self.kernel.freezer.ended();
        crate::futex::exit_robust_list(self);
        self.process.life().last_thread_exit = Some((status, self.core));
        let left = self.process.remove_thread(self.tid);
        if left > 0 && !self.hosts_the_leader() {
            self.release_child_tid();
            // Reaped before the task ends: PTRACE_O_EXITKILL would take the stub along.
            let _ = self.thread.exit_thread();
            return None;
        }
        if left > 0 {
            self.release_child_tid();
            // Like Linux's zombie leader: the stub's first thread waits for the others.
            let p = self.process.clone();
            let mine = self.thread.space().pid();
            let moved = || p.stub_pid.load(Ordering::SeqCst) != mine;
            let _ =
                crate::sched::wait_on(&self.me.waker, &[&p.thread_exit], None, &|| false, || {
                    (p.threads().is_empty() || moved()).then_some(())
                });
            if moved() {
                // execve in another thread took the process to a fresh stub.
                return None;
            }
        }
        let (status, core) = {
            let l = self.process.life();
            l.group_exit
                .or(l.last_thread_exit)
                .unwrap_or((status, self.core))
        };
        let cpu = CpuTimes::of_stub(self.thread.space().pid());
        self.exit_mm();
        Some((status, core, cpu))
    }

    /// CLONE_CHILD_CLEARTID / set_tid_address: the word is cleared and one waiter on it
    /// woken, for whoever shares the memory (pthread_join waits there).
    fn release_child_tid(&mut self) {
        let addr = std::mem::take(&mut self.clear_child_tid);
        if addr == 0 || self.process.mm().write_val(GuestPtr(addr), &0i32).is_err() {
            return;
        }
        let _ = crate::futex::wake(self, addr, 1, crate::futex::BITSET_ANY);
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

/// Where a new task's stub thread comes from.
pub enum StubSource {
    /// A fresh stub process (a new process, or execve leaving a threaded stub).
    Fresh,
    /// A thread `StubThread::spawn_thread` made in an existing stub (a new thread).
    Adopt(Arc<vproc::AddressSpace>, libc::pid_t),
}

impl StubSource {
    /// The stub thread, traced by the calling kernel thread from now on.
    pub fn take(self, kernel: &Kernel) -> Result<StubThread, vproc::VprocError> {
        match self {
            StubSource::Fresh => {
                vproc::AddressSpace::spawn(&kernel.zygote, &kernel.physmem).map(|(_, t)| t)
            }
            StubSource::Adopt(space, tid) => StubThread::adopt(&space, tid),
        }
    }
}

/// A new task for `process` on the calling thread, tracing a stub thread from `stub`.
pub fn new_task(
    kernel: &Arc<Kernel>,
    process: &Arc<Process>,
    me: Arc<Thread>,
    stub: StubSource,
) -> Result<Task, vproc::VprocError> {
    let thread = stub.take(kernel)?;
    me.stub_pid.store(thread.space().pid(), Ordering::SeqCst);
    me.stub_tid.store(thread.tid(), Ordering::SeqCst);
    process
        .stub_pid
        .store(thread.space().pid(), Ordering::SeqCst);
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
        restart_block: None,
        waiting_in: None,
        saved_mask: None,
    })
}
