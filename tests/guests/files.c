/* files: file-system system calls, all inside a fresh directory under /tmp.
 *
 * openat O_CREAT|O_EXCL, write, lseek SEEK_SET/CUR/END, read, pread64/pwrite64,
 * readv/writev, fstat/newfstatat/statx sizes and modes, ftruncate, getdents64 (with a
 * small buffer, so the listing takes several calls), mkdirat, renameat2, unlinkat
 * (files and AT_REMOVEDIR), faccessat, symlinkat/readlinkat, fcntl
 * F_GETFL/F_SETFL/F_GETFD/F_SETFD/F_DUPFD_CLOEXEC, dup/dup3, getcwd/chdir/fchdir,
 * fchmodat, umask, and the errors ENOENT, EEXIST, ENOTDIR, EISDIR, EBADF, ENOTEMPTY,
 * EINVAL. Prints no path that depends on the run, so the output is the same natively
 * and under vkernel.
 */
#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

/* struct statx as the kernel defines it (musl 1.2.3 has no statx wrapper). */
struct vk_statx_ts {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};
struct vk_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, spare0;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct vk_statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare2[14];
};
#define VK_STATX_TYPE 0x1u
#define VK_STATX_MODE 0x2u
#define VK_STATX_SIZE 0x200u
#define VK_STATX_BASIC_STATS 0x7ffu

struct vk_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static long fsize(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    return (long)st.st_size;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* List a directory with getdents64 through a 64-byte buffer; print sorted names. */
static void list_dir(int dfd, const char *path) {
    int fd = openat(dfd, path, O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0, "open dir %s", path);
    if (fd < 0)
        return;
    char tiny[8];
    EXPECT_ERR("getdents64 buffer too small", syscall(SYS_getdents64, fd, tiny, sizeof tiny), EINVAL);
    char *names[64];
    int n = 0, calls = 0;
    union {
        char b[64];
        uint64_t align;
    } buf;
    for (;;) {
        long r = syscall(SYS_getdents64, fd, buf.b, sizeof buf.b);
        CHECK(r >= 0, "getdents64");
        if (r <= 0)
            break;
        calls++;
        for (long off = 0; off < r;) {
            struct vk_dirent64 *d = (struct vk_dirent64 *)(buf.b + off);
            char *s = malloc(strlen(d->d_name) + 4);
            const char *t = d->d_type == DT_DIR ? "/" : d->d_type == DT_REG ? "" : d->d_type == DT_LNK ? "@" : "?";
            sprintf(s, "%s%s", d->d_name, t);
            if (n < 64)
                names[n++] = s;
            off += d->d_reclen;
        }
    }
    qsort(names, n, sizeof names[0], cmpstr);
    printf("getdents64 %s:", path);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
    CHECK(n <= 2 || calls > 1, "a 64-byte buffer should need several getdents64 calls, took %d", calls);
    close(fd);
}

static void mode_line(const char *what, int dfd, const char *path, int flags) {
    struct stat st;
    long r = syscall(SYS_newfstatat, dfd, path, &st, flags);
    CHECK(r == 0, "newfstatat %s", what);
    const char *type = S_ISREG(st.st_mode) ? "regular" : S_ISDIR(st.st_mode) ? "directory" : S_ISLNK(st.st_mode) ? "symlink" : "other";
    if (S_ISLNK(st.st_mode))
        printf("%s: %s size %ld\n", what, type, (long)st.st_size);
    else
        printf("%s: %s mode %04o size %ld\n", what, type, (unsigned)(st.st_mode & 07777),
               S_ISDIR(st.st_mode) ? 0L : (long)st.st_size);
}

int main(void) {
    vk_begin();
    mode_t old = umask(022);
    (void)old;
    CHECK(umask(022) == 022, "umask returns the previous mask");

    char dir[] = "/tmp/vkfiles.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0, "open the test directory");

    /* create, write, seek, read */
    int fd = openat(dfd, "a", O_CREAT | O_EXCL | O_RDWR, 0644);
    CHECK(fd >= 0, "openat O_CREAT|O_EXCL");
    EXPECT_ERR("openat O_EXCL on an existing file", openat(dfd, "a", O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
    CHECK(write(fd, "hello, world\n", 13) == 13, "write");
    CHECK(lseek(fd, 0, SEEK_CUR) == 13, "lseek SEEK_CUR 0");
    char buf[256] = {0};
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek SEEK_SET");
    CHECK(read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "read 5");
    CHECK(lseek(fd, 2, SEEK_CUR) == 7, "lseek SEEK_CUR +2");
    memset(buf, 0, sizeof buf);
    CHECK(read(fd, buf, sizeof buf) == 6 && strcmp(buf, "world\n") == 0, "read the rest");
    CHECK(read(fd, buf, sizeof buf) == 0, "read at EOF");
    CHECK(lseek(fd, -6, SEEK_END) == 7, "lseek SEEK_END -6");
    EXPECT_ERR("lseek before 0", lseek(fd, -100, SEEK_SET), EINVAL);
    CHECK(lseek(fd, 100, SEEK_END) == 113, "lseek past the end");
    CHECK(write(fd, "X", 1) == 1, "write after a hole");
    CHECK(fsize(fd) == 114, "size after a hole");
    CHECK(pread(fd, buf, 100, 13) == 100 && vk_all_zero(buf, 100), "a hole reads as zeros");
    CHECK(ftruncate(fd, 13) == 0 && fsize(fd) == 13, "ftruncate back to 13");
    printf("write/lseek/read: ok\n");

    /* pread/pwrite do not move the offset */
    off_t here = lseek(fd, 3, SEEK_SET);
    CHECK(pwrite(fd, "HELLO", 5, 0) == 5, "pwrite64");
    memset(buf, 0, sizeof buf);
    CHECK(pread(fd, buf, 13, 0) == 13 && strcmp(buf, "HELLO, world\n") == 0, "pread64 [%s]", buf);
    CHECK(lseek(fd, 0, SEEK_CUR) == here, "pread/pwrite moved the offset");
    printf("pread64/pwrite64: [%.12s]\n", buf);

    /* writev at the end, readv from the start */
    struct iovec wv[3] = {{"ab", 2}, {"cd", 2}, {"ef", 2}};
    lseek(fd, 0, SEEK_END);
    CHECK(writev(fd, wv, 3) == 6, "writev");
    char r1[4], r2[4], r3[100];
    struct iovec rv[3] = {{r1, 4}, {r2, 4}, {r3, 100}};
    lseek(fd, 0, SEEK_SET);
    CHECK(readv(fd, rv, 3) == 19, "readv");
    CHECK(memcmp(r1, "HELL", 4) == 0 && memcmp(r2, "O, w", 4) == 0, "readv first buffers");
    CHECK(memcmp(r3, "orld\nabcdef", 11) == 0, "readv third buffer");
    printf("readv: [%.4s] [%.4s] [%.4s...]\n", r1, r2, r3);

    /* sizes and modes three ways */
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 19 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644 &&
              st.st_nlink == 1,
          "fstat");
    mode_line("newfstatat a", dfd, "a", 0);
    mode_line("newfstatat AT_EMPTY_PATH", fd, "", AT_EMPTY_PATH);
    struct vk_statx sx;
    memset(&sx, 0, sizeof sx);
    CHECK(syscall(SYS_statx, dfd, "a", 0, VK_STATX_BASIC_STATS, &sx) == 0, "statx");
    CHECK((sx.stx_mask & (VK_STATX_TYPE | VK_STATX_MODE | VK_STATX_SIZE)) ==
              (VK_STATX_TYPE | VK_STATX_MODE | VK_STATX_SIZE),
          "statx mask %#x", sx.stx_mask);
    CHECK(sx.stx_ino == (uint64_t)st.st_ino, "statx and fstat disagree on the inode");
    printf("statx a: mode %06o size %llu nlink %u\n", (unsigned)sx.stx_mode, (unsigned long long)sx.stx_size,
           (unsigned)sx.stx_nlink);

    /* ftruncate both ways */
    CHECK(ftruncate(fd, 4) == 0 && fsize(fd) == 4, "ftruncate shrink");
    CHECK(ftruncate(fd, 8192) == 0 && fsize(fd) == 8192, "ftruncate grow");
    memset(buf, 1, sizeof buf);
    CHECK(pread(fd, buf, 8, 0) == 8 && memcmp(buf, "HELL\0\0\0\0", 8) == 0, "ftruncate grow reads zeros");
    EXPECT_ERR("ftruncate negative", ftruncate(fd, -1), EINVAL);
    printf("ftruncate: 4 then 8192\n");

    /* a bigger file, read back in odd pieces */
    size_t big = 1 << 20;
    unsigned char *data = malloc(big), *back = malloc(big);
    vk_fill(data, big, 11);
    int bfd = openat(dfd, "big", O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(bfd >= 0 && write(bfd, data, big) == (ssize_t)big, "write 1 MiB");
    lseek(bfd, 0, SEEK_SET);
    size_t got = 0;
    while (got < big) {
        ssize_t r = read(bfd, back + got, got == 0 ? 1000 : 70001);
        CHECK(r > 0, "read big");
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    CHECK(got == big && memcmp(data, back, big) == 0, "1 MiB file read back differs");
    printf("1 MiB file: checksum %016llx\n", (unsigned long long)vk_fnv(back, got));
    close(bfd);
    free(data);
    free(back);

    /* O_TRUNC and O_APPEND */
    int tfd = openat(dfd, "big", O_WRONLY | O_TRUNC);
    CHECK(tfd >= 0 && fsize(tfd) == 0, "O_TRUNC");
    close(tfd);
    int afd = openat(dfd, "big", O_WRONLY | O_APPEND);
    CHECK(write(afd, "12", 2) == 2 && lseek(afd, 0, SEEK_SET) == 0 && write(afd, "34", 2) == 2, "append writes");
    CHECK(fsize(afd) == 4, "O_APPEND size");
    close(afd);
    afd = openat(dfd, "big", O_RDONLY);
    memset(buf, 0, sizeof buf);
    CHECK(read(afd, buf, 10) == 4 && strcmp(buf, "1234") == 0, "O_APPEND wrote at the end: [%s]", buf);
    EXPECT_ERR("write to an O_RDONLY fd", write(afd, "x", 1), EBADF);
    close(afd);
    printf("O_TRUNC/O_APPEND: [%s]\n", buf);

    /* directories */
    CHECK(mkdirat(dfd, "d", 0755) == 0, "mkdirat");
    EXPECT_ERR("mkdirat existing", mkdirat(dfd, "d", 0755), EEXIST);
    const char *files[] = {"d/x", "d/y", "d/z", "d/longer-name-for-the-buffer"};
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
        int f = openat(dfd, files[i], O_CREAT | O_WRONLY, 0644);
        CHECK(f >= 0, "create %s", files[i]);
        CHECK(write(f, files[i], strlen(files[i])) == (ssize_t)strlen(files[i]), "write %s", files[i]);
        close(f);
    }
    CHECK(mkdirat(dfd, "d/sub", 0700) == 0, "mkdirat d/sub");
    CHECK(symlinkat("x", dfd, "d/link") == 0, "symlinkat d/link");
    list_dir(dfd, "d");
    mode_line("newfstatat d", dfd, "d", 0);
    mode_line("newfstatat d/sub", dfd, "d/sub", 0);

    /* renameat2 */
    CHECK(syscall(SYS_renameat2, dfd, "d/x", dfd, "d/x2", 0) == 0, "renameat2");
    EXPECT_ERR("renameat2 RENAME_NOREPLACE onto an existing file",
               syscall(SYS_renameat2, dfd, "d/x2", dfd, "d/y", RENAME_NOREPLACE), EEXIST);
    CHECK(syscall(SYS_renameat2, dfd, "d/x2", dfd, "d/y", 0) == 0, "renameat2 replacing a file");
    int yfd = openat(dfd, "d/y", O_RDONLY);
    memset(buf, 0, sizeof buf);
    CHECK(read(yfd, buf, sizeof buf) == 3 && strcmp(buf, "d/x") == 0, "renamed file content [%s]", buf);
    close(yfd);
    EXPECT_ERR("renameat2 a missing file", syscall(SYS_renameat2, dfd, "d/nope", dfd, "d/nope2", 0), ENOENT);
    list_dir(dfd, "d");

    /* symlinks */
    memset(buf, 0, sizeof buf);
    CHECK(readlinkat(dfd, "d/link", buf, sizeof buf) == 1 && strcmp(buf, "x") == 0, "readlinkat [%s]", buf);
    printf("readlinkat d/link: [%s]\n", buf);
    mode_line("newfstatat d/link nofollow", dfd, "d/link", AT_SYMLINK_NOFOLLOW);
    CHECK(symlinkat("y", dfd, "d/link2") == 0, "symlinkat d/link2");
    mode_line("newfstatat d/link2 follow", dfd, "d/link2", 0);
    EXPECT_ERR("readlinkat on a regular file", readlinkat(dfd, "a", buf, sizeof buf), EINVAL);
    EXPECT_ERR("open a dangling symlink", openat(dfd, "d/link", O_RDONLY), ENOENT);

    /* faccessat; root needs an x bit to execute */
    CHECK(faccessat(dfd, "a", R_OK | W_OK, 0) == 0, "faccessat R_OK|W_OK");
    EXPECT_ERR("faccessat X_OK on a 0644 file", faccessat(dfd, "a", X_OK, 0), EACCES);
    EXPECT_ERR("faccessat a missing file", faccessat(dfd, "missing", F_OK, 0), ENOENT);

    /* fchmodat and umask */
    CHECK(fchmodat(dfd, "a", 0751, 0) == 0, "fchmodat");
    mode_line("after fchmodat 0751", dfd, "a", 0);
    CHECK(faccessat(dfd, "a", X_OK, 0) == 0, "faccessat X_OK after chmod");
    CHECK(umask(077) == 022, "umask old value");
    int ufd = openat(dfd, "u", O_CREAT | O_WRONLY, 0666);
    CHECK(mkdirat(dfd, "ud", 0777) == 0, "mkdirat under umask 077");
    CHECK(umask(022) == 077, "umask restore");
    mode_line("created under umask 077", dfd, "u", 0);
    mode_line("mkdir under umask 077", dfd, "ud", 0);
    close(ufd);

    /* fcntl */
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDWR && !(fl & O_APPEND), "F_GETFL %#x", fl);
    CHECK(fcntl(fd, F_SETFL, fl | O_APPEND) == 0 && (fcntl(fd, F_GETFL) & O_APPEND), "F_SETFL O_APPEND");
    CHECK(fcntl(fd, F_GETFD) == 0, "F_GETFD of a fresh fd");
    CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC, "F_SETFD");
    CHECK(fcntl(fd, F_SETFD, 0) == 0, "F_SETFD 0");
    int cfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    CHECK(cfd >= 10 && fcntl(cfd, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC %d", cfd);
    CHECK(fcntl(cfd, F_GETFL) & O_APPEND, "a duplicate shares the file status flags");
    printf("fcntl: F_GETFL/F_SETFL/F_GETFD/F_SETFD/F_DUPFD_CLOEXEC ok, dup >= 10: %s\n", cfd >= 10 ? "yes" : "no");
    close(cfd);
    CHECK(fcntl(fd, F_SETFL, fl) == 0, "F_SETFL restore");

    /* dup shares the offset; dup3 */
    int d1 = dup(fd);
    CHECK(d1 >= 0, "dup");
    CHECK(lseek(fd, 5, SEEK_SET) == 5 && lseek(d1, 0, SEEK_CUR) == 5, "dup shares the offset");
    int d3 = dup3(fd, 20, O_CLOEXEC);
    CHECK(d3 == 20 && fcntl(20, F_GETFD) == FD_CLOEXEC, "dup3 O_CLOEXEC");
    EXPECT_ERR("dup3 onto itself", dup3(fd, fd, 0), EINVAL);
    CHECK(dup2(fd, fd) == fd, "dup2 onto itself");
    close(d1);
    close(d3);
    printf("dup/dup3: ok\n");

    /* cwd */
    char cwd[4096];
    CHECK(chdir(dir) == 0, "chdir");
    CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0, "getcwd [%s]", cwd);
    CHECK(access("d/y", R_OK) == 0, "a relative path after chdir");
    CHECK(chdir("d/sub") == 0 && getcwd(cwd, sizeof cwd) && strlen(cwd) == strlen(dir) + 6, "chdir relative");
    CHECK(chdir("..") == 0 && chdir("..") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0, "chdir ..");
    EXPECT_ERR("chdir to a missing dir", chdir("nope"), ENOENT);
    EXPECT_ERR("chdir to a file", chdir("a"), ENOTDIR);
    CHECK(chdir("/") == 0 && fchdir(dfd) == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0, "fchdir");
    EXPECT_ERR("getcwd into a 2-byte buffer", getcwd(cwd, 2) == NULL ? -1 : 0, ERANGE);
    CHECK(chdir("/") == 0, "chdir /");
    printf("getcwd/chdir/fchdir: ok\n");

    /* errors */
    EXPECT_ERR("openat a missing file", openat(dfd, "missing", O_RDONLY), ENOENT);
    EXPECT_ERR("openat in a missing dir", openat(dfd, "missing/x", O_CREAT | O_WRONLY, 0644), ENOENT);
    EXPECT_ERR("openat a/x where a is a file", openat(dfd, "a/x", O_RDONLY), ENOTDIR);
    EXPECT_ERR("O_DIRECTORY on a file", openat(dfd, "a", O_RDONLY | O_DIRECTORY), ENOTDIR);
    EXPECT_ERR("open a directory for writing", openat(dfd, "d", O_WRONLY), EISDIR);
    EXPECT_ERR("unlinkat a directory without AT_REMOVEDIR", unlinkat(dfd, "d", 0), EISDIR);
    EXPECT_ERR("unlinkat AT_REMOVEDIR on a file", unlinkat(dfd, "a", AT_REMOVEDIR), ENOTDIR);
    EXPECT_ERR("unlinkat AT_REMOVEDIR a non-empty dir", unlinkat(dfd, "d", AT_REMOVEDIR), ENOTEMPTY);
    EXPECT_ERR("read a bad fd", read(999, buf, 1), EBADF);
    EXPECT_ERR("close a bad fd", close(999), EBADF);
    EXPECT_ERR("fstat fd -1", fstat(-1, &st), EBADF);
    EXPECT_ERR("openat relative to a bad dirfd", openat(999, "a", O_RDONLY), EBADF);
    EXPECT_ERR("read a directory", read(dfd, buf, 1), EISDIR);

    /* unlink everything */
    close(fd);
    const char *gone[] = {"d/y", "d/z", "d/longer-name-for-the-buffer", "d/link", "d/link2", "a", "u", "big"};
    for (unsigned i = 0; i < sizeof gone / sizeof gone[0]; i++)
        CHECK(unlinkat(dfd, gone[i], 0) == 0, "unlinkat %s", gone[i]);
    CHECK(unlinkat(dfd, "d/sub", AT_REMOVEDIR) == 0, "unlinkat d/sub");
    CHECK(unlinkat(dfd, "d", AT_REMOVEDIR) == 0, "unlinkat d");
    CHECK(unlinkat(dfd, "ud", AT_REMOVEDIR) == 0, "unlinkat ud");
    EXPECT_ERR("unlinkat a removed file", unlinkat(dfd, "a", 0), ENOENT);
    list_dir(dfd, ".");
    close(dfd);
    CHECK(rmdir(dir) == 0, "rmdir the test directory");
    EXPECT_ERR("the test directory is gone", access(dir, F_OK), ENOENT);
    return vk_finish("files");
}
