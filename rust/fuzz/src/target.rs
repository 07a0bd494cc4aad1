//! The harness contract: one enclave ELF made a shadow template once; each input runs in a
//! fresh fork with the input in its shm, and comes back classified. No LibAFL here, so the
//! same [`Runner`] serves the fuzzer, one-off reproduction and other drivers (one input in, one
//! classified result out).
//!
//! Per input: fork the template; the shm (at `0x39_0000_0000`, `max_len + 8` bytes rounded up
//! to whole pages) holds the input's length as a little-endian u64 followed by its bytes, the
//! rest zero; `a0`/`a1` at entry are the shm's base and size, as for any enclave with shm. The
//! instance runs from its entry with an instruction budget and is destroyed. OCALLs are served
//! as usual; what the enclave prints is captured (up to [`OUTPUT_CAP`] bytes per run).
use pltvm_core::hart::cov::{Coverage, EdgeIds, HitMap};
use pltvm_core::hart::Hart;
use pltvm_core::monitor::enclave::CreateParams;
use pltvm_core::monitor::shadow::ForkParams;
use pltvm_core::jit::Engine;
use pltvm_core::monitor::{Config, EnclaveCell, Entry, Host, Monitor, RunExit};
use std::sync::Arc;

/// Where the input goes.
pub const SHM_BASE: u64 = 0x39_0000_0000;
/// Output kept per run; the rest is counted but dropped.
pub const OUTPUT_CAP: usize = 1 << 16;
/// Pseudo-cause of a crash that is not a RISC-V exception: the monitor destroyed the instance
/// (e.g. its output could not be delivered) or the instance stopped in a way the harness
/// cannot continue.
pub const CAUSE_DESTROYED: u64 = u64::MAX;
/// The largest `max_len` (16 MiB): the shm is written for every input.
pub const MAX_LEN_LIMIT: usize = 1 << 24;
const PAGE: usize = 4096;

/// A fault: a RISC-V exception, or an illegal monitor call (`ecall` = its `(a6, a7)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub cause: u64,
    pub pc: u64,
    pub tval: u64,
    pub ecall: Option<(u64, u64)>,
}

/// How one run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The enclave exited (any return value).
    Ok { retval: u64 },
    /// A fault, an illegal monitor call, or a run the monitor destroyed.
    Crash(Fault),
    /// The instruction budget ran out.
    Timeout,
}

impl Outcome {
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Ok { .. } => "ok",
            Outcome::Crash(_) => "crash",
            Outcome::Timeout => "timeout",
        }
    }
}

/// One run's result.
#[derive(Clone, Debug)]
pub struct Execution {
    pub outcome: Outcome,
    /// What the enclave printed (at most [`OUTPUT_CAP`] bytes).
    pub output: Vec<u8>,
    /// Instructions retired.
    pub instret: u64,
}

#[derive(Debug)]
pub enum TargetError {
    /// The ELF cannot be made a shadow template (message from the loader).
    Elf(String),
    /// A bad setting (named in the message).
    Param(String),
    /// The monitor refused a fork or run.
    Monitor(String),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::Elf(m) => write!(f, "cannot load the enclave: {m}"),
            TargetError::Param(m) | TargetError::Monitor(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for TargetError {}

/// A fuzz target: its monitor and shadow template, shared by every worker.
pub struct Target {
    monitor: Monitor,
    template: Arc<EnclaveCell>,
    /// Bytes of input at most.
    pub max_len: usize,
    /// Instruction budget per run.
    pub max_instructions: u64,
    /// Edge ids, shared by every hart that runs this target.
    pub edge_ids: Arc<EdgeIds>,
    /// The initialisation run and the deferred snapshot, if any (deferred.rs).
    pub init: Option<crate::deferred::Init>,
    /// The ELF, for each runner's own template (see [`Runner::new`]).
    elf: Vec<u8>,
}

impl Target {
    /// Makes `elf` a shadow template. `max_len` is at most [`MAX_LEN_LIMIT`]; the budget at
    /// least 1.
    pub fn new(elf: &[u8], max_len: usize, max_instructions: u64) -> Result<Arc<Target>, TargetError> {
        Self::with_init(elf, max_len, max_instructions, Some(crate::deferred::DEFAULT_MAX_INIT_INSTRUCTIONS))
    }

    /// [`Target::new`] with the deferred snapshot (deferred.rs) looked for within
    /// `max_init_instructions` (at least 1), or never (None: every input runs from the entry).
    pub fn with_init(elf: &[u8], max_len: usize, max_instructions: u64, max_init_instructions: Option<u64>) -> Result<Arc<Target>, TargetError> {
        Self::with_engine(elf, max_len, max_instructions, max_init_instructions, Engine::default())
    }

    /// [`Target::with_init`] on `engine` (every run of every runner; default: the host's, see
    /// `pltvm_core::jit`). Both engines give the same coverage, so the same campaign.
    pub fn with_engine(
        elf: &[u8],
        max_len: usize,
        max_instructions: u64,
        max_init_instructions: Option<u64>,
        engine: Engine,
    ) -> Result<Arc<Target>, TargetError> {
        if max_init_instructions == Some(0) {
            return Err(TargetError::Param("max_init_instructions must be at least 1".into()));
        }
        if max_len > MAX_LEN_LIMIT {
            return Err(TargetError::Param(format!("max_len must be at most {MAX_LEN_LIMIT}, got {max_len}")));
        }
        if max_instructions == 0 {
            return Err(TargetError::Param("max_instructions must be at least 1".into()));
        }
        let monitor = Monitor::new(Config { engine, ..Config::default() });
        let template = monitor.create_shadow(elf, &template_params()).map_err(|e| TargetError::Elf(e.to_string()))?;
        let mut target =
            Target { monitor, template, max_len, max_instructions, edge_ids: EdgeIds::new(), init: None, elf: elf.to_vec() };
        if let Some(budget) = max_init_instructions {
            target.init = Some(crate::deferred::probe(&target.monitor, &target.template, target.shm_size(), budget)?);
        }
        Ok(Arc::new(target))
    }

    /// What every execution forks: the deferred snapshot, or the ELF's template.
    fn fork_template(&self) -> &Arc<EnclaveCell> {
        self.init.as_ref().and_then(|i| i.snapshot.as_ref()).unwrap_or(&self.template)
    }

    /// Whether executions fork a deferred snapshot (the target called `pl_fuzz_input`).
    pub fn deferred(&self) -> bool {
        self.init.as_ref().is_some_and(|i| i.snapshot.is_some())
    }

    /// The shm size: `max_len + 8` rounded up to pages.
    pub fn shm_size(&self) -> usize {
        (self.max_len + 8).div_ceil(PAGE) * PAGE
    }

    /// The monitor that holds this target's templates and instances.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// One instance set up for `input` exactly as an execution sets it up (a fork of the
    /// deferred snapshot or of the template, the input cut to `max_len` in its shm as LE u64
    /// length + bytes), but not run: the instance and how its first run enters
    /// (`Entry::Continue` after a deferred snapshot, else `Entry::Start`). The caller runs it
    /// (with [`Target::max_instructions`] as the budget, the second `pl_fuzz_input` ending the
    /// input, as [`Runner::exec`] does) and destroys it. For drivers that run one input
    /// their own way, e.g. pltvm-gdb's reproduction of a finding under gdb.
    pub fn prepare(&self, input: &[u8]) -> Result<(Arc<EnclaveCell>, Entry), TargetError> {
        let input = &input[..input.len().min(self.max_len)];
        let mut shm = vec![0; self.shm_size()];
        shm[..8].copy_from_slice(&(input.len() as u64).to_le_bytes());
        shm[8..8 + input.len()].copy_from_slice(input);
        let p = ForkParams { name: [0; 16], shm: Some(shm), persistency: None };
        let cell = self.monitor.fork(self.fork_template(), &p).map_err(|e| TargetError::Monitor(e.to_string()))?;
        let entry = if self.deferred() { Entry::Continue } else { Entry::Start { relay: None } };
        Ok((cell, entry))
    }
}

fn template_params() -> CreateParams {
    CreateParams { name: *b"pltvm-fuzz\0\0\0\0\0\0", kind: 0, stack_size: 0, shm: None, persistency: None }
}

/// Output capture with a cap.
#[derive(Default)]
struct Capture(Vec<u8>);

impl Host for Capture {
    fn output(&mut self, data: &[u8]) -> bool {
        let room = OUTPUT_CAP.saturating_sub(self.0.len());
        self.0.extend_from_slice(&data[..data.len().min(room)]);
        true
    }
}

/// A hart with this runner's coverage.
fn fresh_hart(target: &Target, hits: &Arc<HitMap>, cmplog: bool) -> Box<Hart> {
    let mut hart = Box::<Hart>::default();
    let ids = Arc::clone(&target.edge_ids);
    let cov = if cmplog { Coverage::with_cmplog(Arc::clone(hits), ids) } else { Coverage::new(Arc::clone(hits), ids) };
    hart.set_coverage(Some(cov));
    hart
}

/// Runs inputs against a target on one thread, reusing one hart (and its decoded code).
pub struct Runner {
    target: Arc<Target>,
    hart: Option<Box<Hart>>,
    hits: Arc<HitMap>,
    cmplog: bool,
    params: ForkParams,
    /// Bytes of the shm the previous input dirtied (cleared before the next).
    dirty: usize,
    host: Capture,
    /// This runner's own monitor with its own copy of the target's template (same ELF, so
    /// the same image, layout and measurement), unless executions fork the deferred snapshot.
    /// Jobs on other threads then share nothing per execution: no frame-tree node (whose
    /// reference counts a fork bumps), and no monitor lock, enclave table, id map or run
    /// counter, which a fork, a run and a destroy write four times per execution (on one
    /// shared monitor those cache lines move between the cores with every execution).
    own: Option<(Monitor, Arc<EnclaveCell>)>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some((m, t)) = self.own.take() {
            m.destroy(&t);
        }
    }
}

impl Runner {
    /// A runner with coverage into a `map_size`-entry map (a power of two, at least 64) and,
    /// if `cmplog`, comparison logging.
    pub fn new(target: Arc<Target>, map_size: usize, cmplog: bool) -> Result<Runner, TargetError> {
        let hits = HitMap::new(map_size)
            .ok_or_else(|| TargetError::Param(format!("map_size must be a power of two >= 64, got {map_size}")))?;
        let hart = fresh_hart(&target, &hits, cmplog);
        let params = ForkParams { name: [0; 16], shm: Some(vec![0; target.shm_size()]), persistency: None };
        let own = if target.deferred() {
            None
        } else {
            let m = Monitor::new(target.monitor.config.clone());
            let t = m.create_shadow(&target.elf, &template_params()).map_err(|e| TargetError::Elf(e.to_string()))?;
            Some((m, t))
        };
        Ok(Runner { target, hart: Some(hart), hits, cmplog, params, dirty: 0, host: Capture::default(), own })
    }

    pub fn target(&self) -> &Arc<Target> {
        &self.target
    }

    /// The hit map (counts of the last run until cleared).
    pub fn hits(&self) -> &Arc<HitMap> {
        &self.hits
    }

    /// Comparisons of the last run (empty without cmplog).
    pub fn cmps(&self) -> &[pltvm_core::hart::cov::Cmp] {
        self.hart.as_ref().and_then(|h| h.coverage()).map(|c| c.cmps()).unwrap_or(&[])
    }

    /// Runs `input` (truncated to `max_len`) in a fresh fork, with its output.
    pub fn run(&mut self, input: &[u8]) -> Result<Execution, TargetError> {
        let (outcome, instret) = self.exec(input)?;
        Ok(Execution { outcome, output: self.host.0.clone(), instret })
    }

    /// What the last run printed.
    pub fn output(&self) -> &[u8] {
        &self.host.0
    }

    /// Runs `input` (truncated to `max_len`) in a fresh fork: its outcome and instructions.
    /// Coverage accumulates into the hit map (the caller clears it); the cmplog is cleared
    /// first. Allocates nothing per run once warm.
    pub fn exec(&mut self, input: &[u8]) -> Result<(Outcome, u64), TargetError> {
        let input = &input[..input.len().min(self.target.max_len)];
        let shm = self.params.shm.as_mut().expect("built with shm");
        shm[..self.dirty].fill(0);
        shm[..8].copy_from_slice(&(input.len() as u64).to_le_bytes());
        shm[8..8 + input.len()].copy_from_slice(input);
        self.dirty = 8 + input.len();
        self.host.0.clear();
        if self.hart.is_none() {
            // The monitor kept the last run's hart: start over with a fresh one (its decoded
            // code is lost, nothing else).
            self.hart = Some(fresh_hart(&self.target, &self.hits, self.cmplog));
        }
        if let Some(c) = self.hart.as_mut().and_then(|h| h.coverage_mut()) {
            c.clear_cmps();
        }
        let t = &self.target;
        let (monitor, template) = match &self.own {
            Some((m, c)) => (m, c),
            None => (&t.monitor, t.fork_template()),
        };
        let out = monitor
            .fork_run_one(template, &self.params, Some(t.max_instructions), &mut self.host, &mut self.hart)
            .map_err(|e| TargetError::Monitor(e.to_string()))?;
        let outcome = match out.exit {
            RunExit::Exited { retval } => Outcome::Ok { retval },
            RunExit::Relay | RunExit::Ocall { .. } => Outcome::Ok { retval: 0 },
            RunExit::Fault { cause, tval, pc, ecall } => Outcome::Crash(Fault { cause, pc, tval, ecall }),
            // fork_run_one continues yields (never returned); a yield is no finding.
            RunExit::Budget | RunExit::Yield => Outcome::Timeout,
            RunExit::Destroyed | RunExit::Aborted | RunExit::Interrupted => {
                Outcome::Crash(Fault { cause: CAUSE_DESTROYED, pc: 0, tval: 0, ecall: None })
            }
            RunExit::Refused(m) => return Err(TargetError::Monitor(m)),
        };
        Ok((outcome, out.instret))
    }

    /// Edge ids hit in the hit map (nonzero entries among the ids interned so far).
    pub fn edges_hit(&self) -> usize {
        let n = self.target.edge_ids.len().min(self.hits.len());
        (0..n).filter(|&i| self.hits.get(i) != 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled(name: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../python/pltvm/enclaves/");
        std::fs::read(format!("{dir}{name}.elf")).expect("bundled enclave")
    }

    #[test]
    fn each_runner_forks_its_own_copy_of_the_template_in_its_own_monitor() {
        let t = Target::with_init(&bundled("fuzz-magic4"), 64, 100_000, None).unwrap();
        assert_eq!(t.monitor.stats().templates, 1);
        let counter = t.monitor.eapp_args();
        let mut a = Runner::new(Arc::clone(&t), 1 << 16, false).unwrap();
        let mut b = Runner::new(Arc::clone(&t), 1 << 16, true).unwrap();
        {
            let ((ma, ta), (mb, tb)) = (a.own.as_ref().unwrap(), b.own.as_ref().unwrap());
            assert!(!std::ptr::eq(ma, mb));
            assert_eq!((ta.measurement, tb.measurement), (t.template.measurement, t.template.measurement));
            assert_eq!((ma.config.engine, ma.config.secure_memory), (t.monitor.config.engine, t.monitor.config.secure_memory));
            assert_eq!((ma.stats().templates, mb.stats().templates), (1, 1));
        }
        assert_eq!(t.monitor.stats().templates, 1, "the target's monitor holds only its own template");
        // Same outcomes as before: the magic crashes, other input exits.
        for r in [&mut a, &mut b] {
            assert!(matches!(r.exec(b"nope").unwrap().0, Outcome::Ok { .. }));
            assert!(matches!(r.exec(&0x4d5a_4c50u32.to_le_bytes()).unwrap().0, Outcome::Crash(Fault { cause: 15, tval: 0x40, .. })));
            let (m, _) = r.own.as_ref().unwrap();
            assert_eq!((m.stats().enclaves, m.eapp_args()), (0, 2), "instances destroyed; two runs counted here");
        }
        assert_eq!(t.monitor.eapp_args(), counter, "executions never touch the target's monitor");
        assert_eq!(t.monitor.stats().enclaves, 0);
        drop(a);
        drop(b);
        let s = t.monitor.stats();
        assert_eq!((s.templates, s.enclaves), (1, 0));
    }
}
