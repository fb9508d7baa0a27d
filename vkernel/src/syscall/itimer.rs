//! alarm, setitimer and getitimer (ITIMER_REAL: SIGALRM on the kernel's timer thread).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::SysResult;
use crate::kernel::Kernel;
use crate::mm::{GuestPtr, UserMem};
use crate::process::Process;
use crate::signal::{deliver, SigInfo};
use crate::task::Task;

const ITIMER_REAL: u64 = 0;
const SIGALRM: i32 = 14;

fn arm(k: &Arc<Kernel>, p: &Arc<Process>, at: Instant) {
    let (k2, weak) = (k.clone(), Arc::downgrade(p));
    let id = k.timers.arm(at, move || fire(&k2, &weak, at));
    let mut rt = p.real_timer();
    rt.id = Some(id);
    rt.deadline = Some(at);
}

/// The timer expired: SIGALRM, and the next period if there is one.
fn fire(k: &Arc<Kernel>, weak: &Weak<Process>, at: Instant) {
    let Some(p) = weak.upgrade() else { return };
    let interval = {
        let mut rt = p.real_timer();
        rt.id = None;
        rt.deadline = None;
        rt.interval
    };
    deliver::send_to_process(k, &p, SigInfo::kernel(SIGALRM));
    if !interval.is_zero() {
        arm(k, &p, at + interval);
    }
}

/// Replaces the real timer; returns (time left, interval) of the old one.
fn set_real(t: &Task, value: Duration, interval: Duration) -> (Duration, Duration) {
    let old = {
        let mut rt = t.process.real_timer();
        if let Some(id) = rt.id.take() {
            t.kernel.timers.cancel(id);
        }
        let left = rt.deadline.take().map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        });
        let old = (left, rt.interval);
        rt.interval = interval;
        old
    };
    if !value.is_zero() {
        arm(&t.kernel, &t.process, Instant::now() + value);
    }
    old
}

fn tv(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs() as i64,
        tv_usec: d.subsec_micros() as i64,
    }
}

fn dur(v: libc::timeval) -> Result<Duration, Errno> {
    if v.tv_sec < 0 || !(0..1_000_000).contains(&v.tv_usec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(v.tv_sec as u64, v.tv_usec as u32 * 1000))
}

pub fn alarm(t: &mut Task, a: [u64; 6]) -> SysResult {
    let (left, _) = set_real(t, Duration::from_secs(a[0] as u32 as u64), Duration::ZERO);
    // Linux rounds a partial second up, and never reports 0 for a pending alarm.
    let secs = left.as_secs() + u64::from(left.subsec_nanos() >= 500_000_000);
    Ok(if secs == 0 && !left.is_zero() {
        1
    } else {
        secs
    })
}

pub fn setitimer(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[0] != ITIMER_REAL {
        // ITIMER_VIRTUAL and ITIMER_PROF need CPU-time accounting; not yet.
        return Err(Errno::EINVAL);
    }
    let (interval, value) = if a[1] == 0 {
        (Duration::ZERO, Duration::ZERO)
    } else {
        let mut mm = t.process.mm();
        (
            dur(mm.read_val(GuestPtr(a[1]))?)?,
            dur(mm.read_val(GuestPtr(a[1] + 16))?)?,
        )
    };
    let (left, old_interval) = set_real(t, value, interval);
    if a[2] != 0 {
        let mut mm = t.process.mm();
        mm.write_val(GuestPtr(a[2]), &tv(old_interval))?;
        mm.write_val(GuestPtr(a[2] + 16), &tv(left))?;
    }
    Ok(0)
}

pub fn getitimer(t: &mut Task, a: [u64; 6]) -> SysResult {
    if a[0] != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let (left, interval) = {
        let rt = t.process.real_timer();
        (
            rt.deadline.map_or(Duration::ZERO, |d| {
                d.saturating_duration_since(Instant::now())
            }),
            rt.interval,
        )
    };
    let mut mm = t.process.mm();
    mm.write_val(GuestPtr(a[1]), &tv(interval))?;
    mm.write_val(GuestPtr(a[1] + 16), &tv(left))?;
    Ok(0)
}
