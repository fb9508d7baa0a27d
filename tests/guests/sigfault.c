/* sigfault: hardware faults delivered as signals, selected by argv[1]. The handler
 * records siginfo and the ucontext's RIP, then siglongjmps back (except "skip").
 *
 *   maperr    store through NULL, load from an unmapped page: SIGSEGV SEGV_MAPERR,
 *             si_addr the faulting address
 *   accerr    store to a PROT_READ page, load from PROT_NONE: SEGV_ACCERR, si_addr
 *   nx        call into a page without PROT_EXEC: SEGV_ACCERR, si_addr the page
 *   fpe       idiv by zero and INT_MIN / -1: SIGFPE FPE_INTDIV, si_addr the idiv
 *   ill       ud2: SIGILL ILL_ILLOPN, si_addr the ud2
 *   trap      int3: SIGTRAP SI_KERNEL, RIP after the int3
 *   bus       a mapping past the end of its file: SIGBUS BUS_ADRERR, si_addr
 *   skip      the handler moves RIP past the faulting store and sets RAX; sigreturn
 *             resumes there with RAX changed and the callee-saved registers intact
 *   overflow  unbounded recursion: SIGSEGV caught on the sigaltstack
 *   forced    a fault while SIGSEGV is blocked, or ignored, kills the process; with
 *             no handler it kills with SIGSEGV (in children)
 *   user      kill(getpid(), SIGSEGV) reaches the handler with SI_USER
 */
#include "posix.h"

#include <limits.h>
#include <sys/mman.h>
#include <sys/ucontext.h>

static sigjmp_buf jb;
static volatile int got_sig, got_code;
static volatile uintptr_t got_addr, got_rip, fault_ip, resume_ip;
static volatile int handler_on_altstack;
static char altstack[64 * 1024];

static void on_fault(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = (uintptr_t)si->si_addr;
    got_rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    char local;
    handler_on_altstack = &local >= altstack && &local < altstack + sizeof altstack;
    siglongjmp(jb, 1);
}

static void install(int sig, int flags) {
    vk_handle_info(sig, on_fault, flags);
}

static const char *code_name(int sig, int code) {
    if (code == SI_USER)
        return "SI_USER";
    if (code == SI_KERNEL)
        return "SI_KERNEL";
    if (sig == SIGSEGV)
        return code == SEGV_MAPERR ? "SEGV_MAPERR" : code == SEGV_ACCERR ? "SEGV_ACCERR" : "SEGV_?";
    if (sig == SIGFPE)
        return code == FPE_INTDIV ? "FPE_INTDIV" : code == FPE_INTOVF ? "FPE_INTOVF" : "FPE_?";
    if (sig == SIGILL)
        return code == ILL_ILLOPN ? "ILL_ILLOPN" : code == ILL_ILLOPC ? "ILL_ILLOPC" : "ILL_?";
    if (sig == SIGBUS)
        return code == BUS_ADRERR ? "BUS_ADRERR" : code == BUS_ADRALN ? "BUS_ADRALN" : "BUS_?";
    if (sig == SIGTRAP)
        return code == TRAP_BRKPT ? "TRAP_BRKPT" : "TRAP_?";
    return "?";
}

/* Print what the last fault delivered; `addr_what` names the expected si_addr. */
static void report(const char *what, int want_sig, int want_code, uintptr_t want_addr, const char *addr_what) {
    printf("%s: %s %s, si_addr %s\n", what, vk_signame(got_sig), code_name(got_sig, got_code),
           got_addr == want_addr ? addr_what : "WRONG");
    CHECK(got_sig == want_sig && got_code == want_code && got_addr == want_addr,
          "%s: sig %d code %d addr %#lx want %#lx", what, got_sig, got_code, (unsigned long)got_addr,
          (unsigned long)want_addr);
}

static void store(uintptr_t addr) {
    asm volatile("movl $1, (%0)" : : "r"(addr) : "memory");
}

static int load(uintptr_t addr) {
    int v;
    asm volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static void maperr(void) {
    install(SIGSEGV, 0);
    if (sigsetjmp(jb, 1) == 0)
        store(0);
    report("store to NULL", SIGSEGV, SEGV_MAPERR, 0, "NULL");
    char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(page, 4096);
    if (sigsetjmp(jb, 1) == 0)
        load((uintptr_t)page + 123);
    report("load from an unmapped page", SIGSEGV, SEGV_MAPERR, (uintptr_t)page + 123, "page+123");
    /* A second fault after the first handler returned with siglongjmp: the mask was
     * restored, so it is delivered too. */
    if (sigsetjmp(jb, 1) == 0)
        store(8);
    report("store to address 8", SIGSEGV, SEGV_MAPERR, 8, "8");
}

static void accerr(void) {
    install(SIGSEGV, 0);
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(jb, 1) == 0)
        store((uintptr_t)ro + 16);
    report("store to a PROT_READ page", SIGSEGV, SEGV_ACCERR, (uintptr_t)ro + 16, "page+16");
    char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(jb, 1) == 0)
        load((uintptr_t)none + 4000);
    report("load from a PROT_NONE page", SIGSEGV, SEGV_ACCERR, (uintptr_t)none + 4000, "page+4000");
    /* mprotect makes it writable: no fault. */
    mprotect(ro, 4096, PROT_READ | PROT_WRITE);
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0)
        store((uintptr_t)ro + 16);
    printf("after mprotect(PROT_READ|PROT_WRITE) the store works: %d\n", got_sig == 0 && ro[16] == 1);
    /* Text is not writable. */
    if (sigsetjmp(jb, 1) == 0)
        store((uintptr_t)&store);
    report("store into the program text", SIGSEGV, SEGV_ACCERR, (uintptr_t)&store, "the function");
}

static void nx(void) {
    install(SIGSEGV, 0);
    unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    page[0] = 0xc3; /* ret */
    void (*fn)(void) = (void (*)(void))page;
    if (sigsetjmp(jb, 1) == 0)
        fn();
    report("call into a page without PROT_EXEC", SIGSEGV, SEGV_ACCERR, (uintptr_t)page, "the page");
    printf("  RIP is the page: %d\n", got_rip == (uintptr_t)page);
    mprotect(page, 4096, PROT_READ | PROT_EXEC);
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0)
        fn();
    printf("after mprotect(PROT_READ|PROT_EXEC) the call returns: %d\n", got_sig == 0);
}

static void fpe(void) {
    install(SIGFPE, 0);
    if (sigsetjmp(jb, 1) == 0)
        asm volatile("leaq 1f(%%rip), %%rcx\n\t"
                     "movq %%rcx, %0\n\t"
                     "xorl %%edx, %%edx\n\t"
                     "movl $1, %%eax\n\t"
                     "xorl %%ecx, %%ecx\n"
                     "1:\tidivl %%ecx\n\t"
                     : "=m"(fault_ip)
                     :
                     : "rax", "rcx", "rdx", "memory");
    report("idiv by zero", SIGFPE, FPE_INTDIV, fault_ip, "the idiv");
    printf("  RIP is the idiv: %d\n", got_rip == fault_ip);
    if (sigsetjmp(jb, 1) == 0)
        asm volatile("leaq 1f(%%rip), %%rcx\n\t"
                     "movq %%rcx, %0\n\t"
                     "movl $0x80000000, %%eax\n\t"
                     "cltd\n\t"
                     "movl $-1, %%ecx\n"
                     "1:\tidivl %%ecx\n\t"
                     : "=m"(fault_ip)
                     :
                     : "rax", "rcx", "rdx", "memory");
    report("INT_MIN / -1", SIGFPE, FPE_INTDIV, fault_ip, "the idiv");
}

static void ill(void) {
    install(SIGILL, 0);
    if (sigsetjmp(jb, 1) == 0)
        asm volatile("leaq 1f(%%rip), %%rcx\n\t"
                     "movq %%rcx, %0\n"
                     "1:\tud2\n\t"
                     : "=m"(fault_ip)
                     :
                     : "rcx", "memory");
    report("ud2", SIGILL, ILL_ILLOPN, fault_ip, "the ud2");
    printf("  RIP is the ud2: %d\n", got_rip == fault_ip);
}

static void trap(void) {
    install(SIGTRAP, 0);
    if (sigsetjmp(jb, 1) == 0)
        asm volatile("leaq 1f(%%rip), %%rcx\n\t"
                     "movq %%rcx, %0\n\t"
                     "int3\n"
                     "1:\tnop\n\t"
                     : "=m"(fault_ip)
                     :
                     : "rcx", "memory");
    report("int3", SIGTRAP, SI_KERNEL, 0, "0");
    printf("  RIP is just after the int3: %d\n", got_rip == fault_ip);
    CHECK(got_rip == fault_ip, "rip");
}

static void bus(void) {
    install(SIGBUS, 0);
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "short");
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    CHECK(fd >= 0 && ftruncate(fd, 4096) == 0, "file");
    char *map = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(map != MAP_FAILED, "mmap");
    printf("inside the file: %d\n", load((uintptr_t)map + 100));
    if (sigsetjmp(jb, 1) == 0)
        load((uintptr_t)map + 4096 + 8);
    report("load from a mapped page past the end of the file", SIGBUS, BUS_ADRERR, (uintptr_t)map + 4096 + 8,
           "page 2 + 8");
    if (sigsetjmp(jb, 1) == 0)
        store((uintptr_t)map + 2 * 4096);
    report("store past the end of the file", SIGBUS, BUS_ADRERR, (uintptr_t)map + 2 * 4096, "page 3");
    close(fd);
    vk_rmtree(dir);
}

static void on_skip(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)resume_ip;
    uc->uc_mcontext.gregs[REG_RAX] = 0x1234;
    got_sig++;
}

static void skip(void) {
    vk_handle_info(SIGSEGV, on_skip, 0);
    uint64_t rax, r12, r13, r14, r15;
    asm volatile("leaq 2f(%%rip), %%rcx\n\t"
                 "movq %%rcx, %5\n\t"
                 "movabsq $0x1111111111111111, %%r12\n\t"
                 "movabsq $0x2222222222222222, %%r13\n\t"
                 "movabsq $0x3333333333333333, %%r14\n\t"
                 "movabsq $0x4444444444444444, %%r15\n\t"
                 "xorl %%eax, %%eax\n\t"
                 "xorl %%edx, %%edx\n\t"
                 "movl $1, (%%rdx)\n\t"
                 "movl $99, %%eax\n" /* skipped by the handler */
                 "2:\tmovq %%rax, %0\n\t"
                 "movq %%r12, %1\n\t"
                 "movq %%r13, %2\n\t"
                 "movq %%r14, %3\n\t"
                 "movq %%r15, %4\n\t"
                 : "=m"(rax), "=m"(r12), "=m"(r13), "=m"(r14), "=m"(r15), "=m"(resume_ip)
                 :
                 : "rax", "rcx", "rdx", "r12", "r13", "r14", "r15", "memory");
    printf("resumed where the handler said: handler ran %d time(s), rax %#llx\n", (int)got_sig,
           (unsigned long long)rax);
    printf("callee-saved registers intact: %d\n", r12 == 0x1111111111111111ull && r13 == 0x2222222222222222ull &&
                                                      r14 == 0x3333333333333333ull && r15 == 0x4444444444444444ull);
    CHECK(got_sig == 1 && rax == 0x1234, "skip");
    signal(SIGSEGV, SIG_DFL);
}

static volatile int recursion;
static int recurse(int n) {
    volatile char pad[1024];
    pad[0] = (char)n;
    recursion++;
    if (recursion > 0) /* always: hides the unbounded recursion from the compiler */
        return recurse(n + 1) + pad[0];
    return 0;
}

static void overflow(void) {
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
    install(SIGSEGV, SA_ONSTACK);
    if (sigsetjmp(jb, 1) == 0)
        recurse(0);
    printf("stack overflow: %s %s on the alternate stack %d, recursed deeper than 1000: %d\n", vk_signame(got_sig),
           code_name(got_sig, got_code), handler_on_altstack, recursion > 1000);
    CHECK(got_sig == SIGSEGV && handler_on_altstack, "overflow");
    printf("value recursion %d\n", (int)recursion);
    stack_t off = {.ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
}

static void forced_child(int how) {
    pid_t c = vk_fork();
    if (c == 0) {
        struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
        setrlimit(RLIMIT_CORE, &rl);
        chdir(vk_tmp_path);
        if (how == 1) {
            install(SIGSEGV, 0);
            vk_mask(SIG_BLOCK, SIGSEGV);
        } else if (how == 2) {
            signal(SIGSEGV, SIG_IGN);
        }
        store(0);
        vk_exit(100);
    }
    const char *what = how == 1 ? "fault with SIGSEGV blocked" : how == 2 ? "fault with SIGSEGV ignored"
                                                                          : "fault without a handler";
    int st = vk_reap(c, what);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "%s", what);
    printf("value core %s %d\n", how == 1 ? "blocked" : how == 2 ? "ignored" : "default", WCOREDUMP(st) ? 1 : 0);
}

static void forced(void) {
    vk_tmpdir();
    forced_child(1);
    forced_child(2);
    forced_child(0);
    vk_rmtree(vk_tmp_path);
}

static void user(void) {
    install(SIGSEGV, 0);
    if (sigsetjmp(jb, 1) == 0)
        kill(getpid(), SIGSEGV);
    printf("kill(getpid(), SIGSEGV): %s %s\n", vk_signame(got_sig), code_name(got_sig, got_code));
    CHECK(got_code == SI_USER, "user");
}

static const struct vk_mode modes[] = {
    {"maperr", maperr}, {"accerr", accerr},     {"nx", nx},         {"fpe", fpe},
    {"ill", ill},       {"trap", trap},         {"bus", bus},       {"skip", skip},
    {"overflow", overflow}, {"forced", forced}, {"user", user},     {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("sigfault", modes, argc, argv); }
