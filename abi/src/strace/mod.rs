//! strace-style rendering of guest system calls for `vkernel boot --strace`.
//!
//! A call is printed in two pieces so the kernel can emit the entry before
//! the call blocks: [`format_entry`] renders the name and every argument
//! known at entry; [`format_exit`] renders the arguments the kernel fills
//! in (read buffers, stat structs, ...) and the result. Concatenated they
//! give the line strace would print. Which argument is which kind comes
//! from the single syscall table in [`crate::syscalls`].

pub mod args;
pub mod escape;
pub mod flags;
mod special;
mod structs;

use crate::errno::{errno_desc, errno_name, is_restart_code};
use crate::syscalls::{lookup, SyscallDef};
use args::{Arg, Ret};

/// strace's default `-s 32`: longer strings and buffers are cut and marked `...`.
pub const MAX_STRLEN: usize = 32;
/// Paths are printed whole (strace limits them only to PATH_MAX).
pub const PATH_MAX: usize = 4096;

/// The guest's memory as the tracer sees it. Reads may fail (unmapped or
/// bad pointer): the formatter then prints the pointer in hex, as strace does.
pub trait GuestMemory {
    /// Read exactly `len` bytes at `addr`, or `None` if any byte is unreadable.
    fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>>;
    /// Read a NUL-terminated string of at most `max` bytes: the bytes before
    /// the NUL, or the first `max` bytes and `true` if no NUL came within `max`.
    fn read_cstr(&self, addr: u64, max: usize) -> Option<(Vec<u8>, bool)>;
}

/// One call being rendered: its arguments, its result once known, and the
/// guest memory to decode pointers from.
pub(crate) struct Call<'a> {
    pub args: &'a [u64; 6],
    pub ret: Option<i64>,
    pub mem: &'a dyn GuestMemory,
}

/// Linux reserves -4095..=-1 for error returns; anything else is a value.
pub fn is_error(ret: i64) -> bool {
    (-4095..=-1).contains(&ret)
}

impl Call<'_> {
    /// The call has returned an error (so output buffers were not filled).
    pub fn failed(&self) -> bool {
        self.ret.is_some_and(is_error)
    }

    /// The successful result, if the call has returned one.
    pub fn ok(&self) -> Option<i64> {
        self.ret.filter(|r| !is_error(*r))
    }

    /// Read exactly `len` bytes; a short answer counts as unreadable.
    pub fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        if addr == 0 {
            return None;
        }
        self.mem.read_bytes(addr, len).filter(|b| b.len() == len)
    }

    pub fn read_u64(&self, addr: u64) -> Option<u64> {
        self.read(addr, 8).map(|b| le(&b, 0, 8))
    }

    pub fn read_u32(&self, addr: u64) -> Option<u32> {
        self.read(addr, 4).map(|b| le(&b, 0, 4) as u32)
    }
}

/// Little-endian unsigned integer of `size` bytes at `off`; missing bytes read as 0.
pub(crate) fn le(bytes: &[u8], off: usize, size: usize) -> u64 {
    (0..size.min(8)).fold(0, |acc, i| {
        let b = off
            .checked_add(i)
            .and_then(|j| bytes.get(j))
            .copied()
            .unwrap_or(0);
        acc | (u64::from(b) << (8 * i))
    })
}

/// `addr + off`, or `None` on wrap-around (an unreadable address anyway).
pub(crate) fn offset(addr: u64, off: u64) -> Option<u64> {
    addr.checked_add(off)
}

/// The name strace uses for `nr`: the syscall name or `syscall_0x3e8`.
fn display_name(nr: u64) -> String {
    match lookup(nr) {
        Some(def) => def.name.to_string(),
        None => format!("syscall_{nr:#x}"),
    }
}

/// Argument kinds for `nr`; unknown syscalls get six hex arguments.
fn arg_kinds(def: Option<&'static SyscallDef>) -> &'static [Arg] {
    const UNKNOWN: [Arg; 6] = [Arg::Hex; 6];
    def.map_or(&UNKNOWN, |d| d.args)
}

/// The first part of a strace line: `openat(AT_FDCWD, "/etc/passwd", O_RDONLY`.
/// Ends with `, ` when arguments decoded at exit follow, like strace's
/// `<unfinished ...>` lines.
pub fn format_entry(nr: u64, args: &[u64; 6], mem: &dyn GuestMemory) -> String {
    let call = Call {
        args,
        ret: None,
        mem,
    };
    let (entry, exit) = split(arg_kinds(lookup(nr)), args);
    let mut out = display_name(nr);
    out.push('(');
    let mut any = false;
    for &(i, kind) in &entry {
        push_part(&mut out, &mut any, kind, &kind.render(i, &call));
    }
    if any && exit.first().is_some_and(|(_, k)| !k.glued()) {
        out.push_str(", ");
    }
    out
}

/// The rest of the line: exit-decoded arguments and the result,
/// e.g. `) = 3` or `"root:x:0:0"..., 4096) = 1234`.
pub fn format_exit(nr: u64, args: &[u64; 6], ret: i64, mem: &dyn GuestMemory) -> String {
    let call = Call {
        args,
        ret: Some(ret),
        mem,
    };
    let def = lookup(nr);
    let (_, exit) = split(arg_kinds(def), args);
    let mut out = String::new();
    let mut any = false;
    for &(i, kind) in &exit {
        push_part(&mut out, &mut any, kind, &kind.render(i, &call));
    }
    out.push_str(") = ");
    out.push_str(&format_ret(def.map_or(Ret::Dec, |d| d.ret), &call));
    out
}

type Parts = Vec<(usize, Arg)>;

/// The printed arguments of this call, split where strace stops at entry:
/// at the first argument whose value only exists once the call has returned.
fn split(kinds: &[Arg], args: &[u64; 6]) -> (Parts, Parts) {
    let mut all: Parts = kinds
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, k)| k.present(args))
        .collect();
    let cut = all
        .iter()
        .position(|(_, k)| k.at_exit(args))
        .unwrap_or(all.len());
    let exit = all.split_off(cut);
    (all, exit)
}

/// Append one rendered argument, with `, ` unless it is the first or glued.
fn push_part(out: &mut String, any: &mut bool, kind: Arg, text: &str) {
    if *any && !kind.glued() {
        out.push_str(", ");
    }
    out.push_str(text);
    *any = true;
}

/// The result after `) = `: a value, `?`, or an error with its message.
fn format_ret(kind: Ret, call: &Call) -> String {
    let ret = call.ret.unwrap_or(0);
    if kind == Ret::Unreturned {
        return "?".to_string();
    }
    if is_error(ret) {
        return format_error((-ret) as i32);
    }
    match kind {
        Ret::Hex => flags::hex(ret as u64),
        Ret::Oct => flags::octal(ret as u64),
        Ret::Fcntl => special::fcntl_ret(call),
        Ret::Poll => structs::poll_ret(call),
        Ret::Dec | Ret::Unreturned => ret.to_string(),
    }
}

/// `-1 ENOENT (No such file or directory)`, or `? ERESTARTSYS (...)` for the
/// kernel-internal restart codes the guest never sees.
fn format_error(e: i32) -> String {
    let name = errno_name(e).map_or_else(|| format!("ERRNO_{e}"), str::to_string);
    let desc = errno_desc(e).map_or_else(|| format!("Unknown error {e}"), str::to_string);
    let value = if is_restart_code(e) { "?" } else { "-1" };
    format!("{value} {name} ({desc})")
}

#[cfg(test)]
mod tests;
