//! What the sessions of one context share — its name and settings, the registry of its open
//! sessions, its callback pool — and the endpoint behind its callbacks ([`Callbacks`]).
//!
//! The settings can change while the context serves ([`Hub::retune`]): the new ones are one
//! atomic store (readers load them lock-free), the pool is resized, the idle monitor looks
//! again, and every open session is told, so each applies them to itself.
//!
//! A [`Hub`] is built when a context deploys, before any session exists; the endpoint is
//! attached once, when the plugin instance has been created (the instance is given the hub
//! as its host context first). Sessions, host services and the idle monitor reach the
//! context through it and nothing else, so this module sits below everything that deploys,
//! routes or loads: the plugin boundary is only the [`Callbacks`] trait here.

use std::sync::{Arc, OnceLock};

use arc_swap::{ArcSwap, Guard};
use tokio::sync::Notify;

use super::ending::{Cause, ErrorKind};
use super::handle::{Command, SendError};
use super::job::OpenInfo;
use super::opening::Opening;
use super::registry::Registry;
use crate::config::descriptor::ContextSettings;
use crate::executor::Executor;

/// What became of a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It returned normally.
    Done,
    /// `on_open` refused the session (the endpoint asked for its close itself).
    Refused,
    /// It failed or panicked; the words are the boundary's name for the failure.
    Failed(&'static str),
}

/// What the endpoint decided about a handshake, before the 101.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Open the session, with these additions.
    Accept(Acceptance),
    /// Answer with an HTTP error instead.
    Refuse {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// The callback failed or panicked, or said something unreadable (the words say what).
    Failed(String),
}

/// What an accepted handshake adds to the answer and the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Acceptance {
    /// The subprotocol to answer with instead of the host's choice.
    pub(crate) subprotocol: Option<String>,
    /// Extra headers of the 101.
    pub(crate) headers: Vec<(String, String)>,
    /// User properties the session starts with: key and JSON text.
    pub(crate) properties: Vec<(String, bytes::Bytes)>,
}

/// Why a context goes away, as `on_undeploy` is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Departure {
    /// Undeployed.
    Undeploy,
    /// Replaced by a new version.
    Redeploy,
    /// The server stops.
    Shutdown,
}

/// The endpoint's callbacks, as the session calls them: one implementation per plugin
/// instance (`plugin::PluginInstance`), called on the context's pool, at most one of a session
/// at a time. `endpoint` is the index of the session's endpoint in the plugin's declarations.
pub(crate) trait Callbacks: Send + Sync + std::fmt::Debug {
    /// The session is open; `handshake` is what the client sent.
    fn on_open(&self, endpoint: u32, session: u64, handshake: &OpenInfo) -> Outcome;
    /// A whole text message (valid UTF-8).
    fn on_text(&self, endpoint: u32, session: u64, data: &[u8]) -> Outcome;
    /// A whole binary message.
    fn on_binary(&self, endpoint: u32, session: u64, data: &[u8]) -> Outcome;
    /// A pong from the peer.
    fn on_pong(&self, endpoint: u32, session: u64, data: &[u8]) -> Outcome;
    /// Something went wrong for this session.
    fn on_error(&self, endpoint: u32, session: u64, kind: ErrorKind, message: &str) -> Outcome;
    /// An async send finished (`Ok`: written).
    fn on_send_complete(
        &self,
        endpoint: u32,
        session: u64,
        token: u64,
        result: Result<(), SendError>,
    ) -> Outcome;
    /// The session ended: its last callback.
    fn on_close(
        &self,
        endpoint: u32,
        session: u64,
        code: u16,
        reason: &str,
        cause: Cause,
    ) -> Outcome;

    /// Whether [`Callbacks::on_handshake`] is worth a trip to the pool: `false` when the
    /// endpoint has no say (an older plugin without the callback).
    fn decides_handshakes(&self) -> bool;
    /// Decides a handshake for `endpoint` before the 101 (no session exists yet).
    fn on_handshake(&self, endpoint: u32, handshake: &Opening) -> Decision;
    /// The context is deployed: once, before any session.
    fn on_deploy(&self) -> Outcome;
    /// The context goes away: once, after every session's `on_close`.
    fn on_undeploy(&self, departure: Departure) -> Outcome;
}

/// What the sessions of one context share.
#[derive(Debug)]
pub(crate) struct Hub {
    name: String,
    settings: ArcSwap<ContextSettings>,
    /// Wakes the idle monitor when the settings change.
    retuned: Arc<Notify>,
    executor: Executor,
    sessions: Registry,
    callbacks: OnceLock<Box<dyn Callbacks>>,
}

impl Hub {
    /// The hub of context `name`, before its endpoint is attached.
    pub(crate) fn new(name: String, settings: ContextSettings, executor: Executor) -> Arc<Hub> {
        Arc::new(Hub {
            name,
            settings: ArcSwap::from_pointee(settings),
            retuned: Arc::new(Notify::new()),
            executor,
            sessions: Registry::default(),
            callbacks: OnceLock::new(),
        })
    }

    /// Attaches the endpoint; only the first call has an effect.
    pub(crate) fn attach(&self, callbacks: Box<dyn Callbacks>) {
        let _ = self.callbacks.set(callbacks);
    }

    /// The context's name (its directory).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The context's settings now: a lock-free load, to read from and drop (a session keeps
    /// what it needs, and is told of changes).
    pub(crate) fn settings(&self) -> Guard<Arc<ContextSettings>> {
        self.settings.load()
    }

    /// Serves on with `settings` (which must differ from the current ones only in what can
    /// change live): new handshakes see them at once, the pool is resized, the idle monitor
    /// looks again, and each open session applies them to itself.
    pub(crate) fn retune(&self, settings: ContextSettings) {
        let settings = Arc::new(settings);
        self.executor.resize(&settings.executor);
        self.settings.store(Arc::clone(&settings));
        self.retuned.notify_waiters();
        for session in self.sessions.all() {
            session.request(Command::Retune(Arc::clone(&settings)));
        }
    }

    /// Notified whenever the settings change.
    pub(crate) fn retuned(&self) -> Arc<Notify> {
        Arc::clone(&self.retuned)
    }

    /// The context's callback pool.
    pub(crate) fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The open sessions.
    pub(crate) fn sessions(&self) -> &Registry {
        &self.sessions
    }

    /// The endpoint; `None` only before it is attached.
    pub(crate) fn callbacks(&self) -> Option<&dyn Callbacks> {
        self.callbacks.get().map(Box::as_ref)
    }
}
