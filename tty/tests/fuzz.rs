//! Random bytes under random termios must never panic, and basic
//! invariants must hold whatever the settings.

use tty::{FlowAction, LineDiscipline, ReadOutcome, Termios, Winsize};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Mostly interesting bytes (controls, 0xff, UTF-8 pieces), some random.
    fn keys(&mut self, n: usize) -> Vec<u8> {
        const KEYS: &[u8] =
            b"\x00\x03\x04\x08\t\n\r\x11\x13\x15\x16\x17\x12\x1a\x1c\x7f\xff\xc3\xa9a _";
        (0..n)
            .map(|_| {
                if self.below(4) == 0 {
                    self.next() as u8
                } else {
                    KEYS[self.below(KEYS.len())]
                }
            })
            .collect()
    }
}

fn random_termios(rng: &mut Rng) -> Termios {
    let mut b = [0u8; Termios::SIZE];
    b.copy_from_slice(&rng.bytes(Termios::SIZE));
    let mut t = Termios::from_bytes(&b);
    // Half the time keep the usual control characters so editing happens.
    if rng.below(2) == 0 {
        t.cc = Termios::linux_default().cc;
    }
    t
}

fn step(rng: &mut Rng, ld: &mut LineDiscipline) {
    match rng.below(12) {
        0 => ld.set_termios(random_termios(rng), rng.below(4) == 0),
        1 => {
            let max = [0, 1, 3, 64, 5000][rng.below(5)];
            if let ReadOutcome::Data(d) = ld.read(max) {
                assert!(d.len() <= max);
            }
        }
        2 => {
            let n = rng.below(40);
            let _ = ld.output(&rng.bytes(n));
        }
        3 => ld.flush_input(),
        4 => {
            let a = [
                FlowAction::OutputOff,
                FlowAction::OutputOn,
                FlowAction::SendStop,
                FlowAction::SendStart,
            ][rng.below(4)];
            assert!(ld.flow(a).len() <= 1);
        }
        5 => {
            let n = if rng.below(10) == 0 { 5000 } else { 30 };
            let keys = rng.keys(n);
            let fx = ld.input(&keys);
            assert!(fx.accepted <= keys.len());
        }
        6 => {
            ld.set_winsize(Winsize {
                rows: rng.next() as u16,
                cols: rng.next() as u16,
                xpixel: 0,
                ypixel: 0,
            });
        }
        _ => {
            let n = rng.below(20);
            let _ = ld.input(&rng.bytes(n));
        }
    }
    assert!(ld.available() <= 2 * 4096);
    let _ = (
        ld.readable(),
        ld.min_time(),
        ld.output_stopped(),
        ld.backlog(),
    );
}

#[test]
fn random_input_never_panics() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..400 {
        let mut ld = LineDiscipline::new();
        ld.set_termios(random_termios(&mut rng), false);
        for _ in 0..60 {
            step(&mut rng, &mut ld);
        }
        let _ = ld.take_pending_output();
    }
}

#[test]
fn termios_bytes_round_trip_for_any_pattern() {
    let mut rng = Rng(42);
    for _ in 0..1000 {
        let mut b = [0u8; Termios::SIZE];
        b.copy_from_slice(&rng.bytes(Termios::SIZE));
        assert_eq!(Termios::from_bytes(&b).to_bytes(), b);
    }
}

/// Corrupted checkpoint data must not make later calls panic either.
#[test]
fn mangled_checkpoints_never_panic() {
    let mut rng = Rng(7);
    let cfg = bincode::config::standard();
    for _ in 0..200 {
        let mut ld = LineDiscipline::new();
        for _ in 0..10 {
            step(&mut rng, &mut ld);
        }
        let mut bytes = bincode::serde::encode_to_vec(&ld, cfg).expect("encode");
        for _ in 0..4 {
            let i = rng.below(bytes.len());
            bytes[i] = rng.next() as u8;
        }
        let Ok((mut back, _)) = bincode::serde::decode_from_slice::<LineDiscipline, _>(&bytes, cfg)
        else {
            continue;
        };
        for _ in 0..20 {
            step(&mut rng, &mut back);
        }
    }
}
