//! The Berth plugin SDK: write WebSocket endpoints in safe Rust and build them as a `cdylib`
//! that the `berth` container loads from a web context's directory.
//!
//! # From `cargo new` to a deployed context
//! **1. The crate.** A plugin is a library crate built as a dynamic library:
//!
//! ```sh
//! cargo new --lib poll && cd poll
//! ```
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! # a clone of Berth beside this crate; build against the SDK of the server you deploy to
//! endpoint-api = { path = "../berth/endpoint-api" }
//! ```
//!
//! `serde` and `serde_json` come with the SDK ([`serde`], [`json`]): no other dependency is
//! needed to derive message types.
//!
//! **2. The endpoint.** Implement [`Endpoint`] and declare it with [`plugin!`]. A poll: a
//! client must name itself (or the handshake is refused with 403 before any upgrade), each
//! session keeps its voter as typed state, votes arrive as JSON, and everyone hears the
//! count:
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use endpoint_api::serde::Deserialize;
//! use endpoint_api::{
//!     Accept, CloseInfo, CloseReason, Endpoint, ErrorKind, Handshake, Lock, LogLevel,
//!     PluginContext, Refuse, Session, SessionError, Text,
//! };
//!
//! /// A vote as clients send it: `{"choice": "tea"}`.
//! #[derive(Deserialize)]
//! #[serde(crate = "endpoint_api::serde")]
//! struct Vote {
//!     choice: String,
//! }
//!
//! /// What each session keeps.
//! #[derive(Default)]
//! struct Voter {
//!     name: String,
//!     votes: u32,
//! }
//!
//! /// One poll per deployed context.
//! struct Poll {
//!     ctx: PluginContext,
//!     counts: Lock<BTreeMap<String, u32>>,
//! }
//!
//! impl Endpoint for Poll {
//!     type State = Voter;
//!     const DECIDES_HANDSHAKES: bool = true; // ask on_handshake before the upgrade
//!
//!     fn on_handshake(&self, handshake: &Handshake) -> Result<Accept, Refuse> {
//!         match handshake.query_param("name") {
//!             Some(name) if !name.is_empty() => Ok(Accept::new()),
//!             _ => Err(Refuse::forbidden().with_body("name yourself: ?name=YOU")),
//!         }
//!     }
//!
//!     fn on_open(&self, _: &Session, handshake: &Handshake) -> Result<Voter, CloseReason> {
//!         let name = handshake.query_param("name").unwrap_or_default().to_owned();
//!         Ok(Voter { name, votes: 0 })
//!     }
//!
//!     fn on_text(&self, _: &Session, voter: &mut Voter, text: Text<'_>) {
//!         let Some(Vote { choice }) = text.json() else { return }; // on_error follows
//!         voter.votes += 1;
//!         let count = {
//!             let mut counts = self.counts.lock();
//!             let count = counts.entry(choice.clone()).or_default();
//!             *count += 1;
//!             *count
//!         };
//!         let everyone = self.ctx.sessions().unwrap_or_default();
//!         let news = format!("{choice}: {count} ({} voted)", voter.name);
//!         let _ = self.ctx.broadcast_text(&everyone, &news);
//!     }
//!
//!     fn on_error(&self, session: &Session, _: &mut Voter, error: &SessionError) {
//!         if error.kind == ErrorKind::Decode {
//!             let _ = session.send_text(r#"send {"choice": "..."}"#);
//!         }
//!     }
//!
//!     fn on_close(&self, session: &Session, voter: &mut Voter, info: &CloseInfo) {
//!         let line = format!("{} left after {} vote(s): {:?}", voter.name, voter.votes, info.cause);
//!         session.log(LogLevel::Info, &line);
//!     }
//! }
//!
//! endpoint_api::plugin! {
//!     "/" => |ctx| Poll { ctx: ctx.clone(), counts: Lock::default() },
//! }
//!
//! # fn main() {
//! // 3. Its unit test (in `#[cfg(test)]`): the mock host plays the server.
//! use endpoint_api::CloseCause;
//! use endpoint_api::mock::MockHost;
//!
//! let host = MockHost::deploy(&PLUGIN).unwrap();
//! assert_eq!(host.connect("/").unwrap_err().status(), 403);
//! let ann = host.connect("/?name=ann").unwrap();
//! host.text(&ann, r#"{"choice": "tea"}"#);
//! host.text(&ann, "tea!");
//! assert_eq!(
//!     host.sent_texts(ann.id()),
//!     ["tea: 1 (ann voted)", r#"send {"choice": "..."}"#],
//! );
//! host.close(&ann, CloseCause::ConnectionLost);
//! assert_eq!(host.logs()[0].message, "ann left after 1 vote(s): ConnectionLost");
//! # }
//! ```
//!
//! **3. Its tests.** `cargo test` runs them without a server: [`mock::MockHost`] deploys the
//! `PLUGIN` declaration that `plugin!` generates, routes URLs by the path templates and plays
//! the host's part (the end of the example above).
//!
//! **4. Build and deploy.** `cargo build --release` writes `target/release/libpoll.so`. A
//! context is a directory holding the library and a `jeus-web-dd.xml` (every element
//! optional; `init-param`s reach [`PluginContext::init_param`]); the directory's name is the
//! context path, and the endpoint templates are relative to it:
//!
//! ```sh
//! mkdir -p ../berth/apps/poll
//! cp target/release/libpoll.so ../berth/apps/poll/
//! cat > ../berth/apps/poll/jeus-web-dd.xml <<'XML'
//! <jeus-web-dd xmlns="http://www.tmaxsoft.com/xml/ns/jeus" version="8.0">
//!     <websocket/>
//! </jeus-web-dd>
//! XML
//! cd ../berth
//! target/release/berth check apps/poll    # opens the library as the server will
//! target/release/berth run                # serves ws://127.0.0.1:8080/poll/?name=ann
//! ```
//!
//! # A session's life
//! 1. [`Endpoint::on_handshake`] decides the upgrade on the context's pool, before the 101:
//!    [`Accept`] (a subprotocol, response headers such as cookies, initial user
//!    properties) or [`Refuse`] (an HTTP status 400–599, headers such as
//!    `WWW-Authenticate`, a short body). The host asks only endpoints that set
//!    [`DECIDES_HANDSHAKES`](Endpoint::DECIDES_HANDSHAKES), so the others cost no trip to
//!    the pool per handshake.
//! 2. [`Endpoint::on_open`] builds the session's typed [`State`](Endpoint::State).
//! 3. [`on_text`](Endpoint::on_text), [`on_binary`](Endpoint::on_binary),
//!    [`on_pong`](Endpoint::on_pong), [`on_error`](Endpoint::on_error) and async
//!    completions get `&mut` that state.
//! 4. Exactly one [`on_close`](Endpoint::on_close), however the session ended (clean close,
//!    lost connection, idle or pong timeout, limit violation, send timeout, slow consumer,
//!    undeploy, redeploy, shutdown), with the code, the reason and a typed [`CloseCause`];
//!    the state is dropped when it returns.
//!
//! Around the sessions, [`Endpoint::on_deploy`] runs once when the context is deployed and
//! [`Endpoint::on_undeploy`] once when it goes away ([`UndeployReason`]), after every
//! session's `on_close`. They are on the endpoint, not on a plugin-level object, so that
//! what an endpoint starts and stops lives next to the rest of it; a plugin with several
//! endpoints gets each one's hooks in declaration order.
//!
//! # What an endpoint sees
//! - **[`PluginContext`]**, given to each factory when the context is deployed: init-params,
//!   the context's open sessions, broadcast ([`PluginContext::broadcast_text`] encodes the
//!   frame once for all recipients), logging. One plugin instance exists per deployed
//!   context: two contexts loading the same library share nothing.
//! - **[`Session`]**, in every callback: id, handshake data (path parameters, query, headers,
//!   cookies, subprotocol, client address — all borrowed `Option<&str>`), user properties,
//!   blocking and asynchronous sends, close, idle timeout, batching, [`Session::log`].
//! - **Typed state** ([`Endpoint::State`]) for what only the session's own callbacks need:
//!   no lock, no map keyed by session id, no JSON. **User properties** ([`Session::get`],
//!   [`Session::set`]) for what the container or other sessions must see: they live in the
//!   host (so they survive failover with distributed properties) and cross the boundary as
//!   JSON.
//!
//! # Typed messages
//! Decoding is opt-in, per message: [`Text::json`] (any `serde` type), [`Text::parsed`] (any
//! `FromStr` type, e.g. a `bid 5` command) and [`Binary::json`]. They return `Option`; on a
//! failure the SDK calls [`on_error`](Endpoint::on_error) with [`ErrorKind::Decode`] right
//! after the callback returns (same session and state, before any other callback of the
//! session), so a bad message never panics and needs no error plumbing.
//!
//! The choice: stable Rust has no defaults for associated types, so a `type Message`
//! decoded before a typed callback would make every endpoint name one, typed or not, and an
//! endpoint taking several shapes of message would wrap them in an enum anyway. Decoding at
//! the call keeps untyped endpoints as short as before and puts the type where the value is
//! used, while the SDK still owns the failure path. Derive with the re-exported serde and
//! `#[serde(crate = "endpoint_api::serde")]` (see [`serde`]).
//!
//! # Asynchronous sends
//! [`Session::send_text_async`] returns at once and runs its closure on the context's pool
//! when the send completed, failed or timed out — once, before the session's `on_close`.
//! [`Session::send_text_async_token`] is the same send answered in
//! [`Endpoint::on_send_complete`] with the state, for completions that need it.
//!
//! # Threads
//! Callbacks of one session never overlap and run in arrival order; callbacks of different
//! sessions run concurrently. They run on the context's own thread pool, never on the
//! server's async I/O workers, so blocking in a callback (a blocking send, a database call)
//! is allowed and only holds this context's pool. Endpoints are therefore `Send + Sync`;
//! what they share between sessions needs a lock — [`Lock`] is a mutex a caught panic
//! does not poison (a `std::sync::Mutex` held by a callback that panicked stays poisoned
//! for every later session). The SDK itself starts no threads.
//!
//! # Closing, errors and panics
//! Returning `Err(CloseReason)` from `on_open` refuses the session with that code after
//! the upgrade (prefer [`Refuse`] in `on_handshake`, which answers before it). A
//! [`CloseReason`] can never carry 1005, 1006 or 1015, and its reason is cut to 123 bytes
//! on a character boundary. A panic in plugin code is caught: it is reported once, as one
//! log line through the host with the context, the session and the panic's location (the
//! SDK's panic hook keeps Rust's default stderr dump out of the server's log while plugin
//! code runs, and leaves every other panic to the previous hook); the session closes with
//! 1011, and the plugin keeps working. Errors are typed: [`HostError`] for host services,
//! [`PropertyError`], [`SessionError`] in `on_error`.
//!
//! # Testing
//! Host services are reached through the [`Host`] trait; [`mock::MockHost`] implements it in
//! memory, drives the plugin's whole life (handshakes, messages, completions, any close
//! cause, panics, undeploy) and records sends, closes, properties and logs.
//!
//! # The ABI
//! Under the safe API is a small, versioned `#[repr(C)]` ABI that this crate owns, described
//! in [`abi`]: two exported symbols, size-prefixed function tables that only grow at the end,
//! borrowed `(ptr, len)` slices, opaque generation-tagged session ids, status codes instead
//! of panics. `abi` is the only module with `unsafe` code, and plugin authors never need it.

#![deny(missing_docs)]

#[allow(unsafe_code)]
pub mod abi;
mod close;
mod context;
mod decision;
mod dispatch;
mod endpoint;
mod error;
mod guard;
mod handshake;
mod host;
mod id;
mod instance;
mod lifecycle;
mod lock;
mod macros;
mod message;
pub mod mock;
mod plugin;
mod record;
mod session;

pub use close::{CloseCause, CloseCodeError, CloseInfo, CloseReason, MAX_REASON_BYTES};
pub use context::PluginContext;
pub use decision::{Accept, Refuse, StatusCodeError};
pub use endpoint::Endpoint;
pub use error::{ErrorKind, HostError, PropertyError, SendError, SessionError};
pub use handshake::Handshake;
pub use host::{Host, LogLevel, MessageKind, SendMode};
pub use id::{EndpointId, SendToken, SessionId};
pub use lifecycle::UndeployReason;
pub use lock::Lock;
pub use message::{Binary, Text};
pub use plugin::{Declared, Plugin};
pub use session::Session;

/// `serde`, re-exported so that plugins need no dependency of their own to derive
/// `Serialize` and `Deserialize`. Derived code names its crate `serde` unless told otherwise,
/// so add `#[serde(crate = "endpoint_api::serde")]` next to the derive:
///
/// ```
/// use endpoint_api::serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// #[serde(crate = "endpoint_api::serde")]
/// struct Bid {
///     amount: u64,
/// }
///
/// let bid: Bid = endpoint_api::json::from_str(r#"{"amount": 5}"#).unwrap();
/// assert_eq!(bid, Bid { amount: 5 });
/// ```
pub use serde;

/// `serde_json`, re-exported as the SDK's JSON format: what [`Text::json`] decodes, what user
/// properties are stored as (`endpoint_api::json::Value`, `endpoint_api::json::json!`).
pub use serde_json as json;

/// Plumbing for [`plugin!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::dispatch::{Dispatch, Factory, boxed, decides};
    pub use crate::plugin::Declared;
}
