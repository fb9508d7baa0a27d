//! Pipes: a 64 KiB byte queue with Linux's blocking, EOF and atomicity rules.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;

use crate::sched::{block_on, Block, WaitQueue};

/// Writes up to this size are atomic (never interleaved with other writers).
pub const PIPE_BUF: usize = 4096;
/// Default capacity (16 pages, as Linux).
pub const PIPE_SIZE: usize = 65536;

pub const POLLIN: i16 = 0x1;
pub const POLLOUT: i16 = 0x4;
pub const POLLERR: i16 = 0x8;
pub const POLLHUP: i16 = 0x10;

#[derive(Default)]
struct PipeState {
    data: VecDeque<u8>,
    readers: usize,
    writers: usize,
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
            let step = block_on(b, &[&self.wq], None, || {
                let mut st = self.lock();
                if st.readers == 0 {
                    return Some(Err(Errno::EPIPE));
                }
                let room = PIPE_SIZE - st.data.len();
                let want = data.len() - done;
                if room >= want || (!atomic && room > 0) {
                    let n = want.min(room);
                    st.data.extend(&data[done..done + n]);
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

    /// poll(2) readiness of one end.
    pub fn poll(&self, write_end: bool) -> i16 {
        let st = self.lock();
        if write_end {
            if st.readers == 0 {
                POLLOUT | POLLERR
            } else if PIPE_SIZE - st.data.len() >= PIPE_BUF {
                POLLOUT
            } else {
                0
            }
        } else {
            let mut r = if st.data.is_empty() { 0 } else { POLLIN };
            if st.writers == 0 {
                r |= POLLHUP;
            }
            r
        }
    }

    pub fn available(&self) -> usize {
        self.lock().data.len()
    }

    /// An end's last open file description went away.
    pub fn release(&self, write_end: bool) {
        {
            let mut st = self.lock();
            if write_end {
                st.writers -= 1;
            } else {
                st.readers -= 1;
            }
        }
        self.wq.notify_all();
    }
}

/// The inode behind a pipe's two open files (pipefs: fstat shows a FIFO).
pub fn pipe_inode() -> Arc<super::inode::Inode> {
    use super::inode::*;
    let st = InodeState::new(S_IFIFO | 0o600, 0, 0, Body::Special);
    Inode::new(next_ino(), DEV_PIPEFS, st)
}
