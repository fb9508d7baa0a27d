//! Thaws of a system checkpointed while it waits: each test stops a guest with
//! SIGCKPTEXIT once it has printed the line that precedes the wait of interest, thaws
//! the image (sometimes through a chain), and compares everything printed before and
//! after with a native run of the same mode.
//!
//! - the console (a pipe on vkernel's stdin): typed lines still unread at the
//!   checkpoint come first after the thaw, then the thawing vkernel's stdin, to its
//!   end; a guest blocked reading the console reads on from the new stdin; input typed
//!   while checkpoints are taken (SIGCKPT) arrives once and in order;
//! - a FIFO between two processes: the reader blocked in open, then the FIFO full with
//!   the writer blocked in write; every byte arrives, in order;
//! - two processes sharing memory (clone(CLONE_VM)) still share it after the thaw;
//! - files open at offsets: read-only, O_APPEND, a dup'd offset shared with a forked
//!   child, an lseek past the end, a file unlinked while open.
//!
//! Guest: thaw.c, in both libc flavours.

#[macro_use]
#[path = "support/posix.rs"]
mod posix;
#[path = "support/ckpt.rs"]
mod ckpt;

use std::time::Duration;

use ckpt::*;
use posix::*;
use vkernel_tests::*;

static GUESTS: Guests = Guests::new(&["thaw"]);

/// A stage fed nothing, stopped once `line` is printed.
fn at_line(line: &str) -> Stage<'_> {
    Stage {
        input: Input::NONE,
        stop: Some(Stop::Line(line)),
    }
}

/// The last stage: fed nothing, run to the end.
const TO_THE_END: Stage<'static> = Stage {
    input: Input::NONE,
    stop: None,
};

// The first checkpoint comes while three typed lines wait in the console and the
// guest sleeps (the old stdin has ended: the new one is read after them); the second
// while the guest is blocked reading an empty console whose stdin is still open.
twins!(console_input_survives_a_thaw_and_the_new_stdin_follows, cc => {
    let stages = [
        Stage {
            input: Input { bytes: b"alpha\nbravo\ncharlie\ndelta\n", eof: true },
            stop: Some(Stop::Line("line 1: alpha")),
        },
        Stage {
            input: Input { bytes: b"echo\n", eof: false },
            stop: Some(Stop::Line("waiting for line 6")),
        },
        Stage {
            input: Input { bytes: b"foxtrot\ngolf\n", eof: true },
            stop: None,
        },
    ];
    chain(&GUESTS, "thaw", cc, "console", &stages);
});

twins!(fifo_with_a_reader_in_open_then_full_with_a_writer_waiting, cc => {
    let stages = [
        at_line("reader waiting in open"),
        at_line("writing 196608 bytes in 4 KiB writes"),
        TO_THE_END,
    ];
    chain(&GUESTS, "thaw", cc, "fifo", &stages);
});

// One write(2) bigger than the FIFO blocks with part of it already in; the
// checkpoint must not make that part go in twice (or be lost): the write returns
// what went in, and the guest writes the rest.
twins!(a_write_blocked_half_way_into_a_full_fifo, cc => {
    let stages = [at_line("writing 196608 bytes in one write"), TO_THE_END];
    chain(&GUESTS, "thaw", cc, "bigwrite", &stages);
});

twins!(clone_vm_processes_still_share_memory, cc => {
    let stages = [at_line("round 4: the child answered 17"), TO_THE_END];
    chain(&GUESTS, "thaw", cc, "sharedvm", &stages);
});

twins!(open_files_continue_at_their_offsets, cc => {
    chain(&GUESTS, "thaw", cc, "files", &[at_line("files ready"), TO_THE_END]);
});

// Lines typed while checkpoints are being taken (SIGCKPT: the system goes on) reach
// the guest once each and in order: the console reader holds what it reads during a
// checkpoint until the thaw.
twins!(console_input_typed_during_checkpoints_arrives_once_in_order, cc => {
    let lines: Vec<String> = (1..=8).map(|i| format!("typed {i}\n")).collect();
    let host = run_native_fed(
        &build_guest("thaw", cc),
        &guest_path("thaw", cc),
        &["console"],
        lines.concat().as_bytes(),
    );
    let open = Input { bytes: b"", eof: false };
    let target = image_dir().join("ck-%n.elf");
    let mut run = boot_guest_fed(&GUESTS, &target, "thaw", cc, "console", open);
    // vkernel takes SIGCKPT once it runs the guest.
    run.read_until("waiting for line 1");
    for line in &lines {
        run.signal(libc::SIGUSR1);
        run.feed(line.as_bytes());
        std::thread::sleep(Duration::from_millis(120));
    }
    run.stdin = None;
    let (status, out, err) = run.finish();
    assert_eq!(status, 0, "{err}");
    assert!(err.contains(": checkpoint "), "{err}");
    assert_eq!(stable_lines(&out), stable_lines(&host.stdout), "{err}");
});
