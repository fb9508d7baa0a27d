//! Shared helpers for the integration tests.
//!
//! - [`vkernel_bin`] finds the `vkernel` binary next to the test executable.
//! - [`build_guest`] compiles `tests/guests/NAME.c` with glibc or musl, once per test
//!   binary; [`rootfs`] builds a busybox image with `scripts/mkrootfs-busybox.sh`, once
//!   per set of extra files; [`stage_rootfs`], [`pack_cpio`] and [`pack_ext4`] build
//!   the same tree in the other image formats.
//! - [`boot`] and [`Vk`] run vkernel with a hard timeout (the whole process group is
//!   killed and the test fails if it is exceeded) and check that no process of the run
//!   is left behind; [`run_native`] runs a guest on the host the same way.
//! - [`Outcome`] has assertion helpers that print stdout and stderr on failure.
//!
//! Everything a test binary writes lives in one temporary directory, removed when the
//! test binary exits (set `VKERNEL_TESTS_KEEP=1` to keep it for debugging).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long one vkernel (or native) run may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long processes of a finished run may take to disappear (they are killed by
/// PTRACE_O_EXITKILL when vkernel exits, which is not instantaneous).
const STRAY_GRACE: Duration = Duration::from_secs(5);

/// At most this much of a run's stdout or stderr is kept (the rest is drained).
const OUTPUT_LIMIT: usize = 16 << 20;

/// The environment variable that marks every process of one vkernel run.
pub const MARKER_VAR: &str = "VKERNEL_TEST_MARKER";

/// The environment a guest gets from the kernel (besides TERM, copied from the host).
pub const GUEST_PATH: &str = "/bin:/sbin:/usr/bin:/usr/sbin";

/// The first line /sbin/init prints (see scripts/mkrootfs-busybox.sh).
pub const INIT_BANNER: &str = "vkernel: /sbin/init started, exec /bin/sh";

/// /etc/passwd as the rootfs script writes it.
pub const ETC_PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n";

/// Lock a mutex even if a test that held it panicked (that test already failed).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---- paths ---------------------------------------------------------------------------

/// The repository root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent directory")
        .to_path_buf()
}

/// The `vkernel` binary: `$VKERNEL_BIN` if set, else `target/<profile>/vkernel`, found from
/// the test executable, which cargo puts in `target/<profile>/deps/`.
pub fn vkernel_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("VKERNEL_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable is not in target/<profile>/deps/");
        profile_dir.join("vkernel")
    })
    .clone()
}

fn require_vkernel() -> PathBuf {
    let bin = vkernel_bin();
    assert!(
        bin.is_file(),
        "{} not found: run `cargo build --release` / `make test` first \
         (or point $VKERNEL_BIN at the binary)",
        bin.display()
    );
    bin
}

/// The static busybox the images are made of (`$BUSYBOX` or /bin/busybox).
pub fn busybox() -> PathBuf {
    std::env::var_os("BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"))
}

static WORK_DIR: OnceLock<PathBuf> = OnceLock::new();

/// This test binary's scratch directory, removed when the process exits.
pub fn work_dir() -> &'static Path {
    WORK_DIR.get_or_init(|| {
        sweep_stale_work_dirs();
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "test".into());
        // "boot-0123abcd" -> "boot"
        let name = exe.split('-').next().unwrap_or("test");
        let dir = tempfile::Builder::new()
            .prefix(&format!("vkernel-tests.{}.{name}.", std::process::id()))
            .tempdir()
            .expect("create a temporary directory")
            .keep();
        if std::env::var_os("VKERNEL_TESTS_KEEP").is_some() {
            eprintln!("vkernel-tests: keeping {}", dir.display());
        } else {
            // SAFETY: atexit(3) with a plain extern "C" fn that captures nothing.
            unsafe { libc::atexit(remove_work_dir) };
        }
        dir
    })
}

/// Runs at exit (libtest returns from main or calls exit()): remove the scratch dir.
extern "C" fn remove_work_dir() {
    if let Some(dir) = WORK_DIR.get() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Remove scratch directories of test binaries that died without cleaning up.
fn sweep_stale_work_dirs() {
    let Ok(entries) = std::env::temp_dir().read_dir() else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("vkernel-tests.") else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh path in the scratch directory.
pub fn scratch_path(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    work_dir().join(format!("{n}-{name}"))
}

/// Write a file into the scratch directory with the given mode.
pub fn write_file(name: &str, content: impl AsRef<[u8]>, mode: u32) -> PathBuf {
    let path = scratch_path(name);
    fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

// ---- guests --------------------------------------------------------------------------

/// How a guest is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cc {
    /// `cc -static -O2`
    Glibc,
    /// `musl-gcc -static -O2`
    Musl,
    /// `cc -O2`: dynamically linked, has PT_INTERP; for the exec error tests.
    GlibcDynamic,
}

impl Cc {
    /// The two static flavours every guest is tested with.
    pub const STATIC: [Cc; 2] = [Cc::Glibc, Cc::Musl];

    pub fn name(self) -> &'static str {
        match self {
            Cc::Glibc => "glibc",
            Cc::Musl => "musl",
            Cc::GlibcDynamic => "glibc-dynamic",
        }
    }

    fn command(self) -> (&'static str, &'static [&'static str], &'static str) {
        match self {
            Cc::Glibc => ("cc", &["-static", "-O2"], "gcc (build-essential)"),
            Cc::Musl => ("musl-gcc", &["-static", "-O2"], "musl-tools (`make deps`)"),
            Cc::GlibcDynamic => ("cc", &["-O2"], "gcc (build-essential)"),
        }
    }
}

impl fmt::Display for Cc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Compile `tests/guests/<src>.c` with `cc`, once per test binary; returns the host path.
pub fn build_guest(src: &str, cc: Cc) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<(String, Cc), PathBuf>>> = OnceLock::new();
    let mut cache = lock(CACHE.get_or_init(Default::default));
    if let Some(p) = cache.get(&(src.to_string(), cc)) {
        return p.clone();
    }
    let source = repo_root().join("tests/guests").join(format!("{src}.c"));
    assert!(source.is_file(), "no guest source {}", source.display());
    let dir = work_dir().join("guests");
    fs::create_dir_all(&dir).expect("mkdir guests");
    let out = dir.join(format!("{src}-{cc}"));
    let (compiler, flags, package) = cc.command();
    let result = Command::new(compiler)
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}; install {package}"));
    assert!(
        result.status.success(),
        "{compiler} {} failed ({}):\n{}{}",
        source.display(),
        result.status,
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    cache.insert((src.to_string(), cc), out.clone());
    out
}

// ---- root filesystems ----------------------------------------------------------------

fn script() -> PathBuf {
    repo_root().join("scripts/mkrootfs-busybox.sh")
}

fn pairs<S: AsRef<str>>(extra: &[(PathBuf, S)]) -> Vec<OsString> {
    extra
        .iter()
        .map(|(src, dest)| {
            let dest = dest.as_ref();
            assert!(dest.starts_with('/'), "image path {dest} must be absolute");
            let mut pair = src.clone().into_os_string();
            pair.push(":");
            pair.push(dest);
            pair
        })
        .collect()
}

fn run_script(args: &[OsString], what: &str) {
    let out = Command::new("sh")
        .arg(script())
        .args(args)
        .env("TMPDIR", work_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{what}: {} failed ({}):\n{}{}",
        script().display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A busybox rootfs image (tar, by `vkernel mkrootfs`) with `extra` (host file, image
/// path) pairs added. Built once per distinct `extra` per test binary.
pub fn rootfs<S: AsRef<str>>(extra: &[(PathBuf, S)]) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<Vec<OsString>, PathBuf>>> = OnceLock::new();
    let key = pairs(extra);
    let mut cache = lock(CACHE.get_or_init(Default::default));
    if let Some(p) = cache.get(&key) {
        return p.clone();
    }
    let vkernel = require_vkernel();
    let img = scratch_path("rootfs.img");
    let mut args = vec![vkernel.into_os_string(), img.clone().into_os_string()];
    args.extend(key.iter().cloned());
    run_script(&args, "build rootfs image");
    assert!(img.is_file(), "{} was not created", img.display());
    cache.insert(key, img.clone());
    img
}

/// The staging tree of [`rootfs`] (same content) as a directory, for other formats.
pub fn stage_rootfs<S: AsRef<str>>(extra: &[(PathBuf, S)]) -> PathBuf {
    let dir = scratch_path("stage");
    let mut args = vec![OsString::from("--stage-only"), dir.clone().into_os_string()];
    args.extend(pairs(extra));
    run_script(&args, "stage rootfs");
    dir
}

fn check_output(out: std::io::Result<std::process::Output>, what: &str) {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `vkernel mkrootfs DIR -o IMG`: a tar image of a staged tree.
pub fn pack_tar(dir: &Path) -> PathBuf {
    let img = scratch_path("rootfs.tar");
    let out = Command::new(require_vkernel())
        .arg("mkrootfs")
        .arg(dir)
        .arg("-o")
        .arg(&img)
        .stdin(Stdio::null())
        .output();
    check_output(out, "vkernel mkrootfs");
    img
}

/// A cpio (newc) image of a staged tree: `find . | busybox cpio -o -H newc` (the first
/// entry is "." itself; busybox stores the other names without the leading "./").
pub fn pack_cpio(dir: &Path) -> PathBuf {
    let img = scratch_path("rootfs.cpio");
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"cd "$1" && "$2" find . | "$2" cpio -o -H newc > "$3""#)
        .arg("sh")
        .arg(dir)
        .arg(busybox())
        .arg(&img)
        .stdin(Stdio::null())
        .output();
    check_output(out, "busybox cpio -o -H newc");
    img
}

/// An ext4 image of a staged tree: `mke2fs -q -t ext4 -d DIR IMG 64M` (at this size
/// mke2fs picks 1 KiB blocks; metadata_csum, extents, flex_bg and 64bit are on).
pub fn pack_ext4(dir: &Path) -> PathBuf {
    let img = scratch_path("rootfs.ext4");
    let mke2fs = ["/sbin/mke2fs", "/usr/sbin/mke2fs"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("mke2fs"));
    let out = Command::new(&mke2fs)
        .args(["-q", "-t", "ext4", "-d"])
        .arg(dir)
        .arg(&img)
        .arg("64M")
        .stdin(Stdio::null())
        .output();
    check_output(out, "mke2fs (install e2fsprogs)");
    img
}

// ---- running -------------------------------------------------------------------------

/// What a finished run did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The command line, for messages.
    pub command: String,
    /// The exit code, or 128+N when the process was killed by signal N.
    pub status: i32,
    /// The signal that killed the process, if one did.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Processes of this run still alive after it ended (always empty for a [`Vk`]
    /// run that checks for strays: it panics instead).
    pub strays: Vec<String>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        match self.signal {
            Some(sig) => writeln!(f, "status:  {} (killed by signal {sig})", self.status)?,
            None => writeln!(f, "status:  {}", self.status)?,
        }
        writeln!(f, "---- stdout ----\n{}", self.stdout)?;
        writeln!(f, "---- stderr ----\n{}", self.stderr)?;
        if !self.strays.is_empty() {
            writeln!(f, "---- stray processes ----\n{}", self.strays.join("\n"))?;
        }
        write!(f, "----------------")
    }
}

impl Outcome {
    /// Fail the test, printing `what` and the whole outcome.
    #[track_caller]
    pub fn fail(&self, what: impl fmt::Display) -> ! {
        panic!("{what}\n{self}")
    }

    #[track_caller]
    pub fn check(&self, cond: bool, what: impl fmt::Display) -> &Self {
        if !cond {
            self.fail(what);
        }
        self
    }

    #[track_caller]
    pub fn assert_status(&self, code: i32) -> &Self {
        self.check(
            self.status == code,
            format!("expected exit status {code}, got {}", self.status),
        )
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_status(0)
    }

    #[track_caller]
    pub fn assert_stdout_eq(&self, expected: &str) -> &Self {
        self.check(
            self.stdout == expected,
            format!(
                "expected stdout exactly {expected:?}, got {:?}",
                self.stdout
            ),
        )
    }

    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        self.check(
            self.stdout.contains(needle),
            format!("stdout does not contain {needle:?}"),
        )
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        self.check(
            self.stderr.contains(needle),
            format!("stderr does not contain {needle:?}"),
        )
    }

    #[track_caller]
    pub fn assert_stderr_empty(&self) -> &Self {
        self.check(self.stderr.is_empty(), "expected nothing on stderr")
    }

    /// Every `expected` line appears as a whole line of stdout.
    #[track_caller]
    pub fn assert_stdout_has_lines(&self, expected: &[&str]) -> &Self {
        let lines: Vec<&str> = self.stdout.lines().collect();
        for want in expected {
            self.check(lines.contains(want), format!("stdout has no line {want:?}"));
        }
        self
    }

    /// stdout split on whitespace (for `ls` in columns or one per line).
    pub fn stdout_words(&self) -> Vec<&str> {
        self.stdout.split_whitespace().collect()
    }

    /// stderr is exactly one non-empty line (a trailing newline is allowed); returns it.
    #[track_caller]
    pub fn assert_one_stderr_line(&self) -> &str {
        let line = self.stderr.strip_suffix('\n').unwrap_or(&self.stderr);
        self.check(
            !line.trim().is_empty() && !line.contains('\n'),
            format!(
                "expected exactly one line on stderr, got {} lines",
                self.stderr.lines().count()
            ),
        );
        line
    }
}

/// One vkernel invocation: `Vk::new(args)` or `Vk::boot(rootfs, prog)`, then options,
/// then [`Vk::run`].
#[derive(Clone, Debug)]
pub struct Vk {
    args: Vec<OsString>,
    stdin: Vec<u8>,
    env: Vec<(OsString, Option<OsString>)>,
    timeout: Duration,
    check_strays: bool,
}

impl Vk {
    /// `vkernel ARGS...`
    pub fn new<I, S>(args: I) -> Vk
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Vk {
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            stdin: Vec::new(),
            // TERM is copied into the guest: keep it out unless a test sets it.
            env: vec![("TERM".into(), None)],
            timeout: DEFAULT_TIMEOUT,
            check_strays: true,
        }
    }

    /// `vkernel boot [OPTIONS] ROOTFS [-- PROG ARGS...]` (no `--` when `prog` is empty).
    pub fn boot(rootfs: &Path, options: &[&str], prog: &[&str]) -> Vk {
        let mut args: Vec<OsString> = vec!["boot".into()];
        args.extend(options.iter().map(OsString::from));
        args.push(rootfs.into());
        if !prog.is_empty() {
            args.push("--".into());
            args.extend(prog.iter().map(OsString::from));
        }
        Vk::new(args)
    }

    /// Bytes for vkernel's stdin (the guest console); stdin is closed after them.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Vk {
        self.stdin = input.into();
        self
    }

    /// Set an environment variable for vkernel.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Vk {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Vk {
        self.timeout = timeout;
        self
    }

    /// Report processes left behind in [`Outcome::strays`] instead of failing.
    pub fn allow_strays(mut self) -> Vk {
        self.check_strays = false;
        self
    }

    /// Run vkernel to the end (or kill it at the timeout and fail the test).
    #[track_caller]
    pub fn run(self) -> Outcome {
        let bin = require_vkernel();
        let marker = new_marker();
        let mut cmd = Command::new(&bin);
        cmd.args(&self.args);
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.env(MARKER_VAR, &marker);
        let command = format!(
            "{} {}",
            bin.display(),
            self.args
                .iter()
                .map(|a| shell_quote(&a.to_string_lossy()))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let out = run_command(cmd, command, &self.stdin, self.timeout, Some(&marker));
        if self.check_strays && !out.strays.is_empty() {
            out.fail("processes of this vkernel run were still alive after it exited");
        }
        out
    }
}

/// `vkernel boot ROOTFS [-- ARGS...]` with `stdin` as the console input.
#[track_caller]
pub fn boot(rootfs: &Path, args: &[&str], stdin: &str) -> Outcome {
    Vk::boot(rootfs, &[], args).stdin(stdin).run()
}

/// Run a guest binary natively the way vkernel would start it: argv[0] = `arg0`,
/// environment PATH and HOME only, cwd /.
pub fn run_native(prog: &Path, arg0: &str, args: &[&str]) -> Outcome {
    run_native_fed(prog, arg0, args, b"")
}

/// [`run_native`] with `stdin` as its input, then end of file.
pub fn run_native_fed(prog: &Path, arg0: &str, args: &[&str], stdin: &[u8]) -> Outcome {
    let mut cmd = Command::new(prog);
    cmd.arg0(arg0)
        .args(args)
        .env_clear()
        .env("PATH", GUEST_PATH)
        .env("HOME", "/")
        .current_dir("/");
    let command = format!("(native) {} {}", prog.display(), args.join(" "));
    run_command(cmd, command, stdin, DEFAULT_TIMEOUT, None)
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn new_marker() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut f) = fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{hex}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Read a pipe to the end, keeping at most OUTPUT_LIMIT bytes.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 65536];
        let mut dropped = 0usize;
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    dropped += n - n.min(room);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if dropped > 0 {
            kept.extend_from_slice(format!("\n[... {dropped} more bytes dropped]\n").as_bytes());
        }
        let _ = tx.send(kept);
    });
    rx
}

fn kill_run(pgid: i32, marker: Option<&str>) {
    // SAFETY: kill(2) on a process group we created; no memory is involved.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    for p in find_run_processes(pgid, marker) {
        // SAFETY: as above, for one pid that belongs to this run.
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
    }
}

fn run_command(
    mut cmd: Command,
    command: String,
    stdin: &[u8],
    timeout: Duration,
    marker: Option<&str>,
) -> Outcome {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
    let pgid = child.id() as i32;

    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    thread::spawn(move || {
        // The guest may exit without reading: EPIPE is fine.
        let _ = input.write_all(&data);
    });
    let stdout_rx = drain(child.stdout.take().expect("stdout"));
    let stderr_rx = drain(child.stderr.take().expect("stderr"));

    let fail = |what: &str| -> Outcome {
        kill_run(pgid, marker);
        let grab = |rx: &mpsc::Receiver<Vec<u8>>| {
            rx.recv_timeout(Duration::from_secs(2))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|_| "(not available)".into())
        };
        let out = Outcome {
            command: command.clone(),
            status: -1,
            signal: None,
            stdout: grab(&stdout_rx),
            stderr: grab(&stderr_rx),
            strays: Vec::new(),
        };
        out.fail(format!("TIMEOUT: {what}; killed its process group"))
    };

    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => panic!("wait for {command}: {e}"),
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return fail(&format!("it did not exit within {} s", timeout.as_secs()));
        }
        thread::sleep(Duration::from_millis(5));
    };

    // The pipes reach EOF when every holder of their write ends is gone; a process
    // left behind would keep them open.
    let held = |name: &str| {
        format!(
            "it exited ({status}) but something kept its {name} open for {} s",
            STRAY_GRACE.as_secs()
        )
    };
    let stdout = match stdout_rx.recv_timeout(STRAY_GRACE) {
        Ok(b) => b,
        Err(_) => return fail(&held("stdout")),
    };
    let stderr = match stderr_rx.recv_timeout(STRAY_GRACE) {
        Ok(b) => b,
        Err(_) => return fail(&held("stderr")),
    };

    let strays = wait_for_strays(pgid, marker);
    if !strays.is_empty() {
        kill_run(pgid, marker);
    }
    let signal = status.signal();
    Outcome {
        command,
        status: status.code().unwrap_or_else(|| 128 + signal.unwrap_or(0)),
        signal,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        strays: strays.iter().map(ToString::to_string).collect(),
    }
}

// ---- stray processes -----------------------------------------------------------------

/// A live process that belongs to a run.
#[derive(Clone, Debug)]
pub struct RunProcess {
    pub pid: i32,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
}

impl fmt::Display for RunProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} ({}) state {} ppid {} pgrp {}",
            self.pid, self.comm, self.state, self.ppid, self.pgrp
        )
    }
}

/// Live (not zombie) processes in process group `pgid` or whose environment holds
/// `VKERNEL_TEST_MARKER=<marker>`. vkernel runs in a process group of its own, so its
/// zygote and stubs are found by group even if they unmapped their environment.
pub fn find_run_processes(pgid: i32, marker: Option<&str>) -> Vec<RunProcess> {
    let needle = marker.map(|m| format!("{MARKER_VAR}={m}\0").into_bytes());
    let me = std::process::id() as i32;
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.len() < 3 {
            continue;
        }
        let state = fields[0].chars().next().unwrap_or('?');
        if state == 'Z' || state == 'X' {
            continue;
        }
        let ppid = fields[1].parse().unwrap_or(0);
        let pgrp = fields[2].parse().unwrap_or(0);
        let marked = needle.as_ref().is_some_and(|n| {
            fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.windows(n.len()).any(|w| w == n.as_slice()))
                .unwrap_or(false)
        });
        if pgrp == pgid || marked {
            found.push(RunProcess {
                pid,
                comm,
                state,
                ppid,
                pgrp,
            });
        }
    }
    found
}

/// Processes of a finished run that are still alive after a grace period.
fn wait_for_strays(pgid: i32, marker: Option<&str>) -> Vec<RunProcess> {
    let until = Instant::now() + STRAY_GRACE;
    loop {
        let found = find_run_processes(pgid, marker);
        if found.is_empty() || Instant::now() >= until {
            return found;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ---- misc ----------------------------------------------------------------------------

/// Seconds since the epoch on the host.
pub fn host_time() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Deterministic pseudo-random bytes (xorshift64*), for "garbage" inputs.
pub fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}
