//! Processes: the state guest threads of one process share.
//!
//! Lock order: take at most one of a process's locks at a time, except `mm` may be
//! taken while holding nothing else; syscalls copy data out of files first and into
//! guest memory afterwards.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::fs::fdtable::{Files, NR_OPEN};
use crate::fs::inode::Inode;
use crate::fs::procfs::ProcInfo;
use crate::fs::{path_of, Cred, FdTable};
use crate::mm::Vmspace;
use crate::sched::cpuclock::{CpuBase, CpuClock, Which};
use crate::sched::sigtimer::SigTimers;
use crate::sched::{WaitQueue, Waker};
use crate::signal::{SigQueue, UNBLOCKABLE};

/// How a process ended, as wait status and vkernel's own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The wait(2) status word.
    pub fn wait_status(self) -> i32 {
        match self {
            ExitStatus::Code(c) => (c & 0xff) << 8,
            ExitStatus::Signal(s) => s,
        }
    }

    /// The host exit code vkernel uses for pid 1 (shell convention: 128+signal).
    pub fn host_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c & 0xff,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

#[derive(Clone)]
pub struct FsState {
    pub root: Arc<Inode>,
    pub cwd: Arc<Inode>,
    pub umask: u32,
}

/// What exec recorded about the program, for /proc.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecInfo {
    pub exe: Vec<u8>,
    pub comm: Vec<u8>,
    pub cmdline: Vec<u8>,
    pub environ: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// The shared part of a guest thread: what other tasks touch to signal or wake it.
pub struct Thread {
    pub tid: i32,
    pub waker: Arc<Waker>,
    pub sig: Mutex<ThreadSignals>,
    /// The host tid of the stub thread, to kick it out of guest code.
    pub stub_tid: AtomicI32,
    pub stub_pid: AtomicI32,
    /// Whether the task is running guest code right now (a kick is needed to stop it).
    pub in_guest: AtomicBool,
    /// The thread's name (prctl PR_SET_NAME, /proc/<pid>/task/<tid>/comm); empty
    /// until set: then the process's name.
    pub comm: Mutex<Vec<u8>>,
    /// sched_setaffinity's mask as the guest set it (bytes of a cpu_set_t); empty:
    /// every CPU. The host scheduler places the stub threads (see docs/SYSCALLS.md).
    pub affinity: Mutex<Vec<u8>>,
    /// CPU time from before its stub thread (a thawed thread's at the checkpoint).
    pub cpu_base: Mutex<CpuBase>,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSignals {
    pub pending: SigQueue,
    pub mask: u64,
}

/// Host signal that stops a stub thread running guest code (ignored by default, so a
/// stray one is harmless; under ptrace it still causes a stop the task sees).
pub const KICK_SIGNAL: i32 = libc::SIGURG;

impl Thread {
    pub fn new(tid: i32) -> Arc<Thread> {
        Arc::new(Thread {
            tid,
            waker: Waker::new(),
            sig: Mutex::new(ThreadSignals::default()),
            stub_tid: AtomicI32::new(0),
            stub_pid: AtomicI32::new(0),
            in_guest: AtomicBool::new(false),
            comm: Mutex::new(Vec::new()),
            affinity: Mutex::new(Vec::new()),
            cpu_base: Mutex::new(CpuBase::default()),
        })
    }

    pub fn signals(&self) -> MutexGuard<'_, ThreadSignals> {
        lock(&self.sig)
    }

    pub fn cpu_base(&self) -> MutexGuard<'_, CpuBase> {
        lock(&self.cpu_base)
    }

    /// Makes the task notice new work: wake it if it sleeps in the kernel, stop its
    /// stub thread if it runs guest code.
    pub fn kick(&self) {
        self.waker.wake();
        if self.in_guest.load(Ordering::SeqCst) {
            let (pid, tid) = (
                self.stub_pid.load(Ordering::SeqCst),
                self.stub_tid.load(Ordering::SeqCst),
            );
            if tid > 0 {
                // SAFETY: signalling our own stub thread.
                unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, KICK_SIGNAL) };
            }
        }
    }
}

/// Where a process stands in the process tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub children: Vec<i32>,
    /// The controlling terminal (Linux's signal->tty): inherited by fork, dropped by
    /// setsid, and by every process of the session when the terminal hangs up or
    /// its session leader exits.
    pub ctty: Option<crate::fs::tty::TtyId>,
    /// A session leader whose terminal hung up: the group that was in the
    /// foreground then, which gets SIGHUP and SIGCONT when the leader exits.
    pub tty_old_pgrp: Option<i32>,
}

/// CPU time in clock ticks (100 per second), user and system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuTimes {
    pub user: u64,
    pub system: u64,
}

impl CpuTimes {
    pub fn add(self, o: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user + o.user,
            system: self.system + o.system,
        }
    }

    /// What the host has charged a stub process so far (its /proc stat fields 14-15).
    pub fn of_stub(pid: i32) -> CpuTimes {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return CpuTimes::default();
        };
        // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        CpuTimes {
            user: f.get(11).copied().unwrap_or(0),
            system: f.get(12).copied().unwrap_or(0),
        }
    }
}

/// A process as a checkpoint saves it: everything but its threads, vmspace, fd table
/// and cwd/root, which are saved beside it (by index, so sharing survives).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProcess {
    pub pid: i32,
    pub tree: Tree,
    pub cred: Cred,
    pub exec: ExecInfo,
    pub sigactions: Vec<SigAction>,
    pub rlimits: [(u64, u64); 16],
    pub shared_pending: SigQueue,
    pub life: Life,
    pub exit_signal: i32,
    pub umask: u32,
    pub timers: crate::sched::sigtimer::SavedSigTimers,
    /// Its CPU time at the checkpoint (the thawed process's base).
    pub cpu: CpuBase,
}

/// Life and death as the parent's wait sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Life {
    pub exit: Option<ExitStatus>,
    /// CPU time of the process once it ended, and of its reaped children.
    pub cpu: CpuTimes,
    pub children_cpu: CpuTimes,
    pub core: bool,
    /// Stopped by this signal; `stop_reported` once a wait saw it.
    pub stopped: Option<i32>,
    pub stop_reported: bool,
    pub continued: bool,
    pub vfork_done: bool,
    /// The process has called execve (setpgid on it from the parent is EACCES).
    pub did_exec: bool,
    /// exit_group or a fatal signal: the status every thread ends with, and whether
    /// it dumps core (Linux's SIGNAL_GROUP_EXIT and group_exit_code).
    pub group_exit: Option<(ExitStatus, bool)>,
    /// The status of the thread that ended last, which (Linux does so) is the
    /// process's status when no group exit decided it.
    pub last_thread_exit: Option<(ExitStatus, bool)>,
    /// A thread in execve is ending the others (Linux's group_exec_task): their
    /// SIGKILL ends only them.
    pub execing: Option<i32>,
    /// membarrier(REGISTER_PRIVATE_EXPEDITED) was called.
    pub membarrier_registered: bool,
    /// prctl PR_SET_PDEATHSIG: the signal this process gets when its parent ends.
    pub pdeathsig: i32,
    /// prctl PR_SET_DUMPABLE(0) and PR_SET_NO_NEW_PRIVS, as the guest set them.
    pub undumpable: bool,
    pub no_new_privs: bool,
}

/// A part of a process that clone can share with the child (CLONE_VM, CLONE_FILES,
/// CLONE_FS, CLONE_SIGHAND) and that execve, unshare or exit can swap for another.
pub struct Shared<T>(Mutex<Arc<parking_lot::Mutex<T>>>);

pub type SharedGuard<T> = parking_lot::ArcMutexGuard<parking_lot::RawMutex, T>;

impl<T> Shared<T> {
    pub fn new(value: T) -> Self {
        Self::of(Arc::new(parking_lot::Mutex::new(value)))
    }

    /// Shares `handle`, another process's part.
    pub fn of(handle: Arc<parking_lot::Mutex<T>>) -> Self {
        Shared(Mutex::new(handle))
    }

    pub fn lock(&self) -> SharedGuard<T> {
        let handle = self.handle();
        parking_lot::Mutex::lock_arc(&handle)
    }

    /// The shared object itself, to hand to a child.
    pub fn handle(&self) -> Arc<parking_lot::Mutex<T>> {
        lock(&self.0).clone()
    }

    /// Whether another process shares it too.
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&lock(&self.0)) > 1
    }

    /// Shares `other`'s object from now on.
    pub fn share(&self, other: &Shared<T>) {
        *lock(&self.0) = other.handle();
    }

    /// Makes the object private: a copy if anyone else shares it (execve does this).
    pub fn unshare(&self)
    where
        T: Clone,
    {
        let mut mine = lock(&self.0);
        if Arc::strong_count(&mine) > 1 {
            let copy = mine.lock().clone();
            *mine = Arc::new(parking_lot::Mutex::new(copy));
        }
    }

    /// Swaps in a private `value`; returns the old one, which others may still share.
    pub fn replace(&self, value: T) -> Arc<parking_lot::Mutex<T>> {
        std::mem::replace(
            &mut *lock(&self.0),
            Arc::new(parking_lot::Mutex::new(value)),
        )
    }
}

pub struct Process {
    pub pid: i32,
    pub mm: Shared<Vmspace>,
    pub files: Shared<FdTable>,
    pub fs: Shared<FsState>,
    pub cred: Mutex<Cred>,
    pub exec: Mutex<ExecInfo>,
    pub sigactions: Shared<[SigAction; 64]>,
    pub rlimits: Mutex<[libc::rlimit64; 16]>,
    pub threads: Mutex<Vec<Arc<Thread>>>,
    pub shared_pending: Mutex<SigQueue>,
    pub tree: Mutex<Tree>,
    pub life: Mutex<Life>,
    /// The parent sleeps here in wait4; children notify it when they change state.
    pub child_event: WaitQueue,
    /// A vfork parent sleeps here until the child execs or exits.
    pub vfork_event: WaitQueue,
    /// Notified whenever a signal is posted to the process: signalfd readers and
    /// pollers sleep here (Linux's sighand->signalfd_wqh). Thread-directed signals
    /// are raised today only by a thread on itself (SIGPIPE, faults), which is not
    /// asleep then; whoever posts to another thread must notify this queue too.
    pub signal_event: WaitQueue,
    /// alarm, the interval timers and timer_create's timers.
    pub timers: Mutex<SigTimers>,
    /// The signal the parent gets at our end (clone's low byte; SIGCHLD but for
    /// clone children, and SIGCHLD again once reparented).
    pub exit_signal: AtomicI32,
    /// Notified when a thread ends and when the process ends.
    pub thread_exit: WaitQueue,
    /// The stub process that hosts the threads (execve from a thread moves them to a
    /// fresh one).
    pub stub_pid: AtomicI32,
    /// CPU time from before its stub (a thawed process's at the checkpoint).
    pub cpu_base: Mutex<CpuBase>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Process {
    pub fn new(
        pid: i32,
        tree: Tree,
        mm: Shared<Vmspace>,
        files: Shared<FdTable>,
        fs: Shared<FsState>,
        cred: Cred,
    ) -> Arc<Process> {
        let dfl = SigAction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        Arc::new(Process {
            pid,
            mm,
            files,
            fs,
            cred: Mutex::new(cred),
            exec: Mutex::new(ExecInfo::default()),
            sigactions: Shared::new([dfl; 64]),
            rlimits: Mutex::new(default_rlimits()),
            threads: Mutex::new(Vec::new()),
            shared_pending: Mutex::new(SigQueue::default()),
            tree: Mutex::new(tree),
            life: Mutex::new(Life::default()),
            child_event: WaitQueue::default(),
            vfork_event: WaitQueue::default(),
            signal_event: WaitQueue::default(),
            timers: Mutex::new(SigTimers::new(pid)),
            exit_signal: AtomicI32::new(libc::SIGCHLD),
            thread_exit: WaitQueue::default(),
            stub_pid: AtomicI32::new(0),
            cpu_base: Mutex::new(CpuBase::default()),
        })
    }

    pub fn cpu_base(&self) -> MutexGuard<'_, CpuBase> {
        lock(&self.cpu_base)
    }

    /// CPU time so far: the stub hosting its threads, or the final figure.
    pub fn cpu(&self) -> CpuTimes {
        if self.life().exit.is_some() {
            return self.life().cpu;
        }
        let base = self.cpu_base().ticks();
        CpuTimes::of_stub(self.stub_pid.load(Ordering::SeqCst)).add(base)
    }

    pub fn timers(&self) -> MutexGuard<'_, SigTimers> {
        lock(&self.timers)
    }

    pub fn tree(&self) -> MutexGuard<'_, Tree> {
        lock(&self.tree)
    }

    pub fn life(&self) -> MutexGuard<'_, Life> {
        lock(&self.life)
    }

    pub fn ppid(&self) -> i32 {
        self.tree().ppid
    }

    pub fn pgid(&self) -> i32 {
        self.tree().pgid
    }

    pub fn threads(&self) -> Vec<Arc<Thread>> {
        lock(&self.threads).clone()
    }

    pub fn add_thread(&self, t: Arc<Thread>) {
        lock(&self.threads).push(t);
    }

    /// Takes a thread out (it ended); returns how many remain.
    pub fn remove_thread(&self, tid: i32) -> usize {
        let left = {
            let mut threads = lock(&self.threads);
            threads.retain(|t| t.tid != tid);
            threads.len()
        };
        self.thread_exit.notify_all();
        left
    }

    /// Puts `new` where the thread `old` was (execve's thread takes the leader's tid).
    pub fn replace_thread(&self, old: i32, new: Arc<Thread>) {
        let mut threads = lock(&self.threads);
        threads.retain(|t| t.tid != old);
        threads.push(new);
    }

    pub fn thread(&self, tid: i32) -> Option<Arc<Thread>> {
        lock(&self.threads).iter().find(|t| t.tid == tid).cloned()
    }

    pub fn shared_pending(&self) -> MutexGuard<'_, SigQueue> {
        lock(&self.shared_pending)
    }

    /// Makes every thread notice a fatal signal.
    pub fn kick_all(&self) {
        for t in self.threads() {
            t.kick();
        }
    }

    /// Queues a process-directed signal and kicks a thread that can take it.
    pub fn post_signal(&self, info: crate::signal::SigInfo) {
        self.shared_pending().push(info);
        let threads = self.threads();
        let bit = crate::signal::bit(info.signo) & !UNBLOCKABLE;
        let target = threads
            .iter()
            .find(|t| t.signals().mask & bit == 0)
            .or(threads.first());
        if let Some(t) = target {
            t.kick();
        }
        self.signal_event.notify_all();
    }

    pub fn mm(&self) -> SharedGuard<Vmspace> {
        self.mm.lock()
    }

    /// The descriptor table, with this process's RLIMIT_NOFILE for what it allocates.
    pub fn files(&self) -> Files {
        let limit = self.nofile();
        Files::new(self.files.lock(), limit)
    }

    /// The soft RLIMIT_NOFILE as a descriptor bound (setrlimit keeps it within NR_OPEN;
    /// the clamp only guards the conversion).
    pub fn nofile(&self) -> usize {
        let soft = self.rlimits()[libc::RLIMIT_NOFILE as usize].rlim_cur;
        usize::try_from(soft).map_or(NR_OPEN, |n| n.min(NR_OPEN))
    }

    pub fn fs(&self) -> SharedGuard<FsState> {
        self.fs.lock()
    }

    pub fn cred(&self) -> Cred {
        *lock(&self.cred)
    }

    pub fn exec_info(&self) -> MutexGuard<'_, ExecInfo> {
        lock(&self.exec)
    }

    pub fn sigactions(&self) -> SharedGuard<[SigAction; 64]> {
        self.sigactions.lock()
    }

    /// execve and CLONE_CLEAR_SIGHAND: caught signals return to their default action;
    /// ignored ones stay ignored.
    pub fn reset_caught_handlers(&self) {
        for a in self.sigactions().iter_mut() {
            if a.handler != crate::signal::SIG_IGN {
                a.handler = 0;
            }
            a.flags = 0;
            a.mask = 0;
            a.restorer = 0;
        }
    }

    pub fn rlimits(&self) -> MutexGuard<'_, [libc::rlimit64; 16]> {
        lock(&self.rlimits)
    }

    /// A snapshot for /proc.
    pub fn info(&self, root: &Arc<Inode>) -> ProcInfo {
        let exec = self.exec_info().clone();
        let cwd = path_of(&self.fs().cwd, root);
        let cred = self.cred();
        let (fds, fd_size) = {
            let files = self.files();
            let fds = files.iter().map(|(fd, e)| (fd, e.file.proc_link()));
            (fds.collect(), files.max_fds())
        };
        let (maps, vm_bytes, rss_bytes) = crate::mm::maps_text(&self.mm());
        let (ppid, pgid, sid) = {
            let t = self.tree();
            (t.ppid, t.pgid, t.sid)
        };
        let state = {
            let l = self.life();
            if l.exit.is_some() {
                'Z'
            } else if l.stopped.is_some() {
                'T'
            } else if self.threads().iter().all(|t| t.waker.is_asleep()) {
                'S'
            } else {
                'R'
            }
        };
        ProcInfo {
            pid: self.pid,
            ppid,
            pgid,
            sid,
            comm: exec.comm,
            state,
            cmdline: exec.cmdline,
            environ: exec.environ,
            exe: exec.exe,
            cwd,
            uid: cred.uid,
            gid: cred.gid,
            tids: self.threads().iter().map(|t| t.tid).collect(),
            thread_comms: self
                .threads()
                .iter()
                .filter_map(|t| {
                    let c = lock(&t.comm).clone();
                    (!c.is_empty()).then_some((t.tid, c))
                })
                .collect(),
            vm_bytes,
            rss_bytes,
            maps,
            fds,
            fd_size,
            limits: self.save_rlimits(),
        }
    }
}

/// The process state whose live form serde cannot hold as it is: 64 signal actions
/// (serde's arrays stop at 32) and `libc::rlimit64` (no serde); the timers' saved
/// form is `sched::sigtimer::SavedSigTimers`.
impl Process {
    /// The process's own state for a checkpoint (its threads, vmspace and files are
    /// saved beside it, by index).
    pub fn save(&self, now: &crate::sched::sigtimer::Now) -> SavedProcess {
        // Before the literal, whose lock guards live to its end: reading a CPU clock
        // (for the timers too) takes some of the same locks.
        let cpu = CpuBase::now(CpuClock::process(self.pid, Which::Sched), self);
        let timers = self.timers().save(now);
        SavedProcess {
            pid: self.pid,
            tree: self.tree().clone(),
            cred: self.cred(),
            exec: self.exec_info().clone(),
            sigactions: self.save_sigactions(),
            rlimits: self.save_rlimits(),
            shared_pending: self.shared_pending().clone(),
            life: self.life().clone(),
            exit_signal: self.exit_signal.load(Ordering::SeqCst),
            umask: self.fs().umask,
            timers,
            cpu,
        }
    }

    pub fn save_sigactions(&self) -> Vec<SigAction> {
        self.sigactions().to_vec()
    }

    pub fn restore_sigactions(&self, saved: Vec<SigAction>) -> Result<(), ckpt::CkptError> {
        let n = saved.len();
        *self.sigactions() = saved
            .try_into()
            .map_err(|_| ckpt::CkptError::Decode(format!("{n} signal actions instead of 64")))?;
        Ok(())
    }

    /// (soft, hard) per RLIMIT_* resource.
    pub fn save_rlimits(&self) -> [(u64, u64); 16] {
        self.rlimits().map(|r| (r.rlim_cur, r.rlim_max))
    }

    pub fn restore_rlimits(&self, saved: [(u64, u64); 16]) {
        *self.rlimits() = saved.map(|(rlim_cur, rlim_max)| libc::rlimit64 { rlim_cur, rlim_max });
    }
}

fn default_rlimits() -> [libc::rlimit64; 16] {
    const INF: u64 = libc::RLIM64_INFINITY;
    let mut r = [libc::rlimit64 {
        rlim_cur: INF,
        rlim_max: INF,
    }; 16];
    r[libc::RLIMIT_STACK as usize].rlim_cur = 8 * 1024 * 1024;
    r[libc::RLIMIT_CORE as usize].rlim_cur = 0;
    r[libc::RLIMIT_NOFILE as usize] = libc::rlimit64 {
        rlim_cur: 1024,
        rlim_max: 1024 * 1024,
    };
    r[libc::RLIMIT_NPROC as usize] = libc::rlimit64 {
        rlim_cur: 4096,
        rlim_max: 4096,
    };
    r[libc::RLIMIT_SIGPENDING as usize] = libc::rlimit64 {
        rlim_cur: 4096,
        rlim_max: 4096,
    };
    r[libc::RLIMIT_MEMLOCK as usize] = libc::rlimit64 {
        rlim_cur: 8 << 20,
        rlim_max: 8 << 20,
    };
    r[libc::RLIMIT_MSGQUEUE as usize] = libc::rlimit64 {
        rlim_cur: 819200,
        rlim_max: 819200,
    };
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testing::process;
    use crate::signal::SigInfo;

    fn round_trip<T>(v: &T) -> T
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let back = ckpt::decode(&ckpt::encode(v).unwrap()).unwrap();
        assert_eq!(&back, v);
        back
    }

    #[test]
    fn a_process_saves_everything_beside_its_threads_memory_and_files() {
        let p = process();
        p.sigactions()[9] = SigAction {
            handler: 0x401000,
            flags: 0x0400_0000,
            restorer: 0x402000,
            mask: 1 << 3,
        };
        p.shared_pending().push(SigInfo::kernel(15));
        p.life().pdeathsig = 9;
        p.exit_signal.store(0, Ordering::SeqCst);
        p.exec_info().comm = b"saved".to_vec();
        let cpu = |_: &crate::sched::cpuclock::CpuClock| std::time::Duration::ZERO;
        let now = crate::sched::sigtimer::Now {
            wall: std::time::Instant::now(),
            cpu: &cpu,
        };
        let saved = round_trip(&p.save(&now));
        assert_eq!(saved.sigactions[9].handler, 0x401000);
        assert_eq!(saved.shared_pending.set(), 1 << 14);
        assert_eq!((saved.life.pdeathsig, saved.exit_signal), (9, 0));
        assert_eq!(saved.exec.comm, b"saved");
        assert_eq!(saved.umask, 0o22);
    }

    #[test]
    fn tree_and_life_round_trip_through_a_checkpoint() {
        round_trip(&Tree {
            ppid: 1,
            pgid: 5,
            sid: 2,
            children: vec![7, 9, 12],
            ctty: Some(crate::fs::tty::TtyId::Pty(3)),
            tty_old_pgrp: Some(6),
        });
        let cpu = CpuTimes {
            user: 120,
            system: 7,
        };
        round_trip(&Life {
            exit: Some(ExitStatus::Signal(9)),
            cpu,
            children_cpu: cpu.add(cpu),
            core: true,
            stopped: Some(19),
            stop_reported: true,
            continued: false,
            vfork_done: true,
            did_exec: true,
            group_exit: Some((ExitStatus::Signal(11), true)),
            last_thread_exit: Some((ExitStatus::Code(5), false)),
            execing: Some(4),
            membarrier_registered: true,
            pdeathsig: 9,
            undumpable: true,
            no_new_privs: true,
        });
        round_trip(&Life {
            exit: Some(ExitStatus::Code(3)),
            ..Life::default()
        });
    }

    #[test]
    fn thread_signals_and_exec_info_round_trip_through_a_checkpoint() {
        let mut sig = ThreadSignals {
            mask: crate::signal::bit(10) | crate::signal::bit(34),
            ..Default::default()
        };
        sig.pending.push(SigInfo::user(10, 4, 0));
        sig.pending.push(SigInfo::kernel(34));
        sig.pending.push(SigInfo::kernel(34));
        round_trip(&sig);
        round_trip(&ExecInfo {
            exe: b"/bin/busybox".to_vec(),
            comm: b"sh".to_vec(),
            cmdline: b"sh\0-c\0echo \xff\0".to_vec(),
            environ: b"HOME=/\0PATH=/bin\0".to_vec(),
        });
    }

    #[test]
    fn actions_and_limits_round_trip_through_a_checkpoint() {
        let p = process();
        p.sigactions()[10] = SigAction {
            handler: 0x40_1234,
            flags: crate::signal::SA_RESTART | 0x0400_0000,
            restorer: 0x40_5678,
            mask: crate::signal::bit(12),
        };
        p.sigactions()[13].handler = crate::signal::SIG_IGN;
        p.rlimits()[libc::RLIMIT_NOFILE as usize].rlim_cur = 256;
        let actions = round_trip(&p.save_sigactions());
        let limits = round_trip(&p.save_rlimits());

        let q = process();
        q.restore_sigactions(actions).unwrap();
        q.restore_rlimits(limits);
        assert_eq!(*q.sigactions(), *p.sigactions());
        assert_eq!(q.rlimits()[libc::RLIMIT_NOFILE as usize].rlim_cur, 256);
        assert_eq!(q.save_rlimits(), p.save_rlimits());
        assert!(q.restore_sigactions(vec![q.sigactions()[0]; 63]).is_err());
    }

    #[test]
    fn the_fd_table_allocates_below_the_callers_soft_nofile_limit() {
        use crate::fs::file::{FileKind, OpenFile};
        use nix::errno::Errno;
        let file = || {
            OpenFile::new(
                crate::fs::pipe::pipe_inode(),
                b"f".to_vec(),
                FileKind::Path,
                0,
            )
        };
        let p = process();
        p.rlimits()[libc::RLIMIT_NOFILE as usize].rlim_cur = 2;
        let mut files = p.files();
        assert_eq!(files.limit(), 2);
        assert_eq!(files.install(file(), false, 0), Ok(0));
        assert_eq!(files.install(file(), false, 0), Ok(1));
        assert_eq!(files.install(file(), false, 0), Err(Errno::EMFILE));
        assert_eq!(files.room(), Err(Errno::EMFILE));
        drop(files);
        // Past fs.nr_open only through a corrupt image; the table still stops there.
        p.rlimits()[libc::RLIMIT_NOFILE as usize].rlim_cur = libc::RLIM64_INFINITY;
        assert_eq!(p.nofile(), NR_OPEN);
    }
}
