//! Loading a program into a fresh vmspace: static ELF (ET_EXEC and static-PIE) and the
//! initial stack with argv, envp and the auxiliary vector.

mod elf;
mod stack;

pub use elf::{load_elf, ElfImage};
pub use stack::{build_stack, Credentials};
