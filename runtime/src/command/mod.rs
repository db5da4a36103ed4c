//! The subcommands of the `berth` binary, as library functions the thin `main.rs` calls.
//!
//! `check` validates files without starting anything; `run` starts the container, and
//! `reload` is what it does with the server configuration on SIGHUP; `status` asks a running
//! container's admin listener for its contexts. Each subcommand writes its report to the
//! writer it is given (or the log) and returns what the exit code should say.

pub mod check;
mod reload;
pub mod run;
pub mod status;
