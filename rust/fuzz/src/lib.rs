//! pltvm-fuzz: coverage-guided fuzzing of enclaves with LibAFL.
//!
//! - [`target`]: the harness contract (fork, input in shm, run, classify, destroy), no LibAFL.
//! - [`deferred`]: the deferred snapshot of targets that call `pl_fuzz_input`.
//! - [`executor`]: LibAFL executors over a [`target::Runner`], the cmplog observer.
//! - [`campaign`]: the fuzzing loop on worker threads.
pub mod campaign;
pub mod deferred;
pub mod executor;
pub mod target;

pub use campaign::{run, Event, Options, Progress, Report};
pub use deferred::Init;
pub use executor::Finding;
pub use target::{Execution, Fault, Outcome, Runner, Target, TargetError};
