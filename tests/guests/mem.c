/* mem: the guest address space.
 *
 * brk grow/shrink/regrow, sbrk(0), malloc of 1..64 MiB, anonymous private mmap,
 * munmap (a hole in the middle of a mapping, checked with read() -> EFAULT, never by
 * touching it), mprotect RW -> RO -> RW (a read() into the RO range is EFAULT),
 * mremap grow with MREMAP_MAYMOVE (forced to move) keeps the contents, madvise
 * MADV_DONTNEED zeroes private anonymous pages, a 1 GiB PROT_NONE reservation,
 * MAP_FIXED over an existing mapping, MAP_FIXED_NOREPLACE, and argument errors.
 * Every step prints a checksum of the memory it looked at, so the output is the same
 * natively and under vkernel.
 */
#include "common.h"

#include <fcntl.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PG 4096UL
#define MIB (1024UL * 1024UL)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static unsigned long raw_brk(unsigned long addr) { return (unsigned long)syscall(SYS_brk, addr); }

static int devzero = -1;

/* Can the kernel write into [p, p+n)? read() from /dev/zero says, without a fault. */
static int kernel_can_write(void *p, size_t n) {
    errno = 0;
    ssize_t r = read(devzero, p, n);
    if (r == (ssize_t)n)
        return 1;
    CHECK(r == -1 && errno == EFAULT, "read(/dev/zero) into a bad range returned %zd", r);
    return 0;
}

static unsigned char *map(size_t len, int prot) {
    void *p = mmap(NULL, len, prot, ANON, -1, 0);
    CHECK(p != MAP_FAILED, "mmap(%zu)", len);
    if (p == MAP_FAILED)
        exit(vk_finish("mem"));
    return p;
}

static void test_brk(void) {
    /* No output between the first brk() and the restore: stdio must not malloc
     * (and so move the break) while this runs. */
    unsigned long b0 = raw_brk(0);
    unsigned long grown = raw_brk(b0 + MIB);
    uint64_t sum_grown = 0, sum_kept = 0;
    int regrow_zero = 0;
    if (grown == b0 + MIB) {
        vk_fill((void *)b0, MIB, 1);
        sum_grown = vk_fnv((void *)b0, MIB);
    }
    unsigned long shrunk = raw_brk(b0 + PG);
    if (shrunk == b0 + PG)
        sum_kept = vk_fnv((void *)b0, PG);
    unsigned long regrown = raw_brk(b0 + 64 * 1024);
    unsigned long kept_end = (b0 + PG + PG - 1) & ~(PG - 1);
    if (regrown == b0 + 64 * 1024)
        regrow_zero = vk_all_zero((void *)kept_end, b0 + 64 * 1024 - kept_end);
    unsigned long below = raw_brk(4096);
    unsigned long restored = raw_brk(b0);
    unsigned long libc_sbrk0 = (unsigned long)sbrk(0);

    CHECK(b0 != 0, "brk(0) returned 0");
    CHECK(grown == b0 + MIB, "brk grow by 1 MiB");
    printf("brk grow 1 MiB: checksum %016llx\n", (unsigned long long)sum_grown);
    CHECK(shrunk == b0 + PG, "brk shrink");
    printf("brk shrink to 1 page: checksum %016llx\n", (unsigned long long)sum_kept);
    CHECK(regrown == b0 + 64 * 1024, "brk regrow");
    CHECK(regrow_zero, "memory regrown after a brk shrink is not zero");
    printf("brk regrow: %s\n", regrow_zero ? "zeroed" : "NOT zeroed");
    CHECK(below == b0 + 64 * 1024, "brk below the start must fail (return the old break)");
    printf("brk below start: %s\n", below == b0 + 64 * 1024 ? "refused" : "accepted");
    CHECK(restored == b0, "brk restore");
    CHECK(libc_sbrk0 == b0, "sbrk(0) != brk(0)");
    printf("sbrk(0) == brk(0): %s\n", libc_sbrk0 == b0 ? "yes" : "no");
}

static void test_malloc(void) {
    for (size_t mib = 1; mib <= 64; mib *= 2) {
        size_t n = mib * MIB;
        unsigned char *p = malloc(n);
        CHECK(p != NULL, "malloc(%zu MiB)", mib);
        if (!p)
            continue;
        vk_fill(p, n, (unsigned)mib);
        printf("malloc %zu MiB: checksum %016llx\n", mib, (unsigned long long)vk_fnv(p, n));
        free(p);
    }
}

static void test_mmap_munmap(void) {
    unsigned char *p = map(16 * PG, PROT_READ | PROT_WRITE);
    CHECK(vk_all_zero(p, 16 * PG), "fresh anonymous memory is not zero");
    vk_fill(p, 16 * PG, 2);
    printf("mmap 16 pages: checksum %016llx\n", (unsigned long long)vk_fnv(p, 16 * PG));
    CHECK(munmap(p, 16 * PG) == 0, "munmap");

    /* Punch a hole in the middle of a mapping: both sides stay. */
    p = map(3 * PG, PROT_READ | PROT_WRITE);
    vk_fill(p, 3 * PG, 3);
    uint64_t first = vk_fnv(p, PG), last = vk_fnv(p + 2 * PG, PG);
    CHECK(munmap(p + PG, PG) == 0, "munmap middle page");
    CHECK(!kernel_can_write(p + PG, PG), "the unmapped hole is still writable by the kernel");
    CHECK(vk_fnv(p, PG) == first && vk_fnv(p + 2 * PG, PG) == last, "pages beside the hole changed");
    printf("munmap hole: sides %016llx %016llx, hole EFAULT\n", (unsigned long long)first,
           (unsigned long long)last);
    CHECK(munmap(p, 3 * PG) == 0, "munmap over a hole");
}

static void test_mprotect(void) {
    unsigned char *p = map(4 * PG, PROT_READ | PROT_WRITE);
    vk_fill(p, 4 * PG, 4);
    uint64_t before = vk_fnv(p, 4 * PG);
    CHECK(mprotect(p, 4 * PG, PROT_READ) == 0, "mprotect RO");
    CHECK(vk_fnv(p, 4 * PG) == before, "contents changed by mprotect RO");
    CHECK(!kernel_can_write(p + PG, PG), "kernel wrote into a read-only page");
    CHECK(vk_fnv(p, 4 * PG) == before, "read-only pages changed");
    CHECK(mprotect(p, 4 * PG, PROT_READ | PROT_WRITE) == 0, "mprotect RW");
    CHECK(kernel_can_write(p + PG, PG), "kernel cannot write into a page made RW again");
    vk_fill(p, 2 * PG, 5);
    printf("mprotect RW->RO->RW: before %016llx after %016llx\n", (unsigned long long)before,
           (unsigned long long)vk_fnv(p, 4 * PG));
    CHECK(mprotect(p, 4 * PG, PROT_NONE) == 0, "mprotect NONE");
    CHECK(!kernel_can_write(p, PG), "kernel wrote into a PROT_NONE page");
    CHECK(mprotect(p, 4 * PG, PROT_READ | PROT_WRITE) == 0, "mprotect back to RW");
    CHECK(vk_fnv(p + 2 * PG, 2 * PG) != 0, "pages lost by PROT_NONE");
    printf("mprotect NONE->RW: checksum %016llx\n", (unsigned long long)vk_fnv(p, 4 * PG));
    /* Raw syscalls for argument errors: musl's wrappers round some arguments. */
    EXPECT_ERR("mprotect unaligned", syscall(SYS_mprotect, p + 1, PG, PROT_READ), EINVAL);
    munmap(p, 4 * PG);
}

static void test_mremap(void) {
    /* A 2-page mapping with an occupied page right after it, so growing must move. */
    unsigned char *p = map(3 * PG, PROT_READ | PROT_WRITE);
    CHECK(mprotect(p + 2 * PG, PG, PROT_NONE) == 0, "guard page");
    vk_fill(p, 2 * PG, 6);
    uint64_t sum = vk_fnv(p, 2 * PG);
    EXPECT_ERR("mremap grow in place, blocked", mremap(p, 2 * PG, 64 * PG, 0), ENOMEM);
    unsigned char *q = mremap(p, 2 * PG, 64 * PG, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED, "mremap MAYMOVE");
    if (q == MAP_FAILED)
        return;
    CHECK(q != p, "mremap did not move although the next page is taken");
    CHECK(vk_fnv(q, 2 * PG) == sum, "mremap lost the contents");
    CHECK(vk_all_zero(q + 2 * PG, 62 * PG), "the grown part is not zero");
    vk_fill(q + 2 * PG, 62 * PG, 7);
    printf("mremap grow 2->64 pages: kept %016llx, %s, total %016llx\n", (unsigned long long)sum,
           q != p ? "moved" : "in place", (unsigned long long)vk_fnv(q, 64 * PG));
    CHECK(kernel_can_write(p, PG) == 0, "old range still mapped after the move");
    unsigned char *r = mremap(q, 64 * PG, PG, 0);
    CHECK(r == q, "mremap shrink");
    printf("mremap shrink to 1 page: checksum %016llx\n", (unsigned long long)vk_fnv(q, PG));
    munmap(q, PG);
    munmap(p + 2 * PG, PG);
}

static void test_madvise(void) {
    unsigned char *p = map(8 * PG, PROT_READ | PROT_WRITE);
    vk_fill(p, 8 * PG, 8);
    uint64_t edge = vk_fnv(p, 2 * PG);
    CHECK(madvise(p + 2 * PG, 4 * PG, MADV_DONTNEED) == 0, "madvise DONTNEED");
    CHECK(vk_all_zero(p + 2 * PG, 4 * PG), "MADV_DONTNEED did not zero private anonymous pages");
    CHECK(vk_fnv(p, 2 * PG) == edge, "MADV_DONTNEED changed pages outside its range");
    printf("madvise DONTNEED: zeroed, total %016llx\n", (unsigned long long)vk_fnv(p, 8 * PG));
    munmap(p, 8 * PG);
}

static void test_reservation(void) {
    size_t gib = 1024 * MIB;
    unsigned char *p = mmap(NULL, gib, PROT_NONE, ANON, -1, 0);
    CHECK(p != MAP_FAILED, "1 GiB PROT_NONE reservation");
    if (p == MAP_FAILED)
        return;
    CHECK(mprotect(p + 512 * MIB, MIB, PROT_READ | PROT_WRITE) == 0, "mprotect inside the reservation");
    vk_fill(p + 512 * MIB, MIB, 9);
    printf("1 GiB PROT_NONE reservation: 1 MiB used, checksum %016llx\n",
           (unsigned long long)vk_fnv(p + 512 * MIB, MIB));
    CHECK(munmap(p, gib) == 0, "munmap the reservation");
}

static void test_fixed(void) {
    unsigned char *p = map(4 * PG, PROT_READ | PROT_WRITE);
    memset(p, 0xaa, 4 * PG);
    unsigned char *q = mmap(p + PG, 2 * PG, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, -1, 0);
    CHECK(q == p + PG, "MAP_FIXED did not return its address");
    CHECK(vk_all_zero(p + PG, 2 * PG), "MAP_FIXED range is not fresh zero memory");
    CHECK(p[0] == 0xaa && p[PG - 1] == 0xaa && p[3 * PG] == 0xaa && p[4 * PG - 1] == 0xaa,
          "MAP_FIXED changed pages outside its range");
    printf("MAP_FIXED over a mapping: checksum %016llx\n", (unsigned long long)vk_fnv(p, 4 * PG));
    EXPECT_ERR("MAP_FIXED_NOREPLACE over a mapping",
               mmap(p, PG, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0), EEXIST);
    munmap(p, 4 * PG);
}

static void test_errors(void) {
    /* Raw syscalls: libc wrappers may check or round arguments themselves. */
    EXPECT_ERR("mmap length 0", syscall(SYS_mmap, 0, 0, PROT_READ, ANON, -1, 0), EINVAL);
    EXPECT_ERR("mmap neither private nor shared", syscall(SYS_mmap, 0, PG, PROT_READ, MAP_ANONYMOUS, -1, 0),
               EINVAL);
    EXPECT_ERR("mmap a bad fd", syscall(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, 999, 0), EBADF);
    EXPECT_ERR("munmap unaligned", syscall(SYS_munmap, PG + 1, PG), EINVAL);
}

int main(void) {
    test_brk(); /* first: before stdio allocates anything */
    vk_begin();
    devzero = open("/dev/zero", O_RDONLY);
    CHECK(devzero >= 0, "open /dev/zero");
    test_malloc();
    test_mmap_munmap();
    test_mprotect();
    test_mremap();
    test_madvise();
    test_reservation();
    test_fixed();
    test_errors();
    return vk_finish("mem");
}
