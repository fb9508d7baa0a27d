//! Unit tests: siginfo encoding, frame layout invariants, altstack choice,
//! build → restore round trips, and restore on hostile memory.
//!
//! Offsets here are written as plain numbers (not the `layout` constants)
//! so that a wrong constant cannot make its own test pass.

use super::*;
use std::cell::Cell;

const RSP: u64 = 0x7ffd_5000_1234;
const HANDLER: u64 = 0x40_1000;
const RESTORER: u64 = 0x40_2000;
const AVX_XCR0: u64 = 0x7;

/// A deterministic xorshift generator: enough variety for fuzz-style loops
/// without an extra dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Interrupted registers with every word distinct and valid user segments.
fn sample_regs() -> [u64; 27] {
    let mut r = [0u64; 27];
    for (i, w) in r.iter_mut().enumerate() {
        *w = 0x1111_0000_0000_0000 + i as u64 * 0x0101;
    }
    r[reg::RSP] = RSP;
    r[reg::CS] = 0x33;
    r[reg::SS] = 0x2b;
    r[reg::EFLAGS] = 0x246 | EFLAGS_DF | EFLAGS_TF | EFLAGS_RF;
    r[reg::ORIG_RAX] = 1;
    r[reg::DS] = 0;
    r
}

/// A ptrace-style XSAVE dump: random register contents, a valid MXCSR,
/// XCR0 at 464, XSTATE_BV inside XCR0 and a clean header.
fn sample_xsave(len: usize, xcr0: u64, seed: u64) -> Vec<u8> {
    let mut x = Rng(seed).bytes(len);
    put_u32(&mut x, 24, 0x1f80);
    x[464..512].fill(0);
    put_u64(&mut x, 464, xcr0);
    x[512..576].fill(0);
    put_u64(&mut x, 512, xcr0);
    x
}

fn kill_info() -> SigInfo {
    SigInfo {
        signo: 10,
        errno: 0,
        code: 0,
        fields: SigFields::Kill { pid: 42, uid: 1000 },
    }
}

fn delivery<'a>(regs: [u64; 27], xsave: &'a [u8], info: &'a SigInfo) -> Delivery<'a> {
    Delivery {
        regs,
        xsave,
        xfeatures: AVX_XCR0,
        blocked: 0x1000_0800,
        altstack: AltStack::default(),
        info,
        handler: HANDLER,
        restorer: RESTORER,
        sa_flags: SA_SIGINFO | SA_RESTORER,
        fault: None,
    }
}

/// Guest memory holding exactly one frame; everything else is unmapped.
fn frame_memory(f: &Frame) -> impl Fn(u64, usize) -> Option<Vec<u8>> + '_ {
    move |a, n| {
        let off = usize::try_from(a.checked_sub(f.addr)?).ok()?;
        f.bytes.get(off..off.checked_add(n)?).map(<[u8]>::to_vec)
    }
}

// ---------------------------------------------------------------- siginfo

#[test]
fn siginfo_fields_land_at_linux_offsets() {
    let b = SigInfo {
        signo: 17,
        errno: 3,
        code: 1,
        fields: SigFields::Child {
            pid: 7,
            uid: 8,
            status: 9,
            utime: -10,
            stime: 11,
        },
    }
    .to_bytes();
    assert_eq!((u32_at(&b, 0), u32_at(&b, 4), u32_at(&b, 8)), (17, 3, 1));
    assert_eq!((u32_at(&b, 16), u32_at(&b, 20), u32_at(&b, 24)), (7, 8, 9));
    assert_eq!((u64_at(&b, 32) as i64, u64_at(&b, 40)), (-10, 11));

    let b = SigInfo {
        signo: 11,
        errno: 0,
        code: 1,
        fields: SigFields::Fault { addr: 0xdead },
    }
    .to_bytes();
    assert_eq!(u64_at(&b, 16), 0xdead);

    let rt = SigFields::Rt {
        pid: 5,
        uid: 6,
        value: 0x1234_5678_9abc,
    };
    let b = SigInfo {
        signo: 34,
        errno: 0,
        code: -1,
        fields: rt,
    }
    .to_bytes();
    assert_eq!(
        (u32_at(&b, 16), u32_at(&b, 20), u64_at(&b, 24)),
        (5, 6, 0x1234_5678_9abc)
    );

    let timer = SigFields::Timer {
        tid: 3,
        overrun: 4,
        value: 99,
    };
    let b = SigInfo {
        signo: 14,
        errno: 0,
        code: -2,
        fields: timer,
    }
    .to_bytes();
    assert_eq!((u32_at(&b, 16), u32_at(&b, 20), u64_at(&b, 24)), (3, 4, 99));

    let b = SigInfo {
        signo: 29,
        errno: 0,
        code: 1,
        fields: SigFields::Poll { band: -1, fd: 5 },
    }
    .to_bytes();
    assert_eq!((u64_at(&b, 16), u32_at(&b, 24)), (u64::MAX, 5));

    let sys = SigFields::Sys {
        call_addr: 0x1000,
        syscall: 39,
        arch: 0xc000_003e,
    };
    let b = SigInfo {
        signo: 31,
        errno: 0,
        code: 1,
        fields: sys,
    }
    .to_bytes();
    assert_eq!(
        (u64_at(&b, 16), u32_at(&b, 24), u32_at(&b, 28)),
        (0x1000, 39, 0xc000_003e)
    );
    assert!(b[32..].iter().all(|&x| x == 0));
}

#[test]
fn siginfo_decodes_by_signo_and_code() {
    let cases = [
        SigInfo {
            signo: 10,
            errno: 0,
            code: 0,
            fields: SigFields::Kill { pid: 1, uid: 2 },
        },
        SigInfo {
            signo: 10,
            errno: 0,
            code: -6,
            fields: SigFields::Rt {
                pid: 1,
                uid: 2,
                value: 0,
            },
        },
        SigInfo {
            signo: 40,
            errno: 0,
            code: -1,
            fields: SigFields::Rt {
                pid: 1,
                uid: 2,
                value: 3,
            },
        },
        SigInfo {
            signo: 14,
            errno: 0,
            code: -2,
            fields: SigFields::Timer {
                tid: 1,
                overrun: 2,
                value: 3,
            },
        },
        SigInfo {
            signo: 17,
            errno: 0,
            code: 1,
            fields: SigFields::Child {
                pid: 1,
                uid: 2,
                status: 3,
                utime: 4,
                stime: 5,
            },
        },
        SigInfo {
            signo: 7,
            errno: 0,
            code: 2,
            fields: SigFields::Fault { addr: 0x10 },
        },
        SigInfo {
            signo: 5,
            errno: 0,
            code: 1,
            fields: SigFields::Fault { addr: 0x10 },
        },
        SigInfo {
            signo: 29,
            errno: 0,
            code: 3,
            fields: SigFields::Poll { band: 1, fd: 2 },
        },
        SigInfo {
            signo: 10,
            errno: 0,
            code: -5,
            fields: SigFields::Poll { band: 1, fd: 2 },
        },
        // A signal without its own codes and a small positive code: _sigpoll, as in Linux.
        SigInfo {
            signo: 10,
            errno: 0,
            code: 2,
            fields: SigFields::Poll { band: 1, fd: 2 },
        },
        SigInfo {
            signo: 31,
            errno: 0,
            code: 1,
            fields: SigFields::Sys {
                call_addr: 1,
                syscall: 2,
                arch: 3,
            },
        },
        SigInfo {
            signo: 9,
            errno: 0,
            code: 0x80,
            fields: SigFields::Kill { pid: 0, uid: 0 },
        },
    ];
    for info in cases {
        assert_eq!(SigInfo::from_bytes(&info.to_bytes()), info, "{info:?}");
    }
}

#[test]
fn siginfo_falls_back_to_raw_without_losing_bytes() {
    // SEGV_PKUERR carries si_pkey at 32, which Fault cannot hold.
    let mut b = SigInfo {
        signo: 11,
        errno: 0,
        code: 4,
        fields: SigFields::Fault { addr: 8 },
    }
    .to_bytes();
    b[32] = 5;
    let got = SigInfo::from_bytes(&b);
    assert!(matches!(got.fields, SigFields::Raw(_)));
    assert_eq!(got.to_bytes(), b);
    // Random headers and bodies: decoding never panics and is lossless
    // for the 48 bytes Linux keeps.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let mut b = [0u8; 128];
        b[..48].copy_from_slice(&rng.bytes(48));
        if rng.next() & 1 == 0 {
            put_u32(&mut b, 0, (rng.next() % 65) as u32);
            put_u32(&mut b, 8, (rng.next() % 20) as u32);
        }
        assert_eq!(SigInfo::from_bytes(&b).to_bytes(), b);
    }
}

#[test]
fn raw_siginfo_keeps_kernel_part_only() {
    let mut raw = [0xabu8; 128];
    put_u32(&mut raw, 0, 99);
    let info = SigInfo {
        signo: 44,
        errno: 1,
        code: -1,
        fields: SigFields::Raw(raw),
    };
    let b = info.to_bytes();
    assert_eq!(
        (u32_at(&b, 0), u32_at(&b, 4), u32_at(&b, 8)),
        (44, 1, (-1i32) as u32)
    );
    assert!(b[12..48].iter().all(|&x| x == 0xab));
    assert!(b[48..].iter().all(|&x| x == 0));
}

#[test]
fn rt_sigqueueinfo_rejects_lost_data_for_unknown_codes() {
    let mut b = [0u8; 128];
    put_u32(&mut b, 8, (-1i32) as u32); // SI_QUEUE: known layout
    b[100] = 1;
    assert_eq!(SigInfo::from_user(40, &b).map(|i| i.signo), Ok(40));
    put_u32(&mut b, 8, (-20i32) as u32); // unknown negative code
    assert_eq!(SigInfo::from_user(40, &b), Err(SigInfoError::TooBig));
    b[100] = 0;
    assert!(SigInfo::from_user(40, &b).is_ok());
}

// ---------------------------------------------------------------- build

#[test]
fn frame_structure_matches_linux() {
    let xs = sample_xsave(832, AVX_XCR0, 1);
    let info = kill_info();
    let mut d = delivery(sample_regs(), &xs, &info);
    d.fault = Some((6, 14, 0xbad));
    let f = build(&d).unwrap();
    let b = &f.bytes;
    let fp = u64_at(b, 8 + 40 + 184);
    let fpo = (fp - f.addr) as usize;
    assert_eq!(u64_at(b, 0), RESTORER, "pretcode");
    assert_eq!(
        u64_at(b, 8),
        7,
        "uc_flags = FP_XSTATE | SIGCONTEXT_SS | STRICT_RESTORE_SS"
    );
    assert_eq!(u64_at(b, 16), 0, "uc_link");
    let sc = 8 + 40;
    let r = &d.regs;
    let order = [
        reg::R8,
        reg::R9,
        reg::R10,
        reg::R11,
        reg::R12,
        reg::R13,
        reg::R14,
        reg::R15,
        reg::RDI,
        reg::RSI,
        reg::RBP,
        reg::RBX,
        reg::RDX,
        reg::RAX,
        reg::RCX,
        reg::RSP,
        reg::RIP,
        reg::EFLAGS,
    ];
    for (i, &ri) in order.iter().enumerate() {
        assert_eq!(u64_at(b, sc + 8 * i), r[ri], "sigcontext word {i}");
    }
    assert_eq!(
        u64_at(b, sc + 144),
        0x002b_0000_0000_0033,
        "cs, gs=0, fs=0, ss"
    );
    assert_eq!(
        [u64_at(b, sc + 152), u64_at(b, sc + 160)],
        [6, 14],
        "err, trapno"
    );
    assert_eq!(
        [u64_at(b, sc + 168), u64_at(b, sc + 176)],
        [0x1000_0800, 0xbad],
        "oldmask, cr2"
    );
    assert!(b[sc + 192..sc + 256].iter().all(|&x| x == 0), "reserved1");
    assert_eq!(u64_at(b, 8 + 296), 0x1000_0800, "uc_sigmask");
    assert_eq!(&b[312..440], &info.to_bytes()[..], "siginfo");
    // fpstate: sw bytes, header, magic2.
    assert_eq!(u32_at(b, fpo + 464), 0x4650_5853);
    assert_eq!(u32_at(b, fpo + 468), 836, "extended_size");
    assert_eq!(u64_at(b, fpo + 472), AVX_XCR0);
    assert_eq!(u32_at(b, fpo + 480), 832, "xstate_size");
    assert!(b[fpo + 484..fpo + 512].iter().all(|&x| x == 0));
    assert_eq!(u64_at(b, fpo + 512), AVX_XCR0);
    assert_eq!(u32_at(b, fpo + 832), 0x4650_5845);
    assert_eq!(b.len(), fpo + 836);
    assert_eq!(&b[fpo..fpo + 464], &xs[..464]);
    assert_eq!(&b[fpo + 576..fpo + 832], &xs[576..]);
}

#[test]
fn handler_registers() {
    let xs = sample_xsave(832, AVX_XCR0, 2);
    let info = kill_info();
    let mut regs = sample_regs();
    regs[reg::SS] = 0x1234;
    let d = delivery(regs, &xs, &info);
    let f = build(&d).unwrap();
    let mut want = regs;
    want[reg::RIP] = HANDLER;
    want[reg::RSP] = f.addr;
    want[reg::RDI] = 10;
    want[reg::RSI] = f.addr + 312;
    want[reg::RDX] = f.addr + 8;
    want[reg::RAX] = 0;
    want[reg::CS] = 0x33;
    want[reg::SS] = 0x2b;
    want[reg::EFLAGS] = 0x246;
    assert_eq!(f.regs, want);
    // The sigcontext keeps the interrupted ss and eflags.
    assert_eq!(u64_at(&f.bytes, 48 + 144) >> 48, 0x1234);
    assert_eq!(u64_at(&f.bytes, 48 + 136), regs[reg::EFLAGS]);
}

#[test]
fn alignment_invariants_hold_for_all_stacks_and_sizes() {
    let info = kill_info();
    let mut rng = Rng(77);
    for size in [576usize, 832, 1088, 2440, 2696, 11008] {
        let xs = sample_xsave(size, AVX_XCR0, size as u64);
        for _ in 0..300 {
            let rsp = 0x1_0000 + rng.next() % 0x7ff0_0000_0000;
            let mut regs = sample_regs();
            regs[reg::RSP] = rsp;
            let f = build(&delivery(regs, &xs, &info)).unwrap();
            let fp = u64_at(&f.bytes, 8 + 40 + 184);
            let top = rsp - 128;
            assert_eq!((f.addr + 8) % 16, 0, "rsp {rsp:#x}");
            assert_eq!(fp % 64, 0);
            assert!(fp >= f.addr + 440);
            assert!(fp + size as u64 + 4 <= top);
            assert!(
                top - (fp + size as u64 + 4) < 64,
                "fpstate as high as alignment allows"
            );
            assert!(
                fp - (f.addr + 440) < 24,
                "frame as high as alignment allows"
            );
            assert_eq!(f.addr + f.bytes.len() as u64, fp + size as u64 + 4);
            assert_eq!(f.regs[reg::RSP], f.addr);
        }
    }
}

#[test]
fn altstack_selection() {
    let xs = sample_xsave(832, AVX_XCR0, 3);
    let info = kill_info();
    let alt = AltStack {
        sp: 0x60_0000,
        flags: 0,
        size: 0x8000,
    };
    let top = alt.sp + alt.size;
    let run = |rsp: u64, alt: AltStack, sa: u64| {
        let mut regs = sample_regs();
        regs[reg::RSP] = rsp;
        let mut d = delivery(regs, &xs, &info);
        d.altstack = alt;
        d.sa_flags |= sa;
        build(&d)
    };
    // Enabled, requested, not on it: the frame goes to the top, no red zone.
    let f = run(RSP, alt, SA_ONSTACK).unwrap();
    assert_eq!(u64_at(&f.bytes, 48 + 184), (top - 836) & !63);
    assert!(f.altstack_used && !f.disarm_altstack);
    assert_eq!(u64_at(&f.bytes, 24), alt.sp, "uc_stack.ss_sp");
    assert_eq!(
        u64_at(&f.bytes, 32),
        0,
        "uc_stack.ss_flags: no SS_ONSTACK added"
    );
    assert_eq!(u64_at(&f.bytes, 40), alt.size, "uc_stack.ss_size");
    // Not requested: normal stack.
    let f = run(RSP, alt, 0).unwrap();
    assert!(f.addr < RSP - 128 && f.addr > RSP - 4096 && !f.altstack_used);
    // Already on it: continue below the current rsp, red zone kept.
    let f = run(top - 0x1000, alt, SA_ONSTACK).unwrap();
    assert_eq!(u64_at(&f.bytes, 48 + 184), (top - 0x1000 - 128 - 836) & !63);
    assert!(f.altstack_used);
    // Disabled: normal stack even with SA_ONSTACK.
    let off = AltStack {
        sp: 0,
        flags: SS_DISABLE,
        size: 0,
    };
    assert!(!run(RSP, off, SA_ONSTACK).unwrap().altstack_used);
    // Too small, or nested and exhausted: refused.
    let small = AltStack { size: 1200, ..alt };
    assert_eq!(run(RSP, small, SA_ONSTACK), Err(FrameError::StackOverflow));
    assert_eq!(
        run(alt.sp + 0x300, alt, SA_ONSTACK),
        Err(FrameError::StackOverflow)
    );
    // SS_AUTODISARM: reported for disarming, and written to uc_stack as is.
    let auto = AltStack {
        flags: SS_AUTODISARM,
        ..alt
    };
    let f = run(RSP, auto, 0).unwrap();
    assert!(f.disarm_altstack && !f.altstack_used);
    assert_eq!(u32_at(&f.bytes, 32), 0x8000_0000);
}

#[test]
fn build_errors() {
    let xs = sample_xsave(832, AVX_XCR0, 4);
    let info = kill_info();
    let mut d = delivery(sample_regs(), &xs, &info);
    d.sa_flags = SA_SIGINFO;
    assert_eq!(build(&d), Err(FrameError::NoRestorer));
    let short = vec![0u8; 575];
    let d = delivery(sample_regs(), &short, &info);
    assert!(matches!(build(&d), Err(FrameError::BadXsave(_))));
    let mut d = delivery(sample_regs(), &xs, &info);
    d.xfeatures = 0;
    assert!(matches!(build(&d), Err(FrameError::BadXsave(_))));
}

#[test]
fn without_siginfo_flag_info_is_zero() {
    let xs = sample_xsave(576, 3, 5);
    let info = kill_info();
    let mut d = delivery(sample_regs(), &xs, &info);
    d.sa_flags = SA_RESTORER;
    d.xfeatures = 3;
    let f = build(&d).unwrap();
    assert!(f.bytes[312..440].iter().all(|&x| x == 0));
    assert_eq!(f.regs[reg::RSI], f.addr + 312, "rsi still points at it");
}

#[test]
fn header_gets_fpsse_and_only_enabled_features() {
    let mut xs = sample_xsave(832, AVX_XCR0, 6);
    put_u64(&mut xs, 512, 0x4 | 0x200); // AVX in use, PKRU not enabled in xfeatures
    put_u64(&mut xs, 520, 0xffff); // garbage a ptrace buffer never has
    let info = kill_info();
    let f = build(&delivery(sample_regs(), &xs, &info)).unwrap();
    let fpo = (u64_at(&f.bytes, 48 + 184) - f.addr) as usize;
    assert_eq!(u64_at(&f.bytes, fpo + 512), 0x7);
    assert!(f.bytes[fpo + 520..fpo + 576].iter().all(|&x| x == 0));
}

#[test]
fn handler_fpu_is_reset() {
    let xs = sample_xsave(832, AVX_XCR0, 7);
    let info = kill_info();
    let f = build(&delivery(sample_regs(), &xs, &info)).unwrap();
    let h = &f.handler_xsave;
    assert_eq!(h.len(), 832);
    assert_eq!(u32_at(h, 0) & 0xffff, 0x37f);
    assert_eq!(u32_at(h, 24), 0x1f80);
    assert_eq!(u32_at(h, 28), u32_at(&xs, 28), "mxcsr_mask kept");
    assert!(h[32..464].iter().all(|&x| x == 0), "st/xmm registers zero");
    assert_eq!(&h[464..512], &xs[464..512], "sw_reserved kept");
    assert_eq!(u64_at(h, 512), 3);
    assert!(h[520..].iter().all(|&x| x == 0));
}

// ---------------------------------------------------------------- restore

#[test]
fn build_then_restore_round_trips() {
    let info = kill_info();
    for (size, xcr0) in [(576usize, 3u64), (832, AVX_XCR0), (2696, 0x2e7)] {
        let xs = sample_xsave(size, xcr0, size as u64);
        let regs = sample_regs();
        let mut d = delivery(regs, &xs, &info);
        d.xfeatures = xcr0;
        d.altstack = AltStack {
            sp: 0x1000,
            flags: SS_AUTODISARM,
            size: 0x4000,
        };
        let f = build(&d).unwrap();
        // The handler ran; rt_sigreturn happens after the restorer's pop.
        let mut at_sigreturn = f.regs;
        at_sigreturn[reg::RSP] = f.addr + 8;
        at_sigreturn[reg::RAX] = 15;
        let r = restore(f.addr + 8, &at_sigreturn, &frame_memory(&f)).unwrap();
        let mut want = regs;
        want[reg::ORIG_RAX] = u64::MAX;
        assert_eq!(r.regs, want, "size {size}");
        assert_eq!(r.blocked, 0x1000_0800);
        assert_eq!(r.xsave.as_deref(), Some(&xs[..]), "size {size}");
        assert_eq!(r.altstack, d.altstack);
    }
}

#[test]
fn restore_masks_eflags_and_forces_user_segments() {
    let xs = sample_xsave(832, AVX_XCR0, 8);
    let info = kill_info();
    let f = build(&delivery(sample_regs(), &xs, &info)).unwrap();
    let mut bytes = f.bytes.clone();
    put_u64(&mut bytes, 48 + 136, u64::MAX); // eflags: everything set
    bytes[48 + 144..48 + 152].copy_from_slice(&[0x30, 0, 0, 0, 0, 0, 0, 0]); // cs 0x30, ss 0
    put_u64(&mut bytes, 8 + 296, u64::MAX); // mask: everything blocked
    let g = Frame { bytes, ..f.clone() };
    let mut cur = f.regs;
    cur[reg::EFLAGS] = 0x202 | (3 << 12); // IF and IOPL 3
    let r = restore(g.addr + 8, &cur, &frame_memory(&g)).unwrap();
    assert_eq!(r.regs[reg::EFLAGS], 0x202 | (3 << 12) | FIX_EFLAGS);
    assert_eq!(
        FIX_EFLAGS,
        0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4_0000 | 0x1_0000
    );
    assert_eq!(r.regs[reg::CS], 0x33);
    assert_eq!(r.regs[reg::SS], 0x3, "strict: ss as saved, CPL forced");
    assert_eq!(
        r.blocked,
        !((1 << 8) | (1 << 18)),
        "SIGKILL and SIGSTOP never blocked"
    );
    // eflags all clear in the frame: only the FIX bits are cleared.
    let mut bytes = g.bytes.clone();
    put_u64(&mut bytes, 48 + 136, 0);
    put_u64(&mut bytes, 8, 0); // uc_flags without UC_STRICT_RESTORE_SS
    let h = Frame { bytes, ..g };
    cur[reg::EFLAGS] = u64::MAX;
    let r = restore(h.addr + 8, &cur, &frame_memory(&h)).unwrap();
    assert_eq!(r.regs[reg::EFLAGS], !FIX_EFLAGS);
    assert_eq!(
        r.regs[reg::SS],
        0x2b,
        "non-strict 64-bit frame: ss made valid"
    );
    assert_eq!(
        r.regs[reg::FS_BASE],
        cur[reg::FS_BASE],
        "bases are not in the frame"
    );
}

#[test]
fn restore_falls_back_to_legacy_state_on_bad_magic() {
    let xs = sample_xsave(832, AVX_XCR0, 9);
    let info = kill_info();
    let f = build(&delivery(sample_regs(), &xs, &info)).unwrap();
    let fpo = (u64_at(&f.bytes, 48 + 184) - f.addr) as usize;
    let corruptions: [(usize, u32); 5] = [
        (fpo + 464, 0x1234),      // magic1
        (fpo + 832, 0),           // magic2
        (fpo + 480, 100),         // xstate_size below legacy + header
        (fpo + 480, 0x7000_0000), // absurd xstate_size
        (fpo + 468, 600),         // extended_size < xstate_size
    ];
    for (off, v) in corruptions {
        let mut bytes = f.bytes.clone();
        put_u32(&mut bytes, off, v);
        let g = Frame { bytes, ..f.clone() };
        let r = restore(g.addr + 8, &g.regs, &frame_memory(&g)).unwrap();
        let x = r.xsave.unwrap();
        assert_eq!(x.len(), 576, "corrupting {off}");
        assert_eq!(&x[..464], &xs[..464], "legacy registers restored");
        assert_eq!(u64_at(&x, 464), 3);
        assert_eq!(u64_at(&x, 512), 3, "only x87/SSE, the rest to init");
        assert!(x[520..].iter().all(|&b| b == 0));
    }
}

#[test]
fn restore_rejects_what_xrstor_would_fault_on() {
    let xs = sample_xsave(832, AVX_XCR0, 10);
    let info = kill_info();
    let f = build(&delivery(sample_regs(), &xs, &info)).unwrap();
    let fpo = (u64_at(&f.bytes, 48 + 184) - f.addr) as usize;
    for (off, v) in [(fpo + 520, 1u64), (fpo + 528, 1), (fpo + 24, 0x1_1f80)] {
        let mut bytes = f.bytes.clone();
        let keep = u64_at(&bytes, off) & 0xffff_ffff_0000_0000;
        put_u64(&mut bytes, off, v | keep);
        let g = Frame { bytes, ..f.clone() };
        let got = restore(g.addr + 8, &g.regs, &frame_memory(&g));
        assert!(
            matches!(got, Err(FrameError::BadXsave(_))),
            "offset {off}: {got:?}"
        );
    }
    // Reserved header bytes XRSTOR ignores are cleared, not refused.
    let mut bytes = f.bytes.clone();
    bytes[fpo + 560] = 0xff;
    put_u64(&mut bytes, fpo + 512, 0xff); // XSTATE_BV beyond xfeatures: masked
    let g = Frame { bytes, ..f.clone() };
    let x = restore(g.addr + 8, &g.regs, &frame_memory(&g))
        .unwrap()
        .xsave
        .unwrap();
    assert_eq!(u64_at(&x, 512), AVX_XCR0);
    assert_eq!(x[560], 0);
    // A misaligned fpstate pointer faults in XRSTOR.
    let mut bytes = f.bytes.clone();
    put_u64(&mut bytes, 48 + 184, f.addr + 441);
    let g = Frame { bytes, ..f.clone() };
    assert!(matches!(
        restore(g.addr + 8, &g.regs, &frame_memory(&g)),
        Err(FrameError::BadXsave(_))
    ));
}

#[test]
fn restore_without_fpstate_and_with_unreadable_memory() {
    let xs = sample_xsave(832, AVX_XCR0, 11);
    let info = kill_info();
    let f = build(&delivery(sample_regs(), &xs, &info)).unwrap();
    let mut bytes = f.bytes.clone();
    put_u64(&mut bytes, 48 + 184, 0);
    let g = Frame { bytes, ..f.clone() };
    assert_eq!(
        restore(g.addr + 8, &g.regs, &frame_memory(&g))
            .unwrap()
            .xsave,
        None
    );
    // fpstate pointing at unmapped memory, the frame itself unmapped, rsp 0.
    let mut bytes = f.bytes.clone();
    put_u64(&mut bytes, 48 + 184, 0x1000);
    let g = Frame { bytes, ..f.clone() };
    assert_eq!(
        restore(g.addr + 8, &g.regs, &frame_memory(&g)),
        Err(FrameError::Fault)
    );
    assert_eq!(
        restore(0x1000, &f.regs, &frame_memory(&f)),
        Err(FrameError::Fault)
    );
    assert_eq!(
        restore(0, &f.regs, &frame_memory(&f)),
        Err(FrameError::Fault)
    );
    assert_eq!(
        restore(u64::MAX - 100, &f.regs, &|_, n| Some(vec![0; n])),
        Err(FrameError::Fault)
    );
    // A reader that answers short counts as a fault.
    assert_eq!(
        restore(f.addr + 8, &f.regs, &|_, n| Some(vec![0; n / 2])),
        Err(FrameError::Fault)
    );
}

#[test]
fn restore_on_garbage_never_panics_and_bounds_reads() {
    let mut rng = Rng(0xfeed);
    let largest = Cell::new(0usize);
    for i in 0..3000 {
        let mem = rng.bytes(8192);
        let base = 0x10_0000u64;
        let read = |a: u64, n: usize| {
            largest.set(largest.get().max(n));
            let off = usize::try_from(a.checked_sub(base)?).ok()?;
            mem.get(off..off.checked_add(n)?).map(<[u8]>::to_vec)
        };
        // Half the runs point fpstate back into the buffer with valid-looking
        // sw bytes (random sizes), so the XSAVE paths see garbage too.
        let r = (rng.next() % 512) as usize;
        let rsp = base + 8 + r as u64;
        let mut mem2 = mem.clone();
        if i % 2 == 0 {
            put_u64(
                &mut mem2,
                r + 8 + 40 + 184,
                base + 1024 + (rng.next() % 4) * 64,
            );
            put_u32(&mut mem2, 1024 + 464, 0x4650_5853);
            put_u32(&mut mem2, 1024 + 468, u32::MAX);
            put_u32(&mut mem2, 1024 + 480, (rng.next() % 8000) as u32);
        }
        let read2 = |a: u64, n: usize| {
            largest.set(largest.get().max(n));
            let off = usize::try_from(a.checked_sub(base)?).ok()?;
            mem2.get(off..off.checked_add(n)?).map(<[u8]>::to_vec)
        };
        let _ = restore(rsp, &sample_regs(), &read);
        let _ = restore(rsp, &sample_regs(), &read2);
    }
    assert!(
        largest.get() <= XSTATE_MAX,
        "never asked for more than XSTATE_MAX"
    );
}

#[test]
fn pad_xsave_only_grows() {
    assert_eq!(pad_xsave(vec![1; 576], 832).len(), 832);
    assert_eq!(pad_xsave(vec![1; 832], 576).len(), 832);
}

// ---------------------------------------------------------------- altstack

#[test]
fn sigaltstack_rules() {
    let cur = AltStack {
        sp: 0x1000,
        flags: 0,
        size: 0x4000,
    };
    let new = AltStack {
        sp: 0x9000,
        flags: 0,
        size: 0x4000,
    };
    assert_eq!(
        cur.set(new, 0x2000, MINSIGSTKSZ),
        Err(AltStackError::OnStack)
    );
    assert_eq!(cur.set(new, 0x8000, MINSIGSTKSZ), Ok(new));
    let bad = AltStack { flags: 4, ..new };
    assert_eq!(
        cur.set(bad, 0x8000, MINSIGSTKSZ),
        Err(AltStackError::BadFlags)
    );
    let small = AltStack { size: 100, ..new };
    assert_eq!(
        cur.set(small, 0x8000, MINSIGSTKSZ),
        Err(AltStackError::TooSmall)
    );
    let off = AltStack {
        sp: 0x9000,
        flags: SS_DISABLE,
        size: 77,
    };
    assert_eq!(
        cur.set(off, 0x8000, MINSIGSTKSZ),
        Ok(AltStack {
            sp: 0,
            flags: SS_DISABLE,
            size: 0
        })
    );
    // sigreturn squashes errors: still on the stack, so nothing changes.
    assert_eq!(cur.after_sigreturn(new, 0x2000), cur);
    // An SS_AUTODISARM stack that delivery reset is re-armed by sigreturn.
    let auto = AltStack {
        flags: SS_AUTODISARM,
        ..cur
    };
    assert_eq!(AltStack::reset().after_sigreturn(auto, 0x2000), auto);
    // What sigaltstack(NULL, &old) reports.
    assert_eq!(cur.reported(0x2000).flags, SS_ONSTACK);
    assert_eq!(cur.reported(0x8000).flags, 0);
    assert_eq!(auto.reported(0x2000).flags, SS_AUTODISARM);
    assert_eq!(AltStack::default().reported(0x2000).flags, SS_DISABLE);
}

#[test]
fn ptrace_xcr0_reads_sw_reserved() {
    let xs = sample_xsave(832, 0x2e7, 12);
    assert_eq!(ptrace_xcr0(&xs), Some(0x2e7));
    assert_eq!(ptrace_xcr0(&xs[..470]), None);
}
