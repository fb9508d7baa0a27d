//! prctl(2): the options programs commonly use. Others are EINVAL, as Linux answers
//! an option it does not know.

use nix::errno::Errno;

use super::SysResult;
use crate::mm::{GuestPtr, UserMem};
use crate::task::Task;

const PR_SET_PDEATHSIG: u64 = 1;
const PR_GET_PDEATHSIG: u64 = 2;
const PR_GET_DUMPABLE: u64 = 3;
const PR_SET_DUMPABLE: u64 = 4;
const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;
const PR_SET_NO_NEW_PRIVS: u64 = 38;
const PR_GET_NO_NEW_PRIVS: u64 = 39;

/// The name a thread may have: TASK_COMM_LEN bytes with the NUL.
const COMM_LEN: usize = 16;

pub fn prctl(t: &mut Task, a: [u64; 6]) -> SysResult {
    match a[0] {
        PR_SET_NAME => set_name(t, a[1]),
        PR_GET_NAME => {
            let mut name = t.thread_name();
            name.resize(COMM_LEN, 0);
            t.process.mm().write_bytes(GuestPtr(a[1]), &name)?;
            Ok(0)
        }
        PR_SET_PDEATHSIG => {
            if a[1] > 64 {
                return Err(Errno::EINVAL);
            }
            t.process.life().pdeathsig = a[1] as i32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            let sig = t.process.life().pdeathsig;
            t.process.mm().write_val(GuestPtr(a[1]), &sig)?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(u64::from(!t.process.life().undumpable)),
        PR_SET_DUMPABLE if a[1] <= 1 => {
            t.process.life().undumpable = a[1] == 0;
            Ok(0)
        }
        PR_SET_NO_NEW_PRIVS if a[1] == 1 && a[2..5].iter().all(|&x| x == 0) => {
            t.process.life().no_new_privs = true;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS if a[1..5].iter().all(|&x| x == 0) => {
            Ok(u64::from(t.process.life().no_new_privs))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// PR_SET_NAME: up to 15 bytes; the main thread's name is the process's too.
fn set_name(t: &mut Task, addr: u64) -> SysResult {
    // (The guard of the first read must be gone before the second.)
    let first = t.process.mm().read_cstr(GuestPtr(addr), COMM_LEN - 1);
    let mut name = match first {
        Ok(n) => n,
        Err(Errno::ENAMETOOLONG) => {
            let mut buf = vec![0u8; COMM_LEN - 1];
            t.process.mm().read_bytes(GuestPtr(addr), &mut buf)?;
            buf
        }
        Err(e) => return Err(e),
    };
    name.truncate(COMM_LEN - 1);
    if t.tid == t.process.pid {
        t.process.exec_info().comm = name.clone();
    }
    *t.me.comm.lock().unwrap_or_else(|e| e.into_inner()) = name;
    Ok(0)
}
