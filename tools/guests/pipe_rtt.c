/* pipe_rtt: pipe latency and throughput between two processes.
 *
 *   pipe_rtt rtt N    parent and child ping-pong one byte over two pipes N times (after
 *                     100 untimed ones); prints "pipe_rtt: N round trips, X ns/rtt"
 *   pipe_rtt bw MIB   parent streams MIB MiB to the child in 64 KiB writes; the child
 *                     reads it all and sends back the byte count on a second pipe;
 *                     prints "pipe_bw: MIB MiB, X MB/s" (MB = 10^6 bytes)
 *
 * Timed with CLOCK_MONOTONIC in the parent, after the fork.
 */
#define PROG "pipe_rtt"
#include "bench.h"

static void xpipe(int p[2]) {
    if (pipe(p) != 0)
        die("pipe");
}

static pid_t xfork(void) {
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    return pid;
}

static void rtt(long n) {
    int down[2], up[2];
    xpipe(down);
    xpipe(up);
    pid_t pid = xfork();
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        char c;
        while (read_all(down[0], &c, 1))
            write_all(up[1], &c, 1);
        _exit(0);
    }
    close(down[0]);
    close(up[1]);
    double t0 = 0;
    for (long i = -WARMUP; i < n; i++) {
        if (i == 0)
            t0 = now_ns();
        char c = (char)i, back;
        write_all(down[1], &c, 1);
        if (!read_all(up[0], &back, 1) || back != c) {
            errno = 0;
            die("echo");
        }
    }
    double ns = now_ns() - t0;
    close(down[1]);
    close(up[0]);
    reap(pid);
    printf("pipe_rtt: %ld round trips, %.1f ns/rtt\n", n, ns / (double)n);
}

static void bw(long mib) {
    static char buf[CHUNK];
    uint64_t total = (uint64_t)mib << 20;
    int data[2], ack[2];
    xpipe(data);
    xpipe(ack);
    pid_t pid = xfork();
    if (pid == 0) {
        close(data[1]);
        close(ack[0]);
        uint64_t got = 0;
        for (;;) {
            ssize_t r = read(data[0], buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                die("read");
            if (r == 0)
                break;
            got += (uint64_t)r;
        }
        write_all(ack[1], &got, sizeof got);
        _exit(0);
    }
    close(data[0]);
    close(ack[1]);
    memset(buf, 0x5a, sizeof buf);
    double t0 = now_ns();
    for (uint64_t sent = 0; sent < total; sent += CHUNK)
        write_all(data[1], buf, CHUNK);
    close(data[1]);
    uint64_t got = 0;
    if (!read_all(ack[0], &got, sizeof got))
        die("ack");
    double ns = now_ns() - t0;
    if (got != total) {
        fprintf(stderr, "pipe_rtt: child read %llu of %llu bytes\n", (unsigned long long)got,
                (unsigned long long)total);
        exit(1);
    }
    close(ack[0]);
    reap(pid);
    printf("pipe_bw: %ld MiB, %.1f MB/s\n", mib, (double)total / ns * 1e3);
}

int main(int argc, char **argv) {
    long n = argc == 3 ? atol(argv[2]) : 0;
    if (n <= 0 || (strcmp(argv[1], "rtt") != 0 && strcmp(argv[1], "bw") != 0)) {
        fprintf(stderr, "usage: pipe_rtt rtt N | pipe_rtt bw MIB\n");
        return 2;
    }
    if (strcmp(argv[1], "rtt") == 0)
        rtt(n);
    else
        bw(n);
    return 0;
}
