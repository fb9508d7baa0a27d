//! flock and fcntl record locks (F_GETLK, F_SETLK, F_SETLKW).

use std::sync::Arc;

use nix::errno::Errno;

use super::SysResult;
use crate::fs::lock::{Kind, Lock, Owner};
use crate::fs::OpenFile;
use crate::mm::{GuestPtr, UserMem};
use crate::sched::block_on;
use crate::task::Task;

const LOCK_SH: u64 = 1;
const LOCK_EX: u64 = 2;
const LOCK_NB: u64 = 4;
const LOCK_UN: u64 = 8;
const F_RDLCK: i16 = 0;
const F_WRLCK: i16 = 1;
const F_UNLCK: i16 = 2;

/// The flock owner: the open file description itself.
fn file_owner(f: &Arc<OpenFile>) -> Owner {
    Owner::File(Arc::as_ptr(f) as usize)
}

/// Takes `want`, sleeping (interruptibly) while it conflicts unless `nonblock`;
/// EDEADLK instead of a sleep that would never end (see `LockWaits`).
fn take(t: &Task, f: &OpenFile, want: Lock, nonblock: bool) -> SysResult {
    let inode = &f.inode;
    if nonblock {
        return inode
            .locks()
            .acquire(want)
            .map(|_| 0)
            .map_err(|_| Errno::EAGAIN);
    }
    let waits = &t.kernel.vfs.lock_waits;
    let got = block_on(t, &[&inode.lock_wq], None, || {
        let blocker = inode.locks().acquire(want).err();
        match blocker {
            None => Some(Ok(())),
            Some(b) => waits.wait(inode, want, b).err().map(Err),
        }
    });
    waits.done(want.owner);
    got??;
    Ok(0)
}

fn release(f: &OpenFile, owner: Owner, flock: bool, start: u64, end: u64) {
    f.inode.locks().release(owner, flock, start, end);
    f.inode.lock_wq.notify_all();
}

pub fn flock(t: &mut Task, a: [u64; 6]) -> SysResult {
    let f = t.process.files().file(a[0] as i32)?;
    let owner = file_owner(&f);
    let kind = match a[1] & !LOCK_NB {
        LOCK_SH => Kind::Shared,
        LOCK_EX => Kind::Exclusive,
        LOCK_UN => {
            release(&f, owner, true, 0, u64::MAX);
            return Ok(0);
        }
        _ => return Err(Errno::EINVAL),
    };
    let want = Lock {
        owner,
        kind,
        start: 0,
        end: u64::MAX,
        flock: true,
    };
    // Converting a lock first drops the old one, as Linux does (not atomically).
    release(&f, owner, true, 0, u64::MAX);
    take(t, &f, want, a[1] & LOCK_NB != 0).map_err(|e| {
        if e == Errno::EAGAIN {
            Errno::EWOULDBLOCK
        } else {
            e
        }
    })
}

/// struct flock on x86-64: l_type, l_whence (i16), l_start, l_len (i64), l_pid (i32).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Flock {
    l_type: i16,
    l_whence: i16,
    pad: i32,
    l_start: i64,
    l_len: i64,
    l_pid: i32,
    pad2: i32,
}

// SAFETY: repr(C), integers only, explicit padding.
unsafe impl crate::mm::Pod for Flock {}

/// The byte range a struct flock names, as [start, end).
fn range(f: &OpenFile, fl: &Flock) -> Result<(u64, u64), Errno> {
    let base = match i32::from(fl.l_whence) {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => f.seek(0, libc::SEEK_CUR)? as i64,
        libc::SEEK_END => f.inode.size() as i64,
        _ => return Err(Errno::EINVAL),
    };
    let start = base.checked_add(fl.l_start).ok_or(Errno::EOVERFLOW)?;
    let (start, end) = match fl.l_len {
        0 => (start, i64::MAX),
        n if n > 0 => (start, start.checked_add(n).ok_or(Errno::EOVERFLOW)?),
        n => (start + n, start),
    };
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let end = if end == i64::MAX {
        u64::MAX
    } else {
        end as u64
    };
    Ok((start as u64, end))
}

/// fcntl F_GETLK / F_SETLK / F_SETLKW.
pub fn record_lock(t: &mut Task, f: &Arc<OpenFile>, cmd: i32, arg: u64) -> SysResult {
    let mut fl: Flock = t.process.mm().read_val(GuestPtr(arg))?;
    let (start, end) = range(f, &fl)?;
    let owner = Owner::Process(t.process.pid);
    let kind = match fl.l_type {
        F_RDLCK => Kind::Shared,
        F_WRLCK => Kind::Exclusive,
        F_UNLCK if cmd != libc::F_GETLK => {
            release(f, owner, false, start, end);
            return Ok(0);
        }
        _ => return Err(Errno::EINVAL),
    };
    // Taking a lock needs the matching access; asking about one does not.
    let unfit =
        (kind == Kind::Shared && !f.readable()) || (kind == Kind::Exclusive && !f.writable());
    if unfit && cmd != libc::F_GETLK {
        return Err(Errno::EBADF);
    }
    let want = Lock {
        owner,
        kind,
        start,
        end,
        flock: false,
    };
    if cmd == libc::F_GETLK {
        fl = match f.inode.locks().conflict(&want) {
            None => Flock {
                l_type: F_UNLCK,
                ..fl
            },
            Some(c) => describe(&c),
        };
        t.process.mm().write_val(GuestPtr(arg), &fl)?;
        return Ok(0);
    }
    take(t, f, want, cmd == libc::F_SETLK)
}

fn describe(c: &Lock) -> Flock {
    let pid = match c.owner {
        Owner::Process(p) => p,
        Owner::File(_) => -1,
    };
    let len = if c.end == u64::MAX {
        0
    } else {
        (c.end - c.start) as i64
    };
    let l_type = if c.kind == Kind::Exclusive {
        F_WRLCK
    } else {
        F_RDLCK
    };
    Flock {
        l_type,
        l_whence: libc::SEEK_SET as i16,
        l_start: c.start as i64,
        l_len: len,
        l_pid: pid,
        ..Default::default()
    }
}
