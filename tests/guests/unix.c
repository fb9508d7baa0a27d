/* unix: AF_UNIX sockets, selected by argv[1].
 *
 *   pair       socketpair(SOCK_STREAM): data both ways, fstat, /proc/self/fd, F_GETFL,
 *              names (family only), SO_TYPE/DOMAIN/PROTOCOL/ACCEPTCONN, SO_PEERCRED,
 *              lseek ESPIPE, FIONREAD, shutdown(SHUT_WR) gives the peer EOF,
 *              EPIPE (SIGPIPE counted) after shutdown and after the peer closes,
 *              MSG_NOSIGNAL, ECONNRESET when the peer closes with unread data
 *   stream     a path name: bind makes a socket node (mode from the umask), listen,
 *              connect from a child, accept; names with Linux's lengths, SO_PEERCRED
 *              on both sides, data, EOF; ENOENT, ECONNREFUSED (a regular file, a node
 *              whose socket closed), EADDRINUSE, EINVAL (bound twice, listen
 *              unbound, accept unlistened, connect on a listener), EISCONN,
 *              EPROTOTYPE; unlink takes the name away
 *   abstract   abstract names: exact lengths, EADDRINUSE, one namespace per type,
 *              autobind ("\0" + 5 hex digits), connect by name, the name is free
 *              again once its socket closes
 *   backlog    listen(1) holds two connections, a third non-blocking connect is
 *              EAGAIN, accepting one makes room; a blocking connect waits for an
 *              accept; data written before the accept; accept4 flags; poll on a
 *              listener; a non-blocking accept of nothing is EAGAIN; SHUT_RD on a
 *              listener: accept EINVAL, connect ECONNREFUSED
 *   big        8 MiB through a connection in odd chunks, MSG_WAITALL reads; checksum
 *   dgram      datagrams: sender addresses (length 0 from an unbound sender),
 *              boundaries, MSG_TRUNC both ways, MSG_PEEK, FIONREAD, empty datagrams,
 *              connect (EPERM for others), ENOTCONN, a full receiver (11 queued,
 *              then EAGAIN, or a blocking send that waits for room), EMSGSIZE, ECONNREFUSED then ENOTCONN after the peer
 *              closes, SOCK_RAW is a datagram socket
 *   seqpacket  boundaries and MSG_TRUNC over socketpair and over listen/connect;
 *              ENOTCONN unconnected; 0 after the peer closes; EPIPE without SIGPIPE
 *   rights     SCM_RIGHTS: a pipe end and a file passed and used after the sender
 *              closed them; a socket passed over a socket; MSG_CTRUNC closes what
 *              does not fit; MSG_CMSG_CLOEXEC; MSG_PEEK passes new descriptors;
 *              stream reads stop after a message with files; EBADF, EINVAL (254
 *              descriptors, a bad cmsg_len, an unknown type)
 *   creds      SO_PASSCRED / SCM_CREDENTIALS: the sender's own by default, explicit
 *              ones checked (EPERM for another user's, ESRCH for no process); no
 *              credentials without SO_PASSCRED; SO_PEERCRED of a setuid child
 *   options    SO_SNDBUF/SO_RCVBUF doubling, SO_RCVTIMEO/SO_SNDTIMEO (EAGAIN after
 *              the timeout, EDOM), boolean options, SO_LINGER, SO_RCVLOWAT, SO_ERROR,
 *              SO_SNDLOWAT, unknown options ENOPROTOOPT, other levels EOPNOTSUPP
 *   wait       poll, select and epoll (also EPOLLET) on sockets; a blocked recv and
 *              accept interrupted by a signal: EINTR, restarted with SA_RESTART, EINTR
 *              with SA_RESTART when SO_RCVTIMEO is set; O_NONBLOCK, FIONBIO,
 *              MSG_DONTWAIT; sendmmsg and recvmmsg
 *   flood      connections until EMFILE (RLIMIT_NOFILE 512; how many fit depends on
 *              the descriptors inherited, a "value"), then every waiting one accepted
 *   errors     bad families, types, protocols, flags, address lengths; ENOTSOCK,
 *              EBADF, EINVAL, EOPNOTSUPP, EMSGSIZE; open() of a socket node is ENXIO;
 *              MSG_OOB is a "value" line (vkernel does not have it)
 *   procnet    /proc/net/unix: a path listener with an accepted connection and one
 *              not accepted (no inode, SS_CONNECTING), an abstract seqpacket
 *              listener with a NUL in its name, a stream pair, a bound datagram
 *              socket and one connected to it (both established), a plain one; each
 *              found by the inode /proc/self/fd/N names, its columns printed (Num as
 *              a "value": hidden under vkernel); a closed socket is not listed
 * Modes for checkpoint tests (they sleep where the test checkpoints):
 *   xfer       a child streams 6 MiB through a path socket in 1 MiB writes, the
 *              parent reads it in 64 KiB MSG_WAITALL reads with short sleeps and
 *              checks the checksum (both sides mostly blocked halfway)
 *   pending    a client connects and writes before the server accepts; the
 *              connection waits in the backlog across the checkpoint
 *   dgrams     datagrams from a bound and an unbound sender wait in a queue
 *   inflight   an SCM_RIGHTS message carries a pipe's read end whose writer the
 *              sender closed, and a socket with a datagram queued; they are
 *              received after the checkpoint
 *   blocked    a server waits in accept and a client in connect (a full backlog)
 *              across the checkpoint
 *   procnet-thaw  procnet's sockets listed, then again after the checkpoint
 *   cycles     44000 times: a socket sent into its own queue, or two into each
 *              other's, then every descriptor closed: 66000 sockets, more than the
 *              kernel's 65536, so the garbage collector must free them
 */
#include "posix.h"

#include <stddef.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#define SUN_OFF offsetof(struct sockaddr_un, sun_path)

static volatile sig_atomic_t sigpipes, alarms;

static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

/* A path address; returns its length (with the NUL, as Linux counts it). */
static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return (socklen_t)(SUN_OFF + strlen(path) + 1);
}

/* An abstract address "\0vk-<pid>-<tag>": unique on a shared host namespace. */
static socklen_t abstract_addr(struct sockaddr_un *a, const char *tag) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "vk-%d-%s", (int)getpid(), tag);
    return (socklen_t)(SUN_OFF + 1 + n);
}

static int sock(int type) {
    int s = socket(AF_UNIX, type, 0);
    CHECK(s >= 0, "socket");
    return s;
}

/* A bound, listening stream socket at path. */
static int listener(const char *path, int backlog) {
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, path);
    int s = sock(SOCK_STREAM);
    CHECK(bind(s, (struct sockaddr *)&a, len) == 0, "bind %s", path);
    CHECK(listen(s, backlog) == 0, "listen");
    return s;
}

static int connect_to(const char *path, int type) {
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, path);
    int s = sock(type);
    return connect(s, (struct sockaddr *)&a, len) == 0 ? s : -1;
}

static int connect_err(const char *path, int type) {
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, path);
    int s = sock(type);
    int r = connect(s, (struct sockaddr *)&a, len);
    int e = errno;
    close(s);
    errno = e;
    return r;
}

static int int_opt(int s, int name) {
    int v = -12345;
    socklen_t len = sizeof v;
    if (getsockopt(s, SOL_SOCKET, name, &v, &len) != 0)
        return -errno * 1000;
    return v;
}

static short revents(int fd, short events) {
    struct pollfd p = {fd, events, 0};
    poll(&p, 1, 0);
    return p.revents;
}

/* ---- pair ------------------------------------------------------------------------ */

static void pair(void) {
    vk_handle(SIGPIPE, on_sigpipe, 0);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    printf("fresh pair: %s\n", vk_pollbits(revents(sv[0], POLLIN | POLLOUT | POLLRDHUP)));
    CHECK(write(sv[0], "ping", 4) == 4, "write");
    char buf[64] = {0};
    CHECK(read(sv[1], buf, sizeof buf) == 4, "read");
    CHECK(write(sv[1], "pong!", 5) == 5, "write back");
    int n = -1;
    CHECK(ioctl(sv[0], FIONREAD, &n) == 0, "FIONREAD");
    printf("read %s, FIONREAD %d\n", buf, n);
    printf("with data: %s\n", vk_pollbits(revents(sv[0], POLLIN | POLLOUT)));
    memset(buf, 0, sizeof buf);
    CHECK(recv(sv[0], buf, 2, MSG_PEEK) == 2, "peek");
    CHECK(recv(sv[0], buf + 2, 10, 0) == 5, "recv");
    printf("peeked then read: %s\n", buf);

    struct stat st;
    CHECK(fstat(sv[0], &st) == 0, "fstat");
    printf("fstat: socket %d, mode %o, size %lld\n", S_ISSOCK(st.st_mode), (unsigned)(st.st_mode & 07777),
           (long long)st.st_size);
    char link[64], path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", sv[0]);
    ssize_t ln = readlink(path, link, sizeof link - 1);
    link[ln > 0 ? ln : 0] = 0;
    printf("/proc/self/fd: starts with socket:[ %d\n", strncmp(link, "socket:[", 8) == 0);
    printf("F_GETFL: %#o\n", fcntl(sv[0], F_GETFL));
    EXPECT_ERR("lseek", lseek(sv[0], 0, SEEK_SET), ESPIPE);

    struct sockaddr_un a;
    socklen_t alen = sizeof a;
    CHECK(getsockname(sv[0], (struct sockaddr *)&a, &alen) == 0, "getsockname");
    printf("getsockname: family %d len %d\n", a.sun_family, (int)alen);
    alen = sizeof a;
    CHECK(getpeername(sv[0], (struct sockaddr *)&a, &alen) == 0, "getpeername");
    printf("getpeername: len %d\n", (int)alen);
    printf("SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d SO_ACCEPTCONN %d SO_ERROR %d\n",
           int_opt(sv[0], SO_TYPE), int_opt(sv[0], SO_DOMAIN), int_opt(sv[0], SO_PROTOCOL),
           int_opt(sv[0], SO_ACCEPTCONN), int_opt(sv[0], SO_ERROR));
    struct ucred cr;
    socklen_t crlen = sizeof cr;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0, "SO_PEERCRED");
    printf("SO_PEERCRED: pid is mine %d, uid %d, gid %d, len %d\n", cr.pid == getpid(), (int)cr.uid,
           (int)cr.gid, (int)crlen);

    /* shutdown(SHUT_WR): the peer reads EOF, we may not write, the peer still may. */
    CHECK(shutdown(sv[0], SHUT_WR) == 0, "shutdown");
    CHECK(read(sv[1], buf, sizeof buf) == 0, "EOF after SHUT_WR");
    printf("after SHUT_WR: peer %s\n", vk_pollbits(revents(sv[1], POLLIN | POLLOUT | POLLRDHUP)));
    EXPECT_ERR("write after SHUT_WR", write(sv[0], "x", 1), EPIPE);
    printf("SIGPIPEs: %d\n", (int)sigpipes);
    EXPECT_ERR("send MSG_NOSIGNAL after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
    printf("SIGPIPEs: %d\n", (int)sigpipes);
    CHECK(write(sv[1], "still", 5) == 5, "the other way");
    CHECK(read(sv[0], buf, sizeof buf) == 5, "read the other way");
    close(sv[0]);
    printf("peer closed: %s\n", vk_pollbits(revents(sv[1], POLLIN | POLLOUT | POLLRDHUP)));
    EXPECT_ERR("write to a closed peer", write(sv[1], "x", 1), EPIPE);
    printf("SIGPIPEs: %d\n", (int)sigpipes);
    CHECK(read(sv[1], buf, sizeof buf) == 0, "EOF");
    close(sv[1]);

    /* Closing with unread data resets the peer: ECONNRESET once, then EOF. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    CHECK(write(sv[0], "unread", 6) == 6 && write(sv[1], "mine", 4) == 4, "writes");
    close(sv[1]);
    printf("reset: %s\n", vk_pollbits(revents(sv[0], POLLIN | POLLOUT | POLLRDHUP)));
    CHECK(read(sv[0], buf, sizeof buf) == 4, "queued data first");
    EXPECT_ERR("then", read(sv[0], buf, sizeof buf), ECONNRESET);
    CHECK(read(sv[0], buf, sizeof buf) == 0, "then EOF");
    printf("SO_ERROR after: %d\n", int_opt(sv[0], SO_ERROR));
    close(sv[0]);
}

/* ---- stream ---------------------------------------------------------------------- */

static void stream(void) {
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "srv");
    umask(022);
    int l = listener(path, 5);
    struct stat st;
    CHECK(stat(path, &st) == 0, "stat");
    printf("node: socket %d, mode %o\n", S_ISSOCK(st.st_mode), (unsigned)(st.st_mode & 07777));
    struct sockaddr_un a;
    socklen_t alen = sizeof a;
    CHECK(getsockname(l, (struct sockaddr *)&a, &alen) == 0, "getsockname");
    printf("listener name: len is path + 3: %d, matches %d\n", (int)alen == (int)strlen(path) + 3,
           strcmp(a.sun_path, path) == 0);
    printf("SO_ACCEPTCONN %d\n", int_opt(l, SO_ACCEPTCONN));

    pid_t c = vk_fork();
    if (c == 0) {
        int s = connect_to(path, SOCK_STREAM);
        if (s < 0)
            vk_exit(1);
        struct sockaddr_un p;
        socklen_t plen = sizeof p;
        if (getpeername(s, (struct sockaddr *)&p, &plen) != 0 || strcmp(p.sun_path, path) != 0)
            vk_exit(2);
        struct ucred cr;
        socklen_t crlen = sizeof cr;
        if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 || cr.pid != getppid())
            vk_exit(3);
        if (write(s, "hello server", 12) != 12)
            vk_exit(4);
        char buf[32];
        if (read(s, buf, sizeof buf) != 5 || memcmp(buf, "hi yo", 5) != 0)
            vk_exit(5);
        vk_exit(0);
    }
    alen = sizeof a;
    memset(&a, 0x55, sizeof a);
    int s = accept(l, (struct sockaddr *)&a, &alen);
    CHECK(s >= 0, "accept");
    printf("accepted: peer address len %d (an unbound client)\n", (int)alen);
    alen = sizeof a;
    CHECK(getsockname(s, (struct sockaddr *)&a, &alen) == 0, "getsockname accepted");
    printf("accepted socket's name is the listener's: %d\n", strcmp(a.sun_path, path) == 0);
    struct ucred cr;
    socklen_t crlen = sizeof cr;
    CHECK(getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0, "SO_PEERCRED");
    printf("SO_PEERCRED of the accepted socket is the child: %d\n", cr.pid == c);
    char buf[64] = {0};
    CHECK(vk_readn(s, buf, 12) == 12, "read");
    printf("server got: %s\n", buf);
    CHECK(write(s, "hi yo", 5) == 5, "reply");
    CHECK(read(s, buf, sizeof buf) == 0, "EOF when the client exits");
    printf("EOF once the client exited\n");
    vk_reap_ok(c, "client");
    close(s);

    EXPECT_ERR("connect to nothing", connect_err(vk_join(dir, "none"), SOCK_STREAM), ENOENT);
    vk_write_file(vk_join(dir, "file"), "x", 0644);
    EXPECT_ERR("connect to a regular file", connect_err(vk_join(dir, "file"), SOCK_STREAM),
               ECONNREFUSED);
    EXPECT_ERR("connect a datagram socket to a stream listener", connect_err(path, SOCK_DGRAM),
               EPROTOTYPE);
    struct sockaddr_un b;
    socklen_t blen = path_addr(&b, path);
    int t = sock(SOCK_STREAM);
    EXPECT_ERR("bind to a taken path", bind(t, (struct sockaddr *)&b, blen), EADDRINUSE);
    EXPECT_ERR("listen unbound", listen(t, 1), EINVAL);
    EXPECT_ERR("accept unlistened", accept(t, NULL, NULL), EINVAL);
    EXPECT_ERR("connect a listener", connect(l, (struct sockaddr *)&b, blen), EINVAL);
    CHECK(connect(t, (struct sockaddr *)&b, blen) == 0, "connect");
    EXPECT_ERR("connect again", connect(t, (struct sockaddr *)&b, blen), EISCONN);
    blen = path_addr(&b, vk_join(dir, "other"));
    CHECK(bind(t, (struct sockaddr *)&b, blen) == 0, "a connected client may still bind");
    EXPECT_ERR("bind twice", bind(t, (struct sockaddr *)&a, path_addr(&a, vk_join(dir, "third"))),
               EINVAL);
    printf("the failed bind left no node: %d\n", access(a.sun_path, F_OK) != 0);
    close(t);
    EXPECT_ERR("connect to a node whose socket closed", connect_err(b.sun_path, SOCK_STREAM),
               ECONNREFUSED);
    CHECK(unlink(path) == 0, "unlink");
    EXPECT_ERR("connect after unlink", connect_err(path, SOCK_STREAM), ENOENT);
    alen = sizeof a;
    CHECK(getsockname(l, (struct sockaddr *)&a, &alen) == 0, "getsockname");
    printf("the listener still says its name: %d\n", strcmp(a.sun_path, path) == 0);
    close(l);
    vk_rmtree(dir);
}

/* ---- abstract -------------------------------------------------------------------- */

static void abstract(void) {
    struct sockaddr_un a, got;
    socklen_t len = abstract_addr(&a, "one");
    int l = sock(SOCK_STREAM);
    CHECK(bind(l, (struct sockaddr *)&a, len) == 0, "bind abstract");
    socklen_t glen = sizeof got;
    CHECK(getsockname(l, (struct sockaddr *)&got, &glen) == 0, "getsockname");
    printf("abstract name: same length %d, same bytes %d\n", glen == len,
           memcmp(&got, &a, len) == 0);
    int d = sock(SOCK_STREAM);
    EXPECT_ERR("bind the same name", bind(d, (struct sockaddr *)&a, len), EADDRINUSE);
    int dg = sock(SOCK_DGRAM);
    CHECK(bind(dg, (struct sockaddr *)&a, len) == 0, "a datagram socket of the same name");
    printf("datagram socket took the same abstract name\n");
    /* A longer name with the same prefix is another name. */
    struct sockaddr_un b = a;
    b.sun_path[len - SUN_OFF] = 'x';
    CHECK(bind(d, (struct sockaddr *)&b, len + 1) == 0, "a longer name");
    close(d);
    CHECK(listen(l, 4) == 0, "listen");
    int c = sock(SOCK_STREAM);
    CHECK(connect(c, (struct sockaddr *)&a, len) == 0, "connect by abstract name");
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0 && write(c, "abc", 3) == 3, "accept + write");
    char buf[8] = {0};
    CHECK(read(s, buf, sizeof buf) == 3, "read");
    printf("through the abstract name: %s\n", buf);
    glen = sizeof got;
    CHECK(getpeername(c, (struct sockaddr *)&got, &glen) == 0, "getpeername");
    printf("client's peer name is the abstract name: %d\n", glen == len && memcmp(&got, &a, len) == 0);
    int nc = sock(SOCK_STREAM);
    EXPECT_ERR("connect by a name nobody has", connect(nc, (struct sockaddr *)&b, len + 1), ECONNREFUSED);
    close(nc);

    /* Autobind: bind with the family alone. */
    int ab = sock(SOCK_DGRAM);
    struct sockaddr_un fam = {.sun_family = AF_UNIX};
    CHECK(bind(ab, (struct sockaddr *)&fam, sizeof(sa_family_t)) == 0, "autobind");
    glen = sizeof got;
    CHECK(getsockname(ab, (struct sockaddr *)&got, &glen) == 0, "getsockname");
    int hex = 1;
    for (int i = 1; i < 6; i++)
        hex &= (got.sun_path[i] >= '0' && got.sun_path[i] <= '9') ||
               (got.sun_path[i] >= 'a' && got.sun_path[i] <= 'f');
    printf("autobind: len %d, leading NUL %d, five hex digits %d\n", (int)glen, got.sun_path[0] == 0, hex);
    CHECK(bind(ab, (struct sockaddr *)&fam, sizeof(sa_family_t)) == 0, "autobind a bound socket");
    printf("autobind of a bound socket succeeds and keeps the name\n");

    close(l);
    close(c);
    close(s);
    l = sock(SOCK_STREAM);
    CHECK(bind(l, (struct sockaddr *)&a, len) == 0, "the name is free again");
    printf("the name is free once its socket closed\n");
    close(l);
    close(dg);
    close(ab);
}

/* ---- backlog --------------------------------------------------------------------- */

static int nb_connect(const struct sockaddr_un *a, socklen_t len) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -1;
    if (connect(s, (const struct sockaddr *)a, len) == 0)
        return s;
    int e = errno;
    close(s);
    errno = e;
    return -1;
}

static void backlog(void) {
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "srv");
    int l = listener(path, 1);
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, path);
    printf("listener: %s\n", vk_pollbits(revents(l, POLLIN | POLLOUT)));
    int c1 = nb_connect(&a, len), c2 = nb_connect(&a, len);
    CHECK(c1 >= 0 && c2 >= 0, "two connections in a backlog of 1");
    EXPECT_ERR("a third", nb_connect(&a, len), EAGAIN);
    printf("listener with pending: %s\n", vk_pollbits(revents(l, POLLIN | POLLOUT)));
    printf("connected before accept: %s\n", vk_pollbits(revents(c1, POLLIN | POLLOUT)));
    CHECK(write(c1, "early", 5) == 5, "write before accept");
    int s1 = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    CHECK(s1 >= 0, "accept4");
    printf("accept4: O_NONBLOCK %d, FD_CLOEXEC %d\n", (fcntl(s1, F_GETFL) & O_NONBLOCK) != 0,
           fcntl(s1, F_GETFD) & FD_CLOEXEC);
    char buf[16] = {0};
    CHECK(read(s1, buf, sizeof buf) == 5, "read what was written before accept");
    printf("accepted connection had: %s\n", buf);
    int c3 = nb_connect(&a, len);
    CHECK(c3 >= 0, "room again after an accept");
    /* musl retries accept4's EINVAL as accept: ask the kernel directly. */
    EXPECT_ERR("accept4 bad flags", syscall(SYS_accept4, l, NULL, NULL, 0x1), EINVAL);

    /* A blocking connect waits for an accept. */
    pid_t c = vk_fork();
    if (c == 0) {
        long long t0 = vk_mono_ms();
        int s = connect_to(path, SOCK_STREAM);
        long long waited = vk_mono_ms() - t0;
        vk_exit(s >= 0 && waited >= 150 ? 0 : 1);
    }
    vk_msleep(300);
    int s2 = accept(l, NULL, NULL);
    int s3 = accept(l, NULL, NULL);
    CHECK(s2 >= 0 && s3 >= 0, "accept the waiting ones");
    vk_reap_ok(c, "a blocked connect ended by an accept");
    int s4 = accept(l, NULL, NULL);
    CHECK(s4 >= 0, "accept the blocked one");
    fcntl(l, F_SETFL, O_NONBLOCK);
    EXPECT_ERR("non-blocking accept of nothing", accept(l, NULL, NULL), EAGAIN);
    fcntl(l, F_SETFL, 0);
    CHECK(shutdown(l, SHUT_RD) == 0, "shutdown listener");
    EXPECT_ERR("accept after SHUT_RD", accept(l, NULL, NULL), EINVAL);
    EXPECT_ERR("connect after SHUT_RD", connect_err(path, SOCK_STREAM), ECONNREFUSED);
    close(l);
    /* A connection still in the backlog when the listener closes is reset. */
    l = listener(vk_join(dir, "two"), 4);
    int p = connect_to(vk_join(dir, "two"), SOCK_STREAM);
    CHECK(p >= 0, "connect");
    close(l);
    printf("listener closed with a pending connection: %s\n", vk_pollbits(revents(p, POLLIN | POLLOUT)));
    EXPECT_ERR("read", read(p, buf, sizeof buf), ECONNRESET);
    CHECK(read(p, buf, sizeof buf) == 0, "then EOF");
    vk_rmtree(dir);
}

/* ---- big ------------------------------------------------------------------------- */

static void big(void) {
    const size_t n = 8u << 20;
    unsigned char *data = malloc(n), *back = malloc(n);
    CHECK(data && back, "malloc");
    vk_fill(data, n, 3);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    pid_t c = vk_fork();
    if (c == 0) {
        close(sv[0]);
        size_t off = 0, step = 1;
        while (off < n) {
            size_t k = (step * 7919) % 200000 + 1;
            if (k > n - off)
                k = n - off;
            if (vk_writen(sv[1], data + off, k) != k)
                vk_exit(1);
            off += k;
            step++;
        }
        vk_exit(0);
    }
    close(sv[1]);
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < 100000 ? n - got : 100000;
        ssize_t r = recv(sv[0], back + got, want, MSG_WAITALL);
        if (r <= 0)
            break;
        CHECK((size_t)r == want, "MSG_WAITALL gave %zd of %zu", r, want);
        got += (size_t)r;
    }
    printf("received %zu bytes, checksum %s\n", got, vk_fnv(back, n) == vk_fnv(data, n) ? "ok" : "BAD");
    CHECK(recv(sv[0], back, 10, 0) == 0, "EOF");
    vk_reap_ok(c, "writer");
    free(data);
    free(back);
}

/* ---- dgram ----------------------------------------------------------------------- */

static void dgram(void) {
    const char *dir = vk_tmpdir();
    struct sockaddr_un ra, sa, from;
    socklen_t rlen = path_addr(&ra, vk_join(dir, "r")), slen = path_addr(&sa, vk_join(dir, "s"));
    int r = sock(SOCK_DGRAM), s = sock(SOCK_DGRAM);
    CHECK(bind(r, (struct sockaddr *)&ra, rlen) == 0 && bind(s, (struct sockaddr *)&sa, slen) == 0, "bind");
    CHECK(sendto(s, "one", 3, 0, (struct sockaddr *)&ra, rlen) == 3, "sendto");
    CHECK(sendto(s, "second", 6, 0, (struct sockaddr *)&ra, rlen) == 6, "sendto");
    CHECK(sendto(s, "", 0, 0, (struct sockaddr *)&ra, rlen) == 0, "an empty datagram");
    int n = -1;
    CHECK(ioctl(r, FIONREAD, &n) == 0, "FIONREAD");
    printf("FIONREAD: %d (the first datagram)\n", n);
    char buf[64] = {0};
    socklen_t flen = sizeof from;
    ssize_t k = recvfrom(r, buf, sizeof buf, MSG_PEEK, (struct sockaddr *)&from, &flen);
    printf("peek: %zd %s from s %d\n", k, buf, flen == slen && strcmp(from.sun_path, sa.sun_path) == 0);
    flen = sizeof from;
    k = recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    printf("recvfrom: %zd, address length is the sender's %d\n", k, flen == slen);
    struct iovec iov = {buf, 2};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    k = recvmsg(r, &m, 0);
    printf("truncated: %zd, MSG_TRUNC %d\n", k, (m.msg_flags & MSG_TRUNC) != 0);
    k = recv(r, buf, sizeof buf, 0);
    printf("empty datagram: %zd\n", k);
    CHECK(sendto(s, "trunc-me", 8, 0, (struct sockaddr *)&ra, rlen) == 8, "sendto");
    k = recv(r, buf, 3, MSG_TRUNC);
    printf("recv(3, MSG_TRUNC) returns the full length: %zd\n", k);

    /* An unbound sender has no address. */
    int u = sock(SOCK_DGRAM);
    CHECK(sendto(u, "anon", 4, 0, (struct sockaddr *)&ra, rlen) == 4, "sendto from unbound");
    flen = sizeof from;
    k = recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    printf("from an unbound sender: %zd bytes, address length %d\n", k, (int)flen);

    EXPECT_ERR("send without an address", send(u, "x", 1, 0), ENOTCONN);
    /* connect: the default destination, and the only sender the socket hears. */
    CHECK(connect(s, (struct sockaddr *)&ra, rlen) == 0, "connect");
    CHECK(send(s, "conn", 4, 0) == 4, "send connected");
    CHECK(recv(r, buf, sizeof buf, 0) == 4, "recv");
    CHECK(connect(r, (struct sockaddr *)&sa, slen) == 0, "connect back");
    EXPECT_ERR("a third party to a connected socket", sendto(u, "x", 1, 0, (struct sockaddr *)&ra, rlen),
               EPERM);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    CHECK(connect(r, &unspec, sizeof unspec) == 0, "disconnect");
    CHECK(sendto(u, "ok", 2, 0, (struct sockaddr *)&ra, rlen) == 2, "heard again");
    CHECK(recv(r, buf, sizeof buf, 0) == 2, "recv");
    printf("connect, EPERM for others, AF_UNSPEC disconnects\n");

    /* A receiver not connected back holds 11 datagrams. */
    int q = 0;
    fcntl(u, F_SETFL, O_NONBLOCK);
    while (sendto(u, "fill", 4, 0, (struct sockaddr *)&ra, rlen) == 4 && q < 100)
        q++;
    printf("queued %d, then: %s\n", q, strerror(errno));
    printf("full receiver, sender %s\n", vk_pollbits(revents(u, POLLOUT)));
    CHECK(connect(u, (struct sockaddr *)&ra, rlen) == 0, "connect u");
    printf("connected to a full receiver: %s\n", vk_pollbits(revents(u, POLLOUT)));
    CHECK(recv(r, buf, sizeof buf, 0) == 4, "drain one");
    printf("after one read: %s\n", vk_pollbits(revents(u, POLLOUT)));
    fcntl(u, F_SETFL, 0);
    CHECK(send(u, "fill", 4, 0) == 4, "full again");
    pid_t c = vk_fork();
    if (c == 0) {
        long long t0 = vk_mono_ms();
        ssize_t w = send(u, "late", 4, 0);
        vk_exit(w == 4 && vk_mono_ms() - t0 >= 150 ? 0 : 1);
    }
    vk_msleep(300);
    CHECK(recv(r, buf, sizeof buf, 0) == 4, "make room");
    vk_reap_ok(c, "a sender blocked on a full receiver");
    while (recv(r, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;

    int sz = 8192;
    CHECK(setsockopt(u, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz) == 0, "SO_SNDBUF");
    static char huge[20000];
    EXPECT_ERR("a datagram larger than the send buffer", send(u, huge, sizeof huge, 0), EMSGSIZE);
    CHECK(send(u, huge, int_opt(u, SO_SNDBUF) - 32, 0) == int_opt(u, SO_SNDBUF) - 32, "the largest");
    CHECK(recv(r, huge, sizeof huge, 0) == int_opt(u, SO_SNDBUF) - 32, "recv it");
    printf("largest datagram: SO_SNDBUF - 32\n");

    /* The peer closes: ECONNREFUSED once, then not connected. */
    close(r);
    EXPECT_ERR("send to a closed peer", send(s, "x", 1, 0), ECONNREFUSED);
    EXPECT_ERR("then", send(s, "x", 1, 0), ENOTCONN);
    int raw = socket(AF_UNIX, SOCK_RAW, 0);
    printf("SOCK_RAW: SO_TYPE %d\n", int_opt(raw, SO_TYPE));
    close(raw);
    close(s);
    close(u);
    vk_rmtree(dir);
}

/* ---- seqpacket ------------------------------------------------------------------- */

static void seqpacket(void) {
    vk_handle(SIGPIPE, on_sigpipe, 0);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0, "socketpair");
    CHECK(send(sv[0], "first", 5, MSG_EOR) == 5 && send(sv[0], "second!", 7, 0) == 7, "send");
    char buf[64] = {0};
    struct iovec iov = {buf, 3};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t k = recvmsg(sv[1], &m, 0);
    printf("seqpacket truncated: %zd %.3s MSG_TRUNC %d\n", k, buf, (m.msg_flags & MSG_TRUNC) != 0);
    k = recv(sv[1], buf, sizeof buf, 0);
    printf("next record whole: %zd %.7s\n", k, buf);
    printf("SO_TYPE %d\n", int_opt(sv[0], SO_TYPE));
    close(sv[1]);
    EXPECT_ERR("send to a closed peer", send(sv[0], "x", 1, 0), EPIPE);
    printf("SIGPIPEs: %d\n", (int)sigpipes);
    CHECK(recv(sv[0], buf, sizeof buf, 0) == 0, "0 after the peer closed");
    close(sv[0]);

    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "seq");
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, path);
    int l = sock(SOCK_SEQPACKET);
    CHECK(bind(l, (struct sockaddr *)&a, len) == 0 && listen(l, 2) == 0, "listen");
    int c = sock(SOCK_SEQPACKET);
    EXPECT_ERR("send unconnected", send(c, "x", 1, 0), ENOTCONN);
    EXPECT_ERR("recv unconnected", recv(c, buf, 1, 0), ENOTCONN);
    printf("unconnected seqpacket: %s\n", vk_pollbits(revents(c, POLLIN | POLLOUT)));
    CHECK(connect(c, (struct sockaddr *)&a, len) == 0, "connect");
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0, "accept");
    for (int i = 1; i <= 3; i++) {
        char rec[16];
        int n = snprintf(rec, sizeof rec, "rec-%d%.*s", i, i, "xyz");
        CHECK(send(c, rec, (size_t)n, 0) == n, "send");
    }
    for (int i = 1; i <= 3; i++) {
        memset(buf, 0, sizeof buf);
        k = recv(s, buf, sizeof buf, 0);
        printf("record %d: %zd %s\n", i, k, buf);
    }
    close(c);
    CHECK(recv(s, buf, sizeof buf, 0) == 0, "EOF");
    fcntl(s, F_SETFL, O_NONBLOCK);
    CHECK(recv(s, buf, sizeof buf, 0) == 0, "EOF non-blocking too");
    printf("EOF after the client closed\n");
    close(s);
    close(l);
    vk_rmtree(dir);
}

/* ---- rights ---------------------------------------------------------------------- */

/* sendmsg with `nfds` descriptors and `len` bytes of data. */
static ssize_t send_fds(int s, const int *fds, int nfds, const char *data, size_t len) {
    char ctl[CMSG_SPACE(sizeof(int) * 256)];
    memset(ctl, 0, sizeof ctl);
    struct iovec iov = {(void *)data, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    /* musl's sendmsg refuses control buffers over 1 KiB itself: ask the kernel. */
    return syscall(SYS_sendmsg, s, &m, 0);
}

/* recvmsg into buf with `room` descriptors' worth of control buffer; returns the
 * descriptors received in fds (count in *nfds), the msg_flags in *flags. */
static ssize_t recv_fds(int s, char *buf, size_t len, int room, int *fds, int *nfds, int *flags,
                        int rflags) {
    char ctl[CMSG_SPACE(sizeof(int) * 8)];
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = room ? ctl : NULL,
                       .msg_controllen = room ? CMSG_SPACE(sizeof(int) * (size_t)room) : 0};
    ssize_t k = recvmsg(s, &m, rflags);
    *nfds = 0;
    *flags = m.msg_flags;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); k >= 0 && c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds + *nfds, CMSG_DATA(c), sizeof(int) * (size_t)n);
            *nfds += n;
        }
    }
    return k;
}

static void rights(void) {
    int sv[2], p[2], fds[8], n, flags;
    char buf[64] = {0};
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(p) == 0, "socketpair + pipe");
    const char *dir = vk_tmpdir();
    int file = open(vk_join(dir, "f"), O_RDWR | O_CREAT, 0644);
    CHECK(file >= 0 && write(file, "0123456789", 10) == 10 && lseek(file, 3, SEEK_SET) == 3, "file");
    int pass[2] = {p[0], file};
    CHECK(send_fds(sv[0], pass, 2, "F", 1) == 1, "send two descriptors");
    close(p[0]);
    close(file);
    CHECK(write(p[1], "via pipe", 8) == 8, "write the pipe");
    close(p[1]);
    ssize_t k = recv_fds(sv[1], buf, sizeof buf, 4, fds, &n, &flags, 0);
    printf("received %zd byte(s) and %d descriptors, flags %#x\n", k, n, flags);
    memset(buf, 0, sizeof buf);
    CHECK(n == 2 && read(fds[0], buf, sizeof buf) == 8, "read the passed pipe");
    printf("passed pipe: %s, then EOF %d\n", buf, read(fds[0], buf, 1) == 0);
    memset(buf, 0, sizeof buf);
    CHECK(read(fds[1], buf, 3) == 3, "read the passed file");
    printf("passed file at its offset: %s\n", buf);
    close(fds[0]);
    close(fds[1]);

    /* A socket through a socket. */
    int inner[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, inner) == 0, "inner pair");
    CHECK(send_fds(sv[0], &inner[1], 1, "S", 1) == 1, "send a socket");
    close(inner[1]);
    CHECK(recv_fds(sv[1], buf, sizeof buf, 1, fds, &n, &flags, MSG_CMSG_CLOEXEC) == 1 && n == 1, "recv");
    printf("MSG_CMSG_CLOEXEC: FD_CLOEXEC %d, echoed in msg_flags %d\n", fcntl(fds[0], F_GETFD) & FD_CLOEXEC,
           (flags & MSG_CMSG_CLOEXEC) != 0);
    CHECK(send(fds[0], "over", 4, 0) == 4, "send on the passed socket");
    CHECK(recv(inner[0], buf, sizeof buf, 0) == 4, "recv");
    printf("passed socket works: %.4s\n", buf);
    close(fds[0]);
    close(inner[0]);

    /* MSG_CTRUNC: room for one of three; the other two are closed. */
    CHECK(pipe(p) == 0, "pipe");
    int three[3] = {p[1], p[1], p[1]};
    CHECK(send_fds(sv[0], three, 3, "T", 1) == 1, "send three");
    close(p[1]);
    k = recv_fds(sv[1], buf, sizeof buf, 1, fds, &n, &flags, 0);
    printf("CMSG_SPACE of one int: got %d, MSG_CTRUNC %d\n", n, (flags & MSG_CTRUNC) != 0);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    printf("the others were closed: EOF %d\n", read(p[0], buf, 1) == 0);
    close(p[0]);
    CHECK(pipe(p) == 0, "pipe");
    CHECK(send_fds(sv[0], &p[1], 1, "N", 1) == 1, "send one");
    close(p[1]);
    k = recv_fds(sv[1], buf, sizeof buf, 0, fds, &n, &flags, 0);
    printf("no control buffer: got %d, MSG_CTRUNC %d, EOF %d\n", n, (flags & MSG_CTRUNC) != 0,
           read(p[0], buf, 1) == 0);
    close(p[0]);

    /* MSG_PEEK passes new descriptors each time. */
    CHECK(send_fds(sv[0], &sv[0], 1, "P", 1) == 1, "send");
    int a1, a2, n1, n2;
    recv_fds(sv[1], buf, 1, 1, &a1, &n1, &flags, MSG_PEEK);
    recv_fds(sv[1], buf, 1, 1, &a2, &n2, &flags, 0);
    printf("peek and read: %d and %d descriptors, distinct %d\n", n1, n2, a1 != a2);
    close(a1);
    close(a2);

    /* A stream read takes a message with files and stops after it. */
    CHECK(write(sv[0], "aaaa", 4) == 4, "plain");
    CHECK(send_fds(sv[0], &sv[0], 1, "bbbb", 4) == 4, "with a file");
    CHECK(write(sv[0], "cccc", 4) == 4, "plain again");
    memset(buf, 0, sizeof buf);
    k = recv_fds(sv[1], buf, sizeof buf, 1, fds, &n, &flags, 0);
    printf("stream read: %zd %s with %d descriptor\n", k, buf, n);
    close(fds[0]);
    memset(buf, 0, sizeof buf);
    CHECK(read(sv[1], buf, sizeof buf) == 4, "the rest");
    printf("then: %s\n", buf);
    /* No data: nothing is sent, not even the files. */
    CHECK(send_fds(sv[0], &sv[0], 1, "", 0) == 0, "send nothing");
    EXPECT_ERR("nothing arrived", recv(sv[1], buf, 1, MSG_DONTWAIT), EAGAIN);

    int bad = 999;
    EXPECT_ERR("a bad descriptor", send_fds(sv[0], &bad, 1, "x", 1), EBADF);
    int many[256];
    for (int i = 0; i < 256; i++)
        many[i] = sv[0];
    EXPECT_ERR("254 descriptors", send_fds(sv[0], many, 254, "x", 1), EINVAL);
    CHECK(send_fds(sv[0], many, 253, "x", 1) == 1, "253 descriptors");
    CHECK(recv_fds(sv[1], buf, 1, 0, fds, &n, &flags, 0) == 1, "dropped");
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {"x", 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = sizeof ctl + 8;
    EXPECT_ERR("cmsg_len past the buffer", sendmsg(sv[0], &m, 0), EINVAL);
    c->cmsg_len = CMSG_LEN(sizeof(int));
    c->cmsg_type = 99;
    EXPECT_ERR("an unknown type", sendmsg(sv[0], &m, 0), EINVAL);
    c->cmsg_level = 6; /* IPPROTO_TCP: not SOL_SOCKET, skipped */
    CHECK(sendmsg(sv[0], &m, 0) == 1, "another level is ignored");
    close(sv[0]);
    close(sv[1]);
    vk_rmtree(dir);
}

/* ---- creds ----------------------------------------------------------------------- */

static ssize_t send_creds(int s, struct ucred *cr) {
    char ctl[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {"c", 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof *cr);
    memcpy(CMSG_DATA(c), cr, sizeof *cr);
    return sendmsg(s, &m, 0);
}

/* Receives one byte; 1 and *cr if credentials came with it. */
static int recv_creds(int s, struct ucred *cr) {
    char ctl[CMSG_SPACE(sizeof(struct ucred)) + 64], b;
    struct iovec iov = {&b, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    if (recvmsg(s, &m, 0) < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            memcpy(cr, CMSG_DATA(c), sizeof *cr);
            return 1;
        }
    return 0;
}

static void creds(void) {
    int sv[2], on = 1;
    struct ucred cr;
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair");
    CHECK(send(sv[0], "a", 1, 0) == 1, "send");
    printf("without SO_PASSCRED: credentials %d\n", recv_creds(sv[1], &cr));
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0, "SO_PASSCRED");
    printf("SO_PASSCRED reads back %d\n", int_opt(sv[1], SO_PASSCRED));
    CHECK(send(sv[0], "b", 1, 0) == 1, "send");
    int got = recv_creds(sv[1], &cr);
    printf("with SO_PASSCRED: credentials %d, pid is mine %d, uid %d, gid %d\n", got, cr.pid == getpid(),
           (int)cr.uid, (int)cr.gid);
    struct ucred mine = {getpid(), getuid(), getgid()};
    CHECK(send_creds(sv[0], &mine) == 1, "explicit credentials");
    got = recv_creds(sv[1], &cr);
    printf("explicit: %d, pid is mine %d\n", got, cr.pid == getpid());
    struct ucred nobody = {999999, 0, 0};
    EXPECT_ERR("a pid that does not exist", send_creds(sv[0], &nobody), ESRCH);

    /* A non-root child may send only its own. */
    pid_t c = vk_fork();
    if (c == 0) {
        if (setgid(1000) != 0 || setuid(1000) != 0)
            vk_exit(10);
        struct ucred root = {getpid(), 0, 0};
        errno = 0;
        if (send_creds(sv[0], &root) != -1 || errno != EPERM)
            vk_exit(1);
        struct ucred other_pid = {getppid(), 1000, 1000};
        errno = 0;
        if (send_creds(sv[0], &other_pid) != -1 || errno != EPERM)
            vk_exit(2);
        if (send(sv[0], "u", 1, 0) != 1)
            vk_exit(3);
        vk_exit(0);
    }
    vk_reap_ok(c, "non-root sender");
    got = recv_creds(sv[1], &cr);
    printf("from the setuid child: %d, pid is the child %d, uid %d, gid %d\n", got, cr.pid == c,
           (int)cr.uid, (int)cr.gid);
    close(sv[0]);
    close(sv[1]);

    /* Stream: a read with SO_PASSCRED does not glue two writers' bytes. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0, "SO_PASSCRED");
    CHECK(write(sv[0], "mine", 4) == 4, "write");
    c = vk_fork();
    if (c == 0) {
        if (setuid(1000) != 0)
            vk_exit(10);
        vk_exit(write(sv[0], "child", 5) == 5 ? 0 : 1);
    }
    vk_reap_ok(c, "second writer");
    char buf[32] = {0};
    printf("first read stops at the other writer: %zd\n", read(sv[1], buf, sizeof buf));
    printf("then: %zd\n", read(sv[1], buf, sizeof buf));
    close(sv[0]);
    close(sv[1]);

    int lone = sock(SOCK_STREAM);
    socklen_t len = sizeof cr;
    CHECK(getsockopt(lone, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0, "SO_PEERCRED");
    printf("SO_PEERCRED unconnected: pid %d uid %d gid %d\n", cr.pid, (int)cr.uid, (int)cr.gid);
    close(lone);
}

/* ---- options --------------------------------------------------------------------- */

static void options(void) {
    int s = sock(SOCK_STREAM), v;
    v = 65536;
    CHECK(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0, "SO_SNDBUF");
    v = 100000;
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) == 0, "SO_RCVBUF");
    printf("SO_SNDBUF 65536 -> %d, SO_RCVBUF 100000 -> %d\n", int_opt(s, SO_SNDBUF), int_opt(s, SO_RCVBUF));
    int flags[] = {SO_REUSEADDR, SO_KEEPALIVE, SO_BROADCAST, SO_PASSCRED, SO_OOBINLINE, SO_DONTROUTE};
    for (unsigned i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        int before = int_opt(s, flags[i]);
        v = 7;
        CHECK(setsockopt(s, SOL_SOCKET, flags[i], &v, sizeof v) == 0, "set %d", flags[i]);
        int on = int_opt(s, flags[i]);
        v = 0;
        setsockopt(s, SOL_SOCKET, flags[i], &v, sizeof v);
        printf("option %d: %d -> %d -> %d\n", flags[i], before, on, int_opt(s, flags[i]));
    }
    struct linger lg = {1, 5}, lg2;
    socklen_t len = sizeof lg2;
    CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0, "SO_LINGER");
    CHECK(getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &len) == 0, "get SO_LINGER");
    printf("SO_LINGER: %d %d len %d\n", lg2.l_onoff, lg2.l_linger, (int)len);
    printf("SO_SNDLOWAT %d SO_RCVLOWAT %d SO_PRIORITY %d\n", int_opt(s, SO_SNDLOWAT), int_opt(s, SO_RCVLOWAT),
           int_opt(s, SO_PRIORITY));
    struct timeval tv = {0, 200000}, tv2;
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
    len = sizeof tv2;
    CHECK(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv2, &len) == 0, "get SO_RCVTIMEO");
    printf("SO_RCVTIMEO: %ld.%06ld len %d\n", (long)tv2.tv_sec, (long)tv2.tv_usec, (int)len);
    tv.tv_usec = 1000000;
    EXPECT_ERR("SO_SNDTIMEO with a million microseconds", setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv),
               EDOM);
    EXPECT_ERR("a short SO_RCVTIMEO", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, 8), EINVAL);
    v = 1;
    EXPECT_ERR("a short int", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, 2), EINVAL);
    EXPECT_ERR("an unknown option", setsockopt(s, SOL_SOCKET, 9999, &v, sizeof v), ENOPROTOOPT);
    EXPECT_ERR("get an unknown option", getsockopt(s, SOL_SOCKET, 9999, &v, &len), ENOPROTOOPT);
    EXPECT_ERR("SO_TYPE is read-only", setsockopt(s, SOL_SOCKET, SO_TYPE, &v, sizeof v), ENOPROTOOPT);
    EXPECT_ERR("TCP level on AF_UNIX", setsockopt(s, 6, 1, &v, sizeof v), EOPNOTSUPP);
    EXPECT_ERR("get TCP level on AF_UNIX", getsockopt(s, 6, 1, &v, &len), EOPNOTSUPP);
    len = (socklen_t)-1;
    EXPECT_ERR("a negative length", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len), EINVAL);
    char two[2];
    len = 2;
    CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, two, &len) == 0, "short getsockopt");
    printf("getsockopt into 2 bytes: len %d\n", (int)len);
    close(s);

    /* Timeouts: a recv and a send that cannot finish end with EAGAIN. */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    tv.tv_sec = 0;
    tv.tv_usec = 200000;
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0, "SO_SNDTIMEO");
    char buf[4096];
    long long t0 = vk_mono_ms();
    EXPECT_ERR("recv with SO_RCVTIMEO", recv(sv[0], buf, sizeof buf, 0), EAGAIN);
    long long took = vk_mono_ms() - t0;
    CHECK(took >= 180 && took < 2000, "the timeout took %lld ms", took);
    memset(buf, 'w', sizeof buf);
    ssize_t sent = 0, k;
    t0 = vk_mono_ms();
    while ((k = send(sv[0], buf, sizeof buf, 0)) > 0)
        sent += k;
    took = vk_mono_ms() - t0;
    printf("a full send buffer: send returned %zd (%s) after some bytes\n", k, strerror(errno));
    CHECK(took >= 180 && took < 3000 && sent > 0, "the send timeout took %lld ms", took);
    close(sv[0]);
    close(sv[1]);

    /* SO_RCVLOWAT: a read waits for that much. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    v = 5;
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v) == 0, "SO_RCVLOWAT");
    pid_t c = vk_fork();
    if (c == 0) {
        if (write(sv[0], "abc", 3) != 3)
            vk_exit(1);
        vk_msleep(150);
        vk_exit(write(sv[0], "de", 2) == 2 ? 0 : 2);
    }
    memset(buf, 0, sizeof buf);
    k = read(sv[1], buf, sizeof buf);
    printf("SO_RCVLOWAT 5: read %zd %s\n", k, buf);
    vk_reap_ok(c, "writer");
    close(sv[0]);
    close(sv[1]);
}

/* ---- wait ------------------------------------------------------------------------ */

static void wait_(void) {
    int sv[2];
    char buf[64];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(sv[0], &r);
    FD_SET(sv[0], &w);
    struct timeval zero = {0, 0};
    int n = select(sv[0] + 1, &r, &w, NULL, &zero);
    printf("select: %d ready, readable %d, writable %d\n", n, FD_ISSET(sv[0], &r) != 0, FD_ISSET(sv[0], &w) != 0);
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.u32 = 1}, out[4];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &e) == 0, "epoll_ctl");
    printf("epoll before data: %d\n", epoll_wait(ep, out, 4, 0));
    CHECK(write(sv[1], "x", 1) == 1, "write");
    printf("epoll after a write: %d\n", epoll_wait(ep, out, 4, 0));
    printf("edge-triggered, no new data: %d\n", epoll_wait(ep, out, 4, 0));
    CHECK(write(sv[1], "y", 1) == 1, "write");
    printf("another write: %d\n", epoll_wait(ep, out, 4, 0));
    pid_t c = vk_fork();
    if (c == 0) {
        vk_msleep(100);
        vk_exit(write(sv[1], "z", 1) == 1 ? 0 : 1);
    }
    CHECK(read(sv[0], buf, sizeof buf) == 2, "drain");
    printf("epoll_wait woken by a write: %d\n", epoll_wait(ep, out, 4, 2000));
    vk_reap_ok(c, "writer");
    CHECK(read(sv[0], buf, sizeof buf) == 1, "read");
    close(ep);

    /* Interrupted waits. */
    vk_handle(SIGALRM, on_alarm, 0);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    EXPECT_ERR("recv interrupted", recv(sv[0], buf, sizeof buf, 0), EINTR);
    vk_handle(SIGALRM, on_alarm, SA_RESTART);
    c = vk_fork();
    if (c == 0) {
        vk_msleep(300);
        vk_exit(write(sv[1], "late", 4) == 4 ? 0 : 1);
    }
    alarms = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    ssize_t k = recv(sv[0], buf, sizeof buf, 0);
    printf("recv with SA_RESTART: restarted after %d signal(s), got %zd\n", (int)alarms, k);
    vk_reap_ok(c, "writer");
    struct timeval tv = {5, 0};
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
    setitimer(ITIMER_REAL, &it, NULL);
    EXPECT_ERR("recv with SO_RCVTIMEO and SA_RESTART", recv(sv[0], buf, sizeof buf, 0), EINTR);
    const char *dir = vk_tmpdir();
    int l = listener(vk_join(dir, "l"), 1);
    setitimer(ITIMER_REAL, &it, NULL);
    c = vk_fork();
    if (c == 0) {
        vk_msleep(300);
        int s = connect_to(vk_join(dir, "l"), SOCK_STREAM);
        vk_exit(s >= 0 ? 0 : 1);
    }
    int s = accept(l, NULL, NULL);
    printf("accept with SA_RESTART restarted: %d\n", s >= 0);
    vk_reap_ok(c, "connector");
    close(s);
    close(l);

    /* Non-blocking three ways. */
    EXPECT_ERR("MSG_DONTWAIT", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    int on = 1;
    CHECK(ioctl(sv[0], FIONBIO, &on) == 0, "FIONBIO");
    EXPECT_ERR("FIONBIO", read(sv[0], buf, sizeof buf), EAGAIN);
    on = 0;
    ioctl(sv[0], FIONBIO, &on);
    int nb = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    printf("SOCK_NONBLOCK: %d, SOCK_CLOEXEC: %d\n", (fcntl(nb, F_GETFL) & O_NONBLOCK) != 0,
           fcntl(nb, F_GETFD) & FD_CLOEXEC);
    close(nb);

    /* sendmmsg / recvmmsg on a seqpacket pair. */
    int q[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) == 0, "socketpair");
    struct mmsghdr mm[3];
    struct iovec iov[3];
    char bufs[3][16];
    const char *words[3] = {"alpha", "be", "gamma!"};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        iov[i].iov_base = (void *)words[i];
        iov[i].iov_len = strlen(words[i]);
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    printf("sendmmsg: %d\n", sendmmsg(q[0], mm, 3, 0));
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        memset(bufs[i], 0, sizeof bufs[i]);
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = sizeof bufs[i];
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    n = recvmmsg(q[0 + 1], mm, 3, MSG_WAITFORONE, NULL);
    printf("recvmmsg: %d: %s(%u) %s(%u) %s(%u)\n", n, bufs[0], mm[0].msg_len, bufs[1], mm[1].msg_len, bufs[2],
           mm[2].msg_len);
    close(q[0]);
    close(q[1]);
    close(sv[0]);
    close(sv[1]);
    vk_rmtree(dir);
}

/* ---- errors ---------------------------------------------------------------------- */

static void errors(void) {
    EXPECT_ERR("family 99", socket(99, SOCK_STREAM, 0), EAFNOSUPPORT);
    EXPECT_ERR("family -1", socket(-1, SOCK_STREAM, 0), EAFNOSUPPORT);
    EXPECT_ERR("type 7", socket(AF_UNIX, 7, 0), ESOCKTNOSUPPORT);
    EXPECT_ERR("type 11", socket(AF_UNIX, 11, 0), EINVAL);
    EXPECT_ERR("protocol 7", socket(AF_UNIX, SOCK_STREAM, 7), EPROTONOSUPPORT);
    EXPECT_ERR("type flag 0x100", socket(AF_UNIX, SOCK_STREAM | 0x100, 0), EINVAL);
    int sv[2];
    EXPECT_ERR("socketpair type 7", socketpair(AF_UNIX, 7, 0, sv), ESOCKTNOSUPPORT);
    EXPECT_ERR("socketpair family 99", socketpair(99, SOCK_STREAM, 0, sv), EAFNOSUPPORT);
    int *volatile nowhere = (int *)8;
    EXPECT_ERR("socketpair bad pointer", socketpair(AF_UNIX, SOCK_STREAM, 0, nowhere), EFAULT);
    int s = sock(SOCK_STREAM);
    struct sockaddr_un a;
    path_addr(&a, "/tmp/vk-never");
    EXPECT_ERR("bind length 1", bind(s, (struct sockaddr *)&a, 1), EINVAL);
    EXPECT_ERR("bind length 0", bind(s, (struct sockaddr *)&a, 0), EINVAL);
    EXPECT_ERR("bind length 111", bind(s, (struct sockaddr *)&a, 111), EINVAL);
    EXPECT_ERR("bind length 200", bind(s, (struct sockaddr *)&a, 200), EINVAL);
    EXPECT_ERR("bind length -1", bind(s, (struct sockaddr *)&a, (socklen_t)-1), EINVAL);
    a.sun_family = AF_INET;
    EXPECT_ERR("bind an AF_INET address", bind(s, (struct sockaddr *)&a, 20), EINVAL);
    a.sun_family = AF_UNIX;
    EXPECT_ERR("connect length 2", connect(s, (struct sockaddr *)&a, 2), EINVAL);
    EXPECT_ERR("bind a bad pointer", bind(s, (struct sockaddr *)8, 20), EFAULT);
    char buf[8];
    EXPECT_ERR("read unconnected", read(s, buf, sizeof buf), EINVAL);
    EXPECT_ERR("write unconnected", write(s, "x", 1), ENOTCONN);
    EXPECT_ERR("getpeername unconnected", getpeername(s, (struct sockaddr *)&a, &(socklen_t){sizeof a}),
               ENOTCONN);
    EXPECT_ERR("sendto on an unconnected stream", sendto(s, "x", 1, 0, (struct sockaddr *)&a, 20), EOPNOTSUPP);
    EXPECT_ERR("shutdown how 3", shutdown(s, 3), EINVAL);
    CHECK(shutdown(s, SHUT_RDWR) == 0, "shutdown unconnected");
    close(s);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    EXPECT_ERR("sendto on a connected stream", sendto(sv[0], "x", 1, 0, (struct sockaddr *)&a, 20), EISCONN);
    /* Linux has MSG_OOB on AF_UNIX streams since 5.15 (if configured); vkernel not. */
    ssize_t oob = send(sv[0], "x", 1, MSG_OOB);
    printf("value oob %s\n", oob == 1 ? "ok" : errno == EOPNOTSUPP ? "EOPNOTSUPP" : strerror(errno));
    struct iovec iov = {buf, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1025};
    EXPECT_ERR("1025 iovecs", sendmsg(sv[0], &m, 0), EMSGSIZE);
    close(sv[0]);
    close(sv[1]);
    int d = sock(SOCK_DGRAM);
    EXPECT_ERR("listen on a datagram socket", listen(d, 1), EOPNOTSUPP);
    EXPECT_ERR("accept on a datagram socket", accept(d, NULL, NULL), EOPNOTSUPP);
    EXPECT_ERR("connect length 1", connect(d, (struct sockaddr *)&a, 1), EINVAL);
    close(d);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    EXPECT_ERR("bind a pipe", bind(p[0], (struct sockaddr *)&a, 20), ENOTSOCK);
    EXPECT_ERR("listen on a pipe", listen(p[0], 1), ENOTSOCK);
    EXPECT_ERR("accept on a pipe", accept(p[0], NULL, NULL), ENOTSOCK);
    EXPECT_ERR("getsockname of a pipe", getsockname(p[0], (struct sockaddr *)&a, &(socklen_t){sizeof a}),
               ENOTSOCK);
    EXPECT_ERR("shutdown a pipe", shutdown(p[0], 0), ENOTSOCK);
    int v = 1;
    EXPECT_ERR("setsockopt on a pipe", setsockopt(p[0], SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v), ENOTSOCK);
    EXPECT_ERR("send on a pipe", send(p[1], "x", 1, 0), ENOTSOCK);
    close(p[0]);
    close(p[1]);
    EXPECT_ERR("bind a bad fd", bind(999, (struct sockaddr *)&a, 20), EBADF);
    EXPECT_ERR("recv on a bad fd", recv(999, buf, 1, 0), EBADF);

    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "node");
    int l = listener(path, 1);
    EXPECT_ERR("open a socket node", open(path, O_RDWR), ENXIO);
    close(l);
    vk_rmtree(dir);
}

/* ---- checkpoint modes ------------------------------------------------------------ */

static int dial_stream(const void *path) { return connect_to(path, SOCK_STREAM); }

static void xfer(void) {
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "x");
    int l = listener(path, 1);
    vk_slow_transfer(l, dial_stream, path, 6u << 20, 1u << 20, 11);
    close(l);
    vk_rmtree(dir);
}

static void pending(void) {
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, "pending");
    int l = sock(SOCK_STREAM);
    CHECK(bind(l, (struct sockaddr *)&a, len) == 0 && listen(l, 3) == 0, "listen");
    int c = sock(SOCK_STREAM);
    CHECK(connect(c, (struct sockaddr *)&a, len) == 0, "connect");
    CHECK(write(c, "before accept", 13) == 13, "write");
    printf("connected, not accepted; waiting\n");
    fflush(stdout);
    vk_msleep(1000);
    printf("listener: %s\n", vk_pollbits(revents(l, POLLIN)));
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0, "accept");
    char buf[32] = {0};
    CHECK(read(s, buf, sizeof buf) == 13, "read");
    printf("accepted after the wait: %s\n", buf);
    CHECK(write(s, "reply", 5) == 5, "reply");
    memset(buf, 0, sizeof buf);
    CHECK(read(c, buf, sizeof buf) == 5, "read reply");
    printf("client got: %s\n", buf);
    struct sockaddr_un got;
    socklen_t glen = sizeof got;
    CHECK(getpeername(c, (struct sockaddr *)&got, &glen) == 0, "getpeername");
    printf("peer name kept: %d\n", glen == len && memcmp(&got, &a, len) == 0);
    close(s);
    close(c);
    close(l);
}

static void dgrams(void) {
    const char *dir = vk_tmpdir();
    struct sockaddr_un ra, sa, from;
    socklen_t rlen = path_addr(&ra, vk_join(dir, "r")), slen = path_addr(&sa, vk_join(dir, "s"));
    int r = sock(SOCK_DGRAM), s = sock(SOCK_DGRAM), u = sock(SOCK_DGRAM);
    CHECK(bind(r, (struct sockaddr *)&ra, rlen) == 0 && bind(s, (struct sockaddr *)&sa, slen) == 0, "bind");
    const char *msgs[4] = {"one", "two two", "", "four!"};
    for (int i = 0; i < 4; i++) {
        int from_u = i % 2;
        CHECK(sendto(from_u ? u : s, msgs[i], strlen(msgs[i]), 0, (struct sockaddr *)&ra, rlen) ==
                  (ssize_t)strlen(msgs[i]),
              "sendto");
    }
    printf("four datagrams queued; waiting\n");
    fflush(stdout);
    vk_msleep(1000);
    for (int i = 0; i < 4; i++) {
        char buf[32] = {0};
        socklen_t flen = sizeof from;
        ssize_t k = recvfrom(r, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
        printf("datagram %d: %zd '%s' from %s\n", i, k, buf,
               flen == 0 ? "nobody" : strcmp(from.sun_path, sa.sun_path) == 0 ? "s" : "?");
    }
    EXPECT_ERR("then", recv(r, &from, 1, MSG_DONTWAIT), EAGAIN);
    close(r);
    close(s);
    close(u);
    vk_rmtree(dir);
}

static void inflight(void) {
    int sv[2], p[2], inner[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(p) == 0, "socketpair + pipe");
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, inner) == 0, "inner socketpair");
    CHECK(write(p[1], "through the pipe", 16) == 16, "write the pipe");
    CHECK(send(inner[0], "in the socket", 13, 0) == 13, "queue a datagram");
    int pass[2] = {p[0], inner[1]};
    CHECK(send_fds(sv[0], pass, 2, "R", 1) == 1, "send the read end and a socket");
    close(p[0]);
    close(p[1]);
    close(inner[1]);
    close(sv[0]);
    printf("a pipe's read end and a socket in flight, the pipe's writer closed; waiting\n");
    fflush(stdout);
    vk_msleep(1000);
    int fds[4], n, flags;
    char buf[32] = {0};
    ssize_t k = recv_fds(sv[1], buf, sizeof buf, 2, fds, &n, &flags, 0);
    printf("received %zd byte(s) %s with %d descriptor(s)\n", k, buf, n);
    memset(buf, 0, sizeof buf);
    CHECK(n == 2 && read(fds[0], buf, sizeof buf) == 16, "read the pipe");
    printf("the pipe held: %s\n", buf);
    printf("then EOF: %d\n", read(fds[0], buf, 1) == 0);
    memset(buf, 0, sizeof buf);
    CHECK(recv(fds[1], buf, sizeof buf, 0) == 13, "recv on the passed socket");
    printf("the passed socket held: %s\n", buf);
    CHECK(send(fds[1], "back", 4, 0) == 4 && recv(inner[0], buf, sizeof buf, 0) == 4, "and still works");
    printf("and still talks to its peer\n");
    printf("and the socket: EOF %d\n", read(sv[1], buf, 1) == 0);
    close(fds[0]);
    close(fds[1]);
    close(inner[0]);
    close(sv[1]);
}

/* A server blocked in accept and a client blocked in connect (its listener's
 * backlog is full) while the parent sleeps; then the parent unblocks both. */
static void blocked(void) {
    const char *dir = vk_tmpdir();
    const char *p1 = vk_join(dir, "full"), *p2 = vk_join(dir, "waiting");
    int l1 = listener(p1, 0), l2 = listener(p2, 1);
    pid_t d = vk_fork();
    if (d == 0) {
        int s = accept(l2, NULL, NULL);
        char buf[16] = {0};
        vk_exit(s >= 0 && read(s, buf, sizeof buf) == 4 && strcmp(buf, "to d") == 0 ? 0 : 1);
    }
    pid_t a = vk_fork();
    if (a == 0) {
        int s = connect_to(p1, SOCK_STREAM);
        vk_exit(s >= 0 && write(s, "A", 1) == 1 ? 0 : 1);
    }
    pid_t b = vk_fork();
    if (b == 0) {
        vk_msleep(100);
        int s = connect_to(p1, SOCK_STREAM);
        vk_exit(s >= 0 && write(s, "B", 1) == 1 ? 0 : 1);
    }
    printf("one server in accept, one client in connect; waiting\n");
    fflush(stdout);
    vk_msleep(1000);
    int c = connect_to(p2, SOCK_STREAM);
    CHECK(c >= 0 && write(c, "to d", 4) == 4, "connect to the server in accept");
    vk_reap_ok(d, "the server blocked in accept");
    for (int i = 0; i < 2; i++) {
        int s = accept(l1, NULL, NULL);
        char ch = 0;
        CHECK(s >= 0 && read(s, &ch, 1) == 1, "accept");
        printf("accepted %c\n", ch);
        close(s);
    }
    vk_reap_ok(a, "the first client");
    vk_reap_ok(b, "the client blocked in connect");
    close(c);
    close(l1);
    close(l2);
    vk_rmtree(dir);
}

/* ---- /proc/net/unix -------------------------------------------------------------- */

/* One line of /proc/net/unix, its path as Linux prints it ("" for none). */
struct unix_line {
    char num[32], path[160];
    unsigned refs, proto, flags, type, st;
    unsigned long ino;
};

static struct {
    const char *dir;
    char pid[16];
    int nonzero_num;
} pn;

/* The socket inode /proc/self/fd/N names (socket:[ino]); 0 if it names none. */
static unsigned long fd_ino(int fd) {
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    unsigned long ino = 0;
    CHECK(sscanf(link, "socket:[%lu]", &ino) == 1, "%s is %s", path, link);
    return ino;
}

/* Parses one line after the header; 1 if it has every column. */
static int parse_unix_line(const char *text, struct unix_line *l) {
    int end = 0;
    memset(l, 0, sizeof *l);
    if (sscanf(text, "%31s %x %x %x %x %x %lu%n", l->num, &l->refs, &l->proto, &l->flags, &l->type,
               &l->st, &l->ino, &end) != 7)
        return 0;
    if (text[end] == ' ')
        snprintf(l->path, sizeof l->path, "%s", text + end + 1);
    return 1;
}

/* The line of the socket with inode `ino`, or (ino 0) of the first socket without
 * a file named `path`; 0 if /proc/net/unix lists none. */
static int find_unix_line(unsigned long ino, const char *path, struct unix_line *out) {
    FILE *f = fopen("/proc/net/unix", "r");
    CHECK(f != NULL, "open /proc/net/unix");
    if (!f)
        return 0;
    char text[512];
    int found = 0;
    CHECK(fgets(text, sizeof text, f) != NULL &&
              strcmp(text, "Num       RefCount Protocol Flags    Type St Inode Path\n") == 0,
          "the header");
    while (!found && fgets(text, sizeof text, f)) {
        text[strcspn(text, "\n")] = 0;
        found = parse_unix_line(text, out) && out->ino == ino &&
                (ino != 0 || strcmp(out->path, path) == 0);
    }
    fclose(f);
    return found;
}

/* A listed path with the run's own parts (the directory, the pid) named. */
static const char *norm_path(const char *path) {
    static char buf[160];
    size_t dl = strlen(pn.dir);
    const char *pid = strstr(path, pn.pid);
    if (strncmp(path, pn.dir, dl) == 0)
        snprintf(buf, sizeof buf, "DIR%s", path + dl);
    else if (pid)
        snprintf(buf, sizeof buf, "%.*sPID%s", (int)(pid - path), path, pid + strlen(pn.pid));
    else
        snprintf(buf, sizeof buf, "%s", path);
    return buf;
}

/* What /proc/net/unix says of a socket: by its fd's inode, or (fd -1) the
 * connection at `path` that no file holds yet (inode 0). */
static void show_unix(const char *what, int fd, const char *path) {
    struct unix_line l;
    if (!find_unix_line(fd >= 0 ? fd_ino(fd) : 0, path, &l)) {
        printf("%s: not listed\n", what);
        return;
    }
    pn.nonzero_num += strcmp(l.num, "0000000000000000:") != 0;
    printf("%s: refs %u protocol %u flags %05X type %u st %u path '%s'\n", what, l.refs, l.proto,
           l.flags, l.type, l.st, norm_path(l.path));
}

/* The sockets procnet lists: a path listener with an accepted connection and one
 * waiting, an abstract seqpacket listener (a NUL inside its name), a stream
 * socketpair, a bound datagram socket and an unbound one connected to it, and a
 * plain unbound one. */
enum { PN_L, PN_C1, PN_A1, PN_C2, PN_AL, PN_P0, PN_P1, PN_D, PN_U, PN_FREE, PN_N };
static int pn_fd[PN_N];
static const char *const pn_what[PN_N] = {
    "path listener",     "accepted's client", "accepted",       "waiting client",
    "abstract listener", "pair end 0",        "pair end 1",     "bound datagram",
    "connected datagram", "plain datagram",
};

static void procnet_sockets(void) {
    pn.dir = vk_tmpdir();
    snprintf(pn.pid, sizeof pn.pid, "%d", (int)getpid());
    const char *path = vk_join(pn.dir, "listen"), *dpath = vk_join(pn.dir, "dgram");
    pn_fd[PN_L] = listener(path, 5);
    pn_fd[PN_C1] = connect_to(path, SOCK_STREAM);
    pn_fd[PN_A1] = accept(pn_fd[PN_L], NULL, NULL);
    pn_fd[PN_C2] = connect_to(path, SOCK_STREAM);
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, "pn");
    /* "\0vk-<pid>-pn\0x": a NUL inside the name too. */
    a.sun_path[len - SUN_OFF + 1] = 'x';
    len += 2;
    pn_fd[PN_AL] = sock(SOCK_SEQPACKET);
    CHECK(bind(pn_fd[PN_AL], (struct sockaddr *)&a, len) == 0 && listen(pn_fd[PN_AL], 2) == 0,
          "abstract listener");
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pn_fd + PN_P0) == 0, "socketpair");
    pn_fd[PN_D] = sock(SOCK_DGRAM);
    len = path_addr(&a, dpath);
    CHECK(bind(pn_fd[PN_D], (struct sockaddr *)&a, len) == 0, "bind datagram");
    pn_fd[PN_U] = sock(SOCK_DGRAM);
    CHECK(connect(pn_fd[PN_U], (struct sockaddr *)&a, len) == 0, "connect datagram");
    pn_fd[PN_FREE] = sock(SOCK_DGRAM);
    for (int i = 0; i < PN_N; i++)
        CHECK(pn_fd[i] >= 0, "%s", pn_what[i]);
}

static void procnet_show(void) {
    pn.nonzero_num = 0;
    for (int i = 0; i < PN_N; i++)
        show_unix(pn_what[i], pn_fd[i], "");
    show_unix("the waiting connection", -1, vk_join(pn.dir, "listen"));
    printf("value nonzero-num %d\n", pn.nonzero_num);
}

static void procnet_close(void) {
    for (int i = 0; i < PN_N; i++)
        close(pn_fd[i]);
    vk_rmtree(pn.dir);
}

static void procnet(void) {
    procnet_sockets();
    procnet_show();
    int plain = pn_fd[PN_FREE];
    unsigned long ino = fd_ino(plain);
    struct unix_line l;
    close(plain);
    printf("closed: listed %d\n", find_unix_line(ino, "", &l));
    pn_fd[PN_FREE] = -1;
    procnet_close();
}

static void procnet_thaw(void) {
    procnet_sockets();
    procnet_show();
    printf("listed; waiting\n");
    fflush(stdout);
    vk_msleep(1000);
    procnet_show();
    procnet_close();
}

/* Connections until the descriptor table is full: EMFILE for the next connect and
 * accept; the waiting connections can all be accepted afterwards. */
static void flood(void) {
    struct rlimit rl = {512, 512};
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "flood");
    int l = listener(path, 4096);
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, path);
    static int fds[4096];
    int n = 0;
    while (n < 4096 && (fds[n] = nb_connect(&a, len)) >= 0)
        n++;
    printf("value connections %d\n", n);
    printf("the flood ended with %s\n", errno == EMFILE ? "EMFILE" : strerror(errno));
    EXPECT_ERR("accept with a full table", accept(l, NULL, NULL), EMFILE);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    int accepted = 0, eof = 0;
    fcntl(l, F_SETFL, O_NONBLOCK);
    for (int s; (s = accept(l, NULL, NULL)) >= 0; accepted++) {
        char c;
        eof += read(s, &c, 1) == 0;
        close(s);
    }
    CHECK(accepted == n && eof == n, "accepted %d of %d, %d at EOF", accepted, n, eof);
    printf("every waiting connection accepted, each at EOF\n");
    close(l);
    vk_rmtree(dir);
}

static void cycles(void) {
    int fails = 0;
    for (int i = 0; i < 44000 && fails < 3; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
            CHECK(0, "socketpair %d", i);
            fails++;
            continue;
        }
        /* Even: sv[0] waits in its own queue. Odd: each end in the other's. */
        CHECK(send_fds(sv[1], &sv[0], 1, "x", 1) == 1, "send");
        if (i % 2)
            CHECK(send_fds(sv[0], &sv[1], 1, "y", 1) == 1, "send back");
        close(sv[0]);
        close(sv[1]);
    }
    printf("44000 socket cycles made and closed\n");
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "a socketpair after them");
    printf("a socketpair after them: ok\n");
}

static const struct vk_mode modes[] = {
    {"pair", pair},         {"stream", stream},       {"abstract", abstract}, {"backlog", backlog},
    {"big", big},           {"dgram", dgram},         {"seqpacket", seqpacket}, {"rights", rights},
    {"creds", creds},       {"options", options},     {"wait", wait_},        {"errors", errors},
    {"xfer", xfer},         {"pending", pending},     {"dgrams", dgrams},     {"inflight", inflight},
    {"blocked", blocked},   {"flood", flood},         {"procnet", procnet},   {"procnet-thaw", procnet_thaw},
    {"cycles", cycles},     {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("unix", modes, argc, argv); }
