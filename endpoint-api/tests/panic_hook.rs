//! The SDK's panic hook (item 5): silent for panics inside plugin callbacks, which the SDK
//! reports once through the host, and chained to the previous hook for every other panic —
//! on other threads, outside callbacks, even while a callback panics concurrently.
//!
//! One test in its own binary: the hook is process-wide state.

// The threads here play a second pool thread and a thread the plugin started itself.
#![allow(clippy::disallowed_methods)]

use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use endpoint_api::mock::MockHost;
use endpoint_api::{Endpoint, LogLevel, Session, Text};

/// Panics the previous hook saw.
static DELEGATED: AtomicUsize = AtomicUsize::new(0);

struct Bomb {
    meet: Arc<Barrier>,
}

impl Endpoint for Bomb {
    type State = ();

    fn on_text(&self, _: &Session, _: &mut (), text: Text<'_>) {
        if text == "meet" {
            self.meet.wait();
        }
        panic!("bomb: {text}");
    }
}

fn delegated() -> usize {
    DELEGATED.load(Ordering::SeqCst)
}

#[test]
fn the_hook_is_silent_inside_callbacks_and_delegates_everywhere_else() {
    panic::set_hook(Box::new(|_| {
        DELEGATED.fetch_add(1, Ordering::SeqCst);
    }));
    let meet = Arc::new(Barrier::new(2));
    let kept = meet.clone();
    let host = MockHost::builder()
        .endpoint("/", move |_| Bomb { meet: kept })
        .build()
        .unwrap();

    let session = host.connect("/").unwrap();
    host.text(&session, "now");
    assert_eq!(
        delegated(),
        0,
        "a callback's panic does not reach the previous hook"
    );
    let logs = host.logs();
    let reports: Vec<_> = logs
        .iter()
        .filter(|l| l.message.contains("panicked"))
        .collect();
    assert_eq!(reports.len(), 1, "reported once: {logs:?}");
    assert_eq!(
        (reports[0].session, reports[0].level),
        (Some(session.id()), LogLevel::Error)
    );
    assert!(
        reports[0].message.contains("panic_hook.rs:"),
        "with its location"
    );

    assert!(panic::catch_unwind(|| panic!("outside any callback")).is_err());
    assert_eq!(delegated(), 1);
    assert!(
        std::thread::spawn(|| panic!("a thread of its own"))
            .join()
            .is_err()
    );
    assert_eq!(delegated(), 2);

    // One thread panics inside a callback while this one panics outside, at the same time.
    let other = host.connect("/").unwrap();
    let inside = {
        let host = host.clone();
        std::thread::spawn(move || host.text(&other, "meet"))
    };
    meet.wait();
    assert!(panic::catch_unwind(|| panic!("outside, concurrently")).is_err());
    inside.join().expect("the callback's panic was caught");
    assert_eq!(delegated(), 3, "only the panic outside was delegated");
    let _ = panic::take_hook();
}
