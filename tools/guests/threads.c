/* threads: thread creation and futex latency within one process.
 *
 *   threads create N    N times: pthread_create a thread that returns at once, then
 *                       pthread_join it (after 20 untimed ones); prints
 *                       "thread_create: N threads, X us/thread"
 *   threads wake N      N raw FUTEX_WAKE_PRIVATE calls on a word nobody waits on (after
 *                       100 untimed ones): one system call round trip that finds no
 *                       waiter; prints "futex_wake: N calls, X ns/call"
 *   threads pingpong N  the main thread and a second thread hand a turn back and forth
 *                       through one futex word N times (after 100 untimed ones): each
 *                       side stores the other's turn, FUTEX_WAKEs it and FUTEX_WAITs
 *                       for its own; prints "futex_rtt: N round trips, X ns/rtt"
 *
 * Timed with CLOCK_MONOTONIC in the main thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 100
#define CREATE_WARMUP 20

static void die(const char *what, int err) {
    fprintf(stderr, "threads: %s: %s\n", what, strerror(err));
    exit(1);
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static long futex(uint32_t *word, int op, uint32_t val) {
    return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static void wake(uint32_t *word) {
    if (futex(word, FUTEX_WAKE_PRIVATE, 1) < 0)
        die("FUTEX_WAKE", errno);
}

/* Sleeps until *word no longer holds val. */
static void wait_while(uint32_t *word, uint32_t val) {
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == val)
        if (futex(word, FUTEX_WAIT_PRIVATE, val) < 0 && errno != EAGAIN && errno != EINTR)
            die("FUTEX_WAIT", errno);
}

static void *nothing(void *arg) {
    return arg;
}

static void create(long n) {
    double t0 = 0;
    for (long i = -CREATE_WARMUP; i < n; i++) {
        if (i == 0)
            t0 = now_ns();
        pthread_t t;
        void *ret;
        int err = pthread_create(&t, NULL, nothing, (void *)i);
        if (err)
            die("pthread_create", err);
        err = pthread_join(t, &ret);
        if (err)
            die("pthread_join", err);
        if (ret != (void *)i)
            die("pthread_join", EINVAL);
    }
    double ns = now_ns() - t0;
    printf("thread_create: %ld threads, %.1f us/thread\n", n, ns / (double)n / 1e3);
}

static void wake_uncontended(long n) {
    static uint32_t word;
    double t0 = 0;
    for (long i = -WARMUP; i < n; i++) {
        if (i == 0)
            t0 = now_ns();
        if (futex(&word, FUTEX_WAKE_PRIVATE, 1) != 0)
            die("FUTEX_WAKE with no waiters", errno ? errno : EINVAL);
    }
    double ns = now_ns() - t0;
    printf("futex_wake: %ld calls, %.1f ns/call\n", n, ns / (double)n);
}

/* 0: the main thread's turn, 1: the peer's. */
static uint32_t turn;
static long rounds;

static void *peer(void *arg) {
    for (long i = 0; i < rounds; i++) {
        wait_while(&turn, 0);
        __atomic_store_n(&turn, 0, __ATOMIC_RELEASE);
        wake(&turn);
    }
    return arg;
}

static void pingpong(long n) {
    rounds = n + WARMUP;
    pthread_t t;
    int err = pthread_create(&t, NULL, peer, NULL);
    if (err)
        die("pthread_create", err);
    double t0 = 0;
    for (long i = -WARMUP; i < n; i++) {
        if (i == 0)
            t0 = now_ns();
        __atomic_store_n(&turn, 1, __ATOMIC_RELEASE);
        wake(&turn);
        wait_while(&turn, 1);
    }
    double ns = now_ns() - t0;
    err = pthread_join(t, NULL);
    if (err)
        die("pthread_join", err);
    printf("futex_rtt: %ld round trips, %.1f ns/rtt\n", n, ns / (double)n);
}

int main(int argc, char **argv) {
    long n = argc == 3 ? atol(argv[2]) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: threads create|wake|pingpong N\n");
        return 2;
    }
    if (strcmp(argv[1], "create") == 0)
        create(n);
    else if (strcmp(argv[1], "wake") == 0)
        wake_uncontended(n);
    else if (strcmp(argv[1], "pingpong") == 0)
        pingpong(n);
    else {
        fprintf(stderr, "usage: threads create|wake|pingpong N\n");
        return 2;
    }
    return 0;
}
