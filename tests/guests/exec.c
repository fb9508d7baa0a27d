/* exec: execve from a forked child, selected by argv[1].
 *
 *   args      argv and envp arrive exactly (empty strings, spaces, an empty
 *             environment); unflushed stdio output and atexit handlers are lost
 *   cloexec   O_CLOEXEC / FD_CLOEXEC descriptors are closed by execve, others kept
 *             (with their offsets and flags)
 *   signals   handled signals are reset to SIG_DFL, ignored ones stay ignored, the
 *             mask and pending signals survive, the alternate stack is dropped
 *   script    #! scripts: interpreter with and without an argument, the script path as
 *             argv, a missing interpreter (ENOENT)
 *   errors    ENOENT, EACCES (no x bit, a directory), ENOEXEC, ENOTDIR, EFAULT
 *   ids       pid, ppid, pgrp, session and cwd survive execve
 *   busybox   fork + execve /bin/busybox echo
 *
 * The exec'd image is this program in a helper mode ("-show-..."), which prints what it
 * got; the parent waits for it, so the output is ordered. Paths that differ between the
 * host and the guest (this program's own path, the scratch directory) are printed as
 * <self> and <dir>.
 */
#include "posix.h"

static char dir_buf[64];

/* Replace the host- or guest-specific prefixes of s. */
static void show_str(const char *prefix, const char *s) {
    const char *self = getenv("SELF");
    const char *dir = getenv("DIR");
    if (self && strcmp(s, self) == 0)
        printf("%s<self>\n", prefix);
    else if (dir && *dir && strncmp(s, dir, strlen(dir)) == 0)
        printf("%s<dir>%s\n", prefix, s + strlen(dir));
    else
        printf("%s[%s]\n", prefix, s);
}

/* ---- helper modes, run in the exec'd image ----------------------------------------- */

extern char **environ;

static void show_args(int argc, char **argv) {
    printf("  exec'd: argc %d\n", argc);
    for (int i = 0; i < argc; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "  argv[%d] ", i);
        show_str(prefix, argv[i]);
    }
    int n = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "SELF=", 5) == 0 || strncmp(*e, "DIR=", 4) == 0)
            continue;
        printf("  env [%s]\n", *e);
        n++;
    }
    printf("  envc %d (besides SELF and DIR)\n", n);
}

static void show_fds(void) {
    for (int fd = 10; fd <= 14; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags == -1) {
            printf("  fd %d: %s\n", fd, errno == EBADF ? "closed" : strerror(errno));
            continue;
        }
        off_t off = lseek(fd, 0, SEEK_CUR);
        int fl = fcntl(fd, F_GETFL);
        printf("  fd %d: open, FD_CLOEXEC %d, offset %lld, O_APPEND %d\n", fd, flags & FD_CLOEXEC, (long long)off,
               (fl & O_APPEND) != 0);
    }
}

static void show_signals(void) {
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    printf("  SIGUSR1 (had a handler): %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "not reset");
    sigaction(SIGUSR2, NULL, &sa);
    printf("  SIGUSR2 (was ignored): %s\n", sa.sa_handler == SIG_IGN ? "SIG_IGN" : "not ignored");
    sigaction(SIGINT, NULL, &sa);
    printf("  SIGINT (had a handler with SA_ONSTACK): %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "not reset");
    sigset_t mask, pending;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    printf("  SIGTERM blocked: %d, SIGHUP blocked: %d, SIGUSR2 blocked: %d\n", sigismember(&mask, SIGTERM),
           sigismember(&mask, SIGHUP), sigismember(&mask, SIGUSR2));
    sigpending(&pending);
    printf("  SIGHUP pending: %d, SIGTERM pending: %d\n", sigismember(&pending, SIGHUP),
           sigismember(&pending, SIGTERM));
    stack_t ss;
    sigaltstack(NULL, &ss);
    printf("  alternate signal stack: %s\n", (ss.ss_flags & SS_DISABLE) ? "disabled" : "still set");
}

static void show_ids(int argc, char **argv) {
    if (argc < 5)
        exit(98);
    printf("  pid %s\n", atoi(argv[2]) == getpid() ? "kept" : "CHANGED");
    printf("  ppid %s\n", atoi(argv[3]) == getppid() ? "kept" : "CHANGED");
    printf("  pgrp %s\n", atoi(argv[4]) == getpgrp() ? "kept" : "CHANGED");
    char cwd[256];
    show_str("  cwd ", getcwd(cwd, sizeof cwd) ? cwd : "?");
    mode_t old = umask(0);
    printf("  umask %03o\n", (unsigned)old);
}

/* ---- parent side ------------------------------------------------------------------ */

static char self_env[600], dir_env[80];

/* fork; the child runs `setup` then execve(path, argv, envp + SELF and DIR); wait. */
static int run(const char *what, void (*setup)(void), const char *path, char **argv, char **envp) {
    printf("%s\n", what);
    pid_t p = vk_fork();
    if (p == 0) {
        if (setup)
            setup();
        char *env[32];
        int n = 0;
        for (char **e = envp; e && *e && n < 28; e++)
            env[n++] = *e;
        env[n++] = self_env;
        env[n++] = dir_env;
        env[n] = NULL;
        execve(path, argv, env);
        printf("  execve failed: %s\n", strerror(errno));
        vk_exit(127);
    }
    int st = vk_wait(p);
    printf("  -> %s\n", vk_status(st));
    return st;
}

static void init(void) {
    snprintf(self_env, sizeof self_env, "SELF=%s", vk_self());
    snprintf(dir_buf, sizeof dir_buf, "%s", vk_tmpdir());
    snprintf(dir_env, sizeof dir_env, "DIR=%s", dir_buf);
}

static void lost_output(void) {
    /* Line-buffered stdout: this stays in the buffer and dies with the old image. */
    printf("LOST: unflushed stdio output survived execve");
    atexit((void (*)(void))abort);
}

static void args(void) {
    init();
    char *argv1[] = {"exec-child", "-show-args", "", "two words", "ünïcödé", NULL};
    char *envp1[] = {"A=1", "EMPTY=", "SPACES=a b  c", NULL};
    int st = run("execve with argv and envp:", lost_output, vk_self(), argv1, envp1);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "args");
    char *argv2[] = {"exec-child", "-show-args", NULL};
    char *envp2[] = {NULL};
    st = run("execve with only SELF and DIR in the environment:", NULL, vk_self(), argv2, envp2);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "args");
    /* A long argument (100 KiB) and many arguments. */
    static char big[100 * 1024 + 1];
    memset(big, 'x', sizeof big - 1);
    char *argv3[1100];
    argv3[0] = "exec-child";
    argv3[1] = "-show-count";
    argv3[2] = big;
    for (int i = 3; i < 1099; i++)
        argv3[i] = "arg";
    argv3[1099] = NULL;
    st = run("execve with a 100 KiB argument and 1099 arguments:", NULL, vk_self(), argv3, envp2);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "big args");
    vk_rmtree(dir_buf);
}

static void show_count(int argc, char **argv) {
    size_t total = 0;
    for (int i = 0; i < argc; i++)
        total += strlen(argv[i]) + 1;
    printf("  exec'd: argc %d, %zu bytes of arguments\n", argc, total);
}

static void setup_fds(void) {
    int fd = open("/dev/null", O_RDONLY);
    dup2(fd, 10); /* kept */
    close(fd);
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dup2(fd, 11); /* dup2 clears FD_CLOEXEC: kept */
    dup3(fd, 12, O_CLOEXEC); /* closed */
    close(fd);
    fd = open(vk_join(dir_buf, "f"), O_RDWR | O_CREAT | O_APPEND, 0644);
    write(fd, "12345", 5);
    dup2(fd, 13); /* kept: offset 5, O_APPEND */
    close(fd);
    fd = open("/dev/null", O_RDONLY);
    dup2(fd, 14);
    close(fd);
    fcntl(14, F_SETFD, FD_CLOEXEC); /* closed */
}

static void cloexec(void) {
    init();
    char *argv[] = {"exec-child", "-show-fds", NULL};
    char *envp[] = {NULL};
    int st = run("execve with fds 10..14 (11 and 13 kept, 12 and 14 close-on-exec):", setup_fds, vk_self(), argv,
                 envp);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "cloexec");
    vk_rmtree(dir_buf);
}

static void ignore_handler(int sig) { (void)sig; }

static void setup_signals(void) {
    vk_handle(SIGUSR1, ignore_handler, 0);
    signal(SIGUSR2, SIG_IGN);
    static char altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    vk_handle(SIGINT, ignore_handler, SA_ONSTACK);
    vk_mask(SIG_BLOCK, SIGTERM);
    vk_mask(SIG_BLOCK, SIGHUP);
    kill(getpid(), SIGHUP); /* stays pending across the exec */
}

static void signals(void) {
    init();
    char *argv[] = {"exec-child", "-show-signals", NULL};
    char *envp[] = {NULL};
    int st = run("execve after changing signal dispositions, the mask and the alternate stack:", setup_signals,
                 vk_self(), argv, envp);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "signals");
    vk_rmtree(dir_buf);
}

static void script(void) {
    init();
    char text[700];
    const char *s1 = vk_join(dir_buf, "with-arg");
    snprintf(text, sizeof text, "#!%s -show-args\nthis line is never read\n", vk_self());
    CHECK(vk_write_file(s1, text, 0755) == 0, "write %s", s1);
    char *argv1[] = {"script-name", "a", "b c", NULL};
    char *envp[] = {"X=1", NULL};
    int st = run("#!<self> -show-args, run with argv [script-name, a, b c]:", NULL, s1, argv1, envp);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "script");

    /* Spaces around the interpreter and its argument: one argument, trailing
     * whitespace stripped. */
    const char *s2 = vk_join(dir_buf, "spaces");
    snprintf(text, sizeof text, "#!  %s   -show-args with  spaces  \n", vk_self());
    vk_write_file(s2, text, 0755);
    char *argv2[] = {"spaces", NULL};
    st = run("#!  <self>   -show-args with  spaces  (one argument):", NULL, s2, argv2, envp);
    /* The interpreter's argv[1] is "-show-args with  spaces", not a mode. */
    printf("  (that argument is not a mode of the interpreter, so it exits 100)\n");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 100, "spaces");

    /* A busybox shell script. */
    const char *s3 = vk_join(dir_buf, "sh-script");
    vk_write_file(s3, "#!/bin/busybox sh\necho \"sh script: $# args: $*\"\nexit 6\n", 0755);
    char *argv3[] = {"sh-script", "one", "two", NULL};
    st = run("#!/bin/busybox sh script:", NULL, s3, argv3, envp);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 6, "sh script");

    /* A missing interpreter: ENOENT from execve itself. */
    const char *s4 = vk_join(dir_buf, "missing-interp");
    vk_write_file(s4, "#!/nonexistent/interpreter\n", 0755);
    EXPECT_ERR("execve of a script whose interpreter is missing", execve(s4, argv3, envp), ENOENT);
    vk_rmtree(dir_buf);
}

static void errors(void) {
    init();
    char *argv[] = {"x", NULL};
    char *envp[] = {NULL};
    const char *noexec = vk_join(dir_buf, "noexec");
    vk_write_file(noexec, "#!/bin/busybox sh\n", 0644);
    const char *garbage = vk_join(dir_buf, "garbage");
    vk_write_file(garbage, "this is not a program\n", 0755);
    const char *empty = vk_join(dir_buf, "empty");
    vk_write_file(empty, "", 0755);
    EXPECT_ERR("execve of a missing file", execve("/nonexistent", argv, envp), ENOENT);
    EXPECT_ERR("execve of a file without x bits", execve(noexec, argv, envp), EACCES);
    EXPECT_ERR("execve of a directory", execve("/tmp", argv, envp), EACCES);
    EXPECT_ERR("execve of a text file without #!", execve(garbage, argv, envp), ENOEXEC);
    EXPECT_ERR("execve of an empty file", execve(empty, argv, envp), ENOEXEC);
    char through[300];
    snprintf(through, sizeof through, "%s/x", garbage);
    EXPECT_ERR("execve through a regular file", execve(through, argv, envp), ENOTDIR);
    char *volatile bad_path = (char *)8;
    EXPECT_ERR("execve with a bad path pointer", execve(bad_path, argv, envp), EFAULT);
    EXPECT_ERR("execve with a bad argv pointer", syscall(SYS_execve, "/bin/busybox", (char **)8, envp), EFAULT);
    /* After all those failures this process is intact. */
    printf("still running after the failed execs\n");
    vk_rmtree(dir_buf);
}

static void setup_cwd(void) {
    chdir(dir_buf);
    umask(027);
}

static void ids(void) {
    init();
    char pid[16], ppid[16], pgrp[16];
    printf("execve keeps pid, ppid, pgrp, cwd and umask:\n");
    pid_t p = vk_fork();
    if (p == 0) {
        setup_cwd();
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        snprintf(ppid, sizeof ppid, "%d", (int)getppid());
        snprintf(pgrp, sizeof pgrp, "%d", (int)getpgrp());
        char *argv[] = {"exec-child", "-show-ids", pid, ppid, pgrp, NULL};
        char *envp[] = {self_env, dir_env, NULL};
        execve(vk_self(), argv, envp);
        vk_exit(127);
    }
    int st = vk_wait(p);
    printf("  -> %s\n", vk_status(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ids");
    vk_rmtree(dir_buf);
}

static void busybox(void) {
    init();
    char *argv[] = {"echo", "from", "busybox", NULL};
    char *envp[] = {NULL};
    int st = run("execve /bin/busybox with argv[0] echo:", NULL, "/bin/busybox", argv, envp);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "busybox");
    char *argv2[] = {"sh", "-c", "echo \"$0 $1\"; exit 3", "zero", "one", NULL};
    st = run("execve /bin/busybox sh -c:", NULL, "/bin/busybox", argv2, envp);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "busybox sh");
    vk_rmtree(dir_buf);
}

static const struct vk_mode modes[] = {
    {"args", args},   {"cloexec", cloexec}, {"signals", signals}, {"script", script},
    {"errors", errors}, {"ids", ids},       {"busybox", busybox}, {NULL, NULL},
};

int main(int argc, char **argv) {
    /* Helper modes (the exec'd image); "-show-args" may come with more words after it
     * when it is a #! argument. */
    if (argc > 1 && strncmp(argv[1], "-show-", 6) == 0) {
        vk_begin();
        if (strcmp(argv[1], "-show-args") == 0)
            show_args(argc, argv);
        else if (strcmp(argv[1], "-show-count") == 0)
            show_count(argc, argv);
        else if (strcmp(argv[1], "-show-fds") == 0)
            show_fds();
        else if (strcmp(argv[1], "-show-signals") == 0)
            show_signals();
        else if (strcmp(argv[1], "-show-ids") == 0)
            show_ids(argc, argv);
        else {
            show_str("  unknown helper mode ", argv[1]);
            return 100;
        }
        return 0;
    }
    return vk_main("exec", modes, argc, argv);
}
