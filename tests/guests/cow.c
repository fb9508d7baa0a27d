/* cow: fork copies memory (copy-on-write), selected by argv[1].
 *
 *   child_writes   32 MiB filled with a pattern; after fork the child rewrites all of
 *                  it (and checks its own copy), the parent's copy is unchanged
 *   parent_writes  the parent rewrites after fork while the child waits; the child
 *                  still sees the old contents
 *   many           4 children at once, each rewriting its own quarter
 *   nested         child and grandchild each write; every generation sees its own
 *   lazy           32 MiB, 4 children alive at once that each write one page: run with
 *                  `--memory 96M`, which an eager copy (5 x 32 MiB) would exceed
 *   regions        brk heap, the stack, a private file mapping, .data/.bss
 *   shared         MAP_SHARED|MAP_ANONYMOUS stays shared after fork; MAP_PRIVATE not
 *   loop           100 forks in a row of a 32 MiB process (each child exits at once)
 *
 * Checksums (FNV-1a of the whole buffer) are printed: they are deterministic.
 */
#include "posix.h"

#include <sys/mman.h>

#define SIZE (32u << 20)
#define PAGE 4096u

static unsigned char *buf;

static void setup(void) {
    buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        printf("FAIL mmap 32 MiB: %s\n", strerror(errno));
        exit(100);
    }
    vk_fill(buf, SIZE, 1);
}

static uint64_t sum(void) { return vk_fnv(buf, SIZE); }

static void child_writes(void) {
    setup();
    uint64_t before = sum();
    printf("parent checksum before fork: %016llx\n", (unsigned long long)before);
    pid_t p = vk_fork();
    if (p == 0) {
        int bad = sum() != before;
        vk_fill(buf, SIZE, 2);
        uint64_t mine = sum();
        /* The expected value, computed the same way in a fresh buffer. */
        unsigned char *ref = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        vk_fill(ref, SIZE, 2);
        bad += (mine != vk_fnv(ref, SIZE)) << 1;
        vk_exit(bad);
    }
    vk_reap_ok(p, "child saw the parent's data, rewrote all 32 MiB");
    uint64_t after = sum();
    printf("parent checksum after the child wrote: %016llx\n", (unsigned long long)after);
    CHECK(after == before, "the child's writes reached the parent");
}

static void parent_writes(void) {
    setup();
    uint64_t before = sum();
    const char *dir = vk_tmpdir();
    const char *gate = vk_join(dir, "go");
    pid_t p = vk_fork();
    if (p == 0) {
        if (!vk_gate_wait(gate))
            vk_exit(99);
        vk_exit(sum() == before ? 0 : 1);
    }
    vk_fill(buf, SIZE, 3);
    printf("parent rewrote its copy: %016llx\n", (unsigned long long)sum());
    vk_gate_open(gate);
    vk_reap_ok(p, "child still sees the contents from before the fork");
    vk_rmtree(dir);
}

static void many(void) {
    setup();
    uint64_t before = sum();
    const char *dir = vk_tmpdir();
    const char *gate = vk_join(dir, "go");
    pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        pids[i] = vk_fork();
        if (pids[i] == 0) {
            unsigned char *q = buf + (size_t)i * (SIZE / 4);
            vk_fill(q, SIZE / 4, 10 + (unsigned)i);
            /* Wait until everybody has written, then check the other quarters. */
            if (!vk_gate_wait(gate))
                vk_exit(99);
            int bad = 0;
            unsigned char *ref = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            vk_fill(ref, SIZE, 1);
            vk_fill(ref + (size_t)i * (SIZE / 4), SIZE / 4, 10 + (unsigned)i);
            bad += memcmp(ref, buf, SIZE) != 0;
            vk_exit(bad);
        }
    }
    vk_msleep(100);
    vk_gate_open(gate);
    for (int i = 0; i < 4; i++) {
        char what[64];
        snprintf(what, sizeof what, "child %d: own quarter rewritten, the rest original", i);
        vk_reap_ok(pids[i], what);
    }
    CHECK(sum() == before, "parent changed");
    printf("parent unchanged: %016llx\n", (unsigned long long)sum());
    vk_rmtree(dir);
}

static void nested(void) {
    setup();
    uint64_t gen0 = sum();
    pid_t p = vk_fork();
    if (p == 0) {
        vk_fill(buf, SIZE / 2, 20);
        uint64_t gen1 = sum();
        pid_t g = vk_fork();
        if (g == 0) {
            int bad = sum() != gen1;
            vk_fill(buf + SIZE / 2, SIZE / 2, 21);
            vk_exit(bad);
        }
        int st;
        waitpid(g, &st, 0);
        int bad = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        bad += (sum() != gen1) << 1;
        vk_exit(bad);
    }
    vk_reap_ok(p, "child and grandchild each see their own generation");
    CHECK(sum() == gen0, "the parent's memory changed");
    printf("parent unchanged: %016llx\n", (unsigned long long)sum());
}

static void lazy(void) {
    setup();
    uint64_t before = sum();
    const char *dir = vk_tmpdir();
    const char *gate = vk_join(dir, "go");
    pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        pids[i] = vk_fork();
        if (pids[i] == 0) {
            buf[(size_t)i * PAGE * 7] ^= 0xff;
            int bad = 0;
            if (!vk_gate_wait(gate))
                bad = 99;
            buf[(size_t)i * PAGE * 7] ^= 0xff;
            bad += sum() != before;
            vk_exit(bad);
        }
    }
    vk_msleep(100);
    vk_gate_open(gate);
    for (int i = 0; i < 4; i++)
        vk_reap_ok(pids[i], "child (alive together with 3 others) wrote one page");
    CHECK(sum() == before, "parent changed");
    printf("5 processes shared 32 MiB\n");
    vk_rmtree(dir);
}

static int data_var = 1234;
static int bss_var;

static void regions(void) {
    /* brk heap */
    /* The raw call: musl's sbrk only takes 0. */
    unsigned char *heap = (unsigned char *)syscall(SYS_brk, 0);
    unsigned char *end = (unsigned char *)syscall(SYS_brk, heap + (4 << 20));
    CHECK(end == heap + (4 << 20), "brk +4 MiB");
    vk_fill(heap, 4 << 20, 5);
    uint64_t heap_sum = vk_fnv(heap, 4 << 20);
    /* stack */
    volatile unsigned char stack[256 * 1024];
    vk_fill((void *)stack, sizeof stack, 6);
    uint64_t stack_sum = vk_fnv((void *)stack, sizeof stack);
    /* private file mapping, written by the parent before the fork */
    const char *dir = vk_tmpdir();
    const char *path = vk_join(dir, "file");
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    CHECK(fd >= 0 && ftruncate(fd, 64 * 1024) == 0, "create file");
    unsigned char *fmap = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(fmap != MAP_FAILED, "mmap file");
    fmap[0] = 'P';
    data_var = 5678;
    bss_var = 42;

    pid_t p = vk_fork();
    if (p == 0) {
        int bad = 0;
        bad += vk_fnv(heap, 4 << 20) != heap_sum;
        bad += (vk_fnv((void *)stack, sizeof stack) != stack_sum) << 1;
        bad += (fmap[0] != 'P') << 2;
        bad += (data_var != 5678 || bss_var != 42) << 3;
        vk_fill(heap, 4 << 20, 7);
        vk_fill((void *)stack, sizeof stack, 8);
        fmap[0] = 'C';
        fmap[4096] = 'C';
        data_var = 1;
        bss_var = 2;
        vk_exit(bad);
    }
    vk_reap_ok(p, "child saw heap, stack, file mapping, .data and .bss, then wrote them");
    CHECK(vk_fnv(heap, 4 << 20) == heap_sum, "heap");
    CHECK(vk_fnv((void *)stack, sizeof stack) == stack_sum, "stack");
    CHECK(fmap[0] == 'P' && fmap[4096] == 0, "file mapping");
    CHECK(data_var == 5678 && bss_var == 42, ".data/.bss");
    printf("parent's heap, stack, private file mapping, .data and .bss unchanged\n");
    /* The file itself never changed (MAP_PRIVATE). */
    char c = 'x';
    CHECK(pread(fd, &c, 1, 0) == 1 && c == 0, "the file changed: %c", c);
    printf("the mapped file is unchanged\n");
    close(fd);
    vk_rmtree(dir);
}

static void shared(void) {
    volatile int *sh = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    volatile int *pr = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(sh != MAP_FAILED && pr != MAP_FAILED, "mmap");
    sh[0] = 1;
    sh[100000] = 1;
    pr[0] = 1;
    pid_t p = vk_fork();
    if (p == 0) {
        int bad = sh[0] != 1 || pr[0] != 1;
        sh[0] = 2;
        sh[100000] = 3;
        sh[200000] = 4; /* a page never touched before the fork */
        pr[0] = 2;
        vk_exit(bad);
    }
    vk_reap_ok(p, "child wrote to a shared and a private mapping");
    printf("shared mapping after the child's writes: %d %d %d\n", sh[0], sh[100000], sh[200000]);
    printf("private mapping after the child's write: %d\n", pr[0]);
    CHECK(sh[0] == 2 && sh[100000] == 3 && sh[200000] == 4 && pr[0] == 1, "shared/private");
    /* And the other way round: the parent writes, the child (forked again) reads. */
    sh[1] = 77;
    p = vk_fork();
    if (p == 0)
        vk_exit(sh[1] == 77 ? 0 : 1);
    vk_reap_ok(p, "second child reads the parent's shared write");
}

static void loop(void) {
    setup();
    uint64_t before = sum();
    for (int i = 0; i < 100; i++) {
        pid_t p = vk_fork();
        if (p == 0) {
            buf[(size_t)i * PAGE] = 0;
            _exit(i & 0x7f);
        }
        int st = vk_wait(p);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == (i & 0x7f))) {
            CHECK(0, "fork %d: %s", i, vk_status(st));
            break;
        }
    }
    CHECK(sum() == before, "parent changed");
    printf("100 forks of a 32 MiB process, parent unchanged\n");
}

static const struct vk_mode modes[] = {
    {"child_writes", child_writes}, {"parent_writes", parent_writes}, {"many", many}, {"nested", nested},
    {"lazy", lazy},                 {"regions", regions},             {"shared", shared}, {"loop", loop},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("cow", modes, argc, argv); }
