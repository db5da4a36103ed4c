//! Sessions: one accepted WebSocket connection each, from `on_open` to exactly one
//! `on_close`.
//!
//! A session is split by who touches it. The connection task (`connection`) reads the
//! socket (`socket`), enforces the text and binary limits, writes queued frames coalesced and
//! decides how the session ends. The handle (`handle`) is what other threads reach — host
//! services, broadcasts, shutdown: it queues frames and commands for the task, and a plugin
//! thread's blocking send may write its frame to the socket itself when the socket is free
//! (`direct`; the `outbox` decides who writes). Callbacks (`job`) run on the context's pool
//! through the session's mailbox, one at a time, in arrival order. `ending` maps every way a
//! session can end to its close code, in one place.
//!
//! Whatever ends a session — a clean close, a reset, a limit, a failing endpoint, shutdown —
//! the connection task posts exactly one `Close` job, after every other job of the session;
//! the session leaves the context's registry when that job has run.

mod connection;
mod direct;
mod ending;
mod handle;
mod job;
mod keepalive;
mod lifecycle;
mod monitor;
mod outbox;
mod properties;
mod socket;

use std::sync::Arc;

use bytes::Bytes;

pub(crate) use direct::Payload;
pub(crate) use ending::Closure;
pub(crate) use handle::{Command, Completion, Registry, SessionHandle};
pub(crate) use monitor::spawn_idle_monitor;
pub(crate) use socket::{SharedSocket, SocketIo};

use crate::codec::{CodecLimits, Connection, Transport};
use crate::context::{Admission, ContextCore, OpeningRequest};
use crate::executor::Mailbox;
use crate::http::forwarded::RemoteAddress;
use job::{Job, OpenInfo};
use properties::Properties;

/// Messages one session may have waiting for the pool before its reading pauses.
const MAILBOX_LIMIT: usize = 64;

/// Bytes of outgoing frames one session may have queued: four batching buffers, at least
/// 256 KiB. A client that stops reading cannot make the server hold more (a single larger
/// message is still accepted into an empty queue).
fn outbox_limit(batching_buffer_size: usize) -> usize {
    batching_buffer_size.saturating_mul(4).max(256 * 1024)
}

/// Opens a session on an upgraded connection; the future returned runs it until it has ended
/// and its `Close` job is posted. `socket` is the TCP socket under `io`, when there is one,
/// for direct writes. The setup is done before the future exists, so that the future (the
/// bulk of an idle session's memory) carries none of the handshake's data.
pub(crate) fn start<S>(
    io: S,
    socket: Option<Arc<SharedSocket>>,
    core: Arc<ContextCore>,
    opening: OpeningRequest,
    admission: Admission,
) -> impl Future<Output = ()> + Send + 'static
where
    S: Transport + Send + 'static,
{
    let properties = remote_properties(&opening);
    let outbox_limit = outbox_limit(core.settings.batching_buffer_size);
    // With permessage-deflate every data frame passes the task's compressor.
    let compresses = opening.deflate.is_some();
    let session = SessionHandle::new(
        endpoint_index(&opening),
        properties,
        outbox_limit,
        socket,
        compresses,
    );
    core.sessions.insert(Arc::clone(&session));
    let handler_session = Arc::clone(&session);
    let handler_core = Arc::clone(&core);
    let mailbox = Mailbox::new(&core.executor, MAILBOX_LIMIT, move |job: Job| {
        job::run(job, &handler_session, &handler_core)
    });
    let limits = CodecLimits {
        text: core.settings.limits.text,
        binary: core.settings.limits.binary,
    };
    let conn = Connection::accept(io, limits, opening.deflate);
    tracing::debug!(context = %core.name, session = session.id, path = %opening.path, peer = %opening.peer, "session opened");
    let open = Job::Open(Box::new(open_info(opening)));
    let parts = connection::Parts {
        session,
        core: Arc::clone(&core),
        mailbox,
        admission,
    };
    connection::drive(conn, parts, open)
}

fn endpoint_index(opening: &OpeningRequest) -> u32 {
    u32::try_from(opening.endpoint.endpoint).unwrap_or(u32::MAX)
}

fn open_info(opening: OpeningRequest) -> OpenInfo {
    let headers = opening
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    OpenInfo {
        path: opening.path,
        query: opening.query,
        path_params: opening.endpoint.params,
        headers,
        subprotocol: opening.subprotocol.unwrap_or_default(),
        remote_addr: client_address(&opening.remote),
    }
}

/// The client as `on_open` sees it: `ip:port`, `ip` without a known port, or nothing when a
/// trusted proxy hides it (the same client as the remote-address properties).
fn client_address(remote: &RemoteAddress) -> String {
    match (remote.addr, remote.port) {
        (Some(ip), Some(port)) => std::net::SocketAddr::new(ip, port).to_string(),
        (Some(ip), None) => ip.to_string(),
        (None, _) => String::new(),
    }
}

/// The JEUS remote-address user properties (SPEC §4): the client after trusted-proxy
/// headers; none at all when a trusted proxy hides the client, no `remotePort` when the
/// client's port is unknown.
fn remote_properties(opening: &OpeningRequest) -> Properties {
    let json = |text: &str| Bytes::from(serde_json::Value::from(text).to_string());
    let remote = &opening.remote;
    let Some(addr) = remote.addr else {
        return Properties::from_entries([]);
    };
    let addr = addr.to_string();
    let port = remote.port.map(|port| {
        (
            "jeus.websocket.remotePort".to_owned(),
            json(&port.to_string()),
        )
    });
    Properties::from_entries(
        [
            ("jeus.websocket.remoteAddr".to_owned(), json(&addr)),
            ("jeus.websocket.remoteHost".to_owned(), json(&addr)),
        ]
        .into_iter()
        .chain(port),
    )
}
