//! The console's driver: the host terminal behind the kernel's stdin and stdout.
//!
//! The console itself is a [`Tty`] like every pseudo-terminal (fs/tty.rs); this is
//! only its other side. When stdin is a terminal, the host terminal is put in raw
//! mode and the console runs a line discipline: a cothread feeds typed bytes to
//! [`Tty::receive`] (echo, ^C/^Z/^\), and output is written to the kernel's stdout
//! (stderr for pid 1's fd 2). The host terminal's settings are restored on every exit
//! path. When stdin is not a terminal, bytes pass through untouched and terminal
//! ioctls say ENOTTY, as a pipe would.

use std::sync::{Arc, OnceLock};

use nix::errno::Errno;
use tty::Winsize;

use super::tty::Tty;

/// The host side of the console: the cothread that reads the kernel's stdin.
#[derive(Default)]
pub struct HostTerminal {
    reader: OnceLock<()>,
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

/// Writes all of `data` to one of the kernel's own descriptors.
pub fn host_write(fd: i32, data: &[u8]) -> Result<usize, Errno> {
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

/// At boot: with a terminal on stdin, take it over (raw mode, line discipline) and
/// start reading at once so ^C works before the guest first reads. Returns whether
/// the console is a terminal.
pub fn attach(console: &Arc<Tty>) -> bool {
    // SAFETY: isatty on our own stdin.
    if unsafe { libc::isatty(0) } == 0 || !enter_raw_mode() {
        return false;
    }
    console.attach_terminal(host_winsize());
    if let Some(h) = console.console_host() {
        h.start_reader(console);
    }
    true
}

/// The host terminal was resized (SIGWINCH to vkernel): the same path as TIOCSWINSZ.
pub fn host_resized(console: &Tty) {
    if console.is_terminal() {
        let _ = console.set_winsize(host_winsize());
    }
}

impl HostTerminal {
    /// Starts the reader on first use, so a guest that never reads leaves a
    /// non-terminal stdin alone.
    pub fn start_reader(&self, console: &Arc<Tty>) {
        self.reader.get_or_init(|| {
            let tty = console.clone();
            let spawned = std::thread::Builder::new()
                .name("console".into())
                .spawn(move || pump(&tty));
            if spawned.is_err() {
                console.set_host_eof();
            }
        });
    }
}

/// The reader cothread: typed bytes into the console until stdin ends. It is no
/// task, so a checkpoint does not park it: each delivery waits instead while one is
/// being taken (`Tty::host_input`), and what it read meanwhile lands after the thaw.
fn pump(console: &Tty) {
    let mut chunk = [0u8; 4096];
    loop {
        // SAFETY: reading into a valid buffer from the kernel's stdin.
        let n = unsafe { libc::read(0, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n < 0 && Errno::last() == Errno::EINTR {
            continue;
        }
        if n <= 0 {
            console.host_input(&mut || console.set_host_eof());
            return;
        }
        // Bytes beyond the line discipline's backlog are dropped, as a full tty
        // buffer drops them on Linux.
        console.host_input(&mut || {
            console.receive(&chunk[..n as usize]);
        });
    }
}
