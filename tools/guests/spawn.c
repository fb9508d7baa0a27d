/* spawn: the cost of starting a program and waiting for it.
 *
 *   spawn N fork|vfork PATH [ARG...]
 *
 * N times: fork (or vfork), execve(PATH, {ARG...}) in the child (argv[0] is the first
 * ARG, "true" for busybox's applet), waitpid in the parent; every child must exit 0.
 * One untimed spawn first. Prints "spawn: N spawns (fork), X us/spawn", timed with
 * CLOCK_MONOTONIC.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int use_vfork;
static char *path;
static char **child_argv;

static void spawn_one(void) {
    pid_t pid = use_vfork ? vfork() : fork();
    if (pid < 0) {
        fprintf(stderr, "spawn: %s: %s\n", use_vfork ? "vfork" : "fork", strerror(errno));
        exit(1);
    }
    if (pid == 0) {
        execve(path, child_argv, environ);
        _exit(127); /* the parent reports it */
    }
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r != pid) {
        fprintf(stderr, "spawn: waitpid(%d): %s\n", (int)pid, strerror(errno));
        exit(1);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "spawn: %s: child status %#x%s\n", path, status,
                WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (execve failed)" : "");
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || atol(argv[1]) <= 0 ||
        (strcmp(argv[2], "fork") != 0 && strcmp(argv[2], "vfork") != 0)) {
        fprintf(stderr, "usage: spawn N fork|vfork PATH [ARG...]\n");
        return 2;
    }
    long n = atol(argv[1]);
    use_vfork = strcmp(argv[2], "vfork") == 0;
    path = argv[3];
    static char *no_args[] = {NULL, NULL};
    if (argc > 4) {
        child_argv = argv + 4;
    } else {
        no_args[0] = path;
        child_argv = no_args;
    }

    spawn_one(); /* warm-up */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++)
        spawn_one();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("spawn: %ld spawns (%s), %.1f us/spawn\n", n, argv[2], ns / 1e3 / (double)n);
    return 0;
}
