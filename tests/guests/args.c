/* args: what the kernel put on the initial stack.
 *
 * Prints argc, every argv entry, every environment entry, then the auxiliary vector:
 * AT_PAGESZ, AT_UID/EUID/GID/EGID, AT_SECURE, AT_RANDOM (16 readable bytes),
 * AT_EXECFN, AT_PLATFORM, AT_HWCAP, AT_CLKTCK, AT_PHNUM/AT_PHENT/AT_PHDR, AT_ENTRY,
 * AT_BASE, and whether AT_SYSINFO_EHDR (a vDSO) is present: vkernel has none, the host
 * has one, so that line is printed but not counted as a failure.
 */
#include "common.h"

#include <elf.h>
#include <sys/auxv.h>

extern char _start[];

int main(int argc, char **argv, char **envp) {
    vk_begin();

    printf("argc %d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d] [%s]\n", i, argv[i]);
    CHECK(argv[argc] == NULL, "argv not NULL-terminated");

    int envc = 0;
    for (char **e = envp; *e; e++, envc++)
        printf("env [%s]\n", *e);
    printf("envc %d\n", envc);
    const char *vars[] = {"PATH", "HOME", "TERM"};
    for (unsigned i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        printf("getenv %s [%s]\n", vars[i], v ? v : "(unset)");
    }

    /* The auxiliary vector follows envp's NULL on the stack. */
    Elf64_auxv_t *auxv = (Elf64_auxv_t *)(envp + envc + 1);
    int n = 0, terminated = 0;
    for (; n < 256; n++) {
        if (auxv[n].a_type == AT_NULL) {
            terminated = 1;
            break;
        }
    }
    CHECK(terminated, "auxv has no AT_NULL in the first 256 entries");
    unsigned long walked_pagesz = 0;
    for (int i = 0; i < n; i++)
        if (auxv[i].a_type == AT_PAGESZ)
            walked_pagesz = auxv[i].a_un.a_val;
    CHECK(walked_pagesz == getauxval(AT_PAGESZ), "auxv on the stack disagrees with getauxval");
    printf("auxv walk %s\n", terminated ? "terminated" : "unterminated");

    printf("AT_PAGESZ %lu\n", getauxval(AT_PAGESZ));
    CHECK(getauxval(AT_PAGESZ) == 4096, "page size");
    printf("AT_UID %lu\n", getauxval(AT_UID));
    printf("AT_EUID %lu\n", getauxval(AT_EUID));
    printf("AT_GID %lu\n", getauxval(AT_GID));
    printf("AT_EGID %lu\n", getauxval(AT_EGID));
    CHECK(getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid(), "AT_UID/AT_EUID vs getuid/geteuid");
    CHECK(getauxval(AT_GID) == getgid() && getauxval(AT_EGID) == getegid(), "AT_GID/AT_EGID vs getgid/getegid");
    printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
    CHECK(getauxval(AT_SECURE) == 0, "AT_SECURE");

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    CHECK(rnd != NULL, "AT_RANDOM missing");
    if (rnd) {
        unsigned char copy[16];
        memcpy(copy, rnd, 16);
        CHECK(!vk_all_zero(copy, 16), "AT_RANDOM bytes are all zero");
        printf("AT_RANDOM 16 bytes readable\n");
    }

    const char *execfn = (const char *)getauxval(AT_EXECFN);
    CHECK(execfn != NULL, "AT_EXECFN missing");
    printf("AT_EXECFN [%s]\n", execfn ? execfn : "(missing)");

    const char *platform = (const char *)getauxval(AT_PLATFORM);
    printf("AT_PLATFORM [%s]\n", platform ? platform : "(missing)");
    CHECK(platform && strcmp(platform, "x86_64") == 0, "AT_PLATFORM");

    CHECK(getauxval(AT_HWCAP) != 0, "AT_HWCAP is zero");
    printf("AT_HWCAP %s\n", getauxval(AT_HWCAP) ? "nonzero" : "zero");
    printf("AT_CLKTCK %lu\n", getauxval(AT_CLKTCK));
    CHECK(getauxval(AT_CLKTCK) == 100, "AT_CLKTCK");

    unsigned long phnum = getauxval(AT_PHNUM), phent = getauxval(AT_PHENT);
    const Elf64_Phdr *phdr = (const Elf64_Phdr *)getauxval(AT_PHDR);
    CHECK(phnum > 0, "AT_PHNUM");
    printf("AT_PHNUM %s\n", phnum > 0 ? "positive" : "zero");
    CHECK(phent == sizeof(Elf64_Phdr), "AT_PHENT %lu", phent);
    printf("AT_PHENT %lu\n", phent);
    int loads = 0;
    if (phdr && phent == sizeof(Elf64_Phdr))
        for (unsigned long i = 0; i < phnum; i++)
            loads += phdr[i].p_type == PT_LOAD;
    CHECK(loads > 0, "no PT_LOAD among the AT_PHDR program headers");
    printf("AT_PHDR %s\n", loads > 0 ? "has PT_LOAD" : "bad");

    CHECK(getauxval(AT_ENTRY) == (unsigned long)_start, "AT_ENTRY is not _start");
    printf("AT_ENTRY %s\n", getauxval(AT_ENTRY) == (unsigned long)_start ? "is _start" : "wrong");
    printf("AT_BASE %lu\n", getauxval(AT_BASE));
    CHECK(getauxval(AT_BASE) == 0, "AT_BASE of a static executable");

    printf("AT_SYSINFO_EHDR %s\n", getauxval(AT_SYSINFO_EHDR) ? "present" : "absent");

    return vk_finish("args");
}
