//! What runs on the context's pool for a session: one [`Job`] per callback, handled in the
//! order posted by the session's mailbox (never two of a session at once).
//!
//! A callback that panics or fails is logged with the context and session, reported to
//! `on_error`, and closes that session alone with 1011. `on_open` refusing the session
//! closes it the same way unless the endpoint already asked for a close of its own.

use std::sync::Arc;

use bytes::Bytes;

use super::ending::{Cause, Closure, ErrorKind};
use super::handle::{Sent, SessionHandle};
use super::hub::{Callbacks, Hub, Outcome};

/// The handshake as `on_open` receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenInfo {
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) path_params: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) subprotocol: String,
    pub(crate) remote_addr: String,
}

/// One callback of one session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Job {
    Open(Box<OpenInfo>),
    Text(Bytes),
    Binary(Bytes),
    Pong(Bytes),
    Error {
        kind: ErrorKind,
        message: String,
    },
    SendComplete {
        token: u64,
        sent: Sent,
    },
    Close {
        code: u16,
        reason: String,
        cause: Cause,
    },
}

/// Runs one job on the calling pool thread.
pub(crate) fn run(job: Job, session: &Arc<SessionHandle>, hub: &Hub) {
    let Some(callbacks) = hub.callbacks() else {
        return;
    };
    let (id, endpoint) = (session.id, session.endpoint);
    let (outcome, callback) = match job {
        Job::Open(info) => match callbacks.on_open(endpoint, id, &info) {
            // The endpoint refused the session; it may have asked for the close itself.
            Outcome::Refused => {
                if !session.is_closing() {
                    session.close(Closure::EndpointFailure("the endpoint refused the session"));
                }
                return;
            }
            outcome => (outcome, "on_open"),
        },
        Job::Text(data) => (callbacks.on_text(endpoint, id, &data), "on_text"),
        Job::Binary(data) => (callbacks.on_binary(endpoint, id, &data), "on_binary"),
        Job::Pong(data) => (callbacks.on_pong(endpoint, id, &data), "on_pong"),
        Job::Error { kind, message } => {
            (callbacks.on_error(endpoint, id, kind, &message), "on_error")
        }
        Job::SendComplete { token, sent } => (
            callbacks.on_send_complete(endpoint, id, token, sent),
            "on_send_complete",
        ),
        Job::Close {
            code,
            reason,
            cause,
        } => {
            // The last callback: a failure here has no session left to close.
            let _ = callbacks.on_close(endpoint, id, code, &reason, cause);
            hub.sessions().remove(id);
            tracing::debug!(context = %hub.name(), session = id, code, ?cause, "session closed");
            return;
        }
    };
    if let Outcome::Failed(failure) = outcome {
        endpoint_failed(session, hub, callbacks, callback, failure);
    }
}

fn endpoint_failed(
    session: &SessionHandle,
    hub: &Hub,
    callbacks: &dyn Callbacks,
    callback: &str,
    failure: &str,
) {
    tracing::error!(
        context = %hub.name(),
        session = session.id,
        callback,
        status = failure,
        "endpoint callback failed; closing the session with 1011"
    );
    if callback != "on_error" {
        let message = format!("{callback} failed: {failure}");
        let kind = ErrorKind::EndpointFailure;
        let _ = callbacks.on_error(session.endpoint, session.id, kind, &message);
    }
    if !session.is_closing() {
        session.close(Closure::EndpointFailure("endpoint failure"));
    }
}
