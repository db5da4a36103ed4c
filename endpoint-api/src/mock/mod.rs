//! [`MockHost`]: an in-memory host that drives a plugin's whole life without a server, and
//! records what the plugin did.
//!
//! Deploy the plugin's declaration ([`MockHost::deploy`] with the `PLUGIN` that
//! [`plugin!`](crate::plugin) generates, or single endpoints with [`MockHost::builder`]),
//! then play the host's part: [`connect`](MockHost::connect) a URL (routed by the path
//! templates, path parameters filled, `on_handshake` then `on_open`), deliver
//! [`text`](MockHost::text), [`binary`](MockHost::binary), [`error`](MockHost::error)s and
//! async [completions](MockHost::complete), end sessions with any
//! [cause](MockHost::close), [`undeploy`](MockHost::undeploy). Callbacks run on the calling
//! thread through the same dispatch, state handling and panic shield as in a server, and
//! the mock reacts as Berth does:
//!
//! - a refused handshake comes back as the [`Refuse`](crate::Refuse) (404 when no template
//!   matches, 500 when `on_handshake` panicked) — when an endpoint of the deployment sets
//!   [`DECIDES_HANDSHAKES`](crate::Endpoint::DECIDES_HANDSHAKES), as in Berth; otherwise
//!   `on_handshake` runs at `on_open`, after the upgrade;
//! - a session the endpoint closes (or `on_open` refuses) gets its `on_close` right after
//!   that callback, with cause [`EndpointClose`](crate::CloseCause::EndpointClose);
//! - a panicking callback is logged (as [`logs`](MockHost::logs) shows), then `on_error`
//!   ([`EndpointPanic`](crate::ErrorKind::EndpointPanic)) and `on_close` (1011,
//!   [`EndpointFailure`](crate::CloseCause::EndpointFailure)) follow;
//! - async sends stay pending until completed; those still pending when a session ends
//!   complete with [`Closed`](crate::HostError::Closed) before its `on_close`.
//!
//! ```
//! use endpoint_api::{CloseCause, CloseReason, Endpoint, Session, Text};
//! use endpoint_api::mock::MockHost;
//!
//! struct Shout;
//!
//! impl Endpoint for Shout {
//!     type State = u32; // messages shouted
//!
//!     fn on_text(&self, session: &Session, count: &mut u32, text: Text<'_>) {
//!         if text == "bye" {
//!             let _ = session.close(CloseReason::normal().with_reason(count.to_string()));
//!         } else {
//!             *count += 1;
//!             let _ = session.send_text(&text.to_uppercase());
//!         }
//!     }
//! }
//!
//! let host = MockHost::builder().endpoint("/", |_| Shout).build().unwrap();
//! let session = host.connect("/").unwrap();
//! host.text(&session, "hey");
//! host.text(&session, "bye");
//! assert_eq!(host.sent_texts(session.id()), ["HEY"]);
//! let closed = host.close_info(session.id()).unwrap();
//! assert_eq!((closed.code, closed.reason.as_str(), closed.cause), (1000, "1", CloseCause::EndpointClose));
//! assert!(session.send_text("late").is_err());
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::abi::Status;
use crate::close::{CloseInfo, CloseReason};
use crate::context::PluginContext;
use crate::dispatch::{Dispatch, boxed};
use crate::endpoint::Endpoint;
use crate::error::SendError;
use crate::host::{Host, LogLevel};
use crate::id::{EndpointId, SendToken, SessionId};
use crate::instance::Instance;
use crate::plugin::Plugin;

mod drive;
mod recorder;
mod router;

use recorder::{MockSession, Recorder};
use router::Routes;

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

/// One line the plugin (or the SDK on its behalf) logged through the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// The session it concerns (`None`: the context).
    pub session: Option<SessionId>,
    /// Its level.
    pub level: LogLevel,
    /// The text.
    pub message: String,
}

/// Why a mock deployment failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MockError {
    /// An endpoint factory panicked; the panic as the SDK logged it.
    FactoryPanicked(String),
    /// An endpoint's `on_deploy` panicked (Berth then does not deploy the context); the
    /// panic as the SDK logged it.
    OnDeployPanicked(String),
}

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MockError::FactoryPanicked(line) | MockError::OnDeployPanicked(line) => {
                write!(f, "the deployment failed: {line}")
            }
        }
    }
}

impl std::error::Error for MockError {}

/// Builds the endpoint of a [`MockHost::builder`].
type Build = Box<dyn FnOnce(&PluginContext) -> Box<dyn Dispatch>>;

/// What a [`MockHost`] deploys: init-params and endpoints ([`MockHost::builder`]).
#[must_use]
pub struct MockBuilder {
    init_params: Vec<(String, String)>,
    routes: Routes,
    factories: Vec<Build>,
    /// Whether any endpoint decides handshakes (then, as Berth, the mock asks before the
    /// upgrade; otherwise the SDK's fallback runs at `on_open`).
    decides_handshakes: bool,
}

impl MockBuilder {
    /// With one more descriptor `init-param`.
    pub fn init_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.init_params.push((name.into(), value.into()));
        self
    }

    /// With every endpoint a plugin declares (the `PLUGIN` that [`plugin!`](crate::plugin)
    /// generates), after those added so far.
    pub fn plugin(mut self, plugin: &Plugin) -> Self {
        for declared in plugin.endpoints() {
            self.decides_handshakes |= declared.decides_handshakes();
            self.routes
                .add(declared.template(), declared.subprotocols());
            let factory = declared.factory();
            self.factories.push(Box::new(factory));
        }
        self
    }

    /// With one endpoint at `template` (relative to the context, `{name}` for parameters),
    /// built by `factory` when the mock deploys, as `plugin!` would.
    pub fn endpoint<E, F>(self, template: &str, factory: F) -> Self
    where
        E: Endpoint,
        F: FnOnce(&PluginContext) -> E + 'static,
    {
        self.endpoint_with_subprotocols(template, &[], factory)
    }

    /// Like [`endpoint`](Self::endpoint), accepting these subprotocols in preference order.
    pub fn endpoint_with_subprotocols<E, F>(
        mut self,
        template: &str,
        subprotocols: &[&str],
        factory: F,
    ) -> Self
    where
        E: Endpoint,
        F: FnOnce(&PluginContext) -> E + 'static,
    {
        self.decides_handshakes |= E::DECIDES_HANDSHAKES;
        self.routes.add(template, subprotocols);
        self.factories.push(Box::new(|ctx| boxed(ctx, factory)));
        self
    }

    /// Deploys: builds every endpoint, then runs each endpoint's `on_deploy`; a panic in
    /// either fails the deployment, as in Berth.
    pub fn build(self) -> Result<MockHost, MockError> {
        let recorder = Arc::new(Recorder::default());
        let host: Arc<dyn Host> = recorder.clone();
        let last_log = || {
            let logs = recorder.lock().logs.clone();
            logs.last().map(|l| l.message.clone()).unwrap_or_default()
        };
        let decides = self.decides_handshakes;
        let made = Instance::create(host, self.init_params, self.factories, decides);
        let Some(instance) = made else {
            return Err(MockError::FactoryPanicked(last_log()));
        };
        if instance.deploy() == Status::PANICKED {
            return Err(MockError::OnDeployPanicked(last_log()));
        }
        Ok(MockHost {
            recorder,
            instance: Arc::new(instance),
            routes: Arc::new(self.routes),
            decides_handshakes: decides,
        })
    }
}

impl fmt::Debug for MockBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockBuilder")
            .field("init_params", &self.init_params)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

/// A host for one deployed context, in memory. Cheap to clone (clones share everything).
#[derive(Clone)]
pub struct MockHost {
    recorder: Arc<Recorder>,
    instance: Arc<Instance>,
    routes: Arc<Routes>,
    decides_handshakes: bool,
}

impl MockHost {
    /// Deploys a plugin's declaration with no init-params.
    pub fn deploy(plugin: &Plugin) -> Result<MockHost, MockError> {
        MockHost::builder().plugin(plugin).build()
    }

    /// A deployment to describe: init-params, a plugin's declaration, single endpoints.
    pub fn builder() -> MockBuilder {
        MockBuilder {
            init_params: Vec::new(),
            routes: Routes::default(),
            factories: Vec::new(),
            decides_handshakes: false,
        }
    }

    /// The context as endpoint 0's factory got it.
    pub fn context(&self) -> PluginContext {
        self.context_for(EndpointId::new(0))
    }

    /// The context as another endpoint's factory got it.
    pub fn context_for(&self, endpoint: EndpointId) -> PluginContext {
        PluginContext::new(self.instance.shared().clone(), endpoint)
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

    /// What the session's `on_close` got, once it ran.
    pub fn close_info(&self, session: SessionId) -> Option<CloseInfo> {
        self.with_session(session, |s| s.ended.clone())?
    }

    /// The extra headers of the session's 101 answer (from `on_handshake`'s `Accept`).
    pub fn response_headers(&self, session: SessionId) -> Vec<(String, String)> {
        let headers = self.with_session(session, |s| s.response_headers.clone());
        headers.unwrap_or_default()
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

    /// The async sends of a session that are not completed yet, in order.
    pub fn pending_sends(&self, session: SessionId) -> Vec<SendToken> {
        let pending = self.with_session(session, |s| s.pending.clone());
        pending.unwrap_or_default()
    }

    /// Everything logged, in order.
    pub fn logs(&self) -> Vec<Logged> {
        self.recorder.lock().logs.clone()
    }

    fn with_session<R>(&self, id: SessionId, f: impl FnOnce(&mut MockSession) -> R) -> Option<R> {
        self.recorder.lock().sessions.get_mut(&id).map(f)
    }
}

impl fmt::Debug for MockHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.recorder.lock();
        f.debug_struct("MockHost")
            .field("sessions", &state.sessions.len())
            .field("frames", &state.frames.len())
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}
