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
 */
#include "posix.h"

#include <pthread.h>
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

static const struct vk_mode modes[] = {
    {"compute", compute},
    {"family", family},
    {"threads", threads},
    {"objects", objects},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("ckpt", modes, argc, argv); }
