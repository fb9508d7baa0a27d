/* poll: poll and ppoll over pipes and files, selected by argv[1].
 *
 *   pipe      an empty pipe: read end not ready, write end POLLOUT; data: POLLIN;
 *             full: no POLLOUT; writer closed: POLLHUP (with POLLIN while data is
 *             left); reader closed: POLLERR on the write end
 *   files     regular files and /dev/null are always POLLIN|POLLOUT; fd -1 is skipped
 *             (revents 0); a closed fd gives POLLNVAL; events 0 still reports HUP
 *   block     poll(-1) sleeps until a child writes; a timeout of 100 ms with nothing
 *             ready returns 0 after at least 100 ms; poll(NULL, 0, 50) sleeps
 *   many      64 pipes, a child writes to every third: exactly those are ready
 *   ppoll     ppoll's timeout and its signal mask: a blocked SIGUSR1 pending is
 *             delivered during ppoll (EINTR) when the mask given to ppoll allows it,
 *             and the old mask is back afterwards
 *   errors    EINVAL for nfds above RLIMIT_NOFILE, EFAULT for a bad array
 */
#include "posix.h"

#include <sys/resource.h>

static void show(const char *what, short revents) {
    printf("%s:", what);
    if (revents == 0)
        printf(" none");
    if (revents & POLLIN)
        printf(" POLLIN");
    if (revents & POLLOUT)
        printf(" POLLOUT");
    if (revents & POLLHUP)
        printf(" POLLHUP");
    if (revents & POLLERR)
        printf(" POLLERR");
    if (revents & POLLNVAL)
        printf(" POLLNVAL");
    if (revents & POLLPRI)
        printf(" POLLPRI");
    printf("\n");
}

static short poll1(int fd, short events) {
    struct pollfd p = {fd, events, 0};
    int r = poll(&p, 1, 0);
    CHECK(r == 0 || r == 1, "poll returned %d", r);
    CHECK((r == 1) == (p.revents != 0), "poll return %d vs revents %x", r, p.revents);
    return p.revents;
}

static void pipe_mode(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    show("empty pipe, read end", poll1(p[0], POLLIN));
    show("empty pipe, write end", poll1(p[1], POLLOUT));
    write(p[1], "x", 1);
    show("one byte, read end", poll1(p[0], POLLIN));
    show("one byte, read end, events POLLOUT only", poll1(p[0], POLLOUT));
    /* Fill it. */
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    char chunk[4096] = {0};
    while (write(p[1], chunk, sizeof chunk) > 0 || write(p[1], chunk, 1) > 0) {
    }
    show("full pipe, write end", poll1(p[1], POLLOUT));
    /* Readers free a page: writable again. */
    char buf[8192];
    read(p[0], buf, sizeof buf);
    show("after reading 8 KiB, write end", poll1(p[1], POLLOUT));
    close(p[1]);
    show("writer closed, data left, read end", poll1(p[0], POLLIN));
    while (read(p[0], buf, sizeof buf) > 0) {
    }
    show("writer closed, drained, read end", poll1(p[0], POLLIN));
    close(p[0]);

    CHECK(pipe(p) == 0, "pipe");
    close(p[0]);
    show("reader closed, write end", poll1(p[1], POLLOUT));
    close(p[1]);
}

static void files(void) {
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "f");
    vk_write_file(path, "data", 0644);
    int f = open(path, O_RDWR);
    int n = open("/dev/null", O_RDWR);
    int z = open("/dev/zero", O_RDONLY);
    int closed = 1000; /* never opened */
    int p[2];
    pipe(p);
    close(p[1]);
    struct pollfd fds[6] = {
        {f, POLLIN | POLLOUT, 0}, {n, POLLIN | POLLOUT, 0}, {z, POLLIN, 0},
        {-1, POLLIN, 0x7f},       {closed, POLLIN, 0},     {p[0], 0, 0},
    };
    int r = poll(fds, 6, 1000);
    printf("poll returned %d\n", r);
    CHECK(r == 5, "ready count");
    show("regular file", fds[0].revents);
    show("/dev/null", fds[1].revents);
    show("/dev/zero", fds[2].revents);
    show("fd -1", fds[3].revents);
    show("closed fd", fds[4].revents);
    show("pipe with the writer closed, events 0", fds[5].revents);
    close(f);
    close(n);
    close(z);
    close(p[0]);
    vk_rmtree(dir);
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
    struct pollfd fd = {p[0], POLLIN, 0};
    int r = poll(&fd, 1, -1);
    printf("poll(-1) woke up: %d\n", r);
    show("  read end", fd.revents);
    vk_reap_ok(c, "writer");
    char b;
    read(p[0], &b, 1);

    long long t0 = vk_mono_ms();
    r = poll(&fd, 1, 100);
    long long dt = vk_mono_ms() - t0;
    printf("poll with a 100 ms timeout and nothing ready: %d\n", r);
    CHECK(dt >= 100, "returned after %lld ms", dt);
    printf("  after at least 100 ms\n");
    printf("value poll_timeout_ms %lld\n", dt);
    t0 = vk_mono_ms();
    r = poll(NULL, 0, 50);
    dt = vk_mono_ms() - t0;
    printf("poll(NULL, 0, 50): %d\n", r);
    CHECK(dt >= 50, "returned after %lld ms", dt);
    close(p[0]);
    close(p[1]);
}

static void many(void) {
    enum { N = 64 };
    int p[N][2];
    for (int i = 0; i < N; i++)
        CHECK(pipe(p[i]) == 0, "pipe %d", i);
    pid_t c = vk_fork();
    if (c == 0) {
        for (int i = 0; i < N; i += 3)
            write(p[i][1], "z", 1);
        vk_exit(0);
    }
    vk_reap_ok(c, "child wrote to pipes 0, 3, 6, ...");
    struct pollfd fds[N];
    for (int i = 0; i < N; i++) {
        fds[i].fd = p[i][0];
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    int r = poll(fds, N, 0);
    printf("ready: %d of %d\n", r, N);
    int wrong = 0;
    for (int i = 0; i < N; i++)
        if ((fds[i].revents == POLLIN) != (i % 3 == 0))
            wrong++;
    CHECK(wrong == 0, "%d pipes wrong", wrong);
    printf("exactly every third pipe is ready\n");
    for (int i = 0; i < N; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}

static volatile int got_usr1;
static void on_usr1(int sig) {
    (void)sig;
    got_usr1++;
}

static void ppoll_mode(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct pollfd fd = {p[0], POLLIN, 0};
    struct timespec ts = {0, 50 * 1000000L};
    long long t0 = vk_mono_ms();
    int r = ppoll(&fd, 1, &ts, NULL);
    long long dt = vk_mono_ms() - t0;
    printf("ppoll with a 50 ms timeout: %d\n", r);
    CHECK(r == 0 && dt >= 50, "ppoll timeout after %lld ms", dt);

    vk_handle(SIGUSR1, on_usr1, 0);
    vk_mask(SIG_BLOCK, SIGUSR1);
    kill(getpid(), SIGUSR1);
    printf("SIGUSR1 blocked and pending; handler ran %d time(s)\n", got_usr1);
    /* A mask that still blocks it: ppoll times out, the signal stays pending. */
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    ts.tv_nsec = 20 * 1000000L;
    r = ppoll(&fd, 1, &ts, &blocked);
    printf("ppoll with a mask blocking SIGUSR1: %d, handler ran %d time(s)\n", r, got_usr1);
    /* An empty mask: delivered during ppoll, EINTR. */
    sigset_t empty;
    sigemptyset(&empty);
    ts.tv_sec = 5;
    errno = 0;
    r = ppoll(&fd, 1, &ts, &empty);
    printf("ppoll with an empty mask: %d %s, handler ran %d time(s)\n", r, errno == EINTR ? "EINTR" : strerror(errno),
           got_usr1);
    CHECK(r == -1 && errno == EINTR && got_usr1 == 1, "ppoll mask");
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("after ppoll SIGUSR1 is blocked again: %d\n", sigismember(&now, SIGUSR1));
    vk_mask(SIG_UNBLOCK, SIGUSR1);
    signal(SIGUSR1, SIG_DFL);
    close(p[0]);
    close(p[1]);
}

static void errors(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct pollfd fd = {0, POLLIN, 0};
    EXPECT_ERR("poll with nfds above RLIMIT_NOFILE", poll(&fd, rl.rlim_cur + 1, 0), EINVAL);
    struct pollfd *volatile bad_array = (struct pollfd *)8;
    EXPECT_ERR("poll with a bad array", poll(bad_array, 1, 0), EFAULT);
    struct timespec bad = {0, 1000000000L};
    EXPECT_ERR("ppoll with tv_nsec = 1e9", ppoll(&fd, 1, &bad, NULL), EINVAL);
}

static const struct vk_mode modes[] = {
    {"pipe", pipe_mode}, {"files", files}, {"block", block}, {"many", many},
    {"ppoll", ppoll_mode}, {"errors", errors}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("poll", modes, argc, argv); }
