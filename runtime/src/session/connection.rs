//! The connection task: one tokio task per session that reads frames, writes frames, pings,
//! and decides how the session ends. It runs no plugin code: callbacks are posted to the
//! session's mailbox and run on the context's pool.
//!
//! Reading pauses while a job waits for room in the mailbox or the pool (TCP back-pressure);
//! nothing is dropped. Writes are coalesced: the frames queued in the outbox are fed together
//! (up to `batching-buffer-size` bytes) before one flush. The task claims the socket from the
//! plugin threads' direct writes before any write of its own and hands it back when it has
//! nothing buffered (see `outbox`). A write that outlives the earliest
//! deadline of the frames queued — or a send that timed out on a plugin thread — drops the
//! connection (cause send timeout, reported as 1006). Whatever ends the session, exactly one
//! `Close` job is posted, after every other job of the session; expiry (idle, pong or send
//! timeout) posts them through the reserved timeout threads.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use endpoint_api::abi::Status;
use tokio::time::Instant;

use super::ending::{Closure, Ending, Report, Violation};
use super::handle::{Command, Completion, SessionHandle};
use super::job::Job;
use super::keepalive::{Keepalive, Tick};
use super::outbox::Outgoing;
use crate::codec::{CodecError, Connection, Inbound, Outbound, Transport};
use crate::context::{Admission, ContextCore};
use crate::executor::{Mailbox, RejectReason};

/// How long to wait for the peer's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// What a connection task owns besides the socket.
pub(super) struct Parts {
    pub(super) session: Arc<SessionHandle>,
    pub(super) core: Arc<ContextCore>,
    pub(super) mailbox: Mailbox<Job>,
    pub(super) admission: Admission,
}

struct Link<S> {
    conn: Connection<S>,
    session: Arc<SessionHandle>,
    batching: bool,
    batch_limit: usize,
    unflushed: usize,
    control_counts: bool,
    /// The task holds the socket: plugin threads queue their frames instead of writing.
    claimed: bool,
}

/// Drives one session from its first job (`on_open`) to its `Close` job.
pub(super) async fn drive<S: Transport>(conn: Connection<S>, parts: Parts, open: Job) {
    let Parts {
        session,
        core,
        mailbox,
        admission,
    } = parts;
    let settings = &core.settings;
    let mut link = Link {
        conn,
        session: Arc::clone(&session),
        batching: false,
        batch_limit: settings.batching_buffer_size.max(1),
        unflushed: 0,
        control_counts: settings.idle.counts_control_frames,
        claimed: false,
    };
    let mut keepalive = Keepalive::new(
        settings.keepalive.ping_interval,
        settings.keepalive.pong_timeout,
    );
    let mut pending = VecDeque::from([open]);
    session.touch();
    let ending = loop {
        post_pending(&mailbox, &mut pending);
        link.release();
        tokio::select! {
            biased;
            // Frames and commands share one wake-up (one waiter less in every idle task).
            () = session.outbox.arrived() => {
                if let Some(ending) = link.woken(&mut pending).await {
                    break ending;
                }
            }
            tick = keepalive.next() => {
                if let Some(ending) = Box::pin(link.keepalive(tick, &mut keepalive)).await {
                    break ending;
                }
            }
            () = mailbox.ready(), if !pending.is_empty() => {}
            inbound = link.conn.next(), if pending.is_empty() => {
                // Flushes are rare (a pong, the close answer) and their future large: boxed.
                match link.inbound(inbound, &core, &mut keepalive, &mut pending) {
                    Step::Continue => {}
                    Step::End(ending) => break ending,
                    Step::Flush => {
                        if let Err(error) = Box::pin(link.flush()).await {
                            break Ending::Lost(error.to_string());
                        }
                    }
                    Step::FlushThenEnd(ending) => {
                        let _ = Box::pin(link.flush()).await;
                        break ending;
                    }
                }
            }
        }
    };
    if ending.settles_first() {
        Box::pin(link.settle(&mailbox, &mut pending)).await;
    }
    session.mark_closing();
    let report = Box::pin(link.finish(&ending)).await;
    for outgoing in session.outbox.close() {
        complete(outgoing.done, Status::CLOSED, &mut pending);
    }
    let Report {
        code,
        reason,
        cause,
        error,
        expiry,
        ..
    } = report;
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
    Box::pin(post_all(&mailbox, pending, &core, expiry)).await;
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
/// Expiry jobs go through the timeout lane, which a saturated pool cannot block.
async fn post_all(
    mailbox: &Mailbox<Job>,
    pending: VecDeque<Job>,
    core: &ContextCore,
    expiry: bool,
) {
    for mut job in pending {
        loop {
            let posted = if expiry {
                mailbox.post_expiry(job)
            } else {
                mailbox.try_post(job)
            };
            match posted {
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

fn complete(done: Completion, status: Status, pending: &mut VecDeque<Job>) {
    match done {
        Completion::None => {}
        Completion::Blocking(waiter) => waiter.complete(status),
        Completion::Async(token) => pending.push_back(Job::SendComplete { token, status }),
    }
}

/// What the task does after a frame was read.
enum Step {
    Continue,
    /// Write out what the codec queued (a pong).
    Flush,
    /// Write out what the codec queued (the answering close frame), then end.
    FlushThenEnd(Ending),
    End(Ending),
}

/// Why a write did not finish.
enum WriteFailure {
    TimedOut,
    Lost(CodecError),
}

impl<S: Transport> Link<S> {
    fn inbound(
        &mut self,
        inbound: Option<Result<Inbound, CodecError>>,
        core: &ContextCore,
        keepalive: &mut Keepalive,
        pending: &mut VecDeque<Job>,
    ) -> Step {
        let limits = core.settings.limits;
        let inbound = match inbound {
            None => {
                return Step::End(Ending::Lost(
                    "the connection ended without a close frame".into(),
                ));
            }
            Some(Err(error)) => return Step::End(Ending::from(error)),
            Some(Ok(inbound)) => inbound,
        };
        match inbound {
            Inbound::Text(data) if data.len() > limits.text => {
                Step::End(too_big("text", data.len(), limits.text))
            }
            Inbound::Binary(data) if data.len() > limits.binary => {
                Step::End(too_big("binary", data.len(), limits.binary))
            }
            Inbound::Text(data) => {
                self.session.touch();
                pending.push_back(Job::Text(data));
                Step::Continue
            }
            Inbound::Binary(data) => {
                self.session.touch();
                pending.push_back(Job::Binary(data));
                Step::Continue
            }
            Inbound::Pong(data) => {
                keepalive.pong_received();
                self.control_frame();
                pending.push_back(Job::Pong(data));
                Step::Continue
            }
            Inbound::Ping(_) => {
                // The codec queued the pong; send it now.
                self.control_frame();
                Step::Flush
            }
            Inbound::Close(frame) => Step::FlushThenEnd(Ending::Remote(frame)),
        }
    }

    /// Serves a wake-up: every command queued, in order, then every frame queued.
    async fn woken(&mut self, pending: &mut VecDeque<Job>) -> Option<Ending> {
        while let Some(command) = self.session.take_command() {
            if let Some(ending) = Box::pin(self.command(command, pending)).await {
                return Some(ending);
            }
        }
        if self.session.outbox.has_frames() {
            return Box::pin(self.write_queued(pending)).await;
        }
        None
    }

    fn control_frame(&self) {
        if self.control_counts {
            self.session.touch();
        }
    }

    async fn command(&mut self, command: Command, pending: &mut VecDeque<Job>) -> Option<Ending> {
        match command {
            Command::Close(closure) => {
                // Frames queued before a close frame still go out first.
                if closure.writes_queued_first() {
                    if let Some(ending) = self.write_queued(pending).await {
                        return Some(ending);
                    }
                }
                Some(Ending::Closed(closure))
            }
            Command::Flush => self
                .flush()
                .await
                .err()
                .map(|e| Ending::Lost(e.to_string())),
            Command::SetBatching(on) => {
                self.batching = on;
                if on {
                    return None;
                }
                self.flush()
                    .await
                    .err()
                    .map(|e| Ending::Lost(e.to_string()))
            }
        }
    }

    /// Before failing the connection for a peer's violation, lets the callbacks of the
    /// messages that arrived before it run and writes what they sent (for at most 1 s), so
    /// their replies precede the close frame (Autobahn 3.*, 4.*, 5.15).
    async fn settle(&mut self, mailbox: &Mailbox<Job>, pending: &mut VecDeque<Job>) {
        let deadline = Instant::now() + Duration::from_secs(1);
        let session = Arc::clone(&self.session);
        loop {
            post_pending(mailbox, pending);
            tokio::select! {
                biased;
                () = tokio::time::sleep_until(deadline) => return,
                () = session.outbox.arrived() => {
                    if self.write_queued(pending).await.is_some() {
                        return;
                    }
                }
                () = mailbox.ready(), if !pending.is_empty() => {}
                () = mailbox.drained(), if pending.is_empty() => {
                    let _ = self.write_queued(pending).await;
                    return;
                }
            }
        }
    }

    /// Writes everything queued in the outbox, racing each burst against the earliest
    /// deadline queued and against a send timeout reported by a plugin thread.
    async fn write_queued(&mut self, pending: &mut VecDeque<Job>) -> Option<Ending> {
        let session = Arc::clone(&self.session);
        // Before taking frames: once they are out of the queue, a plugin thread must not
        // write a later frame ahead of them.
        self.claim().await;
        loop {
            let mut burst: Vec<Outgoing> = Vec::new();
            session.outbox.take(self.batch_limit, &mut burst);
            if burst.is_empty() {
                return None;
            }
            let deadline = burst
                .iter()
                .filter_map(|o| o.deadline)
                .chain(session.outbox.earliest_deadline())
                .min();
            let mut done = Vec::with_capacity(burst.len());
            let mut frames = Vec::with_capacity(burst.len());
            for outgoing in burst {
                done.push(outgoing.done);
                frames.push(outgoing.frame);
            }
            let data = frames.iter().any(|f| {
                matches!(
                    f,
                    Outbound::Text(_) | Outbound::Binary(_) | Outbound::Encoded(_)
                )
            });
            let mut write = std::pin::pin!(self.write_burst(frames));
            // Most bursts are written at once: only a write that would block needs the
            // deadline timer (arming one per burst costs a timer-driver wake-up each time).
            let outcome = match futures_util::FutureExt::now_or_never(write.as_mut()) {
                Some(written) => written.map_err(WriteFailure::Lost),
                None => tokio::select! {
                    biased;
                    () = session.abort.notified() => Err(WriteFailure::TimedOut),
                    () = sleep_until(deadline) => Err(WriteFailure::TimedOut),
                    written = write => written.map_err(WriteFailure::Lost),
                },
            };
            match outcome {
                Ok(()) => {
                    if data {
                        session.touch();
                    }
                    done.into_iter()
                        .for_each(|d| complete(d, Status::OK, pending));
                }
                Err(failure) => {
                    let (status, ending) = match failure {
                        WriteFailure::TimedOut => (
                            Status::TIMEOUT,
                            Ending::Closed(Closure::SendTimeout("a send was not written in time")),
                        ),
                        WriteFailure::Lost(error) => {
                            (Status::CLOSED, Ending::Lost(error.to_string()))
                        }
                    };
                    done.into_iter().for_each(|d| complete(d, status, pending));
                    return Some(ending);
                }
            }
        }
    }

    async fn write_burst(&mut self, frames: Vec<Outbound>) -> Result<(), CodecError> {
        for frame in frames {
            self.unflushed += frame.len();
            self.conn.feed(frame).await?;
        }
        if !self.batching || self.unflushed >= self.batch_limit {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), CodecError> {
        self.claim().await;
        self.unflushed = 0;
        self.conn.flush().await
    }

    /// Takes the socket from the plugin threads (waiting out a direct write in progress)
    /// before any write of the task's own.
    async fn claim(&mut self) {
        if !self.claimed {
            self.session.outbox.claim_for_task().await;
            self.claimed = true;
        }
    }

    /// Hands the socket back for direct writes when the task has nothing of its own to
    /// write: nothing buffered, no batching, nothing queued.
    fn release(&mut self) {
        if self.claimed
            && !self.batching
            && !self.conn.has_buffered()
            && self.session.outbox.release_task()
        {
            self.claimed = false;
        }
    }

    async fn keepalive(&mut self, tick: Tick, keepalive: &mut Keepalive) -> Option<Ending> {
        match tick {
            Tick::Ping(payload) => {
                self.claim().await;
                let sent = self.conn.feed(Outbound::Ping(payload)).await;
                if let Err(error) = sent.and(self.flush().await) {
                    return Some(Ending::Lost(error.to_string()));
                }
                keepalive.ping_sent();
                None
            }
            Tick::PongLate => Some(Ending::Closed(Closure::PongTimeout)),
        }
    }

    /// Finishes the close handshake (our close frame, when the ending sends one) and says
    /// what `on_error` and `on_close` report.
    async fn finish(&mut self, ending: &Ending) -> Report {
        if let Ending::Lost(why) = ending {
            tracing::trace!(%why, "connection lost");
        }
        let report = ending.report();
        if let Some((code, reason)) = &report.close_frame {
            self.close(*code, reason).await;
        }
        report
    }

    /// Sends our close frame and waits (briefly) for the peer's.
    async fn close(&mut self, code: u16, reason: &str) {
        let frame = Outbound::Close(code, reason.to_owned());
        self.claim().await;
        let closing = async {
            self.conn.feed(frame).await?;
            self.conn.flush().await?;
            while let Some(Ok(inbound)) = self.conn.next().await {
                if matches!(inbound, Inbound::Close(_)) {
                    self.conn.flush().await?;
                    break;
                }
            }
            Ok::<(), CodecError>(())
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, closing).await;
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(Instant::from_std(deadline)).await,
        None => std::future::pending().await,
    }
}

fn too_big(kind: &str, size: usize, limit: usize) -> Ending {
    let message = format!("{kind} message of {size} bytes exceeds the limit of {limit}");
    Ending::Violation(Violation::TooBig, message)
}
