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
 */
#include "posix.h"

#include <pthread.h>

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

static const struct vk_mode modes[] = {
    {"compute", compute},
    {"family", family},
    {"threads", threads},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("ckpt", modes, argc, argv); }
