//! The console: the kernel's own stdin and stdout.
//!
//! When stdin is a terminal, the host terminal is put in raw mode and the kernel runs
//! its own line discipline (the `tty` crate) for the guest: a cothread feeds typed
//! bytes through it, writes the echo back, and sends ^C/^Z/^\ to the foreground
//! process group. Guest reads sleep on a wait queue (interruptible, pollable). The
//! host terminal's settings are restored on every exit path.
//! When stdin is not a terminal, bytes pass through untouched and terminal ioctls say
//! ENOTTY, as a pipe would.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::errno::Errno;
use tty::{JobSignal, LineDiscipline, ReadOutcome, Termios, Winsize};

use crate::sched::{block_on, Block, WaitQueue};

enum Discipline {
    Pass(VecDeque<u8>),
    Tty(Box<LineDiscipline>),
}

struct State {
    disc: Discipline,
    /// The host side hit end of file.
    eof: bool,
    /// The foreground process group (TIOCSPGRP), which gets ^C and may read.
    foreground: i32,
}

/// Sends a signal to a process group (the kernel's, set at boot).
pub type GroupSignaller = Box<dyn Fn(i32, i32) + Send + Sync>;

pub struct Console {
    state: Mutex<State>,
    pub wq: WaitQueue,
    reader: OnceLock<()>,
    signaller: OnceLock<GroupSignaller>,
}

/// The one console (the kernel has one stdin).
pub fn console() -> &'static Console {
    static CONSOLE: OnceLock<Console> = OnceLock::new();
    CONSOLE.get_or_init(|| Console {
        state: Mutex::new(State {
            disc: Discipline::Pass(VecDeque::new()),
            eof: false,
            foreground: 1,
        }),
        wq: WaitQueue::default(),
        reader: OnceLock::new(),
        signaller: OnceLock::new(),
    })
}

/// The host terminal's settings before vkernel touched them.
static SAVED_HOST: OnceLock<libc::termios> = OnceLock::new();

/// Puts the host terminal back as it was (idempotent; safe from any exit path).
pub fn restore_host_terminal() {
    if let Some(t) = SAVED_HOST.get() {
        // SAFETY: restoring settings we read from the same descriptor.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
    }
}

fn host_winsize() -> Winsize {
    // SAFETY: TIOCGWINSZ writes one winsize into ws.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) };
    Winsize {
        rows: ws.ws_row,
        cols: ws.ws_col,
        xpixel: ws.ws_xpixel,
        ypixel: ws.ws_ypixel,
    }
}

/// Raw mode on the host terminal: every byte comes to us unprocessed, and our own
/// output processing (OPOST) decides what the terminal sees.
fn enter_raw_mode() -> bool {
    // SAFETY: tcgetattr fills a termios for our stdin; checked below.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
        return false;
    }
    let _ = SAVED_HOST.set(t);
    let mut raw = t;
    // SAFETY: cfmakeraw only edits the struct.
    unsafe { libc::cfmakeraw(&mut raw) };
    // SAFETY: applying settings to our own stdin.
    unsafe { libc::tcsetattr(0, libc::TCSANOW, &raw) == 0 }
}

fn host_write(fd: i32, data: &[u8]) -> Result<usize, Errno> {
    let mut done = 0;
    while done < data.len() {
        let rest = &data[done..];
        // SAFETY: writing a valid buffer to our own stdout/stderr.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Errno::last());
        }
        done += n as usize;
    }
    Ok(done)
}

fn job_signal(s: JobSignal) -> i32 {
    match s {
        JobSignal::Int => libc::SIGINT,
        JobSignal::Quit => libc::SIGQUIT,
        JobSignal::Tstp => libc::SIGTSTP,
    }
}

impl Console {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// At boot: with a terminal on stdin, take it over (raw mode, line discipline)
    /// and start reading at once so ^C works before the guest first reads.
    pub fn init(&'static self, signaller: GroupSignaller) {
        let _ = self.signaller.set(signaller);
        // SAFETY: isatty on our own stdin.
        if unsafe { libc::isatty(0) } == 0 || !enter_raw_mode() {
            return;
        }
        let mut ld = LineDiscipline::new();
        ld.set_winsize(host_winsize());
        self.lock().disc = Discipline::Tty(Box::new(ld));
        self.start_reader();
    }

    /// The host terminal was resized (SIGWINCH to vkernel): the guest's foreground
    /// group hears about it when the size really changed.
    pub fn host_resized(&self) {
        let changed = match &mut self.lock().disc {
            Discipline::Tty(ld) => ld.set_winsize(host_winsize()),
            Discipline::Pass(_) => false,
        };
        if let (true, Some(send)) = (changed, self.signaller.get()) {
            send(self.foreground(), libc::SIGWINCH);
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self.lock().disc, Discipline::Tty(_))
    }

    /// Starts the reader on first use, so a guest that never reads leaves a
    /// non-terminal stdin alone.
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
            if n <= 0 {
                self.lock().eof = true;
                self.wq.notify_all();
                return;
            }
            self.receive(&chunk[..n as usize]);
        }
    }

    /// Typed bytes: through the line discipline (echo, job signals) or straight in.
    fn receive(&self, bytes: &[u8]) {
        let (echo, signals) = match &mut self.lock().disc {
            Discipline::Pass(buf) => {
                buf.extend(bytes);
                (Vec::new(), Vec::new())
            }
            Discipline::Tty(ld) => {
                let fx = ld.input(bytes);
                (fx.echo, fx.signals)
            }
        };
        self.apply(echo, signals);
        self.wq.notify_all();
    }

    /// Takes readable input now: Some(n) (0 = end of file), or None to wait.
    fn take(&self, buf: &mut [u8]) -> Option<usize> {
        let mut st = self.lock();
        let eof = st.eof;
        match &mut st.disc {
            Discipline::Pass(q) if !q.is_empty() => {
                let n = buf.len().min(q.len());
                for (d, s) in buf.iter_mut().zip(q.drain(..n)) {
                    *d = s;
                }
                Some(n)
            }
            Discipline::Pass(_) => eof.then_some(0),
            Discipline::Tty(ld) => match ld.read(buf.len()) {
                ReadOutcome::Data(v) => {
                    buf[..v.len()].copy_from_slice(&v);
                    Some(v.len())
                }
                ReadOutcome::Eof => Some(0),
                // Non-canonical with VMIN=0 and VTIME=0: a poll, 0 if nothing there.
                ReadOutcome::WouldBlock
                    if ld.min_time() == (0, 0) && !ld.termios().l(tty::flags::ICANON) =>
                {
                    Some(0)
                }
                ReadOutcome::WouldBlock => eof.then_some(0),
            },
        }
    }

    /// Input that waited because the queue was full goes in once a read made room.
    fn drain_backlog(&self) {
        let fx = match &mut self.lock().disc {
            Discipline::Tty(ld) if ld.backlog() > 0 => ld.input(&[]),
            _ => return,
        };
        self.apply(fx.echo, fx.signals);
    }

    /// Writes echo to the terminal and sends job-control signals typed bytes raised.
    fn apply(&self, echo: Vec<u8>, signals: Vec<JobSignal>) {
        let _ = host_write(1, &echo);
        let fg = self.foreground();
        if let Some(send) = self.signaller.get() {
            for s in signals {
                send(fg, job_signal(s));
            }
        }
    }

    /// read(2) on the console: what is ready, or sleep until input or end of file.
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
        let n = block_on(b, &[&self.wq], None, || match self.take(buf) {
            Some(n) => Some(Ok(n)),
            None => nonblock.then_some(Err(Errno::EAGAIN)),
        })??;
        self.drain_backlog();
        Ok(n)
    }

    /// write(2) to the console: output processing, then the host terminal (or the
    /// kernel's stdout/stderr when not a terminal).
    pub fn write(&self, data: &[u8], host_fd: i32) -> Result<usize, Errno> {
        let out = match &mut self.lock().disc {
            Discipline::Tty(ld) => ld.output(data),
            Discipline::Pass(_) => data.to_vec(),
        };
        host_write(host_fd, &out)?;
        Ok(data.len())
    }

    /// Whether a read would not block (POLLIN).
    pub fn readable(&'static self) -> bool {
        self.start_reader();
        let st = self.lock();
        st.eof
            || match &st.disc {
                Discipline::Pass(q) => !q.is_empty(),
                Discipline::Tty(ld) => ld.readable(),
            }
    }

    pub fn available(&self) -> usize {
        match &self.lock().disc {
            Discipline::Pass(q) => q.len(),
            Discipline::Tty(ld) => ld.available(),
        }
    }

    pub fn foreground(&self) -> i32 {
        self.lock().foreground
    }

    pub fn set_foreground(&self, pgrp: i32) {
        self.lock().foreground = pgrp;
    }

    /// TCGETS: the termios guests see (ENOTTY when not a terminal).
    pub fn termios(&self) -> Result<Termios, Errno> {
        match &self.lock().disc {
            Discipline::Tty(ld) => Ok(ld.termios()),
            Discipline::Pass(_) => Err(Errno::ENOTTY),
        }
    }

    pub fn set_termios(&self, t: Termios, flush: bool) -> Result<(), Errno> {
        let released = match &mut self.lock().disc {
            Discipline::Tty(ld) => {
                ld.set_termios(t, flush);
                ld.take_pending_output()
            }
            Discipline::Pass(_) => return Err(Errno::ENOTTY),
        };
        let _ = host_write(1, &released);
        self.wq.notify_all();
        Ok(())
    }

    pub fn winsize(&self) -> Result<Winsize, Errno> {
        match &self.lock().disc {
            Discipline::Tty(ld) => Ok(ld.winsize()),
            Discipline::Pass(_) => Err(Errno::ENOTTY),
        }
    }

    /// TIOCSWINSZ; true when it changed (the caller sends SIGWINCH).
    pub fn set_winsize(&self, w: Winsize) -> Result<bool, Errno> {
        match &mut self.lock().disc {
            Discipline::Tty(ld) => Ok(ld.set_winsize(w)),
            Discipline::Pass(_) => Err(Errno::ENOTTY),
        }
    }

    /// Whether writes from a background process group must stop (TOSTOP).
    pub fn tostop(&self) -> bool {
        match &self.lock().disc {
            Discipline::Tty(ld) => ld.termios().l(tty::flags::TOSTOP),
            Discipline::Pass(_) => false,
        }
    }
}
