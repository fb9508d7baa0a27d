//! Shared by the checkpoint test files: a vkernel run in the background that the test
//! signals (SIGCKPT, SIGCKPTEXIT) and feeds on stdin, `vkernel thaw` and `vkernel ckpt
//! info` runs, and a checkpoint-thaw chain compared with the native run of the same
//! guest mode (stopped after delays, or once the guest has printed a given line).
//!
//! Included with `#[path = "support/ckpt.rs"] mod ckpt;` after the `posix` module.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::posix::*;
use vkernel_tests::*;

/// A vkernel run in the background, to be signalled while it runs.
pub struct Running {
    pub child: std::process::Child,
    pub dir: PathBuf,
    /// Its stdin while the test keeps it open (see [`Input`]).
    pub stdin: Option<ChildStdin>,
    /// What [`Running::read_until`] has read of its stdout so far.
    seen: Vec<u8>,
}

/// What vkernel's stdin (the guest console) gets: `bytes` (at most a pipe's 64 KiB:
/// they are written at the start), then end of file if `eof`; otherwise it stays
/// open until the run ends or the test closes it.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub bytes: &'a [u8],
    pub eof: bool,
}

impl Input<'static> {
    /// Nothing: end of file at once.
    pub const NONE: Input<'static> = Input {
        bytes: b"",
        eof: true,
    };
}

/// `vkernel ARGS...` in the background; its checkpoints go to `dir`.
pub fn background<S: AsRef<OsStr>>(args: &[S], dir: PathBuf) -> Running {
    background_fed(args, dir, Input::NONE)
}

/// [`background`] with `input` on stdin.
pub fn background_fed<S: AsRef<OsStr>>(args: &[S], dir: PathBuf, input: Input) -> Running {
    let mut child = Command::new(vkernel_bin())
        .args(args)
        .env_remove("TERM")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vkernel");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.bytes).expect("feed vkernel's stdin");
    Running {
        child,
        dir,
        stdin: (!input.eof).then_some(stdin),
        seen: Vec::new(),
    }
}

/// `vkernel boot --ckpt-file TARGET IMG -- /bin/<guest>-<cc> MODE`.
pub fn boot_guest(guests: &Guests, target: &Path, guest: &str, cc: Cc, mode: &str) -> Running {
    boot_guest_fed(guests, target, guest, cc, mode, Input::NONE)
}

/// [`boot_guest`] with `input` on stdin.
pub fn boot_guest_fed(
    guests: &Guests,
    target: &Path,
    guest: &str,
    cc: Cc,
    mode: &str,
    input: Input,
) -> Running {
    let image = guests.image();
    let prog = guest_path(guest, cc);
    let args: [&OsStr; 7] = [
        "boot".as_ref(),
        "--ckpt-file".as_ref(),
        target.as_ref(),
        image.as_ref(),
        "--".as_ref(),
        prog.as_ref(),
        mode.as_ref(),
    ];
    let dir = target.parent().map(Path::to_owned).unwrap_or_default();
    background_fed(&args, dir, input)
}

/// A fresh directory for the images of one test.
pub fn image_dir() -> PathBuf {
    let dir = scratch_path("ckpt");
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// [`boot_guest`] with checkpoints named `pattern` in a fresh directory.
pub fn start(guests: &Guests, guest: &str, cc: Cc, mode: &str, pattern: &str) -> Running {
    boot_guest(guests, &image_dir().join(pattern), guest, cc, mode)
}

impl Running {
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// More bytes for the stdin the test kept open.
    pub fn feed(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin was closed");
        stdin.write_all(bytes).expect("feed vkernel's stdin");
    }

    /// Reads stdout until the guest has printed `line` (a whole line); fails the
    /// test after 20 s without it. What it read is part of [`Running::finish`]'s.
    pub fn read_until(&mut self, line: &str) {
        let want = format!("{line}\n");
        let deadline = Instant::now() + Duration::from_secs(20);
        let printed = |seen: &[u8]| {
            let text = String::from_utf8_lossy(seen);
            text.starts_with(&want) || text.contains(&format!("\n{want}"))
        };
        let out = self.child.stdout.as_mut().expect("stdout");
        while !printed(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && readable(out.as_raw_fd(), left),
                "no line {line:?} within 20 s; printed:\n{}",
                String::from_utf8_lossy(&self.seen)
            );
            let mut chunk = [0u8; 4096];
            match out.read(&mut chunk) {
                Ok(0) => panic!(
                    "vkernel ended without printing {line:?}:\n{}",
                    String::from_utf8_lossy(&self.seen)
                ),
                Ok(n) => self.seen.extend_from_slice(&chunk[..n]),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "{e}"),
            }
        }
    }

    /// Waits for the end (60 s at most: a hang, even on a loaded machine); returns
    /// (status, stdout, stderr).
    pub fn finish(mut self) -> (i32, String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let (_, out, err) = self.finish();
                panic!("vkernel did not finish within 60 s; stdout:\n{out}\nstderr:\n{err}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = std::mem::take(&mut self.seen);
        let mut err = String::new();
        let _ = self
            .child
            .stdout
            .take()
            .map(|mut s| s.read_to_end(&mut out));
        let _ = self
            .child
            .stderr
            .take()
            .map(|mut s| s.read_to_string(&mut err));
        (status, String::from_utf8_lossy(&out).into_owned(), err)
    }
}

/// Whether `fd` has something to read (or its end) within `wait`.
fn readable(fd: i32, wait: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for a descriptor we own.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

pub fn images(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

pub fn info(image: &Path, json: bool) -> std::process::Output {
    let mut cmd = Command::new(vkernel_bin());
    cmd.arg("ckpt").arg("info");
    if json {
        cmd.arg("--json");
    }
    cmd.arg(image).output().expect("vkernel ckpt info")
}

/// `vkernel thaw --ckpt-file NEXT IMAGE` in the background.
pub fn thaw(image: &Path, next: &Path) -> Running {
    thaw_fed(image, next, Input::NONE)
}

/// [`thaw`] with `input` on stdin.
pub fn thaw_fed(image: &Path, next: &Path, input: Input) -> Running {
    let args: [&OsStr; 4] = [
        "thaw".as_ref(),
        "--ckpt-file".as_ref(),
        next.as_ref(),
        image.as_ref(),
    ];
    let dir = image.parent().map(Path::to_owned).unwrap_or_default();
    background_fed(&args, dir, input)
}

/// When a stage of a chain is stopped with SIGCKPTEXIT.
#[derive(Clone, Copy, Debug)]
pub enum Stop<'a> {
    /// This long after it started.
    After(Duration),
    /// Once the guest has printed this line, and [`SETTLE`] more for it to get into
    /// the call that follows (a wait the test means to checkpoint). The guest should
    /// stay in that wait for a second or so: on a busy machine the checkpoint comes
    /// later, and a guest that has moved on (or ended) makes the test miss its point.
    Line(&'a str),
}

/// How long after a [`Stop::Line`] the checkpoint is taken.
pub const SETTLE: Duration = Duration::from_millis(100);

/// One run of a chain: a boot (the first) or the thaw of the previous run's image,
/// with `input` on stdin, stopped at `stop` or (None, the last) run to its end.
#[derive(Clone, Copy, Debug)]
pub struct Stage<'a> {
    pub input: Input<'a>,
    pub stop: Option<Stop<'a>>,
}

/// Runs `guest mode` through `stages` and compares everything printed with the
/// native run, which gets every stage's input at once.
pub fn chain(guests: &Guests, guest: &str, cc: Cc, mode: &str, stages: &[Stage]) {
    chain_resting(guests, guest, cc, mode, stages, Duration::ZERO);
}

/// [`chain`], each image resting for `rest` before it is thawed (the guest's clocks
/// must not count that time).
pub fn chain_resting(
    guests: &Guests,
    guest: &str,
    cc: Cc,
    mode: &str,
    stages: &[Stage],
    rest: Duration,
) {
    let input: Vec<u8> = stages.iter().flat_map(|s| s.input.bytes).copied().collect();
    let host = run_native_fed(
        &build_guest(guest, cc),
        &guest_path(guest, cc),
        &[mode],
        &input,
    );
    let dir = image_dir();
    let image = |i: usize| dir.join(format!("ck-{i}.elf"));
    let mut printed = String::new();
    for (i, stage) in stages.iter().enumerate() {
        let mut run = match i {
            0 => boot_guest_fed(guests, &image(0), guest, cc, mode, stage.input),
            _ => {
                std::thread::sleep(rest);
                thaw_fed(&image(i - 1), &image(i), stage.input)
            }
        };
        match stage.stop {
            Some(Stop::After(t)) => std::thread::sleep(t),
            Some(Stop::Line(line)) => {
                run.read_until(line);
                std::thread::sleep(SETTLE);
            }
            None => assert_eq!(i + 1, stages.len(), "only the last stage runs to its end"),
        }
        if stage.stop.is_some() {
            run.signal(libc::SIGUSR2);
        }
        let (status, out, err) = run.finish();
        let what = format!("stage {i}; stdout:\n{out}\nstderr:\n{err}");
        assert_eq!(status, 0, "{what}");
        assert!(stage.stop.is_none() || err.contains("checkpoint"), "{what}");
        printed += &out;
    }
    assert_eq!(
        stable_lines(&printed),
        stable_lines(&host.stdout),
        "before + after the thaws"
    );
}

/// Runs `guest mode`, stops it with SIGCKPTEXIT after each delay in `stops` (the first on the
/// booted system, the others on each thaw), thaws the last image to the end, and
/// compares everything printed with the native run.
pub fn checkpoint_and_thaw(guests: &Guests, guest: &str, cc: Cc, mode: &str, stops: &[u64]) {
    checkpoint_and_thaw_after(guests, guest, cc, mode, stops, Duration::ZERO);
}

/// [`checkpoint_and_thaw`], each image resting for `rest` before it is thawed.
pub fn checkpoint_and_thaw_after(
    guests: &Guests,
    guest: &str,
    cc: Cc,
    mode: &str,
    stops: &[u64],
    rest: Duration,
) {
    let stop = |ms: u64| Stage {
        input: Input::NONE,
        stop: Some(Stop::After(Duration::from_millis(ms))),
    };
    let mut stages: Vec<Stage> = stops.iter().map(|&ms| stop(ms)).collect();
    stages.push(Stage {
        input: Input::NONE,
        stop: None,
    });
    chain_resting(guests, guest, cc, mode, &stages, rest);
}
