//! The interactive console: `vkernel boot IMG` driven through a pseudo-terminal, as a
//! person at a terminal would: the init banner and the shell's prompt, echo of typed
//! input, line editing (backspace, ^U), ^C interrupting a foreground job (status 130),
//! ^Z stopping it and `fg` resuming it, `stty -a` showing a canonical, echoing
//! terminal, non-canonical reads with VMIN/VTIME, and the host terminal's settings
//! restored when the shell exits.
//!
//! vkernel runs as the session leader of a fresh session whose controlling terminal is
//! the pty's slave side (stdin, stdout and stderr); the test writes keystrokes to the
//! master side and reads everything the terminal shows. Every wait has a deadline and
//! fails with the whole transcript so far.
//!
//! `VKERNEL_CONSOLE_NATIVE=1` runs the host's `busybox sh -i` instead of vkernel (no
//! banner; the same prompt through PS1), to check the tests themselves; there
//! `exit_restores_the_host_terminal` is expected to fail (a plain shell leaves the
//! terminal as the guest set it; vkernel must restore the host's terminal).
//!
//! Tests still marked #[ignore] name what the kernel lacks for them.

use std::ffi::CStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vkernel_tests::*;

/// What the shell prints as its prompt (PS1 from the image's /etc/profile, in /).
const PROMPT: &str = "root@vkernel:/# ";
/// How long booting to the first prompt may take.
const BOOT: Duration = Duration::from_secs(15);
/// How long an ordinary command may take to show its output.
const STEP: Duration = Duration::from_secs(5);
/// The whole session's limit (the process group is killed after it).
const SESSION: Duration = Duration::from_secs(30);

fn image() -> PathBuf {
    static IMG: OnceLock<PathBuf> = OnceLock::new();
    IMG.get_or_init(|| rootfs::<&str>(&[])).clone()
}

fn native() -> bool {
    std::env::var_os("VKERNEL_CONSOLE_NATIVE").is_some()
}

/// The settings of a terminal that a program must give back (modes and control chars).
fn termios_of(fd: i32) -> String {
    // SAFETY: tcgetattr fills a plain C struct; fd is a terminal we own.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::tcgetattr(fd, &mut t) };
    assert_eq!(r, 0, "tcgetattr: {}", std::io::Error::last_os_error());
    // SAFETY: reading speeds from the struct tcgetattr filled.
    let (ispeed, ospeed) = unsafe { (libc::cfgetispeed(&t), libc::cfgetospeed(&t)) };
    format!(
        "iflag {:#o} oflag {:#o} cflag {:#o} lflag {:#o} cc {:?} speed {ispeed}/{ospeed}",
        t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag, t.c_cc
    )
}

/// A new pseudo-terminal of 80x24: (master, slave).
fn open_pty() -> (File, OwnedFd) {
    // SAFETY: plain libc calls on descriptors this function owns; ptsname_r writes
    // into a local buffer of the given size.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(libc::grantpt(master), 0, "grantpt");
        assert_eq!(libc::unlockpt(master), 0, "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(master, name.as_mut_ptr(), name.len()),
            0,
            "ptsname_r"
        );
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(
            slave >= 0,
            "open {:?}: {}",
            CStr::from_ptr(name.as_ptr()),
            std::io::Error::last_os_error()
        );
        let ws = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        libc::ioctl(master, libc::TIOCSWINSZ, &ws);
        (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave))
    }
}

/// vkernel (or the native shell) on a pseudo-terminal.
struct Console {
    master: File,
    slave: OwnedFd,
    child: Child,
    marker: String,
    /// Everything the terminal showed.
    screen: Arc<Mutex<Vec<u8>>>,
    /// Where the next `expect` starts looking.
    cursor: usize,
    stop: Arc<AtomicBool>,
    reader: Option<thread::JoinHandle<()>>,
    termios_before: String,
    started: Instant,
}

impl Console {
    fn start() -> Console {
        let (master, slave) = open_pty();
        let termios_before = termios_of(slave.as_raw_fd());
        let marker = format!(
            "console-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let mut cmd = if native() {
            let mut c = Command::new(busybox());
            c.args(["sh", "-i"])
                .env_clear()
                .env("PATH", GUEST_PATH)
                .env("HOME", "/")
                .env("PS1", PROMPT)
                .current_dir("/");
            c
        } else {
            let mut c = Command::new(vkernel_bin());
            c.arg("boot").arg(image());
            c
        };
        let dup = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty slave"));
        cmd.env("TERM", "vt100")
            .env(MARKER_VAR, &marker)
            .stdin(dup(&slave))
            .stdout(dup(&slave))
            .stderr(dup(&slave));
        // SAFETY: only async-signal-safe calls between fork and exec: a new session
        // whose controlling terminal is stdin (the pty slave).
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start vkernel on the pty");

        let screen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let mut master = master.try_clone().expect("dup the pty master");
            let screen = Arc::clone(&screen);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let mut pfd = libc::pollfd {
                        fd: master.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: poll on one descriptor we own, 50 ms timeout.
                    if unsafe { libc::poll(&mut pfd, 1, 50) } <= 0 {
                        continue;
                    }
                    match master.read(&mut buf) {
                        Ok(0) | Err(_) => thread::sleep(Duration::from_millis(20)),
                        Ok(n) => screen.lock().unwrap().extend_from_slice(&buf[..n]),
                    }
                }
            })
        };
        Console {
            master,
            slave,
            child,
            marker,
            screen,
            cursor: 0,
            stop,
            reader: Some(reader),
            termios_before,
            started: Instant::now(),
        }
    }

    fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    #[track_caller]
    fn fail(&mut self, what: &str) -> ! {
        self.kill();
        panic!(
            "{what}\n---- terminal transcript ({} s) ----\n{:?}\n----------------",
            self.started.elapsed().as_secs(),
            self.transcript()
        );
    }

    /// Wait until the terminal shows `text` (after what earlier expects consumed).
    #[track_caller]
    fn expect(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            {
                let screen = self.screen.lock().unwrap();
                let hay = &screen[self.cursor.min(screen.len())..];
                if let Some(i) = hay
                    .windows(text.len().max(1))
                    .position(|w| w == text.as_bytes())
                {
                    self.cursor += i + text.len();
                    return;
                }
            }
            if Instant::now() >= deadline || self.started.elapsed() > SESSION {
                self.fail(&format!(
                    "the terminal did not show {text:?} within {} ms",
                    within.as_millis()
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The shell's prompt.
    #[track_caller]
    fn prompt(&mut self, within: Duration) {
        self.expect(PROMPT, within);
    }

    /// Type bytes (a line ends with "\r", as a terminal sends Enter).
    fn send(&mut self, keys: &str) {
        self.master
            .write_all(keys.as_bytes())
            .expect("write to the pty master");
    }

    /// Boot (or start the native shell) up to the first prompt.
    #[track_caller]
    fn boot() -> Console {
        let mut c = Console::start();
        if !native() {
            c.expect(INIT_BANNER, BOOT);
        }
        c.prompt(BOOT);
        c
    }

    fn kill(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) of the process group (session) this test created.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        for p in find_run_processes(pgid, Some(&self.marker)) {
            // SAFETY: as above, one process of this run.
            unsafe { libc::kill(p.pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Type `exit N`, wait for vkernel to end with status N, check that nothing was
    /// left behind and that the terminal's settings are what they were before.
    #[track_caller]
    fn exit(mut self, code: i32) {
        self.send(&format!("exit {code}\r"));
        let deadline = Instant::now() + STEP;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => self.fail("vkernel did not exit after `exit`"),
            }
        };
        let got = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        if got != code {
            self.fail(&format!("vkernel exited {got}, expected {code}"));
        }
        let until = Instant::now() + Duration::from_secs(5);
        let pgid = self.child.id() as i32;
        loop {
            let left = find_run_processes(pgid, Some(&self.marker));
            if left.is_empty() {
                break;
            }
            if Instant::now() >= until {
                let list: Vec<String> = left.iter().map(ToString::to_string).collect();
                self.fail(&format!("processes left behind:\n{}", list.join("\n")));
            }
            thread::sleep(Duration::from_millis(20));
        }
        let after = termios_of(self.slave.as_raw_fd());
        if after != self.termios_before {
            let before = self.termios_before.clone();
            self.fail(&format!(
                "the terminal's settings were not restored:\n  before: {before}\n  after:  {after}"
            ));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

#[test]
fn prompt_echo_and_output() {
    let mut c = Console::boot();
    c.send("echo hi\r");
    // The typed line is echoed, then the output comes on its own line (\r\n).
    c.expect("echo hi", STEP);
    c.expect("\r\nhi\r\n", STEP);
    c.prompt(STEP);
    c.send("echo $((6 * 7))\r");
    c.expect("\r\n42\r\n", STEP);
    c.prompt(STEP);
    c.exit(0);
}

#[test]
fn ctrl_c_interrupts_a_foreground_sleep() {
    let mut c = Console::boot();
    c.send("sleep 10\r");
    c.expect("sleep 10\r\n", STEP);
    thread::sleep(Duration::from_millis(300));
    c.send("\x03");
    // The prompt is back well before the 10 s are over.
    c.prompt(Duration::from_secs(2));
    c.send("echo status=$?\r");
    c.expect("status=130", STEP);
    c.prompt(STEP);
    // ^C at an empty prompt just gives a new prompt; the shell survives.
    c.send("\x03");
    c.prompt(STEP);
    c.send("echo alive\r");
    c.expect("\r\nalive\r\n", STEP);
    c.exit(0);
}

#[test]
fn ctrl_z_stops_and_fg_resumes() {
    let mut c = Console::boot();
    c.send("sleep 2\r");
    c.expect("sleep 2\r\n", STEP);
    thread::sleep(Duration::from_millis(300));
    c.send("\x1a");
    c.expect("Stopped", STEP);
    c.prompt(STEP);
    c.send("jobs\r");
    c.expect("sleep 2", STEP);
    c.prompt(STEP);
    // fg names the job and waits for it: the prompt comes back when the sleep ends,
    // and its status is 0 (it was continued, not killed).
    c.send("fg\r");
    c.expect("sleep 2\r\n", STEP);
    c.prompt(STEP);
    c.send("echo status=$?\r");
    c.expect("status=0", STEP);
    c.prompt(STEP);
    c.send("jobs; echo no-jobs\r");
    c.expect("\r\nno-jobs\r\n", STEP);
    c.prompt(STEP);
    c.exit(0);
}

#[test]
fn stty_shows_a_canonical_echoing_terminal() {
    let mut c = Console::boot();
    c.send("stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo -e isig -e icrnl -e onlcr | sort | tr '\\n' ' '; echo\r");
    c.expect("echo icanon icrnl isig onlcr \r\n", STEP);
    c.prompt(STEP);
    c.send("stty size\r");
    c.expect("\r\n24 80\r\n", STEP);
    c.prompt(STEP);
    c.send("tty\r");
    c.expect("\r\n/dev/", STEP);
    c.prompt(STEP);
    c.exit(0);
}

#[test]
fn backspace_and_kill_line_edit_the_input() {
    let mut c = Console::boot();
    c.send("echo abX\x7fc\r");
    c.expect("\r\nabc\r\n", STEP);
    c.prompt(STEP);
    c.send("echo wrong\x15echo right\r");
    c.expect("\r\nright\r\n", STEP);
    c.prompt(STEP);
    // Input for a program reading the terminal in canonical mode is edited too.
    c.send("read -r line; echo \"got [$line]\"\r");
    thread::sleep(Duration::from_millis(200));
    c.send("helpo\x7f\x7flo\r");
    c.expect("got [hello]", STEP);
    c.prompt(STEP);
    c.exit(0);
}

#[test]
fn exit_restores_the_host_terminal() {
    let mut c = Console::boot();
    // Change the (shared) terminal settings from inside, then leave: vkernel must put
    // back what it found (Console::exit compares the slave's termios).
    c.send("stty -echo -icanon min 1 time 0; echo changed\r");
    c.expect("changed", STEP);
    c.prompt(STEP);
    c.exit(5);
}

#[test]
fn vtime_ends_a_read_with_nothing_typed() {
    let mut c = Console::boot();
    // Non-canonical with VMIN=0 VTIME=3: a read with nothing typed returns 0 after
    // 0.3 s, which `head` takes for end of file.
    c.send("stty -icanon min 0 time 3; head -c 1; echo \"rc=$?\"; stty icanon min 1 time 0\r");
    c.expect("rc=0", STEP);
    c.prompt(STEP);
    // VMIN=2: the read waits for two typed bytes.
    c.send(
        "stty -icanon -echo min 2 time 0; head -c 2 | od -c | head -1; stty icanon echo min 1\r",
    );
    thread::sleep(Duration::from_millis(300));
    c.send("xy");
    c.expect("x   y", STEP);
    c.prompt(STEP);
    c.exit(0);
}
