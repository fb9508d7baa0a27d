/* What the stream benchmarks (pipe_rtt.c, tcp_rtt.c) share: exact reads and writes,
 * reaping a child that must exit 0, the monotonic clock. Define PROG (the program's
 * name, for messages) before including it. */
#ifndef BENCH_H
#define BENCH_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define WARMUP 100

static void die(const char *what) {
    fprintf(stderr, PROG ": %s: %s\n", what, errno ? strerror(errno) : "short transfer");
    exit(1);
}

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("write");
        p += n;
        len -= (size_t)n;
    }
}

/* Reads exactly len bytes; 0 at EOF before the first byte, 1 otherwise. */
static int read_all(int fd, void *buf, size_t len) {
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read");
        if (n == 0) {
            if (got == 0)
                return 0;
            errno = 0;
            die("read");
        }
        got += (size_t)n;
    }
    return 1;
}

static void reap(pid_t pid) {
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r != pid)
        die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, PROG ": child status %#x\n", status);
        exit(1);
    }
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

#endif
