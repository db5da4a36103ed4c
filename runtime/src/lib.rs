//! Berth, a servlet-style WebSocket container.
//!
//! Administrators drop web contexts — a `jeus-web-dd.xml` descriptor plus an endpoint plugin
//! library — into the apps directory; Berth serves each under its own context path with its
//! own pool, limits and timeouts. This crate is the container; plugin authors use the
//! `endpoint-api` crate instead.
//!
//! Modules, one responsibility each:
//! - [`config`]: the server configuration and descriptors — parse, validate, clamp, report
//!   every problem with file, line and column. Pure: no sockets, no clocks.
//! - [`deploy`]: finding contexts in the apps directory and deciding what each serves.
//! - [`command`]: the `berth` subcommands as library functions (`main.rs` only parses the
//!   command line).

pub mod command;
pub mod config;
pub mod deploy;
