//! ELF64 little-endian structures: the file header, program headers, the section header
//! used for extended segment numbering, and note entries. The writer encodes them and the
//! reader parses them here, so the two cannot disagree about a field's offset or padding.

use std::ops::Range;

use crate::error::Problem;

/// Size of the ELF64 file header.
pub(crate) const EHDR_SIZE: u64 = 64;
/// Size of one ELF64 program header.
pub(crate) const PHDR_SIZE: u64 = 56;
/// Size of one ELF64 section header.
pub(crate) const SHDR_SIZE: u64 = 64;
/// PT_LOAD segments start on this file boundary, so a reader can mmap them directly.
pub(crate) const PAGE_SIZE: u64 = 4096;
/// Note name and descriptor padding: 4 bytes, as Linux writes and readelf/gdb expect on
/// 64-bit hosts (the ELF specification's 8 would misalign every reader we care about).
pub(crate) const NOTE_ALIGN: u64 = 4;
/// Size of a note entry's header: namesz, descsz, type.
const NOTE_HEADER_SIZE: usize = 12;

pub(crate) const PT_LOAD: u32 = 1;
pub(crate) const PT_NOTE: u32 = 4;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

const ELF_MAGIC: [u8; 4] = *b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const EV_CURRENT: u8 = 1;
const ET_CORE: u16 = 4;
const EM_X86_64: u16 = 62;
/// `e_phnum` value meaning "the real count is in section header 0's `sh_info`": Linux's
/// scheme for cores with more than 65534 segments, which a fragmented guest RAM can need.
const PN_XNUM: u16 = 0xffff;

/// Zeros to pad from, so padding never needs an allocation.
pub(crate) static ZEROS: [u8; PAGE_SIZE as usize] = [0; PAGE_SIZE as usize];

/// Rounds `n` up to a multiple of `align` (a power of two); `None` on overflow.
pub(crate) fn align_up(n: u64, align: u64) -> Option<u64> {
    Some(n.checked_add(align - 1)? & !(align - 1))
}

/// Reads little-endian fields in order; `None` once the bytes run out, so parsing a short
/// buffer is an error instead of a panic.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
}

/// One ELF64 program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Phdr {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_paddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

impl Phdr {
    /// The note segment, as Linux writes it for cores (no address, no memory size,
    /// alignment 4 so readelf parses it with 4-byte padding).
    pub(crate) fn note(offset: u64, len: u64) -> Phdr {
        Phdr {
            p_type: PT_NOTE,
            p_flags: 0,
            p_offset: offset,
            p_vaddr: 0,
            p_paddr: 0,
            p_filesz: len,
            p_memsz: 0,
            p_align: NOTE_ALIGN,
        }
    }

    /// A guest-physical extent. Both addresses are the physmem offset: it is a physical
    /// address, and tools show `p_vaddr`.
    pub(crate) fn load(paddr: u64, offset: u64, len: u64) -> Phdr {
        Phdr {
            p_type: PT_LOAD,
            p_flags: PF_R | PF_W,
            p_offset: offset,
            p_vaddr: paddr,
            p_paddr: paddr,
            p_filesz: len,
            p_memsz: len,
            p_align: PAGE_SIZE,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.p_type.to_le_bytes());
        out.extend_from_slice(&self.p_flags.to_le_bytes());
        for v in [
            self.p_offset,
            self.p_vaddr,
            self.p_paddr,
            self.p_filesz,
            self.p_memsz,
            self.p_align,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// Parses one program header; `None` if `b` is shorter than [`PHDR_SIZE`].
    pub(crate) fn parse(b: &[u8]) -> Option<Phdr> {
        let mut f = Fields(b);
        Some(Phdr {
            p_type: f.u32()?,
            p_flags: f.u32()?,
            p_offset: f.u64()?,
            p_vaddr: f.u64()?,
            p_paddr: f.u64()?,
            p_filesz: f.u64()?,
            p_memsz: f.u64()?,
            p_align: f.u64()?,
        })
    }
}

/// Whether `count` segments need extended numbering (a section header carrying the count).
fn needs_xnum(count: usize) -> bool {
    count >= usize::from(PN_XNUM)
}

/// Bytes taken by the ELF header, `count` program headers and, with extended numbering,
/// the one section header after them; the notes start right there.
pub(crate) fn headers_len(count: usize) -> u64 {
    let xnum = if needs_xnum(count) { SHDR_SIZE } else { 0 };
    EHDR_SIZE + PHDR_SIZE * count as u64 + xnum
}

/// Encodes the ELF header, the program headers right after it and, for 65535 segments or
/// more, the null section header whose `sh_info` holds the real count.
pub(crate) fn encode_headers(phdrs: &[Phdr]) -> Result<Vec<u8>, String> {
    let count = u32::try_from(phdrs.len())
        .map_err(|_| format!("{} segments do not fit in ELF64", phdrs.len()))?;
    let xnum = needs_xnum(phdrs.len());
    let mut out = Vec::with_capacity(headers_len(phdrs.len()) as usize);
    encode_ehdr(&mut out, phdrs.len(), xnum);
    for p in phdrs {
        p.encode_into(&mut out);
    }
    if xnum {
        encode_xnum_shdr(&mut out, count);
    }
    Ok(out)
}

fn encode_ehdr(out: &mut Vec<u8>, count: usize, xnum: bool) {
    let mut ident = [0u8; 16];
    ident[..4].copy_from_slice(&ELF_MAGIC);
    ident[4] = ELFCLASS64;
    ident[5] = ELFDATA2LSB;
    ident[6] = EV_CURRENT;
    out.extend_from_slice(&ident);
    out.extend_from_slice(&ET_CORE.to_le_bytes());
    out.extend_from_slice(&EM_X86_64.to_le_bytes());
    out.extend_from_slice(&u32::from(EV_CURRENT).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    out.extend_from_slice(&EHDR_SIZE.to_le_bytes()); // e_phoff
    let shoff = if xnum {
        EHDR_SIZE + PHDR_SIZE * count as u64
    } else {
        0
    };
    out.extend_from_slice(&shoff.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    out.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    let (phnum, shentsize, shnum) = if xnum {
        (PN_XNUM, SHDR_SIZE as u16, 1u16)
    } else {
        (count as u16, 0, 0)
    };
    for v in [phnum, shentsize, shnum, 0 /* e_shstrndx */] {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// The SHT_NULL section header of extended numbering, laid out as Linux's
/// `fill_extnum_info`: `sh_size` = e_shnum (1), `sh_info` = the segment count.
fn encode_xnum_shdr(out: &mut Vec<u8>, count: u32) {
    out.extend_from_slice(&[0u8; 32]); // sh_name, sh_type, sh_flags, sh_addr, sh_offset
    out.extend_from_slice(&1u64.to_le_bytes()); // sh_size
    out.extend_from_slice(&0u32.to_le_bytes()); // sh_link
    out.extend_from_slice(&count.to_le_bytes()); // sh_info
    out.extend_from_slice(&[0u8; 16]); // sh_addralign, sh_entsize
}

/// The guest-physical address of an extent that overlaps an earlier one or wraps around
/// the address space, if any. Empty extents overlap nothing. Writer and reader both use
/// this, so the writer never produces an image the reader refuses.
pub(crate) fn find_overlap(extents: impl Iterator<Item = (u64, u64)>) -> Option<u64> {
    let mut sorted: Vec<(u64, u64)> = extents.filter(|&(_, len)| len > 0).collect();
    sorted.sort_unstable();
    let mut prev_end = 0;
    for (paddr, len) in sorted {
        match paddr.checked_add(len) {
            Some(end) if paddr >= prev_end => prev_end = end,
            _ => return Some(paddr),
        }
    }
    None
}

/// Whether `b` starts with the ELF magic.
pub(crate) fn has_elf_magic(b: &[u8]) -> bool {
    b.starts_with(&ELF_MAGIC)
}

/// How many program headers there are, as far as the ELF header can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhCount {
    /// `e_phnum` itself.
    Direct(u16),
    /// `e_phnum` is PN_XNUM: the count is in the section header at this offset.
    Extended { shoff: u64 },
}

/// What the reader needs from the ELF header: where the program headers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ehdr {
    pub phoff: u64,
    pub count: PhCount,
}

/// Parses and validates the ELF header: anything that is not a little-endian ELF64 x86-64
/// core is `NotElf`; a core whose header sizes are not ELF64's is `Malformed`.
pub(crate) fn parse_ehdr(b: &[u8]) -> Result<Ehdr, Problem> {
    let short = || Problem::Truncated(format!("ELF header needs {EHDR_SIZE} bytes"));
    let mut f = Fields(b);
    let ident: [u8; 16] = f.take().ok_or_else(short)?;
    check_ident(ident)?;
    let (e_type, e_machine, e_version) = (f.u16(), f.u16(), f.u32());
    let (_entry, phoff, shoff, _flags) = (f.u64(), f.u64(), f.u64(), f.u32());
    let sizes = [f.u16(), f.u16(), f.u16(), f.u16()];
    let (e_type, e_machine) = (e_type.ok_or_else(short)?, e_machine.ok_or_else(short)?);
    if e_type != ET_CORE {
        return Err(Problem::NotElf(format!("e_type {e_type}, not ET_CORE")));
    }
    if e_machine != EM_X86_64 {
        return Err(Problem::NotElf(format!(
            "e_machine {e_machine}, not x86-64"
        )));
    }
    let [Some(ehsize), Some(phentsize), Some(phnum), Some(shentsize)] = sizes else {
        return Err(short());
    };
    let (version, phoff, shoff) = (
        e_version.ok_or_else(short)?,
        phoff.ok_or_else(short)?,
        shoff.ok_or_else(short)?,
    );
    if version != u32::from(EV_CURRENT) || u64::from(ehsize) != EHDR_SIZE {
        return Err(Problem::Malformed(format!(
            "ELF header: e_version {version}, e_ehsize {ehsize}"
        )));
    }
    if u64::from(phentsize) != PHDR_SIZE {
        return Err(Problem::Malformed(format!(
            "e_phentsize {phentsize}, expected {PHDR_SIZE}"
        )));
    }
    let count = if phnum != PN_XNUM {
        PhCount::Direct(phnum)
    } else if u64::from(shentsize) == SHDR_SIZE && shoff != 0 {
        PhCount::Extended { shoff }
    } else {
        return Err(Problem::Malformed(
            "e_phnum is PN_XNUM but there is no section header 0".into(),
        ));
    };
    Ok(Ehdr { phoff, count })
}

fn check_ident(ident: [u8; 16]) -> Result<(), Problem> {
    let [m0, m1, m2, m3, class, data, version, ..] = ident;
    let why = if [m0, m1, m2, m3] != ELF_MAGIC {
        "no ELF magic"
    } else if class != ELFCLASS64 {
        "not ELF64"
    } else if data != ELFDATA2LSB {
        "not little-endian"
    } else if version != EV_CURRENT {
        "unknown ELF version"
    } else {
        return Ok(());
    };
    Err(Problem::NotElf(why.into()))
}

/// The segment count from section header 0 under extended numbering (`sh_info`).
pub(crate) fn parse_xnum_count(shdr: &[u8]) -> Option<u32> {
    let mut f = Fields(shdr.get(40..)?);
    let _link = f.u32()?;
    f.u32()
}

/// One note as the writer lays it out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoteRef<'a> {
    pub owner: &'a str,
    pub ntype: u32,
    pub desc: &'a [u8],
}

impl NoteRef<'_> {
    /// Refuses what the entry format cannot represent.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.owner.contains('\0') {
            return Err(format!("note owner {:?} contains NUL", self.owner));
        }
        if u32::try_from(self.owner.len() + 1).is_err() || u32::try_from(self.desc.len()).is_err() {
            return Err(format!(
                "note {} 0x{:x} is too large",
                self.owner, self.ntype
            ));
        }
        Ok(())
    }

    /// Size of the whole entry in the note segment.
    pub(crate) fn entry_len(&self) -> u64 {
        self.desc_pos() + align4(self.desc.len()) as u64
    }

    /// Where the descriptor starts within the entry: after the header and padded name.
    pub(crate) fn desc_pos(&self) -> u64 {
        (NOTE_HEADER_SIZE + align4(self.owner.len() + 1)) as u64
    }

    /// Feeds the entry to `f` as the pieces it is made of: the header with the
    /// NUL-terminated, padded name; the descriptor; the descriptor's padding. Hashing and
    /// writing both walk these, so the checksum covers exactly the written bytes and a
    /// large descriptor is never copied.
    pub(crate) fn for_each_piece<E>(
        &self,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let namesz = self.owner.len() + 1;
        let mut head = Vec::with_capacity(NOTE_HEADER_SIZE + align4(namesz));
        head.extend_from_slice(&(namesz as u32).to_le_bytes());
        head.extend_from_slice(&(self.desc.len() as u32).to_le_bytes());
        head.extend_from_slice(&self.ntype.to_le_bytes());
        head.extend_from_slice(self.owner.as_bytes());
        head.resize(NOTE_HEADER_SIZE + align4(namesz), 0);
        let pad = align4(self.desc.len()) - self.desc.len();
        f(&head)?;
        f(self.desc)?;
        f(ZEROS.get(..pad).unwrap_or_default())
    }
}

/// Rounds a note field length up to [`NOTE_ALIGN`]. Lengths here come from u32 fields or
/// checked writer input, so this cannot overflow a 64-bit usize.
fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Where one parsed note lies inside the note segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NoteSpan {
    pub owner: String,
    pub ntype: u32,
    /// The descriptor (without padding).
    pub desc: Range<usize>,
    /// The whole entry: header, name, descriptor, padding.
    pub entry: Range<usize>,
}

/// Splits a note segment into entries. The entries must tile the segment exactly.
pub(crate) fn parse_notes(buf: &[u8]) -> Result<Vec<NoteSpan>, String> {
    let mut notes = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let span = parse_note(buf, pos)
            .map_err(|e| format!("note {} at offset {pos} in PT_NOTE: {e}", notes.len()))?;
        pos = span.entry.end;
        notes.push(span);
    }
    Ok(notes)
}

fn parse_note(buf: &[u8], start: usize) -> Result<NoteSpan, String> {
    let mut f = Fields(buf.get(start..).unwrap_or_default());
    let (Some(namesz), Some(descsz), Some(ntype)) = (f.u32(), f.u32(), f.u32()) else {
        return Err("note header cut short".into());
    };
    let (namesz, descsz) = (namesz as usize, descsz as usize);
    let name_start = start + NOTE_HEADER_SIZE;
    let desc_start = name_start + align4(namesz);
    let end = desc_start + align4(descsz);
    if end > buf.len() {
        return Err(format!(
            "entry ends at {end}, past the segment's {} bytes",
            buf.len()
        ));
    }
    let owner = parse_owner(buf.get(name_start..name_start + namesz).unwrap_or_default())?;
    Ok(NoteSpan {
        owner,
        ntype,
        desc: desc_start..desc_start + descsz,
        entry: start..end,
    })
}

/// A note name: empty, or UTF-8 followed by exactly one NUL.
fn parse_owner(name: &[u8]) -> Result<String, String> {
    let Some((&last, text)) = name.split_last() else {
        return Ok(String::new());
    };
    if last != 0 || text.contains(&0) {
        return Err("note name is not one NUL-terminated string".into());
    }
    String::from_utf8(text.to_vec()).map_err(|_| "note name is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let phdrs = [Phdr::note(176, 40), Phdr::load(0x20_0000, 4096, 8192)];
        let bytes = encode_headers(&phdrs).unwrap();
        assert_eq!(bytes.len() as u64, headers_len(2));
        let ehdr = parse_ehdr(&bytes).unwrap();
        assert_eq!(
            ehdr,
            Ehdr {
                phoff: 64,
                count: PhCount::Direct(2)
            }
        );
        let parsed: Vec<_> = bytes[64..]
            .chunks(56)
            .map(|c| Phdr::parse(c).unwrap())
            .collect();
        assert_eq!(parsed, phdrs);
    }

    #[test]
    fn extended_numbering_puts_count_in_section_header() {
        let phdrs = vec![Phdr::load(0, 4096, 0); 70_000];
        let bytes = encode_headers(&phdrs).unwrap();
        assert_eq!(bytes.len() as u64, headers_len(70_000));
        let Ehdr {
            count: PhCount::Extended { shoff },
            ..
        } = parse_ehdr(&bytes).unwrap()
        else {
            panic!("expected PN_XNUM");
        };
        assert_eq!(shoff, 64 + 56 * 70_000);
        assert_eq!(parse_xnum_count(&bytes[shoff as usize..]), Some(70_000));
    }

    #[test]
    fn note_layout_pads_to_four() {
        for (owner, len, want) in [
            ("CORE", 0, 20),
            ("CORE", 1, 24),
            ("VKERNEL", 5, 28),
            ("", 4, 20),
        ] {
            let desc = vec![0xa5; len];
            let n = NoteRef {
                owner,
                ntype: 7,
                desc: &desc,
            };
            assert_eq!(n.entry_len(), want, "{owner} {len}");
            let mut bytes = Vec::new();
            n.for_each_piece(|p| {
                bytes.extend_from_slice(p);
                Ok::<_, ()>(())
            })
            .unwrap();
            assert_eq!(bytes.len() as u64, want);
            let spans = parse_notes(&bytes).unwrap();
            assert_eq!(spans.len(), 1);
            assert_eq!(spans[0].owner, owner);
            assert_eq!(&bytes[spans[0].desc.clone()], &desc[..]);
        }
    }

    #[test]
    fn bad_notes_are_errors() {
        assert!(parse_notes(&[1, 0, 0]).is_err());
        // namesz 0xffffffff
        assert!(parse_notes(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // name without NUL
        assert!(parse_notes(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'A', 0, 0, 0]).is_err());
    }
}
