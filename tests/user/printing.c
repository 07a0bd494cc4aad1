/* Differential test: formatted integer/string output on stdout and stderr. */
#include "rt/rt.h"

int main(void)
{
    static const long vals[] = {0, 1, -1, 7, -7, 42, 255, 256, 65535, -65536, 2147483647L,
                                -2147483647L - 1, 4294967295L, 9223372036854775807L,
                                -9223372036854775807L - 1, 1234567890123L};
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        long v = vals[i];
        printf("[%ld] [%lu] [%lx] [%lX] [%d] [%u] [%x] [%20ld] [%-20ld|] [%020ld] [%+ld]\n", v,
               (unsigned long)v, (unsigned long)v, (unsigned long)v, (int)v, (unsigned)v,
               (unsigned)v, v, v, v, v);
    }
    printf("%s|%10s|%-10s|%c%c%c|%%|%5c|\n", "abc", "right", "left", 'x', 'y', 'z', '!');
    printf("%08x %016lx %p\n", 0xbeefu, 0x123456789abcdefUL, (void *)0x1000);
    char buf[16];
    int n = snprintf(buf, sizeof buf, "truncated %d %s", 123456, "string");
    printf("snprintf -> %d \"%s\"\n", n, buf);
    for (int i = 0; i < 300; i++)
        putchar('a' + i % 26);
    putchar('\n');
    /* A line longer than the stdout buffer. */
    for (int i = 0; i < 1000; i++)
        printf("%d,", i);
    puts("");
    dprintf(2, "to stderr: %d %s\n", -5, "err");
    sys_write(2, "raw stderr write\n", 17);
    long w = sys_write(1, "", 0);
    printf("write of 0 bytes returned %ld\n", w);
    return 0;
}
