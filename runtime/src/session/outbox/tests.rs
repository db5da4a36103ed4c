use super::*;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

fn frame(len: usize) -> Outgoing {
    Outgoing {
        frame: Outbound::Binary(Bytes::from(vec![0u8; len])),
        done: Completion::None,
        deadline: None,
    }
}

#[test]
fn a_refused_direct_claim_leaves_the_writers_claim_alone() {
    let outbox = Outbox::new(100);
    assert!(outbox.claim_direct(), "a free socket is granted");
    assert!(!outbox.claim_direct(), "one direct writer at a time");
    assert!(
        !outbox.claim_direct(),
        "a refused claim must not release the writer's"
    );
    assert!(outbox.end_direct(None).is_ok());
    assert!(outbox.claim_direct(), "free again once the writer is done");
}

#[test]
fn the_byte_bound_refuses_but_one_large_frame_always_fits_an_empty_queue() {
    let outbox = Outbox::new(100);
    assert!(
        outbox.push(frame(500)).is_ok(),
        "an empty queue takes any frame"
    );
    assert_eq!(
        outbox.push(frame(1)).map_err(|(r, _)| r),
        Err(Refused::Full)
    );
    let mut taken = Vec::new();
    outbox.take(usize::MAX, &mut taken);
    assert_eq!(taken.len(), 1);
    assert!(outbox.push(frame(60)).is_ok() && outbox.push(frame(40)).is_ok());
    assert_eq!(
        outbox.push(frame(1)).map_err(|(r, _)| r),
        Err(Refused::Full)
    );
}

#[test]
fn take_stops_near_the_byte_budget_but_takes_at_least_one() {
    let outbox = Outbox::new(1000);
    for _ in 0..5 {
        outbox.push(frame(100)).expect("fits");
    }
    let mut taken = Vec::new();
    outbox.take(250, &mut taken);
    assert_eq!(taken.len(), 2);
    taken.clear();
    outbox.take(10, &mut taken);
    assert_eq!(taken.len(), 1);
}

#[test]
fn a_waiting_sender_gets_room_or_times_out() {
    let outbox = Arc::new(Outbox::new(10));
    outbox.push(frame(10)).expect("fits");
    let mut late = frame(5);
    late.deadline = Some(Instant::now() + Duration::from_millis(50));
    assert_eq!(
        outbox.push_waiting(late).map_err(|(r, _)| r),
        Err(Refused::TimedOut)
    );

    let consumer = Arc::clone(&outbox);
    let (started, wait) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let mut patient = frame(5);
        patient.deadline = Some(Instant::now() + Duration::from_secs(10));
        started.send(()).expect("signal");
        outbox.push_waiting(patient).map_err(|(r, _)| r)
    });
    wait.recv().expect("waiter started");
    let mut taken = Vec::new();
    consumer.take(usize::MAX, &mut taken);
    assert_eq!(waiter.join().expect("waiter"), Ok(()));
}

#[test]
fn closing_refuses_new_frames_and_returns_queued_ones() {
    let outbox = Outbox::new(100);
    let mut timed = frame(1);
    let deadline = Instant::now() + Duration::from_secs(1);
    timed.deadline = Some(deadline);
    outbox.push(timed).expect("fits");
    assert_eq!(outbox.earliest_deadline(), Some(deadline));
    assert_eq!(outbox.close().len(), 1);
    assert_eq!(
        outbox.push(frame(1)).map_err(|(r, _)| r),
        Err(Refused::Closed)
    );
    assert_eq!(outbox.earliest_deadline(), None);
}

#[test]
fn a_direct_write_needs_an_empty_queue_a_free_socket_no_batching_and_an_open_session() {
    let outbox = Outbox::new(100);
    assert!(outbox.claim_direct());
    assert!(!outbox.claim_direct(), "one direct writer at a time");
    assert!(outbox.end_direct(None).is_ok());

    outbox.push(frame(1)).expect("fits");
    assert!(!outbox.claim_direct(), "queued frames go first");
    outbox.take(usize::MAX, &mut Vec::new());
    assert!(outbox.claim_direct());
    assert!(outbox.end_direct(None).is_ok());

    outbox.set_batching(true);
    assert!(!outbox.claim_direct(), "batching coalesces in the task");
    outbox.set_batching(false);

    outbox.close();
    assert!(!outbox.claim_direct(), "closed");
}

#[tokio::test]
async fn the_task_holds_the_socket_until_it_releases_it_with_nothing_queued() {
    let outbox = Outbox::new(100);
    outbox.claim_for_task().await;
    assert!(!outbox.claim_direct(), "the task writes");
    outbox.push(frame(1)).expect("fits");
    assert!(!outbox.release_task(), "not while frames wait");
    outbox.take(usize::MAX, &mut Vec::new());
    assert!(outbox.release_task());
    assert!(outbox.claim_direct());
    assert!(outbox.end_direct(None).is_ok());
}

#[tokio::test]
async fn what_a_direct_write_left_over_is_queued_first_and_wakes_the_task() {
    let outbox = Arc::new(Outbox::new(100));
    outbox.push(frame(1)).expect("fits");
    outbox.take(usize::MAX, &mut Vec::new());
    assert!(outbox.claim_direct());
    // The task wants the socket while the direct write is in progress: it waits.
    let task = {
        let outbox = Arc::clone(&outbox);
        tokio::spawn(async move { outbox.claim_for_task().await })
    };
    tokio::task::yield_now().await;
    assert!(!task.is_finished(), "waits for the direct write to end");
    outbox.push(frame(2)).expect("fits behind");
    let mut rest = frame(3);
    rest.frame = Outbound::Encoded(Bytes::from_static(b"rest"));
    assert!(outbox.end_direct(Some(rest)).is_ok());
    task.await.expect("claimed");
    outbox.arrived().await;
    let mut taken = Vec::new();
    outbox.take(usize::MAX, &mut taken);
    let lengths: Vec<usize> = taken.iter().map(|o| o.frame.len()).collect();
    assert_eq!(
        lengths,
        [4, 2],
        "the rest first, then what queued meanwhile"
    );
}

/// Counts the wake-ups of the consumer's waker.
#[derive(Debug, Default)]
struct Wakes(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Wakes {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Polls a fresh `arrived()` once, as each turn of the connection task's `select!` does.
fn poll_arrived(outbox: &Outbox, waker: &std::task::Waker) -> bool {
    let mut cx = std::task::Context::from_waker(waker);
    std::pin::pin!(outbox.arrived()).poll(&mut cx).is_ready()
}

/// The connection task's side, one operation at a time: wait on `arrived()`; when it
/// resolves, `take` bursts (at most 250 bytes) until one comes back empty, as
/// `write_queued` does; stop once parked, i.e. `arrived()` was pending and nothing woke
/// the waker since. Before operation number `at` a producer pushes one 7-byte frame.
/// Returns the lengths taken, whether a frame was left queued behind the parked task and
/// how many operations there were.
fn consume_with_a_push_before(at: usize) -> (Vec<usize>, bool, usize) {
    let outbox = Outbox::new(1000);
    for _ in 0..3 {
        outbox.push(frame(100)).expect("fits");
    }
    let wakes = Arc::new(Wakes::default());
    let waker = std::task::Waker::from(Arc::clone(&wakes));
    let mut operation = 0;
    let mut maybe_push = || {
        if operation == at {
            outbox.push(frame(7)).expect("fits");
        }
        operation += 1;
        assert!(operation < 100, "the consumer never parked");
    };
    let mut taken = Vec::new();
    loop {
        maybe_push();
        let woken_before = wakes.count();
        if poll_arrived(&outbox, &waker) {
            loop {
                maybe_push();
                let mut burst = Vec::new();
                outbox.take(250, &mut burst);
                if burst.is_empty() {
                    break;
                }
                taken.extend(burst.iter().map(|o| o.frame.len()));
            }
            continue;
        }
        // Pending: a push now (or during the poll) must wake the task again.
        maybe_push();
        if wakes.count() == woken_before {
            break;
        }
    }
    (taken, outbox.has_frames(), operation)
}

#[test]
fn a_push_at_any_point_of_the_consumers_cycle_is_taken_or_wakes_it() {
    let (without, _, operations) = consume_with_a_push_before(usize::MAX);
    assert_eq!(without, [100, 100, 100]);
    // poll, take × 3 (the last one empty), poll (pending), park.
    assert_eq!(operations, 6);
    // Before every operation of the consumer: before, between and after the bursts of a
    // drain, during the wait, after parking.
    for at in 0..operations {
        let (mut taken, stranded, _) = consume_with_a_push_before(at);
        taken.sort_unstable();
        assert_eq!(taken, [7, 100, 100, 100], "push before operation {at}");
        assert!(
            !stranded,
            "push before operation {at}: the task parked with a frame queued"
        );
    }
}

#[test]
fn only_a_push_into_an_empty_queue_wakes_the_consumer_so_it_drains_to_empty() {
    let outbox = Outbox::new(1000);
    let wakes = Arc::new(Wakes::default());
    let waker = std::task::Waker::from(Arc::clone(&wakes));
    assert!(!poll_arrived(&outbox, &waker), "nothing yet");
    outbox.push(frame(100)).expect("fits");
    assert_eq!(wakes.count(), 1, "empty → non-empty wakes");
    outbox.push(frame(100)).expect("fits");
    assert_eq!(wakes.count(), 1, "a burst costs one wake-up");
    assert!(poll_arrived(&outbox, &waker));
    // A take that leaves frames behind: a push now wakes nobody, so the consumer must
    // take again rather than wait (write_queued loops until a take comes back empty).
    outbox.take(100, &mut Vec::new());
    outbox.push(frame(100)).expect("fits");
    assert_eq!(wakes.count(), 1);
    assert!(!poll_arrived(&outbox, &waker), "no wake-up pending");
    assert!(outbox.has_frames());
    let mut rest = Vec::new();
    outbox.take(usize::MAX, &mut rest);
    assert_eq!(rest.len(), 2);
    // Drained: the next push wakes the parked consumer.
    outbox.push(frame(1)).expect("fits");
    assert_eq!(wakes.count(), 2);
    assert!(poll_arrived(&outbox, &waker));
}

/// A waker that pushes a frame when its last reference is dropped. `AtomicWaker::register`
/// drops the waker it replaces while it registers the next one: in the middle of an
/// `arrived()` poll, after its first look at the flag.
#[derive(Debug)]
struct PushOnDrop {
    outbox: Arc<Outbox>,
    pushed: Arc<AtomicBool>,
}

impl std::task::Wake for PushOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for PushOnDrop {
    fn drop(&mut self) {
        self.outbox.push(frame(7)).expect("fits");
        self.pushed.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_push_while_the_consumer_registers_its_waker_is_not_lost() {
    let outbox = Arc::new(Outbox::new(100));
    let pushed = Arc::new(AtomicBool::new(false));
    let first = std::task::Waker::from(Arc::new(PushOnDrop {
        outbox: Arc::clone(&outbox),
        pushed: Arc::clone(&pushed),
    }));
    assert!(!poll_arrived(&outbox, &first));
    // The outbox now holds the only reference to the first waker.
    drop(first);
    assert!(!pushed.load(Ordering::SeqCst));
    let wakes = Arc::new(Wakes::default());
    let second = std::task::Waker::from(Arc::clone(&wakes));
    let ready = poll_arrived(&outbox, &second);
    assert!(
        pushed.load(Ordering::SeqCst),
        "the push ran inside the poll (while the waker was being replaced)"
    );
    assert!(
        ready || wakes.count() > 0,
        "a push between the poll's looks at the flag neither resolved it nor woke the task"
    );
    let mut taken = Vec::new();
    outbox.take(usize::MAX, &mut taken);
    assert_eq!(taken.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_thread_racing_the_consumer_never_strands_a_frame() {
    const FRAMES: usize = 20_000;
    let outbox = Arc::new(Outbox::new(1 << 20));
    let producer = {
        let outbox = Arc::clone(&outbox);
        std::thread::spawn(move || {
            for n in 0..FRAMES {
                outbox.push(frame(1 + n % 3)).expect("fits");
                if n % 7 == 0 {
                    std::thread::yield_now();
                }
            }
        })
    };
    // A task of its own: a timeout wrapped around the future itself would poll it once
    // more when it fires, and that poll would find the flag a lost wake-up left set.
    let consumer = tokio::spawn({
        let outbox = Arc::clone(&outbox);
        async move {
            let mut taken = 0;
            while taken < FRAMES {
                outbox.arrived().await;
                loop {
                    let mut burst = Vec::new();
                    outbox.take(4, &mut burst);
                    if burst.is_empty() {
                        break;
                    }
                    taken += burst.len();
                }
            }
            taken
        }
    });
    let taken = tokio::time::timeout(Duration::from_secs(20), consumer)
        .await
        .expect("every frame was taken: no wake-up was lost")
        .expect("the consumer task");
    assert_eq!(taken, FRAMES);
    producer.join().expect("producer");
}

#[test]
fn a_rest_after_the_session_closed_comes_back() {
    let outbox = Outbox::new(100);
    assert!(outbox.claim_direct());
    outbox.close();
    assert!(outbox.end_direct(Some(frame(1))).is_err());
}
