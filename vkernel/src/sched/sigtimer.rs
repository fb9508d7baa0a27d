//! A process's signal timers as data: the three interval timers (ITIMER_REAL,
//! ITIMER_VIRTUAL, ITIMER_PROF) and timer_create's POSIX timers, with their saved
//! forms. Arming and firing them is `syscall::itimer`'s business.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cpuclock::{CpuClock, Which as CpuWhich};
use super::timer::TimerId;
use crate::signal::SigInfo;

pub const SIGALRM: i32 = 14;
pub const SIGVTALRM: i32 = 26;
pub const SIGPROF: i32 = 27;

/// The clock a timer counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerClock {
    /// Wall-clock time: REALTIME, MONOTONIC, BOOTTIME, TAI (the guest's clock id, for
    /// TIMER_ABSTIME); expiry is a kernel timer at an Instant.
    Wall(i32),
    /// CPU time: expiry is a reading of the clock, found by sampling it.
    Cpu(CpuClock),
}

/// When an armed timer expires next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Wall(Instant),
    /// The clock's reading at expiry.
    Cpu(Duration),
}

/// One signal timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigTimer {
    pub clock: TimerClock,
    /// What it raises; None for SIGEV_NONE (the timer only counts down).
    pub signal: Option<SigInfo>,
    /// None while disarmed.
    pub next: Option<Expiry>,
    pub interval: Duration,
    /// The kernel timer behind a wall-clock expiry.
    pub kernel_timer: Option<TimerId>,
    /// Bumped at every (re)arming, so a kernel timer callback that raced with a
    /// timer_settime knows it is stale.
    pub generation: u64,
    /// timer_getoverrun: the overrun count of the last signal delivered.
    pub overrun: i32,
}

impl SigTimer {
    pub fn new(clock: TimerClock, signal: Option<SigInfo>) -> SigTimer {
        SigTimer {
            clock,
            signal,
            next: None,
            interval: Duration::ZERO,
            kernel_timer: None,
            generation: 0,
            overrun: 0,
        }
    }
}

/// Which of a process's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Real,
    Virtual,
    Prof,
    Posix(i32),
}

/// All signal timers of one process.
#[derive(Debug)]
pub struct SigTimers {
    pub real: SigTimer,
    pub virt: SigTimer,
    pub prof: SigTimer,
    pub posix: BTreeMap<i32, SigTimer>,
    pub next_id: i32,
    /// The pending look at the CPU clocks while any CPU timer with a signal is armed.
    pub cpu_poll: Option<TimerId>,
    /// Bumped whenever the poll restarts, so an older one that is running stops.
    pub poll_generation: u64,
}

fn itimer(pid: i32, cpu: Option<CpuWhich>, signo: i32) -> SigTimer {
    let clock = match cpu {
        None => TimerClock::Wall(libc::CLOCK_MONOTONIC),
        Some(w) => TimerClock::Cpu(CpuClock::process(pid, w)),
    };
    SigTimer::new(clock, Some(SigInfo::kernel(signo)))
}

impl SigTimers {
    pub fn new(pid: i32) -> SigTimers {
        SigTimers {
            real: itimer(pid, None, SIGALRM),
            virt: itimer(pid, Some(CpuWhich::Virt), SIGVTALRM),
            prof: itimer(pid, Some(CpuWhich::Prof), SIGPROF),
            posix: BTreeMap::new(),
            next_id: 0,
            cpu_poll: None,
            poll_generation: 0,
        }
    }

    pub fn get_mut(&mut self, w: Which) -> Option<&mut SigTimer> {
        match w {
            Which::Real => Some(&mut self.real),
            Which::Virtual => Some(&mut self.virt),
            Which::Prof => Some(&mut self.prof),
            Which::Posix(id) => self.posix.get_mut(&id),
        }
    }

    /// Every timer with its name.
    pub fn all(&self) -> impl Iterator<Item = (Which, &SigTimer)> {
        [
            (Which::Real, &self.real),
            (Which::Virtual, &self.virt),
            (Which::Prof, &self.prof),
        ]
        .into_iter()
        .chain(self.posix.iter().map(|(id, t)| (Which::Posix(*id), t)))
    }

    /// The CPU timers that raise a signal and are armed: (which, clock, expiry).
    pub fn armed_cpu(&self) -> Vec<(Which, CpuClock, Duration)> {
        self.all()
            .filter(|(_, t)| t.signal.is_some())
            .filter_map(|(w, t)| match (t.clock, t.next) {
                (TimerClock::Cpu(c), Some(Expiry::Cpu(at))) => Some((w, c, at)),
                _ => None,
            })
            .collect()
    }

    /// A timer's signal left the pending queue: its overrun count is the one
    /// timer_getoverrun reports from now on.
    pub fn delivered(&mut self, id: i32, overrun: i32) {
        if let Some(t) = self.posix.get_mut(&id) {
            t.overrun = overrun;
        }
    }
}

/// A timer as a checkpoint saves it: the time left on its clock, not the host's
/// instant or CPU reading, so it resumes with what remained (`syscall::itimer`
/// re-arms it after the thaw).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSigTimer {
    pub clock: TimerClock,
    pub signal: Option<SigInfo>,
    /// `None` when the timer is disarmed.
    pub remaining: Option<Duration>,
    pub interval: Duration,
    pub overrun: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSigTimers {
    pub real: SavedSigTimer,
    pub virt: SavedSigTimer,
    pub prof: SavedSigTimer,
    pub posix: Vec<(i32, SavedSigTimer)>,
    pub next_id: i32,
}

/// What "now" is on each clock at the freeze (or the thaw): the instant, the same
/// for every timer, and a reading of any CPU clock.
pub struct Now<'a> {
    pub wall: Instant,
    pub cpu: &'a dyn Fn(&CpuClock) -> Duration,
}

impl SigTimer {
    /// The time left until the next expiry, at `now`.
    pub fn remaining(&self, now: &Now) -> Option<Duration> {
        Some(match self.next? {
            Expiry::Wall(at) => at.saturating_duration_since(now.wall),
            Expiry::Cpu(at) => match self.clock {
                TimerClock::Cpu(c) => at.saturating_sub((now.cpu)(&c)),
                TimerClock::Wall(_) => Duration::ZERO,
            },
        })
    }

    fn save(&self, now: &Now) -> SavedSigTimer {
        SavedSigTimer {
            clock: self.clock,
            signal: self.signal,
            remaining: self.remaining(now),
            interval: self.interval,
            overrun: self.overrun,
        }
    }

    fn restore(s: &SavedSigTimer, now: &Now) -> SigTimer {
        let next = s.remaining.map(|left| match s.clock {
            TimerClock::Wall(_) => Expiry::Wall(now.wall + left),
            TimerClock::Cpu(c) => Expiry::Cpu((now.cpu)(&c) + left),
        });
        SigTimer {
            next,
            interval: s.interval,
            overrun: s.overrun,
            ..SigTimer::new(s.clock, s.signal)
        }
    }
}

impl SigTimers {
    pub fn save(&self, now: &Now) -> SavedSigTimers {
        SavedSigTimers {
            real: self.real.save(now),
            virt: self.virt.save(now),
            prof: self.prof.save(now),
            posix: self
                .posix
                .iter()
                .map(|(id, t)| (*id, t.save(now)))
                .collect(),
            next_id: self.next_id,
        }
    }

    /// The timers with their expiries set from `now`; no kernel timer is armed yet
    /// (`syscall::itimer::resume` does that).
    pub fn restore(saved: &SavedSigTimers, now: &Now) -> SigTimers {
        SigTimers {
            real: SigTimer::restore(&saved.real, now),
            virt: SigTimer::restore(&saved.virt, now),
            prof: SigTimer::restore(&saved.prof, now),
            posix: saved
                .posix
                .iter()
                .map(|(id, t)| (*id, SigTimer::restore(t, now)))
                .collect(),
            next_id: saved.next_id,
            cpu_poll: None,
            poll_generation: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &SavedSigTimers) -> SavedSigTimers {
        let back: SavedSigTimers = ckpt::decode(&ckpt::encode(s).unwrap()).unwrap();
        assert_eq!(&back, s);
        back
    }

    #[test]
    fn timers_round_trip_with_their_remaining_time() {
        let ms = Duration::from_millis;
        let freeze = Instant::now();
        let cpu_at_freeze = |_: &CpuClock| ms(700);
        let mut t = SigTimers::new(5);
        t.real.next = Some(Expiry::Wall(freeze + ms(1500)));
        t.real.interval = Duration::from_secs(1);
        t.virt.next = Some(Expiry::Cpu(ms(750)));
        t.virt.interval = ms(10);
        let mut cpu = SigTimer::new(
            TimerClock::Cpu(CpuClock::process(5, CpuWhich::Sched)),
            Some(SigInfo {
                signo: 39,
                code: -2,
                pid: 3,
                value: 4242,
                ..Default::default()
            }),
        );
        cpu.next = Some(Expiry::Cpu(ms(720)));
        cpu.overrun = 6;
        t.posix.insert(3, cpu);
        t.posix.insert(
            4,
            SigTimer::new(TimerClock::Wall(libc::CLOCK_REALTIME), None),
        );
        t.next_id = 5;

        let saved = round_trip(&t.save(&Now {
            wall: freeze,
            cpu: &cpu_at_freeze,
        }));
        assert_eq!(saved.real.remaining, Some(ms(1500)));
        assert_eq!(saved.virt.remaining, Some(ms(50)));
        assert_eq!(saved.prof.remaining, None);
        assert_eq!(saved.posix[0].1.remaining, Some(ms(20)));
        assert_eq!(saved.posix[1].1.remaining, None);

        // Thawed later, on a host where the new stub's clocks start near zero.
        let thaw = freeze + Duration::from_secs(100);
        let cpu_at_thaw = |_: &CpuClock| ms(3);
        let r = SigTimers::restore(
            &saved,
            &Now {
                wall: thaw,
                cpu: &cpu_at_thaw,
            },
        );
        assert_eq!(r.real.next, Some(Expiry::Wall(thaw + ms(1500))));
        assert_eq!(r.real.interval, Duration::from_secs(1));
        assert_eq!(r.virt.next, Some(Expiry::Cpu(ms(53))));
        assert_eq!(r.prof.next, None);
        assert_eq!(r.posix[&3].next, Some(Expiry::Cpu(ms(23))));
        assert_eq!(r.posix[&3].overrun, 6);
        assert_eq!(r.posix[&3].signal, t.posix[&3].signal);
        assert_eq!(r.posix[&4].clock, TimerClock::Wall(libc::CLOCK_REALTIME));
        assert_eq!(r.next_id, 5);
        assert_eq!(r.armed_cpu().len(), 2);
    }
}
