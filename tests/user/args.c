/* Differential test: argc, argv, envp and a little of auxv from the Linux initial stack. */
#include "rt/rt.h"

int main(int argc, char **argv, char **envp)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=\"%s\" len=%lu\n", i, argv[i], (unsigned long)strlen(argv[i]));
    printf("argv[argc]=%s\n", argv[argc] == 0 ? "NULL" : "not NULL");
    /* Printed sorted: qemu-user hands the environment to the guest in reverse order. */
    int n = 0;
    while (envp[n])
        n++;
    char **sorted = malloc((size_t)n * sizeof *sorted);
    for (int i = 0; i < n; i++)
        sorted[i] = envp[i];
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
            char *t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    for (int i = 0; i < n; i++)
        printf("env: \"%s\"\n", sorted[i]);
    printf("envc=%d environ-matches=%d\n", n, environ == envp);
    printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
    unsigned long rnd = getauxval(AT_RANDOM);
    printf("AT_RANDOM present=%d\n", rnd != 0);
    /* The stack pointer handed to _start is 16-byte aligned, argv strings are readable. */
    unsigned long sp;
    __asm__ volatile("mv %0, sp" : "=r"(sp));
    printf("sp aligned=%d\n", (sp & 15) == 0);
    return argc;
}
