//! Where guest output goes and guest input comes from.
use std::io::{Read, Write};

/// The host side of a guest's file descriptors 0, 1 and 2.
pub trait Console: Send {
    /// Writes `data` to guest fd `fd`; returns bytes written or a negative errno.
    fn write(&mut self, fd: u64, data: &[u8]) -> i64;
    /// Reads into `buf` from guest fd `fd`; returns bytes read or a negative errno.
    fn read(&mut self, fd: u64, buf: &mut [u8]) -> i64;
}

pub const EBADF: i64 = 9;
pub const EIO: i64 = 5;

/// The process's own stdin, stdout and stderr, unbuffered so guest output interleaves with the
/// host's as it would for a native process.
#[derive(Default)]
pub struct HostConsole;

impl Console for HostConsole {
    fn write(&mut self, fd: u64, data: &[u8]) -> i64 {
        let res = match fd {
            1 => {
                let mut out = std::io::stdout().lock();
                out.write_all(data).and_then(|_| out.flush())
            }
            2 => std::io::stderr().lock().write_all(data),
            _ => return -EBADF,
        };
        match res {
            Ok(()) => data.len() as i64,
            Err(_) => -EIO,
        }
    }

    fn read(&mut self, fd: u64, buf: &mut [u8]) -> i64 {
        if fd != 0 {
            return -EBADF;
        }
        match std::io::stdin().lock().read(buf) {
            Ok(n) => n as i64,
            Err(_) => -EIO,
        }
    }
}
