//! Shared by the POSIX-userland test files (process, pipes, signals, events, time,
//! files2): an image holding a set of C guests in both flavours, and a check that runs
//! one mode of a guest natively and under vkernel and compares the two.
//!
//! Each of those test files includes this module with
//! `#[macro_use] #[path = "support/posix.rs"] mod posix;`.
//!
//! The guests (tests/guests/*.c, on top of posix.h) take a mode as argv[1], print one
//! line per check, end with "<guest> <mode> ok" and exit with the number of failed
//! checks. Lines starting with "value " differ between runs (or between the host and
//! vkernel) and are left out of the comparison; [`value`] reads them.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use vkernel_tests::*;

/// How long one guest run may take under vkernel before the test fails. Every mode
/// finishes in well under 5 s natively; this only bounds a kernel that hangs.
pub const GUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a guest lives in the image: /bin/<name>-<cc>.
pub fn guest_path(name: &str, cc: Cc) -> String {
    format!("/bin/{name}-{cc}")
}

/// A set of guests, built (both flavours) into one image the first time it is needed.
pub struct Guests {
    names: &'static [&'static str],
    image: OnceLock<PathBuf>,
}

impl Guests {
    pub const fn new(names: &'static [&'static str]) -> Guests {
        Guests {
            names,
            image: OnceLock::new(),
        }
    }

    /// The busybox image with /bin/<name>-glibc and /bin/<name>-musl for every guest.
    pub fn image(&self) -> PathBuf {
        self.image
            .get_or_init(|| {
                let mut extra = Vec::new();
                for name in self.names {
                    for cc in Cc::STATIC {
                        extra.push((build_guest(name, cc), guest_path(name, cc)));
                    }
                }
                rootfs(&extra)
            })
            .clone()
    }

    /// `vkernel boot [OPTIONS] IMG -- /bin/<name>-<cc> ARGS...`
    #[track_caller]
    pub fn run_with(&self, options: &[&str], name: &str, cc: Cc, args: &[&str]) -> Outcome {
        assert!(self.names.contains(&name), "{name} is not in this image");
        let path = guest_path(name, cc);
        let mut prog = vec![path.as_str()];
        prog.extend_from_slice(args);
        Vk::boot(&self.image(), options, &prog)
            .timeout(GUEST_TIMEOUT)
            .run()
    }

    /// `vkernel boot IMG -- /bin/<name>-<cc> ARGS...`
    #[track_caller]
    pub fn run(&self, name: &str, cc: Cc, args: &[&str]) -> Outcome {
        self.run_with(&[], name, cc, args)
    }

    /// Run mode `mode` of guest `name` natively (it must pass there: otherwise the
    /// guest itself is broken) and under vkernel (with `options`); vkernel must exit 0
    /// and print the same lines, "value" lines aside. Returns the vkernel outcome.
    #[track_caller]
    pub fn check_with(&self, options: &[&str], name: &str, cc: Cc, mode: &str) -> Outcome {
        let host = run_host(name, cc, &[mode]);
        host_must_pass(&host, name, mode);
        let vk = self.run_with(options, name, cc, &[mode]);
        vk.assert_status(0);
        same_lines(&vk, &host);
        vk
    }

    /// [`Guests::check_with`] without vkernel options.
    #[track_caller]
    pub fn check(&self, name: &str, cc: Cc, mode: &str) -> Outcome {
        self.check_with(&[], name, cc, mode)
    }

    /// Only under vkernel (for guests that need root natively, when the tests do not
    /// run as root): exit 0 and the final "<name> <mode> ok" line.
    #[track_caller]
    pub fn check_guest_only(&self, name: &str, cc: Cc, mode: &str) -> Outcome {
        let vk = self.run(name, cc, &[mode]);
        let ok_line = format!("{name} {mode} ok");
        vk.assert_status(0)
            .assert_stdout_has_lines(&[ok_line.as_str()]);
        vk
    }
}

/// Run a guest natively with the same argv[0] and environment as under vkernel.
pub fn run_host(name: &str, cc: Cc, args: &[&str]) -> Outcome {
    run_native(&build_guest(name, cc), &guest_path(name, cc), args)
}

#[track_caller]
fn host_must_pass(host: &Outcome, name: &str, mode: &str) {
    let ok_line = format!("{name} {mode} ok");
    host.check(
        host.status == 0 && host.stdout.lines().any(|l| l == ok_line),
        format!(
            "the guest itself is broken: natively `{name} {mode}` exits {} without {ok_line:?}",
            host.status
        ),
    );
}

/// Lines that do not start with "value ".
pub fn stable_lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| !l.starts_with("value ")).collect()
}

/// The stable lines of `vk` equal those of the native run `host`; on failure, show the
/// first difference and the native output.
#[track_caller]
pub fn same_lines(vk: &Outcome, host: &Outcome) {
    let a = stable_lines(&vk.stdout);
    let b = stable_lines(&host.stdout);
    if a == b {
        return;
    }
    let i = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    vk.fail(format!(
        "stdout differs from the native run at line {}:\n  vkernel: {:?}\n  native:  {:?}\n\
         ---- native stdout ----\n{}",
        i + 1,
        a.get(i).copied().unwrap_or("(end of output)"),
        b.get(i).copied().unwrap_or("(end of output)"),
        host.stdout
    ));
}

/// The value of the line "value <key> <value>".
#[track_caller]
pub fn value<'a>(out: &'a Outcome, key: &str) -> &'a str {
    let prefix = format!("value {key} ");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| out.fail(format!("no line {prefix:?}")))
}

/// Whether the tests run as root (some native runs need it).
pub fn host_is_root() -> bool {
    // SAFETY: geteuid(2) has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// One test per libc flavour, in a module named after the test:
///
/// ```ignore
/// twins!(#[ignore = "needs fork"] fork_tree, cc => { GUESTS.check("fork_wait", cc, "tree"); });
/// ```
///
/// makes `fork_tree::glibc` and `fork_tree::musl`.
macro_rules! twins {
    ($(#[$meta:meta])* $name:ident, $cc:ident => $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run($cc: Cc) $body

            $(#[$meta])*
            #[test]
            fn glibc() {
                run(Cc::Glibc);
            }

            $(#[$meta])*
            #[test]
            fn musl() {
                run(Cc::Musl);
            }
        }
    };
}

/// Many `twins!` that each only compare one mode of one guest with its native run:
///
/// ```ignore
/// modes! {
///     "fork_wait";
///     #[ignore = "needs fork"] fork_tree => "tree",
/// }
/// ```
#[allow(unused_macros)]
macro_rules! modes {
    ($guest:literal; $( $(#[$meta:meta])* $name:ident => $mode:literal ),* $(,)?) => {
        $(
            twins!($(#[$meta])* $name, cc => {
                GUESTS.check($guest, cc, $mode);
            });
        )*
    };
}
