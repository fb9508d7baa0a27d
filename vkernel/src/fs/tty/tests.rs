use std::sync::Mutex;

use super::*;
use crate::sched::testing::Idle;

/// Records what a terminal asks of the kernel.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.calls.lock().unwrap())
    }
}

impl TtyHost for Recorder {
    fn signal_group(&self, pgid: i32, sig: i32) {
        self.calls
            .lock()
            .unwrap()
            .push(format!("signal {pgid} {sig}"));
    }
    fn hangup(&self, id: TtyId, sid: i32, pgrp: Option<i32>) {
        self.calls
            .lock()
            .unwrap()
            .push(format!("hangup {id:?} {sid} {pgrp:?}"));
    }
    fn pty_closed(&self, index: u32) {
        self.calls.lock().unwrap().push(format!("closed {index}"));
    }
    fn deliver_input(&self, deliver: &mut dyn FnMut()) {
        self.calls.lock().unwrap().push("input".into());
        deliver();
    }
}

fn pty() -> (Arc<Tty>, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let tty = Tty::new_pty(3, rec.clone());
    tty.set_locked(false);
    tty.open_slave().unwrap();
    (tty, rec)
}

fn master_text(tty: &Tty) -> String {
    let mut buf = [0u8; 4096];
    let n = tty.master_read(&mut buf, true, &Idle::new()).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn master_input_is_edited_echoed_and_read_by_lines() {
    let (tty, _) = pty();
    let b = Idle::new();
    assert_eq!(tty.master_write(b"helo\x7flo\n", true, &b), Ok(8));
    assert_eq!(master_text(&tty), "helo\x08 \x08lo\r\n");
    let mut buf = [0u8; 64];
    assert_eq!(tty.read(&mut buf, true, &b), Ok(6));
    assert_eq!(&buf[..6], b"hello\n");
    assert_eq!(tty.read(&mut buf, true, &b), Err(Errno::EAGAIN));
    assert_eq!(tty.write(b"out\n", true, &b, 1), Ok(4));
    assert_eq!(
        master_text(&tty),
        "out\r\n",
        "ONLCR on the way to the master"
    );
}

#[test]
fn interrupt_goes_to_the_foreground_group() {
    let (tty, rec) = pty();
    tty.set_ctrl(7, 9);
    assert_eq!(tty.master_write(b"\x03", true, &Idle::new()), Ok(1));
    assert_eq!(rec.take(), ["signal 9 2"]);
    assert_eq!(master_text(&tty), "^C");
}

#[test]
fn locked_slave_and_closing_sides() {
    let rec = Arc::new(Recorder::default());
    let tty = Tty::new_pty(0, rec.clone());
    assert_eq!(tty.open_slave(), Err(Errno::EIO), "locked until unlockpt");
    tty.set_locked(false);
    tty.open_slave().unwrap();
    tty.release_slave();
    let mut buf = [0u8; 8];
    let b = Idle::new();
    assert_eq!(tty.master_read(&mut buf, true, &b), Err(Errno::EIO));
    assert_ne!(tty.master_poll() & EPOLLHUP, 0);
    tty.open_slave().unwrap();
    tty.set_ctrl(4, 5);
    tty.release_master();
    assert_eq!(rec.take(), ["hangup Pty(0) 4 Some(5)", "closed 0"]);
    assert_eq!(tty.read(&mut buf, false, &b), Ok(0), "hung up: end of file");
    assert_eq!(tty.write(b"x", false, &b, 1), Err(Errno::EIO));
    assert_eq!(tty.ctrl(), (None, None));
}

#[test]
fn vtime_times_out_with_nothing_and_vmin_collects_bytes() {
    let (tty, _) = pty();
    let b = Idle::new();
    let mut t = tty.termios().unwrap();
    t.lflag &= !(tty::flags::ICANON | tty::flags::ECHO);
    t.cc[tty::flags::VMIN] = 0;
    t.cc[tty::flags::VTIME] = 1;
    tty.set_termios(t, false).unwrap();
    let mut buf = [0u8; 8];
    let start = Instant::now();
    assert_eq!(tty.read(&mut buf, false, &b), Ok(0));
    assert!(start.elapsed() >= Duration::from_millis(90));
    // VMIN 3 with a timer: the timer only runs once bytes came, and ends the read.
    t.cc[tty::flags::VMIN] = 3;
    tty.set_termios(t, false).unwrap();
    tty.master_write(b"ab", true, &b).unwrap();
    assert_eq!(tty.read(&mut buf, false, &b), Ok(2));
    tty.master_write(b"cdef", true, &b).unwrap();
    assert_eq!(tty.read(&mut buf[..3], false, &b), Ok(3));
    // VMIN 0, VTIME 0: a poll.
    t.cc[tty::flags::VMIN] = 0;
    t.cc[tty::flags::VTIME] = 0;
    tty.set_termios(t, false).unwrap();
    assert_eq!(tty.read(&mut buf, true, &b), Ok(1));
    assert_eq!(tty.read(&mut buf, true, &b), Ok(0));
}

#[test]
fn a_pty_round_trips_through_a_checkpoint() {
    let (tty, _) = pty();
    let b = Idle::new();
    tty.set_ctrl(10, 12);
    tty.set_winsize(Winsize {
        rows: 40,
        cols: 100,
        xpixel: 0,
        ypixel: 0,
    })
    .unwrap();
    tty.master_write(b"first\nsecond li", true, &b).unwrap();
    tty.write(b"unread\n", true, &b, 1).unwrap();

    let saved = tty.save();
    let bytes = ckpt::encode(&saved).unwrap();
    let back: SavedTty = ckpt::decode(&bytes).unwrap();
    assert_eq!(ckpt::encode(&back).unwrap(), bytes);
    let rec = Arc::new(Recorder::default());
    let q = Tty::restore(back, rec.clone()).unwrap();
    assert_eq!(q.ctrl(), (Some(10), Some(12)));
    assert_eq!(q.winsize().unwrap().cols, 100);
    assert!(q.master_text_matches("first\r\nsecond liunread\r\n"));
    let mut buf = [0u8; 64];
    assert_eq!(q.read(&mut buf, true, &b), Ok(6));
    assert_eq!(&buf[..6], b"first\n");
    q.master_write(b"ne\n", true, &b).unwrap();
    assert_eq!(q.read(&mut buf, true, &b), Ok(12));
    assert_eq!(&buf[..12], b"second line\n");
    // The open counts came back: closing the one master hangs the slave up.
    q.release_master();
    assert_eq!(rec.take(), ["hangup Pty(3) 10 Some(12)", "closed 3"]);
}

/// Host input reaches the console through the host, which holds it during a
/// checkpoint.
#[test]
fn host_input_goes_through_the_host() {
    let rec = Arc::new(Recorder::default());
    let console = Tty::new_console(rec.clone());
    console.host_input(&mut || {
        console.receive(b"typed\n");
    });
    console.host_input(&mut || console.set_host_eof());
    assert_eq!(rec.take(), ["input", "input"]);
    assert_eq!(console.available(), 6);
}

/// The old stdin's end of file does not outlive a thaw (the thawing vkernel's stdin
/// is attached anew); its unread bytes do.
#[test]
fn a_thawed_console_keeps_unread_input_but_not_the_old_end_of_file() {
    let rec = Arc::new(Recorder::default());
    let console = Tty::new_console(rec.clone());
    console.receive(b"typed\n");
    console.set_host_eof();
    let back = Tty::restore(console.save(), rec.clone()).unwrap();
    assert_eq!(back.available(), 6, "unread input is kept");
    let ended = Tty::new_console(rec.clone());
    ended.set_host_eof();
    let back = Tty::restore(ended.save(), rec).unwrap();
    assert_eq!(
        back.poll() & EPOLLIN,
        0,
        "no end of file until the new stdin ends"
    );
}

/// Thawed on a terminal, a console that was one keeps its settings and unread input;
/// only the size is the new terminal's, and the foreground group hears of it.
#[test]
fn a_thawed_terminal_console_keeps_its_line_discipline() {
    let rec = Arc::new(Recorder::default());
    let console = Tty::new_console(rec.clone());
    let size = |cols| Winsize {
        rows: 24,
        cols,
        xpixel: 0,
        ypixel: 0,
    };
    console.attach_terminal(size(80));
    console.set_ctrl(1, 1);
    let mut t = console.termios().unwrap();
    t.lflag &= !(tty::flags::ICANON | tty::flags::ECHO);
    console.set_termios(t, false).unwrap();
    console.receive(b"raw");

    let back = Tty::restore(console.save(), rec.clone()).unwrap();
    back.attach_terminal(size(100));
    assert_eq!(back.termios().unwrap().lflag, t.lflag, "still raw");
    assert_eq!(back.available(), 3, "unread input kept");
    assert_eq!(back.winsize().unwrap().cols, 100);
    assert_eq!(rec.take(), ["signal 1 28"], "SIGWINCH for the new size");
}

#[test]
fn restore_refuses_a_console_with_pty_state() {
    let (tty, rec) = pty();
    let mut saved = tty.save();
    saved.id = TtyId::Console;
    assert!(Tty::restore(saved, rec).is_err());
}

impl Tty {
    fn master_text_matches(&self, want: &str) -> bool {
        master_text(self) == want
    }
}
