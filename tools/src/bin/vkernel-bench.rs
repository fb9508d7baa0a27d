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

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
    ("threads", include_str!("../../guests/threads.c")),
];

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
    rootfs: PathBuf,
    /// The directory the guests were built in, one file per name in [`GUESTS`].
    guests: PathBuf,
    busybox: PathBuf,
    iterations: u64,
    runs: usize,
    timeout: Duration,
}

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

/// Round trips per ping-pong run (pipe or futex; tens of us each under vkernel).
const ROUND_TRIPS: &str = "5000";

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
];

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
        }
    }
}

impl Benchmark {
    /// The command for one run: the program itself natively (with argv[0] as in the
    /// image), `vkernel boot ROOTFS -- ARGV...` under vkernel.
    fn command(&self, ctx: &Ctx, side: Side) -> Command {
        let (prog, args) = self.argv.split_first().expect("a benchmark has a program");
        let args = args.iter().map(|a| a.resolve(ctx, side));
        match side {
            Side::Native => {
                let mut cmd = Command::new(prog.resolve(ctx, Side::Native));
                cmd.arg0(prog.resolve(ctx, Side::Vkernel)).args(args);
                cmd
            }
            Side::Vkernel => {
                let mut cmd = Command::new(&ctx.vkernel);
                cmd.arg("boot")
                    .arg(&ctx.rootfs)
                    .arg("--")
                    .arg(prog.resolve(ctx, Side::Vkernel))
                    .args(args);
                cmd
            }
        }
    }

    /// The benchmark's figure on one side: the median over its runs.
    fn measure(&self, ctx: &Ctx, side: Side) -> Result<f64> {
        let runs = match self.figure {
            Figure::Printed { runs, .. } => runs,
            Figure::Elapsed => ctx.runs,
        };
        median(runs, || {
            let run = run(self.command(ctx, side), ctx.timeout)?;
            match self.figure {
                Figure::Printed { prefix, .. } => parse_figure(&run.stdout, prefix, self.unit),
                Figure::Elapsed => Ok(run.elapsed.as_secs_f64() * 1e3),
            }
        })
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

// ---- helpers -------------------------------------------------------------------------------

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
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > timeout {
            // SAFETY: kill(2) on the process group this function created.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_micros(200));
    };
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
        rootfs,
        guests,
        busybox: std::env::var_os("BUSYBOX")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/bin/busybox")),
        iterations: cli.iterations.max(1),
        runs: cli.runs.max(1),
        timeout: Duration::from_secs(cli.timeout.max(1)),
    })
}

fn figure(r: &Result<f64>) -> String {
    match r {
        Ok(x) if *x >= 100.0 => format!("{x:.0}"),
        Ok(x) => format!("{x:.2}"),
        Err(_) => "error".into(),
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
        "{:<32} {:>12} {:>12} {:>12} {:>9}",
        "benchmark", "unit", "native", "vkernel", "ratio"
    );
    let mut errors = Vec::new();
    for b in BENCHMARKS {
        let native = b.measure(&ctx, Side::Native);
        let guest = b.measure(&ctx, Side::Vkernel);
        let ratio = match (&native, &guest) {
            (Ok(n), Ok(g)) => b.ratio(*n, *g).map(|r| format!("{r:.1}x")),
            _ => None,
        };
        println!(
            "{:<32} {:>12} {:>12} {:>12} {:>9}",
            b.name,
            b.unit,
            figure(&native),
            figure(&guest),
            ratio.as_deref().unwrap_or("-")
        );
        for (side, r) in [("native", &native), ("vkernel", &guest)] {
            if let Err(e) = r {
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
