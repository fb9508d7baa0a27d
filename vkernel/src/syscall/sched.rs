//! Scheduling: yield, affinity, policies and priorities, getcpu, membarrier.
//!
//! Guest threads are host threads of the stubs, placed by the host scheduler (each
//! beside its tracer). The policy and affinity calls keep what the guest set and
//! report it back, as Linux would; they do not move host threads. Real-time policies
//! are refused as for an unprivileged process.

use std::sync::Arc;

use nix::errno::Errno;

use super::SysResult;
use crate::mm::{GuestPtr, UserMem};
use crate::process::Thread;
use crate::task::Task;

const SCHED_OTHER: u64 = 0;
const SCHED_FIFO: u64 = 1;
const SCHED_RR: u64 = 2;
const SCHED_BATCH: u64 = 3;
const SCHED_IDLE: u64 = 5;

/// The thread a scheduling call names: 0 is the caller, else any thread's tid.
fn target(t: &Task, id: u64) -> Result<Arc<Thread>, Errno> {
    match id as i32 {
        0 => Ok(t.me.clone()),
        tid if tid > 0 => t
            .kernel
            .all_processes()
            .iter()
            .find_map(|p| p.thread(tid))
            .ok_or(Errno::ESRCH),
        _ => Err(Errno::EINVAL),
    }
}

/// The host's CPUs, as a cpu_set_t's bytes.
fn online_cpus() -> Vec<u8> {
    // SAFETY: an all-zero cpu_set_t is valid; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: querying our own affinity into a valid set.
    unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    // SAFETY: cpu_set_t is plain bytes.
    unsafe {
        std::slice::from_raw_parts(
            (&set as *const libc::cpu_set_t).cast::<u8>(),
            std::mem::size_of::<libc::cpu_set_t>(),
        )
    }
    .to_vec()
}

pub fn sched_getaffinity(t: &mut Task, a: [u64; 6]) -> SysResult {
    let th = target(t, a[0])?;
    let len = a[1] as usize;
    if len < 8 || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let mut mask = online_cpus();
    let set = th
        .affinity
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if !set.is_empty() {
        for (i, m) in mask.iter_mut().enumerate() {
            *m &= set.get(i).copied().unwrap_or(0);
        }
    }
    let n = len.min(mask.len());
    t.process.mm().write_bytes(GuestPtr(a[2]), &mask[..n])?;
    Ok(n as u64)
}

pub fn sched_setaffinity(t: &mut Task, a: [u64; 6]) -> SysResult {
    let th = target(t, a[0])?;
    let len = (a[1] as usize).min(std::mem::size_of::<libc::cpu_set_t>());
    let mut want = vec![0u8; len];
    t.process.mm().read_bytes(GuestPtr(a[2]), &mut want)?;
    let online = online_cpus();
    if !want.iter().zip(&online).any(|(w, o)| w & o != 0) {
        return Err(Errno::EINVAL);
    }
    *th.affinity.lock().unwrap_or_else(|e| e.into_inner()) = want;
    Ok(0)
}

pub fn sched_getscheduler(t: &mut Task, a: [u64; 6]) -> SysResult {
    target(t, a[0])?;
    Ok(SCHED_OTHER)
}

/// sched_setscheduler(pid, policy, param): the normal policies are accepted (priority
/// 0); real-time ones are EPERM, as for a process without CAP_SYS_NICE.
pub fn sched_setscheduler(t: &mut Task, a: [u64; 6]) -> SysResult {
    target(t, a[0])?;
    let prio: i32 = t.process.mm().read_val(GuestPtr(a[2]))?;
    // SCHED_RESET_ON_FORK may be or'ed in.
    match a[1] & !0x4000_0000 {
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE if prio == 0 => Ok(0),
        SCHED_FIFO | SCHED_RR if (1..=99).contains(&prio) => Err(Errno::EPERM),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sched_getparam(t: &mut Task, a: [u64; 6]) -> SysResult {
    target(t, a[0])?;
    t.process.mm().write_val(GuestPtr(a[1]), &0i32)?;
    Ok(0)
}

pub fn sched_setparam(t: &mut Task, a: [u64; 6]) -> SysResult {
    target(t, a[0])?;
    let prio: i32 = t.process.mm().read_val(GuestPtr(a[1]))?;
    if prio == 0 {
        Ok(0)
    } else {
        Err(Errno::EINVAL)
    }
}

pub fn sched_get_priority_max(_t: &mut Task, a: [u64; 6]) -> SysResult {
    match a[0] {
        SCHED_FIFO | SCHED_RR => Ok(99),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sched_get_priority_min(_t: &mut Task, a: [u64; 6]) -> SysResult {
    match a[0] {
        SCHED_FIFO | SCHED_RR => Ok(1),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// The round-robin quantum: Linux's default RR timeslice, 100 ms.
pub fn sched_rr_get_interval(t: &mut Task, a: [u64; 6]) -> SysResult {
    target(t, a[0])?;
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    t.process.mm().write_val(GuestPtr(a[1]), &ts)?;
    Ok(0)
}

/// getcpu: the CPU the guest thread runs on, which is its tracer's (they are paired
/// on one CPU); one NUMA node.
pub fn getcpu(t: &mut Task, a: [u64; 6]) -> SysResult {
    // SAFETY: sched_getcpu has no arguments.
    let cpu = unsafe { libc::sched_getcpu() }.max(0) as u32;
    if a[0] != 0 {
        t.process.mm().write_val(GuestPtr(a[0]), &cpu)?;
    }
    if a[1] != 0 {
        t.process.mm().write_val(GuestPtr(a[1]), &0u32)?;
    }
    Ok(0)
}

const MEMBARRIER_CMD_QUERY: u64 = 0;
const MEMBARRIER_CMD_GLOBAL: u64 = 1;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: u64 = 8;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: u64 = 16;

/// membarrier: QUERY, GLOBAL and PRIVATE_EXPEDITED (after registering). Guest threads
/// are host threads of other processes (the stubs), so both barriers are the host's
/// global one, which orders every host thread: stronger than asked, and slower.
pub fn membarrier(t: &mut Task, a: [u64; 6]) -> SysResult {
    const SUPPORTED: u64 = MEMBARRIER_CMD_GLOBAL
        | MEMBARRIER_CMD_PRIVATE_EXPEDITED
        | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
    if a[1] != 0 {
        return Err(Errno::EINVAL);
    }
    match a[0] {
        MEMBARRIER_CMD_QUERY => Ok(SUPPORTED),
        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED => {
            t.process.life().membarrier_registered = true;
            Ok(0)
        }
        MEMBARRIER_CMD_PRIVATE_EXPEDITED if !t.process.life().membarrier_registered => {
            Err(Errno::EPERM)
        }
        MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_PRIVATE_EXPEDITED => host_barrier(),
        _ => Err(Errno::EINVAL),
    }
}

fn host_barrier() -> SysResult {
    // SAFETY: membarrier takes plain integers.
    let r = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(0)
}
