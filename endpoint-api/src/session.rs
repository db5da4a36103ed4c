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
use crate::host::{MessageKind, SendMode};
use crate::id::{EndpointId, SendToken, SessionId};

/// One WebSocket connection, as an endpoint sees it in a callback.
///
/// Cheap to clone. The handshake is readable in every callback until `on_close` returns;
/// everything else goes to the host, keyed by the session's id. Once the session has ended,
/// host calls fail with [`HostError::NoSuchSession`] (ids are never reused), so a kept
/// `Session` can do no harm.
///
/// ```
/// use endpoint_api::{Handshake, mock::MockHost};
///
/// let host = MockHost::new();
/// let session = host.connect(Handshake::new("/rooms/lobby").with_path_param("room", "lobby"));
/// assert_eq!(session.path_param("room"), Some("lobby"));
///
/// session.set("nick", &"ada").unwrap();
/// assert_eq!(session.get::<String>("nick").unwrap().as_deref(), Some("ada"));
///
/// session.send_text("welcome").unwrap();
/// assert_eq!(host.sent_texts(session.id()), ["welcome"]);
/// ```
#[derive(Clone)]
pub struct Session {
    id: SessionId,
    endpoint: EndpointId,
    handshake: Arc<Handshake>,
    shared: Arc<Shared>,
}

impl Session {
    pub(crate) fn new(
        id: SessionId,
        endpoint: EndpointId,
        handshake: Arc<Handshake>,
        shared: Arc<Shared>,
    ) -> Session {
        Session {
            id,
            endpoint,
            handshake,
            shared,
        }
    }

    /// The session's id (unique in the container, never reused).
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The endpoint the session belongs to.
    pub fn endpoint(&self) -> EndpointId {
        self.endpoint
    }

    /// The context, for broadcasts and other sessions.
    pub fn context(&self) -> PluginContext {
        PluginContext::new(self.shared.clone(), self.endpoint)
    }

    /// The opening handshake.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// A path parameter of the endpoint's template (see [`Handshake::path_param`]).
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.handshake.path_param(name)
    }

    /// The raw query string (see [`Handshake::query`]).
    pub fn query(&self) -> &str {
        self.handshake.query()
    }

    /// A decoded query parameter (see [`Handshake::query_param`]).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.handshake.query_param(name)
    }

    /// A request header, case-insensitive (see [`Handshake::header`]).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.handshake.header(name)
    }

    /// A cookie from the handshake (see [`Handshake::cookie`]).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.handshake.cookie(name)
    }

    /// The negotiated subprotocol.
    pub fn subprotocol(&self) -> Option<&str> {
        self.handshake.subprotocol()
    }

    /// The client's address (see [`Handshake::remote_addr`]).
    pub fn remote_addr(&self) -> Option<&str> {
        self.handshake.remote_addr()
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

    /// Queues a text message and returns at once. Unless this returns an error, exactly one
    /// [`Endpoint::on_send_complete`](crate::Endpoint::on_send_complete) with the returned
    /// token follows (success, error, or timeout after the async send timeout).
    pub fn send_text_async(&self, text: &str) -> Result<SendToken, SendError> {
        self.send_async(MessageKind::Text, text.as_bytes())
    }

    /// Queues a binary message, like [`send_text_async`](Self::send_text_async).
    pub fn send_binary_async(&self, data: &[u8]) -> Result<SendToken, SendError> {
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

    /// Starts closing the session; `on_close` follows (cause
    /// [`EndpointClose`](crate::CloseCause::EndpointClose)).
    pub fn close(&self, reason: CloseReason) -> Result<(), HostError> {
        self.shared.host().close(self.id, &reason)
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
            .field("endpoint", &self.endpoint)
            .field("path", &self.handshake.path())
            .finish_non_exhaustive()
    }
}
