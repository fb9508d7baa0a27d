//! The trampoline: the only code a stub keeps after setup.
//!
//! It runs a table of host system calls and stops with `int3`:
//!
//! ```text
//! loop: test r14, r14 ; jz done
//!       mov rax,[r15] ; mov rdi,[r15+8] ; mov rsi,[r15+16] ; mov rdx,[r15+24]
//!       mov r10,[r15+32] ; mov r8,[r15+40] ; mov r9,[r15+48]
//!       syscall ; cmp rax,-4095 ; jae done
//!       add r15,56 ; dec r14 ; jmp loop
//! done: int3 ; jmp done
//! ```
//!
//! `r15` points at the table, `r14` holds the count; at the stop `rax` is the last result
//! and `r14` the number of calls not completed (nonzero means the call at index
//! `count - r14` failed with `-rax`). These host syscalls only execute when the kernel
//! resumes the stub with `PTRACE_CONT`; a guest that jumps here runs under
//! `PTRACE_SYSEMU`, so its `syscall` is trapped and emulated like any other.

/// Assembled from the listing above (GNU as, Intel syntax).
pub const CODE: [u8; 54] = [
    0x4d, 0x85, 0xf6, 0x74, 0x2e, 0x49, 0x8b, 0x07, 0x49, 0x8b, 0x7f, 0x08, 0x49, 0x8b, 0x77, 0x10,
    0x49, 0x8b, 0x57, 0x18, 0x4d, 0x8b, 0x57, 0x20, 0x4d, 0x8b, 0x47, 0x28, 0x4d, 0x8b, 0x4f, 0x30,
    0x0f, 0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x73, 0x09, 0x49, 0x83, 0xc7, 0x38, 0x49, 0xff,
    0xce, 0xeb, 0xcd, 0xcc, 0xeb, 0xfd,
];

/// Thread creation, at `THREAD_OFFSET` in the same page. The tracer sets rax and the
/// arguments of a host `clone` and resumes here; the parent stops at `int3` with the
/// new tid in rax, and the untraced child waits in pause() until a tracer adopts it:
///
/// ```text
/// entry:  syscall ; test rax,rax ; jz child
/// parent: int3 ; jmp parent
/// child:  mov eax,34 (pause) ; syscall ; jmp child
/// ```
///
/// The `syscall` at `entry` also ends a thread (rax = exit). A guest jumping here is
/// under PTRACE_SYSEMU like anywhere else and gains nothing.
pub const THREAD_CODE: [u8; 19] = [
    0x0f, 0x05, 0x48, 0x85, 0xc0, 0x74, 0x03, 0xcc, 0xeb, 0xfd, 0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f,
    0x05, 0xeb, 0xf7,
];

/// Where `THREAD_CODE` goes in the code page (after `CODE`).
pub const THREAD_OFFSET: usize = 0x40;

/// Offset of the `syscall` instruction (where a guest jumping in would land).
pub const SYSCALL_OFFSET: u64 = 0x20;

/// Bytes per table entry: number plus six arguments.
pub const ENTRY_SIZE: usize = 56;

/// Where the setup table goes inside the code page (written before it is sealed).
pub const SETUP_TABLE_OFFSET: usize = 0x100;
