//! Checkpoints of a running system: SIGCKPT (SIGUSR1) and `vkernel kill -CKPT` write an
//! ELF core image and the guests go on, printing exactly what an undisturbed run
//! prints; SIGCKPTEXIT (SIGUSR2) writes one and exits 0; `vkernel thaw` resumes it, and
//! the output before the checkpoint plus the output after the thaw is the undisturbed
//! run's, byte for byte, also through a chain of checkpoint and thaw; a failed write
//! leaves the previous image whole and the guests running; readelf reads the image;
//! `vkernel ckpt info` summarizes it; a corrupt, truncated or foreign image (another
//! root filesystem) is refused with one line.
//!
//! Guest: ckpt.c (compute over memory, a pipe family, threads taking turns, kernel
//! objects used across a thaw), in both libc flavours, each run compared with a
//! native run.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;
#[path = "support/ckpt.rs"]
mod ckpt;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ckpt::*;
use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["ckpt"]);

/// Runs `mode`, taking checkpoints at `at` (ms from the start); the output must be the
/// native run's, and every checkpoint must have written an image `ckpt info` reads.
fn checkpoints_leave_output_unchanged(guest: &str, cc: Cc, mode: &str, at: &[u64]) -> Vec<PathBuf> {
    let host = run_host(guest, cc, &[mode]);
    let run = start(&GUESTS, guest, cc, mode, "ck-%n.elf");
    let dir = run.dir.clone();
    let t0 = Instant::now();
    for &ms in at {
        let due = Duration::from_millis(ms);
        std::thread::sleep(due.saturating_sub(t0.elapsed()));
        run.signal(libc::SIGUSR1);
    }
    let (status, out, err) = run.finish();
    assert_eq!(status, 0, "vkernel exit status; stderr:\n{err}");
    let vk_lines: Vec<&str> = stable_lines(&out);
    assert_eq!(
        vk_lines,
        stable_lines(&host.stdout),
        "stdout differs from native; stderr:\n{err}"
    );
    let reports = err.lines().filter(|l| l.contains(": checkpoint ")).count();
    assert_eq!(
        reports,
        at.len(),
        "one line per checkpoint on stderr:\n{err}"
    );
    let imgs = images(&dir);
    assert_eq!(imgs.len(), at.len(), "images in {}", dir.display());
    for img in &imgs {
        let o = info(img, false);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "ckpt info {}: {}",
            img.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            text.contains(&format!("{guest}-{cc}")),
            "the guest is in the tree:\n{text}"
        );
    }
    imgs
}

twins!(computing_guest_checkpointed_three_times, cc => {
    checkpoints_leave_output_unchanged("ckpt", cc, "compute", &[200, 450, 700]);
});

twins!(pipe_family_checkpointed_mid_stream, cc => {
    let imgs = checkpoints_leave_output_unchanged("ckpt", cc, "family", &[150, 400]);
    // Three processes: the parent and the two writers (unless one had finished).
    let text = String::from_utf8_lossy(&info(&imgs[0], false).stdout).into_owned();
    assert!(text.matches(&format!("ckpt-{cc}")).count() >= 2, "{text}");
});

twins!(threads_checkpointed_while_they_take_turns, cc => {
    checkpoints_leave_output_unchanged("ckpt", cc, "threads", &[120, 300]);
});

#[test]
fn sigckptexit_writes_an_image_and_exits_0() {
    let run = start(&GUESTS, "ckpt", Cc::Glibc, "compute", "final.elf");
    let dir = run.dir.clone();
    std::thread::sleep(Duration::from_millis(300));
    run.signal(libc::SIGUSR2);
    let (status, out, err) = run.finish();
    assert_eq!(status, 0, "stderr:\n{err}");
    assert!(
        !out.contains("ckpt compute ok"),
        "exited before the guest finished:\n{out}"
    );
    assert!(err.contains("final.elf"), "{err}");
    assert!(info(&dir.join("final.elf"), false).status.success());
}

#[test]
fn vkernel_kill_ckpt_names_the_signal() {
    let run = start(&GUESTS, "ckpt", Cc::Glibc, "compute", "k.elf");
    let dir = run.dir.clone();
    std::thread::sleep(Duration::from_millis(200));
    let pid = run.child.id().to_string();
    let kill = Command::new(vkernel_bin())
        .args(["kill", "-CKPT", &pid])
        .output()
        .expect("vkernel kill");
    assert!(kill.status.success());
    let (status, _, err) = run.finish();
    assert_eq!(status, 0, "{err}");
    assert!(dir.join("k.elf").is_file(), "{err}");
    let bad = Command::new(vkernel_bin())
        .args(["kill", "-NOSUCH", &pid])
        .output()
        .expect("vkernel kill");
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1);
}

#[test]
fn readelf_reads_the_notes_and_segments() {
    let imgs = checkpoints_leave_output_unchanged("ckpt", Cc::Glibc, "compute", &[200]);
    let notes = Command::new("readelf")
        .arg("-n")
        .arg(&imgs[0])
        .output()
        .expect("readelf");
    let text = String::from_utf8_lossy(&notes.stdout);
    assert!(
        notes.status.success(),
        "{}",
        String::from_utf8_lossy(&notes.stderr)
    );
    for want in [
        "NT_PRSTATUS",
        "NT_FPREGSET",
        "NT_X86_XSTATE",
        "VKERNEL",
        "0x00001000",
    ] {
        assert!(text.contains(want), "readelf -n lacks {want}:\n{text}");
    }
    let segs = Command::new("readelf")
        .arg("-lW")
        .arg(&imgs[0])
        .output()
        .expect("readelf");
    let text = String::from_utf8_lossy(&segs.stdout);
    assert!(text.contains("CORE"), "{text}");
    let loads: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .collect();
    assert!(!loads.is_empty(), "{text}");
    for l in loads {
        let offset = l.split_whitespace().nth(1).unwrap_or("");
        let off = u64::from_str_radix(offset.trim_start_matches("0x"), 16).unwrap_or(1);
        assert_eq!(off % 4096, 0, "page-aligned load: {l}");
    }
}

#[test]
fn ckpt_info_json_lists_processes_and_threads() {
    let imgs = checkpoints_leave_output_unchanged("ckpt", Cc::Glibc, "compute", &[150]);
    let o = info(&imgs[0], true);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for want in [
        "\"processes\"",
        "\"threads\"",
        "\"vmspaces\"",
        "\"memory_bytes\"",
    ] {
        assert!(text.contains(want), "{want} in:\n{text}");
    }
}

#[test]
fn corrupt_and_truncated_images_are_refused_with_one_line() {
    let imgs = checkpoints_leave_output_unchanged("ckpt", Cc::Glibc, "compute", &[150]);
    let bytes = std::fs::read(&imgs[0]).expect("read image");
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let truncated = &bytes[..bytes.len() * 2 / 3];
    for (name, data) in [("flipped.elf", &flipped[..]), ("truncated.elf", truncated)] {
        let p = scratch_path(name);
        std::fs::write(&p, data).expect("write");
        let o = info(&p, false);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
        assert!(o.stdout.is_empty(), "{name}");
    }
}

/// A full disk (a small tmpfs) makes the second checkpoint fail: one error line, the
/// first image untouched, no temporary file left, and the guest runs to its end.
/// Mounting needs root; without it the test says so and checks nothing.
#[test]
fn a_full_disk_keeps_the_previous_image_and_the_guest() {
    if !host_is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let run_dir = scratch_path("tmpfs");
    std::fs::create_dir_all(&run_dir).expect("mkdir");
    let mount = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=12m", "tmpfs"])
        .arg(&run_dir)
        .status()
        .expect("mount");
    assert!(mount.success(), "mount tmpfs");
    let result = std::panic::catch_unwind(|| full_disk_in(&run_dir));
    let _ = Command::new("umount").arg(&run_dir).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// vkernel killed (SIGKILL) while it writes a checkpoint: the previous image at the
/// same path is untouched and still thaws.
#[test]
fn a_kill_during_a_checkpoint_keeps_the_previous_image() {
    let dir = scratch_path("kill9");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let target = dir.join("ck.elf");
    let mut run = boot_guest(&GUESTS, &target, "ckpt", Cc::Glibc, "bigmem");
    run.read_until("ready");
    run.signal(libc::SIGUSR1);
    let t0 = Instant::now();
    while !target.is_file() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    let first = std::fs::read(&target).expect("the first image");
    run.signal(libc::SIGUSR1);
    // Kill it once the second image's temporary file exists: half written.
    let writing = || {
        images(&dir)
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".tmp"))
    };
    let t0 = Instant::now();
    while !writing() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(writing(), "no temporary file appeared in {}", dir.display());
    run.signal(libc::SIGKILL);
    let (status, _, err) = run.finish();
    assert_eq!(status, -1, "killed: {err}");
    assert_eq!(
        err.matches(": checkpoint ").count(),
        1,
        "one finished checkpoint: {err}"
    );
    assert!(
        std::fs::read(&target).expect("image") == first,
        "previous image intact"
    );
    assert!(info(&target, false).status.success());
}

fn full_disk_in(dir: &Path) {
    let target = dir.join("ck.elf");
    let run = boot_guest(&GUESTS, &target, "ckpt", Cc::Glibc, "compute");
    std::thread::sleep(Duration::from_millis(200));
    run.signal(libc::SIGUSR1);
    let t0 = Instant::now();
    while !target.is_file() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    let first = std::fs::read(&target).expect("the first image");
    // Leave less room than one more image needs.
    let free = 12 * 1024 * 1024 - first.len();
    std::fs::write(
        dir.join("filler"),
        vec![1u8; free.saturating_sub(first.len() / 2)],
    )
    .expect("filler");
    run.signal(libc::SIGUSR1);
    let (status, out, err) = run.finish();
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("ckpt compute ok"), "the guest ran on:\n{out}");
    let failures: Vec<&str> = err.lines().filter(|l| l.contains("failed")).collect();
    assert_eq!(failures.len(), 1, "one error line:\n{err}");
    assert_eq!(
        std::fs::read(&target).expect("image"),
        first,
        "previous image intact"
    );
    let leftovers: Vec<PathBuf> = images(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

twins!(thaw_resumes_a_computing_guest, cc => {
    checkpoint_and_thaw(&GUESTS, "ckpt", cc, "compute", &[300]);
});

twins!(thaw_resumes_a_pipe_family_mid_stream, cc => {
    checkpoint_and_thaw(&GUESTS, "ckpt", cc, "family", &[250]);
});

twins!(thaw_resumes_threads_waiting_on_futexes, cc => {
    checkpoint_and_thaw(&GUESTS, "ckpt", cc, "threads", &[250]);
});

twins!(thaw_keeps_files_pipes_ptys_eventfd_epoll_and_timerfd, cc => {
    checkpoint_and_thaw(&GUESTS, "ckpt", cc, "objects", &[250]);
});

// Checkpoints in the relative sleep and then in the absolute one, each image resting
// a second: the guest's clocks go on from the checkpoint, the sleeps from where they
// were.
twins!(thaw_continues_sleeps_on_the_guests_monotonic_clock, cc => {
    checkpoint_and_thaw_after(&GUESTS, "ckpt", cc, "sleeper", &[700, 1800], Duration::from_secs(1));
});

// A checkpoint in the poll, one in the futex wait and one in epoll_wait, each image
// resting a second: each times out after its own length of guest time.
twins!(thaw_continues_poll_futex_and_epoll_timeouts, cc => {
    let stops = [700, 1500, 1500];
    checkpoint_and_thaw_after(&GUESTS, "ckpt", cc, "timeouts", &stops, Duration::from_secs(1));
});

twins!(thaw_resumes_a_parent_in_wait4_and_keeps_a_child_stopped, cc => {
    checkpoint_and_thaw(&GUESTS, "ckpt", cc, "waiter", &[700]);
});

twins!(thaw_resumes_a_vfork_parent_waiting_for_its_child, cc => {
    checkpoint_and_thaw(&GUESTS, "ckpt", cc, "vforker", &[700]);
});

// Checkpoints land in and around fork: the children in creation are parked or not
// yet counted, never half made.
twins!(a_forking_guest_checkpointed_and_thawed, cc => {
    checkpoints_leave_output_unchanged("ckpt", cc, "forker", &[100, 250, 400, 550]);
    // (500 forks outlast the last of them under vkernel.)
    checkpoint_and_thaw(&GUESTS, "ckpt", cc, "forker", &[300]);
});

twins!(thaw_carries_cpu_clocks_and_a_cpu_timer_on, cc => {
    checkpoint_and_thaw(&GUESTS, "ckpt", cc, "cputime", &[400]);
});

// SIGCKPTEXIT keeps the system frozen from the image to the exit: a guest that
// writes all the time shows no line twice (nor misses one) across the thaw.
twins!(nothing_runs_between_a_sigckptexit_image_and_the_exit, cc => {
    checkpoint_and_thaw(&GUESTS, "ckpt", cc, "ticker", &[150]);
});

#[test]
fn a_chain_of_checkpoints_and_thaws_finishes_the_run() {
    checkpoint_and_thaw(&GUESTS, "ckpt", Cc::Glibc, "compute", &[250, 200, 150]);
}

#[test]
fn thaw_refuses_another_root_filesystem_and_a_corrupt_image() {
    let run = start(&GUESTS, "ckpt", Cc::Glibc, "compute", "ck.elf");
    let img = run.dir.join("ck.elf");
    std::thread::sleep(Duration::from_millis(200));
    run.signal(libc::SIGUSR2);
    let (status, _, err) = run.finish();
    assert_eq!(status, 0, "{err}");
    let other = rootfs::<&str>(&[]);
    let foreign = Command::new(vkernel_bin())
        .arg("thaw")
        .arg("--rootfs")
        .arg(&other)
        .arg(&img)
        .output()
        .expect("thaw");
    let text = String::from_utf8_lossy(&foreign.stderr);
    assert_eq!(foreign.status.code(), Some(2), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("root filesystem"), "{text}");
    let mut bytes = std::fs::read(&img).expect("image");
    let last = bytes.len() - 100;
    bytes[last] ^= 1;
    let bad = scratch_path("bad.elf");
    std::fs::write(&bad, &bytes).expect("write");
    let o = Command::new(vkernel_bin())
        .arg("thaw")
        .arg(&bad)
        .output()
        .expect("thaw");
    let text = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}
