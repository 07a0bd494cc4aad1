//! Berkeley HTIF through the ELF's `tohost`/`fromhost` words, as riscv-tests and Spike use it.

#[derive(Clone, Copy, Debug)]
pub struct Htif {
    pub tohost: u64,
    pub fromhost: Option<u64>,
}

/// A decoded `tohost` command.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Bit 0 set: the program is done; exit code = value >> 1.
    Exit(u64),
    /// Device 1, command 1: write one byte to the console.
    Putchar(u8),
    /// Device 0, command 0: syscall proxy; payload is the address of `magic_mem[8]`.
    Syscall(u64),
    /// Anything else is acknowledged and ignored.
    Unknown,
}

pub fn decode(value: u64) -> Command {
    let device = value >> 56;
    let cmd = (value >> 48) & 0xff;
    let payload = value & 0xffff_ffff_ffff;
    match (device, cmd) {
        (0, 0) if value & 1 == 1 => Command::Exit(payload >> 1),
        (0, 0) => Command::Syscall(payload),
        (1, 1) => Command::Putchar(payload as u8),
        _ => Command::Unknown,
    }
}

/// The `fromhost` response to a command: device and command echoed, payload 1.
pub fn response(value: u64) -> u64 {
    (value & 0xffff_0000_0000_0000) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(decode(1), Command::Exit(0));
        assert_eq!(decode((21 << 1) | 1), Command::Exit(21));
        assert_eq!(decode((1 << 56) | (1 << 48) | b'A' as u64), Command::Putchar(b'A'));
        assert_eq!(decode(0x8000_1000), Command::Syscall(0x8000_1000));
        assert_eq!(decode((2 << 56) | 5), Command::Unknown);
    }
}
