//! /proc: nodes generated on demand from the kernel's process table.

use std::sync::Arc;

use nix::errno::Errno;

use super::inode::*;
use crate::net::inet::procnet::{proc_net as inet_table, ProcNet};

/// What /proc needs to know about one process.
pub struct ProcInfo {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub comm: Vec<u8>,
    pub state: char,
    pub cmdline: Vec<u8>,
    pub environ: Vec<u8>,
    pub exe: Vec<u8>,
    pub cwd: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    /// The process's threads, the main thread (tid = pid) first.
    pub tids: Vec<i32>,
    /// Threads that were given their own name (prctl PR_SET_NAME).
    pub thread_comms: Vec<(i32, Vec<u8>)>,
    pub vm_bytes: u64,
    pub rss_bytes: u64,
    pub maps: String,
    pub fds: Vec<(i32, Vec<u8>)>,
    /// The descriptor table's size (status's FDSize).
    pub fd_size: usize,
    /// (soft, hard) per RLIMIT_* resource.
    pub limits: [(u64, u64); 16],
}

/// The kernel's side of /proc.
pub trait ProcView {
    fn pids(&self) -> Vec<i32>;
    fn proc_info(&self, pid: i32) -> Option<ProcInfo>;
    fn current_pid(&self) -> i32;
    fn current_tid(&self) -> i32;
    /// The process thread `tid` belongs to, if it exists.
    fn thread_group(&self, tid: i32) -> Option<i32>;
    fn meminfo(&self) -> (u64, u64);
    /// The inode behind a process's open file (for /proc/<pid>/fd/N "magic links").
    fn fd_inode(&self, pid: i32, fd: i32) -> Option<Arc<Inode>>;
    fn uptime(&self) -> f64;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PidFile {
    Cmdline,
    Comm,
    Environ,
    Stat,
    Status,
    Maps,
    Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Global {
    Meminfo,
    Uptime,
    Loadavg,
    Cpuinfo,
    Mounts,
    Version,
    Stat,
    /// /proc/net/dev.
    NetDev,
    /// /proc/net/tcp, tcp6, udp, udp6.
    NetTcp,
    NetTcp6,
    NetUdp,
    NetUdp6,
    /// /proc/net/unix.
    NetUnix,
}

/// Whose directory a node is in: /proc/<pid> (no tid) or /proc/<pid>/task/<tid>,
/// which has the same files, seen from one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Who {
    pub pid: i32,
    pub tid: Option<i32>,
}

impl Who {
    pub fn process(pid: i32) -> Who {
        Who { pid, tid: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProcNode {
    Root,
    SelfLink,
    ThreadSelfLink,
    Pid(Who),
    File(Who, PidFile),
    Exe(Who),
    Cwd(Who),
    FdDir(Who),
    Fd(Who, i32),
    /// /proc/<pid>/task: one directory per thread.
    TaskDir(i32),
    Global(Global),
    /// /proc/net: the network's files.
    NetDir,
}

const PID_FILES: [(&str, PidFile); 7] = [
    ("cmdline", PidFile::Cmdline),
    ("comm", PidFile::Comm),
    ("environ", PidFile::Environ),
    ("stat", PidFile::Stat),
    ("status", PidFile::Status),
    ("maps", PidFile::Maps),
    ("limits", PidFile::Limits),
];

const GLOBALS: [(&str, Global); 7] = [
    ("meminfo", Global::Meminfo),
    ("uptime", Global::Uptime),
    ("loadavg", Global::Loadavg),
    ("cpuinfo", Global::Cpuinfo),
    ("mounts", Global::Mounts),
    ("version", Global::Version),
    ("stat", Global::Stat),
];

/// The /proc root, hung under `root`.
pub fn build(root: &Arc<Inode>) -> Arc<Inode> {
    mount_root_dir(ino_of(&ProcNode::Root), DEV_PROCFS, 0o555, root, b"proc")
}

/// Marks the inode number of a node in a thread's directory: its high half is the
/// tid then, not the pid.
const IN_THREAD: u64 = 1 << 31;

/// (high half, low half) of a node's inode number: the pid or tid, and its kind.
fn ino_of(node: &ProcNode) -> u64 {
    let (who, k) = match node {
        ProcNode::Root => (Who::process(0), 1),
        ProcNode::SelfLink => (Who::process(0), 2),
        ProcNode::ThreadSelfLink => (Who::process(0), 4),
        ProcNode::Pid(w) => (*w, 3),
        ProcNode::File(w, f) => (*w, 10 + *f as u64),
        ProcNode::Exe(w) => (*w, 20),
        ProcNode::Cwd(w) => (*w, 21),
        ProcNode::FdDir(w) => (*w, 22),
        ProcNode::TaskDir(p) => (Who::process(*p), 23),
        // Descriptors past 2^31 - 1000 share numbers; the links are found by body.
        ProcNode::Fd(w, fd) => (*w, (1000 + u64::from(fd.unsigned_abs())) % IN_THREAD),
        ProcNode::Global(g) => (Who::process(0), 30 + *g as u64),
        ProcNode::NetDir => (Who::process(0), 24),
    };
    let high = u64::from(who.tid.unwrap_or(who.pid).unsigned_abs());
    let thread = if who.tid.is_some() { IN_THREAD } else { 0 };
    (high << 32) | thread | k
}

fn mode_of(node: &ProcNode) -> u32 {
    match node {
        ProcNode::Root
        | ProcNode::Pid(_)
        | ProcNode::FdDir(_)
        | ProcNode::TaskDir(_)
        | ProcNode::NetDir => S_IFDIR | 0o555,
        ProcNode::SelfLink
        | ProcNode::ThreadSelfLink
        | ProcNode::Exe(_)
        | ProcNode::Cwd(_)
        | ProcNode::Fd(..) => S_IFLNK | 0o777,
        ProcNode::File(_, PidFile::Environ) => S_IFREG | 0o400,
        ProcNode::File(..) | ProcNode::Global(_) => S_IFREG | 0o444,
    }
}

/// A fresh inode for `node` (proc inodes are not cached: they reflect the moment).
fn inode_for(node: ProcNode, parent: &Arc<Inode>, name: &[u8]) -> Arc<Inode> {
    let body = if mode_of(&node) & S_IFMT == S_IFDIR {
        Body::Dir(DirData {
            entries: Default::default(),
            parent: Arc::downgrade(parent),
            name: name.to_vec(),
        })
    } else {
        Body::Proc(node.clone())
    };
    let mut st = InodeState::new(mode_of(&node), 0, 0, body);
    if let Body::Dir(_) = st.body {
        st.nlink = 2;
    }
    // Directories are recognised by their inode number (see dir_node), files and
    // links by their body.
    Inode::new(ino_of(&node), DEV_PROCFS, st)
}

/// Decodes a proc directory inode back to its node.
pub fn dir_node(inode: &Inode, view: &dyn ProcView) -> Option<ProcNode> {
    if inode.dev != DEV_PROCFS {
        return None;
    }
    let high = (inode.ino >> 32) as i32;
    let low = inode.ino & 0xffff_ffff;
    let who = if low & IN_THREAD != 0 {
        Who {
            pid: view.thread_group(high)?,
            tid: Some(high),
        }
    } else {
        Who::process(high)
    };
    Some(match low & !IN_THREAD {
        1 => ProcNode::Root,
        3 => ProcNode::Pid(who),
        22 => ProcNode::FdDir(who),
        23 => ProcNode::TaskDir(high),
        24 => ProcNode::NetDir,
        _ => return inode.proc_node(),
    })
}

/// Looks `name` up in the proc directory `dir`.
pub fn lookup(dir: &Arc<Inode>, name: &[u8], view: &dyn ProcView) -> Result<Arc<Inode>, Errno> {
    let node = dir_node(dir, view).ok_or(Errno::ENOENT)?;
    let child = child_named(&node, name, view).ok_or(Errno::ENOENT)?;
    Ok(inode_for(child, dir, name))
}

fn parse_pid(name: &[u8]) -> Option<i32> {
    std::str::from_utf8(name)
        .ok()?
        .parse()
        .ok()
        .filter(|&p: &i32| p > 0)
}

fn child_named(node: &ProcNode, name: &[u8], view: &dyn ProcView) -> Option<ProcNode> {
    let s = std::str::from_utf8(name).ok()?;
    let children = children(node, view).ok()?;
    if let Some((_, c)) = children.into_iter().find(|(n, _)| n == s) {
        return Some(c);
    }
    // Numbers are looked up directly: a pid need not be listed to exist, and a
    // descriptor is found without listing all of them.
    match node {
        ProcNode::Root => {
            let pid = parse_pid(name)?;
            view.proc_info(pid)
                .map(|_| ProcNode::Pid(Who::process(pid)))
        }
        _ => None,
    }
}

/// The files of a pid or thread directory (a thread's has no task/).
fn pid_dir(who: Who) -> Vec<(String, ProcNode)> {
    let mut v: Vec<(String, ProcNode)> = PID_FILES
        .iter()
        .map(|(n, f)| (n.to_string(), ProcNode::File(who, *f)))
        .collect();
    v.push(("exe".into(), ProcNode::Exe(who)));
    v.push(("cwd".into(), ProcNode::Cwd(who)));
    v.push(("fd".into(), ProcNode::FdDir(who)));
    if who.tid.is_none() {
        v.push(("task".into(), ProcNode::TaskDir(who.pid)));
    }
    v
}

/// A directory's entries, by name.
fn children(node: &ProcNode, view: &dyn ProcView) -> Result<Vec<(String, ProcNode)>, Errno> {
    let info = |pid: i32| view.proc_info(pid).ok_or(Errno::ENOENT);
    Ok(match node {
        ProcNode::Root => {
            let mut v: Vec<(String, ProcNode)> = vec![
                ("self".into(), ProcNode::SelfLink),
                ("thread-self".into(), ProcNode::ThreadSelfLink),
                ("net".into(), ProcNode::NetDir),
            ];
            v.extend(
                GLOBALS
                    .iter()
                    .map(|(n, g)| (n.to_string(), ProcNode::Global(*g))),
            );
            v.extend(
                view.pids()
                    .into_iter()
                    .map(|p| (p.to_string(), ProcNode::Pid(Who::process(p)))),
            );
            v
        }
        ProcNode::Pid(who) => pid_dir(*who),
        ProcNode::NetDir => [
            ("dev", Global::NetDev),
            ("tcp", Global::NetTcp),
            ("tcp6", Global::NetTcp6),
            ("udp", Global::NetUdp),
            ("udp6", Global::NetUdp6),
            ("unix", Global::NetUnix),
        ]
        .map(|(n, g)| (n.to_string(), ProcNode::Global(g)))
        .to_vec(),
        ProcNode::TaskDir(pid) => info(*pid)?
            .tids
            .into_iter()
            .map(|tid| {
                let who = Who {
                    pid: *pid,
                    tid: Some(tid),
                };
                (tid.to_string(), ProcNode::Pid(who))
            })
            .collect(),
        ProcNode::FdDir(who) => info(who.pid)?
            .fds
            .iter()
            .map(|(fd, _)| (fd.to_string(), ProcNode::Fd(*who, *fd)))
            .collect(),
        _ => return Err(Errno::ENOTDIR),
    })
}

/// Directory listing: (name, inode number, mode).
pub fn readdir(dir: &Inode, view: &dyn ProcView) -> Result<Vec<(Vec<u8>, u64, u32)>, Errno> {
    let node = dir_node(dir, view).ok_or(Errno::ENOTDIR)?;
    Ok(children(&node, view)?
        .into_iter()
        .map(|(n, c)| (n.into_bytes(), ino_of(&c), mode_of(&c)))
        .collect())
}

pub fn readlink(node: &ProcNode, view: &dyn ProcView) -> Result<Vec<u8>, Errno> {
    let info = |w: &Who| view.proc_info(w.pid).ok_or(Errno::ENOENT);
    match node {
        ProcNode::SelfLink => Ok(view.current_pid().to_string().into_bytes()),
        ProcNode::ThreadSelfLink => {
            Ok(format!("{}/task/{}", view.current_pid(), view.current_tid()).into_bytes())
        }
        ProcNode::Exe(w) => Ok(info(w)?.exe),
        ProcNode::Cwd(w) => Ok(info(w)?.cwd),
        ProcNode::Fd(w, fd) => info(w)?
            .fds
            .into_iter()
            .find(|(f, _)| f == fd)
            .map(|(_, p)| p)
            .ok_or(Errno::ENOENT),
        _ => Err(Errno::EINVAL),
    }
}

/// The bytes of a proc file, generated now.
pub fn content(node: &ProcNode, view: &dyn ProcView) -> Result<Vec<u8>, Errno> {
    match node {
        ProcNode::File(w, f) => {
            let info = view.proc_info(w.pid).ok_or(Errno::ESRCH)?;
            if w.tid.is_some_and(|tid| !info.tids.contains(&tid)) {
                return Err(Errno::ESRCH);
            }
            Ok(pid_file(&info, w.tid.unwrap_or(w.pid), *f))
        }
        ProcNode::Global(g) => Ok(global(*g, view)),
        _ => Err(Errno::EINVAL),
    }
}

/// A file of a pid directory, or of thread `tid`'s directory (the process's own
/// files name the main thread, whose tid is the pid).
fn pid_file(i: &ProcInfo, tid: i32, f: PidFile) -> Vec<u8> {
    let own = i.thread_comms.iter().find(|(t, _)| *t == tid);
    let comm = String::from_utf8_lossy(own.map_or(&i.comm, |(_, c)| c));
    match f {
        PidFile::Cmdline => i.cmdline.clone(),
        PidFile::Environ => i.environ.clone(),
        PidFile::Comm => format!("{comm}\n").into_bytes(),
        PidFile::Maps => i.maps.clone().into_bytes(),
        PidFile::Limits => limits_text(&i.limits).into_bytes(),
        PidFile::Stat => stat_line(i, tid, &comm).into_bytes(),
        PidFile::Status => format!(
            "Name:\t{comm}\nUmask:\t0022\nState:\t{} ({})\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\n\
             TracerPid:\t0\nUid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{g}\t{g}\t{g}\t{g}\nFDSize:\t{}\n\
             VmSize:\t{} kB\nVmRSS:\t{} kB\nThreads:\t{}\n",
            i.state,
            state_name(i.state),
            i.pid,
            tid,
            i.ppid,
            i.fd_size,
            i.vm_bytes / 1024,
            i.rss_bytes / 1024,
            i.tids.len(),
            u = i.uid,
            g = i.gid,
        )
        .into_bytes(),
    }
}

/// Linux's names and units of the RLIMIT_* resources, in their order.
const LIMIT_NAMES: [(&str, &str); 16] = [
    ("Max cpu time", "seconds"),
    ("Max file size", "bytes"),
    ("Max data size", "bytes"),
    ("Max stack size", "bytes"),
    ("Max core file size", "bytes"),
    ("Max resident set", "bytes"),
    ("Max processes", "processes"),
    ("Max open files", "files"),
    ("Max locked memory", "bytes"),
    ("Max address space", "bytes"),
    ("Max file locks", "locks"),
    ("Max pending signals", "signals"),
    ("Max msgqueue size", "bytes"),
    ("Max nice priority", ""),
    ("Max realtime priority", ""),
    ("Max realtime timeout", "us"),
];

/// /proc/<pid>/limits, column for column as Linux's proc_pid_limits.
fn limits_text(limits: &[(u64, u64); 16]) -> String {
    let value = |v: u64| match v {
        libc::RLIM64_INFINITY => "unlimited".to_string(),
        v => v.to_string(),
    };
    let mut s = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for ((name, unit), &(soft, hard)) in LIMIT_NAMES.iter().zip(limits) {
        s += &format!("{name:<25} {:<20} {:<20} ", value(soft), value(hard));
        // Linux pads a unit to 10 columns and prints nothing for none.
        if !unit.is_empty() {
            s += &format!("{unit:<10}");
        }
        s.push('\n');
    }
    s
}

fn state_name(s: char) -> &'static str {
    match s {
        'R' => "running",
        'S' => "sleeping",
        'T' => "stopped",
        'Z' => "zombie",
        _ => "unknown",
    }
}

/// /proc/<pid>/stat: the 52 fields busybox ps and top read.
fn stat_line(i: &ProcInfo, tid: i32, comm: &str) -> String {
    let mut f: Vec<String> = vec![
        tid.to_string(),
        format!("({comm})"),
        i.state.to_string(),
        i.ppid.to_string(),
        i.pgid.to_string(),
        i.sid.to_string(),
    ];
    // tty_nr .. : zeros except vsize (23), rss (24, pages) and num_threads (20).
    f.extend((7..=52).map(|n| match n {
        20 => i.tids.len().to_string(),
        23 => i.vm_bytes.to_string(),
        24 => (i.rss_bytes / 4096).to_string(),
        _ => "0".into(),
    }));
    f.join(" ") + "\n"
}

/// A file of /proc or /proc/net (text, but for the socket names of /proc/net/unix,
/// which are bytes).
fn global(g: Global, view: &dyn ProcView) -> Vec<u8> {
    let text = match g {
        Global::Meminfo => {
            let (total, free) = view.meminfo();
            format!(
                "MemTotal:\t{} kB\nMemFree:\t{} kB\nMemAvailable:\t{} kB\nBuffers:\t0 kB\nCached:\t0 kB\n\
                 SwapTotal:\t0 kB\nSwapFree:\t0 kB\nShmem:\t0 kB\n",
                total / 1024,
                free / 1024,
                free / 1024
            )
        }
        Global::Uptime => {
            let up = view.uptime();
            format!("{up:.2} {up:.2}\n")
        }
        Global::Loadavg => format!(
            "0.00 0.00 0.00 1/{} {}\n",
            view.pids().len(),
            view.pids().last().unwrap_or(&1)
        ),
        Global::Cpuinfo => cpuinfo(),
        Global::Mounts => {
            "rootfs / rootfs rw 0 0\ndevtmpfs /dev devtmpfs rw 0 0\nproc /proc proc rw 0 0\n".into()
        }
        Global::Version => format!(
            "Linux version 6.1.0-vkernel ({})\n",
            env!("CARGO_PKG_VERSION")
        ),
        Global::Stat => kernel_stat(view),
        Global::NetDev => crate::net::iface::interfaces().proc_net_dev(),
        Global::NetTcp => inet_table(ProcNet::Tcp),
        Global::NetTcp6 => inet_table(ProcNet::Tcp6),
        Global::NetUdp => inet_table(ProcNet::Udp),
        Global::NetUdp6 => inet_table(ProcNet::Udp6),
        Global::NetUnix => return crate::net::unix::proc_net_unix(),
    };
    text.into_bytes()
}

/// /proc/stat: CPU time lines (the guest's view: everything not yet charged to a
/// guest is idle), boot time and process counts, as top and ps read them.
fn kernel_stat(view: &dyn ProcView) -> String {
    let ticks = (view.uptime() * 100.0) as u64;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut s = format!("cpu  0 0 0 {} 0 0 0 0 0 0\n", ticks * cpus as u64);
    for c in 0..cpus {
        s += &format!("cpu{c} 0 0 0 {ticks} 0 0 0 0 0 0\n");
    }
    let boot = crate::host::clock(libc::CLOCK_REALTIME).0 - view.uptime() as i64;
    let procs = view.pids().len();
    s + &format!(
        "intr 0\nctxt 0\nbtime {boot}\nprocesses {procs}\nprocs_running 1\nprocs_blocked 0\n"
    )
}

fn cpuinfo() -> String {
    // The host's CPUs as guests see them: same model, same count.
    std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_laid_out_as_linux_does() {
        const INF: u64 = libc::RLIM64_INFINITY;
        let mut limits = [(INF, INF); 16];
        limits[libc::RLIMIT_NOFILE as usize] = (20000, 20000);
        limits[libc::RLIMIT_NICE as usize] = (0, 0);
        let text = limits_text(&limits);
        let lines: Vec<&str> = text.lines().collect();
        // From a host's /proc/self/limits.
        assert_eq!(
            lines[0],
            "Limit                     Soft Limit           Hard Limit           Units     "
        );
        assert_eq!(
            lines[1],
            "Max cpu time              unlimited            unlimited            seconds   "
        );
        assert_eq!(
            lines[8],
            "Max open files            20000                20000                files     "
        );
        assert_eq!(
            lines[14],
            "Max nice priority         0                    0                    "
        );
        assert_eq!(lines.len(), 17);
    }
}
