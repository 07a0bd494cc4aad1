/* pltvm ISA tests: shared macros and runtime (our own, not derived from riscv-tests).
 *
 * Each test program includes this file once, then defines `test_main` (in .text, M-mode) and
 * ends with `j pass`.  Results go to HTIF `tohost`: 1 = PASS, (n << 1) | 1 = FAIL of case n.
 *
 * Register conventions:
 *   gp  (x3)          current test case number (TESTNUM)
 *   s9  (x25)         scratch for the check macros
 *   s10, s11 (x26/27) reserved for the trap handlers
 *   sp                a small stack (not used by the runtime)
 *
 * Traps: the M-mode handler `trap_vector` fails the test with code 1000 * (1 + c) + TESTNUM
 * (c = mcause & 63, plus 64 for interrupts) unless a resume address was armed with
 * ARM_TRAP(label).  An armed handler is one-shot: it records mcause, mtval, mepc and mstatus
 * (as the trap left it, i.e. MPP/MPIE describe the trapped context) in trap_cause/trap_tval/
 * trap_epc/trap_mstatus, bumps trap_count, disarms, and resumes at the label in M-mode
 * (it sets MPP=M; MPRV is left alone).
 *
 * The S-mode handler `s_trap_vector` (installed in stvec by _start) records scause, stval,
 * sepc, sstatus in s_trap_* and then executes `ecall` (cause 9, never delegated), so the
 * M-mode handler resumes wherever ARM_TRAP pointed.
 */
#ifndef PLTVM_TEST_H
#define PLTVM_TEST_H

#define TESTNUM gp

#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)
#define MSTATUS_TVM   (1 << 20)
#define MSTATUS_TW    (1 << 21)
#define MSTATUS_TSR   (1 << 22)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define CAUSE_MISALIGNED_FETCH  0
#define CAUSE_FETCH_ACCESS      1
#define CAUSE_ILLEGAL           2
#define CAUSE_BREAKPOINT        3
#define CAUSE_MISALIGNED_LOAD   4
#define CAUSE_LOAD_ACCESS       5
#define CAUSE_MISALIGNED_STORE  6
#define CAUSE_STORE_ACCESS      7
#define CAUSE_ECALL_U           8
#define CAUSE_ECALL_S           9
#define CAUSE_ECALL_M          11
#define CAUSE_FETCH_PAGE       12
#define CAUSE_LOAD_PAGE        13
#define CAUSE_STORE_PAGE       15

#define INTR (1 << 63)

#define CLINT_BASE      0x02000000
#define CLINT_MSIP      0x02000000
#define CLINT_MTIMECMP  0x02004000
#define CLINT_MTIME     0x0200BFF8

/* ---------------------------------------------------------------- checks */

/* Fail case n unless reg == val (val: any 64-bit constant). */
#define CHECK(n, reg, val) \
    li TESTNUM, n; li s9, val; bne reg, s9, fail

/* Same, against the address of a symbol. */
#define CHECK_LA(n, reg, sym) \
    li TESTNUM, n; la s9, sym; bne reg, s9, fail

/* Fail case n unless the 64-bit word at sym equals val. */
#define CHECK_MEM(n, sym, val) \
    li TESTNUM, n; la s9, sym; ld s9, 0(s9); li s10, val; bne s9, s10, fail

/* Register-register / register-immediate ALU tests. Operands in a1, a2, result in a0. */
#define TEST_RR(n, inst, result, v1, v2) \
    li a1, v1; li a2, v2; inst a0, a1, a2; CHECK(n, a0, result)

#define TEST_RI(n, inst, result, v1, imm) \
    li a1, v1; inst a0, a1, imm; CHECK(n, a0, result)

/* rd == rs1 and rd == rs2 variants. */
#define TEST_RR_SRC1_EQ_DEST(n, inst, result, v1, v2) \
    li a1, v1; li a2, v2; inst a1, a1, a2; CHECK(n, a1, result)
#define TEST_RR_SRC2_EQ_DEST(n, inst, result, v1, v2) \
    li a1, v1; li a2, v2; inst a2, a1, a2; CHECK(n, a2, result)

/* ----------------------------------------------------------------- traps */

/* Arm the M-mode handler to resume at `label` (in M-mode) after the next trap. */
#define ARM_TRAP(label) \
    la s10, label; la s11, trap_resume; sd s10, 0(s11)

#define DISARM_TRAP \
    la s11, trap_resume; sd zero, 0(s11)

/* Case n: the code must trap with mcause == cause; resumes after the macro.
 * trap_tval / trap_epc can then be checked with CHECK_MEM / CHECK_TRAP_*. */
#define TEST_TRAP(n, cause, ...) \
    li TESTNUM, n; ARM_TRAP(9999f); __VA_ARGS__; j fail; \
9999: CHECK_MEM(n, trap_cause, cause)

#define CHECK_TVAL(n, val)     CHECK_MEM(n, trap_tval, val)
#define CHECK_TVAL_LA(n, sym) \
    li TESTNUM, n; la s9, trap_tval; ld s9, 0(s9); la s10, sym; bne s9, s10, fail
#define CHECK_EPC_LA(n, sym) \
    li TESTNUM, n; la s9, trap_epc; ld s9, 0(s9); la s10, sym; bne s9, s10, fail

/* Case n: the instruction(s) must raise illegal instruction at the first one, with
 * mepc = its address and mtval = its encoding (16 or 32 bits, read back from memory). */
#define TEST_ILLEGAL(n, ...) \
    li TESTNUM, n; ARM_TRAP(9993f); \
9994: __VA_ARGS__; j fail; \
9993: CHECK_MEM(n, trap_cause, CAUSE_ILLEGAL); CHECK_EPC_LA(n, 9994b); \
    la s9, 9994b; lhu s10, 0(s9); andi s11, s10, 3; li s9, 3; bne s11, s9, 9992f; \
    la s9, 9994b; lhu s9, 2(s9); slli s9, s9, 16; or s10, s10, s9; \
9992: la s9, trap_tval; ld s9, 0(s9); bne s9, s10, fail

/* Enter privilege `mode` (PRV_U or PRV_S) at `label` via mret. Clobbers t0. */
#define GOTO_MODE(mode, label) \
    li t0, MSTATUS_MPP; csrc mstatus, t0; li t0, (mode) << 11; csrs mstatus, t0; \
    la t0, label; csrw mepc, t0; mret

/* Run `code...` in `mode`; it ends with an ecall back to M (expected cause 8 or 9). */
#define RUN_IN_MODE(n, mode, ...) \
    li TESTNUM, n; ARM_TRAP(9997f); GOTO_MODE(mode, 9998f); \
9998: __VA_ARGS__; ecall; j fail; \
9997: CHECK_MEM(n, trap_cause, CAUSE_ECALL_U + (mode))   /* 8 from U, 9 from S */

/* Case n: code run in `mode` must trap to M with mcause == cause. */
#define TEST_TRAP_IN_MODE(n, mode, cause, ...) \
    li TESTNUM, n; ARM_TRAP(9995f); GOTO_MODE(mode, 9996f); \
9996: __VA_ARGS__; ecall; j fail; \
9995: CHECK_MEM(n, trap_cause, cause)

/* ---------------------------------------------------------------- runtime */

    .section .text.init, "ax"
    .globl _start
_start:
    li x1, 0
    li x2, 0
    li x3, 0
    li x4, 0
    li x5, 0
    li x6, 0
    li x7, 0
    li x8, 0
    li x9, 0
    li x10, 0
    li x11, 0
    li x12, 0
    li x13, 0
    li x14, 0
    li x15, 0
    li x16, 0
    li x17, 0
    li x18, 0
    li x19, 0
    li x20, 0
    li x21, 0
    li x22, 0
    li x23, 0
    li x24, 0
    li x25, 0
    li x26, 0
    li x27, 0
    li x28, 0
    li x29, 0
    li x30, 0
    li x31, 0
    la t0, trap_vector
    csrw mtvec, t0
    la t0, s_trap_vector
    csrw stvec, t0
    /* QEMU implements PMP checks: grant S/U everything with a NAPOT entry 0.
     * (pltvm never denies by PMP; these writes are harmless there.) */
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    csrw mstatus, zero
    csrw mie, zero
    csrw medeleg, zero
    csrw mideleg, zero
    csrw satp, zero
    la sp, test_stack_top
    j test_main

    .text
    .align 4
    .globl trap_vector
trap_vector:
    la s11, trap_resume
    ld s10, 0(s11)
    beqz s10, unexpected_trap
    sd zero, 0(s11)         /* one-shot */
    csrrw s10, mepc, s10    /* mepc = resume address, s10 = faulting pc */
    sd s10, 24(s11)
    csrr s10, mcause
    sd s10, 8(s11)
    csrr s10, mtval
    sd s10, 16(s11)
    csrr s10, mstatus
    sd s10, 32(s11)
    ld s10, 40(s11)
    addi s10, s10, 1
    sd s10, 40(s11)
    li s10, MSTATUS_MPP     /* resume in M-mode */
    csrs mstatus, s10
    mret

unexpected_trap:
    csrr s10, mcause
    andi s11, s10, 63
    bgez s10, 1f
    addi s11, s11, 64
1:  addi s11, s11, 1
    li s10, 1000
    mul s11, s11, s10
    add s11, s11, TESTNUM
    j fail_with_code

    .align 4
    .globl s_trap_vector
s_trap_vector:
    la s11, s_trap_cause
    csrr s10, scause
    sd s10, 0(s11)
    csrr s10, stval
    sd s10, 8(s11)
    csrr s10, sepc
    sd s10, 16(s11)
    csrr s10, sstatus
    sd s10, 24(s11)
    ld s10, 32(s11)
    addi s10, s10, 1
    sd s10, 32(s11)
    ecall
1:  j 1b

    .globl fail
fail:
    mv s11, TESTNUM
    bnez s11, fail_with_code
    li s11, 999             /* fail with TESTNUM 0 would look like a pass */
fail_with_code:
#ifdef DEBUG_PRINT
    /* development aid (make qemu EXTRA=-DDEBUG_PRINT...): print the full code in hex */
    li s10, 60
1:  srl s9, s11, s10
    andi s9, s9, 15
    addi s9, s9, '0'
    li t6, '9'
    ble s9, t6, 2f
    addi s9, s9, 'a' - '0' - 10
2:  li t6, (1 << 56) | (1 << 48)
    or s9, s9, t6
    la t6, tohost
    sd s9, 0(t6)
3:  ld s9, 0(t6)
    bnez s9, 3b
    addi s10, s10, -4
    bgez s10, 1b
#endif
    slli s11, s11, 1
    ori s11, s11, 1
    la s10, tohost
    sd s11, 0(s10)
1:  j 1b

    .globl pass
pass:
    li s11, 1
    la s10, tohost
    sd s11, 0(s10)
1:  j 1b

    .section .tohost, "aw", @progbits
    .align 6
    .globl tohost, fromhost
    .type tohost, @object
    .size tohost, 8
tohost:   .dword 0
    .align 6
    .type fromhost, @object
    .size fromhost, 8
fromhost: .dword 0
    .align 6

    .data
    .align 6
    .globl trap_resume, trap_cause, trap_tval, trap_epc, trap_mstatus, trap_count
trap_resume:  .dword 0      /* +0  armed resume address (0 = unexpected) */
trap_cause:   .dword 0      /* +8  */
trap_tval:    .dword 0      /* +16 */
trap_epc:     .dword 0      /* +24 */
trap_mstatus: .dword 0      /* +32 */
trap_count:   .dword 0      /* +40 */
    .align 6
    .globl s_trap_cause, s_trap_tval, s_trap_epc, s_trap_sstatus, s_trap_count
s_trap_cause:   .dword 0
s_trap_tval:    .dword 0
s_trap_epc:     .dword 0
s_trap_sstatus: .dword 0
s_trap_count:   .dword 0

    .bss
    .align 12
test_stack:   .skip 4096
test_stack_top:

    /* Test programs continue in .text */
    .text
#endif
