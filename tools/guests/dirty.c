/* dirty: a process with a given amount of dirty memory, to be checkpointed and thawed.
 *
 *   dirty MIB   prints "dirty: MIB MiB" first thing (a native run's start is timed by
 *               it), maps MIB MiB of private anonymous memory, fills every page with a
 *               non-zero pattern (different in every 8-byte word, so nothing can skip
 *               or fold it), prints "dirty: ready MIB MiB, X ms to fill", then blocks
 *               reading stdin. Once the read returns (input or end of file) it prints
 *               "dirty: awake" and exits.
 *
 * The benchmark checkpoints it while it blocks (vkernel boot's stdin is a pipe nobody
 * writes to) and thaws it with stdin at end of file: the re-issued read returns at once,
 * so "dirty: awake" is the first thing the thawed guest writes.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 64;
    if (mib <= 0) {
        fprintf(stderr, "dirty: bad arguments\n");
        return 2;
    }
    printf("dirty: %ld MiB\n", mib);
    fflush(stdout);
    size_t len = (size_t)mib << 20;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("dirty: mmap");
        return 1;
    }
    for (size_t i = 0; i < len / sizeof *p; i++)
        p[i] = (i + 1) * 0x9e3779b97f4a7c15ull;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("dirty: ready %ld MiB, %.1f ms to fill\n", mib, ms);
    fflush(stdout);
    char c;
    if (read(0, &c, 1) < 0) {
        perror("dirty: read");
        return 1;
    }
    /* One write(2): the line's first byte marks the guest running again. */
    printf("dirty: awake\n");
    fflush(stdout);
    /* Keep the pages live to the end. */
    return p[len / sizeof *p - 1] == 0;
}
