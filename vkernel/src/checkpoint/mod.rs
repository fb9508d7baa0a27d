//! Checkpoints: SIGCKPT freezes every task at a clean boundary, the whole system goes
//! into one ELF core image (ckpt crate), and the tasks go on.
//!
//! The image holds, beside the header: per guest thread the standard CORE notes
//! (NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE) and a VKERNEL thread note; one VKERNEL
//! vmspace note per address space (VMAs, page -> frame); one VKERNEL kernel note (the
//! process tree, open files); and every allocated physmem extent as a PT_LOAD at its
//! physmem offset. Thaw (`vkernel thaw`) is not written yet: the kernel note grows the
//! full saved state of every kernel object as it lands (docs/ARCHITECTURE.md).

mod freezer;
pub mod info;
pub mod thaw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use freezer::{Freezer, ThreadSnapshot};

use crate::kernel::Kernel;
use crate::mm::SavedVmspace;

/// The kernel note: what the image says about every process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelNote {
    /// The root filesystem image the system booted from (thaw's default).
    pub rootfs_path: PathBuf,
    pub physmem_bytes: u64,
    /// The next pid the kernel hands out.
    pub next_pid: i32,
    pub processes: Vec<ProcessNote>,
    /// The filesystem: the inode tree (file data still in the root image by
    /// reference), every open file description, pipe and FIFO, by index.
    pub fs: crate::fs::save::SavedFs,
    /// The console and the pseudo-terminals.
    pub ttys: crate::fs::devpts::SavedTtys,
    /// The guest's monotonic clocks at the freeze; they go on from here after a thaw.
    pub clocks: crate::clock::SavedClocks,
    /// The guest's CLOCK_BOOTTIME at boot (uptime).
    pub booted_at: Duration,
    /// The network interfaces' traffic counters.
    pub net: crate::net::iface::SavedStats,
    /// vke0's setup and the published ports, bound again by a thaw.
    pub network: crate::net::nat::Config,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessNote {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub comm: Vec<u8>,
    pub cmdline: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    /// 'R', 'S', 'T' or 'Z', as /proc shows it.
    pub state: char,
    /// The vmspace note of its address space (processes sharing one share the id).
    pub vmspace: u64,
    pub tids: Vec<i32>,
    pub files: Vec<FileNote>,
    /// The fd table, naming open file descriptions by their index in `KernelNote::fs`.
    pub fds: crate::fs::fdtable::SavedFdTable,
    /// cwd and root, as inode indices in `KernelNote::fs`.
    pub cwd: usize,
    pub root: usize,
    /// Everything else the process holds (credentials, dispositions, limits, queued
    /// signals, timers, exit state).
    pub saved: crate::process::SavedProcess,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileNote {
    pub fd: i32,
    /// What /proc/<pid>/fd/N shows.
    pub target: Vec<u8>,
    pub flags: u32,
    pub pos: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmspaceNote {
    pub id: u64,
    pub vmspace: SavedVmspace,
}

/// Where checkpoints go: `--ckpt-file PATTERN` with `%p` (vkernel's host pid), `%n`
/// (a sequence number from 1) and `%%`; relative to the directory vkernel started in.
pub struct Target {
    pattern: PathBuf,
    next: AtomicU64,
}

impl Target {
    pub fn new(pattern: &Path) -> std::io::Result<Target> {
        let pattern = if pattern.is_absolute() {
            pattern.to_owned()
        } else {
            std::env::current_dir()?.join(pattern)
        };
        Ok(Target {
            pattern,
            next: AtomicU64::new(1),
        })
    }

    fn next_path(&self) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        PathBuf::from(expand(
            &self.pattern.to_string_lossy(),
            std::process::id(),
            n,
        ))
    }
}

fn expand(pattern: &str, pid: u32, n: u64) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('%', Some('p')) => out += &pid.to_string(),
            ('%', Some('n')) => out += &n.to_string(),
            ('%', Some('%')) => out.push('%'),
            _ => {
                out.push(c);
                continue;
            }
        }
        chars.next();
    }
    out
}

/// What a checkpoint did, for its one line on stderr.
pub struct Report {
    pub path: PathBuf,
    pub size: u64,
    pub guest_memory: u64,
    pub pause: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "vkernel: checkpoint {}: {} bytes, guest memory {} bytes, paused {:.1} ms",
            self.path.display(),
            self.size,
            self.guest_memory,
            self.pause.as_secs_f64() * 1000.0
        )
    }
}

/// What the system does once its checkpoint is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// SIGCKPT: it thaws and goes on.
    GoOn,
    /// SIGCKPTEXIT: it stays frozen for the caller to exit, so nothing a guest does
    /// after the image (output above all) is seen twice once the image is thawed.
    Exit,
}

/// Freezes the system, writes the image, and thaws unless `then` is to exit after a
/// good write. On failure the previous image at the target path is untouched and the
/// guests go on.
pub fn take(kernel: &Kernel, target: &Target, then: Then) -> Result<Report, String> {
    let start = Instant::now();
    let path = target.next_path();
    // Console input read from now on waits for the thaw.
    let input = kernel.freezer.hold_input();
    let snapshots = kernel.freezer.freeze(|| kick_all(kernel));
    // Timers would post signals into the state being saved.
    kernel.timers.pause();
    let written = write(kernel, &snapshots, &path);
    if then == Then::GoOn || written.is_err() {
        kernel.timers.resume();
        kernel.freezer.thaw();
    }
    drop(input);
    let size = written.map_err(|e| format!("checkpoint {} failed: {e}", path.display()))?;
    Ok(Report {
        path,
        size,
        guest_memory: kernel.physmem.used_bytes(),
        pause: start.elapsed(),
    })
}

fn kick_all(kernel: &Kernel) {
    for p in kernel.all_processes() {
        p.kick_all();
    }
}

/// Writes the image of the frozen system.
fn write(kernel: &Kernel, threads: &[ThreadSnapshot], path: &Path) -> Result<u64, ckpt::CkptError> {
    let header = ckpt::Header::now(
        env!("CARGO_PKG_VERSION"),
        cpu_features(),
        kernel.opts.rootfs_identity.clone(),
    );
    let mut w = ckpt::ImageWriter::new(&header);
    let (note, vmspaces) = kernel_state(kernel);
    w.add_note(
        ckpt::OWNER_VKERNEL,
        ckpt::note_type::KERNEL,
        ckpt::encode(&note)?,
    );
    for v in &vmspaces {
        w.add_note(
            ckpt::OWNER_VKERNEL,
            ckpt::note_type::VMSPACE,
            ckpt::encode(v)?,
        );
    }
    let tree: BTreeMap<i32, &ProcessNote> = note.processes.iter().map(|p| (p.pid, p)).collect();
    for t in threads {
        add_thread_notes(&mut w, t, tree.get(&t.pid).copied())?;
    }
    let pm = &kernel.physmem;
    for run in pm.frames().allocated_runs() {
        // SAFETY: every task is parked, so no guest thread runs and no kernel path
        // allocates or frees frames until the thaw, after this write.
        let bytes = unsafe { pm.run_slice(run) };
        w.add_load(run.start * vproc::PAGE_SIZE, bytes);
    }
    w.write_atomic(path)
}

fn add_thread_notes(
    w: &mut ckpt::ImageWriter<'_>,
    t: &ThreadSnapshot,
    p: Option<&ProcessNote>,
) -> Result<(), ckpt::CkptError> {
    let (ppid, pgid, sid) = p.map_or((0, 0, 0), |p| (p.ppid, p.pgid, p.sid));
    let prstatus = ckpt::prstatus_desc(t.tid, ppid, pgid, sid, &t.regs, 0);
    w.add_note(ckpt::OWNER_CORE, ckpt::NT_PRSTATUS, prstatus);
    // The FXSAVE image is the first 512 bytes of the XSAVE area.
    let fx = t.xstate.get(..512).map(<[u8]>::to_vec).unwrap_or_default();
    w.add_note(ckpt::OWNER_CORE, ckpt::NT_PRFPREG, fx);
    w.add_note(ckpt::OWNER_CORE, ckpt::NT_X86_XSTATE, t.xstate.clone());
    w.add_note(
        ckpt::OWNER_VKERNEL,
        ckpt::note_type::THREAD,
        ckpt::encode(t)?,
    );
    Ok(())
}

/// The process tree, open files and address spaces, read while everything is frozen.
fn kernel_state(kernel: &Kernel) -> (KernelNote, Vec<VmspaceNote>) {
    let cpu = |c: &crate::sched::cpuclock::CpuClock| {
        kernel
            .process(c.pid)
            .and_then(|p| c.read(&p))
            .unwrap_or_default()
    };
    let now = crate::sched::sigtimer::Now {
        wall: Instant::now(),
        cpu: &cpu,
    };
    let mut vmspaces = BTreeMap::new();
    let mut fs = kernel.vfs.saver();
    let processes = kernel
        .all_processes()
        .iter()
        .map(|p| {
            let info = p.info(&kernel.vfs.root);
            let vmspace = {
                let mm = p.mm();
                vmspaces.entry(mm.id()).or_insert_with(|| mm.save());
                mm.id()
            };
            let (cwd, root) = {
                let f = p.fs();
                (fs.inode(&f.cwd), fs.inode(&f.root))
            };
            let files = p
                .files()
                .iter()
                .map(|(fd, e)| FileNote {
                    fd,
                    target: e.file.proc_link(),
                    flags: e.file.flags(),
                    pos: e.file.pos(),
                })
                .collect();
            ProcessNote {
                pid: info.pid,
                ppid: info.ppid,
                pgid: info.pgid,
                sid: info.sid,
                comm: info.comm,
                cmdline: info.cmdline,
                uid: info.uid,
                gid: info.gid,
                state: info.state,
                vmspace,
                tids: info.tids,
                files,
                fds: p.files().save(|f| fs.file(f)),
                cwd,
                root,
                saved: p.save(&now),
            }
        })
        .collect();
    let note = KernelNote {
        rootfs_path: kernel.opts.rootfs_path.clone(),
        physmem_bytes: kernel.physmem.size(),
        next_pid: kernel.next_pid(),
        processes,
        fs: fs.finish(),
        ttys: kernel.ttys.save(),
        clocks: crate::clock::save(),
        booted_at: kernel.booted_at,
        net: crate::net::iface::save(),
        network: crate::net::nat::config().clone(),
    };
    let vms = vmspaces
        .into_iter()
        .map(|(id, vmspace)| VmspaceNote { id, vmspace })
        .collect();
    (note, vms)
}

/// CPUID feature words and XCR0: what a guest may have seen of this CPU. A thaw on a
/// CPU that lacks any of them must refuse.
pub fn cpu_features() -> Vec<u64> {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    let (l1, l7) = (__cpuid(1), __cpuid_count(7, 0));
    /// XGETBV needs the OS to have enabled XSAVE (CPUID.1:ECX.OSXSAVE).
    #[target_feature(enable = "xsave")]
    fn xcr0() -> u64 {
        // SAFETY: only called when OSXSAVE says XGETBV is available.
        unsafe { std::arch::x86_64::_xgetbv(0) }
    }
    let osxsave = l1.ecx & (1 << 27) != 0;
    // SAFETY: the xsave feature is present when OSXSAVE is set.
    let xcr0 = if osxsave { unsafe { xcr0() } } else { 0 };
    vec![
        u64::from(l1.ecx),
        u64::from(l1.edx),
        u64::from(l7.ebx),
        u64::from(l7.ecx),
        u64::from(l7.edx),
        xcr0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_pid_sequence_and_percent() {
        assert_eq!(expand("ckpt.elf", 7, 1), "ckpt.elf");
        assert_eq!(expand("/t/ck-%p-%n.elf", 42, 3), "/t/ck-42-3.elf");
        assert_eq!(expand("100%%-%x%", 1, 1), "100%-%x%");
    }
}
