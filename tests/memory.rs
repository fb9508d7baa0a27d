//! Guest memory exhaustion: the guest gets ENOMEM or is killed; the kernel survives.

use vkernel_tests::*;

fn oom_rootfs(cc: Cc) -> std::path::PathBuf {
    rootfs(&[(build_guest("oom", cc), "/oom")])
}

#[test]
fn a_mapping_larger_than_guest_ram_is_enomem() {
    for cc in [Cc::Glibc, Cc::Musl] {
        let img = oom_rootfs(cc);
        Vk::boot(&img, &["--memory", "16M"], &["/oom", "huge"])
            .run()
            .assert_status(0)
            .assert_stdout_eq("huge malloc failed\n");
    }
}

#[test]
fn touching_more_than_guest_ram_kills_the_guest_not_the_kernel() {
    let img = oom_rootfs(Cc::Musl);
    let out = Vk::boot(&img, &["--memory", "16M"], &["/oom", "touch"]).run();
    out.assert_status(128 + 9)
        .assert_stdout_contains("touched 1 MiB\n")
        .assert_stderr_contains("out of guest memory");
    let touched = out.stdout.lines().count();
    out.check(
        touched < 16,
        format!("touched {touched} MiB of a 16 MiB machine"),
    );
}
