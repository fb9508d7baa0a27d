/* timers: sleeps, alarms, interval timers, POSIX timers and CPU accounting, selected
 * by argv[1]. Times are only checked from below ("at least"), never from above.
 *
 *   sleep      nanosleep and clock_nanosleep (relative, TIMER_ABSTIME on MONOTONIC and
 *              REALTIME, an absolute time in the past) sleep at least as asked;
 *              EINVAL for bad tv_nsec / negative times / bad clocks
 *   alarm      alarm returns the seconds left of the previous alarm; alarm(1)
 *              runs the SIGALRM handler after at least 1 s; alarm(0) cancels; the
 *              default action of SIGALRM kills a child
 *   itimer     ITIMER_REAL: 3 SIGALRMs from a 20 ms interval timer, getitimer, the old
 *              value from setitimer, disarm; EINVAL for a bad which
 *   virtual    ITIMER_VIRTUAL and ITIMER_PROF fire while the process burns CPU
 *   posix      timer_create (SIGEV_SIGNAL, CLOCK_MONOTONIC) delivers SIGRTMIN with
 *              SI_TIMER and the sigev_value; periodic; timer_gettime; overruns while the
 *              signal is blocked; timer_delete, then EINVAL
 *   posix2     SIGEV_NONE (only timer_gettime), TIMER_ABSTIME on CLOCK_REALTIME,
 *              CLOCK_PROCESS_CPUTIME_ID, errors
 *   cpuclock   clock_getcpuclockid of self and of a child (its clock advances while it
 *              burns CPU; a POSIX timer on it fires; clock_nanosleep on it returns once
 *              it reached the time), the caller's own thread clock by its raw id,
 *              clock_nanosleep on it is EINVAL, raw/coarse clocks
 *              have no timers (EOPNOTSUPP), si_overrun of a blocked periodic timer
 *   times      times() and getrusage(SELF / CHILDREN) account CPU time of the process
 *              and of waited-for children; EINVAL for a bad who
 */
#include "posix.h"

#include <sys/times.h>

static volatile sig_atomic_t alarms, vtalrms, profs, rts;
static volatile int rt_code, rt_value;

static void on_alrm(int sig) {
    (void)sig;
    alarms++;
}
static void on_vt(int sig) {
    (void)sig;
    vtalrms++;
}
static void on_prof(int sig) {
    (void)sig;
    profs++;
}
static void on_rt(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    rts++;
    rt_code = si->si_code;
    rt_value = si->si_value.sival_int;
}

static long long tv_ms(struct timeval t) { return (long long)t.tv_sec * 1000 + t.tv_usec / 1000; }
static long long ts_ms(struct timespec t) { return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000; }

static void burn_cpu_ms(long ms) {
    long long start = vk_now_ns(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long x = 0;
    while (vk_now_ns(CLOCK_PROCESS_CPUTIME_ID) - start < ms * 1000000LL)
        for (int i = 0; i < 10000; i++)
            x += (unsigned long)i;
}

static void sleep_mode(void) {
    long long t0 = vk_mono_ms();
    struct timespec req = {0, 100 * 1000000L};
    int r = nanosleep(&req, NULL);
    long long dt = vk_mono_ms() - t0;
    printf("nanosleep 100 ms: %d, at least 100 ms: %d\n", r, dt >= 100);
    CHECK(dt >= 100, "%lld ms", dt);

    t0 = vk_mono_ms();
    r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
    dt = vk_mono_ms() - t0;
    printf("clock_nanosleep MONOTONIC relative 100 ms: %d, at least 100 ms: %d\n", r, dt >= 100);

    clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
    const char *names[] = {"MONOTONIC", "REALTIME", "BOOTTIME"};
    for (int i = 0; i < 3; i++) {
        struct timespec target;
        clock_gettime(clocks[i], &target);
        target.tv_nsec += 80 * 1000000L;
        if (target.tv_nsec >= 1000000000L) {
            target.tv_sec++;
            target.tv_nsec -= 1000000000L;
        }
        r = clock_nanosleep(clocks[i], TIMER_ABSTIME, &target, NULL);
        struct timespec now;
        clock_gettime(clocks[i], &now);
        int reached = now.tv_sec > target.tv_sec || (now.tv_sec == target.tv_sec && now.tv_nsec >= target.tv_nsec);
        printf("clock_nanosleep %s TIMER_ABSTIME now+80 ms: %d, the clock reached the target: %d\n", names[i], r,
               reached);
        CHECK(reached, "%s", names[i]);
    }
    struct timespec past = {1, 0};
    t0 = vk_mono_ms();
    r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
    printf("clock_nanosleep absolute time in the past: %d\n", r);
    struct timespec zero = {0, 0};
    printf("nanosleep 0: %d\n", nanosleep(&zero, NULL));

    struct timespec bad = {0, 1000000000L};
    EXPECT_ERR("nanosleep tv_nsec 1e9", nanosleep(&bad, NULL), EINVAL);
    struct timespec neg = {-1, 0};
    EXPECT_ERR("nanosleep tv_sec -1", nanosleep(&neg, NULL), EINVAL);
    printf("clock_nanosleep tv_nsec 1e9: %s\n", clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL) == EINVAL ? "EINVAL" : "?");
    printf("clock_nanosleep bad clock: %s\n", clock_nanosleep(12345, 0, &req, NULL) == EINVAL ? "EINVAL" : "?");
    printf("clock_nanosleep CLOCK_THREAD_CPUTIME_ID: %s\n",
           clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL) == EINVAL ? "EINVAL" : "?");
}

static void alarm_mode(void) {
    vk_handle(SIGALRM, on_alrm, 0);
    printf("alarm(5) with none set: %u\n", alarm(5));
    unsigned left = alarm(0);
    printf("alarm(0) cancels and returns the seconds left, 4 or 5: %d\n", left == 4 || left == 5);
    printf("alarm(0) again: %u\n", alarm(0));
    long long t0 = vk_mono_ms();
    alarm(1);
    CHECK(vk_wait_for(&alarms, 1, 5000), "no SIGALRM within 5 s");
    long long dt = vk_mono_ms() - t0;
    printf("alarm(1): SIGALRM handled %d time(s), after at least 1 s: %d\n", (int)alarms, dt >= 1000);
    CHECK(dt >= 1000, "%lld ms", dt);
    signal(SIGALRM, SIG_DFL);
    pid_t c = vk_fork();
    if (c == 0) {
        alarm(1);
        for (;;)
            pause();
    }
    int st = vk_reap(c, "child with alarm(1) and the default action");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM, "alarm default");
    /* An alarm is not inherited by fork. */
    alarm(3);
    c = vk_fork();
    if (c == 0)
        vk_exit(alarm(0) == 0 ? 0 : 1);
    vk_reap_ok(c, "the child of a process with an alarm pending has none");
    alarm(0);
}

static void itimer(void) {
    vk_handle(SIGALRM, on_alrm, SA_RESTART);
    struct itimerval it = {{0, 20000}, {0, 20000}}, old, cur;
    long long t0 = vk_mono_ms();
    CHECK(setitimer(ITIMER_REAL, &it, &old) == 0, "setitimer");
    printf("old value of an unset ITIMER_REAL: %lld ms, interval %lld ms\n", tv_ms(old.it_value),
           tv_ms(old.it_interval));
    CHECK(vk_wait_for(&alarms, 3, 5000), "fewer than 3 SIGALRMs within 5 s");
    long long dt = vk_mono_ms() - t0;
    printf("3 SIGALRMs from a 20 ms interval timer, after at least 60 ms: %d\n", dt >= 60);
    getitimer(ITIMER_REAL, &cur);
    printf("getitimer: interval %lld ms, value in (0, 20] ms: %d\n", tv_ms(cur.it_interval),
           (cur.it_value.tv_sec > 0 || cur.it_value.tv_usec > 0) && tv_ms(cur.it_value) <= 20);
    struct itimerval zero = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &zero, &old);
    printf("disarmed; old interval %lld ms\n", tv_ms(old.it_interval));
    getitimer(ITIMER_REAL, &cur);
    printf("getitimer after disarming: value %lld ms, interval %lld ms\n", tv_ms(cur.it_value), tv_ms(cur.it_interval));
    int before = alarms;
    vk_msleep(60);
    printf("no SIGALRM after disarming: %d\n", alarms == before);
    /* One-shot: fires once. */
    struct itimerval once = {{0, 0}, {0, 30000}};
    alarms = 0;
    setitimer(ITIMER_REAL, &once, NULL);
    CHECK(vk_wait_for(&alarms, 1, 5000), "no SIGALRM within 5 s");
    vk_msleep(60);
    printf("one-shot ITIMER_REAL fired %d time(s)\n", (int)alarms);
    EXPECT_ERR("setitimer(bad which)", setitimer(7, &it, NULL), EINVAL);
    EXPECT_ERR("getitimer(bad which)", getitimer(7, &cur), EINVAL);
    signal(SIGALRM, SIG_DFL);
}

static void virtual_mode(void) {
    vk_handle(SIGVTALRM, on_vt, SA_RESTART);
    vk_handle(SIGPROF, on_prof, SA_RESTART);
    struct itimerval it = {{0, 10000}, {0, 10000}};
    setitimer(ITIMER_VIRTUAL, &it, NULL);
    setitimer(ITIMER_PROF, &it, NULL);
    long long start = vk_now_ns(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long x = 0;
    /* Burn CPU until both fired twice (at most 3 s of CPU). */
    while ((vtalrms < 2 || profs < 2) && vk_now_ns(CLOCK_PROCESS_CPUTIME_ID) - start < 3000000000LL)
        for (int i = 0; i < 10000; i++)
            x += (unsigned long)i;
    long long used = (vk_now_ns(CLOCK_PROCESS_CPUTIME_ID) - start) / 1000000;
    struct itimerval zero = {{0, 0}, {0, 0}};
    setitimer(ITIMER_VIRTUAL, &zero, NULL);
    setitimer(ITIMER_PROF, &zero, NULL);
    printf("ITIMER_VIRTUAL fired at least twice: %d; ITIMER_PROF fired at least twice: %d\n", vtalrms >= 2, profs >= 2);
    /* Linux samples user and system time at ticks, charging a whole tick to whoever
     * runs then: two 10 ms periods can pass in less than 20 ms of real runtime (17 ms
     * seen natively on a loaded VM). Half of it is a safe floor. */
    printf("  after at least 10 ms of CPU: %d\n", used >= 10);
    printf("value cpu_ms %lld vtalrm %d prof %d\n", used, (int)vtalrms, (int)profs);
    /* Sleeping uses no CPU: ITIMER_VIRTUAL does not fire. */
    vtalrms = 0;
    struct itimerval one = {{0, 0}, {0, 10000}};
    setitimer(ITIMER_VIRTUAL, &one, NULL);
    vk_msleep(100);
    struct itimerval cur;
    getitimer(ITIMER_VIRTUAL, &cur);
    printf("sleeping 100 ms: ITIMER_VIRTUAL did not fire: %d, still armed: %d\n", vtalrms == 0,
           cur.it_value.tv_sec > 0 || cur.it_value.tv_usec > 0);
    setitimer(ITIMER_VIRTUAL, &zero, NULL);
    signal(SIGVTALRM, SIG_DFL);
    signal(SIGPROF, SIG_DFL);
}

static void posix(void) {
    int sig = SIGRTMIN + 4;
    vk_handle_info(sig, on_rt, SA_RESTART);
    timer_t t;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    sev.sigev_value.sival_int = 4242;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0, "timer_create");
    struct itimerspec its = {{0, 0}, {0, 30 * 1000000L}}, cur;
    long long t0 = vk_mono_ms();
    timer_settime(t, 0, &its, NULL);
    CHECK(vk_wait_for(&rts, 1, 5000), "no timer signal within 5 s");
    long long dt = vk_mono_ms() - t0;
    printf("one-shot 30 ms: signal with si_code %s, sigev_value %d, after at least 30 ms: %d\n",
           rt_code == SI_TIMER ? "SI_TIMER" : "?", rt_value, dt >= 30);
    timer_gettime(t, &cur);
    printf("timer_gettime after expiry: value %lld ms\n", ts_ms(cur.it_value));

    /* Periodic */
    rts = 0;
    its.it_interval.tv_nsec = 10 * 1000000L;
    its.it_value.tv_nsec = 10 * 1000000L;
    timer_settime(t, 0, &its, NULL);
    CHECK(vk_wait_for(&rts, 3, 5000), "fewer than 3 timer signals within 5 s");
    timer_gettime(t, &cur);
    printf("periodic 10 ms: 3 signals; interval %lld ms, value in (0, 10] ms: %d\n", ts_ms(cur.it_interval),
           (cur.it_value.tv_sec > 0 || cur.it_value.tv_nsec > 0) && ts_ms(cur.it_value) <= 10);

    /* Overrun: blocked for 100 ms, the signal is queued once and the rest counted. */
    vk_mask(SIG_BLOCK, sig);
    rts = 0;
    vk_msleep(100);
    vk_mask(SIG_UNBLOCK, sig);
    int ov = timer_getoverrun(t);
    printf("blocked for 100 ms: delivered once when unblocked: %d, overruns at least 5: %d\n", rts >= 1, ov >= 5);
    printf("value overrun %d\n", ov);
    struct itimerspec zero = {{0, 0}, {0, 0}}, old;
    timer_settime(t, 0, &zero, &old);
    printf("disarmed; old interval %lld ms\n", ts_ms(old.it_interval));
    CHECK(timer_delete(t) == 0, "timer_delete");
    EXPECT_ERR("timer_gettime after timer_delete (raw id)", syscall(SYS_timer_gettime, 12345, &cur), EINVAL);
    signal(sig, SIG_DFL);
}

static void posix2(void) {
    timer_t t;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0, "timer_create SIGEV_NONE");
    struct itimerspec its = {{0, 0}, {10, 0}}, cur;
    timer_settime(t, 0, &its, NULL);
    timer_gettime(t, &cur);
    printf("SIGEV_NONE armed for 10 s: left between 5 and 10 s: %d\n", ts_ms(cur.it_value) > 5000 &&
                                                                      ts_ms(cur.it_value) <= 10000);
    timer_delete(t);

    /* TIMER_ABSTIME on CLOCK_REALTIME, default notification: SIGALRM. */
    vk_handle(SIGALRM, on_alrm, SA_RESTART);
    CHECK(timer_create(CLOCK_REALTIME, NULL, &t) == 0, "timer_create NULL sigevent");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    its.it_value = now;
    its.it_value.tv_nsec += 50 * 1000000L;
    if (its.it_value.tv_nsec >= 1000000000L) {
        its.it_value.tv_sec++;
        its.it_value.tv_nsec -= 1000000000L;
    }
    timer_settime(t, TIMER_ABSTIME, &its, NULL);
    CHECK(vk_wait_for(&alarms, 1, 5000), "no SIGALRM within 5 s");
    struct timespec after;
    clock_gettime(CLOCK_REALTIME, &after);
    int reached = after.tv_sec > its.it_value.tv_sec ||
                  (after.tv_sec == its.it_value.tv_sec && after.tv_nsec >= its.it_value.tv_nsec);
    printf("CLOCK_REALTIME TIMER_ABSTIME now+50 ms with a NULL sigevent: SIGALRM, at or after the deadline: %d\n",
           reached);
    timer_delete(t);
    signal(SIGALRM, SIG_DFL);

    /* A CPU-time timer fires while burning CPU. */
    int sig = SIGRTMIN + 5;
    vk_handle_info(sig, on_rt, SA_RESTART);
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    CHECK(timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &t) == 0, "timer_create CPU clock");
    struct itimerspec cpu = {{0, 0}, {0, 20 * 1000000L}};
    rts = 0;
    timer_settime(t, 0, &cpu, NULL);
    long long start = vk_now_ns(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long x = 0;
    while (rts == 0 && vk_now_ns(CLOCK_PROCESS_CPUTIME_ID) - start < 3000000000LL)
        for (int i = 0; i < 10000; i++)
            x += (unsigned long)i;
    long long used = (vk_now_ns(CLOCK_PROCESS_CPUTIME_ID) - start) / 1000000;
    printf("CLOCK_PROCESS_CPUTIME_ID timer of 20 ms fired: %d, after at least 20 ms of CPU: %d\n", rts == 1,
           used >= 19);
    timer_delete(t);
    signal(sig, SIG_DFL);

    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    EXPECT_ERR("timer_create(bad clock)", timer_create(12345, &sev, &t), EINVAL);
    sev.sigev_signo = 200;
    EXPECT_ERR("timer_create(bad signal)", timer_create(CLOCK_MONOTONIC, &sev, &t), EINVAL);
    sev.sigev_signo = SIGUSR1;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0, "timer_create");
    struct itimerspec bad = {{0, 0}, {0, 1000000000L}};
    EXPECT_ERR("timer_settime tv_nsec 1e9", timer_settime(t, 0, &bad, NULL), EINVAL);
    timer_delete(t);
}

static volatile int rt_overrun;
static void on_rt_overrun(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    if (rts++ == 0)
        rt_overrun = si->si_overrun;
}

static void cpuclock_mode(void) {
    clockid_t self;
    CHECK(clock_getcpuclockid(0, &self) == 0, "clock_getcpuclockid(0)");
    struct timespec a, b;
    clock_gettime(self, &a);
    burn_cpu_ms(20);
    clock_gettime(self, &b);
    printf("our own CPU clock by clock_getcpuclockid advanced by at least 15 ms: %d\n",
           ts_ms(b) - ts_ms(a) >= 15);
    /* MAKE_THREAD_CPUCLOCK(0, CPUCLOCK_SCHED): the calling thread's clock. */
    clockid_t thread = (clockid_t)((~0u << 3) | 6);
    printf("raw thread clock id readable: %d\n", clock_gettime(thread, &a) == 0);
    struct timespec req = {0, 1000000};
    printf("clock_nanosleep on our thread clock: %s\n",
           clock_nanosleep(thread, 0, &req, NULL) == EINVAL ? "EINVAL" : "?");
    timer_t t;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    EXPECT_ERR("timer_create(CLOCK_MONOTONIC_RAW)", timer_create(CLOCK_MONOTONIC_RAW, &sev, &t), EOPNOTSUPP);
    EXPECT_ERR("timer_create(CLOCK_MONOTONIC_COARSE)", timer_create(CLOCK_MONOTONIC_COARSE, &sev, &t), EOPNOTSUPP);

    /* A child burns CPU: its clock, a timer on it, and a sleep on it. */
    int go[2];
    CHECK(pipe(go) == 0, "pipe");
    pid_t c = vk_fork();
    if (c == 0) {
        char x;
        close(go[1]);
        if (read(go[0], &x, 1) != 1)
            vk_exit(1);
        burn_cpu_ms(400);
        vk_exit(0);
    }
    close(go[0]);
    clockid_t child;
    CHECK(clock_getcpuclockid(c, &child) == 0, "clock_getcpuclockid(child)");
    int sig = SIGRTMIN + 6;
    vk_handle_info(sig, on_rt, SA_RESTART);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    CHECK(timer_create(child, &sev, &t) == 0, "timer_create(child's clock)");
    struct itimerspec its = {{0, 0}, {0, 50 * 1000000L}};
    rts = 0;
    timer_settime(t, 0, &its, NULL);
    struct timespec c0;
    clock_gettime(child, &c0);
    write(go[1], "g", 1);
    /* Absolute: until the child has used 100 ms more. */
    struct timespec until = {c0.tv_sec, c0.tv_nsec + 100 * 1000000L};
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int r;
    while ((r = clock_nanosleep(child, TIMER_ABSTIME, &until, NULL)) == EINTR) /* the timer's signal */
        ;
    struct timespec c1;
    clock_gettime(child, &c1);
    printf("clock_nanosleep until the child used 100 ms more: %d, it did: %d\n", r, ts_ms(c1) - ts_ms(c0) >= 99);
    printf("a timer on the child's CPU clock (50 ms) fired: %d\n", rts == 1);
    timer_delete(t);
    vk_reap_ok(c, "the child that burned CPU");
    close(go[1]);
    signal(sig, SIG_DFL);

    /* si_overrun: a periodic timer blocked for 100 ms. */
    vk_handle_info(sig, on_rt_overrun, SA_RESTART);
    sev.sigev_signo = sig;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0, "timer_create");
    vk_mask(SIG_BLOCK, sig);
    struct itimerspec per = {{0, 10 * 1000000L}, {0, 10 * 1000000L}};
    rts = 0;
    timer_settime(t, 0, &per, NULL);
    vk_msleep(100);
    /* Unblocked while still armed: newer Linux drops the signal of a timer that was
     * re-armed or disarmed meanwhile. */
    vk_mask(SIG_UNBLOCK, sig);
    struct itimerspec zero = {{0, 0}, {0, 0}};
    timer_settime(t, 0, &zero, NULL);
    printf("blocked 100 ms: a signal when unblocked: %d, its si_overrun at least 5: %d\n", rts >= 1,
           rt_overrun >= 5);
    printf("value si_overrun %d\n", rt_overrun);
    timer_delete(t);
    signal(sig, SIG_DFL);
}

static void times_mode(void) {
    struct tms t0, t1;
    clock_t c0 = times(&t0);
    burn_cpu_ms(50);
    clock_t c1 = times(&t1);
    long hz = sysconf(_SC_CLK_TCK);
    printf("sysconf(_SC_CLK_TCK): %ld\n", hz);
    printf("times(): elapsed ticks non-negative: %d; user+system grew by at least 3 ticks: %d\n", c1 >= c0,
           (t1.tms_utime + t1.tms_stime) - (t0.tms_utime + t0.tms_stime) >= 3);
    printf("children's times before any child: %ld %ld\n", (long)t1.tms_cutime, (long)t1.tms_cstime);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long long self_ms = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
    printf("getrusage(SELF): at least 40 ms of CPU: %d\n", self_ms >= 40);
    pid_t c = vk_fork();
    if (c == 0) {
        burn_cpu_ms(60);
        vk_exit(0);
    }
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("getrusage(CHILDREN) while the child runs: %lld ms\n", tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime));
    vk_reap_ok(c, "child that burned 60 ms of CPU");
    getrusage(RUSAGE_CHILDREN, &ru);
    long long kids_ms = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
    printf("getrusage(CHILDREN) after the wait: at least 50 ms: %d\n", kids_ms >= 50);
    times(&t1);
    printf("times(): children's user+system at least 4 ticks: %d\n", t1.tms_cutime + t1.tms_cstime >= 4);
    printf("value self_ms %lld children_ms %lld\n", self_ms, kids_ms);
    EXPECT_ERR("getrusage(bad who)", getrusage(42, &ru), EINVAL);
    CHECK(getrusage(RUSAGE_THREAD, &ru) == 0, "RUSAGE_THREAD");
    printf("getrusage(RUSAGE_THREAD): ok\n");
}

static const struct vk_mode modes[] = {
    {"sleep", sleep_mode}, {"alarm", alarm_mode}, {"itimer", itimer}, {"virtual", virtual_mode},
    {"posix", posix},      {"posix2", posix2},    {"cpuclock", cpuclock_mode},
    {"times", times_mode}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("timers", modes, argc, argv); }
