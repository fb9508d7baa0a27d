use std::sync::Arc;

use super::*;
use crate::fs::file::{FileKind, OpenFile, O_RDWR, O_WRONLY};
use crate::fs::inode::*;
use crate::fs::pipe::{pipe_inode, Ends, Pipe};
use crate::fs::save::{RestoreEnv, SavedFs, SavedKind};
use crate::fs::{Cred, Vfs};
use crate::net::{self, Paths, SavedSocket, SO_PASSCRED};
use crate::sched::testing::Idle;
use crate::sched::timer::Timers;
use crate::sched::{Block, Waker};

/// Socket nodes in the root directory of a tree.
struct InRoot<'a>(&'a Vfs);

impl Paths for InRoot<'_> {
    fn make_node(&self, path: &[u8]) -> Result<Arc<Inode>, Errno> {
        let st = InodeState::new(S_IFSOCK | 0o755, 0, 0, Body::Special);
        let root = &self.0.root;
        self.0.create(root, path, Cred::ROOT, || {
            Inode::new(next_ino(), DEV_ROOTFS, st)
        })
    }

    fn remove_node(&self, path: &[u8]) {
        let _ = self.0.remove(&self.0.root, path, false, Cred::ROOT);
    }

    fn find(&self, path: &[u8]) -> Result<Arc<Inode>, Errno> {
        let st = self.0.root.lock();
        st.dir()?.entries.get(path).cloned().ok_or(Errno::ENOENT)
    }
}

fn ctx<'a>(paths: &'a InRoot<'a>) -> Ctx<'a> {
    Ctx {
        pid: 7,
        cred: Cred::ROOT,
        paths,
    }
}

fn image(dir: &std::path::Path) -> Arc<rootfs::Image> {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/motd"), "hi").unwrap();
    let out = dir.join("root.tar");
    rootfs::write_tar(&src, &out).unwrap();
    Arc::new(rootfs::open(&out).unwrap())
}

fn raw(name: &[u8]) -> Vec<u8> {
    [&addr::unnamed()[..], name].concat()
}

fn file(s: Arc<dyn Socket>) -> Arc<OpenFile> {
    OpenFile::new(
        net::socket_inode(&*s),
        b"socket:[1]".to_vec(),
        FileKind::Socket(s),
        O_RDWR,
    )
}

fn now() -> Wait<'static> {
    static IDLE: std::sync::OnceLock<Idle> = std::sync::OnceLock::new();
    Wait::new(IDLE.get_or_init(Idle::new), true, None)
}

fn send(
    s: &dyn Socket,
    data: &[u8],
    to: Option<&[u8]>,
    rights: Vec<Arc<OpenFile>>,
    c: &Ctx,
) -> usize {
    let msg = Outgoing {
        data,
        to,
        rights,
        ..Default::default()
    };
    s.send(msg, c, &now()).unwrap()
}

fn recv(s: &dyn Socket) -> Incoming {
    s.recv(1000, 0, &now()).unwrap()
}

fn sock(f: &Arc<OpenFile>) -> Arc<dyn Socket> {
    match &f.kind {
        FileKind::Socket(s) => s.clone(),
        _ => panic!("no socket"),
    }
}

/// Every kind of socket state at once: a listener with a connection not accepted yet
/// (that has written), a stream pair with a pipe's read end in flight and one side
/// shut down, datagrams from a named and an unnamed sender waiting at an
/// abstract-named receiver.
fn world(vfs: &Vfs) -> Vec<Arc<OpenFile>> {
    let paths = InRoot(vfs);
    let c = ctx(&paths);
    let l = UnixSocket::create(SockType::Stream, 0).unwrap();
    l.bind(&raw(b"srv"), &c).unwrap();
    l.listen(4, &c).unwrap();
    let client = UnixSocket::create(SockType::Stream, 0).unwrap();
    client.connect(&raw(b"srv"), &c, &now()).unwrap();
    assert_eq!(send(&*client, b"early", None, Vec::new(), &c), 5);

    let (a, b) = UnixSocket::pair(SockType::Stream, 0, &c).unwrap();
    let pipe = Pipe::new();
    let end = |ends: Ends| {
        let kind = FileKind::Pipe {
            pipe: pipe.clone(),
            ends,
        };
        let acc = if ends.write { O_WRONLY } else { 0 };
        OpenFile::new(pipe_inode(), b"pipe:[1]".to_vec(), kind, acc)
    };
    let (pr, pw) = (end(Ends::READ), end(Ends::WRITE));
    assert_eq!(pw.write(b"piped", &Idle::new()), Ok(5));
    drop(pw);
    send(&*a, b"with a pipe", None, vec![pr], &c);
    send(&*a, b"more", None, Vec::new(), &c);
    a.shutdown(1).unwrap();
    b.common().opts().flags |= 1 << SO_PASSCRED;

    let r = UnixSocket::create(SockType::Dgram, 0).unwrap();
    r.bind(&raw(b"\0unit-test-r"), &c).unwrap();
    let s = UnixSocket::create(SockType::Dgram, 0).unwrap();
    s.bind(&raw(b"s"), &c).unwrap();
    s.common().opts().sndbuf = 65536;
    let u = UnixSocket::create(SockType::Dgram, 0).unwrap();
    send(&*s, b"one", Some(&raw(b"\0unit-test-r")), Vec::new(), &c);
    send(&*u, b"two", Some(&raw(b"\0unit-test-r")), Vec::new(), &c);
    let all: [Arc<dyn Socket>; 7] = [l, client, a, b, r, s, u];
    all.into_iter().map(file).collect()
}

fn save(vfs: &Vfs, files: &[Arc<OpenFile>]) -> (SavedFs, Vec<usize>) {
    let mut saver = vfs.saver();
    let ix = files.iter().map(|f| saver.file(f)).collect();
    (saver.finish(), ix)
}

#[test]
fn sockets_round_trip_through_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path());
    let timers = Timers::start().unwrap();
    let vfs = Vfs::boot(&image);
    let files = world(&vfs);
    let unsent = sock(&files[1]).unsent();
    assert!(unsent > 5, "the client's write charges its send buffer");
    let (saved, ix) = save(&vfs, &files);
    // The embryo, which no file holds, is saved too.
    assert_eq!(saved.sockets.len(), 8);
    let back: SavedFs = ckpt::decode(&ckpt::encode(&saved).unwrap()).unwrap();
    assert_eq!(back, saved);
    // The originals go (and give up their names) before the thaw.
    drop(files);
    drop(vfs);

    let env = RestoreEnv {
        image: &image,
        timers: &timers,
        tty: &|_| None,
    };
    let r = Vfs::restore(back, &env).unwrap();
    let files: Vec<Arc<OpenFile>> = ix.iter().map(|&i| r.file(i).unwrap()).collect();
    let vfs = r.into_vfs();
    let (again, _) = save(&vfs, &files);
    assert_eq!(
        again, saved,
        "saving the thawed sockets gives the same form"
    );
    let s = |i: usize| sock(&files[i]);
    assert_eq!(s(1).unsent(), unsent, "send buffers are charged again");
    for f in &files {
        let ino = f.inode.ino;
        assert!(proc_line(ino).is_some(), "thawed socket {ino} is listed");
    }

    // The pending connection: accepted now, with what the client wrote before.
    let e = s(0).accept(&now()).unwrap();
    assert_eq!(recv(&*e).data, b"early");
    assert_eq!(s(1).peer_name().unwrap(), raw(b"srv\0"));
    // The stream pair: the pipe end in flight still reaches its bytes, then EOF.
    let got = recv(&*s(3));
    assert_eq!(got.data, b"with a pipe", "files end a stream read");
    assert_eq!(
        got.creds,
        Some(Ucred::NOBODY),
        "SO_PASSCRED came after the send"
    );
    let mut buf = [0u8; 16];
    assert_eq!(got.rights[0].read(&mut buf, &Idle::new()), Ok(5));
    assert_eq!(&buf[..5], b"piped");
    assert_eq!(got.rights[0].read(&mut buf, &Idle::new()), Ok(0));
    assert_eq!(recv(&*s(3)).data, b"more");
    assert_eq!(recv(&*s(3)).data, b"", "end of file: the writer shut down");
    // Datagrams keep their boundaries and senders.
    let one = recv(&*s(4));
    assert_eq!((one.data, one.from), (b"one".to_vec(), Some(raw(b"s\0"))));
    let two = recv(&*s(4));
    assert_eq!((two.data, two.from), (b"two".to_vec(), None));
    assert_eq!(s(5).common().opts().sndbuf, 65536);

    // The names are held again.
    let paths = InRoot(&vfs);
    let c = ctx(&paths);
    let late = UnixSocket::create(SockType::Stream, 0).unwrap();
    assert_eq!(late.connect(&raw(b"srv"), &c, &now()), Ok(()));
    let taken = UnixSocket::create(SockType::Dgram, 0).unwrap();
    assert_eq!(
        taken.bind(&raw(b"\0unit-test-r"), &c),
        Err(Errno::EADDRINUSE)
    );
    taken.release();
    late.release();
}

#[test]
fn restore_refuses_sockets_that_name_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path());
    let timers = Timers::start().unwrap();
    let vfs = Vfs::boot(&image);
    let paths = InRoot(&vfs);
    let (a, b) = UnixSocket::pair(SockType::Stream, 0, &ctx(&paths)).unwrap();
    let files = [file(a), file(b)];
    let (good, _) = save(&vfs, &files);
    let env = RestoreEnv {
        image: &image,
        timers: &timers,
        tty: &|_| None,
    };
    let restore_err = |s: SavedFs| match Vfs::restore(s, &env) {
        Ok(_) => panic!("restored"),
        Err(e) => e.to_string(),
    };
    let mut s = good.clone();
    let SavedSocket::Unix(u) = &mut s.sockets[0] else {
        panic!("an AF_UNIX socket saved as another family");
    };
    u.peer = Some(99);
    assert!(restore_err(s).contains("socket 99"));
    let mut s = good.clone();
    if let Some(f) = s
        .files
        .iter_mut()
        .find(|f| matches!(f.kind, SavedKind::Socket(_)))
    {
        f.kind = SavedKind::Socket(42);
    }
    assert!(restore_err(s).contains("names socket 42"));
}

/// A task a checkpoint wants to park. It must not park inside a send that has moved
/// data (the re-issued call would send it again).
struct Freezing(Arc<Waker>);

impl Block for Freezing {
    fn waker(&self) -> &Arc<Waker> {
        &self.0
    }
    fn interrupted(&self) -> bool {
        panic!("parked in a call that had moved data")
    }
    fn interrupted_after_progress(&self) -> bool {
        true
    }
    fn sigpipe(&self) {}
    fn caller(&self) -> Option<(&Arc<crate::process::Thread>, &Arc<crate::process::Process>)> {
        None
    }
}

#[test]
fn a_checkpoint_ends_a_half_done_send_short() {
    let dir = tempfile::tempdir().unwrap();
    let vfs = Vfs::boot(&image(dir.path()));
    let paths = InRoot(&vfs);
    let c = ctx(&paths);
    let (a, b) = UnixSocket::pair(SockType::Stream, 0, &c).unwrap();
    let data: Vec<u8> = (0..400_000).map(|i| (i % 253) as u8).collect();
    let freezing = Freezing(Waker::new());
    let msg = Outgoing {
        data: &data,
        ..Default::default()
    };
    let n = a.send(msg, &c, &Wait::new(&freezing, false, None)).unwrap();
    let sndbuf = a.common().opts().sndbuf;
    assert!(n >= sndbuf && n < data.len(), "sent {n}");
    let got = b.recv(data.len(), crate::net::MSG_WAITALL, &now()).unwrap();
    assert_eq!(got.data, data[..n]);
    a.release();
    b.release();
}

#[test]
fn a_long_chain_of_sockets_in_flight_is_let_go_without_recursion() {
    let dir = tempfile::tempdir().unwrap();
    let vfs = Vfs::boot(&image(dir.path()));
    let paths = InRoot(&vfs);
    let c = ctx(&paths);
    // Each pair's first end carries the previous pair's second end.
    let mut carried: Option<Arc<OpenFile>> = None;
    for _ in 0..10_000 {
        let (a, b) = UnixSocket::pair(SockType::Stream, 0, &c).unwrap();
        let (fa, fb) = (file(a), file(b));
        if let Some(prev) = carried.take() {
            send(&*sock(&fa), b"x", None, vec![prev], &c);
        }
        carried = Some(fb);
        drop(fa);
    }
    // The last second end holds everything: letting it go unwinds the whole chain.
    drop(carried);
}

/// The /proc/net/unix line of the socket whose file has inode `ino`.
fn proc_line(ino: u64) -> Option<String> {
    let text = String::from_utf8(proc_net_unix()).unwrap();
    let ino = ino.to_string();
    let line = text.lines().find(|l| l.split(' ').nth(6) == Some(&ino));
    line.map(str::to_string)
}

#[test]
fn proc_net_unix_lists_live_sockets_as_linux() {
    let dir = tempfile::tempdir().unwrap();
    let vfs = Vfs::boot(&image(dir.path()));
    let paths = InRoot(&vfs);
    let c = ctx(&paths);
    let text = proc_net_unix();
    assert!(text.starts_with(b"Num       RefCount Protocol Flags    Type St Inode Path\n"));
    let l = file(UnixSocket::create(SockType::SeqPacket, 0).unwrap());
    sock(&l).bind(&raw(b"\0proc\0net"), &c).unwrap();
    sock(&l).listen(1, &c).unwrap();
    let (a, b) = UnixSocket::pair(SockType::Stream, 0, &c).unwrap();
    let (fa, fb) = (file(a), file(b));
    let line = |f: &Arc<OpenFile>| proc_line(f.inode.ino).unwrap_or_default();
    let ino = l.inode.ino;
    let want = format!("0000000000000000: 00000002 00000000 00010000 0005 01 {ino} @proc@net");
    assert_eq!(line(&l), want);
    let ino = fa.inode.ino;
    let want = format!("0000000000000000: 00000003 00000000 00000000 0001 03 {ino}");
    assert_eq!(line(&fa), want);
    drop((l, fa));
    assert_eq!(line(&fb).get(18..26), Some("00000002"), "its peer is gone");
    let ino = fb.inode.ino;
    drop(fb);
    assert_eq!(proc_line(ino), None, "released sockets are not listed");
}

/// Runs the collector until `done` (other tests' looks may be under way, or spoil
/// ours, meanwhile), for at most 5 s.
fn collect_until(done: impl Fn() -> bool) {
    for _ in 0..5000 {
        if done() {
            return;
        }
        gc::collect();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn a_socket_holding_its_own_file_is_collected() {
    let dir = tempfile::tempdir().unwrap();
    let vfs = Vfs::boot(&image(dir.path()));
    let paths = InRoot(&vfs);
    let c = ctx(&paths);
    let (a, b) = UnixSocket::pair(SockType::Stream, 0, &c).unwrap();
    let (fa, fb) = (file(a.clone()), file(b.clone()));
    send(&*b, b"yourself", None, vec![fa.clone()], &c);
    drop((fa, fb));
    assert!(b.is_closed());
    collect_until(|| a.is_closed());
    assert!(a.is_closed(), "only its own queue held it");
}

#[test]
fn a_socket_in_flight_to_a_live_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let vfs = Vfs::boot(&image(dir.path()));
    let paths = InRoot(&vfs);
    let c = ctx(&paths);
    let (a, b) = UnixSocket::pair(SockType::Stream, 0, &c).unwrap();
    let (x, y) = UnixSocket::pair(SockType::Stream, 0, &c).unwrap();
    let (fa, fb, fx, fy) = (file(a.clone()), file(b.clone()), file(x.clone()), file(y));
    // x's file waits in a's queue, a's in x's: a cycle, but a's file is still open.
    send(&*b, b"x", None, vec![fx.clone()], &c);
    send(&*sock(&fy), b"a", None, vec![fa.clone()], &c);
    drop((fx, fy, fb));
    for _ in 0..50 {
        gc::collect();
    }
    assert!(
        !a.is_closed() && !x.is_closed(),
        "a is open, and x is in its queue"
    );
    let got = recv(&*sock(&fa));
    assert_eq!(got.rights.len(), 1);
    drop((fa, got));
    collect_until(|| a.is_closed() && x.is_closed());
    assert!(a.is_closed() && x.is_closed());
}
