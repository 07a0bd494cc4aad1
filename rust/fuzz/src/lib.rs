//! pltvm-fuzz: coverage-guided fuzzing of enclaves with LibAFL.
//!
//! - [`target`]: the harness contract (fork, input in shm, run, classify, destroy), no LibAFL.
//! - [`executor`]: LibAFL executors over a [`target::Runner`], the cmplog observer.
//! - [`campaign`]: the fuzzing loop on worker threads.
pub mod campaign;
pub mod executor;
pub mod target;

pub use campaign::{run, Event, Options, Progress, Report};
pub use executor::Finding;
pub use target::{Execution, Fault, Outcome, Runner, Target, TargetError};
