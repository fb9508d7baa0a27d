/* ev_signalfd: signalfd and signalfd4, selected by argv[1].
 *
 *   basic     a blocked signal in the mask is read as struct signalfd_siginfo (signo,
 *             code, pid, uid); nothing pending: EAGAIN; a pending signal outside the
 *             mask is not readable until signalfd(fd, ...) widens the mask
 *   multi     several pending signals come out lowest first, as many as fit; a queued
 *             real-time signal carries its value (ssi_int, ssi_ptr)
 *   block     a read sleeps until a child sends the signal (ssi_pid is the child)
 *   poll      poll and epoll report the fd readable once a signal is pending; a wait
 *             blocked in epoll_wait wakes when the signal arrives
 *   fork      a child reading an inherited signalfd takes its own signals, not the
 *             parent's
 *   errors    mask size, flags, not a signalfd, bad fd, short reads, write; SIGKILL in
 *             the mask is ignored
 */
#include "posix.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>

static sigset_t set_of(int a, int b) {
    sigset_t s;
    sigemptyset(&s);
    if (a)
        sigaddset(&s, a);
    if (b)
        sigaddset(&s, b);
    return s;
}

static void block_sigs(int a, int b) {
    sigset_t s = set_of(a, b);
    sigprocmask(SIG_BLOCK, &s, NULL);
}

static void show(const struct signalfd_siginfo *si) {
    printf("read %s: code %d, pid %s, uid %s\n", vk_signame((int)si->ssi_signo), si->ssi_code,
           si->ssi_pid == (uint32_t)getpid() ? "self" : "other",
           si->ssi_uid == getuid() ? "mine" : "other");
}

static void basic(void) {
    block_sigs(SIGUSR1, SIGUSR2);
    sigset_t m = set_of(SIGUSR1, 0);
    int s = signalfd(-1, &m, SFD_NONBLOCK);
    CHECK(s >= 0, "signalfd");
    struct signalfd_siginfo si;
    EXPECT_ERR("read with nothing pending", read(s, &si, sizeof si), EAGAIN);
    kill(getpid(), SIGUSR1);
    ssize_t n = read(s, &si, sizeof si);
    printf("read returned %zd\n", n);
    show(&si);
    EXPECT_ERR("read again", read(s, &si, sizeof si), EAGAIN);

    kill(getpid(), SIGUSR2);
    EXPECT_ERR("SIGUSR2 outside the mask", read(s, &si, sizeof si), EAGAIN);
    m = set_of(SIGUSR1, SIGUSR2);
    printf("signalfd on the same fd returns it: %s\n", signalfd(s, &m, 0) == s ? "yes" : "no");
    n = read(s, &si, sizeof si);
    printf("after widening: %zd bytes, ", n);
    show(&si);
    sigset_t pend;
    sigpending(&pend);
    printf("still pending: %s\n", sigismember(&pend, SIGUSR2) ? "SIGUSR2" : "nothing");

    char link[64], path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", s);
    ssize_t l = readlink(path, link, sizeof link - 1);
    link[l > 0 ? l : 0] = 0;
    printf("link: %s\n", link);
    printf("F_GETFL O_NONBLOCK: %s\n", fcntl(s, F_GETFL) & O_NONBLOCK ? "set" : "clear");
    close(s);
}

static void multi(void) {
    int rt = SIGRTMIN + 2;
    block_sigs(SIGUSR1, SIGUSR2);
    block_sigs(rt, SIGTERM);
    sigset_t m = set_of(SIGUSR1, SIGUSR2);
    sigaddset(&m, rt);
    sigaddset(&m, SIGTERM);
    int s = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
    printf("SFD_CLOEXEC: F_GETFD %d\n", fcntl(s, F_GETFD));
    kill(getpid(), SIGUSR2);
    kill(getpid(), SIGTERM);
    kill(getpid(), SIGUSR1);
    union sigval v = {.sival_int = 42};
    CHECK(sigqueue(getpid(), rt, v) == 0, "sigqueue");
    struct signalfd_siginfo si[8];
    ssize_t n = read(s, si, 2 * sizeof si[0]);
    printf("room for 2: %zd bytes\n", n);
    for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++)
        printf("  %s\n", vk_signame((int)si[i].ssi_signo));
    n = read(s, si, sizeof si);
    printf("room for 8: %zd bytes\n", n);
    for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++)
        printf("  %s code %d int %d ptr %llu\n", vk_signame((int)si[i].ssi_signo), si[i].ssi_code,
               si[i].ssi_int, (unsigned long long)si[i].ssi_ptr);
    close(s);
}

static void block(void) {
    block_sigs(SIGUSR1, 0);
    sigset_t m = set_of(SIGUSR1, 0);
    int s = signalfd(-1, &m, 0);
    pid_t parent = getpid();
    pid_t pid = vk_fork();
    if (pid == 0) {
        vk_msleep(50);
        vk_exit(kill(parent, SIGUSR1) == 0 ? 0 : 1);
    }
    struct signalfd_siginfo si;
    ssize_t n = read(s, &si, sizeof si);
    printf("blocking read: %zd bytes, %s from %s\n", n, vk_signame((int)si.ssi_signo),
           si.ssi_pid == (uint32_t)pid ? "the child" : "someone else");
    vk_reap_ok(pid, "sender");
    close(s);
}

static void poll_mode(void) {
    block_sigs(SIGUSR1, 0);
    sigset_t m = set_of(SIGUSR1, 0);
    int s = signalfd(-1, &m, SFD_NONBLOCK);
    struct pollfd p = {s, POLLIN, 0};
    printf("poll, nothing pending: %d\n", poll(&p, 1, 0));
    raise(SIGUSR1);
    int r = poll(&p, 1, 0);
    printf("poll, SIGUSR1 pending: %d revents %s\n", r, p.revents == POLLIN ? "POLLIN" : "other");

    int ep = epoll_create1(0);
    struct epoll_event ev = {EPOLLIN, {.u64 = 5}}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    int n = epoll_wait(ep, out, 2, 0);
    printf("epoll, pending: %d (data %llu)\n", n, n > 0 ? (unsigned long long)out[0].data.u64 : 0);
    struct signalfd_siginfo si;
    read(s, &si, sizeof si);
    printf("epoll, after the read: %d\n", epoll_wait(ep, out, 2, 0));

    pid_t parent = getpid();
    pid_t pid = vk_fork();
    if (pid == 0) {
        vk_msleep(50);
        vk_exit(kill(parent, SIGUSR1) == 0 ? 0 : 1);
    }
    n = epoll_wait(ep, out, 2, -1);
    printf("epoll_wait until the signal: %d (data %llu)\n", n,
           n > 0 ? (unsigned long long)out[0].data.u64 : 0);
    vk_reap_ok(pid, "sender");
    read(s, &si, sizeof si);
    close(ep);
    close(s);
}

static void fork_mode(void) {
    block_sigs(SIGUSR1, SIGUSR2);
    sigset_t m = set_of(SIGUSR1, SIGUSR2);
    int s = signalfd(-1, &m, SFD_NONBLOCK);
    raise(SIGUSR2); /* pending in the parent only */
    pid_t pid = vk_fork();
    if (pid == 0) {
        struct signalfd_siginfo si;
        if (read(s, &si, sizeof si) != -1 || errno != EAGAIN)
            vk_exit(1); /* the parent's SIGUSR2 is not the child's */
        raise(SIGUSR1);
        if (read(s, &si, sizeof si) != sizeof si || si.ssi_signo != SIGUSR1)
            vk_exit(2);
        vk_exit(0);
    }
    vk_reap_ok(pid, "child reading its own signals");
    struct signalfd_siginfo si;
    ssize_t n = read(s, &si, sizeof si);
    printf("parent reads: %zd bytes, %s\n", n, vk_signame((int)si.ssi_signo));
    close(s);
}

static void errors(void) {
    sigset_t m = set_of(SIGUSR1, 0);
    EXPECT_ERR("mask size 4", syscall(SYS_signalfd4, -1, &m, 4, 0), EINVAL);
    EXPECT_ERR("flags 1", syscall(SYS_signalfd4, -1, &m, 8, 1), EINVAL);
    EXPECT_ERR("mask NULL", syscall(SYS_signalfd4, -1, NULL, 8, 0), EFAULT);
    int p[2];
    pipe(p);
    EXPECT_ERR("fd is a pipe", signalfd(p[0], &m, 0), EINVAL);
    EXPECT_ERR("fd 99", signalfd(99, &m, 0), EBADF);
    sigset_t k = set_of(SIGKILL, SIGSTOP);
    int s = signalfd(-1, &k, SFD_NONBLOCK);
    CHECK(s >= 0, "SIGKILL and SIGSTOP are silently dropped from the mask");
    char small[100];
    EXPECT_ERR("read 100 bytes", read(s, small, sizeof small), EINVAL);
    struct signalfd_siginfo si;
    EXPECT_ERR("read with an empty mask", read(s, &si, sizeof si), EAGAIN);
    EXPECT_ERR("write", write(s, &si, sizeof si), EINVAL);
    close(s);
    close(p[0]);
    close(p[1]);
}

static const struct vk_mode modes[] = {
    {"basic", basic}, {"multi", multi},   {"block", block}, {"poll", poll_mode},
    {"fork", fork_mode}, {"errors", errors}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("ev_signalfd", modes, argc, argv); }
