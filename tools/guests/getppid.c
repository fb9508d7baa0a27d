/* getppid: the cost of one system call round trip.
 *
 *   getppid [N]   makes N raw getppid system calls (default 100000) and prints
 *                 "getppid: N calls, X ns/call", timed with CLOCK_MONOTONIC.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    if (n <= 0) {
        fprintf(stderr, "getppid: bad count\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("getppid: %ld calls, %.1f ns/call\n", n, ns / (double)n);
    return 0;
}
