//! Process system calls: exit, execve, identity and limits.

use nix::errno::Errno;

use super::SysResult;
use crate::exec;
use crate::fork;
use crate::fs::fdtable::NR_OPEN;
use crate::mm::{GuestPtr, UserMem};
use crate::process::ExitStatus;
use crate::task::Task;

/// Flags vkernel does not implement (namespaces, pidfds, cgroups): EINVAL rather than
/// a child that silently lacks what was asked for.
const CLONE_UNSUPPORTED: u64 = 0x1000 // PIDFD
    | 0x0002_0000 // NEWNS
    | 0x0200_0000 // NEWCGROUP
    | 0x0400_0000 // NEWUTS
    | 0x0800_0000 // NEWIPC
    | 0x1000_0000 // NEWUSER
    | 0x2000_0000 // NEWPID
    | 0x4000_0000 // NEWNET
    | 0x2_0000_0000; // INTO_CGROUP

fn clone_with(t: &mut Task, args: fork::CloneArgs) -> SysResult {
    if args.flags & CLONE_UNSUPPORTED != 0 || !(0..=64).contains(&args.exit_signal) {
        return Err(Errno::EINVAL);
    }
    fork::clone_process(t, &args)
}

pub fn clone(t: &mut Task, a: [u64; 6]) -> SysResult {
    // x86-64 argument order: flags, stack, parent_tid, child_tid, tls; the low byte of
    // flags is the exit signal.
    clone_with(
        t,
        fork::CloneArgs {
            flags: a[0] & !0xff,
            exit_signal: (a[0] & 0xff) as i32,
            stack: a[1],
            parent_tid: a[2],
            child_tid: a[3],
            tls: a[4],
        },
    )
}

/// struct clone_args up to `tls` (CLONE_ARGS_SIZE_VER0), and as far as vkernel knows it
/// (VER2: set_tid, set_tid_size, cgroup).
const CLONE_ARGS_VER0: u64 = 64;
const CLONE_ARGS_KNOWN: u64 = 88;

pub fn clone3(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (ptr, size) = (a[0], a[1]);
    if size < CLONE_ARGS_VER0 {
        return Err(Errno::EINVAL);
    }
    if size > crate::mm::PAGE {
        return Err(Errno::E2BIG);
    }
    let mut bytes = vec![0u8; size as usize];
    t.process.mm().read_bytes(GuestPtr(ptr), &mut bytes)?;
    if bytes
        .iter()
        .skip(CLONE_ARGS_KNOWN as usize)
        .any(|&b| b != 0)
    {
        return Err(Errno::E2BIG);
    }
    bytes.resize(CLONE_ARGS_KNOWN as usize, 0);
    let w: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()))
        .collect();
    // flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
    // set_tid, set_tid_size, cgroup
    let (stack, stack_size) = (w[5], w[6]);
    if (stack == 0) != (stack_size == 0) || w[9] != 0 || w[4] > 64 {
        // Choosing the child's pid (set_tid) is not supported.
        return Err(Errno::EINVAL);
    }
    clone_with(
        t,
        fork::CloneArgs {
            flags: w[0],
            exit_signal: w[4] as i32,
            stack: stack.wrapping_add(stack_size),
            parent_tid: w[3],
            child_tid: w[2],
            tls: w[7],
        },
    )
}

fn fork_like(flags: u64) -> fork::CloneArgs {
    fork::CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD,
        stack: 0,
        parent_tid: 0,
        child_tid: 0,
        tls: 0,
    }
}

pub fn fork(t: &mut Task, _a: [u64; 6]) -> SysResult {
    fork::clone_process(t, &fork_like(0))
}

pub fn vfork(t: &mut Task, _a: [u64; 6]) -> SysResult {
    fork::clone_process(t, &fork_like(fork::CLONE_VM | fork::CLONE_VFORK))
}

pub fn setpgid(t: &mut Task, a: [u64; 6]) -> SysResult {
    let pid = if a[0] == 0 {
        t.process.pid
    } else {
        a[0] as i32
    };
    let pgid = if a[1] == 0 { pid } else { a[1] as i32 };
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let target = t.kernel.process(pid).ok_or(Errno::ESRCH)?;
    let me = t.process.pid;
    if pid != me && target.ppid() != me {
        return Err(Errno::ESRCH);
    }
    let my_sid = t.process.tree().sid;
    let tr = target.tree();
    if tr.sid != my_sid {
        return Err(Errno::EPERM);
    }
    if tr.sid == pid {
        return Err(Errno::EPERM); // a session leader cannot move
    }
    drop(tr);
    if pid != me && target.life().did_exec {
        return Err(Errno::EACCES);
    }
    // Joining a group needs it to exist in the caller's session.
    let joinable = t
        .kernel
        .all_processes()
        .iter()
        .any(|p| p.pgid() == pgid && p.tree().sid == my_sid);
    if pgid != pid && !joinable {
        return Err(Errno::EPERM);
    }
    target.tree().pgid = pgid;
    Ok(0)
}

fn tree_field(t: &Task, pid: u64, f: impl Fn(&crate::process::Tree) -> i32) -> SysResult {
    let p = if pid == 0 {
        t.process.clone()
    } else {
        t.kernel.process(pid as i32).ok_or(Errno::ESRCH)?
    };
    let v = f(&p.tree());
    Ok(v as u64)
}

pub fn getpgid(t: &mut Task, a: [u64; 6]) -> SysResult {
    tree_field(t, a[0], |tr| tr.pgid)
}

pub fn getsid(t: &mut Task, a: [u64; 6]) -> SysResult {
    tree_field(t, a[0], |tr| tr.sid)
}

pub fn setsid(t: &mut Task, _a: [u64; 6]) -> SysResult {
    let pid = t.process.pid;
    if t.kernel.group_exists(pid) {
        return Err(Errno::EPERM);
    }
    let mut tr = t.process.tree();
    tr.sid = pid;
    tr.pgid = pid;
    tr.ctty = None;
    Ok(pid as u64)
}

/// exit: this thread ends; the process ends with its last thread.
pub fn exit(t: &mut Task, a: [u64; 6]) -> SysResult {
    t.exit = Some(ExitStatus::Code(a[0] as i32 & 0xff));
    Ok(0)
}

pub fn exit_group(t: &mut Task, a: [u64; 6]) -> SysResult {
    t.group_exit(ExitStatus::Code(a[0] as i32 & 0xff), false);
    Ok(0)
}

/// Reads a NULL-terminated array of guest string pointers.
fn read_strings(t: &Task, mut addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut total = 0;
    loop {
        let p: u64 = t.process.mm().read_val(GuestPtr(addr))?;
        if p == 0 {
            return Ok(out);
        }
        let s = t
            .process
            .mm()
            .read_cstr(GuestPtr(p), 128 * 1024)
            .map_err(|e| {
                if e == Errno::ENAMETOOLONG {
                    Errno::E2BIG
                } else {
                    e
                }
            })?;
        total += s.len() + 1;
        if total > 2 * 1024 * 1024 {
            return Err(Errno::E2BIG);
        }
        out.push(s);
        addr += 8;
    }
}

pub fn execve(t: &mut Task, a: [u64; 6]) -> SysResult {
    let path = t.read_path(a[0])?;
    let argv = read_strings(t, a[1])?;
    let envp = read_strings(t, a[2])?;
    match exec::execve(t, &path, argv, envp) {
        Ok(()) => Ok(0),
        Err(e) => {
            if let Some(why) = e.why.filter(|_| e.errno == Errno::ENOEXEC) {
                eprintln!("vkernel: execve {}: {why}", String::from_utf8_lossy(&path));
            }
            Err(e.errno)
        }
    }
}

pub fn set_tid_address(t: &mut Task, a: [u64; 6]) -> SysResult {
    t.clear_child_tid = a[0];
    Ok(t.tid as u64)
}

/// The size of struct robust_list_head; Linux refuses any other.
const ROBUST_LIST_HEAD_SIZE: u64 = 24;

/// Records the thread's robust futex list. (Walking it when the thread dies, to mark
/// held futexes FUTEX_OWNER_DIED, comes with futexes and threads.)
pub fn set_robust_list(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[1] != ROBUST_LIST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    t.robust_list = a[0];
    Ok(0)
}

pub fn get_robust_list(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[0] != 0 && a[0] as i32 != t.tid {
        return Err(Errno::ESRCH);
    }
    put_u64(t, a[1], t.robust_list)?;
    put_u64(t, a[2], ROBUST_LIST_HEAD_SIZE)
}

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

pub fn arch_prctl(t: &mut Task, a: [u64; 6]) -> SysResult {
    match a[0] {
        ARCH_SET_FS | ARCH_SET_GS if a[1] >= vproc::layout::HOST_USER_TOP => Err(Errno::EPERM),
        ARCH_SET_FS => {
            t.regs.0.fs_base = a[1];
            Ok(0)
        }
        ARCH_SET_GS => {
            t.regs.0.gs_base = a[1];
            Ok(0)
        }
        ARCH_GET_FS => put_u64(t, a[1], t.regs.0.fs_base),
        ARCH_GET_GS => put_u64(t, a[1], t.regs.0.gs_base),
        _ => Err(Errno::EINVAL),
    }
}

fn put_u64(t: &Task, addr: u64, v: u64) -> SysResult {
    t.process.mm().write_val(GuestPtr(addr), &v)?;
    Ok(0)
}

fn check_pid(t: &Task, pid: u64) -> Result<(), Errno> {
    match pid as i32 {
        0 => Ok(()),
        p if p == t.process.pid => Ok(()),
        _ => Err(Errno::ESRCH),
    }
}

pub fn prlimit64(t: &mut Task, a: [u64; 6]) -> SysResult {
    check_pid(t, a[0])?;
    let res = usize::try_from(a[1])
        .ok()
        .filter(|&r| r < 16)
        .ok_or(Errno::EINVAL)?;
    let new = if a[2] != 0 {
        Some(t.process.mm().read_val::<libc::rlimit64>(GuestPtr(a[2]))?)
    } else {
        None
    };
    let old = t.process.rlimits()[res];
    if let Some(n) = new {
        if n.rlim_cur > n.rlim_max {
            return Err(Errno::EINVAL);
        }
        // Linux: not even root raises the fd limit past fs.nr_open.
        if res == libc::RLIMIT_NOFILE as usize && n.rlim_max > NR_OPEN as u64 {
            return Err(Errno::EPERM);
        }
        if n.rlim_max > old.rlim_max && t.process.cred().euid != 0 {
            return Err(Errno::EPERM);
        }
    }
    if a[3] != 0 {
        t.process.mm().write_val(GuestPtr(a[3]), &old)?;
    }
    if let Some(n) = new {
        t.process.rlimits()[res] = n;
    }
    Ok(0)
}

pub fn getrlimit(t: &mut Task, a: [u64; 6]) -> SysResult {
    prlimit64(t, [0, a[0], 0, a[1], 0, 0])
}

pub fn setrlimit(t: &mut Task, a: [u64; 6]) -> SysResult {
    prlimit64(t, [0, a[0], a[1], 0, 0, 0])
}
