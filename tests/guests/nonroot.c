/* nonroot: permission checks for an unprivileged user, selected by argv[1]. Starts as
 * root (as the guest's pid 1 does), prepares files, then a child becomes uid/gid 1000
 * ("user" in the image's /etc/passwd) and tries things. Natively this needs root.
 *
 *   files     read/write permission on files by owner, group and other bits; access();
 *             a descriptor opened before setuid keeps working; truncate; utimensat;
 *             /etc/passwd is read-only; exec needs an x bit
 *   dirs      creating/removing in a root-owned directory; the sticky bit; search (x)
 *             without read (r); chdir into a 0700 directory
 *   owner     chmod/chown of other people's files: EPERM; of one's own: allowed (but
 *             not chown to someone else, nor chgrp to a group one is not in); new files
 *             belong to uid/gid 1000 with the umask applied
 *   ids       setuid/setgid back to 0: EPERM; kill of a root process: EPERM;
 *             /proc/self/status Uid/Gid lines; getgroups after setgroups(0)
 *   euid      seteuid(1000) as root: file access uses the effective uid but access()
 *             the real one (faccessat AT_EACCESS the effective); seteuid(0) goes back;
 *             after setresuid(1000,1000,1000) it cannot
 */
#include "posix.h"

#include <grp.h>
#include <sys/file.h>

static const char *base;

static const char *P(const char *name) { return vk_join(base, name); }

static void setup(void) {
    base = vk_tmpdir();
    chmod(base, 0755);
    vk_write_file(P("secret"), "secret\n", 0600);
    vk_write_file(P("public"), "public\n", 0644);
    vk_write_file(P("groupfile"), "group\n", 0640);
    chown(P("groupfile"), 0, 1000);
    vk_write_file(P("userfile"), "mine\n", 0644);
    chown(P("userfile"), 1000, 1000);
    vk_write_file(P("noexec"), "#!/bin/busybox sh\necho hi\n", 0644);
    vk_write_file(P("exec"), "#!/bin/busybox sh\nexit 3\n", 0755);
    mkdir(P("rootdir"), 0755);
    vk_write_file(P("rootdir/file"), "x\n", 0644);
    mkdir(P("sticky"), 0777);
    chmod(P("sticky"), 01777);
    vk_write_file(P("sticky/rootfile"), "root's\n", 0644);
    mkdir(P("closed"), 0700);
    mkdir(P("listonly"), 0711);
    vk_write_file(P("listonly/inner"), "inner\n", 0644);
    mkdir(P("open"), 0777);
    chmod(P("open"), 0777);
}

static int become_user(void) {
    if (setgroups(0, NULL) != 0)
        return -1;
    if (setgid(1000) != 0)
        return -2;
    if (setuid(1000) != 0)
        return -3;
    return 0;
}

/* Fork, become uid 1000 in the child, run fn, and wait: the child prints. */
static void as_user(void (*fn)(void)) {
    pid_t c = vk_fork();
    if (c == 0) {
        int r = become_user();
        if (r != 0) {
            printf("FAIL becoming uid 1000: step %d: %s\n", -r, strerror(errno));
            vk_exit(100);
        }
        fn();
        vk_exit(vk_failures > 100 ? 100 : vk_failures);
    }
    int st = vk_wait(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the unprivileged child: %s", vk_status(st));
}

static void ok(const char *what, long r) {
    if (r >= 0)
        printf("%s: ok\n", what);
    else {
        vk_failures++;
        printf("FAIL %s: %s\n", what, strerror(errno));
    }
}

static int keep_fd = -1;

static void user_files(void) {
    printf("uid %d euid %d gid %d egid %d\n", (int)getuid(), (int)geteuid(), (int)getgid(), (int)getegid());
    EXPECT_ERR("open 0600 root file for reading", open(P("secret"), O_RDONLY), EACCES);
    int fd = open(P("public"), O_RDONLY);
    ok("open 0644 root file for reading", fd);
    close(fd);
    EXPECT_ERR("open 0644 root file for writing", open(P("public"), O_WRONLY), EACCES);
    EXPECT_ERR("open 0644 root file O_RDWR", open(P("public"), O_RDWR), EACCES);
    fd = open(P("groupfile"), O_RDONLY);
    ok("open 0640 root:1000 file for reading (group)", fd);
    close(fd);
    EXPECT_ERR("open 0640 root:1000 file for writing", open(P("groupfile"), O_WRONLY), EACCES);
    fd = open(P("userfile"), O_RDWR);
    ok("open own 0644 file O_RDWR", fd);
    close(fd);
    ok("access(public, R_OK)", access(P("public"), R_OK));
    EXPECT_ERR("access(public, W_OK)", access(P("public"), W_OK), EACCES);
    EXPECT_ERR("access(secret, R_OK)", access(P("secret"), R_OK), EACCES);
    EXPECT_ERR("access(noexec, X_OK)", access(P("noexec"), X_OK), EACCES);
    ok("access(exec, X_OK)", access(P("exec"), X_OK));
    /* The descriptor opened as root before setuid still writes. */
    ok("write through a descriptor opened O_RDWR before setuid", write(keep_fd, "more\n", 5) == 5 ? 0 : -1);
    EXPECT_ERR("truncate 0644 root file", truncate(P("public"), 0), EACCES);
    ok("truncate own file", truncate(P("userfile"), 2));
    EXPECT_ERR("utimensat(root's file, NULL) (needs write access)", utimensat(AT_FDCWD, P("public"), NULL, 0), EACCES);
    struct timespec ts[2] = {{1000, 0}, {1000, 0}};
    EXPECT_ERR("utimensat(root's file, explicit times) (needs ownership)", utimensat(AT_FDCWD, P("public"), ts, 0),
               EPERM);
    ok("utimensat(own file, explicit times)", utimensat(AT_FDCWD, P("userfile"), ts, 0));
    EXPECT_ERR("open /etc/passwd for writing", open("/etc/passwd", O_WRONLY), EACCES);
    char *argv[] = {"noexec", NULL};
    char *envp[] = {NULL};
    EXPECT_ERR("execve a 0644 file", execve(P("noexec"), argv, envp), EACCES);
    pid_t c = vk_fork();
    if (c == 0) {
        char *a[] = {"exec", NULL};
        execve(P("exec"), a, envp);
        _exit(127);
    }
    int st = vk_wait(c);
    printf("execve a 0755 root script: %s\n", vk_status(st));
}

static void files(void) {
    setup();
    keep_fd = open(P("secret"), O_RDWR | O_APPEND);
    as_user(user_files);
    char buf[64];
    vk_read_file(P("secret"), buf, sizeof buf);
    printf("the secret file now: %s", buf);
    close(keep_fd);
    vk_rmtree(base);
}

static void user_dirs(void) {
    EXPECT_ERR("create a file in a 0755 root directory", open(P("rootdir/new"), O_WRONLY | O_CREAT, 0644), EACCES);
    EXPECT_ERR("mkdir in a 0755 root directory", mkdir(P("rootdir/sub"), 0755), EACCES);
    EXPECT_ERR("unlink in a 0755 root directory", unlink(P("rootdir/file")), EACCES);
    EXPECT_ERR("rename within a 0755 root directory", rename(P("rootdir/file"), P("rootdir/moved")), EACCES);
    EXPECT_ERR("rmdir a 0755 root directory's subdirectory", rmdir(P("rootdir")), EACCES);
    int fd = open(P("open/mine"), O_WRONLY | O_CREAT, 0644);
    ok("create a file in a 0777 directory", fd);
    close(fd);
    ok("unlink own file in a 0777 directory", unlink(P("open/mine")));
    fd = open(P("sticky/mine"), O_WRONLY | O_CREAT, 0644);
    ok("create a file in a 01777 directory", fd);
    close(fd);
    EXPECT_ERR("unlink root's file in a sticky directory", unlink(P("sticky/rootfile")), EPERM);
    EXPECT_ERR("rename root's file in a sticky directory", rename(P("sticky/rootfile"), P("sticky/x")), EPERM);
    ok("rename own file in a sticky directory", rename(P("sticky/mine"), P("sticky/mine2")));
    ok("unlink own file in a sticky directory", unlink(P("sticky/mine2")));
    EXPECT_ERR("chdir into a 0700 root directory", chdir(P("closed")), EACCES);
    EXPECT_ERR("open a file in a 0700 root directory", open(P("closed/x"), O_RDONLY), EACCES);
    EXPECT_ERR("opendir a 0711 directory", open(P("listonly"), O_RDONLY | O_DIRECTORY), EACCES);
    struct stat st;
    ok("stat a file in a 0711 directory (search only)", stat(P("listonly/inner"), &st));
    fd = open(P("listonly/inner"), O_RDONLY);
    ok("open a file in a 0711 directory", fd);
    close(fd);
    ok("chdir into a 0711 directory", chdir(P("listonly")));
    chdir("/");
}

static void dirs(void) {
    setup();
    as_user(user_dirs);
    struct stat st;
    printf("root's file in the sticky directory survived: %d\n", stat(P("sticky/rootfile"), &st) == 0);
    vk_rmtree(base);
}

static void user_owner(void) {
    EXPECT_ERR("chmod root's file", chmod(P("public"), 0666), EPERM);
    EXPECT_ERR("chown root's file to self", chown(P("public"), 1000, 1000), EPERM);
    EXPECT_ERR("chown own file to root", chown(P("userfile"), 0, -1), EPERM);
    EXPECT_ERR("chgrp own file to group 0 (not a member)", chown(P("userfile"), -1, 0), EPERM);
    ok("chown own file to own uid and gid", chown(P("userfile"), 1000, 1000));
    ok("chmod own file 0600", chmod(P("userfile"), 0600));
    int fd = open(P("userfile"), O_RDONLY);
    ok("fchmod own file 0640", fchmod(fd, 0640));
    close(fd);
    struct stat st;
    stat(P("userfile"), &st);
    printf("own file now: mode %o uid %d gid %d\n", (unsigned)(st.st_mode & 07777), (int)st.st_uid, (int)st.st_gid);
    umask(027);
    fd = open(P("open/new"), O_WRONLY | O_CREAT, 0666);
    fstat(fd, &st);
    printf("new file with umask 027: mode %o uid %d gid %d\n", (unsigned)(st.st_mode & 07777), (int)st.st_uid,
           (int)st.st_gid);
    close(fd);
    mkdir(P("open/newdir"), 0777);
    stat(P("open/newdir"), &st);
    printf("new directory with umask 027: mode %o uid %d gid %d\n", (unsigned)(st.st_mode & 07777), (int)st.st_uid,
           (int)st.st_gid);
    /* The setgid bit is dropped when a non-member sets it... we are a member of 1000. */
    ok("chmod own file 02750 (own group)", chmod(P("open/new"), 02750));
    stat(P("open/new"), &st);
    printf("after chmod 02750: mode %o\n", (unsigned)(st.st_mode & 07777));
}

static void owner(void) {
    setup();
    as_user(user_owner);
    vk_rmtree(base);
}

static void user_ids(void) {
    pid_t parent = getppid();
    EXPECT_ERR("setuid(0)", setuid(0), EPERM);
    EXPECT_ERR("setgid(0)", setgid(0), EPERM);
    EXPECT_ERR("seteuid(0)", seteuid(0), EPERM);
    EXPECT_ERR("setgroups", setgroups(0, NULL), EPERM);
    ok("setuid(1000) (own uid)", setuid(1000));
    EXPECT_ERR("kill(root parent, 0)", kill(parent, 0), EPERM);
    ok("kill(self, 0)", kill(getpid(), 0));
    gid_t groups[8];
    printf("getgroups: %d\n", getgroups(8, groups));
    char buf[4096], line[128];
    vk_read_file("/proc/self/status", buf, sizeof buf);
    const char *u = strstr(buf, "\nUid:");
    const char *g = strstr(buf, "\nGid:");
    if (u) {
        sscanf(u + 1, "%127[^\n]", line);
        printf("%s\n", line);
    }
    if (g) {
        sscanf(g + 1, "%127[^\n]", line);
        printf("%s\n", line);
    }
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("getresuid: %d %d %d\n", (int)r, (int)e, (int)s);
}

static void ids(void) {
    setup();
    as_user(user_ids);
    vk_rmtree(base);
}

static void euid(void) {
    setup();
    pid_t c = vk_fork();
    if (c == 0) {
        setgroups(0, NULL);
        ok("seteuid(1000) as root", seteuid(1000));
        uid_t r, e, s;
        getresuid(&r, &e, &s);
        printf("getresuid: %d %d %d\n", (int)r, (int)e, (int)s);
        EXPECT_ERR("open the 0600 root file with euid 1000", open(P("secret"), O_RDONLY), EACCES);
        ok("access() uses the real uid (0)", access(P("secret"), R_OK));
        EXPECT_ERR("faccessat(AT_EACCESS) uses the effective uid", faccessat(AT_FDCWD, P("secret"), R_OK, AT_EACCESS),
                   EACCES);
        int fd = open(P("open/byeuid"), O_WRONLY | O_CREAT, 0644);
        struct stat st;
        fstat(fd, &st);
        close(fd);
        printf("a file created with euid 1000 belongs to uid %d\n", (int)st.st_uid);
        ok("seteuid(0) back (the saved uid is 0)", seteuid(0));
        fd = open(P("secret"), O_RDONLY);
        ok("open the 0600 root file again", fd);
        close(fd);
        ok("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
        EXPECT_ERR("seteuid(0) after dropping all three", seteuid(0), EPERM);
        vk_exit(vk_failures);
    }
    int st = vk_wait(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %s", vk_status(st));
    vk_rmtree(base);
}

static const struct vk_mode modes[] = {
    {"files", files}, {"dirs", dirs}, {"owner", owner}, {"ids", ids}, {"euid", euid}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("nonroot", modes, argc, argv); }
