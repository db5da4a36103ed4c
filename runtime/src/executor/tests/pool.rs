use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::executor::{ExecutorError, PoolMetrics, RejectReason};

fn gauges(metrics: PoolMetrics) -> (usize, usize, usize) {
    (
        metrics.threads_alive,
        metrics.threads_busy,
        metrics.queue_depth,
    )
}

fn counting_task(counter: &Arc<AtomicUsize>) -> Task {
    let counter = Arc::clone(counter);
    Box::new(move || {
        counter.fetch_add(1, SeqCst);
    })
}

#[test]
fn grows_to_max_before_queueing() {
    let pool = executor(1, 4, 2, 0);
    assert_eq!(
        gauges(pool.metrics()),
        (1, 0, 0),
        "min threads start eagerly"
    );
    let mut gate = Gate::new();
    for _ in 0..4 {
        pool.try_submit(gate.task()).expect("accepted");
    }
    gate.wait_started(4);
    assert_eq!(
        gauges(pool.metrics()),
        (4, 4, 0),
        "max threads busy, none queued"
    );
    pool.try_submit(gate.task()).expect("queued");
    assert_eq!(
        gauges(pool.metrics()),
        (4, 4, 1),
        "only now does a task wait"
    );
    gate.open();
    pool.shutdown(EVENT).expect("joins");
    assert_eq!(pool.metrics().tasks_completed, 5);
    assert_eq!(gauges(pool.metrics()), (0, 0, 0));
}

#[test]
fn a_full_queue_hands_the_task_back() {
    let pool = executor(0, 1, 1, 0);
    let mut gate = Gate::new();
    pool.try_submit(gate.task()).expect("runs");
    gate.wait_started(1);
    let ran = Arc::new(AtomicUsize::new(0));
    pool.try_submit(counting_task(&ran)).expect("queued");
    let rejected = pool.try_submit(counting_task(&ran)).expect_err("full");
    assert_eq!(rejected.reason(), RejectReason::QueueFull);
    assert_eq!(pool.metrics().tasks_rejected, 1);
    rejected.into_task()();
    assert_eq!(ran.load(SeqCst), 1, "the very task came back");
    gate.open();
    pool.shutdown(EVENT).expect("joins");
    assert_eq!(ran.load(SeqCst), 2);
}

#[test]
fn ready_wakes_when_a_task_finishes() {
    let pool = executor(1, 1, 0, 0);
    let mut gate = Gate::new();
    pool.try_submit(gate.task()).expect("runs");
    gate.wait_started(1);
    let rejected = pool.try_submit(Box::new(|| {})).expect_err("full");
    let (counter, waker, woken) = counting_waker();
    let mut ready = pool.ready();
    assert_eq!(poll_once(&mut ready, &waker), Poll::Pending);
    assert_eq!(
        poll_once(&mut ready, &waker),
        Poll::Pending,
        "re-polling is fine"
    );
    assert_eq!(counter.count.load(SeqCst), 0);
    gate.open();
    woken
        .recv_timeout(EVENT)
        .expect("woken when capacity frees");
    assert_eq!(poll_once(&mut ready, &waker), Poll::Ready(()));
    pool.try_submit(rejected.into_task()).expect("accepted now");
    assert_eq!(
        counter.count.load(SeqCst),
        1,
        "one wake-up, no spurious ones"
    );
}

#[test]
fn a_dropped_waiter_passes_its_wake_up_on() {
    let pool = executor(1, 1, 0, 0);
    let mut gate = Gate::new();
    pool.try_submit(gate.task()).expect("runs");
    gate.wait_started(1);
    let (first, first_waker, first_woken) = counting_waker();
    let (second, second_waker, second_woken) = counting_waker();
    let mut first_ready = pool.ready();
    let mut second_ready = pool.ready();
    assert_eq!(poll_once(&mut first_ready, &first_waker), Poll::Pending);
    assert_eq!(poll_once(&mut second_ready, &second_waker), Poll::Pending);
    gate.open();
    first_woken
        .recv_timeout(EVENT)
        .expect("oldest waiter first");
    assert_eq!(second.count.load(SeqCst), 0);
    drop(first_ready);
    second_woken
        .recv_timeout(EVENT)
        .expect("the turn is passed on");
    assert_eq!(first.count.load(SeqCst), 1);
    assert_eq!(poll_once(&mut second_ready, &second_waker), Poll::Ready(()));
}

#[test]
fn extra_threads_exit_after_keep_alive() {
    let settings = ExecutorSettings {
        keep_alive: Duration::from_millis(30),
        ..settings(1, 3, 0)
    };
    let pool = Executor::new("test", settings, 0).expect("starts");
    let mut gate = Gate::new();
    for _ in 0..3 {
        pool.try_submit(gate.task()).expect("accepted");
    }
    gate.wait_started(3);
    assert_eq!(pool.metrics().threads_alive, 3);
    gate.open();
    eventually("the pool to shrink to min", || {
        pool.metrics().threads_alive == 1
    });
    let ran = Arc::new(AtomicUsize::new(0));
    pool.try_submit(counting_task(&ran))
        .expect("the min thread serves");
    pool.shutdown(EVENT).expect("joins");
    assert_eq!(ran.load(SeqCst), 1);
}

#[test]
fn timeout_lane_runs_while_every_callback_thread_blocks() {
    let pool = executor(2, 2, 1, 1);
    let mut gate = Gate::new();
    for _ in 0..3 {
        pool.try_submit(gate.task()).expect("accepted");
    }
    gate.wait_started(2);
    assert!(pool.try_submit(gate.task()).is_err(), "callbacks saturated");
    let (tx, rx) = crossbeam_channel::bounded(1);
    let expire: Task = Box::new(move || {
        let _ = tx.send(thread::current().name().map(str::to_owned));
    });
    pool.submit_timeout_work(expire).expect("reserved lane");
    let name = rx.recv_timeout(EVENT).expect("timeout work runs");
    assert_eq!(name.as_deref(), Some("berth-test-t1"));
    gate.open();
    pool.shutdown(EVENT).expect("joins both lanes");
    assert_eq!(pool.timeout_metrics().map(|m| m.tasks_completed), Some(1));
}

#[test]
fn timeout_work_shares_the_pool_when_no_threads_are_reserved() {
    let pool = Executor::new("echo", settings(1, 1, 1), 0).expect("starts");
    let (tx, rx) = crossbeam_channel::bounded(1);
    let expire: Task = Box::new(move || {
        let _ = tx.send(thread::current().name().map(str::to_owned));
    });
    pool.submit_timeout_work(expire).expect("callback lane");
    let name = rx.recv_timeout(EVENT).expect("runs");
    assert_eq!(
        name.as_deref(),
        Some("berth-echo-1"),
        "named after the context"
    );
    assert_eq!(pool.timeout_metrics(), None);
}

#[test]
fn a_panicking_task_keeps_the_pool_working() {
    let pool = executor(1, 1, 4, 0);
    pool.try_submit(Box::new(|| panic!("endpoint bug")))
        .expect("accepted");
    let (tx, rx) = crossbeam_channel::bounded(1);
    pool.try_submit(Box::new(move || {
        let _ = tx.send(thread::current().name().map(str::to_owned));
    }))
    .expect("accepted");
    let name = rx.recv_timeout(EVENT).expect("the next task runs");
    assert_eq!(name.as_deref(), Some("berth-test-1"), "on the same thread");
    assert_eq!(pool.metrics().threads_alive, 1);
    pool.shutdown(EVENT).expect("joins");
    let metrics = pool.metrics();
    assert_eq!((metrics.tasks_panicked, metrics.tasks_completed), (1, 2));
    assert_eq!(gauges(metrics), (0, 0, 0), "exact counters");
}

#[test]
fn shutdown_runs_queued_tasks_then_joins() {
    let pool = executor(1, 1, 5, 0);
    let mut gate = Gate::new();
    pool.try_submit(gate.task()).expect("runs");
    gate.wait_started(1);
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        pool.try_submit(counting_task(&ran)).expect("queued");
    }
    thread::scope(|scope| {
        let shutdown = scope.spawn(|| pool.shutdown(EVENT));
        let deadline = Instant::now() + EVENT;
        loop {
            let refused = pool
                .try_submit(Box::new(|| {}))
                .expect_err("full, then shut");
            if refused.reason() == RejectReason::ShutDown {
                break;
            }
            assert!(Instant::now() < deadline, "shutdown never began");
            thread::yield_now();
        }
        gate.open();
        shutdown.join().expect("no panic").expect("joined in time");
    });
    assert_eq!(ran.load(SeqCst), 5, "queued tasks ran");
    assert_eq!(gauges(pool.metrics()), (0, 0, 0));
}

#[test]
fn shutdown_gives_up_after_grace_and_drop_never_hangs() {
    let pool = executor(2, 2, 0, 1);
    let mut gate = Gate::new();
    pool.try_submit(gate.task()).expect("runs");
    gate.wait_started(1);
    match pool.shutdown(Duration::from_millis(50)) {
        Err(ExecutorError::ShutdownTimedOut { threads, .. }) => assert_eq!(threads, 1),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let started = Instant::now();
    drop(pool);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "drop waits for nothing"
    );
    gate.open();
}

#[test]
fn concurrent_submitters_lose_nothing() {
    let pool = executor(2, 4, 8, 0);
    let ran = Arc::new(AtomicUsize::new(0));
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..500 {
                    let mut task = counting_task(&ran);
                    loop {
                        match pool.try_submit(task) {
                            Ok(()) => break,
                            Err(rejected) => {
                                assert_eq!(rejected.reason(), RejectReason::QueueFull);
                                task = rejected.into_task();
                                block_on(pool.ready());
                            }
                        }
                    }
                }
            });
        }
    });
    pool.shutdown(EVENT).expect("joins");
    assert_eq!(ran.load(SeqCst), 2000);
    assert_eq!(pool.metrics().tasks_completed, 2000);
}
