//! Credentials: the set*id family with Linux's rules for unprivileged callers.

use nix::errno::Errno;

use super::SysResult;
use crate::fs::Cred;
use crate::mm::{GuestPtr, UserMem};
use crate::task::Task;

/// "Leave unchanged" in the set*id calls.
const KEEP: u32 = u32::MAX;

/// One id triple (real, effective, saved) of a credential, user or group.
#[derive(Clone, Copy)]
enum Ids {
    User,
    Group,
}

fn get(c: &Cred, w: Ids) -> [u32; 3] {
    match w {
        Ids::User => [c.uid, c.euid, c.suid],
        Ids::Group => [c.gid, c.egid, c.sgid],
    }
}

fn put(c: &mut Cred, w: Ids, v: [u32; 3]) {
    match w {
        Ids::User => [c.uid, c.euid, c.suid] = v,
        Ids::Group => [c.gid, c.egid, c.sgid] = v,
    }
}

/// setresuid/setresgid: an unprivileged caller may only pick among its current ids.
fn setres(t: &Task, w: Ids, want: [u32; 3]) -> SysResult {
    let mut guard = t.process.cred.lock().unwrap_or_else(|e| e.into_inner());
    let cur = get(&guard, w);
    let privileged = guard.euid == 0;
    if !privileged && want.iter().any(|&x| x != KEEP && !cur.contains(&x)) {
        return Err(Errno::EPERM);
    }
    let mut new = cur;
    for (n, &x) in new.iter_mut().zip(&want) {
        if x != KEEP {
            *n = x;
        }
    }
    put(&mut guard, w, new);
    Ok(0)
}

/// setuid/setgid: root sets all three; others only the effective id, to the real or
/// saved one.
fn set_one(t: &Task, w: Ids, id: u32) -> SysResult {
    let privileged = t.process.cred().euid == 0;
    if privileged {
        setres(t, w, [id, id, id])
    } else {
        setres(t, w, [KEEP, id, KEEP])
    }
}

/// setreuid/setregid: setting the real id (or the effective one to something other
/// than the old real id) also sets the saved id to the new effective id.
fn set_re(t: &Task, w: Ids, r: u32, e: u32) -> SysResult {
    let cur = get(&t.process.cred(), w);
    let new_e = if e == KEEP { cur[1] } else { e };
    let saved = if r != KEEP || (e != KEEP && e != cur[0]) {
        new_e
    } else {
        KEEP
    };
    setres(t, w, [r, e, saved])
}

pub fn setuid(t: &mut Task, a: [u64; 6]) -> SysResult {
    set_one(t, Ids::User, a[0] as u32)
}

pub fn setgid(t: &mut Task, a: [u64; 6]) -> SysResult {
    set_one(t, Ids::Group, a[0] as u32)
}

pub fn setreuid(t: &mut Task, a: [u64; 6]) -> SysResult {
    set_re(t, Ids::User, a[0] as u32, a[1] as u32)
}

pub fn setregid(t: &mut Task, a: [u64; 6]) -> SysResult {
    set_re(t, Ids::Group, a[0] as u32, a[1] as u32)
}

pub fn setresuid(t: &mut Task, a: [u64; 6]) -> SysResult {
    setres(t, Ids::User, [a[0] as u32, a[1] as u32, a[2] as u32])
}

pub fn setresgid(t: &mut Task, a: [u64; 6]) -> SysResult {
    setres(t, Ids::Group, [a[0] as u32, a[1] as u32, a[2] as u32])
}

fn getres(t: &Task, w: Ids, a: [u64; 6]) -> SysResult {
    let ids = get(&t.process.cred(), w);
    let mut mm = t.process.mm();
    for (i, id) in ids.iter().enumerate() {
        mm.write_val(GuestPtr(a[i]), id)?;
    }
    Ok(0)
}

pub fn getresuid(t: &mut Task, a: [u64; 6]) -> SysResult {
    getres(t, Ids::User, a)
}

pub fn getresgid(t: &mut Task, a: [u64; 6]) -> SysResult {
    getres(t, Ids::Group, a)
}

/// Supplementary groups are not kept yet: only root may set them, and only to none.
pub fn setgroups(t: &mut Task, a: [u64; 6]) -> SysResult {
    if t.process.cred().euid != 0 {
        return Err(Errno::EPERM);
    }
    if a[0] != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
