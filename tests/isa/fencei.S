/* Zifencei: self-modifying code. After storing new instructions and executing fence.i,
 * the new instructions must run (also across the 16/32-bit boundary and in a patched
 * compressed slot). */
#include "test.h"

test_main:
    /* run the original code once so any decoded-instruction cache holds it */
    jal ra, patch_site
    CHECK(1, a0, 1)
    CHECK(2, a1, 2)

    /* patch a 32-bit instruction and a compressed one */
    la t0, patch_site
    la t1, new_insn32
    lw t2, 0(t1)
    sw t2, 0(t0)                    /* addi a0, zero, 1   ->   addi a0, zero, 42 */
    la t0, patch_c
    la t1, new_insn16
    lh t2, 0(t1)
    sh t2, 0(t0)                    /* c.li a1, 2         ->   c.li a1, 13 */
    fence.i
    jal ra, patch_site
    CHECK(3, a0, 42)
    CHECK(4, a1, 13)

    /* patch again, in a loop that re-executes the same code many times */
    li s0, 0
    li s1, 100
1:  jal ra, patch_site
    add s0, s0, a0
    addi s1, s1, -1
    bnez s1, 1b
    CHECK(5, s0, 4200)

    /* replace a 32-bit instruction by two compressed ones (c.li a0, 7; c.addi a0, 1) */
    la t0, patch_site
    la t1, new_pair16
    lw t2, 0(t1)
    sw t2, 0(t0)
    fence.i
    jal ra, patch_site
    CHECK(6, a0, 8)

    /* code written into a data page (never executed before) */
    la t0, code_buf
    la t1, tmpl_start
    la t2, tmpl_end
2:  lhu t3, 0(t1)
    sh t3, 0(t0)
    addi t1, t1, 2
    addi t0, t0, 2
    bltu t1, t2, 2b
    fence.i
    la t0, code_buf
    jalr ra, 0(t0)
    CHECK(7, a0, 0x5a5)
    /* patch it in place and run again */
    la t0, code_buf
    la t1, new_insn32
    lw t2, 0(t1)
    sw t2, 0(t0)
    fence.i
    la t0, code_buf
    jalr ra, 0(t0)
    CHECK(8, a0, 42)

    j pass

    .align 3
patch_site:
    .option push
    .option norvc
    addi a0, zero, 1
    .option pop
    .option push
    .option rvc
patch_c:
    c.li a1, 2
    .option pop
    ret

    /* templates (assembled here, copied at run time) */
    .align 2
new_insn32:
    .option push
    .option norvc
    addi a0, zero, 42
    .option pop
new_insn16:
    .option push
    .option rvc
    c.li a1, 13
    .option pop
    .align 2
new_pair16:
    .option push
    .option rvc
    c.li a0, 7
    c.addi a0, 1
    .option pop
    .align 2
tmpl_start:
    .option push
    .option norvc
    li a0, 0x5a5
    ret
    .option pop
tmpl_end:

    .data
    .align 4
code_buf:
    .skip 64
