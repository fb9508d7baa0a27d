/* sendfile: sendfile and copy_file_range, selected by argv[1].
 *
 *   sendfile   file to file with an offset pointer (updated; the input position
 *              untouched) and without (the input position advances); short at EOF;
 *              3 MiB with a checksum; count 0
 *   pipe       sendfile into a pipe read by a child
 *   cfr        copy_file_range with and without offsets, at EOF, into the middle of a
 *              file, 2 MiB with a checksum
 *   errors     EBADF (write-only input, read-only output), EINVAL (O_APPEND output for
 *              sendfile, flags for copy_file_range, overlapping ranges of one file),
 *              EISDIR / EINVAL for directories, negative offsets
 */
#include "posix.h"

#include <sys/sendfile.h>

static const char *dir;

static ssize_t cfr(int in, off_t *inoff, int out, off_t *outoff, size_t len, unsigned flags) {
    return syscall(SYS_copy_file_range, in, inoff, out, outoff, len, flags);
}

static int make(const char *name, size_t size, unsigned seed) {
    int fd = open(vk_join(dir, name), O_RDWR | O_CREAT | O_TRUNC, 0644);
    unsigned char *buf = malloc(size ? size : 1);
    vk_fill(buf, size, seed);
    vk_writen(fd, buf, size);
    free(buf);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static uint64_t file_sum(int fd, size_t *size) {
    struct stat st;
    fstat(fd, &st);
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
    uint64_t h = vk_fnv(buf, n > 0 ? (size_t)n : 0);
    free(buf);
    *size = (size_t)st.st_size;
    return h;
}

static void sendfile_mode(void) {
    dir = vk_tmpdir();
    int in = make("in", 10000, 1);
    int out = open(vk_join(dir, "out"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    off_t off = 1000;
    ssize_t n = sendfile(out, in, &off, 3000);
    printf("sendfile 3000 from offset 1000: %zd, offset now %lld, input position %lld, output position %lld\n", n,
           (long long)off, (long long)lseek(in, 0, SEEK_CUR), (long long)lseek(out, 0, SEEK_CUR));
    unsigned char a[3000], b[3000];
    pread(in, a, 3000, 1000);
    pread(out, b, 3000, 0);
    printf("  bytes match: %d\n", memcmp(a, b, 3000) == 0);
    lseek(in, 9000, SEEK_SET);
    n = sendfile(out, in, NULL, 5000);
    printf("sendfile 5000 from position 9000 (NULL offset): %zd, input position now %lld\n", n,
           (long long)lseek(in, 0, SEEK_CUR));
    n = sendfile(out, in, NULL, 5000);
    printf("sendfile at EOF: %zd\n", n);
    n = sendfile(out, in, NULL, 0);
    printf("sendfile count 0: %zd\n", n);
    close(in);
    close(out);

    /* 3 MiB */
    in = make("big", 3 << 20, 2);
    out = open(vk_join(dir, "bigcopy"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    size_t total = 0;
    for (;;) {
        n = sendfile(out, in, NULL, 1 << 20);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    size_t s1, s2;
    uint64_t h1 = file_sum(in, &s1), h2 = file_sum(out, &s2);
    printf("3 MiB in 1 MiB sendfiles: %zu bytes, copy identical: %d\n", total, h1 == h2 && s1 == s2);
    close(in);
    close(out);
    vk_rmtree(dir);
}

static void pipe_mode(void) {
    dir = vk_tmpdir();
    int in = make("in", 200000, 3);
    size_t sz;
    uint64_t want = file_sum(in, &sz);
    int p[2];
    pipe(p);
    pid_t c = vk_fork();
    if (c == 0) {
        close(p[1]);
        unsigned char *buf = malloc(200000);
        size_t got = vk_readn(p[0], buf, 200000);
        char extra;
        int bad = got != 200000 || vk_fnv(buf, got) != want || read(p[0], &extra, 1) != 0;
        vk_exit(bad);
    }
    close(p[0]);
    size_t total = 0;
    off_t off = 0;
    while (total < 200000) {
        ssize_t n = sendfile(p[1], in, &off, 200000 - total);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    close(p[1]);
    printf("sendfile into a pipe: %zu bytes\n", total);
    vk_reap_ok(c, "reader got the same bytes");
    close(in);
    vk_rmtree(dir);
}

static void cfr_mode(void) {
    dir = vk_tmpdir();
    int in = make("in", 10000, 4);
    int out = make("out", 5000, 5);
    off_t ioff = 100, ooff = 2000;
    ssize_t n = cfr(in, &ioff, out, &ooff, 1000, 0);
    printf("copy_file_range 1000 bytes, 100 -> 2000: %zd, offsets now %lld %lld, positions %lld %lld\n", n,
           (long long)ioff, (long long)ooff, (long long)lseek(in, 0, SEEK_CUR), (long long)lseek(out, 0, SEEK_CUR));
    unsigned char a[1000], b[1000];
    pread(in, a, 1000, 100);
    pread(out, b, 1000, 2000);
    struct stat st;
    fstat(out, &st);
    printf("  bytes match: %d, output size still %lld\n", memcmp(a, b, 1000) == 0, (long long)st.st_size);
    lseek(in, 9500, SEEK_SET);
    lseek(out, 4800, SEEK_SET);
    n = cfr(in, NULL, out, NULL, 1000, 0);
    fstat(out, &st);
    printf("copy_file_range with NULL offsets from 9500: %zd, positions now %lld %lld, output size %lld\n", n,
           (long long)lseek(in, 0, SEEK_CUR), (long long)lseek(out, 0, SEEK_CUR), (long long)st.st_size);
    n = cfr(in, NULL, out, NULL, 1000, 0);
    printf("copy_file_range at EOF: %zd\n", n);
    close(in);
    close(out);

    in = make("big", 2 << 20, 6);
    out = open(vk_join(dir, "bigcopy"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    size_t total = 0;
    for (;;) {
        n = cfr(in, NULL, out, NULL, 700000, 0);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    size_t s1, s2;
    uint64_t h1 = file_sum(in, &s1), h2 = file_sum(out, &s2);
    printf("2 MiB in 700000-byte copies: %zu bytes, copy identical: %d\n", total, h1 == h2 && s1 == s2);
    /* Within one file, non-overlapping: allowed. */
    off_t o1 = 0, o2 = 1 << 20;
    n = cfr(out, &o1, out, &o2, 4096, 0);
    printf("copy_file_range within one file, non-overlapping: %zd\n", n);
    close(in);
    close(out);
    vk_rmtree(dir);
}

static void errors(void) {
    dir = vk_tmpdir();
    int in = make("in", 1000, 7);
    int wo = open(vk_join(dir, "in"), O_WRONLY);
    int ro = open(vk_join(dir, "in"), O_RDONLY);
    int out = open(vk_join(dir, "out"), O_RDWR | O_CREAT, 0644);
    int app = open(vk_join(dir, "app"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    off_t off = 0;
    EXPECT_ERR("sendfile from a write-only fd", sendfile(out, wo, &off, 10), EBADF);
    EXPECT_ERR("sendfile to a read-only fd", sendfile(ro, in, &off, 10), EBADF);
    EXPECT_ERR("sendfile to an O_APPEND fd", sendfile(app, in, &off, 10), EINVAL);
    off = -1;
    EXPECT_ERR("sendfile with a negative offset", sendfile(out, in, &off, 10), EINVAL);
    EXPECT_ERR("copy_file_range with flags 1", cfr(in, NULL, out, NULL, 10, 1), EINVAL);
    EXPECT_ERR("copy_file_range to an O_APPEND fd", cfr(in, NULL, app, NULL, 10, 0), EBADF);
    EXPECT_ERR("copy_file_range from a write-only fd", cfr(wo, NULL, out, NULL, 10, 0), EBADF);
    off_t a = 0, b = 10;
    EXPECT_ERR("copy_file_range overlapping within one file", cfr(in, &a, in, &b, 100, 0), EINVAL);
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    EXPECT_ERR("copy_file_range from a directory", cfr(d, NULL, out, NULL, 10, 0), EISDIR);
    EXPECT_ERR("sendfile from a directory", sendfile(out, d, NULL, 10), EINVAL);
    close(d);
    close(in);
    close(wo);
    close(ro);
    close(out);
    close(app);
    vk_rmtree(dir);
}

static const struct vk_mode modes[] = {
    {"sendfile", sendfile_mode}, {"pipe", pipe_mode}, {"cfr", cfr_mode}, {"errors", errors}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("sendfile", modes, argc, argv); }
