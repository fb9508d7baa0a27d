//! futex(2): decoding the operation and its timeout; the futexes live in futex.rs.

use std::time::Instant;

use nix::errno::Errno;

use super::time::{deadline_after, read_duration, wall_now};
use super::SysResult;
use crate::futex::{self, WaitSpec, BITSET_ANY};
use crate::task::Task;

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

/// futex(uaddr, op, val, timeout_or_val2, uaddr2, val3)
pub fn futex(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (addr, op, val) = (a[0], a[1] as u32, a[2] as u32);
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    if realtime && !matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET) {
        return Err(Errno::ENOSYS);
    }
    // The fourth argument is a timeout for waits and a count for requeues.
    let val2 = a[3] as u32;
    match cmd {
        FUTEX_WAIT => {
            let deadline = timeout(t, a[3], false, realtime)?;
            futex::wait(t, addr, spec(val, BITSET_ANY, deadline))
        }
        FUTEX_WAIT_BITSET => {
            let deadline = timeout(t, a[3], true, realtime)?;
            futex::wait(t, addr, spec(val, a[5] as u32, deadline))
        }
        FUTEX_WAKE => futex::wake(t, addr, val, BITSET_ANY),
        FUTEX_WAKE_BITSET => futex::wake(t, addr, val, a[5] as u32),
        FUTEX_REQUEUE => futex::requeue(t, (addr, a[4]), (val, val2), None),
        FUTEX_CMP_REQUEUE => futex::requeue(t, (addr, a[4]), (val, val2), Some(a[5] as u32)),
        FUTEX_WAKE_OP => futex::wake_op(t, (addr, a[4]), (val, val2), a[5] as u32),
        // Priority-inheritance futexes (LOCK_PI, ...) and FUTEX_WAIT_REQUEUE_PI are
        // not implemented (docs/SYSCALLS.md).
        _ => Err(Errno::ENOSYS),
    }
}

fn spec(val: u32, bitset: u32, deadline: Option<Instant>) -> WaitSpec {
    WaitSpec {
        val,
        bitset,
        deadline,
    }
}

/// A wait's timeout: relative for FUTEX_WAIT, absolute for FUTEX_WAIT_BITSET, on
/// CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME (NULL: no timeout).
fn timeout(t: &Task, addr: u64, absolute: bool, realtime: bool) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let d = read_duration(t, addr)?;
    let clk = if realtime {
        libc::CLOCK_REALTIME
    } else {
        libc::CLOCK_MONOTONIC
    };
    let left = if absolute {
        d.saturating_sub(wall_now(clk))
    } else {
        d
    };
    Ok(Some(deadline_after(left)))
}
