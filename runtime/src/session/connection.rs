//! The connection task: one tokio task per session that reads frames, writes frames and
//! decides how the session ends. It runs no plugin code: callbacks are posted to the
//! session's mailbox and run on the context's pool.
//!
//! Reading pauses while a job is waiting for room in the mailbox or the pool (TCP
//! back-pressure); nothing is dropped. Writes are coalesced: every frame already queued is
//! fed before one flush (bounded by `batching-buffer-size` bytes). Whatever ends the session,
//! exactly one `Close` job is posted, after every other job of the session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use endpoint_api::abi::{Status, error_kind};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::UnboundedReceiver;

use super::cause::{ABNORMAL, Cause, NO_STATUS, truncate_reason};
use super::handle::{Command, Completion, SessionHandle};
use super::job::Job;
use crate::codec::{CodecError, Connection, Inbound, Outbound};
use crate::context::{Admission, ContextCore};
use crate::executor::{Mailbox, RejectReason};

/// How long to wait for the peer's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// How a session ended, before the close handshake is finished.
#[derive(Debug)]
enum Ending {
    /// The peer sent a close frame (already answered by the codec).
    Remote { code: u16, reason: String },
    /// The connection is gone.
    Lost(String),
    /// The server closes: with a close frame when `code` is set, else by dropping.
    Server {
        code: Option<u16>,
        reason: String,
        cause: Cause,
    },
    /// The peer broke a rule: report it to `on_error`, then close with the cause's code.
    Violation { cause: Cause, message: String },
}

struct Link<S> {
    conn: Connection<S>,
    batching: bool,
    batch_limit: usize,
}

/// What a connection task owns besides the socket.
pub(super) struct Parts {
    pub(super) session: Arc<SessionHandle>,
    pub(super) core: Arc<ContextCore>,
    pub(super) mailbox: Mailbox<Job>,
    pub(super) commands: UnboundedReceiver<Command>,
    pub(super) admission: Admission,
}

/// Drives one session from its first job (`on_open`) to its `Close` job.
pub(super) async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    conn: Connection<S>,
    parts: Parts,
    open: Job,
) {
    let Parts {
        session,
        core,
        mailbox,
        mut commands,
        admission,
    } = parts;
    let mut link = Link {
        conn,
        batching: false,
        batch_limit: core.settings.batching_buffer_size.max(1),
    };
    let mut pending = VecDeque::from([open]);
    let ending = loop {
        post_pending(&mailbox, &mut pending);
        tokio::select! {
            biased;
            command = commands.recv() => {
                let Some(command) = command else {
                    break Ending::Server { code: Some(1001), reason: String::new(), cause: Cause::Shutdown };
                };
                if let Some(ending) = link.command(command, &mut commands, &mut pending).await {
                    break ending;
                }
            }
            _ = mailbox.ready(), if !pending.is_empty() => {}
            inbound = link.conn.next(), if pending.is_empty() => {
                if let Some(ending) = link.inbound(inbound, &core, &mut pending).await {
                    break ending;
                }
            }
        }
    };
    session.mark_closing();
    let (code, reason, cause, error) = link.finish(ending).await;
    fail_queued_sends(&mut commands, &mut pending);
    if let Some((kind, message)) = error {
        pending.push_back(Job::Error { kind, message });
    }
    pending.push_back(Job::Close {
        code,
        reason,
        cause,
    });
    // The connection is gone: its slot is free before `on_close` can run.
    drop(admission);
    post_all(&mailbox, pending, &core).await;
}

/// Posts queued jobs in order until the mailbox refuses one.
fn post_pending(mailbox: &Mailbox<Job>, pending: &mut VecDeque<Job>) {
    while let Some(job) = pending.pop_front() {
        if let Err(rejected) = mailbox.try_post(job) {
            pending.push_front(rejected.into_task());
            return;
        }
    }
}

/// Posts every remaining job, waiting for room as needed; the `Close` job must not be lost.
async fn post_all(mailbox: &Mailbox<Job>, mut pending: VecDeque<Job>, core: &ContextCore) {
    while let Some(job) = pending.pop_front() {
        let mut job = job;
        loop {
            match mailbox.try_post(job) {
                Ok(()) => break,
                Err(rejected) if rejected.reason() == RejectReason::ShutDown => {
                    tracing::warn!(context = %core.name, "pool shut down before a session's last callbacks ran");
                    return;
                }
                Err(rejected) => {
                    job = rejected.into_task();
                    mailbox.ready().await;
                }
            }
        }
    }
}

fn fail_queued_sends(commands: &mut UnboundedReceiver<Command>, pending: &mut VecDeque<Job>) {
    commands.close();
    while let Ok(command) = commands.try_recv() {
        if let Command::Send { done, .. } = command {
            complete(done, Status::CLOSED, pending);
        }
    }
}

fn complete(done: Completion, status: Status, pending: &mut VecDeque<Job>) {
    match done {
        Completion::None => {}
        Completion::Blocking(waiter) => {
            let _ = waiter.send(status);
        }
        Completion::Async(token) => pending.push_back(Job::SendComplete { token, status }),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    async fn inbound(
        &mut self,
        inbound: Option<Result<Inbound, CodecError>>,
        core: &ContextCore,
        pending: &mut VecDeque<Job>,
    ) -> Option<Ending> {
        let limits = core.settings.limits;
        let inbound = match inbound {
            None => {
                return Some(Ending::Lost(
                    "the connection ended without a close frame".into(),
                ));
            }
            Some(Err(CodecError::ConnectionLost(why))) => return Some(Ending::Lost(why)),
            Some(Err(error)) => {
                let cause = Cause::of(&error);
                return Some(Ending::Violation {
                    cause,
                    message: error.to_string(),
                });
            }
            Some(Ok(inbound)) => inbound,
        };
        match inbound {
            Inbound::Text(data) if data.len() > limits.text => {
                Some(too_big("text", data.len(), limits.text))
            }
            Inbound::Binary(data) if data.len() > limits.binary => {
                Some(too_big("binary", data.len(), limits.binary))
            }
            Inbound::Text(data) => {
                pending.push_back(Job::Text(data));
                None
            }
            Inbound::Binary(data) => {
                pending.push_back(Job::Binary(data));
                None
            }
            Inbound::Pong(data) => {
                pending.push_back(Job::Pong(data));
                None
            }
            // The codec queued the pong; send it now.
            Inbound::Ping(_) => self
                .conn
                .flush()
                .await
                .err()
                .map(|e| Ending::Lost(e.to_string())),
            Inbound::Close(frame) => {
                let _ = self.conn.flush().await;
                let (code, reason) = frame.unwrap_or((NO_STATUS, String::new()));
                Some(Ending::Remote { code, reason })
            }
        }
    }

    async fn command(
        &mut self,
        command: Command,
        commands: &mut UnboundedReceiver<Command>,
        pending: &mut VecDeque<Job>,
    ) -> Option<Ending> {
        let mut next = Some(command);
        let mut written = Vec::new();
        let mut bytes = 0;
        while let Some(command) = next.take() {
            match command {
                Command::Send { frame, done } => {
                    bytes += frame.len();
                    if let Err(error) = self.conn.feed(frame).await {
                        complete(done, Status::CLOSED, pending);
                        return Some(self.write_failed(error, written, pending));
                    }
                    written.push(done);
                    if bytes < self.batch_limit {
                        next = commands.try_recv().ok();
                    }
                }
                Command::Flush => bytes = self.batch_limit,
                Command::SetBatching(on) => self.batching = on,
                Command::Close {
                    code,
                    reason,
                    cause,
                } => {
                    self.flush_and_complete(written, pending).await;
                    return Some(Ending::Server {
                        code,
                        reason,
                        cause,
                    });
                }
            }
        }
        if self.batching && bytes < self.batch_limit {
            // Batched: written to the codec's buffer, flushed by a later flush or send.
            written
                .into_iter()
                .for_each(|done| complete(done, Status::OK, pending));
            return None;
        }
        self.flush_and_complete(written, pending).await
    }

    async fn flush_and_complete(
        &mut self,
        written: Vec<Completion>,
        pending: &mut VecDeque<Job>,
    ) -> Option<Ending> {
        match self.conn.flush().await {
            Ok(()) => {
                written
                    .into_iter()
                    .for_each(|done| complete(done, Status::OK, pending));
                None
            }
            Err(error) => Some(self.write_failed(error, written, pending)),
        }
    }

    fn write_failed(
        &mut self,
        error: CodecError,
        written: Vec<Completion>,
        pending: &mut VecDeque<Job>,
    ) -> Ending {
        written
            .into_iter()
            .for_each(|done| complete(done, Status::CLOSED, pending));
        Ending::Lost(error.to_string())
    }

    /// Finishes the close handshake and says what `on_close` reports, plus an error for
    /// `on_error` when the peer broke a rule.
    async fn finish(&mut self, ending: Ending) -> (u16, String, Cause, Option<(u32, String)>) {
        match ending {
            Ending::Remote { code, reason } => (code, reason, Cause::RemoteClose, None),
            Ending::Lost(why) => {
                tracing::trace!(%why, "connection lost");
                (ABNORMAL, String::new(), Cause::ConnectionLost, None)
            }
            Ending::Server {
                code: None,
                reason,
                cause,
            } => (ABNORMAL, reason, cause, None),
            Ending::Server {
                code: Some(code),
                reason,
                cause,
            } => {
                self.close(code, &reason).await;
                (code, reason, cause, None)
            }
            Ending::Violation { cause, message } => {
                let code = cause.server_code().unwrap_or(1002);
                self.close(code, &message).await;
                let kind = match cause {
                    Cause::MessageTooBig => error_kind::MESSAGE_TOO_BIG,
                    Cause::InvalidUtf8 => error_kind::INVALID_UTF8,
                    _ => error_kind::PROTOCOL,
                };
                (code, message.clone(), cause, Some((kind, message)))
            }
        }
    }

    /// Sends our close frame and waits (briefly) for the peer's.
    async fn close(&mut self, code: u16, reason: &str) {
        let frame = Outbound::Close(code, truncate_reason(reason).to_owned());
        if self.conn.feed(frame).await.is_err() || self.conn.flush().await.is_err() {
            return;
        }
        let drain = async {
            while let Some(Ok(inbound)) = self.conn.next().await {
                if matches!(inbound, Inbound::Close(_)) {
                    let _ = self.conn.flush().await;
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, drain).await;
    }
}

fn too_big(kind: &str, size: usize, limit: usize) -> Ending {
    Ending::Violation {
        cause: Cause::MessageTooBig,
        message: format!("{kind} message of {size} bytes exceeds the limit of {limit}"),
    }
}
