/* Differential FP test program: reads lines of three hex 64-bit operand patterns "a b c" from
 * stdin and, for every F/D operation, prints the result bits and fflags under each rounding mode
 * (rne rtz rdn rup rmm, through frm). Operands go into the f registers with fmv.d.x, so single-
 * precision operands may be properly NaN-boxed or not; integer sources take the pattern as is.
 * tests/test_fp_differential.py runs it under pltvm and qemu-riscv64 and compares the output.
 *
 * Built rv64imac (no FP instructions) it runs the same operands through the compiler's soft-float
 * library instead (round to nearest only, no flags): a check of integer code, not of an FPU. */
#include "rt/rt.h"

typedef uint64_t (*fn_t)(uint64_t a, uint64_t b, uint64_t c);
struct op { const char *name; fn_t fn; int has_rm; };

#ifdef __riscv_flen
#define FF(name, insn) \
    static uint64_t name(uint64_t a, uint64_t b, uint64_t c) { uint64_t r; \
        __asm__ volatile("fmv.d.x ft0, %1\n\tfmv.d.x ft1, %2\n\tfmv.d.x ft3, %3\n\t" insn "\n\tfmv.x.d %0, ft2" \
                         : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3"); return r; }
#define FX(name, insn) \
    static uint64_t name(uint64_t a, uint64_t b, uint64_t c) { uint64_t r; (void)c; \
        __asm__ volatile("fmv.d.x ft0, %1\n\tfmv.d.x ft1, %2\n\t" insn \
                         : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1"); return r; }
#define XF(name, insn) \
    static uint64_t name(uint64_t a, uint64_t b, uint64_t c) { uint64_t r; (void)b; (void)c; \
        __asm__ volatile(insn "\n\tfmv.x.d %0, ft2" : "=r"(r) : "r"(a) : "ft2"); return r; }

#define ARITH(t) \
    FF(fadd_##t, "fadd." #t " ft2, ft0, ft1, dyn") FF(fsub_##t, "fsub." #t " ft2, ft0, ft1, dyn") \
    FF(fmul_##t, "fmul." #t " ft2, ft0, ft1, dyn") FF(fdiv_##t, "fdiv." #t " ft2, ft0, ft1, dyn") \
    FF(fsqrt_##t, "fsqrt." #t " ft2, ft0, dyn") \
    FF(fmadd_##t, "fmadd." #t " ft2, ft0, ft1, ft3, dyn") FF(fmsub_##t, "fmsub." #t " ft2, ft0, ft1, ft3, dyn") \
    FF(fnmsub_##t, "fnmsub." #t " ft2, ft0, ft1, ft3, dyn") FF(fnmadd_##t, "fnmadd." #t " ft2, ft0, ft1, ft3, dyn") \
    FF(fsgnj_##t, "fsgnj." #t " ft2, ft0, ft1") FF(fsgnjn_##t, "fsgnjn." #t " ft2, ft0, ft1") \
    FF(fsgnjx_##t, "fsgnjx." #t " ft2, ft0, ft1") \
    FF(fmin_##t, "fmin." #t " ft2, ft0, ft1") FF(fmax_##t, "fmax." #t " ft2, ft0, ft1") \
    FX(feq_##t, "feq." #t " %0, ft0, ft1") FX(flt_##t, "flt." #t " %0, ft0, ft1") \
    FX(fle_##t, "fle." #t " %0, ft0, ft1") FX(fclass_##t, "fclass." #t " %0, ft0") \
    FX(fcvt_w_##t, "fcvt.w." #t " %0, ft0, dyn") FX(fcvt_wu_##t, "fcvt.wu." #t " %0, ft0, dyn") \
    FX(fcvt_l_##t, "fcvt.l." #t " %0, ft0, dyn") FX(fcvt_lu_##t, "fcvt.lu." #t " %0, ft0, dyn") \
    XF(fcvt_##t##_l, "fcvt." #t ".l ft2, %1, dyn") XF(fcvt_##t##_lu, "fcvt." #t ".lu ft2, %1, dyn")

ARITH(s)
ARITH(d)
XF(fcvt_s_w, "fcvt.s.w ft2, %1, dyn")
XF(fcvt_s_wu, "fcvt.s.wu ft2, %1, dyn")
/* Exact conversions: the assembler takes no rounding mode for these. */
XF(fcvt_d_w, "fcvt.d.w ft2, %1")
XF(fcvt_d_wu, "fcvt.d.wu ft2, %1")
FF(fcvt_s_d, "fcvt.s.d ft2, ft0, dyn")
FF(fcvt_d_s, "fcvt.d.s ft2, ft0")
FX(fmv_x_w, "fmv.x.w %0, ft0")
FX(fmv_x_d, "fmv.x.d %0, ft0")
XF(fmv_w_x, "fmv.w.x ft2, %1")

/* flw/fsw through memory: fsw stores the low word whatever the boxing, flw boxes it. */
static uint64_t flw_fsw(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t r;
    volatile uint32_t word = 0;
    (void)b; (void)c;
    __asm__ volatile("fmv.d.x ft0, %1\n\tfsw ft0, 0(%2)\n\tflw ft2, 0(%2)\n\tfmv.x.d %0, ft2"
                     : "=r"(r) : "r"(a), "r"(&word) : "ft0", "ft2", "memory");
    return r;
}

#define ENTRIES(t) \
    {"fadd." #t, fadd_##t, 1}, {"fsub." #t, fsub_##t, 1}, {"fmul." #t, fmul_##t, 1}, \
    {"fdiv." #t, fdiv_##t, 1}, {"fsqrt." #t, fsqrt_##t, 1}, {"fmadd." #t, fmadd_##t, 1}, \
    {"fmsub." #t, fmsub_##t, 1}, {"fnmsub." #t, fnmsub_##t, 1}, {"fnmadd." #t, fnmadd_##t, 1}, \
    {"fsgnj." #t, fsgnj_##t, 0}, {"fsgnjn." #t, fsgnjn_##t, 0}, {"fsgnjx." #t, fsgnjx_##t, 0}, \
    {"fmin." #t, fmin_##t, 0}, {"fmax." #t, fmax_##t, 0}, {"feq." #t, feq_##t, 0}, \
    {"flt." #t, flt_##t, 0}, {"fle." #t, fle_##t, 0}, {"fclass." #t, fclass_##t, 0}, \
    {"fcvt.w." #t, fcvt_w_##t, 1}, {"fcvt.wu." #t, fcvt_wu_##t, 1}, {"fcvt.l." #t, fcvt_l_##t, 1}, \
    {"fcvt.lu." #t, fcvt_lu_##t, 1}, {"fcvt." #t ".w", fcvt_##t##_w, 1}, \
    {"fcvt." #t ".wu", fcvt_##t##_wu, 1}, {"fcvt." #t ".l", fcvt_##t##_l, 1}, \
    {"fcvt." #t ".lu", fcvt_##t##_lu, 1}

static const struct op OPS[] = {
    ENTRIES(s), ENTRIES(d),
    {"fcvt.s.d", fcvt_s_d, 1}, {"fcvt.d.s", fcvt_d_s, 1},
    {"fmv.x.w", fmv_x_w, 0}, {"fmv.x.d", fmv_x_d, 0}, {"fmv.w.x", fmv_w_x, 0},
    {"flw/fsw", flw_fsw, 0},
};

static void set_frm(int rm) { __asm__ volatile("fsrm %0" : : "r"(rm)); }
static void clear_flags(void) { __asm__ volatile("fsflags zero"); }
static unsigned get_flags(void) { unsigned f; __asm__ volatile("frflags %0" : "=r"(f)); return f; }
#define NRM 5
#else
/* rv64imac: the compiler's soft-float routines, round to nearest, no flags. */
static double D(uint64_t x) { double d; memcpy(&d, &x, 8); return d; }
static float S(uint64_t x) { float f; uint32_t w = (uint32_t)x; memcpy(&f, &w, 4); return f; }
static uint64_t BD(double d) { uint64_t x; memcpy(&x, &d, 8); return x; }
static uint64_t BS(float f) { uint32_t w; memcpy(&w, &f, 4); return w; }
static int finite_in(double d, double lo, double hi) { return d == d && d > lo && d < hi; }
static uint64_t add_d(uint64_t a, uint64_t b, uint64_t c) { (void)c; return BD(D(a) + D(b)); }
static uint64_t sub_d(uint64_t a, uint64_t b, uint64_t c) { (void)c; return BD(D(a) - D(b)); }
static uint64_t mul_d(uint64_t a, uint64_t b, uint64_t c) { (void)c; return BD(D(a) * D(b)); }
static uint64_t div_d(uint64_t a, uint64_t b, uint64_t c) { (void)c; return BD(D(a) / D(b)); }
static uint64_t add_s(uint64_t a, uint64_t b, uint64_t c) { (void)c; return BS(S(a) + S(b)); }
static uint64_t sub_s(uint64_t a, uint64_t b, uint64_t c) { (void)c; return BS(S(a) - S(b)); }
static uint64_t mul_s(uint64_t a, uint64_t b, uint64_t c) { (void)c; return BS(S(a) * S(b)); }
static uint64_t div_s(uint64_t a, uint64_t b, uint64_t c) { (void)c; return BS(S(a) / S(b)); }
static uint64_t lt_d(uint64_t a, uint64_t b, uint64_t c) { (void)c; return D(a) < D(b); }
static uint64_t eq_s(uint64_t a, uint64_t b, uint64_t c) { (void)c; return S(a) == S(b); }
static uint64_t d_to_s(uint64_t a, uint64_t b, uint64_t c) { (void)b; (void)c; return BS((float)D(a)); }
static uint64_t s_to_d(uint64_t a, uint64_t b, uint64_t c) { (void)b; (void)c; return BD((double)S(a)); }
static uint64_t d_to_l(uint64_t a, uint64_t b, uint64_t c)
{ (void)b; (void)c; return finite_in(D(a), -9.2e18, 9.2e18) ? (uint64_t)(int64_t)D(a) : 0; }
static uint64_t l_to_d(uint64_t a, uint64_t b, uint64_t c) { (void)b; (void)c; return BD((double)(int64_t)a); }
static uint64_t lu_to_s(uint64_t a, uint64_t b, uint64_t c) { (void)b; (void)c; return BS((float)a); }
static const struct op OPS[] = {
    {"add.d", add_d, 0}, {"sub.d", sub_d, 0}, {"mul.d", mul_d, 0}, {"div.d", div_d, 0},
    {"add.s", add_s, 0}, {"sub.s", sub_s, 0}, {"mul.s", mul_s, 0}, {"div.s", div_s, 0},
    {"lt.d", lt_d, 0}, {"eq.s", eq_s, 0}, {"d->s", d_to_s, 0}, {"s->d", s_to_d, 0},
    {"d->l", d_to_l, 0}, {"l->d", l_to_d, 0}, {"lu->s", lu_to_s, 0},
};
static void set_frm(int rm) { (void)rm; }
static void clear_flags(void) {}
static unsigned get_flags(void) { return 0; }
#define NRM 1
#endif

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int main(void)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        long n = sys_read(0, buf + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    uint64_t v[3];
    int nv = 0, digits = 0;
    long vectors = 0;
    for (size_t i = 0; i <= len; i++) {
        int h = hexval(buf[i]);
        if (h >= 0) {
            if (!digits)
                v[nv] = 0;
            v[nv] = v[nv] << 4 | (uint64_t)h;
            digits++;
            continue;
        }
        if (digits) {
            nv++;
            digits = 0;
        }
        if (nv < 3)
            continue;
        nv = 0;
        vectors++;
        printf("%016lx %016lx %016lx\n", (unsigned long)v[0], (unsigned long)v[1], (unsigned long)v[2]);
        for (size_t k = 0; k < sizeof OPS / sizeof OPS[0]; k++) {
            printf(" %s", OPS[k].name);
            int modes = OPS[k].has_rm ? NRM : 1;
            for (int rm = 0; rm < modes; rm++) {
                set_frm(rm);
                clear_flags();
                uint64_t r = OPS[k].fn(v[0], v[1], v[2]);
                printf(" %lx/%x", (unsigned long)r, get_flags());
            }
            printf("\n");
        }
    }
    printf("%ld vectors\n", vectors);
    return 0;
}
