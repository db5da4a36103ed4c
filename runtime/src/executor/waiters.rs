//! Readiness: submitters refused for a full queue park a [`Waker`] here and are woken, one
//! per finished task and in arrival order, when the lane can take a task again.
//!
//! Owns the waiter list and the [`Ready`] future. It is runtime-agnostic (plain `Waker`s, a
//! `std` mutex held only to push or pop an entry) and must never be locked while a task runs.
//!
//! A woken waiter that is dropped before it used its turn passes the wake-up on, so a
//! cancelled reader cannot leave the others asleep while capacity sits unused.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::lane::Lane;

/// Wakers of submitters waiting for capacity, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    /// Entries in `list`; read without the lock on every finished task.
    len: AtomicUsize,
    list: Mutex<List>,
}

#[derive(Debug, Default)]
struct List {
    next_id: u64,
    entries: VecDeque<(u64, Waker)>,
}

impl Waiters {
    fn lock(&self) -> MutexGuard<'_, List> {
        // The list is consistent after every statement; a panic elsewhere cannot break it.
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers (or refreshes) the waiter in `slot`. A waiter woken earlier that still found
    /// no capacity goes back to the front: it keeps its turn.
    fn register(&self, slot: &mut Option<u64>, waker: &Waker) {
        let mut list = self.lock();
        match *slot {
            Some(id) => match list.entries.iter_mut().find(|(entry, _)| *entry == id) {
                Some((_, old)) => old.clone_from(waker),
                None => list.entries.push_front((id, waker.clone())),
            },
            None => {
                let id = list.next_id;
                list.next_id += 1;
                list.entries.push_back((id, waker.clone()));
                *slot = Some(id);
            }
        }
        self.len.store(list.entries.len(), SeqCst);
    }

    /// Removes the waiter; `false` if it had already been woken (and removed).
    fn cancel(&self, id: u64) -> bool {
        let mut list = self.lock();
        let Some(index) = list.entries.iter().position(|(entry, _)| *entry == id) else {
            return false;
        };
        list.entries.remove(index);
        self.len.store(list.entries.len(), SeqCst);
        true
    }

    /// Wakes the oldest waiter, if any. Called after every finished task: cheap when nobody
    /// waits (one atomic load).
    pub(crate) fn wake_one(&self) {
        if self.len.load(SeqCst) == 0 {
            return;
        }
        let waker = {
            let mut list = self.lock();
            let entry = list.entries.pop_front();
            self.len.store(list.entries.len(), SeqCst);
            entry
        };
        if let Some((_, waker)) = waker {
            waker.wake();
        }
    }

    /// Wakes every waiter (shutdown: they must learn that submitting is refused).
    pub(crate) fn wake_all(&self) {
        let entries = {
            let mut list = self.lock();
            self.len.store(0, SeqCst);
            std::mem::take(&mut list.entries)
        };
        for (_, waker) in entries {
            waker.wake();
        }
    }
}

/// Resolves when the pool would accept one more task, or has shut down (so that the next
/// submission reports it). Returned by [`Executor::ready`](super::Executor::ready).
///
/// Readiness is a hint, not a reservation: another submitter may take the capacity first,
/// so a submission after `ready` can still be refused — wait again and retry. Waiters are
/// woken in arrival order, one per task that finishes; a pending `Ready` that is dropped
/// after being woken passes its wake-up to the next waiter. It is `'static` and `Unpin`, so a
/// hand-written `poll_*` function can keep it in its state and poll it with
/// `Pin::new(&mut ready).poll(cx)`.
#[must_use = "futures do nothing unless polled"]
pub struct Ready {
    lane: Arc<Lane>,
    slot: Option<u64>,
}

impl Ready {
    pub(crate) fn new(lane: Arc<Lane>) -> Self {
        Ready { lane, slot: None }
    }

    fn resolve(&mut self) -> Poll<()> {
        if let Some(id) = self.slot.take() {
            self.lane.waiters.cancel(id);
        }
        Poll::Ready(())
    }
}

impl Future for Ready {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.lane.has_capacity() {
            return this.resolve();
        }
        this.lane.waiters.register(&mut this.slot, cx.waker());
        // A task may have finished between the check and the registration; its wake-up went
        // to nobody (or someone older), so look again now that the waker is visible.
        if this.lane.has_capacity() {
            return this.resolve();
        }
        Poll::Pending
    }
}

impl Drop for Ready {
    fn drop(&mut self) {
        if let Some(id) = self.slot.take() {
            if !self.lane.waiters.cancel(id) {
                // Woken but never polled again: hand the turn on.
                self.lane.waiters.wake_one();
            }
        }
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("context", &self.lane.context())
            .field("waiting", &self.slot.is_some())
            .finish()
    }
}
