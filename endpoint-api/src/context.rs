//! [`PluginContext`]: one deployed context as its endpoints see it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::close::CloseReason;
use crate::error::{HostError, SendError};
use crate::host::{Host, LogLevel, MessageKind, SendMode};
use crate::id::{EndpointId, SendToken, SessionId};
use crate::record::Record;
use crate::session::Session;

/// What one plugin instance (one deployed context) shares among its endpoints and sessions.
pub(crate) struct Shared {
    host: Arc<dyn Host>,
    /// Set when the host destroyed the instance: handles kept past it stop reaching the host.
    retired: AtomicBool,
    init_params: Vec<(String, String)>,
    next_token: AtomicU64,
    /// The sessions between `on_open` and `on_close`.
    open: RwLock<HashMap<SessionId, Arc<Record>>>,
}

impl Shared {
    pub(crate) fn new(host: Arc<dyn Host>, init_params: Vec<(String, String)>) -> Arc<Shared> {
        Arc::new(Shared {
            host,
            retired: AtomicBool::new(false),
            init_params,
            next_token: AtomicU64::new(1),
            open: RwLock::default(),
        })
    }

    /// The host, or a stand-in that refuses everything once the instance is destroyed.
    pub(crate) fn host(&self) -> &dyn Host {
        if self.retired.load(Ordering::Acquire) {
            return &Retired;
        }
        &*self.host
    }

    /// Cuts kept handles off the host (at `destroy`).
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    pub(crate) fn host_handle(&self) -> Arc<dyn Host> {
        self.host.clone()
    }

    pub(crate) fn next_token(&self) -> SendToken {
        SendToken::from_raw(self.next_token.fetch_add(1, Ordering::Relaxed))
    }

    /// Remembers a session from `on_open` until `on_close`.
    pub(crate) fn register(&self, id: SessionId, record: Arc<Record>) {
        let mut open = self.open.write().unwrap_or_else(PoisonError::into_inner);
        open.insert(id, record);
    }

    /// Forgets a session (at `on_close`), returning its record.
    pub(crate) fn unregister(&self, id: SessionId) -> Option<Arc<Record>> {
        let mut open = self.open.write().unwrap_or_else(PoisonError::into_inner);
        let removed = open.remove(&id);
        // After a crowd has gone, its table need not stay.
        if open.capacity() > 1024 && open.len() * 8 < open.capacity() {
            open.shrink_to_fit();
        }
        removed
    }

    pub(crate) fn lookup(&self, id: SessionId) -> Option<Arc<Record>> {
        let open = self.open.read().unwrap_or_else(PoisonError::into_inner);
        open.get(&id).cloned()
    }
}

/// One deployed context, as given to endpoint factories: init-params, the context's sessions,
/// broadcast and logging. Cheap to clone; keep it in your endpoint.
///
/// Each deployed context gets its own plugin instance, so two contexts loading the same
/// plugin share nothing (not even statics are needed: keep state in your endpoint).
///
/// ```
/// use endpoint_api::{Endpoint, LogLevel, PluginContext, mock::MockHost};
///
/// struct Announcer {
///     ctx: PluginContext,
/// }
///
/// impl Endpoint for Announcer {
///     type State = ();
/// }
///
/// let host = MockHost::builder()
///     .init_param("greeting", "hello")
///     .endpoint("/", |ctx| Announcer { ctx: ctx.clone() })
///     .build()
///     .unwrap();
/// let ctx = host.context();
/// assert_eq!(ctx.init_param("greeting"), Some("hello"));
///
/// let a = host.connect("/").unwrap();
/// let b = host.connect("/").unwrap();
/// ctx.broadcast_text(&ctx.sessions().unwrap(), "hi all").unwrap();
/// assert_eq!(host.sent_texts(a.id()), ["hi all"]);
/// assert_eq!(host.sent_texts(b.id()), ["hi all"]);
/// ctx.log(LogLevel::Info, "announced");
/// assert_eq!(host.logs()[0].session, None);
/// ```
#[derive(Clone)]
pub struct PluginContext {
    shared: Arc<Shared>,
    endpoint: EndpointId,
}

impl PluginContext {
    pub(crate) fn new(shared: Arc<Shared>, endpoint: EndpointId) -> PluginContext {
        PluginContext { shared, endpoint }
    }

    /// The endpoint this context was given to (its index in the `plugin!` declaration).
    pub fn endpoint(&self) -> EndpointId {
        self.endpoint
    }

    /// The value of the descriptor's `init-param` called `name` (the first, if repeated).
    pub fn init_param(&self, name: &str) -> Option<&str> {
        self.shared
            .init_params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// All init-params, in descriptor order.
    pub fn init_params(&self) -> &[(String, String)] {
        &self.shared.init_params
    }

    /// The open sessions of this endpoint.
    pub fn sessions(&self) -> Result<Vec<SessionId>, HostError> {
        self.sessions_of(self.endpoint)
    }

    /// The open sessions of another endpoint of the same plugin.
    pub fn sessions_of(&self, endpoint: EndpointId) -> Result<Vec<SessionId>, HostError> {
        self.shared.host().endpoint_sessions(endpoint)
    }

    /// A handle to an open session of this context (between its `on_open` and `on_close`),
    /// with its handshake; `None` otherwise.
    pub fn session(&self, id: SessionId) -> Option<Session> {
        let record = self.shared.lookup(id)?;
        Some(Session::new(id, record, self.shared.clone()))
    }

    /// Sends one text message to many sessions: the host encodes the frame once and queues it
    /// to each live session without waiting; ended or closing sessions are skipped.
    pub fn broadcast_text(&self, sessions: &[SessionId], text: &str) -> Result<(), SendError> {
        let host = self.shared.host();
        host.send_many(sessions, MessageKind::Text, text.as_bytes())
    }

    /// Sends one binary message to many sessions, like [`broadcast_text`](Self::broadcast_text).
    pub fn broadcast_binary(&self, sessions: &[SessionId], data: &[u8]) -> Result<(), SendError> {
        let host = self.shared.host();
        host.send_many(sessions, MessageKind::Binary, data)
    }

    /// Logs through the host, with the context's name as a field (use
    /// [`Session::log`](crate::Session::log) for what concerns one session).
    pub fn log(&self, level: LogLevel, message: &str) {
        self.shared.host().log(None, level, message);
    }
}

impl fmt::Debug for PluginContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginContext")
            .field("endpoint", &self.endpoint)
            .field("init_params", &self.shared.init_params)
            .finish_non_exhaustive()
    }
}

/// The host as seen by handles kept past `destroy` (e.g. a `PluginContext` moved into a
/// thread the plugin started): every session is gone, broadcasts reach nobody.
struct Retired;

impl Host for Retired {
    fn send(&self, _: SessionId, _: MessageKind, _: &[u8], _: SendMode) -> Result<(), SendError> {
        Err(HostError::NoSuchSession)
    }

    fn send_many(&self, _: &[SessionId], _: MessageKind, _: &[u8]) -> Result<(), SendError> {
        Ok(())
    }

    fn close(&self, _: SessionId, _: &CloseReason) -> Result<(), HostError> {
        Err(HostError::NoSuchSession)
    }

    fn property_get(&self, _: SessionId, _: &str) -> Result<Option<String>, HostError> {
        Err(HostError::NoSuchSession)
    }

    fn property_set(&self, _: SessionId, _: &str, _: &str) -> Result<(), HostError> {
        Err(HostError::NoSuchSession)
    }

    fn property_remove(&self, _: SessionId, _: &str) -> Result<bool, HostError> {
        Err(HostError::NoSuchSession)
    }

    fn property_keys(&self, _: SessionId) -> Result<Vec<String>, HostError> {
        Err(HostError::NoSuchSession)
    }

    fn set_idle_timeout(&self, _: SessionId, _: Option<Duration>) -> Result<(), HostError> {
        Err(HostError::NoSuchSession)
    }

    fn set_batching(&self, _: SessionId, _: bool) -> Result<(), HostError> {
        Err(HostError::NoSuchSession)
    }

    fn flush(&self, _: SessionId) -> Result<(), HostError> {
        Err(HostError::NoSuchSession)
    }

    fn endpoint_sessions(&self, _: EndpointId) -> Result<Vec<SessionId>, HostError> {
        Ok(Vec::new())
    }

    fn log(&self, _: Option<SessionId>, _: LogLevel, _: &str) {}
}
