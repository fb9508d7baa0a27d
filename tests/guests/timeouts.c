/* timeouts: guest-chosen timeouts of centuries (tv_sec near INT64_MAX) must work like
 * any other: the calls return as soon as they can, and a timer whose period is that
 * long still fires once and leaves the kernel's timers working. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int alarms;
static void on_alarm(int s) { (void)s; alarms++; }

static void wait_alarms(int n) {
    while (alarms < n)
        pause();
}

int main(void) {
    struct timespec forever = { INT64_MAX, 999999999 };
    int p[2];
    if (pipe(p) != 0)
        return 1;
    struct pollfd pf = { .fd = p[1], .events = POLLOUT };
    printf("ppoll with a huge timeout on a ready pipe: %d\n", ppoll(&pf, 1, &forever, NULL));
    fd_set w;
    FD_ZERO(&w);
    FD_SET(p[1], &w);
    printf("pselect with a huge timeout on a ready pipe: %d\n", pselect(p[1] + 1, NULL, &w, NULL, &forever, NULL));
    sigset_t usr;
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr, NULL);
    raise(SIGUSR1);
    printf("sigtimedwait with a huge timeout and SIGUSR1 pending: %d\n", sigtimedwait(&usr, NULL, &forever));

    signal(SIGALRM, on_alarm);
    struct itimerval huge_period = { { INT64_MAX, 0 }, { 0, 10000 } };
    printf("setitimer with a huge period: %d\n", setitimer(ITIMER_REAL, &huge_period, NULL));
    wait_alarms(1);
    struct itimerval now;
    getitimer(ITIMER_REAL, &now);
    printf("after the first expiry the timer is still armed: %d\n", now.it_value.tv_sec > 1000000);
    struct itimerval short_one = { { 0, 0 }, { 0, 10000 } };
    setitimer(ITIMER_REAL, &short_one, NULL);
    wait_alarms(2);
    printf("a later short timer still fires: alarms %d\n", alarms);
    return 0;
}
