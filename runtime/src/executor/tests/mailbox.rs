use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread;

use super::*;
use crate::executor::{BURST, Mailbox, MailboxState, RejectReason};

/// Posts `message`, waiting for readiness on every refusal but shutdown.
fn post<M: Send + 'static>(mailbox: &Mailbox<M>, mut message: M) {
    loop {
        match mailbox.try_post(message) {
            Ok(()) => return,
            Err(rejected) => {
                assert_ne!(rejected.reason(), RejectReason::ShutDown);
                message = rejected.into_task();
                block_on(mailbox.ready());
            }
        }
    }
}

/// Watches one session: overlapping or out-of-order handling is counted, not asserted,
/// because a panic inside a handler would be caught by the mailbox.
#[derive(Default)]
struct Probe {
    in_flight: AtomicBool,
    next: AtomicU64,
    overlaps: AtomicUsize,
    disorders: AtomicUsize,
}

impl Probe {
    fn handle(&self, seq: u64) {
        if self.in_flight.swap(true, SeqCst) {
            self.overlaps.fetch_add(1, SeqCst);
        }
        if self.next.load(SeqCst) != seq {
            self.disorders.fetch_add(1, SeqCst);
        }
        self.next.store(seq + 1, SeqCst);
        for _ in 0..20 {
            std::hint::spin_loop();
        }
        thread::yield_now();
        self.in_flight.store(false, SeqCst);
    }
}

#[test]
fn sessions_run_in_order_one_message_at_a_time_under_load() {
    const SESSIONS: usize = 64;
    const MESSAGES: u64 = 150;
    let pool = executor(8, 8, 16, 0);
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let sessions: Vec<(Arc<Probe>, Mailbox<u64>)> = (0..SESSIONS)
        .map(|_| {
            let probe = Arc::new(Probe::default());
            let (watch, done) = (Arc::clone(&probe), done_tx.clone());
            let mailbox = Mailbox::new(&pool, 4, move |seq| {
                watch.handle(seq);
                if seq + 1 == MESSAGES {
                    let _ = done.send(());
                }
            });
            (probe, mailbox)
        })
        .collect();
    thread::scope(|scope| {
        for producer in sessions.chunks(SESSIONS / 4) {
            scope.spawn(move || {
                for seq in 0..MESSAGES {
                    for (_, mailbox) in producer {
                        post(mailbox, seq);
                    }
                }
            });
        }
    });
    for _ in 0..SESSIONS {
        done_rx.recv_timeout(EVENT).expect("every session finishes");
    }
    for (probe, mailbox) in &sessions {
        assert_eq!(
            probe.overlaps.load(SeqCst),
            0,
            "two messages of a session overlapped"
        );
        assert_eq!(
            probe.disorders.load(SeqCst),
            0,
            "a session's messages were reordered"
        );
        assert_eq!(probe.next.load(SeqCst), MESSAGES);
        assert!(mailbox.is_empty());
    }
    pool.shutdown(EVENT).expect("joins");
}

#[test]
fn a_long_session_yields_after_a_burst() {
    let pool = executor(1, 1, 8, 0);
    let mut gate = Gate::new();
    pool.try_submit(gate.task())
        .expect("blocks the only thread");
    gate.wait_started(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let mailbox = |name: &'static str| {
        let (order, done) = (Arc::clone(&order), done_tx.clone());
        Mailbox::new(&pool, 100, move |seq: usize| {
            order.lock().expect("no panic").push((name, seq));
            let _ = done.send(());
        })
    };
    let (chatty, quiet) = (mailbox("chatty"), mailbox("quiet"));
    for seq in 0..100 {
        chatty.try_post(seq).expect("room");
    }
    quiet.try_post(0).expect("room");
    assert_eq!(chatty.state(), MailboxState::Scheduled);
    gate.open();
    for _ in 0..101 {
        done_rx.recv_timeout(EVENT).expect("handled");
    }
    let order = order.lock().expect("no panic");
    let quiet_at = order.iter().position(|(name, _)| *name == "quiet");
    assert_eq!(
        quiet_at,
        Some(BURST),
        "the quiet session ran after one burst"
    );
    let chatty: Vec<usize> = order
        .iter()
        .filter(|(n, _)| *n == "chatty")
        .map(|e| e.1)
        .collect();
    assert_eq!(chatty, (0..100).collect::<Vec<_>>());
}

#[test]
fn a_refused_resubmission_keeps_the_session_running() {
    let pool = executor(1, 1, 0, 0);
    let mut gate = Gate::new();
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let (started, open) = (gate.started_tx.clone(), gate.open_rx.clone());
    let chatty = Mailbox::new(&pool, 100, move |seq: u64| {
        if seq == 0 {
            let _ = started.send(());
            let _ = open.recv();
        }
        let _ = done_tx.send(seq);
    });
    for seq in 0..100 {
        chatty.try_post(seq).expect("room");
    }
    gate.wait_started(1);
    let (quiet_tx, quiet_rx) = crossbeam_channel::bounded(1);
    let quiet = Mailbox::new(&pool, 1, move |()| {
        let _ = quiet_tx.send(());
    });
    let refused = quiet
        .try_post(())
        .expect_err("the only thread is taken, no queue");
    assert_eq!(refused.reason(), RejectReason::QueueFull);
    gate.open();
    for seq in 0..100 {
        assert_eq!(
            done_rx.recv_timeout(EVENT),
            Ok(seq),
            "in order, without a stall"
        );
    }
    post(&quiet, ());
    quiet_rx
        .recv_timeout(EVENT)
        .expect("the waiting session got its turn");
}

#[test]
fn a_full_mailbox_wakes_its_poster_when_a_message_is_taken() {
    let pool = executor(1, 1, 1, 0);
    let mut gate = Gate::new();
    let (started, open) = (gate.started_tx.clone(), gate.open_rx.clone());
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let mailbox = Mailbox::new(&pool, 2, move |seq: u32| {
        if seq == 0 {
            let _ = started.send(());
            let _ = open.recv();
        }
        let _ = done_tx.send(seq);
    });
    mailbox.try_post(0).expect("room");
    gate.wait_started(1);
    mailbox.try_post(1).expect("room");
    mailbox.try_post(2).expect("room");
    let refused = mailbox.try_post(3).expect_err("at the limit");
    assert_eq!(refused.reason(), RejectReason::MailboxFull);
    let (_, waker, woken) = counting_waker();
    let mut ready = mailbox.ready();
    assert_eq!(poll_once(&mut ready, &waker), Poll::Pending);
    gate.open();
    woken
        .recv_timeout(EVENT)
        .expect("woken when a message is taken");
    assert_eq!(poll_once(&mut ready, &waker), Poll::Ready(()));
    mailbox.try_post(refused.into_task()).expect("room now");
    for seq in 0..4 {
        assert_eq!(done_rx.recv_timeout(EVENT), Ok(seq));
    }
}

#[test]
fn expiry_runs_on_the_timeout_lane_while_callbacks_block() {
    let pool = executor(1, 1, 1, 1);
    let mut gate = Gate::new();
    pool.try_submit(gate.task())
        .expect("blocks the only callback thread");
    gate.wait_started(1);
    let (tx, rx) = crossbeam_channel::unbounded();
    let session = Mailbox::new(&pool, 1, move |event: &'static str| {
        let _ = tx.send((event, thread::current().name().map(str::to_owned)));
    });
    session
        .try_post("message")
        .expect("scheduled on the callback lane");
    assert_eq!(session.state(), MailboxState::Scheduled);
    session
        .post_expiry("close")
        .expect("past the limit, on the timeout lane");
    let on_timeout_lane = Some("berth-test-t1".to_owned());
    assert_eq!(
        rx.recv_timeout(EVENT),
        Ok(("message", on_timeout_lane.clone()))
    );
    assert_eq!(
        rx.recv_timeout(EVENT),
        Ok(("close", on_timeout_lane.clone()))
    );
    let (tx, rx) = crossbeam_channel::bounded(1);
    let idle_session = Mailbox::new(&pool, 1, move |()| {
        let _ = tx.send(thread::current().name().map(str::to_owned));
    });
    idle_session
        .post_expiry(())
        .expect("idle: straight to the timeout lane");
    assert_eq!(rx.recv_timeout(EVENT), Ok(on_timeout_lane));
    gate.open();
    pool.shutdown(EVENT)
        .expect("the stale callback-lane run finds nothing and ends");
    assert_eq!(session.state(), MailboxState::Idle);
    assert!(session.is_empty());
}

#[test]
fn a_panicking_handler_does_not_wedge_the_session() {
    let pool = executor(1, 2, 4, 0);
    let (tx, rx) = crossbeam_channel::unbounded();
    let mailbox = Mailbox::new(&pool, 8, move |seq: u32| {
        assert_ne!(seq, 1, "endpoint bug");
        let _ = tx.send(seq);
    });
    for seq in 0..4 {
        post(&mailbox, seq);
    }
    for seq in [0, 2, 3] {
        assert_eq!(rx.recv_timeout(EVENT), Ok(seq));
    }
    post(&mailbox, 4);
    assert_eq!(rx.recv_timeout(EVENT), Ok(4));
    pool.shutdown(EVENT).expect("joins");
}

#[test]
fn drained_resolves_once_every_posted_message_was_handled() {
    let pool = executor(1, 1, 8, 0);
    let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let mailbox = Mailbox::new(&pool, 8, move |_: u32| {
        let _ = gate_rx.recv();
        counter.fetch_add(1, SeqCst);
    });
    block_on(mailbox.drained());
    post(&mailbox, 1);
    post(&mailbox, 2);
    let (wakes, waker, woken) = counting_waker();
    let mut drained = mailbox.drained();
    assert!(
        poll_once(&mut drained, &waker).is_pending(),
        "two messages are still waiting"
    );
    gate_tx.send(()).expect("first message handled");
    gate_tx.send(()).expect("second message handled");
    woken
        .recv_timeout(EVENT)
        .expect("going idle wakes the waiter");
    assert_eq!(poll_once(&mut drained, &waker), Poll::Ready(()));
    assert_eq!(handled.load(SeqCst), 2);
    assert!(wakes.count.load(SeqCst) >= 1);
}
