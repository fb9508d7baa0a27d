/* A guest to checkpoint while it runs: it computes over memory, sleeps, forks and
 * talks through pipes, and prints a deterministic line per step, so a run with
 * checkpoints taken at any moment must print exactly what a run without them prints.
 *
 * Modes (argv[1]):
 *   compute   40 steps: hash a 4 MiB buffer it keeps changing, sleep 25 ms
 *   family    two children stream numbers through pipes to the parent, which sums
 *             them; the children sleep between writes
 *   threads   four threads take turns on a mutex-protected counter through a
 *             condition variable, sleeping between turns (futex waits and sleeps)
 *   objects   kernel objects set up first, used after 20 sleeping steps (when a
 *             checkpoint and thaw come in between): a copied-up file open at an
 *             offset, a pipe and a pty holding unread bytes, an eventfd watched by
 *             epoll, a periodic timerfd
 *   sleeper   a 2 s nanosleep, then an absolute clock_nanosleep to 3 s after the
 *             start, timed on CLOCK_MONOTONIC and CLOCK_BOOTTIME: a thaw must
 *             neither restart a sleep nor count the time the image sat on disk
 *   timeouts  a poll with a 1.5 s timeout, then a FUTEX_WAIT with a relative 1.5 s
 *             timeout that nobody wakes, then an epoll_wait of 1.5 s on an empty
 *             epoll: each must time out after 1.5 s of the guest's monotonic time,
 *             a thaw in between or not
 *   waiter    one child stopped by SIGSTOP, another sleeping 1.5 s while the parent
 *             waits for it in wait4; the second is reaped with its status, the first
 *             stays stopped until the parent continues it
 *   vforker   a vfork child sleeps 1.5 s before it execs, while its parent waits
 *             in vfork; the parent must get that child back, not make another
 *   bigmem    dirties 192 MiB, says "ready", then idles (10 s at most): a guest
 *             whose checkpoint takes a while to write
 *   ticker    writes the numbers 0 to 9999, one write(2) each: whatever it writes
 *             after a SIGCKPTEXIT image would show twice once the image is thawed
 *   forker    forks 500 short-lived children one after another, reaping each and
 *             summing their exit codes, so checkpoints land in and around fork
 *   cputime   burns 1.5 s of CPU time in two threads, reading the process and
 *             thread CPU clocks as it goes, with ITIMER_PROF due after 1 s of it:
 *             across a thaw the clocks must not go back, the timer must fire once,
 *             and getrusage must count the time from before the checkpoint
 */
#include "posix.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <termios.h>

static void compute(void) {
    size_t n = 4u << 20;
    unsigned char *buf = malloc(n);
    if (!buf) {
        printf("FAIL malloc\n");
        exit(100);
    }
    vk_fill(buf, n, 7);
    for (int step = 0; step < 40; step++) {
        for (size_t i = (size_t)step; i < n; i += 4093)
            buf[i] = (unsigned char)(buf[i] * 31 + step);
        printf("step %d hash %016llx\n", step, (unsigned long long)vk_fnv(buf, n));
        fflush(stdout);
        struct timespec t = {0, 25 * 1000000L};
        nanosleep(&t, NULL);
    }
    free(buf);
}

static void child_writer(int fd, int base) {
    for (int i = 0; i < 30; i++) {
        int v = base + i;
        if (write(fd, &v, sizeof v) != sizeof v)
            vk_exit(1);
        struct timespec t = {0, 20 * 1000000L};
        nanosleep(&t, NULL);
    }
    vk_exit(0);
}

static void family(void) {
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0, "pipes");
    pid_t p1 = vk_fork();
    if (p1 == 0) {
        close(a[0]);
        child_writer(a[1], 1000);
    }
    pid_t p2 = vk_fork();
    if (p2 == 0) {
        close(b[0]);
        child_writer(b[1], 2000);
    }
    close(a[1]);
    close(b[1]);
    long sums[2] = {0, 0};
    int fds[2] = {a[0], b[0]};
    for (int k = 0; k < 2; k++) {
        int v;
        while (read(fds[k], &v, sizeof v) == sizeof v)
            sums[k] += v;
        printf("pipe %d: sum %ld\n", k, sums[k]);
    }
    vk_reap_ok(p1, "first writer");
    vk_reap_ok(p2, "second writer");
}

static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;
static unsigned long long trail;

static void *taker(void *arg) {
    long me = (long)arg;
    for (int round = 0; round < 15; round++) {
        pthread_mutex_lock(&turn_lock);
        while (turn % 4 != me)
            pthread_cond_wait(&turn_changed, &turn_lock);
        trail = trail * 131 + (unsigned long long)(me + 1);
        turn++;
        pthread_cond_broadcast(&turn_changed);
        pthread_mutex_unlock(&turn_lock);
        struct timespec t = {0, 40 * 1000000L};
        nanosleep(&t, NULL);
    }
    return NULL;
}

static void threads(void) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, taker, (void *)i) == 0, "pthread_create");
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("60 turns in order: trail %016llx\n", trail);
}

static void objects(void) {
    int file = open("/tmp/ckpt-objects", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(file >= 0 && write(file, "0123456789", 10) == 10 && lseek(file, 4, SEEK_SET) == 4, "file");
    int p[2];
    CHECK(pipe(p) == 0 && write(p[1], "pipe-data", 9) == 9, "pipe");
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "ptmx");
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    struct termios raw;
    CHECK(slave >= 0 && tcgetattr(slave, &raw) == 0, "pts");
    cfmakeraw(&raw);
    tcsetattr(slave, TCSANOW, &raw);
    CHECK(write(master, "hello", 5) == 5, "pty write");
    int ev = eventfd(3, 0);
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = 7};
    CHECK(ev >= 0 && ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) == 0, "eventfd + epoll");
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec every = {{0, 20 * 1000000L}, {0, 20 * 1000000L}};
    CHECK(tfd >= 0 && timerfd_settime(tfd, 0, &every, NULL) == 0, "timerfd");
    for (int step = 0; step < 20; step++) {
        printf("step %d\n", step);
        fflush(stdout);
        struct timespec t = {0, 25 * 1000000L};
        nanosleep(&t, NULL);
    }
    char buf[16] = {0};
    CHECK(read(file, buf, 3) == 3, "file read");
    printf("file at offset 4: %s\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK(read(p[0], buf, sizeof buf - 1) == 9, "pipe read");
    printf("pipe: %s\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK(read(slave, buf, 5) == 5, "pty read");
    printf("pty slave: %s\n", buf);
    struct epoll_event got;
    CHECK(epoll_wait(ep, &got, 1, 1000) == 1 && got.data.u32 == 7, "epoll");
    uint64_t n = 0;
    CHECK(read(ev, &n, 8) == 8, "eventfd read");
    printf("epoll saw the eventfd; its count: %llu\n", (unsigned long long)n);
    CHECK(read(tfd, &n, 8) == 8 && n >= 1, "timerfd read");
    printf("the timerfd kept firing\n");
}

static long long ms_since(clockid_t clock, long long start_ns) {
    return (vk_now_ns(clock) - start_ns) / 1000000;
}

static void sleeper(void) {
    long long m0 = vk_now_ns(CLOCK_MONOTONIC), b0 = vk_now_ns(CLOCK_BOOTTIME);
    printf("sleeping\n");
    fflush(stdout);
    struct timespec two = {2, 0};
    CHECK(nanosleep(&two, NULL) == 0, "nanosleep");
    long long first = ms_since(CLOCK_MONOTONIC, m0);
    long long end = m0 + 3000000000LL;
    struct timespec at = {end / 1000000000LL, end % 1000000000LL};
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == 0, "absolute sleep");
    long long mono = ms_since(CLOCK_MONOTONIC, m0), boot = ms_since(CLOCK_BOOTTIME, b0);
    printf("value slept %lld ms, monotonic %lld ms, boottime %lld ms\n", first, mono, boot);
    CHECK(first >= 2000 && first < 2500, "the 2 s sleep took %lld ms", first);
    CHECK(mono >= 3000 && mono < 3500, "the absolute sleep ended at %lld ms", mono);
    CHECK(boot >= 3000 && boot < 3500, "boottime says %lld ms", boot);
    printf("slept 2 s, then to 3 s after the start\n");
}

/* FUTEX_WAIT | FUTEX_PRIVATE_FLAG (musl ships no <linux/futex.h>). */
enum { WAIT_PRIVATE = 128 };

static void timeouts(void) {
    long long m0 = vk_now_ns(CLOCK_MONOTONIC);
    printf("polling\n");
    fflush(stdout);
    CHECK(poll(NULL, 0, 1500) == 0, "poll timed out");
    long long polled = ms_since(CLOCK_MONOTONIC, m0);
    printf("waiting on a futex\n");
    fflush(stdout);
    int word = 0;
    struct timespec rel = {1, 500000000L};
    long r = syscall(SYS_futex, &word, WAIT_PRIVATE, 0, &rel, NULL, 0);
    CHECK(r == -1 && errno == ETIMEDOUT, "the futex wait timed out: %ld", r);
    long long waited = ms_since(CLOCK_MONOTONIC, m0) - polled;
    printf("waiting in epoll\n");
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev;
    CHECK(ep >= 0 && epoll_wait(ep, &ev, 1, 1500) == 0, "epoll_wait timed out");
    long long epolled = ms_since(CLOCK_MONOTONIC, m0) - polled - waited;
    printf("value poll %lld ms, futex %lld ms, epoll %lld ms\n", polled, waited, epolled);
    CHECK(polled >= 1500 && polled < 1900, "the poll took %lld ms", polled);
    CHECK(waited >= 1500 && waited < 1900, "the futex wait took %lld ms", waited);
    CHECK(epolled >= 1500 && epolled < 1900, "the epoll_wait took %lld ms", epolled);
    printf("poll, futex and epoll_wait timed out after 1.5 s each\n");
}

static void waiter(void) {
    pid_t stopped = vk_fork();
    if (stopped == 0) {
        raise(SIGSTOP);
        /* Long enough for the parent to see "continued" before the exit. */
        vk_msleep(300);
        vk_exit(3);
    }
    int st;
    CHECK(waitpid(stopped, &st, WUNTRACED) == stopped, "waitpid WUNTRACED");
    printf("first child: %s\n", vk_status(st));
    pid_t sleeper = vk_fork();
    if (sleeper == 0) {
        vk_msleep(1500);
        vk_exit(7);
    }
    printf("waiting\n");
    fflush(stdout);
    vk_reap(sleeper, "second child");
    CHECK(waitpid(stopped, &st, WNOHANG | WUNTRACED | WCONTINUED) == 0, "no news of the first");
    printf("first child is in state %c\n", vk_proc_state(stopped));
    CHECK(kill(stopped, SIGCONT) == 0, "SIGCONT");
    CHECK(waitpid(stopped, &st, WCONTINUED) == stopped, "waitpid WCONTINUED");
    printf("first child: %s\n", vk_status(st));
    vk_reap(stopped, "first child");
}

static void vforker(void) {
    const char *self = vk_self();
    printf("vfork\n");
    fflush(stdout);
    pid_t c = vfork();
    if (c == 0) {
        /* Only async-signal-safe calls on the parent's stack. */
        static const char msg[] = "the vfork child sleeps\n";
        if (write(1, msg, sizeof msg - 1) < 0)
            _exit(126);
        struct timespec t = {1, 500000000L};
        nanosleep(&t, NULL);
        execl(self, "ckpt", "-vforked", (char *)NULL);
        _exit(127);
    }
    CHECK(c > 0, "vfork");
    vk_reap(c, "vfork child");
}

static void vforked(void) {
    printf("exec'd after vfork\n");
    fflush(stdout);
    exit(4);
}

static void bigmem(void) {
    size_t n = 192u << 20;
    unsigned char *buf = malloc(n);
    CHECK(buf != NULL, "malloc");
    if (!buf)
        return;
    vk_fill(buf, n, 3);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 100; i++)
        vk_msleep(100);
    printf("hash %016llx\n", (unsigned long long)vk_fnv(buf, n));
}

static void ticker(void) {
    /* Under 64 KiB in all (the tests read vkernel's output only at its end), and
     * at least 300 ms long, so a checkpoint finds it writing. */
    for (int i = 0; i < 10000; i++) {
        printf("%d\n", i);
        fflush(stdout);
        if (i % 100 == 99)
            vk_msleep(3);
    }
}

static void forker(void) {
    long sum = 0;
    for (int i = 0; i < 500; i++) {
        pid_t c = vk_fork();
        if (c == 0)
            vk_exit((i * 7) % 251);
        int st = vk_wait(c);
        sum += WIFEXITED(st) ? WEXITSTATUS(st) : 1000;
        if (i % 50 == 49) {
            printf("%d children reaped, exit codes sum to %ld\n", i + 1, sum);
            fflush(stdout);
        }
    }
}

static volatile sig_atomic_t profs;

static void on_prof(int sig) {
    (void)sig;
    profs++;
}

/* Spins until the process has used `ms` of CPU; counts readings of the process or
 * this thread's CPU clock that went back. */
static void *burn(void *ms) {
    long long last_proc = 0, last_self = 0, limit = (long long)(intptr_t)ms * 1000000LL;
    intptr_t back = 0;
    for (;;) {
        long long proc = vk_now_ns(CLOCK_PROCESS_CPUTIME_ID);
        long long self = vk_now_ns(CLOCK_THREAD_CPUTIME_ID);
        back += proc < last_proc || self < last_self;
        last_proc = proc;
        last_self = self;
        if (proc >= limit)
            return (void *)back;
        for (volatile int i = 0; i < 100000; i++)
            ;
    }
}

static void cputime(void) {
    CHECK(vk_handle(SIGPROF, on_prof, SA_RESTART) == 0, "SIGPROF handler");
    struct itimerval once = {{0, 0}, {1, 0}};
    CHECK(setitimer(ITIMER_PROF, &once, NULL) == 0, "setitimer");
    printf("burning\n");
    fflush(stdout);
    pthread_t other;
    void *back_other = NULL;
    CHECK(pthread_create(&other, NULL, burn, (void *)1500) == 0, "pthread_create");
    void *back_main = burn((void *)1500);
    pthread_join(other, &back_other);
    CHECK(back_main == NULL && back_other == NULL, "the CPU clocks went back %ld + %ld times",
          (long)(intptr_t)back_main, (long)(intptr_t)back_other);
    CHECK(profs == 1, "ITIMER_PROF fired %d times", (int)profs);
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0, "getrusage");
    long long used = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000LL +
                     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
    printf("value getrusage says %lld ms\n", used);
    CHECK(used >= 1300, "getrusage counts %lld ms", used);
    printf("1.5 s of CPU time, counted once; ITIMER_PROF fired once\n");
}

static const struct vk_mode modes[] = {
    {"compute", compute},
    {"family", family},
    {"threads", threads},
    {"objects", objects},
    {"sleeper", sleeper},
    {"timeouts", timeouts},
    {"waiter", waiter},
    {"vforker", vforker},
    {"-vforked", vforked},
    {"cputime", cputime},
    {"forker", forker},
    {"ticker", ticker},
    {"bigmem", bigmem},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("ckpt", modes, argc, argv); }
