//! execve: resolve the program, follow `#!`, load it into a fresh vmspace and swap it in.

use std::sync::Arc;

use nix::errno::Errno;
use vproc::layout::{GUEST_MMAP_TOP, HOST_USER_TOP, TRAMPOLINE_CODE, TRAMPOLINE_END};
use vproc::{HostCall, Regs};

use crate::fs::inode::{Inode, S_IFDIR, S_IFREG};
use crate::fs::{permitted, Walk, MAY_EXEC};
use crate::loader::{build_stack, load_elf, Credentials};
use crate::mm::Vmspace;
use crate::sched::wait_on;
use crate::task::Task;

/// Linux allows an interpreter chain of this many `#!` scripts.
const MAX_SHEBANG_DEPTH: u32 = 4;
/// The top of the initial stack (a guard gap below the mmap area's top).
const STACK_TOP: u64 = GUEST_MMAP_TOP - 0x10_0000;
/// Bytes of a `#!` line Linux reads (BINPRM_BUF_SIZE).
const SHEBANG_MAX: usize = 256;

/// Why an exec failed: the errno for the guest and, for ENOEXEC, a reason for humans.
#[derive(Debug)]
pub struct ExecError {
    pub errno: Errno,
    pub why: Option<String>,
}

impl From<Errno> for ExecError {
    fn from(errno: Errno) -> Self {
        ExecError { errno, why: None }
    }
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.why {
            Some(w) => f.write_str(w),
            None => f.write_str(self.errno.desc()),
        }
    }
}

pub fn execve(
    t: &mut Task,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<(), ExecError> {
    exec_depth(t, path, argv, envp, 0)
}

fn exec_depth(
    t: &mut Task,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    depth: u32,
) -> Result<(), ExecError> {
    let (inode, bytes) = read_program(t, path)?;
    if bytes.starts_with(b"#!") {
        if depth >= MAX_SHEBANG_DEPTH {
            return Err(Errno::ELOOP.into());
        }
        let (interp, arg) = parse_shebang(&bytes).ok_or(ExecError {
            errno: Errno::ENOEXEC,
            why: Some("bad #! line".into()),
        })?;
        let mut new_argv = vec![interp.clone()];
        new_argv.extend(arg);
        new_argv.push(path.to_vec());
        new_argv.extend(argv.into_iter().skip(1));
        return exec_depth(t, &interp, new_argv, envp, depth + 1);
    }
    let _ = inode;
    load_and_switch(t, path, &bytes, argv, envp)
}

/// Resolves `path` and reads the whole program, with exec's permission checks.
fn read_program(t: &Task, path: &[u8]) -> Result<(Arc<Inode>, Vec<u8>), ExecError> {
    let (root, cwd) = {
        let fs = t.process.fs();
        (fs.root.clone(), fs.cwd.clone())
    };
    let view = t.view();
    let cred = t.process.cred();
    let walk = Walk {
        root: &root,
        cred,
        view: &view,
    };
    let inode = walk.resolve(&cwd, path, true)?;
    match inode.file_type() {
        S_IFREG => {}
        S_IFDIR => return Err(Errno::EACCES.into()),
        _ => return Err(Errno::EACCES.into()),
    }
    if !permitted(&inode, cred, MAY_EXEC) {
        return Err(Errno::EACCES.into());
    }
    let size = inode.size() as usize;
    let mut bytes = vec![0u8; size];
    let n = inode.lock().read_data(0, &mut bytes)?;
    bytes.truncate(n);
    Ok((inode, bytes))
}

/// `#!interp [one argument]`, as Linux splits it.
fn parse_shebang(bytes: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let line = &bytes[2..bytes.len().min(SHEBANG_MAX)];
    let line = line.split(|&b| b == b'\n').next()?;
    let line = trim(line);
    let split = line.iter().position(|b| b.is_ascii_whitespace());
    let (interp, rest) = match split {
        Some(i) => (&line[..i], trim(&line[i..])),
        None => (line, &[][..]),
    };
    if interp.is_empty() {
        return None;
    }
    Some((interp.to_vec(), (!rest.is_empty()).then(|| rest.to_vec())))
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn load_and_switch(
    t: &mut Task,
    path: &[u8],
    bytes: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<(), ExecError> {
    let mut vm = Vmspace::new(t.kernel.physmem.clone());
    let abs = absolute(t, path);
    let img = load_elf(bytes, &abs, &mut vm).map_err(|e| ExecError {
        errno: e.errno(),
        why: Some(e.to_string()),
    })?;
    let cred = t.process.cred();
    let creds = Credentials {
        uid: cred.uid,
        euid: cred.euid,
        gid: cred.gid,
        egid: cred.egid,
    };
    let stack = build_stack(&mut vm, STACK_TOP, &img, &argv, &envp, path, creds)?;
    // The point of no return: the other threads and the old image go away.
    let old_space = t.space();
    de_thread(t).map_err(|_| ExecError::from(Errno::EAGAIN))?;
    let wipe = [
        HostCall::unmap(0, TRAMPOLINE_CODE),
        HostCall::unmap(TRAMPOLINE_END, HOST_USER_TOP - TRAMPOLINE_END),
    ];
    t.thread
        .inject(&wipe)
        .map_err(|_| ExecError::from(Errno::ENOMEM))?;
    let old = t.process.mm.replace(vm);
    old.lock().leave(old_space);
    drop(old);
    // What clone shared (CLONE_FILES, CLONE_SIGHAND) becomes private to the new image.
    t.process.files.unshare();
    t.process.files().close_on_exec();
    t.process.sigactions.unshare();
    t.process.reset_caught_handlers();
    crate::syscall::delete_posix_timers(&t.kernel, &t.process);
    t.altstack = Default::default();
    {
        let mut l = t.process.life();
        l.did_exec = true;
        l.undumpable = false;
    }
    t.me.comm.lock().unwrap_or_else(|e| e.into_inner()).clear();
    record(t, &abs, &argv, &envp);
    let template = t.template_regs();
    t.regs = Regs::initial(img.entry, stack.sp, &template);
    // A vfork parent waits for this moment (or the child's exit).
    t.process.life().vfork_done = true;
    t.process.vfork_event.notify_all();
    Ok(())
}

/// Linux's de_thread: execve ends every other thread first, and the caller goes on
/// as the thread group leader, with the process's pid as its tid. A caller that is not
/// its stub's first host thread moves to a fresh stub (that first thread cannot end
/// while ours lives; the old stub goes away with it).
fn de_thread(t: &mut Task) -> Result<(), vproc::VprocError> {
    let alone = t.process.threads().len() == 1;
    if alone && t.hosts_the_leader() {
        return Ok(());
    }
    t.process.life().execing = Some(t.tid);
    t.zap_other_threads();
    let p = t.process.clone();
    let me = t.tid;
    let only_me = || (p.threads().iter().all(|th| th.tid == me)).then_some(());
    let fatal = || {
        t.freeze_point(true);
        t.fatal_signal_pending()
    };
    let ended = wait_on(&t.me.waker, &[&p.thread_exit], None, &fatal, only_me);
    p.life().execing = None;
    if ended.is_err() {
        // SIGKILL for the whole process: it dies anyway.
        return Ok(());
    }
    if !t.hosts_the_leader() {
        t.move_to_fresh_stub()?;
    }
    if t.tid != p.pid {
        t.become_leader();
    }
    Ok(())
}

fn absolute(t: &Task, path: &[u8]) -> Vec<u8> {
    if path.starts_with(b"/") {
        return path.to_vec();
    }
    let fs = t.process.fs();
    let mut p = crate::fs::path_of(&fs.cwd, &fs.root);
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(path);
    p
}

fn record(t: &Task, exe: &[u8], argv: &[Vec<u8>], envp: &[Vec<u8>]) {
    let join = |v: &[Vec<u8>]| {
        v.iter()
            .flat_map(|s| s.iter().copied().chain([0]))
            .collect::<Vec<u8>>()
    };
    let base = exe.rsplit(|&b| b == b'/').next().unwrap_or(exe);
    let mut info = t.process.exec_info();
    info.exe = exe.to_vec();
    info.comm = base[..base.len().min(15)].to_vec();
    info.cmdline = join(argv);
    info.environ = join(envp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines() {
        assert_eq!(
            parse_shebang(b"#!/bin/sh\necho"),
            Some((b"/bin/sh".to_vec(), None))
        );
        assert_eq!(
            parse_shebang(b"#! /bin/busybox  sh -e \n"),
            Some((b"/bin/busybox".to_vec(), Some(b"sh -e".to_vec())))
        );
        assert_eq!(parse_shebang(b"#!   \n"), None);
    }
}
