//! `vkernel ckpt info IMAGE [--json]`: what a checkpoint holds, for people and scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::{KernelNote, ProcessNote, ThreadSnapshot, VmspaceNote};

#[derive(Serialize)]
pub struct Summary {
    pub path: String,
    pub format_version: u32,
    pub vkernel_version: String,
    pub created_secs: i64,
    pub image_bytes: u64,
    pub notes_bytes: u64,
    pub memory_bytes: u64,
    pub memory_extents: usize,
    pub physmem_bytes: u64,
    #[serde(skip)]
    pub processes: Vec<ProcessNote>,
    #[serde(rename = "processes")]
    pub process_list: Vec<ProcessSummary>,
    pub threads: Vec<ThreadSummary>,
    pub vmspaces: Vec<VmspaceSummary>,
}

#[derive(Serialize)]
pub struct ProcessSummary {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub comm: String,
    pub cmdline: Vec<String>,
    pub state: char,
    pub vmspace: u64,
    pub tids: Vec<i32>,
    pub files: Vec<FileSummary>,
}

#[derive(Serialize)]
pub struct FileSummary {
    pub fd: i32,
    pub target: String,
    pub flags: u32,
    pub pos: u64,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn process_summary(p: &ProcessNote) -> ProcessSummary {
    ProcessSummary {
        pid: p.pid,
        ppid: p.ppid,
        pgid: p.pgid,
        sid: p.sid,
        comm: text(&p.comm),
        cmdline: p
            .cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(text)
            .collect(),
        state: p.state,
        vmspace: p.vmspace,
        tids: p.tids.clone(),
        files: p
            .files
            .iter()
            .map(|f| FileSummary {
                fd: f.fd,
                target: text(&f.target),
                flags: f.flags,
                pos: f.pos,
            })
            .collect(),
    }
}

#[derive(Serialize)]
pub struct ThreadSummary {
    pub pid: i32,
    pub tid: i32,
    pub comm: String,
    pub rip: u64,
    pub in_syscall: Option<String>,
}

#[derive(Serialize)]
pub struct VmspaceSummary {
    pub id: u64,
    pub vmas: usize,
    pub resident_bytes: u64,
    pub mapped_bytes: u64,
}

/// Reads and checks the image (checksums, version) and summarizes it.
pub fn summarize(path: &Path) -> Result<Summary, ckpt::CkptError> {
    let img = ckpt::Image::open(path)?;
    let h = img.header().clone();
    let kernel: KernelNote = decode_one(&img, ckpt::note_type::KERNEL)?;
    let mut threads = Vec::new();
    let mut vmspaces = Vec::new();
    let mut notes_bytes = 0u64;
    for n in img.notes() {
        notes_bytes += n.desc.len() as u64;
        if n.owner != ckpt::OWNER_VKERNEL {
            continue;
        }
        match n.ntype {
            ckpt::note_type::THREAD => threads.push(thread_summary(ckpt::decode(n.desc)?)),
            ckpt::note_type::VMSPACE => vmspaces.push(vmspace_summary(ckpt::decode(n.desc)?)),
            _ => {}
        }
    }
    let memory_bytes = img.loads().iter().map(|l| l.len).sum();
    Ok(Summary {
        path: path.display().to_string(),
        format_version: h.format_version,
        vkernel_version: h.vkernel_version,
        created_secs: h.created_secs,
        image_bytes: img.file_size(),
        notes_bytes,
        memory_bytes,
        memory_extents: img.loads().len(),
        physmem_bytes: kernel.physmem_bytes,
        process_list: kernel.processes.iter().map(process_summary).collect(),
        processes: kernel.processes,
        threads,
        vmspaces,
    })
}

fn decode_one<T: serde::de::DeserializeOwned>(
    img: &ckpt::Image,
    ntype: u32,
) -> Result<T, ckpt::CkptError> {
    let desc = img
        .find_note(ckpt::OWNER_VKERNEL, ntype)
        .ok_or_else(|| ckpt::CkptError::Decode(format!("no note of type {ntype:#x}")))?;
    ckpt::decode(desc)
}

fn thread_summary(t: ThreadSnapshot) -> ThreadSummary {
    ThreadSummary {
        pid: t.pid,
        tid: t.tid,
        comm: String::from_utf8_lossy(&t.comm).into_owned(),
        rip: t.regs[ckpt::user_regs::RIP],
        in_syscall: t
            .in_syscall
            .map(|nr| abi::syscall_name(nr).unwrap_or("?").to_string()),
    }
}

fn vmspace_summary(v: VmspaceNote) -> VmspaceSummary {
    VmspaceSummary {
        id: v.id,
        vmas: v.vmspace.vmas.len(),
        resident_bytes: v.vmspace.pages.len() as u64 * vproc::PAGE_SIZE,
        mapped_bytes: v.vmspace.vmas.iter().map(|m| m.end - m.start).sum(),
    }
}

/// The summary for people: the process tree, threads, memory, files, sizes.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: vkernel {} image, format {}, created at {} (Unix time)",
        s.path, s.vkernel_version, s.format_version, s.created_secs
    );
    let _ = writeln!(
        out,
        "size: {} bytes ({} of notes, {} of guest memory in {} extents; guest RAM {})",
        s.image_bytes, s.notes_bytes, s.memory_bytes, s.memory_extents, s.physmem_bytes
    );
    let _ = writeln!(out, "processes:");
    let by_pid: BTreeMap<i32, &ProcessNote> = s.processes.iter().map(|p| (p.pid, p)).collect();
    for root in s.processes.iter().filter(|p| !by_pid.contains_key(&p.ppid)) {
        tree(&mut out, s, &by_pid, root, 1);
    }
    let _ = writeln!(out, "memory:");
    for v in &s.vmspaces {
        let _ = writeln!(
            out,
            "  vmspace {}: {} VMAs, {} bytes mapped, {} bytes resident",
            v.id, v.vmas, v.mapped_bytes, v.resident_bytes
        );
    }
    out
}

fn tree(
    out: &mut String,
    s: &Summary,
    by_pid: &BTreeMap<i32, &ProcessNote>,
    p: &ProcessNote,
    depth: usize,
) {
    let pad = "  ".repeat(depth);
    let cmd = String::from_utf8_lossy(&p.cmdline).replace('\0', " ");
    let _ = writeln!(
        out,
        "{pad}{} {} [{}] {} (vmspace {})",
        p.pid,
        String::from_utf8_lossy(&p.comm),
        p.state,
        cmd.trim_end(),
        p.vmspace
    );
    for t in s.threads.iter().filter(|t| t.pid == p.pid) {
        let at = t
            .in_syscall
            .as_deref()
            .map_or(String::from("running"), |c| format!("in {c}"));
        let _ = writeln!(out, "{pad}  thread {} {} {at}", t.tid, t.comm);
    }
    for f in &p.files {
        let _ = writeln!(
            out,
            "{pad}  fd {} {} (flags {:#o}, offset {})",
            f.fd,
            String::from_utf8_lossy(&f.target),
            f.flags,
            f.pos
        );
    }
    for c in by_pid
        .values()
        .filter(|c| c.ppid == p.pid && c.pid != p.pid)
    {
        tree(out, s, by_pid, c, depth + 1);
    }
}
