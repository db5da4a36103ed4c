//! What runs on the context's pool for a session: one [`Job`] per callback, handled in the
//! order posted by the session's mailbox (never two of a session at once).
//!
//! A callback that panics (the SDK reports `PANICKED`) or fails is logged with the context
//! and session, reported to `on_error`, and closes that session alone with 1011.

use std::sync::Arc;

use bytes::Bytes;
use endpoint_api::abi::{Status, error_kind};

use super::ending::{Cause, Closure, ErrorKind};
use super::handle::SessionHandle;
use crate::context::ContextCore;
use crate::plugin::OpenArgs;

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
        status: Status,
    },
    Close {
        code: u16,
        reason: String,
        cause: Cause,
    },
}

/// Runs one job on the calling pool thread.
pub(crate) fn run(job: Job, session: &Arc<SessionHandle>, core: &ContextCore) {
    let Some(plugin) = core.plugin() else {
        return;
    };
    let (id, endpoint) = (session.id, session.endpoint);
    let (status, callback) = match job {
        Job::Open(info) => {
            let args = OpenArgs {
                path: &info.path,
                query: &info.query,
                path_params: &info.path_params,
                headers: &info.headers,
                subprotocol: &info.subprotocol,
                remote_addr: &info.remote_addr,
                flags: 0,
            };
            let status = plugin.on_open(endpoint, id, &args);
            if status == Status::REJECTED {
                // The endpoint refused the session; it asked for the close itself.
                if !session.is_closing() {
                    session.close(Closure::EndpointFailure("the endpoint refused the session"));
                }
                return;
            }
            (status, "on_open")
        }
        Job::Text(data) => (plugin.on_text(endpoint, id, &data), "on_text"),
        Job::Binary(data) => (plugin.on_binary(endpoint, id, &data), "on_binary"),
        Job::Pong(data) => (plugin.on_pong(endpoint, id, &data), "on_pong"),
        Job::Error { kind, message } => (
            plugin.on_error(endpoint, id, abi_error_kind(kind), &message),
            "on_error",
        ),
        Job::SendComplete { token, status } => (
            plugin.on_send_complete(endpoint, id, token, status),
            "on_send_complete",
        ),
        Job::Close {
            code,
            reason,
            cause,
        } => {
            // The last callback: a failure here has no session left to close.
            let _ = plugin.on_close(endpoint, id, code, &reason, cause.to_raw());
            core.sessions.remove(id);
            tracing::debug!(context = %core.name, session = id, code, ?cause, "session closed");
            return;
        }
    };
    if !status.is_ok() {
        endpoint_failed(session, core, callback, status);
    }
}

fn endpoint_failed(
    session: &Arc<SessionHandle>,
    core: &ContextCore,
    callback: &str,
    status: Status,
) {
    tracing::error!(
        context = %core.name,
        session = session.id,
        callback,
        status = status.name(),
        "endpoint callback failed; closing the session with 1011"
    );
    if callback != "on_error" {
        if let Some(plugin) = core.plugin() {
            let message = format!("{callback} failed: {}", status.name());
            let _ = plugin.on_error(
                session.endpoint,
                session.id,
                abi_error_kind(ErrorKind::EndpointFailure),
                &message,
            );
        }
    }
    if !session.is_closing() {
        session.close(Closure::EndpointFailure("endpoint failure"));
    }
}

/// The ABI's code for an error kind.
fn abi_error_kind(kind: ErrorKind) -> u32 {
    match kind {
        ErrorKind::Protocol => error_kind::PROTOCOL,
        ErrorKind::InvalidUtf8 => error_kind::INVALID_UTF8,
        ErrorKind::MessageTooBig => error_kind::MESSAGE_TOO_BIG,
        ErrorKind::EndpointFailure => error_kind::ENDPOINT_PANIC,
    }
}
