/* Differential test: loads/stores of every width with sign/zero extension, misaligned accesses,
 * memcpy/memmove overlap, recursion, indirect calls, jump tables, deep stack use. */
#include "rt/rt.h"

static uint8_t buf[256];

static long ld(const char *kind, void *p)
{
    long r = 0;
    if (!strcmp(kind, "lb")) __asm__ volatile("lb %0, 0(%1)" : "=r"(r) : "r"(p));
    if (!strcmp(kind, "lbu")) __asm__ volatile("lbu %0, 0(%1)" : "=r"(r) : "r"(p));
    if (!strcmp(kind, "lh")) __asm__ volatile("lh %0, 0(%1)" : "=r"(r) : "r"(p));
    if (!strcmp(kind, "lhu")) __asm__ volatile("lhu %0, 0(%1)" : "=r"(r) : "r"(p));
    if (!strcmp(kind, "lw")) __asm__ volatile("lw %0, 0(%1)" : "=r"(r) : "r"(p));
    if (!strcmp(kind, "lwu")) __asm__ volatile("lwu %0, 0(%1)" : "=r"(r) : "r"(p));
    if (!strcmp(kind, "ld")) __asm__ volatile("ld %0, 0(%1)" : "=r"(r) : "r"(p));
    return r;
}

static long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static long deep(long n, volatile char *prev)
{
    volatile char frame[1024];
    frame[0] = (char)n;
    frame[1023] = prev ? prev[0] : 0;
    if (n == 0)
        return frame[0] + frame[1023];
    return deep(n - 1, frame) + frame[1023];
}

static long op_add(long a, long b) { return a + b; }
static long op_sub(long a, long b) { return a - b; }
static long op_mul(long a, long b) { return a * b; }
static long op_xor(long a, long b) { return a ^ b; }

static __attribute__((noinline)) long dispatch(int k, long x)
{
    switch (k) {
    case 0: return x + 1;
    case 1: return x * 3;
    case 2: return x - 7;
    case 3: return x ^ 0x55;
    case 4: return x << 2;
    case 5: return x >> 1;
    case 6: return -x;
    case 7: return ~x;
    case 8: return x | 0x100;
    default: return 0;
    }
}

int main(void)
{
    for (int i = 0; i < 256; i++)
        buf[i] = (uint8_t)(i * 37 + 0x80);
    static const char *kinds[] = {"lb", "lbu", "lh", "lhu", "lw", "lwu", "ld"};
    for (int k = 0; k < 7; k++) {
        printf("%-3s", kinds[k]);
        for (int off = 0; off < 9; off++)
            printf(" %lx", (unsigned long)ld(kinds[k], buf + 16 + off));
        printf("\n");
    }
    /* Stores of each width at each offset within a doubleword (misaligned ones included). */
    for (int off = 0; off < 8; off++) {
        memset(buf, 0xee, 32);
        __asm__ volatile("sb %1, 0(%0)" ::"r"(buf + off), "r"(0x1122334455667788L) : "memory");
        __asm__ volatile("sh %1, 0(%0)" ::"r"(buf + 8 + off), "r"(0x1122334455667788L) : "memory");
        __asm__ volatile("sw %1, 0(%0)" ::"r"(buf + 16 + off), "r"(0x1122334455667788L) : "memory");
        __asm__ volatile("sd %1, 0(%0)" ::"r"(buf + 24 + off) ,"r"(0x1122334455667788L) : "memory");
        printf("st+%d:", off);
        for (int i = 0; i < 40; i++)
            printf("%02x", buf[i]);
        printf("\n");
    }
    /* memmove with overlap both ways. */
    char s[64];
    strcpy(s, "0123456789abcdefghijklmnopqrstuvwxyz");
    memmove(s + 3, s, 20);
    printf("memmove fwd: %s\n", s);
    memmove(s, s + 5, 20);
    printf("memmove back: %s\n", s);

    printf("fib(25)=%ld\n", fib(25));
    printf("deep(2000)=%ld\n", deep(2000, 0)); /* about 2 MiB of stack */

    long (*ops[])(long, long) = {op_add, op_sub, op_mul, op_xor};
    long acc = 1;
    for (int i = 0; i < 100; i++)
        acc = ops[i & 3](acc, i + 3);
    printf("indirect calls acc=%ld\n", acc);
    long x = 12345;
    for (int i = 0; i < 1000; i++)
        x = dispatch(i % 9, x) & 0xffffffffffL;
    printf("jump table x=%ld\n", x);
    return 0;
}
