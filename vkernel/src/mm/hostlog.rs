//! The host-call log of a vmspace: the address-space changes (mmap, munmap,
//! mprotect of physmem ranges) that every stub attached to the vmspace must replay
//! before it runs guest code again.
//!
//! A vmspace is usually attached to one stub, but CLONE_VM without CLONE_THREAD (vfork,
//! posix_spawn, old-style clone) attaches several stub processes, each a separate host
//! address space. Every stub replays the same calls in the same order, so wherever two
//! stubs map a page they map the same frame with the same protection; a stub that joins
//! late starts empty and faults in what it touches. A frame given up by the vmspace is
//! freed only once every attached stub has replayed past the call that unmapped it, so no
//! stub ever maps a frame another guest owns.

use std::collections::BTreeMap;
use std::sync::Arc;

use vproc::{HostCall, Physmem};

/// A stub process (host address space), named by its host pid.
pub type SpaceId = libc::pid_t;

#[derive(Default)]
pub struct HostCallLog {
    calls: Vec<HostCall>,
    /// The sequence number of `calls[0]`.
    first: u64,
    /// How far each attached stub has replayed (a sequence number).
    cursors: BTreeMap<SpaceId, u64>,
    /// Frames to free once every cursor reaches the sequence number beside them.
    release: Vec<(u64, u64)>,
}

impl HostCallLog {
    fn end(&self) -> u64 {
        self.first + self.calls.len() as u64
    }

    pub fn push(&mut self, call: HostCall) {
        self.calls.push(call);
    }

    /// Frees `frame` once the calls queued so far (which drop its mappings) ran.
    pub fn release(&mut self, frame: u64) {
        self.release.push((self.end(), frame));
    }

    /// How many stubs are attached.
    pub fn spaces(&self) -> usize {
        self.cursors.len()
    }

    /// Attaches a fresh (empty) stub that shares the vmspace from now on: it owes none
    /// of the calls queued so far.
    pub fn join(&mut self, space: SpaceId) {
        let end = self.end();
        self.cursors.insert(space, end);
    }

    /// Detaches a stub (its process exited or exec'd into another vmspace).
    pub fn leave(&mut self, space: SpaceId, physmem: &Physmem) {
        self.cursors.remove(&space);
        self.compact(physmem);
    }

    /// The calls `space` has not run yet. A stub seen for the first time owes the whole
    /// log: it is the stub that built this vmspace (exec, fork's child, boot).
    pub fn take(&mut self, space: SpaceId) -> Vec<HostCall> {
        let end = self.end();
        let from = self.cursors.insert(space, end).unwrap_or(self.first);
        self.calls[(from.max(self.first) - self.first) as usize..].to_vec()
    }

    /// Drops calls every stub has run and frees frames no stub can map any more.
    pub fn compact(&mut self, physmem: &Physmem) {
        let done = self.cursors.values().copied().min().unwrap_or(self.end());
        if !self.cursors.is_empty() {
            self.calls.drain(..(done - self.first) as usize);
            self.first = done;
        }
        let (free, keep): (Vec<_>, Vec<_>) = self.release.drain(..).partition(|&(s, _)| s <= done);
        self.release = keep;
        for (_, f) in free {
            physmem.put(f);
        }
    }

    /// Frees every frame still waiting (the vmspace is going away).
    pub fn release_all(&mut self, physmem: &Arc<Physmem>) {
        for (_, f) in self.release.drain(..) {
            physmem.put(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vproc::PAGE_SIZE;

    fn physmem() -> Physmem {
        Physmem::new(64 * PAGE_SIZE).unwrap()
    }

    #[test]
    fn the_first_stub_replays_everything_and_a_joiner_nothing_before_it() {
        let mut log = HostCallLog::default();
        log.push(HostCall::unmap(0x1000, 0x1000));
        assert_eq!(log.take(1).len(), 1);
        assert!(log.take(1).is_empty());
        log.join(2);
        assert!(log.take(2).is_empty());
        log.push(HostCall::unmap(0x2000, 0x1000));
        assert_eq!(log.take(1).len(), 1);
        assert_eq!(log.take(2).len(), 1);
    }

    /// Stubs 1 and 2 on one log; an unmap that releases frame `f`, run by stub 1 only.
    fn two_stubs_one_released_frame() -> (Physmem, u64, HostCallLog) {
        let pm = physmem();
        let f = pm.alloc(1).unwrap().start;
        let mut log = HostCallLog::default();
        log.take(1);
        log.join(2);
        log.push(HostCall::unmap(0x1000, 0x1000));
        log.release(f);
        log.take(1);
        (pm, f, log)
    }

    #[test]
    fn a_frame_is_freed_only_after_every_stub_replayed_its_unmap() {
        let (pm, f, mut log) = two_stubs_one_released_frame();
        log.compact(&pm);
        assert_eq!(pm.frames().refcount(f), 1, "stub 2 still maps it");
        log.take(2);
        log.compact(&pm);
        assert_eq!(pm.frames().refcount(f), 0);
    }

    #[test]
    fn a_leaving_stub_no_longer_holds_frames_or_calls_back() {
        let (pm, f, mut log) = two_stubs_one_released_frame();
        log.leave(2, &pm);
        assert_eq!(pm.frames().refcount(f), 0);
        assert!(log.calls.is_empty(), "every attached stub has run the call");
    }
}
