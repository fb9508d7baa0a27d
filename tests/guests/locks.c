/* locks: flock and fcntl record locks between processes, selected by argv[1].
 *
 *   flock      LOCK_EX in the parent: another open file description in a child gets
 *              EWOULDBLOCK for LOCK_EX|LOCK_NB and LOCK_SH|LOCK_NB; shared locks
 *              coexist; LOCK_UN releases; an inherited fd shares the parent's lock;
 *              the lock goes away with the last fd of its open file description
 *   flockwait  a blocking LOCK_EX waits until the holder unlocks
 *   posix      F_SETLK write lock on bytes 0-99: F_GETLK from a child reports it
 *              (type, start, len, l_pid = the parent); a non-overlapping range can be
 *              locked; an overlapping one is EAGAIN; read locks are shared; a child does
 *              not inherit the parent's locks
 *   split      unlocking the middle of a lock leaves two locks
 *   close      closing any fd of the file drops the process's locks on it
 *   setlkw     F_SETLKW blocks until the conflicting lock is released
 *   deadlock   two processes waiting for each other's lock: EDEADLK for the second
 *   errors     F_WRLCK on a read-only fd: EBADF; bad l_type / l_whence: EINVAL;
 *              LOCK_SH|LOCK_EX: EINVAL
 */
#include "posix.h"

#include <sys/file.h>

static const char *dir, *path;

static void setup(void) {
    dir = vk_tmpdir();
    path = vk_join(dir, "lockfile");
    char buf[1024];
    memset(buf, 'l', sizeof buf);
    buf[sizeof buf - 1] = 0;
    vk_write_file(path, buf, 0644);
}

static int lk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    return fcntl(fd, cmd, &fl);
}

/* F_GETLK for [start, start+len): "unlocked" or "F_WRLCK 0+100 by the parent". */
static const char *getlk(int fd, off_t start, off_t len, pid_t owner) {
    static char buf[128];
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    if (fcntl(fd, F_GETLK, &fl) != 0) {
        snprintf(buf, sizeof buf, "F_GETLK failed: %s", strerror(errno));
        return buf;
    }
    if (fl.l_type == F_UNLCK) {
        snprintf(buf, sizeof buf, "unlocked");
        return buf;
    }
    snprintf(buf, sizeof buf, "%s %lld+%lld by %s", fl.l_type == F_WRLCK ? "F_WRLCK" : "F_RDLCK", (long long)fl.l_start,
             (long long)fl.l_len, fl.l_pid == owner ? "the parent" : "someone else");
    return buf;
}

/* Run `fn` in a child (with a fresh open of the file) and print its lines there:
 * the parent waits, so the output stays ordered. */
static void in_child(const char *what, void (*fn)(int fd, pid_t parent)) {
    pid_t parent = getpid();
    pid_t c = vk_fork();
    if (c == 0) {
        int fd = open(path, O_RDWR);
        fn(fd, parent);
        vk_exit(vk_failures);
    }
    int st = vk_wait(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", what, vk_status(st));
}

static void child_flock_nb(int fd, pid_t parent) {
    (void)parent;
    errno = 0;
    int r = flock(fd, LOCK_EX | LOCK_NB);
    printf("  child LOCK_EX|LOCK_NB: %d %s\n", r, r ? (errno == EWOULDBLOCK ? "EWOULDBLOCK" : strerror(errno)) : "");
    errno = 0;
    r = flock(fd, LOCK_SH | LOCK_NB);
    printf("  child LOCK_SH|LOCK_NB: %d %s\n", r, r ? (errno == EWOULDBLOCK ? "EWOULDBLOCK" : strerror(errno)) : "");
}

static void flock_mode(void) {
    setup();
    int fd = open(path, O_RDWR);
    CHECK(flock(fd, LOCK_EX) == 0, "LOCK_EX");
    printf("parent holds LOCK_EX:\n");
    in_child("flock child", child_flock_nb);
    CHECK(flock(fd, LOCK_SH) == 0, "convert to LOCK_SH");
    printf("parent converted to LOCK_SH:\n");
    in_child("flock child", child_flock_nb);
    CHECK(flock(fd, LOCK_UN) == 0, "LOCK_UN");
    printf("parent unlocked:\n");
    in_child("flock child", child_flock_nb);

    /* The same open file description (inherited fd) shares the lock. */
    CHECK(flock(fd, LOCK_EX) == 0, "LOCK_EX");
    pid_t c = vk_fork();
    if (c == 0) {
        int r = flock(fd, LOCK_EX | LOCK_NB);
        vk_exit(r == 0 ? 0 : 1);
    }
    vk_reap_ok(c, "child LOCK_EX|LOCK_NB on the inherited fd (same description)");
    /* A second open in the same process is another description: it conflicts. */
    int fd2 = open(path, O_RDWR);
    EXPECT_ERR("second open in the parent, LOCK_EX|LOCK_NB", flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK);
    /* dup shares the description; closing one of two fds keeps the lock. */
    int d = dup(fd);
    close(fd);
    EXPECT_ERR("after closing the original fd (a dup remains)", flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK);
    close(d);
    printf("after closing the dup too: %d\n", flock(fd2, LOCK_EX | LOCK_NB));
    close(fd2);
    vk_rmtree(dir);
}

static void flockwait(void) {
    setup();
    const char *log = vk_join(dir, "log");
    int fd = open(path, O_RDWR);
    flock(fd, LOCK_EX);
    pid_t c = vk_fork();
    if (c == 0) {
        int f = open(path, O_RDWR);
        flock(f, LOCK_EX); /* blocks */
        int l = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        write(l, "child locked\n", 13);
        close(l);
        vk_exit(0);
    }
    vk_wait_blocked(c);
    int l = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    write(l, "parent unlocking\n", 17);
    close(l);
    flock(fd, LOCK_UN);
    vk_reap_ok(c, "child blocked in LOCK_EX");
    char buf[128];
    vk_read_file(log, buf, sizeof buf);
    printf("order:\n%s", buf);
    close(fd);
    vk_rmtree(dir);
}

static void child_posix(int fd, pid_t parent) {
    printf("  child F_GETLK 50+10: %s\n", getlk(fd, 50, 10, parent));
    printf("  child F_GETLK 100+50: %s\n", getlk(fd, 100, 50, parent));
    printf("  child F_GETLK 0+0 (whole file): %s\n", getlk(fd, 0, 0, parent));
    errno = 0;
    int r = lk(fd, F_SETLK, F_WRLCK, 90, 20);
    printf("  child F_SETLK F_WRLCK 90+20: %d %s\n", r, r ? (errno == EAGAIN ? "EAGAIN" : errno == EACCES ? "EACCES" : strerror(errno)) : "");
    r = lk(fd, F_SETLK, F_WRLCK, 100, 50);
    printf("  child F_SETLK F_WRLCK 100+50: %d\n", r);
    errno = 0;
    r = lk(fd, F_SETLK, F_RDLCK, 0, 10);
    printf("  child F_SETLK F_RDLCK 0+10: %d %s\n", r, r ? (errno == EAGAIN ? "EAGAIN" : strerror(errno)) : "");
}

static void child_read_lock(int fd, pid_t parent) {
    printf("  child F_GETLK (as a writer) 0+10: %s\n", getlk(fd, 0, 10, parent));
    int r = lk(fd, F_SETLK, F_RDLCK, 0, 10);
    printf("  child F_SETLK F_RDLCK 0+10: %d\n", r);
}

static void posix_mode(void) {
    setup();
    int fd = open(path, O_RDWR);
    CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 100) == 0, "F_SETLK");
    printf("parent: F_WRLCK 0+100\n");
    printf("parent's own F_GETLK 0+100: %s\n", getlk(fd, 0, 100, getpid()));
    in_child("posix child", child_posix);
    /* Read locks are shared. */
    CHECK(lk(fd, F_SETLK, F_RDLCK, 0, 100) == 0, "downgrade");
    printf("parent: downgraded to F_RDLCK 0+100\n");
    in_child("read lock child", child_read_lock);
    /* A child does not inherit the parent's locks: it sees them as another owner's. */
    pid_t parent = getpid();
    pid_t c = vk_fork();
    if (c == 0) {
        const char *s = getlk(fd, 0, 10, parent);
        vk_exit(strcmp(s, "F_RDLCK 0+100 by the parent") == 0 ? 0 : 1);
    }
    vk_reap_ok(c, "forked child sees the parent's lock on the inherited fd as another process's");
    close(fd);
    vk_rmtree(dir);
}

static void child_split(int fd, pid_t parent) {
    printf("  child F_GETLK 0+100: %s\n", getlk(fd, 0, 100, parent));
    printf("  child F_GETLK 40+20: %s\n", getlk(fd, 40, 20, parent));
    printf("  child F_GETLK 50+100: %s\n", getlk(fd, 50, 100, parent));
    printf("  child F_SETLK F_WRLCK 40+20: %d\n", lk(fd, F_SETLK, F_WRLCK, 40, 20));
}

static void child_end(int fd, pid_t parent) {
    printf("  child F_GETLK 500+0: %s\n", getlk(fd, 500, 0, parent));
    printf("  child F_GETLK 5000+1: %s\n", getlk(fd, 5000, 1, parent));
    printf("  child F_GETLK 100+900: %s\n", getlk(fd, 100, 900, parent));
}

static void split(void) {
    setup();
    int fd = open(path, O_RDWR);
    lk(fd, F_SETLK, F_WRLCK, 0, 100);
    lk(fd, F_SETLK, F_UNLCK, 40, 20);
    printf("parent: F_WRLCK 0+100, then F_UNLCK 40+20\n");
    in_child("split child", child_split);
    /* SEEK_END / l_len 0 = to the end of file and beyond. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_END, .l_start = 0, .l_len = 0};
    CHECK(fcntl(fd, F_SETLK, &fl) == 0, "SEEK_END lock");
    printf("parent: F_WRLCK from SEEK_END (1023) to infinity\n");
    in_child("seek_end child", child_end);
    close(fd);
    vk_rmtree(dir);
}

static void child_try(int fd, pid_t parent) {
    printf("  child F_GETLK 0+10: %s\n", getlk(fd, 0, 10, parent));
}

static void close_mode(void) {
    setup();
    int fd = open(path, O_RDWR);
    lk(fd, F_SETLK, F_WRLCK, 0, 10);
    printf("parent: F_WRLCK 0+10\n");
    in_child("child", child_try);
    int other = open(path, O_RDONLY);
    close(other);
    printf("parent opened and closed another fd of the same file:\n");
    in_child("child", child_try);
    close(fd);
    vk_rmtree(dir);
}

static void setlkw(void) {
    setup();
    const char *log = vk_join(dir, "log");
    int fd = open(path, O_RDWR);
    lk(fd, F_SETLK, F_WRLCK, 0, 10);
    pid_t c = vk_fork();
    if (c == 0) {
        int f = open(path, O_RDWR);
        int r = lk(f, F_SETLKW, F_WRLCK, 5, 10); /* blocks */
        int l = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        write(l, r == 0 ? "child got the lock\n" : "child F_SETLKW failed\n", r == 0 ? 19 : 22);
        close(l);
        vk_exit(r == 0 ? 0 : 1);
    }
    vk_wait_blocked(c);
    int l = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    write(l, "parent unlocking\n", 17);
    close(l);
    lk(fd, F_SETLK, F_UNLCK, 0, 10);
    vk_reap_ok(c, "child blocked in F_SETLKW");
    char buf[128];
    vk_read_file(log, buf, sizeof buf);
    printf("order:\n%s", buf);
    close(fd);
    vk_rmtree(dir);
}

static void on_alarm(int sig) { (void)sig; }

static void deadlock(void) {
    setup();
    int fd = open(path, O_RDWR);
    lk(fd, F_SETLK, F_WRLCK, 0, 10); /* A */
    const char *ready = vk_join(dir, "ready");
    pid_t c = vk_fork();
    if (c == 0) {
        int f = open(path, O_RDWR);
        lk(f, F_SETLK, F_WRLCK, 100, 10); /* B */
        vk_gate_open(ready);
        int r = lk(f, F_SETLKW, F_WRLCK, 0, 10); /* waits for A */
        vk_exit(r == 0 ? 0 : 1);
    }
    CHECK(vk_gate_wait(ready), "child ready");
    vk_wait_blocked(c);
    /* A kernel without deadlock detection would block here forever: an alarm (no
     * SA_RESTART) turns that into EINTR after 3 s. */
    vk_handle(SIGALRM, on_alarm, 0);
    alarm(3);
    errno = 0;
    int r = lk(fd, F_SETLKW, F_WRLCK, 100, 10); /* would wait for B: deadlock */
    alarm(0);
    printf("parent F_SETLKW on the child's range while the child waits for ours: %d %s\n", r,
           errno == EDEADLK ? "EDEADLK" : strerror(errno));
    CHECK(r == -1 && errno == EDEADLK, "deadlock detection");
    lk(fd, F_SETLK, F_UNLCK, 0, 10);
    vk_reap_ok(c, "the child then got our range");
    close(fd);
    vk_rmtree(dir);
}

static void errors(void) {
    setup();
    int ro = open(path, O_RDONLY);
    int wo = open(path, O_WRONLY);
    EXPECT_ERR("F_WRLCK on a read-only fd", lk(ro, F_SETLK, F_WRLCK, 0, 1), EBADF);
    EXPECT_ERR("F_RDLCK on a write-only fd", lk(wo, F_SETLK, F_RDLCK, 0, 1), EBADF);
    EXPECT_ERR("bad l_type", lk(ro, F_SETLK, 42, 0, 1), EINVAL);
    struct flock fl = {.l_type = F_RDLCK, .l_whence = 42, .l_start = 0, .l_len = 1};
    EXPECT_ERR("bad l_whence", fcntl(ro, F_SETLK, &fl), EINVAL);
    fl.l_whence = SEEK_SET;
    fl.l_start = -10;
    EXPECT_ERR("negative start", fcntl(ro, F_SETLK, &fl), EINVAL);
    EXPECT_ERR("flock(LOCK_SH|LOCK_EX)", flock(ro, LOCK_SH | LOCK_EX), EINVAL);
    EXPECT_ERR("flock on a closed fd", flock(900, LOCK_SH), EBADF);
    /* F_GETLK with no conflict leaves F_UNLCK. */
    printf("F_GETLK with no locks: %s\n", getlk(ro, 0, 10, getpid()));
    close(ro);
    close(wo);
    vk_rmtree(dir);
}

static const struct vk_mode modes[] = {
    {"flock", flock_mode}, {"flockwait", flockwait}, {"posix", posix_mode}, {"split", split},
    {"close", close_mode}, {"setlkw", setlkw},       {"deadlock", deadlock}, {"errors", errors},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("locks", modes, argc, argv); }
