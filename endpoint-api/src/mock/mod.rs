//! [`MockHost`]: a recording in-memory host for unit-testing endpoints without a server.
//!
//! It plays one deployed context: hand [`MockHost::context`] to your endpoint's constructor,
//! open sessions with [`MockHost::connect`], call the endpoint's callbacks yourself, then
//! assert on what was sent, closed and stored.
//!
//! ```
//! use endpoint_api::{CloseReason, Endpoint, Handshake, Session, mock::MockHost};
//!
//! struct Shout;
//! impl Endpoint for Shout {
//!     fn on_text(&self, session: &Session, text: &str) {
//!         if text == "bye" {
//!             let _ = session.close(CloseReason::normal().with_reason("bye!"));
//!         } else {
//!             let _ = session.send_text(&text.to_uppercase());
//!         }
//!     }
//! }
//!
//! let host = MockHost::new();
//! let session = host.connect(Handshake::new("/"));
//! Shout.on_text(&session, "hey");
//! Shout.on_text(&session, "bye");
//! assert_eq!(host.sent_texts(session.id()), ["HEY"]);
//! assert_eq!(host.closed_with(session.id()).map(|r| r.code()), Some(1000));
//! assert!(session.send_text("late").is_err());
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::close::CloseReason;
use crate::context::{OpenSession, PluginContext, Shared};
use crate::error::SendError;
use crate::handshake::Handshake;
use crate::host::LogLevel;
use crate::id::{EndpointId, SendToken, SessionId};
use crate::session::Session;

mod recorder;

use recorder::{MockSession, Recorder};

/// A message the endpoint sent, as recorded by [`MockHost`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
}

/// One recorded send: to whom, what, and the async token (`None` for blocking sends and
/// broadcasts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentFrame {
    /// The recipient.
    pub session: SessionId,
    /// The message.
    pub message: Sent,
    /// The token of an asynchronous send.
    pub token: Option<SendToken>,
}

/// A recording host for one context. Cheap to clone (clones share the recording).
#[derive(Clone)]
pub struct MockHost {
    recorder: Arc<Recorder>,
    shared: Arc<Shared>,
}

impl MockHost {
    /// A host with no init-params.
    pub fn new() -> MockHost {
        MockHost::with_init_params(Vec::<(String, String)>::new())
    }

    /// A host whose context has these init-params.
    pub fn with_init_params<K, V>(params: impl IntoIterator<Item = (K, V)>) -> MockHost
    where
        K: Into<String>,
        V: Into<String>,
    {
        let params = params
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let recorder = Arc::new(Recorder::default());
        let shared = Shared::new(recorder.clone(), params);
        MockHost { recorder, shared }
    }

    /// The context as endpoint 0's factory would get it.
    pub fn context(&self) -> PluginContext {
        self.context_for(EndpointId::new(0))
    }

    /// The context as another endpoint's factory would get it.
    pub fn context_for(&self, endpoint: EndpointId) -> PluginContext {
        PluginContext::new(self.shared.clone(), endpoint)
    }

    /// Opens a session on endpoint 0 (call the endpoint's `on_open` yourself).
    pub fn connect(&self, handshake: Handshake) -> Session {
        self.connect_to(EndpointId::new(0), handshake)
    }

    /// Opens a session on the given endpoint.
    pub fn connect_to(&self, endpoint: EndpointId, handshake: Handshake) -> Session {
        let id = {
            let mut state = self.recorder.lock();
            state.last_id += 1;
            let id = SessionId::from_raw(state.last_id);
            state.sessions.insert(id, MockSession::new(endpoint));
            id
        };
        let handshake = Arc::new(handshake);
        let open = OpenSession {
            endpoint,
            handshake: handshake.clone(),
        };
        self.shared.register(id, open);
        Session::new(id, endpoint, handshake, self.shared.clone())
    }

    /// Ends a session as the host does after `on_close`: from now on its id is stale.
    pub fn disconnect(&self, session: SessionId) {
        self.shared.unregister(session);
        self.recorder.lock().sessions.remove(&session);
    }

    /// Makes every following send fail with `error` (`None`: succeed again).
    pub fn fail_sends(&self, error: Option<SendError>) {
        self.recorder.lock().fail_sends = error;
    }

    /// Every recorded send, in order.
    pub fn frames(&self) -> Vec<SentFrame> {
        self.recorder.lock().frames.clone()
    }

    /// The messages sent to one session, in order.
    pub fn sent(&self, session: SessionId) -> Vec<Sent> {
        let frames = self.frames().into_iter();
        frames
            .filter(|frame| frame.session == session)
            .map(|frame| frame.message)
            .collect()
    }

    /// The text messages sent to one session, in order.
    pub fn sent_texts(&self, session: SessionId) -> Vec<String> {
        let texts = self.sent(session).into_iter();
        texts
            .filter_map(|sent| match sent {
                Sent::Text(text) => Some(text),
                _ => None,
            })
            .collect()
    }

    /// The close the endpoint asked for, if any.
    pub fn closed_with(&self, session: SessionId) -> Option<CloseReason> {
        self.with_session(session, |s| s.closed_with.clone())?
    }

    /// A stored user property as JSON.
    pub fn property(&self, session: SessionId, key: &str) -> Option<serde_json::Value> {
        let json = self.with_session(session, |s| s.properties.get(key).cloned())??;
        serde_json::from_str(&json).ok()
    }

    /// Seeds a user property (e.g. one the host sets, or a restored one).
    pub fn set_property<T: Serialize + ?Sized>(&self, session: SessionId, key: &str, value: &T) {
        let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
        self.with_session(session, |s| s.properties.insert(key.to_owned(), json));
    }

    /// The idle timeout the endpoint set: `None` if never set, `Some(None)` for "never".
    pub fn idle_timeout(&self, session: SessionId) -> Option<Option<Duration>> {
        self.with_session(session, |s| s.idle_timeout)?
    }

    /// The batching mode the endpoint set, if it did.
    pub fn batching(&self, session: SessionId) -> Option<bool> {
        self.with_session(session, |s| s.batching)?
    }

    /// How many times the endpoint flushed the session.
    pub fn flushes(&self, session: SessionId) -> usize {
        self.with_session(session, |s| s.flushes).unwrap_or(0)
    }

    /// Everything logged, in order.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.recorder.lock().logs.clone()
    }

    fn with_session<R>(&self, id: SessionId, f: impl FnOnce(&mut MockSession) -> R) -> Option<R> {
        self.recorder.lock().sessions.get_mut(&id).map(f)
    }
}

impl Default for MockHost {
    fn default() -> MockHost {
        MockHost::new()
    }
}

impl fmt::Debug for MockHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.recorder.lock();
        f.debug_struct("MockHost")
            .field("sessions", &state.sessions.len())
            .field("frames", &state.frames)
            .finish_non_exhaustive()
    }
}
