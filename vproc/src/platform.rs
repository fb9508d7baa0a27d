//! The ptrace platform: run a guest thread until it traps, and change its address space.
//!
//! Every guest thread is a host thread in a stub process, seized by exactly one kernel
//! thread (its tracer) and resumed with PTRACE_SYSEMU, so guest system calls stop before
//! they execute and never reach the host. Address-space changes (mapping physmem frames,
//! unmapping, protecting) are host calls the kernel injects through the trampoline.

use std::sync::{Arc, Mutex};

use crate::error::{check, VprocError};
use crate::layout::{TRAMPOLINE_CMD, TRAMPOLINE_CODE};
use crate::physmem::{Physmem, PAGE_SIZE};
use crate::regs::{FpRegs, Regs, XState};
use crate::trampoline::{ENTRY_SIZE, THREAD_OFFSET};
use crate::zygote::Zygote;

/// Why a guest thread stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It issued a system call; number and arguments are in its registers.
    Syscall,
    /// An instruction faulted (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP from the CPU).
    Fault(FaultInfo),
    /// A host signal not caused by the guest (e.g. the freezer's kick).
    Signal(i32),
    /// The host thread is gone: exited with a status or killed by a signal.
    Exited(i32),
    Killed(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultInfo {
    pub signo: i32,
    pub code: i32,
    pub addr: u64,
}

/// One host system call to run in a stub.
#[derive(Debug, Clone, Copy)]
pub struct HostCall {
    pub nr: u64,
    pub args: [u64; 6],
}

impl HostCall {
    /// Maps `len` bytes of physmem at `paddr` (frame-aligned) to `vaddr` in the stub.
    pub fn map(physmem: &Physmem, vaddr: u64, len: u64, prot: i32, paddr: u64) -> HostCall {
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        HostCall {
            nr: libc::SYS_mmap as u64,
            args: [vaddr, len, prot as u64, flags, physmem.fd() as u64, paddr],
        }
    }

    pub fn unmap(vaddr: u64, len: u64) -> HostCall {
        HostCall {
            nr: libc::SYS_munmap as u64,
            args: [vaddr, len, 0, 0, 0, 0],
        }
    }

    pub fn protect(vaddr: u64, len: u64, prot: i32) -> HostCall {
        HostCall {
            nr: libc::SYS_mprotect as u64,
            args: [vaddr, len, prot as u64, 0, 0, 0],
        }
    }
}

/// A stub process: one host address space, holding one guest vmspace.
pub struct AddressSpace {
    pid: libc::pid_t,
    cmd_frame: u64,
    /// The command page is shared by the stub's threads; one batch at a time.
    cmd_lock: Mutex<()>,
    physmem: Arc<Physmem>,
}

impl AddressSpace {
    /// Forks a fresh stub and seizes its first thread from the calling thread, which
    /// becomes that thread's tracer.
    pub fn spawn(
        zygote: &Zygote,
        physmem: &Arc<Physmem>,
    ) -> Result<(Arc<AddressSpace>, StubThread), VprocError> {
        let cmd = physmem.alloc(1).ok_or(VprocError::Host {
            op: "allocate a command page",
            source: std::io::Error::from_raw_os_error(libc::ENOMEM),
        })?;
        let pid = match zygote.spawn(cmd.start) {
            Ok(pid) => pid,
            Err(e) => {
                physmem.put(cmd.start);
                return Err(e);
            }
        };
        let space = Arc::new(AddressSpace {
            pid,
            cmd_frame: cmd.start,
            cmd_lock: Mutex::new(()),
            physmem: physmem.clone(),
        });
        let thread = StubThread::seize(pid, space.clone())?;
        Ok((space, thread))
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        // SAFETY: signalling our own stub process. It may already be gone.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        self.physmem.put(self.cmd_frame);
    }
}

/// A traced host thread of a stub. Only the kernel thread that seized it may use it.
pub struct StubThread {
    tid: libc::pid_t,
    space: Arc<AddressSpace>,
    exited: bool,
}

impl StubThread {
    /// Seizes `tid` from the calling thread, which becomes its tracer.
    fn attach(tid: libc::pid_t, space: Arc<AddressSpace>) -> Result<StubThread, VprocError> {
        let opts = libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACESYSGOOD;
        // SAFETY: ptrace on a thread of our own stub; arguments per ptrace(2).
        check("PTRACE_SEIZE", unsafe {
            libc::ptrace(libc::PTRACE_SEIZE, tid, 0, opts as libc::c_long)
        })?;
        Ok(StubThread {
            tid,
            space,
            exited: false,
        })
    }

    /// A fresh stub's first thread. The stub stops itself with SIGSTOP after setup;
    /// depending on timing we see it as a group stop or as the signal's delivery stop.
    /// Either way it is then parked at the end of its setup and ready for registers.
    fn seize(tid: libc::pid_t, space: Arc<AddressSpace>) -> Result<StubThread, VprocError> {
        let mut t = Self::attach(tid, space)?;
        let sigstop = |st| libc::WSTOPSIG(st) == libc::SIGSTOP;
        t.wait_for_stop("setup", sigstop)?;
        Ok(t)
    }

    /// Resumes the thread through other stops until one `wanted` says is the one.
    fn wait_for_stop(
        &mut self,
        during: &'static str,
        wanted: impl Fn(i32) -> bool,
    ) -> Result<(), VprocError> {
        loop {
            let status = self.wait()?;
            if !libc::WIFSTOPPED(status) {
                self.exited = true;
                return Err(VprocError::StubDied {
                    tid: self.tid,
                    during,
                });
            }
            if wanted(status) {
                return Ok(());
            }
            self.resume(libc::PTRACE_CONT, 0)?;
        }
    }

    pub fn tid(&self) -> libc::pid_t {
        self.tid
    }

    /// Binds this stub thread and the calling tracer thread to one CPU. Every trap is
    /// a wakeup from one to the other; on the same CPU it costs about a third less
    /// than across CPUs. Pairs are spread round-robin over the CPUs we may use.
    pub fn share_cpu_with_tracer(&self) {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        // SAFETY: cpu_set_t is plain bytes; the calls only read and write the sets.
        unsafe {
            let mut allowed: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_getaffinity(0, size, &mut allowed) != 0 {
                return;
            }
            let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &allowed))
                .collect();
            if cpus.len() < 2 {
                return;
            }
            let cpu = cpus[NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % cpus.len()];
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            // Best effort: an affinity failure only costs speed.
            libc::sched_setaffinity(0, size, &one);
            libc::sched_setaffinity(self.tid, size, &one);
        }
    }

    pub fn space(&self) -> &Arc<AddressSpace> {
        &self.space
    }

    fn wait(&self) -> Result<i32, VprocError> {
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own tracee into a valid int.
            let r = unsafe { libc::waitpid(self.tid, &mut status, libc::__WALL) };
            if r == self.tid {
                return Ok(status);
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(VprocError::Host {
                    op: "waitpid",
                    source: err,
                });
            }
        }
    }

    fn resume(&self, how: libc::c_uint, sig: i32) -> Result<(), VprocError> {
        // SAFETY: resuming our own tracee, which is in a ptrace stop.
        check("ptrace resume", unsafe {
            libc::ptrace(how, self.tid, 0, sig as libc::c_long)
        })?;
        Ok(())
    }

    pub fn get_regs(&self) -> Result<Regs, VprocError> {
        let mut regs = Regs::default();
        // SAFETY: PTRACE_GETREGS writes one user_regs_struct into regs.
        check("PTRACE_GETREGS", unsafe {
            libc::ptrace(libc::PTRACE_GETREGS, self.tid, 0, &mut regs.0 as *mut _)
        })?;
        Ok(regs)
    }

    pub fn set_regs(&self, regs: &Regs) -> Result<(), VprocError> {
        // SAFETY: PTRACE_SETREGS reads one user_regs_struct from regs.
        check("PTRACE_SETREGS", unsafe {
            libc::ptrace(libc::PTRACE_SETREGS, self.tid, 0, &regs.0 as *const _)
        })?;
        Ok(())
    }

    pub fn get_fpregs(&self) -> Result<FpRegs, VprocError> {
        // SAFETY: an all-zero user_fpregs_struct is valid; ptrace fills it.
        let mut fp: libc::user_fpregs_struct = unsafe { std::mem::zeroed() };
        // SAFETY: PTRACE_GETFPREGS writes one user_fpregs_struct.
        check("PTRACE_GETFPREGS", unsafe {
            libc::ptrace(libc::PTRACE_GETFPREGS, self.tid, 0, &mut fp as *mut _)
        })?;
        Ok(FpRegs(fp))
    }

    pub fn set_fpregs(&self, fp: &FpRegs) -> Result<(), VprocError> {
        // SAFETY: PTRACE_SETFPREGS reads one user_fpregs_struct.
        check("PTRACE_SETFPREGS", unsafe {
            libc::ptrace(libc::PTRACE_SETFPREGS, self.tid, 0, &fp.0 as *const _)
        })?;
        Ok(())
    }

    pub fn get_xstate(&self) -> Result<XState, VprocError> {
        let mut buf = vec![0u8; 16384];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: the kernel writes at most iov_len bytes into buf and updates iov_len.
        check("PTRACE_GETREGSET xstate", unsafe {
            libc::ptrace(
                libc::PTRACE_GETREGSET,
                self.tid,
                NT_X86_XSTATE,
                &mut iov as *mut _,
            )
        })?;
        buf.truncate(iov.iov_len);
        Ok(XState(buf))
    }

    pub fn set_xstate(&self, xs: &XState) -> Result<(), VprocError> {
        let mut iov = libc::iovec {
            iov_base: xs.0.as_ptr() as *mut libc::c_void,
            iov_len: xs.0.len(),
        };
        // SAFETY: the kernel only reads iov_len bytes from the buffer.
        check("PTRACE_SETREGSET xstate", unsafe {
            libc::ptrace(
                libc::PTRACE_SETREGSET,
                self.tid,
                NT_X86_XSTATE,
                &mut iov as *mut _,
            )
        })?;
        Ok(())
    }

    fn siginfo(&self) -> Result<libc::siginfo_t, VprocError> {
        // SAFETY: an all-zero siginfo_t is valid; ptrace fills it.
        let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: PTRACE_GETSIGINFO writes one siginfo_t.
        check("PTRACE_GETSIGINFO", unsafe {
            libc::ptrace(libc::PTRACE_GETSIGINFO, self.tid, 0, &mut si as *mut _)
        })?;
        Ok(si)
    }

    /// Loads `regs`, runs guest code until the next trap, and reads the registers back.
    pub fn run(&mut self, regs: &mut Regs) -> Result<Stop, VprocError> {
        self.set_regs(regs)?;
        let stop = self.resume_until_stop(libc::PTRACE_SYSEMU as libc::c_uint)?;
        if matches!(stop, Stop::Syscall | Stop::Fault(_) | Stop::Signal(_)) {
            *regs = self.get_regs()?;
        }
        Ok(stop)
    }

    fn resume_until_stop(&mut self, how: libc::c_uint) -> Result<Stop, VprocError> {
        loop {
            self.resume(how, 0)?;
            let status = self.wait()?;
            if let Some(stop) = self.classify(status)? {
                return Ok(stop);
            }
        }
    }

    /// Turns a wait status into a Stop; `None` for stops that mean nothing to the guest
    /// (a host SIGSTOP's group stop), after which the thread is simply resumed.
    fn classify(&mut self, status: i32) -> Result<Option<Stop>, VprocError> {
        if libc::WIFEXITED(status) {
            self.exited = true;
            return Ok(Some(Stop::Exited(libc::WEXITSTATUS(status))));
        }
        if libc::WIFSIGNALED(status) {
            self.exited = true;
            return Ok(Some(Stop::Killed(libc::WTERMSIG(status))));
        }
        let sig = libc::WSTOPSIG(status);
        if sig == libc::SIGTRAP | 0x80 {
            return Ok(Some(Stop::Syscall));
        }
        if status >> 16 != 0 {
            return Ok(None);
        }
        let si = self.siginfo()?;
        let synchronous = matches!(
            sig,
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP
        ) && si.si_code > 0;
        if synchronous {
            // SAFETY: for these signals with a kernel si_code, si_addr is the union
            // member the kernel filled.
            let addr = unsafe { si.si_addr() } as u64;
            return Ok(Some(Stop::Fault(FaultInfo {
                signo: sig,
                code: si.si_code,
                addr,
            })));
        }
        Ok(Some(Stop::Signal(sig)))
    }

    /// Runs `calls` in the stub, in order, through the trampoline, stopping at the first
    /// failure. The thread must be in a ptrace stop; its registers are clobbered, so the
    /// caller's next `run` must pass the guest registers again (it always does).
    pub fn inject(&mut self, calls: &[HostCall]) -> Result<(), VprocError> {
        let per_batch = PAGE_SIZE as usize / ENTRY_SIZE;
        let space = self.space.clone();
        let _guard = space.cmd_lock.lock().unwrap_or_else(|e| e.into_inner());
        for batch in calls.chunks(per_batch) {
            self.inject_batch(batch)?;
        }
        Ok(())
    }

    fn inject_batch(&mut self, batch: &[HostCall]) -> Result<(), VprocError> {
        let mut table = Vec::with_capacity(batch.len() * ENTRY_SIZE);
        for c in batch {
            table.extend_from_slice(&c.nr.to_ne_bytes());
            for a in c.args {
                table.extend_from_slice(&a.to_ne_bytes());
            }
        }
        self.space
            .physmem
            .write_frame(self.space.cmd_frame, 0, &table);
        let mut regs = self.get_regs()?;
        regs.0.rip = TRAMPOLINE_CODE;
        regs.0.r15 = TRAMPOLINE_CMD;
        regs.0.r14 = batch.len() as u64;
        regs.0.orig_rax = u64::MAX;
        self.set_regs(&regs)?;
        self.run_to_int3("a host call")?;
        let regs = self.get_regs()?;
        if regs.0.r14 != 0 {
            let failed = batch.len() - regs.0.r14 as usize;
            return Err(VprocError::HostCall {
                nr: batch.get(failed).map_or(u64::MAX, |c| c.nr),
                errno: -(regs.0.rax as i64) as i32,
            });
        }
        Ok(())
    }

    /// Runs trampoline code (registers already set) until it stops at its `int3`.
    fn run_to_int3(&mut self, during: &'static str) -> Result<(), VprocError> {
        loop {
            match self.resume_until_stop(libc::PTRACE_CONT)? {
                Stop::Fault(f) if f.signo == libc::SIGTRAP => return Ok(()),
                // A host signal (e.g. the freezer's kick) during host work: the work
                // goes on; the kick is noticed at the next guest stop.
                Stop::Signal(_) => continue,
                _ => {
                    return Err(VprocError::StubDied {
                        tid: self.tid,
                        during,
                    })
                }
            }
        }
    }

    /// Starts another host thread in this stub and returns its tid. The new thread
    /// waits, untraced, in pause() until some kernel thread `adopt`s it. The caller's
    /// registers are clobbered, as with `inject`.
    pub fn spawn_thread(&mut self) -> Result<libc::pid_t, VprocError> {
        const FLAGS: u64 = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM) as u64;
        let mut regs = self.get_regs()?;
        regs.0.rip = TRAMPOLINE_CODE + THREAD_OFFSET as u64;
        regs.0.rax = libc::SYS_clone as u64;
        (regs.0.rdi, regs.0.rsi, regs.0.rdx, regs.0.r10, regs.0.r8) = (FLAGS, 0, 0, 0, 0);
        regs.0.orig_rax = u64::MAX;
        self.set_regs(&regs)?;
        self.run_to_int3("creating a thread")?;
        let ret = self.get_regs()?.0.rax as i64;
        if ret < 0 {
            return Err(VprocError::Host {
                op: "clone a stub thread",
                source: std::io::Error::from_raw_os_error(-ret as i32),
            });
        }
        Ok(ret as libc::pid_t)
    }

    /// Makes the calling kernel thread the tracer of `tid`, a thread `spawn_thread`
    /// made in `space`, and stops it, ready for registers.
    pub fn adopt(space: &Arc<AddressSpace>, tid: libc::pid_t) -> Result<StubThread, VprocError> {
        let mut t = Self::attach(tid, space.clone())?;
        // SAFETY: ptrace on our own tracee; PTRACE_INTERRUPT takes no address or data.
        check("PTRACE_INTERRUPT", unsafe {
            libc::ptrace(libc::PTRACE_INTERRUPT, tid, 0, 0)
        })?;
        let interrupted = |st: i32| st >> 16 == libc::PTRACE_EVENT_STOP;
        t.wait_for_stop("thread adoption", interrupted)?;
        Ok(t)
    }

    /// Ends this host thread alone: its guest thread exited while others go on. The
    /// thread is reaped before this returns, so the tracer may go too (PTRACE_O_EXITKILL
    /// would otherwise take the whole stub with it). Not for the stub's first thread
    /// while others live: the host reports a leader's exit only after theirs.
    pub fn exit_thread(&mut self) -> Result<(), VprocError> {
        let mut regs = self.get_regs()?;
        regs.0.rip = TRAMPOLINE_CODE + THREAD_OFFSET as u64;
        regs.0.rax = libc::SYS_exit as u64;
        regs.0.rdi = 0;
        regs.0.orig_rax = u64::MAX;
        self.set_regs(&regs)?;
        loop {
            match self.resume_until_stop(libc::PTRACE_CONT)? {
                Stop::Exited(_) | Stop::Killed(_) => return Ok(()),
                _ => continue,
            }
        }
    }

    /// Kills the stub thread's whole process and reaps the tracee.
    pub fn kill(&mut self) {
        if self.exited {
            return;
        }
        // SAFETY: signalling our own stub.
        unsafe { libc::kill(self.space.pid, libc::SIGKILL) };
        while let Ok(status) = self.wait() {
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                break;
            }
        }
        self.exited = true;
    }
}

impl Drop for StubThread {
    fn drop(&mut self) {
        self.kill();
    }
}

const NT_X86_XSTATE: libc::c_int = 0x202;
