//! The Linux x86-64 system call ABI as vkernel needs it: syscall numbers
//! and names ([`syscall_name`], [`nr`]), errno names and messages
//! ([`errno_name`], [`errno_desc`]), an strace-compatible formatter
//! for `vkernel boot --strace` ([`format_entry`], [`format_exit`]), and
//! Linux's x86-64 signal frame, built and read back ([`sigframe`]).
//!
//! ```
//! use abi::{format_entry, format_exit, nr, GuestMemory};
//!
//! /// A guest with one string at 0x1000; every other address is unmapped.
//! struct Guest;
//! impl GuestMemory for Guest {
//!     fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
//!         let s: &[u8] = b"/etc/passwd\0";
//!         let off = addr.checked_sub(0x1000)? as usize;
//!         s.get(off..off.checked_add(len)?).map(<[u8]>::to_vec)
//!     }
//!     fn read_cstr(&self, addr: u64, max: usize) -> Option<(Vec<u8>, bool)> {
//!         let bytes = self.read_bytes(addr, 11)?;
//!         Some((bytes[..bytes.len().min(max)].to_vec(), max < 11))
//!     }
//! }
//!
//! let args = [-100i64 as u64, 0x1000, 0o2000000, 0, 0, 0];
//! let line = format_entry(nr::OPENAT, &args, &Guest)
//!     + &format_exit(nr::OPENAT, &args, -2, &Guest);
//! assert_eq!(
//!     line,
//!     r#"openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)"#
//! );
//! ```
//!
//! The output was checked line by line against strace 6.1 tracing the same
//! programs (glibc and musl static binaries, coreutils, python). Known,
//! deliberate differences:
//!
//! - No column alignment: strace pads before ` = ` to column 40, we print
//!   one space (the caller may pad).
//! - `rt_sigreturn()`: strace shows `{mask=[...]}` read from the signal frame
//!   at the stack pointer; the formatter does not see registers.
//! - Structures not listed in [`strace::args::Arg`] print as hex pointers
//!   (fd_sets, msghdr, sysinfo, statfs, sigevent, siginfo, utimensat times,
//!   open_how, sched attributes, rusage, ...), where strace decodes them.
//! - ioctl: only terminal and a few file requests are named; others print
//!   as `_IOC(dir, type, nr, size)` (strace knows many driver ioctls and
//!   prints ambiguous numbers as `SNDCTL_TMR_START or TCSETS`; we print `TCSETS`).
//! - prctl: common options are decoded; others print their four arguments
//!   in hex, and capability numbers stay numbers. FUTEX_WAKE_OP's encoded
//!   operation is printed in hex.
//! - Result decorations beyond fcntl's flags and poll's revents
//!   (e.g. `= 17 (SIGCHLD)` for rt_sigtimedwait) are not printed.

pub mod errno;
pub mod sigframe;
pub mod strace;
pub mod syscalls;

pub use errno::{errno_desc, errno_name, errno_number};
pub use strace::flags::signal as signal_name;
pub use strace::{format_entry, format_exit, is_error, GuestMemory};
pub use syscalls::{all_syscalls, nr, syscall_arg_count, syscall_name, syscall_number};
