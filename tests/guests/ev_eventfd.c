/* ev_eventfd: eventfd and eventfd2, selected by argv[1].
 *
 *   basic      counts add up and a read takes them all; reads take at least 8 bytes and
 *              writes exactly 8 (EINVAL), UINT64_MAX (EINVAL), bad flags; O_RDWR status, CLOEXEC, fstat 0600 without a type,
 *              anon_inode:[eventfd], lseek 0, pread ESPIPE
 *   semaphore  EFD_SEMAPHORE reads 1 at a time, then EAGAIN
 *   overflow   a write that would reach UINT64_MAX is EAGAIN (nonblocking); poll shows
 *              POLLIN without POLLOUT until a read empties the count
 *   block      a read sleeps until a child writes; a write sleeps until a child reads
 *   interrupt  a read interrupted by a handler: EINTR without SA_RESTART; restarted with
 *              it (the handler's own write ends the restarted read)
 *   poll       poll and select see the count; POLLRDNORM is never set (as Linux)
 */
#include "posix.h"

#include <sys/eventfd.h>
#include <sys/select.h>

static uint64_t rd(int fd) {
    uint64_t v = 0;
    ssize_t n = read(fd, &v, sizeof v);
    CHECK(n == 8, "read returned %zd", n);
    return v;
}

static void wr(int fd, uint64_t v) {
    ssize_t n = write(fd, &v, sizeof v);
    CHECK(n == 8, "write %llu returned %zd", (unsigned long long)v, n);
}

static short poll1(int fd, short events) {
    struct pollfd p = {fd, events, 0};
    int r = poll(&p, 1, 0);
    CHECK(r == (p.revents != 0), "poll returned %d revents %x", r, p.revents);
    return p.revents;
}

static void basic(void) {
    int e = eventfd(5, 0);
    CHECK(e >= 0, "eventfd");
    printf("initial read: %llu\n", (unsigned long long)rd(e));
    wr(e, 3);
    wr(e, 4);
    printf("after writes 3 and 4: %llu\n", (unsigned long long)rd(e));

    char small[4] = {0};
    EXPECT_ERR("read 4 bytes", read(e, small, sizeof small), EINVAL);
    EXPECT_ERR("write 4 bytes", write(e, small, sizeof small), EINVAL);
    uint64_t max = UINT64_MAX;
    EXPECT_ERR("write UINT64_MAX", write(e, &max, 8), EINVAL);
    EXPECT_ERR("eventfd2 flags 0x10", syscall(SYS_eventfd2, 0, 0x10), EINVAL);

    uint64_t big[2] = {0, 0};
    wr(e, 9);
    ssize_t n = read(e, big, sizeof big);
    printf("16-byte read: %zd bytes, value %llu\n", n, (unsigned long long)big[0]);
    uint64_t two[2] = {6, 7};
    EXPECT_ERR("16-byte write", write(e, two, sizeof two), EINVAL);

    printf("F_GETFL: %s\n", fcntl(e, F_GETFL) == O_RDWR ? "O_RDWR" : "other");
    printf("F_GETFD: %d\n", fcntl(e, F_GETFD));
    int c = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    printf("EFD_CLOEXEC|EFD_NONBLOCK: F_GETFD %d, O_NONBLOCK %s\n", fcntl(c, F_GETFD),
           fcntl(c, F_GETFL) & O_NONBLOCK ? "set" : "clear");

    struct stat st;
    CHECK(fstat(e, &st) == 0, "fstat");
    printf("fstat: mode %o, type bits %o, size %lld\n", (unsigned)(st.st_mode & 07777),
           (unsigned)(st.st_mode & S_IFMT), (long long)st.st_size);
    struct stat st2;
    fstat(c, &st2);
    printf("two eventfds share one inode: %s\n", st.st_ino == st2.st_ino ? "yes" : "no");

    char link[64], path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", e);
    ssize_t l = readlink(path, link, sizeof link - 1);
    link[l > 0 ? l : 0] = 0;
    printf("link: %s\n", link);

    errno = 0;
    printf("lseek: %ld\n", (long)lseek(e, 10, SEEK_SET));
    EXPECT_ERR("pread", pread(e, big, 8, 0), ESPIPE);
    close(c);
    close(e);
}

static void semaphore(void) {
    int e = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
    for (int i = 0; i < 3; i++)
        printf("semaphore read %d: %llu\n", i, (unsigned long long)rd(e));
    uint64_t v;
    EXPECT_ERR("fourth read", read(e, &v, 8), EAGAIN);
    wr(e, 2);
    printf("after write 2: %llu then %llu\n", (unsigned long long)rd(e),
           (unsigned long long)rd(e));
    close(e);
}

static void show_poll(const char *what, short r) {
    printf("%s:%s%s%s%s\n", what, r & POLLIN ? " POLLIN" : "", r & POLLOUT ? " POLLOUT" : "",
           r & POLLERR ? " POLLERR" : "", r == 0 ? " none" : "");
}

static void overflow(void) {
    int e = eventfd(0, EFD_NONBLOCK);
    show_poll("empty", poll1(e, POLLIN | POLLOUT));
    wr(e, UINT64_MAX - 1);
    show_poll("count UINT64_MAX-1", poll1(e, POLLIN | POLLOUT));
    uint64_t one = 1;
    EXPECT_ERR("write 1 more", write(e, &one, 8), EAGAIN);
    uint64_t zero = 0;
    CHECK(write(e, &zero, 8) == 8, "a write of 0 always fits");
    printf("read: %s\n", rd(e) == UINT64_MAX - 1 ? "UINT64_MAX-1" : "other");
    show_poll("after read", poll1(e, POLLIN | POLLOUT));
    close(e);
}

static void block(void) {
    int e = eventfd(0, 0);
    pid_t pid = vk_fork();
    if (pid == 0) {
        vk_msleep(50);
        uint64_t v = 42;
        vk_exit(write(e, &v, 8) == 8 ? 0 : 1);
    }
    printf("blocking read got %llu\n", (unsigned long long)rd(e));
    vk_reap_ok(pid, "writer");

    wr(e, UINT64_MAX - 1);
    pid = vk_fork();
    if (pid == 0) {
        vk_msleep(50);
        uint64_t v;
        vk_exit(read(e, &v, 8) == 8 && v == UINT64_MAX - 1 ? 0 : 1);
    }
    wr(e, 5); /* sleeps until the child's read makes room */
    printf("blocked write went through, count %llu\n", (unsigned long long)rd(e));
    vk_reap_ok(pid, "reader");
    close(e);
}

static int irq_fd = -1;

static void on_alarm(int sig) {
    (void)sig;
    if (irq_fd >= 0) {
        uint64_t v = 7;
        write(irq_fd, &v, 8);
    }
}

/* SIGALRM after `ms`, and every `period` ms after that (0: once). */
static void arm_timer(long ms, long period) {
    struct itimerval it = {{0, period * 1000}, {0, ms * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void interrupt(void) {
    int e = eventfd(0, 0);
    uint64_t v;
    vk_handle(SIGALRM, on_alarm, 0);
    /* Periodic, so a signal that came before the read blocked is followed by one. */
    arm_timer(30, 30);
    EXPECT_ERR("read, handler without SA_RESTART", read(e, &v, 8), EINTR);
    arm_timer(0, 0);

    irq_fd = e;
    vk_handle(SIGALRM, on_alarm, SA_RESTART);
    arm_timer(30, 0); /* the handler's write ends the read, however early it runs */
    printf("read, handler with SA_RESTART: %llu\n", (unsigned long long)rd(e));
    close(e);
}

static void poll_mode(void) {
    int e = eventfd(0, 0);
    show_poll("poll empty", poll1(e, POLLIN));
    wr(e, 1);
    show_poll("poll after write", poll1(e, POLLIN | POLLOUT));
    printf("POLLRDNORM alone: %s\n", poll1(e, POLLRDNORM) ? "set" : "not set");
    fd_set r;
    FD_ZERO(&r);
    FD_SET(e, &r);
    struct timeval tv = {0, 0};
    int n = select(e + 1, &r, NULL, NULL, &tv);
    printf("select: %d, readable %s\n", n, FD_ISSET(e, &r) ? "yes" : "no");
    rd(e);
    FD_SET(e, &r);
    tv.tv_usec = 0;
    n = select(e + 1, &r, NULL, NULL, &tv);
    printf("select after read: %d\n", n);
    close(e);
}

static const struct vk_mode modes[] = {
    {"basic", basic},         {"semaphore", semaphore}, {"overflow", overflow},
    {"block", block},         {"interrupt", interrupt}, {"poll", poll_mode},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("ev_eventfd", modes, argc, argv); }
