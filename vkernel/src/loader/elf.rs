//! The static ELF loader.

use goblin::elf::header::{Header, EM_X86_64, ET_DYN, ET_EXEC};
use goblin::elf::program_header::{
    ProgramHeader, PF_R, PF_W, PF_X, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR,
};
use nix::errno::Errno;
use scroll::Pread;
use thiserror::Error;

use crate::mm::{page_ceil, page_floor, Prot, Vma, VmaKind, Vmspace, PAGE};

/// Where static-PIE programs are placed (Linux's ELF_ET_DYN_BASE, without randomisation).
const PIE_BASE: u64 = 0x5555_5555_4000;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LoadError {
    #[error("not an ELF file")]
    NotElf,
    #[error("not an x86-64 ELF executable")]
    WrongMachine,
    #[error("malformed ELF: {0}")]
    Malformed(&'static str),
    #[error("dynamically linked (interpreter {0}); only static programs run for now")]
    Dynamic(String),
    #[error("out of guest memory")]
    NoMemory,
}

impl LoadError {
    pub fn errno(&self) -> Errno {
        match self {
            LoadError::NoMemory => Errno::ENOMEM,
            _ => Errno::ENOEXEC,
        }
    }
}

/// What the loader tells the stack builder and the task.
#[derive(Debug, Clone, Copy)]
pub struct ElfImage {
    pub entry: u64,
    pub phdr: u64,
    pub phnum: u64,
    pub exec_stack: bool,
}

fn parse(bytes: &[u8]) -> Result<(Header, Vec<ProgramHeader>), LoadError> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err(LoadError::NotElf);
    }
    let hdr: Header = bytes
        .pread_with(0, scroll::LE)
        .map_err(|_| LoadError::Malformed("header"))?;
    if hdr.e_machine != EM_X86_64 || bytes[4] != 2 || bytes[5] != 1 {
        return Err(LoadError::WrongMachine);
    }
    if hdr.e_type != ET_EXEC && hdr.e_type != ET_DYN {
        return Err(LoadError::Malformed("not an executable"));
    }
    if hdr.e_phentsize != 56 || hdr.e_phnum == 0 || hdr.e_phnum > 512 {
        return Err(LoadError::Malformed("program headers"));
    }
    let end = hdr.e_phoff.checked_add(56 * u64::from(hdr.e_phnum));
    if end.is_none_or(|e| e > bytes.len() as u64) {
        return Err(LoadError::Malformed("program headers past end of file"));
    }
    let ctx = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    let phdrs = ProgramHeader::parse(bytes, hdr.e_phoff as usize, hdr.e_phnum as usize, ctx)
        .map_err(|_| LoadError::Malformed("program headers"))?;
    Ok((hdr, phdrs))
}

fn check_segment(ph: &ProgramHeader, file_len: u64) -> Result<(), LoadError> {
    let file_end = ph.p_offset.checked_add(ph.p_filesz);
    if ph.p_filesz > 0 && file_end.is_none_or(|e| e > file_len) {
        return Err(LoadError::Malformed("segment past end of file"));
    }
    if ph.p_filesz > ph.p_memsz || ph.p_vaddr.checked_add(ph.p_memsz).is_none() {
        return Err(LoadError::Malformed("segment sizes"));
    }
    if ph.p_vaddr % PAGE != ph.p_offset % PAGE {
        return Err(LoadError::Malformed("segment alignment"));
    }
    Ok(())
}

fn interp(bytes: &[u8], phdrs: &[ProgramHeader]) -> Option<String> {
    let ph = phdrs.iter().find(|p| p.p_type == PT_INTERP)?;
    let start = ph.p_offset as usize;
    let raw = bytes.get(start..start.checked_add(ph.p_filesz as usize)?)?;
    Some(String::from_utf8_lossy(raw.split(|&b| b == 0).next().unwrap_or(raw)).into_owned())
}

/// Validates `bytes` completely, then loads it into `vm` (which should be empty).
pub fn load_elf(bytes: &[u8], path: &[u8], vm: &mut Vmspace) -> Result<ElfImage, LoadError> {
    let (hdr, phdrs) = parse(bytes)?;
    if let Some(i) = interp(bytes, &phdrs) {
        return Err(LoadError::Dynamic(i));
    }
    let loads: Vec<&ProgramHeader> = phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
    if loads.is_empty() {
        return Err(LoadError::Malformed("no loadable segments"));
    }
    for ph in &loads {
        check_segment(ph, bytes.len() as u64)?;
    }
    let lowest = loads
        .iter()
        .map(|p| page_floor(p.p_vaddr))
        .min()
        .unwrap_or(0);
    let bias = if hdr.e_type == ET_DYN {
        PIE_BASE - lowest
    } else {
        0
    };
    let mut brk = 0;
    for ph in &loads {
        let end = load_segment(bytes, path, ph, bias, vm)?;
        brk = brk.max(end);
    }
    vm.brk_start = brk;
    vm.brk = brk;
    Ok(ElfImage {
        entry: hdr.e_entry.wrapping_add(bias),
        phdr: phdr_addr(&hdr, &phdrs, &loads).wrapping_add(bias),
        phnum: u64::from(hdr.e_phnum),
        exec_stack: phdrs
            .iter()
            .any(|p| p.p_type == PT_GNU_STACK && p.p_flags & PF_X != 0),
    })
}

/// The program headers' address in memory: PT_PHDR, else inside the first segment that
/// covers their file offset.
fn phdr_addr(hdr: &Header, phdrs: &[ProgramHeader], loads: &[&ProgramHeader]) -> u64 {
    if let Some(p) = phdrs.iter().find(|p| p.p_type == PT_PHDR) {
        return p.p_vaddr;
    }
    loads
        .iter()
        .find(|p| p.p_offset <= hdr.e_phoff && hdr.e_phoff < p.p_offset + p.p_filesz)
        .map_or(0, |p| p.p_vaddr + (hdr.e_phoff - p.p_offset))
}

fn prot_of(flags: u32) -> Prot {
    let mut p = Prot::empty();
    for (bit, prot) in [(PF_R, Prot::READ), (PF_W, Prot::WRITE), (PF_X, Prot::EXEC)] {
        if flags & bit != 0 {
            p |= prot;
        }
    }
    p
}

/// Maps one PT_LOAD and copies its file bytes into frames; returns its end address.
fn load_segment(
    bytes: &[u8],
    path: &[u8],
    ph: &ProgramHeader,
    bias: u64,
    vm: &mut Vmspace,
) -> Result<u64, LoadError> {
    let vaddr = ph
        .p_vaddr
        .checked_add(bias)
        .ok_or(LoadError::Malformed("segment address"))?;
    let start = page_floor(vaddr);
    let end = page_ceil(vaddr + ph.p_memsz).ok_or(LoadError::Malformed("segment address"))?;
    if end == start {
        return Ok(end);
    }
    let vma = Vma {
        start,
        end,
        prot: prot_of(ph.p_flags),
        shared: false,
        kind: VmaKind::File {
            path: path.to_vec(),
            offset: ph.p_offset - (vaddr - start),
            file_end: u64::MAX,
        },
    };
    vm.map_keeping_pages(vma)
        .map_err(|_| LoadError::Malformed("segment address"))?;
    let data = if ph.p_filesz == 0 {
        &[][..]
    } else {
        &bytes[ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize]
    };
    let mut at = vaddr;
    for chunk in split_at_pages(vaddr, data) {
        let page = page_floor(at);
        let frame = vm.load_page(page).ok_or(LoadError::NoMemory)?;
        vm.physmem().write_frame(frame, (at - page) as usize, chunk);
        at += chunk.len() as u64;
    }
    Ok(end)
}

/// Splits `data` (to be placed at `addr`) into pieces that do not cross pages.
fn split_at_pages(addr: u64, data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut at = addr;
    while !rest.is_empty() {
        let n = ((PAGE - at % PAGE) as usize).min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
        at += n as u64;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::mm::UserMem;

    /// A minimal static ELF: one RX segment with `code` at 0x401000 plus a bss segment.
    fn tiny_elf(code: &[u8], ty: u16) -> Vec<u8> {
        let mut f = vec![0u8; 0x1000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&ty.to_le_bytes());
        f[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&0x401000u64.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&2u16.to_le_bytes());
        let ph = |off: usize,
                  f: &mut Vec<u8>,
                  flags: u32,
                  offset: u64,
                  vaddr: u64,
                  filesz: u64,
                  memsz: u64| {
            f[off..off + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
            f[off + 4..off + 8].copy_from_slice(&flags.to_le_bytes());
            f[off + 8..off + 16].copy_from_slice(&offset.to_le_bytes());
            f[off + 16..off + 24].copy_from_slice(&vaddr.to_le_bytes());
            f[off + 32..off + 40].copy_from_slice(&filesz.to_le_bytes());
            f[off + 40..off + 48].copy_from_slice(&memsz.to_le_bytes());
        };
        ph(
            64,
            &mut f,
            PF_R | PF_X,
            0x1000,
            0x401000,
            code.len() as u64,
            code.len() as u64,
        );
        ph(120, &mut f, PF_R | PF_W, 0x2000, 0x402000, 0, 0x3000);
        f.extend_from_slice(code);
        f
    }

    fn vm() -> Vmspace {
        Vmspace::new(Arc::new(vproc::Physmem::new(256 * PAGE).unwrap()))
    }

    #[test]
    fn loads_static_exec() {
        let mut v = vm();
        let img = load_elf(&tiny_elf(b"\xcc\xc3", ET_EXEC), b"/t", &mut v).unwrap();
        assert_eq!(img.entry, 0x401000);
        assert_eq!(img.phdr, 0, "no PT_PHDR and headers outside segments");
        let mut code = [0u8; 2];
        v.read_bytes(crate::mm::GuestPtr(0x401000), &mut code)
            .unwrap();
        assert_eq!(&code, b"\xcc\xc3");
        assert_eq!(v.brk_start, 0x405000);
        assert_eq!(v.find_vma(0x404fff).unwrap().prot, Prot::READ | Prot::WRITE);
    }

    #[test]
    fn static_pie_is_relocated() {
        let mut v = vm();
        let img = load_elf(&tiny_elf(b"\xc3", ET_DYN), b"/t", &mut v).unwrap();
        assert_eq!(
            img.entry, PIE_BASE,
            "the lowest segment lands at the PIE base"
        );
    }

    #[test]
    fn rejects_bad_files() {
        let mut v = vm();
        assert_eq!(
            load_elf(b"#!/bin/sh\n", b"/t", &mut v).unwrap_err(),
            LoadError::NotElf
        );
        let elf = tiny_elf(b"\xc3", ET_EXEC);
        assert!(
            load_elf(&elf[..0x1000], b"/t", &mut v).is_err(),
            "segment past EOF"
        );
        assert!(
            load_elf(&elf[..80], b"/t", &mut v).is_err(),
            "truncated headers"
        );
        let mut wrong = elf.clone();
        wrong[18] = 3;
        assert_eq!(
            load_elf(&wrong, b"/t", &mut v).unwrap_err(),
            LoadError::WrongMachine
        );
    }
}
