/* tcp_rtt: TCP latency and throughput over the loopback interface (127.0.0.1),
 * between two processes, or to a server at IP PORT (vkernel-bench's, on the host).
 *
 *   tcp_rtt rtt N [IP PORT]   ping-pong one byte over a TCP_NODELAY connection N
 *                             times (after 100 untimed ones) with a child, or with
 *                             the server; prints "tcp_rtt: N round trips, X ns/rtt"
 *   tcp_rtt bw MIB [IP PORT]  stream MIB MiB in 64 KiB writes to a child, or to the
 *                             server, which reads it all and sends back the byte
 *                             count on the same connection; prints
 *                             "tcp_bw: MIB MiB, X MB/s" (MB = 10^6 bytes)
 *
 * The server's protocol: one byte, 'e' (echo every byte until the end) or 's' (an
 * 8-byte count follows; read that many bytes, send the count back).
 * The listener binds port 0 (the kernel picks a free port), so runs never collide.
 * Timed with CLOCK_MONOTONIC in the parent, after the connection is made.
 */
#define PROG "tcp_rtt"
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

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

/* The server at ip:port, told `mode`; NULL ip: none. */
static const char *far_ip, *far_port;

static int connect_far(char mode) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(far_port));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (inet_pton(AF_INET, far_ip, &a.sin_addr) != 1 || c < 0 ||
        connect(c, (struct sockaddr *)&a, sizeof a) != 0 ||
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die("connect to the server");
    write_all(c, &mode, 1);
    return c;
}

/* The client's end of a connection whose other end runs `serve` in a child (its pid
 * in *pid) or is the server (*pid 0). */
static int far_end(char mode, void (*serve)(int), pid_t *pid) {
    *pid = 0;
    if (far_ip)
        return connect_far(mode);
    int c, s;
    connection(&c, &s);
    fflush(stdout);
    *pid = fork();
    if (*pid < 0)
        die("fork");
    if (*pid == 0) {
        close(c);
        serve(s);
        _exit(0);
    }
    close(s);
    return c;
}

static void echo(int s) {
    char ch;
    while (read_all(s, &ch, 1))
        write_all(s, &ch, 1);
}

static uint64_t total;

static void sink(int s) {
    static char buf[CHUNK];
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
}

static void rtt(long n) {
    pid_t pid;
    int c = far_end('e', echo, &pid);
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
    if (pid)
        reap(pid);
    printf("tcp_rtt: %ld round trips, %.1f ns/rtt\n", n, ns / (double)n);
}

static void bw(long mib) {
    static char buf[CHUNK];
    total = (uint64_t)mib << 20;
    pid_t pid;
    int c = far_end('s', sink, &pid);
    if (far_ip)
        write_all(c, &total, sizeof total);
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
    if (pid)
        reap(pid);
    printf("tcp_bw: %ld MiB, %.1f MB/s\n", mib, (double)total / ns * 1e3);
}

int main(int argc, char **argv) {
    long n = argc == 3 || argc == 5 ? atol(argv[2]) : 0;
    if (n <= 0 || (strcmp(argv[1], "rtt") != 0 && strcmp(argv[1], "bw") != 0)) {
        fprintf(stderr, "usage: tcp_rtt rtt N [IP PORT] | tcp_rtt bw MIB [IP PORT]\n");
        return 2;
    }
    if (argc == 5) {
        far_ip = argv[3];
        far_port = argv[4];
    }
    if (strcmp(argv[1], "rtt") == 0)
        rtt(n);
    else
        bw(n);
    return 0;
}
