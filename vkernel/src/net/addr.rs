//! AF_UNIX addresses (struct sockaddr_un) as Linux reads and reports them.

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::AF_UNIX;

/// offsetof(struct sockaddr_un, sun_path): the family field before the name.
pub const SUN_PATH: usize = 2;
/// sizeof(struct sockaddr_un).
pub const SOCKADDR_UN: usize = 110;

/// A bound AF_UNIX name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnixAddr {
    /// A name in the filesystem: the path as given, up to its first NUL.
    Path(Vec<u8>),
    /// A name in the abstract namespace: every byte of sun_path the caller passed,
    /// the leading NUL included.
    Abstract(Vec<u8>),
}

/// The sa_family of a raw sockaddr (EINVAL if it is too short to have one).
pub fn family(raw: &[u8]) -> Result<i32, Errno> {
    match raw {
        [a, b, ..] => Ok(i32::from(u16::from_ne_bytes([*a, *b]))),
        _ => Err(Errno::EINVAL),
    }
}

impl UnixAddr {
    /// An address for connect, sendto and bind (Linux's unix_validate_addr): more than
    /// the family, at most a sockaddr_un, and AF_UNIX.
    pub fn parse(raw: &[u8]) -> Result<UnixAddr, Errno> {
        if raw.len() <= SUN_PATH || raw.len() > SOCKADDR_UN || family(raw)? != AF_UNIX {
            return Err(Errno::EINVAL);
        }
        let name = &raw[SUN_PATH..];
        if name[0] == 0 {
            return Ok(UnixAddr::Abstract(name.to_vec()));
        }
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        Ok(UnixAddr::Path(name[..end].to_vec()))
    }

    /// bind's address: None for the family alone, which asks for an autobind.
    pub fn parse_bind(raw: &[u8]) -> Result<Option<UnixAddr>, Errno> {
        if raw.len() == SUN_PATH && family(raw)? == AF_UNIX {
            return Ok(None);
        }
        UnixAddr::parse(raw).map(Some)
    }

    /// The sockaddr getsockname reports: a path with its terminating NUL (so a
    /// 108-byte path reports 111 bytes, as on Linux), an abstract name as bound.
    pub fn sockaddr(&self) -> Vec<u8> {
        let mut out = unnamed();
        match self {
            UnixAddr::Path(p) => {
                out.extend_from_slice(p);
                out.push(0);
            }
            UnixAddr::Abstract(n) => out.extend_from_slice(n),
        }
        out
    }
}

/// The address of an unbound AF_UNIX socket: the family alone.
pub fn unnamed() -> Vec<u8> {
    (AF_UNIX as u16).to_ne_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &[u8]) -> Vec<u8> {
        [&unnamed()[..], name].concat()
    }

    #[test]
    fn addresses_parse_and_report_as_linux() {
        assert_eq!(
            UnixAddr::parse(&raw(b"/tmp/s\0junk")),
            Ok(UnixAddr::Path(b"/tmp/s".to_vec()))
        );
        let a = UnixAddr::parse(&raw(b"\0abc")).unwrap();
        assert_eq!(a, UnixAddr::Abstract(b"\0abc".to_vec()));
        assert_eq!(a.sockaddr().len(), 6);
        assert_eq!(UnixAddr::Path(b"/s".to_vec()).sockaddr().len(), 5);
        assert_eq!(UnixAddr::parse_bind(&unnamed()), Ok(None));
        assert_eq!(UnixAddr::parse(&unnamed()), Err(Errno::EINVAL));
        assert_eq!(UnixAddr::parse(&raw(&[b'a'; 109])), Err(Errno::EINVAL));
        let mut inet = raw(b"/x");
        inet[0] = 2;
        assert_eq!(UnixAddr::parse(&inet), Err(Errno::EINVAL));
        assert_eq!(UnixAddr::parse(&[1]), Err(Errno::EINVAL));
        let long = UnixAddr::parse(&raw(&[b'a'; 108])).unwrap();
        assert_eq!(long.sockaddr().len(), 111);
    }
}
