//! File locks: flock(2) locks, owned by open file descriptions, and POSIX record
//! locks (fcntl F_SETLK), owned by processes and covering byte ranges.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::inode::Inode;

/// Who holds a lock: an open file description (flock) or a process (POSIX).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Owner {
    /// The description's address while the kernel runs; in a [`SavedFileLocks`], the
    /// checkpoint's index of the description instead.
    File(usize),
    Process(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Shared,
    Exclusive,
}

/// One held lock; flock locks cover the whole file (`start 0, end u64::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub owner: Owner,
    pub kind: Kind,
    pub start: u64,
    /// Exclusive end; u64::MAX means "to end of file, whatever its length".
    pub end: u64,
    pub flock: bool,
}

impl Lock {
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start < end && start < self.end
    }

    fn conflicts(&self, other: &Lock) -> bool {
        self.owner != other.owner
            && self.flock == other.flock
            && (self.kind == Kind::Exclusive || other.kind == Kind::Exclusive)
            && self.overlaps(other.start, other.end)
    }
}

/// The locks on one inode.
#[derive(Debug, Default)]
pub struct FileLocks {
    held: Vec<Lock>,
}

impl FileLocks {
    /// The first lock that stops `want` from being taken.
    pub fn conflict(&self, want: &Lock) -> Option<Lock> {
        self.held.iter().find(|h| h.conflicts(want)).copied()
    }

    /// Takes `want` if nothing conflicts (else returns the lock in the way),
    /// replacing the owner's own locks in that range (a POSIX lock converts or
    /// splits them).
    pub fn acquire(&mut self, want: Lock) -> Result<(), Lock> {
        if let Some(blocker) = self.conflict(&want) {
            return Err(blocker);
        }
        self.release(want.owner, want.flock, want.start, want.end);
        self.held.push(want);
        Ok(())
    }

    /// Drops the owner's locks of this flavour in `[start, end)`, keeping the parts
    /// outside the range.
    pub fn release(&mut self, owner: Owner, flock: bool, start: u64, end: u64) {
        let mut kept = Vec::with_capacity(self.held.len());
        for h in self.held.drain(..) {
            if h.owner != owner || h.flock != flock || !h.overlaps(start, end) {
                kept.push(h);
                continue;
            }
            if h.start < start {
                kept.push(Lock { end: start, ..h });
            }
            if h.end > end {
                kept.push(Lock { start: end, ..h });
            }
        }
        self.held = kept;
    }

    /// Drops everything `owner` holds (close of a description, or a POSIX owner's
    /// close of any fd on the file, or exit).
    pub fn release_all(&mut self, owner: Owner) -> bool {
        let before = self.held.len();
        self.held.retain(|h| h.owner != owner);
        before != self.held.len()
    }
}

/// Linux gives up following a chain of waiters after this many steps.
const MAX_DEADLK_ITERATIONS: usize = 10;

/// Which POSIX lock each waiting process waits for (Linux's blocked_hash), to find
/// deadlocks. Entries live only while their F_SETLKW sleeps, so a checkpoint never
/// needs them: a frozen waiter re-issues its call.
#[derive(Default)]
pub struct LockWaits {
    waiting: Mutex<HashMap<i32, (Weak<Inode>, Lock)>>,
}

impl LockWaits {
    /// `want` on `inode` is stopped by `blocker`: records that its owner now waits,
    /// unless waiting would close a cycle of processes waiting on each other's locks
    /// (EDEADLK, as Linux's posix_locks_deadlock: follow the blocker's owner to the
    /// lock it waits for, and that lock's owner on). flock locks are not checked.
    pub fn wait(&self, inode: &Arc<Inode>, want: Lock, blocker: Lock) -> Result<(), Errno> {
        let Owner::Process(me) = want.owner else {
            return Ok(());
        };
        // Held across the walk and the insertion, so two processes closing a cycle
        // at once cannot both miss it.
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let mut owner = blocker.owner;
        for _ in 0..MAX_DEADLK_ITERATIONS {
            let Owner::Process(pid) = owner else { break };
            if pid == me {
                return Err(Errno::EDEADLK);
            }
            let Some(next) = waiting.get(&pid).and_then(|(ino, their)| {
                let ino = ino.upgrade()?;
                let next = ino.locks().conflict(their);
                next
            }) else {
                break;
            };
            owner = next.owner;
        }
        waiting.insert(me, (Arc::downgrade(inode), want));
        Ok(())
    }

    /// The owner's wait ended (it got the lock, or gave up).
    pub fn done(&self, owner: Owner) {
        if let Owner::Process(pid) = owner {
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            waiting.remove(&pid);
        }
    }
}

/// The locks on one inode as a checkpoint saves them. An [`Owner::File`] here holds a
/// stable id the checkpoint chose for the open file description (its index among the
/// descriptions it saves), never the live address-derived id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFileLocks {
    pub held: Vec<Lock>,
}

impl FileLocks {
    /// `file_index` maps a live [`Owner::File`] id (`Arc::as_ptr` of the description)
    /// to the description's index in the checkpoint.
    pub fn save(&self, mut file_index: impl FnMut(usize) -> usize) -> SavedFileLocks {
        SavedFileLocks {
            held: Self::map_files(&self.held, &mut file_index),
        }
    }

    /// `file_id` maps a checkpoint index back to the live id of the restored
    /// description (`Arc::as_ptr` of it), so that its close releases its flock locks.
    pub fn restore(saved: SavedFileLocks, mut file_id: impl FnMut(usize) -> usize) -> FileLocks {
        FileLocks {
            held: Self::map_files(&saved.held, &mut file_id),
        }
    }

    fn map_files(held: &[Lock], f: &mut impl FnMut(usize) -> usize) -> Vec<Lock> {
        held.iter()
            .map(|&l| match l.owner {
                Owner::File(id) => Lock {
                    owner: Owner::File(f(id)),
                    ..l
                },
                Owner::Process(_) => l,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posix(pid: i32, kind: Kind, start: u64, end: u64) -> Lock {
        Lock {
            owner: Owner::Process(pid),
            kind,
            start,
            end,
            flock: false,
        }
    }

    #[test]
    fn shared_locks_coexist_exclusive_ones_do_not() {
        let mut l = FileLocks::default();
        l.acquire(posix(1, Kind::Shared, 0, 10)).unwrap();
        l.acquire(posix(2, Kind::Shared, 5, 15)).unwrap();
        assert_eq!(
            l.acquire(posix(3, Kind::Exclusive, 9, 20)),
            Err(posix(1, Kind::Shared, 0, 10))
        );
        l.acquire(posix(3, Kind::Exclusive, 15, 20)).unwrap();
    }

    #[test]
    fn unlocking_the_middle_splits() {
        let mut l = FileLocks::default();
        l.acquire(posix(1, Kind::Exclusive, 0, 100)).unwrap();
        l.release(Owner::Process(1), false, 40, 60);
        assert!(l.conflict(&posix(2, Kind::Exclusive, 40, 60)).is_none());
        assert!(l.conflict(&posix(2, Kind::Exclusive, 30, 41)).is_some());
        assert!(l.conflict(&posix(2, Kind::Exclusive, 59, 70)).is_some());
    }

    #[test]
    fn flock_and_posix_locks_do_not_interact() {
        let mut l = FileLocks::default();
        let f = Lock {
            owner: Owner::File(7),
            kind: Kind::Exclusive,
            start: 0,
            end: u64::MAX,
            flock: true,
        };
        l.acquire(f).unwrap();
        l.acquire(posix(1, Kind::Exclusive, 0, 10)).unwrap();
        assert!(l.release_all(Owner::File(7)));
    }

    #[test]
    fn a_wait_that_closes_a_cycle_is_edeadlk() {
        let (a, b) = (crate::fs::pipe::pipe_inode(), crate::fs::pipe::pipe_inode());
        let waits = LockWaits::default();
        a.locks().acquire(posix(1, Kind::Exclusive, 0, 10)).unwrap();
        b.locks().acquire(posix(2, Kind::Exclusive, 0, 10)).unwrap();
        b.locks()
            .acquire(posix(3, Kind::Exclusive, 20, 30))
            .unwrap();
        // 1 waits for 2 (on b); 2 waiting for 3 closes no cycle; 3 waiting for 1 does.
        let held_by = |pid, start| posix(pid, Kind::Exclusive, start, start + 10);
        waits.wait(&b, held_by(1, 0), held_by(2, 0)).unwrap();
        waits.wait(&b, held_by(2, 20), held_by(3, 20)).unwrap();
        assert_eq!(
            waits.wait(&a, held_by(3, 0), held_by(1, 0)),
            Err(Errno::EDEADLK)
        );
        // Once 2 stops waiting, the chain from 1 ends at 2 and 3 may wait.
        waits.done(Owner::Process(2));
        waits.wait(&a, held_by(3, 0), held_by(1, 0)).unwrap();
    }

    #[test]
    fn locks_round_trip_through_a_checkpoint_with_stable_file_ids() {
        let flock = |owner| Lock {
            owner: Owner::File(owner),
            kind: Kind::Shared,
            start: 0,
            end: u64::MAX,
            flock: true,
        };
        let mut l = FileLocks::default();
        l.acquire(posix(1, Kind::Exclusive, 0, 100)).unwrap();
        l.release(Owner::Process(1), false, 40, 60);
        l.acquire(posix(2, Kind::Shared, 200, u64::MAX)).unwrap();
        l.acquire(flock(0x7f00_1000)).unwrap();
        l.acquire(flock(0x7f00_2000)).unwrap();

        let saved = l.save(|id| (id - 0x7f00_1000) / 0x1000);
        assert!(saved.held.contains(&flock(0)) && saved.held.contains(&flock(1)));
        let back: SavedFileLocks = ckpt::decode(&ckpt::encode(&saved).unwrap()).unwrap();
        assert_eq!(back, saved);

        let mut r = FileLocks::restore(back, |i| 0x5000 + i);
        assert!(r.conflict(&posix(3, Kind::Exclusive, 40, 60)).is_none());
        assert!(r.conflict(&posix(3, Kind::Exclusive, 30, 41)).is_some());
        assert!(r.conflict(&posix(3, Kind::Exclusive, 59, 70)).is_some());
        assert!(r
            .conflict(&posix(3, Kind::Shared, 1 << 40, 1 << 41))
            .is_none());
        assert!(r
            .conflict(&posix(3, Kind::Exclusive, 1 << 40, 1 << 41))
            .is_some());
        assert!(r.release_all(Owner::File(0x5001)));
        assert!(r.release_all(Owner::File(0x5000)));
        assert!(!r.release_all(Owner::File(0x7f00_1000)));
    }
}
