//! HTTP: the listener, the WebSocket opening handshake and routing to contexts.
//!
//! `accept` takes connections off the listener (pausing while the process is out of file
//! descriptors or memory), `route` finds the context and endpoint for a path, `handshake`
//! validates the request and chooses the subprotocol, `origin` applies the context's Origin
//! policy, `server` runs the hyper listener and hands upgraded connections to their context.
//! This module never runs plugin code and never reads frames.

mod accept;
pub(crate) mod forwarded;
pub(crate) mod handshake;
pub(crate) mod origin;
pub(crate) mod route;
pub(crate) mod server;
