/* Differential test: 64/32-bit integer arithmetic edge cases, using the instructions directly. */
#include "rt/rt.h"

#define R2(op, a, b) ({ long _r; __asm__ volatile(op " %0, %1, %2" : "=r"(_r) : "r"(a), "r"(b)); _r; })

static const long edge[] = {
    0, 1, -1, 2, -2, 3, 7, -7, 31, 32, 33, 63, 64, 65, 127, 0x7fffffffL, -0x80000000L,
    0x80000000L, 0xffffffffL, 0x100000000L, 0x7fffffffffffffffL, (long)0x8000000000000000UL,
    (long)0x8000000000000001UL, 0x123456789abcdef0L, (long)0xfedcba9876543210UL,
    0x5555555555555555L, (long)0xaaaaaaaaaaaaaaaaUL,
};
#define NE (sizeof edge / sizeof edge[0])

static uint64_t h = 0xcbf29ce484222325ULL;
static void mix(long v)
{
    h ^= (uint64_t)v;
    h *= 0x100000001b3ULL;
}

#define TEST(op)                                                                    \
    do {                                                                            \
        uint64_t h0 = h;                                                            \
        for (unsigned i = 0; i < NE; i++)                                           \
            for (unsigned j = 0; j < NE; j++)                                       \
                mix(R2(op, edge[i], edge[j]));                                      \
        printf("%-7s %016lx\n", op, (unsigned long)(h ^ h0));                       \
    } while (0)

int main(void)
{
    TEST("add"); TEST("sub"); TEST("addw"); TEST("subw");
    TEST("sll"); TEST("srl"); TEST("sra"); TEST("sllw"); TEST("srlw"); TEST("sraw");
    TEST("slt"); TEST("sltu"); TEST("and"); TEST("or"); TEST("xor");
    TEST("mul"); TEST("mulh"); TEST("mulhu"); TEST("mulhsu"); TEST("mulw");
    TEST("div"); TEST("divu"); TEST("rem"); TEST("remu");
    TEST("divw"); TEST("divuw"); TEST("remw"); TEST("remuw");

    /* A few spelled out so a mismatch is easy to read. */
    long m = (long)0x8000000000000000UL;
    printf("div(MIN,-1)=%ld rem(MIN,-1)=%ld\n", R2("div", m, -1L), R2("rem", m, -1L));
    printf("div(5,0)=%ld divu(5,0)=%lx rem(5,0)=%ld remu(5,0)=%ld\n", R2("div", 5L, 0L),
           (unsigned long)R2("divu", 5L, 0L), R2("rem", 5L, 0L), R2("remu", 5L, 0L));
    printf("divw(INT_MIN,-1)=%ld remw(INT_MIN,-1)=%ld divw(5,0)=%ld remuw(-5,0)=%ld\n",
           R2("divw", -0x80000000L, -1L), R2("remw", -0x80000000L, -1L), R2("divw", 5L, 0L),
           R2("remuw", -5L, 0L));
    printf("mulh(MIN,MIN)=%lx mulhu(-1,-1)=%lx mulhsu(-1,-1)=%lx\n", (unsigned long)R2("mulh", m, m),
           (unsigned long)R2("mulhu", -1L, -1L), (unsigned long)R2("mulhsu", -1L, -1L));
    printf("sll(1,64)=%ld sll(1,65)=%ld sllw(1,32)=%ld sraw(MIN32,31)=%ld srlw(-1,0)=%ld\n",
           R2("sll", 1L, 64L), R2("sll", 1L, 65L), R2("sllw", 1L, 32L),
           R2("sraw", -0x80000000L, 31L), R2("srlw", -1L, 0L));

    /* __int128 helpers from libgcc and C-level checks. */
    __int128 a = (__int128)0x123456789abcdefLL * 0x7edcba987654321LL;
    printf("int128 hi=%lx lo=%lx\n", (unsigned long)(a >> 64), (unsigned long)a);
    unsigned __int128 q = ((unsigned __int128)0xffffffffffffffffULL << 64) / 0x1234567;
    printf("u128 div hi=%lx lo=%lx\n", (unsigned long)(q >> 64), (unsigned long)q);

    /* Immediates: addiw sign extension, lui, slli/srai on edge values. */
    volatile long x = 0x7fffffff;
    long y;
    __asm__("addiw %0, %1, 1" : "=r"(y) : "r"(x));
    printf("addiw(0x7fffffff,1)=%ld\n", y);
    __asm__("lui %0, 0x80000" : "=r"(y));
    printf("lui 0x80000 = %lx\n", (unsigned long)y);
    __asm__("srai %0, %1, 63" : "=r"(y) : "r"(m));
    printf("srai(MIN,63)=%ld\n", y);
    __asm__("srliw %0, %1, 0" : "=r"(y) : "r"(-1L));
    printf("srliw(-1,0)=%ld\n", y);
    __asm__("sltiu %0, %1, -1" : "=r"(y) : "r"(5L));
    printf("sltiu(5,-1)=%ld\n", y);
    printf("total %016lx\n", (unsigned long)h);
    return 0;
}
