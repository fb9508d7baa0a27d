/* select: select and pselect6 over pipes and files, selected by argv[1].
 *
 *   pipe      readiness of pipe ends (empty, data, full, EOF, reader gone) through
 *             the read and write sets; the sets are rewritten to hold only ready fds
 *   timeout   a timeout of 0 polls; 100 ms with nothing ready returns 0 after at least
 *             100 ms and (Linux) leaves the remaining time, 0, in the timeval;
 *             select(0, NULL, NULL, NULL, 50 ms) sleeps
 *   block     select with no timeout sleeps until a child writes
 *   files     regular files are always readable and writable; exceptfds stay empty
 *   many      fds above 64 (a pipe dup2'd to 100 and 900)
 *   pselect   pselect's sigmask: a pending blocked SIGUSR1 interrupts pselect (EINTR)
 *             when its mask allows it; the timespec is not modified
 *   errors    EBADF for a closed fd in a set, EINVAL for a negative nfds or a bad
 *             timeout
 */
#include "posix.h"

#include <sys/select.h>

static void sets(const char *what, int fd, int want_read, int want_write) {
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    if (want_read)
        FD_SET(fd, &r);
    if (want_write)
        FD_SET(fd, &w);
    struct timeval tv = {0, 0};
    int n = select(fd + 1, &r, &w, NULL, &tv);
    printf("%s: select %d, readable %d, writable %d\n", what, n, FD_ISSET(fd, &r) != 0, FD_ISSET(fd, &w) != 0);
}

static void pipe_mode(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    sets("empty pipe, read end", p[0], 1, 0);
    sets("empty pipe, write end", p[1], 0, 1);
    write(p[1], "x", 1);
    sets("one byte, read end", p[0], 1, 0);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    char chunk[4096] = {0};
    while (write(p[1], chunk, sizeof chunk) > 0 || write(p[1], chunk, 1) > 0) {
    }
    sets("full pipe, write end", p[1], 0, 1);
    char buf[8192];
    read(p[0], buf, sizeof buf);
    sets("after reading 8 KiB, write end", p[1], 0, 1);
    close(p[1]);
    while (read(p[0], buf, sizeof buf) > 0) {
    }
    sets("writer closed and drained (EOF), read end", p[0], 1, 0);
    close(p[0]);
    CHECK(pipe(p) == 0, "pipe");
    close(p[0]);
    sets("reader closed, write end", p[1], 0, 1);
    close(p[1]);

    /* Both ends in one call: only the ready bits stay set. */
    CHECK(pipe(p) == 0, "pipe");
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(p[0], &r);
    FD_SET(p[1], &r);
    FD_SET(p[0], &w);
    FD_SET(p[1], &w);
    struct timeval tv = {0, 0};
    int n = select(p[1] + 1, &r, &w, NULL, &tv);
    printf("both ends in both sets of an empty pipe: %d ready; read set {%d,%d} write set {%d,%d}\n", n,
           FD_ISSET(p[0], &r) != 0, FD_ISSET(p[1], &r) != 0, FD_ISSET(p[0], &w) != 0, FD_ISSET(p[1], &w) != 0);
    close(p[0]);
    close(p[1]);
}

static void timeout(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = {0, 100000};
    long long t0 = vk_mono_ms();
    int n = select(p[0] + 1, &r, NULL, NULL, &tv);
    long long dt = vk_mono_ms() - t0;
    printf("select, 100 ms, nothing ready: %d, read set bit %d\n", n, FD_ISSET(p[0], &r) != 0);
    CHECK(dt >= 100, "returned after %lld ms", dt);
    printf("  after at least 100 ms; timeval left: %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
    printf("value select_timeout_ms %lld\n", dt);
    /* Data ready: the timeval holds the unused time (less than the 5 s given). */
    write(p[1], "x", 1);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    n = select(p[0] + 1, &r, NULL, NULL, &tv);
    printf("select, 5 s, data ready: %d; time left is more than 4 s: %d\n", n, tv.tv_sec >= 4);
    t0 = vk_mono_ms();
    tv.tv_sec = 0;
    tv.tv_usec = 50000;
    n = select(0, NULL, NULL, NULL, &tv);
    dt = vk_mono_ms() - t0;
    printf("select(0, NULL, NULL, NULL, 50 ms): %d\n", n);
    CHECK(dt >= 50, "slept %lld ms", dt);
    close(p[0]);
    close(p[1]);
}

static void block(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t c = vk_fork();
    if (c == 0) {
        vk_msleep(100);
        write(p[1], "y", 1);
        vk_exit(0);
    }
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    int n = select(p[0] + 1, &r, NULL, NULL, NULL);
    printf("select without a timeout woke up: %d, readable %d\n", n, FD_ISSET(p[0], &r) != 0);
    vk_reap_ok(c, "writer");
    close(p[0]);
    close(p[1]);
}

static void files(void) {
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "f");
    vk_write_file(path, "data", 0644);
    int f = open(path, O_RDWR);
    fd_set r, w, e;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&e);
    FD_SET(f, &r);
    FD_SET(f, &w);
    FD_SET(f, &e);
    struct timeval tv = {1, 0};
    int n = select(f + 1, &r, &w, &e, &tv);
    printf("regular file: %d ready, readable %d writable %d exception %d\n", n, FD_ISSET(f, &r) != 0,
           FD_ISSET(f, &w) != 0, FD_ISSET(f, &e) != 0);
    close(f);
    vk_rmtree(dir);
}

static void many(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    CHECK(dup2(p[0], 100) == 100 && dup2(p[1], 900) == 900, "dup2");
    write(900, "m", 1);
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(100, &r);
    FD_SET(900, &w);
    struct timeval tv = {0, 0};
    int n = select(901, &r, &w, NULL, &tv);
    printf("fds 100 and 900: %d ready, 100 readable %d, 900 writable %d\n", n, FD_ISSET(100, &r) != 0,
           FD_ISSET(900, &w) != 0);
    close(100);
    close(900);
    close(p[0]);
    close(p[1]);
}

static volatile int got_usr1;
static void on_usr1(int sig) {
    (void)sig;
    got_usr1++;
}

static void pselect_mode(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    vk_handle(SIGUSR1, on_usr1, 0);
    vk_mask(SIG_BLOCK, SIGUSR1);
    kill(getpid(), SIGUSR1);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    sigset_t blocked, empty;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigemptyset(&empty);
    struct timespec ts = {0, 20 * 1000000L};
    int n = pselect(p[0] + 1, &r, NULL, NULL, &ts, &blocked);
    printf("pselect, mask blocks SIGUSR1: %d, handler ran %d time(s)\n", n, got_usr1);
    printf("  timespec unchanged: %d\n", ts.tv_sec == 0 && ts.tv_nsec == 20 * 1000000L);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    ts.tv_sec = 5;
    errno = 0;
    n = pselect(p[0] + 1, &r, NULL, NULL, &ts, &empty);
    printf("pselect, empty mask: %d %s, handler ran %d time(s)\n", n, errno == EINTR ? "EINTR" : strerror(errno),
           got_usr1);
    CHECK(n == -1 && errno == EINTR && got_usr1 == 1, "pselect mask");
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("after pselect SIGUSR1 is blocked again: %d\n", sigismember(&now, SIGUSR1));
    vk_mask(SIG_UNBLOCK, SIGUSR1);
    signal(SIGUSR1, SIG_DFL);
    close(p[0]);
    close(p[1]);
}

static void errors(void) {
    fd_set r;
    FD_ZERO(&r);
    FD_SET(50, &r); /* not open */
    struct timeval tv = {0, 0};
    EXPECT_ERR("select with a closed fd in the read set", select(51, &r, NULL, NULL, &tv), EBADF);
    FD_ZERO(&r);
    EXPECT_ERR("select with nfds -1", select(-1, &r, NULL, NULL, &tv), EINVAL);
    struct timeval bad = {-1, 0};
    EXPECT_ERR("select with a negative timeout", select(0, NULL, NULL, NULL, &bad), EINVAL);
    struct timespec badts = {0, 2000000000L};
    EXPECT_ERR("pselect with tv_nsec = 2e9", pselect(0, NULL, NULL, NULL, &badts, NULL), EINVAL);
}

static const struct vk_mode modes[] = {
    {"pipe", pipe_mode}, {"timeout", timeout}, {"block", block},   {"files", files},
    {"many", many},      {"pselect", pselect_mode}, {"errors", errors}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("select", modes, argc, argv); }
