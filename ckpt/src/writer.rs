//! Writing an image. The layout is computed from sizes alone, then every checksum, then
//! the bytes are streamed out in file order: guest RAM is hashed and written straight from
//! the borrowed slices, never copied.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::checksum::{self, Hasher, Part};
use crate::elf::{self, NoteRef, Phdr, PAGE_SIZE, ZEROS};
use crate::error::CkptError;
use crate::notes::{encode, Header};
use crate::{note_type, OWNER_VKERNEL};

/// Collects the notes and guest-RAM extents of one checkpoint and writes them as an image.
///
/// Notes are owned (the kernel serializes its state into them); loads borrow guest RAM,
/// which may be hundreds of MiB and must not be copied. The kernel keeps the guest frozen,
/// so the borrowed memory cannot change between hashing and writing.
pub struct ImageWriter<'a> {
    header: Header,
    notes: Vec<(String, u32, Vec<u8>)>,
    loads: Vec<(u64, &'a [u8])>,
}

/// Everything computed before the first byte is written.
struct Plan {
    header_desc: Vec<u8>,
    /// ELF header, program headers (and section header 0 for extended numbering).
    headers: Vec<u8>,
    /// The checksum note's descriptor.
    table: Vec<u8>,
    notes_end: u64,
    load_offsets: Vec<u64>,
    file_size: u64,
}

impl<'a> ImageWriter<'a> {
    /// Starts an image with this header. The header is written as is, so a test can
    /// produce an image of another format version; the kernel uses [`Header::now`].
    pub fn new(header: &Header) -> Self {
        ImageWriter {
            header: header.clone(),
            notes: Vec::new(),
            loads: Vec::new(),
        }
    }

    /// Adds a note; notes keep the order they were added in, after the header note.
    /// The VKERNEL header and checksum types are reserved: writing fails if they are used.
    pub fn add_note(&mut self, owner: &str, ntype: u32, desc: Vec<u8>) {
        self.notes.push((owner.to_owned(), ntype, desc));
    }

    /// Adds the guest-physical extent at physmem offset `paddr`. Extents must not overlap.
    pub fn add_load(&mut self, paddr: u64, data: &'a [u8]) {
        self.loads.push((paddr, data));
    }

    /// Writes the whole image to `path` so that a crash or an error never destroys the
    /// previous image there: the bytes go to a temporary file in the same directory
    /// (mode 0600: it holds all guest memory), which is fsynced and renamed over `path`,
    /// then the directory is fsynced so the rename itself is durable. On any error the
    /// temporary file is removed and `path` is untouched. Returns the image size.
    pub fn write_atomic(&self, path: &Path) -> Result<u64, CkptError> {
        let plan = self.plan()?;
        let io_err = |source| CkptError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(io_err)?;
        self.write_plan(
            &plan,
            &mut BufWriter::with_capacity(1 << 20, tmp.as_file_mut()),
        )
        .map_err(io_err)?;
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(path).map_err(|e| io_err(e.error))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
        Ok(plan.file_size)
    }

    /// Writes the whole image to `w` in file order and flushes it; returns the image size.
    /// Loads are written straight from the borrowed slices.
    pub fn write_to<W: Write>(&self, mut w: W) -> Result<u64, CkptError> {
        let plan = self.plan()?;
        self.write_plan(&plan, &mut w).map_err(CkptError::Write)?;
        Ok(plan.file_size)
    }

    /// Validates the input, lays the file out and computes every checksum.
    fn plan(&self) -> Result<Plan, CkptError> {
        self.validate()?;
        let header_desc = encode(&self.header)?;
        let (covered, loads) = self.counts()?;
        // The layout depends only on sizes, so a zeroed table of the final size will do.
        let placeholder = vec![0; checksum::table_len(covered, loads)];
        let (phdrs, file_size) = self.layout(&self.note_refs(&header_desc, &placeholder))?;
        let headers = elf::encode_headers(&phdrs).map_err(CkptError::Invalid)?;
        let hashes = self.hashes(&headers, &self.note_refs(&header_desc, &[]), covered, loads);
        let mut segments = phdrs.iter().map(|p| (p.p_offset, p.p_offset + p.p_filesz));
        let notes_end = segments.next().map_or(0, |(_, end)| end);
        Ok(Plan {
            header_desc,
            headers,
            table: checksum::encode_table(&hashes),
            notes_end,
            load_offsets: segments.map(|(off, _)| off).collect(),
            file_size,
        })
    }

    /// The number of notes the checksum table covers (header + caller's) and of loads,
    /// which the table indexes with u32.
    fn counts(&self) -> Result<(u32, u32), CkptError> {
        let too_many = |what| CkptError::Invalid(format!("too many {what}"));
        let covered = u32::try_from(self.notes.len() + 1).map_err(|_| too_many("notes"))?;
        let loads = u32::try_from(self.loads.len()).map_err(|_| too_many("loads"))?;
        Ok((covered, loads))
    }

    /// Refuses what would make an unreadable image: reserved notes, notes the entry
    /// format cannot hold, and overlapping or wrapping extents.
    fn validate(&self) -> Result<(), CkptError> {
        for (owner, ntype, desc) in &self.notes {
            if owner == OWNER_VKERNEL && [note_type::HEADER, note_type::CHECKSUMS].contains(ntype) {
                return Err(CkptError::Invalid(format!(
                    "note type 0x{ntype:x} is written by ckpt itself"
                )));
            }
            NoteRef {
                owner,
                ntype: *ntype,
                desc,
            }
            .check()
            .map_err(CkptError::Invalid)?;
        }
        let extents = self.loads.iter().map(|&(paddr, d)| (paddr, d.len() as u64));
        if let Some(paddr) = elf::find_overlap(extents) {
            return Err(CkptError::Invalid(format!(
                "load at 0x{paddr:x} overlaps another or wraps"
            )));
        }
        Ok(())
    }

    /// All notes in file order: header, the caller's, then the checksum table (left out
    /// when `table` is empty, for hashing the notes it covers).
    fn note_refs<'s>(&'s self, header_desc: &'s [u8], table: &'s [u8]) -> Vec<NoteRef<'s>> {
        let header = NoteRef {
            owner: OWNER_VKERNEL,
            ntype: note_type::HEADER,
            desc: header_desc,
        };
        let user = self.notes.iter().map(|(owner, ntype, desc)| NoteRef {
            owner,
            ntype: *ntype,
            desc,
        });
        let checksums = NoteRef {
            owner: OWNER_VKERNEL,
            ntype: note_type::CHECKSUMS,
            desc: table,
        };
        let mut notes: Vec<_> = std::iter::once(header).chain(user).collect();
        if !table.is_empty() {
            notes.push(checksums);
        }
        notes
    }

    /// Program headers and total file size: notes right after the headers, each load on
    /// the next page boundary after the previous segment.
    fn layout(&self, notes: &[NoteRef<'_>]) -> Result<(Vec<Phdr>, u64), CkptError> {
        let too_big = || CkptError::Invalid("image larger than 2^64 bytes".into());
        let notes_off = elf::headers_len(1 + self.loads.len());
        let notes_len: u64 = notes.iter().map(NoteRef::entry_len).sum();
        let mut pos = notes_off + notes_len;
        let mut phdrs = Vec::with_capacity(1 + self.loads.len());
        phdrs.push(Phdr::note(notes_off, notes_len));
        for &(paddr, data) in &self.loads {
            let off = elf::align_up(pos, PAGE_SIZE).ok_or_else(too_big)?;
            phdrs.push(Phdr::load(paddr, off, data.len() as u64));
            pos = off.checked_add(data.len() as u64).ok_or_else(too_big)?;
        }
        Ok((phdrs, pos))
    }

    /// The checksum of every part, in table order.
    fn hashes(
        &self,
        headers: &[u8],
        notes: &[NoteRef<'_>],
        covered: u32,
        loads: u32,
    ) -> Vec<(Part, u64)> {
        let notes = notes.iter().map(|n| {
            let mut h = Hasher::new();
            let _infallible = n.for_each_piece(|p| {
                h.update(p);
                Ok::<_, std::convert::Infallible>(())
            });
            h.digest()
        });
        let load_hashes = self.loads.iter().map(|(_, data)| checksum::hash(data));
        let values = std::iter::once(checksum::hash(headers))
            .chain(notes)
            .chain(load_hashes);
        checksum::parts(covered, loads).zip(values).collect()
    }

    /// Streams the planned image to `w`, then flushes it.
    fn write_plan<W: Write>(&self, plan: &Plan, w: &mut W) -> io::Result<()> {
        w.write_all(&plan.headers)?;
        for note in self.note_refs(&plan.header_desc, &plan.table) {
            note.for_each_piece(|p| w.write_all(p))?;
        }
        let mut pos = plan.notes_end;
        for (&(_, data), &off) in self.loads.iter().zip(&plan.load_offsets) {
            write_zeros(w, off - pos)?;
            w.write_all(data)?;
            pos = off + data.len() as u64;
        }
        w.flush()
    }
}

/// Writes `n` zero bytes of padding.
fn write_zeros<W: Write>(w: &mut W, mut n: u64) -> io::Result<()> {
    while n > 0 {
        let chunk = n.min(ZEROS.len() as u64);
        w.write_all(ZEROS.get(..chunk as usize).unwrap_or_default())?;
        n -= chunk;
    }
    Ok(())
}
