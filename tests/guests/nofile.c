/* RLIMIT_NOFILE: the soft limit bounds every new descriptor, as on Linux.
 *
 * Every mode first closes whatever it inherited above stderr (a native run may get
 * the harness's descriptors) and sets its own limits, so the output does not depend
 * on where it runs. Raising the limit needs a hard limit of at least 8192 (or root).
 *
 * Modes:
 *   full     soft limit 64, the table filled: EMFILE from open (even of a missing
 *            file, which O_CREAT then does not create), creat, dup, F_DUPFD,
 *            F_DUPFD_CLOEXEC, pipe and pipe2 (also with one slot free, which stays
 *            free), socket, socketpair, accept (the connection still waits),
 *            epoll_create1, eventfd, signalfd, timerfd_create; SCM_RIGHTS with one
 *            slot free installs one of three descriptors and sets MSG_CTRUNC, with
 *            none installs nothing; TIOCGPTPEER in a session leader (which gains
 *            no controlling terminal)
 *   bounds   dup2/dup3 at or above the limit EBADF (dup2 of an fd onto itself
 *            still works), F_DUPFD from the limit EINVAL; poll with more entries
 *            than the limit EINVAL, select with n far beyond the table looks only
 *            at the table; rlim_cur > rlim_max EINVAL, an infinite hard limit
 *            EPERM ("value nr_open+1" says what one above fs.nr_open gets)
 *   lower    /proc/self/limits shows the limits; the limit lowered below open
 *            descriptors: they stay usable, new ones come only from below the
 *            limit; limit 0
 *   raise    soft limit 8192: dup2 to 5000, F_DUPFD to 8000 ("value fdsize", status's
 *            FDSize, is the table's size), the table filled to 8191, poll of 8192 entries, select on fd 6000, a forked child inherits
 *            the limit and the descriptors
 * Mode for the checkpoint test (it sleeps where the test checkpoints):
 *   thaw     limit 8192, a pipe at fd 5000 with bytes in it and a file at 7000;
 *            after the thaw: the limit, the bytes, the table still bounded at 8192
 */
#include "posix.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif

/* Closes everything inherited above stderr and sets the soft limit to `soft` and the
 * hard one to at least `soft`. */
static void start(rlim_t soft) {
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
    if (rl.rlim_max < soft)
        rl.rlim_max = soft;
    rl.rlim_cur = soft;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit %lu", (unsigned long)soft);
    printf("soft limit %lu\n", (unsigned long)soft);
}

/* dup(0) until EMFILE; returns the last descriptor it got. */
static int fill(void) {
    int last = -1, fd;
    while ((fd = dup(0)) >= 0)
        last = fd;
    CHECK(errno == EMFILE, "the table filled up with EMFILE");
    return last;
}

static int blocked_signals_fd(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    return signalfd(-1, &s, 0);
}

/* A listening AF_UNIX socket at `path`, with one connection waiting; *client gets the
 * connecting end. */
static int listener_with_a_connection(const char *path, int *client) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    CHECK(listen(l, 4) == 0, "listen");
    *client = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(*client, (struct sockaddr *)&a, sizeof a) == 0, "connect");
    return l;
}

/* Sends three descriptors of /dev/null over `s`. */
static void send_three(int s) {
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = open("/dev/null", O_RDONLY);
    char c = 'x', buf[CMSG_SPACE(sizeof fds)];
    struct iovec iov = {&c, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf,
                       .msg_controllen = sizeof buf};
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(h), fds, sizeof fds);
    CHECK(sendmsg(s, &m, 0) == 1, "sendmsg with three descriptors");
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

/* Receives one message with room for three descriptors; prints what came. */
static void receive_three(int s, const char *when) {
    char c, buf[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {&c, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf,
                       .msg_controllen = sizeof buf};
    CHECK(recvmsg(s, &m, 0) == 1, "recvmsg");
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    int n = h && h->cmsg_type == SCM_RIGHTS ? (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0;
    printf("SCM_RIGHTS %s: %d of 3 descriptors, controllen %d, MSG_CTRUNC %s\n", when, n,
           (int)m.msg_controllen, m.msg_flags & MSG_CTRUNC ? "set" : "clear");
    for (int i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        printf("  received fd %d\n", fd);
        close(fd);
    }
}

/* The calls that make a new descriptor, each EMFILE with the table full. */
static void every_allocator_fails(const char *dir, int listener) {
    const char *missing = vk_join(dir, "missing");
    int p[2], sv[2];
    EXPECT_ERR("open of an existing file", open("/dev/null", O_RDONLY), EMFILE);
    EXPECT_ERR("open of a missing file", open(missing, O_RDONLY), EMFILE);
    EXPECT_ERR("open with O_CREAT", open(missing, O_RDWR | O_CREAT, 0644), EMFILE);
    CHECK(access(missing, F_OK) == -1 && errno == ENOENT, "O_CREAT created nothing");
    EXPECT_ERR("openat", openat(AT_FDCWD, "/dev/null", O_RDONLY), EMFILE);
    EXPECT_ERR("creat", creat(missing, 0644), EMFILE);
    EXPECT_ERR("dup", dup(0), EMFILE);
    EXPECT_ERR("F_DUPFD", fcntl(0, F_DUPFD, 0), EMFILE);
    EXPECT_ERR("F_DUPFD_CLOEXEC", fcntl(0, F_DUPFD_CLOEXEC, 10), EMFILE);
    EXPECT_ERR("pipe", pipe(p), EMFILE);
    EXPECT_ERR("pipe2", pipe2(p, O_CLOEXEC), EMFILE);
    EXPECT_ERR("socket", socket(AF_UNIX, SOCK_STREAM, 0), EMFILE);
    EXPECT_ERR("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv), EMFILE);
    EXPECT_ERR("accept", accept(listener, NULL, NULL), EMFILE);
    EXPECT_ERR("epoll_create1", epoll_create1(0), EMFILE);
    EXPECT_ERR("eventfd", eventfd(0, 0), EMFILE);
    EXPECT_ERR("signalfd", blocked_signals_fd(), EMFILE);
    EXPECT_ERR("timerfd_create", timerfd_create(CLOCK_MONOTONIC, 0), EMFILE);
}

/* A session leader without a controlling terminal, its table full: TIOCGPTPEER
 * (without O_NOCTTY, which would make the slave its terminal) fails first, so it
 * still has none afterwards. */
static void pty_peer(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0, "a pty");
    pid_t pid = vk_fork();
    if (pid == 0) {
        CHECK(setsid() > 0, "setsid");
        fill();
        EXPECT_ERR("TIOCGPTPEER", ioctl(m, TIOCGPTPEER, O_RDWR), EMFILE);
        close(20);
        EXPECT_ERR("then /dev/tty", open("/dev/tty", O_RDWR), ENXIO);
        vk_exit(vk_failures);
    }
    vk_reap_ok(pid, "a session leader with a full table");
    close(m);
}

static void full(void) {
    start(64);
    const char *dir = vk_tmpdir();
    int client, l = listener_with_a_connection(vk_join(dir, "sock"), &client);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    send_three(sv[0]);
    send_three(sv[0]);
    printf("table filled up to fd %d\n", fill());
    every_allocator_fails(dir, l);

    close(40);
    int p[2];
    EXPECT_ERR("pipe with one slot free", pipe(p), EMFILE);
    EXPECT_ERR("socketpair with one slot free", socketpair(AF_UNIX, SOCK_STREAM, 0, p), EMFILE);
    int fd = accept(l, NULL, NULL);
    printf("accept with one slot free: fd %d\n", fd);
    close(fd);
    receive_three(sv[1], "with one slot free");
    CHECK(dup(0) == 40, "fd 40 taken again");
    receive_three(sv[1], "with the table full");
    close(l);
    close(client);
    close(sv[0]);
    close(sv[1]);
    for (int fd = 3; fd < 64; fd++)
        close(fd);
    pty_peer();
    vk_rmtree(dir);
}

static void bounds(void) {
    start(64);
    EXPECT_ERR("dup2 to the limit", dup2(0, 64), EBADF);
    EXPECT_ERR("dup3 to the limit", dup3(0, 64, 0), EBADF);
    EXPECT_ERR("dup2 far beyond it", dup2(0, 100000), EBADF);
    printf("dup2 to 63: %d\n", dup2(0, 63));
    EXPECT_ERR("F_DUPFD from the limit", fcntl(0, F_DUPFD, 64), EINVAL);
    EXPECT_ERR("F_DUPFD_CLOEXEC from the limit", fcntl(0, F_DUPFD_CLOEXEC, 64), EINVAL);
    EXPECT_ERR("F_DUPFD from 63 (taken)", fcntl(0, F_DUPFD, 63), EMFILE);
    close(63);
    printf("F_DUPFD from 63: %d\n", fcntl(0, F_DUPFD, 63));

    static struct pollfd pf[65];
    for (int i = 0; i < 65; i++)
        pf[i].fd = -1;
    printf("poll of 64 entries: %d\n", poll(pf, 64, 0));
    EXPECT_ERR("poll of 65 entries", poll(pf, 65, 0), EINVAL);

    /* Bits far above the table are not even looked at; the one on the pipe counts. */
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    static uint64_t w[100000 / 64 + 1];
    w[p[1] / 64] |= 1ull << (p[1] % 64);
    w[90000 / 64] |= 1ull << (90000 % 64);
    struct timeval tv = {0, 0};
    int n = select(100000, NULL, (fd_set *)w, NULL, &tv);
    printf("select with n 100000: %d, the pipe %s, bit 90000 %s\n", n,
           w[p[1] / 64] >> (p[1] % 64) & 1 ? "writable" : "not writable",
           w[90000 / 64] >> (90000 % 64) & 1 ? "untouched" : "cleared");

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit bad = {rl.rlim_max + 1, rl.rlim_max};
    EXPECT_ERR("rlim_cur above rlim_max", setrlimit(RLIMIT_NOFILE, &bad), EINVAL);
    struct rlimit inf = {64, RLIM_INFINITY};
    EXPECT_ERR("an infinite hard limit", setrlimit(RLIMIT_NOFILE, &inf), EPERM);
    struct rlimit above = {64, 1048577};
    errno = 0;
    int r = setrlimit(RLIMIT_NOFILE, &above);
    printf("value nr_open+1 %s\n", r == 0 ? "ok" : errno == EPERM ? "EPERM" : strerror(errno));
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "limits back");
}

/* The line of /proc/self/<file> that starts with `key`, without its newline. */
static const char *proc_line(const char *file, const char *key) {
    static char buf[4096];
    if (vk_read_file(vk_join("/proc/self", file), buf, sizeof buf) < 0)
        return "(unreadable)";
    char *l = strstr(buf, key);
    if (!l)
        return "(missing)";
    l[strcspn(l, "\n")] = 0;
    return l;
}

static void lower(void) {
    start(64);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_max = 4096;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "hard limit lowered to 4096");
    printf("/proc/self/limits: \"%s\"\n", proc_line("limits", "Max open files"));
    printf("table filled up to fd %d\n", fill());
    rl.rlim_cur = 16;
    printf("lowered to 16 with fds up to 63 open: %d\n", setrlimit(RLIMIT_NOFILE, &rl));
    printf("fd 50 still open: %s\n", fcntl(50, F_GETFD) == 0 ? "yes" : "no");
    char c;
    printf("read from fd 50: %d\n", (int)read(50, &c, 0));
    EXPECT_ERR("dup2 to 40", dup2(0, 40), EBADF);
    close(40);
    EXPECT_ERR("open with 40 free", open("/dev/null", O_RDONLY), EMFILE);
    close(5);
    printf("open with 5 free: %d\n", open("/dev/null", O_RDONLY));
    printf("dup2(50, 50): %d\n", dup2(50, 50));
    printf("close(50): %d\n", close(50));
    rl.rlim_cur = 0;
    printf("lowered to 0: %d\n", setrlimit(RLIMIT_NOFILE, &rl));
    close(3);
    EXPECT_ERR("open with limit 0", open("/dev/null", O_RDONLY), EMFILE);
    EXPECT_ERR("dup2 to 0 with limit 0", dup2(1, 0), EBADF);
    printf("dup2(1, 1) with limit 0: %d\n", dup2(1, 1));
}

static void raise_(void) {
    start(8192);
    printf("dup2 to 5000: %d\n", dup2(0, 5000));
    printf("F_DUPFD from 8000: %d\n", fcntl(0, F_DUPFD, 8000));
    EXPECT_ERR("F_DUPFD from 8192", fcntl(0, F_DUPFD, 8192), EINVAL);
    EXPECT_ERR("dup2 to 8192", dup2(0, 8192), EBADF);
    printf("value fdsize %s\n", proc_line("status", "FDSize:") + strlen("FDSize:\t"));
    printf("table filled up to fd %d\n", fill());
    EXPECT_ERR("open with the table full", open("/dev/null", O_RDONLY), EMFILE);

    static struct pollfd pf[8193];
    for (int i = 0; i < 8193; i++)
        pf[i].fd = -1;
    printf("poll of 8192 entries: %d\n", poll(pf, 8192, 0));
    EXPECT_ERR("poll of 8193 entries", poll(pf, 8193, 0), EINVAL);

    int p[2];
    close(6000);
    close(6001);
    CHECK(pipe(p) == 0 && p[0] == 6000 && p[1] == 6001, "a pipe at 6000: %d %d", p[0], p[1]);
    CHECK(write(p[1], "x", 1) == 1, "write");
    static uint64_t r[8192 / 64];
    r[6000 / 64] = 1ull << (6000 % 64);
    struct timeval tv = {0, 0};
    int n = select(6001, (fd_set *)r, NULL, NULL, &tv);
    printf("select on fd 6000: %d, %s\n", n, r[6000 / 64] >> (6000 % 64) & 1 ? "readable" : "not");

    pid_t pid = vk_fork();
    if (pid == 0) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        char c;
        int ok = rl.rlim_cur == 8192 && read(6000, &c, 1) == 1 && c == 'x' &&
                 fcntl(5000, F_GETFD) == 0 && dup2(0, 8191) == 8191 && dup2(0, 8192) == -1;
        vk_exit(ok ? 0 : 1);
    }
    vk_reap_ok(pid, "child with the limit and fds 5000, 6000 and 8191");
}

static void thaw(void) {
    start(8192);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    CHECK(write(p[1], "kept across the thaw", 20) == 20, "write");
    printf("dup2 to 5000: %d\n", dup2(p[0], 5000));
    int f = open("/dev/null", O_RDONLY);
    printf("F_DUPFD_CLOEXEC from 7000: %d\n", fcntl(f, F_DUPFD_CLOEXEC, 7000));
    close(p[0]);
    close(f);
    printf("waiting for the checkpoint\n");
    fflush(stdout);
    vk_msleep(1500);

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("after: soft limit %lu\n", (unsigned long)rl.rlim_cur);
    char buf[32] = {0};
    printf("read from fd 5000: %d \"%s\"\n", (int)read(5000, buf, sizeof buf - 1), buf);
    printf("fd 7000 close-on-exec: %s\n", fcntl(7000, F_GETFD) == FD_CLOEXEC ? "yes" : "no");
    EXPECT_ERR("dup2 to 8192", dup2(0, 8192), EBADF);
    printf("table filled up to fd %d\n", fill());
}

static const struct vk_mode modes[] = {
    {"full", full}, {"bounds", bounds}, {"lower", lower},
    {"raise", raise_}, {"thaw", thaw}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("nofile", modes, argc, argv); }
