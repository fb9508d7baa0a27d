/* epoll: epoll_create1 / epoll_ctl / epoll_wait / epoll_pwait, selected by argv[1].
 *
 *   basic     create1 flags, ADD/MOD/DEL with their errors (EEXIST, ENOENT, EPERM for
 *             a regular file, EINVAL for the epoll fd itself, EBADF), level-triggered
 *             readiness of a pipe with the user data returned
 *   edge      EPOLLET reports a pipe once per new write, not while data stays unread
 *   oneshot   EPOLLONESHOT reports once, then nothing until EPOLL_CTL_MOD re-arms it
 *   hup       EPOLLHUP when the writer closes, EPOLLERR on the write end when the
 *             reader closes (both reported without asking)
 *   many      32 pipes, 8 ready: maxevents limits each call; every ready fd reported
 *             once across calls
 *   block     epoll_wait(-1) sleeps until a child writes; a 100 ms timeout returns 0
 *             after at least 100 ms
 *   close     closing the only fd of a registered file removes it from the set
 *   nested    an epoll fd inside another epoll fd is readable when its set has events
 *   fork      a child waits on an inherited epoll fd and sees the parent's writes
 *   pwait     epoll_pwait's sigmask lets a pending blocked signal interrupt (EINTR)
 */
#include "posix.h"

#include <sys/epoll.h>

static void show_events(const char *what, int n, struct epoll_event *ev) {
    printf("%s: %d", what, n);
    if (n == -1)
        printf(" (%s)", strerror(errno));
    for (int i = 0; i < n; i++) {
        printf(" [data %llu:", (unsigned long long)ev[i].data.u64);
        if (ev[i].events & EPOLLIN)
            printf(" IN");
        if (ev[i].events & EPOLLOUT)
            printf(" OUT");
        if (ev[i].events & EPOLLHUP)
            printf(" HUP");
        if (ev[i].events & EPOLLERR)
            printf(" ERR");
        if (ev[i].events & EPOLLRDHUP)
            printf(" RDHUP");
        printf("]");
    }
    printf("\n");
}

static int wait0(int ep, struct epoll_event *ev, int max) { return epoll_wait(ep, ev, max, 0); }

static void basic(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0, "epoll_create1");
    printf("epoll_create1(EPOLL_CLOEXEC): FD_CLOEXEC %d\n", fcntl(ep, F_GETFD) & FD_CLOEXEC);
    int ep2 = epoll_create(1);
    printf("epoll_create(1): FD_CLOEXEC %d\n", fcntl(ep2, F_GETFD) & FD_CLOEXEC);
    close(ep2);
    EXPECT_ERR("epoll_create(0) (the raw call: musl maps it to epoll_create1)", syscall(SYS_epoll_create, 0), EINVAL);
    EXPECT_ERR("epoll_create1(bad flag)", epoll_create1(1), EINVAL);

    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7}, out[4];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "ADD");
    EXPECT_ERR("ADD again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
    show_events("empty pipe", wait0(ep, out, 4), out);
    write(p[1], "ab", 2);
    show_events("after a write", wait0(ep, out, 4), out);
    show_events("again, data still unread (level-triggered)", wait0(ep, out, 4), out);
    char buf[8];
    read(p[0], buf, sizeof buf);
    show_events("after reading it all", wait0(ep, out, 4), out);
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = 8;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev) == 0, "ADD write end");
    show_events("write end added for IN|OUT", wait0(ep, out, 4), out);
    ev.events = EPOLLIN;
    ev.data.u64 = 9;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev) == 0, "MOD");
    show_events("write end modified to IN only", wait0(ep, out, 4), out);
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL) == 0, "DEL");
    EXPECT_ERR("DEL again", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT);
    EXPECT_ERR("MOD of an fd not in the set", epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT);

    const char *dir = vk_tmpdir();
    int f = open(vk_join(dir, "f"), O_RDWR | O_CREAT, 0644);
    EXPECT_ERR("ADD a regular file", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev), EPERM);
    close(f);
    EXPECT_ERR("ADD the epoll fd to itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
    EXPECT_ERR("ADD a closed fd", epoll_ctl(ep, EPOLL_CTL_ADD, 900, &ev), EBADF);
    EXPECT_ERR("epoll_ctl on a non-epoll fd", epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev), EINVAL);
    EXPECT_ERR("bad op", epoll_ctl(ep, 42, p[1], &ev), EINVAL);
    EXPECT_ERR("epoll_wait with maxevents 0", epoll_wait(ep, out, 0, 0), EINVAL);
    EXPECT_ERR("epoll_wait on a pipe", epoll_wait(p[0], out, 1, 0), EINVAL);
    close(ep);
    close(p[0]);
    close(p[1]);
    vk_rmtree(dir);
}

static void edge(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 1}, out[4];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    show_events("EPOLLET, empty", wait0(ep, out, 4), out);
    write(p[1], "a", 1);
    show_events("EPOLLET, first write", wait0(ep, out, 4), out);
    show_events("EPOLLET, nothing new", wait0(ep, out, 4), out);
    write(p[1], "b", 1);
    show_events("EPOLLET, second write", wait0(ep, out, 4), out);
    char buf[4];
    read(p[0], buf, 1);
    show_events("EPOLLET, after a partial read", wait0(ep, out, 4), out);
    close(ep);
    close(p[0]);
    close(p[1]);
}

static void oneshot(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 2}, out[4];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    write(p[1], "a", 1);
    show_events("EPOLLONESHOT, first", wait0(ep, out, 4), out);
    show_events("EPOLLONESHOT, disarmed", wait0(ep, out, 4), out);
    write(p[1], "b", 1);
    show_events("EPOLLONESHOT, disarmed after another write", wait0(ep, out, 4), out);
    ev.data.u64 = 3;
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    show_events("EPOLLONESHOT, re-armed with MOD", wait0(ep, out, 4), out);
    close(ep);
    close(p[0]);
    close(p[1]);
}

static void hup(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = 1}, out[4];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    write(p[1], "x", 1);
    close(p[1]);
    show_events("writer closed with data left", wait0(ep, out, 4), out);
    char b;
    read(p[0], &b, 1);
    show_events("writer closed, drained", wait0(ep, out, 4), out);
    close(ep);
    close(p[0]);

    ep = epoll_create1(0);
    pipe(p);
    ev.events = 0; /* EPOLLERR and EPOLLHUP are always reported */
    ev.data.u64 = 2;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
    show_events("write end, events 0, reader open", wait0(ep, out, 4), out);
    close(p[0]);
    show_events("write end, events 0, reader closed", wait0(ep, out, 4), out);
    close(ep);
    close(p[1]);
}

static void many(void) {
    enum { N = 32 };
    int ep = epoll_create1(0);
    int p[N][2];
    for (int i = 0; i < N; i++) {
        pipe(p[i]);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, p[i][0], &ev);
    }
    for (int i = 0; i < N; i += 4)
        write(p[i][1], "x", 1);
    struct epoll_event out[N];
    int n = epoll_wait(ep, out, 3, 0);
    printf("maxevents 3: %d events\n", n);
    int seen[N] = {0};
    int total = 0;
    /* Read what was reported so that the next call reports the others. */
    for (int round = 0; round < 10 && n > 0; round++) {
        for (int i = 0; i < n; i++) {
            int k = (int)out[i].data.u64;
            seen[k]++;
            total++;
            char b;
            read(p[k][0], &b, 1);
        }
        n = epoll_wait(ep, out, 3, 0);
    }
    printf("reported in total: %d; each ready pipe once:", total);
    int ok = 1;
    for (int i = 0; i < N; i++)
        if (seen[i] != (i % 4 == 0))
            ok = 0;
    printf(" %d\n", ok);
    CHECK(ok && total == 8, "many");
    for (int i = 0; i < N; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
    close(ep);
}

static void block(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 5}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    pid_t c = vk_fork();
    if (c == 0) {
        vk_msleep(100);
        write(p[1], "w", 1);
        vk_exit(0);
    }
    show_events("epoll_wait(-1) woke up", epoll_wait(ep, out, 2, -1), out);
    vk_reap_ok(c, "writer");
    char b;
    read(p[0], &b, 1);
    long long t0 = vk_mono_ms();
    int n = epoll_wait(ep, out, 2, 100);
    long long dt = vk_mono_ms() - t0;
    printf("epoll_wait, 100 ms, nothing ready: %d\n", n);
    CHECK(dt >= 100, "returned after %lld ms", dt);
    close(ep);
    close(p[0]);
    close(p[1]);
}

static void close_mode(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    write(p[1], "x", 1);
    show_events("registered read end, data", wait0(ep, out, 2), out);
    int dup_fd = dup(p[0]);
    close(p[0]);
    show_events("after closing the fd while a dup is open", wait0(ep, out, 2), out);
    close(dup_fd);
    show_events("after closing the dup too", wait0(ep, out, 2), out);
    close(ep);
    close(p[1]);
}

static void nested(void) {
    int outer = epoll_create1(0), inner = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1}, out[2];
    epoll_ctl(inner, EPOLL_CTL_ADD, p[0], &ev);
    ev.data.u64 = 2;
    CHECK(epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev) == 0, "nest");
    show_events("outer, inner idle", wait0(outer, out, 2), out);
    write(p[1], "x", 1);
    show_events("outer, inner has an event", wait0(outer, out, 2), out);
    show_events("inner itself", wait0(inner, out, 2), out);
    close(outer);
    close(inner);
    close(p[0]);
    close(p[1]);
}

static void fork_mode(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 77};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    pid_t c = vk_fork();
    if (c == 0) {
        struct epoll_event out;
        int n = epoll_wait(ep, &out, 1, 5000);
        vk_exit(n == 1 && out.data.u64 == 77 ? 0 : 1);
    }
    vk_msleep(50);
    write(p[1], "x", 1);
    vk_reap_ok(c, "child waiting on the inherited epoll fd saw the parent's write");
    close(ep);
    close(p[0]);
    close(p[1]);
}

static volatile int handled;
static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

static void pwait(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    vk_handle(SIGUSR1, on_usr1, 0);
    vk_mask(SIG_BLOCK, SIGUSR1);
    kill(getpid(), SIGUSR1);
    sigset_t blocked, empty;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigemptyset(&empty);
    int n = epoll_pwait(ep, out, 2, 20, &blocked);
    printf("epoll_pwait, mask blocks SIGUSR1: %d, handler ran %d time(s)\n", n, handled);
    errno = 0;
    n = epoll_pwait(ep, out, 2, 5000, &empty);
    printf("epoll_pwait, empty mask: %d %s, handler ran %d time(s)\n", n, errno == EINTR ? "EINTR" : "", handled);
    CHECK(n == -1 && errno == EINTR && handled == 1, "pwait");
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("after epoll_pwait SIGUSR1 is blocked again: %d\n", sigismember(&now, SIGUSR1));
    vk_mask(SIG_UNBLOCK, SIGUSR1);
    signal(SIGUSR1, SIG_DFL);
    close(ep);
    close(p[0]);
    close(p[1]);
}

static const struct vk_mode modes[] = {
    {"basic", basic}, {"edge", edge},     {"oneshot", oneshot}, {"hup", hup},   {"many", many},
    {"block", block}, {"close", close_mode}, {"nested", nested}, {"fork", fork_mode}, {"pwait", pwait},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("epoll", modes, argc, argv); }
