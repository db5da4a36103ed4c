//! A lane's counters — threads alive, threads busy, tasks queued, shut down or not — packed
//! into one `AtomicU64`, so that every decision of `policy` is taken on a consistent
//! snapshot and applied with one compare-and-swap.
//!
//! Owns the bit layout and the transitions. It must not block, allocate, or decide anything
//! itself: the rules are `policy`'s. All operations are `SeqCst`: the waiter list pairs its
//! own `SeqCst` count with these to rule out lost wake-ups (Dekker style).

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use super::error::RejectReason;
use super::policy::{self, Admission, Limits, Load};

// Layout: queued in bits 0..32, busy in 32..47, alive in 47..62, shut down in bit 63.
const QUEUED: u64 = 1;
const BUSY: u64 = 1 << 32;
const ALIVE: u64 = 1 << 47;
const SHUT_DOWN: u64 = 1 << 63;
const QUEUED_MASK: u64 = (1 << 32) - 1;
const THREAD_MASK: u64 = (1 << 15) - 1;

/// A snapshot: the load and whether the lane is shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) load: Load,
    pub(crate) shut_down: bool,
}

fn unpack(bits: u64) -> Snapshot {
    // The masks make each field fit its type, so the `as` casts cannot truncate.
    Snapshot {
        load: Load {
            alive: ((bits >> 47) & THREAD_MASK) as u32,
            busy: ((bits >> 32) & THREAD_MASK) as u32,
            queued: (bits & QUEUED_MASK) as u32,
        },
        shut_down: bits & SHUT_DOWN != 0,
    }
}

/// The packed counters. Field bounds (`policy::MAX_THREADS`, `policy::MAX_QUEUE`) are kept by
/// `admit`, so no field ever carries into the next.
#[derive(Debug, Default)]
pub(crate) struct Counts(AtomicU64);

impl Counts {
    pub(crate) fn snapshot(&self) -> Snapshot {
        unpack(self.0.load(SeqCst))
    }

    /// Admits one task: on `Enqueue` counts it queued; on `StartThread` also counts the
    /// thread about to be started as alive (idle, so it will take the task).
    pub(crate) fn admit(&self, limits: Limits) -> Result<Admission, RejectReason> {
        let mut current = self.0.load(SeqCst);
        loop {
            let snapshot = unpack(current);
            if snapshot.shut_down {
                return Err(RejectReason::ShutDown);
            }
            let admission = policy::admit(snapshot.load, limits);
            let next = match admission {
                Admission::Enqueue => current + QUEUED,
                Admission::StartThread => current + QUEUED + ALIVE,
                Admission::Reject => return Err(RejectReason::QueueFull),
            };
            match self.0.compare_exchange_weak(current, next, SeqCst, SeqCst) {
                Ok(_) => return Ok(admission),
                Err(actual) => current = actual,
            }
        }
    }

    /// Whether one more task would be admitted now (or refused for shutdown, which the
    /// submitter must learn by submitting).
    pub(crate) fn has_capacity(&self, limits: Limits) -> bool {
        let snapshot = self.snapshot();
        snapshot.shut_down || policy::admit(snapshot.load, limits) != Admission::Reject
    }

    /// Counts a thread started at construction.
    pub(crate) fn add_thread(&self) {
        self.0.fetch_add(ALIVE, SeqCst);
    }

    /// A thread took a queued task: queued − 1, busy + 1. The submitter counted the task
    /// before sending it, so `queued >= 1` here and the subtraction cannot borrow.
    pub(crate) fn take(&self) {
        self.0.fetch_add(BUSY.wrapping_sub(QUEUED), SeqCst);
    }

    /// A thread finished its task: busy − 1.
    pub(crate) fn finish(&self) {
        self.0.fetch_sub(BUSY, SeqCst);
    }

    /// Forgets a queued task that never reached the channel.
    pub(crate) fn unqueue(&self) {
        self.0.fetch_sub(QUEUED, SeqCst);
    }

    /// An idle thread's keep-alive ran out: it exits (alive − 1) if `policy::may_retire`
    /// allows it and the lane is not shutting down (then `drain` decides).
    pub(crate) fn try_retire(&self, limits: Limits) -> bool {
        self.update(|snapshot| {
            (!snapshot.shut_down && policy::may_retire(snapshot.load, limits)).then_some(ALIVE)
        })
    }

    /// Counts one more thread alive if `policy::should_grow` says so (after the limits
    /// changed) and the lane is not shutting down; the caller starts it.
    pub(crate) fn try_grow(&self, limits: Limits) -> bool {
        let mut current = self.0.load(SeqCst);
        loop {
            let snapshot = unpack(current);
            if snapshot.shut_down || !policy::should_grow(snapshot.load, limits) {
                return false;
            }
            match (self.0).compare_exchange_weak(current, current + ALIVE, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// A thread exits after draining: alive − 1.
    pub(crate) fn exit(&self) {
        self.0.fetch_sub(ALIVE, SeqCst);
    }

    /// Starting the thread that `admit` counted failed. If other threads are alive the task
    /// stays queued for them (`true`); otherwise the admission is undone (`false`).
    pub(crate) fn spawn_failed(&self) -> bool {
        let mut stays_queued = false;
        self.update(|snapshot| {
            stays_queued = snapshot.load.alive > 1;
            Some(if stays_queued { ALIVE } else { ALIVE + QUEUED })
        });
        stays_queued
    }

    /// Marks the lane shut down; returns the threads alive if this call did it.
    pub(crate) fn shut_down(&self) -> Option<u32> {
        let before = unpack(self.0.fetch_or(SHUT_DOWN, SeqCst));
        (!before.shut_down).then_some(before.load.alive)
    }

    /// Subtracts what `change` returns, atomically; `None` leaves the counters alone.
    fn update(&self, mut change: impl FnMut(Snapshot) -> Option<u64>) -> bool {
        let mut current = self.0.load(SeqCst);
        loop {
            let Some(minus) = change(unpack(current)) else {
                return false;
            };
            match self
                .0
                .compare_exchange_weak(current, current - minus, SeqCst, SeqCst)
            {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(counts: &Counts) -> (u32, u32, u32) {
        let load = counts.snapshot().load;
        (load.alive, load.busy, load.queued)
    }

    #[test]
    fn fields_do_not_bleed_into_each_other() {
        let counts = Counts::default();
        for _ in 0..policy::MAX_THREADS {
            counts.add_thread();
        }
        let limits = Limits::new(0, usize::MAX, usize::MAX);
        for _ in 0..policy::MAX_THREADS {
            assert_eq!(counts.admit(limits), Ok(Admission::Enqueue));
            counts.take();
        }
        assert_eq!(load(&counts), (policy::MAX_THREADS, policy::MAX_THREADS, 0));
        assert!(!counts.snapshot().shut_down);
        assert_eq!(counts.shut_down(), Some(policy::MAX_THREADS));
        assert_eq!(counts.shut_down(), None);
        assert_eq!(load(&counts), (policy::MAX_THREADS, policy::MAX_THREADS, 0));
    }

    #[test]
    fn a_task_goes_from_queued_to_busy_to_done() {
        let counts = Counts::default();
        let limits = Limits::new(1, 2, 1);
        counts.add_thread();
        assert_eq!(counts.admit(limits), Ok(Admission::Enqueue));
        assert_eq!(load(&counts), (1, 0, 1));
        counts.take();
        assert_eq!(load(&counts), (1, 1, 0));
        assert_eq!(counts.admit(limits), Ok(Admission::StartThread));
        assert_eq!(load(&counts), (2, 1, 1));
        counts.take();
        assert_eq!(counts.admit(limits), Ok(Admission::Enqueue));
        assert_eq!(counts.admit(limits), Err(RejectReason::QueueFull));
        assert!(!counts.has_capacity(limits));
        counts.finish();
        assert!(counts.has_capacity(limits));
        assert_eq!(load(&counts), (2, 1, 1));
    }

    #[test]
    fn retirement_and_shutdown() {
        let counts = Counts::default();
        let limits = Limits::new(1, 3, 0);
        counts.add_thread();
        counts.add_thread();
        assert!(counts.try_retire(limits));
        assert!(!counts.try_retire(limits), "min is kept");
        counts.shut_down();
        assert_eq!(counts.admit(limits), Err(RejectReason::ShutDown));
        assert!(
            counts.has_capacity(limits),
            "submitters must see the shutdown"
        );
        counts.exit();
        assert_eq!(load(&counts), (0, 0, 0));
    }

    #[test]
    fn failed_spawn_keeps_the_task_only_when_a_thread_remains() {
        let counts = Counts::default();
        let limits = Limits::new(0, 2, 0);
        assert_eq!(counts.admit(limits), Ok(Admission::StartThread));
        assert!(!counts.spawn_failed());
        assert_eq!(load(&counts), (0, 0, 0));
        counts.add_thread();
        counts.admit(limits).ok();
        counts.take();
        assert_eq!(counts.admit(limits), Ok(Admission::StartThread));
        assert!(counts.spawn_failed());
        assert_eq!(load(&counts), (1, 1, 1));
    }
}
