//! The user machine's Linux personality: initial stack, program break and syscalls.
use super::{Exit, LoadError};
use crate::bus::Bus;
use crate::hart::Hart;
use crate::mem::PAGE_MASK;

pub const STACK_TOP: u64 = 0x40_0000_0000;
pub const STACK_SIZE: u64 = 8 << 20;
/// The program break may grow up to this far below the stack.
const BRK_LIMIT: u64 = STACK_TOP - STACK_SIZE - (1 << 30);

const SYS_READ: u64 = 63;
const SYS_WRITE: u64 = 64;
const SYS_EXIT: u64 = 93;
const SYS_EXIT_GROUP: u64 = 94;
const SYS_BRK: u64 = 214;
const ENOSYS: i64 = 38;
const EFAULT: i64 = 14;
/// Largest single read/write transfer; Linux also returns short counts.
const MAX_IO: u64 = 1 << 20;

const AT_NULL: u64 = 0;
const AT_RANDOM: u64 = 25;
const AT_EXECFN: u64 = 31;

fn page_up(a: u64) -> u64 {
    (a + PAGE_MASK) & !PAGE_MASK
}

#[derive(Clone, Default)]
pub struct UserState {
    segments: Vec<(u64, u64)>,
    brk_start: u64,
    brk: u64,
}

impl UserState {
    pub fn map_segment(&mut self, bus: &mut Bus, start: u64, end: u64) -> Result<(), LoadError> {
        if start < 0x1000 || end > STACK_TOP - STACK_SIZE {
            return Err(LoadError::OutsideMemory { addr: start, size: end - start });
        }
        if self.segments.iter().any(|&(s, e)| start < e && s < end) {
            return Err(LoadError::Overlap { addr: start });
        }
        self.segments.push((start, end));
        bus.add_ram(start, end);
        Ok(())
    }

    pub fn set_brk(&mut self, addr: u64) {
        self.brk_start = addr;
        self.brk = addr;
    }

    /// Builds the Linux initial stack and points `sp` at `argc`.
    pub fn setup_stack(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
        auxv: &[(u64, u64)],
    ) -> Option<u64> {
        let mut top = STACK_TOP;
        let mut push = |hart: &mut Hart, bus: &mut Bus, data: &[u8]| -> Option<u64> {
            top = top.checked_sub(data.len() as u64)?;
            hart.host_write(bus, top, data).then_some(top)
        };
        // AT_RANDOM bytes: fixed, so runs are reproducible (design decision 4).
        let random = push(hart, bus, b"pltvm-at-random!")?;
        let mut string = |hart: &mut Hart, bus: &mut Bus, s: &[u8]| {
            let mut z = s.to_vec();
            z.push(0);
            push(hart, bus, &z)
        };
        let execfn = string(hart, bus, argv.first().map_or(&b""[..], |a| a))?;
        let argp: Vec<u64> = argv.iter().map(|a| string(hart, bus, a)).collect::<Option<_>>()?;
        let envs: Vec<u64> = envp.iter().map(|e| string(hart, bus, e)).collect::<Option<_>>()?;
        let mut words = vec![argv.len() as u64];
        words.extend(&argp);
        words.push(0);
        words.extend(&envs);
        words.push(0);
        for &(key, value) in auxv.iter().filter(|(k, _)| *k != AT_NULL) {
            let value = match key {
                AT_RANDOM => random,
                AT_EXECFN => execfn,
                _ => value,
            };
            words.extend([key, value]);
        }
        words.extend([AT_NULL, 0]);
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let sp = top.checked_sub(bytes.len() as u64)? & !15;
        if sp < STACK_TOP - STACK_SIZE || !hart.host_write(bus, sp, &bytes) {
            return None;
        }
        hart.x[2] = sp;
        Some(sp)
    }

    /// Services the ecall at `hart.pc`. `Some` ends the run.
    pub fn syscall(&mut self, hart: &mut Hart, bus: &mut Bus) -> Option<Exit> {
        let a = |i: usize| hart.x[10 + i];
        let ret: i64 = match hart.x[17] {
            SYS_EXIT | SYS_EXIT_GROUP => return Some(Exit::Exited(a(0) as i32 as i64)),
            SYS_WRITE => {
                let mut buf = vec![0u8; a(2).min(MAX_IO) as usize];
                if bus.read(a(1), &mut buf) { bus.console.write(a(0), &buf) } else { -EFAULT }
            }
            SYS_READ => {
                let mut buf = vec![0u8; a(2).min(MAX_IO) as usize];
                let (fd, addr) = (a(0), a(1));
                if !bus.is_ram_range(addr, buf.len() as u64) {
                    -EFAULT
                } else {
                    let n = bus.console.read(fd, &mut buf);
                    if n > 0 && !hart.host_write(bus, addr, &buf[..n as usize]) { -EFAULT } else { n }
                }
            }
            SYS_BRK => self.brk(hart, bus, a(0)) as i64,
            _ => -ENOSYS,
        };
        hart.x[10] = ret as u64;
        None
    }

    /// Linux `brk`: returns the new break, or the old one if the request cannot be met.
    fn brk(&mut self, hart: &mut Hart, bus: &mut Bus, want: u64) -> u64 {
        if want < self.brk_start || want > BRK_LIMIT {
            return self.brk;
        }
        let old_top = page_up(self.brk);
        let new_top = page_up(want);
        if new_top > old_top {
            if self.segments.iter().any(|&(s, e)| old_top < e && s < new_top) {
                return self.brk;
            }
            bus.add_ram(old_top, new_top);
        } else if new_top < old_top {
            bus.remove_ram(new_top, old_top);
            hart.host_unmapped(new_top, old_top);
        }
        self.brk = want;
        self.brk
    }
}
