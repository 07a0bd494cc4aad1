//! The console tape: what the guest's console calls returned, recorded while it runs forward
//! for the first time and played back when reverse execution re-runs that stretch.
//!
//! The machine's only input from outside is its console (reads of the host's stdin; writes
//! return a count or an error). Everything else it sees (time included) derives from its own
//! step count, so a re-run from a checkpoint takes the same steps if each console call returns
//! what it returned the first time. A re-run also must not print again what the guest printed
//! the first time: played-back writes do not reach the host.
use pltvm_core::device::console::Console;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Write(i64),
    Read(i64, Vec<u8>),
}

pub struct Tape {
    calls: Vec<Call>,
    /// The next call to play back; `calls.len()`: recording.
    pub cursor: usize,
    /// The guest's real console, while the tape stands in for it.
    inner: Option<Box<dyn Console>>,
    /// Bytes of read data held.
    data_bytes: usize,
}

impl Tape {
    pub fn new() -> Arc<Mutex<Tape>> {
        Arc::new(Mutex::new(Tape { calls: Vec::new(), cursor: 0, inner: None, data_bytes: 0 }))
    }

    /// Forgets the calls after the cursor: the guest's future changed (gdb wrote to it).
    pub fn truncate(&mut self) {
        for c in self.calls.drain(self.cursor..) {
            if let Call::Read(_, d) = c {
                self.data_bytes -= d.len();
            }
        }
    }

    /// (calls recorded, bytes of read data held)
    pub fn size(&self) -> (usize, usize) {
        (self.calls.len(), self.data_bytes)
    }

    /// The call at the cursor if it is of the same kind; a call of another kind means the
    /// re-run went elsewhere (it cannot, the machine being deterministic), so the tape is cut
    /// there and the call goes to the real console.
    fn next(&mut self, is_read: bool) -> Option<Call> {
        let c = self.calls.get(self.cursor)?.clone();
        if matches!(c, Call::Read(..)) == is_read {
            self.cursor += 1;
            Some(c)
        } else {
            self.truncate();
            None
        }
    }

    fn record(&mut self, c: Call) {
        if let Call::Read(_, d) = &c {
            self.data_bytes += d.len();
        }
        self.calls.push(c);
        self.cursor = self.calls.len();
    }
}

/// The console a machine under reverse debugging writes to: plays back or records.
pub struct TapeConsole(pub Arc<Mutex<Tape>>);

fn lock(t: &Mutex<Tape>) -> MutexGuard<'_, Tape> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

impl TapeConsole {
    /// Puts a tape console in place of `console`, which the tape keeps until [`uninstall`].
    pub fn install(tape: &Arc<Mutex<Tape>>, console: &mut Box<dyn Console>) {
        let real = std::mem::replace(console, Box::new(TapeConsole(Arc::clone(tape))));
        lock(tape).inner = Some(real);
    }

    /// Gives `console` its real console back.
    pub fn uninstall(tape: &Arc<Mutex<Tape>>, console: &mut Box<dyn Console>) {
        if let Some(real) = lock(tape).inner.take() {
            *console = real;
        }
    }
}

impl Console for TapeConsole {
    fn write(&mut self, fd: u64, data: &[u8]) -> i64 {
        let mut t = lock(&self.0);
        if let Some(Call::Write(r)) = t.next(false) {
            return r;
        }
        let r = match t.inner.as_mut() {
            Some(c) => c.write(fd, data),
            None => data.len() as i64,
        };
        t.record(Call::Write(r));
        r
    }

    fn read(&mut self, fd: u64, buf: &mut [u8]) -> i64 {
        let mut t = lock(&self.0);
        if let Some(Call::Read(r, d)) = t.next(true) {
            // The same call reads the same length: the guest is where it was.
            let n = d.len().min(buf.len());
            buf[..n].copy_from_slice(&d[..n]);
            return r;
        }
        let r = match t.inner.as_mut() {
            Some(c) => c.read(fd, buf),
            None => 0,
        };
        let got = if r > 0 { buf[..(r as usize).min(buf.len())].to_vec() } else { Vec::new() };
        t.record(Call::Read(r, got));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(Vec<u8>, Vec<u8>);

    impl Console for Fake {
        fn write(&mut self, _fd: u64, data: &[u8]) -> i64 {
            self.1.extend_from_slice(data);
            data.len() as i64
        }
        fn read(&mut self, _fd: u64, buf: &mut [u8]) -> i64 {
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            n as i64
        }
    }

    #[test]
    fn records_then_plays_back_without_reaching_the_console_again() {
        let tape = Tape::new();
        let mut console: Box<dyn Console> = Box::new(Fake(b"abcdef".to_vec(), Vec::new()));
        TapeConsole::install(&tape, &mut console);
        let mut buf = [0u8; 4];
        assert_eq!(console.write(1, b"hi"), 2);
        assert_eq!(console.read(0, &mut buf), 4);
        assert_eq!(&buf, b"abcd");
        // back to the start: the same calls get the same answers, the console sees nothing
        lock(&tape).cursor = 0;
        assert_eq!(console.write(1, b"hi"), 2);
        let mut again = [0u8; 4];
        assert_eq!(console.read(0, &mut again), 4);
        assert_eq!(&again, b"abcd");
        // past the recorded end: live again, reading where the real input left off
        assert_eq!(console.read(0, &mut buf), 2);
        assert_eq!(&buf[..2], b"ef");
        assert_eq!(lock(&tape).size(), (3, 6));
        TapeConsole::uninstall(&tape, &mut console);
        assert_eq!(console.write(1, b"!"), 1);
    }

    #[test]
    fn a_call_of_another_kind_cuts_the_tape() {
        let tape = Tape::new();
        let mut console: Box<dyn Console> = Box::new(Fake(b"xy".to_vec(), Vec::new()));
        TapeConsole::install(&tape, &mut console);
        assert_eq!(console.write(1, b"a"), 1);
        assert_eq!(console.write(1, b"b"), 1);
        lock(&tape).cursor = 0;
        let mut buf = [0u8; 1];
        assert_eq!(console.read(0, &mut buf), 1);
        assert_eq!(lock(&tape).size(), (1, 1), "both writes forgotten, the live read recorded");
    }
}
