/* Differential test: a guest trap ends the process like a fatal signal.
 * usage: fault KIND   (illegal | ebreak | load | store | fetch | amo-misaligned)
 * qemu-riscv64 dies of the signal; pltvm exits with 128 + signal. Output before the fault is kept. */
#include "rt/rt.h"

int main(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : "illegal";
    volatile long *volatile low = (volatile long *)8; /* nothing is mapped near address 0 */
    printf("about to fault: %s\n", kind);
    fflush_stdout();
    if (!strcmp(kind, "illegal"))
        __asm__ volatile(".4byte 0xffffffff");  /* reserved encoding */
    else if (!strcmp(kind, "illegal16"))
        __asm__ volatile(".2byte 0\n.2byte 0");  /* c.unimp */
    else if (!strcmp(kind, "ebreak"))
        __asm__ volatile("ebreak");
    else if (!strcmp(kind, "load"))
        printf("%ld\n", low[0]);
    else if (!strcmp(kind, "store"))
        low[1] = 1;
    else if (!strcmp(kind, "fetch"))
        ((void (*)(void))0x10000000)();
    else if (!strcmp(kind, "amo-misaligned")) {
        static long words[2];
        long old;
        __asm__ volatile("amoadd.w %0, %2, (%1)" : "=r"(old) : "r"((char *)words + 2), "r"(1L) : "memory");
        printf("%ld\n", old);
    }
    printf("still alive\n");
    return 0;
}
