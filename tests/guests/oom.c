/* Guest memory exhaustion: "huge" asks for more than guest RAM in one mapping (the
 * kernel's overcommit heuristic refuses it: malloc returns NULL); "touch" keeps
 * touching fresh memory until the kernel runs out of frames and kills it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "huge";
    if (strcmp(mode, "huge") == 0) {
        void *p = malloc((size_t)1 << 30);
        printf("huge malloc %s\n", p ? "succeeded" : "failed");
        return p ? 1 : 0;
    }
    for (int i = 0;; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("malloc failed after %d MiB\n", i);
            return 2;
        }
        memset(p, 0x5a, 1 << 20);
        printf("touched %d MiB\n", i + 1);
        fflush(stdout);
    }
}
