//! vproc: the virtual machine vkernel runs on.
//!
//! * [`Physmem`]: guest RAM, one memfd divided into 4 KiB frames, mapped once into the
//!   kernel (the direct map) and piecewise into stub processes.
//! * [`Zygote`]: a single-threaded process forked before any kernel thread exists; it
//!   forks stub processes on request, so stubs never inherit kernel threads or locks.
//! * [`StubThread`]: one traced host thread running guest code under `PTRACE_SYSEMU`,
//!   with register access and host system calls injected through the trampoline.
//!
//! Nothing here knows about Linux guests' semantics; the kernel crate does.

mod error;
mod frames;
pub mod layout;
mod physmem;
mod platform;
mod regs;
pub mod trampoline;
mod zygote;

pub use error::VprocError;
pub use frames::{FrameAllocator, FrameRun};
pub use physmem::{Physmem, PAGE_SIZE};
pub use platform::{AddressSpace, FaultInfo, HostCall, Stop, StubThread};
pub use regs::{FpRegs, Regs, XState};
pub use zygote::Zygote;
