//! One test per line-discipline behaviour, through the public API. Expected
//! bytes are what Linux produces (the same cases pass in `ptydiff.rs`
//! against the host's n_tty where a pty is available).

use tty::flags::*;
use tty::{FlowAction, InputEffects, JobSignal, LineDiscipline, ReadOutcome, Termios, Winsize};

fn ld_with(edit: impl FnOnce(&mut Termios)) -> LineDiscipline {
    let mut t = Termios::linux_default();
    edit(&mut t);
    let mut ld = LineDiscipline::new();
    ld.set_termios(t, false);
    ld
}

fn echo(ld: &mut LineDiscipline, bytes: &[u8]) -> Vec<u8> {
    ld.input(bytes).echo
}

fn data(b: &[u8]) -> ReadOutcome {
    ReadOutcome::Data(b.to_vec())
}

/// All reads until nothing more is available.
fn read_all(ld: &mut LineDiscipline, max: usize) -> Vec<ReadOutcome> {
    let mut out = Vec::new();
    loop {
        match ld.read(max) {
            ReadOutcome::WouldBlock => return out,
            r => out.push(r),
        }
    }
}

#[test]
fn fresh_terminal_is_linux_default() {
    let ld = LineDiscipline::new();
    assert_eq!(ld.termios(), Termios::linux_default());
    assert_eq!(ld.winsize(), Winsize::default());
    assert_eq!(ld.min_time(), (1, 0));
    assert!(!ld.readable() && ld.available() == 0 && !ld.output_stopped());
}

#[test]
fn erase_rubs_out_and_edits_the_line() {
    let mut ld = LineDiscipline::new();
    assert_eq!(
        echo(&mut ld, b"abc\x7f\x7fd\n"),
        b"abc\x08 \x08\x08 \x08d\r\n"
    );
    assert_eq!(ld.read(100), data(b"ad\n"));
    assert_eq!(ld.read(100), ReadOutcome::WouldBlock);
}

#[test]
fn erase_at_line_start_does_nothing() {
    let mut ld = LineDiscipline::new();
    assert_eq!(echo(&mut ld, b"\x7f\x15\x17"), b"");
}

#[test]
fn erase_without_echoe_echoes_the_erase_character() {
    let mut ld = ld_with(|t| t.lflag &= !ECHOE);
    assert_eq!(echo(&mut ld, b"ab\x7f\n"), b"ab^?\r\n");
    assert_eq!(ld.read(100), data(b"a\n"));
}

#[test]
fn werase_deletes_word_and_trailing_blanks() {
    let mut ld = LineDiscipline::new();
    let e = echo(&mut ld, b"foo bar  \x17baz\n");
    assert_eq!(ld.read(100), data(b"foo baz\n"));
    assert!(e.starts_with(b"foo bar  "));
    assert_eq!(e.windows(3).filter(|w| w == b"\x08 \x08").count(), 5);
    // Underscore and digits count as word characters.
    ld.input(b"a x_9\x17\n");
    assert_eq!(ld.read(100), data(b"a \n"));
}

#[test]
fn kill_with_echoke_rubs_out_the_line() {
    let mut ld = LineDiscipline::new();
    assert_eq!(echo(&mut ld, b"xy\x15z\n"), b"xy\x08 \x08\x08 \x08z\r\n");
    assert_eq!(ld.read(100), data(b"z\n"));
}

#[test]
fn kill_without_echoke_echoes_kill_and_newline() {
    let mut ld = ld_with(|t| t.lflag &= !ECHOKE);
    assert_eq!(echo(&mut ld, b"xy\x15z\n"), b"xy^U\r\nz\r\n");
    let mut ld = ld_with(|t| t.lflag &= !(ECHOKE | ECHOK));
    assert_eq!(echo(&mut ld, b"xy\x15"), b"xy^U");
}

#[test]
fn eof_at_line_start_reads_as_end_of_file_once() {
    let mut ld = LineDiscipline::new();
    let fx = ld.input(b"\x04");
    assert!(fx.echo.is_empty() && fx.readable);
    assert_eq!(ld.read(100), ReadOutcome::Eof);
    assert_eq!(ld.read(100), ReadOutcome::WouldBlock);
}

#[test]
fn eof_after_text_ends_the_line_without_newline() {
    let mut ld = LineDiscipline::new();
    assert_eq!(echo(&mut ld, b"a\x04"), b"a");
    assert_eq!(ld.read(100), data(b"a"));
    assert_eq!(ld.read(100), ReadOutcome::WouldBlock);
}

#[test]
fn short_reads_leave_the_rest_of_the_line() {
    let mut ld = LineDiscipline::new();
    ld.input(b"abcde\nxy\n");
    assert_eq!(
        read_all(&mut ld, 2),
        [
            data(b"ab"),
            data(b"cd"),
            data(b"e\n"),
            data(b"xy"),
            data(b"\n")
        ]
    );
}

#[test]
fn read_that_fills_up_to_eof_consumes_it() {
    let mut ld = LineDiscipline::new();
    ld.input(b"abc\x04def\n");
    assert_eq!(
        read_all(&mut ld, 3),
        [data(b"abc"), data(b"def"), data(b"\n")]
    );
}

#[test]
fn available_counts_complete_lines_without_eof_markers() {
    let mut ld = LineDiscipline::new();
    ld.input(b"ab\ncd\x04ef");
    assert_eq!(ld.available(), 5);
    assert!(ld.readable());
}

#[test]
fn control_characters_echo_as_caret_and_erase_two_columns() {
    let mut ld = LineDiscipline::new();
    assert_eq!(echo(&mut ld, b"a\x01"), b"a^A");
    assert_eq!(echo(&mut ld, b"\x7f"), b"\x08 \x08\x08 \x08");
    let mut ld = ld_with(|t| t.lflag &= !ECHOCTL);
    assert_eq!(echo(&mut ld, b"a\x01\x7f\x7f"), b"a\x01\x08 \x08");
}

#[test]
fn tab_erase_backs_up_to_the_tab_start() {
    let mut ld = LineDiscipline::new();
    // Prompt "ab" moves the line start to column 2; "de" to 4; tab to 8.
    assert_eq!(ld.output(b"ab"), b"ab");
    assert_eq!(echo(&mut ld, b"de\t"), b"de\t");
    assert_eq!(echo(&mut ld, b"\x7f"), b"\x08\x08\x08\x08");
    assert_eq!(ld.column(), 4);
    // After another tab, width is measured from the previous tab.
    ld.input(b"\tx\t\x7f");
    assert_eq!(ld.column(), 9);
}

#[test]
fn lnext_takes_the_next_character_literally() {
    let mut ld = LineDiscipline::new();
    let fx = ld.input(b"\x16\x03\n");
    assert!(fx.signals.is_empty());
    assert_eq!(fx.echo, b"^\x08^C\r\n");
    assert_eq!(ld.read(100), data(b"\x03\n"));
    ld.input(b"\x16\x7f\n");
    assert_eq!(ld.read(100), data(b"\x7f\n"));
}

#[test]
fn interrupt_signals_flushes_and_echoes() {
    let mut ld = LineDiscipline::new();
    let fx = ld.input(b"ab");
    assert_eq!(fx.echo, b"ab");
    let fx = ld.input(b"\x03");
    assert_eq!(
        (fx.echo, fx.signals),
        (b"^C".to_vec(), vec![JobSignal::Int])
    );
    ld.input(b"cd\n");
    assert_eq!(ld.read(100), data(b"cd\n"));
}

#[test]
fn interrupt_discards_echo_of_the_same_batch() {
    let mut ld = LineDiscipline::new();
    let fx = ld.input(b"ab\x03cd\n");
    assert_eq!(fx.echo, b"^Ccd\r\n");
    assert_eq!(ld.read(100), data(b"cd\n"));
}

#[test]
fn quit_and_suspend_signals_in_order() {
    let mut ld = LineDiscipline::new();
    let fx = ld.input(b"\x1c\x1a\x03");
    assert_eq!(
        fx.signals,
        [JobSignal::Quit, JobSignal::Tstp, JobSignal::Int]
    );
    // Each signal discards the echo still queued, so only the last shows.
    assert_eq!(fx.echo, b"^C");
    assert_eq!(echo(&mut ld, b"\x1c"), b"^\\");
    assert_eq!(echo(&mut ld, b"\x1a"), b"^Z");
}

#[test]
fn noflsh_keeps_input_across_signals() {
    let mut ld = ld_with(|t| t.lflag |= NOFLSH);
    let fx = ld.input(b"ab\x03cd\n");
    assert_eq!(fx.echo, b"ab^Ccd\r\n");
    assert_eq!(ld.read(100), data(b"abcd\n"));
}

#[test]
fn without_isig_control_keys_are_data() {
    let mut ld = ld_with(|t| t.lflag &= !ISIG);
    let fx = ld.input(b"\x03\x1a\n");
    assert!(fx.signals.is_empty());
    assert_eq!(ld.read(100), data(b"\x03\x1a\n"));
}

#[test]
fn carriage_return_translation() {
    let mut ld = LineDiscipline::new();
    ld.input(b"a\r");
    assert_eq!(ld.read(100), data(b"a\n"));
    let mut ld = ld_with(|t| t.iflag = IGNCR);
    ld.input(b"a\rb\n");
    assert_eq!(ld.read(100), data(b"ab\n"));
    // INLCR: the typed newline becomes a CR, which ends no line.
    let mut ld = ld_with(|t| t.iflag = INLCR);
    ld.input(b"a\n\r");
    assert_eq!(ld.read(100), ReadOutcome::WouldBlock);
    ld.input(b"\x04");
    assert_eq!(ld.read(100), data(b"a\r\r"));
}

#[test]
fn istrip_and_iuclc() {
    // ISTRIP first (0xc2 -> 'B'), then IUCLC.
    let mut ld = ld_with(|t| t.iflag |= ISTRIP | IUCLC);
    ld.input(b"A\xc2b\n");
    assert_eq!(ld.read(100), data(b"abb\n"));
    // IUCLC only works with IEXTEN.
    let mut ld = ld_with(|t| {
        t.iflag |= IUCLC;
        t.lflag &= !IEXTEN;
    });
    ld.input(b"A\n");
    assert_eq!(ld.read(100), data(b"A\n"));
}

#[test]
fn ixon_stop_holds_echo_until_start() {
    let mut ld = LineDiscipline::new();
    let fx = ld.input(b"\x13ab");
    assert!(fx.echo.is_empty());
    assert!(ld.output_stopped());
    let fx = ld.input(b"\x11");
    assert_eq!(fx.echo, b"ab");
    assert!(!ld.output_stopped());
    ld.input(b"\n");
    assert_eq!(ld.read(100), data(b"ab\n"));
}

#[test]
fn ixany_restarts_on_any_key_and_clearing_ixon_restarts() {
    let mut ld = ld_with(|t| t.iflag |= IXANY);
    ld.input(b"\x13");
    assert_eq!(echo(&mut ld, b"z"), b"z");
    assert!(!ld.output_stopped());

    let mut ld = LineDiscipline::new();
    ld.input(b"\x13q");
    let mut t = ld.termios();
    t.iflag &= !IXON;
    ld.set_termios(t, false);
    assert!(!ld.output_stopped());
    assert_eq!(ld.take_pending_output(), b"q");
}

#[test]
fn tcflow_actions() {
    let mut ld = LineDiscipline::new();
    assert!(ld.flow(FlowAction::OutputOff).is_empty());
    assert!(ld.output_stopped());
    ld.input(b"\x11"); // VSTART does not undo TCOOFF
    assert!(ld.output_stopped());
    ld.flow(FlowAction::OutputOn);
    assert!(!ld.output_stopped());
    assert_eq!(ld.flow(FlowAction::SendStop), b"\x13");
    assert_eq!(ld.flow(FlowAction::SendStart), b"\x11");
}

#[test]
fn echonl_echoes_newline_without_echo() {
    let mut ld = ld_with(|t| t.lflag = (t.lflag & !ECHO) | ECHONL);
    assert_eq!(echo(&mut ld, b"ab\n"), b"\r\n");
}

#[test]
fn echo_off_echoes_nothing() {
    let mut ld = ld_with(|t| t.lflag &= !ECHO);
    assert_eq!(echo(&mut ld, b"secret\x7f\x03"), b"");
}

#[test]
fn echoprt_shows_erased_characters_between_slashes() {
    let mut ld = ld_with(|t| t.lflag |= ECHOPRT);
    assert_eq!(echo(&mut ld, b"abc\x7f\x7fd\n"), b"abc\\cb/d\r\n");
    assert_eq!(ld.read(100), data(b"ad\n"));
}

#[test]
fn reprint_redisplays_the_line() {
    let mut ld = LineDiscipline::new();
    assert_eq!(echo(&mut ld, b"ab\x12"), b"ab^R\r\nab");
}

#[test]
fn eol_and_eol2_end_lines() {
    let mut ld = ld_with(|t| {
        t.cc[VEOL] = b'@';
        t.cc[VEOL2] = b'#';
    });
    ld.input(b"ab@cd#");
    assert_eq!(read_all(&mut ld, 100), [data(b"ab@"), data(b"cd#")]);
}

#[test]
fn iexten_off_disables_werase_lnext_reprint_eol2() {
    let mut ld = ld_with(|t| {
        t.lflag &= !IEXTEN;
        t.cc[VEOL2] = b'#';
    });
    ld.input(b"a b\x17\x16\x12#\n");
    assert_eq!(ld.read(100), data(b"a b\x17\x16\x12#\n"));
}

#[test]
fn utf8_erase_removes_whole_character() {
    let mut ld = ld_with(|t| t.iflag |= IUTF8);
    assert_eq!(
        echo(&mut ld, "aé\x7f\n".as_bytes()),
        "aé\x08 \x08\r\n".as_bytes()
    );
    assert_eq!(ld.read(100), data(b"a\n"));
    // Without IUTF8 one byte goes per erase.
    let mut ld = LineDiscipline::new();
    ld.input("aé\x7f\n".as_bytes());
    assert_eq!(ld.read(100), data(b"a\xc3\n"));
}

#[test]
fn parmrk_doubles_0xff() {
    let mut ld = ld_with(|t| t.iflag |= PARMRK);
    ld.input(b"\xff\n");
    assert_eq!(ld.read(100), data(b"\xff\xff\n"));
}

#[test]
fn canonical_line_stops_at_4095_characters() {
    let mut ld = LineDiscipline::new();
    let fx = ld.input(&[b'a'; 5000]);
    assert_eq!(fx.echo.len(), 5000, "every key still echoes");
    assert!(!fx.readable);
    ld.input(b"\n");
    let mut line = vec![b'a'; 4095];
    line.push(b'\n');
    assert_eq!(ld.read(10000), ReadOutcome::Data(line));
}

#[test]
fn erase_works_on_a_full_line() {
    let mut ld = LineDiscipline::new();
    ld.input(&[b'b'; 4200]);
    ld.input(b"\x7f\x7f\n");
    let mut line = vec![b'b'; 4093];
    line.push(b'\n');
    assert_eq!(ld.read(10000), ReadOutcome::Data(line));
}

#[test]
fn non_canonical_reads_what_is_there() {
    let mut ld = ld_with(|t| t.lflag &= !(ICANON | ECHO));
    assert_eq!(ld.read(10), ReadOutcome::WouldBlock);
    let fx = ld.input(b"abc\x7f\x04");
    assert!(fx.readable);
    assert_eq!(ld.available(), 5);
    assert_eq!(ld.read(2), data(b"ab"));
    assert_eq!(ld.read(10), data(b"c\x7f\x04"));
    assert_eq!(ld.read(0), data(b""));
}

#[test]
fn poll_in_non_canonical_mode_waits_for_vmin() {
    let mut ld = ld_with(|t| {
        t.lflag &= !ICANON;
        t.cc[VMIN] = 3;
    });
    let fx = ld.input(b"ab");
    assert!(fx.readable, "a reader can make progress");
    assert!(!ld.readable(), "poll wants VMIN bytes when VTIME is 0");
    ld.input(b"c");
    assert!(ld.readable());
    assert_eq!(ld.min_time(), (3, 0));
}

#[test]
fn full_queue_keeps_the_rest_in_the_backlog() {
    let mut ld = ld_with(|t| t.lflag &= !(ICANON | ECHO));
    let fx = ld.input(&[b'x'; 5000]);
    assert_eq!(fx.accepted, 5000);
    assert_eq!(ld.available(), 4095);
    assert_eq!(ld.backlog(), 905);
    assert_eq!(ld.read(10000), ReadOutcome::Data(vec![b'x'; 4095]));
    ld.input(&[]);
    assert_eq!(ld.backlog(), 0);
    assert_eq!(ld.read(10000), ReadOutcome::Data(vec![b'x'; 905]));
}

#[test]
fn backlog_is_bounded() {
    let mut ld = ld_with(|t| t.lflag &= !ICANON);
    let fx = ld.input(&vec![b'y'; 100_000]);
    assert_eq!(fx.accepted, tty::BACKLOG_LIMIT);
    assert_eq!(ld.available(), 4095);
    assert_eq!(ld.backlog(), tty::BACKLOG_LIMIT - 4095);
}

#[test]
fn leaving_canonical_mode_makes_the_partial_line_readable() {
    let mut ld = LineDiscipline::new();
    ld.input(b"abc");
    assert_eq!(ld.read(10), ReadOutcome::WouldBlock);
    let mut t = ld.termios();
    t.lflag &= !ICANON;
    ld.set_termios(t, false);
    assert_eq!(ld.read(10), data(b"abc"));
}

#[test]
fn entering_canonical_mode_pushes_pending_input_as_a_line() {
    let mut ld = LineDiscipline::new();
    ld.input(b"abc");
    let canon = ld.termios();
    let mut raw = canon;
    raw.lflag &= !ICANON;
    ld.set_termios(raw, false);
    ld.set_termios(canon, false);
    assert_eq!(ld.read(10), data(b"abc"));
}

#[test]
fn tcsetsf_and_tcflush_discard_input() {
    let mut ld = LineDiscipline::new();
    ld.input(b"line\npartial");
    ld.set_termios(ld.termios(), true);
    assert_eq!(ld.read(10), ReadOutcome::WouldBlock);
    ld.input(b"x\n");
    ld.flush_input();
    assert_eq!(ld.read(10), ReadOutcome::WouldBlock);
}

#[test]
fn output_processing_and_columns() {
    let mut ld = LineDiscipline::new();
    assert_eq!(ld.output(b"hi\nthere"), b"hi\r\nthere");
    assert_eq!(ld.column(), 5);
    let mut ld = ld_with(|t| t.oflag = OPOST | OCRNL | OLCUC);
    assert_eq!(ld.output(b"a\rb\n"), b"A\nB\n");
    let mut ld = ld_with(|t| t.oflag = ONLCR);
    assert_eq!(ld.output(b"a\n"), b"a\n");
}

#[test]
fn winsize_reports_changes() {
    let mut ld = LineDiscipline::new();
    let w = Winsize {
        rows: 24,
        cols: 80,
        xpixel: 0,
        ypixel: 0,
    };
    assert!(ld.set_winsize(w));
    assert!(!ld.set_winsize(w));
    assert_eq!(ld.winsize(), w);
    assert_eq!(Winsize::from_bytes(&w.to_bytes()), w);
    assert_eq!(w.to_bytes(), [24, 0, 80, 0, 0, 0, 0, 0]);
}

#[test]
fn input_effects_default_is_empty() {
    let fx = InputEffects::default();
    assert!(fx.echo.is_empty() && fx.signals.is_empty() && !fx.readable);
}

/// Checkpoint mid-edit: the restored discipline continues identically.
#[test]
fn serde_round_trip_preserves_everything() {
    let mut ld = ld_with(|t| t.iflag |= IXANY);
    ld.output(b"$ ");
    ld.input(b"ab\tc\x16");
    ld.input(b"\x13x");
    let cfg = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&ld, cfg).expect("encode");
    let (mut back, _): (LineDiscipline, usize) =
        bincode::serde::decode_from_slice(&bytes, cfg).expect("decode");
    for step in [&b"\x7f"[..], b"\x7f", b"\x03", b"zz\x04"] {
        assert_eq!(ld.input(step), back.input(step));
    }
    assert_eq!(read_all(&mut ld, 3), read_all(&mut back, 3));
    assert_eq!(ld.output(b"\tq\n"), back.output(b"\tq\n"));
    assert_eq!(ld.column(), back.column());
}
