//! Emulation of what `mstatus.TVM` traps: `satp` accesses and `sfence.vma` from S-mode.
//! A `satp` write is performed only if the guarded page table accepts the new root; any other
//! value is an ordinary illegal instruction (the caller redirects it).
use super::{retire, System};
use crate::hart::csr::{mstatus, num};
use crate::hart::{Hart, Priv};

const SYSTEM: u64 = 0x73;
const SFENCE_VMA_FUNCT7: u64 = 0b000_1001;

/// Emulates the trapped instruction `insn` (the trap's tval); false: not ours.
pub fn emulate(sys: &System, hart: &mut Hart, insn: u64) -> bool {
    if hart.prv != Priv::S || hart.csr.mstatus & mstatus::TVM == 0 || insn & 0x7f != SYSTEM {
        return false;
    }
    let funct3 = (insn >> 12) & 7;
    let rd = ((insn >> 7) & 31) as usize;
    let rs1 = ((insn >> 15) & 31) as usize;
    if funct3 == 0 {
        if insn >> 25 == SFENCE_VMA_FUNCT7 && rd == 0 {
            hart.flush_tlb();
            retire(hart);
            return true;
        }
        return false;
    }
    if insn >> 20 != num::SATP as u64 || funct3 == 4 {
        return false;
    }
    let old = hart.csr.satp;
    let src = if funct3 >= 5 { rs1 as u64 } else { hart.x[rs1] };
    let writes = funct3 & 3 == 1 || rs1 != 0;
    if writes {
        let new = match funct3 & 3 {
            1 => src,
            2 => old | src,
            _ => old & !src,
        };
        if !sys.gpt.satp_ok(new) {
            return false;
        }
        hart.csr_write(num::SATP, new).expect("satp exists");
    }
    if rd != 0 {
        hart.x[rd] = old;
    }
    retire(hart);
    true
}
