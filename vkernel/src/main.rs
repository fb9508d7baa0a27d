//! vkernel: a checkpointable userspace kernel for Linux x86-64 guests.

mod checkpoint;
mod clock;
mod exec;
mod fork;
mod fs;
mod futex;
mod host;
mod kernel;
mod loader;
mod mm;
mod net;
mod process;
mod sched;
mod session;
mod signal;
mod strace;
mod syscall;
mod task;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::fs::inode::Inode;
use crate::fs::{fdtable, Cred, FdEntry, FdTable, FileKind, OpenFile};
use crate::kernel::{Kernel, Options};
use crate::mm::Vmspace;
use crate::process::{ExitStatus, FsState, Process, Shared, Thread, Tree};

#[derive(Parser)]
#[command(
    name = "vkernel",
    version,
    about = "A checkpointable userspace kernel for Linux x86-64 guests"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Boot a root filesystem image and run PROG (default /sbin/init, then /bin/sh) as pid 1.
    Boot {
        /// Guest RAM, e.g. 512M or 2G (sparse: untouched memory costs nothing).
        #[arg(long, default_value = "2G", value_parser = parse_size)]
        memory: u64,
        /// The program to run as pid 1 when none follows `--`.
        #[arg(long)]
        init: Option<String>,
        /// Print every guest system call to stderr.
        #[arg(long)]
        strace: bool,
        /// Log kernel events (unimplemented syscalls, ...) to stderr.
        #[arg(short, long)]
        verbose: bool,
        /// Where checkpoints go (SIGUSR1 writes one, SIGUSR2 writes one and exits):
        /// `%p` is vkernel's pid, `%n` a sequence number; relative to the directory
        /// vkernel starts in.
        #[arg(long, default_value = "ckpt.elf")]
        ckpt_file: PathBuf,
        #[command(flatten)]
        net: NetArgs,
        /// The root filesystem image (tar, cpio newc or ext2/3/4).
        rootfs: PathBuf,
        /// Program and arguments for pid 1.
        #[arg(last = true)]
        prog: Vec<String>,
    },
    /// Write a tar root filesystem image of DIR.
    Mkrootfs {
        dir: PathBuf,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Resume the system saved in a checkpoint image.
    Thaw {
        image: PathBuf,
        /// The root filesystem image (default: the one the checkpointed system booted).
        #[arg(long)]
        rootfs: Option<PathBuf>,
        /// Where later checkpoints go (see boot).
        #[arg(long, default_value = "ckpt.elf")]
        ckpt_file: PathBuf,
        #[command(flatten)]
        net: HostNetArgs,
        #[arg(long)]
        strace: bool,
        #[arg(short, long)]
        verbose: bool,
    },
    /// Inspect checkpoint images.
    Ckpt {
        #[command(subcommand)]
        cmd: CkptCmd,
    },
    /// Send a running vkernel a signal: -CKPT (checkpoint, SIGUSR1), -CKPTEXIT
    /// (checkpoint and exit, SIGUSR2), or a signal name or number.
    Kill {
        #[arg(allow_hyphen_values = true)]
        signal: String,
        pid: i32,
    },
}

/// How the guest reaches the host's network (docs/ARCHITECTURE.md, "vke0").
#[derive(clap::Args)]
struct NetArgs {
    /// `user`: a NIC vke0 (10.0.2.15, gateway 10.0.2.2 = the host, DNS 10.0.2.3)
    /// whose connections the host makes (NAT); `none`: loopback only.
    #[arg(long, default_value = "user", value_parser = ["user", "none"])]
    net: String,
    #[command(flatten)]
    host: HostNetArgs,
}

/// The host's side of the network, which a thaw may change too.
#[derive(clap::Args)]
struct HostNetArgs {
    /// Forward a host port to a guest TCP port: [HOSTIP:]HOSTPORT:GUESTPORT (host
    /// address 127.0.0.1 unless given). Repeatable. On thaw: instead of the
    /// checkpoint's.
    #[arg(long, value_name = "[HOSTIP:]HOSTPORT:GUESTPORT")]
    publish: Vec<net::nat::publish::Publish>,
    /// The DNS server guest queries to 10.0.2.3 go to, ADDR:PORT (default: the
    /// host's /etc/resolv.conf).
    #[arg(long)]
    dns: Option<std::net::SocketAddr>,
    /// How many host sockets the guest may hold at once (default: half the host's
    /// fd limit, at most 4096); beyond it the guest gets ENFILE.
    #[arg(long)]
    max_host_sockets: Option<usize>,
}

impl NetArgs {
    fn config(self) -> net::nat::Config {
        let fresh = net::nat::Config {
            enabled: self.net == "user",
            max_host_sockets: net::nat::default_budget(),
            ..Default::default()
        };
        self.host.over(fresh)
    }
}

impl HostNetArgs {
    /// `base` with what was given instead.
    fn over(self, base: net::nat::Config) -> net::nat::Config {
        net::nat::Config {
            dns: self.dns.or(base.dns),
            publish: if self.publish.is_empty() {
                base.publish
            } else {
                self.publish
            },
            max_host_sockets: self.max_host_sockets.unwrap_or(base.max_host_sockets),
            ..base
        }
    }
}

#[derive(Subcommand)]
enum CkptCmd {
    /// Summarize an image: processes, threads, memory, open files, sizes.
    Info {
        image: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// Parses sizes like 512M, 2G, 65536 (bytes), 1T.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("bad size suffix in '{s}'")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a size"))?;
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))?;
    if !((16 << 20)..=(1 << 40)).contains(&bytes) || !bytes.is_multiple_of(4096) {
        return Err(format!(
            "'{s}' must be a multiple of 4 KiB between 16M and 1T"
        ));
    }
    Ok(bytes)
}

/// Host signals that end vkernel; blocked in every thread and taken by one.
const SHUTDOWN_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// SIGCKPT: write a checkpoint and go on. SIGCKPTEXIT: write one and exit.
const SIGCKPT: i32 = libc::SIGUSR1;
const SIGCKPTEXIT: i32 = libc::SIGUSR2;

/// The kernel, once it exists (the signal thread starts first).
type KernelSlot = Arc<std::sync::OnceLock<Arc<Kernel>>>;

/// Blocks the shutdown and checkpoint signals and SIGWINCH (before any thread exists,
/// so all inherit the mask) and starts the one thread that takes them: a resize goes
/// to the console; SIGCKPT writes a checkpoint (one line on stderr either way);
/// SIGCKPTEXIT writes one and exits 0 (if it fails, the system goes on); a shutdown
/// signal restores the host terminal and exits with 128+signal, and the stubs die
/// with us (PTRACE_O_EXITKILL).
fn start_signal_thread(kernel: KernelSlot, target: checkpoint::Target) -> std::io::Result<()> {
    // SAFETY: building and applying a signal mask for this (still single) thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SHUTDOWN_SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        for s in [libc::SIGWINCH, SIGCKPT, SIGCKPTEXIT] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut sig = 0;
            // SAFETY: waiting on a valid set into a valid int.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                continue;
            }
            match (sig, kernel.get()) {
                (libc::SIGWINCH, Some(k)) => fs::console::host_resized(&k.ttys.console),
                (SIGCKPT | SIGCKPTEXIT, Some(k)) => {
                    let then = if sig == SIGCKPTEXIT {
                        checkpoint::Then::Exit
                    } else {
                        checkpoint::Then::GoOn
                    };
                    let done = checkpoint::take(k, &target, then);
                    match &done {
                        Ok(report) => eprintln!("{report}"),
                        Err(e) => eprintln!("vkernel: {e}"),
                    }
                    if sig == SIGCKPTEXIT && done.is_ok() {
                        fs::console::restore_host_terminal();
                        std::process::exit(0);
                    }
                }
                (libc::SIGWINCH | SIGCKPT | SIGCKPTEXIT, None) => {}
                _ => {
                    fs::console::restore_host_terminal();
                    std::process::exit(128 + sig);
                }
            }
        })?;
    Ok(())
}

fn main() -> ExitCode {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        fs::console::restore_host_terminal();
        default_hook(info);
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, as for every host-side error.
            let text = e.to_string();
            let line = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            eprintln!("vkernel: {line}");
            return ExitCode::from(2);
        }
    };
    match cli.cmd {
        Cmd::Mkrootfs { dir, output } => match rootfs::write_tar(&dir, &output) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vkernel: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::Ckpt {
            cmd: CkptCmd::Info { image, json },
        } => ckpt_info(&image, json),
        Cmd::Kill { signal, pid } => kill(&signal, pid),
        Cmd::Boot {
            memory,
            init,
            strace,
            verbose,
            ckpt_file,
            net,
            rootfs,
            prog,
        } => {
            let opts = Options {
                strace,
                verbose,
                rootfs_path: std::path::absolute(&rootfs).unwrap_or(rootfs.clone()),
                rootfs_identity: Vec::new(),
            };
            let result = boot(memory, &rootfs, &ckpt_file, init, prog, opts, net.config());
            exit_code(result)
        }
        Cmd::Thaw {
            image,
            rootfs,
            ckpt_file,
            net,
            strace,
            verbose,
        } => {
            let opts = (strace, verbose);
            exit_code(thaw(&image, rootfs, &ckpt_file, net, opts))
        }
    }
}

/// vkernel's exit code: the guest's, or 2 after one line naming the problem.
fn exit_code(result: anyhow::Result<u8>) -> ExitCode {
    fs::console::restore_host_terminal();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("vkernel: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Thaws a checkpoint; returns vkernel's exit code (pid 1's status).
fn thaw(
    image_path: &std::path::Path,
    rootfs: Option<PathBuf>,
    ckpt_file: &std::path::Path,
    net: HostNetArgs,
    (strace, verbose): (bool, bool),
) -> anyhow::Result<u8> {
    let what = || image_path.display().to_string();
    let saved = checkpoint::thaw::open(image_path).with_context(what)?;
    let rootfs_path = rootfs.unwrap_or_else(|| saved.kernel.rootfs_path.clone());
    let physmem =
        Arc::new(vproc::Physmem::new(saved.kernel.physmem_bytes).context("guest memory")?);
    // The zygote must be forked before any thread exists (the ext reader starts one).
    let zygote = vproc::Zygote::start(&physmem).context("starting the stub factory")?;
    let slot = KernelSlot::default();
    let target = checkpoint::Target::new(ckpt_file).context("the checkpoint path")?;
    start_signal_thread(slot.clone(), target).context("starting the signal thread")?;
    // The checkpoint's published ports are bound again (an error if one is taken).
    net::nat::configure(net.over(saved.kernel.network.clone())).with_context(what)?;
    let image = Arc::new(rootfs::open(&rootfs_path)?);
    let opts = Options {
        strace,
        verbose,
        rootfs_identity: rootfs_identity(&rootfs_path)?,
        rootfs_path: std::path::absolute(&rootfs_path).unwrap_or(rootfs_path),
    };
    saved.check_host(&opts.rootfs_identity).with_context(what)?;
    let claims = checkpoint::thaw::load_memory(&saved, &physmem).with_context(what)?;
    let kernel = Kernel::thaw(physmem.clone(), zygote, image, opts, &saved).with_context(what)?;
    checkpoint::thaw::drop_claims(&physmem, &claims);
    fs::console::attach(&kernel.ttys.console);
    let _ = slot.set(kernel.clone());
    for p in kernel.all_processes() {
        syscall::resume_timers(&kernel, &p);
    }
    checkpoint::thaw::start_threads(&kernel, &saved).with_context(what)?;
    let init = kernel
        .process(1)
        .ok_or_else(|| anyhow::anyhow!("{}: no pid 1", what()))?;
    let ended = || init.life().exit;
    let waker = sched::Waker::new();
    let status = sched::wait_on(&waker, &[&init.thread_exit], None, &|| false, ended)
        .unwrap_or(ExitStatus::Signal(libc::SIGKILL));
    Ok(status.host_code() as u8)
}

/// `vkernel ckpt info`: exit 0 with the summary, or one line and exit 2.
fn ckpt_info(image: &std::path::Path, json: bool) -> ExitCode {
    match checkpoint::info::summarize(image) {
        Ok(s) if json => match serde_json::to_string_pretty(&s) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vkernel: {e}");
                ExitCode::from(2)
            }
        },
        Ok(s) => {
            print!("{}", checkpoint::info::render(&s));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vkernel: {}: {e}", image.display());
            ExitCode::from(2)
        }
    }
}

/// `vkernel kill -SIGNAL PID`.
fn kill(signal: &str, pid: i32) -> ExitCode {
    let name = signal.trim_start_matches('-');
    let sig = match name.to_ascii_uppercase().trim_start_matches("SIG") {
        "CKPT" => Some(SIGCKPT),
        "CKPTEXIT" => Some(SIGCKPTEXIT),
        other => other.parse().ok().or_else(|| {
            format!("SIG{other}")
                .parse::<nix::sys::signal::Signal>()
                .ok()
                .map(|s| s as i32)
        }),
    };
    let Some(sig) = sig else {
        eprintln!("vkernel: unknown signal '{signal}'");
        return ExitCode::from(2);
    };
    // SAFETY: kill(2) with plain integers.
    if unsafe { libc::kill(pid, sig) } != 0 {
        eprintln!("vkernel: kill {pid}: {}", std::io::Error::last_os_error());
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// What a checkpoint records of the root image, so a thaw can check it has the same
/// one: its size, modification time and a hash of its first MiB (cheap for any size).
fn rootfs_identity(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let what = || format!("{}", path.display());
    let f = std::fs::File::open(path).with_context(what)?;
    let meta = f.metadata().with_context(what)?;
    let mut head = Vec::with_capacity(1 << 20);
    f.take(1 << 20).read_to_end(&mut head).with_context(what)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let mut id = Vec::new();
    for v in [meta.len(), mtime, xxhash_rust::xxh3::xxh3_64(&head)] {
        id.extend_from_slice(&v.to_le_bytes());
    }
    Ok(id)
}

/// Boots the system; returns vkernel's exit code (pid 1's status).
fn boot(
    memory: u64,
    image_path: &std::path::Path,
    ckpt_file: &std::path::Path,
    init: Option<String>,
    prog: Vec<String>,
    mut opts: Options,
    net: net::nat::Config,
) -> anyhow::Result<u8> {
    let physmem = Arc::new(vproc::Physmem::new(memory).context("guest memory")?);
    // The zygote must be forked before any thread exists (the ext reader starts one).
    let zygote = vproc::Zygote::start(&physmem).context("starting the stub factory")?;
    let slot = KernelSlot::default();
    let target = checkpoint::Target::new(ckpt_file).context("the checkpoint path")?;
    start_signal_thread(slot.clone(), target).context("starting the signal thread")?;
    // After the signal mask is set: the pump thread inherits it.
    net::nat::configure(net)?;
    let image = Arc::new(rootfs::open(image_path)?);
    opts.rootfs_identity = rootfs_identity(image_path)?;
    let kernel = Kernel::new(physmem, zygote, image, opts).context("starting kernel threads")?;
    fs::console::attach(&kernel.ttys.console);
    let _ = slot.set(kernel.clone());
    let argv = pid1_argv(&kernel, init, prog);
    let handle = std::thread::Builder::new()
        .name("pid1".into())
        .spawn(move || run_pid1(kernel, argv))
        .context("starting pid 1")?;
    let code = handle
        .join()
        .map_err(|_| anyhow::anyhow!("pid 1's task panicked"))??;
    Ok(code)
}

/// PROG if given, else --init, else /sbin/init if present, else /bin/sh.
fn pid1_argv(k: &Kernel, init: Option<String>, prog: Vec<String>) -> Vec<Vec<u8>> {
    if !prog.is_empty() {
        return prog.into_iter().map(String::into_bytes).collect();
    }
    let path = init.unwrap_or_else(|| {
        let has_init = lookup(k, b"/sbin/init").is_some();
        if has_init { "/sbin/init" } else { "/bin/sh" }.to_string()
    });
    vec![path.into_bytes()]
}

fn lookup(k: &Kernel, path: &[u8]) -> Option<Arc<Inode>> {
    let view = kernel::KernelView {
        kernel: k,
        current: 1,
        current_tid: 1,
    };
    let walk = fs::Walk {
        root: &k.vfs.root,
        cred: Cred::ROOT,
        view: &view,
    };
    walk.resolve(&k.vfs.root, path, true).ok()
}

fn guest_env() -> Vec<Vec<u8>> {
    let mut env = vec![
        b"HOME=/".to_vec(),
        b"PATH=/bin:/sbin:/usr/bin:/usr/sbin".to_vec(),
    ];
    if let Some(term) = std::env::var_os("TERM") {
        use std::os::unix::ffi::OsStrExt;
        let mut v = b"TERM=".to_vec();
        v.extend_from_slice(term.as_bytes());
        env.push(v);
    }
    env
}

fn console_fds(k: &Kernel) -> FdTable {
    let mut files = FdTable::default();
    let dev = lookup(k, b"/dev/console").unwrap_or_else(|| k.vfs.root.clone());
    let rw = libc::O_RDWR as u32;
    let tty = &k.ttys.console;
    let console = OpenFile::new(
        dev.clone(),
        b"/dev/console".to_vec(),
        FileKind::Tty {
            tty: tty.clone(),
            stderr: false,
        },
        rw,
    );
    let errors = OpenFile::new(
        dev,
        b"/dev/console".to_vec(),
        FileKind::Tty {
            tty: tty.clone(),
            stderr: true,
        },
        rw,
    );
    for (fd, file) in [(0, &console), (1, &console), (2, &errors)] {
        let e = FdEntry {
            file: file.clone(),
            cloexec: false,
        };
        let _ = files.install_at(fd, e, fdtable::NR_OPEN);
    }
    files
}

/// Runs pid 1 to its end; returns vkernel's exit code.
fn run_pid1(kernel: Arc<Kernel>, argv: Vec<Vec<u8>>) -> anyhow::Result<u8> {
    let root = kernel.vfs.root.clone();
    let fs = FsState {
        root: root.clone(),
        cwd: root,
        umask: 0o022,
    };
    let vm = Vmspace::new(kernel.physmem.clone());
    let pid = kernel.alloc_pid();
    let tree = Tree {
        ppid: 0,
        pgid: pid,
        sid: pid,
        children: Vec::new(),
        ctty: None,
        tty_old_pgrp: None,
    };
    let process = Process::new(
        pid,
        tree,
        Shared::new(vm),
        Shared::new(console_fds(&kernel)),
        Shared::new(fs),
        Cred::ROOT,
    );
    kernel.add_process(process.clone());
    // A console on a host terminal is the controlling terminal of the boot session.
    if kernel.ttys.console.is_terminal() {
        kernel.set_ctty(&process, &kernel.ttys.console);
    }
    kernel.freezer.spawned();
    let mut task = task::new_task(&kernel, &process, Thread::new(pid), task::StubSource::Fresh)
        .context("creating pid 1's stub")?;
    let path = argv[0].clone();
    if let Err(e) = exec::execve(&mut task, &path, argv, guest_env()) {
        let name = String::from_utf8_lossy(&path);
        eprintln!("vkernel: cannot execute {name}: {e}");
        return Ok(if e.errno == nix::errno::Errno::ENOENT {
            127
        } else {
            126
        });
    }
    let status = task.run();
    let status = match task.finish(status) {
        Some((status, ..)) => status,
        // execve in another thread moved pid 1 to a fresh stub; its task ends it.
        None => {
            let p = process.clone();
            let ended = || p.life().exit;
            let waker = sched::Waker::new();
            sched::wait_on(&waker, &[&process.thread_exit], None, &|| false, ended)
                .unwrap_or(ExitStatus::Signal(libc::SIGKILL))
        }
    };
    // The whole system ends with pid 1: main exits, and with it every task thread
    // and (through PTRACE_O_EXITKILL) every stub.
    Ok(status.host_code() as u8)
}
