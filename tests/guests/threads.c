/* Threads: pthreads over clone(CLONE_THREAD), futexes, TLS, cancellation, robust
 * mutexes, signals to threads, fork and exec from threads, and how a thread group ends.
 *
 * Modes (argv[1]):
 *   create     create/join with return values, gettid distinct, getpid shared
 *   mutex      64 threads contending on one mutex: deterministic sum
 *   condvar    producers and consumers on a bounded queue with condvars: checksum
 *   barrier    rounds of a 16-thread barrier; an rwlock under readers and writers
 *   tls        __thread variables per thread; arch_prctl(ARCH_GET_FS) per thread
 *   cancel     pthread_cancel of threads blocked in sleep, a condvar and read
 *   robust     a robust mutex whose owner exits: EOWNERDEAD, consistent, reuse
 *   kill       pthread_kill hits the chosen thread; a process signal goes to the
 *              one thread that does not block it; sigwait in a thread
 *   fork       a thread forks; the child (one thread) execs busybox; wait
 *   exec       a non-leader thread execs: the pid stays, the other threads go
 *   leader     the main thread pthread_exits; the last thread's exit ends the process
 *   exitgroup  a thread calls exit(3) while others block: the process ends with 3
 *   sched      affinity round trip, policies and priorities, getcpu, membarrier
 *   prctl      thread names (PR_SET_NAME, /proc/self/task/<tid>/comm), pdeathsig,
 *              dumpable, no_new_privs
 *   -after     (exec's target) prints its pid and exits
 */
#include "posix.h"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static pid_t vk_gettid(void) { return (pid_t)syscall(SYS_gettid); }

static pthread_t spawn(void *(*fn)(void *), void *arg) {
    pthread_t t;
    int e = pthread_create(&t, NULL, fn, arg);
    if (e) {
        printf("FAIL pthread_create: %s\n", strerror(e));
        exit(100);
    }
    return t;
}

/* ---- create ------------------------------------------------------------------------ */

static pid_t tids[8];

static void *square(void *arg) {
    long i = (long)arg;
    tids[i] = vk_gettid();
    return (void *)(i * i + (getpid() == tids[0] ? 0 : 1000));
}

static void create(void) {
    pthread_t t[8];
    tids[0] = getpid();
    for (long i = 1; i < 8; i++)
        t[i] = spawn(square, (void *)i);
    long sum = 0;
    for (int i = 1; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("sum of squares 1..7 from threads: %ld\n", sum);
    CHECK(sum == 140, "threads saw another pid");
    int distinct = 1;
    for (int i = 1; i < 8; i++)
        for (int j = 0; j < i; j++)
            distinct &= tids[i] != tids[j];
    CHECK(distinct, "tids are distinct and differ from the pid");
    printf("every thread has its own tid and shares the pid\n");
}

/* ---- mutex ------------------------------------------------------------------------- */

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counter, mixed;

static void *bump(void *arg) {
    long id = (long)arg;
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&mtx);
        counter++;
        mixed = mixed * 31 + (unsigned long)(id ^ i) % 7;
        pthread_mutex_unlock(&mtx);
    }
    return NULL;
}

static void mutex_mode(void) {
    pthread_t t[64];
    for (long i = 0; i < 64; i++)
        t[i] = spawn(bump, (void *)i);
    for (int i = 0; i < 64; i++)
        pthread_join(t[i], NULL);
    printf("64 threads x 2000 locked increments: %lu\n", counter);
    CHECK(counter == 64 * 2000, "lost updates");
}

/* ---- condvar ----------------------------------------------------------------------- */

#define QSIZE 8
#define ITEMS 4000
static pthread_mutex_t qm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static int queue[QSIZE], qhead, qlen, produced, consumed;
static unsigned long long consumed_sum;

static void *producer(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&qm);
        while (qlen == QSIZE && produced < ITEMS)
            pthread_cond_wait(&not_full, &qm);
        if (produced == ITEMS) {
            pthread_mutex_unlock(&qm);
            return NULL;
        }
        queue[(qhead + qlen++) % QSIZE] = ++produced;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&qm);
    }
}

static void *consumer(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&qm);
        while (qlen == 0 && consumed < ITEMS)
            pthread_cond_wait(&not_empty, &qm);
        if (consumed == ITEMS) {
            pthread_cond_broadcast(&not_empty);
            pthread_cond_broadcast(&not_full);
            pthread_mutex_unlock(&qm);
            return NULL;
        }
        int v = queue[qhead];
        qhead = (qhead + 1) % QSIZE;
        qlen--;
        consumed++;
        consumed_sum += (unsigned long long)v;
        pthread_cond_signal(&not_full);
        if (consumed == ITEMS) {
            pthread_cond_broadcast(&not_empty);
            pthread_cond_broadcast(&not_full);
        }
        pthread_mutex_unlock(&qm);
    }
}

static void condvar(void) {
    pthread_t p[8], c[8];
    for (int i = 0; i < 8; i++) {
        p[i] = spawn(producer, NULL);
        c[i] = spawn(consumer, NULL);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(p[i], NULL);
        pthread_join(c[i], NULL);
    }
    printf("8 producers, 8 consumers: %d items, sum %llu\n", consumed, consumed_sum);
    CHECK(consumed_sum == (unsigned long long)ITEMS * (ITEMS + 1) / 2, "checksum");
}

/* ---- barrier and rwlock -------------------------------------------------------------- */

static pthread_barrier_t bar;
static int round_hits[10];
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long rw_value, rw_bad;

static void *barrier_worker(void *arg) {
    (void)arg;
    for (int r = 0; r < 10; r++) {
        __atomic_add_fetch(&round_hits[r], 1, __ATOMIC_SEQ_CST);
        pthread_barrier_wait(&bar);
        /* After the barrier every thread of the round has counted. */
        if (__atomic_load_n(&round_hits[r], __ATOMIC_SEQ_CST) != 16)
            __atomic_add_fetch(&rw_bad, 1, __ATOMIC_SEQ_CST);
        pthread_barrier_wait(&bar);
    }
    for (int i = 0; i < 500; i++) {
        if (i % 10 == 0) {
            pthread_rwlock_wrlock(&rw);
            long v = rw_value;
            rw_value = v + 1;
            pthread_rwlock_unlock(&rw);
        } else {
            pthread_rwlock_rdlock(&rw);
            long a = rw_value, b = rw_value;
            if (a != b)
                __atomic_add_fetch(&rw_bad, 1, __ATOMIC_SEQ_CST);
            pthread_rwlock_unlock(&rw);
        }
    }
    return NULL;
}

static void barrier(void) {
    pthread_t t[16];
    pthread_barrier_init(&bar, NULL, 16);
    for (int i = 0; i < 16; i++)
        t[i] = spawn(barrier_worker, NULL);
    for (int i = 0; i < 16; i++)
        pthread_join(t[i], NULL);
    printf("10 barrier rounds of 16 threads; rwlock writes %ld\n", rw_value);
    CHECK(rw_bad == 0 && rw_value == 16 * 50, "barrier or rwlock broken (%ld)", rw_bad);
}

/* ---- tls ---------------------------------------------------------------------------- */

static __thread long tls_value = 7;
#define ARCH_GET_FS 0x1003

static void *tls_worker(void *arg) {
    long id = (long)arg;
    long before = tls_value;
    tls_value = id * 100;
    usleep(10000);
    unsigned long fs = 0;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
    long ok = before == 7 && tls_value == id * 100 && fs == (unsigned long)pthread_self();
    return (void *)ok;
}

static void tls(void) {
    pthread_t t[8];
    tls_value = 1;
    for (long i = 0; i < 8; i++)
        t[i] = spawn(tls_worker, (void *)i);
    long ok = 1;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        ok &= (long)r;
    }
    CHECK(ok && tls_value == 1, "thread-local values mixed up");
    printf("each thread sees its own __thread copy and its own FS base\n");
}

/* ---- cancel ------------------------------------------------------------------------- */

static int cancel_pipe[2];
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cc = PTHREAD_COND_INITIALIZER;

static void unlock_cm(void *arg) {
    (void)arg;
    pthread_mutex_unlock(&cm);
}

static void *sleeper(void *arg) {
    (void)arg;
    sleep(100);
    return NULL;
}

static void *cond_waiter(void *arg) {
    (void)arg;
    pthread_mutex_lock(&cm);
    pthread_cleanup_push(unlock_cm, NULL);
    for (;;)
        pthread_cond_wait(&cc, &cm);
    pthread_cleanup_pop(1);
    return NULL;
}

static void *reader(void *arg) {
    (void)arg;
    char c;
    read(cancel_pipe[0], &c, 1);
    return NULL;
}

static void cancel(void) {
    pipe(cancel_pipe);
    void *(*fns[3])(void *) = {sleeper, cond_waiter, reader};
    const char *names[3] = {"sleep", "pthread_cond_wait", "read"};
    for (int i = 0; i < 3; i++) {
        pthread_t t = spawn(fns[i], NULL);
        usleep(20000);
        pthread_cancel(t);
        void *r;
        pthread_join(t, &r);
        CHECK(r == PTHREAD_CANCELED, "%s not cancelled", names[i]);
        printf("a thread blocked in %s is cancelled\n", names[i]);
    }
    /* The condvar's cleanup handler released the mutex. */
    CHECK(pthread_mutex_trylock(&cm) == 0, "cleanup handler did not run");
    pthread_mutex_unlock(&cm);
}

/* ---- robust ------------------------------------------------------------------------- */

static pthread_mutex_t rm;

static void *die_holding(void *arg) {
    (void)arg;
    pthread_mutex_lock(&rm);
    return NULL; /* exits with the lock held */
}

static void *hold_a_while(void *arg) {
    (void)arg;
    pthread_mutex_lock(&rm);
    usleep(30000);
    return NULL; /* exits with the lock held */
}

static void *lock_result(void *arg) {
    (void)arg;
    long e = pthread_mutex_lock(&rm);
    if (e == EOWNERDEAD) {
        pthread_mutex_consistent(&rm);
        pthread_mutex_unlock(&rm);
    }
    return (void *)e;
}

static void robust(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&rm, &a);
    pthread_t t = spawn(die_holding, NULL);
    pthread_join(t, NULL);
    int e = pthread_mutex_lock(&rm);
    printf("locking after the owner died: %s\n", e == EOWNERDEAD ? "EOWNERDEAD" : strerror(e));
    CHECK(e == EOWNERDEAD, "lock returned %d", e);
    CHECK(pthread_mutex_consistent(&rm) == 0, "consistent");
    pthread_mutex_unlock(&rm);
    CHECK(pthread_mutex_lock(&rm) == 0, "relock after consistent");
    pthread_mutex_unlock(&rm);
    printf("after pthread_mutex_consistent the mutex works again\n");

    /* A thread blocked on the mutex when its owner dies gets EOWNERDEAD. */
    pthread_t owner = spawn(hold_a_while, NULL);
    usleep(10000);
    pthread_t w = spawn(lock_result, NULL);
    void *r;
    pthread_join(owner, NULL);
    pthread_join(w, &r);
    printf("a waiter when the owner died: %s\n", (long)r == EOWNERDEAD ? "EOWNERDEAD" : "other");
    CHECK((long)r == EOWNERDEAD, "waiter got %ld", (long)r);
}

/* ---- kill --------------------------------------------------------------------------- */

static volatile pid_t hit_tid;
static volatile int hits;

static void on_usr1(int s) {
    (void)s;
    hit_tid = vk_gettid();
    hits++;
}

static volatile int stop_spin;
static pid_t spinner_tid;

static void *spinner(void *arg) {
    sigset_t *block = arg;
    if (block)
        pthread_sigmask(SIG_BLOCK, block, NULL);
    spinner_tid = vk_gettid();
    while (!stop_spin)
        usleep(1000);
    return NULL;
}

static void *waiter(void *arg) {
    sigset_t *set = arg;
    int sig = 0;
    sigwait(set, &sig);
    return (void *)(long)sig;
}

static void kill_mode(void) {
    signal(SIGUSR1, on_usr1);
    pthread_t t = spawn(spinner, NULL);
    while (!spinner_tid)
        usleep(1000);
    pthread_kill(t, SIGUSR1);
    while (!hits)
        usleep(1000);
    CHECK(hit_tid == spinner_tid, "pthread_kill ran the handler in %d, not %d", hit_tid, spinner_tid);
    printf("pthread_kill: the handler ran in the target thread\n");
    stop_spin = 1;
    pthread_join(t, NULL);

    /* The main thread blocks SIGUSR1: a process-directed one goes to the thread that
     * does not. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    stop_spin = 0;
    spinner_tid = 0;
    hits = 0;
    t = spawn(spinner, NULL);
    while (!spinner_tid)
        usleep(1000);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    kill(getpid(), SIGUSR1);
    while (!hits)
        usleep(1000);
    CHECK(hit_tid == spinner_tid, "kill() ran the handler in %d, not %d", hit_tid, spinner_tid);
    printf("kill: the one thread not blocking SIGUSR1 took it\n");
    stop_spin = 1;
    pthread_join(t, NULL);

    /* sigwait in a thread collects a process-directed signal everyone blocks. */
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    sigset_t only2;
    sigemptyset(&only2);
    sigaddset(&only2, SIGUSR2);
    pthread_t w = spawn(waiter, &only2);
    usleep(20000);
    kill(getpid(), SIGUSR2);
    void *r;
    pthread_join(w, &r);
    CHECK((long)r == SIGUSR2, "sigwait got %ld", (long)r);
    printf("sigwait in a thread took the process-directed SIGUSR2\n");
}

/* ---- fork and exec ------------------------------------------------------------------- */

static void *forker(void *arg) {
    (void)arg;
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        execl("/bin/busybox", "sh", "-c", "exit 12", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(p, &st, 0);
    return (void *)(long)(WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void fork_mode(void) {
    pthread_t others[4];
    for (int i = 0; i < 4; i++)
        others[i] = spawn(sleeper, NULL);
    pthread_t t = spawn(forker, NULL);
    void *r;
    pthread_join(t, &r);
    printf("a thread forked and exec'd busybox: status %ld\n", (long)r);
    CHECK((long)r == 12, "status");
    for (int i = 0; i < 4; i++) {
        pthread_cancel(others[i]);
        pthread_join(others[i], NULL);
    }
}

static char self_path[256];

static long long cpu_ms(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void *execer(void *arg) {
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)arg);
    /* CPU time used before the exec stays the process's. */
    while (cpu_ms(CLOCK_THREAD_CPUTIME_ID) < 300)
        ;
    fflush(stdout);
    execl(self_path, self_path, "-after", pid, (char *)NULL);
    printf("FAIL exec: %s\n", strerror(errno));
    exit(100);
}

static void exec_mode(void) {
    for (int i = 0; i < 3; i++)
        spawn(sleeper, NULL);
    spawn(execer, (void *)(long)getpid());
    for (;;)
        pause();
}

static int after_main(const char *pid) {
    int same = atol(pid) == getpid();
    int kept = cpu_ms(CLOCK_PROCESS_CPUTIME_ID) >= 300;
    printf("after exec from a thread: same pid %s\n", same ? "yes" : "no");
    printf("the CPU time from before the exec is kept: %s\n", kept ? "yes" : "no");
    printf("threads exec ok\n");
    return same && kept ? 0 : 1;
}

/* ---- how a thread group ends ----------------------------------------------------------- */

static void *late_exit(void *arg) {
    (void)arg;
    usleep(30000);
    printf("the last thread exits with 5\n");
    fflush(stdout);
    syscall(SYS_exit, 5); /* this thread only; it is the last one */
    return NULL;
}

static void leader(void) {
    spawn(late_exit, NULL);
    printf("the main thread leaves first\n");
    fflush(stdout);
    syscall(SYS_exit, 0);
}

static void *exit3(void *arg) {
    (void)arg;
    usleep(20000);
    printf("exit(3) from a thread\n");
    fflush(stdout);
    exit(3);
}

static void exitgroup(void) {
    for (int i = 0; i < 4; i++)
        spawn(sleeper, NULL);
    spawn(exit3, NULL);
    for (;;)
        pause();
}

/* ---- sched and prctl --------------------------------------------------------------- */

static void sched_mode(void) {
    cpu_set_t all, one, got;
    CHECK(sched_getaffinity(0, sizeof all, &all) == 0, "sched_getaffinity");
    int first = -1;
    for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
        if (CPU_ISSET(c, &all))
            first = c;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "sched_setaffinity to one CPU");
    CHECK(sched_getaffinity(0, sizeof got, &got) == 0 && CPU_EQUAL(&got, &one), "affinity read back");
    CHECK(sched_setaffinity(0, sizeof all, &all) == 0, "affinity restored");
    printf("sched_setaffinity to one CPU reads back\n");
    cpu_set_t none;
    CPU_ZERO(&none);
    EXPECT_ERR("sched_setaffinity to no CPU", sched_setaffinity(0, sizeof none, &none), EINVAL);
    EXPECT_ERR("sched_getaffinity of no such thread", sched_getaffinity(999999, sizeof got, &got), ESRCH);
    /* Raw calls: musl's wrappers say ENOSYS (the calls are per thread on Linux). */
    CHECK(syscall(SYS_sched_getscheduler, 0) == SCHED_OTHER, "policy");
    printf("policy SCHED_OTHER; priorities FIFO %d..%d, OTHER %d..%d\n", sched_get_priority_min(SCHED_FIFO),
           sched_get_priority_max(SCHED_FIFO), sched_get_priority_min(SCHED_OTHER),
           sched_get_priority_max(SCHED_OTHER));
    struct sched_param sp = {0};
    CHECK(syscall(SYS_sched_getparam, 0, &sp) == 0 && sp.sched_priority == 0, "sched_getparam");
    CHECK(syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &sp) == 0, "SCHED_BATCH");
    CHECK(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp) == 0, "back to SCHED_OTHER");
    struct timespec q;
    CHECK(sched_rr_get_interval(0, &q) == 0, "sched_rr_get_interval");
    unsigned cpu = 9999, node = 9999;
    CHECK(syscall(SYS_getcpu, &cpu, &node, NULL) == 0 && cpu < CPU_SETSIZE && node == 0, "getcpu");
    printf("getcpu: a CPU on node 0\n");
    CHECK(sched_yield() == 0, "sched_yield");

    long q1 = syscall(SYS_membarrier, 0, 0, 0);
    CHECK(q1 >= 0 && (q1 & 8) && (q1 & 16), "membarrier query %ld", q1);
    EXPECT_ERR("membarrier PRIVATE_EXPEDITED before registering", syscall(SYS_membarrier, 8, 0, 0), EPERM);
    CHECK(syscall(SYS_membarrier, 16, 0, 0) == 0, "membarrier register");
    CHECK(syscall(SYS_membarrier, 8, 0, 0) == 0, "membarrier PRIVATE_EXPEDITED");
    printf("membarrier: private expedited after registering\n");
}

static char thread_comm[64];

static void *named(void *arg) {
    (void)arg;
    prctl(PR_SET_NAME, "worker-thread-name-too-long");
    char got[16] = {0};
    prctl(PR_GET_NAME, got);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)vk_gettid());
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(thread_comm, sizeof thread_comm, f))
            thread_comm[0] = 0;
        fclose(f);
    }
    return (void *)(long)(strcmp(got, "worker-thread-n") == 0);
}

static void prctl_mode(void) {
    prctl(PR_SET_NAME, "main-name");
    pthread_t t = spawn(named, NULL);
    void *ok;
    pthread_join(t, &ok);
    CHECK((long)ok, "PR_GET_NAME in the thread");
    printf("thread comm in /proc: %s", thread_comm);
    char got[16] = {0};
    prctl(PR_GET_NAME, got);
    printf("main thread name: %s\n", got);
    FILE *f = fopen("/proc/self/comm", "r");
    char line[64] = {0};
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        fclose(f);
    }
    printf("/proc/self/comm: %s", line);

    CHECK(prctl(PR_GET_DUMPABLE) == 1, "dumpable by default");
    CHECK(prctl(PR_SET_DUMPABLE, 0) == 0 && prctl(PR_GET_DUMPABLE) == 0, "PR_SET_DUMPABLE 0");
    prctl(PR_SET_DUMPABLE, 1);
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1,
          "no_new_privs");
    EXPECT_ERR("an unknown prctl option", prctl(12345, 0, 0, 0, 0), EINVAL);
    printf("dumpable and no_new_privs round trip\n");

    /* pdeathsig: a grandchild hears SIGUSR1 when its parent exits. */
    int pfd[2];
    pipe(pfd);
    pid_t mid = vk_fork();
    if (mid == 0) {
        pid_t c = vk_fork();
        if (c == 0) {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGUSR1);
            sigprocmask(SIG_BLOCK, &s, NULL);
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            int sig = 0;
            write(pfd[1], "r", 1); /* ready: the parent may go */
            struct timespec two = {2, 0};
            siginfo_t si;
            sig = sigtimedwait(&s, &si, &two);
            char r = sig == SIGUSR1 ? 'y' : 'n';
            write(pfd[1], &r, 1);
            vk_exit(0);
        }
        char ready;
        read(pfd[0], &ready, 1);
        vk_exit(0);
    }
    vk_reap_ok(mid, "the middle process");
    close(pfd[1]);
    /* The middle process took the "ready" byte; the orphan's verdict follows. */
    char r = 0;
    read(pfd[0], &r, 1);
    printf("pdeathsig: the orphan got SIGUSR1: %s\n", r == 'y' ? "yes" : "no");
    CHECK(r == 'y', "pdeathsig");
}

static const struct vk_mode modes[] = {
    {"create", create},   {"mutex", mutex_mode}, {"condvar", condvar},     {"barrier", barrier},
    {"tls", tls},         {"cancel", cancel},    {"robust", robust},       {"kill", kill_mode},
    {"fork", fork_mode},  {"exec", exec_mode},   {"leader", leader},       {"exitgroup", exitgroup},
    {"sched", sched_mode}, {"prctl", prctl_mode}, {NULL, NULL},
};

int main(int argc, char **argv) {
    /* argv[0] names the guest inside the image, not the host file of a native run. */
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    self_path[n > 0 ? n : 0] = 0;
    if (argc == 3 && strcmp(argv[1], "-after") == 0)
        return after_main(argv[2]);
    return vk_main("threads", modes, argc, argv);
}
