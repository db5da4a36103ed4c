//! The subcommands of the `berth` binary, as library functions the thin `main.rs` calls.
//!
//! `check` validates files without starting anything; `run` starts the container; `status`
//! asks a running container's admin listener for its contexts. Each writes its report to the
//! writer it is given and returns what the exit code should say.

pub mod check;
pub mod run;
pub mod status;
