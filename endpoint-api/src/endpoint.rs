//! The [`Endpoint`] trait: what a plugin author implements.

use crate::close::{CloseInfo, CloseReason};
use crate::error::{SendError, SessionError};
use crate::handshake::Handshake;
use crate::id::SendToken;
use crate::session::Session;

/// A WebSocket endpoint: one value per declared path per deployed context, shared by all of
/// its sessions (hence `Sync`: keep per-session state in user properties or behind a lock).
///
/// Every method has a default, so implement only what you need. Callbacks of one session
/// never overlap and run in arrival order, on the context's own thread pool (never on the
/// server's I/O threads); callbacks of different sessions run concurrently. Blocking (a
/// blocking send, a database call) is allowed: it holds only this context's pool.
///
/// A panic is caught: the session closes with 1011, the panic is logged with the context and
/// the session, and the endpoint keeps serving its other sessions.
///
/// ```
/// use endpoint_api::{CloseInfo, CloseReason, Endpoint, Handshake, Session};
///
/// struct Greeter;
///
/// impl Endpoint for Greeter {
///     fn on_open(&self, session: &Session, handshake: &Handshake) -> Result<(), CloseReason> {
///         let Some(name) = handshake.query_param("name") else {
///             return Err(CloseReason::policy_violation().with_reason("name required"));
///         };
///         session.set("name", &name).map_err(|_| CloseReason::internal_error())?;
///         let _ = session.send_text(&format!("hello, {name}"));
///         Ok(())
///     }
///
///     fn on_text(&self, session: &Session, text: &str) {
///         let _ = session.send_text(text);
///     }
///
///     fn on_close(&self, session: &Session, info: &CloseInfo) {
///         let name: Option<String> = session.get("name").ok().flatten();
///         let _ = (name, info.cause); // e.g. tell the others who left and why
///     }
/// }
/// ```
pub trait Endpoint: Send + Sync + 'static {
    /// A session was accepted. `Err` closes it with that code and reason (`on_close`
    /// follows). The default accepts.
    fn on_open(&self, session: &Session, handshake: &Handshake) -> Result<(), CloseReason> {
        let _ = (session, handshake);
        Ok(())
    }

    /// A whole text message arrived. The default ignores it.
    fn on_text(&self, session: &Session, text: &str) {
        let _ = (session, text);
    }

    /// A whole binary message arrived. The default ignores it.
    fn on_binary(&self, session: &Session, data: &[u8]) {
        let _ = (session, data);
    }

    /// A pong arrived (an answer to a ping, or unsolicited). The default ignores it.
    fn on_pong(&self, session: &Session, data: &[u8]) {
        let _ = (session, data);
    }

    /// The session ended: called exactly once, last, for every session that was opened,
    /// however it ended. User properties are still readable; sends fail. The default does
    /// nothing.
    fn on_close(&self, session: &Session, info: &CloseInfo) {
        let _ = (session, info);
    }

    /// Something went wrong on the session (an `on_close` usually follows). The default does
    /// nothing; the host has logged it.
    fn on_error(&self, session: &Session, error: &SessionError) {
        let _ = (session, error);
    }

    /// An asynchronous send ([`Session::send_text_async`]) finished. The default does
    /// nothing.
    fn on_send_complete(&self, session: &Session, token: SendToken, result: Result<(), SendError>) {
        let _ = (session, token, result);
    }
}
