//! busybox sh scripts: pipelines, redirections, here-documents, subshells, background
//! jobs and `wait`, `$?`, `trap`, and the applets ls cat cp mv rm mkdir find sort uniq
//! wc grep sed awk tar gzip md5sum dd head tail seq xargs ps kill sleep date.
//!
//! Each scenario runs as `busybox sh -c SCRIPT` under vkernel (pid 1, working directory
//! /tmp/w) and natively with the host's busybox (the same binary the image is made of)
//! in a fresh scratch directory; stdout and the exit status must be the same, and the
//! native run must end with the expected status (so a script that is wrong on its own
//! shows up as such). Scripts print no paths, pids or times. The few that depend on the
//! guest being a whole machine (ps, the console) check exact output under vkernel only.
//!
//! Scripts never send a signal with a default action to the top shell itself: it is
//! pid 1 in the guest, which Linux protects from such signals.
//!
//! Tests still marked #[ignore] name what the kernel lacks for them.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use vkernel_tests::*;

const TIMEOUT: Duration = Duration::from_secs(20);

/// Goes before every script: a fresh working directory and a fixed umask.
const PRELUDE: &str = "mkdir -p \"$W\" && cd \"$W\" && umask 022 || exit 99\n";

fn image() -> PathBuf {
    static IMG: OnceLock<PathBuf> = OnceLock::new();
    IMG.get_or_init(|| rootfs::<&str>(&[])).clone()
}

/// `busybox sh -c SCRIPT` under vkernel, in /tmp/w.
fn guest_with_stdin(script: &str, stdin: &str) -> Outcome {
    let full = format!("W=/tmp/w\n{PRELUDE}{script}");
    Vk::boot(&image(), &[], &["/bin/busybox", "sh", "-c", &full])
        .stdin(stdin)
        .timeout(TIMEOUT)
        .run()
}

fn guest(script: &str) -> Outcome {
    guest_with_stdin(script, "")
}

/// The same script natively, with the host's busybox, in a fresh scratch directory.
fn native(script: &str) -> Outcome {
    // .../<n>-sh/w, so that the working directory's basename is "w" as in the guest.
    let w = scratch_path("sh").join("w");
    let full = format!("W='{}'\n{PRELUDE}{script}", w.display());
    run_native(&busybox(), "/bin/busybox", &["sh", "-c", &full])
}

/// The script exits `status` natively, and under vkernel prints the same stdout and
/// exits the same way.
#[track_caller]
fn same(script: &str, status: i32) -> Outcome {
    let host = native(script);
    host.check(
        host.status == status && !host.stdout.is_empty(),
        format!(
            "the script itself is wrong: natively it exits {} (expected {status}) with stdout {:?}",
            host.status, host.stdout
        ),
    );
    let vk = guest(script);
    vk.assert_status(status);
    if vk.stdout != host.stdout {
        vk.fail(format!(
            "stdout differs from the native busybox run; native stdout:\n{}",
            host.stdout
        ));
    }
    vk
}

// ---- pipelines, redirections, here-documents, subshells ---------------------------------

#[test]
fn pipeline_sort_uniq_wc() {
    same(
        "printf 'b\\na\\nc\\na\\nb\\na\\n' | sort | uniq -c | sort -rn | head -n 2\n\
         seq 1 100 | wc -l\n\
         printf 'a b\\nc\\n' | wc\n\
         printf 'one two three' | wc -w\n\
         printf 'x\\ny\\ny\\nz\\nz\\nz\\n' | uniq -d\n\
         printf 'x\\ny\\ny\\n' | uniq -u\n",
        0,
    );
}

#[test]
fn long_pipelines_and_sigpipe() {
    same(
        "seq 1 5000 | cat | cat | cat | cat | cat | cat | cat | cat | cat | wc -l\n\
         yes | head -n 3\n\
         yes abc | head -c 100000 | wc -c\n\
         yes | head -n 1 > /dev/null; echo \"plain: $?\"\n\
         set -o pipefail\n\
         yes | head -n 1 > /dev/null; echo \"pipefail: $?\"\n\
         true | false | true; echo \"pipefail, middle fails: $?\"\n",
        0,
    );
}

#[test]
fn redirections() {
    same(
        "echo one > f; echo two >> f; cat < f; wc -l < f\n\
         ls nonexistent 2> err; echo \"rc=$?\"; grep -c nonexistent err\n\
         (echo out; echo err >&2) 2>&1 | sort\n\
         (echo out; echo err >&2) 2>/dev/null\n\
         (echo out; echo err >&2) 2>&1 >/dev/null | sed 's/^/stderr was: /'\n\
         exec 3> g; echo three >&3; echo four >&3; exec 3>&-; cat g\n\
         exec 4< f; read -r first <&4; read -r second <&4; exec 4<&-; echo \"$second $first\"\n\
         echo closed >&- 2>/dev/null; echo \"write to a closed stdout: $?\"\n\
         cat <> f > /dev/null; echo \"read-write open: $?\"\n\
         : > empty; wc -c < empty\n",
        0,
    );
}

#[test]
fn here_documents() {
    same(
        "x=42\n\
         cat <<EOF\n\
         value $x\n\
         $(echo substituted) and $((x + 1))\n\
         EOF\n\
         cat <<'EOF'\n\
         raw $x $(not run)\n\
         EOF\n\
         cat <<-EOF\n\
         \t\tleading tabs removed $x\n\
         \tEOF\n\
         while read -r a b; do echo \"[$b|$a]\"; done <<EOF\n\
         1 one\n\
         2 two\n\
         EOF\n\
         tr a-z A-Z <<EOF | rev\n\
         piped heredoc\n\
         EOF\n",
        0,
    );
}

#[test]
fn subshells_and_command_substitution() {
    same(
        "x=1; (x=2; echo \"in $x\"); echo \"out $x\"\n\
         mkdir sub; (cd sub && basename \"$(pwd)\"); basename \"$(pwd)\"\n\
         y=$( (echo a; echo b) | wc -l); echo \"lines $y\"\n\
         { echo grouped; echo lines; } | tac\n\
         a=$(echo $(echo nested)); echo \"$a\"\n\
         b=`echo backquotes`; echo \"$b\"\n\
         echo \"$(seq 3 | tr '\\n' ' ')\"\n\
         echo \"$(printf 'trailing\\n\\n\\n')\" | wc -c\n\
         (exit 5); echo \"subshell exit $?\"\n\
         z=$(exit 6); echo \"substitution exit $?\"\n",
        0,
    );
}

#[test]
fn background_jobs_and_wait() {
    same(
        "(sleep 0.6; echo slow) &\n\
         (echo fast) &\n\
         wait; echo \"all done\"\n\
         sleep 0.1 & p=$!; wait $p; echo \"sleep status $?\"\n\
         (exit 7) & wait $!; echo \"job status $?\"\n\
         for i in 3 6 9; do (sleep 0.$i; echo \"job $i\") & done; wait\n\
         sh -c 'exit 3' & q=$!; sleep 0.2; wait $q; echo \"reaped later $?\"\n\
         wait; echo \"wait with no jobs $?\"\n",
        0,
    );
}

#[test]
fn exit_statuses() {
    same(
        "false; echo $?; true; echo $?; ! false; echo $?; ! true; echo $?\n\
         false | true; echo $?; true | false; echo $?\n\
         sh -c 'exit 42'; echo $?\n\
         sh -c 'exit 256'; echo $?\n\
         nonexistent_command 2>/dev/null; echo $?\n\
         echo 'echo hi' > noexec; chmod 644 noexec; ./noexec 2>/dev/null; echo $?\n\
         printf '#!/bin/busybox sh\\nexit 9\\n' > script; chmod 755 script; ./script; echo $?\n\
         grep -q nothing /dev/null; echo \"grep no match $?\"\n\
         cat missing 2>/dev/null; echo \"cat missing $?\"\n\
         f() { return 4; }; f; echo \"function $?\"\n\
         if false; then :; else echo \"else branch $?\"; fi\n\
         sh -c 'kill -TERM $$'; echo \"killed child $?\"\n",
        0,
    );
}

#[test]
fn traps() {
    same(
        "trap 'echo got USR1' USR1\n\
         kill -USR1 $$; echo after USR1\n\
         trap 'echo bye' EXIT\n\
         sh -c 'trap \"echo child TERM; exit 3\" TERM; kill -TERM $$; echo not reached'\n\
         echo \"child status $?\"\n\
         sh -c 'trap \"\" INT; kill -INT $$; echo ignored INT'\n\
         sh -c 'trap \"echo in child exit trap\" EXIT; exit 2'; echo \"status $?\"\n\
         trap - USR1\n\
         (trap 'echo subshell USR2' USR2; kill -USR2 $(sh -c 'echo $PPID'); echo subshell done)\n\
         trap\n",
        0,
    );
}

#[test]
fn kill_and_wait_statuses() {
    same(
        "sleep 10 & p=$!; kill $p; wait $p; echo \"TERM: $?\"\n\
         sleep 10 & p=$!; kill -9 $p; wait $p; echo \"KILL: $?\"\n\
         sleep 10 & p=$!; kill -HUP $p; wait $p; echo \"HUP: $?\"\n\
         sleep 10 & p=$!; kill -s USR1 $p; wait $p; echo \"USR1: $?\"\n\
         kill -0 $$ && echo self alive\n\
         sleep 0.1 & p=$!; wait $p; kill -0 $p 2>/dev/null || echo \"reaped job is gone\"\n\
         kill -l 15\n\
         kill -l TERM\n",
        0,
    );
}

// (No SIGINT to a background job: a non-interactive shell starts background jobs with
// SIGINT ignored, so whether it arrives before or after that is a race.)

// ---- files ----------------------------------------------------------------------------

#[test]
fn ls_mkdir_rm() {
    same(
        "mkdir -p a/b/c; touch a/f1 a/b/f2 a/.hidden\n\
         ls a; ls -a a; ls -1 a/b\n\
         ls -R a\n\
         ls -l a/f1 | awk '{print $1, $5, $NF}'\n\
         ls -d a/b; ls nothing 2>/dev/null; echo \"ls missing: $?\"\n\
         rm -r a/b; ls a\n\
         rmdir a 2>/dev/null || echo \"rmdir of a non-empty directory fails\"\n\
         rm -rf a; ls; echo \"empty listing above\"\n\
         mkdir x; mkdir x 2>/dev/null || echo \"mkdir existing fails\"; mkdir -p x && echo \"mkdir -p is fine\"\n",
        0,
    );
}

#[test]
fn cp_mv_cat() {
    same(
        "echo data > src; cp src dst; cat dst\n\
         mkdir d; cp src d/; ls d\n\
         cp -r d d2; ls d2\n\
         mv dst d/moved; ls d; ls dst 2>/dev/null || echo \"dst moved away\"\n\
         chmod 600 d/moved; cp -a d d3; ls -l d3/moved | awk '{print $1}'\n\
         mv d3 d4; ls\n\
         cmp src d/moved && echo same\n\
         cat src d/src d4/moved\n\
         cat -n src; printf 'a\\tb\\n' | cat -A 2>/dev/null || printf 'a\\tb\\n' | cat -v\n\
         echo appended >> src; cat src | wc -l\n",
        0,
    );
}

#[test]
fn find_files() {
    same(
        "mkdir -p t/x/y; touch t/a.txt t/x/b.txt t/x/y/c.log; seq 1 1000 > t/x/big\n\
         find t -name '*.txt' | sort\n\
         find t -type d | sort\n\
         find t -type f -exec echo F {} \\; | sort\n\
         find t -maxdepth 1 | sort\n\
         find t -size +1k | sort\n\
         find t -name '*.log' -o -name big | sort\n\
         find t -type f | wc -l\n\
         find t/missing 2>/dev/null; echo \"find missing: $?\"\n",
        0,
    );
}

#[test]
fn xargs_commands() {
    same(
        "seq 1 10 | xargs -n 3 echo\n\
         printf 'a b\\nc\\n' | xargs echo\n\
         seq 3 | xargs -I{} echo item-{}\n\
         echo | xargs -r echo never; echo \"xargs -r: $?\"\n\
         mkdir d; for i in 1 2 3; do seq $i > d/f$i; done\n\
         find d -type f | sort | xargs md5sum\n\
         find d -type f | sort | xargs wc -l\n\
         echo d/f1 d/f2 | xargs cat\n\
         seq 5 | xargs sh -c 'echo \"$# args: $*\"' sh\n",
        0,
    );
}

#[test]
fn head_and_tail() {
    same(
        "seq 1 100 > n\n\
         head -n 3 n; tail -n 2 n; tail -n +98 n\n\
         head -c 5 n | od -c | head -n 1\n\
         tail -c 4 n\n\
         seq 1 5 | head -n -2\n\
         head -n 1 n n\n\
         seq 20 | tail -n 3 | head -n 1\n",
        0,
    );
}

#[test]
fn seq_forms() {
    same(
        "seq 5; seq 2 2 10; seq 10 -3 1; seq -s, 1 5; seq -w 8 10; seq 3 1; echo \"empty seq above: $?\"\n",
        0,
    );
}

#[test]
fn sort_options() {
    same(
        "printf '10 b\\n9 a\\n100 c\\n9 a\\n' > f\n\
         sort f; echo --; sort -n f; echo --; sort -k2 f; echo --; sort -r f; echo --; sort -u f; echo --\n\
         printf 'x:3\\ny:1\\nz:2\\n' | sort -t: -k2n\n\
         printf 'b\\nA\\na\\nB\\n' | sort -f\n\
         sort -c f 2>/dev/null; echo \"sorted? $?\"\n\
         sort -n f | sort -n -c && echo \"now sorted\"\n",
        0,
    );
}

#[test]
fn grep_options() {
    same(
        "printf 'apple\\nBanana\\ncherry\\napple pie\\npineapple\\n' > f\n\
         grep -c apple f; grep -i banana f; grep -v a f; grep -n cherry f\n\
         grep -w apple f; grep -E 'an+a' f; grep -x apple f; grep -o 'p\\+' f | sort | uniq -c\n\
         grep -q nothing f; echo \"grep -q: $?\"\n\
         grep -l apple f /dev/null; grep -L apple f /dev/null\n\
         grep -e cherry -e Banana f\n\
         printf 'apple\\n' > pat; grep -f pat f | wc -l\n\
         grep apple missing 2>/dev/null; echo \"missing file: $?\"\n",
        0,
    );
}

#[test]
fn sed_programs() {
    same(
        "printf 'one\\ntwo\\nthree\\n' > f\n\
         sed -n '2p' f; sed '1d' f; sed 's/o/0/g' f; sed -n '/t/p' f; sed '$d' f\n\
         sed -i 's/two/TWO/' f; cat f\n\
         echo abc | sed 's/\\(a\\)\\(b\\)/\\2\\1/'\n\
         echo hello | sed -e 's/h/H/' -e 's/o$/O/'\n\
         seq 10 | sed -n '3,5p'\n\
         seq 3 | sed 'a\\\n--'\n\
         echo path/to/file | sed 's|/|:|g'\n\
         printf 'a\\nb\\n' | sed = | sed 'N;s/\\n/ /'\n",
        0,
    );
}

#[test]
fn awk_programs() {
    same(
        "printf 'x 1\\ny 2\\nx 3\\n' | awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort\n\
         awk 'BEGIN {printf \"%05.1f|%s|%d\\n\", 3.14159, toupper(\"abc\"), length(\"four\")}'\n\
         echo 'a:b:c' | awk -F: '{print NF, $2, $NF}'\n\
         seq 10 | awk 'NR % 3 == 0'\n\
         seq 5 | awk '{s += $1} END {print s, s / NR}'\n\
         echo 'hello world' | awk '{gsub(/o/, \"0\"); print; print substr($0, 1, 4), index($0, \"w\")}'\n\
         awk 'BEGIN {split(\"a,b,c\", p, \",\"); print p[3] p[2] p[1]; exit 3}'; echo \"awk exit $?\"\n\
         seq 3 | awk -v m=10 '{print $1 * m}'\n",
        0,
    );
}

#[test]
fn tar_and_gzip() {
    same(
        "mkdir -p d/sub; echo a > d/a; echo b > d/sub/b; seq 1 2000 > d/sub/n\n\
         tar cf t.tar d; tar tf t.tar | sort\n\
         rm -rf d; tar xf t.tar; cat d/a d/sub/b; wc -l < d/sub/n\n\
         tar czf t.tgz d; rm -rf d; tar xzf t.tgz; find d | sort\n\
         tar cf - d | tar tf - | sort | head -n 2\n\
         mkdir out; tar cf - d | (cd out && tar xf -); find out -type f | sort\n\
         gzip -c t.tar | gzip -dc | cmp - t.tar && echo roundtrip\n\
         seq 1 1000 > big; gzip big; ls big*; gunzip big.gz; wc -l < big\n\
         gzip -9 -c big | gzip -t && echo \"gzip -t ok\"\n\
         echo notgzip | gzip -dc 2>/dev/null; echo \"gzip -d of garbage: $?\"\n",
        0,
    );
}

#[test]
fn md5sum_and_dd() {
    same(
        "seq 1 1000 | md5sum; printf abc | md5sum\n\
         dd if=/dev/zero bs=1024 count=64 2>/dev/null | md5sum\n\
         dd if=/dev/zero of=z bs=4k count=3 2>err; head -n 2 err; wc -c < z\n\
         dd if=z bs=1 skip=100 count=5 2>/dev/null | wc -c\n\
         echo hello | dd conv=ucase 2>/dev/null\n\
         seq 1 100 > n; dd if=n of=part bs=10 skip=1 count=2 2>/dev/null; cat part\n\
         md5sum z n > sums; md5sum -c sums\n\
         echo corrupt >> n; md5sum -c sums 2>/dev/null; echo \"md5sum -c after a change: $?\"\n\
         dd if=/dev/zero bs=64k count=32 2>/dev/null | gzip | gzip -d | wc -c\n",
        0,
    );
}

#[test]
fn date_formats() {
    same(
        "date -u -d @0 +%Y-%m-%dT%H:%M:%S\n\
         date -u -d '2000-02-29 12:34:56' +%s\n\
         TZ=UTC date -d @86400 '+%A %j %H'\n\
         date -u -d @1234567890 '+%a %b %e %T %Z %Y'\n\
         t=$(date +%s); [ \"$t\" -gt 1600000000 ] && echo \"the clock is sane\"\n\
         date -d 'not a date' 2>/dev/null; echo \"bad date: $?\"\n",
        0,
    );
}

#[test]
fn sleep_applet() {
    same(
        "sleep 0.2; echo \"sleep: $?\"\n\
         sleep 0 && echo zero\n\
         sleep bad 2>/dev/null; echo \"sleep bad: $?\"\n\
         a=$(date +%s); sleep 1.1; b=$(date +%s); [ $((b - a)) -ge 1 ] && echo \"slept at least a second\"\n",
        0,
    );
}

// ---- the shell language ------------------------------------------------------------------

#[test]
fn shell_language() {
    same(
        "f() { echo \"f $1 $#\"; return 3; }; f a b; echo $?\n\
         for i in 1 2 3; do case $i in 1) echo one;; 2) echo two;; *) echo many;; esac; done\n\
         i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo \"i=$i\"\n\
         seq 3 | while read -r x; do echo \"line $x\"; done\n\
         echo $((7 * 6)) $((17 % 5)) $((2 ** 10)) $((1 << 4)) $((-7 / 2))\n\
         s='a b  c'; set -- $s; echo \"$# words\"; set -- \"$s\"; echo \"$# word\"\n\
         v=${UNSET:-default}; echo $v; w=abcdef; echo ${#w} ${w#ab} ${w%ef} ${w%%c*}\n\
         [ -d / ] && [ ! -f / ] && echo tests\n\
         until [ $i -eq 0 ]; do i=$((i - 1)); done; echo \"until done $i\"\n\
         for w in $(echo x y z); do printf '%s.' $w; done; echo\n\
         local_test() { local v=inner; echo $v; }; v=outer; local_test; echo $v\n",
        0,
    );
}

#[test]
fn scripts_and_sourcing() {
    same(
        "printf '#!/bin/busybox sh\\necho \"$0 has $# args: $*\"\\nexit 4\\n' > s.sh; chmod +x s.sh\n\
         ./s.sh one 'two words' three | sed 's|^.*/||'; echo \"status $?\"\n\
         ./s.sh > out; echo \"status $?\"; sed 's|^.*/||' out\n\
         echo 'LIBVAR=from-lib; lib_fn() { echo \"lib_fn $1\"; }' > lib.sh\n\
         . ./lib.sh; echo $LIBVAR; lib_fn x\n\
         (exec sh -c 'echo exec replaced the subshell'); echo \"after exec $?\"\n\
         sh ./s.sh via-sh | sed 's|^.*/||'\n\
         sh -c 'echo \"$0 $1\"' zero one\n",
        0,
    );
}

#[test]
fn environment() {
    same(
        "export A=1; sh -c 'echo \"A=$A\"'\n\
         B=2 sh -c 'echo \"B=$B\"'; echo \"B after: ${B:-unset}\"\n\
         env -i X=y /bin/busybox env\n\
         env | grep -c '^A=1$'\n\
         unset A; sh -c 'echo \"A=${A:-unset}\"'\n\
         env C=3 sh -c 'echo \"C=$C\"'\n",
        0,
    );
}

// ---- guest-only: the whole machine ------------------------------------------------------------

#[test]
fn ps_lists_guest_processes() {
    // busybox runs applets by execve("/proc/self/exe"), so their comm is "exe" and ps
    // shows "{exe} sleep 3": match on the pid and the last word instead.
    let out = guest(
        "sleep 3 & s=$!\n\
         sleep 0.3\n\
         ps -o pid,ppid,args | awk -v s=$s '$1 == s {print \"sleep job: ppid\", $2, \"last word\", $NF}'\n\
         ps -o pid,args | awk '$1 == 1 {print \"pid 1 is\", $2, $3}'\n\
         ps | wc -l\n\
         kill $s; wait $s; echo \"status $?\"\n\
         ps -o pid | grep -c \"^ *$s\\$\"; true\n",
    );
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    out.check(
        lines.len() == 5,
        format!("expected 5 lines, got {}", lines.len()),
    );
    out.check(
        lines[0] == "sleep job: ppid 1 last word 3",
        "ps should show the sleep job, a child of pid 1",
    );
    out.check(
        lines[1] == "pid 1 is /bin/busybox sh",
        "pid 1 should be the shell",
    );
    // The header, sh, sleep, ps and wc at least.
    let count: usize = lines[2].trim().parse().unwrap_or(0);
    out.check(
        count >= 5,
        format!("ps should list at least 4 processes, got {count} lines"),
    );
    out.check(lines[3] == "status 143", "the killed sleep's status");
    out.check(lines[4] == "0", "the killed sleep should be gone from ps");
}

#[test]
fn console_input_through_a_pipeline() {
    guest_with_stdin(
        "cat | tr a-z A-Z | sort\nread -r never < /dev/null; echo \"after: $?\"\n",
        "hello\nconsole\n",
    )
    .assert_success()
    .assert_stdout_eq("CONSOLE\nHELLO\nafter: 1\n");
}

#[test]
fn init_shell_runs_pipelines_from_the_console() {
    let out = Vk::boot(&image(), &[], &[])
        .stdin("seq 1 10 | grep 1 | wc -l\n(sleep 0.2; echo bg) & wait\necho \"$$ $?\"\nexit 4\n")
        .timeout(TIMEOUT)
        .run();
    out.assert_status(4)
        .assert_stdout_contains(INIT_BANNER)
        .assert_stdout_has_lines(&["2", "bg", "1 0"]);
}
