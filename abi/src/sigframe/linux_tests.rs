//! Tests against the real thing: the C headers and the running kernel.
//!
//! `layout_matches_c_headers` compiles C programs that print offsetof/sizeof
//! of the uapi and glibc structures. `frames_match_the_running_kernel` lets
//! Linux deliver signals to a static C program whose handler dumps the raw
//! frame, rebuilds the same frame with [`build`] from the inputs the handler
//! saw (registers via glibc's `gregs[]`, not our layout) and compares bytes,
//! then reads the real frame back with [`restore`]. Both skip (with a note
//! on stderr) when gcc or a static libc is missing.

use super::layout::{frame, reg, sc, si, stack, sw, uc, xsave};
use super::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

/// A scratch directory removed when the test ends.
struct Scratch(PathBuf);
impl Scratch {
    fn new(tag: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("abi-sigframe-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles `src` and returns the binary, or `None` (with a note) if gcc or
/// the requested libc flavour is unavailable.
fn compile(dir: &Scratch, name: &str, src: &str, flags: &[&str]) -> Option<PathBuf> {
    let c = dir.0.join(format!("{name}.c"));
    let bin = dir.0.join(name);
    std::fs::write(&c, src).expect("write C source");
    let out = Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&bin)
        .arg(&c)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(bin),
        Ok(o) => {
            eprintln!(
                "skipping: gcc {flags:?} failed:\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("skipping: gcc not runnable: {e}");
            None
        }
    }
}

/// Runs `bin args` and returns its stdout.
fn run(bin: &PathBuf, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("run test program");
    assert!(out.status.success(), "{bin:?} {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// "name value" lines into a map.
fn parse_pairs(text: &str, sep: char) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(sep))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

// ------------------------------------------------------------ C layouts

/// The kernel uapi names and the constants that must equal them.
fn kernel_expectations() -> Vec<(&'static str, i64)> {
    let u = |v: usize| v as i64;
    vec![
        ("frame.pretcode", u(frame::PRETCODE)),
        ("frame.uc", u(frame::UC)),
        ("frame.info", u(frame::INFO)),
        ("frame.size", u(frame::SIZE)),
        ("uc.flags", u(uc::FLAGS)),
        ("uc.link", u(uc::LINK)),
        ("uc.stack", u(uc::STACK)),
        ("uc.mcontext", u(uc::MCONTEXT)),
        ("uc.sigmask", u(uc::SIGMASK)),
        ("uc.size", u(uc::SIZE)),
        ("sigset.size", 8),
        ("stack.sp", u(stack::SP)),
        ("stack.flags", u(stack::FLAGS)),
        ("stack.size", u(stack::SIZE)),
        ("stack.len", u(stack::LEN)),
        ("sc.r8", u(sc::R8)),
        ("sc.r9", u(sc::R9)),
        ("sc.r10", u(sc::R10)),
        ("sc.r11", u(sc::R11)),
        ("sc.r12", u(sc::R12)),
        ("sc.r13", u(sc::R13)),
        ("sc.r14", u(sc::R14)),
        ("sc.r15", u(sc::R15)),
        ("sc.rdi", u(sc::RDI)),
        ("sc.rsi", u(sc::RSI)),
        ("sc.rbp", u(sc::RBP)),
        ("sc.rbx", u(sc::RBX)),
        ("sc.rdx", u(sc::RDX)),
        ("sc.rax", u(sc::RAX)),
        ("sc.rcx", u(sc::RCX)),
        ("sc.rsp", u(sc::RSP)),
        ("sc.rip", u(sc::RIP)),
        ("sc.eflags", u(sc::EFLAGS)),
        ("sc.cs", u(sc::CS)),
        ("sc.gs", u(sc::GS)),
        ("sc.fs", u(sc::FS)),
        ("sc.ss", u(sc::SS)),
        ("sc.err", u(sc::ERR)),
        ("sc.trapno", u(sc::TRAPNO)),
        ("sc.oldmask", u(sc::OLDMASK)),
        ("sc.cr2", u(sc::CR2)),
        ("sc.fpstate", u(sc::FPSTATE)),
        ("sc.reserved1", u(sc::RESERVED1)),
        ("sc.size", u(sc::SIZE)),
        ("fp.mxcsr", u(xsave::MXCSR)),
        ("fp.mxcsr_mask", u(xsave::MXCSR_MASK)),
        ("fp.sw_reserved", u(xsave::SW_RESERVED)),
        ("fp.size", u(xsave::LEGACY_SIZE)),
        ("xs.header", u(xsave::XSTATE_BV)),
        ("xs.header_size", u(xsave::HDR_END - xsave::XSTATE_BV)),
        ("sw.magic1", u(sw::MAGIC1)),
        ("sw.extended_size", u(sw::EXTENDED_SIZE)),
        ("sw.xfeatures", u(sw::XFEATURES)),
        ("sw.xstate_size", u(sw::XSTATE_SIZE)),
        ("sw.size", u(sw::SIZE)),
        ("si.signo", u(si::SIGNO)),
        ("si.errno", u(si::ERRNO)),
        ("si.code", u(si::CODE)),
        ("FP_XSTATE_MAGIC1", i64::from(FP_XSTATE_MAGIC1)),
        ("FP_XSTATE_MAGIC2", i64::from(FP_XSTATE_MAGIC2)),
        ("UC_FP_XSTATE", UC_FP_XSTATE as i64),
        ("UC_SIGCONTEXT_SS", UC_SIGCONTEXT_SS as i64),
        ("UC_STRICT_RESTORE_SS", UC_STRICT_RESTORE_SS as i64),
        ("SA_SIGINFO", SA_SIGINFO as i64),
        ("SA_RESTORER", SA_RESTORER as i64),
        ("SA_ONSTACK", SA_ONSTACK as i64),
        ("SA_RESTART", SA_RESTART as i64),
        ("SA_NODEFER", SA_NODEFER as i64),
        ("SA_RESETHAND", SA_RESETHAND as i64),
        ("SS_ONSTACK", i64::from(SS_ONSTACK)),
        ("SS_DISABLE", i64::from(SS_DISABLE)),
        ("SS_AUTODISARM", i64::from(SS_AUTODISARM)),
        ("MINSIGSTKSZ", MINSIGSTKSZ as i64),
    ]
}

/// siginfo member offsets, identical in the kernel's and glibc's headers.
fn siginfo_expectations() -> Vec<(&'static str, i64)> {
    let u = |v: usize| v as i64;
    vec![
        ("si.pid", u(si::PID)),
        ("si.uid", u(si::UID)),
        ("si.value", u(si::VALUE)),
        ("si.status", u(si::STATUS)),
        ("si.utime", u(si::UTIME)),
        ("si.stime", u(si::STIME)),
        ("si.timerid", u(si::TIMERID)),
        ("si.overrun", u(si::OVERRUN)),
        ("si.addr", u(si::ADDR)),
        ("si.band", u(si::BAND)),
        ("si.fd", u(si::FD)),
        ("si.call_addr", u(si::CALL_ADDR)),
        ("si.syscall", u(si::SYSCALL)),
        ("si.arch", u(si::ARCH)),
        ("si.size", u(si::SIZE)),
    ]
}

/// glibc's ucontext_t: the kernel's prefix, with gregs[] in sigcontext order.
fn glibc_expectations() -> Vec<(&'static str, i64)> {
    let m = |off: usize| (uc::MCONTEXT + off) as i64;
    vec![
        ("uc.flags", uc::FLAGS as i64),
        ("uc.link", uc::LINK as i64),
        ("uc.stack", uc::STACK as i64),
        ("uc.mcontext", uc::MCONTEXT as i64),
        ("uc.fpregs", m(sc::FPSTATE)),
        ("uc.sigmask", uc::SIGMASK as i64),
        ("uc.mcontext.REG_R8", m(sc::R8)),
        ("uc.mcontext.REG_R9", m(sc::R9)),
        ("uc.mcontext.REG_R10", m(sc::R10)),
        ("uc.mcontext.REG_R11", m(sc::R11)),
        ("uc.mcontext.REG_R12", m(sc::R12)),
        ("uc.mcontext.REG_R13", m(sc::R13)),
        ("uc.mcontext.REG_R14", m(sc::R14)),
        ("uc.mcontext.REG_R15", m(sc::R15)),
        ("uc.mcontext.REG_RDI", m(sc::RDI)),
        ("uc.mcontext.REG_RSI", m(sc::RSI)),
        ("uc.mcontext.REG_RBP", m(sc::RBP)),
        ("uc.mcontext.REG_RBX", m(sc::RBX)),
        ("uc.mcontext.REG_RDX", m(sc::RDX)),
        ("uc.mcontext.REG_RAX", m(sc::RAX)),
        ("uc.mcontext.REG_RCX", m(sc::RCX)),
        ("uc.mcontext.REG_RSP", m(sc::RSP)),
        ("uc.mcontext.REG_RIP", m(sc::RIP)),
        ("uc.mcontext.REG_EFL", m(sc::EFLAGS)),
        ("uc.mcontext.REG_CSGSFS", m(sc::CS)),
        ("uc.mcontext.REG_ERR", m(sc::ERR)),
        ("uc.mcontext.REG_TRAPNO", m(sc::TRAPNO)),
        ("uc.mcontext.REG_OLDMASK", m(sc::OLDMASK)),
        ("uc.mcontext.REG_CR2", m(sc::CR2)),
    ]
}

fn check_values(got: &HashMap<String, String>, want: &[(&str, i64)], source: &str) {
    for &(name, value) in want {
        let printed = got
            .get(name)
            .unwrap_or_else(|| panic!("{source}: {name} not printed"));
        assert_eq!(printed.parse::<i64>().ok(), Some(value), "{source}: {name}");
    }
}

#[test]
fn layout_matches_c_headers() {
    let dir = Scratch::new("layout");
    let Some(k) = compile(&dir, "layout", include_str!("testdata/layout.c"), &[]) else {
        return;
    };
    let kernel = parse_pairs(&run(&k, &[]), ' ');
    check_values(&kernel, &kernel_expectations(), "uapi headers");
    check_values(&kernel, &siginfo_expectations(), "uapi headers");
    let Some(g) = compile(
        &dir,
        "glibc_layout",
        include_str!("testdata/glibc_layout.c"),
        &[],
    ) else {
        return;
    };
    let glibc = parse_pairs(&run(&g, &[]), ' ');
    check_values(&glibc, &glibc_expectations(), "glibc headers");
    check_values(&glibc, &siginfo_expectations(), "glibc headers");
}

// ------------------------------------------------------------ real frames

/// One probe run: what the handler saw.
struct Observed {
    kv: HashMap<String, String>,
    frame: Vec<u8>,
}

impl Observed {
    fn parse(text: &str) -> Observed {
        let kv = parse_pairs(text, '=');
        let frame = kv.get("frame").map(|h| hex_bytes(h)).unwrap_or_default();
        Observed { kv, frame }
    }
    fn get(&self, k: &str) -> u64 {
        let v = self
            .kv
            .get(k)
            .unwrap_or_else(|| panic!("probe did not print {k}"));
        u64::from_str_radix(v, 16).unwrap_or_else(|_| panic!("{k}={v} is not hex"))
    }
    fn frame_addr(&self) -> u64 {
        self.get("uc") - 8
    }
    fn u64_in_frame(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.frame[off..off + 8].try_into().unwrap())
    }
    /// The fpstate's offset in the frame, via glibc's `uc_mcontext.fpregs`
    /// (read back from the dump at glibc's offset of that field, 224).
    fn fp_off(&self) -> usize {
        (self.u64_in_frame(8 + 224) - self.frame_addr()) as usize
    }
    fn xstate_size(&self) -> usize {
        let o = self.fp_off() + 464 + 16;
        u32::from_le_bytes(self.frame[o..o + 4].try_into().unwrap()) as usize
    }

    /// The interrupted registers, named by glibc's REG_* indices.
    fn regs(&self) -> [u64; 27] {
        let mut r = [0u64; 27];
        let names = [
            ("R8", reg::R8),
            ("R9", reg::R9),
            ("R10", reg::R10),
            ("R11", reg::R11),
            ("R12", reg::R12),
            ("R13", reg::R13),
            ("R14", reg::R14),
            ("R15", reg::R15),
            ("RDI", reg::RDI),
            ("RSI", reg::RSI),
            ("RBP", reg::RBP),
            ("RBX", reg::RBX),
            ("RDX", reg::RDX),
            ("RAX", reg::RAX),
            ("RCX", reg::RCX),
            ("RSP", reg::RSP),
            ("RIP", reg::RIP),
            ("EFL", reg::EFLAGS),
        ];
        for (name, i) in names {
            r[i] = self.get(name);
        }
        let csgsfs = self.get("CSGSFS");
        r[reg::CS] = csgsfs & 0xffff;
        r[reg::SS] = csgsfs >> 48;
        r[reg::ORIG_RAX] = 200; // tgkill; not part of the frame
        r[reg::FS_BASE] = 0x4c_0000;
        r
    }

    /// The XSAVE image as ptrace would have given it: the frame's image with
    /// sw_reserved holding XCR0 and x87/SSE dropped from XSTATE_BV (they
    /// were in use, and `build` must add them back).
    fn ptrace_xsave(&self, xfeatures: u64) -> Vec<u8> {
        let fp = self.fp_off();
        let mut x = self.frame[fp..fp + self.xstate_size()].to_vec();
        x[464..512].fill(0);
        x[464..472].copy_from_slice(&xfeatures.to_le_bytes());
        x[512] &= !3;
        x
    }

    fn altstack(&self) -> AltStack {
        AltStack {
            sp: self.get("alt_sp"),
            flags: self.get("alt_flags") as u32 as i32,
            size: self.get("alt_size"),
        }
    }

    fn info(&self) -> SigInfo {
        let o = (self.get("si") - self.frame_addr()) as usize;
        SigInfo::from_bytes(&self.frame[o..o + 128].try_into().unwrap())
    }
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len() / 2)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The probe's mask: SIGUSR2 and signal 37.
const PROBE_MASK: u64 = (1 << (12 - 1)) | (1 << (37 - 1));

/// Checks the siginfo Linux produced decodes into the variant we would
/// produce for the same event.
fn check_info(o: &Observed, mode: &str) -> SigInfo {
    let info = o.info();
    let want = if mode == "segv" {
        SigInfo {
            signo: 11,
            errno: 0,
            code: 1,
            fields: SigFields::Fault { addr: 0x10 },
        }
    } else {
        let (pid, uid) = (o.get("pid") as i32, o.get("uid") as u32);
        SigInfo {
            signo: 10,
            errno: 0,
            code: code::SI_TKILL,
            fields: SigFields::Rt { pid, uid, value: 0 },
        }
    };
    assert_eq!(info, want, "{mode}: siginfo");
    info
}

/// Our frame for the probe's inputs, compared with the kernel's.
fn compare_build(o: &Observed, mode: &str) {
    let fp_off = o.fp_off();
    let xfeatures = o.u64_in_frame(fp_off + 464 + 8);
    assert_eq!(
        xfeatures & !o.get("xcr0"),
        0,
        "{mode}: frame features within XCR0"
    );
    let xs = o.ptrace_xsave(xfeatures);
    let info = check_info(o, mode);
    let d = Delivery {
        regs: o.regs(),
        xsave: &xs,
        xfeatures,
        blocked: PROBE_MASK,
        altstack: o.altstack(),
        info: &info,
        handler: o.get("handler"),
        restorer: o.get("restorer"),
        sa_flags: o.get("sa_flags"),
        fault: Some((o.get("ERR"), o.get("TRAPNO"), o.get("CR2"))),
    };
    let f = build(&d).unwrap_or_else(|e| panic!("{mode}: build failed: {e}"));
    assert_eq!(f.addr, o.frame_addr(), "{mode}: frame address");
    assert_eq!(f.addr, o.get("entry_rsp"), "{mode}: handler entry rsp");
    assert_eq!(f.regs[reg::RSI], o.get("si"), "{mode}: rsi = &info");
    assert_eq!(f.regs[reg::RDX], o.get("uc"), "{mode}: rdx = &uc");
    assert_eq!(f.regs[reg::RDI], o.get("sig"), "{mode}: rdi = signo");
    assert_eq!(f.regs[reg::RIP], o.get("handler"), "{mode}: rip = handler");
    assert_eq!(
        f.altstack_used,
        mode == "alt" || mode == "autodisarm",
        "{mode}"
    );
    assert_eq!(o.get("mask"), PROBE_MASK, "{mode}: uc_sigmask");
    assert_eq!(f.bytes.len(), o.frame.len(), "{mode}: frame length");
    // Linux leaves the alignment gap and sigcontext.reserved1 unwritten.
    let gap = frame::SIZE..fp_off;
    let reserved = uc::MCONTEXT + frame::UC + sc::RESERVED1..frame::UC + uc::MCONTEXT + sc::SIZE;
    for (i, (a, b)) in f.bytes.iter().zip(&o.frame).enumerate() {
        if !gap.contains(&i) && !reserved.contains(&i) {
            assert_eq!(
                a, b,
                "{mode}: frame byte {i} (fpstate at {fp_off}) ours {a:#x} linux {b:#x}"
            );
        }
    }
}

/// The kernel's own frame, read back as rt_sigreturn would.
fn compare_restore(o: &Observed, mode: &str) {
    let base = o.frame_addr();
    let mem = |a: u64, n: usize| {
        let off = usize::try_from(a.checked_sub(base)?).ok()?;
        o.frame.get(off..off.checked_add(n)?).map(<[u8]>::to_vec)
    };
    let mut current = o.regs();
    current[reg::RSP] = o.get("uc");
    current[reg::EFLAGS] = 0x202;
    let r = restore(o.get("uc"), &current, &mem).unwrap_or_else(|e| panic!("{mode}: {e}"));
    let mut want = o.regs();
    want[reg::ORIG_RAX] = u64::MAX;
    assert_eq!(r.regs, want, "{mode}: restored registers");
    assert_eq!(r.blocked, PROBE_MASK, "{mode}: restored mask");
    assert_eq!(r.altstack, o.altstack(), "{mode}: uc_stack");
    let fp = o.fp_off();
    let x = r.xsave.expect("fpstate restored");
    let xfeatures = o.u64_in_frame(fp + 464 + 8);
    assert_eq!(x.len(), o.xstate_size(), "{mode}");
    assert_eq!(
        &x[..464],
        &o.frame[fp..fp + 464],
        "{mode}: legacy registers"
    );
    assert_eq!(
        &x[464..472],
        &xfeatures.to_le_bytes(),
        "{mode}: XCR0 in ptrace form"
    );
    assert_eq!(
        &x[512..],
        &o.frame[fp + 512..fp + x.len()],
        "{mode}: header and extended state"
    );
    if mode == "autodisarm" {
        // Delivery disarmed the stack; sigreturn re-armed it from uc_stack.
        let back = AltStack::reset().after_sigreturn(r.altstack, want[reg::RSP]);
        assert_eq!(back.flags as u32 as u64, o.get("after_flags"), "re-armed");
    }
}

#[test]
fn frames_match_the_running_kernel() {
    let dir = Scratch::new("probe");
    let flags = ["-static", "-O1", "-fno-omit-frame-pointer"];
    let Some(bin) = compile(&dir, "probe", include_str!("testdata/probe.c"), &flags) else {
        return;
    };
    // Four stack depths 16 bytes apart: every alignment the 64-byte fpstate
    // rounding can meet, so the red zone and rounding are really compared.
    let runs = ["plain", "alt", "autodisarm", "segv"]
        .into_iter()
        .flat_map(|m| ["0", "16", "32", "48"].map(|pad| (m, pad)));
    for (mode, pad) in runs {
        let o = Observed::parse(&run(&bin, &[mode, pad]));
        assert!(
            o.frame.len() > frame::SIZE + xsave::HDR_END,
            "{mode}: frame dumped"
        );
        let fp = o.fp_off();
        assert_eq!(o.u64_in_frame(frame::UC + uc::FLAGS), 7, "{mode}: uc_flags");
        assert_eq!(
            &o.frame[fp + 464..fp + 468],
            &FP_XSTATE_MAGIC1.to_le_bytes(),
            "{mode}"
        );
        compare_build(&o, mode);
        compare_restore(&o, mode);
    }
}
