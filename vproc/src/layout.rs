//! The fixed layout of a stub's address space.
//!
//! A stub keeps exactly two pages: the trampoline code and a read-only command page (a
//! physmem frame the kernel fills through its direct map). Guests may map anything else
//! below the host's user limit; the kernel refuses mappings that touch the trampoline.
//!
//! The trampoline sits 2 TiB below the top of the user address space, under the range
//! where the host randomises its stack and mmap base (1 TiB with the default 28 bits of
//! mmap randomisation), so it does not collide with the kernel's own mappings. The
//! zygote still reserves it with MAP_FIXED_NOREPLACE and fails cleanly if it is taken.

/// Where the trampoline code page lives in every stub.
pub const TRAMPOLINE_CODE: u64 = 0x7e00_0000_0000;
/// The command table of injected host calls (read-only in the stub).
pub const TRAMPOLINE_CMD: u64 = TRAMPOLINE_CODE + 0x1000;
/// End of the reserved trampoline range.
pub const TRAMPOLINE_END: u64 = TRAMPOLINE_CODE + 0x2000;
/// The highest user address of a host process with 4-level paging.
pub const HOST_USER_TOP: u64 = 0x7fff_ffff_f000;
/// Where the kernel starts placing guest mappings top-down (below the trampoline).
pub const GUEST_MMAP_TOP: u64 = TRAMPOLINE_CODE;

/// True if `[addr, addr+len)` is a range a guest may map.
pub fn guest_range_ok(addr: u64, len: u64) -> bool {
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    end <= HOST_USER_TOP && (end <= TRAMPOLINE_CODE || addr >= TRAMPOLINE_END)
}
