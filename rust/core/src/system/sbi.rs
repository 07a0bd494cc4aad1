//! Standard SBI as the system machine's monitor answers it: a table of extensions, each a
//! function of the call. `a7` = extension, `a6` = function, arguments in `a0..a5`; the result
//! is `a0` = error and `a1` = value (legacy extensions: `a0` only).
use super::{host, mem, retire, System};
use crate::bus::Bus;
use crate::hart::csr::mip;
use crate::hart::Hart;
use crate::machine::Exit;

pub const EXT_LEGACY_SET_TIMER: u64 = 0x00;
pub const EXT_LEGACY_PUTCHAR: u64 = 0x01;
pub const EXT_LEGACY_GETCHAR: u64 = 0x02;
pub const EXT_LEGACY_SHUTDOWN: u64 = 0x08;
pub const EXT_BASE: u64 = 0x10;
pub const EXT_TIME: u64 = 0x5449_4D45;
pub const EXT_IPI: u64 = 0x0073_5049;
pub const EXT_RFENCE: u64 = 0x5246_4E43;
pub const EXT_SRST: u64 = 0x5352_5354;
pub const EXT_DBCN: u64 = 0x4442_434E;
pub const EXT_PENGLAI_HOST: u64 = 0x10_0100;

pub const SUCCESS: i64 = 0;
pub const ERR_NOT_SUPPORTED: i64 = -2;
pub const ERR_INVALID_PARAM: i64 = -3;

/// SBI specification version 1.0 (major in bits 30:24).
pub const SPEC_VERSION: u64 = 1 << 24;
/// Our implementation id ("pltm"): not one of the registered ones.
pub const IMPL_ID: u64 = 0x706c_746d;

/// One SBI call: the hart (registers), memory and the monitor.
pub struct Call<'a> {
    pub sys: &'a mut System,
    pub hart: &'a mut Hart,
    pub bus: &'a mut Bus,
    pub fid: u64,
    pub a: [u64; 6],
}

/// What a handler asks for.
pub enum Outcome {
    /// Standard: `a0` = error, `a1` = value.
    Ret(i64, u64),
    /// Legacy extensions: `a0` only.
    Legacy(i64),
    /// Penglai host extension: `r` in [0, 100] gives `a0 = 0, a1 = r`, else `a0 = r`.
    Penglai(i64),
    /// The machine stops with this exit code (SRST, legacy shutdown).
    Exit(i64),
}

type Handler = fn(&mut Call<'_>) -> Outcome;

/// Every extension the monitor implements; BASE's probe answers from this table.
const EXTENSIONS: &[(u64, Handler)] = &[
    (EXT_LEGACY_SET_TIMER, legacy_set_timer),
    (EXT_LEGACY_PUTCHAR, legacy_putchar),
    (EXT_LEGACY_GETCHAR, |_| Outcome::Legacy(-1)),
    (EXT_LEGACY_SHUTDOWN, |_| Outcome::Exit(0)),
    (EXT_BASE, base),
    (EXT_TIME, time),
    (EXT_IPI, ipi),
    (EXT_RFENCE, rfence),
    (EXT_SRST, srst),
    (EXT_DBCN, dbcn),
    (EXT_PENGLAI_HOST, host::dispatch),
];

/// Services the `ecall` at `hart.pc` (from S-mode). `Some` ends the run.
pub fn ecall(sys: &mut System, hart: &mut Hart, bus: &mut Bus) -> Option<Exit> {
    let x = hart.x;
    let (ext, fid) = (x[17], x[16]);
    let a = [x[10], x[11], x[12], x[13], x[14], x[15]];
    let handler = EXTENSIONS.iter().find(|e| e.0 == ext).map(|e| e.1);
    let outcome = match handler {
        Some(h) => h(&mut Call { sys, hart, bus, fid, a }),
        None => Outcome::Ret(ERR_NOT_SUPPORTED, 0),
    };
    retire(hart);
    match outcome {
        Outcome::Ret(err, value) => {
            hart.x[10] = err as u64;
            hart.x[11] = value;
        }
        Outcome::Legacy(v) => hart.x[10] = v as u64,
        Outcome::Penglai(r) if (0..=100).contains(&r) => {
            hart.x[10] = 0;
            hart.x[11] = r as u64;
        }
        Outcome::Penglai(r) => hart.x[10] = r as u64,
        Outcome::Exit(code) => return Some(Exit::Exited(code)),
    }
    None
}

pub fn probe(ext: u64) -> bool {
    EXTENSIONS.iter().any(|e| e.0 == ext)
}

fn base(c: &mut Call<'_>) -> Outcome {
    match c.fid {
        0 => Outcome::Ret(SUCCESS, SPEC_VERSION),
        1 => Outcome::Ret(SUCCESS, IMPL_ID),
        2 => Outcome::Ret(SUCCESS, 1),
        3 => Outcome::Ret(SUCCESS, probe(c.a[0]) as u64),
        // mvendorid, marchid, mimpid: all zero on this hart.
        4..=6 => Outcome::Ret(SUCCESS, 0),
        _ => Outcome::Ret(ERR_NOT_SUPPORTED, 0),
    }
}

/// Programs the next supervisor timer event: STIP clears now and is raised (by the monitor,
/// on the machine timer interrupt) once `mtime >= when`.
fn set_timer(c: &mut Call<'_>, when: u64) {
    if let Some(clint) = &mut c.bus.clint {
        clint.mtimecmp = when;
    }
    c.hart.csr.mip &= !mip::STIP;
    c.hart.csr.mie |= mip::MTIP;
}

fn time(c: &mut Call<'_>) -> Outcome {
    if c.fid != 0 {
        return Outcome::Ret(ERR_NOT_SUPPORTED, 0);
    }
    set_timer(c, c.a[0]);
    Outcome::Ret(SUCCESS, 0)
}

fn legacy_set_timer(c: &mut Call<'_>) -> Outcome {
    set_timer(c, c.a[0]);
    Outcome::Legacy(0)
}

fn legacy_putchar(c: &mut Call<'_>) -> Outcome {
    c.bus.console.write(1, &[c.a[0] as u8]);
    Outcome::Legacy(0)
}

/// Whether a (hart_mask, hart_mask_base) pair names only harts that exist (hart 0), and
/// whether it names hart 0.
fn hart_mask(mask: u64, base: u64) -> Result<bool, ()> {
    if base == u64::MAX {
        return Ok(true);
    }
    if base != 0 && mask != 0 {
        return Err(());
    }
    if mask & !1 != 0 {
        return Err(());
    }
    Ok(mask & 1 != 0)
}

fn ipi(c: &mut Call<'_>) -> Outcome {
    if c.fid != 0 {
        return Outcome::Ret(ERR_NOT_SUPPORTED, 0);
    }
    match hart_mask(c.a[0], c.a[1]) {
        Ok(me) => {
            if me {
                c.hart.csr.mip |= mip::SSIP;
            }
            Outcome::Ret(SUCCESS, 0)
        }
        Err(()) => Outcome::Ret(ERR_INVALID_PARAM, 0),
    }
}

fn rfence(c: &mut Call<'_>) -> Outcome {
    if c.fid > 6 {
        return Outcome::Ret(ERR_NOT_SUPPORTED, 0);
    }
    if hart_mask(c.a[0], c.a[1]).is_err() {
        return Outcome::Ret(ERR_INVALID_PARAM, 0);
    }
    if c.fid == 0 {
        c.hart.forget_all_code();
    } else {
        c.hart.flush_tlb();
    }
    Outcome::Ret(SUCCESS, 0)
}

/// System reset: shutdown (0), cold (1) and warm (2) reboot all end the run; the reason
/// (32 bits) is the machine's exit code.
fn srst(c: &mut Call<'_>) -> Outcome {
    if c.fid != 0 {
        return Outcome::Ret(ERR_NOT_SUPPORTED, 0);
    }
    if c.a[0] > 2 {
        return Outcome::Ret(ERR_INVALID_PARAM, 0);
    }
    Outcome::Exit(c.a[1] as u32 as i64)
}

/// Debug console: write (0) from S-mode physical memory, read (1) never has input, write_byte (2).
fn dbcn(c: &mut Call<'_>) -> Outcome {
    match c.fid {
        0 => {
            let (n, pa) = (c.a[0], c.a[1]);
            if c.a[2] != 0 || !c.sys.gpt.host_readable(c.bus, pa, n) {
                return Outcome::Ret(ERR_INVALID_PARAM, 0);
            }
            let mut buf = [0u8; 4096];
            let mut done = 0;
            while done < n {
                let k = (n - done).min(4096);
                c.bus.read(pa + done, &mut buf[..k as usize]);
                c.bus.console.write(1, &buf[..k as usize]);
                done += k;
            }
            Outcome::Ret(SUCCESS, n)
        }
        1 => Outcome::Ret(SUCCESS, 0),
        2 => {
            c.bus.console.write(1, &[c.a[0] as u8]);
            Outcome::Ret(SUCCESS, 0)
        }
        _ => Outcome::Ret(ERR_NOT_SUPPORTED, 0),
    }
}

/// Writes a host struct field on S-mode's behalf (unused until the enclave calls land).
#[allow(dead_code)]
pub fn write_host_u64(c: &mut Call<'_>, pa: u64, v: u64) -> bool {
    c.sys.gpt.host_writable(c.bus, pa, 8) && mem::write_u64(c.hart, c.bus, pa, v)
}
