//! Errors: a bad rootfs image or argument is one line on stderr and exit 2; a program
//! that cannot be executed is one line and 127 (missing) or 126 (not executable);
//! `--strace` traces; and no run, failed or not, leaves a process behind.
//!
//! Every run goes through `Vk::run`, which fails the test if a process of the run
//! (found by vkernel's process group or by the VKERNEL_TEST_MARKER in its environment)
//! is still alive after vkernel exits; the `no_stray_*` tests make that explicit.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use vkernel_tests::*;

/// Guest paths of the programs the exec error tests use.
const HELLO: &str = "/bin/hello";
const NOT_ELF: &str = "/bin/not-elf";
const TRUNCATED_HEADER: &str = "/bin/truncated-header";
const TRUNCATED_SEGMENTS: &str = "/bin/truncated-segments";
const DYNAMIC: &str = "/bin/hello-dynamic";
const NO_EXEC_BIT: &str = "/bin/hello-0644";

fn image() -> PathBuf {
    static IMG: OnceLock<PathBuf> = OnceLock::new();
    IMG.get_or_init(|| {
        let hello = build_guest("hello", Cc::Glibc);
        let elf = fs::read(&hello).expect("read hello");
        let extra = vec![
            (hello.clone(), HELLO),
            (
                write_file("not-elf", "just some text, no #! line\n", 0o755),
                NOT_ELF,
            ),
            (
                write_file("truncated-header", &elf[..40], 0o755),
                TRUNCATED_HEADER,
            ),
            (
                write_file("truncated-segments", &elf[..elf.len() / 2], 0o755),
                TRUNCATED_SEGMENTS,
            ),
            (
                write_file(
                    "hello-dynamic",
                    fs::read(build_guest("hello", Cc::GlibcDynamic)).unwrap(),
                    0o755,
                ),
                DYNAMIC,
            ),
            (write_file("hello-0644", &elf, 0o644), NO_EXEC_BIT),
        ];
        rootfs(&extra)
    })
    .clone()
}

/// `vkernel boot IMG -- /bin/true`-like run of an arbitrary rootfs path.
fn boot_path(rootfs: &Path) -> Outcome {
    Vk::boot(rootfs, &[], &["/bin/busybox", "true"]).run()
}

/// Exit 2 and exactly one stderr line that names `file`.
#[track_caller]
fn assert_host_error(out: &Outcome, file: &Path) {
    out.assert_status(2);
    let line = out.assert_one_stderr_line();
    let name = file.to_string_lossy();
    out.check(
        line.contains(name.as_ref()),
        format!("the error line does not name {name}"),
    );
    out.assert_stdout_eq("");
}

/// The exec failure status and exactly one stderr line that names `prog`.
#[track_caller]
fn assert_exec_error(prog: &str, status: i32) -> Outcome {
    let out = boot(&image(), &[prog], "");
    out.assert_status(status);
    let line = out.assert_one_stderr_line();
    out.check(
        line.contains(prog),
        format!("the error line does not name {prog}"),
    );
    out
}

// ---- rootfs images -----------------------------------------------------------------------

#[test]
fn missing_rootfs_image() {
    let path = work_dir().join("no-such-dir/rootfs-missing.img");
    assert_host_error(&boot_path(&path), &path);
}

#[test]
fn empty_rootfs_image() {
    let path = write_file("empty.img", b"", 0o644);
    assert_host_error(&boot_path(&path), &path);
}

#[test]
fn truncated_tar_rootfs_image() {
    let good = fs::read(image()).expect("read image");
    // Cut in the middle, off any 512-byte header boundary.
    let cut = (good.len() / 2) & !511;
    let path = write_file("truncated.img", &good[..cut + 100], 0o644);
    assert_host_error(&boot_path(&path), &path);
}

#[test]
fn garbage_rootfs_image() {
    let path = write_file("garbage.img", garbage(1 << 20, 0x5eed), 0o644);
    assert_host_error(&boot_path(&path), &path);
}

#[test]
fn rootfs_image_is_a_directory() {
    let path = scratch_path("a-directory.img");
    fs::create_dir(&path).unwrap();
    assert_host_error(&boot_path(&path), &path);
}

#[test]
fn mkrootfs_of_a_missing_directory() {
    let dir = work_dir().join("no-such-staging-dir");
    let img = scratch_path("never-written.img");
    let out = Vk::new([
        "mkrootfs".as_ref(),
        dir.as_os_str(),
        "-o".as_ref(),
        img.as_os_str(),
    ])
    .run();
    assert_host_error(&out, &dir);
}

// ---- arguments -----------------------------------------------------------------------------

#[test]
fn bad_memory_value() {
    for bad in ["banana", "12XB"] {
        let out = Vk::boot(&image(), &["--memory", bad], &["/bin/busybox", "true"]).run();
        out.assert_status(2);
        let line = out.assert_one_stderr_line();
        out.check(
            line.to_lowercase().contains("memory"),
            "the error line does not mention --memory",
        );
    }
}

// ---- programs that cannot be executed -----------------------------------------------

#[test]
fn missing_program_is_127() {
    assert_exec_error("/bin/does-not-exist", 127);
}

#[test]
fn text_file_without_shebang_is_126() {
    assert_exec_error(NOT_ELF, 126);
}

#[test]
fn truncated_elf_header_is_126() {
    assert_exec_error(TRUNCATED_HEADER, 126);
}

#[test]
fn elf_with_segments_past_the_end_of_file_is_126() {
    assert_exec_error(TRUNCATED_SEGMENTS, 126);
}

#[test]
fn dynamically_linked_program_is_126() {
    let out = assert_exec_error(DYNAMIC, 126);
    let err = out.stderr.to_lowercase();
    out.check(
        err.contains("interp") || err.contains("dynamic"),
        "stderr should say the program is dynamically linked (PT_INTERP)",
    );
}

#[test]
fn program_without_exec_permission_is_126() {
    assert_exec_error(NO_EXEC_BIT, 126);
}

#[test]
fn directory_as_program_is_126() {
    assert_exec_error("/tmp", 126);
}

#[test]
fn a_good_program_in_the_same_image_runs() {
    // The control for the tests above: the image and the program are fine.
    boot(&image(), &[HELLO, "7"], "")
        .assert_status(7)
        .assert_stdout_eq(&format!("hello from {HELLO}\n"));
}

// ---- --strace --------------------------------------------------------------------------------

#[test]
fn strace_prints_guest_syscalls() {
    let out = Vk::boot(&image(), &["--strace"], &["/bin/busybox", "echo", "hi"]).run();
    out.assert_success().assert_stdout_eq("hi\n");
    let write = out
        .stderr
        .lines()
        .find(|l| l.contains(r#"write(1, "hi\n", 3) = 3"#))
        .unwrap_or_else(|| out.fail(r#"no `write(1, "hi\n", 3) = 3` line on stderr"#));
    out.check(
        write.starts_with("[pid 1] "),
        "syscall lines should start with \"[pid 1] \"",
    );
    out.check(
        out.stderr.contains("execve(") || out.stderr.contains("exit_group(0"),
        "no execve( or exit_group(0 line on stderr",
    );
}

// ---- stray processes ---------------------------------------------------------------------

#[test]
fn no_stray_processes_after_a_normal_run() {
    let out = boot(&image(), &[HELLO], "");
    out.assert_success();
    assert!(out.strays.is_empty(), "{out}");
}

#[test]
fn no_stray_processes_after_exec_failures() {
    for prog in ["/bin/does-not-exist", NOT_ELF, DYNAMIC] {
        let out = Vk::boot(&image(), &[], &[prog]).allow_strays().run();
        out.check(out.strays.is_empty(), "processes left behind");
    }
}

#[test]
fn no_stray_processes_after_host_errors() {
    let garbage = write_file("garbage-strays.img", garbage(4096, 7), 0o644);
    for path in [garbage.as_path(), Path::new("/nonexistent/rootfs.img")] {
        let out = Vk::boot(path, &[], &["/bin/busybox", "true"])
            .allow_strays()
            .run();
        out.assert_status(2);
        out.check(out.strays.is_empty(), "processes left behind");
    }
}
