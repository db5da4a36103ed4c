//! The part of a session that other threads reach: host services called by the plugin (from
//! pool threads or its own), broadcasts, shutdown. It talks to the session's connection task
//! only through [`Command`]s and a few atomics; it never touches the socket.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use endpoint_api::abi::Status;
use tokio::sync::mpsc;

use super::cause::Cause;
use crate::codec::Outbound;

/// What the connection task is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write a frame; report to `done` once written (or failed).
    Send { frame: Outbound, done: Completion },
    /// Start the closing handshake (or drop the connection when `code` is `None`).
    Close {
        code: Option<u16>,
        reason: String,
        cause: Cause,
    },
    /// Write out batched frames now.
    Flush,
    /// Coalesce frames until a flush or the batching size (on) or flush each send (off).
    SetBatching(bool),
}

/// Who waits for a send.
#[derive(Debug)]
pub(crate) enum Completion {
    /// Nobody (broadcasts, pongs).
    None,
    /// A blocked plugin thread.
    Blocking(crossbeam_channel::Sender<Status>),
    /// An async send: `on_send_complete(token, status)` is posted to the session.
    Async(u64),
}

/// A session as other threads see it.
#[derive(Debug)]
pub(crate) struct SessionHandle {
    pub(crate) id: u64,
    pub(crate) endpoint: u32,
    commands: mpsc::UnboundedSender<Command>,
    closing: AtomicBool,
    properties: Mutex<BTreeMap<String, Bytes>>,
    /// Milliseconds, or `i64::MIN` for "the context's setting".
    idle_override: std::sync::atomic::AtomicI64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl SessionHandle {
    /// A new session with a container-unique id, and the receiver its connection task reads.
    pub(crate) fn new(
        endpoint: u32,
        properties: BTreeMap<String, Bytes>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Command>) {
        let (commands, receiver) = mpsc::unbounded_channel();
        let handle = SessionHandle {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            endpoint,
            commands,
            closing: AtomicBool::new(false),
            properties: Mutex::new(properties),
            idle_override: std::sync::atomic::AtomicI64::new(i64::MIN),
        };
        (Arc::new(handle), receiver)
    }

    /// True once a close was requested or the connection ended.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub(crate) fn mark_closing(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// Queues a frame without waiting.
    pub(crate) fn send_async(&self, frame: Outbound, done: Completion) -> Status {
        if self.is_closing() {
            return Status::CLOSED;
        }
        match self.commands.send(Command::Send { frame, done }) {
            Ok(()) => Status::OK,
            Err(_) => Status::CLOSED,
        }
    }

    /// Queues a frame and waits until it is written, up to `timeout` (`None`: no limit).
    pub(crate) fn send_blocking(&self, frame: Outbound, timeout: Option<Duration>) -> Status {
        let (done, written) = crossbeam_channel::bounded(1);
        let queued = self.send_async(frame, Completion::Blocking(done));
        if !queued.is_ok() {
            return queued;
        }
        let outcome = match timeout {
            Some(timeout) => written.recv_timeout(timeout).map_err(|_| ()),
            None => written.recv().map_err(|_| ()),
        };
        match outcome {
            Ok(status) => status,
            Err(()) => {
                self.request(Command::Close {
                    code: None,
                    reason: "send timeout".into(),
                    cause: Cause::SendTimeout,
                });
                Status::TIMEOUT
            }
        }
    }

    /// Asks the connection task to do something; ignored once the task has ended.
    pub(crate) fn request(&self, command: Command) {
        if matches!(command, Command::Close { .. }) {
            self.mark_closing();
        }
        let _ = self.commands.send(command);
    }

    pub(crate) fn property(&self, key: &str) -> Option<Bytes> {
        self.lock_properties().get(key).cloned()
    }

    pub(crate) fn set_property(&self, key: String, value: Bytes) {
        self.lock_properties().insert(key, value);
    }

    pub(crate) fn remove_property(&self, key: &str) -> bool {
        self.lock_properties().remove(key).is_some()
    }

    pub(crate) fn property_keys(&self) -> Vec<String> {
        self.lock_properties().keys().cloned().collect()
    }

    fn lock_properties(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Bytes>> {
        self.properties
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_idle_override(&self, millis: i64) {
        self.idle_override
            .store(millis.max(i64::MIN + 1), Ordering::Relaxed);
    }
}

/// The open sessions of one context.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    sessions: RwLock<HashMap<u64, Arc<SessionHandle>>>,
    emptied: tokio::sync::Notify,
}

impl Registry {
    pub(crate) fn insert(&self, session: Arc<SessionHandle>) {
        self.write().insert(session.id, session);
    }

    pub(crate) fn remove(&self, id: u64) {
        let mut sessions = self.write();
        sessions.remove(&id);
        if sessions.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// Resolves once no session is left.
    pub(crate) async fn emptied(&self) {
        loop {
            // Created before the check, so a removal in between still wakes it.
            let notified = self.emptied.notified();
            if self.len() == 0 {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<SessionHandle>> {
        self.read().get(&id).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    /// The ids of the open sessions of one endpoint.
    pub(crate) fn of_endpoint(&self, endpoint: u32) -> Vec<u64> {
        self.read()
            .values()
            .filter(|s| s.endpoint == endpoint && !s.is_closing())
            .map(|s| s.id)
            .collect()
    }

    /// Every session, for shutdown and undeploy.
    pub(crate) fn all(&self) -> Vec<Arc<SessionHandle>> {
        self.read().values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Arc<SessionHandle>>> {
        self.sessions.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<u64, Arc<SessionHandle>>> {
        self.sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
