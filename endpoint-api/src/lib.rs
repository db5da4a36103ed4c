//! The Berth plugin SDK: write WebSocket endpoints in safe Rust and build them as a `cdylib`
//! that the `berth` container loads from a web context's directory.
//!
//! # Writing a plugin
//! A plugin is a library crate built as a dynamic library:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! endpoint-api = { path = "../../endpoint-api" }
//! ```
//!
//! Implement [`Endpoint`] for each endpoint and declare them once with [`plugin!`]. A complete
//! echo plugin, with its unit test:
//!
//! ```
//! use endpoint_api::{CloseReason, Endpoint, Handshake, PluginContext, Session};
//!
//! /// Echoes text and binary messages; greets with the `greeting` init-param.
//! pub struct Echo {
//!     greeting: Option<String>,
//! }
//!
//! impl Echo {
//!     pub fn new(ctx: &PluginContext) -> Echo {
//!         Echo { greeting: ctx.init_param("greeting").map(str::to_owned) }
//!     }
//! }
//!
//! impl Endpoint for Echo {
//!     fn on_open(&self, session: &Session, _handshake: &Handshake) -> Result<(), CloseReason> {
//!         if let Some(greeting) = &self.greeting {
//!             session.send_text(greeting).map_err(|_| CloseReason::internal_error())?;
//!         }
//!         Ok(())
//!     }
//!
//!     fn on_text(&self, session: &Session, text: &str) {
//!         let _ = session.send_text(text);
//!     }
//!
//!     fn on_binary(&self, session: &Session, data: &[u8]) {
//!         let _ = session.send_binary(data);
//!     }
//! }
//!
//! endpoint_api::plugin! {
//!     "/" => |ctx| Echo::new(ctx),
//! }
//!
//! # fn main() {
//! // In the plugin's tests: drive the endpoint against the mock host.
//! use endpoint_api::mock::{MockHost, Sent};
//!
//! let host = MockHost::with_init_params([("greeting", "welcome")]);
//! let echo = Echo::new(&host.context());
//! let session = host.connect(Handshake::new("/"));
//! echo.on_open(&session, session.handshake()).unwrap();
//! echo.on_text(&session, "ping?");
//! echo.on_binary(&session, &[1, 2, 3]);
//! assert_eq!(
//!     host.sent(session.id()),
//!     [Sent::Text("welcome".into()), Sent::Text("ping?".into()), Sent::Binary(vec![1, 2, 3])],
//! );
//! # }
//! ```
//!
//! Build it (`cargo build --release`) and put the `.so` with a `jeus-web-dd.xml` into a
//! directory under `apps/`: the context path is the directory name, the endpoint paths are
//! relative to it.
//!
//! # What an endpoint sees
//! - **[`PluginContext`]**, given to each factory when the context is deployed: init-params,
//!   the context's open sessions, broadcast ([`PluginContext::broadcast_text`] encodes the
//!   frame once for all recipients), logging. One plugin instance exists per deployed
//!   context: two contexts loading the same library share nothing.
//! - **[`Session`]**, in every callback: id, handshake data (path parameters, query, headers,
//!   cookies, subprotocol, client address), user properties (JSON values via serde), blocking
//!   and asynchronous sends, close, idle timeout, batching.
//! - **Handshake data stays readable** for the whole session: the SDK copies the handshake at
//!   `on_open` into the plugin instance and drops it after `on_close`. (The host does not
//!   keep serving it; this keeps the ABI small and the lookups in-process.)
//! - **User properties** live in the host (so they survive failover with distributed
//!   properties) and cross the boundary as JSON text.
//!
//! # Threads
//! Callbacks of one session never overlap and run in arrival order; callbacks of different
//! sessions run concurrently. They run on the context's own thread pool, never on the
//! server's async I/O workers, so blocking in a callback (a blocking send, a database call)
//! is allowed and only holds this context's pool. Endpoints are therefore `Send + Sync`.
//! The SDK itself starts no threads.
//!
//! # Closing and errors
//! Every session ends with exactly one [`Endpoint::on_close`], however it ended (clean close,
//! lost connection, idle or pong timeout, limit violation, send timeout, slow consumer, undeploy,
//! redeploy, shutdown), with the code, the reason and a typed [`CloseCause`]. Returning
//! `Err(CloseReason)` from `on_open` refuses the session with that code. A [`CloseReason`]
//! can never carry 1005, 1006 or 1015, and its reason is cut to 123 bytes on a character
//! boundary. A panic in a callback is caught: that session closes with 1011, the panic is
//! logged with the context and session, and the plugin keeps working.
//!
//! # Testing
//! Host services are reached through the [`Host`] trait; [`mock::MockHost`] implements it in
//! memory and records sends, closes, properties and logs, so endpoints are unit-tested
//! without a server (see above).
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
mod endpoint;
mod error;
mod handshake;
mod host;
mod id;
mod instance;
mod macros;
pub mod mock;
mod session;

pub use close::{CloseCause, CloseCodeError, CloseInfo, CloseReason, MAX_REASON_BYTES};
pub use context::PluginContext;
pub use endpoint::Endpoint;
pub use error::{ErrorKind, HostError, PropertyError, SendError, SessionError};
pub use handshake::Handshake;
pub use host::{Host, LogLevel, MessageKind, SendMode};
pub use id::{EndpointId, SendToken, SessionId};
pub use session::Session;

/// Plumbing for [`plugin!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::instance::{Factory, boxed};
}
