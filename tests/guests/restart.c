/* restart: system calls interrupted by signals, selected by argv[1]. A child waits
 * until the parent is blocked (state S in /proc, plus 50 ms) and then signals it.
 *
 *   read       read on an empty pipe: with SA_RESTART the read is restarted and gets
 *              the data written later; without it, EINTR
 *   write      a one-byte write blocked on a full pipe: SA_RESTART restarts it (it
 *              completes when the reader drains); without it, EINTR
 *   wait       wait4 blocked on a running child: SA_RESTART restarts, otherwise EINTR
 *   nanosleep  nanosleep is never restarted after a handler (EINTR even with
 *              SA_RESTART) and reports the time left; after SIGSTOP + SIGCONT with no
 *              handler it continues transparently and returns 0
 *   poll       poll, select and epoll_wait return EINTR even with SA_RESTART
 *   pause      pause and sigsuspend always return EINTR
 *   ignored    a signal that is ignored (SIG_IGN, or SIGCHLD/SIGURG with SIG_DFL) does
 *              not interrupt a blocking read at all
 */
#include "posix.h"

#include <sys/epoll.h>
#include <sys/select.h>

static volatile sig_atomic_t handled;
static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

/* Fork a child that signals us with `sig` once we block, then (if data_fd >= 0)
 * writes one byte to data_fd 100 ms later. */
static pid_t interrupter(int sig, int data_fd) {
    pid_t parent = getpid();
    pid_t c = vk_fork();
    if (c == 0) {
        vk_wait_blocked(parent);
        kill(parent, sig);
        if (data_fd >= 0) {
            vk_msleep(100);
            write(data_fd, "d", 1);
        }
        vk_exit(0);
    }
    return c;
}

static void read_mode(void) {
    for (int restart = 1; restart >= 0; restart--) {
        handled = 0;
        vk_handle(SIGUSR1, on_usr1, restart ? SA_RESTART : 0);
        int p[2];
        pipe(p);
        pid_t c = interrupter(SIGUSR1, p[1]);
        char b = 0;
        errno = 0;
        ssize_t r = read(p[0], &b, 1);
        printf("%s: read returned %zd%s%s, handler ran %d time(s)\n", restart ? "SA_RESTART" : "no SA_RESTART", r,
               r == -1 ? " " : "", r == -1 ? (errno == EINTR ? "EINTR" : strerror(errno)) : "", (int)handled);
        if (restart)
            CHECK(r == 1 && b == 'd', "restarted read");
        else
            CHECK(r == -1 && errno == EINTR, "EINTR");
        vk_reap_ok(c, "interrupter");
        close(p[0]);
        close(p[1]);
    }
    signal(SIGUSR1, SIG_DFL);
}

static void write_mode(void) {
    for (int restart = 1; restart >= 0; restart--) {
        handled = 0;
        vk_handle(SIGUSR1, on_usr1, restart ? SA_RESTART : 0);
        int p[2];
        pipe(p);
        /* Fill the pipe so the next write blocks at once. */
        fcntl(p[1], F_SETFL, O_NONBLOCK);
        static char buf[65536];
        while (write(p[1], buf, 4096) > 0) {
        }
        fcntl(p[1], F_SETFL, 0);
        pid_t parent = getpid();
        pid_t c = vk_fork();
        if (c == 0) {
            vk_wait_blocked(parent);
            kill(parent, SIGUSR1);
            vk_msleep(100);
            /* Drain everything so a restarted write can finish. */
            close(p[1]);
            static char sink[65536];
            while (read(p[0], sink, sizeof sink) > 0) {
            }
            vk_exit(0);
        }
        errno = 0;
        ssize_t r = write(p[1], "x", 1);
        printf("%s: one-byte write on a full pipe returned %zd%s%s, handler ran %d time(s)\n",
               restart ? "SA_RESTART" : "no SA_RESTART", r, r == -1 ? " " : "",
               r == -1 ? (errno == EINTR ? "EINTR" : strerror(errno)) : "", (int)handled);
        if (restart)
            CHECK(r == 1, "restarted write");
        else
            CHECK(r == -1 && errno == EINTR, "EINTR");
        close(p[1]);
        close(p[0]);
        vk_reap_ok(c, "interrupter and reader");
    }
    signal(SIGUSR1, SIG_DFL);
}

static void wait_mode(void) {
    for (int restart = 1; restart >= 0; restart--) {
        handled = 0;
        vk_handle(SIGUSR1, on_usr1, restart ? SA_RESTART : 0);
        int p[2];
        pipe(p);
        pid_t parent = getpid();
        pid_t c = vk_fork();
        if (c == 0) {
            vk_wait_blocked(parent);
            kill(parent, SIGUSR1);
            vk_msleep(100);
            vk_exit(7);
        }
        int st = 0;
        errno = 0;
        pid_t r = waitpid(c, &st, 0);
        int e = errno;
        printf("%s: waitpid returned %s%s, handler ran %d time(s)\n", restart ? "SA_RESTART" : "no SA_RESTART",
               r == c ? "the child" : r == -1 ? "-1 " : "?", r == -1 ? (e == EINTR ? "EINTR" : strerror(e)) : "",
               (int)handled);
        if (restart)
            CHECK(r == c && WIFEXITED(st) && WEXITSTATUS(st) == 7, "restarted wait");
        else {
            CHECK(r == -1 && e == EINTR, "EINTR");
            vk_reap(c, "  then reaped");
        }
        close(p[0]);
        close(p[1]);
    }
    signal(SIGUSR1, SIG_DFL);
}

static void nanosleep_mode(void) {
    for (int restart = 1; restart >= 0; restart--) {
        handled = 0;
        vk_handle(SIGUSR1, on_usr1, restart ? SA_RESTART : 0);
        pid_t c = interrupter(SIGUSR1, -1);
        struct timespec req = {3, 0}, rem = {0, 0};
        errno = 0;
        int r = nanosleep(&req, &rem);
        int e = errno;
        long long left = (long long)rem.tv_sec * 1000000000LL + rem.tv_nsec;
        printf("%s: nanosleep(3 s) returned %d %s, handler ran %d time(s), time left between 0 and 3 s: %d\n",
               restart ? "SA_RESTART" : "no SA_RESTART", r, e == EINTR ? "EINTR" : "", (int)handled,
               left > 0 && left < 3000000000LL);
        CHECK(r == -1 && e == EINTR, "nanosleep EINTR");
        vk_reap_ok(c, "interrupter");
    }
    /* clock_nanosleep returns the error instead of setting errno. */
    handled = 0;
    pid_t c = interrupter(SIGUSR1, -1);
    struct timespec req = {3, 0}, rem = {0, 0};
    int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
    printf("clock_nanosleep(3 s) interrupted: returned %s, handler ran %d time(s), time left set: %d\n",
           r == EINTR ? "EINTR" : "?", (int)handled, rem.tv_sec > 0 || rem.tv_nsec > 0);
    vk_reap_ok(c, "interrupter");
    signal(SIGUSR1, SIG_DFL);

    /* Stopped and continued, no handler: the sleep just goes on. */
    pid_t s = vk_fork();
    if (s == 0) {
        struct timespec t = {1, 200 * 1000000L};
        long long t0 = vk_mono_ms();
        int rr = nanosleep(&t, NULL);
        long long dt = vk_mono_ms() - t0;
        vk_exit(rr == 0 && dt >= 1200 ? 0 : 1);
    }
    vk_wait_blocked(s);
    kill(s, SIGSTOP);
    int st = 0;
    pid_t w = waitpid(s, &st, WUNTRACED);
    printf("the sleeping child after SIGSTOP: %s\n", w == s ? vk_status(st) : "waitpid failed");
    CHECK(w == s && WIFSTOPPED(st), "stop");
    kill(s, SIGCONT);
    vk_reap_ok(s, "a 1.2 s nanosleep stopped and continued returned 0 after at least 1.2 s");
}

static void poll_mode(void) {
    vk_handle(SIGUSR1, on_usr1, SA_RESTART);
    int p[2];
    pipe(p);
    pid_t c = interrupter(SIGUSR1, -1);
    struct pollfd pf = {p[0], POLLIN, 0};
    errno = 0;
    int r = poll(&pf, 1, 5000);
    printf("poll with SA_RESTART: %d %s\n", r, errno == EINTR ? "EINTR" : "");
    CHECK(r == -1 && errno == EINTR, "poll");
    vk_reap_ok(c, "interrupter");

    c = interrupter(SIGUSR1, -1);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv = {5, 0};
    errno = 0;
    r = select(p[0] + 1, &rs, NULL, NULL, &tv);
    printf("select with SA_RESTART: %d %s\n", r, errno == EINTR ? "EINTR" : "");
    CHECK(r == -1 && errno == EINTR, "select");
    vk_reap_ok(c, "interrupter");

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    c = interrupter(SIGUSR1, -1);
    errno = 0;
    r = epoll_wait(ep, &ev, 1, 5000);
    printf("epoll_wait with SA_RESTART: %d %s\n", r, errno == EINTR ? "EINTR" : "");
    CHECK(r == -1 && errno == EINTR, "epoll_wait");
    vk_reap_ok(c, "interrupter");
    close(ep);
    close(p[0]);
    close(p[1]);
    signal(SIGUSR1, SIG_DFL);
}

static void pause_mode(void) {
    vk_handle(SIGUSR1, on_usr1, SA_RESTART);
    handled = 0;
    pid_t c = interrupter(SIGUSR1, -1);
    errno = 0;
    int r = pause();
    printf("pause with SA_RESTART: %d %s, handler ran %d time(s)\n", r, errno == EINTR ? "EINTR" : "", (int)handled);
    vk_reap_ok(c, "interrupter");
    c = interrupter(SIGUSR1, -1);
    sigset_t empty;
    sigemptyset(&empty);
    errno = 0;
    r = sigsuspend(&empty);
    printf("sigsuspend with SA_RESTART: %d %s, handler ran %d time(s)\n", r, errno == EINTR ? "EINTR" : "",
           (int)handled);
    vk_reap_ok(c, "interrupter");
    signal(SIGUSR1, SIG_DFL);
}

static void ignored(void) {
    int sigs[] = {SIGUSR1, SIGCHLD, SIGURG, SIGWINCH};
    for (int i = 0; i < 4; i++) {
        if (sigs[i] == SIGUSR1)
            signal(SIGUSR1, SIG_IGN);
        int p[2];
        pipe(p);
        pid_t c = interrupter(sigs[i], p[1]);
        char b = 0;
        errno = 0;
        ssize_t r = read(p[0], &b, 1);
        printf("%s %s during a blocking read: read returned %zd\n", vk_signame(sigs[i]),
               sigs[i] == SIGUSR1 ? "(SIG_IGN)" : "(SIG_DFL, ignored)", r);
        CHECK(r == 1 && b == 'd', "read was interrupted by an ignored signal");
        vk_reap_ok(c, "interrupter");
        close(p[0]);
        close(p[1]);
    }
    signal(SIGUSR1, SIG_DFL);
}

static const struct vk_mode modes[] = {
    {"read", read_mode},   {"write", write_mode}, {"wait", wait_mode},       {"nanosleep", nanosleep_mode},
    {"poll", poll_mode},   {"pause", pause_mode}, {"ignored", ignored},      {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("restart", modes, argc, argv); }
