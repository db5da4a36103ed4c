//! HTTP: the listener, the WebSocket opening handshake and routing to contexts.
//!
//! `accept` takes connections off the listener (pausing while the process is out of file
//! descriptors or memory), `server` runs the hyper listener and answers refusals, `upgrade`
//! takes each request through its steps (route, validate, negotiate, admit, answer, hand
//! over) to a session of its context. The steps use `route` (the context and endpoint for a
//! path), `handshake` (the request's validity, its subprotocol, the accept key), `origin` (the
//! context's Origin policy) and `codec`'s permessage-deflate negotiation; `forwarded` says who
//! the client is behind trusted proxies. This module never runs plugin code and never reads
//! frames.

pub(crate) mod accept;
mod decision;
pub(crate) mod forwarded;
pub(crate) mod handshake;
pub(crate) mod origin;
pub(crate) mod route;
pub(crate) mod server;
#[cfg(test)]
mod testing;
mod upgrade;
