/* efault: bad guest pointers are EFAULT, never a crash of the guest or the kernel.
 *
 * Raw syscalls throughout: libc wrappers may read the memory themselves, and glibc
 * and musl send clock_gettime to the vDSO when there is one.
 */
#include "common.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>

#define WILD ((void *)1)
#define KERNEL_HALF ((void *)0xffff800000001000UL)
#define NONCANONICAL ((void *)0x0000900000000000UL)

int main(void) {
    vk_begin();

    EXPECT_ERR("write(1, (void*)1, 10)", syscall(SYS_write, 1, WILD, 10), EFAULT);
    EXPECT_ERR("write from a kernel-half pointer", syscall(SYS_write, 1, KERNEL_HALF, 10), EFAULT);

    int zero = open("/dev/zero", O_RDONLY);
    CHECK(zero >= 0, "open /dev/zero");
    EXPECT_ERR("read into (void*)1", syscall(SYS_read, zero, WILD, 10), EFAULT);
    EXPECT_ERR("read into a non-canonical pointer", syscall(SYS_read, zero, NONCANONICAL, 10), EFAULT);

    /* A PROT_NONE page is mapped but not accessible. */
    void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(none != MAP_FAILED, "mmap PROT_NONE");
    EXPECT_ERR("read into a PROT_NONE page", syscall(SYS_read, zero, none, 10), EFAULT);
    EXPECT_ERR("write from a PROT_NONE page", syscall(SYS_write, 1, none, 10), EFAULT);

    EXPECT_ERR("openat with a wild path", syscall(SYS_openat, AT_FDCWD, WILD, O_RDONLY), EFAULT);
    EXPECT_ERR("openat with a NULL path", syscall(SYS_openat, AT_FDCWD, NULL, O_RDONLY), EFAULT);
    EXPECT_ERR("clock_gettime into a bad pointer", syscall(SYS_clock_gettime, CLOCK_REALTIME, WILD), EFAULT);
    EXPECT_ERR("uname(NULL)", syscall(SYS_uname, NULL), EFAULT);
    EXPECT_ERR("fstat into a bad pointer", syscall(SYS_fstat, 0, WILD), EFAULT);
    char *argv[] = {"x", NULL};
    EXPECT_ERR("execve with a wild path", syscall(SYS_execve, WILD, argv, NULL), EFAULT);

    /* The guest is still fine and so is its output. */
    struct timespec ts;
    CHECK(syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) == 0, "clock_gettime after the faults");
    return vk_finish("efault");
}
