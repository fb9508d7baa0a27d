//! Tasks: one kernel thread per guest thread, the ptrace tracer of its stub thread.
//!
//! The loop: run guest code until it traps; a system call goes to the dispatcher, a
//! page fault to the vmspace; queued address-space changes are flushed into the stub
//! before the guest runs again.

use std::sync::Arc;

use nix::errno::Errno;
use vproc::{Regs, Stop, StubThread};

use crate::kernel::{Kernel, KernelView};
use crate::mm::FaultOutcome;
use crate::process::{ExitStatus, Process};
use crate::strace;
use crate::syscall;

pub struct Task {
    pub kernel: Arc<Kernel>,
    pub process: Arc<Process>,
    pub tid: i32,
    pub thread: StubThread,
    pub regs: Regs,
    /// Set by exit/exit_group (or a fatal fault): the loop ends with this status.
    pub exit: Option<ExitStatus>,
    pub clear_child_tid: u64,
    pub robust_list: u64,
    pub sigmask: u64,
    pub altstack: crate::syscall::StackT,
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
        }
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

    /// Runs the guest until the process exits.
    pub fn run(&mut self) -> ExitStatus {
        self.thread.share_cpu_with_tracer();
        loop {
            if let Some(st) = self.exit {
                return st;
            }
            if let Err(e) = self.flush_mm() {
                return self.die(&format!("address space update failed: {e}"), libc::SIGKILL);
            }
            let mut regs = self.regs;
            let stop = match self.thread.run(&mut regs) {
                Ok(s) => s,
                Err(e) => return self.die(&format!("stub lost: {e}"), libc::SIGKILL),
            };
            self.regs = regs;
            match stop {
                Stop::Syscall => self.syscall(),
                Stop::Fault(f) => self.fault(f),
                Stop::Signal(_) => {}
                Stop::Exited(_) | Stop::Killed(_) => {
                    return self.die("stub process died", libc::SIGKILL);
                }
            }
        }
    }

    fn syscall(&mut self) {
        let (nr, args) = self.regs.syscall();
        let traced = self
            .kernel
            .opts
            .strace
            .then(|| strace::entry(self, nr, &args));
        let ret = match syscall::dispatch(self, nr, args) {
            Ok(v) => v as i64,
            Err(e) => -(e as i64),
        };
        if let Some(entry) = traced {
            strace::exit(self, nr, &args, ret, &entry);
        }
        self.regs.0.rax = ret as u64;
    }

    fn fault(&mut self, f: vproc::FaultInfo) {
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
                FaultOutcome::Segv(_) => {}
            }
        }
        // Signal delivery to guest handlers comes with the signals work; until then a
        // fault takes the default action, which for all of these is to terminate.
        self.exit = Some(ExitStatus::Signal(f.signo));
    }

    fn die(&mut self, why: &str, sig: i32) -> ExitStatus {
        eprintln!("vkernel: pid {}: {why}", self.process.pid);
        ExitStatus::Signal(sig)
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
