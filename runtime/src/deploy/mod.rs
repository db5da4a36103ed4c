//! Deployment: finding web contexts under the apps directory and turning each into a served
//! context.
//!
//! `scanner` reads context directories (descriptor, plugin library, context path) without
//! loading any code; `launch` loads a scanned context's plugin and assembles the context.
//! Watching the directory and redeploying build on them: `watcher` notices changes (inotify
//! and a periodic look) and has the `deployer` look again; `settle` keeps a directory whose
//! files are still changing out of that look.

pub(crate) mod deployer;
pub(crate) mod launch;
pub(crate) mod plan;
pub mod scanner;
mod settle;
pub(crate) mod watcher;
