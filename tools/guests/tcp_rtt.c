/* tcp_rtt: TCP latency and throughput over the loopback interface (127.0.0.1),
 * between two processes.
 *
 *   tcp_rtt rtt N    parent and child ping-pong one byte over a TCP_NODELAY
 *                    connection N times (after 100 untimed ones); prints
 *                    "tcp_rtt: N round trips, X ns/rtt"
 *   tcp_rtt bw MIB   parent streams MIB MiB to the child in 64 KiB writes; the child
 *                    reads it all and sends back the byte count on the same
 *                    connection; prints "tcp_bw: MIB MiB, X MB/s" (MB = 10^6 bytes)
 *
 * The listener binds port 0 (the kernel picks a free port), so runs never collide.
 * Timed with CLOCK_MONOTONIC in the parent, after the connection is made.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define WARMUP 100

static void die(const char *what) {
    fprintf(stderr, "tcp_rtt: %s: %s\n", what, errno ? strerror(errno) : "short transfer");
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
        fprintf(stderr, "tcp_rtt: child status %#x\n", status);
        exit(1);
    }
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* A connection over 127.0.0.1: the parent's end in *mine, the child's in *theirs. */
static void connection(int *mine, int *theirs) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0)
        die("listen");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect");
    int s = accept(l, NULL, NULL);
    if (s < 0)
        die("accept");
    close(l);
    int one = 1;
    if (setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die("TCP_NODELAY");
    *mine = c;
    *theirs = s;
}

static void rtt(long n) {
    int c, s;
    connection(&c, &s);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(c);
        char ch;
        while (read_all(s, &ch, 1))
            write_all(s, &ch, 1);
        _exit(0);
    }
    close(s);
    double t0 = 0;
    for (long i = -WARMUP; i < n; i++) {
        if (i == 0)
            t0 = now_ns();
        char ch = (char)i, back;
        write_all(c, &ch, 1);
        if (!read_all(c, &back, 1) || back != ch) {
            errno = 0;
            die("echo");
        }
    }
    double ns = now_ns() - t0;
    close(c);
    reap(pid);
    printf("tcp_rtt: %ld round trips, %.1f ns/rtt\n", n, ns / (double)n);
}

static void bw(long mib) {
    static char buf[CHUNK];
    uint64_t total = (uint64_t)mib << 20;
    int c, s;
    connection(&c, &s);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(c);
        uint64_t got = 0;
        while (got < total) {
            ssize_t r = read(s, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                die("read");
            got += (uint64_t)r;
        }
        write_all(s, &got, sizeof got);
        _exit(0);
    }
    close(s);
    memset(buf, 0x5a, sizeof buf);
    double t0 = now_ns();
    for (uint64_t sent = 0; sent < total; sent += CHUNK)
        write_all(c, buf, CHUNK);
    uint64_t got = 0;
    if (!read_all(c, &got, sizeof got))
        die("ack");
    double ns = now_ns() - t0;
    if (got != total) {
        fprintf(stderr, "tcp_rtt: child read %llu of %llu bytes\n", (unsigned long long)got,
                (unsigned long long)total);
        exit(1);
    }
    close(c);
    reap(pid);
    printf("tcp_bw: %ld MiB, %.1f MB/s\n", mib, (double)total / ns * 1e3);
}

int main(int argc, char **argv) {
    long n = argc == 3 ? atol(argv[2]) : 0;
    if (n <= 0 || (strcmp(argv[1], "rtt") != 0 && strcmp(argv[1], "bw") != 0)) {
        fprintf(stderr, "usage: tcp_rtt rtt N | tcp_rtt bw MIB\n");
        return 2;
    }
    if (strcmp(argv[1], "rtt") == 0)
        rtt(n);
    else
        bw(n);
    return 0;
}
