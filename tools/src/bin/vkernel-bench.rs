//! vkernel-bench: each benchmark run natively and under vkernel, side by side.
//!
//!     vkernel-bench --vkernel target/release/vkernel \
//!                   --rootfs-script scripts/mkrootfs-busybox.sh [--iterations N]
//!
//! Builds its own guest (tools/guests/getppid.c, compiled with `cc -static`) and a
//! busybox rootfs that contains it, then prints one row per benchmark: name, unit,
//! native figure, vkernel figure, ratio. Figures only: nothing passes or fails.
//!
//! A benchmark is a name, a unit and two runners (native, guest) that each return one
//! figure; add a row to [`BENCHMARKS`] to add one.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

/// The getppid guest, built at run time.
const GETPPID_C: &str = include_str!("../../guests/getppid.c");
/// Where the getppid guest lives in the image.
const GETPPID_GUEST: &str = "/bin/getppid";

#[derive(Parser, Debug)]
#[command(about = "Run each benchmark natively and under vkernel and print a table")]
struct Cli {
    /// The vkernel binary.
    #[arg(long)]
    vkernel: PathBuf,
    /// scripts/mkrootfs-busybox.sh, used to build the benchmark's rootfs.
    #[arg(long)]
    rootfs_script: PathBuf,
    /// System calls per getppid run.
    #[arg(long, default_value_t = 100_000)]
    iterations: u64,
    /// Runs per benchmark; the median is reported.
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
    getppid: PathBuf,
    busybox: PathBuf,
    iterations: u64,
    runs: usize,
    timeout: Duration,
}

/// One row of the table.
struct Benchmark {
    name: &'static str,
    unit: &'static str,
    native: fn(&Ctx) -> Result<f64>,
    guest: fn(&Ctx) -> Result<f64>,
}

const BENCHMARKS: &[Benchmark] = &[
    Benchmark {
        name: "getppid round trip",
        unit: "ns/call",
        native: getppid_native,
        guest: getppid_guest,
    },
    Benchmark {
        name: "boot-to-exit `busybox true`",
        unit: "ms (median)",
        native: true_native,
        guest: true_guest,
    },
];

// ---- runners -----------------------------------------------------------------------------

fn getppid_native(ctx: &Ctx) -> Result<f64> {
    median(3, || {
        let mut cmd = Command::new(&ctx.getppid);
        cmd.arg0(GETPPID_GUEST).arg(ctx.iterations.to_string());
        parse_ns_per_call(&run(cmd, ctx.timeout)?.stdout)
    })
}

fn getppid_guest(ctx: &Ctx) -> Result<f64> {
    median(3, || {
        let cmd = vkernel_boot(ctx, &[GETPPID_GUEST, &ctx.iterations.to_string()]);
        parse_ns_per_call(&run(cmd, ctx.timeout)?.stdout)
    })
}

fn true_native(ctx: &Ctx) -> Result<f64> {
    median(ctx.runs, || {
        let mut cmd = Command::new(&ctx.busybox);
        cmd.arg("true");
        Ok(run(cmd, ctx.timeout)?.elapsed.as_secs_f64() * 1e3)
    })
}

fn true_guest(ctx: &Ctx) -> Result<f64> {
    median(ctx.runs, || {
        let cmd = vkernel_boot(ctx, &["/bin/busybox", "true"]);
        Ok(run(cmd, ctx.timeout)?.elapsed.as_secs_f64() * 1e3)
    })
}

// ---- helpers -------------------------------------------------------------------------------

/// `vkernel boot ROOTFS -- PROG...`
fn vkernel_boot(ctx: &Ctx, prog: &[&str]) -> Command {
    let mut cmd = Command::new(&ctx.vkernel);
    cmd.arg("boot").arg(&ctx.rootfs).arg("--").args(prog);
    cmd
}

struct Run {
    elapsed: Duration,
    stdout: String,
}

/// Run to completion with stdin closed, stdout captured, stderr inherited; a run that
/// exceeds `timeout` is killed with its process group. A non-zero exit is an error.
fn run(mut cmd: Command, timeout: Duration) -> Result<Run> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    let what = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            // SAFETY: kill(2) on the process group this function created.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            bail!("{what}: killed after {} s", timeout.as_secs());
        }
        thread::sleep(Duration::from_micros(200));
    };
    let elapsed = start.elapsed();
    let stdout = reader.join().unwrap_or_default();
    if !status.success() {
        bail!("{what}: {status}");
    }
    Ok(Run { elapsed, stdout })
}

/// "getppid: N calls, X ns/call" -> X
fn parse_ns_per_call(stdout: &str) -> Result<f64> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("getppid: "))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|x| x.strip_suffix(" ns/call"))
        .and_then(|x| x.parse().ok())
        .with_context(|| format!("unexpected getppid output {stdout:?}"))
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

/// Build the getppid guest and a rootfs containing it in `dir`.
fn prepare(cli: &Cli, dir: &Path) -> Result<Ctx> {
    let src = dir.join("getppid.c");
    std::fs::write(&src, GETPPID_C)?;
    let getppid = dir.join("getppid");
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&getppid)
        .arg(&src)
        .output()
        .context("cannot run cc")?;
    check_status(out, "cc -static getppid.c")?;

    let rootfs = dir.join("rootfs.img");
    let mut pair = getppid.clone().into_os_string();
    pair.push(format!(":{GETPPID_GUEST}"));
    let out = Command::new("sh")
        .arg(&cli.rootfs_script)
        .arg(&cli.vkernel)
        .arg(&rootfs)
        .arg(pair)
        .env("TMPDIR", dir)
        .output()
        .context("cannot run sh")?;
    check_status(out, &cli.rootfs_script.display().to_string())?;

    Ok(Ctx {
        vkernel: cli.vkernel.clone(),
        rootfs,
        getppid,
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
    if let Err(e) = bench(&Cli::parse()) {
        eprintln!("vkernel-bench: {e:#}");
        std::process::exit(1);
    }
}

fn bench(cli: &Cli) -> Result<()> {
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
        "{:<30} {:>12} {:>12} {:>12} {:>9}",
        "benchmark", "unit", "native", "vkernel", "ratio"
    );
    let mut errors = Vec::new();
    for b in BENCHMARKS {
        let native = (b.native)(&ctx);
        let guest = (b.guest)(&ctx);
        let ratio = match (&native, &guest) {
            (Ok(n), Ok(g)) if *n > 0.0 => format!("{:.1}x", g / n),
            _ => "-".into(),
        };
        println!(
            "{:<30} {:>12} {:>12} {:>12} {:>9}",
            b.name,
            b.unit,
            figure(&native),
            figure(&guest),
            ratio
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
    Ok(())
}
