use thiserror::Error;

/// Failures of the host machinery under the kernel. None of them is caused by a guest;
/// the kernel treats them as fatal for the affected guest process at most.
#[derive(Debug, Error)]
pub enum VprocError {
    #[error("{op}: {source}")]
    Host {
        op: &'static str,
        source: std::io::Error,
    },
    #[error("physmem size {0} is not a positive multiple of 4096 below 1 TiB")]
    BadPhysmemSize(u64),
    #[error("the zygote process is gone")]
    ZygoteGone,
    #[error("stub {tid}: unexpected stop (status {status:#x}) while {during}")]
    UnexpectedStop {
        tid: i32,
        status: i32,
        during: &'static str,
    },
    #[error("stub {tid} died while {during}")]
    StubDied { tid: i32, during: &'static str },
    #[error("host call {nr} failed in stub: errno {errno}")]
    HostCall { nr: u64, errno: i32 },
}

impl VprocError {
    /// The last OS error, tagged with the operation that failed.
    pub(crate) fn last(op: &'static str) -> Self {
        VprocError::Host {
            op,
            source: std::io::Error::last_os_error(),
        }
    }
}

/// Turns a libc return value into a Result, capturing errno.
pub(crate) fn check(op: &'static str, ret: libc::c_long) -> Result<libc::c_long, VprocError> {
    if ret < 0 {
        Err(VprocError::last(op))
    } else {
        Ok(ret)
    }
}
