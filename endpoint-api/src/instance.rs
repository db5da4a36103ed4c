//! The plugin instance behind the C callbacks (and behind [`MockHost`](crate::mock::MockHost)):
//! builds the endpoints of one deployed context, keeps each session's [`Record`], and
//! dispatches callbacks to the endpoints under the panic [shield](crate::guard). Safe code;
//! `abi::export` turns the raw arguments into the values used here.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::abi::Status;
use crate::close::{CloseCause, CloseInfo, CloseReason};
use crate::context::{PluginContext, Shared};
use crate::decision::{Accept, Refuse};
use crate::dispatch::Dispatch;
use crate::error::{ErrorKind, HostError, SessionError};
use crate::guard::{Scope, shielded};
use crate::handshake::Handshake;
use crate::host::{Host, LogLevel};
use crate::id::{EndpointId, SendToken, SessionId};
use crate::lifecycle::UndeployReason;
use crate::message::{Binary, Failures, Text};
use crate::record::{AnyState, Record};
use crate::session::Session;

/// One deployed context's endpoints.
pub(crate) struct Instance {
    shared: Arc<Shared>,
    endpoints: Vec<Box<dyn Dispatch>>,
    /// Whether the host asks `on_handshake` before the upgrade; if not, `open` does.
    host_decides: bool,
    /// Per endpoint: whether the fallback's warning was logged.
    warned: Vec<AtomicBool>,
}

impl Instance {
    /// Builds every endpoint in declaration order; `None` (logged) if a factory panicked.
    pub(crate) fn create<F>(
        host: Arc<dyn Host>,
        init_params: Vec<(String, String)>,
        factories: impl IntoIterator<Item = F>,
        host_decides: bool,
    ) -> Option<Instance>
    where
        F: FnOnce(&PluginContext) -> Box<dyn Dispatch>,
    {
        let shared = Shared::new(host, init_params);
        let build = || {
            let contexts = (0u32..).map(|i| PluginContext::new(shared.clone(), EndpointId::new(i)));
            let made = factories.into_iter().zip(contexts);
            made.map(|(make, ctx)| make(&ctx)).collect()
        };
        let scope = Scope {
            host: shared.host(),
            session: None,
            what: "an endpoint factory",
        };
        let endpoints: Vec<Box<dyn Dispatch>> = shielded(scope, build)?;
        let warned = endpoints.iter().map(|_| AtomicBool::new(false)).collect();
        Some(Instance {
            shared,
            endpoints,
            host_decides,
            warned,
        })
    }

    /// What the endpoints share (the mock host builds contexts and sessions from it).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The host, for reporting.
    pub(crate) fn host(&self) -> &dyn Host {
        self.shared.host()
    }

    /// Cuts every handle the endpoints kept (contexts, sessions) off the host: from now on
    /// they fail as if every session had ended. Called just before the instance is dropped.
    pub(crate) fn retire(&self) {
        self.shared.retire();
    }

    /// The host, kept alive past the instance (to report a panic while dropping it).
    pub(crate) fn host_handle(&self) -> Arc<dyn Host> {
        self.shared.host_handle()
    }

    fn scope<'a>(&'a self, session: Option<SessionId>, what: &'a str) -> Scope<'a> {
        Scope {
            host: self.host(),
            session,
            what,
        }
    }

    fn endpoint(&self, endpoint: EndpointId) -> Option<&dyn Dispatch> {
        self.endpoints.get(endpoint.index()).map(|ep| &**ep)
    }

    /// The session's endpoint, if the host names the same one.
    fn endpoint_of(&self, record: &Record, endpoint: u32) -> Option<&dyn Dispatch> {
        (record.endpoint.raw() == endpoint).then(|| self.endpoint(record.endpoint))?
    }

    /// `on_handshake`: the endpoint's decision, or the status of its failure.
    pub(crate) fn handshake(
        &self,
        endpoint: u32,
        handshake: &Handshake,
    ) -> Result<Result<Accept, Refuse>, Status> {
        let ep = self.endpoint(EndpointId::new(endpoint));
        let ep = ep.ok_or(Status::INVALID_ARGUMENT)?;
        let scope = self.scope(None, "on_handshake");
        shielded(scope, || ep.handshake(handshake)).ok_or(Status::PANICKED)
    }

    pub(crate) fn open(&self, endpoint: u32, session: u64, handshake: Handshake) -> Status {
        let (id, endpoint) = (SessionId::from_raw(session), EndpointId::new(endpoint));
        let Some(ep) = self.endpoint(endpoint) else {
            return Status::INVALID_ARGUMENT;
        };
        let record = Arc::new(Record::new(endpoint, handshake));
        self.shared.register(id, record.clone());
        let session = Session::new(id, record.clone(), self.shared.clone());
        if let Err(status) = self.decide_late(endpoint, ep, &session) {
            record.refuse(self.fresh_state(id, ep));
            return status;
        }
        let opened = shielded(self.scope(Some(id), "on_open"), || {
            ep.open(&session, &record.handshake)
        });
        match opened {
            Some(Ok(state)) => {
                record.accept(state);
                Status::OK
            }
            Some(Err(reason)) => {
                record.refuse(self.fresh_state(id, ep));
                match self.host().close(id, &reason) {
                    Ok(()) => Status::REJECTED,
                    Err(error) => error.status(),
                }
            }
            None => {
                record.refuse(self.fresh_state(id, ep));
                Status::PANICKED
            }
        }
    }

    /// Runs `on_handshake` when the host did not ask it before the upgrade: a refusal closes
    /// the session (1008, the body as the reason), an acceptance's properties are set.
    fn decide_late(
        &self,
        endpoint: EndpointId,
        ep: &dyn Dispatch,
        session: &Session,
    ) -> Result<(), Status> {
        if self.host_decides {
            return Ok(());
        }
        let scope = self.scope(Some(session.id()), "on_handshake");
        let decision = shielded(scope, || ep.handshake(session.handshake()));
        match decision.ok_or(Status::PANICKED)? {
            Ok(accept) if accept.is_plain() => Ok(()),
            Ok(accept) => {
                self.warn_late(endpoint, ep);
                self.apply_late(session, accept)
            }
            Err(refuse) => {
                self.warn_late(endpoint, ep);
                let reason = match refuse.body() {
                    "" => format!("refused ({})", refuse.status()),
                    body => body.to_owned(),
                };
                let close = CloseReason::policy_violation().with_reason(reason);
                match self.host().close(session.id(), &close) {
                    Ok(()) => Err(Status::REJECTED),
                    Err(error) => Err(error.status()),
                }
            }
        }
    }

    /// Sets an acceptance's properties (its headers and subprotocol are too late).
    fn apply_late(&self, session: &Session, accept: Accept) -> Result<(), Status> {
        let acceptance = accept.into_acceptance();
        for (key, value) in acceptance.properties {
            let json = value.to_string();
            let stored = self.host().property_set(session.id(), &key, &json);
            stored.map_err(|error| error.status())?;
        }
        Ok(())
    }

    fn warn_late(&self, endpoint: EndpointId, ep: &dyn Dispatch) {
        let Some(warned) = self.warned.get(endpoint.index()) else {
            return;
        };
        if warned.swap(true, Ordering::Relaxed) {
            return;
        }
        let why = if ep.decides_handshakes() {
            "the host is older than ABI 1.2"
        } else {
            "the endpoint does not set `const DECIDES_HANDSHAKES: bool = true`"
        };
        let line = format!(
            "endpoint {endpoint}: on_handshake decided after the upgrade ({why}): a refusal \
             closes with 1008, an acceptance's headers and subprotocol are dropped"
        );
        self.host().log(None, LogLevel::Warn, &line);
    }

    /// `State::default()` for a session `on_open` did not accept.
    fn fresh_state(&self, id: SessionId, ep: &dyn Dispatch) -> Option<AnyState> {
        shielded(self.scope(Some(id), "State::default"), || ep.fresh())
    }

    pub(crate) fn text(&self, endpoint: u32, session: u64, data: &[u8]) -> Status {
        let Ok(text) = std::str::from_utf8(data) else {
            return Status::INVALID_ARGUMENT;
        };
        self.message(endpoint, session, "on_text", |ep, s, state, failures| {
            ep.text(s, state, Text::new(text, failures));
        })
    }

    pub(crate) fn binary(&self, endpoint: u32, session: u64, data: &[u8]) -> Status {
        self.message(endpoint, session, "on_binary", |ep, s, state, failures| {
            ep.binary(s, state, Binary::new(data, failures));
        })
    }

    pub(crate) fn pong(&self, endpoint: u32, session: u64, data: &[u8]) -> Status {
        self.message(endpoint, session, "on_pong", |ep, s, state, _| {
            ep.pong(s, state, data)
        })
    }

    pub(crate) fn error(
        &self,
        endpoint: u32,
        session: u64,
        kind: ErrorKind,
        message: String,
    ) -> Status {
        let error = SessionError { kind, message };
        self.with_session(endpoint, session, |ep, s, record| {
            record.with_state(|state| {
                shielded(self.scope(Some(s.id()), "on_error"), || {
                    ep.error(s, state, &error)
                })
            })
        })
    }

    /// An async send completed: its closure runs, or `on_send_complete` for a token send.
    pub(crate) fn send_complete(
        &self,
        endpoint: u32,
        session: u64,
        token: u64,
        status: Status,
    ) -> Status {
        let token = SendToken::from_raw(token);
        let result = HostError::check(status);
        self.with_session(endpoint, session, |ep, s, record| {
            if let Some(done) = record.take_completion(token) {
                let scope = self.scope(Some(s.id()), "an async send's closure");
                return Some(shielded(scope, || done(s, result)));
            }
            record.with_state(|state| {
                let scope = self.scope(Some(s.id()), "on_send_complete");
                shielded(scope, || ep.send_complete(s, state, token, result))
            })
        })
    }

    /// Delivers `on_close`, forgets the session and drops its state (even if the callback
    /// panics). Closures still waiting for a completion run first, with `Closed`.
    pub(crate) fn close(&self, endpoint: u32, session: u64, info: CloseInfo) -> Status {
        let id = SessionId::from_raw(session);
        let Some(record) = self.shared.lookup(id) else {
            return Status::OK;
        };
        let Some(ep) = self.endpoint_of(&record, endpoint) else {
            return Status::INVALID_ARGUMENT;
        };
        self.shared.unregister(id);
        record.closing();
        let session = Session::new(id, record.clone(), self.shared.clone());
        for (_, done) in record.take_completions() {
            let scope = self.scope(Some(id), "an async send's closure");
            shielded(scope, || done(&session, Err(HostError::Closed)));
        }
        let closed = record.with_state(|state| {
            shielded(self.scope(Some(id), "on_close"), || {
                ep.close(&session, state, &info)
            })
        });
        let state = record.finish();
        shielded(self.scope(Some(id), "dropping a session's state"), || {
            drop(state)
        });
        match closed {
            Some(None) => Status::PANICKED,
            Some(Some(())) | None => Status::OK,
        }
    }

    /// `on_deploy` of every endpoint, in order; `PANICKED` if any panicked.
    pub(crate) fn deploy(&self) -> Status {
        self.each_endpoint("on_deploy", |ep| ep.deploy())
    }

    /// `on_undeploy` of every endpoint, in order; `PANICKED` if any panicked.
    pub(crate) fn undeploy(&self, reason: UndeployReason) -> Status {
        self.each_endpoint("on_undeploy", |ep| ep.undeploy(reason))
    }

    fn each_endpoint(&self, what: &str, call: impl Fn(&dyn Dispatch)) -> Status {
        let mut status = Status::OK;
        for ep in &self.endpoints {
            if shielded(self.scope(None, what), || call(&**ep)).is_none() {
                status = Status::PANICKED;
            }
        }
        status
    }

    /// Runs a message callback (skipped for a session `on_open` did not accept), then
    /// `on_error` for each message that did not decode.
    fn message(
        &self,
        endpoint: u32,
        session: u64,
        name: &str,
        deliver: impl FnOnce(&dyn Dispatch, &Session, &mut (dyn Any + Send), &Failures),
    ) -> Status {
        self.with_session(endpoint, session, |ep, s, record| {
            if !record.takes_messages() {
                return Some(Some(()));
            }
            record.with_state(|state| {
                let failures = Failures::default();
                shielded(self.scope(Some(s.id()), name), || {
                    deliver(ep, s, state, &failures)
                })?;
                for error in failures.take() {
                    let scope = self.scope(Some(s.id()), "on_error");
                    shielded(scope, || ep.error(s, state, &error))?;
                }
                Some(())
            })
        })
    }

    /// Finds the session and runs `body`; its `Some(None)` means a panic, `None` no state.
    fn with_session(
        &self,
        endpoint: u32,
        session: u64,
        body: impl FnOnce(&dyn Dispatch, &Session, &Record) -> Option<Option<()>>,
    ) -> Status {
        let id = SessionId::from_raw(session);
        let Some(record) = self.shared.lookup(id) else {
            return Status::NO_SUCH_SESSION;
        };
        let Some(ep) = self.endpoint_of(&record, endpoint) else {
            return Status::INVALID_ARGUMENT;
        };
        let handle = Session::new(id, record.clone(), self.shared.clone());
        match body(ep, &handle, &record) {
            Some(None) => Status::PANICKED,
            Some(Some(())) | None => Status::OK,
        }
    }
}

/// Builds the [`CloseInfo`] for `on_close` from the ABI arguments.
pub(crate) fn close_info(code: u16, reason: String, cause: u32) -> CloseInfo {
    CloseInfo {
        code,
        reason,
        cause: CloseCause::from_raw(cause),
    }
}
