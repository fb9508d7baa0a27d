//! The guest's clocks. CLOCK_REALTIME (and TAI) are the host's: they tell the time of
//! day, which goes on while a checkpoint sits on disk. The monotonic clocks
//! (MONOTONIC with its COARSE form, MONOTONIC_RAW, BOOTTIME) are the host's plus an
//! offset each, zero at boot; a thaw sets the offsets so that every one of them
//! continues from its value at the checkpoint. A guest thus never sees monotonic time
//! jump (a thaw on a host that booted an hour ago would otherwise take it back), and
//! an absolute deadline it set on them (a sleep, a timer, a futex timeout) is as far
//! away after the thaw as it was at the freeze.
//!
//! The offsets are process-wide rather than a kernel field: one host process runs one
//! kernel, and objects far from any `Kernel` (a timerfd) read the clocks too.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The clocks with an offset, by index into [`OFFSETS_NS`].
const SHIFTED: [libc::clockid_t; 3] = [
    libc::CLOCK_MONOTONIC,
    libc::CLOCK_MONOTONIC_RAW,
    libc::CLOCK_BOOTTIME,
];

static OFFSETS_NS: [AtomicI64; 3] = [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)];

/// Which offset a clock takes, if any (COARSE is MONOTONIC read at a tick).
fn offset_index(id: libc::clockid_t) -> Option<usize> {
    let id = match id {
        libc::CLOCK_MONOTONIC_COARSE => libc::CLOCK_MONOTONIC,
        other => other,
    };
    SHIFTED.iter().position(|&c| c == id)
}

/// The host's reading of `id`.
fn host(id: libc::clockid_t) -> Duration {
    let (s, n) = crate::host::clock(id);
    Duration::new(s.max(0) as u64, n.clamp(0, 999_999_999) as u32)
}

fn shift(host: Duration, offset_ns: i64) -> Duration {
    let ns = host.as_nanos() as i128 + i128::from(offset_ns);
    Duration::from_nanos(u64::try_from(ns.max(0)).unwrap_or(u64::MAX))
}

/// The guest's reading of clock `id` (a wall clock id Linux knows).
pub fn now(id: libc::clockid_t) -> Duration {
    match offset_index(id) {
        Some(i) => shift(host(id), OFFSETS_NS[i].load(Ordering::Relaxed)),
        None => host(id),
    }
}

/// The monotonic clocks' readings, as a checkpoint saves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedClocks([Duration; 3]);

pub fn save() -> SavedClocks {
    SavedClocks(SHIFTED.map(now))
}

/// After a thaw: each monotonic clock goes on from its saved reading.
pub fn continue_from(saved: &SavedClocks) {
    for (i, (&id, at)) in SHIFTED.iter().zip(saved.0).enumerate() {
        OFFSETS_NS[i].store(offset_for(at, host(id)), Ordering::Relaxed);
    }
}

/// The offset that makes `host` read as `guest`.
fn offset_for(guest: Duration, host: Duration) -> i64 {
    let d = guest.as_nanos() as i128 - host.as_nanos() as i128;
    d.clamp(i64::MIN.into(), i64::MAX.into()) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_carries_a_reading_to_another_host_time() {
        let s = Duration::from_secs;
        // Checkpointed at 1000 s, thawed on a host that booted 10 s ago, or long ago.
        for host_now in [s(10), s(50_000)] {
            let off = offset_for(s(1000), host_now);
            assert_eq!(shift(host_now, off), s(1000));
            assert_eq!(shift(host_now + s(3), off), s(1003));
        }
    }

    #[test]
    fn coarse_follows_monotonic_and_realtime_has_no_offset() {
        assert_eq!(offset_index(libc::CLOCK_MONOTONIC_COARSE), Some(0));
        assert_eq!(offset_index(libc::CLOCK_BOOTTIME), Some(2));
        assert_eq!(offset_index(libc::CLOCK_REALTIME), None);
        assert_eq!(offset_index(libc::CLOCK_TAI), None);
    }
}
