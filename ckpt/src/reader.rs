//! Reading an image. [`Image::open`] validates everything before returning, in an order
//! that gives the most useful message first: is it an ELF core at all, is it complete
//! (truncation), is it laid out as a vkernel image, is it our format version, and are the
//! bytes the ones that were written (checksums, zero padding).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::checksum::{self, Hasher, Part, TableError};
use crate::elf::{
    self, NoteSpan, PhCount, Phdr, EHDR_SIZE, NOTE_ALIGN, PAGE_SIZE, PHDR_SIZE, PT_LOAD, PT_NOTE,
    SHDR_SIZE,
};
use crate::error::{CkptError, Problem};
use crate::notes::{decode, note_type_name, peek_format_version, Header};
use crate::{note_type, FORMAT_VERSION, OWNER_VKERNEL};

/// Large reads (checksums of guest RAM) go through a buffer of this size.
const CHUNK: u64 = 1 << 20;

/// A validated checkpoint image, open for reading. Notes are held in memory; guest RAM
/// stays in the file and is read on demand with [`Image::read_load`].
pub struct Image {
    path: PathBuf,
    file: File,
    file_size: u64,
    header: Header,
    note_buf: Vec<u8>,
    notes: Vec<NoteSpan>,
    loads: Vec<LoadSegment>,
}

/// One note of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note<'a> {
    pub owner: &'a str,
    pub ntype: u32,
    pub desc: &'a [u8],
}

/// One PT_LOAD: `len` bytes of guest RAM at physmem offset `paddr`, stored at file
/// offset `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSegment {
    pub paddr: u64,
    pub offset: u64,
    pub len: u64,
}

impl Image {
    /// Opens and fully validates an image: ELF identity, program header and segment
    /// bounds, layout, notes, header note and format version, and every checksum (which
    /// reads the whole file once). Any failure is a [`CkptError`] naming the file.
    pub fn open(path: &Path) -> Result<Image, CkptError> {
        let file = File::open(path).map_err(|e| Problem::Io(e).at(path))?;
        let parsed = Parsed::read(&file).map_err(|p| p.at(path))?;
        Ok(Image {
            path: path.to_owned(),
            file,
            file_size: parsed.file_size,
            header: parsed.header,
            note_buf: parsed.note_buf,
            notes: parsed.notes,
            loads: parsed.loads,
        })
    }

    /// The image header (the first note).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Every note in file order, the header and checksum notes included.
    pub fn notes(&self) -> impl Iterator<Item = Note<'_>> {
        self.notes.iter().map(|n| Note {
            owner: &n.owner,
            ntype: n.ntype,
            desc: self.note_buf.get(n.desc.clone()).unwrap_or_default(),
        })
    }

    /// The descriptor of the first note with this owner and type.
    pub fn find_note(&self, owner: &str, ntype: u32) -> Option<&[u8]> {
        self.notes()
            .find(|n| n.owner == owner && n.ntype == ntype)
            .map(|n| n.desc)
    }

    /// The guest-RAM extents, in file order.
    pub fn loads(&self) -> &[LoadSegment] {
        &self.loads
    }

    /// Reads a whole segment into `buf`, which must be exactly `seg.len` bytes (e.g. the
    /// kernel's direct map of the segment's physmem range).
    pub fn read_load(&self, seg: &LoadSegment, buf: &mut [u8]) -> Result<(), CkptError> {
        if buf.len() as u64 != seg.len {
            return Err(CkptError::Invalid(format!(
                "buffer of {} bytes for a PT_LOAD of {} bytes",
                buf.len(),
                seg.len
            )));
        }
        self.read_load_at(seg, 0, buf)
    }

    /// Reads `buf.len()` bytes starting `pos` bytes into a segment, for copying a large
    /// segment in pieces.
    pub fn read_load_at(
        &self,
        seg: &LoadSegment,
        pos: u64,
        buf: &mut [u8],
    ) -> Result<(), CkptError> {
        let end = pos.checked_add(buf.len() as u64);
        if end.filter(|&end| end <= seg.len).is_none() {
            return Err(CkptError::Invalid(format!(
                "read of {} bytes at {pos} is outside a PT_LOAD of {} bytes",
                buf.len(),
                seg.len
            )));
        }
        self.file
            .read_exact_at(buf, seg.offset + pos)
            .map_err(|e| Problem::Io(e).at(&self.path))
    }

    /// Size of the image file.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// The path the image was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A summary: the notes can be megabytes, not something to print.
impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("path", &self.path)
            .field("file_size", &self.file_size)
            .field("header", &self.header)
            .field("notes", &self.notes.len())
            .field("loads", &self.loads.len())
            .finish()
    }
}

/// Everything [`Image::open`] learns from the file.
struct Parsed {
    file_size: u64,
    header: Header,
    note_buf: Vec<u8>,
    notes: Vec<NoteSpan>,
    loads: Vec<LoadSegment>,
}

impl Parsed {
    fn read(file: &File) -> Result<Parsed, Problem> {
        let mut src = Source::new(file)?;
        let (phdrs, headers_end) = read_program_headers(&src)?;
        check_truncation(&src, &phdrs)?;
        // The version is checked as early as possible, before the layout rules of this
        // version are applied, so a future image gets the version message.
        let note_seg = phdrs.iter().find(|p| p.p_type == PT_NOTE);
        let note_seg = *note_seg.ok_or_else(|| Problem::Malformed("no PT_NOTE".into()))?;
        let note_buf = src.read(note_seg.p_offset, note_seg.p_filesz, "PT_NOTE")?;
        let notes = elf::parse_notes(&note_buf).map_err(Problem::Malformed)?;
        let header_desc = header_note(&notes, &note_buf)?;
        let version = peek_format_version(header_desc).map_err(Problem::Malformed)?;
        if version != FORMAT_VERSION {
            return Err(Problem::Version(version));
        }
        let loads = classify(&phdrs, headers_end)?;
        verify_checksums(&mut src, note_seg.p_offset, &notes, &note_buf, &loads)?;
        verify_padding(&mut src, &note_seg, &loads)?;
        let header =
            decode(header_desc).map_err(|e| Problem::Malformed(format!("header note: {e}")))?;
        Ok(Parsed {
            file_size: src.size,
            header,
            note_buf,
            notes,
            loads,
        })
    }
}

/// Positioned reads of the image, each checked against the file size first so that a
/// truncated file is reported as such and a huge claimed size is never allocated.
struct Source<'f> {
    file: &'f File,
    size: u64,
    scratch: Vec<u8>,
}

impl<'f> Source<'f> {
    fn new(file: &'f File) -> Result<Self, Problem> {
        let size = file.metadata()?.len();
        Ok(Source {
            file,
            size,
            scratch: Vec::new(),
        })
    }

    /// Checks that `len` bytes at `off` (called `what` in the error) are in the file.
    fn fits(&self, off: u64, len: u64, what: &str) -> Result<u64, Problem> {
        let size = self.size;
        match off.checked_add(len) {
            Some(end) if end <= size => Ok(end),
            Some(end) => Err(Problem::Truncated(format!(
                "{what} ends at {end} but file has {size} bytes"
            ))),
            None => Err(Problem::Malformed(format!(
                "{what} extends past 2^64 bytes"
            ))),
        }
    }

    fn read(&self, off: u64, len: u64, what: &str) -> Result<Vec<u8>, Problem> {
        self.fits(off, len, what)?;
        let len =
            usize::try_from(len).map_err(|_| Problem::Malformed(format!("{what} is too large")))?;
        let mut buf = vec![0; len];
        self.file.read_exact_at(&mut buf, off)?;
        Ok(buf)
    }

    /// Feeds `len` bytes at `off` to `f` in chunks (the range is already known to fit).
    fn scan(&mut self, mut off: u64, len: u64, mut f: impl FnMut(&[u8])) -> Result<(), Problem> {
        let end = off.saturating_add(len);
        self.scratch.resize(len.min(CHUNK) as usize, 0);
        while off < end {
            let n = (end - off).min(CHUNK) as usize;
            let chunk = self.scratch.get_mut(..n).unwrap_or_default();
            self.file.read_exact_at(chunk, off)?;
            f(chunk);
            off += n as u64;
        }
        Ok(())
    }

    fn hash(&mut self, off: u64, len: u64) -> Result<u64, Problem> {
        let mut h = Hasher::new();
        self.scan(off, len, |c| h.update(c))?;
        Ok(h.digest())
    }
}

/// Reads the ELF header and program headers. Returns them with the end of the header
/// area (where the notes may start).
fn read_program_headers(src: &Source) -> Result<(Vec<Phdr>, u64), Problem> {
    let head = src.read(0, src.size.min(EHDR_SIZE), "ELF header")?;
    if !elf::has_elf_magic(&head) {
        return Err(Problem::NotElf("no ELF magic".into()));
    }
    src.fits(0, EHDR_SIZE, "ELF header")?;
    let ehdr = elf::parse_ehdr(&head)?;
    let (count, shdr_end) = match ehdr.count {
        PhCount::Direct(n) => (u64::from(n), 0),
        PhCount::Extended { shoff } => {
            let shdr = src.read(shoff, SHDR_SIZE, "section header 0")?;
            let n = elf::parse_xnum_count(&shdr).unwrap_or(0);
            (u64::from(n), shoff + SHDR_SIZE)
        }
    };
    if ehdr.phoff < EHDR_SIZE {
        return Err(Problem::Malformed(
            "program headers overlap the ELF header".into(),
        ));
    }
    let table_len = count * PHDR_SIZE; // count < 2^32: cannot overflow
    let table = src.read(ehdr.phoff, table_len, "program headers")?;
    let phdrs = table
        .chunks_exact(PHDR_SIZE as usize)
        .filter_map(Phdr::parse)
        .collect();
    let end = (ehdr.phoff + table_len).max(shdr_end);
    Ok((phdrs, end))
}

/// The first segment that does not fit in the file, as a truncation.
fn check_truncation(src: &Source, phdrs: &[Phdr]) -> Result<(), Problem> {
    let mut loads = 0;
    for (i, p) in phdrs.iter().enumerate() {
        let what = match p.p_type {
            PT_NOTE => "PT_NOTE".to_string(),
            PT_LOAD => {
                loads += 1;
                format!("PT_LOAD {}", loads - 1)
            }
            _ => format!("segment {i}"),
        };
        src.fits(p.p_offset, p.p_filesz, &what)?;
    }
    Ok(())
}

/// Checks the layout the writer produces: one PT_NOTE first, after the headers, then
/// PT_LOADs on page boundaries in increasing file order, disjoint in guest memory.
/// Returns the loads.
fn classify(phdrs: &[Phdr], headers_end: u64) -> Result<Vec<LoadSegment>, Problem> {
    let bad = |s: String| Err(Problem::Malformed(s));
    let Some((&note, rest)) = phdrs.split_first() else {
        return bad("no program headers".into());
    };
    if note.p_type != PT_NOTE || note.p_offset < headers_end || note.p_offset % NOTE_ALIGN != 0 {
        return bad("the first segment is not a PT_NOTE after the program headers".into());
    }
    let mut prev_end = note.p_offset + note.p_filesz; // fits in the file: no overflow
    let mut loads = Vec::with_capacity(rest.len());
    for (i, p) in rest.iter().enumerate() {
        if p.p_type != PT_LOAD || p.p_filesz != p.p_memsz {
            return bad(format!(
                "segment {} is not a PT_LOAD with equal file and memory size",
                i + 1
            ));
        }
        if p.p_offset % PAGE_SIZE != 0 || p.p_offset < prev_end {
            return bad(format!(
                "PT_LOAD {i} at file offset {} is misplaced",
                p.p_offset
            ));
        }
        prev_end = p.p_offset + p.p_filesz;
        loads.push(LoadSegment {
            paddr: p.p_vaddr,
            offset: p.p_offset,
            len: p.p_filesz,
        });
    }
    if let Some(paddr) = elf::find_overlap(loads.iter().map(|l| (l.paddr, l.len))) {
        return bad(format!(
            "PT_LOAD at 0x{paddr:x} overlaps another in guest memory"
        ));
    }
    Ok(loads)
}

/// The descriptor of the header note, which must come first.
fn header_note<'b>(notes: &[NoteSpan], note_buf: &'b [u8]) -> Result<&'b [u8], Problem> {
    match notes.first() {
        Some(n) if n.owner == OWNER_VKERNEL && n.ntype == note_type::HEADER => {
            Ok(note_buf.get(n.desc.clone()).unwrap_or_default())
        }
        _ => Err(Problem::Malformed(
            "the first note is not the VKERNEL header".into(),
        )),
    }
}

/// Checks every part against the checksum table in the last note.
fn verify_checksums(
    src: &mut Source,
    notes_off: u64,
    notes: &[NoteSpan],
    note_buf: &[u8],
    loads: &[LoadSegment],
) -> Result<(), Problem> {
    let Some((table_note, covered)) = notes.split_last() else {
        return Err(Problem::Malformed("no notes".into()));
    };
    let is_table = |n: &NoteSpan| n.owner == OWNER_VKERNEL && n.ntype == note_type::CHECKSUMS;
    if !is_table(table_note) || covered.iter().any(is_table) {
        return Err(Problem::Malformed(
            "the last note is not the only checksum note".into(),
        ));
    }
    let counts = (u32::try_from(covered.len()), u32::try_from(loads.len()));
    let (Ok(n_notes), Ok(n_loads)) = counts else {
        return Err(Problem::Malformed("too many notes or loads".into()));
    };
    let table = note_buf.get(table_note.desc.clone()).unwrap_or_default();
    let hashes = checksum::decode_table(table, n_notes, n_loads).map_err(|e| match e {
        TableError::Corrupt => Problem::Checksum("checksum note".into()),
        TableError::Malformed(s) => Problem::Malformed(s),
    })?;
    for (part, want) in checksum::parts(n_notes, n_loads).zip(hashes) {
        let (got, what) = match part {
            Part::Headers => (
                src.hash(0, notes_off)?,
                "ELF header and program headers".to_string(),
            ),
            Part::Note(i) => note_hash(covered, note_buf, i as usize),
            Part::Load(i) => load_hash(src, loads, i as usize)?,
            Part::Table => continue,
        };
        if got != want {
            return Err(Problem::Checksum(what));
        }
    }
    Ok(())
}

/// Checksum and description of note `i`.
fn note_hash(notes: &[NoteSpan], note_buf: &[u8], i: usize) -> (u64, String) {
    let Some(n) = notes.get(i) else {
        return (0, format!("note {i}"));
    };
    let got = checksum::hash(note_buf.get(n.entry.clone()).unwrap_or_default());
    let what = match (i, note_type_name(&n.owner, n.ntype)) {
        (0, _) => "header note".to_string(),
        (_, Some(name)) => format!("note {i} ({} {name})", n.owner),
        (_, None) => format!("note {i} ({} type 0x{:x})", n.owner, n.ntype),
    };
    (got, what)
}

/// Checksum and description of load `i`.
fn load_hash(src: &mut Source, loads: &[LoadSegment], i: usize) -> Result<(u64, String), Problem> {
    let Some(l) = loads.get(i) else {
        return Ok((0, format!("PT_LOAD {i}")));
    };
    Ok((
        src.hash(l.offset, l.len)?,
        format!("PT_LOAD at 0x{:x}", l.paddr),
    ))
}

/// Checks that the bytes between segments are zero padding shorter than a page and that
/// nothing follows the last segment, so no byte of the file escapes both the checksums
/// and the structural checks.
fn verify_padding(src: &mut Source, note_seg: &Phdr, loads: &[LoadSegment]) -> Result<(), Problem> {
    let mut prev_end = note_seg.p_offset + note_seg.p_filesz;
    for l in loads {
        let gap = l.offset - prev_end; // classify() checked the order
        let mut nonzero = gap >= PAGE_SIZE;
        src.scan(prev_end, gap.min(PAGE_SIZE), |c| {
            nonzero |= c.iter().any(|&b| b != 0)
        })?;
        if nonzero {
            return Err(Problem::Malformed(format!(
                "bad padding at file offset {prev_end}"
            )));
        }
        prev_end = l.offset + l.len;
    }
    match src.size - prev_end {
        0 => Ok(()),
        extra => Err(Problem::Malformed(format!(
            "{extra} bytes after the last segment"
        ))),
    }
}
