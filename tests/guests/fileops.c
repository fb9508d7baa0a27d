/* fileops: file semantics that involve open descriptors and other processes,
 * selected by argv[1].
 *
 *   unlinked   an unlinked open file stays readable and writable through its
 *              descriptor (nlink 0, /proc/self/fd link ends in " (deleted)"), also from
 *              a forked child; a new file of the same name is a different file
 *   links      a hard link keeps the data when one name is removed; nlink counts
 *   rename     rename of directories: onto an empty directory (replaces it), onto a
 *              non-empty one (ENOTEMPTY), onto a file (ENOTDIR), a file onto a
 *              directory (EISDIR), into its own subdirectory (EINVAL); an open
 *              directory fd follows the rename; renameat2 RENAME_EXCHANGE of a file and
 *              a directory; RENAME_NOREPLACE
 *   shared     a descriptor shared across fork shares the file offset (O_APPEND too);
 *              separate opens do not
 *   truncate   a file truncated by one process while another has it open and mapped
 */
#include "posix.h"

#include <sys/mman.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE 2
#endif

static const char *dir;
static const char *P(const char *name) { return vk_join(dir, name); }

static void unlinked(void) {
    dir = vk_tmpdir();
    int fd = open(P("f"), O_RDWR | O_CREAT, 0644);
    write(fd, "before unlink\n", 14);
    CHECK(unlink(P("f")) == 0, "unlink");
    struct stat st;
    fstat(fd, &st);
    printf("after unlink: fstat nlink %ld size %lld\n", (long)st.st_nlink, (long long)st.st_size);
    EXPECT_ERR("stat by name", stat(P("f"), &st), ENOENT);
    write(fd, "after unlink\n", 13);
    char buf[64];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    printf("read back %zd bytes: %.*s", n, (int)n, buf);
    char path[64], link[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    const char *suffix = " (deleted)";
    size_t ln = strlen(link), ls = strlen(suffix);
    printf("/proc/self/fd link ends with \" (deleted)\": %d, names the old path: %d\n",
           ln > ls && strcmp(link + ln - ls, suffix) == 0, strncmp(link, P("f"), strlen(P("f"))) == 0);
    /* Reopening through /proc/self/fd works for a deleted file. */
    int again = open(path, O_RDONLY);
    printf("open /proc/self/fd/N of the deleted file: %s\n", again >= 0 ? "ok" : strerror(errno));
    if (again >= 0)
        close(again);
    pid_t c = vk_fork();
    if (c == 0) {
        char b[64];
        ssize_t r = pread(fd, b, sizeof b, 0);
        vk_exit(r == 27 && memcmp(b, "before unlink\nafter unlink\n", 27) == 0 ? 0 : 1);
    }
    vk_reap_ok(c, "child reads the unlinked file through the inherited fd");
    int nf = open(P("f"), O_RDWR | O_CREAT, 0644);
    struct stat st2;
    fstat(nf, &st2);
    printf("a new file of the same name is another inode: %d, size %lld\n", st.st_ino != st2.st_ino || st.st_dev != st2.st_dev,
           (long long)st2.st_size);
    close(nf);
    /* mmap of an unlinked file */
    char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("mmap of the unlinked file: %.6s\n", m == MAP_FAILED ? "failed" : m);
    close(fd);
    if (m != MAP_FAILED)
        printf("still mapped after close: %.6s\n", m);
    vk_rmtree(dir);
}

static void links(void) {
    dir = vk_tmpdir();
    vk_write_file(P("a"), "shared data\n", 0644);
    CHECK(link(P("a"), P("b")) == 0, "link");
    struct stat st;
    stat(P("a"), &st);
    printf("after link: nlink %ld\n", (long)st.st_nlink);
    int fd = open(P("b"), O_RDONLY);
    unlink(P("a"));
    fstat(fd, &st);
    printf("after unlinking the first name: nlink %ld\n", (long)st.st_nlink);
    char buf[64];
    vk_read_file(P("b"), buf, sizeof buf);
    printf("the other name reads: %s", buf);
    EXPECT_ERR("link onto an existing name", link(P("b"), P("b")), EEXIST);
    EXPECT_ERR("link a directory", link(dir, P("dirlink")), EPERM);
    close(fd);
    vk_rmtree(dir);
}

static void rename_mode(void) {
    dir = vk_tmpdir();
    mkdir(P("src"), 0755);
    vk_write_file(P("src/file"), "in src\n", 0644);
    mkdir(P("empty"), 0755);
    mkdir(P("full"), 0755);
    vk_write_file(P("full/x"), "x\n", 0644);
    vk_write_file(P("plain"), "plain\n", 0644);
    int dfd = open(P("src"), O_RDONLY | O_DIRECTORY);

    EXPECT_ERR("directory onto a non-empty directory", rename(P("src"), P("full")), ENOTEMPTY);
    EXPECT_ERR("directory onto a file", rename(P("src"), P("plain")), ENOTDIR);
    EXPECT_ERR("file onto a directory", rename(P("plain"), P("empty")), EISDIR);
    EXPECT_ERR("directory into its own subdirectory", rename(P("src"), P("src/sub")), EINVAL);
    EXPECT_ERR("missing source", rename(P("nothing"), P("other")), ENOENT);
    CHECK(rename(P("src"), P("empty")) == 0, "rename onto an empty directory");
    struct stat st;
    printf("directory onto an empty directory: ok; old name gone: %d; file inside: %d\n", stat(P("src"), &st) != 0,
           stat(P("empty/file"), &st) == 0);
    /* The open directory fd follows. */
    int f = openat(dfd, "file", O_RDONLY);
    printf("openat through the fd of the renamed directory: %s\n", f >= 0 ? "ok" : strerror(errno));
    if (f >= 0)
        close(f);
    char cwd[256];
    fchdir(dfd);
    printf("fchdir into it, getcwd: <dir>%s\n", getcwd(cwd, sizeof cwd) ? cwd + strlen(dir) : "?");
    chdir("/");
    close(dfd);
    CHECK(rename(P("empty"), P("empty")) == 0, "rename onto itself");
    printf("rename a directory onto itself: ok\n");

    /* RENAME_EXCHANGE swaps a file and a directory. */
    long r = syscall(SYS_renameat2, AT_FDCWD, P("plain"), AT_FDCWD, P("full"), RENAME_EXCHANGE);
    printf("renameat2 RENAME_EXCHANGE file <-> directory: %s\n", r == 0 ? "ok" : strerror(errno));
    printf("  'plain' is now a directory: %d, 'full' a file: %d\n", stat(P("plain"), &st) == 0 && S_ISDIR(st.st_mode),
           stat(P("full"), &st) == 0 && S_ISREG(st.st_mode));
    EXPECT_ERR("renameat2 RENAME_NOREPLACE onto an existing name",
               syscall(SYS_renameat2, AT_FDCWD, P("full"), AT_FDCWD, P("plain"), RENAME_NOREPLACE), EEXIST);
    EXPECT_ERR("renameat2 RENAME_EXCHANGE with a missing target",
               syscall(SYS_renameat2, AT_FDCWD, P("full"), AT_FDCWD, P("missing"), RENAME_EXCHANGE), ENOENT);
    EXPECT_ERR("renameat2 NOREPLACE|EXCHANGE",
               syscall(SYS_renameat2, AT_FDCWD, P("full"), AT_FDCWD, P("plain"), RENAME_NOREPLACE | RENAME_EXCHANGE),
               EINVAL);
    /* A file renamed while open keeps its descriptor. */
    int fd = open(P("full"), O_RDONLY);
    rename(P("full"), P("renamed"));
    char buf[16] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    printf("read through a descriptor of a file renamed while open: %zd bytes\n", n);
    close(fd);
    vk_rmtree(dir);
}

static void shared(void) {
    dir = vk_tmpdir();
    int fd = open(P("f"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "parent1\n", 8);
    pid_t c = vk_fork();
    if (c == 0) {
        write(fd, "child\n", 6);
        vk_exit(0);
    }
    vk_reap_ok(c, "child wrote through the inherited descriptor");
    write(fd, "parent2\n", 8);
    printf("shared offset: the parent's position is %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    char buf[64];
    vk_read_file(P("f"), buf, sizeof buf);
    printf("file:\n%s", buf);
    /* A child's lseek moves the parent's position too. */
    c = vk_fork();
    if (c == 0) {
        lseek(fd, 3, SEEK_SET);
        vk_exit(0);
    }
    vk_reap_ok(c, "child seeks to 3");
    printf("parent's position after the child's lseek: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    /* Separate opens have separate offsets. */
    int fd2 = open(P("f"), O_RDONLY);
    printf("a second open starts at: %lld\n", (long long)lseek(fd2, 0, SEEK_CUR));
    close(fd2);
    close(fd);
    /* O_APPEND from two processes with separate opens: nothing is overwritten. */
    int a = open(P("log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    c = vk_fork();
    if (c == 0) {
        int b = open(P("log"), O_WRONLY | O_APPEND);
        for (int i = 0; i < 100; i++)
            write(b, "c", 1);
        vk_exit(0);
    }
    for (int i = 0; i < 100; i++)
        write(a, "p", 1);
    vk_reap_ok(c, "child appended 100 bytes");
    struct stat st;
    fstat(a, &st);
    printf("two appenders, 100 bytes each: size %lld\n", (long long)st.st_size);
    close(a);
    vk_rmtree(dir);
}

static void truncate_mode(void) {
    dir = vk_tmpdir();
    int fd = open(P("f"), O_RDWR | O_CREAT, 0644);
    char page[8192];
    memset(page, 'z', sizeof page);
    write(fd, page, sizeof page);
    pid_t c = vk_fork();
    if (c == 0) {
        int f = open(P("f"), O_WRONLY);
        ftruncate(f, 100);
        vk_exit(0);
    }
    vk_reap_ok(c, "another process truncated the file to 100 bytes");
    struct stat st;
    fstat(fd, &st);
    printf("size seen through our descriptor: %lld\n", (long long)st.st_size);
    char buf[200];
    printf("pread at 50, 200 bytes: %zd\n", pread(fd, buf, 200, 50));
    printf("read at our old offset (8192): %zd\n", read(fd, buf, 10));
    write(fd, "end", 3);
    fstat(fd, &st);
    printf("a write at our old offset makes a hole: size %lld\n", (long long)st.st_size);
    pread(fd, buf, 10, 150);
    printf("the hole reads as zeros: %d\n", vk_all_zero(buf, 10));
    close(fd);
    vk_rmtree(dir);
}

static const struct vk_mode modes[] = {
    {"unlinked", unlinked}, {"links", links}, {"rename", rename_mode}, {"shared", shared},
    {"truncate", truncate_mode}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("fileops", modes, argc, argv); }
