//! Sessions: one accepted WebSocket connection each, from `on_open` to exactly one
//! `on_close`.
//!
//! A session is split by who touches it. Its life is a pure state machine (`lifecycle`):
//! what every frame read, command, keepalive tick and failed write means. The connection
//! task (`connection`) drives it: it reads the socket (`socket`), writes queued frames
//! coalesced and carries the lifecycle's decisions out. The handle (`handle`) is what other
//! threads reach — host services, broadcasts, shutdown: it queues frames and commands for
//! the task, and a plugin thread's blocking send may write its frame to the socket itself
//! when the socket is free (`direct`; the `outbox` decides who writes). Callbacks (`job`) run
//! on the context's pool through the session's mailbox, one at a time, in arrival order,
//! through the [`Callbacks`] trait — the plugin boundary as sessions see it. `ending` decides,
//! in one place, what each way of ending sends and reports. What the sessions of a context
//! share (settings, the `registry`, the pool, the callbacks) is its [`Hub`]; a session starts
//! from an [`Opening`] (`opening`). This module imports nothing above it: not `context`,
//! `plugin` or `http`.
//!
//! Whatever ends a session — a clean close, a reset, a limit, a failing endpoint, shutdown —
//! the connection task posts exactly one `Close` job, after every other job of the session;
//! the session leaves the context's registry when that job has run.

mod connection;
mod direct;
mod ending;
mod handle;
mod hub;
mod job;
mod keepalive;
mod lifecycle;
mod monitor;
mod opening;
mod outbox;
mod properties;
mod registry;
mod socket;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub(crate) use direct::Payload;
pub(crate) use ending::{Cause, Closure, ErrorKind};
pub(crate) use handle::{Command, Completion, SendError, Sent, SessionHandle};
pub(crate) use hub::{Acceptance, Callbacks, Decision, Departure, Hub, Outcome};
pub(crate) use job::OpenInfo;
pub(crate) use monitor::spawn_idle_monitor;
pub(crate) use opening::{Opening, RemoteAddress};
pub(crate) use socket::{SharedSocket, SocketIo};

use crate::codec::{CodecLimits, Connection, Transport};
use crate::executor::Mailbox;
use job::Job;

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
/// for direct writes; `slot` (the context's admission of this session) is released when the
/// connection has ended, before `on_close` runs. The setup is done before the future exists,
/// so that the future (the bulk of an idle session's memory) carries none of the handshake's
/// data.
pub(crate) fn start<S, G>(
    io: S,
    socket: Option<Arc<SharedSocket>>,
    hub: Arc<Hub>,
    opening: Opening,
    slot: G,
) -> impl Future<Output = ()> + Send + 'static
where
    S: Transport + Send + 'static,
    G: Send + 'static,
{
    let batching = hub.settings().batching_buffer_size;
    // With permessage-deflate every data frame passes the task's compressor.
    let compresses = opening.deflate.is_some();
    let session = SessionHandle::new(
        opening.endpoint,
        opening.remote_properties(),
        outbox_limit(batching),
        socket,
        compresses,
    );
    hub.sessions().insert(Arc::clone(&session));
    // Read once the session is registered: a later change of the settings reaches it as a
    // `Command::Retune`, an earlier one is read here.
    let settings = hub.settings();
    if settings.batching_buffer_size != batching {
        (session.outbox).set_limit(outbox_limit(settings.batching_buffer_size));
    }
    let handler_session = Arc::clone(&session);
    let handler_hub = Arc::clone(&hub);
    let mailbox = Mailbox::new(hub.executor(), MAILBOX_LIMIT, move |job: Job| {
        job::run(job, &handler_session, &handler_hub)
    });
    let limits = CodecLimits {
        text: settings.limits.text,
        binary: settings.limits.binary,
    };
    let conn = Connection::accept(io, limits, opening.deflate);
    tracing::debug!(context = %hub.name(), session = session.id, path = %opening.path, peer = %opening.peer, "session opened");
    let open = Job::Open(Box::new(opening.into_open_info()));
    let parts = connection::Parts {
        session,
        hub,
        mailbox,
        slot,
    };
    connection::drive(conn, parts, open)
}
