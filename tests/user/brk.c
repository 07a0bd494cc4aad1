/* Differential test: program break growth and shrink, then malloc of many blocks with checks.
 * Only differences between break values are printed (absolute addresses differ between hosts). */
#include "rt/rt.h"

extern char _end[]; /* end of bss, from the default linker script */

int main(void)
{
    char *b0 = (char *)sys_brk(0);
    printf("initial break at or after end of bss: %d\n", b0 >= _end);
    printf("initial break within a page of end of bss: %d\n", b0 - _end < 4096);
    printf("brk(0) again same: %d\n", (char *)sys_brk(0) == b0);

    /* Grow by 1 MiB in steps, touching every page. */
    char *cur = b0;
    for (int step = 0; step < 16; step++) {
        char *want = cur + 65536;
        char *got = (char *)sys_brk(want);
        if (got != want) {
            printf("grow step %d failed: delta %ld\n", step, (long)(got - b0));
            return 1;
        }
        for (char *p = cur; p < want; p += 512) {
            if (*p != 0) {
                printf("fresh break memory not zero at +%ld\n", (long)(p - b0));
                return 1;
            }
            *p = (char)((p - b0) >> 9);
        }
        cur = want;
    }
    printf("grew to +%ld\n", (long)((char *)sys_brk(0) - b0));
    unsigned long sum = 0;
    for (char *p = b0; p < cur; p += 512)
        sum += (unsigned char)*p;
    printf("sum of touched bytes %lu\n", sum);

    /* Shrink back by half, then fully. */
    char *half = b0 + 8 * 65536;
    printf("shrink half -> +%ld\n", (long)((char *)sys_brk(half) - b0));
    printf("shrink full -> +%ld\n", (long)((char *)sys_brk(b0) - b0));
    /* Below the initial break: Linux refuses and returns the current break. */
    printf("below start -> +%ld\n", (long)((char *)sys_brk(b0 - 65536) - b0));
    printf("brk(0) -> +%ld\n", (long)((char *)sys_brk(0) - b0));

    /* Regrow: whole pages above the old break must read zero again. */
    char *want = b0 + 4 * 65536;
    printf("regrow -> +%ld\n", (long)((char *)sys_brk(want) - b0));
    char *page = (char *)(((unsigned long)b0 + 4095) & ~4095UL);
    int nonzero = 0;
    for (char *p = page; p < want; p++)
        nonzero += *p != 0;
    printf("nonzero bytes after regrow: %d\n", nonzero);
    /* Unaligned break values are kept exactly. */
    printf("odd break -> +%ld\n", (long)((char *)sys_brk(b0 + 12345) - b0));
    printf("brk(0) -> +%ld\n", (long)((char *)sys_brk(0) - b0));
    sys_brk(b0);

    /* A larger jump: 32 MiB at once. */
    char *big = (char *)sys_brk(b0 + (32L << 20));
    printf("grow 32 MiB -> +%ld\n", (long)(big - b0));
    big[-1] = 1;
    big[-(32L << 20)] = 2;
    sys_brk(b0);

    /* malloc many blocks of various sizes, fill with a pattern, verify all. */
    enum { N = 2000 };
    static unsigned char *blocks[N];
    static unsigned sizes[N];
    uint64_t seed = 12345;
    unsigned long total = 0;
    for (int i = 0; i < N; i++) {
        sizes[i] = (unsigned)(rng_next(&seed) % 3000) + 1;
        blocks[i] = malloc(sizes[i]);
        if (!blocks[i]) {
            printf("malloc %d failed\n", i);
            return 1;
        }
        if ((unsigned long)blocks[i] & 15) {
            printf("malloc %d misaligned\n", i);
            return 1;
        }
        for (unsigned j = 0; j < sizes[i]; j++)
            blocks[i][j] = (unsigned char)(i * 7 + j);
        total += sizes[i];
    }
    int bad = 0;
    for (int i = 0; i < N; i++)
        for (unsigned j = 0; j < sizes[i]; j++)
            bad += blocks[i][j] != (unsigned char)(i * 7 + j);
    printf("malloc: %d blocks, %lu bytes, %d bad bytes\n", N, total, bad);
    char *r = realloc(blocks[0], 100000);
    printf("realloc kept prefix: %d\n", memcmp(r, blocks[0], sizes[0]) == 0);
    printf("heap used (break delta) >= total: %d\n", (char *)sys_brk(0) - b0 >= (long)total);
    return bad != 0;
}
