//! The frame allocator: free extents of physmem plus a reference count per frame.
//!
//! Extents keep large allocations contiguous, so one injected `mmap` can map many guest
//! pages at once; reference counts let fork share frames copy-on-write and let the page
//! cache share file pages between vmspaces.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// A run of consecutive frames: `[start, start + len)` in frame numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FrameRun {
    pub start: u64,
    pub len: u64,
}

pub struct FrameAllocator {
    /// Free extents, start frame -> length, never adjacent (merged on free).
    free: Mutex<FreeList>,
    refs: Vec<AtomicU32>,
}

struct FreeList {
    extents: BTreeMap<u64, u64>,
    free_frames: u64,
}

impl FrameAllocator {
    pub fn new(frames: u64) -> Self {
        let mut extents = BTreeMap::new();
        if frames > 0 {
            extents.insert(0, frames);
        }
        FrameAllocator {
            free: Mutex::new(FreeList {
                extents,
                free_frames: frames,
            }),
            refs: (0..frames).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    pub fn total(&self) -> u64 {
        self.refs.len() as u64
    }

    pub fn free_frames(&self) -> u64 {
        self.lock().free_frames
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FreeList> {
        // A poisoned lock only means another thread panicked while holding it; the
        // free list is updated atomically under the lock, so it is still consistent.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Allocates up to `want` consecutive frames (at least one), each with refcount 1.
    /// Prefers the lowest extent that fits whole; otherwise takes the largest piece.
    /// `None` when physmem is exhausted.
    pub fn alloc(&self, want: u64) -> Option<FrameRun> {
        let want = want.max(1);
        let mut fl = self.lock();
        let (&start, &len) = fl
            .extents
            .iter()
            .find(|(_, &len)| len >= want)
            .or_else(|| fl.extents.iter().max_by_key(|(_, &len)| len))?;
        let take = len.min(want);
        fl.extents.remove(&start);
        if len > take {
            fl.extents.insert(start + take, len - take);
        }
        fl.free_frames -= take;
        drop(fl);
        for f in start..start + take {
            self.refs[f as usize].store(1, Ordering::Relaxed);
        }
        Some(FrameRun { start, len: take })
    }

    /// Claims a specific run (used when a checkpoint is thawed: frames come back at the
    /// numbers they had). Returns false if any frame in it is not free.
    pub fn claim(&self, run: FrameRun) -> bool {
        let mut fl = self.lock();
        let Some((&start, &len)) = fl.extents.range(..=run.start).next_back() else {
            return false;
        };
        if start + len < run.start + run.len {
            return false;
        }
        fl.extents.remove(&start);
        if run.start > start {
            fl.extents.insert(start, run.start - start);
        }
        let end = run.start + run.len;
        if start + len > end {
            fl.extents.insert(end, start + len - end);
        }
        fl.free_frames -= run.len;
        drop(fl);
        for f in run.start..end {
            self.refs[f as usize].store(1, Ordering::Relaxed);
        }
        true
    }

    /// Adds a reference to an allocated frame.
    pub fn get(&self, frame: u64) {
        let old = self.refs[frame as usize].fetch_add(1, Ordering::Relaxed);
        debug_assert!(old > 0, "get of free frame {frame}");
    }

    pub fn refcount(&self, frame: u64) -> u32 {
        self.refs[frame as usize].load(Ordering::Relaxed)
    }

    /// Drops a reference; true when it was the last one. The frame is then owned by
    /// the caller alone, which must scrub it and hand it back with [`Self::free`]:
    /// freeing first would let another thread allocate the frame and have its new
    /// contents scrubbed away.
    pub fn put(&self, frame: u64) -> bool {
        let old = self.refs[frame as usize].fetch_sub(1, Ordering::AcqRel);
        debug_assert!(old > 0, "put of free frame {frame}");
        old == 1
    }

    /// Returns frames whose last reference is gone to the free list.
    pub fn free(&self, run: FrameRun) {
        let mut fl = self.lock();
        let mut start = run.start;
        let mut len = run.len;
        if let Some((&ps, &pl)) = fl.extents.range(..start).next_back() {
            if ps + pl == start {
                fl.extents.remove(&ps);
                start = ps;
                len += pl;
            }
        }
        if let Some(&nl) = fl.extents.get(&(run.start + run.len)) {
            fl.extents.remove(&(run.start + run.len));
            len += nl;
        }
        fl.extents.insert(start, len);
        fl.free_frames += run.len;
    }

    /// Runs of allocated frames, in order: what a checkpoint must save.
    pub fn allocated_runs(&self) -> Vec<FrameRun> {
        let fl = self.lock();
        let mut runs = Vec::new();
        let mut next = 0;
        for (&s, &l) in fl.extents.iter() {
            if s > next {
                runs.push(FrameRun {
                    start: next,
                    len: s - next,
                });
            }
            next = s + l;
        }
        if next < self.total() {
            runs.push(FrameRun {
                start: next,
                len: self.total() - next,
            });
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_is_contiguous_and_exhausts() {
        let a = FrameAllocator::new(16);
        let r = a.alloc(10).unwrap();
        assert_eq!(r, FrameRun { start: 0, len: 10 });
        let r2 = a.alloc(10).unwrap();
        assert_eq!(r2, FrameRun { start: 10, len: 6 });
        assert!(a.alloc(1).is_none());
        assert_eq!(a.free_frames(), 0);
    }

    #[test]
    fn free_merges_neighbours() {
        let a = FrameAllocator::new(8);
        let r = a.alloc(8).unwrap();
        for f in [1, 3, 2] {
            assert!(a.put(r.start + f));
            a.free(FrameRun {
                start: r.start + f,
                len: 1,
            });
        }
        assert_eq!(a.alloc(3).unwrap(), FrameRun { start: 1, len: 3 });
        for f in 0..8 {
            assert!(a.put(f));
            a.free(FrameRun { start: f, len: 1 });
        }
        assert_eq!(a.free_frames(), 8);
        assert_eq!(a.alloc(8).unwrap(), FrameRun { start: 0, len: 8 });
    }

    #[test]
    fn refcounts_keep_shared_frames() {
        let a = FrameAllocator::new(4);
        let r = a.alloc(1).unwrap();
        a.get(r.start);
        assert_eq!(a.refcount(r.start), 2);
        assert!(!a.put(r.start));
        assert!(a.put(r.start));
        assert_eq!(a.free_frames(), 3, "not free until handed back");
        a.free(r);
        assert_eq!(a.free_frames(), 4);
    }

    #[test]
    fn claim_and_allocated_runs() {
        let a = FrameAllocator::new(10);
        assert!(a.claim(FrameRun { start: 3, len: 2 }));
        assert!(!a.claim(FrameRun { start: 4, len: 2 }));
        assert!(a.claim(FrameRun { start: 8, len: 2 }));
        assert_eq!(
            a.allocated_runs(),
            vec![FrameRun { start: 3, len: 2 }, FrameRun { start: 8, len: 2 }]
        );
        assert_eq!(a.alloc(3).unwrap(), FrameRun { start: 0, len: 3 });
    }
}
