//! The checksum table: the descriptor of the last note (VKERNEL, `CHECKSUMS`).
//!
//! It is an array of 16-byte little-endian records `{ kind: u32, index: u32, xxh3: u64 }`
//! in a fixed order: the bytes before the note segment (ELF header, program headers), every
//! note entry before this one (header, name, descriptor and padding, so a changed owner or
//! type is caught too), every PT_LOAD's bytes, and finally a record hashing the table itself.
//! Records are fixed-size raw integers rather than bincode because the table's size must be
//! known before the program headers it covers are written: the headers give the notes'
//! total size, and a varint encoding would make that size depend on the hash values. The
//! fixed size is also what lets the writer reserve the table's place and fill it in after
//! the loads that follow it have been written.

use xxhash_rust::xxh3::xxh3_64;

pub(crate) use xxhash_rust::xxh3::Xxh3 as Hasher;

/// Size of one record.
const RECORD_SIZE: usize = 16;

/// What a record covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// Everything before the note segment: ELF header, program headers, section header 0.
    Headers,
    /// The note entry with this index in the note segment.
    Note(u32),
    /// The PT_LOAD with this index among the loads.
    Load(u32),
    /// The table itself, up to this record's hash.
    Table,
}

impl Part {
    fn code(self) -> (u32, u32) {
        match self {
            Part::Headers => (1, 0),
            Part::Note(i) => (2, i),
            Part::Load(i) => (3, i),
            Part::Table => (4, 0),
        }
    }
}

/// The parts an image with `notes` covered notes and `loads` loads has records for, in
/// table order, without the table's own record.
pub(crate) fn parts(notes: u32, loads: u32) -> impl Iterator<Item = Part> {
    std::iter::once(Part::Headers)
        .chain((0..notes).map(Part::Note))
        .chain((0..loads).map(Part::Load))
}

/// Size of the table for `notes` covered notes and `loads` loads.
pub(crate) fn table_len(notes: u32, loads: u32) -> usize {
    RECORD_SIZE * (notes as usize + loads as usize + 2)
}

/// xxh3-64 of a buffer.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// Encodes records for `hashes` (in [`parts`] order) and appends the table's own record.
pub(crate) fn encode_table(hashes: &[(Part, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_SIZE * (hashes.len() + 1));
    for &(part, h) in hashes {
        push_record(&mut out, part, h);
    }
    let (kind, index) = Part::Table.code();
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    let own = hash(&out);
    out.extend_from_slice(&own.to_le_bytes());
    out
}

fn push_record(out: &mut Vec<u8>, part: Part, h: u64) {
    let (kind, index) = part.code();
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
}

/// Why a table could not be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TableError {
    /// The table's own checksum does not match: its bytes were changed.
    Corrupt,
    /// The table is intact but does not describe this image's parts.
    Malformed(String),
}

/// Decodes a table for an image with `notes` covered notes and `loads` loads, returning one
/// hash per part in [`parts`] order. The table's own record is checked first, so damage
/// inside the table is reported as such rather than as a mismatch somewhere else.
pub(crate) fn decode_table(desc: &[u8], notes: u32, loads: u32) -> Result<Vec<u64>, TableError> {
    let want = table_len(notes, loads);
    if desc.len() != want {
        return Err(TableError::Malformed(format!(
            "checksum note has {} bytes, expected {want} for {notes} notes and {loads} loads",
            desc.len()
        )));
    }
    let (covered, own) = desc.split_at_checked(want - 8).ok_or(TableError::Corrupt)?;
    if own != hash(covered).to_le_bytes() {
        return Err(TableError::Corrupt);
    }
    let mut records = covered.chunks_exact(RECORD_SIZE).map(parse_record);
    let mut hashes = Vec::with_capacity(want / RECORD_SIZE);
    for part in parts(notes, loads) {
        match records.next() {
            Some(Some((code, h))) if code == part.code() => hashes.push(h),
            _ => {
                return Err(TableError::Malformed(format!(
                    "no checksum record for {part:?}"
                )))
            }
        }
    }
    Ok(hashes)
}

fn parse_record(r: &[u8]) -> Option<((u32, u32), u64)> {
    let (kind, r) = r.split_first_chunk::<4>()?;
    let (index, r) = r.split_first_chunk::<4>()?;
    let (h, _) = r.split_first_chunk::<8>()?;
    let code = (u32::from_le_bytes(*kind), u32::from_le_bytes(*index));
    Some((code, u64::from_le_bytes(*h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let hashes: Vec<_> = parts(2, 1).zip([10, 20, 30, 40]).collect();
        encode_table(&hashes)
    }

    #[test]
    fn round_trip() {
        let t = sample();
        assert_eq!(t.len(), table_len(2, 1));
        assert_eq!(decode_table(&t, 2, 1), Ok(vec![10, 20, 30, 40]));
    }

    #[test]
    fn any_flipped_byte_is_corrupt() {
        let t = sample();
        for i in 0..t.len() {
            let mut bad = t.clone();
            bad[i] ^= 0x10;
            assert_eq!(
                decode_table(&bad, 2, 1),
                Err(TableError::Corrupt),
                "byte {i}"
            );
        }
    }

    #[test]
    fn wrong_shape_is_malformed() {
        let t = sample();
        assert!(matches!(
            decode_table(&t, 1, 2),
            Err(TableError::Malformed(_))
        ));
        assert!(matches!(
            decode_table(&t, 3, 1),
            Err(TableError::Malformed(_))
        ));
    }
}
