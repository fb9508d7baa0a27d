//! Building the frame: Linux's `get_sigframe`, `fpu__alloc_mathframe`,
//! `copy_fpstate_to_sigframe` and `x64_setup_rt_frame`.

use super::layout::bytes::{put_u16, put_u32, put_u64, u32_at, u64_at};
use super::layout::{frame, reg, sc, stack, sw, uc, xsave};
use super::{
    AltStack, Delivery, Frame, FrameError, EFLAGS_DF, EFLAGS_RF, EFLAGS_TF, FP_XSTATE_MAGIC1,
    FP_XSTATE_MAGIC2, SA_ONSTACK, SA_RESTORER, SA_SIGINFO, SS_AUTODISARM, UC_FP_XSTATE,
    UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS, USER_CS, USER_DS, XFEATURE_MASK_FPSSE, XSTATE_MAX,
};

/// The System V ABI lets leaf functions use 128 bytes below rsp; a frame on
/// the interrupted stack must not clobber them.
const RED_ZONE: u64 = 128;

/// Where the pieces of a frame go.
#[derive(Debug, PartialEq, Eq)]
struct Placement {
    /// The frame's first byte and the handler's rsp.
    frame: u64,
    /// The 64-byte aligned XSAVE image.
    fpstate: u64,
    /// One past FP_XSTATE_MAGIC2.
    end: u64,
    /// The frame is on the alternate stack.
    on_alt: bool,
}

/// Lays out the rt_sigframe for `d` exactly as Linux would write it.
pub fn build(d: &Delivery) -> Result<Frame, FrameError> {
    if d.sa_flags & SA_RESTORER == 0 {
        return Err(FrameError::NoRestorer);
    }
    check_xsave(d.xsave, d.xfeatures)?;
    let fp_size = d.xsave.len() as u64 + 4;
    let p = place(d.regs[reg::RSP], &d.altstack, d.sa_flags, fp_size)?;
    Ok(Frame {
        addr: p.frame,
        bytes: frame_bytes(d, &p)?,
        regs: handler_regs(d, p.frame),
        altstack_used: p.on_alt,
        disarm_altstack: d.altstack.flags & SS_AUTODISARM != 0,
        handler_xsave: reset_fpu(d.xsave),
    })
}

/// Refuses XSAVE images Linux could never have produced: shorter than the
/// legacy area plus header, absurdly large, or a feature mask without x87
/// and SSE (which would make sigreturn reset them).
fn check_xsave(xs: &[u8], xfeatures: u64) -> Result<(), FrameError> {
    if xs.len() < xsave::HDR_END {
        return Err(FrameError::BadXsave(
            "shorter than the legacy area and XSAVE header",
        ));
    }
    if xs.len() > XSTATE_MAX {
        return Err(FrameError::BadXsave("larger than XSTATE_MAX"));
    }
    if xfeatures & XFEATURE_MASK_FPSSE != XFEATURE_MASK_FPSSE {
        return Err(FrameError::BadXsave("xfeatures lacks x87/SSE"));
    }
    Ok(())
}

/// `get_sigframe`: skip the red zone, switch to the alternate stack if asked
/// and possible, put the fpstate below (64-aligned), then the rt_sigframe so
/// that the handler starts as if called (`(rsp + 8) % 16 == 0`). A frame
/// that would leave the alternate stack it is on is refused, as Linux does
/// since 5.14.
fn place(rsp: u64, alt: &AltStack, sa_flags: u64, fp_size: u64) -> Result<Placement, FrameError> {
    let nested = alt.on_stack(rsp);
    // Linux computes rsp - 128 modulo 2^64 before deciding on the altstack.
    let below_red_zone = rsp.wrapping_sub(RED_ZONE);
    let entering = sa_flags & SA_ONSTACK != 0 && alt.sas_flags(below_red_zone) == 0;
    let sp = if entering {
        alt.sp.checked_add(alt.size)
    } else {
        rsp.checked_sub(RED_ZONE)
    };
    let fpstate = sp.and_then(|sp| sp.checked_sub(fp_size)).map(|a| a & !63);
    let frame = fpstate
        .and_then(|fp| fp.checked_sub(frame::SIZE as u64))
        .and_then(|a| (a & !15).checked_sub(8));
    let (Some(fpstate), Some(frame)) = (fpstate, frame) else {
        return Err(FrameError::Fault);
    };
    if (nested || entering) && !alt.contains(frame) {
        return Err(FrameError::StackOverflow);
    }
    Ok(Placement {
        frame,
        fpstate,
        end: fpstate + fp_size,
        on_alt: nested || entering,
    })
}

/// Every byte from the frame start to the end of FP_XSTATE_MAGIC2.
fn frame_bytes(d: &Delivery, p: &Placement) -> Result<Vec<u8>, FrameError> {
    let len = usize::try_from(p.end - p.frame).map_err(|_| FrameError::Fault)?;
    let fp_off = usize::try_from(p.fpstate - p.frame).map_err(|_| FrameError::Fault)?;
    let mut b = vec![0u8; len];
    put_u64(&mut b, frame::PRETCODE, d.restorer);
    write_ucontext(&mut b[frame::UC..frame::UC + uc::SIZE], d, p.fpstate);
    // Without SA_SIGINFO Linux leaves the siginfo bytes as they were; zeros here.
    if d.sa_flags & SA_SIGINFO != 0 {
        b[frame::INFO..frame::SIZE].copy_from_slice(&d.info.to_bytes());
    }
    write_fpstate(&mut b[fp_off..], d.xsave, d.xfeatures);
    Ok(b)
}

/// `frame_uc_flags`: the fpstate is always an XSAVE image, sigcontext.ss is
/// always valid, and sigreturn must restore ss as saved when the interrupted
/// code was 64-bit (old DOSEMU relies on the non-strict mode otherwise).
fn uc_flags(cs: u64) -> u64 {
    let strict = if cs == USER_CS {
        UC_STRICT_RESTORE_SS
    } else {
        0
    };
    UC_FP_XSTATE | UC_SIGCONTEXT_SS | strict
}

fn write_ucontext(b: &mut [u8], d: &Delivery, fpstate: u64) {
    put_u64(b, uc::FLAGS, uc_flags(d.regs[reg::CS]));
    put_u64(b, uc::LINK, 0);
    write_stack(&mut b[uc::STACK..uc::STACK + stack::LEN], &d.altstack);
    write_sigcontext(&mut b[uc::MCONTEXT..uc::MCONTEXT + sc::SIZE], d, fpstate);
    put_u64(b, uc::SIGMASK, d.blocked);
}

/// `unsafe_save_altstack`: the stored values, SS_AUTODISARM included.
fn write_stack(b: &mut [u8], alt: &AltStack) {
    put_u64(b, stack::SP, alt.sp);
    put_u32(b, stack::FLAGS, alt.flags as u32);
    put_u64(b, stack::SIZE, alt.size);
}

/// `__unsafe_setup_sigcontext`: fs and gs are written as 0 (64-bit code
/// uses the bases, which signals do not touch); `reserved1` is left alone.
fn write_sigcontext(b: &mut [u8], d: &Delivery, fpstate: u64) {
    for (off, r) in sc::GPRS {
        put_u64(b, off, d.regs[r]);
    }
    put_u64(b, sc::EFLAGS, d.regs[reg::EFLAGS]);
    put_u16(b, sc::CS, d.regs[reg::CS] as u16);
    put_u16(b, sc::GS, 0);
    put_u16(b, sc::FS, 0);
    put_u16(b, sc::SS, d.regs[reg::SS] as u16);
    let (err, trapno, cr2) = d.fault.unwrap_or((0, 0, 0));
    put_u64(b, sc::ERR, err);
    put_u64(b, sc::TRAPNO, trapno);
    put_u64(b, sc::OLDMASK, d.blocked);
    put_u64(b, sc::CR2, cr2);
    put_u64(b, sc::FPSTATE, fpstate);
}

/// `copy_fpstate_to_sigframe` + `save_xstate_epilog`: the XSAVE image with a
/// cleared header holding only the frame's features (x87/SSE always set, so
/// sigreturn picks up changes by legacy code), `_fpx_sw_bytes` describing it
/// in sw_reserved, and FP_XSTATE_MAGIC2 right after it.
fn write_fpstate(b: &mut [u8], xs: &[u8], xfeatures: u64) {
    let n = xs.len();
    b[..n].copy_from_slice(xs);
    let bv = (u64_at(xs, xsave::XSTATE_BV) & xfeatures) | XFEATURE_MASK_FPSSE;
    b[xsave::XSTATE_BV..xsave::HDR_END].fill(0);
    put_u64(b, xsave::XSTATE_BV, bv);
    let swb = &mut b[xsave::SW_RESERVED..xsave::SW_RESERVED + sw::SIZE];
    swb.fill(0);
    put_u32(swb, sw::MAGIC1, FP_XSTATE_MAGIC1);
    put_u32(swb, sw::EXTENDED_SIZE, (n + 4) as u32);
    put_u64(swb, sw::XFEATURES, xfeatures);
    put_u32(swb, sw::XSTATE_SIZE, n as u32);
    put_u32(b, n, FP_XSTATE_MAGIC2);
}

/// `x64_setup_rt_frame` + `handle_signal`: the handler is entered as
/// `handler(signo, &info, &uc)` (rax = 0 for unprototyped varargs callers),
/// with DF clear as the ABI requires, and TF/RF clear.
fn handler_regs(d: &Delivery, frame_addr: u64) -> [u64; 27] {
    let mut r = d.regs;
    r[reg::RDI] = i64::from(d.info.signo) as u64;
    r[reg::RSI] = frame_addr + frame::INFO as u64;
    r[reg::RDX] = frame_addr + frame::UC as u64;
    r[reg::RAX] = 0;
    r[reg::RIP] = d.handler;
    r[reg::RSP] = frame_addr;
    r[reg::CS] = USER_CS;
    // force_valid_ss: any selector but __USER_DS is replaced (Linux keeps
    // other valid data selectors; user space has none on x86-64).
    r[reg::SS] = USER_DS;
    r[reg::EFLAGS] &= !(EFLAGS_DF | EFLAGS_RF | EFLAGS_TF);
    r
}

/// The thread's XSAVE image with the user FPU state in its initial state,
/// as Linux leaves it for a handler (`fpu__clear_user_states`) or after a
/// sigreturn without fpstate: FCW 0x37f, MXCSR 0x1f80, every register and
/// extended component zero/init. x87/SSE are kept in XSTATE_BV so the
/// ptrace setter takes MXCSR and FCW from the image. Keeps MXCSR_MASK and
/// sw_reserved. (Linux also sets PKRU to its default, 0x55555554; with the
/// PKRU bit clear the ptrace setter makes it 0.)
pub fn reset_fpu(xs: &[u8]) -> Vec<u8> {
    let mut v = xs.to_vec();
    if v.len() < xsave::HDR_END {
        v.resize(xsave::HDR_END, 0);
    }
    let mxcsr_mask = u32_at(&v, xsave::MXCSR_MASK);
    v[..xsave::SW_RESERVED].fill(0);
    v[xsave::XSTATE_BV..].fill(0);
    put_u16(&mut v, xsave::FCW, 0x37f);
    put_u32(&mut v, xsave::MXCSR, 0x1f80);
    put_u32(&mut v, xsave::MXCSR_MASK, mxcsr_mask);
    put_u64(&mut v, xsave::XSTATE_BV, XFEATURE_MASK_FPSSE);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigframe::{SS_DISABLE, SS_ONSTACK};

    const ALT: AltStack = AltStack {
        sp: 0x10_0000,
        flags: 0,
        size: 0x1_0000,
    };

    #[test]
    fn normal_stack_skips_red_zone_and_aligns() {
        let p = place(0x7fff_1000, &ALT, 0, 836).unwrap();
        // fpstate = round_down(0x7fff1000 - 128 - 836, 64)
        assert_eq!(p.fpstate, (0x7fff_1000 - 128 - 836) & !63);
        assert_eq!(p.frame, ((p.fpstate - 440) & !15) - 8);
        assert_eq!(p.end, p.fpstate + 836);
        assert!(!p.on_alt);
    }

    #[test]
    fn onstack_switches_to_top_without_red_zone() {
        let p = place(0x7fff_1000, &ALT, SA_ONSTACK, 836).unwrap();
        assert_eq!(p.fpstate, (0x11_0000 - 836) & !63);
        assert!(p.on_alt);
    }

    #[test]
    fn onstack_ignored_when_disabled_or_not_requested() {
        let off = AltStack {
            flags: SS_DISABLE,
            ..ALT
        };
        let zero = AltStack { size: 0, ..ALT };
        for alt in [off, zero] {
            let p = place(0x7fff_1000, &alt, SA_ONSTACK, 836).unwrap();
            assert_eq!(p.fpstate, (0x7fff_1000 - 128 - 836) & !63);
            assert!(!p.on_alt);
        }
    }

    #[test]
    fn nested_on_altstack_stays_below_current_sp() {
        let rsp = 0x10_8000;
        let p = place(rsp, &ALT, SA_ONSTACK, 836).unwrap();
        assert_eq!(p.fpstate, (rsp - 128 - 836) & !63);
        assert!(p.on_alt);
        // Even without SA_ONSTACK the frame is on the altstack and checked.
        let low = ALT.sp + 0x200;
        assert_eq!(place(low, &ALT, 0, 836), Err(FrameError::StackOverflow));
    }

    #[test]
    fn autodisarm_is_never_nested() {
        let alt = AltStack {
            flags: SS_AUTODISARM,
            ..ALT
        };
        let p = place(0x10_8000, &alt, SA_ONSTACK, 836).unwrap();
        assert_eq!(p.fpstate, (0x11_0000 - 836) & !63);
    }

    #[test]
    fn too_small_altstack_overflows() {
        let tiny = AltStack {
            sp: 0x10_0000,
            flags: SS_ONSTACK,
            size: 1024,
        };
        assert_eq!(
            place(0x7fff_1000, &tiny, SA_ONSTACK, 836),
            Err(FrameError::StackOverflow)
        );
    }

    #[test]
    fn wrapping_stacks_fault() {
        assert_eq!(place(100, &ALT, 0, 836), Err(FrameError::Fault));
        assert_eq!(place(0x400, &ALT, 0, 836), Err(FrameError::Fault));
        let top = AltStack {
            sp: u64::MAX - 10,
            flags: 0,
            size: 100,
        };
        assert_eq!(
            place(0x7fff_1000, &top, SA_ONSTACK, 836),
            Err(FrameError::Fault)
        );
    }
}
