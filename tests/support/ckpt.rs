//! Shared by the checkpoint test files: a vkernel run in the background that the test
//! signals (SIGCKPT, SIGCKPTEXIT), `vkernel thaw` and `vkernel ckpt info` runs, and a
//! checkpoint-thaw chain compared with the native run of the same guest mode.
//!
//! Included with `#[path = "support/ckpt.rs"] mod ckpt;` after the `posix` module.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::posix::*;
use vkernel_tests::*;

/// A vkernel run in the background, to be signalled while it runs.
pub struct Running {
    pub child: std::process::Child,
    pub dir: PathBuf,
}

/// `vkernel ARGS...` in the background; its checkpoints go to `dir`.
pub fn background<S: AsRef<OsStr>>(args: &[S], dir: PathBuf) -> Running {
    let child = Command::new(vkernel_bin())
        .args(args)
        .env_remove("TERM")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vkernel");
    Running { child, dir }
}

/// `vkernel boot --ckpt-file TARGET IMG -- /bin/<guest>-<cc> MODE`.
pub fn boot_guest(guests: &Guests, target: &Path, guest: &str, cc: Cc, mode: &str) -> Running {
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
    background(&args, dir)
}

/// [`boot_guest`] with checkpoints named `pattern` in a fresh directory.
pub fn start(guests: &Guests, guest: &str, cc: Cc, mode: &str, pattern: &str) -> Running {
    let dir = scratch_path("ckpt");
    std::fs::create_dir_all(&dir).expect("mkdir");
    boot_guest(guests, &dir.join(pattern), guest, cc, mode)
}

impl Running {
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the end (30 s at most); returns (status, stdout, stderr).
    pub fn finish(mut self) -> (i32, String, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("vkernel did not finish within 30 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        let mut err = String::new();
        let _ = self
            .child
            .stdout
            .take()
            .map(|mut s| s.read_to_string(&mut out));
        let _ = self
            .child
            .stderr
            .take()
            .map(|mut s| s.read_to_string(&mut err));
        (status, out, err)
    }
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
    let args: [&OsStr; 4] = [
        "thaw".as_ref(),
        "--ckpt-file".as_ref(),
        next.as_ref(),
        image.as_ref(),
    ];
    background(
        &args,
        image.parent().map(Path::to_owned).unwrap_or_default(),
    )
}

/// Runs `guest mode`, stops it with SIGCKPTEXIT after each delay in `stops` (the first on the
/// booted system, the others on each thaw), thaws the last image to the end, and
/// compares everything printed with the native run.
pub fn checkpoint_and_thaw(guests: &Guests, guest: &str, cc: Cc, mode: &str, stops: &[u64]) {
    checkpoint_and_thaw_after(guests, guest, cc, mode, stops, Duration::ZERO);
}

/// [`checkpoint_and_thaw`], each image resting for `gap` before it is thawed.
pub fn checkpoint_and_thaw_after(
    guests: &Guests,
    guest: &str,
    cc: Cc,
    mode: &str,
    stops: &[u64],
    gap: Duration,
) {
    let host = run_host(guest, cc, &[mode]);
    let mut run = start(guests, guest, cc, mode, "ck-0.elf");
    let dir = run.dir.clone();
    let mut printed = String::new();
    for (i, &ms) in stops.iter().enumerate() {
        std::thread::sleep(Duration::from_millis(ms));
        run.signal(libc::SIGUSR2);
        let (status, out, err) = run.finish();
        assert_eq!(status, 0, "checkpoint {i}: {err}");
        assert!(err.contains("checkpoint"), "checkpoint {i}: {err}");
        printed += &out;
        let next = dir.join(format!("ck-{}.elf", i + 1));
        std::thread::sleep(gap);
        run = thaw(&dir.join(format!("ck-{i}.elf")), &next);
    }
    let (status, out, err) = run.finish();
    assert_eq!(status, 0, "the last thaw: {err}\nprinted:\n{printed}{out}");
    printed += &out;
    assert_eq!(
        stable_lines(&printed),
        stable_lines(&host.stdout),
        "before + after the thaws"
    );
}
