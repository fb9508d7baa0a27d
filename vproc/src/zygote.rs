//! The zygote: a single-threaded process that forks stub processes.
//!
//! It is forked from main() before the kernel starts any thread, so a stub never
//! inherits a half-held lock or another thread's state. Requests and replies travel
//! over a seqpacket socket; the zygote dies with the kernel (PDEATHSIG) and its stubs
//! die with it or with their tracer (PTRACE_O_EXITKILL).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use crate::error::{check, VprocError};
use crate::layout::{HOST_USER_TOP, TRAMPOLINE_CMD, TRAMPOLINE_CODE, TRAMPOLINE_END};
use crate::physmem::{Physmem, PAGE_SIZE};
use crate::trampoline;

pub struct Zygote {
    sock: Mutex<OwnedFd>,
    pid: libc::pid_t,
}

impl Zygote {
    /// Forks the zygote. Must be called while the process is still single-threaded.
    pub fn start(physmem: &Physmem) -> Result<Zygote, VprocError> {
        reserve_trampoline()?;
        let mut fds = [0; 2];
        // SAFETY: fds is a valid array of two ints.
        check("socketpair", unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        } as libc::c_long)?;
        // SAFETY: socketpair gave us two fresh descriptors.
        let (ours, theirs) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the caller guarantees we are single-threaded, so the child may run
        // arbitrary code.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(VprocError::last("fork zygote"));
        }
        if pid == 0 {
            zygote_main(theirs.as_raw_fd(), physmem.fd(), parent);
        }
        Ok(Zygote {
            sock: Mutex::new(ours),
            pid,
        })
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Forks a stub whose command page is the physmem frame `cmd_frame`. The stub stops
    /// itself with SIGSTOP once its address space holds only the trampoline.
    pub fn spawn(&self, cmd_frame: u64) -> Result<libc::pid_t, VprocError> {
        let sock = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        let req = (cmd_frame * PAGE_SIZE).to_ne_bytes();
        // SAFETY: sending from a valid buffer on our socket.
        let n = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
        if n != req.len() as isize {
            return Err(VprocError::ZygoteGone);
        }
        let mut rep = [0u8; 4];
        // SAFETY: receiving into a valid buffer on our socket.
        let n = unsafe { libc::recv(sock.as_raw_fd(), rep.as_mut_ptr().cast(), rep.len(), 0) };
        if n != rep.len() as isize {
            return Err(VprocError::ZygoteGone);
        }
        let pid = i32::from_ne_bytes(rep);
        if pid < 0 {
            return Err(VprocError::Host {
                op: "fork stub",
                source: std::io::Error::from_raw_os_error(-pid),
            });
        }
        Ok(pid)
    }
}

/// Keeps the trampoline range out of the kernel's own address space, so that it is free
/// in every stub forked later.
fn reserve_trampoline() -> Result<(), VprocError> {
    static RESERVED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *RESERVED.get_or_init(try_reserve_trampoline) {
        Ok(())
    } else {
        Err(VprocError::Host {
            op: "reserve the trampoline range",
            source: std::io::Error::from_raw_os_error(libc::EEXIST),
        })
    }
}

fn try_reserve_trampoline() -> bool {
    // SAFETY: a PROT_NONE mapping at a fixed, not-yet-used address; checked below.
    let p = unsafe {
        libc::mmap(
            TRAMPOLINE_CODE as *mut libc::c_void,
            (TRAMPOLINE_END - TRAMPOLINE_CODE) as usize,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    p != libc::MAP_FAILED && p as u64 == TRAMPOLINE_CODE
}

fn zygote_main(sock: RawFd, physmem_fd: RawFd, parent: libc::pid_t) -> ! {
    // SAFETY: process-wide setup in a fresh single-threaded child; nothing here
    // touches memory we do not own.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        // Stubs stay in the kernel's process group, so whoever runs vkernel can find
        // (and kill) every process of it. Terminal signals that reach a stub are
        // ptrace stops the kernel swallows.
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
        close_all_but(&[sock, physmem_fd]);
    }
    loop {
        let mut req = [0u8; 8];
        // SAFETY: receiving into a valid buffer.
        let n = unsafe { libc::recv(sock, req.as_mut_ptr().cast(), req.len(), 0) };
        if n != req.len() as isize {
            // SAFETY: leaving the zygote.
            unsafe { libc::_exit(0) };
        }
        let cmd_off = u64::from_ne_bytes(req);
        // SAFETY: the zygote is single-threaded.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: we are the fresh stub child.
            unsafe { stub_main(physmem_fd, cmd_off) };
        }
        let rep = if pid < 0 {
            -std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EAGAIN)
        } else {
            pid
        }
        .to_ne_bytes();
        // SAFETY: sending from a valid buffer.
        unsafe { libc::send(sock, rep.as_ptr().cast(), rep.len(), 0) };
    }
}

/// Closes every descriptor except the two in `keep`. Allocation-free, so it is safe in
/// a child forked from a multithreaded parent (as in tests).
///
/// # Safety
/// Closing descriptors others may use; only for freshly forked children.
unsafe fn close_all_but(keep: &[RawFd]) {
    let mut sorted = [RawFd::MAX; 2];
    sorted[..keep.len()].copy_from_slice(keep);
    sorted.sort_unstable();
    let mut lo: u32 = 0;
    for &k in sorted.iter().filter(|&&k| k != RawFd::MAX) {
        if k as u32 > lo {
            // SAFETY: see function contract.
            unsafe { libc::syscall(libc::SYS_close_range, lo, k as u32 - 1, 0) };
        }
        lo = k as u32 + 1;
    }
    // SAFETY: see function contract.
    unsafe { libc::syscall(libc::SYS_close_range, lo, u32::MAX, 0) };
}

extern "C" {
    /// glibc (2.35+) registers an rseq area for every thread and publishes where.
    static __rseq_offset: isize;
    static __rseq_size: u32;
}

/// The stub inherits glibc's rseq registration, whose memory it is about to unmap;
/// the host kernel would then kill it with SIGSEGV on its next preemption.
///
/// # Safety
/// Only in the stub child, before its address space is torn down.
unsafe fn unregister_rseq() {
    const RSEQ_SIG: u64 = 0x5305_3053;
    const RSEQ_FLAG_UNREGISTER: u64 = 1;
    // SAFETY: reading glibc's exported constants and our own thread pointer.
    unsafe {
        if __rseq_size == 0 {
            return;
        }
        let tp: u64;
        std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly));
        let area = tp.wrapping_add_signed(__rseq_offset as i64);
        // The registered length is glibc's struct size (32 today); try the feature size
        // too in case a future glibc registers exactly that.
        for len in [32, u64::from(__rseq_size)] {
            if libc::syscall(libc::SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) == 0 {
                return;
            }
        }
    }
}

/// Turns a fresh child of the zygote into a stub: only physmem's fd, a clean signal
/// state, the trampoline, and nothing else; then it stops for its tracer.
///
/// # Safety
/// Only for the freshly forked, single-threaded stub child.
unsafe fn stub_main(physmem_fd: RawFd, cmd_off: u64) -> ! {
    // SAFETY: process-wide setup of a child we own entirely.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        close_all_but(&[physmem_fd]);
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        unregister_rseq();
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

        let code = libc::mmap(
            TRAMPOLINE_CODE as *mut libc::c_void,
            PAGE_SIZE as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        );
        let cmd = libc::mmap(
            TRAMPOLINE_CMD as *mut libc::c_void,
            PAGE_SIZE as usize,
            libc::PROT_READ,
            libc::MAP_SHARED | libc::MAP_FIXED,
            physmem_fd,
            cmd_off as libc::off_t,
        );
        if code == libc::MAP_FAILED || cmd == libc::MAP_FAILED {
            libc::_exit(127);
        }
        let page = std::slice::from_raw_parts_mut(code.cast::<u8>(), PAGE_SIZE as usize);
        page[..trampoline::CODE.len()].copy_from_slice(&trampoline::CODE);
        let thread =
            trampoline::THREAD_OFFSET..trampoline::THREAD_OFFSET + trampoline::THREAD_CODE.len();
        page[thread].copy_from_slice(&trampoline::THREAD_CODE);
        let pid = libc::getpid() as u64;
        let setup: [[u64; 7]; 3] = [
            [libc::SYS_munmap as u64, 0, TRAMPOLINE_CODE, 0, 0, 0, 0],
            [
                libc::SYS_munmap as u64,
                TRAMPOLINE_END,
                HOST_USER_TOP - TRAMPOLINE_END,
                0,
                0,
                0,
                0,
            ],
            [libc::SYS_kill as u64, pid, libc::SIGSTOP as u64, 0, 0, 0, 0],
        ];
        let table = trampoline::SETUP_TABLE_OFFSET;
        for (i, entry) in setup.iter().enumerate() {
            for (j, word) in entry.iter().enumerate() {
                let at = table + i * trampoline::ENTRY_SIZE + j * 8;
                page[at..at + 8].copy_from_slice(&word.to_ne_bytes());
            }
        }
        libc::mprotect(code, PAGE_SIZE as usize, libc::PROT_READ | libc::PROT_EXEC);
        // Everything after this runs in the trampoline: the munmaps remove this very
        // code, the stack and the vDSO.
        std::arch::asm!(
            "jmp {entry}",
            entry = in(reg) TRAMPOLINE_CODE,
            in("r15") TRAMPOLINE_CODE + table as u64,
            in("r14") setup.len() as u64,
            options(noreturn)
        );
    }
}
