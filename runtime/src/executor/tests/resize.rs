//! Resizing a running pool: nothing queued is lost, growth is immediate, shrinking happens as
//! threads go idle.

use std::time::Duration;

use super::*;
use crate::executor::RejectReason;

#[test]
fn a_raised_max_starts_threads_for_the_tasks_waiting() {
    let pool = executor(1, 1, 10, 0);
    let mut gate = Gate::new();
    for _ in 0..4 {
        pool.try_submit(gate.task()).expect("accepted");
    }
    gate.wait_started(1);
    assert_eq!(
        pool.metrics().queue_depth,
        3,
        "three wait for the one thread"
    );
    pool.resize(&settings(1, 4, 10));
    gate.wait_started(3);
    let metrics = pool.metrics();
    assert_eq!((metrics.threads_alive, metrics.threads_busy), (4, 4));
    gate.open();
    pool.shutdown(EVENT).expect("joins");
    assert_eq!(pool.metrics().tasks_completed, 4);
}

#[test]
fn a_raised_min_starts_threads_at_once() {
    let pool = executor(0, 4, 0, 0);
    assert_eq!(pool.metrics().threads_alive, 0);
    pool.resize(&settings(3, 4, 0));
    assert_eq!(pool.metrics().threads_alive, 3);
    pool.shutdown(EVENT).expect("joins");
}

#[test]
fn lowered_limits_shrink_the_pool_as_threads_go_idle_and_bound_admission() {
    let pool = executor(3, 3, 0, 0);
    let lowered = ExecutorSettings {
        keep_alive: Duration::from_millis(30),
        ..settings(1, 1, 0)
    };
    pool.resize(&lowered);
    eventually("the pool to shrink to the new min", || {
        pool.metrics().threads_alive == 1
    });
    let mut gate = Gate::new();
    pool.try_submit(gate.task())
        .expect("the one thread takes it");
    gate.wait_started(1);
    let refused = pool.try_submit(Box::new(|| {})).expect_err("max is 1 now");
    assert_eq!(refused.reason(), RejectReason::QueueFull);
    gate.open();
    pool.shutdown(EVENT).expect("joins");
}
