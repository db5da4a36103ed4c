//! The plugin boundary, host side: loading libraries, creating instances, calling their
//! callbacks, and serving their calls to the host.
//!
//! Loading is three steps: `stage` copies the library where only this process can reach it
//! (a sealed memory file, opened by descriptor), `probe` opens that copy first in a
//! short-lived child process so that a crashing or hanging initialiser cannot take the
//! server down, and `loader` opens it in the server only when the child said it passed.
//!
//! `unsafe` lives here and nowhere else in the runtime (but `memory`): `stage` (the memory
//! file and its seals), `loader` (opening libraries and reading the exported table),
//! `instance` (calling callbacks with lent data) and `host` (the services the plugin calls,
//! each catching panics). Everything that crosses is `#[repr(C)]` from `endpoint_api::abi`;
//! the rules are documented in that crate.

mod host;
mod instance;
mod loader;
mod probe;
mod stage;
mod verdict;

pub(crate) use host::{host_api, host_context};
pub use instance::EndpointInfo;
pub(crate) use instance::PluginInstance;
pub use loader::{LoadError, LoadProblem, PluginLibrary, load, probe};
pub use probe::{PROBE_TIMEOUT, ProbeReport, Prober, SUBCOMMAND as PROBE_SUBCOMMAND, answer};
