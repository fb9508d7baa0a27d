//! Terminals: one `Tty` object for the console and for every pseudo-terminal.
//!
//! A `Tty` is Linux's tty_struct with its n_tty line discipline (the `tty` crate):
//! termios, the input queue and echo, the window size, and the session and
//! foreground process group it controls (job control). What differs is only the
//! other side, the *driver*: the console's is the host terminal (typed bytes come
//! from a cothread reading the kernel's stdin, output goes to its stdout/stderr), a
//! pseudo-terminal's is the master side, which reads what the slave outputs and
//! whose writes are the slave's input. Typed ^C/^Z/^\, TIOCSWINSZ's SIGWINCH and the
//! hangup reach processes through [`TtyHost`], the kernel's side, so this module
//! knows nothing of the process table.
//!
//! Lock order: the state lock is never held while calling the host or writing to
//! the host terminal.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use tty::{FlowAction, JobSignal, LineDiscipline, ReadOutcome, Termios, Winsize};

use super::console::HostTerminal;
use super::epoll::{EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDNORM, EPOLLWRNORM};
use crate::sched::{block_on, block_on_partial, Block, WaitQueue};

/// Which terminal: what a process records as its controlling terminal, and what a
/// checkpoint names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TtyId {
    Console,
    /// /dev/pts/N.
    Pty(u32),
}

/// What a terminal needs from the kernel: process groups and sessions live there.
pub trait TtyHost: Send + Sync {
    /// A signal from the terminal (^C, SIGWINCH, SIGHUP) to process group `pgid`.
    fn signal_group(&self, pgid: i32, sig: i32);
    /// The terminal hung up while it controlled session `sid` with `pgrp` in the
    /// foreground (Linux's tty_signal_session_leader): its leader gets SIGHUP and
    /// SIGCONT, and every process of the session loses it as controlling terminal.
    fn hangup(&self, id: TtyId, sid: i32, pgrp: Option<i32>);
    /// A pty's master closed: /dev/pts/N goes away.
    fn pty_closed(&self, index: u32);
    /// Runs `deliver`, the console reader handing over what it read from the host,
    /// when no checkpoint is being taken (it waits through one), so a terminal never
    /// changes while it is saved.
    fn deliver_input(&self, deliver: &mut dyn FnMut());
}

/// How input is handled. `Pass` is the console when the kernel's stdin is not a
/// terminal: bytes pass through untouched and terminal ioctls say ENOTTY, as a pipe.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Discipline {
    Pass(VecDeque<u8>),
    Ldisc(Box<LineDiscipline>),
}

/// The master side of a pseudo-terminal, kept under the slave's lock so one lock
/// orders everything that crosses between the two.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtyState {
    /// Slave output (and echo) for the master to read.
    pub to_master: VecDeque<u8>,
    /// Slave opens fail with EIO until unlockpt (TIOCSPTLCK 0).
    pub locked: bool,
    /// Open file descriptions of each side.
    pub masters: usize,
    pub slaves: usize,
    /// The last slave closed (Linux's TTY_OTHER_CLOSED on the master): once drained,
    /// master reads say EIO and poll says POLLHUP. A new slave open clears it.
    pub slave_closed: bool,
    /// The master closed: the slave is hung up (reads 0, writes and ioctls EIO).
    pub hung_up: bool,
}

/// How much slave output may wait for the master before slave writes block (Linux
/// bounds a pty's buffer at 64 KiB).
pub const PTY_BUFFER: usize = 65536;

struct TtyState {
    disc: Discipline,
    /// The session this is the controlling terminal of, and its foreground group.
    session: Option<i32>,
    pgrp: Option<i32>,
    /// The console: the kernel's stdin reached end of file.
    host_eof: bool,
    /// Some for a pseudo-terminal.
    pty: Option<PtyState>,
}

pub struct Tty {
    pub id: TtyId,
    state: Mutex<TtyState>,
    /// Readers and writers of both sides wait here; every change notifies it.
    pub wq: WaitQueue,
    host: Arc<dyn TtyHost>,
    /// The console's host side (None for a pty).
    console: Option<HostTerminal>,
}

impl std::fmt::Debug for Tty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tty({:?})", self.id)
    }
}

fn job_signal(s: JobSignal) -> i32 {
    match s {
        JobSignal::Int => libc::SIGINT,
        JobSignal::Quit => libc::SIGQUIT,
        JobSignal::Tstp => libc::SIGTSTP,
    }
}

/// Output bytes the host terminal must still get (written once the lock is gone).
type HostOut = Vec<u8>;

impl TtyState {
    /// Output for the other side: into a pty's master queue now, or returned for the
    /// caller to write to the host terminal after unlocking.
    fn emit(&mut self, bytes: Vec<u8>) -> HostOut {
        match &mut self.pty {
            Some(p) => {
                p.to_master.extend(bytes);
                Vec::new()
            }
            None => bytes,
        }
    }

    fn hung_up(&self) -> bool {
        self.pty.as_ref().is_some_and(|p| p.hung_up)
    }

    fn ldisc(&mut self) -> Result<&mut LineDiscipline, Errno> {
        match &mut self.disc {
            Discipline::Ldisc(ld) => Ok(ld),
            Discipline::Pass(_) => Err(Errno::ENOTTY),
        }
    }

    /// Room for slave output before writers must wait.
    fn output_room(&self) -> usize {
        match &self.pty {
            Some(p) => PTY_BUFFER.saturating_sub(p.to_master.len()),
            None => usize::MAX,
        }
    }

    fn output_stopped(&self) -> bool {
        matches!(&self.disc, Discipline::Ldisc(ld) if ld.output_stopped())
    }

    /// (canonical, VMIN, VTIME) for read timing; a pass-through console reads like a
    /// pipe (VMIN 1, no timer).
    fn read_mode(&self) -> (bool, u8, u8) {
        match &self.disc {
            Discipline::Ldisc(ld) => {
                let (min, time) = ld.min_time();
                (ld.termios().l(tty::flags::ICANON), min, time)
            }
            Discipline::Pass(_) => (false, 1, 0),
        }
    }

    /// Takes what a read can have now (0 bytes: nothing, or end of file for `eof`).
    fn take(&mut self, buf: &mut [u8]) -> (usize, bool) {
        match &mut self.disc {
            Discipline::Pass(q) => {
                let n = buf.len().min(q.len());
                for (d, s) in buf.iter_mut().zip(q.drain(..n)) {
                    *d = s;
                }
                (n, false)
            }
            Discipline::Ldisc(ld) => match ld.read(buf.len()) {
                ReadOutcome::Data(v) => {
                    buf[..v.len()].copy_from_slice(&v);
                    (v.len(), false)
                }
                ReadOutcome::Eof => (0, true),
                ReadOutcome::WouldBlock => (0, false),
            },
        }
    }
}

impl Tty {
    fn make(id: TtyId, disc: Discipline, pty: Option<PtyState>, host: Arc<dyn TtyHost>) -> Tty {
        Tty {
            id,
            state: Mutex::new(TtyState {
                disc,
                session: None,
                pgrp: None,
                host_eof: false,
                pty,
            }),
            wq: WaitQueue::default(),
            host,
            console: matches!(id, TtyId::Console).then(HostTerminal::default),
        }
    }

    /// The console, passing bytes through until [`Tty::attach_terminal`].
    pub fn new_console(host: Arc<dyn TtyHost>) -> Arc<Tty> {
        let pass = Discipline::Pass(VecDeque::new());
        Arc::new(Self::make(TtyId::Console, pass, None, host))
    }

    /// A fresh pseudo-terminal pair, number `index`, opened once on the master side
    /// and locked (Linux's ptmx open).
    pub fn new_pty(index: u32, host: Arc<dyn TtyHost>) -> Arc<Tty> {
        let pty = PtyState {
            locked: true,
            masters: 1,
            ..PtyState::default()
        };
        let ld = Discipline::Ldisc(Box::default());
        Arc::new(Self::make(TtyId::Pty(index), ld, Some(pty), host))
    }

    fn lock(&self) -> MutexGuard<'_, TtyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn console_host(&self) -> Option<&HostTerminal> {
        self.console.as_ref()
    }

    /// The console's stdin is a terminal: run a line discipline from now on. A
    /// thawed console that had one keeps it (termios, unread input, echo state): the
    /// new terminal only brings its size, as a resize would (SIGWINCH if it changed).
    /// Bytes a pass-through console still held are typed into the new discipline.
    pub fn attach_terminal(&self, w: Winsize) {
        let queued = {
            let mut st = self.lock();
            match &mut st.disc {
                Discipline::Pass(q) => {
                    let queued: Vec<u8> = q.drain(..).collect();
                    st.disc = Discipline::Ldisc(Box::default());
                    queued
                }
                Discipline::Ldisc(_) => Vec::new(),
            }
        };
        let _ = self.set_winsize(w);
        if !queued.is_empty() {
            self.receive(&queued);
        }
    }

    /// The console's stdin reached end of file.
    pub fn set_host_eof(&self) {
        self.lock().host_eof = true;
        self.wq.notify_all();
    }

    /// Whether terminal ioctls work (not a pass-through console).
    pub fn is_terminal(&self) -> bool {
        matches!(self.lock().disc, Discipline::Ldisc(_))
    }

    pub fn is_pty(&self) -> bool {
        matches!(self.id, TtyId::Pty(_))
    }

    /// Writes output to the host terminal (the console only; a pty's output is
    /// already in its master queue).
    fn flush_host(&self, out: &[u8], host_fd: i32) -> Result<(), Errno> {
        match &self.console {
            Some(_) if !out.is_empty() => super::console::host_write(host_fd, out).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Sends typed signals to the foreground group and echo to the other side.
    fn apply(&self, out: HostOut, signals: Vec<JobSignal>, pgrp: Option<i32>) {
        let _ = self.flush_host(&out, 1);
        if let Some(pg) = pgrp {
            for s in signals {
                self.host.signal_group(pg, job_signal(s));
            }
        }
    }
}

/// Input: what the user types (console) or the master writes (pty).
impl Tty {
    /// Feeds input through the line discipline; returns how many bytes it took
    /// (fewer when its backlog is full).
    pub fn receive(&self, bytes: &[u8]) -> usize {
        let (n, out, signals, pgrp) = {
            let mut st = self.lock();
            let (n, echo, signals) = match &mut st.disc {
                Discipline::Pass(q) => {
                    q.extend(bytes);
                    (bytes.len(), Vec::new(), Vec::new())
                }
                Discipline::Ldisc(ld) => {
                    let fx = ld.input(bytes);
                    (fx.accepted, fx.echo, fx.signals)
                }
            };
            let out = st.emit(echo);
            (n, out, signals, st.pgrp)
        };
        self.apply(out, signals, pgrp);
        self.wq.notify_all();
        n
    }

    /// What the console's reader read from the host (bytes, or end of file):
    /// `deliver` runs through [`TtyHost::deliver_input`].
    pub fn host_input(&self, deliver: &mut dyn FnMut()) {
        self.host.deliver_input(deliver);
    }

    /// Input that waited because the queue was full goes in once a read made room.
    fn drain_backlog(&self) {
        let backlog = matches!(&self.lock().disc, Discipline::Ldisc(ld) if ld.backlog() > 0);
        if backlog {
            self.receive(&[]);
        }
    }
}

/// The terminal side: the console, or a pty's slave.
impl Tty {
    /// read(2): canonical lines, or non-canonical bytes with Linux's VMIN/VTIME
    /// timing (n_tty_read): VMIN=0 VTIME=0 polls; VMIN=0 VTIME=t waits up to t/10 s
    /// for the first byte; VMIN=m>0 waits for m bytes (at most the buffer), and with
    /// VTIME=t restarts a t/10 s timer whenever bytes arrive. Bytes read before a
    /// timeout or a signal are returned.
    pub fn read(
        self: &Arc<Self>,
        buf: &mut [u8],
        nonblock: bool,
        b: &dyn Block,
    ) -> Result<usize, Errno> {
        if let Some(c) = &self.console {
            c.start_reader(self);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let (canon, vmin, vtime) = self.lock().read_mode();
        let want = if canon {
            1
        } else {
            usize::from(vmin).clamp(1, buf.len())
        };
        let timer = Duration::from_millis(100 * u64::from(vtime));
        let polling = !canon && vmin == 0 && vtime == 0;
        let mut deadline = (!canon && vmin == 0 && vtime > 0).then(|| Instant::now() + timer);
        let mut got = 0;
        while got < want {
            let step = block_on_partial(b, got > 0, &[&self.wq], deadline, || {
                self.read_step(&mut buf[got..], nonblock, polling)
            });
            match step {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => got += n,
                Ok(Err(_)) | Err(_) if got > 0 => break,
                Err(Errno::ETIMEDOUT) => break,
                Ok(Err(e)) | Err(e) => return Err(e),
            }
            self.drain_backlog();
            if canon {
                break;
            }
            if vmin > 0 && vtime > 0 {
                deadline = Some(Instant::now() + timer);
            }
        }
        Ok(got)
    }

    /// One attempt: Some(Ok(n > 0)) bytes, Some(Ok(0)) end of file (or nothing for a
    /// polling read), Some(Err) an error, None to wait.
    fn read_step(
        &self,
        buf: &mut [u8],
        nonblock: bool,
        polling: bool,
    ) -> Option<Result<usize, Errno>> {
        let mut st = self.lock();
        if st.hung_up() {
            return Some(Ok(0));
        }
        match st.take(buf) {
            (0, true) => Some(Ok(0)),
            (0, false) if st.host_eof || polling => Some(Ok(0)),
            (0, false) => nonblock.then_some(Err(Errno::EAGAIN)),
            (n, _) => Some(Ok(n)),
        }
    }

    /// write(2): output processing, then the other side; waits while output is
    /// stopped (^S, TCOOFF) or a pty's master has not read enough. `host_fd` is where
    /// console output goes (1, or 2 for pid 1's stderr).
    pub fn write(
        &self,
        data: &[u8],
        nonblock: bool,
        b: &dyn Block,
        host_fd: i32,
    ) -> Result<usize, Errno> {
        let mut done = 0;
        while done < data.len() {
            let step = block_on_partial(b, done > 0, &[&self.wq], None, || {
                self.write_step(&data[done..], nonblock)
            });
            match step {
                Ok(Ok((n, out))) => {
                    self.wq.notify_all();
                    if let Err(e) = self.flush_host(&out, host_fd) {
                        return if done == 0 { Err(e) } else { Ok(done) };
                    }
                    done += n;
                }
                Ok(Err(e)) | Err(e) if done == 0 => return Err(e),
                _ => break,
            }
        }
        Ok(done)
    }

    fn write_step(&self, data: &[u8], nonblock: bool) -> Option<Result<(usize, HostOut), Errno>> {
        let mut st = self.lock();
        if st.hung_up() {
            return Some(Err(Errno::EIO));
        }
        let room = st.output_room();
        if room == 0 || st.output_stopped() {
            return nonblock.then_some(Err(Errno::EAGAIN));
        }
        let n = data.len().min(room);
        let out = match &mut st.disc {
            Discipline::Pass(_) => data[..n].to_vec(),
            Discipline::Ldisc(ld) => ld.output(&data[..n]),
        };
        Some(Ok((n, st.emit(out))))
    }

    /// poll(2) bits of the terminal side.
    pub fn poll(&self) -> u32 {
        let st = self.lock();
        if st.hung_up() {
            return EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDNORM | EPOLLWRNORM;
        }
        let readable = st.host_eof
            || match &st.disc {
                Discipline::Pass(q) => !q.is_empty(),
                Discipline::Ldisc(ld) => ld.readable(),
            };
        let writable = st.output_room() > 0 && !st.output_stopped();
        let mut m = 0;
        if readable {
            m |= EPOLLIN | EPOLLRDNORM;
        }
        if writable {
            m |= EPOLLOUT | EPOLLWRNORM;
        }
        m
    }

    /// FIONREAD on the terminal side.
    pub fn available(&self) -> usize {
        match &self.lock().disc {
            Discipline::Pass(q) => q.len(),
            Discipline::Ldisc(ld) => ld.available(),
        }
    }
}

/// The master side of a pseudo-terminal.
impl Tty {
    /// read(2) on the master: what the slave output; EIO once the slave closed and
    /// everything is read.
    pub fn master_read(
        &self,
        buf: &mut [u8],
        nonblock: bool,
        b: &dyn Block,
    ) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = block_on(b, &[&self.wq], None, || {
            let mut st = self.lock();
            let p = st.pty.as_mut()?;
            if !p.to_master.is_empty() {
                let n = buf.len().min(p.to_master.len());
                for (d, s) in buf.iter_mut().zip(p.to_master.drain(..n)) {
                    *d = s;
                }
                return Some(Ok(n));
            }
            if p.slave_closed {
                return Some(Err(Errno::EIO));
            }
            nonblock.then_some(Err(Errno::EAGAIN))
        })??;
        self.wq.notify_all();
        Ok(n)
    }

    /// write(2) on the master: input for the slave (echo comes back to the master).
    /// Waits while the slave's line discipline has no room.
    pub fn master_write(&self, data: &[u8], nonblock: bool, b: &dyn Block) -> Result<usize, Errno> {
        let mut done = 0;
        while done < data.len() {
            let room = block_on_partial(b, done > 0, &[&self.wq], None, || {
                let room = self.input_room();
                if room > 0 {
                    Some(Ok(room))
                } else {
                    nonblock.then_some(Err(Errno::EAGAIN))
                }
            });
            match room {
                Ok(Ok(room)) => {
                    let end = done + room.min(data.len() - done);
                    done += self.receive(&data[done..end]);
                }
                Ok(Err(e)) | Err(e) if done == 0 => return Err(e),
                _ => break,
            }
        }
        Ok(done)
    }

    fn input_room(&self) -> usize {
        match &self.lock().disc {
            Discipline::Ldisc(ld) => tty::BACKLOG_LIMIT.saturating_sub(ld.backlog()),
            Discipline::Pass(_) => usize::MAX,
        }
    }

    /// poll(2) bits of the master.
    pub fn master_poll(&self) -> u32 {
        let room = self.input_room();
        let st = self.lock();
        let Some(p) = &st.pty else { return 0 };
        let mut m = 0;
        if !p.to_master.is_empty() {
            m |= EPOLLIN | EPOLLRDNORM;
        }
        if room > 0 {
            m |= EPOLLOUT | EPOLLWRNORM;
        }
        if p.slave_closed {
            m |= EPOLLHUP;
        }
        m
    }

    /// FIONREAD on the master.
    pub fn master_available(&self) -> usize {
        self.lock().pty.as_ref().map_or(0, |p| p.to_master.len())
    }

    /// Opening the slave (/dev/pts/N or TIOCGPTPEER): EIO while locked or hung up.
    pub fn open_slave(&self) -> Result<(), Errno> {
        let mut st = self.lock();
        let p = st.pty.as_mut().ok_or(Errno::ENXIO)?;
        if p.locked || p.hung_up {
            return Err(Errno::EIO);
        }
        p.slaves += 1;
        p.slave_closed = false;
        Ok(())
    }

    /// A slave open file description went away.
    pub fn release_slave(&self) {
        if let Some(p) = self.lock().pty.as_mut() {
            p.slaves = p.slaves.saturating_sub(1);
            p.slave_closed |= p.slaves == 0;
        }
        self.wq.notify_all();
    }

    /// The master's open file description went away: the slave hangs up, its
    /// session hears about it, and /dev/pts/N is removed.
    pub fn release_master(&self) {
        let (session, pgrp) = {
            let mut st = self.lock();
            let Some(p) = st.pty.as_mut() else { return };
            p.masters = p.masters.saturating_sub(1);
            if p.masters > 0 {
                return;
            }
            p.hung_up = true;
            (st.session.take(), st.pgrp.take())
        };
        self.wq.notify_all();
        if let Some(sid) = session {
            self.host.hangup(self.id, sid, pgrp);
        }
        if let TtyId::Pty(n) = self.id {
            self.host.pty_closed(n);
        }
    }

    /// TIOCSPTLCK.
    pub fn set_locked(&self, locked: bool) {
        if let Some(p) = self.lock().pty.as_mut() {
            p.locked = locked;
        }
    }

    /// TIOCGPTLCK.
    pub fn locked(&self) -> bool {
        self.lock().pty.as_ref().is_some_and(|p| p.locked)
    }

    /// Whether the master closed (slave reads 0, writes and ioctls EIO).
    pub fn hung_up(&self) -> bool {
        self.lock().hung_up()
    }
}

/// Settings and control (the ioctls; the syscall layer checks who may).
impl Tty {
    pub fn termios(&self) -> Result<Termios, Errno> {
        Ok(self.lock().ldisc()?.termios())
    }

    /// TCSETS*; `flush` for TCSETSF.
    pub fn set_termios(&self, t: Termios, flush: bool) -> Result<(), Errno> {
        let out = {
            let mut st = self.lock();
            let ld = st.ldisc()?;
            ld.set_termios(t, flush);
            let released = ld.take_pending_output();
            st.emit(released)
        };
        let _ = self.flush_host(&out, 1);
        self.wq.notify_all();
        self.drain_backlog();
        Ok(())
    }

    pub fn winsize(&self) -> Result<Winsize, Errno> {
        Ok(self.lock().ldisc()?.winsize())
    }

    /// TIOCSWINSZ (and the host terminal's resize): SIGWINCH to the foreground group
    /// when the size really changed.
    pub fn set_winsize(&self, w: Winsize) -> Result<(), Errno> {
        let (changed, pgrp) = {
            let mut st = self.lock();
            (st.ldisc()?.set_winsize(w), st.pgrp)
        };
        if let (true, Some(pg)) = (changed, pgrp) {
            self.host.signal_group(pg, libc::SIGWINCH);
        }
        Ok(())
    }

    /// Whether writes from a background process group must stop (TOSTOP).
    pub fn tostop(&self) -> bool {
        matches!(&self.lock().disc, Discipline::Ldisc(ld) if ld.termios().l(tty::flags::TOSTOP))
    }

    /// TCFLSH: drop unread input and/or output not yet read by the other side.
    pub fn flush(&self, input: bool, output: bool) -> Result<(), Errno> {
        {
            let mut st = self.lock();
            if input {
                st.ldisc()?.flush_input();
            }
            if let (true, Some(p)) = (output, st.pty.as_mut()) {
                p.to_master.clear();
            }
        }
        self.wq.notify_all();
        Ok(())
    }

    /// TCFLSH on the master: its input is the slave's output.
    pub fn master_flush_input(&self) {
        if let Some(p) = self.lock().pty.as_mut() {
            p.to_master.clear();
        }
        self.wq.notify_all();
    }

    /// TCXONC.
    pub fn flow(&self, action: FlowAction) -> Result<(), Errno> {
        let out = {
            let mut st = self.lock();
            let bytes = st.ldisc()?.flow(action);
            st.emit(bytes)
        };
        let _ = self.flush_host(&out, 1);
        self.wq.notify_all();
        Ok(())
    }

    /// (session, foreground group) it controls.
    pub fn ctrl(&self) -> (Option<i32>, Option<i32>) {
        let st = self.lock();
        (st.session, st.pgrp)
    }

    /// Becomes the controlling terminal of `sid` with `pgrp` in the foreground
    /// (Linux's __proc_set_tty).
    pub fn set_ctrl(&self, sid: i32, pgrp: i32) {
        let mut st = self.lock();
        st.session = Some(sid);
        st.pgrp = Some(pgrp);
    }

    /// No longer controls a session.
    pub fn clear_ctrl(&self) {
        let mut st = self.lock();
        st.session = None;
        st.pgrp = None;
    }

    /// TIOCSPGRP (checked by the caller).
    pub fn set_pgrp(&self, pgrp: i32) {
        self.lock().pgrp = Some(pgrp);
    }
}

/// A terminal as a checkpoint saves it: its line discipline (termios, queues, echo
/// state), the session and group it controls, and a pty's master side. The wait
/// queue is not saved (waiters re-wait after a thaw), nor the console's host side:
/// the thawing vkernel's stdin is attached anew, and whether the old one had ended
/// says nothing about it (input typed before the checkpoint and still unread is in
/// the queues, and is read first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedTty {
    pub id: TtyId,
    pub disc: Discipline,
    pub session: Option<i32>,
    pub pgrp: Option<i32>,
    pub pty: Option<PtyState>,
}

impl Tty {
    pub fn save(&self) -> SavedTty {
        let st = self.lock();
        SavedTty {
            id: self.id,
            disc: st.disc.clone(),
            session: st.session,
            pgrp: st.pgrp,
            pty: st.pty.clone(),
        }
    }

    /// Rebuilds a saved terminal. A pty keeps its open counts, so the caller must
    /// restore exactly that many open file descriptions of each side; a console must
    /// not have pty state, nor a pty lack it.
    pub fn restore(saved: SavedTty, host: Arc<dyn TtyHost>) -> Result<Arc<Tty>, ckpt::CkptError> {
        if matches!(saved.id, TtyId::Pty(_)) != saved.pty.is_some() {
            return Err(ckpt::CkptError::Decode(format!(
                "terminal {:?} with the wrong kind of driver state",
                saved.id
            )));
        }
        let tty = Self::make(saved.id, saved.disc, saved.pty, host);
        {
            let mut st = tty.lock();
            st.session = saved.session;
            st.pgrp = saved.pgrp;
        }
        Ok(Arc::new(tty))
    }
}

#[cfg(test)]
mod tests;
