//! `pltvm._core.FuzzTarget`: the fuzzing engine (crate pltvm-fuzz) for `pltvm.fuzz`. Plain
//! Python values in and out; campaigns run with the GIL released, and take it back only for
//! progress events, signal checks (about every 20 ms) and the optional Python oracle.
use pltvm_fuzz::executor::Check;
use pltvm_fuzz::{campaign, Event, Finding, Options, Outcome, Progress, Runner, Target};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[pyclass(module = "pltvm._core", frozen)]
pub struct FuzzTarget {
    target: Arc<Target>,
    /// For `run_one`: a runner kept between calls (its hart keeps decoded code).
    runner: Mutex<Option<Runner>>,
    map_size: usize,
}

impl FuzzTarget {
    /// The engine's target (for `gdb_serve_fuzz`, debug.rs).
    pub(crate) fn core(&self) -> &Arc<Target> {
        &self.target
    }
}

fn err(e: pltvm_fuzz::TargetError) -> PyErr {
    match e {
        pltvm_fuzz::TargetError::Monitor(m) => PyRuntimeError::new_err(m),
        e => PyValueError::new_err(e.to_string()),
    }
}

/// (kind, retval, fault) of an outcome; fault = (cause, pc, tval, ecall or None).
fn outcome<'py>(py: Python<'py>, o: &Outcome) -> PyResult<Bound<'py, PyTuple>> {
    let none = py.None();
    match o {
        Outcome::Ok { retval } => (o.kind(), *retval, none).into_pyobject(py),
        Outcome::Timeout => (o.kind(), py.None(), none).into_pyobject(py),
        Outcome::Crash(f) => (o.kind(), py.None(), (f.cause, f.pc, f.tval, f.ecall)).into_pyobject(py),
    }
}

fn progress<'py>(py: Python<'py>, p: &Progress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("executions", p.executions)?;
    d.set_item("elapsed", p.elapsed.as_secs_f64())?;
    d.set_item("edges", p.edges)?;
    d.set_item("corpus", p.corpus)?;
    Ok(d)
}

fn finding<'py>(py: Python<'py>, f: &Finding) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", f.kind)?;
    d.set_item("input", PyBytes::new(py, &f.input))?;
    d.set_item("outcome", outcome(py, &f.outcome)?)?;
    d.set_item("message", f.message.clone())?;
    Ok(d)
}

#[pymethods]
impl FuzzTarget {
    /// The enclave ELF made a shadow template; inputs of at most `max_len` bytes, runs of at
    /// most `max_instructions` instructions; `map_size` edge-map entries (power of two). With
    /// `deferred`, a target that calls `pl_fuzz_input` within `max_init_instructions` of its
    /// start is snapshotted there (pltvm_fuzz::deferred). `engine`: "interp" or "jit" (None:
    /// the host's default); both give the same coverage, so the same campaign.
    #[new]
    #[pyo3(signature = (elf, *, max_len, max_instructions, map_size=65536, deferred=true, max_init_instructions=None, engine=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        elf: Vec<u8>,
        max_len: usize,
        max_instructions: u64,
        map_size: usize,
        deferred: bool,
        max_init_instructions: Option<u64>,
        engine: Option<&str>,
    ) -> PyResult<Self> {
        let engine = match engine {
            Some(e) => pltvm_core::jit::Engine::parse(e)
                .ok_or_else(|| PyValueError::new_err(format!("engine must be \"interp\" or \"jit\", not {e:?}")))?,
            None => pltvm_core::jit::Engine::default(),
        };
        if !map_size.is_power_of_two() || map_size < 64 || map_size > 1 << 24 {
            return Err(PyValueError::new_err(format!("map_size must be a power of two in [64, 2**24], got {map_size}")));
        }
        let init = deferred.then(|| max_init_instructions.unwrap_or(pltvm_fuzz::deferred::DEFAULT_MAX_INIT_INSTRUCTIONS));
        let target = py.detach(|| Target::with_engine(&elf, max_len, max_instructions, init, engine)).map_err(err)?;
        Ok(FuzzTarget { target, runner: Mutex::new(None), map_size })
    }

    #[getter]
    fn shm_size(&self) -> usize {
        self.target.shm_size()
    }

    /// Executions fork the deferred snapshot (the target called `pl_fuzz_input`).
    #[getter]
    fn deferred(&self) -> bool {
        self.target.deferred()
    }

    /// The initialisation run, or None when it was not made: (instructions, output, how it
    /// ended as (kind, retval, fault) or None when it paused in `pl_fuzz_input`).
    #[getter]
    fn init<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let Some(i) = &self.target.init else { return Ok(None) };
        let ended = i.ended.as_ref().map(|o| outcome(py, o)).transpose()?;
        Ok(Some((i.instret, PyBytes::new(py, &i.output), ended).into_pyobject(py)?))
    }

    /// Runs one input in a fresh fork: (kind, retval, fault, output, instret, edges hit).
    fn run_one<'py>(&self, py: Python<'py>, data: Vec<u8>) -> PyResult<Bound<'py, PyTuple>> {
        let (o, output, instret, edges) = py
            .detach(|| {
                let mut g = self.runner.lock().unwrap();
                if g.is_none() {
                    *g = Some(Runner::new(Arc::clone(&self.target), self.map_size, false)?);
                }
                let r = g.as_mut().expect("just set");
                r.hits().clear();
                match r.run(&data) {
                    Ok(x) => {
                        let edges = r.edges_hit();
                        Ok((x.outcome, x.output, x.instret, edges))
                    }
                    Err(e) => {
                        // Start over with a fresh runner next time.
                        *g = None;
                        Err(e)
                    }
                }
            })
            .map_err(err)?;
        let (kind, retval, fault) = outcome(py, &o)?.extract::<(String, Py<PyAny>, Py<PyAny>)>()?;
        (kind, retval, fault, PyBytes::new(py, &output), instret, edges).into_pyobject(py)
    }

    /// A campaign (see pltvm.fuzz.Fuzzer.run). `on_event(kind, progress, payload)` is called
    /// on this thread for "new" (payload: the input), "pulse" and "finding" (payload: a dict);
    /// an exception from it, or a signal (Ctrl-C), stops the campaign (then `interrupted`).
    /// `check(kind, retval, input, output)` may raise to turn an ok run into a finding.
    #[pyo3(signature = (seeds, *, seed, jobs, cmplog, tokens, runs, max_total_time, stop_on_finding, pulse, on_event=None, check=None))]
    #[allow(clippy::too_many_arguments)]
    fn fuzz<'py>(
        &self,
        py: Python<'py>,
        seeds: Vec<Vec<u8>>,
        seed: u64,
        jobs: usize,
        cmplog: bool,
        tokens: Vec<Vec<u8>>,
        runs: Option<u64>,
        max_total_time: Option<f64>,
        stop_on_finding: bool,
        pulse: f64,
        on_event: Option<Py<PyAny>>,
        check: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        if jobs == 0 || jobs > 256 {
            return Err(PyValueError::new_err(format!("jobs must be in [1, 256], got {jobs}")));
        }
        let secs = |v: f64, what: &str| {
            Duration::try_from_secs_f64(v).map_err(|_| PyValueError::new_err(format!("{what} must be a non-negative number of seconds, got {v}")))
        };
        let max_time = max_total_time.map(|t| secs(t, "max_total_time")).transpose()?;
        let pulse = secs(pulse, "pulse")?;
        let check: Option<Check> = check.map(|c| {
            let c = Arc::new(c);
            let f: Check = Arc::new(move |o: &Outcome, input: &[u8], output: &[u8]| {
                Python::attach(|py| {
                    let (kind, retval, _) = outcome(py, o).and_then(|t| t.extract::<(String, Py<PyAny>, Py<PyAny>)>()).map_err(|e| e.to_string())?;
                    c.call1(py, (kind, retval, PyBytes::new(py, input), PyBytes::new(py, output)))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            });
            f
        });
        let opts = Options {
            seed,
            jobs,
            cmplog,
            map_size: self.map_size,
            tokens,
            runs,
            max_time,
            stop_on_finding,
            pulse,
            check,
        };
        let mut py_err: Option<PyErr> = None;
        let report = py
            .detach(|| {
                campaign::run(&self.target, &seeds, &opts, &mut |ev| {
                    Python::attach(|py| {
                        let r: PyResult<()> = (|| {
                            py.check_signals()?;
                            let Some(cb) = &on_event else { return Ok(()) };
                            match ev {
                                Event::Tick => Ok(()),
                                Event::New { input, progress: p } => {
                                    cb.call1(py, ("new", progress(py, p)?, PyBytes::new(py, input))).map(|_| ())
                                }
                                Event::Pulse(p) => cb.call1(py, ("pulse", progress(py, p)?, py.None())).map(|_| ()),
                                Event::Finding { finding: f, progress: p } => {
                                    cb.call1(py, ("finding", progress(py, p)?, finding(py, f)?)).map(|_| ())
                                }
                            }
                        })();
                        match r {
                            Ok(()) => true,
                            Err(e) => {
                                py_err.get_or_insert(e);
                                false
                            }
                        }
                    })
                })
            })
            .map_err(err)?;
        let d = progress(py, &report.progress)?;
        let findings = PyList::empty(py);
        for f in &report.findings {
            findings.append(finding(py, f)?)?;
        }
        d.set_item("findings", findings)?;
        d.set_item("corpus_entries", report.corpus.iter().map(|c| PyBytes::new(py, c)).collect::<Vec<_>>())?;
        d.set_item("interrupted", report.interrupted)?;
        d.set_item("error", py_err.map(|e| e.into_value(py)))?;
        Ok(d)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FuzzTarget>()
}
