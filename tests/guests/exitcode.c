/* exitcode: ways for a process to end, selected by argv[1].
 *
 *   exitcode exit_group N   raw exit_group(N)          status N & 0xff
 *   exitcode exit N         raw exit(N), the only thread: status N & 0xff
 *   exitcode return N       return N from main; an atexit handler prints a line and
 *                           stdout (a pipe: fully buffered) is flushed by libc
 *   exitcode kill           raise(SIGKILL)              killed by signal 9
 *   exitcode abort          abort()                     killed by signal 6
 *   exitcode segv           store through NULL          killed by signal 11
 */
#include "common.h"

#include <signal.h>

static void at_exit(void) { printf("atexit handler ran\n"); }

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "return";
    int code = argc > 2 ? atoi(argv[2]) : 0;
    printf("exitcode %s %d\n", how, code);
    if (strcmp(how, "exit_group") == 0) {
        fflush(stdout);
        syscall(SYS_exit_group, code);
    } else if (strcmp(how, "exit") == 0) {
        fflush(stdout);
        syscall(SYS_exit, code);
    } else if (strcmp(how, "return") == 0) {
        atexit(at_exit);
        printf("no newline before exit, flushed by libc:");
        return code;
    } else if (strcmp(how, "kill") == 0) {
        fflush(stdout);
        raise(SIGKILL);
    } else if (strcmp(how, "abort") == 0) {
        fflush(stdout);
        abort();
    } else if (strcmp(how, "segv") == 0) {
        fflush(stdout);
        *(volatile int *)0 = 1;
    } else {
        printf("unknown mode %s\n", how);
        return 100;
    }
    printf("FAIL: still alive after %s\n", how);
    return 101;
}
