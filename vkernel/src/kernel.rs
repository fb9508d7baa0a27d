//! The kernel: guest RAM, the stub factory, the filesystem and the process table.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use vproc::{Physmem, Zygote};

use crate::fs::procfs::{ProcInfo, ProcView};
use crate::fs::Vfs;
use crate::process::{ExitStatus, Process};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub strace: bool,
    pub verbose: bool,
    /// The root image's path (absolute) and identity, recorded in every checkpoint.
    pub rootfs_path: std::path::PathBuf,
    pub rootfs_identity: Vec<u8>,
}

pub struct Kernel {
    pub physmem: Arc<Physmem>,
    pub zygote: Zygote,
    pub vfs: Vfs,
    pub opts: Options,
    /// The guest's CLOCK_BOOTTIME when it booted (uptime counts from here).
    pub booted_at: Duration,
    pub timers: Arc<crate::sched::timer::Timers>,
    pub futexes: crate::futex::FutexTable,
    pub freezer: crate::checkpoint::Freezer,
    /// The console and the pseudo-terminals.
    pub ttys: crate::fs::devpts::Ttys,
    procs: Mutex<BTreeMap<i32, Arc<Process>>>,
    next_pid: AtomicI32,
    enosys_logged: Mutex<HashSet<u64>>,
}

/// What a kernel starts with.
struct Contents {
    vfs: Vfs,
    ttys: crate::fs::devpts::Ttys,
    procs: Vec<Arc<Process>>,
    next_pid: i32,
    booted_at: Duration,
}

impl Contents {
    /// A booting system's: the image's tree, the console, no process yet.
    fn fresh(image: &Arc<rootfs::Image>, host: Arc<dyn crate::fs::tty::TtyHost>) -> Contents {
        let vfs = Vfs::boot(image);
        let console = crate::fs::tty::Tty::new_console(host);
        let ttys = crate::fs::devpts::Ttys::new(console, vfs.pts.clone());
        Contents {
            vfs,
            ttys,
            procs: Vec::new(),
            next_pid: 1,
            booted_at: crate::clock::now(libc::CLOCK_BOOTTIME),
        }
    }
}

impl Kernel {
    /// The image's regular files keep a reference to it, so it stays open as long as
    /// any file in it is not yet copied up.
    pub fn new(
        physmem: Arc<Physmem>,
        zygote: Zygote,
        image: Arc<rootfs::Image>,
        opts: Options,
    ) -> std::io::Result<Arc<Kernel>> {
        let timers = crate::sched::timer::Timers::start()?;
        let fresh = |host| Contents::fresh(&image, host);
        Ok(Self::assemble(physmem, zygote, opts, timers, fresh))
    }

    /// The kernel of a checkpoint (`checkpoint::thaw`): its terminals, filesystem and
    /// processes restored; the threads are started by the caller.
    pub fn thaw(
        physmem: Arc<Physmem>,
        zygote: Zygote,
        image: Arc<rootfs::Image>,
        opts: Options,
        saved: &crate::checkpoint::thaw::Saved,
    ) -> Result<Arc<Kernel>, ckpt::CkptError> {
        // Before anything reads a clock: the guest's monotonic time goes on from the
        // checkpoint's.
        crate::clock::continue_from(&saved.kernel.clocks);
        crate::net::iface::restore(&saved.kernel.net);
        let timers = crate::sched::timer::Timers::start()
            .map_err(|e| ckpt::CkptError::Decode(format!("timer thread: {e}")))?;
        let mut failed = None;
        let restored = |host: Arc<dyn crate::fs::tty::TtyHost>| {
            let parts = crate::checkpoint::thaw::kernel_parts(
                saved,
                &image,
                &timers,
                &physmem,
                host.clone(),
            );
            match parts {
                Ok((vfs, ttys, procs)) => Contents {
                    vfs,
                    ttys,
                    procs,
                    next_pid: saved.kernel.next_pid,
                    booted_at: saved.kernel.booted_at,
                },
                Err(e) => {
                    failed = Some(e);
                    Contents::fresh(&image, host)
                }
            }
        };
        let kernel = Self::assemble(physmem.clone(), zygote, opts, timers.clone(), restored);
        failed.map_or(Ok(kernel), Err)
    }

    /// Terminals reach processes through the kernel, which owns them: a weak link,
    /// which exists only while the kernel is being made.
    fn assemble(
        physmem: Arc<Physmem>,
        zygote: Zygote,
        opts: Options,
        timers: Arc<crate::sched::timer::Timers>,
        contents: impl FnOnce(Arc<dyn crate::fs::tty::TtyHost>) -> Contents,
    ) -> Arc<Kernel> {
        Arc::new_cyclic(|me| {
            let c = contents(crate::session::tty_host(me));
            Kernel {
                physmem,
                zygote,
                vfs: c.vfs,
                opts,
                booted_at: c.booted_at,
                timers,
                ttys: c.ttys,
                futexes: Default::default(),
                freezer: Default::default(),
                procs: Mutex::new(c.procs.into_iter().map(|p| (p.pid, p)).collect()),
                next_pid: AtomicI32::new(c.next_pid),
                enosys_logged: Mutex::new(HashSet::new()),
            }
        })
    }

    fn procs(&self) -> MutexGuard<'_, BTreeMap<i32, Arc<Process>>> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn alloc_pid(&self) -> i32 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }

    /// Time since boot on the guest's CLOCK_BOOTTIME (it goes on across a thaw).
    pub fn uptime(&self) -> Duration {
        crate::clock::now(libc::CLOCK_BOOTTIME).saturating_sub(self.booted_at)
    }

    /// The pid `alloc_pid` would hand out next (a checkpoint records it).
    pub fn next_pid(&self) -> i32 {
        self.next_pid.load(Ordering::Relaxed)
    }

    pub fn add_process(&self, p: Arc<Process>) {
        self.procs().insert(p.pid, p);
    }

    pub fn remove_process(&self, pid: i32) {
        self.procs().remove(&pid);
    }

    pub fn process(&self, pid: i32) -> Option<Arc<Process>> {
        self.procs().get(&pid).cloned()
    }

    /// Logs an unimplemented syscall once per number (with -v).
    pub fn log_enosys(&self, nr: u64) {
        let first = self
            .enosys_logged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(nr);
        if first && self.opts.verbose {
            let name =
                abi::syscall_name(nr).map_or_else(|| format!("syscall {nr}"), str::to_string);
            eprintln!("vkernel: unimplemented syscall {name} -> ENOSYS");
        }
    }
}

/// /proc's view of the kernel, from one task's point of view (for /proc/self and
/// /proc/thread-self).
pub struct KernelView<'a> {
    pub kernel: &'a Kernel,
    pub current: i32,
    pub current_tid: i32,
}

impl ProcView for KernelView<'_> {
    fn pids(&self) -> Vec<i32> {
        self.kernel.procs().keys().copied().collect()
    }

    fn proc_info(&self, pid: i32) -> Option<ProcInfo> {
        let p = self.kernel.process(pid)?;
        Some(p.info(&self.kernel.vfs.root))
    }

    fn current_pid(&self) -> i32 {
        self.current
    }

    fn current_tid(&self) -> i32 {
        self.current_tid
    }

    fn thread_group(&self, tid: i32) -> Option<i32> {
        let procs = self.kernel.all_processes();
        let p = procs
            .iter()
            .find(|p| p.threads().iter().any(|t| t.tid == tid))?;
        Some(p.pid)
    }

    fn meminfo(&self) -> (u64, u64) {
        let pm = &self.kernel.physmem;
        (pm.size(), pm.size() - pm.used_bytes())
    }

    fn fd_inode(&self, pid: i32, fd: i32) -> Option<Arc<crate::fs::inode::Inode>> {
        let p = self.kernel.process(pid)?;
        let f = p.files().file(fd).ok()?;
        Some(f.inode.clone())
    }

    fn uptime(&self) -> f64 {
        self.kernel.uptime().as_secs_f64()
    }
}

impl Kernel {
    /// Tells `child`'s parent that it stopped, continued or ended (`code` is a CLD_*
    /// value): SIGCHLD (unless the parent asked not to hear about stops) and a wakeup
    /// of its wait4. A parent that ignores SIGCHLD never sees zombies: they are
    /// reaped at once.
    pub fn notify_parent(&self, child: &Arc<Process>, code: i32, status: i32) {
        use crate::signal::*;
        let Some(parent) = self.process(child.ppid()) else {
            return;
        };
        let act = parent.sigactions()[(SIGCHLD - 1) as usize];
        let ended = matches!(code, CLD_EXITED | CLD_KILLED | CLD_DUMPED);
        // Stops and continues always say SIGCHLD; the end says the exit signal.
        let signo = if ended {
            child.exit_signal.load(Ordering::SeqCst)
        } else {
            SIGCHLD
        };
        if ended && signo == SIGCHLD && ignores_children(&parent) {
            // Already reaped by exit_process; the wakeup below lets wait4 see ECHILD.
        } else if signo != 0 && (ended || act.flags & SA_NOCLDSTOP == 0) {
            let uid = child.cred().uid;
            let info = SigInfo {
                signo,
                code,
                pid: child.pid,
                uid,
                status,
                ..Default::default()
            };
            deliver::send_to_process(self, &parent, info);
        }
        parent.child_event.notify_all();
    }

    /// Removes a dead child for good; its CPU time joins the parent's children's.
    pub fn reap(&self, parent: &Process, pid: i32) {
        if let Some(c) = self.process(pid) {
            let spent = {
                let l = c.life();
                l.cpu.add(l.children_cpu)
            };
            let mut pl = parent.life();
            pl.children_cpu = pl.children_cpu.add(spent);
        }
        parent.tree().children.retain(|&c| c != pid);
        self.remove_process(pid);
    }

    /// The end of a process: its files close (so pipe readers see EOF), a session
    /// leader's terminal hangs up its foreground group, its children go to pid 1
    /// (orphaning groups, which then hear SIGHUP if stopped), and its parent is told.
    pub fn exit_process(
        &self,
        p: &Arc<Process>,
        status: ExitStatus,
        core: bool,
        cpu: crate::process::CpuTimes,
    ) {
        p.life().cpu = cpu;
        {
            // A zombie has no memory: its cmdline and environ read empty.
            let mut ex = p.exec_info();
            ex.cmdline.clear();
            ex.environ.clear();
        }
        let open: Vec<_> = p.files().iter().map(|(_, e)| e.file.clone()).collect();
        for f in open {
            f.drop_posix_locks(p.pid);
        }
        // The table closes its files unless a CLONE_FILES sibling still uses it.
        drop(p.files.replace(Default::default()));
        self.disassociate_ctty(p, true);
        crate::syscall::cancel_timers(self, p);
        // A parent that ignores SIGCHLD never sees this zombie: take it out of the
        // parent's children before the exit status becomes visible to its wait.
        let parent = self.process(p.ppid());
        let auto_reap = parent.as_ref().is_some_and(|pp| ignores_children(pp))
            && p.exit_signal.load(Ordering::SeqCst) == libc::SIGCHLD;
        if let (true, Some(pp)) = (auto_reap, &parent) {
            self.reap(pp, p.pid);
        }
        {
            let mut l = p.life();
            l.exit = Some(status);
            l.core = core;
            l.vfork_done = true;
        }
        p.vfork_event.notify_all();
        p.thread_exit.notify_all();
        self.reparent_children(p);
        self.kill_orphaned_pgrp(p, None);
        let (code, st) = match status {
            ExitStatus::Code(c) => (crate::signal::CLD_EXITED, c),
            ExitStatus::Signal(s) if core => (crate::signal::CLD_DUMPED, s),
            ExitStatus::Signal(s) => (crate::signal::CLD_KILLED, s),
        };
        self.notify_parent(p, code, st);
    }

    fn reparent_children(&self, p: &Arc<Process>) {
        if p.pid == 1 {
            return;
        }
        let children = std::mem::take(&mut p.tree().children);
        let Some(init) = self.process(1) else { return };
        for c in children {
            if let Some(child) = self.process(c) {
                let sig = child.life().pdeathsig;
                if sig != 0 {
                    let info = crate::signal::SigInfo::kernel(sig);
                    crate::signal::deliver::send_to_process(self, &child, info);
                }
                child.tree().ppid = 1;
                // init is not to be surprised by a clone child's odd exit signal.
                child.exit_signal.store(libc::SIGCHLD, Ordering::SeqCst);
                init.tree().children.push(c);
                self.kill_orphaned_pgrp(&child, Some(p));
            }
        }
        init.child_event.notify_all();
    }

    /// Starts a kernel thread that takes a stub thread from `stub`, lets `setup`
    /// prepare the task, and runs it; the last thread of a process ends the process.
    /// `started` hears whether the stub thread was taken (thread creation waits for it).
    pub fn spawn_task(
        self: &Arc<Self>,
        process: Arc<Process>,
        me: Arc<crate::process::Thread>,
        stub: crate::task::StubSource,
        setup: impl FnOnce(&mut crate::task::Task) -> bool + Send + 'static,
        started: Option<std::sync::mpsc::Sender<bool>>,
    ) -> std::io::Result<()> {
        let k = self.clone();
        let tid = me.tid;
        // Counted before it exists, so a checkpoint waits for it to park.
        self.freezer.spawned();
        let spawned = std::thread::Builder::new()
            .name(format!("tid{tid}"))
            .spawn(move || {
                let task = crate::task::new_task(&k, &process, me, stub);
                if let Some(s) = started {
                    let _ = s.send(task.is_ok());
                }
                if task.is_err() {
                    k.freezer.ended();
                }
                match task {
                    Ok(mut task) => {
                        let status = if setup(&mut task) {
                            task.run()
                        } else {
                            ExitStatus::Signal(libc::SIGKILL)
                        };
                        if let Some((status, core, cpu)) = task.finish(status) {
                            k.exit_process(&process, status, core, cpu);
                        }
                    }
                    Err(e) if process.threads().is_empty() => {
                        eprintln!("vkernel: pid {}: cannot create its stub: {e}", process.pid);
                        let status = ExitStatus::Signal(libc::SIGKILL);
                        k.exit_process(&process, status, false, Default::default());
                    }
                    Err(e) => eprintln!("vkernel: tid {tid}: cannot adopt its stub thread: {e}"),
                }
            });
        if spawned.is_err() {
            self.freezer.ended();
        }
        spawned.map(|_| ())
    }
}

impl Kernel {
    pub fn all_processes(&self) -> Vec<Arc<Process>> {
        self.procs().values().cloned().collect()
    }

    /// Whether any process is in process group `pgid`.
    pub fn group_exists(&self, pgid: i32) -> bool {
        self.all_processes().iter().any(|p| p.pgid() == pgid)
    }
}

impl Kernel {
    /// Sends `sig` from the kernel (a terminal's ^C, SIGHUP, ...) to process group `pgid`.
    pub fn signal_group(&self, pgid: i32, sig: i32) {
        let info = crate::signal::SigInfo::kernel(sig);
        for p in self
            .all_processes()
            .iter()
            .filter(|p| p.pgid() == pgid && p.life().exit.is_none())
        {
            crate::signal::deliver::send_to_process(self, p, info);
        }
    }
}

/// Whether `parent`'s children are reaped at exit (SIGCHLD ignored or SA_NOCLDWAIT).
fn ignores_children(parent: &Process) -> bool {
    let act = parent.sigactions()[(crate::signal::SIGCHLD - 1) as usize];
    act.handler == crate::signal::SIG_IGN || act.flags & crate::signal::SA_NOCLDWAIT != 0
}
