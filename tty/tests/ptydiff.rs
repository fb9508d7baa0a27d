//! Differential test against the host kernel's own n_tty.
//!
//! Each case opens a real pseudo-terminal pair, sets the same termios on the
//! slave (with the raw TCSETS ioctl, so `Termios::to_bytes` is exercised
//! too) and on a `LineDiscipline`, then replays a script: bytes typed into
//! the master, program output written to the slave, termios changes and
//! flushes. After every step it compares what non-blocking reads from the
//! slave return and what comes back on the master (echo and processed
//! output) with what the model returns.
//!
//! Synchronisation: the kernel processes pty input in a worker. A read from
//! the slave that finds nothing available waits for that worker
//! (`tty_buffer_flush_work`), so "read until EAGAIN" on the slave and then
//! on the master observes the complete effect of a write. Whatever is
//! already readable is read before each write, and random scripts avoid a
//! flushing signal character after a line end or an output restart in the
//! same write: there Linux's own result depends on worker timing.
//!
//! If no pty can be opened the tests print a note and pass.

use std::fmt::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tty::flags::*;
use tty::{LineDiscipline, ReadOutcome, Termios};

/// One observable read result.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Data(Vec<u8>),
    Eof,
    /// Separates reads made before a write from those made after it.
    Written,
}

/// One script step.
#[derive(Clone, Debug)]
enum Step {
    /// The user types these bytes (one write to the master).
    In(Vec<u8>),
    /// A program writes these bytes to the terminal.
    Out(Vec<u8>),
    /// tcsetattr with this termios.
    Set(Termios),
    /// tcflush(TCIFLUSH).
    Flush,
    /// Read with this buffer size from now on.
    ReadSize(usize),
}

struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

impl Pty {
    fn open() -> Option<Pty> {
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC;
        // SAFETY: plain libc calls on descriptors this function owns; the
        // name buffer outlives the calls that fill and read it.
        unsafe {
            let m = libc::posix_openpt(flags);
            if m < 0 {
                return None;
            }
            let master = OwnedFd::from_raw_fd(m);
            if libc::grantpt(m) != 0 || libc::unlockpt(m) != 0 {
                return None;
            }
            let mut name = [0 as libc::c_char; 128];
            if libc::ptsname_r(m, name.as_mut_ptr(), name.len()) != 0 {
                return None;
            }
            let s = libc::open(name.as_ptr(), flags);
            if s < 0 {
                return None;
            }
            Some(Pty {
                master,
                slave: OwnedFd::from_raw_fd(s),
            })
        }
    }

    fn get_termios(&self) -> Termios {
        let mut b = [0u8; Termios::SIZE];
        // SAFETY: TCGETS writes exactly 36 bytes on x86-64.
        let r = unsafe { libc::ioctl(self.slave.as_raw_fd(), libc::TCGETS, b.as_mut_ptr()) };
        assert_eq!(r, 0, "TCGETS failed");
        Termios::from_bytes(&b)
    }

    fn set_termios(&self, t: &Termios) {
        let b = t.to_bytes();
        // SAFETY: TCSETS reads exactly 36 bytes on x86-64.
        let r = unsafe { libc::ioctl(self.slave.as_raw_fd(), libc::TCSETS, b.as_ptr()) };
        assert_eq!(r, 0, "TCSETS failed");
    }

    fn flush_input(&self) {
        // SAFETY: TCFLSH takes an integer argument.
        let r = unsafe {
            libc::ioctl(
                self.slave.as_raw_fd(),
                libc::TCFLSH,
                TCIFLUSH as libc::c_int,
            )
        };
        assert_eq!(r, 0, "TCFLSH failed");
    }

    fn write_all(fd: &OwnedFd, mut bytes: &[u8]) {
        let mut tries = 0;
        while !bytes.is_empty() {
            // SAFETY: writes from a live slice.
            let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
            if n > 0 {
                bytes = &bytes[n as usize..];
                continue;
            }
            tries += 1;
            assert!(tries < 1000, "pty write stuck");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Reads the slave until it would block, with reads of `max` bytes.
    fn drain_reads(&self, max: usize, canonical: bool) -> Vec<Got> {
        let mut got = Vec::new();
        let mut buf = vec![0u8; max.max(1)];
        for _ in 0..100_000 {
            // SAFETY: reads into a live buffer of at least `max` bytes.
            let n = unsafe { libc::read(self.slave.as_raw_fd(), buf.as_mut_ptr().cast(), max) };
            match n {
                n if n > 0 => got.push(Got::Data(buf[..n as usize].to_vec())),
                0 if canonical && max > 0 => got.push(Got::Eof),
                0 => break,
                _ => {
                    let err = std::io::Error::last_os_error();
                    assert_eq!(err.raw_os_error(), Some(libc::EAGAIN), "slave read: {err}");
                    break;
                }
            }
        }
        got
    }

    /// Everything the slave side has written so far.
    fn drain_master(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads into a live buffer.
            let n =
                unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
    }
}

/// The model's view of the same reads. Like the kernel must, it retries
/// the backlog after reads made room, collecting the echo that produces.
fn model_reads(ld: &mut LineDiscipline, max: usize, echo: &mut Vec<u8>) -> Vec<Got> {
    let mut got = Vec::new();
    for _ in 0..100_000 {
        match ld.read(max) {
            ReadOutcome::Data(d) if d.is_empty() => break,
            ReadOutcome::Data(d) => got.push(Got::Data(d)),
            ReadOutcome::Eof => got.push(Got::Eof),
            ReadOutcome::WouldBlock if ld.backlog() > 0 => {
                let fx = ld.input(&[]);
                echo.extend(fx.echo);
                if !fx.readable {
                    break;
                }
            }
            ReadOutcome::WouldBlock => break,
        }
    }
    got
}

/// Non-canonical reads may split differently when a read races the input
/// worker; only the byte stream is compared there.
fn normalise(reads: Vec<Got>, canonical: bool) -> Vec<Got> {
    if canonical {
        return reads;
    }
    let bytes: Vec<u8> = reads
        .into_iter()
        .flat_map(|g| match g {
            Got::Data(d) => d,
            Got::Eof | Got::Written => Vec::new(),
        })
        .collect();
    if bytes.is_empty() {
        Vec::new()
    } else {
        vec![Got::Data(bytes)]
    }
}

/// Runs one script on a real pty and on the model. `Ok(false)` if no pty.
fn run_case(start: &Termios, steps: &[Step]) -> Result<bool, String> {
    let Some(pty) = Pty::open() else {
        return Ok(false);
    };
    let mut ld = LineDiscipline::new();
    pty.set_termios(start);
    ld.set_termios(*start, false);
    let mut max = 4096;
    let mut t = *start;
    for (i, step) in steps.iter().enumerate() {
        let canonical = t.lflag & ICANON != 0 && t.lflag & EXTPROC == 0;
        let (real, model) = match step {
            Step::In(bytes) => {
                // Read what is already readable first: otherwise the reader
                // could take it before the kernel's worker processes this
                // write (say, an INTR that flushes it).
                let mut reads = normalise(pty.drain_reads(max, canonical), canonical);
                let mut mecho = Vec::new();
                let mut mreads = normalise(model_reads(&mut ld, max, &mut mecho), canonical);
                Pty::write_all(&pty.master, bytes);
                reads.push(Got::Written);
                reads.extend(normalise(pty.drain_reads(max, canonical), canonical));
                let echo = pty.drain_master();
                let fx = ld.input(bytes);
                mecho.extend(fx.echo);
                mreads.push(Got::Written);
                mreads.extend(normalise(model_reads(&mut ld, max, &mut mecho), canonical));
                ((reads, echo), (mreads, mecho))
            }
            Step::Out(bytes) => {
                if ld.output_stopped() {
                    continue;
                }
                Pty::write_all(&pty.slave, bytes);
                ((vec![], pty.drain_master()), (vec![], ld.output(bytes)))
            }
            Step::Set(nt) => {
                pty.set_termios(nt);
                ld.set_termios(*nt, false);
                t = *nt;
                (
                    (vec![], pty.drain_master()),
                    (vec![], ld.take_pending_output()),
                )
            }
            Step::Flush => {
                pty.flush_input();
                ld.flush_input();
                ((vec![], pty.drain_master()), (vec![], Vec::new()))
            }
            Step::ReadSize(n) => {
                max = *n;
                continue;
            }
        };
        if real != model {
            return Err(describe(start, steps, i, &real, &model));
        }
    }
    Ok(true)
}

type Observed = (Vec<Got>, Vec<u8>);

fn describe(t: &Termios, steps: &[Step], i: usize, real: &Observed, model: &Observed) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "termios iflag={:#o} oflag={:#o} lflag={:#o} cc={:?}",
        t.iflag, t.oflag, t.lflag, t.cc
    );
    for (j, step) in steps.iter().enumerate() {
        let mark = if j == i { ">>" } else { "  " };
        let _ = writeln!(s, "{mark} {}", show_step(step));
    }
    let _ = writeln!(
        s,
        "   linux reads {:?} echo {}",
        show_reads(&real.0),
        esc(&real.1)
    );
    let _ = writeln!(
        s,
        "   model reads {:?} echo {}",
        show_reads(&model.0),
        esc(&model.1)
    );
    s
}

fn show_step(step: &Step) -> String {
    match step {
        Step::In(b) => format!("in  {}", esc(b)),
        Step::Out(b) => format!("out {}", esc(b)),
        Step::Set(t) => format!(
            "set iflag={:#o} oflag={:#o} lflag={:#o}",
            t.iflag, t.oflag, t.lflag
        ),
        Step::Flush => "flush".into(),
        Step::ReadSize(n) => format!("read size {n}"),
    }
}

fn show_reads(reads: &[Got]) -> Vec<String> {
    reads
        .iter()
        .map(|g| match g {
            Got::Data(d) => esc(d),
            Got::Eof => "EOF".into(),
            Got::Written => "|".into(),
        })
        .collect()
}

/// Escaped bytes, with long runs written as `x{count}`.
fn esc(b: &[u8]) -> String {
    let mut s = String::from("\"");
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let run = b[i..].iter().take_while(|&&x| x == c).count();
        match c {
            b'"' | b'\\' => s.push_str(&format!("\\{}", c as char)),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
        if run > 8 {
            s.push_str(&format!("{{{run}}}"));
            i += run;
        } else {
            i += 1;
        }
    }
    s.push('"');
    s
}

/// Runs many cases, collecting failures so one run shows them all.
struct Report {
    ran: usize,
    failures: Vec<String>,
    no_pty: bool,
}

impl Report {
    fn new() -> Self {
        Report {
            ran: 0,
            failures: Vec::new(),
            no_pty: false,
        }
    }

    fn case(&mut self, t: &Termios, steps: &[Step]) {
        if self.no_pty {
            return;
        }
        match run_case(t, steps) {
            Ok(true) => self.ran += 1,
            Ok(false) => self.no_pty = true,
            Err(e) => {
                self.ran += 1;
                self.failures.push(e);
            }
        }
    }

    fn finish(self, name: &str) {
        if self.no_pty {
            eprintln!("{name}: cannot open a pseudo-terminal here; skipped");
            return;
        }
        eprintln!(
            "{name}: {} cases, {} mismatches",
            self.ran,
            self.failures.len()
        );
        if !self.failures.is_empty() {
            let shown: Vec<&String> = self.failures.iter().take(12).collect();
            panic!(
                "{} of {} cases differ from Linux n_tty, first ones:\n{}",
                self.failures.len(),
                self.ran,
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

fn input(b: &[u8]) -> Step {
    Step::In(b.to_vec())
}

fn out(b: &[u8]) -> Step {
    Step::Out(b.to_vec())
}

/// `base` with the lflag bits in `xor` flipped.
fn flip_l(base: &Termios, xor: u32) -> Termios {
    Termios {
        lflag: base.lflag ^ xor,
        ..*base
    }
}

fn flip_i(base: &Termios, xor: u32) -> Termios {
    Termios {
        iflag: base.iflag ^ xor,
        ..*base
    }
}

/// The editing scripts, given the case's starting termios (for steps that
/// change settings relative to it).
fn scripts(t: &Termios) -> Vec<Vec<Step>> {
    let mut eol = *t;
    eol.cc[VEOL] = b'@';
    eol.cc[VEOL2] = b'#';
    vec![
        vec![input(b"abc\x7f\x7fd\n")],
        vec![input(b"foo bar\x17baz\n")],
        vec![input(b"foo bar  \x17\x17x_y \x17\n")],
        vec![input(b"xy\x15z\n")],
        vec![input(b"\x04")],
        vec![input(b"a\x04")],
        vec![input(b"a\x04"), input(b"\x04"), input(b"b\n")],
        vec![input(b"\tx\t\x7f\x7f\x7f\n")],
        vec![out(b"ab\tc"), input(b"de\t\x7f\x7f\x7fz\n")],
        vec![out(b"$ "), input(b"x\x01\t\x7f\x7f\x7f\n")],
        vec![input(b"\x16\x03\n")],
        vec![input(b"a\x16"), input(b"\x7f\x7f\n")],
        vec![input(b"ab\x03cd\n")],
        vec![input(b"ab"), input(b"\x03"), input(b"cd\n")],
        vec![input(b"q\x1c"), input(b"z\x1a\n")],
        vec![input(b"line1\rline2\r")],
        vec![input(b"a\x01b\x1b\x7f\x7f\x7f\n")],
        vec![input(b"abc\x12d\n")],
        vec![out(b"hello\nworld\r\n\tx\x08y\n")],
        vec![
            Step::ReadSize(2),
            input(b"abcde\n"),
            input(b"xy\x04"),
            input(b"\x04"),
        ],
        vec![Step::ReadSize(3), input(b"abc\x04def\n")],
        vec![input(b"abc"), Step::Set(flip_l(t, ICANON)), input(b"d")],
        vec![
            input(b"abc"),
            Step::Set(flip_l(t, ICANON)),
            Step::Set(*t),
            input(b"\n"),
        ],
        vec![input(b"xyz"), Step::Flush, input(b"w\n")],
        vec![input(b"\x13ab"), input(b"\x11"), input(b"\n")],
        vec![
            Step::Set(flip_i(t, IUTF8)),
            input("é\x7fa€\x7f\n".as_bytes()),
        ],
        vec![input(&[b'a'; 5000]), input(b"\n")],
        vec![input(&[b'b'; 4200]), input(b"\x7f\x7f\n")],
        vec![Step::Set(flip_l(t, NOFLSH)), input(b"ab\x03cd\n")],
        vec![Step::Set(flip_l(t, ECHOK | ECHOKE)), input(b"xy\x15z\n")],
        vec![Step::Set(flip_l(t, ECHOPRT)), input(b"abc\x7f\x7fd\x15\n")],
        vec![Step::Set(flip_l(t, ECHONL)), input(b"ab\nc\n")],
        vec![Step::Set(flip_l(t, IEXTEN)), input(b"a\x17b\x16\x12c\n")],
        vec![Step::Set(eol), input(b"ab@cd#ef\n")],
        vec![input(b"\xff\x80\xe9\x7f\x7f\n")],
    ]
}

/// The brief's matrix: every combination of ICANON, ECHO, ECHOE, ECHOCTL,
/// ICRNL and ISIG over every script.
#[test]
fn editing_scripts_over_flag_matrix() {
    let mut report = Report::new();
    let bits = [
        (0, ICANON),
        (0, ECHO),
        (0, ECHOE),
        (0, ECHOCTL),
        (0, ISIG),
        (1, ICRNL),
    ];
    for mask in 0..(1u32 << bits.len()) {
        let mut t = Termios::linux_default();
        for (k, &(which, bit)) in bits.iter().enumerate() {
            if mask & (1 << k) == 0 {
                continue;
            }
            if which == 0 {
                t.lflag ^= bit;
            } else {
                t.iflag ^= bit;
            }
        }
        for script in scripts(&t) {
            report.case(&t, &script);
        }
    }
    report.finish("editing_scripts_over_flag_matrix");
}

/// Output post-processing over OPOST option combinations, including echo
/// that follows program output (column tracking).
#[test]
fn output_flags_matrix() {
    let mut report = Report::new();
    let opts = [OPOST, ONLCR, OCRNL, ONOCR, ONLRET, OLCUC, XTABS];
    for mask in 0..(1u32 << opts.len()) {
        let mut t = Termios::linux_default();
        t.oflag = opts
            .iter()
            .enumerate()
            .filter(|(k, _)| mask & (1 << k) != 0)
            .fold(0, |acc, (_, &f)| acc | f);
        let steps = vec![
            out(b"ab\r\rc\nd\te\x08f\xe9\xdf\n"),
            out(b"\r"),
            input(b"x\ty\t\x7f\x7f\x7f\x01\x7f\n"),
            out(b"12\t"),
            input(b"\t\x7f\n"),
        ];
        report.case(&t, &steps);
    }
    report.finish("output_flags_matrix");
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn subset(&mut self, flags: &[u32]) -> u32 {
        flags
            .iter()
            .filter(|_| self.chance(50))
            .fold(0, |a, &f| a | f)
    }
}

const ALPHABET: &[u8] =
    b"ab_ Z9\t\r\n\x7f\x08\x15\x17\x16\x12\x04\x03\x1c\x1a\x13\x11\x00\xff\xc3\xa9\x80\x01\x1b@#";

fn random_termios(rng: &mut Rng) -> Termios {
    let mut t = Termios::linux_default();
    t.lflag = rng.subset(&[
        ISIG, ICANON, ECHO, ECHOE, ECHOK, ECHONL, NOFLSH, ECHOCTL, ECHOPRT, ECHOKE, IEXTEN,
    ]);
    t.iflag = rng.subset(&[
        ISTRIP, INLCR, IGNCR, ICRNL, IUCLC, IXON, IXANY, IUTF8, PARMRK,
    ]);
    t.oflag = rng.subset(&[OPOST, ONLCR, OCRNL, ONOCR, ONLRET, OLCUC, XTABS]);
    if rng.chance(3) {
        t.lflag |= EXTPROC;
    }
    if rng.chance(20) {
        t.cc[VEOL] = b'@';
    }
    if rng.chance(10) {
        t.cc[VEOL2] = b'#';
    }
    if rng.chance(10) {
        t.cc[VMIN] = [0, 2, 5][rng.below(3)];
    }
    if rng.chance(10) {
        // Remapped and disabled control characters.
        t.cc[VERASE] = 0x08;
        t.cc[VKILL] = b'@';
        t.cc[VINTR] = 0;
        t.cc[VSTART] = 0x13; // same as VSTOP
    }
    t
}

/// Generates one random session. Linux's own behaviour is timing-dependent
/// or corrupt in a few corners, which sessions steer around:
///
/// * A signal character flushes, and on a pty that also drops echo the
///   master has not consumed yet. So it never follows, in the same write,
///   a completed line (the reader may overtake the input worker) or an
///   output restart (released echo races the master's worker); nor any
///   input once the queue was filled (each overflow byte's echo is sent at
///   once).
/// * n_tty's echo ring holds 4 KiB: a single key whose echo is longer
///   (VKILL, VWERASE or VREPRINT over a ~4 KiB line) wraps it and Linux
///   emits garbage; with PARMRK or EXTPROC a full queue also wraps its
///   input ring. Full-queue sessions avoid those keys and flags.
/// * Once the queue was full, Linux processes backlogged input in pieces
///   as a concurrent reader frees room, sending echo after each piece; so
///   whether echo typed before a VSTOP gets out first depends on timing.
///   Such sessions do not type VSTOP.
/// * VLNEXT without ECHOCTL, see `lnext_hits_linux_echo_bug`.
struct Session {
    rng: Rng,
    t: Termios,
    filled_queue: bool,
}

impl Session {
    fn chunk(&mut self) -> Vec<u8> {
        let t = self.t;
        if t.iflag & PARMRK == 0 && t.lflag & EXTPROC == 0 && self.rng.chance(2) {
            self.filled_queue = true;
            let mut chunk = vec![b'x'; 4090 + self.rng.below(20)];
            chunk.extend([b'\x7f', b'y', b'\n'][..self.rng.below(4)].iter());
            return chunk;
        }
        let len = 1 + self.rng.below(10);
        let mut chunk = Vec::with_capacity(len);
        let mut ended_line = false;
        while chunk.len() < len {
            let c = ALPHABET[self.rng.below(ALPHABET.len())];
            if !self.allowed(c, &chunk, ended_line) {
                continue;
            }
            ended_line |= matches!(c, b'\n' | b'\r' | 4 | b'@' | b'#');
            chunk.push(c);
        }
        chunk
    }

    fn allowed(&self, c: u8, chunk: &[u8], ended_line: bool) -> bool {
        let t = &self.t;
        let is = |idx: usize| c != 0 && t.cc[idx] == c;
        let signal = t.lflag & ISIG != 0 && (is(VINTR) || is(VQUIT) || is(VSUSP));
        let ixon = t.iflag & IXON != 0;
        let restarted = (ixon && chunk.contains(&t.cc[VSTART]))
            || (ixon && t.iflag & IXANY != 0 && !chunk.is_empty());
        if signal && (ended_line || restarted || self.filled_queue) {
            return false;
        }
        if self.filled_queue && (is(VKILL) || is(VWERASE) || is(VREPRINT)) {
            return false;
        }
        if self.filled_queue && ixon && is(VSTOP) {
            return false;
        }
        !(c == 0x16 && lnext_hits_linux_echo_bug(t))
    }

    fn step(&mut self) -> Step {
        match self.rng.below(20) {
            0 => {
                let flags = [ICANON, ECHO, ISIG, ECHOCTL, NOFLSH, IEXTEN, ECHOPRT, ECHOK];
                self.t.lflag ^= flags[self.rng.below(flags.len())];
                Step::Set(self.t)
            }
            1 => {
                let flags = [IXON, ICRNL, IUTF8, PARMRK];
                let n = if self.filled_queue { 3 } else { 4 };
                self.t.iflag ^= flags[self.rng.below(n)];
                Step::Set(self.t)
            }
            2 => Step::Flush,
            3 => Step::ReadSize([1, 2, 3, 4096][self.rng.below(4)]),
            4 | 5 => {
                let n = 1 + self.rng.below(8);
                let bytes = b"ab\t\n\r\x08xyz\xe9";
                Step::Out((0..n).map(|_| bytes[self.rng.below(bytes.len())]).collect())
            }
            _ => Step::In(self.chunk()),
        }
    }
}

/// Linux bug: VLNEXT inside an ECHOPRT erase without ECHOCTL queues the
/// closing `/` without marking it; the next "send marked echo" then runs
/// from behind the ring's tail and writes up to 4 KiB of stale ring bytes.
/// The model sends the `/` instead, so random sessions avoid VLNEXT whenever
/// that could happen (an erase sequence may have begun under earlier
/// settings); the fixed matrix covers VLNEXT without ECHOCTL.
fn lnext_hits_linux_echo_bug(t: &Termios) -> bool {
    t.lflag & ECHO != 0 && t.lflag & ECHOCTL == 0
}

/// Random termios and random editing sessions.
#[test]
fn random_sessions() {
    let mut report = Report::new();
    // TTY_DIFF_CASES / TTY_DIFF_SEED widen or vary the search by hand.
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let cases = env("TTY_DIFF_CASES").unwrap_or(3000);
    let mut rng = Rng(env("TTY_DIFF_SEED").unwrap_or(0x5eed_1234_abcd_0001) | 1);
    for _ in 0..cases {
        let start = random_termios(&mut rng);
        let n = 1 + rng.below(8);
        let mut session = Session {
            rng,
            t: start,
            filled_queue: false,
        };
        let steps: Vec<Step> = (0..n).map(|_| session.step()).collect();
        rng = session.rng;
        report.case(&start, &steps);
    }
    report.finish("random_sessions");
}

/// A fresh pty slave has Linux's default settings (the pty driver drops
/// HUPCL from c_cflag), and termios survives a TCSETS/TCGETS round trip.
#[test]
fn termios_layout_matches_kernel() {
    let Some(pty) = Pty::open() else {
        eprintln!("termios_layout_matches_kernel: no pseudo-terminal; skipped");
        return;
    };
    let got = pty.get_termios();
    let want = Termios::linux_default();
    assert_eq!(got.iflag, want.iflag);
    assert_eq!(got.oflag, want.oflag);
    assert_eq!(got.lflag, want.lflag);
    assert_eq!(got.cflag, want.cflag & !HUPCL);
    assert_eq!(got.cc, want.cc);

    let mut t = want;
    t.lflag = ECHO | ECHONL | NOFLSH;
    t.iflag = IGNCR | IUTF8;
    t.oflag = OPOST | OLCUC | XTABS;
    t.cc[VMIN] = 5;
    t.cc[VTIME] = 7;
    t.cc[VEOL] = b'!';
    pty.set_termios(&t);
    assert_eq!(pty.get_termios(), t);
}
