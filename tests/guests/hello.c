/* hello: prints "hello from <argv[0]>" and exits with argv[1] (default 0). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("hello from %s\n", argc > 0 ? argv[0] : "(no argv[0])");
    return argc > 1 ? atoi(argv[1]) : 0;
}
