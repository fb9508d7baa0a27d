//! Booting the busybox root filesystem: busybox applets as pid 1, the shell's builtins,
//! exit statuses, `#!` scripts, the default /sbin/init, the guest's environment, /proc,
//! /dev and /tmp, and the same tree as tar, cpio and ext4 images.
//!
//! No fork yet: every run is one process (pid 1), so `sh -c` only runs builtins or
//! `exec`s.

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use vkernel_tests::*;

const HELLO_SH: &str = "#!/bin/sh\necho \"script $0 $*\"\nexit 5\n";
const INIT_SH: &str = "#!/bin/sh\necho \"custom init pid $$\"\nexit 4\n";

fn extra() -> Vec<(PathBuf, &'static str)> {
    vec![
        (write_file("hello.sh", HELLO_SH, 0o755), "/bin/hello.sh"),
        (write_file("initscript", INIT_SH, 0o755), "/bin/initscript"),
    ]
}

/// The tar image (by the script and `vkernel mkrootfs`) every test here boots.
fn image() -> PathBuf {
    static IMG: OnceLock<PathBuf> = OnceLock::new();
    IMG.get_or_init(|| rootfs(&extra())).clone()
}

/// The same tree as [`image`], staged in a directory (for the cpio and ext4 images).
fn staged() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| stage_rootfs(&extra())).clone()
}

fn bb(args: &[&str]) -> Outcome {
    let mut prog = vec!["/bin/busybox"];
    prog.extend_from_slice(args);
    boot(&image(), &prog, "")
}

#[track_caller]
fn assert_lists_root(out: &Outcome) {
    out.assert_success();
    let words = out.stdout_words();
    for dir in [
        "bin", "etc", "tmp", "dev", "proc", "sbin", "usr", "root", "home",
    ] {
        out.check(words.contains(&dir), format!("`ls /` does not list {dir}"));
    }
}

#[test]
fn ls_lists_the_root_directory() {
    assert_lists_root(&bb(&["ls", "/"]));
}

#[test]
fn echo_prints_its_arguments_and_nothing_on_stderr() {
    bb(&["echo", "hi"])
        .assert_success()
        .assert_stdout_eq("hi\n")
        .assert_stderr_empty();
}

#[test]
fn cat_reads_etc_passwd_from_the_image() {
    bb(&["cat", "/etc/passwd"])
        .assert_success()
        .assert_stdout_eq(ETC_PASSWD);
}

#[test]
fn cat_reads_etc_hostname_from_the_image() {
    bb(&["cat", "/etc/hostname"])
        .assert_success()
        .assert_stdout_eq("vkernel\n");
}

#[test]
fn uname_says_linux_x86_64() {
    bb(&["uname", "-a"])
        .assert_success()
        .assert_stdout_contains("Linux");
    bb(&["uname", "-m"])
        .assert_success()
        .assert_stdout_eq("x86_64\n");
    bb(&["uname", "-s"])
        .assert_success()
        .assert_stdout_eq("Linux\n");
}

#[test]
fn sh_runs_builtins() {
    bb(&["sh", "-c", "echo hi; echo there"])
        .assert_success()
        .assert_stdout_eq("hi\nthere\n");
}

#[test]
fn true_exits_0() {
    bb(&["true"]).assert_status(0).assert_stdout_eq("");
}

#[test]
fn false_exits_1() {
    bb(&["false"]).assert_status(1).assert_stdout_eq("");
}

#[test]
fn sh_exit_status_propagates() {
    bb(&["sh", "-c", "exit 7"]).assert_status(7);
    bb(&["sh", "-c", "exit 255"]).assert_status(255);
}

#[test]
fn applet_symlink_runs_the_applet() {
    boot(&image(), &["/bin/echo", "via", "symlink"], "")
        .assert_success()
        .assert_stdout_eq("via symlink\n");
}

#[test]
fn shebang_script_runs_with_its_arguments() {
    boot(&image(), &["/bin/hello.sh", "a", "b"], "")
        .assert_status(5)
        .assert_stdout_eq("script /bin/hello.sh a b\n");
}

#[test]
fn sh_exec_replaces_pid_1() {
    bb(&["sh", "-c", "exec /bin/busybox echo execd"])
        .assert_success()
        .assert_stdout_eq("execd\n");
    bb(&["sh", "-c", "exec /bin/hello.sh x"])
        .assert_status(5)
        .assert_stdout_eq("script /bin/hello.sh x\n");
}

#[test]
fn default_init_prints_its_banner_and_runs_the_shell_on_stdin() {
    let out = boot(&image(), &[], "echo from-stdin $$\nexit 3\n");
    out.assert_status(3)
        .assert_stdout_contains(INIT_BANNER)
        .assert_stdout_contains("from-stdin 1");
    let banner = out.stdout.find(INIT_BANNER).unwrap();
    let echoed = out.stdout.find("from-stdin").unwrap();
    out.check(
        banner < echoed,
        "the banner must come before the shell's output",
    );
}

#[test]
fn init_flag_selects_pid_1() {
    Vk::boot(&image(), &["--init", "/bin/initscript"], &[])
        .run()
        .assert_status(4)
        .assert_stdout_eq("custom init pid 1\n");
}

#[test]
fn console_stdin_passes_through() {
    boot(&image(), &["/bin/busybox", "cat"], "line one\nline two\n")
        .assert_success()
        .assert_stdout_eq("line one\nline two\n");
}

#[test]
fn guest_environment_comes_from_the_kernel() {
    let out = Vk::boot(&image(), &[], &["/bin/busybox", "env"])
        .env("TERM", "vt100")
        .env("VKERNEL_TEST_HOST_ONLY", "leak")
        .run();
    out.assert_success();
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort_unstable();
    let mut want = vec![
        "HOME=/".to_string(),
        format!("PATH={GUEST_PATH}"),
        "TERM=vt100".to_string(),
    ];
    want.sort_unstable();
    out.check(
        lines == want,
        format!("guest environment should be exactly {want:?}"),
    );
}

#[test]
fn guest_environment_has_no_term_when_the_host_has_none() {
    // Vk removes TERM from vkernel's environment unless a test sets it.
    let out = bb(&["env"]);
    out.assert_success()
        .assert_stdout_has_lines(&["HOME=/", &format!("PATH={GUEST_PATH}")]);
    out.check(
        !out.stdout.contains("TERM="),
        "TERM set although the host has none",
    );
}

#[test]
fn cwd_is_root() {
    bb(&["pwd"]).assert_success().assert_stdout_eq("/\n");
}

#[test]
fn runs_as_root() {
    bb(&["id"])
        .assert_success()
        .assert_stdout_contains("uid=0(root) gid=0(root)");
}

#[test]
fn proc_self_cmdline() {
    bb(&["cat", "/proc/self/cmdline"])
        .assert_success()
        .assert_stdout_eq("/bin/busybox\0cat\0/proc/self/cmdline\0");
}

#[test]
fn proc_self_exe() {
    bb(&["readlink", "/proc/self/exe"])
        .assert_success()
        .assert_stdout_eq("/bin/busybox\n");
}

#[test]
fn proc_self_status_and_stat() {
    bb(&["cat", "/proc/self/status"])
        .assert_success()
        .assert_stdout_has_lines(&["Name:\tbusybox", "Pid:\t1", "PPid:\t0"]);
    let out = bb(&["cat", "/proc/self/stat"]);
    out.assert_success();
    out.check(
        out.stdout.starts_with("1 (busybox) R 0 "),
        "/proc/self/stat should start with \"1 (busybox) R 0 \"",
    );
}

#[test]
fn proc_self_maps_and_fd() {
    bb(&["cat", "/proc/self/maps"])
        .assert_success()
        .assert_stdout_contains("[stack]");
    let out = bb(&["ls", "/proc/self/fd"]);
    out.assert_success();
    let words = out.stdout_words();
    for fd in ["0", "1", "2"] {
        out.check(words.contains(&fd), format!("/proc/self/fd has no {fd}"));
    }
}

#[test]
fn dev_has_the_standard_nodes() {
    let out = bb(&["ls", "/dev"]);
    out.assert_success();
    let words = out.stdout_words();
    for node in [
        "console", "tty", "null", "zero", "full", "random", "urandom",
    ] {
        out.check(words.contains(&node), format!("/dev has no {node}"));
    }
    bb(&["od", "-An", "-tx1", "-N8", "/dev/zero"])
        .assert_success()
        .assert_stdout_eq(" 00 00 00 00 00 00 00 00\n");
    bb(&["sh", "-c", "echo x > /dev/null && echo null-ok"])
        .assert_success()
        .assert_stdout_eq("null-ok\n");
    bb(&["sh", "-c", "echo x > /dev/full"])
        .assert_status(1)
        .assert_stderr_contains("No space left on device");
    let out = bb(&["od", "-An", "-tx1", "-N32", "/dev/urandom"]);
    out.assert_success();
    out.check(
        out.stdout_words().len() == 32 && out.stdout_words().iter().any(|w| *w != "00"),
        "/dev/urandom should give 32 bytes, not all zero",
    );
}

#[test]
fn tmp_is_writable() {
    bb(&[
        "sh",
        "-c",
        "echo data > /tmp/f && read x < /tmp/f && echo \"got $x\"",
    ])
    .assert_success()
    .assert_stdout_eq("got data\n");
}

#[test]
fn writes_to_the_root_filesystem_never_reach_the_image() {
    let img = image();
    let before = fs::read(&img).expect("read image");
    bb(&[
        "sh",
        "-c",
        "echo changed > /etc/hostname && read x < /etc/hostname && echo \"now $x\"",
    ])
    .assert_success()
    .assert_stdout_eq("now changed\n");
    let after = fs::read(&img).expect("read image");
    assert!(before == after, "booting modified {}", img.display());
    bb(&["cat", "/etc/hostname"])
        .assert_success()
        .assert_stdout_eq("vkernel\n");
}

#[test]
fn tar_image_from_vkernel_mkrootfs_boots() {
    let img = pack_tar(&staged());
    let out = boot(&img, &["/bin/busybox", "ls", "/"], "");
    assert_lists_root(&out);
    boot(&img, &["/bin/cat", "/etc/hostname"], "")
        .assert_success()
        .assert_stdout_eq("vkernel\n");
}

#[test]
fn cpio_image_boots() {
    let img = pack_cpio(&staged());
    assert_lists_root(&boot(&img, &["/bin/busybox", "ls", "/"], ""));
    boot(&img, &["/bin/cat", "/etc/hostname"], "")
        .assert_success()
        .assert_stdout_eq("vkernel\n");
    boot(&img, &[], "exit 3\n")
        .assert_status(3)
        .assert_stdout_contains(INIT_BANNER);
}

#[test]
fn ext4_image_boots() {
    let img = pack_ext4(&staged());
    assert_lists_root(&boot(&img, &["/bin/busybox", "ls", "/"], ""));
    boot(&img, &["/bin/cat", "/etc/hostname"], "")
        .assert_success()
        .assert_stdout_eq("vkernel\n");
    boot(&img, &[], "exit 3\n")
        .assert_status(3)
        .assert_stdout_contains(INIT_BANNER);
}
