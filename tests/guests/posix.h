/* Helpers for the POSIX-userland guests (processes, pipes, signals, events, time,
 * files as another user). On top of common.h: every guest still prints one line per
 * check, "FAIL ..." lines for failures, and exits with the number of failed checks.
 *
 * Conventions:
 * - The guest's mode is argv[1]; `main` dispatches with VK_MODES and the guest ends
 *   with "<guest> <mode> ok".
 * - Output is deterministic. A fact that differs between runs or between vkernel and
 *   the host (a pid, a time, whether a core was dumped) is printed on a line starting
 *   with "value "; the tests ignore those lines when they compare with a native run
 *   and check some of them under vkernel only.
 * - Children never print while their parent may print: they report through their exit
 *   code (checked by the parent) or the parent waits for them before printing again.
 *   stdout is flushed before every fork (vk_fork) so nothing is printed twice.
 * - Every child is reaped before the guest exits (natively the test harness waits for
 *   everything that holds the guest's stdout).
 * Builds with `cc -static` and `musl-gcc -static`: no <linux/...> headers.
 */
#ifndef VK_POSIX_H
#define VK_POSIX_H

#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

/* fork with stdout flushed first. A failed fork ends the guest at once (exit 100):
 * nothing after it would make sense, and a pid of -1 must never reach kill(). */
static inline pid_t vk_fork(void) {
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p < 0) {
        printf("FAIL fork: %s\n", strerror(errno));
        fflush(stdout);
        _exit(100);
    }
    return p;
}

/* End a child: flush (children normally print nothing) and _exit. */
static inline void vk_exit(int code) {
    fflush(stdout);
    _exit(code);
}

static inline long long vk_now_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline long long vk_mono_ms(void) { return vk_now_ns(CLOCK_MONOTONIC) / 1000000; }

/* Wait (polling every millisecond, at most `ms` ms) until *v >= n; 1 if it got there.
 * Used instead of `while (...) pause();` so that a missing signal cannot hang a guest. */
static inline int vk_wait_for(volatile sig_atomic_t *v, int n, long ms);

/* Sleep at least `ms` milliseconds, resuming after signal handlers. */
static inline void vk_msleep(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) == -1 && errno == EINTR) {
    }
}

static inline int vk_wait_for(volatile sig_atomic_t *v, int n, long ms) {
    for (long i = 0; i < ms && *v < n; i++) {
        struct timespec t = {0, 1000000L};
        nanosleep(&t, NULL);
    }
    return *v >= n;
}

static inline const char *vk_signame(int sig) {
    static char buf[32];
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGCHLD: return "SIGCHLD";
    case SIGCONT: return "SIGCONT";
    case SIGSTOP: return "SIGSTOP";
    case SIGTSTP: return "SIGTSTP";
    case SIGTTIN: return "SIGTTIN";
    case SIGTTOU: return "SIGTTOU";
    case SIGURG: return "SIGURG";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGVTALRM: return "SIGVTALRM";
    case SIGPROF: return "SIGPROF";
    case SIGWINCH: return "SIGWINCH";
    case SIGSYS: return "SIGSYS";
    default:
        if (sig >= SIGRTMIN && sig <= SIGRTMAX)
            snprintf(buf, sizeof buf, "SIGRTMIN+%d", sig - SIGRTMIN);
        else
            snprintf(buf, sizeof buf, "signal %d", sig);
        return buf;
    }
}

/* A wait status in words, without the core-dump bit (which depends on the host's
 * core limits and pattern): "exited 3", "killed by SIGTERM", "stopped by SIGSTOP",
 * "continued", followed by the raw status with the core bit masked off. */
static inline const char *vk_status(int st) {
    static char buf[96];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exited %d (status 0x%04x)", WEXITSTATUS(st), st);
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by %s (status 0x%04x without the core bit)",
                 vk_signame(WTERMSIG(st)), st & ~0x80);
    else if (WIFSTOPPED(st))
        snprintf(buf, sizeof buf, "stopped by %s (status 0x%04x)", vk_signame(WSTOPSIG(st)), st);
    else if (WIFCONTINUED(st))
        snprintf(buf, sizeof buf, "continued (status 0x%04x)", st);
    else
        snprintf(buf, sizeof buf, "unknown status 0x%04x", st);
    return buf;
}

/* waitpid that retries on EINTR; returns the status, or -1 (and a FAIL) on error. */
static inline int vk_wait(pid_t pid) {
    int st;
    pid_t r;
    do {
        r = waitpid(pid, &st, 0);
    } while (r == -1 && errno == EINTR);
    CHECK(r == pid, "waitpid(%d) returned %d", (int)pid, (int)r);
    return r == pid ? st : -1;
}

/* Reap `pid` and print "<what>: <status in words>". Returns the status. */
static inline int vk_reap(pid_t pid, const char *what) {
    int st = vk_wait(pid);
    printf("%s: %s\n", what, vk_status(st));
    return st;
}

/* Reap `pid` and check that it exited 0 (children report failed checks that way). */
static inline void vk_reap_ok(pid_t pid, const char *what) {
    int st = vk_wait(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", what, vk_status(st));
    printf("%s: child ok\n", what);
}

/* The state letter of /proc/<pid>/stat, or '?'. */
static inline char vk_proc_state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return '?';
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

/* Wait (up to `ms` milliseconds) until /proc/<pid>/stat shows `state`; 1 if it did. */
static inline int vk_wait_state_ms(pid_t pid, char state, int ms) {
    for (int i = 0; i < ms; i++) {
        if (vk_proc_state(pid) == state)
            return 1;
        vk_msleep(1);
    }
    return 0;
}

/* Wait (up to 5 s) until /proc/<pid>/stat shows `state`; 1 if it did. */
static inline int vk_wait_state(pid_t pid, char state) { return vk_wait_state_ms(pid, state, 5000); }

/* Wait until `pid` is blocked in the call the test means, before interrupting it:
 * until /proc/<pid>/stat says S, then 50 ms more. If the state never shows S within
 * 500 ms (a kernel whose /proc does not report sleeping processes), fall back to a
 * plain 250 ms margin: the ordering then rests on that sleep alone. Only /proc tests
 * check the state letter itself. */
static inline void vk_wait_blocked(pid_t pid) {
    if (vk_wait_state_ms(pid, 'S', 500))
        vk_msleep(50);
    else
        vk_msleep(250);
}

/* ---- scratch directories under /tmp ----------------------------------------------- */

static char vk_tmp_path[64];

/* A fresh directory /tmp/vkt-XXXXXX (mode 0755). */
static inline const char *vk_tmpdir(void) {
    strcpy(vk_tmp_path, "/tmp/vkt-XXXXXX");
    if (!mkdtemp(vk_tmp_path)) {
        printf("FAIL mkdtemp: %s\n", strerror(errno));
        exit(100);
    }
    chmod(vk_tmp_path, 0755);
    return vk_tmp_path;
}

/* path = dir + "/" + name, in a static rotating buffer. */
static inline const char *vk_join(const char *dir, const char *name) {
    static char bufs[8][256];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 256, "%s/%s", dir, name);
    return b;
}

/* rm -rf */
static inline void vk_rmtree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char sub[700];
                snprintf(sub, sizeof sub, "%.400s/%.255s", path, e->d_name);
                vk_rmtree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Write a whole file. */
static inline int vk_write_file(const char *path, const char *data, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    size_t n = strlen(data);
    ssize_t w = write(fd, data, n);
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

/* Read a whole (small) file into buf (NUL-terminated); returns the length or -1. */
static inline ssize_t vk_read_file(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == size - 1)
            break;
    }
    close(fd);
    buf[got] = 0;
    return (ssize_t)got;
}

/* Read exactly n bytes (retrying short reads and EINTR); returns bytes read. */
static inline size_t vk_readn(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* Write exactly n bytes (retrying short writes and EINTR); returns bytes written. */
static inline size_t vk_writen(int fd, const void *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const char *)buf + done, n - done);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    return done;
}

/* Install a handler (sa_flags as given, empty sa_mask). */
static inline int vk_handle(int sig, void (*fn)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

static inline int vk_handle_info(int sig, void (*fn)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = flags | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

/* Block (how = SIG_BLOCK) or unblock (SIG_UNBLOCK) one signal. */
static inline void vk_mask(int how, int sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(how, &s, NULL);
}

/* This program's own path (readlink /proc/self/exe): the host path natively,
 * /bin/<guest>-<cc> under vkernel. Never printed. */
static inline const char *vk_self(void) {
    static char self[512];
    if (!self[0]) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            printf("FAIL readlink /proc/self/exe: %s\n", strerror(errno));
            exit(100);
        }
        self[n] = 0;
    }
    return self;
}

/* ---- gates: one process waits for a file another creates (no pipes needed) ------- */

static inline void vk_gate_open(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0, "create gate %s", path);
    if (fd >= 0)
        close(fd);
}

/* Wait (up to 10 s) for the gate file; 1 if it appeared. */
static inline int vk_gate_wait(const char *path) {
    struct stat st;
    for (int i = 0; i < 10000; i++) {
        if (stat(path, &st) == 0)
            return 1;
        vk_msleep(1);
    }
    return 0;
}

/* ---- mode dispatch ---------------------------------------------------------------- */

/* poll's revents as words ("IN OUT HUP", "none"); two calls may share a printf. */
static inline const char *vk_pollbits(short r) {
    static char buf[2][128];
    static int turn;
    char *b = buf[turn++ % 2];
    b[0] = 0;
    if (r & POLLIN) strcat(b, "IN ");
    if (r & POLLPRI) strcat(b, "PRI ");
    if (r & POLLOUT) strcat(b, "OUT ");
    if (r & POLLERR) strcat(b, "ERR ");
    if (r & POLLHUP) strcat(b, "HUP ");
    if (r & POLLRDHUP) strcat(b, "RDHUP ");
    if (!b[0]) strcat(b, "none ");
    b[strlen(b) - 1] = 0;
    return b;
}

/* The socket guests' checkpoint transfer: a child, connected by dial(arg), streams n
 * bytes (seeded with `seed`) in writes of `chunk`, much larger than the buffers, so
 * the writer is nearly always blocked halfway through one; the parent accepts on l,
 * reads slower than the writer with MSG_WAITALL, and prints the checksum. */
static inline void vk_slow_transfer(int l, int (*dial)(const void *), const void *arg, size_t n,
                                    size_t chunk, unsigned seed) {
    const size_t piece = 65536;
    unsigned char *data = malloc(n);
    CHECK(data != NULL, "malloc");
    vk_fill(data, n, seed);
    pid_t c = vk_fork();
    if (c == 0) {
        int s = dial(arg);
        if (s < 0)
            vk_exit(1);
        for (size_t off = 0; off < n; off += chunk)
            if (vk_writen(s, data + off, chunk) != chunk)
                vk_exit(2);
        vk_exit(0);
    }
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0, "accept");
    printf("transfer started\n");
    fflush(stdout);
    unsigned char *back = malloc(n);
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(s, back + got, piece, MSG_WAITALL);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        vk_msleep(10);
    }
    printf("received %zu bytes, checksum %s\n", got,
           got == n && vk_fnv(back, n) == vk_fnv(data, n) ? "ok" : "BAD");
    char tail;
    CHECK(read(s, &tail, 1) == 0, "EOF");
    vk_reap_ok(c, "sender");
    close(s);
    free(back);
    free(data);
}

/* argv as main got it, for modes that take arguments (argv[2], ...). */
static int vk_argc;
static char **vk_argv;

struct vk_mode {
    const char *name;
    void (*fn)(void);
};

/* main(): run the mode named by argv[1] and finish with "<guest> <mode> ok";
 * "list" prints the modes, one a line. Modes named "-..." are helpers for exec'd
 * children: they print no header and no final line. */
static inline int vk_main(const char *guest, const struct vk_mode *modes, int argc, char **argv) {
    vk_begin();
    vk_argc = argc;
    vk_argv = argv;
    const char *want = argc > 1 ? argv[1] : "list";
    if (strcmp(want, "list") == 0) {
        for (const struct vk_mode *m = modes; m->name; m++)
            if (m->name[0] != '-')
                printf("%s\n", m->name);
        return 0;
    }
    for (const struct vk_mode *m = modes; m->name; m++) {
        if (strcmp(want, m->name) == 0 && m->name[0] == '-') {
            m->fn();
            return vk_failures;
        }
        if (strcmp(want, m->name) == 0) {
            printf("== %s %s\n", guest, m->name);
            m->fn();
            char name[128];
            snprintf(name, sizeof name, "%s %s", guest, want);
            return vk_finish(name);
        }
    }
    printf("FAIL unknown mode %s\n", want);
    return 100;
}

#endif
