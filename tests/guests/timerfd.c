/* timerfd: timerfd_create / settime / gettime, selected by argv[1]. No upper bounds on
 * times: only "at least" after sleeps.
 *
 *   oneshot   unarmed: EAGAIN; armed for 50 ms: a blocking read returns 1 expiration
 *             after at least 50 ms; gettime then reads 0 (disarmed)
 *   periodic  a 10 ms interval: after sleeping 200 ms a read returns at least 10
 *             expirations (counted since the arming) and gettime's interval is 10 ms
 *   abstime   TFD_TIMER_ABSTIME on CLOCK_REALTIME and CLOCK_MONOTONIC; an absolute time
 *             in the past expires at once
 *   gettime   right after arming 10 s, the time left is between 5 and 10 s; the old
 *             value returned by settime; disarming with 0
 *   poll      POLLIN / epoll readiness after expiry, not before; reading clears it
 *   errors    EINVAL for a bad clock, bad flags, tv_nsec >= 1e9, reads shorter than 8
 *             bytes; timerfd_settime on a non-timerfd: EINVAL
 */
#include "posix.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>

static struct itimerspec its(long long value_ms, long long interval_ms) {
    struct itimerspec t;
    t.it_value.tv_sec = value_ms / 1000;
    t.it_value.tv_nsec = (value_ms % 1000) * 1000000L;
    t.it_interval.tv_sec = interval_ms / 1000;
    t.it_interval.tv_nsec = (interval_ms % 1000) * 1000000L;
    return t;
}

static long long ms(struct timespec t) { return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000; }

static void oneshot(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    CHECK(fd >= 0, "timerfd_create");
    printf("TFD_CLOEXEC %d, TFD_NONBLOCK %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC, (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    uint64_t n;
    EXPECT_ERR("read of an unarmed timer", read(fd, &n, 8), EAGAIN);
    close(fd);
    fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec t = its(50, 0);
    long long t0 = vk_mono_ms();
    CHECK(timerfd_settime(fd, 0, &t, NULL) == 0, "settime");
    ssize_t r = read(fd, &n, 8);
    long long dt = vk_mono_ms() - t0;
    printf("blocking read: %zd bytes, %llu expiration(s)\n", r, (unsigned long long)n);
    CHECK(dt >= 50, "read returned after %lld ms", dt);
    printf("  after at least 50 ms\n");
    struct itimerspec cur;
    timerfd_gettime(fd, &cur);
    printf("gettime after expiry: value %lld ms, interval %lld ms\n", ms(cur.it_value), ms(cur.it_interval));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    EXPECT_ERR("read again", read(fd, &n, 8), EAGAIN);
    close(fd);
}

static void periodic(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec t = its(10, 10);
    timerfd_settime(fd, 0, &t, NULL);
    vk_msleep(200);
    uint64_t n = 0;
    read(fd, &n, 8);
    printf("10 ms interval, 200 ms later: at least 10 expirations: %d\n", n >= 10);
    printf("value expirations %llu\n", (unsigned long long)n);
    CHECK(n >= 10, "%llu expirations", (unsigned long long)n);
    struct itimerspec cur;
    timerfd_gettime(fd, &cur);
    printf("gettime: interval %lld ms, value in (0, 10] ms: %d\n", ms(cur.it_interval),
           (cur.it_value.tv_sec > 0 || cur.it_value.tv_nsec > 0) && ms(cur.it_value) <= 10);
    /* The next read blocks until the next expiration. */
    n = 0;
    read(fd, &n, 8);
    printf("next blocking read: at least 1: %d\n", n >= 1);
    close(fd);
}

static void abstime(void) {
    clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    const char *names[] = {"CLOCK_REALTIME", "CLOCK_MONOTONIC"};
    for (int i = 0; i < 2; i++) {
        int fd = timerfd_create(clocks[i], 0);
        struct timespec now;
        clock_gettime(clocks[i], &now);
        struct itimerspec t = {{0, 0}, now};
        t.it_value.tv_nsec += 50 * 1000000L;
        if (t.it_value.tv_nsec >= 1000000000L) {
            t.it_value.tv_sec++;
            t.it_value.tv_nsec -= 1000000000L;
        }
        CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &t, NULL) == 0, "settime abs");
        uint64_t n = 0;
        read(fd, &n, 8);
        struct timespec after;
        clock_gettime(clocks[i], &after);
        int late_enough = after.tv_sec > t.it_value.tv_sec ||
                          (after.tv_sec == t.it_value.tv_sec && after.tv_nsec >= t.it_value.tv_nsec);
        printf("%s absolute now+50 ms: %llu expiration(s), read returned at or after the deadline: %d\n", names[i],
               (unsigned long long)n, late_enough);
        CHECK(late_enough, "early");
        /* In the past: expires at once. */
        t.it_value.tv_sec -= 10;
        timerfd_settime(fd, TFD_TIMER_ABSTIME, &t, NULL);
        struct pollfd p = {fd, POLLIN, 0};
        printf("%s absolute 10 s in the past: readable at once: %d\n", names[i], poll(&p, 1, 1000) == 1);
        read(fd, &n, 8);
        close(fd);
    }
}

static void gettime(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec t = its(10000, 500), old, cur;
    timerfd_settime(fd, 0, &t, NULL);
    timerfd_gettime(fd, &cur);
    printf("armed for 10 s: left between 5 and 10 s: %d, interval %lld ms\n",
           ms(cur.it_value) > 5000 && ms(cur.it_value) <= 10000, ms(cur.it_interval));
    struct itimerspec t2 = its(20000, 0);
    timerfd_settime(fd, 0, &t2, &old);
    printf("settime returns the old setting: left between 5 and 10 s: %d, interval %lld ms\n",
           ms(old.it_value) > 5000 && ms(old.it_value) <= 10000, ms(old.it_interval));
    struct itimerspec zero = its(0, 0);
    timerfd_settime(fd, 0, &zero, &old);
    timerfd_gettime(fd, &cur);
    printf("disarmed: value %lld ms interval %lld ms; old value more than 15 s: %d\n", ms(cur.it_value),
           ms(cur.it_interval), ms(old.it_value) > 15000);
    close(fd);
}

static void poll_mode(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct pollfd p = {fd, POLLIN, 0};
    printf("unarmed: poll %d\n", poll(&p, 1, 0));
    struct itimerspec t = its(500, 0);
    timerfd_settime(fd, 0, &t, NULL);
    printf("armed for 500 ms, not yet expired: poll %d\n", poll(&p, 1, 0));
    int r = poll(&p, 1, 5000);
    printf("poll until expiry: %d, POLLIN %d\n", r, (p.revents & POLLIN) != 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 3}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    printf("epoll sees the expired timer: %d\n", epoll_wait(ep, &out, 1, 0));
    uint64_t n;
    read(fd, &n, 8);
    printf("after the read: poll %d, epoll %d\n", poll(&p, 1, 0), epoll_wait(ep, &out, 1, 0));
    close(ep);
    close(fd);
}

static void errors(void) {
    EXPECT_ERR("timerfd_create(bad clock)", timerfd_create(12345, 0), EINVAL);
    EXPECT_ERR("timerfd_create(bad flags)", timerfd_create(CLOCK_MONOTONIC, 0x12), EINVAL);
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec bad = its(10, 0);
    bad.it_value.tv_nsec = 1000000000L;
    EXPECT_ERR("settime tv_nsec 1e9", timerfd_settime(fd, 0, &bad, NULL), EINVAL);
    struct itimerspec ok = its(10, 0);
    EXPECT_ERR("settime bad flags", timerfd_settime(fd, 0x100, &ok, NULL), EINVAL);
    uint32_t small;
    timerfd_settime(fd, 0, &ok, NULL);
    vk_msleep(30);
    EXPECT_ERR("4-byte read", read(fd, &small, 4), EINVAL);
    int p[2];
    pipe(p);
    EXPECT_ERR("settime on a pipe", timerfd_settime(p[0], 0, &ok, NULL), EINVAL);
    close(p[0]);
    close(p[1]);
    close(fd);
}

static const struct vk_mode modes[] = {
    {"oneshot", oneshot}, {"periodic", periodic}, {"abstime", abstime}, {"gettime", gettime},
    {"poll", poll_mode},  {"errors", errors},     {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("timerfd", modes, argc, argv); }
