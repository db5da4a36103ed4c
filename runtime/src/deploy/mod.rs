//! Deployment: finding web contexts under the apps directory and deciding what each serves.
//!
//! `scanner` reads context directories (descriptor, plugin library, context path) without
//! loading any code. Loading plugins, watching the directory and redeploying build on it.

pub mod scanner;
