/* fork_wait: process creation and reaping, selected by argv[1].
 *
 *   tree       a fork tree of depth 3 (3 children, 2 grandchildren each, one
 *              great-grandchild each), all running at once; every process exits with
 *              its own code and checks its children's codes; the root prints them
 *   exitcodes  _exit / exit / exit_group with 0, 1, 42, 255, 256; raw status words
 *   wnohang    WNOHANG before the child exits returns 0, after it the child's pid
 *   waitid     waitid P_PID / P_PGID / P_ALL, WEXITED, WNOHANG, WNOWAIT, EINVAL, ECHILD
 *   echild     wait with no children, for a non-child, for a grandchild: ECHILD
 *   getppid    a child's getppid is its parent; pid, pgrp and session inherited
 *   zombie     an exited child is Z in /proc/<pid>/stat and status until reaped, then
 *              /proc/<pid> is gone
 *   orphan     a grandchild whose parent exits is reparented to the top process (pid 1
 *              under vkernel; natively the top makes itself a child subreaper)
 *   vfork      the parent sleeps until the child _exits or execs; memory is shared
 *   clone      clone() flavours: plain, CLONE_VM, CLONE_FILES, CLONE_FS,
 *              CLONE_VFORK|CLONE_VM, PARENT_SETTID/CHILD_CLEARTID, exit signal 0
 *              (needs __WALL), raw fork-like clone
 *   clone3     raw clone3 like fork, and with exit_signal 0
 *   sessions   setpgid / getpgid / setsid / getsid rules
 *   rusage     wait4 fills the rusage of the reaped child
 *
 * Synchronisation uses gate files in a scratch directory, not pipes or signals.
 */
#include "posix.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef __WALL
#define __WALL 0x40000000
#endif
#ifndef __WCLONE
#define __WCLONE 0x80000000
#endif

/* ---- tree ------------------------------------------------------------------------- */

/* Node `id` at `depth` forks its children (ids id*10+1, ...), waits for all of them in
 * whatever order they finish, checks each one's exit code and exits with its own id
 * (or 250 when a descendant went wrong). */
static int node(int id, int depth) {
    int nchildren = depth == 0 ? 3 : depth == 1 ? 2 : depth == 2 ? 1 : 0;
    pid_t pids[3];
    int ids[3];
    for (int i = 0; i < nchildren; i++) {
        ids[i] = id * 10 + i + 1;
        pids[i] = vk_fork();
        if (pids[i] == 0)
            vk_exit(node(ids[i], depth + 1) % 256);
        if (pids[i] < 0)
            return 250;
    }
    int ok = 1, seen = 0;
    int codes[3] = {-1, -1, -1};
    while (seen < nchildren) {
        int st;
        struct rusage ru;
        pid_t p = wait4(-1, &st, 0, &ru);
        if (p < 0) {
            if (errno == EINTR)
                continue;
            return 251;
        }
        for (int i = 0; i < nchildren; i++)
            if (pids[i] == p) {
                codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + st;
                if (codes[i] != ids[i] % 256)
                    ok = 0;
            }
        seen++;
    }
    /* Everything reaped: one more wait fails with ECHILD. */
    if (wait4(-1, NULL, WNOHANG, NULL) != -1 || errno != ECHILD)
        ok = 0;
    if (depth == 0) {
        for (int i = 0; i < nchildren; i++)
            printf("child %d (subtree ok: %s): exit code %d\n", ids[i],
                   codes[i] == ids[i] ? "yes" : "no", codes[i]);
        return ok ? 0 : 1;
    }
    return ok ? id : 250;
}

static void tree(void) {
    CHECK(node(0, 0) == 0, "the fork tree went wrong");
    printf("15 processes forked and reaped\n");
}

/* ---- exit codes ------------------------------------------------------------------- */

static void at_exit_handler(void) { _exit(77); }

static void exitcodes(void) {
    static const int codes[] = {0, 1, 42, 127, 128, 255, 256, 257};
    for (unsigned i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        for (int how = 0; how < 3; how++) {
            pid_t p = vk_fork();
            if (p == 0) {
                if (how == 0)
                    _exit(codes[i]);
                else if (how == 1)
                    exit(codes[i]);
                else
                    syscall(SYS_exit_group, codes[i]);
                _exit(99);
            }
            char what[64];
            snprintf(what, sizeof what, "%s(%d)", how == 0 ? "_exit" : how == 1 ? "exit" : "exit_group",
                     codes[i]);
            int st = vk_reap(p, what);
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == (codes[i] & 0xff), "%s", what);
        }
    }
    /* exit() runs atexit handlers in the child too; this one _exits 77. */
    pid_t p = vk_fork();
    if (p == 0) {
        atexit(at_exit_handler);
        exit(3);
    }
    int st = vk_reap(p, "exit(3) with an atexit handler that _exits 77");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 77, "atexit in child");
    /* Returning from main is exit(): covered by the guests test; a child that falls off
     * a function and _exits with the value: */
    p = vk_fork();
    if (p == 0)
        vk_exit(node(7, 3)); /* a leaf: returns its id */
    st = vk_reap(p, "leaf node 7");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "leaf");
}

/* ---- wnohang ---------------------------------------------------------------------- */

static void wnohang(void) {
    const char *dir = vk_tmpdir();
    const char *gate = vk_join(dir, "go");
    pid_t p = vk_fork();
    if (p == 0)
        vk_exit(vk_gate_wait(gate) ? 12 : 99);
    int st = -1;
    pid_t r = waitpid(p, &st, WNOHANG);
    CHECK(r == 0, "WNOHANG on a running child returned %d", (int)r);
    printf("WNOHANG while the child runs: %d\n", (int)r);
    r = waitpid(-1, &st, WNOHANG);
    CHECK(r == 0, "WNOHANG (-1) on a running child returned %d", (int)r);
    printf("WNOHANG(-1) while the child runs: %d\n", (int)r);
    vk_gate_open(gate);
    /* Poll with WNOHANG until the child is reaped. */
    int polls = 0;
    do {
        r = waitpid(p, &st, WNOHANG);
        if (r == 0)
            vk_msleep(1);
    } while (r == 0 && ++polls < 10000);
    CHECK(r == p, "WNOHANG after exit returned %d", (int)r);
    printf("WNOHANG after the exit: the child's pid, %s\n", vk_status(st));
    r = waitpid(-1, &st, WNOHANG);
    CHECK(r == -1 && errno == ECHILD, "WNOHANG with no children left");
    printf("WNOHANG with no children: ECHILD\n");
    vk_rmtree(dir);
}

/* ---- waitid ----------------------------------------------------------------------- */

static void print_siginfo(const char *what, const siginfo_t *si, pid_t pid) {
    const char *code = si->si_code == CLD_EXITED ? "CLD_EXITED"
                       : si->si_code == CLD_KILLED ? "CLD_KILLED"
                       : si->si_code == CLD_DUMPED ? "CLD_DUMPED"
                       : si->si_code == CLD_STOPPED ? "CLD_STOPPED"
                       : si->si_code == CLD_CONTINUED ? "CLD_CONTINUED"
                                                      : "?";
    printf("%s: si_signo %s si_code %s si_status %d si_pid %s si_uid %s\n", what, vk_signame(si->si_signo),
           code, si->si_status, si->si_pid == pid ? "=child" : "WRONG",
           si->si_uid == getuid() ? "=uid" : "WRONG");
    CHECK(si->si_pid == pid && si->si_uid == getuid(), "%s: pid/uid", what);
}

static void waitid_mode(void) {
    const char *dir = vk_tmpdir();
    const char *gate = vk_join(dir, "go");
    siginfo_t si;

    pid_t p = vk_fork();
    if (p == 0)
        vk_exit(vk_gate_wait(gate) ? 5 : 99);

    memset(&si, 0x5a, sizeof si);
    int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG);
    CHECK(r == 0 && si.si_pid == 0, "waitid WNOHANG with a running child: r %d si_pid %d", r, si.si_pid);
    printf("waitid(P_ALL, WEXITED|WNOHANG) while running: %d, si_pid 0\n", r);

    EXPECT_ERR("waitid without WEXITED/WSTOPPED/WCONTINUED", waitid(P_PID, p, &si, 0), EINVAL);
    EXPECT_ERR("waitid with a bad idtype", waitid((idtype_t)42, p, &si, WEXITED), EINVAL);

    vk_gate_open(gate);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, p, &si, WEXITED | WNOWAIT);
    CHECK(r == 0, "waitid WNOWAIT");
    print_siginfo("waitid(P_PID, WEXITED|WNOWAIT)", &si, p);
    CHECK(vk_proc_state(p) == 'Z', "after WNOWAIT the child is still a zombie");
    printf("after WNOWAIT the child is still a zombie\n");
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, p, &si, WEXITED);
    CHECK(r == 0, "waitid");
    print_siginfo("waitid(P_PID, WEXITED)", &si, p);
    EXPECT_ERR("waitid(P_PID) again", waitid(P_PID, p, &si, WEXITED), ECHILD);

    /* P_PGID: the child stays in our process group. */
    p = vk_fork();
    if (p == 0)
        vk_exit(6);
    memset(&si, 0, sizeof si);
    r = waitid(P_PGID, getpgrp(), &si, WEXITED);
    CHECK(r == 0, "waitid P_PGID");
    print_siginfo("waitid(P_PGID, own group)", &si, p);

    /* P_ALL, blocking. */
    p = vk_fork();
    if (p == 0)
        vk_exit(255);
    memset(&si, 0, sizeof si);
    r = waitid(P_ALL, 0, &si, WEXITED);
    CHECK(r == 0, "waitid P_ALL");
    print_siginfo("waitid(P_ALL)", &si, p);

    EXPECT_ERR("waitid(P_ALL) with no children", waitid(P_ALL, 0, &si, WEXITED), ECHILD);
    vk_rmtree(dir);
}

/* ---- echild ----------------------------------------------------------------------- */

static void echild(void) {
    int st;
    EXPECT_ERR("wait with no children", wait(&st), ECHILD);
    EXPECT_ERR("waitpid(-1) with no children", waitpid(-1, &st, 0), ECHILD);
    EXPECT_ERR("waitpid(own pid)", waitpid(getpid(), &st, 0), ECHILD);
    EXPECT_ERR("wait4(own group) with no children", wait4(0, &st, 0, NULL), ECHILD);
    /* A grandchild is not our child. */
    const char *dir = vk_tmpdir();
    const char *pidfile = vk_join(dir, "pid");
    const char *gate = vk_join(dir, "go");
    pid_t p = vk_fork();
    if (p == 0) {
        pid_t g = vk_fork();
        if (g == 0)
            vk_exit(vk_gate_wait(gate) ? 0 : 99);
        char buf[32];
        snprintf(buf, sizeof buf, "%d", (int)g);
        vk_write_file(pidfile, buf, 0644);
        int gst;
        waitpid(g, &gst, 0);
        vk_exit(WIFEXITED(gst) && WEXITSTATUS(gst) == 0 ? 0 : 1);
    }
    char buf[32];
    CHECK(vk_gate_wait(pidfile), "the child wrote the grandchild's pid");
    vk_msleep(5);
    vk_read_file(pidfile, buf, sizeof buf);
    pid_t g = atoi(buf);
    EXPECT_ERR("waitpid(grandchild)", waitpid(g, &st, WNOHANG), ECHILD);
    vk_gate_open(gate);
    vk_reap_ok(p, "child that reaped the grandchild");
    vk_rmtree(dir);
}

/* ---- getppid ---------------------------------------------------------------------- */

static void getppid_mode(void) {
    pid_t me = getpid(), pgrp = getpgrp(), sid = getsid(0);
    pid_t p = vk_fork();
    if (p == 0) {
        int bad = 0;
        bad += getppid() != me;
        bad += getpid() == me;
        bad += getpgrp() != pgrp;
        bad += getpgid(0) != pgrp;
        bad += getsid(0) != sid;
        bad += gettid() != getpid();
        vk_exit(bad);
    }
    CHECK(p > 0 && p != me, "fork returned %d", (int)p);
    vk_reap_ok(p, "child: getppid is the parent, own pid, same pgrp and session");
    /* A grandchild's getppid is the child. */
    p = vk_fork();
    if (p == 0) {
        pid_t child = getpid();
        pid_t g = vk_fork();
        if (g == 0)
            vk_exit(getppid() == child ? 0 : 1);
        int st;
        waitpid(g, &st, 0);
        vk_exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
    }
    vk_reap_ok(p, "grandchild: getppid is the child");
}

/* ---- zombie ----------------------------------------------------------------------- */

static void zombie(void) {
    pid_t p = vk_fork();
    if (p == 0)
        vk_exit(9);
    CHECK(vk_wait_state(p, 'Z'), "the child never became a zombie");
    printf("exited child: /proc/<pid>/stat state %c\n", vk_proc_state(p));
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)p);
    CHECK(vk_read_file(path, buf, sizeof buf) > 0, "read %s", path);
    CHECK(strstr(buf, "State:\tZ (zombie)") != NULL, "status of a zombie: %s", buf);
    printf("/proc/<pid>/status has State:\\tZ (zombie)\n");
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
    CHECK(vk_read_file(path, buf, sizeof buf) > 0, "read %s", path);
    {
        char *close_paren = strrchr(buf, ')');
        int ppid = 0;
        CHECK(close_paren && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == getpid(),
              "zombie's ppid field: %s", buf);
        printf("zombie's ppid field is the parent\n");
    }
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)p);
    CHECK(vk_read_file(path, buf, sizeof buf) == 0, "a zombie's cmdline is empty: %s", buf);
    printf("zombie's cmdline is empty\n");
    int st = vk_reap(p, "zombie reaped");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 9, "status");
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
    struct stat sb;
    EXPECT_ERR("stat /proc/<pid> after reaping", stat(path, &sb), ENOENT);
}

/* ---- orphan ----------------------------------------------------------------------- */

static void orphan(void) {
    /* Natively the top becomes a subreaper so that orphans come to it as they would to
     * pid 1; under vkernel the top is pid 1 (prctl may not exist yet: ignored). */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    const char *dir = vk_tmpdir();
    const char *started = vk_join(dir, "started");
    const char *gate = vk_join(dir, "parent-reaped");
    pid_t top = getpid();
    pid_t a = vk_fork();
    if (a == 0) {
        pid_t mid = getpid();
        pid_t b = vk_fork();
        if (b == 0) {
            int bad = getppid() != mid;
            vk_gate_open(started);
            if (!vk_gate_wait(gate))
                vk_exit(98);
            /* The parent is gone and reaped: the top adopted us. */
            bad += (getppid() != top) * 2;
            vk_exit(bad);
        }
        CHECK(vk_gate_wait(started), "grandchild started");
        vk_exit(4);
    }
    int st = vk_reap(a, "middle process");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 4, "middle");
    vk_gate_open(gate);
    /* The orphan is now our child: wait(-1) gets it. */
    pid_t r;
    do {
        r = wait(&st);
    } while (r == -1 && errno == EINTR);
    CHECK(r > 0 && r != a, "wait for the orphan returned %d", (int)r);
    printf("orphan reaped by the top process: %s\n", vk_status(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "orphan's getppid (1: before, 2: after)");
    printf("orphan's getppid was its parent, then the top process\n");
    printf("value top_pid %d\n", (int)top);
    vk_rmtree(dir);
}

/* ---- vfork ------------------------------------------------------------------------ */

static volatile int shared_word;

static void vfork_mode(void) {
    shared_word = 1;
    pid_t p = vfork();
    if (p == 0) {
        /* The parent is suspended: it must see both writes, the second made after a
         * sleep, when it resumes. */
        shared_word = 2;
        struct timespec t = {0, 50 * 1000000L};
        nanosleep(&t, NULL);
        shared_word = 3;
        _exit(21);
    }
    printf("after vfork the parent sees the child's last write: %d\n", shared_word);
    CHECK(shared_word == 3, "vfork: parent ran before the child exited");
    int st = vk_reap(p, "vfork child");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 21, "vfork status");

    /* vfork + execve: the parent resumes once the exec succeeded. */
    char *argv[] = {"sh", "-c", "exit 9", NULL};
    char *envp[] = {"PATH=/bin", NULL};
    p = vfork();
    if (p == 0) {
        execve("/bin/busybox", argv, envp);
        _exit(127);
    }
    st = vk_reap(p, "vfork + execve busybox sh -c 'exit 9'");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 9, "vfork exec status");

    /* vfork + failed execve: the child _exits 127. */
    p = vfork();
    if (p == 0) {
        execve("/nonexistent", argv, envp);
        shared_word = errno;
        _exit(127);
    }
    st = vk_reap(p, "vfork + execve of a missing file");
    printf("the child's errno, seen through shared memory: %s\n", shared_word == ENOENT ? "ENOENT" : "WRONG");
    CHECK(shared_word == ENOENT, "errno %d", shared_word);
}

/* ---- clone ------------------------------------------------------------------------ */

#define STACK_SIZE (256 * 1024)
static volatile int clone_word;
static int clone_fd_result;
static char clone_cwd[256];

static int child_write_word(void *arg) {
    clone_word = (int)(long)arg;
    return 7;
}

static int child_open_file(void *arg) {
    (void)arg;
    int fd = open("/dev/null", O_RDONLY);
    return fd; /* exit code: the descriptor number */
}

static int child_chdir(void *arg) {
    return chdir((const char *)arg) == 0 ? 0 : 1;
}

static int child_sleep_then_write(void *arg) {
    struct timespec t = {0, 50 * 1000000L};
    nanosleep(&t, NULL);
    clone_word = (int)(long)arg;
    return 0;
}

static char *new_stack(void) {
    char *s = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s == MAP_FAILED) {
        printf("FAIL mmap stack\n");
        exit(100);
    }
    return s + STACK_SIZE;
}

static void clone_mode(void) {
    int st;
    /* Without CLONE_VM: the child's write stays in its copy. */
    clone_word = 1;
    pid_t p = clone(child_write_word, new_stack(), SIGCHLD, (void *)42L);
    CHECK(p > 0, "clone(SIGCHLD)");
    st = vk_reap(p, "clone(SIGCHLD)");
    printf("  parent's word after the child wrote 42: %d\n", clone_word);
    CHECK(clone_word == 1 && WIFEXITED(st) && WEXITSTATUS(st) == 7, "plain clone");

    /* CLONE_VM: the write is shared. */
    p = clone(child_write_word, new_stack(), CLONE_VM | SIGCHLD, (void *)43L);
    CHECK(p > 0, "clone(CLONE_VM)");
    st = vk_reap(p, "clone(CLONE_VM|SIGCHLD)");
    printf("  parent's word after the child wrote 43: %d\n", clone_word);
    CHECK(clone_word == 43, "CLONE_VM");

    /* CLONE_FILES: a descriptor the child opens exists in the parent. */
    p = clone(child_open_file, new_stack(), CLONE_FILES | SIGCHLD, NULL);
    st = vk_wait(p);
    clone_fd_result = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    CHECK(clone_fd_result > 2 && fcntl(clone_fd_result, F_GETFD) != -1, "CLONE_FILES: fd %d", clone_fd_result);
    printf("clone(CLONE_FILES): the child's new descriptor is open in the parent\n");
    close(clone_fd_result);
    p = clone(child_open_file, new_stack(), SIGCHLD, NULL);
    st = vk_wait(p);
    clone_fd_result = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    EXPECT_ERR("clone without CLONE_FILES: the child's descriptor in the parent", fcntl(clone_fd_result, F_GETFD),
               EBADF);

    /* CLONE_FS: chdir is shared. */
    p = clone(child_chdir, new_stack(), CLONE_FS | SIGCHLD, "/tmp");
    vk_reap_ok(p, "clone(CLONE_FS) child chdir /tmp");
    CHECK(getcwd(clone_cwd, sizeof clone_cwd) && strcmp(clone_cwd, "/tmp") == 0, "cwd %s", clone_cwd);
    printf("  parent's cwd: %s\n", clone_cwd);
    chdir("/");
    p = clone(child_chdir, new_stack(), SIGCHLD, "/tmp");
    vk_reap_ok(p, "clone without CLONE_FS, child chdir /tmp");
    CHECK(getcwd(clone_cwd, sizeof clone_cwd) && strcmp(clone_cwd, "/") == 0, "cwd %s", clone_cwd);
    printf("  parent's cwd: %s\n", clone_cwd);

    /* CLONE_VFORK|CLONE_VM: the parent resumes after the child exits. */
    clone_word = 0;
    p = clone(child_sleep_then_write, new_stack(), CLONE_VFORK | CLONE_VM | SIGCHLD, (void *)44L);
    printf("clone(CLONE_VFORK|CLONE_VM): when clone returns the word is %d\n", clone_word);
    CHECK(clone_word == 44, "CLONE_VFORK did not suspend the parent");
    vk_reap_ok(p, "clone(CLONE_VFORK|CLONE_VM)");

    /* CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID (with CLONE_VM to see the clear). */
    static volatile pid_t ptid, ctid;
    ptid = 0;
    ctid = 12345;
    p = clone(child_write_word, new_stack(), CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD,
              (void *)45L, (pid_t *)&ptid, NULL, (pid_t *)&ctid);
    CHECK(ptid == p, "CLONE_PARENT_SETTID wrote %d, child is %d", (int)ptid, (int)p);
    printf("CLONE_PARENT_SETTID: the parent's word holds the child's tid\n");
    vk_wait(p);
    CHECK(ctid == 0, "CLONE_CHILD_CLEARTID left %d", (int)ctid);
    printf("CLONE_CHILD_CLEARTID: cleared when the child exited\n");

    /* Exit signal 0: only __WALL (or __WCLONE) waits for it. */
    p = clone(child_write_word, new_stack(), 0, (void *)46L);
    CHECK(p > 0, "clone with exit signal 0");
    vk_msleep(20);
    EXPECT_ERR("waitpid(clone child with exit signal 0) without __WALL", waitpid(p, &st, WNOHANG), ECHILD);
    pid_t r;
    do {
        r = waitpid(p, &st, __WALL);
    } while (r == -1 && errno == EINTR);
    CHECK(r == p, "__WALL");
    printf("waitpid(__WALL): %s\n", vk_status(st));
    p = clone(child_write_word, new_stack(), 0, (void *)47L);
    do {
        r = waitpid(p, &st, __WCLONE);
    } while (r == -1 && errno == EINTR);
    CHECK(r == p, "__WCLONE");
    printf("waitpid(__WCLONE): %s\n", vk_status(st));

    /* The raw system call, fork-like (no new stack). */
    long rp = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (rp == 0)
        syscall(SYS_exit_group, 33);
    st = vk_reap((pid_t)rp, "raw clone(SIGCHLD, stack 0)");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 33, "raw clone");
}

/* The kernel's struct clone_args (no <linux/sched.h> with musl). */
struct vk_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void clone3_mode(void) {
    struct vk_clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    fflush(stdout);
    long p = syscall(SYS_clone3, &ca, sizeof ca);
    if (p == 0)
        syscall(SYS_exit_group, 34);
    CHECK(p > 0, "clone3 returned %ld", p);
    int st = vk_reap((pid_t)p, "clone3 fork-like");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 34, "clone3 status");

    static volatile pid_t ptid;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_PARENT_SETTID;
    ca.parent_tid = (uint64_t)(uintptr_t)&ptid;
    ca.exit_signal = 0;
    fflush(stdout);
    p = syscall(SYS_clone3, &ca, sizeof ca);
    if (p == 0)
        syscall(SYS_exit_group, 35);
    CHECK(p > 0 && ptid == p, "clone3 CLONE_PARENT_SETTID");
    printf("clone3 CLONE_PARENT_SETTID ok\n");
    pid_t r;
    do {
        r = waitpid((pid_t)p, &st, __WALL);
    } while (r == -1 && errno == EINTR);
    CHECK(r == p && WIFEXITED(st) && WEXITSTATUS(st) == 35, "clone3 exit_signal 0");
    printf("clone3 with exit_signal 0, reaped with __WALL: %s\n", vk_status(st));

    memset(&ca, 0, sizeof ca);
    EXPECT_ERR("clone3 with a too small size", syscall(SYS_clone3, &ca, 8), EINVAL);
    ca.exit_signal = 1000;
    EXPECT_ERR("clone3 with a bad exit signal", syscall(SYS_clone3, &ca, sizeof ca), EINVAL);
}

/* ---- sessions --------------------------------------------------------------------- */

static void sessions(void) {
    const char *dir = vk_tmpdir();
    const char *gate = vk_join(dir, "go");
    const char *ready = vk_join(dir, "ready");
    pid_t me = getpid(), pgrp = getpgrp(), sid = getsid(0);

    /* A child in a new process group of its own. */
    pid_t p = vk_fork();
    if (p == 0) {
        int bad = 0;
        bad += setpgid(0, 0) != 0;
        bad += (getpgrp() != getpid()) << 1;
        bad += (getsid(0) != sid) << 2;
        /* A process group leader cannot make a session. */
        bad += (setsid() != -1 || errno != EPERM) << 3;
        /* Back into the parent's group (same session): allowed. */
        bad += (setpgid(0, pgrp) != 0 || getpgrp() != pgrp) << 4;
        vk_exit(bad);
    }
    vk_reap_ok(p, "setpgid(0,0), setsid EPERM as group leader, setpgid back");

    /* A child that makes a new session. */
    p = vk_fork();
    if (p == 0) {
        int bad = 0;
        pid_t s = setsid();
        bad += s != getpid();
        bad += (getsid(0) != getpid()) << 1;
        bad += (getpgrp() != getpid()) << 2;
        /* Joining a group of another session: EPERM. */
        bad += (setpgid(0, pgrp) != -1 || errno != EPERM) << 3;
        bad += (setsid() != -1 || errno != EPERM) << 4;
        vk_gate_open(ready);
        if (!vk_gate_wait(gate))
            bad += 1 << 5;
        vk_exit(bad);
    }
    CHECK(vk_gate_wait(ready), "child ready");
    CHECK(getsid(p) == p, "getsid(child) %d", (int)getsid(p));
    CHECK(getpgid(p) == p, "getpgid(child) %d", (int)getpgid(p));
    printf("after setsid: getsid(child) and getpgid(child) are the child's pid\n");
    CHECK(getsid(0) == sid && getpgrp() == pgrp, "the parent's session and group did not change");
    EXPECT_ERR("setpgid(child in another session)", setpgid(p, pgrp), EPERM);
    vk_gate_open(gate);
    vk_reap_ok(p, "setsid child");
    unlink(gate);
    unlink(ready);

    /* The parent moves a child into a new group (both sides, the classic race). */
    p = vk_fork();
    if (p == 0) {
        setpgid(0, 0);
        vk_gate_open(ready);
        vk_exit(vk_gate_wait(gate) ? 0 : 99);
    }
    int r = setpgid(p, p);
    CHECK(r == 0, "setpgid(child, child)");
    CHECK(vk_gate_wait(ready), "child ready");
    CHECK(getpgid(p) == p, "getpgid(child)");
    printf("setpgid(child, child) from the parent: ok\n");
    EXPECT_ERR("setpgid(child, a group that does not exist)", setpgid(p, 0x3ffffff0), EPERM);
    EXPECT_ERR("setpgid(pid, -1)", setpgid(p, -1), EINVAL);
    vk_gate_open(gate);
    vk_reap_ok(p, "group child");

    /* After the child execs, the parent may no longer move it. */
    unlink(gate);
    p = vk_fork();
    if (p == 0) {
        char *argv[] = {"fork_wait", "-sleeper", (char *)gate, NULL};
        char *envp[] = {NULL};
        execve(vk_self(), argv, envp);
        _exit(127);
    }
    /* Wait until the exec happened: the cmdline changes. */
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)p);
    int execd = 0;
    for (int i = 0; i < 10000 && !execd; i++) {
        if (vk_read_file(path, buf, sizeof buf) > 0 && strcmp(buf, "fork_wait") == 0 && strcmp(buf + 10, "-sleeper") == 0)
            execd = 1;
        else
            vk_msleep(1);
    }
    CHECK(execd, "the child did not exec");
    EXPECT_ERR("setpgid(child that called execve)", setpgid(p, p), EACCES);
    vk_gate_open(gate);
    vk_reap_ok(p, "exec'd child");

    EXPECT_ERR("getpgid(no such process)", getpgid(0x3ffffff0), ESRCH);
    EXPECT_ERR("getsid(no such process)", getsid(0x3ffffff0), ESRCH);
    EXPECT_ERR("setpgid(no such process)", setpgid(0x3ffffff0, 0), ESRCH);
    CHECK(getpid() == me, "pid");
    vk_rmtree(dir);
}

/* Helper mode for exec'd children: wait for the gate file argv[2], exit 0. */
static void sleeper(void) {
    if (vk_argc < 3 || !vk_gate_wait(vk_argv[2]))
        exit(99);
    exit(0);
}

/* ---- rusage ----------------------------------------------------------------------- */

static void rusage_mode(void) {
    pid_t p = vk_fork();
    if (p == 0) {
        /* Burn at least 30 ms of CPU. */
        long long start = vk_now_ns(CLOCK_PROCESS_CPUTIME_ID);
        volatile unsigned long x = 0;
        while (vk_now_ns(CLOCK_PROCESS_CPUTIME_ID) - start < 30000000LL)
            for (int i = 0; i < 10000; i++)
                x += (unsigned long)i;
        vk_exit(0);
    }
    struct rusage ru;
    memset(&ru, 0xff, sizeof ru);
    int st;
    pid_t r = wait4(p, &st, 0, &ru);
    CHECK(r == p && WIFEXITED(st), "wait4");
    long long us = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
                   (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    CHECK(us >= 20000, "wait4 rusage: child CPU time %lld us", us);
    printf("wait4 rusage: the child used at least 20 ms of CPU\n");
    CHECK(ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec < 1000000, "normalized timevals");
    CHECK(ru.ru_maxrss >= 0, "ru_maxrss %ld", ru.ru_maxrss);
    printf("value child_cpu_us %lld\n", us);
}

static const struct vk_mode modes[] = {
    {"tree", tree},         {"exitcodes", exitcodes}, {"wnohang", wnohang}, {"waitid", waitid_mode},
    {"echild", echild},     {"getppid", getppid_mode}, {"zombie", zombie},  {"orphan", orphan},
    {"vfork", vfork_mode},  {"clone", clone_mode},     {"clone3", clone3_mode}, {"sessions", sessions},
    {"-sleeper", sleeper},   {"rusage", rusage_mode},   {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("fork_wait", modes, argc, argv); }
