/* A guest to checkpoint while it waits on something, and to thaw: each mode prints a
 * line just before the wait the test means to checkpoint (the test stops vkernel with
 * SIGCKPTEXIT once it sees that line, thaws the image, and compares everything
 * printed with a native run), then checks that what it held across the checkpoint is
 * intact.
 *
 * Modes (argv[1]):
 *   console   reads the console one line at a time (byte reads, so a pipe gives lines
 *             as a terminal would), printing "waiting for line N" before each and the
 *             line after it, then sleeps 300 ms; "end of input" at end of file
 *   fifo      a FIFO in /tmp between the parent and a reading child: the child
 *             blocks in open while the parent sleeps 1 s ("reader waiting in open"), then
 *             the parent writes 192 KiB in 4 KiB writes while the child sleeps 1 s
 *             first, so the FIFO fills and the writer blocks ("writing ..."); the
 *             child checks every byte and the count
 *   bigwrite  as fifo, but the parent writes the 192 KiB in one write(2), which
 *             blocks with part of it in the FIFO (and may return short)
 *   sharedvm  a clone(CLONE_VM) child on its own stack plays ping-pong with the
 *             parent through shared memory, 12 rounds ("round N ..."); 150 ms
 *             between rounds
 *   files     files held open across a checkpoint ("files ready", then a 1 s
 *             sleep): read-only at an offset, O_APPEND while another fd extends the
 *             file, a dup'd fd whose offset a forked child shares and moves, an lseek
 *             past the end (a hole once written), a file unlinked while open
 */
#include "posix.h"

#include <sched.h>
#include <sys/stat.h>

static void console(void) {
    int lines = 0;
    for (;;) {
        printf("waiting for line %d\n", lines + 1);
        fflush(stdout);
        char line[256];
        size_t len = 0;
        char c;
        ssize_t r;
        while ((r = read(0, &c, 1)) == 1 && c != '\n' && len < sizeof line - 1)
            line[len++] = c;
        CHECK(r >= 0, "read the console");
        if (r <= 0 && len == 0)
            break;
        line[len] = 0;
        printf("line %d: %s\n", ++lines, line);
        fflush(stdout);
        vk_msleep(300);
    }
    printf("end of input after %d lines\n", lines);
}

enum { FIFO_CHUNK = 4096, FIFO_TOTAL = 48 * FIFO_CHUNK };

static unsigned char fifo_byte(size_t i) { return (unsigned char)((i * 7 + i / 4099) & 0xff); }

/* The reader: opens (blocking until the writer does), sleeps so the FIFO fills, then
 * checks every byte. Exit code: 0 intact, 1 wrong count, 2 wrong data, 3 open. */
static void fifo_reader(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        vk_exit(3);
    vk_msleep(1000);
    size_t got = 0;
    int bad = 0;
    unsigned char buf[1000];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t k = 0; k < n; k++)
            bad |= buf[k] != fifo_byte(got + (size_t)k);
        got += (size_t)n;
    }
    vk_exit(bad ? 2 : got == FIFO_TOTAL ? 0 : 1);
}

static void fifo_run(int whole) {
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "fifo");
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    pid_t reader = vk_fork();
    if (reader == 0)
        fifo_reader(path);
    printf("reader waiting in open\n");
    fflush(stdout);
    vk_msleep(1000);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0, "open the FIFO for writing");
    static unsigned char data[FIFO_TOTAL];
    for (size_t i = 0; i < FIFO_TOTAL; i++)
        data[i] = fifo_byte(i);
    printf("writing %d bytes in %s\n", FIFO_TOTAL, whole ? "one write" : "4 KiB writes");
    fflush(stdout);
    size_t step = whole ? FIFO_TOTAL : FIFO_CHUNK;
    size_t done = 0;
    while (done < FIFO_TOTAL) {
        /* A big write may come back short when a checkpoint stops it half way (as
         * Linux's freezer makes it); what went in must not go in again. */
        size_t want = FIFO_TOTAL - done < step ? FIFO_TOTAL - done : step;
        ssize_t n = write(fd, data + done, want);
        CHECK(n > 0, "a write of %zu bytes at %zu: %zd", want, done, n);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    vk_reap_ok(reader, "reader: every byte in order");
    vk_rmtree(dir);
}

static void fifo(void) { fifo_run(0); }

static void bigwrite(void) { fifo_run(1); }

enum { ROUNDS = 12 };

/* Shared with the CLONE_VM child: the round being played (odd: the parent served,
 * even: the child answered) and the child's answer. */
static long ball;
static long answer;

static long load(long *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }

static void store(long *p, long v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

/* Waits (1 ms polls, 5 s at most) until *p == v; 1 if it got there. Raw nanosleep:
 * the child shares the parent's TLS, so it stays out of libc. */
static int await(long *p, long v) {
    struct timespec ms = {0, 1000000L};
    for (int i = 0; i < 5000 && load(p) != v; i++)
        syscall(SYS_nanosleep, &ms, NULL);
    return load(p) == v;
}

static int ponger(void *arg) {
    (void)arg;
    for (long r = 0; r < ROUNDS; r++) {
        if (!await(&ball, 2 * r + 1))
            return 1;
        store(&answer, r * r + 1);
        store(&ball, 2 * r + 2);
    }
    return 0;
}

static void sharedvm(void) {
    size_t size = 256 * 1024;
    char *stack = malloc(size);
    CHECK(stack != NULL, "malloc a stack");
    fflush(stdout);
    pid_t child = clone(ponger, stack + size, CLONE_VM | SIGCHLD, NULL);
    CHECK(child > 0, "clone(CLONE_VM)");
    for (long r = 0; r < ROUNDS && child > 0; r++) {
        store(&ball, 2 * r + 1);
        int back = await(&ball, 2 * r + 2);
        CHECK(back, "the child answers round %ld", r);
        if (!back)
            break;
        printf("round %ld: the child answered %ld\n", r, load(&answer));
        fflush(stdout);
        vk_msleep(150);
    }
    if (child > 0)
        vk_reap_ok(child, "the CLONE_VM child");
    free(stack);
}

/* Reads n bytes at the fd's offset and prints them with the offset after. */
static void show_read(const char *what, int fd, size_t n) {
    char buf[64] = {0};
    ssize_t r = read(fd, buf, n);
    CHECK(r == (ssize_t)n, "%s: read %zu", what, n);
    printf("%s: read \"%s\", now at %ld\n", what, buf, (long)lseek(fd, 0, SEEK_CUR));
}

/* Prints a small file with its newlines as '|'. */
static void show_file(const char *what, const char *path) {
    char buf[256];
    ssize_t n = vk_read_file(path, buf, sizeof buf);
    CHECK(n >= 0, "read %s", path);
    for (ssize_t i = 0; i < n; i++)
        buf[i] = buf[i] == '\n' ? '|' : buf[i];
    printf("%s: %s\n", what, n >= 0 ? buf : "?");
}

/* The hole file: "head" at 0, "mid" at 4096, "tail" at 8192 (written after the
 * checkpoint, at the offset an lseek past the end left before it). */
static void check_hole(int fd) {
    CHECK(write(fd, "tail", 4) == 4, "write at the offset past the end");
    struct stat st;
    CHECK(fstat(fd, &st) == 0, "fstat");
    static char all[8196];
    CHECK(pread(fd, all, sizeof all, 0) == (ssize_t)sizeof all, "read the holed file");
    int zeros = vk_all_zero(all + 4, 4092) && vk_all_zero(all + 4099, 8192 - 4099);
    int data = memcmp(all, "head", 4) == 0 && memcmp(all + 4096, "mid", 3) == 0 &&
               memcmp(all + 8192, "tail", 4) == 0;
    printf("hole: size %ld, holes read as zeros: %s, data in place: %s\n", (long)st.st_size,
           zeros ? "yes" : "no", data ? "yes" : "no");
}

static void files(void) {
    const char *dir = vk_tmpdir();
    const char *data = vk_join(dir, "data");
    const char *log = vk_join(dir, "log");
    const char *hole = vk_join(dir, "hole");
    const char *gone = vk_join(dir, "gone");
    CHECK(vk_write_file(data, "0123456789abcdefghij", 0644) == 0, "data");
    CHECK(vk_write_file(log, "start\n", 0644) == 0, "log");
    CHECK(vk_write_file(gone, "still here", 0644) == 0, "gone");
    int ro = open(data, O_RDONLY);
    show_read("read-only", ro, 4);
    int app = open(log, O_WRONLY | O_APPEND);
    CHECK(app >= 0 && write(app, "app1\n", 5) == 5, "append");
    int rw = open(log, O_RDWR);
    int shared = open(data, O_RDONLY);
    int twin = dup(shared);
    CHECK(rw >= 0 && shared >= 0 && twin >= 0 && lseek(shared, 10, SEEK_SET) == 10, "dup");
    int holed = open(hole, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(holed >= 0 && write(holed, "head", 4) == 4, "hole head");
    CHECK(pwrite(holed, "mid", 3, 4096) == 3 && lseek(holed, 8192, SEEK_SET) == 8192, "hole");
    int unlinked = open(gone, O_RDONLY);
    CHECK(unlinked >= 0 && unlink(gone) == 0, "unlink while open");
    pid_t sharer = vk_fork();
    if (sharer == 0) {
        /* After the checkpoint: move the offset it shares with the parent. */
        vk_msleep(1000);
        char buf[4] = {0};
        vk_exit(read(twin, buf, 3) == 3 && memcmp(buf, "abc", 3) == 0 ? 0 : 1);
    }
    printf("files ready\n");
    fflush(stdout);
    vk_msleep(1000);
    show_read("read-only", ro, 4);
    CHECK(lseek(rw, 0, SEEK_END) == 11 && write(rw, "rw\n", 3) == 3, "extend the log");
    CHECK(write(app, "app2\n", 5) == 5, "append again");
    show_file("log", log);
    vk_reap_ok(sharer, "the child read through the shared offset");
    show_read("the parent's dup", shared, 3);
    show_read("its twin", twin, 2);
    check_hole(holed);
    show_read("unlinked", unlinked, 10);
    vk_rmtree(dir);
}

static const struct vk_mode modes[] = {
    {"console", console},
    {"fifo", fifo},
    {"bigwrite", bigwrite},
    {"sharedvm", sharedvm},
    {"files", files},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("thaw", modes, argc, argv); }
