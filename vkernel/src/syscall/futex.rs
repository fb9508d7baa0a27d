//! futex(2): decoding the operation and its timeout; the futexes live in futex.rs.

use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::time::{deadline_after, read_duration, wall_now};
use super::SysResult;
use crate::futex::{self, WaitSpec, BITSET_ANY};
use crate::signal::RestartBlock;
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
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT {
                BITSET_ANY
            } else {
                a[5] as u32
            };
            let clock = if realtime {
                libc::CLOCK_REALTIME
            } else {
                libc::CLOCK_MONOTONIC
            };
            let target = timeout(t, a[3], cmd == FUTEX_WAIT_BITSET, clock)?;
            wait_until(t, addr, val, bitset, target)
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

/// A wait's timeout as (guest clock, deadline on it): absolute on `clock` for
/// FUTEX_WAIT_BITSET; relative for FUTEX_WAIT, and then on CLOCK_MONOTONIC whatever
/// the flags say (a relative timer is not moved by the wall clock). NULL: none.
fn timeout(
    t: &Task,
    addr: u64,
    absolute: bool,
    clock: libc::clockid_t,
) -> Result<Option<(libc::clockid_t, Duration)>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let d = read_duration(t, addr)?;
    Ok(Some(if absolute {
        (clock, d)
    } else {
        let mono = libc::CLOCK_MONOTONIC;
        (mono, wall_now(mono).saturating_add(d))
    }))
}

/// FUTEX_WAIT(_BITSET) until `target`. A timed wait goes on to the same deadline
/// through restart_syscall after a signal without a handler or a thaw (Linux's
/// futex_wait_restart); an untimed one is simply issued again.
pub(super) fn wait_until(
    t: &mut Task,
    addr: u64,
    val: u32,
    bitset: u32,
    target: Option<(libc::clockid_t, Duration)>,
) -> SysResult {
    let deadline = target.map(|(clock, at)| deadline_after(at.saturating_sub(wall_now(clock))));
    let spec = spec(val, bitset, deadline);
    let Some((clock, target)) = target else {
        return futex::wait(t, addr, spec);
    };
    let block = RestartBlock::Futex {
        addr,
        val,
        bitset,
        clock,
        target,
    };
    t.restartable(block, |t| futex::wait(t, addr, spec))
}
