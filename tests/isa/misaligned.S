/* Misaligned accesses with pltvm's default machine option misaligned="emulate": every load
 * and store width completes at every misalignment, also across a page boundary.
 * LR/SC/AMOs still trap when misaligned (cause 4 for LR, 6 for SC/AMO, mtval = address). */
#include "test.h"

test_main:
    la s0, buf
    li t0, 0x0706050403020100
    sd t0, 0(s0)
    li t0, 0x0f0e0d0c0b0a0908
    sd t0, 8(s0)
    li t0, 0xf7f6f5f4f3f2f1f0
    sd t0, 16(s0)
    /* loads at odd offsets */
    lh a0, 1(s0)
    CHECK(1, a0, 0x0201)
    lh a0, 21(s0)
    CHECK(2, a0, 0xfffffffffffff6f5)
    lhu a0, 21(s0)
    CHECK(3, a0, 0xf6f5)
    lw a0, 1(s0)
    CHECK(4, a0, 0x04030201)
    lw a0, 6(s0)
    CHECK(5, a0, 0x09080706)
    lw a0, 19(s0)
    CHECK(6, a0, 0xfffffffff6f5f4f3)
    lwu a0, 19(s0)
    CHECK(7, a0, 0xf6f5f4f3)
    ld a0, 1(s0)
    CHECK(8, a0, 0x0807060504030201)
    ld a0, 7(s0)
    CHECK(9, a0, 0x0e0d0c0b0a090807)
    ld a0, 12(s0)
    CHECK(10, a0, 0xf3f2f1f00f0e0d0c)
    /* stores at odd offsets */
    li t0, 0xa1a2
    sh t0, 3(s0)
    ld a0, 0(s0)
    CHECK(11, a0, 0x070605a1a2020100)
    li t0, 0xb1b2b3b4
    sw t0, 9(s0)
    ld a0, 8(s0)
    CHECK(12, a0, 0x0f0e0db1b2b3b408)
    li t0, 0xc1c2c3c4c5c6c7c8
    sd t0, 13(s0)
    ld a0, 8(s0)
    CHECK(13, a0, 0xc6c7c8b1b2b3b408)
    ld a0, 16(s0)
    CHECK(14, a0, 0xf7f6f5c1c2c3c4c5)
    /* compressed forms */
    addi a1, s0, 2
    c.lw a2, 0(a1)
    CHECK(15, a2, 0x05a1a202)
    /* across a page boundary: buf2 is the last 8 bytes of a page, buf3 the first of the next */
    la s1, page_end
    li t0, 0x1122334455667788
    sd t0, -8(s1)
    li t0, 0x99aabbccddeeff00
    sd t0, 0(s1)
    ld a0, -4(s1)
    CHECK(20, a0, 0xddeeff0011223344)
    lw a0, -2(s1)
    CHECK(21, a0, 0xffffffffff001122)
    lh a0, -1(s1)
    CHECK(22, a0, 0x11)
    li t0, 0x0123456789abcdef
    sd t0, -3(s1)
    ld a0, -8(s1)
    CHECK(23, a0, 0xabcdef4455667788)
    ld a0, 0(s1)
    CHECK(24, a0, 0x99aabb0123456789)
    li t0, 0xfeed
    sh t0, -1(s1)
    ld a0, 0(s1)
    CHECK(25, a0, 0x99aabb01234567fe)
    li t0, 0x5a5b5c5d
    sw t0, -1(s1)
    ld a0, -8(s1)
    CHECK(26, a0, 0x5dcdef4455667788)
    ld a0, 0(s1)
    CHECK(27, a0, 0x99aabb01235a5b5c)

#include "misaligned_atomics.h"

    j pass

    .data
    .align 4
buf: .skip 32
    .align 12
    .skip 4096 - 8
page_end_m8:
    .skip 8
page_end:
    .skip 64
