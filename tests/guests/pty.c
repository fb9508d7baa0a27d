/* pty: pseudo-terminals and controlling terminals, selected by argv[1].
 *
 *   open      posix_openpt, grantpt, unlockpt, ptsname(_r): the slave is locked
 *             (EIO) until unlockpt; /dev/pts/N is a character device 136:N listed in
 *             /dev/pts; TIOCGPTN on a slave or a file is ENOTTY; TIOCGPTPEER opens
 *             the slave; the node goes when the master closes
 *   canon     canonical mode through the pair: input written to the master is edited
 *             (backspace, ^U) and echoed back to the master; the slave reads whole
 *             lines; slave output reaches the master with \n -> \r\n; FIONREAD on
 *             both sides; tcgetattr/tcsetattr and the window size through the master
 *   raw       non-canonical reads: VMIN=0 VTIME=2 times out with 0 bytes after about
 *             0.2 s; VMIN=3 VTIME=2 returns the 2 bytes there once the timer ends;
 *             VMIN=0 VTIME=0 polls; VMIN=2 VTIME=0 returns at most the buffer
 *   poll      readiness: a fresh master is writable only; a line makes the slave
 *             readable, slave output the master; last slave close gives the master
 *             POLLHUP and EIO reads; master close hangs the slave up (reads 0,
 *             writes EIO, poll all bits)
 *   ctty      /dev/tty is ENXIO without a controlling terminal; a session leader that
 *             opens a slave gets it as controlling terminal (TIOCGSID, tcgetpgrp,
 *             /dev/tty works); ^C written to the master kills the foreground group
 *             with SIGINT; O_NOCTTY does not take it; TIOCSCTTY does
 *   jobctl    a background group reading its controlling terminal stops with
 *             SIGTTIN; tcsetpgrp brings it to the foreground and it reads
 *   hangup    closing the master sends SIGHUP then SIGCONT to the session leader,
 *             whose reads then return 0 and writes fail with EIO
 *   leader    when the session leader exits, its terminal's foreground group gets
 *             SIGHUP
 *   orphan    a stopped process group that becomes orphaned gets SIGHUP and SIGCONT
 */
#include "posix.h"

#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <termios.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif

/* A new unlocked pair: master (O_RDWR|O_NOCTTY) and its slave's number. */
static int open_pair(int *num) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(m >= 0, "posix_openpt");
    CHECK(grantpt(m) == 0, "grantpt");
    CHECK(unlockpt(m) == 0, "unlockpt");
    CHECK(ioctl(m, TIOCGPTN, num) == 0, "TIOCGPTN");
    return m;
}

static int open_slave(int num, int flags) {
    char name[64];
    snprintf(name, sizeof name, "/dev/pts/%d", num);
    return open(name, flags);
}

/* Reads what the master has within `ms` milliseconds into buf (NUL-terminated). */
static ssize_t master_take(int m, char *buf, size_t size, int ms) {
    size_t got = 0;
    long long end = vk_mono_ms() + ms;
    while (got < size - 1 && vk_mono_ms() < end) {
        struct pollfd p = {m, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0 || !(p.revents & POLLIN))
            continue;
        ssize_t n = read(m, buf + got, size - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = 0;
    return (ssize_t)got;
}

/* Reads from the master until `want` shows up (or 5 s pass); 1 if it did. */
static int master_expect(int m, const char *want) {
    char buf[512];
    size_t got = 0;
    long long end = vk_mono_ms() + 5000;
    while (vk_mono_ms() < end && got < sizeof buf - 1) {
        struct pollfd p = {m, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t n = read(m, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = 0;
        if (strstr(buf, want))
            return 1;
    }
    return 0;
}

static void show(const char *what, const char *s) {
    printf("%s: \"", what);
    for (; *s; s++) {
        if (*s == '\r')
            printf("\\r");
        else if (*s == '\n')
            printf("\\n");
        else if ((unsigned char)*s < 32 || *s == 127)
            printf("\\x%02x", (unsigned char)*s);
        else
            putchar(*s);
    }
    printf("\"\n");
}

static void mode_open(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(m >= 0, "posix_openpt");
    int num = -1, lk = -1;
    CHECK(ioctl(m, TIOCGPTN, &num) == 0, "TIOCGPTN");
    printf("value ptn %d\n", num);
    CHECK(ioctl(m, TIOCGPTLCK, &lk) == 0 && lk == 1, "locked at first: %d", lk);
    printf("locked at first: %d\n", lk);
    EXPECT_ERR("open locked slave", open_slave(num, O_RDWR | O_NOCTTY), EIO);
    CHECK(grantpt(m) == 0, "grantpt");
    CHECK(unlockpt(m) == 0, "unlockpt");
    CHECK(ioctl(m, TIOCGPTLCK, &lk) == 0 && lk == 0, "unlocked: %d", lk);
    char *name = ptsname(m);
    char want[64];
    snprintf(want, sizeof want, "/dev/pts/%d", num);
    CHECK(name && strcmp(name, want) == 0, "ptsname %s", name ? name : "(null)");
    char buf[64];
    CHECK(ptsname_r(m, buf, sizeof buf) == 0 && strcmp(buf, want) == 0, "ptsname_r");
    printf("ptsname is /dev/pts/<TIOCGPTN>\n");
    struct stat st;
    CHECK(stat(want, &st) == 0, "stat %s", want);
    printf("slave: chr %d major %d minor-is-ptn %d\n", S_ISCHR(st.st_mode),
           (int)major(st.st_rdev), (int)minor(st.st_rdev) == num);
    /* devpts's mode= mount option decides (0600 by default, 0620 on many hosts). */
    printf("value slave-mode %o\n", st.st_mode & 0777);
    CHECK(st.st_uid == geteuid(), "owner %d", (int)st.st_uid);
    int listed = 0;
    DIR *d = opendir("/dev/pts");
    CHECK(d != NULL, "opendir /dev/pts");
    struct dirent *e;
    snprintf(buf, sizeof buf, "%d", num);
    while (d && (e = readdir(d)) != NULL)
        listed |= strcmp(e->d_name, buf) == 0;
    if (d)
        closedir(d);
    printf("listed in /dev/pts: %d\n", listed);
    int s = open_slave(num, O_RDWR | O_NOCTTY);
    CHECK(s >= 0, "open slave");
    printf("isatty: master %d slave %d\n", isatty(m), isatty(s));
    EXPECT_ERR("TIOCGPTN on the slave", ioctl(s, TIOCGPTN, &lk), ENOTTY);
    int f = open("/proc/self/stat", O_RDONLY);
    EXPECT_ERR("TIOCGPTN on a file", ioctl(f, TIOCGPTN, &lk), ENOTTY);
    EXPECT_ERR("TCGETS on a file", tcgetattr(f, &(struct termios){0}), ENOTTY);
    close(f);
    int peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    CHECK(peer >= 0, "TIOCGPTPEER");
    CHECK(write(peer, "p\n", 2) == 2, "write peer");
    char got[16];
    ssize_t n = master_take(m, got, sizeof got, 2000);
    show("peer output on the master", got);
    CHECK(n == 3, "%zd bytes", n);
    close(peer);
    close(s);
    close(m);
    EXPECT_ERR("stat after the master closed", stat(want, &st), ENOENT);
}

static void mode_canon(void) {
    int num;
    int m = open_pair(&num);
    int s = open_slave(num, O_RDWR | O_NOCTTY);
    CHECK(s >= 0, "open slave");
    struct winsize ws = {30, 100, 0, 0};
    CHECK(ioctl(m, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ on the master");
    struct winsize got_ws = {0};
    CHECK(ioctl(s, TIOCGWINSZ, &got_ws) == 0, "TIOCGWINSZ on the slave");
    printf("slave winsize %dx%d\n", got_ws.ws_col, got_ws.ws_row);
    struct termios t;
    CHECK(tcgetattr(m, &t) == 0, "tcgetattr master");
    printf("icanon %d echo %d onlcr %d\n", !!(t.c_lflag & ICANON), !!(t.c_lflag & ECHO),
           !!(t.c_oflag & ONLCR));
    const char *typed = "helo\x7flo\n";
    CHECK(write(m, typed, strlen(typed)) == (ssize_t)strlen(typed), "write master");
    char buf[256];
    ssize_t n = read(s, buf, sizeof buf);
    CHECK(n == 6, "read %zd", n);
    buf[n > 0 ? n : 0] = 0;
    show("slave read", buf);
    master_take(m, buf, sizeof buf, 300);
    show("echo on the master", buf);
    CHECK(write(m, "wrong\x15right\npartial", 19) == 19, "write master");
    int avail = -1;
    vk_msleep(50);
    CHECK(ioctl(s, FIONREAD, &avail) == 0, "FIONREAD slave");
    printf("slave FIONREAD: %d\n", avail);
    n = read(s, buf, sizeof buf);
    buf[n > 0 ? n : 0] = 0;
    show("slave read after ^U", buf);
    master_take(m, buf, sizeof buf, 300);
    show("echo of ^U", buf);
    CHECK(write(s, "one\ntwo\n", 8) == 8, "write slave");
    vk_msleep(50);
    CHECK(ioctl(m, FIONREAD, &avail) == 0, "FIONREAD master");
    printf("master FIONREAD: %d\n", avail);
    master_take(m, buf, sizeof buf, 300);
    show("slave output on the master", buf);
    /* Echo off through the master: the slave's settings change. */
    t.c_lflag &= ~ECHO;
    CHECK(tcsetattr(m, TCSANOW, &t) == 0, "tcsetattr master");
    CHECK(tcgetattr(s, &t) == 0 && !(t.c_lflag & ECHO), "echo off on the slave");
    CHECK(write(m, "quiet\n", 6) == 6, "write master");
    n = master_take(m, buf, sizeof buf, 200);
    printf("echo with -echo: %zd bytes\n", n);
    close(s);
    close(m);
}

static void set_raw(int fd, int vmin, int vtime) {
    struct termios t;
    CHECK(tcgetattr(fd, &t) == 0, "tcgetattr");
    cfmakeraw(&t);
    t.c_cc[VMIN] = vmin;
    t.c_cc[VTIME] = vtime;
    CHECK(tcsetattr(fd, TCSANOW, &t) == 0, "tcsetattr");
}

static void mode_raw(void) {
    int num;
    int m = open_pair(&num);
    int s = open_slave(num, O_RDWR | O_NOCTTY);
    char buf[16];
    set_raw(s, 0, 2);
    long long t0 = vk_mono_ms();
    ssize_t n = read(s, buf, sizeof buf);
    long long ms = vk_mono_ms() - t0;
    printf("VMIN=0 VTIME=2, nothing typed: %zd bytes\n", n);
    printf("value vtime-ms %lld\n", ms);
    CHECK(ms >= 150 && ms < 3000, "timed out after %lld ms", ms);
    CHECK(write(m, "xy", 2) == 2, "write master");
    n = read(s, buf, sizeof buf);
    printf("VMIN=0 VTIME=2, 2 bytes typed: %zd bytes\n", n);
    set_raw(s, 3, 2);
    CHECK(write(m, "ab", 2) == 2, "write master");
    t0 = vk_mono_ms();
    n = read(s, buf, sizeof buf);
    ms = vk_mono_ms() - t0;
    printf("VMIN=3 VTIME=2, 2 bytes typed: %zd bytes\n", n);
    CHECK(ms < 3000, "took %lld ms", ms);
    CHECK(write(m, "abcd", 4) == 4, "write master");
    vk_msleep(50);
    n = read(s, buf, sizeof buf);
    printf("VMIN=3 VTIME=2, 4 bytes typed: %zd bytes\n", n);
    set_raw(s, 0, 0);
    n = read(s, buf, sizeof buf);
    printf("VMIN=0 VTIME=0, nothing typed: %zd bytes\n", n);
    set_raw(s, 2, 0);
    CHECK(write(m, "12345", 5) == 5, "write master");
    vk_msleep(50);
    n = read(s, buf, 3);
    printf("VMIN=2 VTIME=0, 5 typed, buffer of 3: %zd bytes\n", n);
    n = read(s, buf, sizeof buf);
    printf("then: %zd bytes\n", n);
    /* Raw output: no \r added. */
    CHECK(write(s, "a\nb", 3) == 3, "write slave");
    master_take(m, buf, sizeof buf, 300);
    show("raw output on the master", buf);
    close(s);
    close(m);
}

static int revents(int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    poll(&p, 1, 0);
    return p.revents;
}

static void mode_poll(void) {
    int num;
    int m = open_pair(&num);
    int s = open_slave(num, O_RDWR | O_NOCTTY);
    struct termios t;
    tcgetattr(s, &t);
    t.c_lflag &= ~ECHO;
    tcsetattr(s, TCSANOW, &t);
    printf("fresh: master %#x slave %#x\n", revents(m), revents(s));
    write(m, "partial", 7);
    vk_msleep(50);
    printf("partial line: slave %#x\n", revents(s));
    write(m, "\n", 1);
    vk_msleep(50);
    printf("whole line: slave %#x\n", revents(s));
    write(s, "x", 1);
    vk_msleep(50);
    printf("slave output: master %#x\n", revents(m));
    char buf[64];
    read(m, buf, sizeof buf);
    close(s);
    vk_msleep(50);
    printf("slave closed: master %#x\n", revents(m));
    fcntl(m, F_SETFL, O_NONBLOCK);
    EXPECT_ERR("master read with the slave closed", read(m, buf, sizeof buf), EIO);
    s = open_slave(num, O_RDWR | O_NOCTTY);
    CHECK(s >= 0, "reopen slave");
    printf("slave reopened: master %#x\n", revents(m));
    EXPECT_ERR("master read, nothing there", read(m, buf, sizeof buf), EAGAIN);
    close(m);
    printf("master closed: slave %#x\n", revents(s));
    ssize_t n = read(s, buf, sizeof buf);
    printf("slave read after hangup: %zd\n", n);
    EXPECT_ERR("slave write after hangup", write(s, "x", 1), EIO);
    EXPECT_ERR("slave tcgetattr after hangup", tcgetattr(s, &t), EIO);
    close(s);
}

/* A child in a new session with the slave as its controlling terminal (on fds
 * 0-2); it closes its copy of the master `m`. */
static void become_session_leader(int m, int num, const char *what) {
    close(m);
    if (setsid() < 0)
        vk_exit(10);
    int s = open_slave(num, O_RDWR);
    if (s < 0)
        vk_exit(11);
    pid_t sid = -1;
    if (ioctl(s, TIOCGSID, &sid) != 0 || sid != getpid())
        vk_exit(12);
    if (tcgetpgrp(s) != getpid())
        vk_exit(13);
    dup2(s, 0);
    dup2(s, 1);
    dup2(s, 2);
    if (s > 2)
        close(s);
    printf("%s ready\n", what);
    fflush(stdout);
}

static void mode_ctty(void) {
    int num;
    int m = open_pair(&num);
    pid_t c = vk_fork();
    if (c == 0) {
        if (setsid() < 0)
            vk_exit(1);
        errno = 0;
        if (open("/dev/tty", O_RDWR) != -1 || errno != ENXIO)
            vk_exit(2);
        int s = open_slave(num, O_RDWR | O_NOCTTY);
        pid_t sid;
        if (s < 0 || ioctl(s, TIOCGSID, &sid) != -1 || errno != ENOTTY)
            vk_exit(3);
        if (ioctl(s, TIOCSCTTY, 0) != 0 || ioctl(s, TIOCGSID, &sid) != 0 || sid != getpid())
            vk_exit(4);
        int tty = open("/dev/tty", O_RDWR);
        if (tty < 0 || write(tty, "via /dev/tty\n", 13) != 13)
            vk_exit(5);
        vk_exit(0);
    }
    CHECK(master_expect(m, "via /dev/tty\r\n"), "the child's /dev/tty output");
    vk_reap_ok(c, "O_NOCTTY, then TIOCSCTTY, then /dev/tty");
    close(m);

    m = open_pair(&num);
    c = vk_fork();
    if (c == 0) {
        become_session_leader(m, num, "leader");
        char buf[64];
        for (;;)
            if (read(0, buf, sizeof buf) < 0 && errno != EINTR)
                vk_exit(20);
    }
    CHECK(master_expect(m, "leader ready\r\n"), "the child took the terminal");
    int fg = -1;
    CHECK(ioctl(m, TIOCGPGRP, &fg) == 0 && fg == c, "TIOCGPGRP on the master: %d", fg);
    printf("foreground group through the master is the child's\n");
    CHECK(write(m, "\x03", 1) == 1, "type ^C");
    vk_reap(c, "reader after ^C");
    CHECK(master_expect(m, "^C"), "^C echoed");
    close(m);
}

static void mode_jobctl(void) {
    int num;
    int m = open_pair(&num);
    pid_t c = vk_fork();
    if (c == 0) {
        become_session_leader(m, num, "leader");
        pid_t bg = fork();
        if (bg == 0) {
            setpgid(0, 0);
            char buf[64];
            ssize_t n = read(0, buf, sizeof buf);
            _exit(n == 6 && memcmp(buf, "fg in\n", 6) == 0 ? 0 : 30);
        }
        setpgid(bg, bg);
        int st;
        if (waitpid(bg, &st, WUNTRACED) != bg || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTTIN)
            vk_exit(21);
        /* Bring it to the foreground, continue it, and let it read. */
        if (tcsetpgrp(0, bg) != 0)
            vk_exit(22);
        kill(-bg, SIGCONT);
        printf("bg stopped by SIGTTIN\n");
        fflush(stdout);
        if (waitpid(bg, &st, 0) != bg || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            vk_exit(23);
        vk_exit(0);
    }
    CHECK(master_expect(m, "bg stopped by SIGTTIN\r\n"), "SIGTTIN stopped the reader");
    printf("a background reader stops with SIGTTIN\n");
    CHECK(write(m, "fg in\n", 6) == 6, "type a line");
    vk_reap_ok(c, "foreground read after tcsetpgrp");
    close(m);
}

static volatile sig_atomic_t hups, conts;
static void on_hup(int sig) {
    (void)sig;
    hups++;
}
static void on_cont(int sig) {
    (void)sig;
    conts++;
}

static void mode_hangup(void) {
    int num;
    int m = open_pair(&num);
    pid_t c = vk_fork();
    if (c == 0) {
        vk_handle(SIGHUP, on_hup, 0);
        vk_handle(SIGCONT, on_cont, 0);
        become_session_leader(m, num, "leader");
        if (!vk_wait_for(&hups, 1, 10000))
            vk_exit(20);
        vk_wait_for(&conts, 1, 2000);
        char buf[8];
        ssize_t n = read(0, buf, sizeof buf);
        errno = 0;
        ssize_t w = write(1, "x", 1);
        int code = hups != 1 || conts != 1 ? 21 : n != 0 ? 22 : (w != -1 || errno != EIO) ? 23 : 0;
        vk_exit(code);
    }
    CHECK(master_expect(m, "leader ready\r\n"), "the child took the terminal");
    close(m);
    vk_reap_ok(c, "SIGHUP, SIGCONT, then EOF and EIO after the master closed");
}

/* Reads a grandchild's 4-byte report ("hup\n" once its SIGHUP handler ran) from
 * `fd` and closes it. The grandchild was reparented: under vkernel to us (pid 1),
 * so it is reaped here, quietly. */
static void expect_hup(int fd, const char *what) {
    char buf[16] = {0};
    ssize_t n = vk_readn(fd, buf, 4);
    printf("%s: %.*s\n", what, (int)(n > 0 ? n - 1 : 0), buf);
    CHECK(n == 4 && memcmp(buf, "hup\n", 4) == 0, "got %zd", n);
    close(fd);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void mode_leader(void) {
    int num;
    int m = open_pair(&num);
    int report[2];
    CHECK(pipe(report) == 0, "pipe");
    pid_t c = vk_fork();
    if (c == 0) {
        close(report[0]);
        become_session_leader(m, num, "leader");
        int ready[2];
        if (pipe(ready) != 0)
            vk_exit(30);
        pid_t fg = fork();
        if (fg == 0) {
            vk_handle(SIGHUP, on_hup, 0);
            setpgid(0, 0);
            close(ready[0]);
            close(ready[1]);
            if (!vk_wait_for(&hups, 1, 10000))
                _exit(1);
            write(report[1], "hup\n", 4);
            _exit(0);
        }
        close(ready[1]);
        setpgid(fg, fg);
        if (tcsetpgrp(0, fg) != 0)
            vk_exit(31);
        /* EOF on `ready` once the child installed its handler and closed it. */
        char b;
        read(ready[0], &b, 1);
        vk_exit(0);
    }
    close(report[1]);
    vk_reap_ok(c, "session leader");
    expect_hup(report[0], "foreground group after the leader exited");
    close(m);
}

static void mode_orphan(void) {
    int report[2];
    CHECK(pipe(report) == 0, "pipe");
    pid_t a = vk_fork();
    if (a == 0) {
        close(report[0]);
        setpgid(0, 0);
        pid_t b = fork();
        if (b == 0) {
            vk_handle(SIGHUP, on_hup, 0);
            raise(SIGSTOP);
            /* Continued by the SIGCONT that follows SIGHUP. */
            write(report[1], hups ? "hup\n" : "no!\n", 4);
            _exit(0);
        }
        int st;
        if (waitpid(b, &st, WUNTRACED) != b || !WIFSTOPPED(st))
            vk_exit(40);
        vk_exit(0);
    }
    close(report[1]);
    vk_reap_ok(a, "the group's parent link");
    expect_hup(report[0], "stopped member of the orphaned group");
}

int main(int argc, char **argv) {
    static const struct vk_mode modes[] = {
        {"open", mode_open},     {"canon", mode_canon},   {"raw", mode_raw},
        {"poll", mode_poll},     {"ctty", mode_ctty},     {"jobctl", mode_jobctl},
        {"hangup", mode_hangup}, {"leader", mode_leader}, {"orphan", mode_orphan},
        {NULL, NULL},
    };
    return vk_main("pty", modes, argc, argv);
}
