//! Pipes: a 64 KiB byte queue with Linux's blocking, EOF and atomicity rules.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::sched::{block_on, block_on_partial, Block, WaitQueue};

/// Writes up to this size are atomic (never interleaved with other writers).
pub const PIPE_BUF: usize = 4096;
/// Default capacity (16 pages, as Linux).
pub const PIPE_SIZE: usize = 65536;
/// /proc/sys/fs/pipe-max-size's default.
const MAX_PIPE_SIZE: usize = 1 << 20;

pub const POLLIN: i16 = 0x1;
pub const POLLOUT: i16 = 0x4;
pub const POLLERR: i16 = 0x8;
pub const POLLHUP: i16 = 0x10;

struct PipeState {
    data: VecDeque<u8>,
    readers: usize,
    writers: usize,
    /// F_SETPIPE_SZ can change it (a power of two, at least a page).
    capacity: usize,
    /// Writes, and reads from a full pipe, so far: the events edge-triggered epoll
    /// reports (Linux wakes readers on every write, writers when a full pipe drains).
    writes: u64,
    reads_from_full: u64,
    /// Opens of each end ever made: a FIFO open waits for the other side to have
    /// opened, even if it has closed again since (Linux's r_counter/w_counter).
    read_opens: u64,
    write_opens: u64,
}

/// Which ends of a pipe an open file holds: one, or both for a FIFO opened O_RDWR
/// (which Linux counts as a reader and a writer, so its open never waits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ends {
    pub read: bool,
    pub write: bool,
}

impl Ends {
    pub const READ: Ends = Ends {
        read: true,
        write: false,
    };
    pub const WRITE: Ends = Ends {
        read: false,
        write: true,
    };
    pub const BOTH: Ends = Ends {
        read: true,
        write: true,
    };
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pipe")
    }
}

pub struct Pipe {
    state: Mutex<PipeState>,
    /// Readers and writers both wait here; every change notifies it.
    pub wq: WaitQueue,
}

impl Pipe {
    pub fn new() -> Arc<Pipe> {
        let state = PipeState {
            data: VecDeque::new(),
            readers: 1,
            writers: 1,
            capacity: PIPE_SIZE,
            writes: 0,
            reads_from_full: 0,
            read_opens: 1,
            write_opens: 1,
        };
        Arc::new(Pipe {
            state: Mutex::new(state),
            wq: WaitQueue::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until data or EOF (no writers); EAGAIN when `nonblock` and empty.
    pub fn read(&self, buf: &mut [u8], nonblock: bool, b: &dyn Block) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = block_on(b, &[&self.wq], None, || {
            let mut st = self.lock();
            if !st.data.is_empty() {
                if st.capacity.saturating_sub(st.data.len()) < PIPE_BUF {
                    st.reads_from_full += 1;
                }
                let n = buf.len().min(st.data.len());
                for (d, s) in buf.iter_mut().zip(st.data.drain(..n)) {
                    *d = s;
                }
                return Some(Ok(n));
            }
            if st.writers == 0 {
                return Some(Ok(0));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        })??;
        self.wq.notify_all();
        Ok(n)
    }

    /// Writes all of `data` (blocking as needed); writes up to PIPE_BUF go in whole.
    /// EPIPE when no reader is left (the caller raises SIGPIPE). An interrupted or
    /// non-blocking write that made progress returns the bytes written.
    pub fn write(&self, data: &[u8], nonblock: bool, b: &dyn Block) -> Result<usize, Errno> {
        let atomic = data.len() <= PIPE_BUF;
        let mut done = 0;
        while done < data.len() {
            let step = block_on_partial(b, done > 0, &[&self.wq], None, || {
                let mut st = self.lock();
                if st.readers == 0 {
                    // SIGPIPE even when part of the data went in (as Linux).
                    b.sigpipe();
                    return Some(Err(Errno::EPIPE));
                }
                let room = st.capacity.saturating_sub(st.data.len());
                let want = data.len() - done;
                if room >= want || (!atomic && room > 0) {
                    let n = want.min(room);
                    st.data.extend(&data[done..done + n]);
                    st.writes += 1;
                    return Some(Ok(n));
                }
                nonblock.then_some(Err(Errno::EAGAIN))
            });
            match step {
                Ok(Ok(n)) => {
                    done += n;
                    self.wq.notify_all();
                }
                Ok(Err(e)) | Err(e) if done == 0 => return Err(e),
                _ => break,
            }
        }
        Ok(done)
    }

    /// poll(2) readiness of the ends a file holds (Linux's pipe_poll).
    pub fn poll(&self, ends: Ends) -> i16 {
        let st = self.lock();
        let mut r = 0;
        if ends.read {
            if !st.data.is_empty() {
                r |= POLLIN;
            }
            if st.writers == 0 {
                r |= POLLHUP;
            }
        }
        if ends.write {
            if st.capacity.saturating_sub(st.data.len()) >= PIPE_BUF {
                r |= POLLOUT;
            }
            if st.readers == 0 {
                r |= POLLERR;
            }
        }
        r
    }

    /// A named FIFO's pipe: no ends open until someone opens it.
    pub fn new_fifo() -> Arc<Pipe> {
        let p = Pipe::new();
        {
            let mut st = p.lock();
            st.readers = 0;
            st.writers = 0;
            st.read_opens = 0;
            st.write_opens = 0;
        }
        p
    }

    /// open(2) of a FIFO. Without O_NONBLOCK one end waits for the other side to
    /// open; with it, a writer with no reader gets ENXIO (a reader never waits).
    /// Both ends at once (O_RDWR) are their own other side: no wait.
    ///
    /// As Linux's fifo_open, whether to wait is decided under the lock that counts
    /// this open: only when the other side has no open end now, and then until the
    /// other side's open count moves. Deciding later would race: a partner that was
    /// open at this open (say a writer blocked in its own open, which this open
    /// completes) may write, close and leave before the wait looks, and the wait
    /// would then sleep for a partner that has already come and gone.
    pub fn open_end(&self, ends: Ends, nonblock: bool, b: &dyn Block) -> Result<(), Errno> {
        let other_opens = {
            let mut st = self.lock();
            if ends == Ends::WRITE && nonblock && st.readers == 0 {
                return Err(Errno::ENXIO);
            }
            if ends.write {
                st.writers += 1;
                st.write_opens += 1;
            }
            if ends.read {
                st.readers += 1;
                st.read_opens += 1;
            }
            let (opens, open) = if ends.write {
                (st.read_opens, st.readers)
            } else {
                (st.write_opens, st.writers)
            };
            (!nonblock && ends != Ends::BOTH && open == 0).then_some(opens)
        };
        self.wq.notify_all();
        let Some(other_opens) = other_opens else {
            return Ok(());
        };
        let waited = block_on(b, &[&self.wq], None, || {
            let st = self.lock();
            let now = if ends.write {
                st.read_opens
            } else {
                st.write_opens
            };
            (now != other_opens).then_some(())
        });
        if waited.is_err() {
            self.release(ends);
        }
        waited
    }

    /// F_GETPIPE_SZ.
    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    /// F_SETPIPE_SZ: rounds up to a power of two (at least a page, at most Linux's
    /// default pipe-max-size of 1 MiB); EBUSY if the data would not fit.
    pub fn set_capacity(&self, want: usize) -> Result<usize, Errno> {
        if want > MAX_PIPE_SIZE {
            return Err(Errno::EPERM);
        }
        let size = want.max(4096).next_power_of_two();
        let mut st = self.lock();
        if st.data.len() > size {
            return Err(Errno::EBUSY);
        }
        st.capacity = size;
        drop(st);
        self.wq.notify_all();
        Ok(size)
    }

    pub fn available(&self) -> usize {
        self.lock().data.len()
    }

    /// (writes, reads from a full pipe) so far: see `PipeState`.
    pub fn events(&self) -> (u64, u64) {
        let st = self.lock();
        (st.writes, st.reads_from_full)
    }

    /// The last open file description holding `ends` went away.
    pub fn release(&self, ends: Ends) {
        {
            let mut st = self.lock();
            if ends.write {
                st.writers -= 1;
            }
            if ends.read {
                st.readers -= 1;
            }
        }
        self.wq.notify_all();
    }
}

/// A pipe as a checkpoint saves it: the buffered bytes, its capacity (F_SETPIPE_SZ),
/// how many open file descriptions hold each end, and the event counters
/// edge-triggered epoll compares. The wait queue is not saved: every waiter is parked
/// by the freeze and re-waits after the thaw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPipe {
    pub data: Vec<u8>,
    pub readers: usize,
    pub writers: usize,
    pub capacity: usize,
    pub writes: u64,
    pub reads_from_full: u64,
}

impl Pipe {
    pub fn save(&self) -> SavedPipe {
        let st = self.lock();
        SavedPipe {
            data: st.data.iter().copied().collect(),
            readers: st.readers,
            writers: st.writers,
            capacity: st.capacity,
            writes: st.writes,
            reads_from_full: st.reads_from_full,
        }
    }

    /// Rebuilds a saved pipe. The end counts are taken as saved, so the caller must
    /// restore exactly that many open file descriptions of each end (each releases its
    /// end when it goes away). A capacity F_SETPIPE_SZ could not set, or more bytes
    /// than the capacity, is a corrupt image.
    pub fn restore(saved: SavedPipe) -> Result<Arc<Pipe>, ckpt::CkptError> {
        let cap = saved.capacity;
        if !cap.is_power_of_two() || !(4096..=MAX_PIPE_SIZE).contains(&cap) {
            return Err(ckpt::CkptError::Decode(format!(
                "a pipe with a capacity of {cap} bytes"
            )));
        }
        if saved.data.len() > cap {
            return Err(ckpt::CkptError::Decode(format!(
                "a pipe holds {} bytes, more than its capacity of {cap}",
                saved.data.len()
            )));
        }
        let state = PipeState {
            data: saved.data.into(),
            readers: saved.readers,
            writers: saved.writers,
            capacity: cap,
            writes: saved.writes,
            reads_from_full: saved.reads_from_full,
            read_opens: saved.readers as u64,
            write_opens: saved.writers as u64,
        };
        Ok(Arc::new(Pipe {
            state: Mutex::new(state),
            wq: WaitQueue::default(),
        }))
    }
}

/// The inode behind a pipe's two open files (pipefs: fstat shows a FIFO).
pub fn pipe_inode() -> Arc<super::inode::Inode> {
    use super::inode::*;
    let st = InodeState::new(S_IFIFO | 0o600, 0, 0, Body::Special);
    Inode::new(next_ino(), DEV_PIPEFS, st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testing::Idle;

    #[test]
    fn buffered_bytes_and_closed_end_round_trip_through_a_checkpoint() {
        let b = Idle::new();
        let bytes: Vec<u8> = (0..60_000).map(|i| (i % 251) as u8).collect();
        let p = Pipe::new();
        assert_eq!(p.write(&bytes, true, &b), Ok(60_000));
        let mut head = [0u8; 1000];
        assert_eq!(p.read(&mut head, true, &b), Ok(1000));
        p.release(Ends::WRITE);

        let saved = p.save();
        let back: SavedPipe = ckpt::decode(&ckpt::encode(&saved).unwrap()).unwrap();
        assert_eq!(back, saved);
        assert_eq!((back.readers, back.writers), (1, 0));
        let q = Pipe::restore(back).unwrap();
        assert_eq!(q.poll(Ends::READ), POLLIN | POLLHUP);
        let mut rest = vec![0u8; 70_000];
        assert_eq!(q.read(&mut rest, true, &b), Ok(59_000));
        assert_eq!(rest[..59_000], bytes[1000..]);
        assert_eq!(q.read(&mut rest, true, &b), Ok(0), "EOF: no writer");
    }

    #[test]
    fn a_fifo_opened_for_both_ends_never_waits() {
        let b = Idle::new();
        let p = Pipe::new_fifo();
        // Blocking, yet it returns at once: it is its own reader and writer.
        assert_eq!(p.open_end(Ends::BOTH, false, &b), Ok(()));
        assert_eq!(p.poll(Ends::BOTH), POLLOUT);
        assert_eq!(p.open_end(Ends::WRITE, true, &b), Ok(()), "a reader exists");
        assert_eq!(p.write(b"hi", true, &b), Ok(2));
        assert_eq!(p.poll(Ends::BOTH), POLLIN | POLLOUT);
        p.release(Ends::WRITE);
        p.release(Ends::BOTH);
        assert_eq!(p.poll(Ends::READ), POLLIN | POLLHUP);
    }

    /// A caller that, if its call starts a wait, first runs `hook` (what another
    /// thread may do between the open's count and its wait) and is then interrupted,
    /// so a wait that should not have started ends in EINTR instead of hanging.
    struct RaceAtWait {
        waker: Arc<crate::sched::Waker>,
        hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    }

    impl Block for RaceAtWait {
        fn waker(&self) -> &Arc<crate::sched::Waker> {
            if let Some(hook) = self.hook.lock().unwrap().take() {
                hook();
            }
            &self.waker
        }
        fn interrupted(&self) -> bool {
            true
        }
        fn sigpipe(&self) {}
        fn caller(&self) -> Option<(&Arc<crate::process::Thread>, &Arc<crate::process::Process>)> {
            None
        }
    }

    #[test]
    fn a_fifo_open_finding_its_partner_open_does_not_wait_even_if_it_leaves() {
        // The partner (say a writer blocked in its own open, which this open ends)
        // may run, close and leave before this open would look again: Linux decides
        // not to wait at the count, and so must we (the opener otherwise slept for
        // good: pipes::fifo_rendezvous hung under load).
        for (me, partner) in [(Ends::READ, Ends::WRITE), (Ends::WRITE, Ends::READ)] {
            let idle = Idle::new();
            let p = Pipe::new_fifo();
            // The partner's end is open (an O_RDONLY|O_NONBLOCK reader lets a
            // non-blocking writer in, and then goes).
            assert_eq!(p.open_end(Ends::READ, true, &idle), Ok(()));
            if partner == Ends::WRITE {
                assert_eq!(p.open_end(Ends::WRITE, true, &idle), Ok(()));
                p.release(Ends::READ);
            }
            let q = p.clone();
            let b = RaceAtWait {
                waker: crate::sched::Waker::new(),
                hook: Mutex::new(Some(Box::new(move || {
                    if partner == Ends::WRITE {
                        assert_eq!(q.write(b"x", true, &Idle::new()), Ok(1));
                    }
                    q.release(partner);
                }))),
            };
            assert_eq!(p.open_end(me, false, &b), Ok(()), "{me:?} open");
            if let Some(hook) = b.hook.lock().unwrap().take() {
                hook();
            }
            if me == Ends::READ {
                let mut buf = [0u8; 4];
                assert_eq!(p.read(&mut buf, false, &idle), Ok(1));
                assert_eq!(p.read(&mut buf, false, &idle), Ok(0), "EOF");
            } else {
                assert_eq!(p.poll(Ends::WRITE), POLLOUT | POLLERR);
            }
            p.release(me);
        }
    }

    #[test]
    fn restore_refuses_more_than_a_pipe_holds() {
        let saved = SavedPipe {
            data: vec![0; PIPE_SIZE + 1],
            readers: 1,
            writers: 1,
            capacity: PIPE_SIZE,
            writes: 1,
            reads_from_full: 0,
        };
        assert!(Pipe::restore(saved.clone()).is_err());
        let bigger = SavedPipe {
            capacity: 2 * PIPE_SIZE,
            ..saved.clone()
        };
        assert!(Pipe::restore(bigger).is_ok(), "F_SETPIPE_SZ made room");
        let odd = SavedPipe {
            data: Vec::new(),
            capacity: 5000,
            ..saved
        };
        assert!(Pipe::restore(odd).is_err());
    }
}
