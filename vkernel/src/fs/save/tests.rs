use std::path::Path;

use super::*;
use crate::fs::devpts::{SavedTtys, Ttys};
use crate::fs::epoll::{EPOLLET, EPOLLIN};
use crate::fs::event::{TimerFdState, TimerSpec};
use crate::fs::fdtable::{FdEntry, FdTable, SavedFdTable, NR_OPEN};
use crate::fs::file::{O_PATH, O_RDWR};
use crate::fs::lock::{Kind, Lock};
use crate::fs::pipe::pipe_inode;
use crate::fs::procfs::Global;
use crate::fs::tty::TtyHost;
use crate::fs::Cred;
use crate::sched::testing::Idle;

struct NoHost;

impl TtyHost for NoHost {
    fn signal_group(&self, _: i32, _: i32) {}
    fn hangup(&self, _: TtyId, _: i32, _: Option<i32>) {}
    fn pty_closed(&self, _: u32) {}
    fn deliver_input(&self, deliver: &mut dyn FnMut()) {
        deliver();
    }
}

const MOTD: &[u8] = b"hello from the image\n";

/// A tiny root image: /etc/motd (hard-linked as /etc/issue), /etc/link -> motd,
/// /bin/data.
fn image_in(dir: &Path, extra: &str) -> Arc<rootfs::Image> {
    let src = dir.join(format!("src{extra}"));
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::create_dir_all(src.join("bin")).unwrap();
    std::fs::write(src.join("etc/motd"), [MOTD, extra.as_bytes()].concat()).unwrap();
    std::fs::write(src.join("bin/data"), format!("0123456789{extra}")).unwrap();
    std::os::unix::fs::symlink("motd", src.join("etc/link")).unwrap();
    std::fs::hard_link(src.join("etc/motd"), src.join("etc/issue")).unwrap();
    let out = dir.join(format!("root{extra}.tar"));
    rootfs::write_tar(&src, &out).unwrap();
    Arc::new(rootfs::open(&out).unwrap())
}

fn child(dir: &Arc<Inode>, name: &str) -> Arc<Inode> {
    let st = dir.lock();
    st.dir()
        .unwrap()
        .entries
        .get(name.as_bytes())
        .cloned()
        .unwrap()
}

fn at(vfs: &Vfs, path: &str) -> Arc<Inode> {
    path.split('/')
        .filter(|c| !c.is_empty())
        .fold(vfs.root.clone(), |d, c| child(&d, c))
}

fn open(inode: &Arc<Inode>, path: &str, kind: FileKind, flags: u32) -> Arc<OpenFile> {
    OpenFile::new(inode.clone(), path.as_bytes().to_vec(), kind, flags)
}

fn create(vfs: &Vfs, dir: &Arc<Inode>, name: &str, mode: u32, body: Body) -> Arc<Inode> {
    let st = InodeState::new(mode, 0, 0, body);
    vfs.create(dir, name.as_bytes(), Cred::ROOT, || {
        Inode::new(next_ino(), dir.dev, st)
    })
    .unwrap()
}

fn read_all(f: &OpenFile, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let got = f.read(&mut buf, &Idle::new()).unwrap();
    buf.truncate(got);
    buf
}

fn key_of(f: &Arc<OpenFile>) -> usize {
    Arc::as_ptr(f) as usize
}

/// What a second save of the same system may differ in: the time a timer has left.
fn without_timer_times(mut s: SavedFs) -> SavedFs {
    for f in &mut s.files {
        if let SavedKind::TimerFd(t) = &mut f.kind {
            t.remaining_ns = None;
        }
    }
    s
}

/// A running system's filesystem side: every kind of inode and open file.
struct World {
    vfs: Vfs,
    fds: FdTable,
    cwd: Arc<Inode>,
    ttys: Ttys,
    /// A description no fd table holds (its flock lock is not saved).
    _stray: Arc<OpenFile>,
}

fn world(image: &Arc<rootfs::Image>, timers: &Arc<Timers>) -> World {
    let b = Idle::new();
    let host: Arc<dyn TtyHost> = Arc::new(NoHost);
    let vfs = Vfs::boot(image);
    let root = vfs.root.clone();
    let tmp = vfs
        .create(&root, b"tmp", Cred::ROOT, || {
            new_dir(DEV_ROOTFS, 0o1777, 0, 0, &root, b"tmp")
        })
        .unwrap();
    let upper = |v: Vec<u8>| Body::Regular(FileData::Upper(v));

    // A new file with two names, open twice (one description on two fds).
    let new = create(&vfs, &tmp, "new", S_IFREG | 0o644, upper(Vec::new()));
    let f_new = open(&new, "/tmp/new", FileKind::Regular, O_RDWR);
    assert_eq!(f_new.write(b"abcdef", &b), Ok(6));
    assert_eq!(f_new.seek(3, libc::SEEK_SET), Ok(3));
    vfs.link(&new, &tmp, b"hard", Cred::ROOT).unwrap();
    let f_hard = open(&new, "/tmp/hard", FileKind::Regular, 0);

    // An image file written (copied up), one only read (still in the image).
    let data = at(&vfs, "/bin/data");
    let f_data = open(&data, "/bin/data", FileKind::Regular, O_RDWR);
    assert_eq!(f_data.write_at(2, b"XY"), Ok(2));
    assert_eq!(f_data.seek(4, libc::SEEK_SET), Ok(4));
    let motd = at(&vfs, "/etc/motd");
    let f_motd = open(&motd, "/etc/motd", FileKind::Regular, 0);
    assert_eq!(read_all(&f_motd, 6), b"hello ");

    create(
        &vfs,
        &tmp,
        "sym",
        S_IFLNK | 0o777,
        Body::Symlink(b"/etc/motd".to_vec()),
    );

    // A FIFO open for both ends, with bytes in it.
    let fifo = create(&vfs, &tmp, "fifo", S_IFIFO | 0o644, Body::Special);
    let fifo_pipe = fifo.fifo.get_or_init(Pipe::new_fifo).clone();
    fifo_pipe.open_end(Ends::BOTH, true, &b).unwrap();
    let f_fifo = open(
        &fifo,
        "/tmp/fifo",
        FileKind::Pipe {
            pipe: fifo_pipe,
            ends: Ends::BOTH,
        },
        O_RDWR,
    );
    assert_eq!(f_fifo.write(b"fifo!", &b), Ok(5));

    let f_null = open(
        &at(&vfs, "/dev/null"),
        "/dev/null",
        FileKind::Device(Device::Null),
        O_RDWR,
    );

    // Removed while open.
    let gone = create(&vfs, &tmp, "gone", S_IFREG | 0o600, upper(Vec::new()));
    let f_gone = open(&gone, "/tmp/gone", FileKind::Regular, O_RDWR);
    assert_eq!(f_gone.write(b"still here", &b), Ok(10));
    vfs.remove(&tmp, b"gone", false, Cred::ROOT).unwrap();

    // An anonymous pipe with bytes buffered.
    let pipe = Pipe::new();
    let pinode = pipe_inode();
    let _ = pinode.fifo.set(pipe.clone());
    let end = |ends: Ends, flags| {
        let kind = FileKind::Pipe {
            pipe: pipe.clone(),
            ends,
        };
        open(&pinode, "pipe:[1]", kind, flags)
    };
    let (f_r, f_w) = (end(Ends::READ, 0), end(Ends::WRITE, 1));
    assert_eq!(f_w.write(b"pipe data", &b), Ok(9));

    let proc_st = InodeState::new(
        S_IFREG | 0o444,
        0,
        0,
        Body::Proc(ProcNode::Global(Global::Uptime)),
    );
    let proc_inode = Inode::new(30, DEV_PROCFS, proc_st);
    let content = Arc::new(b"12.5 3.0\n".to_vec());
    let f_proc = open(&proc_inode, "/proc/uptime", FileKind::ProcData(content), 0);
    assert_eq!(read_all(&f_proc, 3), b"12.");

    let etc = at(&vfs, "/etc");
    let f_path = open(&etc, "/etc", FileKind::Path, O_PATH);
    let f_dir = open(&etc, "/etc", FileKind::Dir, 0);
    assert_eq!(f_dir.seek(2, libc::SEEK_SET), Ok(2));

    let anon = anon_inode();
    let ev = EventFd::new(EventFdState {
        count: 5,
        ..Default::default()
    });
    let f_ev = open(&anon, "anon_inode:[eventfd]", FileKind::EventFd(ev), O_RDWR);
    let tfd = TimerFd::new(
        timers.clone(),
        TimerFdState {
            clock: libc::CLOCK_MONOTONIC,
            ..Default::default()
        },
    );
    let spec = TimerSpec {
        value_ns: 100_000_000_000,
        interval_ns: 1_000_000_000,
    };
    tfd.set(spec, false);
    let f_tfd = open(
        &anon,
        "anon_inode:[timerfd]",
        FileKind::TimerFd(tfd),
        O_RDWR,
    );
    let sfd = SignalFd::new(SignalFdState { mask: 1 << 9 });
    let f_sfd = open(
        &anon,
        "anon_inode:[signalfd]",
        FileKind::SignalFd(sfd),
        O_RDWR,
    );
    let ep = Epoll::new();
    ep.insert(11, &f_r, EPOLLIN | EPOLLET, 7).unwrap();
    ep.insert(16, &f_ev, EPOLLIN, 8).unwrap();
    let f_ep = open(&anon, "anon_inode:[eventpoll]", FileKind::Epoll(ep), O_RDWR);

    // The console, and a pty with input waiting on the slave.
    let ttys = Ttys::new(Tty::new_console(host.clone()), vfs.pts.clone());
    let pty = ttys.open_ptmx(host, Cred::ROOT).unwrap();
    let ptmx = at(&vfs, "/dev/ptmx");
    let f_master = open(&ptmx, "/dev/ptmx", FileKind::PtyMaster(pty.clone()), O_RDWR);
    pty.set_locked(false);
    pty.open_slave().unwrap();
    let slave_kind = FileKind::Tty {
        tty: pty,
        stderr: false,
    };
    let f_slave = open(&at(&vfs, "/dev/pts/0"), "/dev/pts/0", slave_kind, O_RDWR);
    assert_eq!(f_master.write(b"hi\n", &b), Ok(3));
    let cons_kind = FileKind::Tty {
        tty: ttys.console.clone(),
        stderr: true,
    };
    let f_cons = open(&at(&vfs, "/dev/console"), "/dev/console", cons_kind, O_RDWR);

    // A flock lock of f_new, a POSIX lock of pid 7, a flock of a stray description.
    let stray = open(&new, "/tmp/new", FileKind::Regular, 0);
    let lock = |owner, kind, end, flock| Lock {
        owner,
        kind,
        start: 0,
        end,
        flock,
    };
    {
        let mut l = new.locks();
        l.acquire(lock(
            Owner::File(key_of(&f_new)),
            Kind::Shared,
            u64::MAX,
            true,
        ))
        .unwrap();
        l.acquire(lock(
            Owner::File(key_of(&stray)),
            Kind::Shared,
            u64::MAX,
            true,
        ))
        .unwrap();
        l.acquire(lock(Owner::Process(7), Kind::Exclusive, 10, false))
            .unwrap();
    }

    let mut fds = FdTable::default();
    let files = [
        (2, &f_cons),
        (3, &f_new),
        (4, &f_new),
        (5, &f_hard),
        (6, &f_data),
        (7, &f_motd),
        (8, &f_fifo),
        (9, &f_null),
        (10, &f_gone),
        (11, &f_r),
        (12, &f_w),
        (13, &f_proc),
        (14, &f_path),
        (15, &f_dir),
        (16, &f_ev),
        (17, &f_tfd),
        (18, &f_sfd),
        (19, &f_ep),
        (20, &f_master),
        (21, &f_slave),
    ];
    for (fd, f) in files {
        let e = FdEntry {
            file: f.clone(),
            cloexec: fd == 4,
        };
        fds.install_at(fd, e, NR_OPEN).unwrap();
    }
    World {
        vfs,
        fds,
        cwd: tmp,
        ttys,
        _stray: stray,
    }
}

type Frozen = (SavedFs, SavedFdTable, usize, SavedTtys);

fn save(w: &World) -> Frozen {
    let ttys = w.ttys.save();
    let mut saver = w.vfs.saver();
    let table = w.fds.save(|f| saver.file(f));
    let cwd = saver.inode(&w.cwd);
    (saver.finish(), table, cwd, ttys)
}

struct Thawed {
    vfs: Vfs,
    fds: FdTable,
    cwd: Arc<Inode>,
    ttys: Ttys,
}

fn thaw(img: Frozen, image: &Arc<rootfs::Image>, timers: &Arc<Timers>) -> Thawed {
    let (saved, table, cwd, ttys) = img;
    let rt = Ttys::restore(ttys, Arc::new(NoHost)).unwrap();
    let env = RestoreEnv {
        image,
        timers,
        tty: &|id| rt.get(id),
    };
    let r = Vfs::restore(saved, &env).unwrap();
    let fds = FdTable::restore(table, |i| r.file(i)).unwrap();
    let cwd = r.inode(cwd).unwrap();
    let vfs = r.into_vfs();
    let ttys = rt.into_table(vfs.pts.clone());
    Thawed {
        vfs,
        fds,
        cwd,
        ttys,
    }
}

#[test]
fn the_filesystem_and_open_files_round_trip_through_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_in(dir.path(), "");
    let timers = Timers::start().unwrap();
    let w = world(&image, &timers);
    let img = save(&w);
    let bytes = ckpt::encode(&img).unwrap();

    // The stray description's flock is not saved; the other two locks are.
    let saved = &img.0;
    let new_ix = saved
        .inodes
        .iter()
        .position(|i| i.body == SavedBody::Upper(b"abcdef".to_vec()))
        .unwrap();
    let held = &saved.inodes[new_ix].locks.held;
    assert_eq!(held.len(), 2, "{held:?}");
    assert_eq!(held[0].owner, Owner::File(img.1.fds[1].file));
    assert_eq!(held[1].owner, Owner::Process(7));
    // The image file only read is saved as a reference to the image.
    assert!(saved
        .inodes
        .iter()
        .any(|i| matches!(i.body, SavedBody::Lower(d) if d.len() == MOTD.len() as u64)));
    drop(w);

    let back: Frozen = ckpt::decode(&bytes).unwrap();
    assert_eq!(back.0, img.0);
    assert_eq!(back.1, img.1);
    let t = thaw(back, &image, &timers);

    // Saving the thawed system gives the same saved form.
    let again = save(&World {
        vfs: t.vfs,
        fds: t.fds.clone(),
        cwd: t.cwd.clone(),
        ttys: t.ttys,
        _stray: open(&t.cwd, "/tmp", FileKind::Path, O_PATH),
    });
    assert_eq!(without_timer_times(again.0), without_timer_times(img.0));
    assert_eq!((again.1, again.2), (img.1, img.2));
}

#[test]
fn restored_objects_behave_as_the_saved_ones() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_in(dir.path(), "");
    let timers = Timers::start().unwrap();
    let w = world(&image, &timers);
    let bytes = ckpt::encode(&save(&w)).unwrap();
    let Thawed {
        vfs,
        fds,
        cwd,
        ttys,
    } = thaw(ckpt::decode(&bytes).unwrap(), &image, &timers);
    // The originals go away: nothing restored may lean on them.
    drop(w);
    let b = Idle::new();
    let fd = |n: i32| fds.file(n).unwrap();
    assert!(next_ino() > at(&vfs, "/tmp/new").ino);
    assert!(Arc::ptr_eq(&cwd, &at(&vfs, "/tmp")));

    // One description on fds 3 and 4: a read through one moves the other's offset.
    assert!(Arc::ptr_eq(&fd(3), &fd(4)));
    assert!(fds.get(4).unwrap().cloexec);
    assert_eq!(read_all(&fd(3), 10), b"def");
    assert_eq!(fd(4).pos(), 6);
    // Two names, one inode: a write through one name shows through the other.
    let new = at(&vfs, "/tmp/new");
    assert!(Arc::ptr_eq(&new, &at(&vfs, "/tmp/hard")));
    assert!(Arc::ptr_eq(&new, &fd(5).inode));
    assert_eq!(new.lock().nlink, 2);
    assert_eq!(fd(3).write_at(0, b"A"), Ok(1));
    assert_eq!(read_all(&fd(5), 10), b"Abcdef");

    // The copied-up file has its bytes; the image file still reads from the image.
    assert_eq!(read_all(&fd(6), 10), b"456789");
    assert_eq!(fd(6).read_at(0, &mut [0u8; 4]), Ok(4));
    assert_eq!(
        &*at(&vfs, "/bin/data").lock().upper_data().unwrap(),
        b"01XY456789"
    );
    assert!(matches!(
        at(&vfs, "/etc/motd").lock().body,
        Body::Regular(FileData::Lower { .. })
    ));
    assert_eq!(read_all(&fd(7), 100), &MOTD[6..]);
    let motd = at(&vfs, "/etc/motd");
    assert!(
        Arc::ptr_eq(&motd, &at(&vfs, "/etc/issue")),
        "a hard link of the image"
    );
    assert!(Arc::ptr_eq(&motd, &fd(7).inode));
    assert_eq!(motd.lock().nlink, 2);
    assert!(matches!(&at(&vfs, "/tmp/sym").lock().body, Body::Symlink(t) if t == b"/etc/motd"));
    assert!(matches!(&at(&vfs, "/etc/link").lock().body, Body::Symlink(t) if t == b"motd"));

    // The FIFO's inode and its open file share one pipe, with its bytes.
    let FileKind::Pipe { pipe, .. } = &fd(8).kind else {
        panic!("fifo")
    };
    assert!(Arc::ptr_eq(pipe, at(&vfs, "/tmp/fifo").fifo.get().unwrap()));
    assert_eq!(read_all(&fd(8), 100), b"fifo!");
    assert_eq!(read_all(&fd(9), 100), b"");

    // The removed file is still there for its description.
    assert_eq!(fd(10).inode.lock().nlink, 0);
    assert_eq!(fd(10).read_at(0, &mut [0u8; 4]), Ok(4));
    let tmp = at(&vfs, "/tmp");
    assert!(!tmp.lock().dir().unwrap().entries.contains_key(&b"gone"[..]));

    // The anonymous pipe: its bytes, then EOF once the write end closes.
    assert_eq!(read_all(&fd(11), 100), b"pipe data");
    let mut fds = fds;
    fds.close(12).unwrap();
    assert_eq!(fds.file(11).unwrap().read(&mut [0u8; 4], &b), Ok(0));
    let fd = |n: i32| fds.file(n).unwrap();

    assert_eq!(read_all(&fd(13), 100), b"5 3.0\n");
    assert!(matches!(fd(14).kind, FileKind::Path));
    assert_eq!(fd(15).pos(), 2);

    let FileKind::EventFd(e) = &fd(16).kind else {
        panic!("eventfd")
    };
    assert_eq!(e.state().count, 5);
    let FileKind::TimerFd(tfd) = &fd(17).kind else {
        panic!("timerfd")
    };
    let spec = tfd.get();
    assert_eq!(spec.interval_ns, 1_000_000_000);
    assert!((90_000_000_000..=100_000_000_000).contains(&spec.value_ns));
    let FileKind::SignalFd(s) = &fd(18).kind else {
        panic!("signalfd")
    };
    assert_eq!(s.state().mask, 1 << 9);
    // The epoll's items watch the restored descriptions; the closed write end's
    // description is gone, the read end's is still watched.
    let FileKind::Epoll(ep) = &fd(19).kind else {
        panic!("epoll")
    };
    let watched =
        ep.save(|f| fds.iter().find(|(_, e)| Arc::ptr_eq(&e.file, f)).unwrap().0 as usize);
    let watched: Vec<(i32, u64, usize)> = watched
        .items
        .iter()
        .map(|(st, f)| (st.fd, st.data, *f))
        .collect();
    assert_eq!(watched, [(11, 7, 11), (16, 8, 16)]);

    // The pty: one terminal behind master and slave, in the table, with its input.
    let (FileKind::PtyMaster(m), FileKind::Tty { tty: s, .. }) = (&fd(20).kind, &fd(21).kind)
    else {
        panic!("pty")
    };
    assert!(Arc::ptr_eq(m, s));
    assert!(Arc::ptr_eq(m, &ttys.get(TtyId::Pty(0)).unwrap()));
    assert!(Arc::ptr_eq(&fd(21).inode, &at(&vfs, "/dev/pts/0")));
    assert_eq!(read_all(&fd(21), 100), b"hi\n");
    let FileKind::Tty { tty: c, stderr } = &fd(2).kind else {
        panic!("console")
    };
    assert!(*stderr && Arc::ptr_eq(c, &ttys.console));

    // The flock lock belongs to the restored description of fds 3 and 4.
    let want = Lock {
        owner: Owner::File(1),
        kind: Kind::Exclusive,
        start: 0,
        end: u64::MAX,
        flock: true,
    };
    let blocker = new.locks().conflict(&want).unwrap();
    assert_eq!(blocker.owner, Owner::File(key_of(&fd(3))));
    drop(fds);
    assert_eq!(new.locks().conflict(&want), None, "closing releases it");
}

/// A plain booted tree's saved form, to corrupt.
fn plain(image: &Arc<rootfs::Image>) -> SavedFs {
    let vfs = Vfs::boot(image);
    let mut s = vfs.saver();
    let etc = at(&vfs, "/etc");
    s.file(&open(&etc, "/etc", FileKind::Dir, 0));
    s.finish()
}

fn restore_err(saved: SavedFs, image: &Arc<rootfs::Image>) -> String {
    let timers = Timers::start().unwrap();
    let env = RestoreEnv {
        image,
        timers: &timers,
        tty: &|_| None,
    };
    match Vfs::restore(saved, &env) {
        Ok(_) => panic!("a corrupt filesystem was restored"),
        Err(e) => e.to_string(),
    }
}

fn dir_of<'a>(s: &'a mut SavedFs, dir: &[u8]) -> &'a mut SavedInode {
    s.inodes
        .iter_mut()
        .find(|i| matches!(&i.body, SavedBody::Dir { name, .. } if name == dir))
        .unwrap()
}

#[test]
fn restore_refuses_a_corrupt_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_in(dir.path(), "");
    let good = plain(&image);
    let timers = Timers::start().unwrap();
    let env = RestoreEnv {
        image: &image,
        timers: &timers,
        tty: &|_| None,
    };
    assert!(Vfs::restore(good.clone(), &env).is_ok());

    let mut s = good.clone();
    if let SavedBody::Dir { entries, .. } = &mut s.inodes[s.root].body {
        entries.push((b"x".to_vec(), 10_000));
    }
    assert!(restore_err(s, &image).contains("inode 10000"));

    // /etc's parent is /bin: entered from the root, not from its parent.
    let mut s = good.clone();
    let bin = s
        .inodes
        .iter()
        .position(|i| matches!(&i.body, SavedBody::Dir { name, .. } if name == b"bin"))
        .unwrap();
    if let SavedBody::Dir { parent, .. } = &mut dir_of(&mut s, b"etc").body {
        *parent = Some(bin);
    }
    assert!(restore_err(s, &image).contains("entered"));

    // Two directories each other's parent.
    let mut s = good.clone();
    let n = s.inodes.len();
    let looped = |other| SavedInode {
        body: SavedBody::Dir {
            entries: Vec::new(),
            parent: Some(other),
            name: b"loop".to_vec(),
        },
        ..s.inodes[s.root].clone()
    };
    let (a, b) = (looped(n + 1), looped(n));
    s.inodes.extend([a, b]);
    assert!(restore_err(s, &image).contains("its own ancestor"));

    // A directory whose mode says regular file.
    let mut s = good.clone();
    dir_of(&mut s, b"etc").mode = S_IFREG | 0o644;
    assert!(restore_err(s, &image).contains("does not fit"));

    // A bad name.
    let mut s = good.clone();
    if let SavedBody::Dir { entries, .. } = &mut s.inodes[s.root].body {
        entries[0].0 = b"a/b".to_vec();
    }
    assert!(restore_err(s, &image).contains("slash"));

    // An open file of a missing inode, a lock of a missing file, a missing pipe.
    let mut s = good.clone();
    s.files[0].inode = 99_999;
    assert!(restore_err(s, &image).contains("open file 0"));
    let mut s = good.clone();
    s.inodes[0].locks.held.push(Lock {
        owner: Owner::File(5),
        kind: Kind::Shared,
        start: 0,
        end: u64::MAX,
        flock: true,
    });
    assert!(restore_err(s, &image).contains("lock"));
    let mut s = good.clone();
    s.files[0].kind = SavedKind::Pipe {
        pipe: 0,
        ends: Ends::READ,
    };
    assert!(restore_err(s, &image).contains("pipe"));

    // Epoll files watching each other, or a terminal nobody saved.
    let mut s = good.clone();
    let watch = |f| {
        SavedKind::Epoll(SavedEpoll {
            items: vec![(Default::default(), f)],
        })
    };
    s.files[0].kind = watch(1);
    s.files.push(SavedFile {
        kind: watch(0),
        ..s.files[0].clone()
    });
    assert!(restore_err(s, &image).contains("watches itself"));
    let mut s = good.clone();
    s.files[0].kind = SavedKind::PtyMaster(TtyId::Pty(3));
    assert!(restore_err(s, &image).contains("terminal"));

    // Data of another image.
    let other = image_in(dir.path(), "other");
    let theirs = plain(&other);
    assert!(restore_err(theirs, &image).contains("root image"));

    // And bytes that are no saved filesystem at all.
    let bytes = ckpt::encode(&good).unwrap();
    assert!(ckpt::decode::<SavedFs>(&bytes[..bytes.len() / 2]).is_err());
}

#[test]
fn restore_refuses_a_corrupt_terminal_table() {
    let host: Arc<dyn TtyHost> = Arc::new(NoHost);
    let ttys = Ttys::new(Tty::new_console(host.clone()), pipe_inode());
    let _pty = ttys.open_ptmx(host.clone(), Cred::ROOT);
    let saved = ttys.save();
    assert_eq!(saved.ptys.len(), 1);
    assert!(Ttys::restore(saved.clone(), host.clone()).is_ok());
    let mut twice = saved.clone();
    twice.ptys.push(twice.ptys[0].clone());
    assert!(Ttys::restore(twice, host.clone()).is_err());
    let mut swapped = saved;
    std::mem::swap(&mut swapped.console, &mut swapped.ptys[0]);
    assert!(Ttys::restore(swapped, host).is_err());
}
