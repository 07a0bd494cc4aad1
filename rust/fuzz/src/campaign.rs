//! A campaign: LibAFL's fuzzer on one or more worker threads that share new corpus entries.
//!
//! Each worker owns a full LibAFL stack: a queue scheduler over an in-memory corpus, max-map
//! feedback on a hit-count map observer, crash-or-timeout objective, and the stages
//! - with cmplog: a tracing stage (the corpus entry run once with comparison logging), an
//!   input-to-state stage (`I2SRandReplace`), then havoc + tokens;
//! - without: havoc + tokens.
//!
//! Nothing in a worker depends on time or thread timing when there is one worker, so one job
//! with one seed executes the same sequence of inputs every time. With several jobs, worker k
//! is seeded `seed + k`; after each round a worker publishes the entries it added and evaluates
//! the other workers' new entries (those evaluations count as executions).
use crate::executor::{Budget, Check, CmpExecutor, CovExecutor, Finding};
use crate::target::{Runner, Target, TargetError};
use libafl::corpus::{Corpus, CorpusId, InMemoryCorpus};
use libafl::events::NopEventManager;
use libafl::feedbacks::{CrashFeedback, MapFeedbackMetadata, MaxMapFeedback, TimeoutFeedback};
use libafl::feedback_or_fast;
use libafl::fuzzer::{Evaluator, Fuzzer, StdFuzzer};
use libafl::inputs::BytesInput;
use libafl::mutators::token_mutations::{I2SRandReplace, Tokens};
use libafl::mutators::{havoc_mutations, tokens_mutations, HavocScheduledMutator};
use libafl::observers::{HitcountsMapObserver, VariableMapObserver};
use libafl::schedulers::QueueScheduler;
use libafl::observers::cmp::CmpValuesMetadata;
use libafl::stages::{IfStage, StdMutationalStage, TracingStage};
use libafl::state::{HasCorpus, HasExecutions, HasMaxSize, StdState};
use libafl::{HasMetadata, HasNamedMetadata};
use libafl_bolts::rands::StdRand;
use libafl_bolts::tuples::{tuple_list, Merge};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Campaign settings.
#[derive(Clone)]
pub struct Options {
    pub seed: u64,
    pub jobs: usize,
    pub cmplog: bool,
    /// Hit map entries (power of two).
    pub map_size: usize,
    pub tokens: Vec<Vec<u8>>,
    pub runs: Option<u64>,
    pub max_time: Option<Duration>,
    /// Stop at the first crash or timeout (libFuzzer's behaviour).
    pub stop_on_finding: bool,
    /// Interval of `Event::Pulse`.
    pub pulse: Duration,
    pub check: Option<Check>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 0,
            jobs: 1,
            cmplog: true,
            map_size: pltvm_core::hart::cov::DEFAULT_MAP_SIZE,
            tokens: Vec::new(),
            runs: None,
            max_time: None,
            stop_on_finding: true,
            pulse: Duration::from_secs(2),
            check: None,
        }
    }
}

/// Progress figures.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub executions: u64,
    pub elapsed: Duration,
    /// Edges covered (the best worker's count).
    pub edges: usize,
    /// Corpus entries (all workers' own, counted once).
    pub corpus: usize,
}

/// What the campaign reports as it goes.
#[derive(Clone, Debug)]
pub enum Event {
    /// A worker added `input` to its corpus.
    New { input: Vec<u8>, progress: Progress },
    Pulse(Progress),
    /// About every 20 ms, for the caller to look at signals (returning false stops).
    Tick,
    Finding { finding: Finding, progress: Progress },
}

/// The end of a campaign.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub progress: Progress,
    pub findings: Vec<Finding>,
    pub interrupted: bool,
    /// Every corpus entry (seeds that added coverage and new ones), in order of addition.
    pub corpus: Vec<Vec<u8>>,
}

enum Msg {
    New { input: Vec<u8>, edges: usize },
    Finding(Finding),
    Edges(usize),
}

/// A worker's LibAFL state.
type State = StdState<InMemoryCorpus<BytesInput>, BytesInput, StdRand, InMemoryCorpus<BytesInput>>;

/// Entries published by workers: (worker, input).
type Shared = Mutex<Vec<(usize, Vec<u8>)>>;

/// Creating a `TracingStage` bumps a global counter without synchronisation (LibAFL): one at a
/// time.
static TRACING_STAGE: Mutex<()> = Mutex::new(());

/// Runs a campaign. `on_event` sees progress on the calling thread; returning `false` stops
/// the campaign (interrupted). Seeds are evaluated first; if none adds coverage the empty
/// input starts the corpus.
pub fn run(
    target: &Arc<Target>,
    seeds: &[Vec<u8>],
    opts: &Options,
    on_event: &mut dyn FnMut(&Event) -> bool,
) -> Result<Report, TargetError> {
    if opts.jobs == 0 {
        return Err(TargetError::Param("jobs must be at least 1".into()));
    }
    let budget = Budget::new(opts.runs, opts.stop_on_finding);
    let shared: Shared = Mutex::new(Vec::new());
    let start = Instant::now();
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut report = Report::default();
    let mut worker_edges = vec![0usize; opts.jobs];
    let result: Result<(), TargetError> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for k in 0..opts.jobs {
            let tx = tx.clone();
            let (budget, shared, target) = (&budget, &shared, target);
            handles.push(scope.spawn(move || {
                let r = worker(k, target, seeds, opts, budget, shared, &tx);
                if r.is_err() {
                    budget.stop.store(true, Ordering::Relaxed);
                }
                r
            }));
        }
        drop(tx);
        let mut last_pulse = Instant::now();
        let mut done = false;
        let progress = |report: &Report, edges: &[usize]| Progress {
            executions: budget.executions.load(Ordering::Relaxed),
            elapsed: start.elapsed(),
            edges: edges.iter().copied().max().unwrap_or(0),
            corpus: report.corpus.len(),
        };
        while !done {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(msg) => {
                    let ev = match msg {
                        Msg::New { input, edges } => {
                            report.corpus.push(input.clone());
                            worker_edges.iter_mut().for_each(|e| *e = (*e).max(edges));
                            Event::New { input, progress: progress(&report, &worker_edges) }
                        }
                        Msg::Edges(e) => {
                            worker_edges.iter_mut().for_each(|x| *x = (*x).max(e));
                            continue;
                        }
                        Msg::Finding(f) => {
                            report.findings.push(f.clone());
                            if opts.stop_on_finding {
                                budget.stop.store(true, Ordering::Relaxed);
                            }
                            Event::Finding { finding: f, progress: progress(&report, &worker_edges) }
                        }
                    };
                    if !on_event(&ev) {
                        report.interrupted = true;
                        budget.stop.store(true, Ordering::Relaxed);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if !on_event(&Event::Tick) {
                        report.interrupted = true;
                        budget.stop.store(true, Ordering::Relaxed);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => done = true,
            }
            if opts.max_time.is_some_and(|t| start.elapsed() >= t) {
                budget.stop.store(true, Ordering::Relaxed);
            }
            if last_pulse.elapsed() >= opts.pulse && !done {
                last_pulse = Instant::now();
                if !on_event(&Event::Pulse(progress(&report, &worker_edges))) {
                    report.interrupted = true;
                    budget.stop.store(true, Ordering::Relaxed);
                }
            }
        }
        for h in handles {
            h.join().map_err(|_| TargetError::Monitor("a fuzzing worker panicked".into()))??;
        }
        Ok(())
    });
    result?;
    report.progress = Progress {
        executions: budget.executions.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        edges: worker_edges.iter().copied().max().unwrap_or(0),
        corpus: report.corpus.len(),
    };
    Ok(report)
}

fn worker(
    k: usize,
    target: &Arc<Target>,
    seeds: &[Vec<u8>],
    opts: &Options,
    budget: &Arc<Budget>,
    shared: &Shared,
    tx: &mpsc::Sender<Msg>,
) -> Result<(), TargetError> {
    let runner = Runner::new(Arc::clone(target), opts.map_size, false)?;
    let mut executor = CovExecutor::new(runner, Arc::clone(budget), opts.check.clone(), |ptr, len, size| {
        // SAFETY: the map (an `Arc` held by the runner) and the size (boxed) live in the
        // executor, which owns this observer; nothing else touches them during a run.
        tuple_list!(HitcountsMapObserver::new(unsafe { VariableMapObserver::from_mut_ptr("edges", ptr, len, size) }))
    });
    let mut feedback = MaxMapFeedback::new(&executor.observers_ref().0);
    let mut objective = feedback_or_fast!(CrashFeedback::new(), TimeoutFeedback::new());
    let mut state: State = StdState::new(
        StdRand::with_seed(opts.seed.wrapping_add(k as u64)),
        InMemoryCorpus::<BytesInput>::new(),
        InMemoryCorpus::new(),
        &mut feedback,
        &mut objective,
    )
    .map_err(|e| TargetError::Monitor(e.to_string()))?;
    state.set_max_size(target.max_len.max(1));
    if !opts.tokens.is_empty() {
        let mut t = Tokens::new();
        t.add_tokens(opts.tokens.iter());
        state.add_metadata(t);
    }
    let mut fuzzer = StdFuzzer::new(QueueScheduler::new(), feedback, objective);
    let mut mgr = NopEventManager::new();
    let mut w = Worker { k, shared, tx, known: 0, cursor: 0 };
    // Seeds (worker 0 only: the others get them through the shared list).
    if k == 0 {
        for s in seeds {
            let input = BytesInput::new(s[..s.len().min(target.max_len)].to_vec());
            match fuzzer.evaluate_input(&mut state, &mut executor, &mut mgr, &input) {
                Ok(_) => {}
                Err(libafl::Error::ShuttingDown) => break,
                Err(e) => return Err(TargetError::Monitor(e.to_string())),
            }
            w.findings(&mut executor);
        }
        if state.corpus().count() == 0 {
            match fuzzer.add_input(&mut state, &mut executor, &mut mgr, BytesInput::new(Vec::new())) {
                Ok(_) | Err(libafl::Error::ShuttingDown) => {}
                Err(e) => return Err(TargetError::Monitor(e.to_string())),
            }
            w.findings(&mut executor);
        }
        w.publish(&state);
    } else {
        // Wait for worker 0's first entries.
        while state.corpus().count() == 0 {
            if budget.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            w.import(&mut fuzzer, &mut state, &mut executor, &mut mgr)?;
            if state.corpus().count() == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    if state.corpus().count() == 0 {
        return Ok(());
    }
    let havoc = StdMutationalStage::new(HavocScheduledMutator::new(havoc_mutations().merge(tokens_mutations())));
    if opts.cmplog {
        let tracer = CmpExecutor::new(Runner::new(Arc::clone(target), opts.map_size, true)?, Arc::clone(budget));
        let tracing = {
            let _g = TRACING_STAGE.lock().unwrap();
            TracingStage::new(tracer)
        };
        // Input-to-state replaces operands the last trace logged; with none logged (a target
        // that compares nothing the input reaches) every mutation of the stage would be skipped
        // without a run, after drawing its random numbers: skip the whole stage instead.
        let i2s = IfStage::new(
            |_: &mut _, _: &mut _, state: &mut State, _: &mut _| {
                Ok(state.metadata_map().get::<CmpValuesMetadata>().is_some_and(|m| !m.list.is_empty()))
            },
            tuple_list!(StdMutationalStage::new(HavocScheduledMutator::new(tuple_list!(I2SRandReplace::new())))),
        );
        let mut stages = tuple_list!(tracing, i2s, havoc);
        w.fuzz(&mut fuzzer, &mut stages, &mut state, &mut executor, &mut mgr)
    } else {
        let mut stages = tuple_list!(havoc);
        w.fuzz(&mut fuzzer, &mut stages, &mut state, &mut executor, &mut mgr)
    }
}

/// A worker's bookkeeping around LibAFL's loop.
struct Worker<'a> {
    k: usize,
    shared: &'a Shared,
    tx: &'a mpsc::Sender<Msg>,
    /// Corpus entries already published or imported.
    known: usize,
    /// Position in the shared list.
    cursor: usize,
}

fn edges_of<S: HasNamedMetadata>(state: &S) -> usize {
    state
        .named_metadata::<MapFeedbackMetadata<u8>>("edges")
        .map(|m| m.history_map.iter().filter(|&&b| b != 0).count())
        .unwrap_or(0)
}

impl Worker<'_> {
    fn findings<OT>(&self, executor: &mut CovExecutor<OT>) {
        for f in executor.take_findings() {
            let _ = self.tx.send(Msg::Finding(f));
        }
    }

    /// Sends this worker's new corpus entries to the campaign and the other workers.
    fn publish<S>(&mut self, state: &S)
    where
        S: HasCorpus<BytesInput> + HasNamedMetadata,
    {
        let n = state.corpus().count();
        if n == self.known {
            return;
        }
        let edges = edges_of(state);
        let mut list = self.shared.lock().unwrap();
        for i in self.known..n {
            let Ok(input) = state.corpus().cloned_input_for_id(CorpusId(i)) else { continue };
            let bytes: Vec<u8> = AsRef::<Vec<u8>>::as_ref(&input).clone();
            list.push((self.k, bytes.clone()));
            let _ = self.tx.send(Msg::New { input: bytes, edges });
        }
        self.known = n;
    }

    /// Evaluates the other workers' new entries.
    fn import<Z, S, E>(&mut self, fuzzer: &mut Z, state: &mut S, executor: &mut E, mgr: &mut NopEventManager) -> Result<(), TargetError>
    where
        Z: Evaluator<E, NopEventManager, BytesInput, S>,
        S: HasCorpus<BytesInput>,
    {
        let fresh: Vec<Vec<u8>> = {
            let list = self.shared.lock().unwrap();
            let v = list[self.cursor..].iter().filter(|(w, _)| *w != self.k).map(|(_, b)| b.clone()).collect();
            self.cursor = list.len();
            v
        };
        for b in fresh {
            match fuzzer.evaluate_input(state, executor, mgr, &BytesInput::new(b)) {
                Ok(_) => {}
                Err(libafl::Error::ShuttingDown) => break,
                Err(e) => return Err(TargetError::Monitor(e.to_string())),
            }
        }
        self.known = state.corpus().count();
        Ok(())
    }

    fn fuzz<Z, ST, S, OT>(
        &mut self,
        fuzzer: &mut Z,
        stages: &mut ST,
        state: &mut S,
        executor: &mut CovExecutor<OT>,
        mgr: &mut NopEventManager,
    ) -> Result<(), TargetError>
    where
        Z: Fuzzer<CovExecutor<OT>, NopEventManager, BytesInput, S, ST> + Evaluator<CovExecutor<OT>, NopEventManager, BytesInput, S>,
        S: HasCorpus<BytesInput> + HasNamedMetadata + HasExecutions,
    {
        let mut last_edges = 0;
        loop {
            let r = fuzzer.fuzz_one(stages, executor, state, mgr);
            self.findings(executor);
            self.publish(state);
            match r {
                Ok(_) => {}
                Err(libafl::Error::ShuttingDown) => return Ok(()),
                Err(e) => return Err(TargetError::Monitor(e.to_string())),
            }
            self.import(fuzzer, state, executor, mgr)?;
            let e = edges_of(state);
            if e != last_edges {
                last_edges = e;
                let _ = self.tx.send(Msg::Edges(e));
            }
        }
    }
}
