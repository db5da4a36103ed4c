//! The recording state behind [`MockHost`](super::MockHost) and its [`Host`] implementation:
//! what a host would do with each service call, kept for the test to read.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{Logged, Sent, SentFrame};
use crate::close::{CloseInfo, CloseReason};
use crate::error::{HostError, SendError};
use crate::host::{Host, LogLevel, MessageKind, SendMode};
use crate::id::{EndpointId, SendToken, SessionId};

#[derive(Default)]
pub(super) struct Recorder {
    state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) last_id: u64,
    pub(super) sessions: HashMap<SessionId, MockSession>,
    pub(super) frames: Vec<SentFrame>,
    pub(super) logs: Vec<Logged>,
    pub(super) fail_sends: Option<SendError>,
}

pub(super) struct MockSession {
    pub(super) endpoint: EndpointId,
    /// The close the endpoint asked for (the first one).
    pub(super) closed_with: Option<CloseReason>,
    /// Set when the host itself is closing the session (after a panic).
    pub(super) host_closing: bool,
    /// What `on_close` got; set once it ran (the session's id is stale from then on).
    pub(super) ended: Option<CloseInfo>,
    pub(super) properties: BTreeMap<String, String>,
    pub(super) response_headers: Vec<(String, String)>,
    pub(super) idle_timeout: Option<Option<Duration>>,
    pub(super) batching: Option<bool>,
    pub(super) flushes: usize,
    /// Async sends accepted and not completed yet, in order.
    pub(super) pending: Vec<SendToken>,
}

impl MockSession {
    pub(super) fn new(endpoint: EndpointId) -> MockSession {
        MockSession {
            endpoint,
            closed_with: None,
            host_closing: false,
            ended: None,
            properties: BTreeMap::new(),
            response_headers: Vec::new(),
            idle_timeout: None,
            batching: None,
            flushes: 0,
            pending: Vec::new(),
        }
    }

    /// Whether the session takes no more sends.
    fn is_closing(&self) -> bool {
        self.closed_with.is_some() || self.host_closing
    }
}

impl Recorder {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on a session that has not ended (`NoSuchSession` otherwise).
    fn live<R>(
        &self,
        id: SessionId,
        f: impl FnOnce(&mut MockSession) -> Result<R, HostError>,
    ) -> Result<R, HostError> {
        let mut state = self.lock();
        let session = state.sessions.get_mut(&id).filter(|s| s.ended.is_none());
        session.ok_or(HostError::NoSuchSession).and_then(f)
    }
}

/// The message a send would put on the wire, checked like the host checks it.
fn message(kind: MessageKind, data: &[u8]) -> Result<Sent, HostError> {
    let control = |data: &[u8]| match data.len() {
        0..=125 => Ok(data.to_vec()),
        _ => Err(HostError::InvalidArgument),
    };
    Ok(match kind {
        MessageKind::Text => {
            let text = std::str::from_utf8(data).map_err(|_| HostError::InvalidArgument)?;
            Sent::Text(text.to_owned())
        }
        MessageKind::Binary => Sent::Binary(data.to_vec()),
        MessageKind::Ping => Sent::Ping(control(data)?),
        MessageKind::Pong => Sent::Pong(control(data)?),
    })
}

impl Host for Recorder {
    fn send(
        &self,
        id: SessionId,
        kind: MessageKind,
        data: &[u8],
        mode: SendMode,
    ) -> Result<(), SendError> {
        let message = message(kind, data)?;
        let mut state = self.lock();
        if let Some(error) = state.fail_sends.clone() {
            return Err(error);
        }
        let session = state.sessions.get_mut(&id).filter(|s| s.ended.is_none());
        let session = session.ok_or(HostError::NoSuchSession)?;
        if session.is_closing() {
            return Err(HostError::Closed);
        }
        let token = match mode {
            SendMode::Blocking => None,
            SendMode::Async(token) => Some(token),
        };
        session.pending.extend(token);
        state.frames.push(SentFrame {
            session: id,
            message,
            token,
        });
        Ok(())
    }

    fn send_many(
        &self,
        ids: &[SessionId],
        kind: MessageKind,
        data: &[u8],
    ) -> Result<(), SendError> {
        let message = message(kind, data)?;
        let mut state = self.lock();
        let live = |id: &&SessionId| {
            let session = state.sessions.get(id);
            session.is_some_and(|s| s.ended.is_none() && !s.is_closing())
        };
        let recipients: Vec<SessionId> = ids.iter().filter(live).copied().collect();
        for session in recipients {
            let message = message.clone();
            state.frames.push(SentFrame {
                session,
                message,
                token: None,
            });
        }
        Ok(())
    }

    fn close(&self, id: SessionId, reason: &CloseReason) -> Result<(), HostError> {
        self.live(id, |s| {
            s.closed_with.get_or_insert_with(|| reason.clone());
            Ok(())
        })
    }

    fn property_get(&self, id: SessionId, key: &str) -> Result<Option<String>, HostError> {
        self.live(id, |s| Ok(s.properties.get(key).cloned()))
    }

    fn property_set(&self, id: SessionId, key: &str, json: &str) -> Result<(), HostError> {
        self.live(id, |s| {
            s.properties.insert(key.to_owned(), json.to_owned());
            Ok(())
        })
    }

    fn property_remove(&self, id: SessionId, key: &str) -> Result<bool, HostError> {
        self.live(id, |s| Ok(s.properties.remove(key).is_some()))
    }

    fn property_keys(&self, id: SessionId) -> Result<Vec<String>, HostError> {
        self.live(id, |s| Ok(s.properties.keys().cloned().collect()))
    }

    fn set_idle_timeout(&self, id: SessionId, timeout: Option<Duration>) -> Result<(), HostError> {
        self.live(id, |s| {
            s.idle_timeout = Some(timeout);
            Ok(())
        })
    }

    fn set_batching(&self, id: SessionId, enabled: bool) -> Result<(), HostError> {
        self.live(id, |s| {
            s.batching = Some(enabled);
            Ok(())
        })
    }

    fn flush(&self, id: SessionId) -> Result<(), HostError> {
        self.live(id, |s| {
            s.flushes += 1;
            Ok(())
        })
    }

    /// Like the server: from the start of `on_open` until `on_close` has run.
    fn endpoint_sessions(&self, endpoint: EndpointId) -> Result<Vec<SessionId>, HostError> {
        let state = self.lock();
        let open = state
            .sessions
            .iter()
            .filter(|(_, s)| s.endpoint == endpoint && s.ended.is_none());
        let mut ids: Vec<SessionId> = open.map(|(id, _)| *id).collect();
        ids.sort();
        Ok(ids)
    }

    fn log(&self, session: Option<SessionId>, level: LogLevel, message: &str) {
        let message = message.to_owned();
        let logged = Logged {
            session,
            level,
            message,
        };
        self.lock().logs.push(logged);
    }
}
