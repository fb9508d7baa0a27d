/* info: identity, time and limits.
 *
 * Prints uname sysname/machine (checked: Linux, x86_64), getpid/getppid (the test
 * expects pid 1 and ppid 0 under vkernel), the uids and gids, checks getrandom(32),
 * that CLOCK_MONOTONIC advances and never goes back, that CLOCK_REALTIME agrees with
 * gettimeofday, prints "value realtime SECONDS" (the test compares it with the host clock),
 * and reads RLIMIT_STACK and RLIMIT_NOFILE with prlimit64.
 * Lines starting with "value" differ between runs; the rest is deterministic.
 */
#include "common.h"

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>

static long long ns(const struct timespec *t) { return (long long)t->tv_sec * 1000000000LL + t->tv_nsec; }

static void rlimit_line(const char *name, int resource) {
    struct rlimit lim;
    long r = syscall(SYS_prlimit64, 0, resource, NULL, &lim);
    CHECK(r == 0, "prlimit64 %s", name);
    CHECK(lim.rlim_cur <= lim.rlim_max, "%s soft limit above the hard limit", name);
    CHECK(lim.rlim_cur > 0, "%s soft limit is 0", name);
    printf("prlimit64 %s: readable\n", name);
    printf("value %s %llu %llu\n", name, (unsigned long long)lim.rlim_cur, (unsigned long long)lim.rlim_max);
}

int main(void) {
    vk_begin();

    struct utsname u;
    CHECK(uname(&u) == 0, "uname");
    printf("sysname %s\n", u.sysname);
    printf("machine %s\n", u.machine);
    CHECK(strcmp(u.sysname, "Linux") == 0, "sysname");
    CHECK(strcmp(u.machine, "x86_64") == 0, "machine");
    CHECK(u.release[0] >= '1' && u.release[0] <= '9', "release [%s] should start with a digit", u.release);
    printf("value release %s\n", u.release);
    printf("value nodename %s\n", u.nodename);

    printf("value pid %ld\n", (long)getpid());
    printf("value ppid %ld\n", (long)getppid());
    CHECK(syscall(SYS_getpid) == getpid(), "raw getpid");
    CHECK(syscall(SYS_gettid) == getpid(), "a single-threaded process: tid == pid");
    printf("value uid %ld euid %ld gid %ld egid %ld\n", (long)getuid(), (long)geteuid(), (long)getgid(),
           (long)getegid());

    unsigned char rnd[32], rnd2[32];
    memset(rnd, 0, sizeof rnd);
    memset(rnd2, 0, sizeof rnd2);
    CHECK(syscall(SYS_getrandom, rnd, sizeof rnd, 0) == 32, "getrandom 32");
    CHECK(syscall(SYS_getrandom, rnd2, sizeof rnd2, 0) == 32, "getrandom 32 again");
    CHECK(!vk_all_zero(rnd, 32) && memcmp(rnd, rnd2, 32) != 0, "getrandom bytes look constant");
    printf("getrandom: 32 bytes, twice, different\n");

    /* Monotonic: never back, and it moves on (bounded loop, no sleeping). */
    struct timespec m0, m1, m;
    CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &m0) == 0, "clock_gettime MONOTONIC");
    m1 = m0;
    int advanced = 0;
    for (int i = 0; i < 1000000 && !advanced; i++) {
        CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &m) == 0, "clock_gettime MONOTONIC");
        CHECK(ns(&m) >= ns(&m1), "CLOCK_MONOTONIC went back");
        advanced = ns(&m) > ns(&m0);
        m1 = m;
    }
    CHECK(advanced, "CLOCK_MONOTONIC did not advance in a million calls");
    CHECK(m0.tv_nsec >= 0 && m0.tv_nsec < 1000000000, "tv_nsec out of range");
    printf("clock_gettime MONOTONIC: advances\n");

    struct timespec res;
    CHECK(syscall(SYS_clock_getres, CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec > 0,
          "clock_getres");

    struct timespec rt;
    struct timeval tv;
    CHECK(syscall(SYS_clock_gettime, CLOCK_REALTIME, &rt) == 0, "clock_gettime REALTIME");
    CHECK(syscall(SYS_gettimeofday, &tv, NULL) == 0, "gettimeofday");
    long long d = (long long)tv.tv_sec - (long long)rt.tv_sec;
    CHECK(d >= 0 && d <= 5, "gettimeofday and CLOCK_REALTIME disagree by %lld s", d);
    CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec out of range");
    printf("gettimeofday: agrees with CLOCK_REALTIME\n");
    printf("value realtime %lld\n", (long long)tv.tv_sec);
    long t = (long)syscall(SYS_time, NULL);
    /* time() reads the coarse clock, which may still show the previous second. */
    CHECK(t >= rt.tv_sec - 1 && t - rt.tv_sec <= 5, "time()");

    rlimit_line("RLIMIT_STACK", RLIMIT_STACK);
    rlimit_line("RLIMIT_NOFILE", RLIMIT_NOFILE);

    return vk_finish("info");
}
