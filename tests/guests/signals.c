/* signals: signal delivery, selected by argv[1].
 *
 *   handler       a handler runs once per kill(getpid()); raise(); SA_SIGINFO siginfo
 *                 for kill: SI_USER, si_pid, si_uid; the handler's stack is aligned
 *                 for SSE (printf of a double inside the handler)
 *   ucontext      the ucontext's uc_sigmask is the interrupted mask; changing it in the
 *                 handler changes the mask after sigreturn; so does changing a register
 *   sigqueue      sigqueue values (SI_QUEUE, si_value); rt_sigqueueinfo to another
 *                 process with si_code >= 0 is EPERM
 *   rt            real-time signals queue (3 sent, 3 delivered, in order with their
 *                 values); standard signals do not (3 sent, 1 delivered); pending
 *                 signals are delivered lowest number first
 *   mask          sigprocmask: block, pending, unblock delivers before sigprocmask
 *                 returns; SIGKILL/SIGSTOP cannot be blocked or caught (EINVAL)
 *   suspend       sigsuspend with a child sending SIGUSR1: EINTR, the handler ran, the
 *                 old mask is back
 *   timedwait     sigtimedwait / sigwaitinfo take a blocked signal without running the
 *                 handler, with si_pid of the sender; EAGAIN after a timeout
 *   resethand     SA_RESETHAND: the handler runs once, then SIG_DFL (a second signal
 *                 kills a child)
 *   nodefer       SA_NODEFER lets the handler nest; without it the signal waits until
 *                 the handler returns
 *   samask        sa_mask blocks other signals while the handler runs
 *   altstack      SA_ONSTACK runs on the sigaltstack (SS_ONSTACK inside, not after);
 *                 sigaltstack errors (EPERM while on it, ENOMEM if too small)
 *   kill          kill(pid, 0), ESRCH, EINVAL; SIGTERM/SIGKILL kill a child; tkill and
 *                 tgkill (SI_TKILL); tgkill with the wrong tgid is ESRCH
 *   killpg        kill(-pgid) and kill(0) reach every process of a group, not others
 *   default       default actions in children: terminate (SIGTERM, SIGUSR1, SIGALRM,
 *                 SIGHUP), core (SIGQUIT, SIGABRT, SIGSEGV, SIGSYS: "value core ..."
 *                 lines), ignore (SIGCHLD, SIGURG, SIGWINCH), SIG_IGN'd SIGTERM
 *   stop          SIGSTOP / SIGTSTP stop a child (WUNTRACED status 0x137f / 0x147f),
 *                 SIGCONT continues it (WCONTINUED 0xffff), waitid CLD_STOPPED /
 *                 CLD_CONTINUED; SIGKILL kills a stopped child; a handled SIGCONT
 *   sigchld       SIGCHLD with SA_SIGINFO on exit (CLD_EXITED), kill (CLD_KILLED),
 *                 stop (CLD_STOPPED) and continue; SA_NOCLDSTOP
 *   nocldwait     SIGCHLD SIG_IGN and SA_NOCLDWAIT: children are reaped by the kernel,
 *                 wait gives ECHILD
 *   fork          a child inherits handlers and the mask but not pending signals
 *
 * Signals with a default action are only sent to children: the top process is pid 1
 * under vkernel, which the kernel protects from them.
 */
#include "posix.h"

#include <sys/ucontext.h>

static volatile sig_atomic_t count, depth, max_depth, order_n;
static volatile int order[16];
static volatile int seen_code, seen_pid, seen_uid, seen_value, seen_signo;
static char handler_text[64];

static void on_count(int sig) {
    (void)sig;
    count++;
}

static void on_info(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    seen_signo = sig;
    seen_code = si->si_code;
    seen_pid = si->si_pid;
    seen_uid = si->si_uid;
    seen_value = si->si_value.sival_int;
    /* printf of a double uses SSE stores on the stack: a misaligned frame crashes. */
    volatile double d = 1.5 * (double)sig;
    snprintf(handler_text, sizeof handler_text, "%.2f", d);
    count++;
}

static const char *code_name(int code) {
    switch (code) {
    case SI_USER: return "SI_USER";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_TKILL: return "SI_TKILL";
    case SI_KERNEL: return "SI_KERNEL";
    case SI_TIMER: return "SI_TIMER";
    default: return "other";
    }
}

static void handler(void) {
    vk_handle(SIGUSR1, on_count, 0);
    kill(getpid(), SIGUSR1);
    printf("kill(getpid(), SIGUSR1): handler ran %d time(s)\n", (int)count);
    raise(SIGUSR1);
    printf("raise(SIGUSR1): handler ran %d time(s)\n", (int)count);
    CHECK(count == 2, "count");
    count = 0;
    vk_handle_info(SIGUSR2, on_info, 0);
    kill(getpid(), SIGUSR2);
    printf("SA_SIGINFO: signo %s, si_code %s, si_pid %s, si_uid %s, double in handler %s\n", vk_signame(seen_signo),
           code_name(seen_code), seen_pid == getpid() ? "=getpid" : "WRONG", seen_uid == (int)getuid() ? "=getuid" : "WRONG",
           handler_text);
    CHECK(seen_code == SI_USER && seen_pid == getpid(), "siginfo");
    struct sigaction old;
    sigaction(SIGUSR2, NULL, &old);
    printf("sigaction reports SA_SIGINFO: %d, handler still installed: %d\n", (old.sa_flags & SA_SIGINFO) != 0,
           old.sa_sigaction == on_info);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
}

static volatile int uc_saw_usr2_blocked, uc_rax_seen;

static void on_uc(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    uc_saw_usr2_blocked = sigismember(&uc->uc_sigmask, SIGUSR2);
    /* Unblock SIGUSR2 and block SIGHUP for the interrupted code. */
    sigdelset(&uc->uc_sigmask, SIGUSR2);
    sigaddset(&uc->uc_sigmask, SIGHUP);
}

static void ucontext_mode(void) {
    vk_handle_info(SIGUSR1, on_uc, 0);
    vk_mask(SIG_BLOCK, SIGUSR2);
    kill(getpid(), SIGUSR1);
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("uc_sigmask in the handler had SIGUSR2: %d\n", uc_saw_usr2_blocked);
    printf("after sigreturn: SIGUSR2 blocked %d, SIGHUP blocked %d, SIGUSR1 blocked %d\n", sigismember(&now, SIGUSR2),
           sigismember(&now, SIGHUP), sigismember(&now, SIGUSR1));
    CHECK(uc_saw_usr2_blocked && !sigismember(&now, SIGUSR2) && sigismember(&now, SIGHUP), "uc_sigmask");
    sigemptyset(&now);
    sigprocmask(SIG_SETMASK, &now, NULL);
    signal(SIGUSR1, SIG_DFL);
}

static void sigqueue_mode(void) {
    vk_handle_info(SIGUSR1, on_info, 0);
    union sigval v = {.sival_int = 42};
    CHECK(sigqueue(getpid(), SIGUSR1, v) == 0, "sigqueue");
    printf("sigqueue(SIGUSR1, 42): si_code %s, si_value %d, si_pid %s\n", code_name(seen_code), seen_value,
           seen_pid == getpid() ? "=getpid" : "WRONG");
    CHECK(seen_code == SI_QUEUE && seen_value == 42, "sigqueue info");
    /* rt_sigqueueinfo to ourselves with a made-up code is allowed ... */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = -42;
    si.si_value.sival_int = 7;
    si.si_pid = getpid();
    si.si_uid = getuid();
    CHECK(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si) == 0, "rt_sigqueueinfo self");
    printf("rt_sigqueueinfo(self, si_code -42, value 7): si_code %d, si_value %d\n", seen_code, seen_value);
    /* ... but to another process only with a negative code other than SI_TKILL. */
    pid_t c = vk_fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    si.si_code = SI_USER;
    EXPECT_ERR("rt_sigqueueinfo(child, si_code SI_USER)", syscall(SYS_rt_sigqueueinfo, c, SIGUSR1, &si), EPERM);
    si.si_code = SI_TKILL;
    EXPECT_ERR("rt_sigqueueinfo(child, si_code SI_TKILL)", syscall(SYS_rt_sigqueueinfo, c, SIGUSR1, &si), EPERM);
    kill(c, SIGKILL);
    vk_reap(c, "child");
    signal(SIGUSR1, SIG_DFL);
}

static void on_order(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (order_n < 16)
        order[order_n++] = sig == SIGUSR1 || sig == SIGUSR2 ? sig * 100 : (sig - SIGRTMIN) * 100 + si->si_value.sival_int;
}

static void rt(void) {
    int r1 = SIGRTMIN + 1, r2 = SIGRTMIN + 2;
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, r1);
    sigaddset(&all, r2);
    sigaddset(&all, SIGUSR1);
    sigaddset(&all, SIGUSR2);
    /* Each handler blocks all four, so handlers never nest and the order of the
     * deliveries is the order in which the kernel dequeues them. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_order;
    sa.sa_flags = SA_SIGINFO;
    sa.sa_mask = all;
    sigaction(r1, &sa, NULL);
    sigaction(r2, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigprocmask(SIG_BLOCK, &all, NULL);
    for (int i = 1; i <= 3; i++)
        sigqueue(getpid(), r2, (union sigval){.sival_int = i});
    for (int i = 1; i <= 3; i++)
        sigqueue(getpid(), r1, (union sigval){.sival_int = i});
    for (int i = 0; i < 3; i++)
        kill(getpid(), SIGUSR2);
    kill(getpid(), SIGUSR1);
    sigset_t pend;
    sigpending(&pend);
    printf("pending: SIGUSR1 %d SIGUSR2 %d SIGRTMIN+1 %d SIGRTMIN+2 %d; handlers ran %d\n", sigismember(&pend, SIGUSR1),
           sigismember(&pend, SIGUSR2), sigismember(&pend, r1), sigismember(&pend, r2), (int)order_n);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    printf("delivered after unblocking (signal*100 + value; SIGRTMIN+n as n*100 + value):");
    for (int i = 0; i < order_n; i++)
        printf(" %d", order[i]);
    printf("\n");
    /* SIGUSR1 (10) and SIGUSR2 (12) once each, then SIGRTMIN+1 x3, then SIGRTMIN+2 x3. */
    static const int want[8] = {1000, 1200, 101, 102, 103, 201, 202, 203};
    CHECK(order_n == 8 && memcmp((const void *)order, want, sizeof want) == 0, "%d deliveries", (int)order_n);
    signal(r1, SIG_DFL);
    signal(r2, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
}

static void mask(void) {
    vk_handle(SIGUSR1, on_count, 0);
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, &old);
    printf("old mask had SIGUSR1: %d\n", sigismember(&old, SIGUSR1));
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    sigset_t pend;
    sigpending(&pend);
    printf("blocked: handler ran %d time(s), pending %d\n", (int)count, sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_UNBLOCK, &s, &old);
    printf("unblocked: handler ran %d time(s) (before sigprocmask returned), old mask had SIGUSR1: %d\n", (int)count,
           sigismember(&old, SIGUSR1));
    sigpending(&pend);
    printf("pending after delivery: %d\n", sigismember(&pend, SIGUSR1));
    CHECK(count == 1, "count %d", (int)count);
    /* Blocking everything leaves SIGKILL and SIGSTOP out. */
    sigset_t full;
    sigfillset(&full);
    sigprocmask(SIG_SETMASK, &full, &old);
    sigprocmask(SIG_SETMASK, &old, &s);
    printf("after blocking all: SIGKILL blocked %d, SIGSTOP blocked %d, SIGTERM blocked %d\n", sigismember(&s, SIGKILL),
           sigismember(&s, SIGSTOP), sigismember(&s, SIGTERM));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_count;
    EXPECT_ERR("sigaction(SIGKILL)", sigaction(SIGKILL, &sa, NULL), EINVAL);
    EXPECT_ERR("sigaction(SIGSTOP)", sigaction(SIGSTOP, &sa, NULL), EINVAL);
    EXPECT_ERR("sigaction(0)", sigaction(0, &sa, NULL), EINVAL);
    EXPECT_ERR("sigaction(65)", syscall(SYS_rt_sigaction, 65, NULL, NULL, 8), EINVAL);
    EXPECT_ERR("sigprocmask(bad how)", syscall(SYS_rt_sigprocmask, 42, &s, NULL, 8), EINVAL);
    signal(SIGUSR1, SIG_DFL);
}

static void suspend(void) {
    vk_handle(SIGUSR1, on_count, 0);
    vk_mask(SIG_BLOCK, SIGUSR1);
    pid_t parent = getpid();
    pid_t c = vk_fork();
    if (c == 0) {
        vk_wait_blocked(parent);
        kill(parent, SIGUSR1);
        vk_exit(0);
    }
    sigset_t empty;
    sigemptyset(&empty);
    errno = 0;
    int r = sigsuspend(&empty);
    printf("sigsuspend: %d %s, handler ran %d time(s)\n", r, errno == EINTR ? "EINTR" : strerror(errno), (int)count);
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("after sigsuspend SIGUSR1 is blocked again: %d\n", sigismember(&now, SIGUSR1));
    vk_reap_ok(c, "sender");
    vk_mask(SIG_UNBLOCK, SIGUSR1);
    signal(SIGUSR1, SIG_DFL);
}

static void timedwait(void) {
    vk_handle(SIGUSR1, on_count, 0);
    vk_mask(SIG_BLOCK, SIGUSR1);
    vk_mask(SIG_BLOCK, SIGUSR2);
    pid_t c = vk_fork();
    if (c == 0) {
        kill(getppid(), SIGUSR1);
        vk_exit(0);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    siginfo_t si;
    struct timespec ts = {5, 0};
    int s = sigtimedwait(&set, &si, &ts);
    printf("sigtimedwait: %s, si_code %s, si_pid is the child: %d, handler ran %d time(s)\n", vk_signame(s),
           code_name(si.si_code), si.si_pid == c, (int)count);
    vk_reap_ok(c, "sender");
    ts.tv_sec = 0;
    ts.tv_nsec = 50 * 1000000L;
    long long t0 = vk_mono_ms();
    EXPECT_ERR("sigtimedwait, 50 ms, nothing pending", sigtimedwait(&set, &si, &ts), EAGAIN);
    CHECK(vk_mono_ms() - t0 >= 50, "returned early");
    kill(getpid(), SIGUSR2);
    sigaddset(&set, SIGUSR2);
    s = sigwaitinfo(&set, &si);
    printf("sigwaitinfo: %s, si_code %s\n", vk_signame(s), code_name(si.si_code));
    int sig = 0;
    kill(getpid(), SIGUSR1);
    CHECK(sigwait(&set, &sig) == 0, "sigwait");
    printf("sigwait: %s\n", vk_signame(sig));
    ts.tv_sec = 0;
    ts.tv_nsec = 2000000000L;
    EXPECT_ERR("sigtimedwait with tv_nsec 2e9", sigtimedwait(&set, &si, &ts), EINVAL);
    vk_mask(SIG_UNBLOCK, SIGUSR1);
    vk_mask(SIG_UNBLOCK, SIGUSR2);
    signal(SIGUSR1, SIG_DFL);
}

static void resethand(void) {
    pid_t c = vk_fork();
    if (c == 0) {
        vk_handle(SIGUSR1, on_count, SA_RESETHAND);
        kill(getpid(), SIGUSR1);
        struct sigaction sa;
        sigaction(SIGUSR1, NULL, &sa);
        if (count != 1 || sa.sa_handler != SIG_DFL)
            vk_exit(1);
        kill(getpid(), SIGUSR1); /* default action: terminate */
        vk_exit(2);
    }
    int st = vk_reap(c, "SA_RESETHAND: handled once, then the default action");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1, "resethand");
}

static volatile int nest_flag;
static void on_nest(int sig) {
    depth++;
    if (depth > max_depth)
        max_depth = depth;
    count++;
    if (count == 1)
        kill(getpid(), sig);
    depth--;
}

static void nodefer(void) {
    count = depth = max_depth = 0;
    vk_handle(SIGUSR1, on_nest, SA_NODEFER);
    kill(getpid(), SIGUSR1);
    printf("SA_NODEFER: handler ran %d time(s), nesting depth %d\n", (int)count, (int)max_depth);
    CHECK(count == 2 && max_depth == 2, "nodefer");
    count = depth = max_depth = 0;
    vk_handle(SIGUSR1, on_nest, 0);
    kill(getpid(), SIGUSR1);
    printf("without SA_NODEFER: handler ran %d time(s), nesting depth %d\n", (int)count, (int)max_depth);
    CHECK(count == 2 && max_depth == 1, "defer");
    signal(SIGUSR1, SIG_DFL);
}

static void on_usr1_raise_usr2(int sig) {
    (void)sig;
    order[order_n++] = 1;
    kill(getpid(), SIGUSR2);
    order[order_n++] = 2;
}
static void on_usr2_order(int sig) {
    (void)sig;
    order[order_n++] = 3;
}

static void samask(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1_raise_usr2;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    vk_handle(SIGUSR2, on_usr2_order, 0);
    order_n = 0;
    kill(getpid(), SIGUSR1);
    printf("sa_mask has SIGUSR2: events");
    for (int i = 0; i < order_n; i++)
        printf(" %d", order[i]);
    printf(" (1 enter USR1, 2 leave USR1, 3 USR2)\n");
    CHECK(order_n == 3 && order[2] == 3, "sa_mask");
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    order_n = 0;
    kill(getpid(), SIGUSR1);
    printf("empty sa_mask: events");
    for (int i = 0; i < order_n; i++)
        printf(" %d", order[i]);
    printf("\n");
    CHECK(order_n == 3 && order[1] == 3, "no sa_mask");
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
}

static char alt[64 * 1024];
static volatile int on_alt, alt_flags;
static void on_altstack(int sig) {
    (void)sig;
    char local;
    on_alt = &local >= alt && &local < alt + sizeof alt;
    stack_t ss;
    sigaltstack(NULL, &ss);
    alt_flags = ss.ss_flags;
    /* Changing the stack while on it: EPERM. */
    stack_t other = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    if (sigaltstack(&other, NULL) == -1 && errno == EPERM)
        alt_flags |= 0x1000;
}

static void altstack(void) {
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0}, old;
    CHECK(sigaltstack(&ss, &old) == 0, "sigaltstack");
    printf("the old alternate stack was disabled: %d\n", (old.ss_flags & SS_DISABLE) != 0);
    vk_handle(SIGUSR1, on_altstack, SA_ONSTACK);
    kill(getpid(), SIGUSR1);
    printf("SA_ONSTACK handler ran on the alternate stack: %d, SS_ONSTACK inside: %d, EPERM changing it: %d\n", on_alt,
           (alt_flags & SS_ONSTACK) != 0, (alt_flags & 0x1000) != 0);
    stack_t now;
    sigaltstack(NULL, &now);
    printf("after the handler: SS_ONSTACK %d, size %zu\n", (now.ss_flags & SS_ONSTACK) != 0, now.ss_size);
    vk_handle(SIGUSR1, on_altstack, 0);
    kill(getpid(), SIGUSR1);
    printf("without SA_ONSTACK: on the alternate stack %d\n", on_alt);
    stack_t small = {.ss_sp = alt, .ss_size = 512, .ss_flags = 0};
    EXPECT_ERR("sigaltstack smaller than MINSIGSTKSZ", sigaltstack(&small, NULL), ENOMEM);
    stack_t badflags = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0x42};
    EXPECT_ERR("sigaltstack with bad flags", sigaltstack(&badflags, NULL), EINVAL);
    stack_t off = {.ss_flags = SS_DISABLE};
    CHECK(sigaltstack(&off, NULL) == 0, "disable");
    signal(SIGUSR1, SIG_DFL);
}

static void kill_mode(void) {
    pid_t c = vk_fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    printf("kill(child, 0) while alive: %d\n", kill(c, 0));
    EXPECT_ERR("kill(child, 65)", kill(c, 65), EINVAL);
    EXPECT_ERR("kill(child, -1)", kill(c, -1), EINVAL);
    kill(c, SIGTERM);
    int st = vk_reap(c, "child after SIGTERM");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "SIGTERM");
    EXPECT_ERR("kill(reaped child, 0)", kill(c, 0), ESRCH);
    c = vk_fork();
    if (c == 0) {
        signal(SIGTERM, SIG_IGN);
        for (;;)
            pause();
    }
    vk_wait_blocked(c);
    kill(c, SIGTERM);
    kill(c, SIGKILL);
    st = vk_reap(c, "child ignoring SIGTERM, after SIGTERM and SIGKILL");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "SIGKILL");
    /* A zombie can still be signalled (kill returns 0). */
    c = vk_fork();
    if (c == 0)
        vk_exit(0);
    vk_wait_state(c, 'Z');
    printf("kill(zombie, 0): %d\n", kill(c, 0));
    vk_reap(c, "zombie");

    /* tkill / tgkill */
    vk_handle_info(SIGUSR1, on_info, 0);
    syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
    printf("tgkill(self): si_code %s, si_pid %s\n", code_name(seen_code), seen_pid == getpid() ? "=getpid" : "WRONG");
    seen_code = 0;
    syscall(SYS_tkill, gettid(), SIGUSR1);
    printf("tkill(self): si_code %s\n", code_name(seen_code));
    EXPECT_ERR("tgkill with the wrong tgid", syscall(SYS_tgkill, getpid() + 100000, gettid(), SIGUSR1), ESRCH);
    EXPECT_ERR("tgkill(tgid, 0)", syscall(SYS_tgkill, getpid(), 0, SIGUSR1), EINVAL);
    signal(SIGUSR1, SIG_DFL);
}

static void killpg_mode(void) {
    const char *dir = vk_tmpdir();
    const char *ready[3] = {vk_join(dir, "r0"), vk_join(dir, "r1"), vk_join(dir, "r2")};
    /* Two children in a new group led by the first; a third one outside. */
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = vk_fork();
        if (kids[i] == 0) {
            if (i < 2)
                setpgid(0, i == 0 ? 0 : kids[0]);
            vk_gate_open(ready[i]);
            for (;;)
                pause();
        }
        if (i < 2)
            setpgid(kids[i], kids[0]);
    }
    for (int i = 0; i < 3; i++)
        CHECK(vk_gate_wait(ready[i]), "child %d ready", i);
    CHECK(kill(-kids[0], SIGTERM) == 0, "kill(-pgid)");
    for (int i = 0; i < 2; i++) {
        int st = vk_reap(kids[i], i == 0 ? "group leader after kill(-pgid, SIGTERM)" : "group member after kill(-pgid, SIGTERM)");
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "group");
    }
    int st;
    CHECK(waitpid(kids[2], &st, WNOHANG) == 0, "the child outside the group is alive");
    printf("the child outside the group is still alive\n");
    kill(kids[2], SIGKILL);
    vk_reap(kids[2], "outside child after SIGKILL");
    EXPECT_ERR("kill(-pgid) of an empty group", kill(-kids[0], SIGTERM), ESRCH);

    /* kill(0, sig) from a group leader reaches its group, itself included. */
    pid_t leader = vk_fork();
    if (leader == 0) {
        setpgid(0, 0);
        vk_handle(SIGUSR1, on_count, 0);
        pid_t m = vk_fork();
        if (m == 0) {
            signal(SIGUSR1, SIG_DFL);
            for (;;)
                pause();
        }
        vk_wait_blocked(m);
        kill(0, SIGUSR1);
        int mst;
        waitpid(m, &mst, 0);
        vk_exit(WIFSIGNALED(mst) && WTERMSIG(mst) == SIGUSR1 && count == 1 ? 0 : 1);
    }
    vk_reap_ok(leader, "kill(0, SIGUSR1): the sender's handler ran and its group member died");
    vk_rmtree(dir);
}

static void die_by(int sig, int ignore_first) {
    pid_t c = vk_fork();
    if (c == 0) {
        /* Allow a core dump (so the status can have the core bit), in a scratch
         * directory so that a native run leaves no core file behind. */
        struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
        setrlimit(RLIMIT_CORE, &rl);
        chdir(vk_tmp_path);
        if (ignore_first)
            signal(sig, SIG_IGN);
        kill(getpid(), sig);
        if (ignore_first)
            vk_exit(0);
        vk_exit(100);
    }
    char what[96];
    snprintf(what, sizeof what, "%s%s", ignore_first ? "ignored " : "", vk_signame(sig));
    int st = vk_reap(c, what);
    if (WIFSIGNALED(st))
        printf("value core %s %d\n", vk_signame(sig), WCOREDUMP(st) ? 1 : 0);
}

static void default_mode(void) {
    vk_tmpdir();
    int term[] = {SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGVTALRM, SIGRTMIN};
    for (unsigned i = 0; i < sizeof term / sizeof term[0]; i++)
        die_by(term[i], 0);
    int core[] = {SIGQUIT, SIGABRT, SIGSEGV, SIGSYS, SIGTRAP, SIGFPE, SIGILL, SIGBUS, SIGXCPU};
    for (unsigned i = 0; i < sizeof core / sizeof core[0]; i++)
        die_by(core[i], 0);
    int ign[] = {SIGCHLD, SIGURG, SIGWINCH, SIGCONT};
    for (unsigned i = 0; i < sizeof ign / sizeof ign[0]; i++)
        die_by(ign[i], 0); /* survives: exits 100 */
    die_by(SIGTERM, 1);
    vk_rmtree(vk_tmp_path);
}

static void print_waitid(const char *what, pid_t pid, int flags) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    do {
        r = waitid(P_PID, pid, &si, flags);
    } while (r == -1 && errno == EINTR);
    const char *code = si.si_code == CLD_STOPPED ? "CLD_STOPPED"
                       : si.si_code == CLD_CONTINUED ? "CLD_CONTINUED"
                       : si.si_code == CLD_KILLED ? "CLD_KILLED"
                       : si.si_code == CLD_EXITED ? "CLD_EXITED"
                                                  : "?";
    printf("%s: %s si_status %s\n", what, code, si.si_code == CLD_EXITED ? "exit" : vk_signame(si.si_status));
}

static void stop(void) {
    pid_t c = vk_fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    int st;
    kill(c, SIGSTOP);
    CHECK(waitpid(c, &st, WUNTRACED) == c, "wait stopped");
    printf("SIGSTOP: %s\n", vk_status(st));
    CHECK(vk_proc_state(c) == 'T', "state %c", vk_proc_state(c));
    printf("/proc/<pid>/stat state of the stopped child: %c\n", vk_proc_state(c));
    CHECK(waitpid(c, &st, WUNTRACED | WNOHANG) == 0, "a stop is reported once");
    kill(c, SIGCONT);
    CHECK(waitpid(c, &st, WCONTINUED) == c, "wait continued");
    printf("SIGCONT: %s\n", vk_status(st));
    kill(c, SIGTSTP);
    CHECK(waitpid(c, &st, WUNTRACED) == c, "wait stopped");
    printf("SIGTSTP: %s\n", vk_status(st));
    kill(c, SIGCONT);
    print_waitid("waitid(WCONTINUED) after SIGCONT", c, WCONTINUED);
    kill(c, SIGSTOP);
    print_waitid("waitid(WSTOPPED) after SIGSTOP", c, WSTOPPED);
    /* Signals sent to a stopped process wait; SIGKILL does not. */
    kill(c, SIGTERM);
    vk_msleep(20);
    printf("SIGTERM to a stopped child: state %c\n", vk_proc_state(c));
    kill(c, SIGKILL);
    int r = vk_reap(c, "SIGKILL to a stopped child");
    CHECK(WIFSIGNALED(r) && WTERMSIG(r) == SIGKILL, "kill stopped");

    /* A handled SIGCONT: the handler runs in the continued child. */
    c = vk_fork();
    if (c == 0) {
        vk_handle(SIGCONT, on_count, 0);
        vk_wait_for(&count, 1, 10000);
        vk_exit(count == 1 ? 0 : 1);
    }
    vk_wait_blocked(c);
    kill(c, SIGSTOP);
    waitpid(c, &st, WUNTRACED);
    kill(c, SIGCONT);
    vk_reap_ok(c, "child with a SIGCONT handler, stopped and continued");

    /* A child stops itself: raise(SIGSTOP). */
    c = vk_fork();
    if (c == 0) {
        raise(SIGSTOP);
        vk_exit(5);
    }
    waitpid(c, &st, WUNTRACED);
    printf("raise(SIGSTOP) in the child: %s\n", vk_status(st));
    kill(c, SIGCONT);
    vk_reap(c, "after SIGCONT");
}

static volatile int chld_code[8], chld_status[8], chld_pid[8];
static volatile sig_atomic_t chld_n;
static void on_chld(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    if (chld_n < 8) {
        chld_code[chld_n] = si->si_code;
        chld_status[chld_n] = si->si_status;
        chld_pid[chld_n] = si->si_pid;
        chld_n++;
    }
}

static void wait_chld(int n) {
    for (int i = 0; i < 5000 && chld_n < n; i++)
        vk_msleep(1);
}

static void show_chld(const char *what, pid_t expect) {
    printf("%s: %d SIGCHLD", what, (int)chld_n);
    for (int i = 0; i < chld_n; i++) {
        const char *code = chld_code[i] == CLD_EXITED ? "CLD_EXITED"
                           : chld_code[i] == CLD_KILLED ? "CLD_KILLED"
                           : chld_code[i] == CLD_DUMPED ? "CLD_DUMPED"
                           : chld_code[i] == CLD_STOPPED ? "CLD_STOPPED"
                           : chld_code[i] == CLD_CONTINUED ? "CLD_CONTINUED"
                                                           : "?";
        if (chld_code[i] == CLD_EXITED)
            printf(" [%s %d%s]", code, chld_status[i], chld_pid[i] == expect ? "" : " WRONG PID");
        else
            printf(" [%s %s%s]", code, vk_signame(chld_status[i]), chld_pid[i] == expect ? "" : " WRONG PID");
    }
    printf("\n");
    chld_n = 0;
}

static void sigchld(void) {
    vk_handle_info(SIGCHLD, on_chld, SA_RESTART);
    pid_t c = vk_fork();
    if (c == 0)
        vk_exit(3);
    wait_chld(1);
    show_chld("child exits 3", c);
    vk_reap(c, "reaped");
    c = vk_fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    kill(c, SIGSTOP);
    wait_chld(1);
    kill(c, SIGCONT);
    wait_chld(2);
    kill(c, SIGKILL);
    wait_chld(3);
    show_chld("child stopped, continued, killed", c);
    vk_reap(c, "reaped");

    vk_handle_info(SIGCHLD, on_chld, SA_RESTART | SA_NOCLDSTOP);
    c = vk_fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    int st;
    kill(c, SIGSTOP);
    waitpid(c, &st, WUNTRACED);
    kill(c, SIGCONT);
    waitpid(c, &st, WCONTINUED);
    vk_msleep(20);
    kill(c, SIGTERM);
    wait_chld(1);
    show_chld("SA_NOCLDSTOP: child stopped, continued, killed by SIGTERM", c);
    vk_reap(c, "reaped");
    signal(SIGCHLD, SIG_DFL);
}

static void nocldwait(void) {
    signal(SIGCHLD, SIG_IGN);
    pid_t c = vk_fork();
    if (c == 0)
        vk_exit(0);
    int st;
    pid_t r;
    do {
        r = wait(&st);
    } while (r == -1 && errno == EINTR);
    printf("SIGCHLD SIG_IGN: wait for the child: %d %s\n", (int)r, errno == ECHILD ? "ECHILD" : "?");
    CHECK(r == -1 && errno == ECHILD, "auto-reaped");
    signal(SIGCHLD, SIG_DFL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &sa, NULL);
    c = vk_fork();
    if (c == 0)
        vk_exit(0);
    do {
        r = wait(&st);
    } while (r == -1 && errno == EINTR);
    printf("SA_NOCLDWAIT: wait for the child: %d %s\n", (int)r, errno == ECHILD ? "ECHILD" : "?");
    CHECK(r == -1 && errno == ECHILD, "auto-reaped");
    signal(SIGCHLD, SIG_DFL);
}

static void fork_mode(void) {
    vk_handle(SIGUSR1, on_count, 0);
    vk_mask(SIG_BLOCK, SIGUSR1);
    vk_mask(SIG_BLOCK, SIGUSR2);
    kill(getpid(), SIGUSR2);
    pid_t c = vk_fork();
    if (c == 0) {
        sigset_t m, p;
        sigprocmask(SIG_BLOCK, NULL, &m);
        sigpending(&p);
        int bad = !sigismember(&m, SIGUSR1);
        bad += sigismember(&p, SIGUSR2) << 1;
        struct sigaction sa;
        sigaction(SIGUSR1, NULL, &sa);
        bad += (sa.sa_handler != on_count) << 2;
        vk_mask(SIG_UNBLOCK, SIGUSR1);
        kill(getpid(), SIGUSR1);
        bad += (count != 1) << 3;
        vk_exit(bad);
    }
    vk_reap_ok(c, "child: mask and handler inherited, the parent's pending SIGUSR2 not");
    sigset_t p;
    sigpending(&p);
    printf("the parent's SIGUSR2 is still pending: %d\n", sigismember(&p, SIGUSR2));
    signal(SIGUSR2, SIG_IGN); /* discards the pending one */
    sigpending(&p);
    printf("after SIG_IGN the pending SIGUSR2 is discarded: %d\n", !sigismember(&p, SIGUSR2));
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
}

static const struct vk_mode modes[] = {
    {"handler", handler},   {"ucontext", ucontext_mode}, {"sigqueue", sigqueue_mode}, {"rt", rt},
    {"mask", mask},         {"suspend", suspend},        {"timedwait", timedwait},    {"resethand", resethand},
    {"nodefer", nodefer},   {"samask", samask},          {"altstack", altstack},      {"kill", kill_mode},
    {"killpg", killpg_mode}, {"default", default_mode},  {"stop", stop},              {"sigchld", sigchld},
    {"nocldwait", nocldwait}, {"fork", fork_mode},       {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("signals", modes, argc, argv); }
