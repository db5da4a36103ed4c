//! The connection task: the thin driver of one session's [`Lifecycle`]. One tokio task per
//! session reads frames, writes frames and pings, and carries out what the lifecycle decides;
//! it runs no plugin code (callbacks are posted to the session's mailbox and run on the
//! context's pool) and decides nothing itself.
//!
//! Reading pauses while a job waits for room in the mailbox or the pool (TCP back-pressure);
//! nothing is dropped. Writes are coalesced: the frames queued in the outbox are fed together
//! (up to `batching-buffer-size` bytes) before one flush. The task claims the socket from the
//! plugin threads' direct writes before any write of its own and hands it back when it has
//! nothing buffered (see `outbox`). A write that outlives the earliest deadline of the frames
//! queued — or a send that timed out on a plugin thread — ends the session. Whatever ends it,
//! exactly one `Close` job is posted, after every other job of the session; expiry (idle,
//! pong or send timeout, slow consumer) posts them through the reserved timeout threads.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::ending::{Ending, Report};
use super::handle::{Completion, SendError, Sent, SessionHandle};
use super::hub::Hub;
use super::job::Job;
use super::keepalive::Keepalive;
use super::lifecycle::{Beat, Lifecycle, Order, Phase, Reaction, WriteFailure};
use super::outbox::Outgoing;
use crate::codec::{CodecError, CodecLimits, Connection, Outbound, Transport};
use crate::config::descriptor::ContextSettings;
use crate::executor::{Mailbox, RejectReason};

/// How long to wait for the peer's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// What a connection task owns besides the socket.
pub(super) struct Parts<G> {
    pub(super) session: Arc<SessionHandle>,
    pub(super) hub: Arc<Hub>,
    pub(super) mailbox: Mailbox<Job>,
    /// Released when the connection has ended.
    pub(super) slot: G,
}

struct Link<S> {
    conn: Connection<S>,
    session: Arc<SessionHandle>,
    life: Lifecycle,
    batching: bool,
    batch_limit: usize,
    unflushed: usize,
    /// The task holds the socket: plugin threads queue their frames instead of writing.
    claimed: bool,
}

/// Drives one session from its first job (`on_open`) to its `Close` job.
pub(super) async fn drive<S: Transport, G>(conn: Connection<S>, parts: Parts<G>, open: Job) {
    let Parts {
        session,
        hub,
        mailbox,
        slot,
    } = parts;
    // Read once and dropped: changes arrive as `Command::Retune`.
    let (mut link, mut keepalive) = {
        let settings = hub.settings();
        let limits = CodecLimits {
            text: settings.limits.text,
            binary: settings.limits.binary,
        };
        let link = Link {
            conn,
            session: Arc::clone(&session),
            life: Lifecycle::new(limits, settings.idle.counts_control_frames),
            batching: false,
            batch_limit: settings.batching_buffer_size.max(1),
            unflushed: 0,
            claimed: false,
        };
        let keep = &settings.keepalive;
        (link, Keepalive::new(keep.ping_interval, keep.pong_timeout))
    };
    let mut pending = VecDeque::from([open]);
    session.touch();
    let ending = loop {
        post_pending(&mailbox, &mut pending);
        link.release();
        let ended = tokio::select! {
            biased;
            // Frames and commands share one wake-up (one waiter less in every idle task).
            () = session.outbox.arrived() => link.woken(&mut pending, &mut keepalive).await,
            tick = keepalive.next() => match link.life.on_tick(tick) {
                // Rare, and its future large: boxed.
                Beat::Ping(payload) => Box::pin(link.ping(payload, &mut keepalive)).await,
                Beat::End(ending) => Some(ending),
            },
            () = mailbox.ready(), if !pending.is_empty() => None,
            read = link.conn.next(), if pending.is_empty() => {
                // Messages are handled in place; the rare rest (answer a ping, end) awaits a
                // flush, whose future is large: boxed.
                let reaction = link.life.on_read(read);
                match link.deliver(reaction, &mut keepalive, &mut pending) {
                    None => None,
                    Some(rest) => Box::pin(link.react(rest)).await,
                }
            }
        };
        if let Some(ending) = ended {
            break ending;
        }
    };
    if ending.settles_first() {
        Box::pin(link.settle(&mailbox, &mut pending)).await;
    }
    session.mark_closing();
    let report = Box::pin(link.finish(&ending)).await;
    for outgoing in session.outbox.close() {
        complete(outgoing.done, Err(SendError::Closed), &mut pending);
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
    drop(slot);
    Box::pin(post_all(&mailbox, pending, &hub, expiry)).await;
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
async fn post_all(mailbox: &Mailbox<Job>, pending: VecDeque<Job>, hub: &Hub, expiry: bool) {
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
                    tracing::warn!(context = %hub.name(), "pool shut down before a session's last callbacks ran");
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

fn complete(done: Completion, sent: Sent, pending: &mut VecDeque<Job>) {
    match done {
        Completion::None => {}
        Completion::Blocking(waiter) => waiter.complete(sent),
        Completion::Async(token) => pending.push_back(Job::SendComplete { token, sent }),
    }
}

impl<S: Transport> Link<S> {
    /// Carries out a reaction to a read that needs no I/O (a message, a pong); returns the
    /// others.
    fn deliver(
        &mut self,
        reaction: Reaction,
        keepalive: &mut Keepalive,
        pending: &mut VecDeque<Job>,
    ) -> Option<Reaction> {
        match reaction {
            Reaction::Deliver { job, touch } => {
                self.touch_if(touch);
                pending.push_back(job);
            }
            Reaction::Pong { job, touch } => {
                keepalive.pong_received();
                self.touch_if(touch);
                pending.push_back(job);
            }
            Reaction::Ignore | Reaction::Closed { .. } => {}
            io => return Some(io),
        }
        None
    }

    /// Carries out a reaction to a read that writes; `Some` when the session ends.
    async fn react(&mut self, reaction: Reaction) -> Option<Ending> {
        match reaction {
            Reaction::AnswerPing { touch } => {
                self.touch_if(touch);
                let flushed = self.flush().await;
                flushed
                    .err()
                    .map(|error| self.life.on_write_failure(WriteFailure::Lost(error)))
            }
            Reaction::End {
                ending,
                flush_first,
            } => {
                if flush_first {
                    let _ = self.flush().await;
                }
                Some(ending)
            }
            Reaction::Deliver { .. }
            | Reaction::Pong { .. }
            | Reaction::Ignore
            | Reaction::Closed { .. } => None,
        }
    }

    fn touch_if(&self, touch: bool) {
        if touch {
            self.session.touch();
        }
    }

    /// Serves a wake-up: every command queued, in order, then every frame queued.
    async fn woken(
        &mut self,
        pending: &mut VecDeque<Job>,
        keepalive: &mut Keepalive,
    ) -> Option<Ending> {
        while let Some(command) = self.session.take_command() {
            let order = match self.life.on_command(command) {
                Order::Retune(settings) => {
                    self.retune(&settings, keepalive);
                    continue;
                }
                order => order,
            };
            if let Some(ending) = Box::pin(self.obey(order, pending)).await {
                return Some(ending);
            }
        }
        if self.session.outbox.has_frames() {
            return Box::pin(self.write_queued(pending)).await;
        }
        None
    }

    /// Carries out the lifecycle's order for a command.
    async fn obey(&mut self, order: Order, pending: &mut VecDeque<Job>) -> Option<Ending> {
        let flushed = match order {
            Order::Ignore | Order::Retune(_) => return None,
            Order::End {
                ending,
                write_queued_first,
            } => {
                if write_queued_first {
                    if let Some(ending) = self.write_queued(pending).await {
                        return Some(ending);
                    }
                }
                return Some(ending);
            }
            Order::Batching(true) => {
                self.batching = true;
                return None;
            }
            Order::Batching(false) => {
                self.batching = false;
                self.flush().await
            }
            Order::Flush => self.flush().await,
        };
        flushed
            .err()
            .map(|error| self.life.on_write_failure(WriteFailure::Lost(error)))
    }

    /// Applies the context's new settings to this connection: message limits (the codec's;
    /// the lifecycle took its own), the write batch, the outgoing queue's bound, keepalive.
    fn retune(&mut self, settings: &ContextSettings, keepalive: &mut Keepalive) {
        self.conn.set_limits(CodecLimits {
            text: settings.limits.text,
            binary: settings.limits.binary,
        });
        self.batch_limit = settings.batching_buffer_size.max(1);
        (self.session.outbox).set_limit(super::outbox_limit(settings.batching_buffer_size));
        let keep = &settings.keepalive;
        keepalive.retune(keep.ping_interval, keep.pong_timeout);
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
            let outcome = {
                let mut write = std::pin::pin!(self.write_burst(frames));
                // Most bursts are written at once: only a write that would block needs the
                // deadline timer (arming one per burst costs a timer-driver wake-up each time).
                match futures_util::FutureExt::now_or_never(write.as_mut()) {
                    Some(written) => written.map_err(WriteFailure::Lost),
                    None => tokio::select! {
                        biased;
                        () = session.abort.notified() => {
                            Err(WriteFailure::Aborted(session.take_closure()))
                        }
                        () = sleep_until(deadline) => Err(WriteFailure::TimedOut),
                        written = write => written.map_err(WriteFailure::Lost),
                    },
                }
            };
            match outcome {
                Ok(()) => {
                    if data {
                        session.touch();
                    }
                    done.into_iter().for_each(|d| complete(d, Ok(()), pending));
                }
                Err(failure) => {
                    let error = match failure {
                        WriteFailure::TimedOut | WriteFailure::Aborted(_) => SendError::TimedOut,
                        WriteFailure::Lost(_) => SendError::Closed,
                    };
                    done.into_iter()
                        .for_each(|d| complete(d, Err(error), pending));
                    return Some(self.life.on_write_failure(failure));
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

    async fn ping(&mut self, payload: bytes::Bytes, keepalive: &mut Keepalive) -> Option<Ending> {
        self.claim().await;
        let sent = self.conn.feed(Outbound::Ping(payload)).await;
        if let Err(error) = sent.and(self.flush().await) {
            return Some(self.life.on_write_failure(WriteFailure::Lost(error)));
        }
        keepalive.ping_sent();
        None
    }

    /// Carries the ending out (our close frame, when it sends one, and the wait for the
    /// peer's) and says what `on_error` and `on_close` report.
    async fn finish(&mut self, ending: &Ending) -> Report {
        if let Ending::Lost(why) = ending {
            tracing::trace!(%why, "connection lost");
        }
        let report = self.life.end(ending);
        if let Some((code, reason)) = &report.close_frame {
            self.close(*code, reason).await;
        }
        report
    }

    /// Sends our close frame and waits (at most [`CLOSE_WAIT`]) until the lifecycle is
    /// closed: the peer's close frame, or the end of the connection.
    async fn close(&mut self, code: u16, reason: &str) {
        let frame = Outbound::Close(code, reason.to_owned());
        self.claim().await;
        let closing = async {
            self.conn.feed(frame).await?;
            self.conn.flush().await?;
            while self.life.phase() != Phase::Closed {
                let read = self.conn.next().await;
                if let Reaction::Closed { flush_first: true } = self.life.on_read(read) {
                    self.conn.flush().await?;
                }
            }
            Ok::<(), CodecError>(())
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, closing).await;
        self.life.closed();
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
