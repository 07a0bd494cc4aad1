/* Differential test: RVC instructions written out explicitly (the whole build uses RV64IMAC, so
 * the compiler already mixes 16- and 32-bit code; this pins down each compressed form). */
#include "rt/rt.h"

static uint64_t h = 1469598103934665603ULL;
static void mix(const char *name, long v)
{
    h = (h ^ (uint64_t)v) * 1099511628211ULL;
    printf("%-12s %lx\n", name, (unsigned long)v);
}

/* One-operand-register forms: rd = f(rd). */
#define C1(name, insn, init)                                                           \
    do {                                                                               \
        long r = (init);                                                               \
        __asm__ volatile(".option push\n.option rvc\n" insn "\n.option pop" : "+r"(r)); \
        mix(name, r);                                                                  \
    } while (0)
/* Compact-register forms need x8..x15: pin to s0/s1 (x8, x9). */
#define C2(name, insn, a, b)                                                           \
    do {                                                                               \
        register long x8 __asm__("s0") = (a);                                          \
        register long x9 __asm__("s1") = (b);                                          \
        __asm__ volatile(".option push\n.option rvc\n" insn "\n.option pop"            \
                         : "+r"(x8) : "r"(x9));                                        \
        mix(name, x8);                                                                 \
    } while (0)

int main(void)
{
    C1("c.li", "c.li %0, -32", 0);
    C1("c.li+", "c.li %0, 31", 0);
    C1("c.lui", "c.lui %0, 0xfffe0", 0);
    C1("c.lui+", "c.lui %0, 0x1f", 0);
    C1("c.addi", "c.addi %0, -32", 5);
    C1("c.addiw", "c.addiw %0, 1", 0x7fffffff);
    C1("c.addiw0", "c.addiw %0, 0", (long)0x123456789abcdef0UL);
    C1("c.slli", "c.slli %0, 63", 3);
    C1("c.slli1", "c.slli %0, 1", (long)0xc000000000000000UL);
    C2("c.srli", "c.srli %0, 63", (long)0x8000000000000000UL, 0);
    C2("c.srli1", "c.srli %0, 1", -1L, 0);
    C2("c.srai", "c.srai %0, 63", (long)0x8000000000000000UL, 0);
    C2("c.srai33", "c.srai %0, 33", (long)0x8000000000000000UL, 0);
    C2("c.andi", "c.andi %0, -2", -1L, 0);
    C2("c.andi+", "c.andi %0, 21", 0xffL, 0);
    C2("c.sub", "c.sub %0, %1", 5L, 7L);
    C2("c.xor", "c.xor %0, %1", 0xf0f0L, 0xff00L);
    C2("c.or", "c.or %0, %1", 0xf0f0L, 0xff00L);
    C2("c.and", "c.and %0, %1", 0xf0f0L, 0xff00L);
    C2("c.subw", "c.subw %0, %1", (long)0x80000000L, 1L);
    C2("c.addw", "c.addw %0, %1", 0x7fffffffL, 1L);
    C2("c.addw2", "c.addw %0, %1", (long)0x1ffffffffL, 0L);

    /* c.mv / c.add with full registers. */
    long a = 11, b = 31;
    __asm__ volatile(".option push\n.option rvc\nc.add %0, %1\n.option pop" : "+r"(a) : "r"(b));
    mix("c.add", a);
    __asm__ volatile(".option push\n.option rvc\nc.mv %0, %1\n.option pop" : "=r"(a) : "r"(b));
    mix("c.mv", a);

    /* Loads and stores: c.ld/c.sd/c.lw/c.sw (compact regs) and the sp-relative forms. */
    static uint64_t mem[8] = {0x1111111111111111ULL, 0x8899aabbccddeeffULL, 3, 4, 5, 6, 7, 8};
    {
        register uint64_t *base __asm__("s0") = mem;
        register long v __asm__("s1");
        __asm__ volatile(".option push\n.option rvc\nc.ld %0, 8(%1)\n.option pop" : "=r"(v) : "r"(base) : "memory");
        mix("c.ld", v);
        __asm__ volatile(".option push\n.option rvc\nc.lw %0, 12(%1)\n.option pop" : "=r"(v) : "r"(base) : "memory");
        mix("c.lw", v);
        v = (long)0xdeadbeefcafef00dUL;
        __asm__ volatile(".option push\n.option rvc\nc.sd %0, 248(%1)\n.option pop"
                         :: "r"(v), "r"(base - 30) : "memory");
    }
    mix("after c.sd", (long)mem[1]);
    {
        register uint64_t *base __asm__("s0") = mem;
        register long v __asm__("s1") = -1;
        __asm__ volatile(".option push\n.option rvc\nc.sw %0, 20(%1)\n.option pop" :: "r"(v), "r"(base) : "memory");
    }
    mix("after c.sw", (long)mem[2]);
    long spv;
    __asm__ volatile(".option push\n.option rvc\n"
                     "c.addi16sp sp, -64\n"
                     "c.sdsp %1, 8(sp)\n"
                     "c.swsp %1, 16(sp)\n"
                     "c.ldsp %0, 8(sp)\n"
                     "c.lwsp t0, 16(sp)\n"
                     "c.add %0, t0\n"
                     "c.addi4spn s0, sp, 24\n"
                     "sub s0, s0, sp\n"
                     "c.add %0, s0\n"
                     "c.addi16sp sp, 64\n"
                     ".option pop"
                     : "=&r"(spv)
                     : "r"((long)0x7fffffff80000001L)
                     : "t0", "s0", "memory");
    mix("sp forms", spv);

    /* Control flow: c.j, c.beqz, c.bnez, c.jal is RV32-only; c.jr / c.jalr. */
    long r = 0;
    __asm__ volatile(".option push\n.option rvc\n"
                     "li s1, 5\n"
                     "1: c.addi %0, 3\n"
                     "c.addi s1, -1\n"
                     "c.bnez s1, 1b\n"
                     "c.beqz s1, 2f\n"
                     "c.li %0, 0\n"
                     "2: c.j 3f\n"
                     "c.li %0, 0\n"
                     "3:\n"
                     ".option pop"
                     : "+r"(r) : : "s1");
    mix("branches", r);
    long link = 0;
    __asm__ volatile(".option push\n.option rvc\n"
                     "lla t1, 1f\n"
                     "c.jalr t1\n"
                     "c.j 2f\n"
                     "1: mv %0, ra\n"
                     "c.jr ra\n"
                     "2:\n"
                     ".option pop"
                     : "=&r"(link) : : "t1", "ra");
    long here;
    __asm__ volatile("lla %0, .+0" : "=r"(here));
    mix("c.jalr link delta", here - link < 64 && here > link);
    /* c.nop and c.ebreak-free padding */
    __asm__ volatile(".option push\n.option rvc\nc.nop\nc.nop\n.option pop");
    printf("total %016lx\n", (unsigned long)h);
    return 0;
}
