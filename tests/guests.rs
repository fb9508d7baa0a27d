//! The C guests in tests/guests/, each built with glibc and with musl (`cc -static`,
//! `musl-gcc -static`), run under vkernel as pid 1. Where a guest's output is
//! deterministic it must equal the output of the same binary run natively (with the
//! same argv[0] and environment); the rest is checked line by line.
//!
//! Every guest exits with the number of checks that failed and prints a line starting
//! with "FAIL" for each, so a failing test shows what broke.

use std::path::PathBuf;
use std::sync::OnceLock;

use vkernel_tests::*;

const GUESTS: &[&str] = &[
    "hello", "args", "mem", "files", "efault", "enosys", "info", "exitcode", "timeouts",
];

/// Where a guest lives in the image: /bin/<name>-<cc>.
fn guest_path(name: &str, cc: Cc) -> String {
    format!("/bin/{name}-{cc}")
}

/// One image with every guest in both flavours.
fn image() -> PathBuf {
    static IMG: OnceLock<PathBuf> = OnceLock::new();
    IMG.get_or_init(|| {
        let mut extra = Vec::new();
        for name in GUESTS {
            for cc in Cc::STATIC {
                extra.push((build_guest(name, cc), guest_path(name, cc)));
            }
        }
        rootfs(&extra)
    })
    .clone()
}

/// Run the guest under vkernel: `vkernel boot IMG -- /bin/<name>-<cc> ARGS...`.
fn run_guest(name: &str, cc: Cc, args: &[&str]) -> Outcome {
    let path = guest_path(name, cc);
    let mut prog = vec![path.as_str()];
    prog.extend_from_slice(args);
    boot(&image(), &prog, "")
}

/// Run the guest natively with the same argv[0] and environment.
fn run_host(name: &str, cc: Cc, args: &[&str]) -> Outcome {
    run_native(&build_guest(name, cc), &guest_path(name, cc), args)
}

/// Lines that do not start with "value " (those differ from run to run).
fn stable_lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| !l.starts_with("value ")).collect()
}

/// The guest behaves natively as expected (`status`), and identically under vkernel.
#[track_caller]
fn same_as_native(name: &str, cc: Cc, args: &[&str], status: i32) -> Outcome {
    let host = run_host(name, cc, args);
    host.check(
        host.status == status,
        format!(
            "the guest itself is broken: natively it exits {}, expected {status}",
            host.status
        ),
    );
    let vk = run_guest(name, cc, args);
    vk.assert_status(status);
    if stable_lines(&vk.stdout) != stable_lines(&host.stdout) {
        vk.fail(format!(
            "stdout differs from the native run; native stdout:\n{}",
            host.stdout
        ));
    }
    vk
}

macro_rules! both {
    ($(#[$meta:meta])* $check:ident => $glibc:ident, $musl:ident) => {
        $(#[$meta])*
        #[test]
        fn $glibc() {
            $check(Cc::Glibc);
        }
        $(#[$meta])*
        #[test]
        fn $musl() {
            $check(Cc::Musl);
        }
    };
}

// ---- hello -----------------------------------------------------------------------------

fn hello(cc: Cc) {
    let path = guest_path("hello", cc);
    same_as_native("hello", cc, &[], 0).assert_stdout_eq(&format!("hello from {path}\n"));
    same_as_native("hello", cc, &["42"], 42).assert_stdout_eq(&format!("hello from {path}\n"));
}
both!(hello => hello_glibc, hello_musl);

// ---- args ------------------------------------------------------------------------------

fn args(cc: Cc) {
    let argv = ["one", "", "two words", "ünïcödé", "--"];
    let host = run_host("args", cc, &argv);
    host.assert_status(0).assert_stdout_contains("args ok");

    let path = guest_path("args", cc);
    let mut prog = vec![path.as_str()];
    prog.extend_from_slice(&argv);
    let out = Vk::boot(&image(), &[], &prog).env("TERM", "vt100").run();
    out.assert_status(0);

    let mut want = vec![
        format!("argc {}", argv.len() + 1),
        format!("argv[0] [{path}]"),
    ];
    for (i, a) in argv.iter().enumerate() {
        want.push(format!("argv[{}] [{a}]", i + 1));
    }
    want.extend(
        [
            "envc 3",
            "getenv PATH [/bin:/sbin:/usr/bin:/usr/sbin]",
            "getenv HOME [/]",
            "getenv TERM [vt100]",
            "auxv walk terminated",
            "AT_PAGESZ 4096",
            "AT_UID 0",
            "AT_EUID 0",
            "AT_GID 0",
            "AT_EGID 0",
            "AT_SECURE 0",
            "AT_RANDOM 16 bytes readable",
            "AT_PLATFORM [x86_64]",
            "AT_HWCAP nonzero",
            "AT_CLKTCK 100",
            "AT_PHNUM positive",
            "AT_PHENT 56",
            "AT_PHDR has PT_LOAD",
            "AT_ENTRY is _start",
            "AT_BASE 0",
            "AT_SYSINFO_EHDR absent",
            "args ok",
        ]
        .map(String::from),
    );
    want.push(format!("AT_EXECFN [{path}]"));
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    out.assert_stdout_has_lines(&want);

    let mut env: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("env ["))
        .collect();
    env.sort_unstable();
    out.check(
        env == [
            "env [HOME=/]",
            "env [PATH=/bin:/sbin:/usr/bin:/usr/sbin]",
            "env [TERM=vt100]",
        ],
        "the environment should be exactly HOME, PATH and TERM",
    );
    out.check(!out.stdout.contains("FAIL"), "a check failed");
}
both!(args => args_glibc, args_musl);

// ---- mem, files, efault, enosys: deterministic, compared with the native run ----------

fn mem(cc: Cc) {
    same_as_native("mem", cc, &[], 0).assert_stdout_contains("mem ok");
}
both!(mem => mem_glibc, mem_musl);

fn files(cc: Cc) {
    same_as_native("files", cc, &[], 0).assert_stdout_contains("files ok");
}
both!(files => files_glibc, files_musl);

fn efault(cc: Cc) {
    same_as_native("efault", cc, &[], 0).assert_stdout_contains("efault ok");
}
both!(efault => efault_glibc, efault_musl);

fn enosys(cc: Cc) {
    same_as_native("enosys", cc, &[], 0).assert_stdout_contains("enosys ok");
    // 335 is uretprobe on Linux >= 6.11 (SIGILL natively); vkernel has no such call.
    run_guest("enosys", cc, &["335"])
        .assert_status(0)
        .assert_stdout_has_lines(&["syscall(335): ENOSYS", "enosys ok"]);
}
both!(enosys => enosys_glibc, enosys_musl);

fn timeouts(cc: Cc) {
    same_as_native("timeouts", cc, &[], 0)
        .assert_stdout_contains("a later short timer still fires: alarms 2");
}
both!(timeouts => timeouts_glibc, timeouts_musl);

// ---- info --------------------------------------------------------------------------------

/// The value of the line "value <key> <value>".
#[track_caller]
fn value<'a>(out: &'a Outcome, key: &str) -> &'a str {
    let prefix = format!("value {key} ");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| out.fail(format!("no line {prefix:?}")))
}

fn info(cc: Cc) {
    let before = host_time();
    let out = same_as_native("info", cc, &[], 0);
    let after = host_time();
    out.assert_stdout_has_lines(&["sysname Linux", "machine x86_64", "info ok"]);
    out.check(value(&out, "pid") == "1", "the guest should be pid 1");
    out.check(value(&out, "ppid") == "0", "pid 1 should have ppid 0");
    out.check(
        value(&out, "uid") == "0 euid 0 gid 0 egid 0",
        "the guest should run as root",
    );
    let t: i64 = value(&out, "realtime")
        .parse()
        .unwrap_or_else(|_| out.fail("realtime is not a number"));
    out.check(
        t >= before - 5 && t <= after + 5,
        format!("guest time {t} is not within 5 s of host time [{before}, {after}]"),
    );
}
both!(info => info_glibc, info_musl);

// ---- exitcode ------------------------------------------------------------------------------

fn exit_codes(cc: Cc) {
    same_as_native("exitcode", cc, &["exit_group", "3"], 3);
    same_as_native("exitcode", cc, &["exit_group", "255"], 255);
    same_as_native("exitcode", cc, &["exit_group", "256"], 0);
    same_as_native("exitcode", cc, &["exit", "42"], 42);
    same_as_native("exitcode", cc, &["return", "5"], 5).assert_stdout_eq(
        "exitcode return 5\nno newline before exit, flushed by libc:atexit handler ran\n",
    );
}
both!(exit_codes => exit_codes_glibc, exit_codes_musl);

fn killed_by_signal(cc: Cc) {
    // vkernel exits 128+N when pid 1 is killed by signal N. Unlike Linux, vkernel does
    // not protect pid 1 from its own signals (see docs/ARCHITECTURE.md): pid 1 is often
    // the user's program (`boot -- PROG`), and an abort must show as one.
    same_as_native("exitcode", cc, &["kill"], 128 + 9);
    same_as_native("exitcode", cc, &["abort"], 128 + 6);
    same_as_native("exitcode", cc, &["segv"], 128 + 11);
}
both!(killed_by_signal => killed_by_signal_glibc, killed_by_signal_musl);
