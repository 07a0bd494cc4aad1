/* The guarded page table from S-mode: build an identity map in the PT area, SM_INIT,
   paging on, PT_AREA_SEPARATION (TVM on), then legal and illegal SET_PTE, a direct store into
   the PT area (store access fault), satp outside the PGD sub-area (illegal instruction),
   emulated satp read and sfence.vma, and loads from the monitor region and the bitmap
   (access faults). Exit code 0 = all as expected, else the number of the failed check.

   Layout: PT area 0x8040_0000 (1 MiB; PGD = 4 pages, PMD = 2 pages, PTE = the rest), root at
   0x8040_1000 (strictly above the PT-area base), bitmap 0x8060_0000 (2 MiB), installed flag at
   0x8050_0000. The trap handler records scause/stval in s11/s10 and skips the instruction. */
#include "sbi.h"
#define PT 0x80400000
#define ROOT 0x80401000
#define PMD 0x80404000
#define BITMAP 0x80600000
#define FLAG 0x80500000
#define LEAF2M 0xcf           /* V R W X A D */
  .option norvc
  .section .text.init
  .globl _start
_start:
  la t0, trap
  csrw stvec, t0
  /* root[2] -> PMD (VA 0x8000_0000..), PMD[i] = 2 MiB identity leaves for 64 MiB. */
  li t0, ROOT + 16
  li t1, ((PMD >> 12) << 10) | 1
  sd t1, 0(t0)
  li t0, PMD
  li t1, ((0x80000000 >> 12) << 10) | LEAF2M
  li t2, 32
  li t3, (0x200000 >> 12) << 10
1:
  sd t1, 0(t0)
  addi t0, t0, 8
  add t1, t1, t3
  addi t2, t2, -1
  bnez t2, 1b
  li t0, (8 << 60) | (ROOT >> 12)
  csrw satp, t0
  sfence.vma
  /* SM_INIT(pt, size, bitmap, size, flag) */
  li a0, PT
  li a1, 0x100000
  li a2, BITMAP
  li a3, 0x200000
  li a4, FLAG
  SBI EXT_PENGLAI_HOST, 100
  CHECK 1, a0, 0
  li t1, FLAG
  lw t1, 0(t1)
  CHECK 2, t1, 1
  li a0, 2
  li a1, 1
  SBI EXT_PENGLAI_HOST, 83            /* PT_AREA_SEPARATION(2, 1) */
  CHECK 3, a0, 0
  /* SET_PTE(1): a 2 MiB leaf in PMD[40] (VA 0x8500_0000), public target -> 0. */
  li a0, 1
  li a1, PMD + 8 * 40
  li a2, ((0x85000000 >> 12) << 10) | LEAF2M
  SBI EXT_PENGLAI_HOST, 101
  CHECK 4, a0, 0
  li t1, 0x85000000
  sd t1, 0(t1)                        /* usable at once */
  ld t2, 0(t1)
  CHECK 5, t2, 0x85000000
  /* SET_PTE(1): a PGD entry pointing outside the PMD sub-area -> -1, nothing stored. */
  li a0, 1
  li a1, ROOT + 8 * 3
  li a2, ((0x80500000 >> 12) << 10) | 1
  SBI EXT_PENGLAI_HOST, 101
  CHECK 6, a0, -1
  li t1, ROOT + 8 * 3
  ld t2, 0(t1)                        /* the PT area stays readable */
  CHECK 7, t2, 0
  /* A direct store into the PT area: store access fault. */
  li s11, 0
  li t1, ROOT
  sd zero, 0(t1)
  CHECK 8, s11, 7
  CHECK 9, s10, ROOT
  /* satp at the PT-area base (not strictly above it): illegal instruction. */
  li s11, 0
  li t1, (8 << 60) | (PT >> 12)
  csrw satp, t1
  CHECK 10, s11, 2
  csrr t2, satp                       /* reads are emulated */
  CHECK 11, t2, (8 << 60) | (ROOT >> 12)
  sfence.vma
  /* satp on another PGD page: accepted (copy root[2] there first, with SET_PTE). */
  li a0, 1
  li a1, ROOT + 0x1000 + 16
  li a2, ((PMD >> 12) << 10) | 1
  SBI EXT_PENGLAI_HOST, 101
  CHECK 12, a0, 0
  li s11, 0
  li t1, (8 << 60) | ((ROOT + 0x1000) >> 12)
  csrw satp, t1
  CHECK 13, s11, 0
  csrr t2, satp
  CHECK 14, t2, (8 << 60) | ((ROOT + 0x1000) >> 12)
  /* Monitor region and bitmap: load access faults. */
  li s11, 0
  li t1, 0x80000000
  ld t2, 0(t1)
  CHECK 15, s11, 5
  li s11, 0
  li t1, BITMAP
  ld t2, 0(t1)
  CHECK 16, s11, 5
  /* Unknown host fid: -2. */
  SBI EXT_PENGLAI_HOST, 93
  CHECK 17, a0, -2
  PASS
  FAIL_HANDLER

  .align 2
trap:
  csrr s11, scause
  csrr s10, stval
  csrr t5, sepc
  addi t5, t5, 4
  csrw sepc, t5
  sret
