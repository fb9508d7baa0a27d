/* inet: AF_INET and AF_INET6 sockets on the loopback interface, selected by argv[1].
 *
 * Every listener binds port 0 and learns its port from getsockname (the native runs
 * of several tests share the host's loopback), and every port is printed relative to
 * the ones the mode knows ("P" for its listener, "eph" for another ephemeral port).
 *
 *   tcp        echo between forked processes over 127.0.0.1: names on both sides
 *              (getsockname, getpeername, accept's address), sendmsg/recvmsg with
 *              iovecs, MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL, FIONREAD, SIOCOUTQ,
 *              recvfrom's empty address, a 4 MiB transfer with its checksum
 *   halfclose  shutdown(SHUT_WR): the peer reads to EOF and still writes back; EPIPE
 *              with SIGPIPE (not with MSG_NOSIGNAL); SHUT_RD; poll bits at each step
 *   reset      close with unread data: the peer reads what it had, then ECONNRESET,
 *              then EOF; writes after a reset (ECONNRESET once, then EPIPE with
 *              SIGPIPE); a write to a closed peer (accepted, then EPIPE in SO_ERROR);
 *              SO_LINGER 0; a write blocked half way cut short by a reset (no
 *              SIGPIPE); a listener shut down with a connection in its backlog
 *   connect    non-blocking connect (EINPROGRESS, POLLOUT, SO_ERROR, connect again
 *              0 then EISCONN), ECONNREFUSED blocking and non-blocking (poll bits,
 *              SO_ERROR, ECONNABORTED after it), EALREADY; connects to 0.0.0.0 and
 *              127.0.0.2; listen(1) takes two connections and the third waits until
 *              an accept makes room
 *   bind       EADDRINUSE (same address, wildcard over a specific one), two
 *              specific addresses on one port, SO_REUSEADDR with and without a
 *              listener, a port held by an accepted connection, SO_REUSEPORT
 *              listeners sharing a port, EINVAL bound twice, EADDRNOTAVAIL,
 *              ephemeral ports (bind 0, connect, listen unbound)
 *   udp        datagrams with sender addresses, autobind on send, boundaries,
 *              MSG_PEEK, MSG_TRUNC both ways, empty datagrams, FIONREAD, connect
 *              (filters other senders; AF_UNSPEC undoes it), ECONNREFUSED on a
 *              connected socket, EMSGSIZE, EDESTADDRREQ, sendmsg/recvmsg names,
 *              SO_REUSEADDR sharing a port
 *   cmsg       control messages of received datagrams: IP_PKTINFO, IP_RECVTTL and
 *              IP_RECVTOS (the sender's TTL and TOS), MSG_CTRUNC, and their IPv6
 *              counterparts (IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS) for IPv6 and
 *              IPv4 datagrams on a dual-stack socket
 *   ipv6       TCP and UDP over ::1; a dual-stack listener on :: accepts a v4 client
 *              (seen as ::ffff:127.0.0.1); v4-mapped connects; IPV6_V6ONLY; bind
 *              conflicts between the families; sockaddr_in6 lengths
 *   epoll      readiness as Linux reports it: fresh sockets, listeners, connected,
 *              half-closed and reset sockets in poll; epoll level- and
 *              edge-triggered with EPOLLRDHUP; select on a connecting socket
 *   options    SO_TYPE/DOMAIN/PROTOCOL/ACCEPTCONN, TCP_NODELAY, TCP_MAXSEG, the
 *              keepalive options, TCP_CORK, TCP_SYNCNT, TCP_USER_TIMEOUT, IP_TTL,
 *              IP_TOS, IPV6_V6ONLY, IPV6_UNICAST_HOPS; Linux's errno for bad values,
 *              short lengths, unknown options and levels
 *   errors     socket() families, types and protocols; bad address lengths and
 *              families for bind, connect and sendto; EOPNOTSUPP, ENOTCONN, EPIPE
 *   wait       blocked calls: recv interrupted (EINTR, restarted with SA_RESTART,
 *              EAGAIN after SO_RCVTIMEO), a write blocked on a full window until the
 *              reader drains it, accept interrupted, a blocking connect into a full
 *              backlog let in by an accept in another process, poll on a listener
 *   many       16 clients at once against a server echoing each connection in a
 *              process of its own, 256 KiB each way, checksums
 *   -offlink   (vkernel only: natively it would send to the network) the guest has
 *              only lo: connects to other addresses are ENETUNREACH ("value" lines)
 * Modes for checkpoint tests (they sleep where the test checkpoints):
 *   xfer       a child streams 6 MiB over 127.0.0.1 in 1 MiB writes; the parent reads
 *              it in 64 KiB MSG_WAITALL reads with short sleeps and checks the checksum
 *   xfer1      the same in one 6 MiB write (the kernel copies it in pieces: a
 *              checkpoint ends it short, and the child writes the rest)
 *   pending    listen(1) holds an unaccepted connection that already sent data and a
 *              second one, and a third waits for room; a half-closed IPv6
 *              connection holds data both ways
 *   dgrams     UDP datagrams from two senders wait in a queue; a connected UDP
 *              socket keeps its peer
 *   blocked    a server waits in accept and a client in connect (a full backlog)
 */
#include "posix.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

/* The ports a mode knows, to print others' relative to them. */
static int port_p, port_q;

static const char *port_name(int port) {
    static char buf[4][16];
    static int turn;
    char *b = buf[turn++ % 4];
    if (port == 0)
        return "0";
    if (port == port_p)
        return "P";
    if (port == port_q)
        return "Q";
    if (port >= 32768 && port <= 60999)
        return "eph";
    snprintf(b, 16, "%d", port);
    return b;
}

/* "127.0.0.1:P", "[::1]:eph", "len 0", with the family and length checked. */
static const char *addr_str(const void *sa, socklen_t len) {
    static char buf[4][96];
    static int turn;
    char *b = buf[turn++ % 4];
    const struct sockaddr *s = sa;
    char ip[INET6_ADDRSTRLEN];
    if (len == 0) {
        snprintf(b, 96, "len 0");
    } else if (s->sa_family == AF_INET && len == sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(b, 96, "%s:%s", ip, port_name(ntohs(a->sin_port)));
    } else if (s->sa_family == AF_INET6 && len == sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(b, 96, "[%s]:%s flow %u scope %u", ip, port_name(ntohs(a->sin6_port)),
                 (unsigned)a->sin6_flowinfo, (unsigned)a->sin6_scope_id);
    } else {
        snprintf(b, 96, "family %d len %d", s->sa_family, (int)len);
    }
    return b;
}

static struct sockaddr_in in4(const char *ip, int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static struct sockaddr_in6 in6(const char *ip, int port) {
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}

static int sock(int family, int type) {
    int s = socket(family, type, 0);
    CHECK(s >= 0, "socket(%d, %d)", family, type);
    return s;
}

static const char *local(int s) {
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    if (getsockname(s, (struct sockaddr *)&a, &len) != 0)
        return strerror(errno);
    return addr_str(&a, len);
}

static const char *peer(int s) {
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    if (getpeername(s, (struct sockaddr *)&a, &len) != 0)
        return strerror(errno);
    return addr_str(&a, len);
}

static int port_of(int s) {
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    CHECK(getsockname(s, (struct sockaddr *)&a, &len) == 0, "getsockname");
    return a.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&a)->sin6_port)
                                   : ntohs(((struct sockaddr_in *)&a)->sin_port);
}

/* A TCP listener on ip (v4 or v6 by its spelling), port 0; its port in *port. */
static int listener_on(const char *ip, int backlog, int *port) {
    int v6 = strchr(ip, ':') != NULL;
    int s = sock(v6 ? AF_INET6 : AF_INET, SOCK_STREAM);
    int r;
    if (v6) {
        struct sockaddr_in6 a = in6(ip, 0);
        r = bind(s, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = in4(ip, 0);
        r = bind(s, (struct sockaddr *)&a, sizeof a);
    }
    CHECK(r == 0, "bind %s", ip);
    CHECK(listen(s, backlog) == 0, "listen");
    *port = port_of(s);
    return s;
}

/* connect(2) to ip:port; returns its result (errno set). */
static int connect_to(int s, const char *ip, int port) {
    if (strchr(ip, ':')) {
        struct sockaddr_in6 a = in6(ip, port);
        return connect(s, (struct sockaddr *)&a, sizeof a);
    }
    struct sockaddr_in a = in4(ip, port);
    return connect(s, (struct sockaddr *)&a, sizeof a);
}

/* A connected TCP client, or -1. */
static int client(const char *ip, int port) {
    int s = sock(strchr(ip, ':') ? AF_INET6 : AF_INET, SOCK_STREAM);
    if (connect_to(s, ip, port) != 0) {
        close(s);
        return -1;
    }
    return s;
}

/* A connection inside this process: *c the client, *s the accepted end. */
static void conn_pair(const char *ip, int *c, int *s) {
    int port;
    int l = listener_on(ip, 4, &port);
    *c = client(ip, port);
    CHECK(*c >= 0, "connect");
    *s = accept(l, NULL, NULL);
    CHECK(*s >= 0, "accept");
    close(l);
}

static int int_opt(int s, int level, int name) {
    int v = -12345;
    socklen_t len = sizeof v;
    if (getsockopt(s, level, name, &v, &len) != 0)
        return -errno * 1000;
    return v;
}

static int set_int(int s, int level, int name, int v) { return setsockopt(s, level, name, &v, sizeof v); }

static short revents_ms(int fd, short events, int ms) {
    struct pollfd p = {fd, events, 0};
    poll(&p, 1, ms);
    return p.revents;
}

static const char *readiness(int fd) { return vk_pollbits(revents_ms(fd, POLLIN | POLLOUT | POLLRDHUP, 0)); }

/* Lets loopback segments (a FIN, a RST, an ICMP error) arrive natively. */
static void settle(void) { vk_msleep(20); }

static const char *err_name(int e) {
    switch (e) {
    case 0: return "0";
    case EPIPE: return "EPIPE";
    case ECONNRESET: return "ECONNRESET";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNABORTED: return "ECONNABORTED";
    case EAGAIN: return "EAGAIN";
    case EINPROGRESS: return "EINPROGRESS";
    case EALREADY: return "EALREADY";
    case EISCONN: return "EISCONN";
    case ENOTCONN: return "ENOTCONN";
    case EINVAL: return "EINVAL";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EMSGSIZE: return "EMSGSIZE";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    default: return strerror(e);
    }
}

/* The result of a call: "ok N" or the errno's name. */
static const char *res(long r) {
    static char buf[2][32];
    static int turn;
    char *b = buf[turn++ % 2];
    if (r >= 0)
        snprintf(b, 32, "ok %ld", r);
    else
        snprintf(b, 32, "%s", err_name(errno));
    return b;
}

static const char *so_error(int s) { return err_name(int_opt(s, SOL_SOCKET, SO_ERROR)); }

/* ---- tcp ------------------------------------------------------------------------- */

/* The echo server: one connection, everything back until EOF. Exit code: what broke. */
static int echo_server(int l) {
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    int s = accept(l, (struct sockaddr *)&from, &flen);
    if (s < 0)
        return 1;
    if (flen != sizeof from || from.sin_family != AF_INET || from.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
        return 2;
    char buf[8192];
    for (;;) {
        ssize_t n = read(s, buf, sizeof buf);
        if (n == -1 && errno == EINTR)
            continue;
        if (n < 0)
            return 3;
        if (n == 0)
            break;
        if (vk_writen(s, buf, (size_t)n) != (size_t)n)
            return 4;
    }
    close(s);
    return 0;
}

static void tcp(void) {
    int l = listener_on("127.0.0.1", 4, &port_p);
    printf("listener: %s, SO_ACCEPTCONN %d\n", local(l), int_opt(l, SOL_SOCKET, SO_ACCEPTCONN));
    printf("value port %d\n", port_p);
    pid_t pid = vk_fork();
    if (pid == 0)
        vk_exit(echo_server(l));
    close(l);
    int c = client("127.0.0.1", port_p);
    CHECK(c >= 0, "connect");
    printf("client: %s -> %s\n", local(c), peer(c));
    CHECK(set_int(c, IPPROTO_TCP, TCP_NODELAY, 1) == 0, "TCP_NODELAY");

    char buf[256];
    for (int i = 0; i < 3; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "message %d", i);
        CHECK(write(c, msg, (size_t)n) == n, "write");
        memset(buf, 0, sizeof buf);
        CHECK(vk_readn(c, buf, (size_t)n) == (size_t)n, "read");
        printf("echo: %s\n", buf);
    }

    struct iovec out[3] = {{"scatter", 7}, {"/", 1}, {"gather", 6}};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = out;
    mh.msg_iovlen = 3;
    CHECK(sendmsg(c, &mh, 0) == 14, "sendmsg");
    /* Wait until all of it is back, then look before reading. */
    int avail = 0;
    for (int i = 0; i < 2000 && avail < 14; i++) {
        ioctl(c, FIONREAD, &avail);
        if (avail < 14)
            vk_msleep(1);
    }
    printf("FIONREAD %d\n", avail);
    memset(buf, 0, sizeof buf);
    CHECK(recv(c, buf, 4, MSG_PEEK) == 4, "peek");
    printf("peeked: %s\n", buf);
    char a[5] = {0}, b[20] = {0};
    struct iovec in[2] = {{a, 4}, {b, sizeof b - 1}};
    struct sockaddr_in name;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &name;
    mh.msg_namelen = sizeof name;
    mh.msg_iov = in;
    mh.msg_iovlen = 2;
    ssize_t n = recvmsg(c, &mh, 0);
    printf("recvmsg: %zd '%s' '%s', namelen %d, flags %#x\n", n, a, b, (int)mh.msg_namelen, mh.msg_flags);
    EXPECT_ERR("MSG_DONTWAIT on nothing", recv(c, buf, 1, MSG_DONTWAIT), EAGAIN);

    CHECK(write(c, "0123456789", 10) == 10, "write");
    socklen_t flen = sizeof name;
    memset(buf, 0, sizeof buf);
    n = recvfrom(c, buf, 10, MSG_WAITALL, (struct sockaddr *)&name, &flen);
    printf("recvfrom MSG_WAITALL: %zd '%s', address %s\n", n, buf, addr_str(&name, flen));
    int outq = -1;
    CHECK(ioctl(c, SIOCOUTQ, &outq) == 0, "SIOCOUTQ");
    printf("SIOCOUTQ after the echo %d\n", outq);

    /* 4 MiB there and back while a child reads the echo. */
    const size_t total = 4u << 20;
    unsigned char *data = malloc(total), *back = malloc(total);
    CHECK(data && back, "malloc");
    vk_fill(data, total, 3);
    pid_t reader = vk_fork();
    if (reader == 0) {
        size_t got = vk_readn(c, back, total);
        vk_exit(got == total && vk_fnv(back, total) == vk_fnv(data, total) ? 0 : 1);
    }
    CHECK(vk_writen(c, data, total) == total, "big write");
    vk_reap_ok(reader, "4 MiB echoed, checksum");
    CHECK(shutdown(c, SHUT_WR) == 0, "shutdown");
    CHECK(read(c, buf, sizeof buf) == 0, "EOF after the server's close");
    vk_reap_ok(pid, "echo server");
    close(c);
    free(data);
    free(back);
}

/* ---- halfclose -------------------------------------------------------------------- */

static void halfclose(void) {
    vk_handle(SIGPIPE, on_sigpipe, 0);
    int c, s;
    conn_pair("127.0.0.1", &c, &s);
    CHECK(write(c, "last words", 10) == 10, "write");
    CHECK(shutdown(c, SHUT_WR) == 0, "SHUT_WR");
    settle();
    printf("after SHUT_WR: client %s, server %s\n", readiness(c), readiness(s));
    char buf[32] = {0};
    CHECK(vk_readn(s, buf, 10) == 10, "read");
    printf("server read '%s'", buf);
    printf(", then %zd\n", read(s, buf, sizeof buf));
    CHECK(write(s, "reply", 5) == 5, "the server still writes");
    memset(buf, 0, sizeof buf);
    CHECK(vk_readn(c, buf, 5) == 5, "the client still reads");
    printf("client read '%s'\n", buf);
    EXPECT_ERR("client write after SHUT_WR", write(c, "x", 1), EPIPE);
    printf("SIGPIPEs %d\n", (int)sigpipes);
    EXPECT_ERR("with MSG_NOSIGNAL", send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
    printf("SIGPIPEs %d\n", (int)sigpipes);
    CHECK(shutdown(s, SHUT_WR) == 0, "server SHUT_WR");
    settle();
    printf("both shut: client %s, server %s\n", readiness(c), readiness(s));
    printf("client reads %zd\n", read(c, buf, sizeof buf));
    printf("SO_ERROR %s %s\n", so_error(c), so_error(s));
    close(c);
    close(s);

    /* SHUT_RD: no more waiting for data, but what comes is still read. */
    conn_pair("127.0.0.1", &c, &s);
    CHECK(shutdown(c, SHUT_RD) == 0, "SHUT_RD");
    printf("after SHUT_RD: client %s, server %s\n", readiness(c), readiness(s));
    printf("read %zd\n", read(c, buf, sizeof buf));
    CHECK(write(s, "abc", 3) == 3, "the server writes");
    settle();
    printf("after SHUT_RD: recv %zd", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    printf(" then %zd\n", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    EXPECT_ERR("shutdown(5)", shutdown(c, 5), EINVAL);
    EXPECT_ERR("shutdown(-1)", shutdown(c, -1), EINVAL);
    close(c);
    close(s);
    int u = sock(AF_INET, SOCK_STREAM);
    EXPECT_ERR("shutdown unconnected", shutdown(u, SHUT_RDWR), ENOTCONN);
    close(u);
}

/* ---- reset ------------------------------------------------------------------------ */

static void reset(void) {
    vk_handle(SIGPIPE, on_sigpipe, 0);
    int c, s;
    char buf[32];
    conn_pair("127.0.0.1", &c, &s);
    CHECK(write(s, "for c", 5) == 5, "write");
    CHECK(write(c, "unread", 6) == 6, "write");
    settle();
    close(s);
    settle();
    printf("peer closed with unread data: %s, SO_ERROR not read\n", readiness(c));
    printf("recv: %s", res(recv(c, buf, sizeof buf, 0)));
    printf(", then %s", res(recv(c, buf, sizeof buf, 0)));
    printf(", then %s\n", res(recv(c, buf, sizeof buf, 0)));
    printf("write: %s", res(write(c, "x", 1)));
    printf(" (SIGPIPEs %d)\n", (int)sigpipes);
    close(c);

    conn_pair("127.0.0.1", &c, &s);
    CHECK(write(c, "unread", 6) == 6, "write");
    settle();
    close(s);
    settle();
    printf("reset: write %s", res(write(c, "x", 1)));
    printf(" (SIGPIPEs %d)", (int)sigpipes);
    printf(", write %s", res(write(c, "x", 1)));
    printf(" (SIGPIPEs %d)", (int)sigpipes);
    printf(", recv %s\n", res(recv(c, buf, sizeof buf, 0)));
    close(c);

    /* The peer closed cleanly: one write goes (the peer answers it with a reset). */
    conn_pair("127.0.0.1", &c, &s);
    close(s);
    settle();
    printf("peer closed: %s\n", readiness(c));
    printf("write %s", res(write(c, "x", 1)));
    settle();
    printf(", then %s", readiness(c));
    printf(", SO_ERROR %s", so_error(c));
    printf(", write %s", res(write(c, "x", 1)));
    printf(" (SIGPIPEs %d)", (int)sigpipes);
    printf(", recv %s\n", res(recv(c, buf, sizeof buf, 0)));
    close(c);

    conn_pair("127.0.0.1", &c, &s);
    struct linger lg = {1, 0};
    CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0, "SO_LINGER");
    close(s);
    settle();
    printf("SO_LINGER 0: %s", readiness(c));
    printf(", recv %s\n", res(recv(c, buf, sizeof buf, 0)));
    close(c);

    /* A FIN, then a reset: EOF, and EPIPE in SO_ERROR. */
    conn_pair("127.0.0.1", &c, &s);
    CHECK(write(c, "zz", 2) == 2, "write");
    CHECK(shutdown(s, SHUT_WR) == 0, "shutdown");
    settle();
    close(s);
    settle();
    printf("FIN then reset: %s", readiness(c));
    printf(", recv %s", res(recv(c, buf, sizeof buf, 0)));
    printf(", SO_ERROR %s\n", so_error(c));
    close(c);

    /* A write blocked half way when the peer resets: what went, and no SIGPIPE. */
    conn_pair("127.0.0.1", &c, &s);
    CHECK(write(s, "unread", 6) == 6, "write");
    pid_t pid = vk_fork();
    if (pid == 0) {
        vk_msleep(100);
        vk_exit(0); /* closes s with unread data */
    }
    close(s);
    const size_t big = 32u << 20;
    char *data = calloc(1, big);
    int before = sigpipes;
    ssize_t n = write(c, data, big);
    printf("a write cut short by a reset: %s, SIGPIPEs %d", n > 0 && (size_t)n < big ? "short" : res(n),
           (int)sigpipes - before);
    printf(", then write %s\n", res(write(c, "x", 1)));
    printf("value short_write %zd\n", n);
    vk_reap_ok(pid, "resetting peer");
    free(data);
    close(c);

    int l = listener_on("127.0.0.1", 4, &port_p);
    c = client("127.0.0.1", port_p);
    CHECK(c >= 0 && write(c, "queued", 6) == 6, "connect");
    CHECK(shutdown(l, SHUT_RD) == 0, "listener SHUT_RD");
    settle();
    printf("listener shut down: listener %s", readiness(l));
    printf(", its pending connection %s", readiness(c));
    printf(", recv %s\n", res(recv(c, buf, sizeof buf, 0)));
    EXPECT_ERR("accept after SHUT_RD", accept(l, NULL, NULL), EINVAL);
    CHECK(listen(l, 4) == 0, "listen again");
    close(c);
    close(l);
}

/* ---- connect ---------------------------------------------------------------------- */

static void connect_(void) {
    int l = listener_on("127.0.0.1", 8, &port_p);
    int c = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    printf("non-blocking connect: %s\n", res(connect_to(c, "127.0.0.1", port_p)));
    printf("then: %s", vk_pollbits(revents_ms(c, POLLOUT, 2000)));
    printf(", SO_ERROR %s\n", so_error(c));
    printf("connect again: %s", res(connect_to(c, "127.0.0.1", port_p)));
    printf(", and again: %s\n", res(connect_to(c, "127.0.0.1", port_p)));
    printf("names: %s -> %s\n", local(c), peer(c));
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0, "accept");
    CHECK(write(c, "nb", 2) == 2, "write");
    char buf[16] = {0};
    CHECK(vk_readn(s, buf, 2) == 2, "read");
    printf("data over it: %s\n", buf);
    close(s);
    close(c);

    /* A port bound by a socket that does not listen. */
    int closed = sock(AF_INET, SOCK_STREAM);
    struct sockaddr_in a = in4("127.0.0.1", 0);
    CHECK(bind(closed, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    port_q = port_of(closed);
    c = sock(AF_INET, SOCK_STREAM);
    EXPECT_ERR("blocking connect to a closed port", connect_to(c, "127.0.0.1", port_q), ECONNREFUSED);
    printf("after it: %s, peer %s", readiness(c), peer(c));
    printf(", connect again %s\n", res(connect_to(c, "127.0.0.1", port_q)));
    close(c);
    c = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    printf("non-blocking connect to a closed port: %s\n", res(connect_to(c, "127.0.0.1", port_q)));
    settle();
    printf("then: %s", readiness(c));
    printf(", SO_ERROR %s", so_error(c));
    printf(", SO_ERROR %s\n", so_error(c));
    printf("connect again: %s\n", res(connect_to(c, "127.0.0.1", port_q)));
    close(c);
    c = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    connect_to(c, "127.0.0.1", port_q);
    settle();
    printf("refused, SO_ERROR unread: connect again %s\n", res(connect_to(c, "127.0.0.1", port_q)));
    close(c);

    c = client("0.0.0.0", port_p);
    CHECK(c >= 0, "connect to 0.0.0.0");
    printf("to 0.0.0.0: %s -> %s\n", local(c), peer(c));
    close(c);
    close(accept(l, NULL, NULL));
    close(l);

    int any = listener_on("0.0.0.0", 8, &port_p);
    c = client("127.0.0.2", port_p);
    CHECK(c >= 0, "connect to 127.0.0.2");
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    s = accept(any, (struct sockaddr *)&from, &flen);
    printf("to 127.0.0.2: client %s -> %s", local(c), peer(c));
    printf("; server %s -> %s", local(s), peer(s));
    printf(", accept said %s\n", addr_str(&from, flen));
    EXPECT_ERR("connect on a connected socket", connect_to(c, "127.0.0.1", port_p), EISCONN);
    EXPECT_ERR("connect on a listener", connect_to(any, "127.0.0.1", port_p), EISCONN);
    close(c);
    close(s);
    close(any);

    /* listen(1): two connections complete, the third waits for room. */
    l = listener_on("127.0.0.1", 1, &port_p);
    int cs[3];
    for (int i = 0; i < 3; i++) {
        cs[i] = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
        printf("connect %d: %s\n", i, res(connect_to(cs[i], "127.0.0.1", port_p)));
    }
    settle();
    for (int i = 0; i < 3; i++)
        printf("connection %d: %s, peer %s\n", i, vk_pollbits(revents_ms(cs[i], POLLOUT, 100)), peer(cs[i]));
    printf("connect 2 again: %s\n", res(connect_to(cs[2], "127.0.0.1", port_p)));
    s = accept(l, NULL, NULL);
    CHECK(s >= 0, "accept");
    /* Linux's SYN comes again after a second; vkernel's at once. */
    printf("after an accept, connection 2: %s\n", vk_pollbits(revents_ms(cs[2], POLLOUT, 3000)));
    int a1 = accept(l, NULL, NULL), a2 = accept(l, NULL, NULL);
    printf("accept the others: %d %d\n", a1 >= 0, a2 >= 0);
    close(a1);
    close(a2);
    for (int i = 0; i < 3; i++)
        close(cs[i]);
    close(s);
    close(l);
    close(closed);
}

/* ---- -offlink (vkernel only) ------------------------------------------------------ */

static void offlink(void) {
    int c = sock(AF_INET, SOCK_STREAM);
    printf("value tcp_far %s\n", res(connect_to(c, "192.0.2.1", 80)));
    close(c);
    c = sock(AF_INET6, SOCK_STREAM);
    printf("value tcp6_far %s\n", res(connect_to(c, "2001:db8::1", 80)));
    close(c);
    int u = sock(AF_INET, SOCK_DGRAM);
    struct sockaddr_in a = in4("192.0.2.1", 53);
    printf("value udp_far %s\n", res(sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a)));

    printf("value udp_connect_far %s\n", res(connect(u, (struct sockaddr *)&a, sizeof a)));
    close(u);
}

/* ---- bind ------------------------------------------------------------------------- */

static int bound(int family, int type, const char *ip, int port, int reuse) {
    int s = sock(family, type);
    if (reuse)
        CHECK(set_int(s, SOL_SOCKET, SO_REUSEADDR, 1) == 0, "SO_REUSEADDR");
    int r;
    if (family == AF_INET6) {
        struct sockaddr_in6 a = in6(ip, port);
        r = bind(s, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = in4(ip, port);
        r = bind(s, (struct sockaddr *)&a, sizeof a);
    }
    if (r != 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

/* Binds a second socket where the first is and says how it went. */
static void try_bind(const char *what, int type, const char *ip, int port, int reuse) {
    int s = bound(AF_INET, type, ip, port, reuse);
    printf("%s: %s\n", what, s >= 0 ? "ok" : err_name(errno));
    if (s >= 0)
        close(s);
}

static void bind_(void) {
    int a = bound(AF_INET, SOCK_STREAM, "127.0.0.1", 0, 0);
    port_p = port_of(a);
    printf("bound: %s\n", local(a));
    try_bind("127.0.0.1 again", SOCK_STREAM, "127.0.0.1", port_p, 0);
    try_bind("0.0.0.0 over 127.0.0.1", SOCK_STREAM, "0.0.0.0", port_p, 0);
    try_bind("127.0.0.2 beside 127.0.0.1", SOCK_STREAM, "127.0.0.2", port_p, 0);
    try_bind("UDP on the TCP port", SOCK_DGRAM, "127.0.0.1", port_p, 0);
    try_bind("with SO_REUSEADDR on one side", SOCK_STREAM, "127.0.0.1", port_p, 1);
    close(a);
    a = bound(AF_INET, SOCK_STREAM, "0.0.0.0", port_p, 1);
    CHECK(a >= 0, "bind the freed port");
    try_bind("SO_REUSEADDR on both, nobody listens", SOCK_STREAM, "127.0.0.1", port_p, 1);
    int b = bound(AF_INET, SOCK_STREAM, "127.0.0.1", port_p, 1);
    CHECK(b >= 0 && listen(a, 1) == 0, "listen");
    try_bind("SO_REUSEADDR on both, one listens", SOCK_STREAM, "127.0.0.1", port_p, 1);
    EXPECT_ERR("the other one listens too", listen(b, 1), EADDRINUSE);
    close(b);

    /* An accepted connection keeps the port after its listener is gone. */
    int c = client("127.0.0.1", port_p);
    int s = accept(a, NULL, NULL);
    CHECK(c >= 0 && s >= 0, "connect");
    close(a);
    try_bind("after the listener closed, a connection open", SOCK_STREAM, "0.0.0.0", port_p, 0);
    a = bound(AF_INET, SOCK_STREAM, "0.0.0.0", port_p, 1);
    printf("with SO_REUSEADDR: %s", a >= 0 ? "ok" : err_name(errno));
    printf(", listen %s\n", a >= 0 ? res(listen(a, 1)) : "-");
    close(a);
    close(c);
    close(s);

    /* SO_REUSEPORT: two listeners of one user on one port share its connections. */
    int rp[2];
    for (int i = 0; i < 2; i++) {
        rp[i] = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
        CHECK(set_int(rp[i], SOL_SOCKET, SO_REUSEPORT, 1) == 0, "SO_REUSEPORT");
        struct sockaddr_in at = in4("127.0.0.1", i ? port_p : 0);
        printf("SO_REUSEPORT listener %d: bind %s", i, res(bind(rp[i], (struct sockaddr *)&at, sizeof at)));
        printf(", listen %s\n", res(listen(rp[i], 4)));
        port_p = port_of(rp[0]);
    }
    try_bind("without SO_REUSEPORT beside them", SOCK_STREAM, "127.0.0.1", port_p, 0);
    c = client("127.0.0.1", port_p);
    CHECK(c >= 0, "connect to the group");
    vk_msleep(20);
    int got = 0;
    for (int i = 0; i < 2; i++) {
        int s2 = accept(rp[i], NULL, NULL);
        got += s2 >= 0;
        close(s2);
    }
    printf("accepted by one of them: %d\n", got);
    close(c);
    close(rp[0]);
    close(rp[1]);
    printf("SO_REUSEPORT %d\n", int_opt(rp[0] = sock(AF_INET, SOCK_DGRAM), SOL_SOCKET, SO_REUSEPORT));
    close(rp[0]);

    a = bound(AF_INET, SOCK_STREAM, "127.0.0.1", 0, 0);
    struct sockaddr_in x = in4("127.0.0.1", 0);
    EXPECT_ERR("bind twice", bind(a, (struct sockaddr *)&x, sizeof x), EINVAL);
    close(a);
    try_bind("a non-local address", SOCK_STREAM, "192.0.2.1", 0, 0);
    try_bind("a non-local UDP address", SOCK_DGRAM, "192.0.2.1", 0, 0);

    /* Ephemeral ports: bind 0, listen unbound, connect unbound. */
    a = bound(AF_INET, SOCK_STREAM, "0.0.0.0", 0, 0);
    b = bound(AF_INET, SOCK_STREAM, "0.0.0.0", 0, 0);
    printf("two binds to port 0: %s %s, different %d\n", local(a), local(b), port_of(a) != port_of(b));
    close(b);
    int l = sock(AF_INET, SOCK_STREAM);
    printf("unbound: %s\n", local(l));
    CHECK(listen(l, 4) == 0, "listen unbound");
    port_p = port_of(l);
    printf("listening unbound: %s\n", local(l));
    c = sock(AF_INET, SOCK_STREAM);
    CHECK(connect_to(c, "127.0.0.1", port_p) == 0, "connect");
    printf("connected unbound: %s -> %s, port differs from the listener's %d\n", local(c), peer(c),
           port_of(c) != port_p);
    printf("value client_port %d\n", port_of(c));
    close(c);
    close(l);
    close(a);
}

/* ---- udp -------------------------------------------------------------------------- */

/* One datagram without waiting: "'text' from ADDR" or the error. */
static const char *dgram_from(int s, size_t room, int flags) {
    static char out[160];
    char buf[128] = {0};
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(s, buf, room, flags | MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
    if (n < 0)
        snprintf(out, sizeof out, "%s", err_name(errno));
    else
        snprintf(out, sizeof out, "%zd '%s' from %s", n, buf, addr_str(&from, flen));
    return out;
}

static void udp(void) {
    int r = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, 0);
    port_p = port_of(r);
    struct sockaddr_in ra = in4("127.0.0.1", port_p);
    int s = sock(AF_INET, SOCK_DGRAM);
    printf("receiver %s, readiness %s; sender %s, readiness %s\n", local(r), readiness(r), local(s),
           readiness(s));
    CHECK(sendto(s, "one", 3, 0, (struct sockaddr *)&ra, sizeof ra) == 3, "sendto");
    port_q = port_of(s);
    printf("the sender got a port: %s\n", local(s));
    CHECK(sendto(s, "two two", 7, 0, (struct sockaddr *)&ra, sizeof ra) == 7, "sendto");
    CHECK(sendto(s, "", 0, 0, (struct sockaddr *)&ra, sizeof ra) == 0, "empty");
    CHECK(sendto(s, "four!", 5, 0, (struct sockaddr *)&ra, sizeof ra) == 5, "sendto");
    settle();
    int n = -1;
    CHECK(ioctl(r, FIONREAD, &n) == 0, "FIONREAD");
    printf("FIONREAD %d, readiness %s\n", n, readiness(r));
    printf("peek: %s\n", dgram_from(r, 128, MSG_PEEK));
    printf("recv: %s\n", dgram_from(r, 128, 0));
    printf("recv 3 of 7: %s\n", dgram_from(r, 3, 0));
    printf("recv empty: %s\n", dgram_from(r, 128, 0));
    char buf[64] = {0};
    struct iovec iov = {buf, 2};
    struct sockaddr_in from;
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t k = recvmsg(r, &mh, MSG_TRUNC);
    printf("recvmsg MSG_TRUNC 2 of 5: %zd '%s', flags %s, from %s\n", k, buf,
           mh.msg_flags & MSG_TRUNC ? "MSG_TRUNC" : "none", addr_str(&from, mh.msg_namelen));
    printf("then: %s, readiness %s\n", dgram_from(r, 128, 0), readiness(r));

    /* sendmsg with a name; recv without one. */
    struct iovec out[2] = {{"via ", 4}, {"sendmsg", 7}};
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &ra;
    mh.msg_namelen = sizeof ra;
    mh.msg_iov = out;
    mh.msg_iovlen = 2;
    CHECK(sendmsg(s, &mh, 0) == 11, "sendmsg");
    settle();
    memset(buf, 0, sizeof buf);
    printf("recv: %zd '%s'\n", recv(r, buf, sizeof buf, 0), buf);

    /* Connected: sends without an address, and only the peer is heard. */
    CHECK(connect(s, (struct sockaddr *)&ra, sizeof ra) == 0, "connect");
    printf("connected: %s -> %s\n", local(s), peer(s));
    CHECK(send(s, "connected", 9, 0) == 9, "send");
    struct sockaddr_in sa = in4("127.0.0.1", port_q);
    CHECK(connect(r, (struct sockaddr *)&sa, sizeof sa) == 0, "connect back");
    int other = sock(AF_INET, SOCK_DGRAM);
    CHECK(sendto(other, "stranger", 8, 0, (struct sockaddr *)&ra, sizeof ra) == 8, "a stranger sends");
    settle();
    printf("connected receiver: %s\n", dgram_from(r, 128, 0));
    printf("then: %s\n", dgram_from(r, 128, 0));
    CHECK(sendto(s, "to", 2, 0, (struct sockaddr *)&ra, sizeof ra) == 2, "sendto on a connected socket");
    settle();
    printf("sendto on the connected socket: %s\n", dgram_from(r, 128, 0));
    struct sockaddr unspec;
    memset(&unspec, 0, sizeof unspec);
    unspec.sa_family = AF_UNSPEC;
    CHECK(connect(r, &unspec, sizeof unspec) == 0, "AF_UNSPEC");
    /* Linux gives back a port the socket did not choose itself (bound as port 0). */
    printf("disconnected: peer %s, local %s\n", peer(r), local(r));
    CHECK(sendto(other, "heard", 5, 0, (struct sockaddr *)&ra, sizeof ra) == 5, "sendto");
    settle();
    printf("sent to its old port: %s\n", dgram_from(r, 128, 0));
    close(other);
    close(r);
    r = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, 0);
    port_p = port_of(r);
    ra = in4("127.0.0.1", port_p);

    /* Nobody on the port: a connected sender hears of it, an unconnected one not. */
    int gone = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, 0);
    int gp = port_of(gone);
    close(gone);
    struct sockaddr_in ga = in4("127.0.0.1", gp);
    int u = sock(AF_INET, SOCK_DGRAM);
    CHECK(sendto(u, "x", 1, 0, (struct sockaddr *)&ga, sizeof ga) == 1, "unconnected to nobody");
    settle();
    printf("unconnected, nobody there: %s, %s\n", readiness(u), so_error(u));
    CHECK(connect(u, (struct sockaddr *)&ga, sizeof ga) == 0, "connect");
    printf("connected to nobody: send %s", res(send(u, "x", 1, 0)));
    settle();
    printf(", then %s", readiness(u));
    printf(", send %s", res(send(u, "x", 1, 0)));
    printf(", send %s", res(send(u, "x", 1, 0)));
    settle();
    printf(", recv %s", res(recv(u, buf, sizeof buf, MSG_DONTWAIT)));
    printf(", recv %s\n", res(recv(u, buf, sizeof buf, MSG_DONTWAIT)));
    close(u);

    static char big[65536];
    printf("65507 bytes: %s", res(sendto(s, big, 65507, 0, (struct sockaddr *)&ra, sizeof ra)));
    printf(", 65508: %s\n", res(sendto(s, big, 65508, 0, (struct sockaddr *)&ra, sizeof ra)));
    settle();
    printf("received: %s\n", res(recv(r, big, sizeof big, MSG_DONTWAIT)));
    CHECK(connect(s, &unspec, sizeof unspec) == 0, "AF_UNSPEC");
    printf("disconnected after an autobind: %s\n", local(s));
    u = sock(AF_INET, SOCK_DGRAM);
    EXPECT_ERR("send unconnected", send(u, "x", 1, 0), EDESTADDRREQ);
    EXPECT_ERR("getpeername unconnected", getpeername(u, (struct sockaddr *)&from, &(socklen_t){sizeof from}),
               ENOTCONN);
    EXPECT_ERR("recv on nothing", recv(u, buf, 1, MSG_DONTWAIT), EAGAIN);
    EXPECT_ERR("listen", listen(u, 1), EOPNOTSUPP);
    EXPECT_ERR("accept", accept(u, NULL, NULL), EOPNOTSUPP);
    EXPECT_ERR("shutdown unconnected", shutdown(u, SHUT_RD), ENOTCONN);
    printf("after that shutdown: %s\n", readiness(u));
    close(u);

    /* SO_REUSEADDR lets two UDP sockets share a port. */
    int a = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, 1);
    int pa = port_of(a);
    int b = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", pa, 0);
    printf("UDP port taken: %s", b >= 0 ? "ok" : err_name(errno));
    b = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", pa, 1);
    printf(", with SO_REUSEADDR on both: %s\n", b >= 0 ? "ok" : err_name(errno));
    close(a);
    close(b);
    close(r);
    close(s);
}

/* ---- cmsg -------------------------------------------------------------------------- */

/* Receives one datagram on r with a control buffer of `room` bytes and prints its
 * control messages. */
static void show_cmsgs(int r, size_t room) {
    char data[64] = {0}, control[256];
    struct iovec iov = {data, sizeof data - 1};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = room;
    ssize_t n = recvmsg(r, &mh, MSG_DONTWAIT);
    printf("  '%s' (%zd), controllen %d, flags %s\n", data, n, (int)mh.msg_controllen,
           mh.msg_flags & MSG_CTRUNC ? "MSG_CTRUNC" : "none");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        unsigned char *d = CMSG_DATA(c);
        int v;
        char ip[INET6_ADDRSTRLEN];
        printf("  level %d type %d len %d: ", c->cmsg_level, c->cmsg_type, (int)c->cmsg_len);
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, d, sizeof pi);
            char spec[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &pi.ipi_spec_dst, spec, sizeof spec);
            inet_ntop(AF_INET, &pi.ipi_addr, ip, sizeof ip);
            printf("IP_PKTINFO ifindex %d spec_dst %s addr %s\n", pi.ipi_ifindex, spec, ip);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, d, sizeof pi);
            inet_ntop(AF_INET6, &pi.ipi6_addr, ip, sizeof ip);
            printf("IPV6_PKTINFO ifindex %d addr %s\n", pi.ipi6_ifindex, ip);
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
            printf("IP_TOS %#x\n", d[0]);
        } else {
            memcpy(&v, d, sizeof v);
            printf("%d\n", v);
        }
    }
}

static void cmsg(void) {
    int r = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, 0);
    port_p = port_of(r);
    struct sockaddr_in ra = in4("127.0.0.1", port_p);
    int s = sock(AF_INET, SOCK_DGRAM);
    CHECK(set_int(s, IPPROTO_IP, IP_TOS, 0x28) == 0 && set_int(s, IPPROTO_IP, IP_TTL, 9) == 0, "sender");
    CHECK(sendto(s, "plain", 5, 0, (struct sockaddr *)&ra, sizeof ra) == 5, "sendto");
    settle();
    printf("no options:\n");
    show_cmsgs(r, 256);
    CHECK(set_int(r, IPPROTO_IP, IP_PKTINFO, 1) == 0 && set_int(r, IPPROTO_IP, IP_RECVTTL, 1) == 0 &&
              set_int(r, IPPROTO_IP, IP_RECVTOS, 1) == 0,
          "receiver options");
    for (int i = 0; i < 2; i++)
        CHECK(sendto(s, "with", 4, 0, (struct sockaddr *)&ra, sizeof ra) == 4, "sendto");
    settle();
    printf("IP_PKTINFO, IP_RECVTTL, IP_RECVTOS:\n");
    show_cmsgs(r, 256);
    printf("a control buffer with room for one:\n");
    show_cmsgs(r, CMSG_SPACE(sizeof(struct in_pktinfo)));

    int r6 = bound(AF_INET6, SOCK_DGRAM, "::", 0, 0);
    int p6 = port_of(r6);
    CHECK(set_int(r6, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) == 0 && set_int(r6, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) == 0 &&
              set_int(r6, IPPROTO_IPV6, IPV6_RECVTCLASS, 1) == 0,
          "v6 receiver options");
    int s6 = sock(AF_INET6, SOCK_DGRAM);
    CHECK(set_int(s6, IPPROTO_IPV6, IPV6_TCLASS, 0x20) == 0 && set_int(s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 7) == 0,
          "v6 sender");
    struct sockaddr_in6 r6a = in6("::1", p6);
    CHECK(sendto(s6, "six", 3, 0, (struct sockaddr *)&r6a, sizeof r6a) == 3, "sendto ::1");
    struct sockaddr_in r4a = in4("127.0.0.1", p6);
    CHECK(sendto(s, "four", 4, 0, (struct sockaddr *)&r4a, sizeof r4a) == 4, "sendto 127.0.0.1");
    settle();
    printf("IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS over ::1:\n");
    show_cmsgs(r6, 256);
    printf("the same on a v4 datagram:\n");
    show_cmsgs(r6, 256);
    close(r);
    close(s);
    close(r6);
    close(s6);
}

/* ---- ipv6 ------------------------------------------------------------------------- */

static void ipv6(void) {
    int c, s, v4;
    conn_pair("::1", &c, &s);
    printf("over ::1: %s -> %s\n", local(c), peer(c));
    CHECK(write(c, "six", 3) == 3, "write");
    char buf[64] = {0};
    CHECK(vk_readn(s, buf, 3) == 3, "read");
    printf("server read %s\n", buf);
    close(c);
    close(s);

    int l = listener_on("::", 4, &port_p);
    printf("dual-stack listener: %s, IPV6_V6ONLY %d\n", local(l), int_opt(l, IPPROTO_IPV6, IPV6_V6ONLY));
    c = client("127.0.0.1", port_p);
    CHECK(c >= 0, "v4 client");
    struct sockaddr_in6 from;
    socklen_t flen = sizeof from;
    s = accept(l, (struct sockaddr *)&from, &flen);
    CHECK(s >= 0, "accept");
    printf("v4 client: %s -> %s\n", local(c), peer(c));
    printf("accepted: %s -> %s\n", local(s), peer(s));
    printf("accept said %s\n", addr_str(&from, flen));
    close(c);
    close(s);
    c = client("::ffff:127.0.0.1", port_p);
    CHECK(c >= 0, "v4-mapped client");
    s = accept(l, NULL, NULL);
    printf("v4-mapped client: %s -> %s\n", local(c), peer(c));
    close(c);
    close(s);
    c = client("::", port_p);
    printf("connect to ::: %s -> %s\n", local(c), peer(c));
    close(c);
    close(accept(l, NULL, NULL));
    v4 = bound(AF_INET, SOCK_STREAM, "127.0.0.1", port_p, 0);
    printf("v4 bind over the dual-stack listener: %s\n", v4 >= 0 ? "ok" : err_name(errno));
    close(v4);
    close(l);

    int only = sock(AF_INET6, SOCK_STREAM);
    CHECK(set_int(only, IPPROTO_IPV6, IPV6_V6ONLY, 1) == 0, "IPV6_V6ONLY");
    struct sockaddr_in6 any = in6("::", 0);
    CHECK(bind(only, (struct sockaddr *)&any, sizeof any) == 0 && listen(only, 4) == 0, "listen");
    port_p = port_of(only);
    EXPECT_ERR("IPV6_V6ONLY once bound", set_int(only, IPPROTO_IPV6, IPV6_V6ONLY, 0), EINVAL);
    c = sock(AF_INET, SOCK_STREAM);
    EXPECT_ERR("v4 connect to a v6-only listener", connect_to(c, "127.0.0.1", port_p), ECONNREFUSED);
    close(c);
    v4 = bound(AF_INET, SOCK_STREAM, "0.0.0.0", port_p, 0);
    printf("v4 bind beside the v6-only listener: %s\n", v4 >= 0 ? "ok" : err_name(errno));
    close(v4);
    c = sock(AF_INET6, SOCK_STREAM);
    CHECK(set_int(c, IPPROTO_IPV6, IPV6_V6ONLY, 1) == 0, "IPV6_V6ONLY");
    struct sockaddr_in6 mapped = in6("::ffff:127.0.0.1", 0);
    EXPECT_ERR("v6-only bind to a v4-mapped address", bind(c, (struct sockaddr *)&mapped, sizeof mapped), EINVAL);
    close(c);
    close(only);

    /* Lengths: 24 bytes (RFC 2133's sockaddr_in6) do, 23 do not. */
    s = sock(AF_INET6, SOCK_STREAM);
    struct sockaddr_in6 lo = in6("::1", 0);
    EXPECT_ERR("sockaddr_in6 of 23 bytes", bind(s, (struct sockaddr *)&lo, 23), EINVAL);
    printf("of 24 bytes: %s\n", res(bind(s, (struct sockaddr *)&lo, 24)));
    close(s);
    s = sock(AF_INET6, SOCK_STREAM);
    printf("unbound: %s\n", local(s));
    struct sockaddr_in v4a = in4("127.0.0.1", 0);
    EXPECT_ERR("a sockaddr_in to AF_INET6", bind(s, (struct sockaddr *)&v4a, sizeof v4a), EINVAL);
    struct sockaddr_in6 far = in6("2001:db8::1", 0);
    EXPECT_ERR("a non-local address", bind(s, (struct sockaddr *)&far, sizeof far), EADDRNOTAVAIL);
    close(s);

    /* UDP over ::1, and from a v4 socket to a dual-stack one. */
    int r = bound(AF_INET6, SOCK_DGRAM, "::", 0, 0);
    port_p = port_of(r);
    int u6 = sock(AF_INET6, SOCK_DGRAM);
    struct sockaddr_in6 ra = in6("::1", port_p);
    CHECK(sendto(u6, "v6", 2, 0, (struct sockaddr *)&ra, sizeof ra) == 2, "sendto ::1");
    port_q = port_of(u6);
    int u4 = sock(AF_INET, SOCK_DGRAM);
    struct sockaddr_in ra4 = in4("127.0.0.1", port_p);
    CHECK(sendto(u4, "v4", 2, 0, (struct sockaddr *)&ra4, sizeof ra4) == 2, "sendto 127.0.0.1");
    settle();
    printf("udp6: %s\n", dgram_from(r, 128, 0));
    printf("udp6: %s\n", dgram_from(r, 128, 0));
    static char big[65528];
    printf("65527 bytes over v6: %s", res(sendto(u6, big, 65527, 0, (struct sockaddr *)&ra, sizeof ra)));
    printf(", 65528: %s\n", res(sendto(u6, big, 65528, 0, (struct sockaddr *)&ra, sizeof ra)));
    settle();
    close(r);
    close(u6);
    close(u4);
}

/* ---- epoll ------------------------------------------------------------------------ */

static const char *epbits(uint32_t e) {
    static char buf[2][96];
    static int turn;
    char *b = buf[turn++ % 2];
    b[0] = 0;
    if (e & EPOLLIN) strcat(b, "IN ");
    if (e & EPOLLOUT) strcat(b, "OUT ");
    if (e & EPOLLERR) strcat(b, "ERR ");
    if (e & EPOLLHUP) strcat(b, "HUP ");
    if (e & EPOLLRDHUP) strcat(b, "RDHUP ");
    if (!b[0]) strcat(b, "none ");
    b[strlen(b) - 1] = 0;
    return b;
}

/* The events epoll reports for its one socket now ("nothing" if none). */
static const char *ep_now(int ep) {
    struct epoll_event e;
    int n = epoll_wait(ep, &e, 1, 0);
    return n == 1 ? epbits(e.events) : n == 0 ? "nothing" : "error";
}

static int ep_for(int fd, uint32_t events) {
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = events, .data.fd = fd};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == 0, "epoll_ctl");
    return ep;
}

static void epoll_(void) {
    int t = sock(AF_INET, SOCK_STREAM), u = sock(AF_INET, SOCK_DGRAM);
    printf("fresh TCP: %s; fresh UDP: %s\n", readiness(t), readiness(u));
    close(t);
    close(u);

    int l = listener_on("127.0.0.1", 4, &port_p);
    int lep = ep_for(l, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    printf("listener: %s, epoll %s\n", readiness(l), ep_now(lep));
    int c = client("127.0.0.1", port_p);
    printf("with a connection waiting: %s, epoll %s\n", readiness(l), ep_now(lep));
    int s = accept(l, NULL, NULL);
    printf("accepted: epoll %s\n", ep_now(lep));

    int ep = ep_for(s, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    int et = ep_for(s, EPOLLIN | EPOLLRDHUP | EPOLLET);
    printf("connected: %s, epoll %s, edge %s\n", readiness(s), ep_now(ep), ep_now(et));
    CHECK(write(c, "a", 1) == 1, "write");
    settle();
    printf("data: epoll %s", ep_now(ep));
    printf(", edge %s", ep_now(et));
    printf(", edge again %s\n", ep_now(et));
    CHECK(write(c, "b", 1) == 1, "write");
    settle();
    printf("more data: edge %s", ep_now(et));
    printf(", edge again %s\n", ep_now(et));
    char buf[8];
    CHECK(read(s, buf, sizeof buf) == 2, "read");
    printf("drained: epoll %s\n", ep_now(ep));
    CHECK(shutdown(c, SHUT_WR) == 0, "shutdown");
    settle();
    printf("peer SHUT_WR: epoll %s", ep_now(ep));
    printf(", edge %s\n", ep_now(et));
    CHECK(write(s, "zz", 2) == 2, "write");
    close(c);
    settle();
    printf("peer closed with unread data: %s", readiness(s));
    printf(", epoll %s", ep_now(ep));
    printf(", edge %s\n", ep_now(et));
    close(ep);
    close(et);
    close(s);

    /* A non-blocking connect seen through select. */
    c = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    connect_to(c, "127.0.0.1", port_p);
    fd_set w;
    FD_ZERO(&w);
    FD_SET(c, &w);
    struct timeval tv = {2, 0};
    int n = select(c + 1, NULL, &w, NULL, &tv);
    printf("select on a connecting socket: %d writable %d, SO_ERROR %s\n", n, FD_ISSET(c, &w) != 0,
           so_error(c));
    close(c);
    close(accept(l, NULL, NULL));
    close(lep);
    close(l);

    /* A blocked reader woken by data from another process. */
    conn_pair("127.0.0.1", &c, &s);
    pid_t pid = vk_fork();
    if (pid == 0) {
        vk_msleep(100);
        vk_exit(write(c, "late", 4) == 4 ? 0 : 1);
    }
    ep = ep_for(s, EPOLLIN);
    struct epoll_event e;
    n = epoll_wait(ep, &e, 1, 5000);
    printf("epoll_wait for a late writer: %d %s\n", n, n == 1 ? epbits(e.events) : "-");
    vk_reap_ok(pid, "late writer");
    close(ep);
    close(c);
    close(s);
}

/* ---- options ---------------------------------------------------------------------- */

static void show_opt(const char *what, int s, int level, int name) {
    int v = int_opt(s, level, name);
    if (v <= -1000 && v % 1000 == 0)
        printf("%s: %s\n", what, err_name(-v / 1000));
    else
        printf("%s: %d\n", what, v);
}

static void set_show(const char *what, int s, int level, int name, int v) {
    int r = set_int(s, level, name, v);
    printf("%s = %d: %s", what, v, r == 0 ? "ok" : err_name(errno));
    printf(", now %d\n", int_opt(s, level, name));
}

static void options(void) {
    int kinds[4][2] = {{AF_INET, SOCK_STREAM}, {AF_INET, SOCK_DGRAM}, {AF_INET6, SOCK_STREAM}, {AF_INET6, SOCK_DGRAM}};
    for (int i = 0; i < 4; i++) {
        int s = sock(kinds[i][0], kinds[i][1]);
        printf("SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d SO_ACCEPTCONN %d SO_ERROR %d\n", int_opt(s, SOL_SOCKET, SO_TYPE),
               int_opt(s, SOL_SOCKET, SO_DOMAIN), int_opt(s, SOL_SOCKET, SO_PROTOCOL),
               int_opt(s, SOL_SOCKET, SO_ACCEPTCONN), int_opt(s, SOL_SOCKET, SO_ERROR));
        printf("value buffers%d %d %d\n", i, int_opt(s, SOL_SOCKET, SO_SNDBUF), int_opt(s, SOL_SOCKET, SO_RCVBUF));
        close(s);
    }
    int t = sock(AF_INET, SOCK_STREAM);
    show_opt("TCP_NODELAY", t, IPPROTO_TCP, TCP_NODELAY);
    set_show("TCP_NODELAY", t, IPPROTO_TCP, TCP_NODELAY, 5);
    show_opt("TCP_MAXSEG", t, IPPROTO_TCP, TCP_MAXSEG);
    set_show("TCP_MAXSEG", t, IPPROTO_TCP, TCP_MAXSEG, 1000);
    set_show("TCP_MAXSEG", t, IPPROTO_TCP, TCP_MAXSEG, 10);
    set_show("TCP_MAXSEG", t, IPPROTO_TCP, TCP_MAXSEG, 40000);
    show_opt("TCP_KEEPIDLE", t, IPPROTO_TCP, TCP_KEEPIDLE);
    set_show("TCP_KEEPIDLE", t, IPPROTO_TCP, TCP_KEEPIDLE, 60);
    set_show("TCP_KEEPIDLE", t, IPPROTO_TCP, TCP_KEEPIDLE, 0);
    set_show("TCP_KEEPIDLE", t, IPPROTO_TCP, TCP_KEEPIDLE, 40000);
    show_opt("TCP_KEEPINTVL", t, IPPROTO_TCP, TCP_KEEPINTVL);
    set_show("TCP_KEEPINTVL", t, IPPROTO_TCP, TCP_KEEPINTVL, 5);
    show_opt("TCP_KEEPCNT", t, IPPROTO_TCP, TCP_KEEPCNT);
    set_show("TCP_KEEPCNT", t, IPPROTO_TCP, TCP_KEEPCNT, 3);
    set_show("TCP_KEEPCNT", t, IPPROTO_TCP, TCP_KEEPCNT, 128);
    show_opt("TCP_CORK", t, IPPROTO_TCP, TCP_CORK);
    set_show("TCP_CORK", t, IPPROTO_TCP, TCP_CORK, 1);
    show_opt("TCP_SYNCNT", t, IPPROTO_TCP, TCP_SYNCNT);
    set_show("TCP_SYNCNT", t, IPPROTO_TCP, TCP_SYNCNT, 200);
    show_opt("TCP_USER_TIMEOUT", t, IPPROTO_TCP, TCP_USER_TIMEOUT);
    set_show("TCP_USER_TIMEOUT", t, IPPROTO_TCP, TCP_USER_TIMEOUT, 3000);
    set_show("TCP_USER_TIMEOUT", t, IPPROTO_TCP, TCP_USER_TIMEOUT, -1);
    printf("TCP_NODELAY with 2 bytes: %s\n", res(setsockopt(t, IPPROTO_TCP, TCP_NODELAY, "\1\0", 2)));
    int v = 0;
    socklen_t len = 2;
    printf("get TCP_NODELAY into 2 bytes: %s", res(getsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, &len)));
    printf(", length %d\n", (int)len);
    printf("unknown TCP option: set %s", res(set_int(t, IPPROTO_TCP, 9999, 1)));
    printf(", get %s\n", res(getsockopt(t, IPPROTO_TCP, 9999, &v, &(socklen_t){4})));
    printf("unknown level: set %s", res(set_int(t, 99, 1, 1)));
    printf(", get %s\n", res(getsockopt(t, 99, 1, &v, &(socklen_t){4})));

    show_opt("IP_TTL", t, IPPROTO_IP, IP_TTL);
    set_show("IP_TTL", t, IPPROTO_IP, IP_TTL, 7);
    set_show("IP_TTL", t, IPPROTO_IP, IP_TTL, 0);
    set_show("IP_TTL", t, IPPROTO_IP, IP_TTL, 256);
    set_show("IP_TTL", t, IPPROTO_IP, IP_TTL, -1);
    set_show("IP_TOS (TCP)", t, IPPROTO_IP, IP_TOS, 0x13);
    printf("unknown IP option: set %s", res(set_int(t, IPPROTO_IP, 9999, 1)));
    printf(", get %s\n", res(getsockopt(t, IPPROTO_IP, 9999, &v, &(socklen_t){4})));
    printf("IPV6_V6ONLY on AF_INET: set %s", res(set_int(t, IPPROTO_IPV6, IPV6_V6ONLY, 1)));
    printf(", get %s\n", res(getsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &v, &(socklen_t){4})));
    close(t);

    int u = sock(AF_INET, SOCK_DGRAM);
    set_show("IP_TOS (UDP)", u, IPPROTO_IP, IP_TOS, 0x13);
    printf("TCP_NODELAY on UDP: set %s", res(set_int(u, IPPROTO_TCP, TCP_NODELAY, 1)));
    printf(", get %s\n", res(getsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v, &(socklen_t){4})));
    set_show("SO_REUSEADDR", u, SOL_SOCKET, SO_REUSEADDR, 1);
    set_show("SO_REUSEPORT", u, SOL_SOCKET, SO_REUSEPORT, 1);
    close(u);
    int unx = sock(AF_UNIX, SOCK_STREAM);
    set_show("SO_REUSEPORT on AF_UNIX", unx, SOL_SOCKET, SO_REUSEPORT, 1);
    set_show("SO_REUSEPORT on AF_UNIX", unx, SOL_SOCKET, SO_REUSEPORT, 0);
    close(unx);

    int s6 = sock(AF_INET6, SOCK_STREAM);
    show_opt("IPV6_V6ONLY", s6, IPPROTO_IPV6, IPV6_V6ONLY);
    set_show("IPV6_V6ONLY", s6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    show_opt("IPV6_UNICAST_HOPS", s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
    set_show("IPV6_UNICAST_HOPS", s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9);
    set_show("IPV6_UNICAST_HOPS", s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 300);
    set_show("IPV6_UNICAST_HOPS", s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -1);
    set_show("IPV6_TCLASS", s6, IPPROTO_IPV6, IPV6_TCLASS, 0x20);
    printf("unknown IPv6 option: set %s", res(set_int(s6, IPPROTO_IPV6, 9999, 1)));
    printf(", get %s\n", res(getsockopt(s6, IPPROTO_IPV6, 9999, &v, &(socklen_t){4})));
    close(s6);

    int c, s;
    conn_pair("127.0.0.1", &c, &s);
    CHECK(set_int(c, IPPROTO_TCP, TCP_NODELAY, 1) == 0, "TCP_NODELAY connected");
    printf("connected: TCP_NODELAY %d, server's %d\n", int_opt(c, IPPROTO_TCP, TCP_NODELAY),
           int_opt(s, IPPROTO_TCP, TCP_NODELAY));
    printf("value maxseg_connected %d\n", int_opt(c, IPPROTO_TCP, TCP_MAXSEG));
    char cc[16] = {0};
    len = sizeof cc;
    printf("TCP_CONGESTION: %s", res(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cc, &len)));
    printf("\nvalue congestion %s\n", cc);
    close(c);
    close(s);
}

/* ---- errors ----------------------------------------------------------------------- */

static void errors(void) {
    int fams[2] = {AF_INET, AF_INET6};
    for (int i = 0; i < 2; i++) {
        int f = fams[i];
        printf("family %d:\n", f);
        int s = socket(f, SOCK_STREAM, IPPROTO_TCP);
        printf("  SOCK_STREAM IPPROTO_TCP: %s\n", s >= 0 ? "ok" : err_name(errno));
        close(s);
        s = socket(f, SOCK_DGRAM, IPPROTO_UDP);
        printf("  SOCK_DGRAM IPPROTO_UDP: %s\n", s >= 0 ? "ok" : err_name(errno));
        close(s);
        EXPECT_ERR("  SOCK_STREAM IPPROTO_UDP", socket(f, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
        EXPECT_ERR("  SOCK_DGRAM IPPROTO_TCP", socket(f, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
        EXPECT_ERR("  SOCK_SEQPACKET", socket(f, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
        EXPECT_ERR("  protocol -1", socket(f, SOCK_STREAM, -1), EINVAL);
        EXPECT_ERR("  protocol 300", socket(f, SOCK_STREAM, 300), EINVAL);
        EXPECT_ERR("  type 11", socket(f, 11, 0), EINVAL);
    }

    int t = sock(AF_INET, SOCK_STREAM);
    struct sockaddr_in a = in4("127.0.0.1", 0);
    EXPECT_ERR("bind 15 bytes", bind(t, (struct sockaddr *)&a, 15), EINVAL);
    EXPECT_ERR("bind 0 bytes", bind(t, (struct sockaddr *)&a, 0), EINVAL);
    EXPECT_ERR("bind 129 bytes", bind(t, (struct sockaddr *)&a, 129), EINVAL);
    EXPECT_ERR("bind a bad pointer", bind(t, (struct sockaddr *)8, sizeof a), EFAULT);
    a.sin_family = AF_INET6;
    EXPECT_ERR("bind AF_INET6 to AF_INET", bind(t, (struct sockaddr *)&a, sizeof a), EAFNOSUPPORT);
    a.sin_family = AF_UNSPEC;
    EXPECT_ERR("bind AF_UNSPEC to 127.0.0.1", bind(t, (struct sockaddr *)&a, sizeof a), EAFNOSUPPORT);
    a = in4("0.0.0.0", 0);
    a.sin_family = AF_UNSPEC;
    printf("bind AF_UNSPEC to 0.0.0.0: %s\n", res(bind(t, (struct sockaddr *)&a, sizeof a)));
    close(t);

    t = sock(AF_INET, SOCK_STREAM);
    a = in4("127.0.0.1", 1);
    EXPECT_ERR("connect 15 bytes", connect(t, (struct sockaddr *)&a, 15), EINVAL);
    EXPECT_ERR("connect 1 byte", connect(t, (struct sockaddr *)&a, 1), EINVAL);
    a.sin_family = AF_UNIX;
    EXPECT_ERR("connect AF_UNIX", connect(t, (struct sockaddr *)&a, sizeof a), EAFNOSUPPORT);
    char buf[8];
    EXPECT_ERR("recv unconnected", recv(t, buf, 1, 0), ENOTCONN);
    EXPECT_ERR("getpeername unconnected", getpeername(t, (struct sockaddr *)&a, &(socklen_t){sizeof a}), ENOTCONN);
    EXPECT_ERR("accept unlistened", accept(t, NULL, NULL), EINVAL);
    vk_handle(SIGPIPE, on_sigpipe, 0);
    EXPECT_ERR("send unconnected", send(t, "x", 1, 0), EPIPE);
    printf("SIGPIPEs %d\n", (int)sigpipes);
    close(t);

    int c, s;
    conn_pair("127.0.0.1", &c, &s);
    struct sockaddr_in elsewhere = in4("127.0.0.9", 9);
    printf("sendto on connected TCP ignores the address: %s\n",
           res(sendto(c, "x", 1, 0, (struct sockaddr *)&elsewhere, sizeof elsewhere)));
    EXPECT_ERR("listen on a connected socket", listen(c, 1), EINVAL);
    struct sockaddr_in x = in4("127.0.0.1", 0);
    EXPECT_ERR("bind a connected socket", bind(c, (struct sockaddr *)&x, sizeof x), EINVAL);
    close(c);
    close(s);

    int u = sock(AF_INET, SOCK_DGRAM);
    int r = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, 0);
    a = in4("127.0.0.1", port_of(r));
    EXPECT_ERR("sendto 15 bytes", sendto(u, "x", 1, 0, (struct sockaddr *)&a, 15), EINVAL);
    a.sin_family = AF_INET6;
    EXPECT_ERR("sendto AF_INET6 address", sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a), EAFNOSUPPORT);
    a.sin_family = AF_UNSPEC;
    printf("sendto AF_UNSPEC address: %s\n", res(sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a)));
    a = in4("127.0.0.1", 0);
    EXPECT_ERR("sendto port 0", sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a), EINVAL);
    EXPECT_ERR("connect UDP 15 bytes", connect(u, (struct sockaddr *)&a, 15), EINVAL);
    close(u);
    close(r);

    int s6 = sock(AF_INET6, SOCK_STREAM);
    struct sockaddr_in6 b = in6("::1", 1);
    EXPECT_ERR("connect v6 23 bytes", connect(s6, (struct sockaddr *)&b, 23), EINVAL);
    b.sin6_family = AF_INET;
    EXPECT_ERR("connect v6 with AF_INET", connect(s6, (struct sockaddr *)&b, sizeof b), EAFNOSUPPORT);
    close(s6);
}

/* ---- wait ------------------------------------------------------------------------- */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

/* Arms a one-shot SIGALRM in `ms` milliseconds. */
static void alarm_ms(long ms) {
    struct itimerval t = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &t, NULL);
}

static void wait_(void) {
    int c, s;
    char buf[16] = {0};
    conn_pair("127.0.0.1", &c, &s);
    vk_handle(SIGALRM, on_alarm, 0);
    alarm_ms(100);
    EXPECT_ERR("recv interrupted", recv(s, buf, sizeof buf, 0), EINTR);
    vk_handle(SIGALRM, on_alarm, SA_RESTART);
    pid_t pid = vk_fork();
    if (pid == 0) {
        vk_msleep(300);
        vk_exit(write(c, "late", 4) == 4 ? 0 : 1);
    }
    alarm_ms(100);
    printf("recv with SA_RESTART: %zd", recv(s, buf, sizeof buf, 0));
    printf(" '%s' after %d alarms\n", buf, (int)alarms);
    vk_reap_ok(pid, "late writer");
    struct timeval tv = {0, 100000};
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
    EXPECT_ERR("recv with SO_RCVTIMEO", recv(s, buf, sizeof buf, 0), EAGAIN);

    /* A writer fills the window, then blocks until the reader drains it. */
    static char chunk[65536];
    CHECK(fcntl(c, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
    size_t queued = 0;
    for (ssize_t n; (n = write(c, chunk, sizeof chunk)) > 0;)
        queued += (size_t)n;
    printf("window full: %s, writable %s\n", err_name(errno), vk_pollbits(revents_ms(c, POLLOUT, 0)));
    printf("value queued %zu\n", queued);
    CHECK(fcntl(c, F_SETFL, 0) == 0, "blocking again");
    pid = vk_fork();
    if (pid == 0) {
        vk_msleep(200);
        size_t got = 0;
        while (got < queued + sizeof chunk) {
            ssize_t n = read(s, chunk, sizeof chunk);
            if (n <= 0)
                vk_exit(1);
            got += (size_t)n;
        }
        vk_exit(0);
    }
    printf("blocked write: %zd\n", write(c, chunk, sizeof chunk));
    vk_reap_ok(pid, "reader");
    close(c);
    close(s);

    /* accept interrupted; a blocking connect into a full backlog waits for an accept. */
    int l = listener_on("127.0.0.1", 0, &port_p);
    vk_handle(SIGALRM, on_alarm, 0);
    alarm_ms(100);
    EXPECT_ERR("accept interrupted", accept(l, NULL, NULL), EINTR);
    int first = client("127.0.0.1", port_p);
    CHECK(first >= 0, "the first connection fills listen(0)");
    pid = vk_fork();
    if (pid == 0) {
        vk_msleep(200);
        int a = accept(l, NULL, NULL);
        vk_exit(a >= 0 ? 0 : 1);
    }
    c = sock(AF_INET, SOCK_STREAM);
    printf("blocking connect into a full backlog: %s\n", res(connect_to(c, "127.0.0.1", port_p)));
    vk_reap_ok(pid, "acceptor");
    int a = accept(l, NULL, NULL);
    printf("then accepted: %d, peer %s\n", a >= 0, peer(c));
    close(a);
    close(c);
    close(first);

    /* poll on a listener wakes when a connection comes. */
    pid = vk_fork();
    if (pid == 0) {
        vk_msleep(100);
        int x = client("127.0.0.1", port_p);
        vk_exit(x >= 0 ? 0 : 1);
    }
    printf("poll on the listener: %s\n", vk_pollbits(revents_ms(l, POLLIN, 5000)));
    vk_reap_ok(pid, "connector");
    close(accept(l, NULL, NULL));
    close(l);
}

/* ---- many ------------------------------------------------------------------------- */

/* 16 clients at once against a server that echoes each connection in a process of
 * its own, 256 KiB each way per client, with checksums. (The backlog takes them all:
 * natively, connections a full backlog drops can take seconds to recover.) */
static void many(void) {
    enum { CLIENTS = 16, SIZE = 256 * 1024 };
    int l = listener_on("127.0.0.1", CLIENTS, &port_p);
    pid_t server = vk_fork();
    if (server == 0) {
        pid_t kids[CLIENTS];
        for (int i = 0; i < CLIENTS; i++) {
            int s = accept(l, NULL, NULL);
            if (s < 0)
                vk_exit(1);
            kids[i] = fork();
            if (kids[i] == 0) {
                static char buf[65536];
                ssize_t n;
                while ((n = read(s, buf, sizeof buf)) > 0)
                    if (vk_writen(s, buf, (size_t)n) != (size_t)n)
                        _exit(1);
                _exit(n == 0 ? 0 : 1);
            }
            close(s);
        }
        int bad = 0;
        for (int i = 0; i < CLIENTS; i++) {
            int st;
            bad += waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
        }
        vk_exit(bad);
    }
    close(l);
    pid_t clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = vk_fork();
        if (clients[i] == 0) {
            unsigned char *out = malloc(SIZE), *back = malloc(SIZE);
            vk_fill(out, SIZE, (unsigned)i);
            int c = client("127.0.0.1", port_p);
            if (c < 0)
                vk_exit(2);
            pid_t w = fork();
            if (w == 0)
                _exit(vk_writen(c, out, SIZE) == SIZE && shutdown(c, SHUT_WR) == 0 ? 0 : 1);
            size_t got = vk_readn(c, back, SIZE);
            int st;
            waitpid(w, &st, 0);
            vk_exit(got == SIZE && vk_fnv(back, SIZE) == vk_fnv(out, SIZE) && WIFEXITED(st) &&
                            WEXITSTATUS(st) == 0
                        ? 0
                        : 3);
        }
    }
    int ok = 0;
    for (int i = 0; i < CLIENTS; i++) {
        int st = vk_wait(clients[i]);
        ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client %d: %s", i, vk_status(st));
    }
    printf("%d of %d clients echoed with the right checksum\n", ok, CLIENTS);
    vk_reap_ok(server, "server");
}

/* ---- checkpoint modes ------------------------------------------------------------- */

/* A child streams 6 MiB to the parent in writes of `chunk` bytes; the parent reads
 * slowly and checks the checksum. */
static int dial_p(const void *arg) {
    (void)arg;
    return client("127.0.0.1", port_p);
}

static void stream(size_t chunk) {
    int l = listener_on("127.0.0.1", 1, &port_p);
    vk_slow_transfer(l, dial_p, NULL, 6u << 20, chunk, 17);
    close(l);
}

static void xfer(void) { stream(1u << 20); }

static void xfer1(void) { stream(6u << 20); }

static void pending(void) {
    int l = listener_on("127.0.0.1", 1, &port_p);
    int c1 = client("127.0.0.1", port_p), c2 = client("127.0.0.1", port_p);
    CHECK(c1 >= 0 && c2 >= 0, "connect");
    /* The backlog is full: this one waits for room (its SYN dropped). */
    int c3 = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    printf("third connect: %s\n", res(connect_to(c3, "127.0.0.1", port_p)));
    CHECK(write(c1, "before accept", 13) == 13, "write");
    int c6, s6;
    conn_pair("::1", &c6, &s6);
    CHECK(write(c6, "to the server", 13) == 13 && write(s6, "to the client", 13) == 13, "write");
    CHECK(shutdown(c6, SHUT_WR) == 0, "shutdown");
    CHECK(set_int(c1, IPPROTO_TCP, TCP_NODELAY, 1) == 0 && set_int(l, SOL_SOCKET, SO_REUSEADDR, 1) == 0, "options");
    printf("two connections in the backlog, one waiting, a half-closed one over ::1; waiting\n");
    fflush(stdout);
    vk_msleep(1000);
    printf("listener: %s, %s, SO_REUSEADDR %d\n", readiness(l), local(l), int_opt(l, SOL_SOCKET, SO_REUSEADDR));
    /* The ports are still taken: by the listener, and by the connections' own. */
    try_bind("the listener's port", SOCK_STREAM, "127.0.0.1", port_p, 0);

    for (int i = 0; i < 2; i++) {
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        int s = accept(l, (struct sockaddr *)&from, &flen);
        CHECK(s >= 0, "accept");
        char buf[32] = {0};
        ssize_t k = recv(s, buf, sizeof buf, MSG_DONTWAIT);
        printf("accepted from %s: %zd '%s'\n", addr_str(&from, flen), k, k > 0 ? buf : "");
        CHECK(write(s, "reply", 5) == 5, "reply");
        close(s);
    }
    printf("third connection after two accepts: %s\n", vk_pollbits(revents_ms(c3, POLLOUT, 3000)));
    int s3 = accept(l, NULL, NULL);
    CHECK(s3 >= 0 && write(c3, "3", 1) == 1, "the third connection");
    char buf[32] = {0};
    CHECK(read(s3, buf, sizeof buf) == 1, "read from the third");
    printf("third connection carries '%s'\n", buf);
    int fresh = client("127.0.0.1", port_p);
    CHECK(fresh >= 0, "a new connection");
    printf("a new connection's port is its own: %d\n",
           port_of(fresh) != port_of(c1) && port_of(fresh) != port_of(c2) && port_of(fresh) != port_of(c3));
    close(s3);
    close(c3);
    memset(buf, 0, sizeof buf);
    CHECK(vk_readn(c1, buf, 5) == 5, "read reply");
    printf("client 1 got: %s, TCP_NODELAY %d, %s\n", buf, int_opt(c1, IPPROTO_TCP, TCP_NODELAY), peer(c1));
    printf("half-closed: client %s, server %s\n", readiness(c6), readiness(s6));
    memset(buf, 0, sizeof buf);
    printf("server reads %zu '%s'", vk_readn(s6, buf, sizeof buf), buf);
    memset(buf, 0, sizeof buf);
    printf(", client reads %zu '%s'\n", vk_readn(c6, buf, 13), buf);
    EXPECT_ERR("the client may not write", send(c6, "x", 1, MSG_NOSIGNAL), EPIPE);
    close(c1);
    close(c2);
    close(c6);
    close(s6);
    close(fresh);
    close(l);
}

static void dgrams(void) {
    int r = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, 0);
    port_p = port_of(r);
    struct sockaddr_in ra = in4("127.0.0.1", port_p);
    int s = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, 0);
    port_q = port_of(s);
    int u = sock(AF_INET, SOCK_DGRAM);
    const char *msgs[4] = {"one", "two two", "", "four!"};
    for (int i = 0; i < 4; i++)
        CHECK(sendto(i % 2 ? u : s, msgs[i], strlen(msgs[i]), 0, (struct sockaddr *)&ra, sizeof ra) ==
                  (ssize_t)strlen(msgs[i]),
              "sendto");
    CHECK(connect(s, (struct sockaddr *)&ra, sizeof ra) == 0, "connect");
    int r6 = bound(AF_INET6, SOCK_DGRAM, "::1", 0, 0);
    struct sockaddr_in6 r6a = in6("::1", port_of(r6));
    CHECK(sendto(r6, "self", 4, 0, (struct sockaddr *)&r6a, sizeof r6a) == 4, "sendto self");
    printf("five datagrams queued; waiting\n");
    fflush(stdout);
    vk_msleep(1000);
    for (int i = 0; i < 4; i++)
        printf("datagram %d: %s\n", i, dgram_from(r, 128, 0));
    printf("then: %s\n", dgram_from(r, 128, 0));
    printf("v6: %s\n", dgram_from(r6, 128, 0) + 0);
    printf("connected: %s -> %s\n", local(s), peer(s));
    CHECK(send(s, "after", 5, 0) == 5, "send");
    printf("after the thaw: %s\n", dgram_from(r, 128, 0));
    close(r);
    close(s);
    close(u);
    close(r6);
}

static void blocked(void) {
    int p1, p2;
    int l1 = listener_on("127.0.0.1", 0, &p1), l2 = listener_on("127.0.0.1", 1, &p2);
    int first = client("127.0.0.1", p1);
    CHECK(first >= 0, "fill the backlog");
    pid_t d = vk_fork();
    if (d == 0) {
        int a = accept(l2, NULL, NULL);
        char ch = 0;
        vk_exit(a >= 0 && read(a, &ch, 1) == 1 && ch == 'd' ? 0 : 1);
    }
    pid_t b = vk_fork();
    if (b == 0) {
        int c = client("127.0.0.1", p1);
        vk_exit(c >= 0 && write(c, "b", 1) == 1 ? 0 : 1);
    }
    CHECK(write(first, "a", 1) == 1, "write");
    printf("one server in accept, one client in connect; waiting\n");
    fflush(stdout);
    vk_msleep(1000);
    int c = client("127.0.0.1", p2);
    CHECK(c >= 0 && write(c, "d", 1) == 1, "connect to the server in accept");
    vk_reap_ok(d, "the server blocked in accept");
    for (int i = 0; i < 2; i++) {
        int s = accept(l1, NULL, NULL);
        char ch = 0;
        CHECK(s >= 0 && read(s, &ch, 1) == 1, "accept");
        printf("accepted %c\n", ch);
        close(s);
    }
    vk_reap_ok(b, "the client blocked in connect");
    close(c);
    close(first);
    close(l1);
    close(l2);
}

static const struct vk_mode modes[] = {
    {"tcp", tcp},         {"halfclose", halfclose}, {"reset", reset}, {"connect", connect_},
    {"bind", bind_},      {"udp", udp},             {"ipv6", ipv6},   {"epoll", epoll_},
    {"options", options}, {"errors", errors},       {"xfer", xfer},   {"pending", pending},
    {"dgrams", dgrams},   {"-offlink", offlink},    {"wait", wait_},  {"blocked", blocked},
    {"cmsg", cmsg},       {"many", many},           {"xfer1", xfer1},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("inet", modes, argc, argv); }
