/* The guest's way out through vke0 (vkernel's NAT): TCP and UDP to servers the test
 * runs on the host's loopback, which the guest reaches as the gateway 10.0.2.2, and
 * names through the DNS server 10.0.2.3. Only under vkernel (the addresses are the
 * guest's); every mode takes the host port as argv[2] and prints what it saw.
 *
 * Modes:
 *   -echo PORT     a blocking connect; addresses both ends; a line out and its echo
 *                  back; a non-blocking connect completed through poll and SO_ERROR
 *   -refused PORT  connects where nobody listens: ECONNREFUSED, blocking and not
 *   -reset PORT    connects, reads the server's greeting, prints "connected", then
 *                  waits in read (a checkpoint here; after a thaw the read fails)
 *   -flood PORT N  opens up to N connections, printing how many and the error
 *   -udp PORT      datagrams to a UDP echo server, unconnected and connected
 *   -udp-thaw PORT a datagram out and its echo queued, vke0's received bytes, then a
 *                  line read from stdin (a checkpoint and thaw here); then the queued
 *                  echo, another round trip, and the bytes again
 *   -resolve NAME  getaddrinfo through /etc/resolv.conf
 */
#include "posix.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

static int port_arg(void) {
    CHECK(vk_argc > 2, "a port argument");
    return vk_argc > 2 ? atoi(vk_argv[2]) : 0;
}

static struct sockaddr_in gateway(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "10.0.2.2", &a.sin_addr);
    return a;
}

static const char *show(const struct sockaddr_in *a) {
    static char buf[2][64];
    static int which;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s:%d", ip, ntohs(a->sin_port));
    return buf[which];
}

static int connect_gateway(int port, int flags) {
    int s = socket(AF_INET, SOCK_STREAM | flags, 0);
    CHECK(s >= 0, "socket");
    struct sockaddr_in a = gateway(port);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

/* Reads one line (without its newline) into buf. */
static ssize_t read_line(int s, char *buf, size_t size) {
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = read(s, buf + n, 1);
        if (r <= 0)
            return r < 0 ? -1 : (ssize_t)n;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = 0;
    return (ssize_t)n;
}

static void echo(void) {
    int port = port_arg();
    int s = connect_gateway(port, 0);
    CHECK(s >= 0, "connect to 10.0.2.2:%d", port);
    struct sockaddr_in me, peer;
    socklen_t len = sizeof me;
    CHECK(getsockname(s, (struct sockaddr *)&me, &len) == 0, "getsockname");
    len = sizeof peer;
    CHECK(getpeername(s, (struct sockaddr *)&peer, &len) == 0, "getpeername");
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &me.sin_addr, ip, sizeof ip);
    printf("local %s ephemeral %d\n", ip, ntohs(me.sin_port) >= 32768);
    printf("peer %s\n", show(&peer));
    int mss = 0;
    len = sizeof mss;
    CHECK(getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &mss, &len) == 0, "TCP_MAXSEG");
    printf("mss %d\n", mss);
    const char *msg = "hello through vke0\n";
    CHECK(vk_writen(s, msg, strlen(msg)) == strlen(msg), "write");
    char line[256];
    CHECK(read_line(s, line, sizeof line) > 0, "read the echo");
    printf("echo %s\n", line);
    CHECK(shutdown(s, SHUT_WR) == 0, "shutdown");
    CHECK(read(s, line, sizeof line) == 0, "end of file after the server's close");
    close(s);

    s = connect_gateway(port, SOCK_NONBLOCK);
    printf("non-blocking connect %s\n", s < 0 && errno == EINPROGRESS ? "EINPROGRESS" : "done");
    if (s < 0) {
        /* connect_gateway closed it: do it again, keeping the socket. */
        s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = gateway(port);
        connect(s, (struct sockaddr *)&a, sizeof a);
    }
    struct pollfd p = {.fd = s, .events = POLLOUT};
    CHECK(poll(&p, 1, 10000) == 1 && (p.revents & POLLOUT), "writable once connected");
    int err = -1;
    len = sizeof err;
    CHECK(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0, "SO_ERROR");
    printf("SO_ERROR %d\n", err);
    CHECK(vk_writen(s, "again\n", 6) == 6, "write");
    p.events = POLLIN;
    CHECK(poll(&p, 1, 10000) == 1, "readable");
    int fl = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, fl & ~O_NONBLOCK);
    CHECK(read_line(s, line, sizeof line) > 0, "read the echo");
    printf("echo %s\n", line);
    close(s);
}

static void refused(void) {
    int port = port_arg();
    int s = connect_gateway(port, 0);
    printf("blocking %s\n", s < 0 && errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = gateway(port);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    CHECK(r < 0 && (errno == EINPROGRESS || errno == ECONNREFUSED), "connect");
    struct pollfd p = {.fd = s, .events = POLLOUT};
    CHECK(poll(&p, 1, 10000) == 1, "poll");
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
    printf("non-blocking %s\n", err == ECONNREFUSED ? "ECONNREFUSED" : strerror(err));
    close(s);
}

static void reset(void) {
    signal(SIGPIPE, SIG_IGN);
    int s = connect_gateway(port_arg(), 0);
    CHECK(s >= 0, "connect");
    char line[256];
    CHECK(read_line(s, line, sizeof line) > 0, "the greeting");
    printf("greeting %s\nconnected\n", line);
    fflush(stdout);
    ssize_t r = read(s, line, sizeof line);
    printf("read %zd %s\n", r, r < 0 ? strerror(errno) : "");
    r = write(s, "x", 1);
    printf("write %zd %s\n", r, r < 0 ? strerror(errno) : "");
}

static void flood(void) {
    int port = port_arg();
    int n = vk_argc > 3 ? atoi(vk_argv[3]) : 0;
    int opened = 0;
    for (; opened < n; opened++) {
        if (connect_gateway(port, 0) < 0) {
            printf("opened %d, then %s\n", opened, strerror(errno));
            return;
        }
    }
    printf("opened %d\n", opened);
}

static void udp_round(int s, const struct sockaddr_in *to, const char *msg) {
    socklen_t tolen = to ? sizeof *to : 0;
    CHECK(sendto(s, msg, strlen(msg), 0, (const struct sockaddr *)to, tolen) == (ssize_t)strlen(msg),
          "sendto");
    char buf[256];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &len);
    CHECK(n > 0, "recvfrom");
    buf[n > 0 ? n : 0] = 0;
    printf("got %s from %s\n", buf, show(&from));
}

static void udp(void) {
    struct sockaddr_in to = gateway(port_arg());
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    udp_round(s, &to, "ping");
    CHECK(connect(s, (struct sockaddr *)&to, sizeof to) == 0, "connect");
    udp_round(s, NULL, "pong");
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &len);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &me.sin_addr, ip, sizeof ip);
    printf("local %s\n", ip);
    close(s);
}

/* vke0's received bytes, from /proc/net/dev. */
static long long vke0_rx(void) {
    char buf[4096];
    ssize_t n = vk_read_file("/proc/net/dev", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    char *line = strstr(buf, "vke0:");
    CHECK(line != NULL, "vke0 in /proc/net/dev");
    return line ? atoll(line + 5) : -1;
}

static void udp_thaw(void) {
    struct sockaddr_in to = gateway(port_arg());
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(sendto(s, "ping", 4, 0, (struct sockaddr *)&to, sizeof to) == 4, "sendto");
    struct pollfd p = {.fd = s, .events = POLLIN};
    CHECK(poll(&p, 1, 10000) == 1, "the echo came");
    long long before = vke0_rx();
    printf("queued\n");
    fflush(stdout);
    char line[64];
    CHECK(read(0, line, sizeof line) > 0, "a line on stdin");
    char buf[64];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &len);
    buf[n > 0 ? n : 0] = 0;
    printf("kept %s from %s\n", buf, show(&from));
    udp_round(s, &to, "pong");
    long long after = vke0_rx();
    printf("rx grew by %s\n", after >= before + 4 ? "the echo" : "less");
    close(s);
}

static void resolve(void) {
    CHECK(vk_argc > 2, "a name");
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    int r = getaddrinfo(vk_argc > 2 ? vk_argv[2] : "", "80", &hints, &res);
    if (r != 0) {
        printf("getaddrinfo: %s\n", gai_strerror(r));
        return;
    }
    printf("address %s\n", show((struct sockaddr_in *)res->ai_addr));
    freeaddrinfo(res);
}

static const struct vk_mode modes[] = {
    {"-echo", echo},   {"-refused", refused}, {"-reset", reset},     {"-flood", flood},
    {"-udp", udp},     {"-udp-thaw", udp_thaw}, {"-resolve", resolve}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("nat", modes, argc, argv); }
