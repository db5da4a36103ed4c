//! The host's part, played by [`MockHost`]: handshakes, callbacks, completions, closes and
//! the undeploy, each followed by what Berth does next (a close the endpoint asked for, the
//! 1011 after a panic).

use crate::abi::Status;
use crate::close::{CloseCause, CloseInfo};
use crate::decision::{Accept, Refuse};
use crate::error::{ErrorKind, HostError, SendError};
use crate::handshake::Handshake;
use crate::host::LogLevel;
use crate::id::{EndpointId, SendToken, SessionId};
use crate::lifecycle::UndeployReason;
use crate::session::Session;

use super::MockHost;
use super::recorder::MockSession;

/// The code Berth reports with each cause.
fn code_of(cause: CloseCause) -> u16 {
    match cause {
        CloseCause::RemoteClose | CloseCause::EndpointClose => 1000,
        CloseCause::IdleTimeout | CloseCause::Undeploy | CloseCause::Shutdown => 1001,
        CloseCause::ProtocolError => 1002,
        CloseCause::InvalidUtf8 => 1007,
        CloseCause::MessageTooBig => 1009,
        CloseCause::EndpointFailure => 1011,
        CloseCause::Redeploy => 1012,
        CloseCause::ConnectionLost
        | CloseCause::PongTimeout
        | CloseCause::SendTimeout
        | CloseCause::SlowConsumer
        | CloseCause::Unknown(_) => 1006,
    }
}

impl MockHost {
    /// Opens a session at `url` (relative to the context, with an optional `?query`), as a
    /// client connecting: routed by the path templates (path parameters filled), decided by
    /// `on_handshake` (if the deployment decides handshakes: see the module docs), then
    /// opened with `on_open`. `Err` is the HTTP answer instead of 101:
    /// the endpoint's [`Refuse`], 404 when no template matches, 500 when `on_handshake`
    /// panicked or chose a subprotocol the client did not offer.
    ///
    /// A session `on_open` refused is returned too (it was upgraded, then closed): its
    /// [`close_info`](MockHost::close_info) tells.
    pub fn connect(&self, url: &str) -> Result<Session, Refuse> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        self.connect_with(Handshake::new(path).with_query(query))
    }

    /// Like [`connect`](Self::connect), with a whole handshake: headers (cookies, offered
    /// subprotocols in `Sec-WebSocket-Protocol`), the client's address. Its path parameters
    /// and subprotocol are set by the mock, as the host sets them.
    pub fn connect_with(&self, handshake: Handshake) -> Result<Session, Refuse> {
        let route = self
            .routes
            .find(handshake.path())
            .ok_or_else(Refuse::not_found)?;
        let mut handshake = handshake.without_negotiation();
        for (name, value) in route.params {
            handshake = handshake.with_path_param(name, value);
        }
        let accept = match self.decides_handshakes {
            true => match self.instance.handshake(route.endpoint, &handshake) {
                Ok(decision) => decision?,
                Err(_) => return Err(Refuse::internal_error()),
            },
            false => Accept::new(),
        };
        let subprotocol = self.negotiate(route.endpoint, &handshake, &accept)?;
        if let Some(chosen) = subprotocol {
            handshake = handshake.with_subprotocol(chosen);
        }
        let id = self.admit(EndpointId::new(route.endpoint), accept);
        let status = self.instance.open(route.endpoint, id.raw(), handshake);
        let session = self.session(id);
        self.settle(id, status, "on_open");
        session.ok_or_else(Refuse::internal_error)
    }

    /// The endpoint's choice if it made one (it must be offered), else the first declared
    /// subprotocol the client offered.
    fn negotiate(
        &self,
        endpoint: u32,
        handshake: &Handshake,
        accept: &Accept,
    ) -> Result<Option<String>, Refuse> {
        let mut offered = handshake.offered_subprotocols();
        if let Some(chosen) = accept.subprotocol() {
            if !offered.any(|name| name == chosen) {
                let line = format!("on_handshake chose subprotocol {chosen:?}, not offered");
                self.recorder.lock().logs.push(super::Logged {
                    session: None,
                    level: LogLevel::Error,
                    message: line,
                });
                return Err(Refuse::internal_error());
            }
            return Ok(Some(chosen.to_owned()));
        }
        let offered: Vec<&str> = offered.collect();
        let mut declared = self.routes.subprotocols(endpoint).iter();
        Ok(declared
            .find(|name| offered.contains(&name.as_str()))
            .cloned())
    }

    /// A new session id, with the acceptance's properties and headers.
    fn admit(&self, endpoint: EndpointId, accept: Accept) -> SessionId {
        let acceptance = accept.into_acceptance();
        let mut state = self.recorder.lock();
        state.last_id += 1;
        let id = SessionId::from_raw(state.last_id);
        let mut session = MockSession::new(endpoint);
        for (key, value) in acceptance.properties {
            session.properties.insert(key, value.to_string());
        }
        session.response_headers = acceptance.headers;
        state.sessions.insert(id, session);
        id
    }

    /// A handle to a session between its `on_open` and its `on_close`.
    fn session(&self, id: SessionId) -> Option<Session> {
        self.instance
            .shared()
            .lookup(id)
            .map(|record| Session::new(id, record, self.instance.shared().clone()))
    }

    /// Delivers a text message.
    pub fn text(&self, session: &Session, text: &str) {
        if self.is_live(session.id()) {
            let status = self.instance.text(
                self.endpoint_of(session),
                session.id().raw(),
                text.as_bytes(),
            );
            self.settle(session.id(), status, "on_text");
        }
    }

    /// Delivers a binary message.
    pub fn binary(&self, session: &Session, data: &[u8]) {
        if self.is_live(session.id()) {
            let status = self
                .instance
                .binary(self.endpoint_of(session), session.id().raw(), data);
            self.settle(session.id(), status, "on_binary");
        }
    }

    /// Delivers a pong.
    pub fn pong(&self, session: &Session, data: &[u8]) {
        if self.is_live(session.id()) {
            let status = self
                .instance
                .pong(self.endpoint_of(session), session.id().raw(), data);
            self.settle(session.id(), status, "on_pong");
        }
    }

    /// Delivers an error as the host reports one (the session stays open: end it with
    /// [`close`](Self::close) if the failure would end it).
    pub fn error(&self, session: &Session, kind: ErrorKind, message: &str) {
        if self.is_live(session.id()) {
            let (endpoint, id) = (self.endpoint_of(session), session.id().raw());
            let status = self.instance.error(endpoint, id, kind, message.to_owned());
            self.settle(session.id(), status, "on_error");
        }
    }

    /// Completes one pending async send (its closure runs, or `on_send_complete`); `false`
    /// when the token is not pending.
    pub fn complete(
        &self,
        session: &Session,
        token: SendToken,
        result: Result<(), SendError>,
    ) -> bool {
        let id = session.id();
        let taken = self.with_session(id, |s| {
            let at = s.pending.iter().position(|t| *t == token)?;
            Some(s.pending.remove(at))
        });
        if taken.flatten().is_none() {
            return false;
        }
        let status = result.err().map_or(Status::OK, |error| error.status());
        let endpoint = self.endpoint_of(session);
        let status = self
            .instance
            .send_complete(endpoint, id.raw(), token.raw(), status);
        self.settle(id, status, "on_send_complete");
        true
    }

    /// Completes every pending async send of a session, in order; how many.
    pub fn complete_all(&self, session: &Session, result: Result<(), SendError>) -> usize {
        let pending = self.pending_sends(session.id());
        let completed = pending
            .into_iter()
            .filter(|token| self.complete(session, *token, result.clone()));
        completed.count()
    }

    /// Ends a session as the host would for `cause` (with Berth's code for it: 1000 for a
    /// remote close, 1006 for a lost connection, 1001 for an idle timeout, ...): pending
    /// async sends complete with `Closed`, then `on_close` runs.
    pub fn close(&self, session: &Session, cause: CloseCause) {
        let info = CloseInfo {
            code: code_of(cause),
            reason: String::new(),
            cause,
        };
        self.close_with(session, info);
    }

    /// Ends a session with exactly this code, reason and cause.
    pub fn close_with(&self, session: &Session, info: CloseInfo) {
        if self.is_live(session.id()) {
            self.end(session.id(), info);
        }
    }

    /// Undeploys the context: every open session ends with the reason's cause (1001, or
    /// 1012 for a redeploy), then each endpoint's `on_undeploy` runs.
    pub fn undeploy(&self, reason: UndeployReason) {
        let cause = match reason {
            UndeployReason::Undeploy => CloseCause::Undeploy,
            UndeployReason::Redeploy => CloseCause::Redeploy,
            UndeployReason::Shutdown | UndeployReason::Unknown(_) => CloseCause::Shutdown,
        };
        let open: Vec<SessionId> = {
            let state = self.recorder.lock();
            let live = state.sessions.iter().filter(|(_, s)| s.ended.is_none());
            live.map(|(id, _)| *id).collect()
        };
        let mut open = open;
        open.sort();
        for id in open {
            let info = CloseInfo {
                code: code_of(cause),
                reason: String::new(),
                cause,
            };
            self.end(id, info);
        }
        self.instance.undeploy(reason);
    }

    fn endpoint_of(&self, session: &Session) -> u32 {
        session.endpoint().raw()
    }

    fn endpoint_by_id(&self, id: SessionId) -> u32 {
        let endpoint = self.with_session(id, |s| s.endpoint.raw());
        endpoint.unwrap_or(u32::MAX)
    }

    fn is_live(&self, id: SessionId) -> bool {
        self.with_session(id, |s| s.ended.is_none())
            .unwrap_or(false)
    }

    /// After a callback: a panic is reported to `on_error` and closes with 1011; a close
    /// the endpoint asked for is completed with its `on_close`.
    fn settle(&self, id: SessionId, status: Status, callback: &str) {
        if status == Status::PANICKED {
            self.failed(id, callback);
        }
        let closing = self.with_session(id, |s| {
            let asked = s
                .closed_with
                .as_ref()
                .map(|r| (r.code(), r.reason().to_owned()));
            (s.ended.is_none()).then_some(asked).flatten()
        });
        if let Some((code, reason)) = closing.flatten() {
            let cause = CloseCause::EndpointClose;
            self.end(
                id,
                CloseInfo {
                    code,
                    reason,
                    cause,
                },
            );
        }
    }

    /// What Berth does when a callback fails: `on_error`, then 1011.
    fn failed(&self, id: SessionId, callback: &str) {
        let already = self.with_session(id, |s| {
            let closing = s.host_closing || s.closed_with.is_some();
            s.host_closing = true;
            closing
        });
        if callback != "on_error" {
            let message = format!("{callback} failed: panicked");
            let endpoint = self.endpoint_by_id(id);
            let _ = self
                .instance
                .error(endpoint, id.raw(), ErrorKind::EndpointPanic, message);
        }
        if already == Some(false) {
            let info = CloseInfo {
                code: 1011,
                reason: String::new(),
                cause: CloseCause::EndpointFailure,
            };
            self.end(id, info);
        }
    }

    /// Completes what is pending with `Closed`, runs `on_close`, marks the session ended.
    fn end(&self, id: SessionId, info: CloseInfo) {
        let pending = self.with_session(id, |s| {
            s.host_closing = true;
            std::mem::take(&mut s.pending)
        });
        let endpoint = self.endpoint_by_id(id);
        for token in pending.unwrap_or_default() {
            let closed = HostError::Closed.status();
            let _ = self
                .instance
                .send_complete(endpoint, id.raw(), token.raw(), closed);
        }
        let _ = self.instance.close(endpoint, id.raw(), info.clone());
        self.with_session(id, |s| s.ended = Some(info));
    }
}
