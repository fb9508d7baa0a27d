/* enosys: system calls that do not exist are -1 ENOSYS and the guest goes on.
 *
 * `enosys 335` also tries syscall 335. The brief for vkernel says it is unassigned,
 * but Linux 6.11 made it uretprobe, which raises SIGILL when called from anywhere but
 * a uretprobe trampoline: so only pass it under vkernel, which must say ENOSYS.
 */
#include "common.h"

int main(int argc, char **argv) {
    vk_begin();
    EXPECT_ERR("syscall(1000)", syscall(1000), ENOSYS);
    EXPECT_ERR("syscall(1000) with arguments", syscall(1000, 1, 2, 3, 4, 5, 6), ENOSYS);
    EXPECT_ERR("syscall(5000)", syscall(5000), ENOSYS);
    EXPECT_ERR("syscall(-1)", syscall(-1), ENOSYS);
    for (int i = 1; i < argc; i++) {
        long nr = atol(argv[i]);
        char what[64];
        snprintf(what, sizeof what, "syscall(%ld)", nr);
        EXPECT_ERR(what, syscall(nr), ENOSYS);
    }
    CHECK(syscall(SYS_getpid) > 0, "a real syscall after the unknown ones");
    return vk_finish("enosys");
}
