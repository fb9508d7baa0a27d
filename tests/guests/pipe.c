/* pipe: pipes between processes, selected by argv[1].
 *
 *   eof        data then EOF once every write end is closed (also a write end held by
 *              a child, and a reader blocked in read woken by the last close)
 *   sigpipe    writing with no reader: SIGPIPE kills a child by default (status 13)
 *   epipe      SIGPIPE ignored: EPIPE; with a handler: the handler runs, then EPIPE
 *   capacity   an O_NONBLOCK write end takes exactly 65536 bytes in PIPE_BUF chunks,
 *              then EAGAIN; a big non-blocking write is partial; F_GETPIPE_SZ 65536;
 *              FIONREAD; an empty O_NONBLOCK read end gives EAGAIN
 *   atomic     two writers, 400 writes of PIPE_BUF (4096) bytes each: every 4096-byte
 *              record the reader gets comes from one writer
 *   big        4 MiB through a pipe in odd-sized chunks with blocking on both sides;
 *              checksum
 *   pipe2      O_CLOEXEC and O_NONBLOCK from pipe2; EINVAL for other flags
 *   stat       fstat says FIFO, lseek ESPIPE, /proc/self/fd/N -> pipe:[ino], both ends
 *              have the same inode, reading the write end is EBADF
 *   fifo       mkfifo: open rendezvous between a reader and a writer, data, EOF;
 *              O_NONBLOCK open for writing with no reader is ENXIO
 *   fiforw     a FIFO opened O_RDWR: the open never waits (it is a reader and a writer),
 *              poll says writable only, data written comes back through the same fd,
 *              other opens find a reader/writer present, and a non-blocking read of the
 *              drained FIFO is EAGAIN (not EOF: the fd itself is a writer)
 *   chain      parent -> busybox tr -> busybox rev -> parent, with dup2 onto stdin and
 *              stdout of exec'd children
 */
#include "posix.h"

#include <sys/ioctl.h>

#ifndef F_GETPIPE_SZ
#define F_GETPIPE_SZ 1032
#endif

static void eof(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t c = vk_fork();
    if (c == 0) {
        close(p[0]);
        vk_writen(p[1], "hello, pipe\n", 12);
        vk_exit(0);
    }
    close(p[1]);
    char buf[64];
    size_t n = vk_readn(p[0], buf, sizeof buf);
    printf("read %zu bytes then EOF: %.*s", n, (int)n, buf);
    CHECK(n == 12, "got %zu", n);
    CHECK(read(p[0], buf, sizeof buf) == 0, "read after EOF");
    printf("read after EOF: 0 again\n");
    close(p[0]);
    vk_reap_ok(c, "writer");

    /* A child keeps a write end open: no EOF until it exits. */
    CHECK(pipe(p) == 0, "pipe");
    const char *dir = vk_tmpdir();
    const char *gate = vk_join(dir, "go");
    c = vk_fork();
    if (c == 0) {
        close(p[0]);
        vk_exit(vk_gate_wait(gate) ? 0 : 99); /* holds p[1] until the gate opens */
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    EXPECT_ERR("read while a child holds the write end", read(p[0], buf, 1), EAGAIN);
    fcntl(p[0], F_SETFL, 0);
    vk_gate_open(gate);
    CHECK(read(p[0], buf, 1) == 0, "EOF after the child exits");
    printf("EOF once the child holding the write end exited\n");
    close(p[0]);
    vk_reap_ok(c, "holder");

    /* A reader blocked in read is woken by the last close. */
    CHECK(pipe(p) == 0, "pipe");
    c = vk_fork();
    if (c == 0) {
        close(p[1]);
        ssize_t r = read(p[0], buf, sizeof buf);
        vk_exit(r == 0 ? 0 : 1);
    }
    close(p[0]);
    vk_wait_blocked(c);
    close(p[1]);
    vk_reap_ok(c, "reader blocked in read got EOF when the write end closed");
    vk_rmtree(dir);
}

static void sigpipe(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    close(p[0]);
    pid_t c = vk_fork();
    if (c == 0) {
        signal(SIGPIPE, SIG_DFL);
        write(p[1], "x", 1);
        vk_exit(1); /* not reached */
    }
    int st = vk_reap(c, "child writing to a pipe without readers");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "status");
    CHECK((st & 0x7f) == 13, "raw status");
    /* A blocked writer is killed when the last reader goes away. */
    CHECK(pipe(p) == 0, "pipe");
    c = vk_fork();
    if (c == 0) {
        close(p[0]);
        static char big[128 * 1024];
        write(p[1], big, sizeof big); /* fills the pipe, blocks */
        vk_exit(1);
    }
    close(p[1]);
    vk_wait_blocked(c);
    close(p[0]);
    st = vk_reap(c, "writer blocked on a full pipe when the reader closes");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "status");
}

static volatile int sigpipes;
static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

static void epipe(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    EXPECT_ERR("write with SIGPIPE ignored", write(p[1], "x", 1), EPIPE);
    vk_handle(SIGPIPE, on_sigpipe, 0);
    EXPECT_ERR("write with a SIGPIPE handler", write(p[1], "x", 1), EPIPE);
    printf("SIGPIPE handler ran %d time(s)\n", sigpipes);
    CHECK(sigpipes == 1, "handler count");
    vk_mask(SIG_BLOCK, SIGPIPE);
    EXPECT_ERR("write with SIGPIPE blocked", write(p[1], "x", 1), EPIPE);
    sigset_t pend;
    sigpending(&pend);
    printf("SIGPIPE pending while blocked: %d\n", sigismember(&pend, SIGPIPE));
    vk_mask(SIG_UNBLOCK, SIGPIPE);
    printf("after unblocking, the handler ran %d time(s)\n", sigpipes);
    CHECK(sigpipes == 2, "handler count");
    close(p[1]);
    signal(SIGPIPE, SIG_DFL);
}

static void capacity(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    long sz = fcntl(p[1], F_GETPIPE_SZ);
    printf("F_GETPIPE_SZ: %ld\n", sz);
    CHECK(sz == 65536, "pipe size");
    CHECK(fcntl(p[0], F_GETPIPE_SZ) == sz, "both ends");
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    char chunk[4096];
    memset(chunk, 'c', sizeof chunk);
    char b;
    EXPECT_ERR("read from an empty O_NONBLOCK pipe", read(p[0], &b, 1), EAGAIN);
    size_t total = 0;
    int writes = 0;
    for (;;) {
        ssize_t r = write(p[1], chunk, sizeof chunk);
        if (r < 0)
            break;
        total += (size_t)r;
        writes++;
        if (writes > 1000)
            break;
    }
    printf("PIPE_BUF writes until EAGAIN: %d, %zu bytes (errno %s)\n", writes, total,
           errno == EAGAIN ? "EAGAIN" : strerror(errno));
    CHECK(total == 65536, "capacity");
    int avail = -1;
    CHECK(ioctl(p[0], FIONREAD, &avail) == 0 && avail == 65536, "FIONREAD %d", avail);
    printf("FIONREAD on the full pipe: %d\n", avail);
    EXPECT_ERR("one more byte", write(p[1], "x", 1), EAGAIN);
    /* Drain one page: a PIPE_BUF write fits again. */
    CHECK(vk_readn(p[0], chunk, 4096) == 4096, "read a page");
    ssize_t r = write(p[1], chunk, 4096);
    printf("after reading 4096 bytes, a 4096-byte write: %zd\n", r);
    CHECK(r == 4096, "write after drain");
    /* Drain all, then a big non-blocking write is partial. */
    size_t drained = 0;
    while ((r = read(p[0], chunk, sizeof chunk)) > 0)
        drained += (size_t)r;
    printf("drained %zu bytes\n", drained);
    static char big[200000];
    r = write(p[1], big, sizeof big);
    printf("a 200000-byte O_NONBLOCK write into an empty pipe: %zd\n", r);
    CHECK(r == 65536, "partial write %zd", r);
    close(p[0]);
    close(p[1]);
}

static void atomic_mode(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    enum { N = 400 };
    pid_t w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = vk_fork();
        if (w[i] == 0) {
            close(p[0]);
            char rec[4096];
            memset(rec, 'A' + i, sizeof rec);
            for (int k = 0; k < N; k++) {
                rec[0] = (char)('A' + i);
                if (write(p[1], rec, sizeof rec) != (ssize_t)sizeof rec)
                    vk_exit(1);
            }
            vk_exit(0);
        }
    }
    close(p[1]);
    int count[2] = {0, 0}, torn = 0;
    char rec[4096];
    for (;;) {
        size_t n = vk_readn(p[0], rec, sizeof rec);
        if (n == 0)
            break;
        if (n != sizeof rec) {
            torn++;
            break;
        }
        char c = rec[0];
        for (size_t k = 1; k < n; k++)
            if (rec[k] != c) {
                torn++;
                break;
            }
        if (c == 'A' || c == 'B')
            count[c - 'A']++;
        else
            torn++;
    }
    close(p[0]);
    printf("records from writer A: %d, from writer B: %d, mixed: %d\n", count[0], count[1], torn);
    CHECK(count[0] == N && count[1] == N && torn == 0, "atomicity");
    vk_reap_ok(w[0], "writer A");
    vk_reap_ok(w[1], "writer B");
}

static void big(void) {
    enum { TOTAL = 4 << 20 };
    unsigned char *data = malloc(TOTAL);
    vk_fill(data, TOTAL, 9);
    uint64_t want = vk_fnv(data, TOTAL);
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t c = vk_fork();
    if (c == 0) {
        close(p[0]);
        size_t off = 0, step = 1;
        while (off < TOTAL) {
            size_t n = (step * 7919) % 70001 + 1;
            if (n > TOTAL - off)
                n = TOTAL - off;
            if (vk_writen(p[1], data + off, n) != n)
                vk_exit(1);
            off += n;
            step++;
        }
        vk_exit(0);
    }
    close(p[1]);
    memset(data, 0, TOTAL);
    size_t off = 0, step = 1;
    for (;;) {
        size_t n = (step * 104729) % 50021 + 1;
        if (n > TOTAL - off)
            n = TOTAL - off;
        if (n == 0)
            break;
        ssize_t r = read(p[0], data + off, n);
        if (r <= 0)
            break;
        off += (size_t)r;
        step++;
    }
    char extra;
    CHECK(read(p[0], &extra, 1) == 0, "EOF");
    printf("received %zu bytes, checksum %s\n", off, vk_fnv(data, TOTAL) == want ? "ok" : "WRONG");
    CHECK(off == TOTAL && vk_fnv(data, TOTAL) == want, "data");
    close(p[0]);
    vk_reap_ok(c, "writer");
    free(data);
}

static void pipe2_mode(void) {
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2");
    printf("pipe2(O_CLOEXEC|O_NONBLOCK): FD_CLOEXEC %d %d, O_NONBLOCK %d %d\n", fcntl(p[0], F_GETFD) & FD_CLOEXEC,
           fcntl(p[1], F_GETFD) & FD_CLOEXEC, (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0,
           (fcntl(p[1], F_GETFL) & O_NONBLOCK) != 0);
    printf("access modes: read end %s, write end %s\n", (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY ? "O_RDONLY" : "?",
           (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY ? "O_WRONLY" : "?");
    close(p[0]);
    close(p[1]);
    CHECK(pipe2(p, 0) == 0, "pipe2(0)");
    printf("pipe2(0): FD_CLOEXEC %d, O_NONBLOCK %d\n", fcntl(p[0], F_GETFD) & FD_CLOEXEC,
           (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
    close(p[0]);
    close(p[1]);
    EXPECT_ERR("pipe2(O_TRUNC)", pipe2(p, O_TRUNC), EINVAL);
    EXPECT_ERR("pipe(bad pointer)", syscall(SYS_pipe, (int *)8), EFAULT);
}

static void stat_mode(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct stat s0, s1;
    CHECK(fstat(p[0], &s0) == 0 && fstat(p[1], &s1) == 0, "fstat");
    printf("fstat: S_ISFIFO %d %d, same inode %d, size %lld\n", S_ISFIFO(s0.st_mode), S_ISFIFO(s1.st_mode),
           s0.st_ino == s1.st_ino, (long long)s0.st_size);
    printf("fstat: mode %o\n", (unsigned)(s0.st_mode & 07777));
    EXPECT_ERR("lseek on a pipe", lseek(p[0], 0, SEEK_SET), ESPIPE);
    EXPECT_ERR("pread on a pipe", pread(p[0], &s0, 1, 0), ESPIPE);
    char b;
    EXPECT_ERR("read from the write end", read(p[1], &b, 1), EBADF);
    EXPECT_ERR("write to the read end", write(p[0], "x", 1), EBADF);
    char path[64], link[64], want[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    snprintf(want, sizeof want, "pipe:[%llu]", (unsigned long long)s0.st_ino);
    CHECK(strcmp(link, want) == 0, "%s -> %s, want %s", path, link, want);
    printf("/proc/self/fd/N -> pipe:[<inode>]\n");
    /* Reopening through /proc/self/fd gives a new description of the same pipe. */
    int q = open(path, O_WRONLY);
    CHECK(q >= 0, "open %s for writing", path);
    CHECK(write(q, "r", 1) == 1 && read(p[0], &b, 1) == 1 && b == 'r', "data through the reopened pipe");
    printf("reopening /proc/self/fd/N of a pipe: same pipe\n");
    close(q);
    close(p[0]);
    close(p[1]);
}

static void fifo(void) {
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "fifo");
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode), "stat fifo");
    printf("mkfifo: S_ISFIFO, mode %o\n", (unsigned)(st.st_mode & 0777));
    EXPECT_ERR("open O_WRONLY|O_NONBLOCK without a reader", open(path, O_WRONLY | O_NONBLOCK), ENXIO);
    int rfd = open(path, O_RDONLY | O_NONBLOCK);
    CHECK(rfd >= 0, "open O_RDONLY|O_NONBLOCK without a writer");
    printf("open O_RDONLY|O_NONBLOCK without a writer: ok\n");
    close(rfd);
    pid_t c = vk_fork();
    if (c == 0) {
        int fd = open(path, O_WRONLY); /* blocks until the parent opens for reading */
        if (fd < 0)
            vk_exit(1);
        vk_writen(fd, "through the fifo\n", 17);
        close(fd);
        vk_exit(0);
    }
    vk_msleep(50);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open for reading");
    char buf[64];
    size_t n = vk_readn(fd, buf, sizeof buf);
    printf("read %zu bytes then EOF: %.*s", n, (int)n, buf);
    close(fd);
    vk_reap_ok(c, "fifo writer");
    vk_rmtree(dir);
}

static void on_alarm(int sig) { (void)sig; }

static void fiforw(void) {
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "fifo");
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    /* A kernel that made this wait would block forever: the alarm (no SA_RESTART)
     * turns that into EINTR. */
    vk_handle(SIGALRM, on_alarm, 0);
    alarm(5);
    int fd = open(path, O_RDWR);
    alarm(0);
    printf("open O_RDWR with no other reader or writer: %s\n", fd >= 0 ? "ok" : strerror(errno));
    CHECK(fd >= 0, "open O_RDWR");
    struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};
    int n = poll(&pfd, 1, 0);
    printf("poll: %d, revents POLLIN %d POLLOUT %d POLLHUP %d POLLERR %d\n", n, !!(pfd.revents & POLLIN),
           !!(pfd.revents & POLLOUT), !!(pfd.revents & POLLHUP), !!(pfd.revents & POLLERR));
    CHECK(write(fd, "abc", 3) == 3, "write");
    char buf[64];
    n = read(fd, buf, sizeof buf);
    printf("wrote abc, read back through the same fd: %d %.*s\n", n, n > 0 ? n : 0, buf);
    int w = open(path, O_WRONLY | O_NONBLOCK);
    printf("open O_WRONLY|O_NONBLOCK while it is open O_RDWR: %s\n", w >= 0 ? "ok" : strerror(errno));
    alarm(5);
    int r = open(path, O_RDONLY);
    alarm(0);
    printf("blocking open O_RDONLY while it is open O_RDWR: %s\n", r >= 0 ? "ok" : strerror(errno));
    pid_t c = vk_fork();
    if (c == 0) {
        int cw = open(path, O_WRONLY); /* a reader is there: no wait */
        vk_exit(cw >= 0 && write(cw, "child\n", 6) == 6 ? 0 : 1);
    }
    vk_reap_ok(c, "a writer that opened without waiting");
    n = read(r, buf, sizeof buf);
    printf("read from the O_RDONLY fd: %.*s", n > 0 ? n : 0, buf);
    close(w);
    close(r);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    EXPECT_ERR("non-blocking read of the drained FIFO (the O_RDWR fd is a writer)", read(fd, buf, sizeof buf),
               EAGAIN);
    close(fd);
    signal(SIGALRM, SIG_DFL);
    vk_rmtree(dir);
}

static pid_t spawn(int in, int out, char **argv) {
    pid_t c = vk_fork();
    if (c == 0) {
        dup2(in, 0);
        dup2(out, 1);
        for (int fd = 3; fd < 64; fd++)
            close(fd);
        char *envp[] = {"PATH=/bin", NULL};
        execve("/bin/busybox", argv, envp);
        _exit(127);
    }
    return c;
}

static void chain(void) {
    int a[2], b[2], c[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0 && pipe(c) == 0, "pipes");
    char *tr[] = {"tr", "a-z", "A-Z", NULL};
    char *rev[] = {"rev", NULL};
    pid_t p1 = spawn(a[0], b[1], tr);
    pid_t p2 = spawn(b[0], c[1], rev);
    close(a[0]);
    close(b[0]);
    close(b[1]);
    close(c[1]);
    const char *text = "hello world\nsecond line\n";
    vk_writen(a[1], text, strlen(text));
    close(a[1]);
    char buf[256];
    size_t n = vk_readn(c[0], buf, sizeof buf - 1);
    buf[n] = 0;
    printf("through tr a-z A-Z | rev:\n%s", buf);
    CHECK(strcmp(buf, "DLROW OLLEH\nENIL DNOCES\n") == 0, "chain output");
    close(c[0]);
    vk_reap_ok(p1, "tr");
    vk_reap_ok(p2, "rev");
}

static const struct vk_mode modes[] = {
    {"eof", eof},       {"sigpipe", sigpipe}, {"epipe", epipe}, {"capacity", capacity}, {"atomic", atomic_mode},
    {"big", big},       {"pipe2", pipe2_mode}, {"stat", stat_mode}, {"fifo", fifo},    {"fiforw", fiforw},
    {"chain", chain},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("pipe", modes, argc, argv); }
