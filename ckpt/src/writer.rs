//! Writing an image in one pass over guest RAM. The layout is computed from sizes alone,
//! so every offset is known before the first byte is written. The bytes are then streamed
//! out in file order and every part is hashed as it goes by; guest RAM is hashed and
//! written straight from the borrowed slices, a cache-sized chunk at a time, so each byte
//! is read from memory once and never copied. The checksum note comes before the loads it
//! covers, so its descriptor (whose size the layout fixes) goes out as zeros and is
//! patched in place once the last load has been hashed.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::checksum::{self, Hasher};
use crate::elf::{self, NoteRef, Phdr, PAGE_SIZE, ZEROS};
use crate::error::CkptError;
use crate::notes::{encode, Header};
use crate::{note_type, OWNER_VKERNEL};

/// Guest RAM is hashed and written in chunks of this size: small enough to stay in the
/// L2 cache between hashing and writing, large enough that a write(2) per chunk costs
/// nothing. It is also the write buffer's size, so these chunks bypass the buffer.
const CHUNK: usize = 256 << 10;

/// Collects the notes and guest-RAM extents of one checkpoint and writes them as an image.
///
/// Notes are owned (the kernel serializes its state into them); loads borrow guest RAM,
/// which may be hundreds of MiB and must not be copied. The borrowed memory must not
/// change while the image is written (the kernel keeps the guest frozen), or the bytes
/// written could differ from the bytes hashed.
pub struct ImageWriter<'a> {
    header: Header,
    notes: Vec<(String, u32, Vec<u8>)>,
    loads: Vec<(u64, &'a [u8])>,
}

/// Everything computed before the first byte is written.
struct Layout {
    header_desc: Vec<u8>,
    /// ELF header, program headers (and section header 0 for extended numbering).
    headers: Vec<u8>,
    /// Zeros of the checksum note's descriptor size: what is written in its place.
    blank_table: Vec<u8>,
    /// File offset of the checksum note's descriptor, where the table is patched in.
    table_off: u64,
    /// How many notes (header + caller's) and loads the table covers.
    covered: u32,
    loads: u32,
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
    /// (mode 0600: it holds all guest memory), the checksum table is patched in with a
    /// positioned write, the file is fsynced and renamed over `path`, then the directory
    /// is fsynced so the rename itself is durable. On any error the temporary file is
    /// removed and `path` is untouched. Returns the image size.
    pub fn write_atomic(&self, path: &Path) -> Result<u64, CkptError> {
        let layout = self.layout()?;
        let io_err = |source| CkptError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(io_err)?;
        let file = tmp.as_file();
        let table = self
            .stream(&layout, &mut BufWriter::with_capacity(CHUNK, file))
            .map_err(io_err)?;
        file.write_all_at(&table, layout.table_off)
            .map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        tmp.persist(path).map_err(|e| io_err(e.error))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
        Ok(layout.file_size)
    }

    /// Writes the whole image to `w` from its current position, in one pass but for the
    /// checksum table, which is patched in by seeking back; leaves `w` at the image's end
    /// and flushed. Returns the image size.
    pub fn write_to<W: Write + Seek>(&self, mut w: W) -> Result<u64, CkptError> {
        let layout = self.layout()?;
        let mut write = || {
            let start = w.stream_position()?;
            let table = self.stream(&layout, &mut w)?;
            w.seek(SeekFrom::Start(start + layout.table_off))?;
            w.write_all(&table)?;
            w.seek(SeekFrom::Start(start + layout.file_size))?;
            w.flush()
        };
        write().map_err(CkptError::Write)?;
        Ok(layout.file_size)
    }

    /// Validates the input and lays the file out.
    fn layout(&self) -> Result<Layout, CkptError> {
        self.validate()?;
        let header_desc = encode(&self.header)?;
        let (covered, loads) = self.counts()?;
        let blank_table = vec![0; checksum::table_len(covered, loads)];
        let (notes, table_note) = self.note_refs(&header_desc, &blank_table);
        let covered_len: u64 = notes.iter().map(NoteRef::entry_len).sum();
        let (phdrs, file_size) = self.place(covered_len + table_note.entry_len())?;
        let headers = elf::encode_headers(&phdrs).map_err(CkptError::Invalid)?;
        let mut segments = phdrs.iter().map(|p| (p.p_offset, p.p_offset + p.p_filesz));
        let (notes_off, notes_end) = segments.next().unwrap_or_default();
        Ok(Layout {
            table_off: notes_off + covered_len + table_note.desc_pos(),
            header_desc,
            headers,
            blank_table,
            covered,
            loads,
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

    /// The notes the checksum table covers, in file order (the header, then the
    /// caller's), and the checksum note that follows them with `table` as its descriptor.
    fn note_refs<'s>(
        &'s self,
        header_desc: &'s [u8],
        table: &'s [u8],
    ) -> (Vec<NoteRef<'s>>, NoteRef<'s>) {
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
        (std::iter::once(header).chain(user).collect(), checksums)
    }

    /// Program headers and total file size: `notes_len` bytes of notes right after the
    /// headers, each load on the next page boundary after the previous segment.
    fn place(&self, notes_len: u64) -> Result<(Vec<Phdr>, u64), CkptError> {
        let too_big = || CkptError::Invalid("image larger than 2^64 bytes".into());
        let notes_off = elf::headers_len(1 + self.loads.len());
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

    /// Streams the image to `w` in file order, with the checksum table's place zeroed,
    /// hashing every part on the way; flushes `w` and returns the encoded table.
    fn stream<W: Write>(&self, layout: &Layout, w: &mut W) -> io::Result<Vec<u8>> {
        let mut hashes = Vec::with_capacity(self.notes.len() + self.loads.len() + 2);
        w.write_all(&layout.headers)?;
        hashes.push(checksum::hash(&layout.headers));
        let (notes, table_note) = self.note_refs(&layout.header_desc, &layout.blank_table);
        for note in &notes {
            let mut h = Hasher::new();
            note.for_each_piece(|p| {
                h.update(p);
                w.write_all(p)
            })?;
            hashes.push(h.digest());
        }
        table_note.for_each_piece(|p| w.write_all(p))?;
        let mut pos = layout.notes_end;
        for (&(_, data), &off) in self.loads.iter().zip(&layout.load_offsets) {
            write_zeros(w, off - pos)?;
            hashes.push(write_hashed(w, data)?);
            pos = off + data.len() as u64;
        }
        w.flush()?;
        let parts: Vec<_> = checksum::parts(layout.covered, layout.loads)
            .zip(hashes)
            .collect();
        Ok(checksum::encode_table(&parts))
    }
}

/// Writes `data` and returns its checksum, hashing each chunk just before writing it so
/// the chunk is read from memory once.
fn write_hashed<W: Write>(w: &mut W, data: &[u8]) -> io::Result<u64> {
    let mut h = Hasher::new();
    for chunk in data.chunks(CHUNK) {
        h.update(chunk);
        w.write_all(chunk)?;
    }
    Ok(h.digest())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_hashed_in_chunks_has_the_checksum_of_the_whole() {
        for len in [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i ^ i >> 9) as u8).collect();
            let mut out = Vec::new();
            let h = write_hashed(&mut out, &data).unwrap();
            assert_eq!(h, checksum::hash(&data), "{len} bytes");
            assert!(out == data, "{len} bytes");
        }
    }
}
