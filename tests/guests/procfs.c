/* procfs: /proc for other processes and the system files, selected by argv[1].
 *
 *   child    a child that exec'd this program with a known argv, environment, cwd and
 *            descriptors: /proc/<pid>/{stat,status,cmdline,environ,comm,cwd,exe,fd}
 *            and the /proc directory listing; after it exits, Z; after reaping, gone
 *   self     /proc/self and /proc/<getpid()> agree, /proc/self/stat of a forked child
 *            names the parent, /proc/thread-self
 *   system   /proc/loadavg, /proc/uptime, /proc/meminfo formats and sanity
 *
 * The child waits on gate files. No pid, time or size is printed except on "value" lines.
 */
#include "posix.h"

static const char *dir;

/* Helper for the exec'd child: chdir'd and descriptors set up by the parent; wait for
 * the gate argv[2]. */
static void child_main(void) {
    struct stat st;
    if (vk_argc < 3)
        exit(98);
    /* Mostly asleep (state S): look every 20 ms, for at most 10 s. */
    for (int i = 0; i < 500; i++) {
        if (stat(vk_argv[2], &st) == 0)
            exit(0);
        vk_msleep(20);
    }
    exit(99);
}

static void read_proc(pid_t pid, const char *file, char *buf, size_t size) {
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    ssize_t n = vk_read_file(path, buf, size);
    CHECK(n >= 0, "read %s", path);
    if (n < 0)
        buf[0] = 0;
}

/* Fields of /proc/<pid>/stat after the comm: fields[0] is the state (field 3). */
static int stat_fields(const char *stat, char fields[64][32]) {
    const char *p = strrchr(stat, ')');
    if (!p)
        return 0;
    int n = 0;
    p += 1;
    while (*p && n < 64) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        int len = 0;
        while (*p && *p != ' ' && *p != '\n') {
            if (len < 31)
                fields[n][len++] = *p;
            p++;
        }
        fields[n][len] = 0;
        n++;
    }
    return n;
}

static const char *status_line(const char *status, const char *key, char *out, size_t size) {
    const char *p = strstr(status, key);
    out[0] = 0;
    if (!p || (p != status && p[-1] != '\n'))
        return out;
    p += strlen(key);
    size_t i = 0;
    while (*p && *p != '\n' && i < size - 1)
        out[i++] = *p++;
    out[i] = 0;
    return out;
}

static const char *basename_of(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void child(void) {
    dir = vk_tmpdir();
    const char *gate = vk_join(dir, "go");
    const char *data = vk_join(dir, "data");
    vk_write_file(data, "data\n", 0644);
    char self[512];
    snprintf(self, sizeof self, "%s", vk_self());
    char comm[16] = "";
    size_t comm_len = strlen(basename_of(self));
    memcpy(comm, basename_of(self), comm_len > 15 ? 15 : comm_len); /* the kernel keeps 15 */

    pid_t p = vk_fork();
    if (p == 0) {
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        int fd = open(data, O_RDONLY);
        dup2(fd, 5);
        close(fd);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        dup2(fd, 9); /* dup2 clears close-on-exec: stays open */
        if (fd != 9)
            close(fd);
        open("/dev/null", O_RDONLY | O_CLOEXEC); /* closed by the exec */
        chdir(dir);
        char *argv[] = {"procchild", "-child", (char *)gate, "two words", "", NULL};
        char *envp[] = {"A=1", "B=two words", "EMPTY=", NULL};
        execve(self, argv, envp);
        _exit(127);
    }
    /* Wait for the exec: the cmdline changes to the new argv. */
    char buf[8192];
    const char want_cmdline[] = "procchild\0-child";
    int execd = 0;
    for (int i = 0; i < 10000 && !execd; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)p);
        ssize_t n = vk_read_file(path, buf, sizeof buf);
        if (n >= (ssize_t)sizeof want_cmdline && memcmp(buf, want_cmdline, sizeof want_cmdline) == 0)
            execd = 1;
        else
            vk_msleep(1);
    }
    CHECK(execd, "the child never exec'd");

    /* cmdline: NUL-separated, NUL-terminated. */
    {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)p);
        ssize_t n = vk_read_file(path, buf, sizeof buf);
        char want[256];
        int wn = snprintf(want, sizeof want, "procchild%c-child%c%s%ctwo words%c%c", 0, 0, gate, 0, 0, 0);
        CHECK(n == wn && memcmp(buf, want, (size_t)wn) == 0, "cmdline (%zd bytes)", n);
        printf("cmdline: procchild\\0-child\\0<gate>\\0two words\\0\\0\n");
    }
    /* environ: exactly the execve envp. */
    {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/environ", (int)p);
        ssize_t n = vk_read_file(path, buf, sizeof buf);
        const char want[] = "A=1\0B=two words\0EMPTY=";
        CHECK(n == (ssize_t)sizeof want && memcmp(buf, want, sizeof want) == 0, "environ (%zd bytes)", n);
        printf("environ: A=1\\0B=two words\\0EMPTY=\\0\n");
    }
    /* comm: the exec'd file's name, at most 15 characters. */
    read_proc(p, "comm", buf, sizeof buf);
    {
        char want[32];
        snprintf(want, sizeof want, "%s\n", comm);
        CHECK(strcmp(buf, want) == 0, "comm %s, want %s", buf, want);
        printf("comm: the exec'd file's basename, newline-terminated\n");
    }
    /* stat (read again if the child happened to be running: it mostly sleeps) */
    for (int i = 0; i < 1000; i++) {
        read_proc(p, "stat", buf, sizeof buf);
        const char *paren = strrchr(buf, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'S')
            break;
        vk_msleep(1);
    }
    {
        char fields[64][32];
        int n = stat_fields(buf, fields);
        char head[64];
        snprintf(head, sizeof head, "%d (%s) ", (int)p, comm);
        CHECK(strncmp(buf, head, strlen(head)) == 0, "stat starts with \"%s\": %s", head, buf);
        CHECK(n >= 50, "stat has %d fields after the comm", n);
        printf("stat: pid (comm) and at least 50 more fields\n");
        CHECK(n > 4 && strcmp(fields[0], "S") == 0, "state %s", fields[0]);
        printf("stat: state %s\n", n > 0 ? fields[0] : "?");
        CHECK(n > 4 && atoi(fields[1]) == getpid(), "ppid %s", fields[1]);
        CHECK(n > 4 && atoi(fields[2]) == getpgrp(), "pgrp %s", fields[2]);
        CHECK(n > 4 && atoi(fields[3]) == getsid(0), "session %s", fields[3]);
        printf("stat: ppid, pgrp and session are the parent's pid, group and session\n");
        /* field 20 (num_threads) is fields[17] */
        CHECK(n > 17 && atoi(fields[17]) == 1, "num_threads %s", n > 17 ? fields[17] : "?");
        printf("stat: num_threads 1\n");
    }
    /* status (again, read until the child is seen asleep) */
    for (int i = 0; i < 1000; i++) {
        read_proc(p, "status", buf, sizeof buf);
        if (strstr(buf, "State:\tS"))
            break;
        vk_msleep(1);
    }
    {
        char v[128], want[128];
        CHECK(strcmp(status_line(buf, "Name:\t", v, sizeof v), comm) == 0, "Name: %s", v);
        CHECK(strcmp(status_line(buf, "State:\t", v, sizeof v), "S (sleeping)") == 0, "State: %s", v);
        snprintf(want, sizeof want, "%d", (int)p);
        CHECK(strcmp(status_line(buf, "Pid:\t", v, sizeof v), want) == 0, "Pid: %s", v);
        CHECK(strcmp(status_line(buf, "Tgid:\t", v, sizeof v), want) == 0, "Tgid: %s", v);
        snprintf(want, sizeof want, "%d", (int)getpid());
        CHECK(strcmp(status_line(buf, "PPid:\t", v, sizeof v), want) == 0, "PPid: %s", v);
        snprintf(want, sizeof want, "%d\t%d\t%d\t%d", (int)getuid(), (int)geteuid(), (int)getuid(), (int)getuid());
        CHECK(strcmp(status_line(buf, "Uid:\t", v, sizeof v), want) == 0, "Uid: %s", v);
        snprintf(want, sizeof want, "%d\t%d\t%d\t%d", (int)getgid(), (int)getegid(), (int)getgid(), (int)getgid());
        CHECK(strcmp(status_line(buf, "Gid:\t", v, sizeof v), want) == 0, "Gid: %s", v);
        CHECK(strcmp(status_line(buf, "Threads:\t", v, sizeof v), "1") == 0, "Threads: %s", v);
        printf("status: Name, State S (sleeping), Pid, Tgid, PPid, Uid, Gid, Threads\n");
    }
    /* cwd and exe */
    {
        char path[64], link[512];
        snprintf(path, sizeof path, "/proc/%d/cwd", (int)p);
        ssize_t n = readlink(path, link, sizeof link - 1);
        link[n > 0 ? n : 0] = 0;
        CHECK(strcmp(link, dir) == 0, "cwd -> %s", link);
        printf("cwd: the directory the child changed to\n");
        snprintf(path, sizeof path, "/proc/%d/exe", (int)p);
        n = readlink(path, link, sizeof link - 1);
        link[n > 0 ? n : 0] = 0;
        CHECK(strcmp(link, self) == 0, "exe -> %s", link);
        printf("exe: the exec'd file\n");
    }
    /* fd: 0 1 2 5 9; 5 is the data file. */
    {
        char path[64], link[512];
        snprintf(path, sizeof path, "/proc/%d/fd", (int)p);
        DIR *d = opendir(path);
        CHECK(d != NULL, "opendir %s", path);
        int fds[64], n = 0;
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL && n < 64)
            if (e->d_name[0] != '.')
                fds[n++] = atoi(e->d_name);
        if (d)
            closedir(d);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (fds[j] < fds[i]) {
                    int t = fds[i];
                    fds[i] = fds[j];
                    fds[j] = t;
                }
        printf("fd:");
        for (int i = 0; i < n; i++)
            printf(" %d", fds[i]);
        printf("\n");
        snprintf(path, sizeof path, "/proc/%d/fd/5", (int)p);
        ssize_t ln = readlink(path, link, sizeof link - 1);
        link[ln > 0 ? ln : 0] = 0;
        CHECK(strcmp(link, data) == 0, "fd/5 -> %s", link);
        printf("fd/5: the data file\n");
        snprintf(path, sizeof path, "/proc/%d/fd/9", (int)p);
        ln = readlink(path, link, sizeof link - 1);
        link[ln > 0 ? ln : 0] = 0;
        CHECK(strcmp(link, "/dev/null") == 0, "fd/9 -> %s", link);
        printf("fd/9: /dev/null\n");
    }
    /* The /proc listing has the child. */
    {
        DIR *d = opendir("/proc");
        int found = 0;
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL)
            if (atoi(e->d_name) == p)
                found = 1;
        if (d)
            closedir(d);
        CHECK(found, "the child is not listed in /proc");
        printf("/proc lists the child\n");
    }

    vk_gate_open(gate);
    CHECK(vk_wait_state(p, 'Z'), "the child never became a zombie");
    read_proc(p, "stat", buf, sizeof buf);
    {
        char fields[64][32];
        int n = stat_fields(buf, fields);
        printf("after exit: stat state %s\n", n > 0 ? fields[0] : "?");
    }
    read_proc(p, "status", buf, sizeof buf);
    {
        char v[128];
        printf("after exit: status State %s\n", status_line(buf, "State:\t", v, sizeof v));
    }
    int st = vk_reap(p, "child");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)p);
    struct stat sb;
    EXPECT_ERR("after reaping: stat /proc/<pid>", stat(path, &sb), ENOENT);
    vk_rmtree(dir);
}

static void self_mode(void) {
    char a[4096], b[4096], path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)getpid());
    vk_read_file("/proc/self/status", a, sizeof a);
    vk_read_file(path, b, sizeof b);
    char v1[64], v2[64];
    CHECK(strcmp(status_line(a, "Pid:\t", v1, sizeof v1), status_line(b, "Pid:\t", v2, sizeof v2)) == 0,
          "/proc/self and /proc/<pid>");
    printf("/proc/self/status and /proc/<getpid()>/status agree\n");
    char link[64];
    ssize_t n = readlink("/proc/self", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    CHECK(atoi(link) == getpid(), "/proc/self -> %s", link);
    printf("/proc/self links to the pid\n");
    n = readlink("/proc/thread-self", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    char want[64];
    snprintf(want, sizeof want, "%d/task/%d", (int)getpid(), (int)gettid());
    CHECK(strcmp(link, want) == 0, "/proc/thread-self -> %s", link);
    printf("/proc/thread-self links to <pid>/task/<tid>\n");

    /* /proc/self/task: one directory per thread (one here), with the pid dir's files
     * as that thread sees them. */
    DIR *d = opendir("/proc/self/task");
    int threads = 0, ours = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        threads++;
        ours += atoi(e->d_name) == (int)gettid();
    }
    if (d)
        closedir(d);
    printf("/proc/self/task lists %d thread(s), ours among them: %d\n", threads, ours);
    char tbuf[1024], tfields[64][32];
    vk_read_file("/proc/thread-self/stat", tbuf, sizeof tbuf);
    CHECK(atoi(tbuf) == (int)gettid() && stat_fields(tbuf, tfields) >= 20, "thread-self/stat: %s", tbuf);
    vk_read_file("/proc/thread-self/status", tbuf, sizeof tbuf);
    char tid_s[32], pid_s[32], v3[64], v4[64];
    snprintf(tid_s, sizeof tid_s, "%d", (int)gettid());
    snprintf(pid_s, sizeof pid_s, "%d", (int)getpid());
    CHECK(strcmp(status_line(tbuf, "Pid:\t", v3, sizeof v3), tid_s) == 0, "thread status Pid: %s", v3);
    CHECK(strcmp(status_line(tbuf, "Tgid:\t", v4, sizeof v4), pid_s) == 0, "thread status Tgid: %s", v4);
    char c1[64] = "", c2[64] = "";
    vk_read_file("/proc/self/comm", c1, sizeof c1);
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)gettid());
    vk_read_file(path, c2, sizeof c2);
    CHECK(c1[0] && strcmp(c1, c2) == 0, "task comm %s vs %s", c2, c1);
    snprintf(path, sizeof path, "/proc/self/task/%d/cmdline", (int)gettid());
    CHECK(vk_read_file(path, tbuf, sizeof tbuf) > 0, "task cmdline");
    printf("/proc/thread-self/stat, status, and the task's comm and cmdline name the thread\n");

    pid_t parent = getpid();
    pid_t p = vk_fork();
    if (p == 0) {
        char buf[1024], fields[64][32];
        int bad = 0;
        vk_read_file("/proc/self/stat", buf, sizeof buf);
        int nf = stat_fields(buf, fields);
        bad += nf < 4 || atoi(fields[1]) != parent;
        bad += (atoi(buf) != getpid()) << 1;
        vk_read_file("/proc/self/status", buf, sizeof buf);
        char v[64], w[64];
        snprintf(w, sizeof w, "%d", (int)parent);
        bad += (strcmp(status_line(buf, "PPid:\t", v, sizeof v), w) != 0) << 2;
        vk_exit(bad);
    }
    vk_reap_ok(p, "a forked child's /proc/self/stat and status name it and its parent");
}

static void system_mode(void) {
    char buf[8192];
    /* /proc/loadavg: "0.00 0.01 0.05 1/123 4567" */
    CHECK(vk_read_file("/proc/loadavg", buf, sizeof buf) > 0, "read /proc/loadavg");
    double l1, l5, l15;
    int running, total, last;
    int n = sscanf(buf, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &running, &total, &last);
    CHECK(n == 6, "loadavg format: %s", buf);
    CHECK(l1 >= 0 && l5 >= 0 && l15 >= 0 && running >= 1 && total >= running && last > 0, "loadavg: %s", buf);
    printf("/proc/loadavg: three averages, running/total, last pid\n");
    printf("value loadavg %s", buf);

    /* /proc/uptime: "123.45 678.90", non-decreasing */
    CHECK(vk_read_file("/proc/uptime", buf, sizeof buf) > 0, "read /proc/uptime");
    double up1, idle1, up2, idle2;
    n = sscanf(buf, "%lf %lf", &up1, &idle1);
    CHECK(n == 2 && up1 >= 0 && idle1 >= 0, "uptime format: %s", buf);
    CHECK(strchr(buf, '.') != NULL && buf[strlen(buf) - 1] == '\n', "uptime: %s", buf);
    vk_msleep(20);
    vk_read_file("/proc/uptime", buf, sizeof buf);
    n = sscanf(buf, "%lf %lf", &up2, &idle2);
    CHECK(n == 2 && up2 >= up1, "uptime went back: %f then %f", up1, up2);
    printf("/proc/uptime: two decimal numbers, non-decreasing\n");
    printf("value uptime %s", buf);

    /* /proc/meminfo: "MemTotal:       16384 kB" ... */
    CHECK(vk_read_file("/proc/meminfo", buf, sizeof buf) > 0, "read /proc/meminfo");
    const char *keys[] = {"MemTotal:", "MemFree:", "MemAvailable:", "Buffers:", "Cached:", "SwapTotal:", "SwapFree:"};
    long vals[7];
    for (int i = 0; i < 7; i++) {
        const char *p = strstr(buf, keys[i]);
        vals[i] = -1;
        char unit[8] = "";
        CHECK(p && (p == buf || p[-1] == '\n') && sscanf(p + strlen(keys[i]), "%ld %7s", &vals[i], unit) == 2 &&
                  strcmp(unit, "kB") == 0,
              "meminfo %s", keys[i]);
    }
    CHECK(vals[0] > 0 && vals[1] >= 0 && vals[1] <= vals[0] && vals[2] <= vals[0], "meminfo values");
    CHECK(strncmp(buf, "MemTotal:", 9) == 0, "meminfo starts with MemTotal");
    printf("/proc/meminfo: MemTotal first, MemFree/MemAvailable <= MemTotal, all in kB\n");
    printf("value memtotal_kb %ld\n", vals[0]);
}

static const struct vk_mode modes[] = {
    {"child", child}, {"self", self_mode}, {"system", system_mode}, {"-child", child_main}, {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("procfs", modes, argc, argv); }
