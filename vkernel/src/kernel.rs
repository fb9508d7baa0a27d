//! The kernel: guest RAM, the stub factory, the filesystem and the process table.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use vproc::{Physmem, Zygote};

use crate::fs::procfs::{ProcInfo, ProcView};
use crate::fs::Vfs;
use crate::process::Process;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub strace: bool,
    pub verbose: bool,
}

pub struct Kernel {
    pub physmem: Arc<Physmem>,
    pub zygote: Zygote,
    pub vfs: Vfs,
    pub opts: Options,
    pub boot_time: Instant,
    procs: Mutex<BTreeMap<i32, Arc<Process>>>,
    next_pid: AtomicI32,
    enosys_logged: Mutex<HashSet<u64>>,
}

impl Kernel {
    /// The image's regular files keep a reference to it, so it stays open as long as
    /// any file in it is not yet copied up.
    pub fn new(
        physmem: Arc<Physmem>,
        zygote: Zygote,
        image: Arc<rootfs::Image>,
        opts: Options,
    ) -> Arc<Kernel> {
        let vfs = Vfs::boot(&image);
        Arc::new(Kernel {
            physmem,
            zygote,
            vfs,
            opts,
            boot_time: Instant::now(),
            procs: Mutex::new(BTreeMap::new()),
            next_pid: AtomicI32::new(1),
            enosys_logged: Mutex::new(HashSet::new()),
        })
    }

    fn procs(&self) -> MutexGuard<'_, BTreeMap<i32, Arc<Process>>> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn alloc_pid(&self) -> i32 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
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

/// /proc's view of the kernel, from one task's point of view (for /proc/self).
pub struct KernelView<'a> {
    pub kernel: &'a Kernel,
    pub current: i32,
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

    fn meminfo(&self) -> (u64, u64) {
        let pm = &self.kernel.physmem;
        (pm.size(), pm.size() - pm.used_bytes())
    }

    fn uptime(&self) -> f64 {
        self.kernel.boot_time.elapsed().as_secs_f64()
    }
}
