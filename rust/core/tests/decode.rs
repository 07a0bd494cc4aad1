//! Decoder and disassembler tests for `pltvm_core::isa`.
//!
//! The hex literals below were computed by hand from the RISC-V specifications (and confirmed
//! once with the GNU assembler); `fixtures/isa/objdump.txt` is `objdump -d -M no-aliases` of our
//! own `fixtures/isa/all.S` (see `gen.sh`). No test needs the cross toolchain.

use pltvm_core::isa::{decode, Insn, Op};

mod support;
use support::rng::Rng;

fn ins(op: Op, rd: u8, rs1: u8, rs2: u8, imm: i32, len: u8) -> Insn {
    Insn { op, rd, rs1, rs2, len, imm }
}

#[track_caller]
fn chk(raw: u32, op: Op, rd: u8, rs1: u8, rs2: u8, imm: i32) {
    let len = if raw & 3 == 3 { 4 } else { 2 };
    assert_eq!(decode(raw), ins(op, rd, rs1, rs2, imm, len), "raw {raw:#010x}");
}

#[track_caller]
fn illegal(raw: u32) {
    let d = decode(raw);
    if raw & 3 == 3 {
        assert_eq!(d, Insn::illegal(raw, 4), "raw {raw:#010x} decoded as {d:?}");
    } else {
        assert_eq!(d, Insn::illegal(raw & 0xffff, 2), "raw {raw:#06x} decoded as {d:?}");
    }
}

// Register numbers used below.
const ZERO: u8 = 0;
const RA: u8 = 1;
const SP: u8 = 2;
const T0: u8 = 5;
const T1: u8 = 6;
const T2: u8 = 7;
const S0: u8 = 8;
const A0: u8 = 10;
const A1: u8 = 11;
const A2: u8 = 12;
const A4: u8 = 14;
const A5: u8 = 15;
const S11: u8 = 27;
const T6: u8 = 31;

#[test]
fn rv64i_upper_and_jumps() {
    use Op::*;
    chk(0x00012537, Lui, A0, 0, 0, 0x12000); // lui a0,0x12
    chk(0xfffff537, Lui, A0, 0, 0, -4096); // lui a0,0xfffff
    chk(0x80000517, Auipc, A0, 0, 0, i32::MIN); // auipc a0,0x80000
    chk(0x008000ef, Jal, RA, 0, 0, 8); // jal ra,.+8
    chk(0xff1ff06f, Jal, ZERO, 0, 0, -16); // jal zero,.-16
    chk(0x8000056f, Jal, A0, 0, 0, -1048576); // jal a0,.-1048576
    chk(0x7ffff2ef, Jal, T0, 0, 0, 1048574); // jal t0,.+1048574
    chk(0x008500e7, Jalr, RA, A0, 0, 8); // jalr ra,8(a0)
    chk(0x800707e7, Jalr, A5, A4, 0, -2048); // jalr a5,-2048(a4)
    chk(0xfff38367, Jalr, T1, T2, 0, -1); // jalr t1,-1(t2)
}

#[test]
fn rv64i_branches() {
    use Op::*;
    chk(0xfe050ce3, Beq, 0, A0, ZERO, -8); // beq a0,zero,.-8
    chk(0x7eb50fe3, Beq, 0, A0, A1, 4094); // beq a0,a1,.+4094
    chk(0x81bf8063, Beq, 0, T6, S11, -4096); // beq t6,s11,.-4096
    chk(0x00b50463, Beq, 0, A0, A1, 8); // beq a0,a1,.+8
    chk(0x00b51463, Bne, 0, A0, A1, 8); // bne a0,a1,.+8
    chk(0x00b54463, Blt, 0, A0, A1, 8); // blt a0,a1,.+8
    chk(0x00b55463, Bge, 0, A0, A1, 8); // bge a0,a1,.+8
    chk(0x00b56463, Bltu, 0, A0, A1, 8); // bltu a0,a1,.+8
    chk(0x00b57463, Bgeu, 0, A0, A1, 8); // bgeu a0,a1,.+8
}

#[test]
fn rv64i_loads_stores() {
    use Op::*;
    chk(0x00813083, Ld, RA, SP, 0, 8); // ld ra,8(sp)
    chk(0xfff5c503, Lbu, A0, A1, 0, -1); // lbu a0,-1(a1)
    chk(0x00058503, Lb, A0, A1, 0, 0); // lb a0,0(a1)
    chk(0x00059503, Lh, A0, A1, 0, 0); // lh a0,0(a1)
    chk(0x0005a503, Lw, A0, A1, 0, 0); // lw a0,0(a1)
    chk(0x0005b503, Ld, A0, A1, 0, 0); // ld a0,0(a1)
    chk(0x0005c503, Lbu, A0, A1, 0, 0); // lbu a0,0(a1)
    chk(0x0005d503, Lhu, A0, A1, 0, 0); // lhu a0,0(a1)
    chk(0x0005e503, Lwu, A0, A1, 0, 0); // lwu a0,0(a1)
    chk(0xfe113c23, Sd, 0, SP, RA, -8); // sd ra,-8(sp)
    chk(0x00a58023, Sb, 0, A1, A0, 0); // sb a0,0(a1)
    chk(0x00a59023, Sh, 0, A1, A0, 0); // sh a0,0(a1)
    chk(0x00a5a023, Sw, 0, A1, A0, 0); // sw a0,0(a1)
    chk(0x00a5b023, Sd, 0, A1, A0, 0); // sd a0,0(a1)
    chk(0x7ea5afa3, Sw, 0, A1, A0, 2047); // sw a0,2047(a1)
}

#[test]
fn rv64i_alu() {
    use Op::*;
    chk(0x00150513, Addi, A0, A0, 0, 1); // addi a0,a0,1
    chk(0xfff00513, Addi, A0, ZERO, 0, -1); // addi a0,zero,-1
    chk(0x800f8f93, Addi, T6, T6, 0, -2048); // addi t6,t6,-2048
    chk(0xfff5a513, Slti, A0, A1, 0, -1); // slti a0,a1,-1
    chk(0xfff5b513, Sltiu, A0, A1, 0, -1); // sltiu a0,a1,-1
    chk(0xfff5c513, Xori, A0, A1, 0, -1); // xori a0,a1,-1
    chk(0xfff5e513, Ori, A0, A1, 0, -1); // ori a0,a1,-1
    chk(0xfff5f513, Andi, A0, A1, 0, -1); // andi a0,a1,-1
    chk(0x03f59513, Slli, A0, A1, 0, 63); // slli a0,a1,63
    chk(0x0205d513, Srli, A0, A1, 0, 32); // srli a0,a1,32
    chk(0x43f5d513, Srai, A0, A1, 0, 63); // srai a0,a1,63
    chk(0xfff5851b, Addiw, A0, A1, 0, -1); // addiw a0,a1,-1
    chk(0x01f5951b, Slliw, A0, A1, 0, 31); // slliw a0,a1,31
    chk(0x0015d51b, Srliw, A0, A1, 0, 1); // srliw a0,a1,1
    chk(0x41f5d51b, Sraiw, A0, A1, 0, 31); // sraiw a0,a1,31
    chk(0x00c58533, Add, A0, A1, A2, 0); // add a0,a1,a2
    chk(0x40c58533, Sub, A0, A1, A2, 0); // sub a0,a1,a2
    chk(0x00c59533, Sll, A0, A1, A2, 0); // sll a0,a1,a2
    chk(0x00c5a533, Slt, A0, A1, A2, 0); // slt a0,a1,a2
    chk(0x00c5b533, Sltu, A0, A1, A2, 0); // sltu a0,a1,a2
    chk(0x00c5c533, Xor, A0, A1, A2, 0); // xor a0,a1,a2
    chk(0x00c5d533, Srl, A0, A1, A2, 0); // srl a0,a1,a2
    chk(0x40c5d533, Sra, A0, A1, A2, 0); // sra a0,a1,a2
    chk(0x00c5e533, Or, A0, A1, A2, 0); // or a0,a1,a2
    chk(0x00c5f533, And, A0, A1, A2, 0); // and a0,a1,a2
    chk(0x00c5853b, Addw, A0, A1, A2, 0); // addw a0,a1,a2
    chk(0x40c5853b, Subw, A0, A1, A2, 0); // subw a0,a1,a2
    chk(0x00c5953b, Sllw, A0, A1, A2, 0); // sllw a0,a1,a2
    chk(0x00c5d53b, Srlw, A0, A1, A2, 0); // srlw a0,a1,a2
    chk(0x40c5d53b, Sraw, A0, A1, A2, 0); // sraw a0,a1,a2
}

#[test]
fn rv64m() {
    use Op::*;
    chk(0x02c58533, Mul, A0, A1, A2, 0); // mul a0,a1,a2
    chk(0x02c59533, Mulh, A0, A1, A2, 0); // mulh a0,a1,a2
    chk(0x02c5a533, Mulhsu, A0, A1, A2, 0); // mulhsu a0,a1,a2
    chk(0x02c5b533, Mulhu, A0, A1, A2, 0); // mulhu a0,a1,a2
    chk(0x02c5c533, Div, A0, A1, A2, 0); // div a0,a1,a2
    chk(0x02c5d533, Divu, A0, A1, A2, 0); // divu a0,a1,a2
    chk(0x02c5e533, Rem, A0, A1, A2, 0); // rem a0,a1,a2
    chk(0x02c5f533, Remu, A0, A1, A2, 0); // remu a0,a1,a2
    chk(0x02c5853b, Mulw, A0, A1, A2, 0); // mulw a0,a1,a2
    chk(0x02c5c53b, Divw, A0, A1, A2, 0); // divw a0,a1,a2
    chk(0x02c5d53b, Divuw, A0, A1, A2, 0); // divuw a0,a1,a2
    chk(0x02c5e53b, Remw, A0, A1, A2, 0); // remw a0,a1,a2
    chk(0x02c5f53b, Remuw, A0, A1, A2, 0); // remuw a0,a1,a2
}

#[test]
fn system_fence_csr() {
    use Op::*;
    chk(0x0ff0000f, Fence, 0, 0, 0, 0); // fence iorw,iorw
    chk(0x8330000f, Fence, 0, 0, 0, 0); // fence.tso
    chk(0x0210000f, Fence, 0, 0, 0, 0); // fence r,w
    chk(0x0ff5850f, Fence, 0, 0, 0, 0); // fence with reserved rd=a0, rs1=a1 (ignored)
    chk(0x0000100f, FenceI, 0, 0, 0, 0); // fence.i
    chk(0x0015950f, FenceI, 0, 0, 0, 0); // fence.i with reserved imm/rs1/rd set (ignored)
    chk(0x00000073, Ecall, 0, 0, 0, 0); // ecall
    chk(0x00100073, Ebreak, 0, 0, 0, 0); // ebreak
    chk(0x30200073, Mret, 0, 0, 0, 0); // mret
    chk(0x10200073, Sret, 0, 0, 0, 0); // sret
    chk(0x10500073, Wfi, 0, 0, 0, 0); // wfi
    chk(0x12b50073, SfenceVma, 0, A0, A1, 0); // sfence.vma a0,a1
    chk(0x12000073, SfenceVma, 0, 0, 0, 0); // sfence.vma zero,zero
    chk(0x30059573, Csrrw, A0, A1, 0, 0x300); // csrrw a0,mstatus,a1
    chk(0xc0002573, Csrrs, A0, ZERO, 0, 0xc00); // csrrs a0,cycle,zero
    chk(0x3005b573, Csrrc, A0, A1, 0, 0x300); // csrrc a0,mstatus,a1
    chk(0x3002d573, Csrrwi, A0, 5, 0, 0x300); // csrrwi a0,mstatus,5
    chk(0x3002e573, Csrrsi, A0, 5, 0, 0x300); // csrrsi a0,mstatus,5
    chk(0x100ff073, Csrrci, ZERO, 31, 0, 0x100); // csrrci zero,sstatus,31
    chk(0xfff59573, Csrrw, A0, A1, 0, 0xfff); // csrrw a0,0xfff,a1 (CSR number is unsigned)
}

#[test]
fn rv64a() {
    use Op::*;
    chk(0x00b6252f, AmoaddW, A0, A2, A1, 0); // amoadd.w a0,a1,(a2)
    chk(0x06b6352f, AmoaddD, A0, A2, A1, 0); // amoadd.d.aqrl a0,a1,(a2)
    chk(0x1005a52f, LrW, A0, A1, 0, 0); // lr.w a0,(a1)
    chk(0x1405b52f, LrD, A0, A1, 0, 0); // lr.d.aq a0,(a1)
    chk(0x1ac5b52f, ScD, A0, A1, A2, 0); // sc.d.rl a0,a2,(a1)
    chk(0x18b6252f, ScW, A0, A2, A1, 0); // sc.w a0,a1,(a2)
    chk(0x08b6252f, AmoswapW, A0, A2, A1, 0); // amoswap.w a0,a1,(a2)
    chk(0x20b6252f, AmoxorW, A0, A2, A1, 0); // amoxor.w a0,a1,(a2)
    chk(0x60b6252f, AmoandW, A0, A2, A1, 0); // amoand.w a0,a1,(a2)
    chk(0x40b6252f, AmoorW, A0, A2, A1, 0); // amoor.w a0,a1,(a2)
    chk(0x80b6252f, AmominW, A0, A2, A1, 0); // amomin.w a0,a1,(a2)
    chk(0xa0b6252f, AmomaxW, A0, A2, A1, 0); // amomax.w a0,a1,(a2)
    chk(0xc0b6252f, AmominuW, A0, A2, A1, 0); // amominu.w a0,a1,(a2)
    chk(0xe0b6252f, AmomaxuW, A0, A2, A1, 0); // amomaxu.w a0,a1,(a2)
    chk(0x08b6352f, AmoswapD, A0, A2, A1, 0); // amoswap.d a0,a1,(a2)
    chk(0x00b6352f, AmoaddD, A0, A2, A1, 0); // amoadd.d a0,a1,(a2)
    chk(0x20b6352f, AmoxorD, A0, A2, A1, 0); // amoxor.d a0,a1,(a2)
    chk(0x60b6352f, AmoandD, A0, A2, A1, 0); // amoand.d a0,a1,(a2)
    chk(0x40b6352f, AmoorD, A0, A2, A1, 0); // amoor.d a0,a1,(a2)
    chk(0x80b6352f, AmominD, A0, A2, A1, 0); // amomin.d a0,a1,(a2)
    chk(0xa0b6352f, AmomaxD, A0, A2, A1, 0); // amomax.d a0,a1,(a2)
    chk(0xc0b6352f, AmominuD, A0, A2, A1, 0); // amominu.d a0,a1,(a2)
    chk(0xe0b6352f, AmomaxuD, A0, A2, A1, 0); // amomaxu.d a0,a1,(a2)
}

/// (compressed, 32-bit equivalent) pairs; each comment names both.
const RVC_PAIRS: &[(u16, u32)] = &[
    (0x0048, 0x00410513), // c.addi4spn a0,sp,4 = addi a0,sp,4
    (0x1ffc, 0x3fc10793), // c.addi4spn a5,sp,1020 = addi a5,sp,1020
    (0x4188, 0x0005a503), // c.lw a0,0(a1) = lw a0,0(a1)
    (0x5fe4, 0x07c7a483), // c.lw s1,124(a5) = lw s1,124(a5)
    (0x7fe0, 0x0f87b403), // c.ld s0,248(a5) = ld s0,248(a5)
    (0xc188, 0x00a5a023), // c.sw a0,0(a1) = sw a0,0(a1)
    (0xdfe4, 0x0697ae23), // c.sw s1,124(a5) = sw s1,124(a5)
    (0xffe0, 0x0e87bc23), // c.sd s0,248(a5) = sd s0,248(a5)
    (0x0001, 0x00000013), // c.nop = addi zero,zero,0
    (0x0505, 0x00150513), // c.addi a0,1 = addi a0,a0,1
    (0x1501, 0xfe050513), // c.addi a0,-32 = addi a0,a0,-32
    (0x357d, 0xfff5051b), // c.addiw a0,-1 = addiw a0,a0,-1
    (0x5501, 0xfe000513), // c.li a0,-32 = addi a0,zero,-32
    (0x4ffd, 0x01f00f93), // c.li t6,31 = addi t6,zero,31
    (0x7101, 0xe0010113), // c.addi16sp sp,-512 = addi sp,sp,-512
    (0x617d, 0x1f010113), // c.addi16sp sp,496 = addi sp,sp,496
    (0x717d, 0xff010113), // c.addi16sp sp,-16 = addi sp,sp,-16
    (0x6505, 0x00001537), // c.lui a0,0x1 = lui a0,0x1
    (0x7f81, 0xfffe0fb7), // c.lui t6,0xfffe0 = lui t6,0xfffe0
    (0x647d, 0x0001f437), // c.lui s0,0x1f = lui s0,0x1f
    (0x917d, 0x03f55513), // c.srli a0,63 = srli a0,a0,63
    (0x9381, 0x0207d793), // c.srli a5,32 = srli a5,a5,32
    (0x8485, 0x4014d493), // c.srai s1,1 = srai s1,s1,1
    (0x9b81, 0xfe07f793), // c.andi a5,-32 = andi a5,a5,-32
    (0x8c05, 0x40940433), // c.sub s0,s1 = sub s0,s0,s1
    (0x8d3d, 0x00f54533), // c.xor a0,a5 = xor a0,a0,a5
    (0x8fc1, 0x0087e7b3), // c.or a5,s0 = or a5,a5,s0
    (0x8df1, 0x00c5f5b3), // c.and a1,a2 = and a1,a1,a2
    (0x9e99, 0x40e686bb), // c.subw a3,a4 = subw a3,a3,a4
    (0x9ca1, 0x008484bb), // c.addw s1,s0 = addw s1,s1,s0
    (0xaffd, 0x7fe0006f), // c.j .+2046 = jal zero,.+2046
    (0xb001, 0x801ff06f), // c.j .-2048 = jal zero,.-2048
    (0xbffd, 0xfffff06f), // c.j .-2 = jal zero,.-2
    (0xcd7d, 0x0e050f63), // c.beqz a0,.+254 = beq a0,zero,.+254
    (0xd001, 0xf00400e3), // c.beqz s0,.-256 = beq s0,zero,.-256
    (0xea39, 0x04061b63), // c.bnez a2,.+86 = bne a2,zero,.+86
    (0x157e, 0x03f51513), // c.slli a0,63 = slli a0,a0,63
    (0x1082, 0x02009093), // c.slli ra,32 = slli ra,ra,32
    (0x557e, 0x0fc12503), // c.lwsp a0,252(sp) = lw a0,252(sp)
    (0x70fe, 0x1f813083), // c.ldsp ra,504(sp) = ld ra,504(sp)
    (0xdfaa, 0x0ea12e23), // c.swsp a0,252(sp) = sw a0,252(sp)
    (0xff86, 0x1e113c23), // c.sdsp ra,504(sp) = sd ra,504(sp)
    (0x8082, 0x00008067), // c.jr ra = jalr zero,0(ra)
    (0x9502, 0x000500e7), // c.jalr a0 = jalr ra,0(a0)
    (0x852e, 0x00b00533), // c.mv a0,a1 = add a0,zero,a1
    (0x952e, 0x00b50533), // c.add a0,a1 = add a0,a0,a1
    (0x9002, 0x00100073), // c.ebreak = ebreak
];

#[test]
fn compressed_expands_to_32bit_equivalent() {
    for &(c, w) in RVC_PAIRS {
        let dc = decode(c as u32);
        let dw = decode(w);
        assert_ne!(dw.op, Op::Illegal, "{w:#010x}");
        assert_eq!(dc.len, 2);
        assert_eq!(dw.len, 4);
        assert_eq!(Insn { len: 4, ..dc }, dw, "c {c:#06x} vs {w:#010x}");
        // The upper half of the word is ignored for compressed instructions.
        assert_eq!(decode(0xdead_0000 | c as u32), dc);
    }
}

#[test]
fn compressed_hints_decode_as_ordinary_ops() {
    use Op::*;
    chk(0x0005, Addi, ZERO, ZERO, 0, 1); // c.nop 1 (HINT) = addi zero,zero,1
    chk(0x4015, Addi, ZERO, ZERO, 0, 5); // c.li zero,5 (HINT)
    chk(0x6005, Lui, ZERO, 0, 0, 0x1000); // c.lui zero,1 (HINT)
    chk(0x802e, Add, ZERO, ZERO, A1, 0); // c.mv zero,a1 (HINT)
    chk(0x902e, Add, ZERO, ZERO, A1, 0); // c.add zero,a1 (HINT)
    chk(0x0502, Slli, A0, A0, 0, 0); // c.slli a0,0 (HINT)
    chk(0x8001, Srli, S0, S0, 0, 0); // c.srli s0,0 (HINT)
    chk(0x8401, Srai, S0, S0, 0, 0); // c.srai s0,0 (HINT)
    chk(0x0501, Addi, A0, A0, 0, 0); // c.addi a0,0 (HINT)
    chk(0x2501, Addiw, A0, A0, 0, 0); // c.addiw a0,0 (= sext.w a0)
    chk(0x00000013 | (5 << 20), Addi, ZERO, ZERO, 0, 5); // addi zero,zero,5 (HINT)
}

#[test]
fn illegal_and_reserved() {
    // ---- compressed ----
    illegal(0x0000); // all-zero half-word
    illegal(0xffff_0000); // same, upper half ignored
    illegal(0x0004); // c.addi4spn s1,sp,0 (nzuimm = 0)
    illegal(0x001c); // c.addi4spn a5,sp,0
    illegal(0x6101); // c.addi16sp sp,0
    illegal(0x6501); // c.lui a0,0
    illegal(0x6001); // c.lui zero,0
    illegal(0x4002); // c.lwsp zero,0(sp)
    illegal(0x6002); // c.ldsp zero,0(sp)
    illegal(0x8002); // c.jr zero
    illegal(0x2001); // c.addiw zero,0
    illegal(0x2005); // c.addiw zero,1
    illegal(0x8188); // quadrant 0, funct3 100 (reserved)
    illegal(0x9c41); // c.subw/c.addw neighbour, funct2 = 10 (reserved)
    illegal(0x9c61); // c.subw/c.addw neighbour, funct2 = 11 (reserved)
    // ---- 32-bit ----
    illegal(0x0205951b); // slliw a0,a1,32 (shamt[5] = 1)
    illegal(0x0205d51b); // srliw a0,a1,32
    illegal(0x4205d51b); // sraiw a0,a1,32
    illegal(0x4205951b); // slliw with funct7 0100000
    illegal(0x40059513); // slli with funct6 010000
    illegal(0x0805d513); // srli with funct6 000010
    illegal(0x6005d513); // srai with funct6 011000
    illegal(0x0000007f); // 64-bit+ encoding space
    illegal(0x0000001f); // 48-bit encoding space
    illegal(0x0000003f); // 64-bit encoding space
    illegal(0xffffffff);
    illegal(0x0000000b); // custom-0
    // (F/D encodings, legal since RV64FD, are checked in decode_fp.rs.)
    illegal(0x00051067); // jalr with funct3 = 1
    illegal(0x00b52463); // branch funct3 = 010
    illegal(0x00b53463); // branch funct3 = 011
    illegal(0x0005f503); // load funct3 = 111
    illegal(0x00a5c023); // store funct3 = 100
    illegal(0x80c58533); // OP funct7 1000000
    illegal(0x40c59533); // sll with funct7 0100000
    illegal(0x00c5a53b); // OP-32 funct3 010
    illegal(0x02c5953b); // OP-32 M-extension funct3 001
    illegal(0x0000200f); // MISC-MEM funct3 010
    illegal(0x00004073); // SYSTEM funct3 100
    illegal(0x000000f3); // ecall with rd = ra
    illegal(0x00108073); // ebreak with rs1 = ra
    illegal(0x302000f3); // mret with rd = ra
    illegal(0x00200073); // uret (N extension, not implemented)
    illegal(0x7b200073); // dret (debug mode only)
    illegal(0x12b500f3); // sfence.vma with rd != 0
    illegal(0x22000073); // hfence.vvma
    illegal(0x1015a52f); // lr.w with rs2 = 1
    illegal(0x1015b52f); // lr.d with rs2 = 1
    illegal(0x00b6052f); // AMO funct3 000
    illegal(0x00b6452f); // AMO funct3 100 (amo*.q)
    illegal(0x28b6252f); // AMO funct5 00101
    // Legal neighbours of the reserved cases above.
    chk(0x4082, Op::Lw, RA, SP, 0, 0); // c.lwsp ra,0(sp)
    chk(0x2085, Op::Addiw, RA, RA, 0, 1); // c.addiw ra,1
}

#[test]
fn illegal_display() {
    assert_eq!(decode(0x0000).to_string(), "illegal 0x0000");
    assert_eq!(decode(0x8188).to_string(), "illegal 0x8188");
    assert_eq!(decode(0x12345678 | 0x7f).to_string(), "illegal 0x1234567f");
    assert_eq!(decode(0x0005f507).to_string(), "illegal 0x0005f507");
}

#[test]
fn display_examples() {
    let cases: &[(u32, &str)] = &[
        (0x00150513, "addi a0,a0,1"),
        (0x00813083, "ld ra,8(sp)"),
        (0xfe050ce3, "beq a0,zero,-8"),
        (0x00012537, "lui a0,0x12"),
        (0x30059573, "csrrw a0,mstatus,a1"),
        (0x7c002573, "csrrs a0,0x7c0,zero"),
        (0x00b6252f, "amoadd.w a0,a1,(a2)"),
        (0x3002d573, "csrrwi a0,mstatus,5"),
        (0x0505, "addi a0,a0,1"), // c.addi a0,1
        (0x8082, "jalr zero,0(ra)"), // c.jr ra
        (0x0ff0000f, "fence"),
        (0x12b50073, "sfence.vma a0,a1"),
    ];
    for &(raw, text) in cases {
        assert_eq!(decode(raw).to_string(), text, "{raw:#010x}");
    }
}

// ---------------------------------------------------------------------------------------------
// Sweeps
// ---------------------------------------------------------------------------------------------

/// 32 bits of the shared deterministic stream (its high half), so the sweeps need no dependency.
fn next_u32(rng: &mut Rng) -> u32 {
    (rng.next() >> 32) as u32
}

/// Re-encodes a decoded (legal) instruction as a 32-bit word, written from the base-ISA
/// formats; used to check that compressed expansions and 32-bit decoding agree.
fn encode(i: &Insn) -> u32 {
    use Op::*;
    let (rd, rs1, rs2, imm) = (i.rd as u32, i.rs1 as u32, i.rs2 as u32, i.imm as u32);
    let r = |f7: u32, f3: u32, opc: u32| (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc;
    let it = |f3: u32, opc: u32| ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc;
    let st = |f3: u32| {
        ((imm >> 5 & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | 0x23
    };
    let br = |f3: u32| {
        ((imm >> 12 & 1) << 31)
            | ((imm >> 5 & 0x3f) << 25)
            | (rs2 << 20)
            | (rs1 << 15)
            | (f3 << 12)
            | ((imm >> 1 & 0xf) << 8)
            | ((imm >> 11 & 1) << 7)
            | 0x63
    };
    let sh = |hi: u32, f3: u32, opc: u32| (hi << 26) | ((imm & 0x3f) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc;
    let amo = |f5: u32, f3: u32| r(f5 << 2, f3, 0x2f);
    // F/D: rm is imm[2:0]; R4 has rs3 in imm[7:3]; unary ops carry a fixed rs2 field.
    let rm = imm & 7;
    let stf = |f3: u32| st(f3) ^ 0x23 ^ 0x27;
    let r4 = |fmt: u32, opc: u32| ((imm >> 3) << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opc;
    let fr = |f7: u32| r(f7, rm, 0x53);
    let fu = |f7: u32, rs2c: u32, f3: u32| (f7 << 25) | (rs2c << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x53;
    match i.op {
        Illegal => panic!("encode(Illegal)"),
        Lui => (imm & 0xffff_f000) | (rd << 7) | 0x37,
        Auipc => (imm & 0xffff_f000) | (rd << 7) | 0x17,
        Jal => {
            ((imm >> 20 & 1) << 31)
                | ((imm >> 1 & 0x3ff) << 21)
                | ((imm >> 11 & 1) << 20)
                | (imm & 0xff000)
                | (rd << 7)
                | 0x6f
        }
        Jalr => it(0, 0x67),
        Beq => br(0), Bne => br(1), Blt => br(4), Bge => br(5), Bltu => br(6), Bgeu => br(7),
        Lb => it(0, 3), Lh => it(1, 3), Lw => it(2, 3), Ld => it(3, 3),
        Lbu => it(4, 3), Lhu => it(5, 3), Lwu => it(6, 3),
        Sb => st(0), Sh => st(1), Sw => st(2), Sd => st(3),
        Addi => it(0, 0x13), Slti => it(2, 0x13), Sltiu => it(3, 0x13), Xori => it(4, 0x13),
        Ori => it(6, 0x13), Andi => it(7, 0x13),
        Slli => sh(0, 1, 0x13), Srli => sh(0, 5, 0x13), Srai => sh(0x10, 5, 0x13),
        Add => r(0, 0, 0x33), Sub => r(0x20, 0, 0x33), Sll => r(0, 1, 0x33), Slt => r(0, 2, 0x33),
        Sltu => r(0, 3, 0x33), Xor => r(0, 4, 0x33), Srl => r(0, 5, 0x33), Sra => r(0x20, 5, 0x33),
        Or => r(0, 6, 0x33), And => r(0, 7, 0x33),
        Addiw => it(0, 0x1b),
        Slliw => sh(0, 1, 0x1b), Srliw => sh(0, 5, 0x1b), Sraiw => sh(0x10, 5, 0x1b),
        Addw => r(0, 0, 0x3b), Subw => r(0x20, 0, 0x3b), Sllw => r(0, 1, 0x3b),
        Srlw => r(0, 5, 0x3b), Sraw => r(0x20, 5, 0x3b),
        Fence => 0x0ff0000f, FenceI => 0x0000100f,
        Ecall => 0x00000073, Ebreak => 0x00100073,
        Sret => 0x10200073, Mret => 0x30200073, Wfi => 0x10500073,
        SfenceVma => r(0b0001001, 0, 0x73),
        Csrrw => it(1, 0x73), Csrrs => it(2, 0x73), Csrrc => it(3, 0x73),
        Csrrwi => it(5, 0x73), Csrrsi => it(6, 0x73), Csrrci => it(7, 0x73),
        Mul => r(1, 0, 0x33), Mulh => r(1, 1, 0x33), Mulhsu => r(1, 2, 0x33), Mulhu => r(1, 3, 0x33),
        Div => r(1, 4, 0x33), Divu => r(1, 5, 0x33), Rem => r(1, 6, 0x33), Remu => r(1, 7, 0x33),
        Mulw => r(1, 0, 0x3b), Divw => r(1, 4, 0x3b), Divuw => r(1, 5, 0x3b), Remw => r(1, 6, 0x3b),
        Remuw => r(1, 7, 0x3b),
        LrW => amo(0b00010, 2), ScW => amo(0b00011, 2), AmoswapW => amo(0b00001, 2),
        AmoaddW => amo(0, 2), AmoxorW => amo(0b00100, 2), AmoandW => amo(0b01100, 2),
        AmoorW => amo(0b01000, 2), AmominW => amo(0b10000, 2), AmomaxW => amo(0b10100, 2),
        AmominuW => amo(0b11000, 2), AmomaxuW => amo(0b11100, 2),
        LrD => amo(0b00010, 3), ScD => amo(0b00011, 3), AmoswapD => amo(0b00001, 3),
        AmoaddD => amo(0, 3), AmoxorD => amo(0b00100, 3), AmoandD => amo(0b01100, 3),
        AmoorD => amo(0b01000, 3), AmominD => amo(0b10000, 3), AmomaxD => amo(0b10100, 3),
        AmominuD => amo(0b11000, 3), AmomaxuD => amo(0b11100, 3),
        Flw => it(2, 0x07), Fld => it(3, 0x07), Fsw => stf(2), Fsd => stf(3),
        FmaddS => r4(0, 0x43), FmsubS => r4(0, 0x47), FnmsubS => r4(0, 0x4b), FnmaddS => r4(0, 0x4f),
        FmaddD => r4(1, 0x43), FmsubD => r4(1, 0x47), FnmsubD => r4(1, 0x4b), FnmaddD => r4(1, 0x4f),
        FaddS => fr(0x00), FsubS => fr(0x04), FmulS => fr(0x08), FdivS => fr(0x0c),
        FaddD => fr(0x01), FsubD => fr(0x05), FmulD => fr(0x09), FdivD => fr(0x0d),
        FsqrtS => fu(0x2c, 0, rm), FsqrtD => fu(0x2d, 0, rm),
        FsgnjS => r(0x10, 0, 0x53), FsgnjnS => r(0x10, 1, 0x53), FsgnjxS => r(0x10, 2, 0x53),
        FsgnjD => r(0x11, 0, 0x53), FsgnjnD => r(0x11, 1, 0x53), FsgnjxD => r(0x11, 2, 0x53),
        FminS => r(0x14, 0, 0x53), FmaxS => r(0x14, 1, 0x53),
        FminD => r(0x15, 0, 0x53), FmaxD => r(0x15, 1, 0x53),
        FcvtSD => fu(0x20, 1, rm), FcvtDS => fu(0x21, 0, rm),
        FeqS => r(0x50, 2, 0x53), FltS => r(0x50, 1, 0x53), FleS => r(0x50, 0, 0x53),
        FeqD => r(0x51, 2, 0x53), FltD => r(0x51, 1, 0x53), FleD => r(0x51, 0, 0x53),
        FcvtWS => fu(0x60, 0, rm), FcvtWuS => fu(0x60, 1, rm), FcvtLS => fu(0x60, 2, rm), FcvtLuS => fu(0x60, 3, rm),
        FcvtWD => fu(0x61, 0, rm), FcvtWuD => fu(0x61, 1, rm), FcvtLD => fu(0x61, 2, rm), FcvtLuD => fu(0x61, 3, rm),
        FcvtSW => fu(0x68, 0, rm), FcvtSWu => fu(0x68, 1, rm), FcvtSL => fu(0x68, 2, rm), FcvtSLu => fu(0x68, 3, rm),
        FcvtDW => fu(0x69, 0, rm), FcvtDWu => fu(0x69, 1, rm), FcvtDL => fu(0x69, 2, rm), FcvtDLu => fu(0x69, 3, rm),
        FmvXW => fu(0x70, 0, 0), FclassS => fu(0x70, 0, 1), FmvXD => fu(0x71, 0, 0), FclassD => fu(0x71, 0, 1),
        FmvWX => fu(0x78, 0, 0), FmvDX => fu(0x79, 0, 0),
    }
}

#[track_caller]
fn sane(raw: u32, d: &Insn) {
    assert!(d.rd < 32 && d.rs1 < 32 && d.rs2 < 32, "{raw:#x}: {d:?}");
    if d.op == Op::Illegal {
        assert!(d.rd == 0 && d.rs1 == 0 && d.rs2 == 0);
    } else {
        // Decoding the canonical 32-bit encoding gives back the same Insn.
        let w = encode(d);
        assert_eq!(decode(w), Insn { len: 4, ..*d }, "raw {raw:#010x} re-encoded {w:#010x}");
    }
    // Display never panics and is non-empty.
    assert!(!d.to_string().is_empty());
}

#[test]
fn all_16bit_values() {
    let mut legal = 0;
    for h in 0..=0xffffu32 {
        if h & 3 == 3 {
            continue;
        }
        let d = decode(h);
        assert_eq!(d.len, 2, "{h:#06x}");
        if d.op == Op::Illegal {
            assert_eq!(d.imm, h as i32);
        } else {
            legal += 1;
        }
        sane(h, &d);
        // Upper bits are ignored.
        assert_eq!(decode(h | 0xabcd_0000), d);
    }
    // Of the 49152 compressed code points, the reserved ones are: quadrant-0 funct3 100
    // (2048), c.addi4spn 0 (8), c.addiw x0 (64), c.addi16sp 0 (1), c.lui 0 with rd != sp (31),
    // the c.subw/c.addw neighbours (128), c.lwsp/c.ldsp x0 (64 + 64) and c.jr x0 (1): 2409 in
    // all (c.fld, c.fsd, c.fldsp and c.fsdsp are legal since RV64FD).
    assert_eq!(legal, 49152 - 2409);
}

#[test]
fn random_and_structured_32bit_values() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..1_000_000 {
        let raw = next_u32(&mut rng) | 3;
        let d = decode(raw);
        assert_eq!(d.len, 4);
        if d.op == Op::Illegal {
            assert_eq!(d.imm as u32, raw);
        }
        sane(raw, &d);
    }
    // Every opcode x funct3 x funct7 with random other fields.
    for opc in 0..32u32 {
        for f3 in 0..8u32 {
            for f7 in 0..128u32 {
                for _ in 0..4 {
                    let other = next_u32(&mut rng) & 0x01ff_8f80; // rs2, rs1, rd
                    let raw = (f7 << 25) | (f3 << 12) | (opc << 2) | 3 | other;
                    let d = decode(raw);
                    assert_eq!(d.len, 4);
                    sane(raw, &d);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// objdump fixture
// ---------------------------------------------------------------------------------------------

/// Normalises one line of `objdump -d -M no-aliases` text to pltvm's Display format:
/// - tabs become single spaces, `# comment` and `<symbol>` annotations are dropped;
/// - the absolute hex target of a branch/`jal` becomes a signed decimal offset from `addr`;
/// - `fence` operands and `fence.tso` become plain `fence` (pred/succ/fm are not decoded);
/// - `.aq`/`.rl`/`.aqrl` suffixes are dropped (aq/rl are not decoded).
fn normalise(addr: u64, text: &str) -> String {
    let mut t = text.split('#').next().unwrap();
    if let Some(p) = t.find('<') {
        t = &t[..p];
    }
    let t = t.trim().replace('\t', " ");
    let (mn, ops) = match t.split_once(' ') {
        Some((m, o)) => (m.to_string(), o.trim().to_string()),
        None => (t.clone(), String::new()),
    };
    let mn = mn.trim_end_matches(".aqrl").trim_end_matches(".aq").trim_end_matches(".rl");
    if mn == "fence" || mn == "fence.tso" {
        return "fence".into();
    }
    let is_branch = matches!(mn, "beq" | "bne" | "blt" | "bge" | "bltu" | "bgeu" | "jal");
    let ops = if is_branch {
        let (head, target) = ops.rsplit_once(',').unwrap();
        let target = u64::from_str_radix(target.trim(), 16).unwrap();
        format!("{head},{}", target.wrapping_sub(addr) as i64)
    } else {
        ops
    };
    if ops.is_empty() {
        mn.to_string()
    } else {
        format!("{mn} {ops}")
    }
}

struct Line {
    addr: u64,
    raw: u32,
    hexlen: usize,
    text: String,
}

fn parse_fixture() -> Vec<(String, Vec<Line>)> {
    let src = include_str!("fixtures/isa/objdump.txt");
    let mut sections: Vec<(String, Vec<Line>)> = Vec::new();
    for l in src.lines() {
        if let Some(s) = l.strip_prefix("Disassembly of section ") {
            sections.push((s.trim_end_matches(':').to_string(), Vec::new()));
            continue;
        }
        let mut parts = l.splitn(3, '\t');
        let (Some(a), Some(h), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Some(a) = a.trim().strip_suffix(':') else { continue };
        let addr = u64::from_str_radix(a, 16).unwrap();
        let h = h.trim();
        let raw = u32::from_str_radix(h, 16).unwrap();
        sections.last_mut().unwrap().1.push(Line { addr, raw, hexlen: h.len(), text: text.to_string() });
    }
    sections
}

#[test]
fn objdump_fixture() {
    let sections = parse_fixture();
    assert_eq!(sections.len(), 2);
    let (name, base) = &sections[0];
    assert_eq!(name, ".text");
    assert!(base.len() > 400, "{}", base.len());
    let mut ops = std::collections::HashSet::new();
    for l in base {
        assert_eq!(l.hexlen, 8);
        let d = decode(l.raw);
        assert_eq!(d.len, 4);
        assert_ne!(d.op, Op::Illegal, "{:#010x} {}", l.raw, l.text);
        ops.insert(d.op);
        assert_eq!(d.to_string(), normalise(l.addr, &l.text), "{:#010x}", l.raw);
    }
    // The fixture covers every op.
    assert_eq!(ops.len(), 98, "{} ops covered", ops.len());

    let (name, rvc) = &sections[1];
    assert_eq!(name, ".text.rvc");
    assert!(rvc.len() > 120);
    assert_eq!(rvc.len() % 2, 0);
    for pair in rvc.chunks(2) {
        let (c, w) = (&pair[0], &pair[1]);
        assert_eq!(c.hexlen, 4, "{}", c.text);
        assert_eq!(w.hexlen, 8, "{}", w.text);
        assert!(c.text.starts_with("c."));
        let dc = decode(c.raw);
        let dw = decode(w.raw);
        assert_eq!(dc.len, 2);
        assert_ne!(dw.op, Op::Illegal);
        assert_eq!(Insn { len: 4, ..dc }, dw, "{} vs {}", c.text, w.text);
        let want = normalise(w.addr, &w.text);
        assert_eq!(dw.to_string(), want);
        assert_eq!(dc.to_string(), want);
    }
}

/// Support for `fixtures/isa/crosscheck.py` (a development-time comparison with GNU objdump over
/// every 16-bit value and many 32-bit ones): reads hex words, one per line, from the file named
/// by `PLTVM_ISA_WORDS` and writes `hex<TAB>Display` lines to `PLTVM_ISA_OUT`.
#[test]
#[ignore]
fn dump_for_crosscheck() {
    let (Ok(inp), Ok(out)) = (std::env::var("PLTVM_ISA_WORDS"), std::env::var("PLTVM_ISA_OUT")) else {
        return;
    };
    let mut s = String::new();
    for l in std::fs::read_to_string(inp).unwrap().lines() {
        let raw = u32::from_str_radix(l.trim(), 16).unwrap();
        s += &format!("{}\t{}\n", l.trim(), decode(raw));
    }
    std::fs::write(out, s).unwrap();
}
