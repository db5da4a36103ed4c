//! The [`Endpoint`] trait: what a plugin author implements.

use crate::close::{CloseInfo, CloseReason};
use crate::decision::{Accept, Refuse};
use crate::error::{SendError, SessionError};
use crate::handshake::Handshake;
use crate::id::SendToken;
use crate::lifecycle::UndeployReason;
use crate::message::{Binary, Text};
use crate::session::Session;

/// A WebSocket endpoint: one value per declared path per deployed context, shared by all of
/// its sessions (hence `Sync`), with a typed [`State`](Endpoint::State) per session.
///
/// Every method has a default, so implement only what you need; `type State` is the one
/// line every endpoint writes (`type State = ();` when sessions need nothing of their own).
///
/// # A session's life
/// [`on_handshake`](Endpoint::on_handshake) decides the upgrade (before any session
/// exists), [`on_open`](Endpoint::on_open) builds the session's state, then message callbacks,
/// [`on_error`](Endpoint::on_error)s and async completions get `&mut` that state, and exactly
/// one [`on_close`](Endpoint::on_close) ends it, however the session ended; the state is
/// dropped right after `on_close` returns.
///
/// # Threads
/// Callbacks of one session never overlap and run in arrival order, on the context's own
/// thread pool (never on the server's I/O threads); callbacks of different sessions run
/// concurrently. So the state needs no lock, while what the endpoint shares between sessions
/// does (see [`Lock`](crate::Lock)). Blocking (a blocking send, a database call) is allowed:
/// it holds only this context's pool.
///
/// # Panics
/// A panic is caught: it is logged once through the host with the context and the session,
/// the session closes with 1011 (`on_error` with [`ErrorKind::EndpointPanic`], then
/// `on_close`, still with the state), and the endpoint keeps serving its other sessions.
///
/// [`ErrorKind::EndpointPanic`]: crate::ErrorKind::EndpointPanic
///
/// ```
/// use endpoint_api::{CloseInfo, CloseReason, Endpoint, Handshake, Session, Text};
///
/// struct Greeter;
///
/// /// What each session keeps.
/// #[derive(Default)]
/// struct Visit {
///     name: String,
///     messages: u32,
/// }
///
/// impl Endpoint for Greeter {
///     type State = Visit;
///
///     fn on_open(&self, session: &Session, handshake: &Handshake) -> Result<Visit, CloseReason> {
///         let Some(name) = handshake.query_param("name") else {
///             return Err(CloseReason::policy_violation().with_reason("name required"));
///         };
///         let _ = session.send_text(&format!("hello, {name}"));
///         Ok(Visit { name: name.to_owned(), messages: 0 })
///     }
///
///     fn on_text(&self, session: &Session, visit: &mut Visit, text: Text<'_>) {
///         visit.messages += 1;
///         let _ = session.send_text(&text);
///     }
///
///     fn on_close(&self, _session: &Session, visit: &mut Visit, info: &CloseInfo) {
///         let _ = (&visit.name, visit.messages, info.cause); // tell the others who left, and why
///     }
/// }
/// ```
pub trait Endpoint: Send + Sync + 'static {
    /// What each session keeps between callbacks: built by [`on_open`](Endpoint::on_open),
    /// lent `&mut` to every later callback of that session, dropped after its `on_close`.
    ///
    /// `Default` because stable Rust has no default for an associated type: with it,
    /// `on_open` can have a default (`Ok(State::default())`) and an endpoint without state
    /// writes only `type State = ();`. It is also what `on_error` and `on_close` get for a
    /// session whose `on_open` refused it or panicked — so let the default mean "nothing
    /// yet" (an empty name, `None`), not a real member. `Send` because a session's callbacks
    /// may run on different pool threads, one after the other.
    type State: Default + Send + 'static;

    /// Whether the host asks [`on_handshake`](Endpoint::on_handshake) before the upgrade.
    /// Set it to `true` next to your `on_handshake`.
    ///
    /// Why a switch: asking costs every handshake of the context a trip to its pool (and
    /// with the pool saturated, a wait of up to the blocking-send timeout), and Rust cannot
    /// tell whether a trait's default method was overridden. So a plugin whose endpoints
    /// all leave this `false` costs the host nothing. Forgetting it is safe, never a bypass:
    /// the SDK then runs `on_handshake` itself right before `on_open` (after the upgrade) —
    /// a refusal closes the session with 1008 and the refusal's body as the reason, an
    /// acceptance's properties are set (its headers and subprotocol cannot be, after the
    /// 101) — and logs a warning once. The same fallback runs under a host older than ABI
    /// 1.2, which never asks.
    const DECIDES_HANDSHAKES: bool = false;

    /// Decides a handshake before the host answers it, on the context's pool: `Ok` upgrades
    /// (with [`Accept`]'s subprotocol, response headers and initial user properties), `Err`
    /// answers [`Refuse`]'s HTTP error and no session exists. Its time is bounded by the
    /// context's blocking-send timeout; a panic answers 500. The host asks only when
    /// [`DECIDES_HANDSHAKES`](Endpoint::DECIDES_HANDSHAKES) is `true` (see there for the
    /// fallback otherwise). The handshake's subprotocol is not chosen yet: the client's
    /// offers are in [`Handshake::offered_subprotocols`]. The default accepts unchanged.
    ///
    /// ```
    /// use endpoint_api::{Accept, Endpoint, Handshake, Refuse};
    ///
    /// struct Members;
    ///
    /// impl Endpoint for Members {
    ///     type State = ();
    ///     const DECIDES_HANDSHAKES: bool = true;
    ///
    ///     fn on_handshake(&self, handshake: &Handshake) -> Result<Accept, Refuse> {
    ///         match handshake.header("authorization") {
    ///             Some("Bearer let-me-in") => Ok(Accept::new().with_property("member", &true)?),
    ///             _ => Err(Refuse::unauthorized()
    ///                 .with_header("WWW-Authenticate", "Bearer")
    ///                 .with_body("members only")),
    ///         }
    ///     }
    /// }
    /// ```
    fn on_handshake(&self, handshake: &Handshake) -> Result<Accept, Refuse> {
        let _ = handshake;
        Ok(Accept::new())
    }

    /// A session was accepted: build its state. `Err` closes it with that code and reason
    /// (`on_close` follows, with `State::default()`, and no message callback). The default
    /// accepts with `State::default()`.
    fn on_open(
        &self,
        session: &Session,
        handshake: &Handshake,
    ) -> Result<Self::State, CloseReason> {
        let _ = (session, handshake);
        Ok(Self::State::default())
    }

    /// A whole text message arrived. Decode it with [`Text::json`] or [`Text::parsed`] where
    /// a typed value helps. The default ignores it.
    fn on_text(&self, session: &Session, state: &mut Self::State, text: Text<'_>) {
        let _ = (session, state, text);
    }

    /// A whole binary message arrived. The default ignores it.
    fn on_binary(&self, session: &Session, state: &mut Self::State, data: Binary<'_>) {
        let _ = (session, state, data);
    }

    /// A pong arrived (an answer to a ping, or unsolicited). The default ignores it.
    fn on_pong(&self, session: &Session, state: &mut Self::State, data: &[u8]) {
        let _ = (session, state, data);
    }

    /// Something went wrong on the session: the host reports a transport or protocol
    /// failure (an `on_close` usually follows; the host has logged it), or a message did not
    /// decode ([`ErrorKind::Decode`](crate::ErrorKind::Decode): the session stays open). The
    /// default does nothing.
    fn on_error(&self, session: &Session, state: &mut Self::State, error: &SessionError) {
        let _ = (session, state, error);
    }

    /// An asynchronous send made with a token
    /// ([`Session::send_text_async_token`](crate::Session::send_text_async_token)) finished.
    /// Sends made with a closure run their closure instead. The default does nothing.
    fn on_send_complete(
        &self,
        session: &Session,
        state: &mut Self::State,
        token: SendToken,
        result: Result<(), SendError>,
    ) {
        let _ = (session, state, token, result);
    }

    /// The session ended: called exactly once, last, for every session that was opened,
    /// however it ended. User properties are still readable; sends fail. The state is
    /// dropped when this returns (take what you keep with `std::mem::take`). The default does
    /// nothing.
    fn on_close(&self, session: &Session, state: &mut Self::State, info: &CloseInfo) {
        let _ = (session, state, info);
    }

    /// The context is deployed: called once per endpoint, in declaration order, on the
    /// context's pool after every endpoint was built and before any session — the place to
    /// start what the endpoint owns (a connection pool, a timer thread). A panic is logged
    /// and fails the deployment (Berth does not serve the context; the other endpoints'
    /// `on_deploy` still run). Hosts before ABI 1.2 never call it. The default does nothing.
    fn on_deploy(&self) {}

    /// The context goes away (undeployed, redeployed or the server shutting down): called
    /// once per endpoint, on the context's pool, after every session's `on_close` — the place
    /// to stop threads and flush what the endpoint owns. The host bounds the time it waits.
    /// Hosts before ABI 1.2 never call it. The default does nothing.
    fn on_undeploy(&self, reason: UndeployReason) {
        let _ = reason;
    }
}
