//! `vkernel thaw IMAGE`: the system of a checkpoint, running again where it stopped.
//!
//! Order: verify the image and this host (CPU features, root image identity); guest
//! RAM (claim every saved extent, copy it in); the kernel with its terminals and
//! filesystem restored; each vmspace (shared by id), each process; then, per live
//! process, a fresh stub for its first thread and the others made in that stub, each
//! thread with its saved registers, XSAVE state, mask and queued signals. A thread
//! that was parked in a system call re-issues it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ckpt::CkptError;

use super::{KernelNote, ThreadSnapshot, VmspaceNote};
use crate::kernel::Kernel;
use crate::mm::Vmspace;
use crate::process::{FsState, Process, Shared, Thread};
use crate::sched::cpuclock::CpuClock;
use crate::task::{StubSource, Task};

/// What the image holds, decoded and checked.
pub struct Saved {
    pub image: ckpt::Image,
    pub kernel: KernelNote,
    pub vmspaces: Vec<VmspaceNote>,
    pub threads: Vec<ThreadSnapshot>,
}

fn bad(what: impl Into<String>) -> CkptError {
    CkptError::Decode(what.into())
}

impl Saved {
    /// Refuses the image unless this host can run what it holds.
    pub fn check_host(&self, rootfs_identity: &[u8]) -> Result<(), CkptError> {
        let h = self.image.header();
        if h.rootfs_identity != rootfs_identity {
            return Err(bad(
                "the root filesystem image differs from the checkpoint's",
            ));
        }
        let here = super::cpu_features();
        let missing = h.cpu_features.iter().zip(&here).any(|(s, h)| s & !h != 0);
        if missing || h.cpu_features.len() != here.len() {
            return Err(bad(
                "this CPU lacks features the checkpointed guests may use",
            ));
        }
        Ok(())
    }
}

/// Opens and decodes the image (checksums and format version are checked here).
pub fn open(path: &Path) -> Result<Saved, CkptError> {
    let image = ckpt::Image::open(path)?;
    let desc = image
        .find_note(ckpt::OWNER_VKERNEL, ckpt::note_type::KERNEL)
        .ok_or_else(|| bad("no kernel note"))?;
    let kernel: KernelNote = ckpt::decode(desc)?;
    let mut vmspaces = Vec::new();
    let mut threads = Vec::new();
    for n in image.notes().filter(|n| n.owner == ckpt::OWNER_VKERNEL) {
        match n.ntype {
            ckpt::note_type::VMSPACE => vmspaces.push(ckpt::decode(n.desc)?),
            ckpt::note_type::THREAD => threads.push(ckpt::decode(n.desc)?),
            _ => {}
        }
    }
    Ok(Saved {
        image,
        kernel,
        vmspaces,
        threads,
    })
}

/// Claims every saved extent of guest RAM and reads it in, straight into the direct
/// map (one read per extent, no bounce buffer). The claim stands for the image's own
/// reference; `drop_claims` releases it once the vmspaces hold theirs.
pub fn load_memory(
    saved: &Saved,
    physmem: &vproc::Physmem,
) -> Result<Vec<vproc::FrameRun>, CkptError> {
    let page = vproc::PAGE_SIZE;
    let mut runs = Vec::new();
    for seg in saved.image.loads() {
        let run = vproc::FrameRun {
            start: seg.paddr / page,
            len: seg.len / page,
        };
        if !seg.paddr.is_multiple_of(page) || !physmem.frames().claim(run) {
            return Err(bad(format!(
                "guest memory extent at {:#x} does not fit",
                seg.paddr
            )));
        }
        runs.push(run);
        // SAFETY: the run was just claimed and no stub exists yet to map it.
        let ram = unsafe { physmem.run_slice_mut(run) };
        saved.image.read_load_at(seg, 0, ram)?;
    }
    Ok(runs)
}

pub fn drop_claims(physmem: &vproc::Physmem, runs: &[vproc::FrameRun]) {
    for r in runs {
        (r.start..r.start + r.len).for_each(|f| physmem.put(f));
    }
}

/// Rebuilds every process, without its threads.
pub fn processes(
    physmem: &Arc<vproc::Physmem>,
    saved: &Saved,
    fs: &crate::fs::save::RestoredFs,
) -> Result<Vec<Arc<Process>>, CkptError> {
    let mut vms: BTreeMap<u64, Arc<parking_lot::Mutex<Vmspace>>> = BTreeMap::new();
    for v in &saved.vmspaces {
        let vm = Vmspace::restore(physmem.clone(), v.vmspace.clone())?;
        vms.insert(v.id, Arc::new(parking_lot::Mutex::new(vm)));
    }
    let cpu = |c: &CpuClock| saved_cpu(saved, c);
    let now = crate::sched::sigtimer::Now {
        wall: std::time::Instant::now(),
        cpu: &cpu,
    };
    let mut out = Vec::new();
    for n in &saved.kernel.processes {
        let s = &n.saved;
        let vm = vms
            .get(&n.vmspace)
            .ok_or_else(|| bad(format!("pid {}: no vmspace {}", n.pid, n.vmspace)))?;
        let files = crate::fs::FdTable::restore(n.fds.clone(), |i| fs.file(i))?;
        let fsstate = FsState {
            root: fs.inode(n.root)?,
            cwd: fs.inode(n.cwd)?,
            umask: s.umask,
        };
        let p = Process::new(
            s.pid,
            s.tree.clone(),
            Shared::of(vm.clone()),
            Shared::new(files),
            Shared::new(fsstate),
            s.cred,
        );
        p.restore_sigactions(s.sigactions.clone())?;
        p.restore_rlimits(s.rlimits);
        *p.exec_info() = s.exec.clone();
        *p.life() = s.life.clone();
        *p.shared_pending() = s.shared_pending.clone();
        *p.cpu_base() = s.cpu;
        p.exit_signal
            .store(s.exit_signal, std::sync::atomic::Ordering::SeqCst);
        *p.timers() = crate::sched::sigtimer::SigTimers::restore(&s.timers, &now);
        out.push(p);
    }
    Ok(out)
}

/// What a CPU clock read at the checkpoint: its timers count on from there.
fn saved_cpu(saved: &Saved, c: &CpuClock) -> std::time::Duration {
    let base = match c.tid {
        None => saved
            .kernel
            .processes
            .iter()
            .find(|p| p.pid == c.pid)
            .map(|p| p.saved.cpu),
        Some(tid) => saved.threads.iter().find(|t| t.tid == tid).map(|t| t.cpu),
    };
    base.unwrap_or_default().on(c.which)
}

/// The restored filesystem, terminals and processes, for `Kernel::thaw`.
pub fn kernel_parts(
    saved: &Saved,
    image: &Arc<rootfs::Image>,
    timers: &Arc<crate::sched::timer::Timers>,
    physmem: &Arc<vproc::Physmem>,
    host: Arc<dyn crate::fs::tty::TtyHost>,
) -> Result<(crate::fs::Vfs, crate::fs::devpts::Ttys, Vec<Arc<Process>>), CkptError> {
    let ttys = crate::fs::devpts::Ttys::restore(saved.kernel.ttys.clone(), host)?;
    let env = crate::fs::save::RestoreEnv {
        image,
        timers,
        tty: &|id| ttys.get(id),
    };
    let fs = crate::fs::Vfs::restore(saved.kernel.fs.clone(), &env)?;
    let procs = processes(physmem, saved, &fs)?;
    let vfs = fs.into_vfs();
    let table = ttys.into_table(vfs.pts.clone());
    Ok((vfs, table, procs))
}

/// Starts the threads of every live process; returns how many.
pub fn start_threads(kernel: &Arc<Kernel>, saved: &Saved) -> Result<usize, CkptError> {
    let mut by_pid: BTreeMap<i32, Vec<ThreadSnapshot>> = BTreeMap::new();
    for t in &saved.threads {
        by_pid.entry(t.pid).or_default().push(t.clone());
    }
    let mut started = 0;
    for (pid, mut threads) in by_pid {
        let p = kernel
            .process(pid)
            .ok_or_else(|| bad(format!("thread of a missing pid {pid}")))?;
        threads.sort_by_key(|t| t.tid);
        started += threads.len();
        let first = threads.remove(0);
        let me = thread_of(&first);
        let setup = move |t: &mut Task| {
            // The others are host threads of this stub, made from its first thread.
            apply(t, &first)
                && threads.into_iter().all(|other| {
                    let me = thread_of(&other);
                    t.start_sibling(me, move |c: &mut Task| apply(c, &other))
                })
        };
        kernel
            .spawn_task(p, me, StubSource::Fresh, setup, None)
            .map_err(|e| bad(format!("pid {pid}: cannot start: {e}")))?;
    }
    Ok(started)
}

fn thread_of(s: &ThreadSnapshot) -> Arc<Thread> {
    let th = Thread::new(s.tid);
    {
        let mut sig = th.signals();
        sig.mask = s.mask;
        sig.pending = s.pending.clone();
    }
    *th.cpu_base() = s.cpu;
    *th.comm.lock().unwrap_or_else(|e| e.into_inner()) = s.comm.clone();
    th
}

/// Puts a snapshot's state into a fresh task.
fn apply(t: &mut Task, s: &ThreadSnapshot) -> bool {
    t.load_regs(vproc::Regs::from_words(s.regs));
    t.clear_child_tid = s.clear_child_tid;
    t.restart = s.restart;
    t.restart_block = s.restart_block;
    t.saved_mask = s.saved_mask;
    t.robust_list = s.robust_list;
    t.altstack = abi::sigframe::AltStack {
        sp: s.altstack.0,
        flags: s.altstack.1,
        size: s.altstack.2,
    };
    s.xstate.is_empty()
        || t.thread
            .set_xstate(&vproc::XState(s.xstate.clone()))
            .is_ok()
}
