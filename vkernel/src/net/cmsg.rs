//! Control messages (struct cmsghdr), as sendmsg passes them in and recvmsg hands
//! them out: Linux's CMSG_* layout on x86-64 (a 16-byte header, data padded to 8).

use nix::errno::Errno;

pub const SCM_RIGHTS: i32 = 1;
pub const SCM_CREDENTIALS: i32 = 2;
/// At most this many descriptors in one message (Linux's SCM_MAX_FD).
pub const SCM_MAX_FD: usize = 253;

/// sizeof(struct cmsghdr): cmsg_len (size_t), cmsg_level, cmsg_type.
const HDR: usize = 16;

fn align(n: usize) -> usize {
    (n + 7) & !7
}

/// CMSG_SPACE(n): a message with `n` bytes of data and its padding.
pub fn space(n: usize) -> usize {
    HDR + align(n)
}

/// One control message of a sendmsg.
#[derive(Debug, PartialEq, Eq)]
pub struct Cmsg<'a> {
    pub level: i32,
    pub ty: i32,
    pub data: &'a [u8],
}

/// Splits a sendmsg control buffer into its messages as Linux walks it
/// (for_each_cmsghdr): a header whose length is shorter than a header or runs past
/// the buffer is EINVAL; bytes too few for another header end the walk.
pub fn parse(buf: &[u8]) -> Result<Vec<Cmsg<'_>>, Errno> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len().saturating_sub(at) >= HDR {
        let word = |i: usize| &buf[at + i..at + i + 4];
        let len = u64::from_ne_bytes(buf[at..at + 8].try_into().map_err(|_| Errno::EINVAL)?);
        let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
        if len < HDR || len > buf.len() - at {
            return Err(Errno::EINVAL);
        }
        out.push(Cmsg {
            level: i32::from_ne_bytes(word(8).try_into().map_err(|_| Errno::EINVAL)?),
            ty: i32::from_ne_bytes(word(12).try_into().map_err(|_| Errno::EINVAL)?),
            data: &buf[at + HDR..at + len],
        });
        at += align(len);
    }
    Ok(out)
}

/// The control buffer recvmsg fills: messages laid out as Linux's put_cmsg does, and
/// MSG_CTRUNC when one did not fit.
pub struct CmsgOut {
    buf: Vec<u8>,
    cap: usize,
    pub truncated: bool,
}

impl CmsgOut {
    /// For a caller's buffer of `cap` bytes.
    pub fn new(cap: usize) -> CmsgOut {
        CmsgOut {
            buf: Vec::new(),
            cap,
            truncated: false,
        }
    }

    fn room(&self) -> usize {
        self.cap - self.buf.len()
    }

    /// Appends a message; one that does not fit is cut short (its cmsg_len says how
    /// much is there) and marks the buffer truncated.
    pub fn put(&mut self, level: i32, ty: i32, data: &[u8]) {
        if self.room() < HDR {
            self.truncated = true;
            return;
        }
        let mut len = HDR + data.len();
        if self.room() < len {
            self.truncated = true;
            len = self.room();
        }
        self.header(len, level, ty);
        self.buf.extend_from_slice(&data[..len - HDR]);
        let pad = space(data.len()).min(self.room() + len) - len;
        self.buf.resize(self.buf.len() + pad, 0);
    }

    fn header(&mut self, len: usize, level: i32, ty: i32) {
        self.buf.extend_from_slice(&(len as u64).to_ne_bytes());
        self.buf.extend_from_slice(&level.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
    }

    /// How many of `n` received descriptors fit (Linux's scm_detach_fds): the rest
    /// are closed, and the buffer is truncated.
    pub fn fd_room(&self, n: usize) -> usize {
        if self.room() <= HDR {
            return 0;
        }
        ((self.room() - HDR) / 4).min(n)
    }

    /// SCM_RIGHTS with the descriptors installed, of `total` received.
    pub fn put_fds(&mut self, fds: &[i32], total: usize) {
        if fds.len() < total {
            self.truncated = true;
        }
        if fds.is_empty() {
            return;
        }
        let data: Vec<u8> = fds.iter().flat_map(|fd| fd.to_ne_bytes()).collect();
        self.put(super::SOL_SOCKET, SCM_RIGHTS, &data);
    }

    /// The bytes to copy out; their length is the new msg_controllen.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        let mut out = CmsgOut::new(1024);
        out.put(level, ty, data);
        out.into_bytes()
    }

    #[test]
    fn messages_round_trip_with_linux_padding() {
        let a = msg(1, SCM_RIGHTS, &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(a.len(), space(12));
        assert_eq!(a.len(), 32);
        let both = [a.clone(), msg(1, SCM_CREDENTIALS, &[0; 12])].concat();
        let parsed = parse(&both).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].data.len(), 12);
        assert_eq!((parsed[1].level, parsed[1].ty), (1, SCM_CREDENTIALS));
        // Too short a length, or one past the end, is EINVAL; a short tail is ignored.
        let mut bad = a.clone();
        bad[0] = 8;
        assert_eq!(parse(&bad), Err(Errno::EINVAL));
        bad[0] = 64;
        assert_eq!(parse(&bad), Err(Errno::EINVAL));
        assert_eq!(parse(&[0; 10]), Ok(Vec::new()));
    }

    #[test]
    fn a_short_buffer_truncates_as_put_cmsg_and_scm_detach_fds() {
        let mut out = CmsgOut::new(20);
        assert_eq!(out.fd_room(3), 1);
        out.put_fds(&[7], 3);
        assert!(out.truncated);
        assert_eq!(out.into_bytes().len(), 20);
        let mut tiny = CmsgOut::new(12);
        tiny.put(1, SCM_CREDENTIALS, &[0; 12]);
        assert!(tiny.truncated);
        assert!(tiny.into_bytes().is_empty());
        let mut cut = CmsgOut::new(24);
        cut.put(1, SCM_CREDENTIALS, &[9; 12]);
        let b = cut.into_bytes();
        assert_eq!(b.len(), 24);
        assert_eq!(b[0], 24, "cmsg_len says what fit");
    }
}
