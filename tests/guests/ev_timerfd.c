/* ev_timerfd: timerfd_create / timerfd_settime / timerfd_gettime, selected by argv[1].
 * Timers are tens of milliseconds; only counts and ordering are checked, never times.
 *
 *   oneshot   a disarmed timer reads EAGAIN and gets 0/0; a 30 ms one-shot timer: the
 *             old setting is 0, gettime shows at most 30 ms left, a blocking read
 *             returns 1, then the timer is disarmed (0/0)
 *   interval  a 20 ms periodic timer, read after >= 70 ms: at least 3 expirations;
 *             gettime keeps the period; disarming forgets unread expirations
 *   abstime   TFD_TIMER_ABSTIME: a deadline in the past fires at once (1 expiration);
 *             a deadline 30 ms ahead on CLOCK_REALTIME and CLOCK_BOOTTIME fires later
 *   rearm     settime returns the old setting; re-arming moves the deadline; disarming
 *             before expiry means nothing ever fires
 *   poll      poll and select wait for the expiry; a child reads an inherited timerfd
 *   errors    clocks, flags, timespecs, wrong fd types, read size, write, EFAULT
 */
#include "posix.h"

#include <sys/select.h>
#include <sys/timerfd.h>

#define MS 1000000L

static struct itimerspec spec(long value_ms, long interval_ms) {
    struct itimerspec s;
    s.it_value.tv_sec = value_ms / 1000;
    s.it_value.tv_nsec = (value_ms % 1000) * MS;
    s.it_interval.tv_sec = interval_ms / 1000;
    s.it_interval.tv_nsec = (interval_ms % 1000) * MS;
    return s;
}

static long long ns(const struct timespec *t) { return t->tv_sec * 1000000000LL + t->tv_nsec; }

static uint64_t rd(int fd) {
    uint64_t v = 0;
    ssize_t n = read(fd, &v, sizeof v);
    CHECK(n == 8, "read returned %zd", n);
    return v;
}

static void show_time(const char *what, int fd, long max_ms) {
    struct itimerspec cur;
    CHECK(timerfd_gettime(fd, &cur) == 0, "gettime");
    long long v = ns(&cur.it_value), i = ns(&cur.it_interval);
    if (v == 0)
        printf("%s: disarmed, interval %lld ms\n", what, i / MS);
    else
        printf("%s: armed, %s, interval %lld ms\n", what,
               v <= max_ms * MS ? "within the expected time" : "TOO FAR", i / MS);
}

static void oneshot(void) {
    int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    CHECK(t >= 0, "timerfd_create");
    uint64_t v;
    EXPECT_ERR("read disarmed", read(t, &v, 8), EAGAIN);
    show_time("new timer", t, 0);
    struct itimerspec s = spec(30, 0), old;
    memset(&old, 0xff, sizeof old);
    CHECK(timerfd_settime(t, 0, &s, &old) == 0, "settime");
    printf("old setting: %lld/%lld\n", ns(&old.it_value), ns(&old.it_interval));
    show_time("armed 30 ms", t, 30);
    EXPECT_ERR("read before expiry", read(t, &v, 8), EAGAIN);
    fcntl(t, F_SETFL, 0);
    printf("blocking read: %llu\n", (unsigned long long)rd(t));
    show_time("after expiry", t, 0);
    fcntl(t, F_SETFL, O_NONBLOCK);
    EXPECT_ERR("read again", read(t, &v, 8), EAGAIN);

    char link[64], path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", t);
    ssize_t l = readlink(path, link, sizeof link - 1);
    link[l > 0 ? l : 0] = 0;
    printf("link: %s\n", link);
    close(t);
}

static void interval(void) {
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec s = spec(20, 20);
    CHECK(timerfd_settime(t, 0, &s, NULL) == 0, "settime");
    vk_msleep(70);
    uint64_t n = rd(t);
    printf("expirations after 70 ms: %s\n", n >= 3 ? ">= 3" : "fewer than 3");
    show_time("periodic", t, 20);
    printf("next read: %s\n", rd(t) >= 1 ? ">= 1" : "0");
    vk_msleep(30);
    s = spec(0, 0);
    CHECK(timerfd_settime(t, 0, &s, NULL) == 0, "disarm");
    fcntl(t, F_SETFL, O_NONBLOCK);
    uint64_t v;
    EXPECT_ERR("read after disarm", read(t, &v, 8), EAGAIN);
    close(t);
}

static void at(int clock, const char *name) {
    int t = timerfd_create(clock, 0);
    struct timespec now;
    clock_gettime(clock, &now);
    struct itimerspec s = {{0, 0}, now};
    s.it_value.tv_sec -= 1;
    CHECK(timerfd_settime(t, TFD_TIMER_ABSTIME, &s, NULL) == 0, "settime past");
    printf("%s, deadline passed: %llu\n", name, (unsigned long long)rd(t));
    clock_gettime(clock, &now);
    s.it_value = now;
    s.it_value.tv_nsec += 30 * MS;
    if (s.it_value.tv_nsec >= 1000000000L) {
        s.it_value.tv_nsec -= 1000000000L;
        s.it_value.tv_sec++;
    }
    CHECK(timerfd_settime(t, TFD_TIMER_ABSTIME, &s, NULL) == 0, "settime future");
    show_time("absolute, 30 ms ahead", t, 30);
    printf("%s, deadline ahead: %llu\n", name, (unsigned long long)rd(t));
    close(t);
}

static void abstime(void) {
    at(CLOCK_REALTIME, "CLOCK_REALTIME");
    at(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
    at(CLOCK_BOOTTIME, "CLOCK_BOOTTIME");
    /* An absolute deadline in the past with a period counts the periods missed. */
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct itimerspec s = {{0, 10 * MS}, now};
    s.it_value.tv_sec -= 1;
    timerfd_settime(t, TFD_TIMER_ABSTIME, &s, NULL);
    printf("1 s late with a 10 ms period: %s\n", rd(t) >= 100 ? ">= 100" : "fewer");
    close(t);
}

static void rearm(void) {
    int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec s = spec(5000, 0), old;
    timerfd_settime(t, 0, &s, NULL);
    s = spec(30, 0);
    timerfd_settime(t, 0, &s, &old);
    printf("old setting when re-armed: %s\n",
           ns(&old.it_value) > 30 * MS && ns(&old.it_value) <= 5000 * MS ? "(30 ms, 5 s]"
                                                                         : "unexpected");
    show_time("re-armed", t, 30);
    s = spec(0, 0);
    timerfd_settime(t, 0, &s, &old);
    printf("old setting when disarmed: %s\n",
           ns(&old.it_value) > 0 && ns(&old.it_value) <= 30 * MS ? "(0, 30 ms]" : "unexpected");
    vk_msleep(60);
    uint64_t v;
    EXPECT_ERR("read after the old deadline", read(t, &v, 8), EAGAIN);

    /* A timer that is closed while armed simply goes away. */
    int u = timerfd_create(CLOCK_MONOTONIC, 0);
    s = spec(20, 20);
    timerfd_settime(u, 0, &s, NULL);
    close(u);
    vk_msleep(40);
    printf("closed an armed timer\n");
    close(t);
}

static void poll_mode(void) {
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec s = spec(30, 0);
    timerfd_settime(t, 0, &s, NULL);
    struct pollfd p = {t, POLLIN, 0};
    printf("poll now: %d\n", poll(&p, 1, 0));
    int n = poll(&p, 1, -1);
    printf("poll until expiry: %d, revents %s\n", n, p.revents == POLLIN ? "POLLIN" : "other");
    rd(t);

    timerfd_settime(t, 0, &s, NULL);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(t, &r);
    n = select(t + 1, &r, NULL, NULL, NULL);
    printf("select until expiry: %d, readable %s\n", n, FD_ISSET(t, &r) ? "yes" : "no");
    rd(t);

    timerfd_settime(t, 0, &s, NULL);
    pid_t pid = vk_fork();
    if (pid == 0) {
        uint64_t v = 0;
        vk_exit(read(t, &v, 8) == 8 && v == 1 ? 0 : 1);
    }
    vk_reap_ok(pid, "child reading the inherited timer");
    close(t);
}

static void errors(void) {
    EXPECT_ERR("CLOCK_MONOTONIC_RAW", timerfd_create(CLOCK_MONOTONIC_RAW, 0), EINVAL);
    EXPECT_ERR("clock 99", timerfd_create(99, 0), EINVAL);
    EXPECT_ERR("create flags 1", timerfd_create(CLOCK_MONOTONIC, 1), EINVAL);
    int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    printf("TFD_CLOEXEC: F_GETFD %d\n", fcntl(t, F_GETFD));
    struct itimerspec s = spec(10, 0);
    EXPECT_ERR("settime flags 4", timerfd_settime(t, 4, &s, NULL), EINVAL);
    s.it_value.tv_nsec = 1000000000L;
    EXPECT_ERR("tv_nsec 1e9", timerfd_settime(t, 0, &s, NULL), EINVAL);
    s = spec(10, 0);
    s.it_interval.tv_sec = -1;
    EXPECT_ERR("negative interval", timerfd_settime(t, 0, &s, NULL), EINVAL);
    s = spec(10, 0);
    EXPECT_ERR("new value NULL", timerfd_settime(t, 0, NULL, NULL), EFAULT);
    EXPECT_ERR("settime on fd 99", timerfd_settime(99, 0, &s, NULL), EBADF);
    int p[2];
    pipe(p);
    EXPECT_ERR("settime on a pipe", timerfd_settime(p[0], 0, &s, NULL), EINVAL);
    struct itimerspec cur;
    EXPECT_ERR("gettime on a pipe", timerfd_gettime(p[0], &cur), EINVAL);
    EXPECT_ERR("gettime to NULL", timerfd_gettime(t, NULL), EFAULT);
    char small[4];
    EXPECT_ERR("read 4 bytes", read(t, small, 4), EINVAL);
    uint64_t v = 1;
    EXPECT_ERR("write", write(t, &v, 8), EINVAL);
    close(p[0]);
    close(p[1]);
    close(t);
}

static const struct vk_mode modes[] = {
    {"oneshot", oneshot}, {"interval", interval}, {"abstime", abstime}, {"rearm", rearm},
    {"poll", poll_mode},  {"errors", errors},     {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("ev_timerfd", modes, argc, argv); }
