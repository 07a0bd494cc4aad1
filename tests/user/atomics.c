/* Differential test: A extension: AMOs (word and double), LR/SC loops, __atomic builtins. */
#include "rt/rt.h"

#define AMO(op, addr, v) ({ long _r; __asm__ volatile(op " %0, %2, (%1)" : "=r"(_r) : "r"(addr), "r"(v) : "memory"); _r; })

static long d64;
static int32_t w32[2];

static const long vals[] = {0, 1, -1, 5, -5, 0x7fffffffL, -0x80000000L, 0x80000000L,
                            0x7fffffffffffffffL, (long)0x8000000000000000UL, 0x123456789L};
#define NV (sizeof vals / sizeof vals[0])

#define TESTD(op)                                                                         \
    do {                                                                                  \
        for (unsigned i = 0; i < NV; i++) {                                               \
            printf("%-10s", op);                                                          \
            for (unsigned j = 0; j < NV; j += 3) {                                        \
                d64 = vals[i];                                                            \
                long old = AMO(op, &d64, vals[j]);                                        \
                printf(" %lx/%lx", (unsigned long)old, (unsigned long)d64);               \
            }                                                                             \
            printf("\n");                                                                 \
        }                                                                                 \
    } while (0)

#define TESTW(op)                                                                         \
    do {                                                                                  \
        for (unsigned i = 0; i < NV; i++) {                                               \
            printf("%-10s", op);                                                          \
            for (unsigned j = 0; j < NV; j += 3) {                                        \
                w32[0] = (int32_t)vals[i];                                                \
                w32[1] = 0x5a5a5a5a;                                                      \
                long old = AMO(op, &w32[0], vals[j]);                                     \
                printf(" %lx/%x/%x", (unsigned long)old, (unsigned)w32[0], (unsigned)w32[1]); \
            }                                                                             \
            printf("\n");                                                                 \
        }                                                                                 \
    } while (0)

static long lrsc_add(long *p, long v)
{
    long old, fail;
    __asm__ volatile("1: lr.d %0, (%2)\n"
                     "   add %1, %0, %3\n"
                     "   sc.d %1, %1, (%2)\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(old), "=&r"(fail)
                     : "r"(p), "r"(v)
                     : "memory");
    return old;
}

static int lrsc_w_add(int32_t *p, int v)
{
    long old, fail;
    __asm__ volatile("1: lr.w.aqrl %0, (%2)\n"
                     "   addw %1, %0, %3\n"
                     "   sc.w.aqrl %1, %1, (%2)\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(old), "=&r"(fail)
                     : "r"(p), "r"((long)v)
                     : "memory");
    return (int)old;
}

/* Sub-word fetch-and-add as a masked LR/SC loop on the containing aligned word
 * (GCC 12 has no inline sub-word atomics and we link no libatomic). */
static unsigned fetch_add_sub(volatile void *p, unsigned size, unsigned v)
{
    uintptr_t a = (uintptr_t)p;
    volatile uint32_t *w = (volatile uint32_t *)(a & ~(uintptr_t)3);
    unsigned shift = (unsigned)(a & 3) * 8;
    uint32_t mask = (size == 1 ? 0xffu : 0xffffu) << shift;
    uint32_t inc = v << shift;
    long old, tmp;
    __asm__ volatile("1: lr.w %0, (%2)\n"
                     "   addw %1, %0, %3\n"
                     "   xor %1, %1, %0\n"
                     "   and %1, %1, %4\n"
                     "   xor %1, %1, %0\n"
                     "   sc.w %1, %1, (%2)\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(old), "=&r"(tmp)
                     : "r"(w), "r"((long)(int32_t)inc), "r"((long)(int32_t)mask)
                     : "memory");
    return (unsigned)(((uint32_t)old & mask) >> shift);
}

int main(void)
{
    TESTD("amoswap.d"); TESTD("amoadd.d"); TESTD("amoxor.d"); TESTD("amoand.d");
    TESTD("amoor.d"); TESTD("amomin.d"); TESTD("amomax.d"); TESTD("amominu.d"); TESTD("amomaxu.d");
    TESTW("amoswap.w"); TESTW("amoadd.w"); TESTW("amoxor.w"); TESTW("amoand.w");
    TESTW("amoor.w"); TESTW("amomin.w"); TESTW("amomax.w"); TESTW("amominu.w"); TESTW("amomaxu.w");

    d64 = 100;
    long sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += lrsc_add(&d64, i);
    printf("lr/sc.d: final %ld, sum of olds %ld\n", d64, sum);
    w32[0] = 0x7ffffff0;
    for (int i = 0; i < 40; i++)
        lrsc_w_add(&w32[0], 1);
    printf("lr/sc.w: final %x (wrapped, sign-extended old %d)\n", (unsigned)w32[0],
           lrsc_w_add(&w32[0], 0));

    /* sc without a matching lr must fail (nonzero) and not store. */
    long fail;
    d64 = 7;
    __asm__ volatile("lr.d t0, (%1)\n sc.d t1, zero, (%1)\n sc.d %0, %2, (%1)"
                     : "=&r"(fail)
                     : "r"(&d64), "r"(99L)
                     : "t0", "t1", "memory");
    printf("second sc.d result nonzero=%d value=%ld\n", fail != 0, d64);

    /* Compiler builtins. */
    long v = 5;
    long e = 5;
    int ok = __atomic_compare_exchange_n(&v, &e, 9, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    printf("cas ok=%d v=%ld\n", ok, v);
    e = 5;
    ok = __atomic_compare_exchange_n(&v, &e, 11, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    printf("cas ok=%d v=%ld expected-now=%ld\n", ok, v, e);
    int32_t iw = -3;
    printf("fetch_add=%d fetch_and=%d fetch_or=%d xchg=%d now=%d\n",
           __atomic_fetch_add(&iw, 10, __ATOMIC_RELAXED),
           __atomic_fetch_and(&iw, 6, __ATOMIC_ACQUIRE),
           __atomic_fetch_or(&iw, 0x100, __ATOMIC_RELEASE),
           __atomic_exchange_n(&iw, -1, __ATOMIC_ACQ_REL), iw);
    /* 8/16-bit atomics as lr.w/sc.w masking sequences. */
    static volatile uint8_t __attribute__((aligned(8))) bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static volatile uint16_t __attribute__((aligned(8))) halves[4] = {0xfff0, 2, 3, 4};
    for (int i = 0; i < 20; i++) {
        fetch_add_sub(&bytes[3], 1, 13);
        fetch_add_sub(&halves[0], 2, 1);
    }
    printf("bytes:");
    for (int i = 0; i < 8; i++)
        printf(" %u", bytes[i]);
    printf(" halves: %x %x %x %x\n", halves[0], halves[1], halves[2], halves[3]);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return 0;
}
