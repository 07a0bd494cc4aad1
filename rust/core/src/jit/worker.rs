//! Compiling on a background thread: compile time off the run's critical path.
//!
//! When a block reaches the threshold, the hart forms its region as before, copies the
//! members' offsets and instructions into a [`Job`] and hands it to one worker thread; the
//! block keeps running interpreted and polls the job every few runs (`Slot::count`), taking
//! the code once it is there. The worker sees only that copy: nothing of the hart, its decode
//! cache or its blocks, and a hart's `Slot` is written only on the hart's own thread. The jit
//! is exact, so whether a block runs interpreted or compiled at a given moment changes the
//! speed, never the result: results do not depend on the worker's timing.
//!
//! - Code is published in the content-keyed table (`cache`) as a synchronous compile would
//!   publish it, so forks and harts on other threads find it; a key already queued or being
//!   compiled is not queued twice: whoever asks for it gets the same [`Job`].
//! - The queue is bounded ([`QUEUE_CAP`] keys in flight, queued or compiling): beyond that a
//!   block is not queued and tries again later, so a program that keeps making new hot blocks
//!   holds at most that many copies.
//! - A run never waits for the worker: queueing only try-locks, and the lock is never held
//!   while compiling. A hart dropped while its job is pending only drops its reference; the
//!   worker still compiles and publishes the code (a sibling fork may want it).
//! - One worker per process (the hosts we measure have 2 cores; the run takes one). It is
//!   started on first use and lives until the process exits. In a process forked after it
//!   started, it does not exist: there the compiles are synchronous.
use super::cache::{self, Key};
use super::region::Member;
use super::Code;
use crate::hart::packed::Packed;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Keys in flight at most (queued or being compiled). A job holds at most a region's 256
/// instructions and its key (a few KiB); the hottest blocks come first in practice, and a
/// block turned away retries at its next poll.
pub const QUEUE_CAP: usize = 64;

/// One region to compile: a copy of what the translator reads, and the code once compiled.
pub(crate) struct Job {
    key: Key,
    members: Box<[(u64, bool, Box<[Packed]>)]>,
    instr: bool,
    /// Set once by the worker: the code, or None if compiling failed.
    done: OnceLock<Option<Arc<Code>>>,
    /// Taken by the first block that installs the code (it counts as the one that compiled
    /// it, on its thread; the others count as reusing it).
    claimed: AtomicBool,
}

impl Job {
    /// The outcome, once the worker is done: `Some(Some(code))`, `Some(None)` (failed).
    pub(super) fn outcome(&self) -> Option<&Option<Arc<Code>>> {
        self.done.get()
    }

    /// True for the first caller only.
    pub(super) fn claim(&self) -> bool {
        !self.claimed.swap(true, Relaxed)
    }
}

struct Queue {
    jobs: VecDeque<Arc<Job>>,
    in_flight: HashMap<Key, Arc<Job>>,
    paused: bool,
}

struct Worker {
    q: Mutex<Queue>,
    /// Signalled when a job is queued or the worker is resumed.
    work: Condvar,
    /// Signalled when a job is done (`drain`).
    idle: Condvar,
    pid: u32,
}

fn lock(m: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    // A poisoned lock only means a panic elsewhere while it was held; the queue stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's worker, started on first use; None if no thread could be started or this
/// is a forked child of the process that started it (threads do not survive `fork`).
fn worker() -> Option<&'static Worker> {
    static W: OnceLock<Option<&'static Worker>> = OnceLock::new();
    let w = (*W.get_or_init(|| {
        let w: &'static Worker = Box::leak(Box::new(Worker {
            q: Mutex::new(Queue { jobs: VecDeque::new(), in_flight: HashMap::new(), paused: false }),
            work: Condvar::new(),
            idle: Condvar::new(),
            pid: std::process::id(),
        }));
        std::thread::Builder::new().name("pltvm-jit".into()).spawn(move || run(w)).ok()?;
        Some(w)
    }))?;
    (w.pid == std::process::id()).then_some(w)
}

/// Whether a worker runs in this process (starting it if need be).
pub(super) fn available() -> bool {
    worker().is_some()
}

fn run(w: &'static Worker) {
    loop {
        let job = {
            let mut q = lock(&w.q);
            loop {
                if !q.paused {
                    if let Some(j) = q.jobs.pop_front() {
                        break j;
                    }
                }
                q = w.work.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let members: Vec<(u64, bool, &[Packed])> = job.members.iter().map(|(d, f, i)| (*d, *f, &i[..])).collect();
        // A panic inside Cranelift must not take the worker (and every pending job) with it:
        // the region then stays interpreted, as after a failed compile.
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| super::build(&members, job.instr, true)))
            .ok()
            .flatten();
        if let Some(c) = &code {
            cache::put(job.key.clone(), c.clone());
        }
        let _ = job.done.set(code);
        lock(&w.q).in_flight.remove(&job.key);
        w.idle.notify_all();
    }
}

/// Why a region was not queued.
pub(super) enum Refused {
    /// No worker in this process: compile synchronously.
    NoWorker,
    /// The queue is full or busy this instant: try again at a later poll.
    Later,
}

/// Queues `members` (the region of `key`) for compiling, or joins the job already in flight
/// for the same key. Never blocks.
pub(super) fn submit(key: &Key, members: &[Member], instr: bool) -> Result<Arc<Job>, Refused> {
    let w = worker().ok_or(Refused::NoWorker)?;
    let mut q = match w.q.try_lock() {
        Ok(q) => q,
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return Err(Refused::Later),
    };
    if let Some(j) = q.in_flight.get(key) {
        return Ok(j.clone());
    }
    if q.in_flight.len() >= QUEUE_CAP {
        return Err(Refused::Later);
    }
    let job = Arc::new(Job {
        key: key.clone(),
        members: members.iter().map(|m| (m.delta, m.foreign, m.insns().into())).collect(),
        instr,
        done: OnceLock::new(),
        claimed: AtomicBool::new(false),
    });
    q.in_flight.insert(key.clone(), job.clone());
    q.jobs.push_back(job.clone());
    drop(q);
    w.work.notify_one();
    Ok(job)
}

/// Keys in flight (queued or being compiled) right now.
pub fn pending() -> usize {
    worker().map_or(0, |w| lock(&w.q).in_flight.len())
}

/// Waits until nothing is in flight (benches and tests: "let the worker catch up"). Returns
/// at once if the worker is paused or absent.
pub fn drain() {
    let Some(w) = worker() else { return };
    let mut q = lock(&w.q);
    while !q.in_flight.is_empty() && !q.paused {
        q = w.idle.wait(q).unwrap_or_else(|e| e.into_inner());
    }
}

/// Stops (true) or resumes (false) the worker taking new jobs; a job being compiled
/// finishes. Tests use it to hold jobs in the queue.
pub fn pause(on: bool) {
    let Some(w) = worker() else { return };
    lock(&w.q).paused = on;
    w.work.notify_all();
    w.idle.notify_all();
}
