//! [`Session`]: the handle an endpoint gets in every callback.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::close::CloseReason;
use crate::context::{PluginContext, Shared};
use crate::error::{HostError, PropertyError, SendError};
use crate::handshake::Handshake;
use crate::host::{LogLevel, MessageKind, SendMode};
use crate::id::{EndpointId, SendToken, SessionId};
use crate::record::{Completion, Record};

/// One WebSocket connection, as an endpoint sees it in a callback.
///
/// Cheap to clone. The handshake is readable until `on_close` returns, and from clones kept
/// longer; everything else goes to the host, keyed by the session's id. Once the session has
/// ended, host calls fail with [`HostError::NoSuchSession`] (ids are never reused), so a kept
/// `Session` can do no harm.
///
/// Handshake data follows one rule: accessors borrow (`Option<&str>`), and what needs
/// decoding (query parameters) was decoded once, when the SDK copied the handshake.
///
/// ```
/// use endpoint_api::{Endpoint, LogLevel, Session, Text};
/// use endpoint_api::mock::MockHost;
///
/// struct Rooms;
///
/// impl Endpoint for Rooms {
///     type State = ();
///
///     fn on_text(&self, session: &Session, _: &mut (), text: Text<'_>) {
///         let room = session.path_param("room").unwrap_or("?");
///         let nick = session.query_param("nick").unwrap_or("guest");
///         session.set("last", &text.as_str()).unwrap();
///         session.log(LogLevel::Debug, &format!("{nick} wrote in {room}"));
///         let _ = session.send_text(&format!("{nick}@{room}: {text}"));
///     }
/// }
///
/// let host = MockHost::builder().endpoint("/rooms/{room}", |_| Rooms).build().unwrap();
/// let session = host.connect("/rooms/lobby?nick=ada").unwrap();
/// assert!(session.is_open());
/// host.text(&session, "hi");
/// assert_eq!(host.sent_texts(session.id()), ["ada@lobby: hi"]);
/// assert_eq!(session.get::<String>("last").unwrap().as_deref(), Some("hi"));
/// ```
#[derive(Clone)]
pub struct Session {
    id: SessionId,
    record: Arc<Record>,
    shared: Arc<Shared>,
}

impl Session {
    pub(crate) fn new(id: SessionId, record: Arc<Record>, shared: Arc<Shared>) -> Session {
        Session { id, record, shared }
    }

    /// The session's id (unique in the container, never reused).
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The endpoint the session belongs to.
    pub fn endpoint(&self) -> EndpointId {
        self.record.endpoint
    }

    /// The context, for broadcasts and other sessions.
    pub fn context(&self) -> PluginContext {
        PluginContext::new(self.shared.clone(), self.record.endpoint)
    }

    /// Whether the session is open as far as the endpoint knows: from the start of its
    /// `on_open` (if that accepts it) until the endpoint [`close`](Self::close)s it or its
    /// `on_close` runs. A peer's close or a lost connection is learnt from `on_close`
    /// (until then a send may fail with [`HostError::Closed`]); after `on_close`, and for
    /// a session `on_open` refused, this is `false`.
    pub fn is_open(&self) -> bool {
        self.record.is_open()
    }

    /// The opening handshake.
    pub fn handshake(&self) -> &Handshake {
        &self.record.handshake
    }

    /// A path parameter of the endpoint's template (see [`Handshake::path_param`]).
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.handshake().path_param(name)
    }

    /// The raw query string (see [`Handshake::query`]).
    pub fn query(&self) -> &str {
        self.handshake().query()
    }

    /// A decoded query parameter (see [`Handshake::query_param`]).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.handshake().query_param(name)
    }

    /// A request header, case-insensitive (see [`Handshake::header`]).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.handshake().header(name)
    }

    /// A cookie from the handshake (see [`Handshake::cookie`]).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.handshake().cookie(name)
    }

    /// The negotiated subprotocol.
    pub fn subprotocol(&self) -> Option<&str> {
        self.handshake().subprotocol()
    }

    /// The client's address (see [`Handshake::remote_addr`]).
    pub fn remote_addr(&self) -> Option<&str> {
        self.handshake().remote_addr()
    }

    /// Logs through the host with the context and this session's id as fields.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.shared.host().log(Some(self.id), level, message);
    }

    /// A user property, deserialized from its stored JSON; `Ok(None)` when absent.
    ///
    /// The host sets `jeus.websocket.remoteAddr`, `jeus.websocket.remoteHost` and
    /// `jeus.websocket.remotePort` at the handshake, all three strings (as JEUS): the
    /// client's IP address twice (no reverse lookups) and its port. Behind a trusted proxy
    /// they name the client the proxy reports; none is set when the proxy hides the client
    /// (`unknown` or an obfuscated name), and no port when it does not say.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PropertyError> {
        let Some(json) = self.shared.host().property_get(self.id, key)? else {
            return Ok(None);
        };
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|err| PropertyError::Decode {
                key: key.to_owned(),
                message: err.to_string(),
            })
    }

    /// Stores a user property (as JSON). With distributed properties and write-through, the
    /// value is in the store when this returns.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), PropertyError> {
        let json = serde_json::to_string(value).map_err(|err| PropertyError::Encode {
            key: key.to_owned(),
            message: err.to_string(),
        })?;
        Ok(self.shared.host().property_set(self.id, key, &json)?)
    }

    /// Removes a user property; whether it was present.
    pub fn remove(&self, key: &str) -> Result<bool, PropertyError> {
        Ok(self.shared.host().property_remove(self.id, key)?)
    }

    /// The keys of the session's user properties.
    pub fn keys(&self) -> Result<Vec<String>, PropertyError> {
        Ok(self.shared.host().property_keys(self.id)?)
    }

    /// Sends a text message and waits until it is written, or fails with
    /// [`HostError::Timeout`] after the context's blocking send timeout.
    pub fn send_text(&self, text: &str) -> Result<(), SendError> {
        self.send(MessageKind::Text, text.as_bytes(), SendMode::Blocking)
    }

    /// Sends a binary message and waits, like [`send_text`](Self::send_text).
    pub fn send_binary(&self, data: &[u8]) -> Result<(), SendError> {
        self.send(MessageKind::Binary, data, SendMode::Blocking)
    }

    /// Queues a text message and returns at once; `done` runs once, on the context's pool,
    /// when the send completed (`Ok`), failed, or timed out after the async send timeout —
    /// always before the session's `on_close`. When this returns an error, nothing was
    /// queued and `done` is dropped without running. The token names the send (see
    /// [`MockHost::complete`](crate::mock::MockHost::complete)).
    ///
    /// ```
    /// use endpoint_api::{Endpoint, LogLevel, Session, Text};
    /// use endpoint_api::mock::MockHost;
    ///
    /// struct Relay;
    ///
    /// impl Endpoint for Relay {
    ///     type State = ();
    ///
    ///     fn on_text(&self, session: &Session, _: &mut (), text: Text<'_>) {
    ///         let sent = session.send_text_async(&text, |session, result| {
    ///             if let Err(error) = result {
    ///                 session.log(LogLevel::Warn, &format!("relay failed: {error}"));
    ///             }
    ///         });
    ///         if sent.is_err() {
    ///             session.log(LogLevel::Warn, "relay refused");
    ///         }
    ///     }
    /// }
    ///
    /// let host = MockHost::builder().endpoint("/", |_| Relay).build().unwrap();
    /// let session = host.connect("/").unwrap();
    /// host.text(&session, "hello");
    /// assert_eq!(host.complete_all(&session, Err(endpoint_api::HostError::Timeout)), 1);
    /// assert!(host.logs()[0].message.contains("relay failed: the send timed out"));
    /// ```
    pub fn send_text_async(
        &self,
        text: &str,
        done: impl FnOnce(&Session, Result<(), SendError>) + Send + 'static,
    ) -> Result<SendToken, SendError> {
        self.send_async_then(MessageKind::Text, text.as_bytes(), Box::new(done))
    }

    /// Queues a binary message, like [`send_text_async`](Self::send_text_async).
    pub fn send_binary_async(
        &self,
        data: &[u8],
        done: impl FnOnce(&Session, Result<(), SendError>) + Send + 'static,
    ) -> Result<SendToken, SendError> {
        self.send_async_then(MessageKind::Binary, data, Box::new(done))
    }

    /// Queues a text message and returns at once. Unless this returns an error, exactly one
    /// [`Endpoint::on_send_complete`](crate::Endpoint::on_send_complete) with the returned
    /// token follows (with the session's state; success, error, or timeout after the async
    /// send timeout). Prefer [`send_text_async`](Self::send_text_async) unless the
    /// completion needs the state.
    pub fn send_text_async_token(&self, text: &str) -> Result<SendToken, SendError> {
        self.send_async(MessageKind::Text, text.as_bytes())
    }

    /// Queues a binary message, like [`send_text_async_token`](Self::send_text_async_token).
    pub fn send_binary_async_token(&self, data: &[u8]) -> Result<SendToken, SendError> {
        self.send_async(MessageKind::Binary, data)
    }

    /// Sends a ping (at most 125 bytes); the pong arrives in
    /// [`Endpoint::on_pong`](crate::Endpoint::on_pong).
    pub fn send_ping(&self, data: &[u8]) -> Result<(), SendError> {
        self.send(MessageKind::Ping, data, SendMode::Blocking)
    }

    /// Sends an unsolicited pong (at most 125 bytes).
    pub fn send_pong(&self, data: &[u8]) -> Result<(), SendError> {
        self.send(MessageKind::Pong, data, SendMode::Blocking)
    }

    fn send(&self, kind: MessageKind, data: &[u8], mode: SendMode) -> Result<(), SendError> {
        self.shared.host().send(self.id, kind, data, mode)
    }

    fn send_async(&self, kind: MessageKind, data: &[u8]) -> Result<SendToken, SendError> {
        let token = self.shared.next_token();
        self.send(kind, data, SendMode::Async(token))?;
        Ok(token)
    }

    /// Keeps `done` first: from another thread, the completion may come before the host's
    /// `send` returns.
    fn send_async_then(
        &self,
        kind: MessageKind,
        data: &[u8],
        done: Completion,
    ) -> Result<SendToken, SendError> {
        let token = self.shared.next_token();
        self.record.await_completion(token, done)?;
        match self.send(kind, data, SendMode::Async(token)) {
            Ok(()) => Ok(token),
            Err(error) => {
                drop(self.record.take_completion(token));
                Err(error)
            }
        }
    }

    /// Starts closing the session; `on_close` follows (cause
    /// [`EndpointClose`](crate::CloseCause::EndpointClose)), and [`is_open`](Self::is_open)
    /// is `false` from now on.
    pub fn close(&self, reason: CloseReason) -> Result<(), HostError> {
        self.shared.host().close(self.id, &reason)?;
        self.record.closing();
        Ok(())
    }

    /// Overrides the context's idle timeout for this session; `None` means never.
    pub fn set_idle_timeout(&self, timeout: Option<Duration>) -> Result<(), HostError> {
        self.shared.host().set_idle_timeout(self.id, timeout)
    }

    /// Turns batching on (frames wait for [`flush`](Self::flush) or the batching buffer
    /// size) or off (every send is written at once).
    pub fn set_batching(&self, enabled: bool) -> Result<(), HostError> {
        self.shared.host().set_batching(self.id, enabled)
    }

    /// Writes out batched frames now.
    pub fn flush(&self) -> Result<(), HostError> {
        self.shared.host().flush(self.id)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("endpoint", &self.record.endpoint)
            .field("path", &self.handshake().path())
            .field("phase", &self.record.phase())
            .finish_non_exhaustive()
    }
}
