//! CPU-time clocks: Linux's clock ids for them (the CPUCLOCK_* encoding of
//! clock_getcpuclockid and pthread_getcpuclockid), and their readings.
//!
//! A guest's CPU time is what the host charges its stubs: the SCHED clock
//! (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID) is their runtime in
//! nanoseconds, and PROF (user + system, ITIMER_PROF) is the same runtime. VIRT
//! (user, ITIMER_VIRTUAL) is the user share of it: guest code, as opposed to the
//! host's traps and page faults on the stub's behalf. The kernel's own work emulating
//! a system call runs on the task thread and is not charged, so "system" here is
//! smaller than on Linux.

use std::time::Duration;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::process::Process;

/// CPUCLOCK_WHICH: what a CPU clock counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Which {
    /// CPUCLOCK_PROF: user + system time (ITIMER_PROF).
    Prof,
    /// CPUCLOCK_VIRT: user time (ITIMER_VIRTUAL).
    Virt,
    /// CPUCLOCK_SCHED: runtime in nanoseconds (the *_CPUTIME_ID clocks).
    Sched,
}

impl Which {
    fn bits(self) -> i32 {
        match self {
            Which::Prof => 0,
            Which::Virt => 1,
            Which::Sched => 2,
        }
    }
}

/// One CPU clock, resolved to guest ids: a process's or one of its threads'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuClock {
    pub pid: i32,
    pub tid: Option<i32>,
    pub which: Which,
}

/// CPU time charged before the current stub: a thaw starts every thread on a fresh
/// stub, whose host clocks start from zero, so the time a process or thread had at
/// the checkpoint is carried here and added to each reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuBase {
    pub runtime: Duration,
    pub user: Duration,
}

impl CpuBase {
    pub fn on(&self, which: Which) -> Duration {
        match which {
            Which::Virt => self.user,
            Which::Prof | Which::Sched => self.runtime,
        }
    }

    /// In clock ticks (times(), /proc/<pid>/stat).
    pub fn ticks(&self) -> crate::process::CpuTimes {
        let ticks = |d: Duration| (d.as_millis() / 10) as u64;
        crate::process::CpuTimes {
            user: ticks(self.user),
            system: ticks(self.runtime.saturating_sub(self.user)),
        }
    }

    /// What `clock` (a process's or a thread's, of any kind) reads now, for a
    /// checkpoint.
    pub fn now(clock: CpuClock, p: &Process) -> CpuBase {
        let on = |which| CpuClock { which, ..clock }.read(p).unwrap_or_default();
        CpuBase {
            runtime: on(Which::Sched),
            user: on(Which::Virt),
        }
    }
}

/// Bit 2 of a CPU clock id: a thread's clock (CPUCLOCK_PERTHREAD_MASK).
const PERTHREAD: i32 = 4;

impl CpuClock {
    pub fn process(pid: i32, which: Which) -> CpuClock {
        CpuClock {
            pid,
            tid: None,
            which,
        }
    }

    /// A thread's runtime clock.
    pub fn thread(pid: i32, tid: i32) -> CpuClock {
        CpuClock {
            pid,
            tid: Some(tid),
            which: Which::Sched,
        }
    }

    /// Decodes a guest clock id as Linux's clockid_to_kclock and lookup_task do, for
    /// a caller with process `pid` and thread `tid`. None: not a CPU clock. A CPU
    /// clock of a process that does not exist, or of a thread outside the caller's
    /// process, is EINVAL (glibc turns that into ESRCH for clock_getcpuclockid).
    pub fn decode(
        id: i32,
        pid: i32,
        tid: i32,
        exists: impl Fn(i32) -> bool,
        my_thread: impl Fn(i32) -> bool,
    ) -> Option<Result<CpuClock, Errno>> {
        match id {
            libc::CLOCK_PROCESS_CPUTIME_ID => return Some(Ok(Self::process(pid, Which::Sched))),
            libc::CLOCK_THREAD_CPUTIME_ID => return Some(Ok(Self::thread(pid, tid))),
            0.. => return None,
            _ => {}
        }
        let which = match id & 3 {
            0 => Which::Prof,
            1 => Which::Virt,
            2 => Which::Sched,
            // 3 is CLOCKFD (a posix clock device) or an invalid CPU clock.
            _ => return Some(Err(Errno::EINVAL)),
        };
        let target = !(id >> 3);
        let clock = if id & PERTHREAD != 0 {
            let t = if target == 0 { tid } else { target };
            my_thread(t).then_some(CpuClock {
                pid,
                tid: Some(t),
                which,
            })
        } else {
            let p = if target == 0 { pid } else { target };
            exists(p).then_some(Self::process(p, which))
        };
        Some(clock.ok_or(Errno::EINVAL))
    }

    /// The clock's reading for process `p` (the clock's own process), None once it
    /// has no stub to ask.
    pub fn read(&self, p: &Process) -> Option<Duration> {
        match self.tid {
            None => process_time(p, self.which),
            Some(tid) => {
                let th = p.threads().into_iter().find(|t| t.tid == tid)?;
                let stub = th.stub_pid.load(std::sync::atomic::Ordering::SeqCst);
                let stub_tid = th.stub_tid.load(std::sync::atomic::Ordering::SeqCst);
                let base = th.cpu_base().on(self.which);
                thread_time(stub, stub_tid, self.which).map(|t| t + base)
            }
        }
    }

    /// The host's resolution of this kind of clock: 1 ns for the runtime, a tick for
    /// user and system time.
    pub fn resolution(&self) -> libc::timespec {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // The caller's own clock of the same kind (pid 0 = self) has the same resolution.
        let own = (!0 << 3) | self.which.bits();
        // SAFETY: a valid clock id and timespec.
        unsafe { libc::clock_getres(own, &mut ts) };
        ts
    }
}

/// Linux's cputime_adjust: the host samples user and system time at ticks, which
/// can charge a whole tick to a stub that ran for part of it; the precise runtime is
/// split in the ratio of those samples, so user + system is the runtime, as in
/// times() and /proc/<pid>/stat.
fn share(runtime: Duration, user: u128, system: u128, which: Which) -> Duration {
    if which != Which::Virt || system == 0 {
        return runtime;
    }
    let ns = runtime.as_nanos() * user / (user + system);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// The process's time on `which`: its live stubs', or the final figure once it ended.
fn process_time(p: &Process, which: Which) -> Option<Duration> {
    if p.life().exit.is_some() {
        let cpu = p.life().cpu;
        let runtime = Duration::from_millis((cpu.user + cpu.system) * 10);
        return Some(share(runtime, cpu.user.into(), cpu.system.into(), which));
    }
    let mut stubs: Vec<i32> = p
        .threads()
        .iter()
        .map(|t| t.stub_pid.load(std::sync::atomic::Ordering::SeqCst))
        .filter(|&s| s > 0)
        .collect();
    stubs.sort_unstable();
    stubs.dedup();
    let base = p.cpu_base().on(which);
    stubs
        .into_iter()
        .map(|s| stub_time(s, which))
        .sum::<Option<Duration>>()
        .map(|t| t + base)
}

/// One stub process's time, from the host's CPU clocks of it.
fn stub_time(stub: i32, which: Which) -> Option<Duration> {
    let clock = |w: Which| host_clock((!stub << 3) | w.bits());
    let runtime = clock(Which::Sched)?;
    if which != Which::Virt {
        return Some(runtime);
    }
    let (user, all) = (clock(Which::Virt)?, clock(Which::Prof)?);
    let system = all.saturating_sub(user);
    Some(share(runtime, user.as_nanos(), system.as_nanos(), which))
}

fn host_clock(id: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec; a bad clock id is an error return.
    let r = unsafe { libc::clock_gettime(id, &mut ts) };
    (r == 0).then(|| Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec as u32))
}

/// One stub thread's time. The host lets no other process read a thread's clock,
/// so it comes from /proc: the runtime from schedstat, the user/system ratio from
/// stat's utime and stime.
fn thread_time(stub: i32, tid: i32, which: Which) -> Option<Duration> {
    let dir = format!("/proc/{stub}/task/{tid}");
    let sched = std::fs::read_to_string(format!("{dir}/schedstat")).ok()?;
    let runtime = Duration::from_nanos(sched.split_whitespace().next()?.parse().ok()?);
    if which != Which::Virt {
        return Some(runtime);
    }
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    // Fields after the ")" of the name: utime is field 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<u128> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    Some(share(runtime, *f.get(11)?, *f.get(12)?, which))
}

/// How long to wait before looking at a CPU clock that is `left` short of a target:
/// a process cannot gain CPU time faster than one second per second per thread, so
/// nothing is missed, and the wait shrinks as the target comes near. Capped so that
/// threads added meanwhile are noticed.
pub fn poll_delay(left: Duration, threads: usize) -> Duration {
    let per = u32::try_from(threads.max(1)).unwrap_or(u32::MAX);
    (left / per).clamp(Duration::from_millis(1), Duration::from_millis(250))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(id: i32) -> Option<Result<CpuClock, Errno>> {
        CpuClock::decode(id, 5, 5, |p| p == 5 || p == 9, |t| t == 5)
    }

    /// Linux's MAKE_PROCESS_CPUCLOCK / MAKE_THREAD_CPUCLOCK.
    fn make(pid: i32, which: i32, thread: bool) -> i32 {
        (!pid << 3) | which | if thread { PERTHREAD } else { 0 }
    }

    #[test]
    fn clock_ids_decode_as_linux_encodes_them() {
        assert_eq!(decode(libc::CLOCK_MONOTONIC), None);
        let sched = |pid, tid| {
            Some(Ok(CpuClock {
                pid,
                tid,
                which: Which::Sched,
            }))
        };
        assert_eq!(decode(libc::CLOCK_PROCESS_CPUTIME_ID), sched(5, None));
        assert_eq!(decode(libc::CLOCK_THREAD_CPUTIME_ID), sched(5, Some(5)));
        // clock_getcpuclockid(9) and pthread_getcpuclockid of our own thread.
        assert_eq!(decode(make(9, 2, false)), sched(9, None));
        assert_eq!(decode(make(0, 2, true)), sched(5, Some(5)));
        assert_eq!(
            decode(make(0, 1, false)),
            Some(Ok(CpuClock::process(5, Which::Virt)))
        );
        assert_eq!(decode(make(7, 2, false)), Some(Err(Errno::EINVAL)));
        assert_eq!(decode(make(9, 2, true)), Some(Err(Errno::EINVAL)));
        assert_eq!(decode(make(0, 3, false)), Some(Err(Errno::EINVAL)));
    }

    #[test]
    fn user_time_is_its_share_of_the_runtime() {
        let ms = Duration::from_millis;
        assert_eq!(share(ms(100), 3, 1, Which::Virt), ms(75));
        assert_eq!(share(ms(100), 3, 1, Which::Prof), ms(100));
        assert_eq!(share(ms(100), 0, 0, Which::Virt), ms(100));
        assert_eq!(share(ms(100), 0, 4, Which::Virt), ms(0));
    }

    #[test]
    fn polls_come_sooner_as_the_target_nears() {
        let ms = Duration::from_millis;
        assert_eq!(poll_delay(ms(40), 1), ms(40));
        assert_eq!(poll_delay(ms(40), 4), ms(10));
        assert_eq!(poll_delay(Duration::from_micros(10), 1), ms(1));
        assert_eq!(poll_delay(Duration::from_secs(60), 1), ms(250));
    }
}
