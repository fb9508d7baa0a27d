/* signalfd: reading blocked signals through a descriptor, selected by argv[1].
 *
 *   basic     a blocked SIGUSR1 sent with kill: EAGAIN before, then ssi_signo,
 *             ssi_code SI_USER, ssi_pid, ssi_uid; the signal is no longer pending and
 *             the handler never ran
 *   queue     sigqueue values (ssi_code SI_QUEUE, ssi_int); several real-time signals
 *             in one read (3 x 128 bytes); a 64-byte buffer: EINVAL
 *   mask      only signals in the signalfd's mask are read; the mask can be replaced
 *             with signalfd(fd, ...); SIGKILL/SIGSTOP in the mask are ignored
 *   sigchld   SIGCHLD through a signalfd: ssi_code CLD_EXITED, ssi_status, ssi_pid
 *   poll      poll / epoll readiness; a blocking read woken by a child's kill
 *   flags     SFD_NONBLOCK, SFD_CLOEXEC; EINVAL for bad flags; /proc/self/fd link
 */
#include "posix.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>

static volatile int handled;
static void on_sig(int sig) {
    (void)sig;
    handled++;
}

static const char *code_name(int code) {
    switch (code) {
    case SI_USER: return "SI_USER";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_TKILL: return "SI_TKILL";
    case CLD_EXITED: return "CLD_EXITED";
    case CLD_KILLED: return "CLD_KILLED";
    default: return "?";
    }
}

static int make(int *sigs, int n, int flags) {
    sigset_t s;
    sigemptyset(&s);
    for (int i = 0; i < n; i++)
        sigaddset(&s, sigs[i]);
    sigprocmask(SIG_BLOCK, &s, NULL);
    return signalfd(-1, &s, flags);
}

static void unblock_all(void) {
    sigset_t s;
    sigemptyset(&s);
    sigprocmask(SIG_SETMASK, &s, NULL);
}

static void basic(void) {
    vk_handle(SIGUSR1, on_sig, 0);
    int sigs[] = {SIGUSR1};
    int fd = make(sigs, 1, SFD_NONBLOCK);
    CHECK(fd >= 0, "signalfd");
    struct signalfd_siginfo si;
    EXPECT_ERR("read with nothing pending", read(fd, &si, sizeof si), EAGAIN);
    kill(getpid(), SIGUSR1);
    ssize_t r = read(fd, &si, sizeof si);
    printf("read: %zd bytes, ssi_signo %s, ssi_code %s, ssi_pid %s, ssi_uid %s\n", r, vk_signame((int)si.ssi_signo),
           code_name(si.ssi_code), si.ssi_pid == (uint32_t)getpid() ? "=getpid" : "WRONG",
           si.ssi_uid == getuid() ? "=getuid" : "WRONG");
    CHECK(r == sizeof si && si.ssi_signo == SIGUSR1, "read");
    sigset_t pend;
    sigpending(&pend);
    printf("still pending: %d, handler ran %d time(s)\n", sigismember(&pend, SIGUSR1), handled);
    EXPECT_ERR("read again", read(fd, &si, sizeof si), EAGAIN);
    close(fd);
    unblock_all();
    signal(SIGUSR1, SIG_DFL);
}

static void queue(void) {
    int r1 = SIGRTMIN + 3;
    int sigs[] = {SIGUSR1, r1};
    int fd = make(sigs, 2, SFD_NONBLOCK);
    sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 99});
    struct signalfd_siginfo si[4];
    ssize_t r = read(fd, si, sizeof si[0]);
    printf("sigqueue: %zd bytes, ssi_code %s, ssi_int %d\n", r, code_name(si[0].ssi_code), si[0].ssi_int);
    for (int v = 1; v <= 3; v++)
        sigqueue(getpid(), r1, (union sigval){.sival_int = v});
    r = read(fd, si, sizeof si);
    printf("three queued real-time signals, one read of 4 slots: %zd bytes, values %d %d %d\n", r, si[0].ssi_int,
           si[1].ssi_int, si[2].ssi_int);
    CHECK(r == 3 * (ssize_t)sizeof si[0], "rt batch");
    kill(getpid(), SIGUSR1);
    char small[64];
    EXPECT_ERR("read into 64 bytes", read(fd, small, sizeof small), EINVAL);
    r = read(fd, si, sizeof si);
    printf("the signal is still there after the short read: %zd bytes\n", r);
    close(fd);
    unblock_all();
}

static void mask(void) {
    int sigs[] = {SIGUSR1, SIGUSR2};
    sigset_t blockboth;
    sigemptyset(&blockboth);
    sigaddset(&blockboth, SIGUSR1);
    sigaddset(&blockboth, SIGUSR2);
    sigprocmask(SIG_BLOCK, &blockboth, NULL);
    int fd = make(sigs, 1, SFD_NONBLOCK); /* SIGUSR1 only */
    kill(getpid(), SIGUSR2);
    struct signalfd_siginfo si;
    EXPECT_ERR("SIGUSR2 pending, the signalfd wants SIGUSR1", read(fd, &si, sizeof si), EAGAIN);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    sigaddset(&s, SIGKILL);
    sigaddset(&s, SIGSTOP);
    CHECK(signalfd(fd, &s, 0) == fd, "replace the mask");
    ssize_t r = read(fd, &si, sizeof si);
    printf("after replacing the mask with SIGUSR2 (+SIGKILL, SIGSTOP): %zd bytes, %s\n", r,
           vk_signame((int)si.ssi_signo));
    int p[2];
    pipe(p);
    EXPECT_ERR("signalfd(pipe fd, ...)", signalfd(p[0], &s, 0), EINVAL);
    close(p[0]);
    close(p[1]);
    close(fd);
    unblock_all();
}

static void sigchld(void) {
    int sigs[] = {SIGCHLD};
    int fd = make(sigs, 1, 0);
    pid_t c = vk_fork();
    if (c == 0)
        vk_exit(17);
    struct signalfd_siginfo si;
    ssize_t r = read(fd, &si, sizeof si);
    printf("SIGCHLD: %zd bytes, ssi_code %s, ssi_status %d, ssi_pid is the child: %d\n", r, code_name(si.ssi_code),
           si.ssi_status, si.ssi_pid == (uint32_t)c);
    vk_reap(c, "child");
    close(fd);
    unblock_all();
}

static void poll_mode(void) {
    int sigs[] = {SIGUSR2};
    int fd = make(sigs, 1, 0);
    struct pollfd p = {fd, POLLIN, 0};
    printf("nothing pending: poll %d\n", poll(&p, 1, 0));
    kill(getpid(), SIGUSR2);
    printf("SIGUSR2 pending: poll %d\n", poll(&p, 1, 0));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 12}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    printf("epoll: %d\n", epoll_wait(ep, &out, 1, 0));
    struct signalfd_siginfo si;
    read(fd, &si, sizeof si);
    printf("after the read: poll %d, epoll %d\n", poll(&p, 1, 0), epoll_wait(ep, &out, 1, 0));
    pid_t c = vk_fork();
    if (c == 0) {
        vk_wait_blocked(getppid());
        kill(getppid(), SIGUSR2);
        vk_exit(0);
    }
    ssize_t r = read(fd, &si, sizeof si);
    printf("blocking read woken by the child's kill: %zd bytes, %s from the child: %d\n", r,
           vk_signame((int)si.ssi_signo), si.ssi_pid == (uint32_t)c);
    vk_reap_ok(c, "sender");
    close(ep);
    close(fd);
    unblock_all();
}

static void flags(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    int fd = signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
    printf("SFD_CLOEXEC %d, SFD_NONBLOCK %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC, (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("/proc/self/fd/N -> %s\n", link);
    close(fd);
    EXPECT_ERR("signalfd with bad flags", signalfd(-1, &s, 0x1), EINVAL);
    EXPECT_ERR("signalfd4 with a bad mask size", syscall(SYS_signalfd4, -1, &s, 4, 0), EINVAL);
}

static const struct vk_mode modes[] = {
    {"basic", basic}, {"queue", queue}, {"mask", mask}, {"sigchld", sigchld},
    {"poll", poll_mode}, {"flags", flags}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("signalfd", modes, argc, argv); }
