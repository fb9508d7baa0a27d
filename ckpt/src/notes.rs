//! Note payloads: the image header, the standard CORE prstatus layout, and the one
//! encoding (bincode 2, standard config, serde mode) that every vkernel note uses.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::CkptError;
use crate::{note_type, NT_PRFPREG, NT_PRSTATUS, NT_X86_XSTATE, OWNER_CORE, OWNER_VKERNEL};

/// The first note of every image: what wrote it and for which host and root filesystem.
/// The kernel compares `cpu_features` and `rootfs_identity` with the thawing host before
/// it restores anything.
///
/// `format_version` must stay the first field in every future version: the reader decodes
/// it alone, before anything else, to refuse an incompatible image with a clear message.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// [`crate::FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The vkernel that wrote the image (e.g. `CARGO_PKG_VERSION` plus a git hash).
    pub vkernel_version: String,
    /// Host CPU feature words the guest may have observed (e.g. CPUID leaves, XCR0);
    /// opaque to this crate.
    pub cpu_features: Vec<u64>,
    /// Identity of the root filesystem image (e.g. its size and hash); opaque to this crate.
    pub rootfs_identity: Vec<u8>,
    /// Creation time, seconds since the Unix epoch.
    pub created_secs: i64,
    /// Creation time, nanoseconds within the second.
    pub created_nanos: u32,
}

impl Header {
    /// A header for an image created now, at the current [`crate::FORMAT_VERSION`].
    pub fn now(
        vkernel_version: impl Into<String>,
        cpu_features: Vec<u64>,
        rootfs_identity: Vec<u8>,
    ) -> Header {
        let (created_secs, created_nanos) = unix_now();
        Header {
            format_version: crate::FORMAT_VERSION,
            vkernel_version: vkernel_version.into(),
            cpu_features,
            rootfs_identity,
            created_secs,
            created_nanos,
        }
    }
}

/// Current time as (seconds, nanoseconds) since the epoch; a clock before 1970 gives
/// negative seconds rather than an error.
fn unix_now() -> (i64, u32) {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => (
            -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
            0,
        ),
    }
}

/// Serializes a note payload with the encoding every vkernel note uses (bincode 2,
/// `config::standard()`, serde mode).
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, CkptError> {
    bincode::serde::encode_to_vec(v, bincode::config::standard())
        .map_err(|e| CkptError::Encode(e.to_string()))
}

/// Deserializes a note payload written by [`encode`]. The whole slice must be one value.
///
/// bincode allocates a string or byte buffer of the length the data claims before it
/// reads the bytes, so an unbounded decode of a crafted note could try to allocate
/// exabytes. The limit is therefore tied to the payload size: a genuine value never claims
/// more than 16 bytes of memory per encoded byte (a varint u128), so the limit is the
/// smallest power of 16 above 16 × len.
pub fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, CkptError> {
    let n = b.len();
    if n <= 1 << 12 {
        decode_limited::<T, { 1 << 16 }>(b)
    } else if n <= 1 << 16 {
        decode_limited::<T, { 1 << 20 }>(b)
    } else if n <= 1 << 20 {
        decode_limited::<T, { 1 << 24 }>(b)
    } else if n <= 1 << 24 {
        decode_limited::<T, { 1 << 28 }>(b)
    } else if n <= 1 << 28 {
        decode_limited::<T, { 1 << 32 }>(b)
    } else if n <= 1 << 32 {
        decode_limited::<T, { 1 << 36 }>(b)
    } else {
        Err(CkptError::Decode(format!(
            "payload of {n} bytes is too large"
        )))
    }
}

fn decode_limited<T: DeserializeOwned, const LIMIT: usize>(b: &[u8]) -> Result<T, CkptError> {
    let config = bincode::config::standard().with_limit::<LIMIT>();
    let (value, used) = bincode::serde::decode_from_slice(b, config)
        .map_err(|e| CkptError::Decode(e.to_string()))?;
    if used != b.len() {
        return Err(CkptError::Decode(format!(
            "{} bytes left over after the value",
            b.len() - used
        )));
    }
    Ok(value)
}

/// Reads only the leading `format_version` of an encoded [`Header`], which every format
/// version keeps in place, so a newer image is refused before its layout is assumed.
pub(crate) fn peek_format_version(desc: &[u8]) -> Result<u32, String> {
    let config = bincode::config::standard().with_limit::<16>();
    bincode::serde::decode_from_slice::<u32, _>(desc, config)
        .map(|(v, _)| v)
        .map_err(|e| format!("header note: {e}"))
}

/// A human name for a note type, for error messages and inspection tools.
pub fn note_type_name(owner: &str, ntype: u32) -> Option<&'static str> {
    let name = match (owner, ntype) {
        (OWNER_CORE, NT_PRSTATUS) => "NT_PRSTATUS",
        (OWNER_CORE, NT_PRFPREG) => "NT_PRFPREG",
        (OWNER_CORE, NT_X86_XSTATE) => "NT_X86_XSTATE",
        (OWNER_VKERNEL, note_type::HEADER) => "header",
        (OWNER_VKERNEL, note_type::KERNEL) => "kernel",
        (OWNER_VKERNEL, note_type::VMSPACE) => "vmspace",
        (OWNER_VKERNEL, note_type::THREAD) => "thread",
        (OWNER_VKERNEL, note_type::CONSOLE) => "console",
        (OWNER_VKERNEL, note_type::NETWORK) => "network",
        (OWNER_VKERNEL, note_type::CHECKSUMS) => "checksums",
        _ => return None,
    };
    Some(name)
}

/// Indices into the 27 general registers of `struct user_regs_struct` (x86-64), the order
/// of `PTRACE_GETREGS` and of `pr_reg` in NT_PRSTATUS: the ABI crate's one table.
pub use abi::sigframe::reg as user_regs;

/// Size of `struct elf_prstatus` on x86-64 (include/linux/elfcore.h).
pub const PRSTATUS_SIZE: usize = 336;
/// Offset of `pr_pid`: after `pr_info` (3 ints), `pr_cursig` (short + 2 pad),
/// `pr_sigpend` and `pr_sighold` (unsigned long each).
const PR_PID_OFFSET: usize = 32;
/// Offset of `pr_reg`: after pid, ppid, pgrp, sid and four `struct timeval`s.
const PR_REG_OFFSET: usize = 112;

/// Builds the descriptor of a CORE NT_PRSTATUS note for one thread, so gdb and readelf
/// can show its registers. `regs` is in `user_regs_struct` order (see [`user_regs`]);
/// `signo` is the signal that stopped the thread (0 if none). `pr_fpvalid` is 1: every
/// x86-64 thread has FPU state, written as NT_PRFPREG next to it.
pub fn prstatus_desc(
    pid: i32,
    ppid: i32,
    pgrp: i32,
    sid: i32,
    regs: &[u64; 27],
    signo: i32,
) -> Vec<u8> {
    let mut d = Vec::with_capacity(PRSTATUS_SIZE);
    for v in [signo, 0, 0] {
        d.extend_from_slice(&v.to_le_bytes()); // pr_info: si_signo, si_code, si_errno
    }
    d.extend_from_slice(&(signo as i16).to_le_bytes()); // pr_cursig
    d.extend_from_slice(&[0; 2 + 8 + 8]); // padding, pr_sigpend, pr_sighold
    for v in [pid, ppid, pgrp, sid] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d.extend_from_slice(&[0; 4 * 16]); // pr_utime, pr_stime, pr_cutime, pr_cstime
    for r in regs {
        d.extend_from_slice(&r.to_le_bytes());
    }
    d.extend_from_slice(&1i32.to_le_bytes()); // pr_fpvalid
    d.extend_from_slice(&[0; 4]); // tail padding to 8-byte alignment
    d
}

/// The pid and registers of an NT_PRSTATUS descriptor; `None` if it is not x86-64 sized.
pub fn prstatus_regs(desc: &[u8]) -> Option<(i32, [u64; 27])> {
    if desc.len() != PRSTATUS_SIZE {
        return None;
    }
    let pid = desc
        .get(PR_PID_OFFSET..)?
        .first_chunk::<4>()
        .map(|b| i32::from_le_bytes(*b))?;
    let mut regs = [0u64; 27];
    let words = desc.get(PR_REG_OFFSET..)?.chunks_exact(8);
    for (r, w) in regs.iter_mut().zip(words) {
        *r = u64::from_le_bytes(w.try_into().ok()?);
    }
    Some((pid, regs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prstatus_matches_elfcore_layout() {
        let regs: [u64; 27] = std::array::from_fn(|i| 0x1111 * (i as u64 + 1));
        let d = prstatus_desc(42, 1, 42, 1, &regs, 11);
        assert_eq!(d.len(), PRSTATUS_SIZE);
        assert_eq!(&d[0..4], &11i32.to_le_bytes()); // si_signo
        assert_eq!(&d[12..14], &11i16.to_le_bytes()); // pr_cursig
        assert_eq!(&d[32..36], &42i32.to_le_bytes()); // pr_pid
        assert_eq!(&d[36..40], &1i32.to_le_bytes()); // pr_ppid
        assert_eq!(
            &d[112 + 16 * 8..112 + 17 * 8],
            &regs[user_regs::RIP].to_le_bytes()
        );
        assert_eq!(&d[328..332], &1i32.to_le_bytes()); // pr_fpvalid
        assert_eq!(prstatus_regs(&d), Some((42, regs)));
        assert_eq!(prstatus_regs(&d[..335]), None);
    }

    #[test]
    fn header_round_trips_and_version_leads() {
        let h = Header::now("0.1.0", vec![1, 2, u64::MAX], vec![9; 40]);
        let bytes = encode(&h).unwrap();
        assert_eq!(decode::<Header>(&bytes).unwrap(), h);
        assert_eq!(peek_format_version(&bytes), Ok(crate::FORMAT_VERSION));
    }

    #[test]
    fn decode_refuses_trailing_bytes_and_huge_claims() {
        let mut bytes = encode(&7u32).unwrap();
        bytes.push(0);
        assert!(matches!(decode::<u32>(&bytes), Err(CkptError::Decode(_))));
        // A Vec<u8> claiming 2^62 bytes: must be an error, not an allocation failure.
        let mut claim = vec![255u8];
        claim.extend_from_slice(&(1u64 << 62).to_le_bytes());
        assert!(matches!(
            decode::<Vec<u8>>(&claim),
            Err(CkptError::Decode(_))
        ));
        assert!(matches!(
            decode::<String>(&claim),
            Err(CkptError::Decode(_))
        ));
    }
}
