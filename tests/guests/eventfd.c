/* eventfd: eventfd2 counters, selected by argv[1].
 *
 *   counter    initial value, writes add, a read returns the sum and resets to 0,
 *              EAGAIN when 0 (EFD_NONBLOCK); EFD_CLOEXEC
 *   semaphore  EFD_SEMAPHORE: each read returns 1 and decrements
 *   limits     reads/writes shorter than 8 bytes: EINVAL; writing 2^64-1: EINVAL; a
 *              write that would pass 2^64-2 gives EAGAIN (non-blocking)
 *   poll       POLLIN when the count is positive, POLLOUT while a write of 1 fits;
 *              epoll sees it too
 *   fork       a child blocked in read wakes when the parent writes; a parent blocked
 *              in a write that would overflow wakes when the child reads
 *   proc       /proc/self/fd/N -> anon_inode:[eventfd]
 */
#include "posix.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

static void show_read(const char *what, int fd) {
    uint64_t v = 0;
    errno = 0;
    ssize_t r = read(fd, &v, sizeof v);
    if (r == 8)
        printf("%s: %llu\n", what, (unsigned long long)v);
    else
        printf("%s: %zd %s\n", what, r, errno == EAGAIN ? "EAGAIN" : strerror(errno));
}

static int add(int fd, uint64_t v) { return write(fd, &v, sizeof v) == 8 ? 0 : -1; }

static void counter(void) {
    int fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(fd >= 0, "eventfd");
    printf("FD_CLOEXEC %d, O_NONBLOCK %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC, (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    show_read("initial 3", fd);
    show_read("empty", fd);
    add(fd, 5);
    add(fd, 7);
    show_read("after writing 5 and 7", fd);
    show_read("empty again", fd);
    struct stat st;
    fstat(fd, &st);
    printf("fstat: regular %d fifo %d\n", S_ISREG(st.st_mode), S_ISFIFO(st.st_mode));
    /* eventfd() with no flags: blocking, no cloexec. */
    int fd2 = syscall(SYS_eventfd2, 0, 0);
    printf("eventfd2(0, 0): FD_CLOEXEC %d, O_NONBLOCK %d\n", fcntl(fd2, F_GETFD) & FD_CLOEXEC,
           (fcntl(fd2, F_GETFL) & O_NONBLOCK) != 0);
    EXPECT_ERR("eventfd2 with a bad flag", syscall(SYS_eventfd2, 0, 0x12345), EINVAL);
    close(fd);
    close(fd2);
}

static void semaphore(void) {
    int fd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    show_read("semaphore, count 2", fd);
    show_read("semaphore, count 1", fd);
    show_read("semaphore, count 0", fd);
    add(fd, 3);
    show_read("semaphore after +3", fd);
    show_read("semaphore", fd);
    show_read("semaphore", fd);
    show_read("semaphore", fd);
    close(fd);
}

static void limits(void) {
    int fd = eventfd(0, EFD_NONBLOCK);
    uint32_t small = 1;
    EXPECT_ERR("4-byte write", write(fd, &small, 4), EINVAL);
    EXPECT_ERR("4-byte read", read(fd, &small, 4), EINVAL);
    uint64_t max = UINT64_MAX;
    EXPECT_ERR("write 2^64-1", write(fd, &max, 8), EINVAL);
    CHECK(add(fd, UINT64_MAX - 1) == 0, "write 2^64-2");
    printf("write 2^64-2: ok\n");
    uint64_t one = 1;
    EXPECT_ERR("write 1 more", write(fd, &one, 8), EAGAIN);
    show_read("read", fd);
    /* A 16-byte read reads 8. */
    add(fd, 9);
    uint64_t two[2] = {0, 0};
    ssize_t r = read(fd, two, sizeof two);
    printf("16-byte read: %zd bytes, value %llu\n", r, (unsigned long long)two[0]);
    close(fd);
}

static void show_poll(const char *what, int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    poll(&p, 1, 0);
    printf("%s:%s%s%s\n", what, p.revents & POLLIN ? " POLLIN" : "", p.revents & POLLOUT ? " POLLOUT" : "",
           p.revents == 0 ? " none" : "");
}

static void poll_mode(void) {
    int fd = eventfd(0, EFD_NONBLOCK);
    show_poll("count 0", fd);
    add(fd, 1);
    show_poll("count 1", fd);
    uint64_t v;
    read(fd, &v, 8);
    add(fd, UINT64_MAX - 1);
    show_poll("count 2^64-2", fd);
    read(fd, &v, 8);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 4}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    printf("epoll, count 0: %d\n", epoll_wait(ep, &out, 1, 0));
    add(fd, 2);
    int n = epoll_wait(ep, &out, 1, 0);
    printf("epoll after a write: %d, data %llu\n", n, (unsigned long long)(n == 1 ? out.data.u64 : 0));
    printf("epoll again (edge-triggered): %d\n", epoll_wait(ep, &out, 1, 0));
    add(fd, 2);
    printf("epoll after another write: %d\n", epoll_wait(ep, &out, 1, 0));
    close(ep);
    close(fd);
}

static void fork_mode(void) {
    int fd = eventfd(0, 0);
    pid_t c = vk_fork();
    if (c == 0) {
        uint64_t v = 0;
        ssize_t r = read(fd, &v, 8); /* blocks */
        vk_exit(r == 8 && v == 42 ? 0 : 1);
    }
    vk_wait_blocked(c);
    add(fd, 42);
    vk_reap_ok(c, "child blocked in read got 42");

    add(fd, UINT64_MAX - 1);
    c = vk_fork();
    if (c == 0) {
        vk_wait_blocked(getppid());
        uint64_t v = 0;
        vk_exit(read(fd, &v, 8) == 8 && v == UINT64_MAX - 1 ? 0 : 1);
    }
    int r = add(fd, 5); /* blocks until the child reads */
    printf("write blocked on a full counter completed: %d\n", r == 0);
    vk_reap_ok(c, "child read the full counter");
    fcntl(fd, F_SETFL, O_NONBLOCK);
    show_read("the parent's 5", fd);
    close(fd);
}

static void proc(void) {
    int fd = eventfd(0, 0);
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("/proc/self/fd/N -> %s\n", link);
    close(fd);
}

static const struct vk_mode modes[] = {
    {"counter", counter}, {"semaphore", semaphore}, {"limits", limits}, {"poll", poll_mode},
    {"fork", fork_mode},  {"proc", proc},           {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("eventfd", modes, argc, argv); }
