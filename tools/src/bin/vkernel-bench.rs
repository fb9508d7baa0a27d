//! vkernel-bench: each benchmark run natively and under vkernel, side by side.
//!
//!     vkernel-bench --vkernel target/release/vkernel \
//!                   --rootfs-script scripts/mkrootfs-busybox.sh [--iterations N]
//!
//! Builds its own guests (tools/guests/*.c, each compiled with `cc -static -pthread` and
//! placed at /bin/NAME in the image) and a busybox rootfs that contains them, then prints
//! one row per benchmark: name, unit, native figure, vkernel figure, ratio. The ratio is
//! how many times slower vkernel is: vkernel/native for times, native/vkernel for rates.
//! Figures only: nothing passes or fails, but a run that fails (non-zero exit, unexpected
//! output, timeout) shows as "error" and makes the tool exit 1 after the table.
//!
//! A benchmark is a command line, said once for both sides (see [`Arg`]), and the way to
//! read one figure from a run (see [`Figure`]); add a row to [`BENCHMARKS`] to add one,
//! and a source to [`GUESTS`] for a new guest program.
//!
//! The checkpoint rows ([`Figure::Checkpoint`]) run a guest under vkernel: it dirties
//! N MiB, says it is ready and blocks reading stdin (a pipe the tool keeps open and never
//! writes to), and the tool sends vkernel SIGUSR2 (checkpoint and exit) and reads the
//! pause and the image size from vkernel's one line on stderr. The pause and the image
//! size have no native counterpart, so their native column and ratio are "-". The write
//! rate (image bytes / pause) stands beside `cp` of that same image in the same
//! directory, with an fsync of the copy and of the directory as the checkpoint does,
//! timed in the same run.
//!
//! Then the same run thaws the image and times `vkernel thaw IMAGE` from its spawn to
//! the first line on its stdout, with stdin at end of file. The guest was checkpointed
//! inside its read of stdin, so the thawed guest re-issues the read, which returns at
//! once, and writes its "awake" line: a line it writes only once it runs again, checked
//! to be the first the thaw prints. What is timed is therefore the whole thaw (vkernel's
//! start, the image's verification, guest RAM, every process and thread restored) up to
//! the guest's first instructions, plus one read and one write system call (microseconds
//! beside a thaw's milliseconds). Each line goes out in one write(2), so its arrival is
//! its first byte's. Beside it, natively: the time from spawning the same guest program
//! to the first line it writes, which it does first thing in main, i.e. process start to
//! first instruction (the median of [`NATIVE_STARTS`] runs). The rows of one guest share
//! its runs.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

/// The guest programs, built at run time: name (host file and /bin/NAME in the image)
/// and C source.
const GUESTS: &[(&str, &str)] = &[
    ("getppid", include_str!("../../guests/getppid.c")),
    ("spawn", include_str!("../../guests/spawn.c")),
    ("pipe_rtt", include_str!("../../guests/pipe_rtt.c")),
    ("tcp_rtt", include_str!("../../guests/tcp_rtt.c")),
    ("threads", include_str!("../../guests/threads.c")),
    ("dirty", include_str!("../../guests/dirty.c")),
];

/// Headers the guests include, written beside them.
const HEADERS: &[(&str, &str)] = &[("bench.h", include_str!("../../guests/bench.h"))];

#[derive(Parser, Debug)]
#[command(about = "Run each benchmark natively and under vkernel and print a table")]
struct Cli {
    /// The vkernel binary.
    #[arg(long)]
    vkernel: PathBuf,
    /// scripts/mkrootfs-busybox.sh, used to build the benchmark's rootfs.
    #[arg(long)]
    rootfs_script: PathBuf,
    /// System calls per run of the system call round trips (getppid, futex wake).
    #[arg(long, default_value_t = 100_000)]
    iterations: u64,
    /// Runs of the wall-clock benchmarks; the median is reported.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Seconds one run may take before it is killed.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Everything the runners need.
struct Ctx {
    vkernel: PathBuf,
    /// The temporary directory everything lives in; checkpoints are written here.
    dir: PathBuf,
    rootfs: PathBuf,
    /// The directory the guests were built in, one file per name in [`GUESTS`].
    guests: PathBuf,
    busybox: PathBuf,
    iterations: u64,
    runs: usize,
    timeout: Duration,
    /// The checkpoint runs done so far, by guest command line: rows of one guest share
    /// them.
    ckpts: RefCell<Vec<(Vec<OsString>, CkptRuns)>>,
}

/// A guest's checkpoint runs, or why they failed.
type CkptRuns = Result<Vec<Ckpt>, String>;

/// One word of a benchmark's command line; the first is the program.
#[derive(Clone, Copy, Debug)]
enum Arg {
    Lit(&'static str),
    /// A program from [`GUESTS`]: the host build natively, /bin/NAME in the image.
    Guest(&'static str),
    /// The static busybox: `$BUSYBOX` or /bin/busybox natively, /bin/busybox in the image.
    Busybox,
    /// `--iterations`.
    Iterations,
    /// The address of the bench's own TCP server ([`far_server`]) on the host's
    /// loopback, two arguments: IP PORT, the IP as the side reaches the host
    /// (127.0.0.1 natively, the gateway 10.0.2.2 from the guest, through vke0).
    FarServer,
}

/// Which side a command line is for.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Native,
    Vkernel,
}

/// How a run yields its figure.
enum Figure {
    /// The program prints it: the line starting with this prefix ends with
    /// "FIGURE UNIT", UNIT being the benchmark's unit. The median of `runs` runs.
    Printed { prefix: &'static str, runs: usize },
    /// Wall-clock milliseconds of the whole run; the median of `--runs` runs.
    Elapsed,
    /// One figure of `runs` checkpoints of the guest under vkernel (the median), each
    /// taken once the guest has printed a line starting with `ready` and then thawed,
    /// when the guest's first line must start with `awake`; see [`Ckpt`].
    Checkpoint {
        ready: &'static str,
        awake: &'static str,
        runs: usize,
        of: CkptFigure,
    },
}

/// Which figure of a checkpoint run a row shows.
#[derive(Clone, Copy, Debug)]
enum CkptFigure {
    /// Milliseconds the guests were frozen (vkernel only).
    Pause,
    /// Megabytes (10^6) of image (vkernel only).
    Image,
    /// MB/s: image bytes / pause under vkernel, `cp` of the image plus fsync natively.
    Write,
    /// Milliseconds to the first line: from `vkernel thaw` under vkernel, from the
    /// guest program's spawn natively.
    Thaw,
}

/// One row of the table.
struct Benchmark {
    name: &'static str,
    unit: &'static str,
    argv: &'static [Arg],
    figure: Figure,
    /// A rate (more is better) rather than a time; only decides the ratio's direction.
    rate: bool,
}

/// Runs of each benchmark whose figure the program prints.
const PRINTED_RUNS: usize = 3;

/// Spawns per spawn run (about 15 ms each under vkernel).
const SPAWNS: &str = "60";

/// Threads per thread create+join run (a few hundred us each under vkernel).
const THREADS: &str = "500";

/// Round trips per ping-pong run (pipe, TCP or futex; tens of us each under vkernel).
const ROUND_TRIPS: &str = "5000";

/// Checkpoints of the small dirty guest (about 1.5 seconds each: boot, fill, write, copy,
/// thaw, native runs).
const CKPT_RUNS: usize = 3;

/// Checkpoints of the 512 MiB guest (about 8 seconds each).
const CKPT_RUNS_LARGE: usize = 1;

/// Native runs of a checkpoint guest per checkpoint, timed to their first line: a start
/// takes about a millisecond, and one in three or so takes several on a busy host.
const NATIVE_STARTS: usize = 5;

const BENCHMARKS: &[Benchmark] = &[
    Benchmark {
        name: "getppid round trip",
        unit: "ns/call",
        argv: &[Arg::Guest("getppid"), Arg::Iterations],
        figure: printed("getppid:"),
        rate: false,
    },
    Benchmark {
        name: "boot-to-exit `busybox true`",
        unit: "ms (median)",
        argv: &[Arg::Busybox, Arg::Lit("true")],
        figure: Figure::Elapsed,
        rate: false,
    },
    Benchmark {
        name: "fork+exec+wait `busybox true`",
        unit: "us/spawn",
        argv: &[
            Arg::Guest("spawn"),
            Arg::Lit(SPAWNS),
            Arg::Lit("fork"),
            Arg::Busybox,
            Arg::Lit("true"),
        ],
        figure: printed("spawn:"),
        rate: false,
    },
    Benchmark {
        name: "vfork+exec+wait `busybox true`",
        unit: "us/spawn",
        argv: &[
            Arg::Guest("spawn"),
            Arg::Lit(SPAWNS),
            Arg::Lit("vfork"),
            Arg::Busybox,
            Arg::Lit("true"),
        ],
        figure: printed("spawn:"),
        rate: false,
    },
    Benchmark {
        name: "pipe round trip (1 byte)",
        unit: "ns/rtt",
        argv: &[
            Arg::Guest("pipe_rtt"),
            Arg::Lit("rtt"),
            Arg::Lit(ROUND_TRIPS),
        ],
        figure: printed("pipe_rtt:"),
        rate: false,
    },
    Benchmark {
        name: "pipe stream (64 KiB writes)",
        unit: "MB/s",
        argv: &[Arg::Guest("pipe_rtt"), Arg::Lit("bw"), Arg::Lit("64")],
        figure: printed("pipe_bw:"),
        rate: true,
    },
    Benchmark {
        name: "TCP loopback round trip (1 byte)",
        unit: "ns/rtt",
        argv: &[
            Arg::Guest("tcp_rtt"),
            Arg::Lit("rtt"),
            Arg::Lit(ROUND_TRIPS),
        ],
        figure: printed("tcp_rtt:"),
        rate: false,
    },
    Benchmark {
        name: "TCP loopback stream (64 KiB writes)",
        unit: "MB/s",
        argv: &[Arg::Guest("tcp_rtt"), Arg::Lit("bw"), Arg::Lit("64")],
        figure: printed("tcp_bw:"),
        rate: true,
    },
    Benchmark {
        name: "TCP via vke0 round trip (1 byte)",
        unit: "ns/rtt",
        argv: &[
            Arg::Guest("tcp_rtt"),
            Arg::Lit("rtt"),
            Arg::Lit(ROUND_TRIPS),
            Arg::FarServer,
        ],
        figure: printed("tcp_rtt:"),
        rate: false,
    },
    Benchmark {
        name: "TCP via vke0 stream (64 KiB writes)",
        unit: "MB/s",
        argv: &[
            Arg::Guest("tcp_rtt"),
            Arg::Lit("bw"),
            Arg::Lit("64"),
            Arg::FarServer,
        ],
        figure: printed("tcp_bw:"),
        rate: true,
    },
    Benchmark {
        name: "thread create+join",
        unit: "us/thread",
        argv: &[Arg::Guest("threads"), Arg::Lit("create"), Arg::Lit(THREADS)],
        figure: printed("thread_create:"),
        rate: false,
    },
    Benchmark {
        name: "futex wake, no waiter",
        unit: "ns/call",
        argv: &[Arg::Guest("threads"), Arg::Lit("wake"), Arg::Iterations],
        figure: printed("futex_wake:"),
        rate: false,
    },
    Benchmark {
        name: "futex ping-pong (2 threads)",
        unit: "ns/rtt",
        argv: &[
            Arg::Guest("threads"),
            Arg::Lit("pingpong"),
            Arg::Lit(ROUND_TRIPS),
        ],
        figure: printed("futex_rtt:"),
        rate: false,
    },
    Benchmark {
        name: "checkpoint pause, 64 MiB dirty",
        unit: "ms",
        argv: DIRTY_64,
        figure: ckpt(CKPT_RUNS, CkptFigure::Pause),
        rate: false,
    },
    Benchmark {
        name: "checkpoint image, 64 MiB dirty",
        unit: "MB",
        argv: DIRTY_64,
        figure: ckpt(CKPT_RUNS, CkptFigure::Image),
        rate: false,
    },
    Benchmark {
        name: "checkpoint write vs cp, 64 MiB",
        unit: "MB/s",
        argv: DIRTY_64,
        figure: ckpt(CKPT_RUNS, CkptFigure::Write),
        rate: true,
    },
    Benchmark {
        name: "thaw to first instruction, 64 MiB",
        unit: "ms",
        argv: DIRTY_64,
        figure: ckpt(CKPT_RUNS, CkptFigure::Thaw),
        rate: false,
    },
    Benchmark {
        name: "checkpoint pause, 512 MiB dirty",
        unit: "ms",
        argv: DIRTY_512,
        figure: ckpt(CKPT_RUNS_LARGE, CkptFigure::Pause),
        rate: false,
    },
    Benchmark {
        name: "checkpoint image, 512 MiB dirty",
        unit: "MB",
        argv: DIRTY_512,
        figure: ckpt(CKPT_RUNS_LARGE, CkptFigure::Image),
        rate: false,
    },
    Benchmark {
        name: "checkpoint write vs cp, 512 MiB",
        unit: "MB/s",
        argv: DIRTY_512,
        figure: ckpt(CKPT_RUNS_LARGE, CkptFigure::Write),
        rate: true,
    },
    Benchmark {
        name: "thaw to first instruction, 512 MiB",
        unit: "ms",
        argv: DIRTY_512,
        figure: ckpt(CKPT_RUNS_LARGE, CkptFigure::Thaw),
        rate: false,
    },
];

const DIRTY_64: &[Arg] = &[Arg::Guest("dirty"), Arg::Lit("64")];
const DIRTY_512: &[Arg] = &[Arg::Guest("dirty"), Arg::Lit("512")];

const fn ckpt(runs: usize, of: CkptFigure) -> Figure {
    Figure::Checkpoint {
        ready: "dirty: ready",
        awake: "dirty: awake",
        runs,
        of,
    }
}

const fn printed(prefix: &'static str) -> Figure {
    Figure::Printed {
        prefix,
        runs: PRINTED_RUNS,
    }
}

// ---- running a benchmark -----------------------------------------------------------------

impl Arg {
    fn resolve(self, ctx: &Ctx, side: Side) -> OsString {
        match (self, side) {
            (Arg::Lit(s), _) => s.into(),
            (Arg::Guest(name), Side::Native) => ctx.guests.join(name).into(),
            (Arg::Guest(name), Side::Vkernel) => format!("/bin/{name}").into(),
            (Arg::Busybox, Side::Native) => ctx.busybox.clone().into(),
            (Arg::Busybox, Side::Vkernel) => "/bin/busybox".into(),
            (Arg::Iterations, _) => ctx.iterations.to_string().into(),
            (Arg::FarServer, Side::Native) => "127.0.0.1".into(),
            (Arg::FarServer, Side::Vkernel) => "10.0.2.2".into(),
        }
    }

    /// The command-line arguments it stands for.
    fn resolve_all(self, ctx: &Ctx, side: Side) -> Vec<OsString> {
        match self {
            Arg::FarServer => vec![self.resolve(ctx, side), far_server().to_string().into()],
            a => vec![a.resolve(ctx, side)],
        }
    }
}

/// The port of a TCP server on the host's 127.0.0.1, started on first use, serving
/// tcp_rtt's protocol: a byte 'e' (echo each byte until the end) or 's' (an 8-byte
/// count, that many bytes read, the count sent back).
fn far_server() -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the far server");
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        thread::spawn(move || {
            for c in l.incoming().flatten() {
                thread::spawn(move || {
                    let _ = serve_far(c);
                });
            }
        });
        port
    })
}

fn serve_far(mut c: std::net::TcpStream) -> io::Result<()> {
    use std::io::Write;
    c.set_nodelay(true)?;
    let mut mode = [0u8; 1];
    c.read_exact(&mut mode)?;
    let mut buf = vec![0u8; 64 << 10];
    if mode[0] == b'e' {
        let mut b = [0u8; 1];
        while c.read(&mut b)? == 1 {
            c.write_all(&b)?;
        }
        return Ok(());
    }
    let mut total = [0u8; 8];
    c.read_exact(&mut total)?;
    let total = u64::from_ne_bytes(total);
    let mut got = 0u64;
    while got < total {
        match c.read(&mut buf)? {
            0 => break,
            n => got += n as u64,
        }
    }
    c.write_all(&got.to_ne_bytes())
}

impl Benchmark {
    /// The command for one run: the program itself natively (with argv[0] as in the
    /// image), `vkernel boot ROOTFS -- ARGV...` under vkernel.
    fn command(&self, ctx: &Ctx, side: Side) -> Command {
        let (prog, args) = self.argv.split_first().expect("a benchmark has a program");
        let args = args.iter().flat_map(|a| a.resolve_all(ctx, side));
        match side {
            Side::Native => {
                let mut cmd = Command::new(prog.resolve(ctx, Side::Native));
                cmd.arg0(prog.resolve(ctx, Side::Vkernel)).args(args);
                cmd
            }
            Side::Vkernel => {
                let mut cmd = Command::new(&ctx.vkernel);
                cmd.arg("boot");
                if let Figure::Checkpoint { .. } = self.figure {
                    cmd.arg("--ckpt-file").arg(ctx.dir.join("ckpt-%p.elf"));
                }
                cmd.arg(&ctx.rootfs)
                    .arg("--")
                    .arg(prog.resolve(ctx, Side::Vkernel))
                    .args(args);
                cmd
            }
        }
    }

    /// The benchmark's figure on one side: the median over its runs; None when the
    /// side has no such figure (a checkpoint's pause or size natively).
    fn measure(&self, ctx: &Ctx, side: Side) -> Option<Result<f64>> {
        let runs = match self.figure {
            Figure::Printed { runs, .. } => runs,
            Figure::Elapsed => ctx.runs,
            Figure::Checkpoint {
                ready,
                awake,
                runs,
                of,
            } => {
                return of
                    .figure(side)
                    .map(|f| self.checkpoints(ctx, [ready, awake], runs, f));
            }
        };
        Some(median(runs, || {
            let run = run(self.command(ctx, side), ctx.timeout)?;
            match self.figure {
                Figure::Printed { prefix, .. } => parse_figure(&run.stdout, prefix, self.unit),
                Figure::Elapsed => Ok(run.elapsed.as_secs_f64() * 1e3),
                Figure::Checkpoint { .. } => unreachable!(),
            }
        }))
    }

    /// The median of `figure` over the guest's checkpoint runs, done the first time a
    /// row of this guest asks; `lines` are the guest's ready and awake lines.
    fn checkpoints(
        &self,
        ctx: &Ctx,
        lines: [&str; 2],
        runs: usize,
        figure: fn(&Ckpt) -> f64,
    ) -> Result<f64> {
        let key: Vec<OsString> = self
            .argv
            .iter()
            .map(|a| a.resolve(ctx, Side::Vkernel))
            .collect();
        let mut done = ctx.ckpts.borrow_mut();
        let i = match done.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let all = (0..runs.max(1))
                    .map(|_| checkpoint(self, lines, ctx))
                    .collect::<Result<Vec<Ckpt>>>()
                    .map_err(|e| format!("{e:#}"));
                done.push((key, all));
                done.len() - 1
            }
        };
        let all = done[i].1.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut it = all.iter();
        median(all.len(), || Ok(figure(it.next().expect("one per run"))))
    }

    /// How many times slower vkernel is.
    fn ratio(&self, native: f64, vkernel: f64) -> Option<f64> {
        let (slow, fast) = if self.rate {
            (native, vkernel)
        } else {
            (vkernel, native)
        };
        (fast > 0.0).then(|| slow / fast)
    }
}

impl CkptFigure {
    /// How to read this figure from a checkpoint run on one side, if the side has it.
    fn figure(self, side: Side) -> Option<fn(&Ckpt) -> f64> {
        match (self, side) {
            (CkptFigure::Pause, Side::Vkernel) => Some(|c| c.pause_ms),
            (CkptFigure::Image, Side::Vkernel) => Some(|c| c.bytes as f64 / 1e6),
            (CkptFigure::Write, Side::Vkernel) => Some(|c| c.bytes as f64 / 1e3 / c.pause_ms),
            (CkptFigure::Write, Side::Native) => Some(|c| c.bytes as f64 / 1e3 / c.cp_ms),
            (CkptFigure::Thaw, Side::Vkernel) => Some(|c| c.thaw_ms),
            (CkptFigure::Thaw, Side::Native) => Some(|c| c.start_ms),
            (CkptFigure::Pause | CkptFigure::Image, Side::Native) => None,
        }
    }
}

// ---- checkpoints -----------------------------------------------------------------------------

/// One checkpoint run.
#[derive(Clone, Copy, Debug)]
struct Ckpt {
    /// The pause vkernel reported, in milliseconds.
    pause_ms: f64,
    /// The image's size.
    bytes: u64,
    /// Milliseconds to `cp` the image to a new file and fsync it and the directory.
    cp_ms: f64,
    /// Milliseconds from spawning `vkernel thaw IMAGE` to the thawed guest's first line.
    thaw_ms: f64,
    /// Milliseconds from spawning the guest natively to its first line, the median of
    /// [`NATIVE_STARTS`] runs.
    start_ms: f64,
}

/// Start the guest under vkernel, wait for its `ready` line, send vkernel SIGUSR2
/// (checkpoint and exit) and read its report; then time a `cp` of the image, the thaw
/// of the image to the guest's `awake` line and native runs of the guest to their first
/// line, and remove the image.
fn checkpoint(b: &Benchmark, [ready, awake]: [&str; 2], ctx: &Ctx) -> Result<Ckpt> {
    let boot = Watched::spawn(b.command(ctx, Side::Vkernel), Stdio::piped(), ctx.timeout)?;
    let is_ready = boot.wait_for(ready);
    if is_ready {
        boot.signal(libc::SIGUSR2);
    }
    let stderr = boot.finish((!is_ready).then(|| format!("before a \"{ready}\" line")))?;
    let (image, bytes, pause_ms) = parse_checkpoint(&stderr)?;
    let cp_ms = time_cp(&image, ctx)?;
    let mut thaw = Command::new(&ctx.vkernel);
    thaw.arg("thaw").arg(&image);
    let thaw_ms = first_line(thaw, awake, ctx)?;
    let native = || first_line(b.command(ctx, Side::Native), "", ctx);
    let start_ms = median(NATIVE_STARTS, native)?;
    std::fs::remove_file(&image)?;
    Ok(Ckpt {
        pause_ms,
        bytes,
        cp_ms,
        thaw_ms,
        start_ms,
    })
}

/// Milliseconds to `cp` the image to a new file in the same directory and fsync the copy
/// and the directory, as a checkpoint does; the copy is removed.
fn time_cp(image: &Path, ctx: &Ctx) -> Result<f64> {
    let copy = image.with_extension("copy");
    let start = Instant::now();
    let out = Command::new("cp")
        .arg(image)
        .arg(&copy)
        .output()
        .context("cannot run cp")?;
    check_status(out, "cp")?;
    std::fs::File::open(&copy)?.sync_all()?;
    std::fs::File::open(&ctx.dir)?.sync_all()?;
    let cp_ms = start.elapsed().as_secs_f64() * 1e3;
    std::fs::remove_file(&copy)?;
    Ok(cp_ms)
}

/// Milliseconds from spawning `cmd`, with stdin at end of file, to the first line it
/// writes to stdout, which must start with `prefix`; the run must then end well.
fn first_line(cmd: Command, prefix: &str, ctx: &Ctx) -> Result<f64> {
    let start = Instant::now();
    let run = Watched::spawn(cmd, Stdio::null(), ctx.timeout)?;
    let line = run.next_line();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    run.finish(unexpected_first_line(line.as_deref(), prefix))?;
    Ok(ms)
}

/// What is wrong with a run's first line of output, if anything: none at all, or one
/// that does not start with `prefix`.
fn unexpected_first_line(line: Option<&str>, prefix: &str) -> Option<String> {
    match line {
        Some(l) if l.starts_with(prefix) => None,
        Some(l) => Some(format!("with the first line {l:?}, not \"{prefix}...\"")),
        None => Some("before a line of output".into()),
    }
}

/// The image's path, its size and the pause from vkernel's line on stderr,
/// "vkernel: checkpoint PATH: N bytes, guest memory M bytes, paused X.Y ms".
fn parse_checkpoint(stderr: &str) -> Result<(PathBuf, u64, f64)> {
    stderr
        .lines()
        .find_map(|l| {
            let (path, rest) = l.strip_prefix("vkernel: checkpoint ")?.rsplit_once(": ")?;
            let (bytes, rest) = rest.split_once(" bytes, guest memory ")?;
            let (_, pause) = rest.split_once(" bytes, paused ")?;
            let pause = pause.strip_suffix(" ms")?;
            Some((
                PathBuf::from(path),
                bytes.parse().ok()?,
                pause.parse().ok()?,
            ))
        })
        .with_context(|| format!("no \"vkernel: checkpoint\" line in {stderr:?}"))
}

// ---- helpers -------------------------------------------------------------------------------

/// A child in a process group of its own whose stdout lines arrive on a channel, read
/// by a detached thread to the end (whenever that is), and whose stderr is drained.
struct Watched {
    child: Child,
    what: String,
    timeout: Duration,
    deadline: Instant,
    lines: mpsc::Receiver<io::Result<String>>,
    stderr: thread::JoinHandle<String>,
    /// Held open (when piped) so that the child's reads of stdin block.
    _stdin: Option<ChildStdin>,
}

impl Watched {
    /// Spawns `cmd` with this stdin; the run may take `timeout`.
    fn spawn(mut cmd: Command, stdin: Stdio, timeout: Duration) -> Result<Watched> {
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let what = format!("{cmd:?}");
        let deadline = Instant::now() + timeout;
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in stdout.lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Watched {
            _stdin: child.stdin.take(),
            child,
            what,
            timeout,
            deadline,
            lines,
            stderr,
        })
    }

    /// The next line of stdout; None once the output has ended (the child is gone) or
    /// the time is up.
    fn next_line(&self) -> Option<String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(left).ok()?.ok()
    }

    /// Reads stdout up to a line starting with `prefix`; false if there is none.
    fn wait_for(&self, prefix: &str) -> bool {
        std::iter::from_fn(|| self.next_line()).any(|l| l.starts_with(prefix))
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our child, which has not been waited for.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the end (killing the group at the deadline) and returns stderr. A run
    /// that was killed or failed, or that the caller found wanting (`problem`, e.g.
    /// "before a \"ready\" line"), is an error carrying stderr.
    fn finish(mut self, problem: Option<String>) -> Result<String> {
        let Some(status) = wait(&mut self.child, self.deadline)? else {
            bail!("{}: killed after {} s", self.what, self.timeout.as_secs());
        };
        let stderr = self.stderr.join().unwrap_or_default();
        if !status.success() || problem.is_some() {
            let problem = problem.map(|p| format!(" {p}")).unwrap_or_default();
            bail!("{}: {status}{problem}:\n{}", self.what, stderr.trim_end());
        }
        Ok(stderr)
    }
}

struct Run {
    elapsed: Duration,
    stdout: String,
}

/// Read a child's pipe to the end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Run to completion with stdin closed and stdout and stderr captured; a run that
/// exceeds `timeout` is killed with its process group. A non-zero exit is an error that
/// carries what the run wrote to stderr.
fn run(mut cmd: Command, timeout: Duration) -> Result<Run> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let what = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = wait(&mut child, start + timeout)?;
    let elapsed = start.elapsed();
    // A grandchild left holding the pipes (after a timeout, one outside the group) would
    // keep these threads waiting; only a run that finished is worth its output.
    let Some(status) = status else {
        bail!("{what}: killed after {} s", timeout.as_secs());
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let stderr = stderr.trim_end();
        if stderr.is_empty() {
            bail!("{what}: {status}");
        }
        bail!("{what}: {status}:\n{stderr}");
    }
    Ok(Run { elapsed, stdout })
}

/// Wait for a child started in a process group of its own; at `deadline` kill the
/// group and return None.
fn wait(child: &mut Child, deadline: Instant) -> Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            // SAFETY: kill(2) on the process group the caller created for the child.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(Duration::from_micros(200));
    }
}

/// The figure on the line of `stdout` that starts with `prefix` and ends with
/// "FIGURE UNIT", e.g. "spawn: 60 spawns (fork), 812.5 us/spawn" -> 812.5.
fn parse_figure(stdout: &str, prefix: &str, unit: &str) -> Result<f64> {
    stdout
        .lines()
        .filter(|l| l.starts_with(prefix))
        .find_map(|l| l.strip_suffix(unit)?.strip_suffix(' ')?.rsplit(' ').next())
        .and_then(|x| x.parse().ok())
        .with_context(|| format!("no \"{prefix} ... FIGURE {unit}\" line in output {stdout:?}"))
}

fn median(runs: usize, mut one: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut figures = (0..runs.max(1))
        .map(|_| one())
        .collect::<Result<Vec<f64>>>()?;
    figures.sort_by(f64::total_cmp);
    Ok(figures[figures.len() / 2])
}

fn check_status(out: std::process::Output, what: &str) -> Result<()> {
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Build the guests in `dir`, and a rootfs in `dir` that holds them at /bin/NAME.
fn prepare(cli: &Cli, dir: &Path) -> Result<Ctx> {
    let guests = dir.join("guests");
    std::fs::create_dir(&guests)?;
    for (name, text) in HEADERS {
        std::fs::write(guests.join(name), text)?;
    }
    let mut pairs = Vec::new();
    for (name, source) in GUESTS {
        let src = guests.join(format!("{name}.c"));
        std::fs::write(&src, source)?;
        let bin = guests.join(name);
        let out = Command::new("cc")
            .args(["-static", "-O2", "-pthread", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .context("cannot run cc")?;
        check_status(out, &format!("cc -static -pthread {name}.c"))?;
        let mut pair = bin.into_os_string();
        pair.push(format!(":/bin/{name}"));
        pairs.push(pair);
    }

    let rootfs = dir.join("rootfs.img");
    let out = Command::new("sh")
        .arg(&cli.rootfs_script)
        .arg(&cli.vkernel)
        .arg(&rootfs)
        .args(pairs)
        .env("TMPDIR", dir)
        .output()
        .context("cannot run sh")?;
    check_status(out, &cli.rootfs_script.display().to_string())?;

    Ok(Ctx {
        vkernel: cli.vkernel.clone(),
        dir: dir.to_owned(),
        rootfs,
        guests,
        busybox: std::env::var_os("BUSYBOX")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/bin/busybox")),
        iterations: cli.iterations.max(1),
        runs: cli.runs.max(1),
        timeout: Duration::from_secs(cli.timeout.max(1)),
        ckpts: RefCell::new(Vec::new()),
    })
}

/// A figure for the table; "-" where the side has none.
fn figure(r: Option<&Result<f64>>) -> String {
    match r {
        Some(Ok(x)) if *x >= 100.0 => format!("{x:.0}"),
        Some(Ok(x)) => format!("{x:.2}"),
        Some(Err(_)) => "error".into(),
        None => "-".into(),
    }
}

fn main() {
    match bench(&Cli::parse()) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("vkernel-bench: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Print the table; false if some benchmark failed (the errors follow the table).
fn bench(cli: &Cli) -> Result<bool> {
    if !cli.vkernel.is_file() {
        bail!(
            "{}: no such file (cargo build --release)",
            cli.vkernel.display()
        );
    }
    let dir = tempfile::Builder::new()
        .prefix("vkernel-bench.")
        .tempdir()
        .context("create a temporary directory")?;
    let ctx = prepare(cli, dir.path())?;

    println!(
        "{:<34} {:>12} {:>12} {:>12} {:>9}",
        "benchmark", "unit", "native", "vkernel", "ratio"
    );
    let mut errors = Vec::new();
    for b in BENCHMARKS {
        let native = b.measure(&ctx, Side::Native);
        let guest = b.measure(&ctx, Side::Vkernel);
        let ratio = match (&native, &guest) {
            (Some(Ok(n)), Some(Ok(g))) => b.ratio(*n, *g).map(|r| format!("{r:.1}x")),
            _ => None,
        };
        println!(
            "{:<34} {:>12} {:>12} {:>12} {:>9}",
            b.name,
            b.unit,
            figure(native.as_ref()),
            figure(guest.as_ref()),
            ratio.as_deref().unwrap_or("-")
        );
        for (side, r) in [("native", &native), ("vkernel", &guest)] {
            if let Some(Err(e)) = r {
                errors.push(format!("{} ({side}): {e:#}", b.name));
            }
        }
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(errors.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_from_its_line() {
        let out = "noise\nspawn: 60 spawns (fork), 812.5 us/spawn\n";
        assert_eq!(parse_figure(out, "spawn:", "us/spawn").unwrap(), 812.5);
        let out = "pipe_bw: 64 MiB, 1795.2 MB/s\n";
        assert_eq!(parse_figure(out, "pipe_bw:", "MB/s").unwrap(), 1795.2);
        assert!(parse_figure(out, "pipe_bw:", "ns/rtt").is_err());
        assert!(parse_figure("pipe_bw: 64 MiB, x MB/s\n", "pipe_bw:", "MB/s").is_err());
        assert!(parse_figure("", "spawn:", "us/spawn").is_err());
        let out = "thread_create: 500 threads, 47.0 us/thread\n";
        assert_eq!(
            parse_figure(out, "thread_create:", "us/thread").unwrap(),
            47.0
        );
    }

    #[test]
    fn checkpoint_from_its_line() {
        let err = "noise\nvkernel: checkpoint /tmp/x: y/ckpt-7.elf: 67653632 bytes, \
                   guest memory 67371008 bytes, paused 212.4 ms\n";
        let (path, bytes, pause) = parse_checkpoint(err).unwrap();
        assert_eq!(path, Path::new("/tmp/x: y/ckpt-7.elf"));
        assert_eq!(bytes, 67653632);
        assert_eq!(pause, 212.4);
        assert!(parse_checkpoint("vkernel: checkpoint /x failed: ENOSPC\n").is_err());
        assert!(parse_checkpoint("").is_err());
    }

    #[test]
    fn checkpoint_figures() {
        let c = Ckpt {
            pause_ms: 500.0,
            bytes: 100_000_000,
            cp_ms: 250.0,
            thaw_ms: 120.0,
            start_ms: 0.5,
        };
        let on = |of: CkptFigure, side| of.figure(side).map(|f| f(&c));
        assert_eq!(on(CkptFigure::Pause, Side::Vkernel), Some(500.0));
        assert_eq!(on(CkptFigure::Pause, Side::Native), None);
        assert_eq!(on(CkptFigure::Image, Side::Vkernel), Some(100.0));
        assert_eq!(on(CkptFigure::Image, Side::Native), None);
        assert_eq!(on(CkptFigure::Write, Side::Vkernel), Some(200.0));
        assert_eq!(on(CkptFigure::Write, Side::Native), Some(400.0));
        assert_eq!(on(CkptFigure::Thaw, Side::Vkernel), Some(120.0));
        assert_eq!(on(CkptFigure::Thaw, Side::Native), Some(0.5));
    }

    #[test]
    fn first_line_must_be_there_and_start_with_the_prefix() {
        let awake = "dirty: awake";
        assert_eq!(unexpected_first_line(Some("dirty: awake"), awake), None);
        assert_eq!(unexpected_first_line(Some("dirty: 64 MiB"), ""), None);
        let wrong = unexpected_first_line(Some("dirty: ready 64 MiB"), awake).unwrap();
        assert!(wrong.contains("\"dirty: ready 64 MiB\""), "{wrong}");
        assert!(unexpected_first_line(None, "").is_some());
    }

    #[test]
    fn ratio_is_a_slowdown() {
        let time = &BENCHMARKS[0];
        let rate = BENCHMARKS.iter().find(|b| b.rate).unwrap();
        assert_eq!(time.ratio(10.0, 40.0), Some(4.0));
        assert_eq!(rate.ratio(400.0, 100.0), Some(4.0));
        assert_eq!(time.ratio(0.0, 1.0), None);
    }

    #[test]
    fn every_guest_argument_names_a_guest() {
        for b in BENCHMARKS {
            for a in b.argv {
                if let Arg::Guest(name) = a {
                    assert!(GUESTS.iter().any(|(g, _)| g == name), "{}", b.name);
                }
            }
        }
    }
}
