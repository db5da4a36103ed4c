//! [`Record`]: what the SDK keeps of one session between its `on_open` and `on_close` — the
//! handshake, the endpoint's typed state, the closures of pending async sends, and where the
//! session is in its life.
//!
//! The state sits behind a mutex although a session's callbacks never overlap (the host's
//! contract): the lock is uncontended and costs one atomic operation, and a host that broke
//! the contract would make a callback wait instead of aliasing `&mut`. Nothing else ever
//! locks it: the state is reachable only from the session's own callbacks.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::{HostError, SendError};
use crate::handshake::Handshake;
use crate::id::{EndpointId, SendToken};
use crate::session::Session;

/// An endpoint's per-session state, type-erased (each endpoint knows its own type).
pub(crate) type AnyState = Box<dyn Any + Send>;

/// What runs when an async send made with a closure completes.
pub(crate) type Completion = Box<dyn FnOnce(&Session, Result<(), SendError>) + Send>;

/// Where a session is in its life, as the SDK sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    /// `on_open` is running.
    Opening = 0,
    /// `on_open` accepted it.
    Open = 1,
    /// `on_open` refused it or panicked: only `on_error` and `on_close` follow.
    Refused = 2,
    /// The endpoint asked the host to close it, or `on_close` is running.
    Closing = 3,
    /// `on_close` has run.
    Closed = 4,
}

impl Phase {
    fn from_raw(raw: u8) -> Phase {
        match raw {
            0 => Phase::Opening,
            1 => Phase::Open,
            2 => Phase::Refused,
            3 => Phase::Closing,
            _ => Phase::Closed,
        }
    }
}

/// One session as the SDK keeps it.
pub(crate) struct Record {
    pub(crate) endpoint: EndpointId,
    pub(crate) handshake: Handshake,
    phase: AtomicU8,
    state: Mutex<Option<AnyState>>,
    completions: Mutex<HashMap<SendToken, Completion>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Record {
    pub(crate) fn new(endpoint: EndpointId, handshake: Handshake) -> Record {
        Record {
            endpoint,
            handshake,
            phase: AtomicU8::new(Phase::Opening as u8),
            state: Mutex::new(None),
            completions: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        Phase::from_raw(self.phase.load(Ordering::Acquire))
    }

    fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// Between `on_open` and `on_close`, accepted, and not closed by the endpoint.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.phase(), Phase::Opening | Phase::Open)
    }

    /// Whether message callbacks (text, binary, pong) are delivered.
    pub(crate) fn takes_messages(&self) -> bool {
        matches!(self.phase(), Phase::Open | Phase::Closing)
    }

    /// `on_open` accepted the session with this state.
    pub(crate) fn accept(&self, state: AnyState) {
        *locked(&self.state) = Some(state);
        // A close asked for during `on_open` stands.
        let _ = self.phase.compare_exchange(
            Phase::Opening as u8,
            Phase::Open as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// `on_open` refused the session or panicked; `state` is the default one, if building it
    /// did not panic too.
    pub(crate) fn refuse(&self, state: Option<AnyState>) {
        *locked(&self.state) = state;
        self.set_phase(Phase::Refused);
    }

    /// The endpoint asked the host to close the session, or `on_close` begins.
    pub(crate) fn closing(&self) {
        let open = [Phase::Opening as u8, Phase::Open as u8];
        let _ = self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |raw| {
                open.contains(&raw).then_some(Phase::Closing as u8)
            });
    }

    /// Runs `f` with the state; `None` when there is none (never built, or gone).
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut (dyn Any + Send)) -> R) -> Option<R> {
        let mut state = locked(&self.state);
        state.as_deref_mut().map(f)
    }

    /// Keeps the closure of an async send until its completion.
    pub(crate) fn await_completion(
        &self,
        token: SendToken,
        done: Completion,
    ) -> Result<(), SendError> {
        if self.phase() == Phase::Closed {
            return Err(HostError::NoSuchSession);
        }
        locked(&self.completions).insert(token, done);
        Ok(())
    }

    /// The closure of an async send, taken for its completion (or because the send failed).
    pub(crate) fn take_completion(&self, token: SendToken) -> Option<Completion> {
        locked(&self.completions).remove(&token)
    }

    /// The closures still waiting, in token order (the order of their sends).
    pub(crate) fn take_completions(&self) -> Vec<(SendToken, Completion)> {
        let mut left: Vec<_> = locked(&self.completions).drain().collect();
        left.sort_by_key(|(token, _)| *token);
        left
    }

    /// After `on_close`: the session is closed; its state is handed out to be dropped.
    pub(crate) fn finish(&self) -> Option<AnyState> {
        self.set_phase(Phase::Closed);
        locked(&self.state).take()
    }
}
