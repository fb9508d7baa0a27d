//! The vkernel checkpoint image format.
//!
//! A checkpoint is one ELF64 core file (`ET_CORE`, `EM_X86_64`) so that standard tools
//! (`readelf -a`, gdb) can look inside it:
//!
//! ```text
//! ELF header | program headers | [section header 0, only with > 65534 segments]
//! PT_NOTE:  VKERNEL header note, caller notes (CORE prstatus, VKERNEL state, ...),
//!           VKERNEL checksum note (always last)
//! PT_LOAD:  one per guest-physical extent, each starting on a 4096-byte file boundary
//! ```
//!
//! The crate knows nothing of ptrace or kernel internals: the kernel hands it opaque note
//! payloads (bincode, see [`encode`]/[`decode`]) and borrowed slices of guest RAM, and gets
//! them back from [`Image`]. Every byte of the file is covered: the checksum note holds an
//! xxh3-64 of the ELF/program headers, of every other note entry and of every PT_LOAD, plus
//! one of itself; padding between segments must be zero. [`Image::open`] refuses anything
//! else with a one-line [`CkptError`].

mod checksum;
mod elf;
mod error;
mod notes;
mod reader;
mod writer;

pub use error::CkptError;
pub use notes::{
    decode, encode, note_type_name, prstatus_desc, prstatus_regs, user_regs, Header, PRSTATUS_SIZE,
};
pub use reader::{Image, LoadSegment, Note};
pub use writer::ImageWriter;

/// The image layout version this crate writes and the only one it reads. Bump it whenever
/// the meaning of any note or segment changes, so an old vkernel refuses a new image with a
/// clear message instead of misreading it.
pub const FORMAT_VERSION: u32 = 3;

/// Owner name of the standard notes that gdb and readelf understand.
pub const OWNER_CORE: &str = "CORE";
/// Owner name of vkernel's own notes.
pub const OWNER_VKERNEL: &str = "VKERNEL";

/// `struct elf_prstatus`: pid and general registers of one thread (see [`prstatus_desc`]).
pub const NT_PRSTATUS: u32 = 1;
/// `struct user_fpregs_struct` (the 512-byte FXSAVE area) of one thread.
pub const NT_PRFPREG: u32 = 2;
/// The XSAVE area of one thread, as `PTRACE_GETREGSET(NT_X86_XSTATE)` returns it.
pub const NT_X86_XSTATE: u32 = 0x202;

/// Types of the notes under [`OWNER_VKERNEL`]. They start at 0x1000 so that no tool that
/// ignores the owner name mistakes them for standard `NT_*` notes.
pub mod note_type {
    /// The image header ([`crate::Header`]); always the first note, written by the crate.
    pub const HEADER: u32 = 0x1000;
    /// The kernel's own state (vmspace0): processes, files, pipes, sockets, tty.
    pub const KERNEL: u32 = 0x1001;
    /// One guest address space.
    pub const VMSPACE: u32 = 0x1002;
    /// One guest thread's kernel-side state.
    pub const THREAD: u32 = 0x1003;
    /// The console: termios, input queue.
    pub const CONSOLE: u32 = 0x1004;
    /// Network configuration.
    pub const NETWORK: u32 = 0x1005;
    /// The checksum table; always the last note, written by the crate.
    pub const CHECKSUMS: u32 = 0x10ff;
}
