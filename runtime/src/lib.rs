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
//! - [`executor`]: the per-context callback pool — growth, back-pressure, per-session
//!   ordering, reserved timeout threads. No tokio inside.
//! - `plugin`: the plugin boundary, host side — loading, version checks, calling callbacks,
//!   serving host services. The only module with `unsafe`.
//! - `context`: one deployed web context — plugin instance, endpoint table, pool, sessions.
//! - `http`: the listener, the opening handshake, routing by context path and template.
//! - `codec`: frames in and out, behind one interface (our own RFC 6455/7692 codec with permessage-deflate).
//! - `session`: one connection from `on_open` to exactly one `on_close`.
//! - `memory`: the allocator's policy — keep freed memory under load, give it back after
//!   many sessions closed (besides `plugin`, the one other place with `unsafe`: `mallopt`
//!   and `malloc_trim`).
//! - `limits`: the process's resource limits (the open-files soft limit raised to the hard
//!   one at start; `getrlimit`/`setrlimit` are its `unsafe`).
//! - `admin`: the admin listener — a JSON API over HTTP/1.1 to list contexts and to
//!   deploy, redeploy and undeploy one; `berth status` reads it.
//! - [`command`]: the `berth` subcommands as library functions (`main.rs` only parses the
//!   command line).
//! - `text`: header list syntax (elements split outside quoted strings) that `http` and
//!   `codec` both read; it imports nothing of the crate.

mod admin;
mod codec;
pub mod command;
pub mod config;
pub mod container;
mod context;
pub mod deploy;
pub mod executor;
mod http;
#[cfg(test)]
mod layering;
mod limits;
mod memory;
pub mod plugin;
mod session;
mod text;
