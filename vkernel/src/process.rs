//! Processes: the state guest threads of one process share.
//!
//! Lock order: take at most one of a process's locks at a time, except `mm` may be
//! taken while holding nothing else; syscalls copy data out of files first and into
//! guest memory afterwards.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::fs::inode::Inode;
use crate::fs::procfs::ProcInfo;
use crate::fs::{path_of, Cred, FdTable};
use crate::mm::Vmspace;

/// How a process ended, as wait status and vkernel's own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The host exit code vkernel uses for pid 1 (shell convention: 128+signal).
    pub fn host_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c & 0xff,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

pub struct FsState {
    pub root: Arc<Inode>,
    pub cwd: Arc<Inode>,
    pub umask: u32,
}

/// What exec recorded about the program, for /proc.
#[derive(Default, Clone)]
pub struct ExecInfo {
    pub exe: Vec<u8>,
    pub comm: Vec<u8>,
    pub cmdline: Vec<u8>,
    pub environ: Vec<u8>,
}

#[derive(Clone, Copy)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub mm: Mutex<Vmspace>,
    pub files: Mutex<FdTable>,
    pub fs: Mutex<FsState>,
    pub cred: Mutex<Cred>,
    pub exec: Mutex<ExecInfo>,
    pub sigactions: Mutex<[SigAction; 64]>,
    pub rlimits: Mutex<[libc::rlimit64; 16]>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Process {
    pub fn new(
        pid: i32,
        ppid: i32,
        mm: Vmspace,
        files: FdTable,
        fs: FsState,
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
            ppid,
            mm: Mutex::new(mm),
            files: Mutex::new(files),
            fs: Mutex::new(fs),
            cred: Mutex::new(cred),
            exec: Mutex::new(ExecInfo::default()),
            sigactions: Mutex::new([dfl; 64]),
            rlimits: Mutex::new(default_rlimits()),
        })
    }

    pub fn mm(&self) -> MutexGuard<'_, Vmspace> {
        lock(&self.mm)
    }

    pub fn files(&self) -> MutexGuard<'_, FdTable> {
        lock(&self.files)
    }

    pub fn fs(&self) -> MutexGuard<'_, FsState> {
        lock(&self.fs)
    }

    pub fn cred(&self) -> Cred {
        *lock(&self.cred)
    }

    pub fn exec_info(&self) -> MutexGuard<'_, ExecInfo> {
        lock(&self.exec)
    }

    pub fn sigactions(&self) -> MutexGuard<'_, [SigAction; 64]> {
        lock(&self.sigactions)
    }

    pub fn rlimits(&self) -> MutexGuard<'_, [libc::rlimit64; 16]> {
        lock(&self.rlimits)
    }

    /// A snapshot for /proc.
    pub fn info(&self, root: &Arc<Inode>) -> ProcInfo {
        let exec = self.exec_info().clone();
        let cwd = path_of(&self.fs().cwd, root);
        let cred = self.cred();
        let fds = self
            .files()
            .iter()
            .map(|(fd, e)| (fd, e.file.path.clone()))
            .collect();
        let (maps, vm_bytes, rss_bytes) = crate::mm::maps_text(&self.mm());
        ProcInfo {
            pid: self.pid,
            ppid: self.ppid,
            pgid: self.pid,
            sid: self.pid,
            comm: exec.comm,
            state: 'R',
            cmdline: exec.cmdline,
            environ: exec.environ,
            exe: exec.exe,
            cwd,
            uid: cred.uid,
            gid: cred.gid,
            threads: 1,
            vm_bytes,
            rss_bytes,
            maps,
            fds,
        }
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
