/* ev_epoll: epoll_create / epoll_create1 / epoll_ctl / epoll_wait / epoll_pwait /
 * epoll_pwait2 over pipes, eventfds and timerfds, selected by argv[1].
 *
 *   errors    create sizes and flags; ADD/MOD/DEL errors (EEXIST, ENOENT, EPERM for a
 *             regular file, EINVAL for the epoll fd itself or a non-epoll epfd, EBADF,
 *             bad op, EPOLLEXCLUSIVE rules); maxevents; status flags and link name
 *   mixed     a pipe, an eventfd and a timerfd in one set, level-triggered: each is
 *             reported with its data while ready, again and again, and not once drained
 *   edge      EPOLLET: an eventfd is reported once per write (a write of 0 too), a pipe
 *             once per write while unread data stays, and again after draining
 *   oneshot   EPOLLONESHOT reports once, then nothing until EPOLL_CTL_MOD re-arms it
 *   del       EPOLL_CTL_DEL stops reports; an item stays while a dup keeps its file
 *             open and goes away with the file's last descriptor
 *   timeout   timeout 0 and a 30 ms timeout return 0 with nothing ready; epoll_pwait2
 *             with a zero timespec; a blocking wait ends on a child's write
 *   hup       EPOLLHUP on a pipe whose writer closed, EPOLLERR on one whose reader did
 *   fair      5 ready eventfds and maxevents 2: three calls report all five
 *   nested    an epoll fd in another epoll set (and in poll) is readable when its own
 *             set has events; loops are ELOOP; a wait on the outer set wakes for the
 *             inner one's files
 *   signal    epoll_wait is interrupted by a handler even with SA_RESTART (EINTR,
 *             never restarted); epoll_pwait's mask lets a blocked pending signal in
 */
#include "posix.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#define MS 1000000L

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* musl has no epoll_pwait2 wrapper. */
static int pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *t) {
    return (int)syscall(SYS_epoll_pwait2, ep, ev, max, t, NULL, 8);
}

static void show(const char *what, int n, const struct epoll_event *ev) {
    printf("%s: %d", what, n);
    if (n < 0)
        printf(" (%s)", strerror(errno));
    for (int i = 0; i < n; i++) {
        printf(" [%llu", (unsigned long long)ev[i].data.u64);
        if (ev[i].events & EPOLLIN)
            printf(" IN");
        if (ev[i].events & EPOLLOUT)
            printf(" OUT");
        if (ev[i].events & EPOLLHUP)
            printf(" HUP");
        if (ev[i].events & EPOLLERR)
            printf(" ERR");
        printf("]");
    }
    printf("\n");
}

/* epoll_wait with the events sorted by data, so the order never matters. */
static int wait_sorted(int ep, struct epoll_event *ev, int max, int timeout) {
    int n = epoll_wait(ep, ev, max, timeout);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && ev[j - 1].data.u64 > ev[j].data.u64; j--) {
            struct epoll_event t = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = t;
        }
    return n;
}

static void wait_show(const char *what, int ep, int timeout) {
    struct epoll_event ev[16];
    int n = wait_sorted(ep, ev, 16, timeout);
    show(what, n, ev);
}

static int add(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {events, {.u64 = data}};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {events, {.u64 = data}};
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void efd_write(int fd, uint64_t v) { CHECK(write(fd, &v, 8) == 8, "eventfd write"); }

static uint64_t efd_read(int fd) {
    uint64_t v = 0;
    CHECK(read(fd, &v, 8) == 8, "eventfd read");
    return v;
}

static void errors(void) {
    EXPECT_ERR("epoll_create(0)", syscall(SYS_epoll_create, 0), EINVAL);
    EXPECT_ERR("epoll_create(-1)", syscall(SYS_epoll_create, -1), EINVAL);
    EXPECT_ERR("epoll_create1(1)", epoll_create1(1), EINVAL);
    int old = (int)syscall(SYS_epoll_create, 1);
    CHECK(old >= 0, "epoll_create(1)");
    close(old);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    printf("EPOLL_CLOEXEC: F_GETFD %d, F_GETFL %s\n", fcntl(ep, F_GETFD),
           fcntl(ep, F_GETFL) == O_RDWR ? "O_RDWR" : "other");
    char link[64], path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", ep);
    ssize_t l = readlink(path, link, sizeof link - 1);
    link[l > 0 ? l : 0] = 0;
    printf("link: %s\n", link);

    int e = eventfd(0, 0);
    CHECK(add(ep, e, EPOLLIN, 1) == 0, "add");
    EXPECT_ERR("ADD twice", add(ep, e, EPOLLIN, 1), EEXIST);
    int e2 = eventfd(0, 0);
    EXPECT_ERR("MOD absent", mod(ep, e2, EPOLLIN, 1), ENOENT);
    EXPECT_ERR("DEL absent", epoll_ctl(ep, EPOLL_CTL_DEL, e2, NULL), ENOENT);
    int f = open("/proc/self/exe", O_RDONLY);
    EXPECT_ERR("ADD a regular file", add(ep, f, EPOLLIN, 1), EPERM);
    int dn = open("/dev/null", O_RDONLY);
    EXPECT_ERR("ADD /dev/null", add(ep, dn, EPOLLIN, 1), EPERM);
    EXPECT_ERR("ADD the epoll fd itself", add(ep, ep, EPOLLIN, 1), EINVAL);
    EXPECT_ERR("epfd is an eventfd", add(e2, e, EPOLLIN, 1), EINVAL);
    EXPECT_ERR("fd 99", add(ep, 99, EPOLLIN, 1), EBADF);
    EXPECT_ERR("epfd 99", add(99, e, EPOLLIN, 1), EBADF);
    struct epoll_event ev = {EPOLLIN, {0}};
    EXPECT_ERR("op 7", epoll_ctl(ep, 7, e, &ev), EINVAL);
    EXPECT_ERR("ADD with a NULL event", epoll_ctl(ep, EPOLL_CTL_ADD, e2, NULL), EFAULT);
    EXPECT_ERR("EXCLUSIVE with ONESHOT", add(ep, e2, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 1),
               EINVAL);
    CHECK(add(ep, e2, EPOLLIN | EPOLLEXCLUSIVE, 2) == 0, "EXCLUSIVE add");
    EXPECT_ERR("MOD an EXCLUSIVE item", mod(ep, e2, EPOLLIN, 2), EINVAL);
    struct epoll_event out[1];
    EXPECT_ERR("maxevents 0", epoll_wait(ep, out, 0, 0), EINVAL);
    EXPECT_ERR("maxevents -1", syscall(SYS_epoll_wait, ep, out, -1, 0), EINVAL);
    EXPECT_ERR("epoll_wait on an eventfd", epoll_wait(e, out, 1, 0), EINVAL);
    EXPECT_ERR("epoll_wait on fd 99", epoll_wait(99, out, 1, 0), EBADF);
    EXPECT_ERR("read an epoll fd", read(ep, out, sizeof out), EINVAL);
    close(dn);
    close(f);
    close(e2);
    close(e);
    close(ep);
}

static void mixed(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    int e = eventfd(0, 0);
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    add(ep, p[0], EPOLLIN, 1);
    add(ep, e, EPOLLIN, 2);
    add(ep, t, EPOLLIN, 3);
    wait_show("nothing ready", ep, 0);
    write(p[1], "x", 1);
    wait_show("pipe written", ep, 0);
    efd_write(e, 1);
    wait_show("eventfd written", ep, 0);
    wait_show("again (level-triggered)", ep, 0);
    struct itimerspec s = {{0, 0}, {0, 30 * MS}};
    timerfd_settime(t, 0, &s, NULL);
    char c;
    read(p[0], &c, 1);
    efd_read(e);
    wait_show("pipe and eventfd drained", ep, 0);
    wait_show("wait for the timer", ep, -1);
    uint64_t ticks;
    read(t, &ticks, 8);
    wait_show("timer read", ep, 0);
    close(t);
    close(e);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void edge(void) {
    int ep = epoll_create1(0);
    int e = eventfd(0, EFD_NONBLOCK);
    add(ep, e, EPOLLIN | EPOLLET, 1);
    wait_show("ET eventfd, nothing yet", ep, 0);
    efd_write(e, 1);
    wait_show("ET eventfd written", ep, 0);
    wait_show("ET eventfd again", ep, 0);
    efd_write(e, 1);
    wait_show("ET eventfd written again", ep, 0);
    efd_write(e, 0);
    wait_show("ET eventfd written 0", ep, 0);
    efd_read(e);
    wait_show("ET eventfd read", ep, 0);
    close(e);

    int p[2];
    pipe(p);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    add(ep, p[0], EPOLLIN | EPOLLET, 2);
    write(p[1], "ab", 2);
    wait_show("ET pipe written", ep, 0);
    wait_show("ET pipe, data still unread", ep, 0);
    write(p[1], "c", 1);
    wait_show("ET pipe written again", ep, 0);
    char buf[8];
    while (read(p[0], buf, sizeof buf) > 0) {
    }
    wait_show("ET pipe drained", ep, 0);
    write(p[1], "d", 1);
    wait_show("ET pipe written after draining", ep, 0);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void oneshot(void) {
    int ep = epoll_create1(0);
    int e = eventfd(1, 0);
    add(ep, e, EPOLLIN | EPOLLONESHOT, 4);
    wait_show("oneshot", ep, 0);
    wait_show("oneshot again, still readable", ep, 0);
    efd_write(e, 1);
    wait_show("oneshot after another write", ep, 0);
    CHECK(mod(ep, e, EPOLLIN | EPOLLONESHOT, 5) == 0, "MOD");
    wait_show("re-armed by MOD", ep, 0);
    wait_show("and off again", ep, 0);
    close(e);
    close(ep);
}

static void del(void) {
    int ep = epoll_create1(0);
    int e = eventfd(1, 0);
    add(ep, e, EPOLLIN, 6);
    wait_show("added", ep, 0);
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL) == 0, "DEL");
    wait_show("deleted", ep, 0);

    add(ep, e, EPOLLIN, 7);
    int d = dup(e);
    close(e);
    wait_show("fd closed, dup open", ep, 0);
    EXPECT_ERR("DEL through the closed fd", epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL), EBADF);
    EXPECT_ERR("DEL through the dup (another key)", epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL),
               ENOENT);
    close(d);
    wait_show("last fd closed", ep, 0);
    int e2 = eventfd(1, 0); /* may reuse the old fd number */
    EXPECT_ERR("DEL of a new file on the same number", epoll_ctl(ep, EPOLL_CTL_DEL, e2, NULL),
               ENOENT);
    close(e2);
    close(ep);
}

static void timeout(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    add(ep, p[0], EPOLLIN, 8);
    wait_show("timeout 0", ep, 0);
    wait_show("timeout 30 ms", ep, 30);
    struct epoll_event ev[2];
    struct timespec zero = {0, 0};
    int n = pwait2(ep, ev, 2, &zero);
    show("epoll_pwait2, zero timespec", n, ev);
    struct timespec bad = {0, 1000000000L};
    EXPECT_ERR("epoll_pwait2, bad timespec", pwait2(ep, ev, 2, &bad), EINVAL);
    pid_t pid = vk_fork();
    if (pid == 0) {
        vk_msleep(50);
        vk_exit(write(p[1], "y", 1) == 1 ? 0 : 1);
    }
    wait_show("blocking wait", ep, -1);
    vk_reap_ok(pid, "writer");
    struct timespec forever_ok = {5, 0};
    n = pwait2(ep, ev, 2, &forever_ok);
    show("epoll_pwait2 with data ready", n, ev);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void hup(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    add(ep, p[0], EPOLLIN, 9);
    write(p[1], "z", 1);
    close(p[1]);
    wait_show("writer closed, data left", ep, 0);
    char c;
    read(p[0], &c, 1);
    wait_show("writer closed, drained", ep, 0);
    close(p[0]);

    pipe(p);
    add(ep, p[1], EPOLLOUT, 10);
    wait_show("write end", ep, 0);
    close(p[0]);
    wait_show("reader closed", ep, 0);
    close(p[1]);
    close(ep);
}

static void fair(void) {
    int ep = epoll_create1(0);
    int e[5];
    for (int i = 0; i < 5; i++) {
        e[i] = eventfd(1, 0);
        add(ep, e[i], EPOLLIN, 20 + i);
    }
    unsigned seen = 0;
    for (int call = 0; call < 3; call++) {
        struct epoll_event ev[2];
        int n = epoll_wait(ep, ev, 2, 0);
        CHECK(n == 2, "call %d returned %d", call, n);
        for (int i = 0; i < n; i++)
            seen |= 1u << (ev[i].data.u64 - 20);
    }
    printf("three calls of maxevents 2 saw: %s\n", seen == 0x1f ? "all five" : "not all");
    for (int i = 0; i < 5; i++)
        close(e[i]);
    close(ep);
}

static void nested(void) {
    int inner = epoll_create1(0), outer = epoll_create1(0);
    int e = eventfd(0, 0);
    add(inner, e, EPOLLIN, 11);
    CHECK(add(outer, inner, EPOLLIN, 12) == 0, "add inner to outer");
    EXPECT_ERR("add outer to inner", add(inner, outer, EPOLLIN, 13), ELOOP);
    wait_show("outer, nothing ready", outer, 0);
    struct pollfd p = {inner, POLLIN, 0};
    printf("poll inner: %d\n", poll(&p, 1, 0));
    efd_write(e, 1);
    int r = poll(&p, 1, 0);
    printf("poll inner after write: %d revents %s\n", r, p.revents == POLLIN ? "POLLIN" : "other");
    wait_show("outer after write", outer, 0);
    wait_show("inner", inner, 0);
    efd_read(e);
    wait_show("outer after read", outer, 0);

    pid_t pid = vk_fork();
    if (pid == 0) {
        vk_msleep(50);
        uint64_t v = 1;
        vk_exit(write(e, &v, 8) == 8 ? 0 : 1);
    }
    wait_show("outer, blocking until the child writes", outer, -1);
    vk_reap_ok(pid, "writer");
    close(e);
    close(outer);
    close(inner);
}

static int got;

static void on_alarm(int sig) {
    (void)sig;
    got++;
}

static void signal_mode(void) {
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    add(ep, p[0], EPOLLIN, 14);
    vk_handle(SIGALRM, on_alarm, SA_RESTART);
    /* Periodic, so a signal that came before the wait blocked is followed by one. */
    struct itimerval it = {{0, 30000}, {0, 30000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct epoll_event ev[2];
    EXPECT_ERR("epoll_wait, SA_RESTART handler", epoll_wait(ep, ev, 2, -1), EINTR);
    setitimer(ITIMER_REAL, &off, NULL);
    printf("handler ran: %s\n", got > 0 ? "yes" : "no");
    got = 0;

    vk_mask(SIG_BLOCK, SIGUSR1);
    vk_handle(SIGUSR1, on_alarm, 0);
    raise(SIGUSR1);
    sigset_t none;
    sigemptyset(&none);
    EXPECT_ERR("epoll_pwait unblocking a pending signal", epoll_pwait(ep, ev, 2, -1, &none),
               EINTR);
    printf("SIGUSR1 handler ran: %d\n", got);
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("SIGUSR1 blocked again: %s\n", sigismember(&now, SIGUSR1) ? "yes" : "no");
    close(p[0]);
    close(p[1]);
    close(ep);
}

static const struct vk_mode modes[] = {
    {"errors", errors}, {"mixed", mixed},   {"edge", edge}, {"oneshot", oneshot},
    {"del", del},       {"timeout", timeout}, {"hup", hup}, {"fair", fair},
    {"nested", nested}, {"signal", signal_mode}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("ev_epoll", modes, argc, argv); }
