/* Shared helpers for the vkernel test guests.
 *
 * Every guest prints one line per thing it checks and exits with the number of
 * failed checks (0 = all good, capped at 100). A failed check prints a line that
 * starts with "FAIL" and names the source line, so a test's output says what broke.
 * Output must be deterministic (no addresses, pids or times unless the test expects
 * them) so the test can compare a run under vkernel with a native run.
 * Everything here must build with both `cc -static` (glibc) and `musl-gcc -static`.
 */
#ifndef VK_COMMON_H
#define VK_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int vk_failures;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            vk_failures++;                                                      \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);              \
            printf(__VA_ARGS__);                                                \
            printf(" (errno %d %s)\n", errno, strerror(errno));                 \
        }                                                                       \
    } while (0)

/* A syscall expected to fail with `err`: prints "<what>: <ERRNAME>". */
#define EXPECT_ERR(what, call, err)                                             \
    do {                                                                        \
        errno = 0;                                                              \
        long vk_r = (long)(call);                                               \
        int vk_e = errno;                                                       \
        if (vk_r == -1 && vk_e == (err)) {                                      \
            printf("%s: %s\n", (what), #err);                                   \
        } else {                                                                \
            vk_failures++;                                                      \
            printf("FAIL %s:%d: %s: expected -1 %s, got %ld errno %d (%s)\n",    \
                   __FILE__, __LINE__, (what), #err, vk_r, vk_e, strerror(vk_e)); \
        }                                                                       \
    } while (0)

/* Line-buffer stdout so that the lines printed before a crash are not lost. */
static inline void vk_begin(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

static inline int vk_finish(const char *name) {
    if (vk_failures == 0)
        printf("%s ok\n", name);
    else
        printf("%s: %d failed checks\n", name, vk_failures);
    fflush(stdout);
    return vk_failures > 100 ? 100 : vk_failures;
}

/* FNV-1a, 64 bit: a deterministic checksum of a memory range. */
static inline uint64_t vk_fnv(const void *p, size_t n) {
    const unsigned char *c = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Fill with a pattern that depends on the position and a seed. */
static inline void vk_fill(void *p, size_t n, unsigned seed) {
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)((i * 131u + seed + (i >> 12)) & 0xff);
}

static inline int vk_all_zero(const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return 0;
    return 1;
}

#endif
