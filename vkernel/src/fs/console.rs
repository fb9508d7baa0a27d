//! Console input: a cothread reads the kernel's stdin into a buffer, so guest reads
//! sleep on a wait queue (interruptible by signals, pollable) instead of inside a
//! host read. The line discipline will sit on this buffer.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::errno::Errno;

use crate::sched::{block_on, Block, WaitQueue};

#[derive(Default)]
struct Input {
    buf: VecDeque<u8>,
    eof: bool,
}

#[derive(Default)]
pub struct Console {
    input: Mutex<Input>,
    pub wq: WaitQueue,
    reader: OnceLock<()>,
}

/// The one console (the kernel has one stdin).
pub fn console() -> &'static Console {
    static CONSOLE: OnceLock<Console> = OnceLock::new();
    CONSOLE.get_or_init(Console::default)
}

impl Console {
    fn lock(&self) -> MutexGuard<'_, Input> {
        self.input.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the reader on first use, so a guest that never reads leaves stdin alone.
    fn start_reader(&'static self) {
        self.reader.get_or_init(|| {
            let spawned = std::thread::Builder::new()
                .name("console".into())
                .spawn(move || self.pump());
            if spawned.is_err() {
                self.lock().eof = true;
            }
        });
    }

    fn pump(&self) {
        let mut chunk = [0u8; 4096];
        loop {
            // SAFETY: reading into a valid buffer from the kernel's stdin.
            let n = unsafe { libc::read(0, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n < 0 && Errno::last() == Errno::EINTR {
                continue;
            }
            {
                let mut inp = self.lock();
                if n <= 0 {
                    inp.eof = true;
                } else {
                    inp.buf.extend(&chunk[..n as usize]);
                }
            }
            self.wq.notify_all();
            if n <= 0 {
                return;
            }
        }
    }

    /// read(2) on the console: what is buffered, or sleep until input or EOF.
    pub fn read(
        &'static self,
        buf: &mut [u8],
        nonblock: bool,
        b: &dyn Block,
    ) -> Result<usize, Errno> {
        self.start_reader();
        if buf.is_empty() {
            return Ok(0);
        }
        block_on(b, &[&self.wq], None, || {
            let mut inp = self.lock();
            if !inp.buf.is_empty() {
                let n = buf.len().min(inp.buf.len());
                for (d, s) in buf.iter_mut().zip(inp.buf.drain(..n)) {
                    *d = s;
                }
                return Some(Ok(n));
            }
            if inp.eof {
                return Some(Ok(0));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        })?
    }

    /// Whether a read would not block (POLLIN).
    pub fn readable(&'static self) -> bool {
        self.start_reader();
        let inp = self.lock();
        !inp.buf.is_empty() || inp.eof
    }
}
