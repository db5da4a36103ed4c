//! The part of a session that other threads reach: host services called by the plugin (from
//! pool threads or its own), broadcasts, the idle monitor, shutdown. Frames go through the
//! session's [`Outbox`] — or straight to the socket when it is free (`direct`); everything
//! else is a [`Command`] to the connection task.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use super::direct::{self, Payload};
use super::ending::Closure;
use super::outbox::{Outbox, Outgoing, Refused};
use super::properties::Properties;
use super::socket::SharedSocket;
use crate::codec::Outbound;
use crate::config::descriptor::ContextSettings;

/// What the connection task is asked to do besides sending.
#[derive(Debug)]
pub(crate) enum Command {
    /// End the session: the closing handshake, or a dropped connection (`ending` decides).
    Close(Closure),
    /// Write out batched frames now.
    Flush,
    /// Coalesce frames until a flush or the batching size (on), or flush each burst (off).
    SetBatching(bool),
    /// The context's settings changed: apply what concerns an open session.
    Retune(Arc<ContextSettings>),
}

/// Why a send did not reach the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendError {
    /// The session's outgoing queue is full (an async send is refused, not queued).
    QueueFull,
    /// The session is closing or closed.
    Closed,
    /// It was not written before its deadline; the connection is dropped.
    TimedOut,
}

/// What became of a send: written, or why not.
pub(crate) type Sent = Result<(), SendError>;

/// Who waits for a send.
#[derive(Debug)]
pub(crate) enum Completion {
    /// Nobody (broadcasts, pings).
    None,
    /// A blocked plugin thread, waiting on its reusable slot for this sequence number.
    Blocking(BlockingWaiter),
    /// An async send: `on_send_complete(token, status)` is posted to the session.
    Async(u64),
}

/// A session as other threads see it.
#[derive(Debug)]
pub(crate) struct SessionHandle {
    pub(crate) id: u64,
    pub(crate) endpoint: u32,
    pub(crate) outbox: Outbox,
    /// The socket, for direct writes; `None` when frames must pass the connection task
    /// (permessage-deflate: the compressor is the task's).
    pub(crate) socket: Option<Arc<SharedSocket>>,
    /// permessage-deflate was negotiated: data frames are compressed by the task, so a
    /// broadcast's shared, uncompressed frame is not used for this session.
    pub(crate) compresses: bool,
    /// Commands for the connection task, oldest first (rare: a queue that allocates only
    /// when used, where a channel would cost every idle session its first block). The task
    /// is woken through the outbox, for frames and commands alike.
    commands: Mutex<VecDeque<Command>>,
    /// Wakes the connection task out of a stuck write when a send timed out.
    pub(crate) abort: Notify,
    closing: AtomicBool,
    properties: Mutex<Properties>,
    /// Milliseconds, or `i64::MIN` for "the context's setting".
    idle_override: AtomicI64,
    opened: Instant,
    /// Milliseconds after `opened` of the last data frame in either direction.
    last_activity: AtomicU64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Where a plugin thread receives the completions of its blocking sends. One per thread,
/// reused for every send (a channel per send cost an allocation and its teardown each time);
/// completions carry a sequence number so a late one from a timed-out send is discarded.
pub(super) struct CompletionSlot {
    sender: crossbeam_channel::Sender<(u64, Sent)>,
    receiver: crossbeam_channel::Receiver<(u64, Sent)>,
    next: std::cell::Cell<u64>,
}

thread_local! {
    pub(super) static COMPLETION_SLOT: CompletionSlot = {
        let (sender, receiver) = crossbeam_channel::unbounded();
        CompletionSlot { sender, receiver, next: std::cell::Cell::new(0) }
    };
}

/// The completion address of one blocking send.
#[derive(Debug)]
pub(crate) struct BlockingWaiter {
    slot: crossbeam_channel::Sender<(u64, Sent)>,
    sequence: u64,
}

impl CompletionSlot {
    /// The completion of this thread's next blocking send, and its sequence number.
    pub(super) fn waiter(&self) -> (Completion, u64) {
        let sequence = self.next.get().wrapping_add(1);
        self.next.set(sequence);
        let waiter = BlockingWaiter {
            slot: self.sender.clone(),
            sequence,
        };
        (Completion::Blocking(waiter), sequence)
    }
}

impl BlockingWaiter {
    /// Wakes the waiting thread; never blocks (the slot is unbounded).
    pub(crate) fn complete(self, sent: Sent) {
        let _ = self.slot.send((self.sequence, sent));
    }
}

impl SessionHandle {
    /// A new session with a container-unique id.
    pub(crate) fn new(
        endpoint: u32,
        properties: Properties,
        outbox_limit: usize,
        socket: Option<Arc<SharedSocket>>,
        compresses: bool,
    ) -> Arc<Self> {
        let handle = SessionHandle {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            endpoint,
            outbox: Outbox::new(outbox_limit),
            socket: socket.filter(|_| !compresses),
            compresses,
            commands: Mutex::default(),
            abort: Notify::new(),
            closing: AtomicBool::new(false),
            properties: Mutex::new(properties),
            idle_override: AtomicI64::new(i64::MIN),
            opened: Instant::now(),
            last_activity: AtomicU64::new(0),
        };
        Arc::new(handle)
    }

    /// True once a close was requested or the connection ended.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub(crate) fn mark_closing(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// Queues a frame without waiting; the completion reports the outcome later.
    pub(crate) fn send_async(
        &self,
        frame: Outbound,
        done: Completion,
        timeout: Option<Duration>,
    ) -> Sent {
        let deadline = timeout.map(|t| Instant::now() + t);
        match self.outbox.push(Outgoing {
            frame,
            done,
            deadline,
        }) {
            Ok(()) => Ok(()),
            Err((Refused::Full, _)) => Err(SendError::QueueFull),
            Err(_) => Err(SendError::Closed),
        }
    }

    /// Queues a frame for a broadcast: a recipient whose queue is full is a consumer that
    /// stopped reading, and is dropped rather than buffered without bound.
    pub(crate) fn send_broadcast(&self, frame: Outbound) {
        let outgoing = Outgoing {
            frame,
            done: Completion::None,
            deadline: None,
        };
        if let Err((Refused::Full, _)) = self.outbox.push(outgoing) {
            self.close(Closure::SlowConsumer);
        }
    }

    /// Sends a data frame the plugin lends and waits until it is written, up to `timeout`
    /// (`None`: no limit), writing it from this thread when the socket is free (`direct`).
    pub(crate) fn send_blocking_lent(
        &self,
        payload: Payload<'_>,
        timeout: Option<Duration>,
    ) -> Sent {
        direct::send_blocking(self, payload, timeout)
    }

    /// Queues a frame and waits until it is written, up to `timeout` (`None`: no limit).
    /// A send that times out drops the connection (reported as 1006, cause send timeout).
    pub(crate) fn send_blocking(&self, frame: Outbound, timeout: Option<Duration>) -> Sent {
        let deadline = timeout.map(|t| Instant::now() + t);
        COMPLETION_SLOT.with(|slot| self.send_blocking_with(slot, frame, deadline))
    }

    fn send_blocking_with(
        &self,
        slot: &CompletionSlot,
        frame: Outbound,
        deadline: Option<Instant>,
    ) -> Sent {
        let (done, sequence) = slot.waiter();
        let outgoing = Outgoing {
            frame,
            done,
            deadline,
        };
        match self.outbox.push_waiting(outgoing) {
            Ok(()) => self.wait_written(slot, sequence, deadline),
            Err((Refused::TimedOut, _)) => {
                self.close(Closure::SendTimeout(
                    "blocking send timed out waiting for room",
                ));
                Err(SendError::TimedOut)
            }
            Err(_) => Err(SendError::Closed),
        }
    }

    /// Waits on this thread's slot for the completion of send `sequence`.
    pub(super) fn wait_written(
        &self,
        slot: &CompletionSlot,
        sequence: u64,
        deadline: Option<Instant>,
    ) -> Sent {
        loop {
            let received = match deadline {
                Some(deadline) => slot
                    .receiver
                    .recv_deadline(deadline.into_std())
                    .map_err(|_| ()),
                None => slot.receiver.recv().map_err(|_| ()),
            };
            match received {
                Ok((done, sent)) if done == sequence => return sent,
                // A completion of an earlier send of this thread that had timed out.
                Ok(_) => continue,
                Err(()) => {
                    self.close(Closure::SendTimeout("blocking send timed out"));
                    return Err(SendError::TimedOut);
                }
            }
        }
    }

    /// Asks the connection task to end the session; a closure that gives up on a stuck
    /// send wakes the task even out of a write that does not progress.
    pub(crate) fn close(&self, closure: Closure) {
        let aborts = closure.aborts_writes();
        self.request(Command::Close(closure));
        if aborts {
            self.abort.notify_one();
        }
    }

    /// Asks the connection task to do something; ignored once the task has ended.
    pub(crate) fn request(&self, command: Command) {
        if matches!(command, Command::Close(_)) {
            self.mark_closing();
        }
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(command);
        self.outbox.wake_task();
    }

    /// The close asked for, taking it (and every command before it) off the queue: what
    /// ends the session when a stuck write is aborted.
    pub(crate) fn take_closure(&self) -> Option<Closure> {
        let mut commands = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(command) = commands.pop_front() {
            if let Command::Close(closure) = command {
                return Some(closure);
            }
        }
        None
    }

    /// The oldest command not yet taken by the connection task.
    pub(crate) fn take_command(&self) -> Option<Command> {
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }

    pub(crate) fn property(&self, key: &str) -> Option<Bytes> {
        self.lock_properties().get(key).cloned()
    }

    pub(crate) fn set_property(&self, key: String, value: Bytes) {
        self.lock_properties().insert(key, value);
    }

    pub(crate) fn remove_property(&self, key: &str) -> bool {
        self.lock_properties().remove(key)
    }

    pub(crate) fn property_keys(&self) -> Vec<String> {
        self.lock_properties().keys().map(str::to_owned).collect()
    }

    fn lock_properties(&self) -> std::sync::MutexGuard<'_, Properties> {
        self.properties
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The idle timeout that applies: the endpoint's override, else the context's.
    pub(crate) fn idle_timeout(&self, context_default: Option<Duration>) -> Option<Duration> {
        match self.idle_override.load(Ordering::Relaxed) {
            i64::MIN => context_default,
            millis if millis <= 0 => None,
            millis => Some(Duration::from_millis(millis.unsigned_abs())),
        }
    }

    pub(crate) fn set_idle_override(&self, millis: i64) {
        self.idle_override
            .store(millis.max(i64::MIN + 1), Ordering::Relaxed);
    }

    /// Records a data frame in either direction (or a control frame, where they count).
    pub(crate) fn touch(&self) {
        let millis = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_activity.store(millis, Ordering::Relaxed);
    }

    /// How long since the last activity.
    pub(crate) fn idle_for(&self, now: Instant) -> Duration {
        let last = self.opened + Duration::from_millis(self.last_activity.load(Ordering::Relaxed));
        now.saturating_duration_since(last)
    }
}
