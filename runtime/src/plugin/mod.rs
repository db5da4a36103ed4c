//! The plugin boundary, host side: loading libraries, creating instances, calling their
//! callbacks, and serving their calls to the host.
//!
//! `unsafe` lives here and nowhere else in the runtime: `loader` (opening libraries and
//! reading the exported table), `instance` (calling callbacks with lent data) and `host`
//! (the services the plugin calls, each catching panics). Everything that crosses is
//! `#[repr(C)]` from `endpoint_api::abi`; the rules are documented in that crate.

mod host;
mod instance;
mod loader;

pub(crate) use host::{host_api, host_context};
pub use instance::EndpointInfo;
pub(crate) use instance::{OpenArgs, PluginInstance};
pub use loader::{LoadError, PluginLibrary, load};
