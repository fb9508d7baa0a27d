//! rt_sigreturn: Linux's `rt_sigreturn`, `restore_sigcontext` and
//! `fpu__restore_sig`. Everything read here is guest-controlled: sizes are
//! bounded before use, and nothing is read that Linux would not read.

use super::layout::bytes::{put_u64, u16_at, u32_at, u64_at};
use super::layout::{frame, reg, sc, stack, sw, uc, xsave};
use super::{
    AltStack, FrameError, Restored, FIX_EFLAGS, FP_XSTATE_MAGIC1, FP_XSTATE_MAGIC2,
    UC_STRICT_RESTORE_SS, UNBLOCKABLE, USER_CS, USER_DS, XFEATURE_MASK_FPSSE, XSTATE_MAX,
};

/// Reads guest memory: `None` is EFAULT.
type Read<'a> = &'a dyn Fn(u64, usize) -> Option<Vec<u8>>;

/// Reads the frame whose `pretcode` the restorer popped (so it starts at
/// `rsp - 8`) and returns the state to resume with. `current` supplies what
/// the frame does not hold (fs_base, gs_base, data segments, non-FIX eflags).
pub fn restore(rsp: u64, current: &[u64; 27], read: Read) -> Result<Restored, FrameError> {
    let frame_addr = rsp.checked_sub(8).ok_or(FrameError::Fault)?;
    // access_ok() covers the whole rt_sigframe, though only uc is read.
    frame_addr
        .checked_add(frame::SIZE as u64)
        .ok_or(FrameError::Fault)?;
    let ucb = read_exact(read, frame_addr + frame::UC as u64, uc::SIZE)?;
    let part = |off: usize, len: usize| ucb.get(off..off + len).ok_or(FrameError::Fault);
    let scb = part(uc::MCONTEXT, sc::SIZE)?;
    Ok(Restored {
        regs: restore_regs(scb, current, u64_at(&ucb, uc::FLAGS)),
        blocked: u64_at(&ucb, uc::SIGMASK) & !UNBLOCKABLE,
        xsave: restore_fpstate(u64_at(scb, sc::FPSTATE), read)?,
        altstack: read_stack(part(uc::STACK, stack::LEN)?),
    })
}

/// Exactly `len` bytes at `addr`; a short answer counts as a fault.
fn read_exact(read: Read, addr: u64, len: usize) -> Result<Vec<u8>, FrameError> {
    match read(addr, len) {
        Some(v) if v.len() == len => Ok(v),
        _ => Err(FrameError::Fault),
    }
}

/// `restore_sigcontext`: the general registers as saved; eflags only through
/// FIX_EFLAGS (user code must not gain IOPL or IF control); cs and ss forced
/// to CPL 3; orig_rax = -1 so the return path never restarts a syscall.
/// Without UC_STRICT_RESTORE_SS (frames made by old or foreign code), a
/// 64-bit context gets a usable ss (`force_valid_ss`).
fn restore_regs(scb: &[u8], current: &[u64; 27], uc_flags: u64) -> [u64; 27] {
    let mut r = *current;
    for (off, i) in sc::GPRS {
        r[i] = u64_at(scb, off);
    }
    let saved = u64_at(scb, sc::EFLAGS);
    r[reg::EFLAGS] = (current[reg::EFLAGS] & !FIX_EFLAGS) | (saved & FIX_EFLAGS);
    r[reg::CS] = u64::from(u16_at(scb, sc::CS) | 3);
    r[reg::SS] = u64::from(u16_at(scb, sc::SS) | 3);
    if uc_flags & UC_STRICT_RESTORE_SS == 0 && r[reg::CS] == USER_CS && r[reg::SS] != USER_DS {
        r[reg::SS] = USER_DS;
    }
    r[reg::ORIG_RAX] = u64::MAX;
    r
}

fn read_stack(b: &[u8]) -> AltStack {
    AltStack {
        sp: u64_at(b, stack::SP),
        flags: u32_at(b, stack::FLAGS) as i32,
        size: u64_at(b, stack::SIZE),
    }
}

/// `fpu__restore_sig`: no fpstate means "reset the FPU"; an image described
/// by valid `_fpx_sw_bytes` and closed by FP_XSTATE_MAGIC2 is restored with
/// XRSTOR semantics; anything else (a legacy or hand-made frame) restores
/// just the 512-byte FXSAVE area.
fn restore_fpstate(fp: u64, read: Read) -> Result<Option<Vec<u8>>, FrameError> {
    if fp == 0 {
        return Ok(None);
    }
    let legacy = read_exact(read, fp, xsave::LEGACY_SIZE)?;
    let image = match described_size(&legacy) {
        Some(size) => read_xstate(read, fp, size)?,
        None => None,
    };
    let restored = match image {
        Some(img) => xrstor_image(img, fp, u64_at(&legacy, xsave::SW_RESERVED + sw::XFEATURES))?,
        None => fxrstor_image(legacy, fp)?,
    };
    Ok(Some(restored))
}

/// `check_xstate_in_sigframe`, first half: the size sw_reserved claims, if
/// magic1 is right and the size is sane (at least legacy + header, at most
/// [`XSTATE_MAX`] where Linux uses its own xstate size, within extended_size).
fn described_size(legacy: &[u8]) -> Option<usize> {
    let at = |off: usize| u32_at(legacy, xsave::SW_RESERVED + off);
    let size = at(sw::XSTATE_SIZE) as usize;
    let ok = at(sw::MAGIC1) == FP_XSTATE_MAGIC1
        && (xsave::HDR_END..=XSTATE_MAX).contains(&size)
        && size <= at(sw::EXTENDED_SIZE) as usize;
    ok.then_some(size)
}

/// Second half: FP_XSTATE_MAGIC2 must follow the image, else the frame was
/// copied by code that only knew the legacy layout. Reads the magic first,
/// as Linux does, then the image.
fn read_xstate(read: Read, fp: u64, size: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let magic_at = fp.checked_add(size as u64).ok_or(FrameError::Fault)?;
    let magic = read_exact(read, magic_at, 4)?;
    if u32_at(&magic, 0) != FP_XSTATE_MAGIC2 {
        return Ok(None);
    }
    read_exact(read, fp, size).map(Some)
}

/// XRSTOR(image, xfeatures): misalignment, a non-standard header or reserved
/// MXCSR bits fault (SIGSEGV in Linux); components outside `xfeatures` are
/// not loaded and Linux puts them in their init state, as a clear XSTATE_BV
/// bit does.
fn xrstor_image(mut img: Vec<u8>, fp: u64, xfeatures: u64) -> Result<Vec<u8>, FrameError> {
    if fp & 63 != 0 {
        return Err(FrameError::BadXsave("fpstate not 64-byte aligned"));
    }
    // Standard-form XRSTOR faults unless header bytes 8..24 are zero.
    if img[xsave::XCOMP_BV..xsave::HDR_RESERVED + 8]
        .iter()
        .any(|&b| b != 0)
    {
        return Err(FrameError::BadXsave("XSAVE header not in standard form"));
    }
    if xfeatures & 0b110 != 0 {
        check_mxcsr(&img)?;
    }
    let bv = u64_at(&img, xsave::XSTATE_BV) & xfeatures;
    img[xsave::XSTATE_BV..xsave::HDR_END].fill(0);
    put_u64(&mut img, xsave::XSTATE_BV, bv);
    Ok(ptrace_form(img, xfeatures))
}

/// FXRSTOR(legacy) with every extended component reset (Linux's `fx_only`).
fn fxrstor_image(mut legacy: Vec<u8>, fp: u64) -> Result<Vec<u8>, FrameError> {
    if fp & 15 != 0 {
        return Err(FrameError::BadXsave("fpstate not 16-byte aligned"));
    }
    check_mxcsr(&legacy)?;
    legacy.resize(xsave::HDR_END, 0);
    put_u64(&mut legacy, xsave::XSTATE_BV, XFEATURE_MASK_FPSSE);
    Ok(ptrace_form(legacy, XFEATURE_MASK_FPSSE))
}

/// MXCSR bits 16..32 are reserved on every CPU; loading them faults. (The
/// CPU's MXCSR_MASK may reserve DAZ as well; the ptrace setter checks that.)
fn check_mxcsr(img: &[u8]) -> Result<(), FrameError> {
    if u32_at(img, xsave::MXCSR) & 0xffff_0000 != 0 {
        return Err(FrameError::BadXsave("reserved MXCSR bits set"));
    }
    Ok(())
}

/// sw_reserved as ptrace writes it: the feature mask in its first 8 bytes.
fn ptrace_form(mut img: Vec<u8>, xfeatures: u64) -> Vec<u8> {
    img[xsave::SW_RESERVED..xsave::LEGACY_SIZE].fill(0);
    put_u64(&mut img, xsave::SW_RESERVED, xfeatures);
    img
}

/// Grows a restored image to the NT_X86_XSTATE regset size (the setter wants
/// the whole buffer). The added bytes are zero, which is every extended
/// component's init value; for frames Linux or [`super::build`] wrote, their
/// XSTATE_BV bits are clear anyway. Never shrinks.
pub fn pad_xsave(mut img: Vec<u8>, regset_len: usize) -> Vec<u8> {
    if img.len() < regset_len {
        img.resize(regset_len, 0);
    }
    img
}
