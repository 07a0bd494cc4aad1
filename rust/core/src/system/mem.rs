//! The monitor's own writes into system RAM (PTEs, flags, SBI results in host structs), kept
//! consistent with the hart's TLB and decoded code the way a store of the hart itself is.
use crate::bus::Bus;
use crate::hart::Hart;
use crate::mem::{PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};

/// Writes `data` at `pa`; false (nothing written) unless every byte is RAM. Callers check the
/// range against the monitor's rules first.
pub fn write(hart: &mut Hart, bus: &mut Bus, pa: u64, data: &[u8]) -> bool {
    if !bus.is_ram_range(pa, data.len() as u64) {
        return false;
    }
    let mut flush = false;
    let (mut done, mut p) = (0usize, pa);
    while done < data.len() {
        let off = (p & PAGE_MASK) as usize;
        let n = (PAGE_SIZE - off).min(data.len() - done);
        let ppn = p >> PAGE_SHIFT;
        let Some((frame, replaced)) = bus.mem.get_mut(ppn) else { return false };
        frame[off..off + n].copy_from_slice(&data[done..done + n]);
        // A new or copied frame: TLB read entries may still point at the old one.
        flush |= replaced;
        hart.forget_code(ppn);
        done += n;
        p += n as u64;
    }
    if flush {
        hart.flush_tlb();
    }
    true
}

pub fn write_u64(hart: &mut Hart, bus: &mut Bus, pa: u64, v: u64) -> bool {
    write(hart, bus, pa, &v.to_le_bytes())
}

/// Zeroes `[pa, pa + len)`: whole pages lose their frames (absent frames read as zero, so a
/// scrubbed block costs no memory), partial pages are written.
pub fn zero(hart: &mut Hart, bus: &mut Bus, pa: u64, len: u64) -> bool {
    static ZEROS: [u8; PAGE_SIZE] = [0; PAGE_SIZE];
    let Some(end) = pa.checked_add(len) else { return false };
    if !bus.is_ram_range(pa, len) {
        return false;
    }
    let mut removed = false;
    let mut p = pa;
    while p < end {
        let n = (PAGE_SIZE as u64 - (p & PAGE_MASK)).min(end - p);
        if n == PAGE_SIZE as u64 {
            let ppn = p >> PAGE_SHIFT;
            if bus.mem.remove(ppn) {
                hart.forget_code(ppn);
                removed = true;
            }
        } else {
            write(hart, bus, p, &ZEROS[..n as usize]);
        }
        p += n;
    }
    if removed {
        // TLB entries may point at the dropped frames.
        hart.flush_tlb();
    }
    true
}
