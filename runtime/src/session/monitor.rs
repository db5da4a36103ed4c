//! The idle monitor of one context: every `monitoring-period-in-millis` it closes, with 1001
//! and cause "idle timeout", each session that saw no data frame (in either direction) for
//! longer than its idle timeout — the endpoint's override, else the context's. A session
//! therefore closes between `timeout` and `timeout + period` after its last activity. The
//! close frame is sent by the session's own task; its `on_close` runs on the reserved
//! timeout threads, so expiry happens even while the pool is saturated. A change of either
//! setting applies from the next look, which a change brings forward.

use std::sync::{Arc, Weak};

use tokio::time::Instant;

use super::ending::Closure;
use super::hub::Hub;

/// Starts the monitor of `core` on the current tokio runtime; it stops with the context.
pub(crate) fn spawn_idle_monitor(hub: &Arc<Hub>) {
    let context = Arc::downgrade(hub);
    // Not the hub itself: the monitor must not keep a retired context alive.
    let retuned = hub.retuned();
    tokio::spawn(async move {
        loop {
            let Some(period) = context
                .upgrade()
                .map(|hub| hub.settings().idle.monitoring_period)
            else {
                return;
            };
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                () = retuned.notified() => {}
            }
            if !expire_idle(&context) {
                return;
            }
        }
    });
}

/// One look at every session; false once the context is gone.
fn expire_idle(context: &Weak<Hub>) -> bool {
    let Some(hub) = context.upgrade() else {
        return false;
    };
    let now = Instant::now();
    for session in hub.sessions().all() {
        let Some(timeout) = session.idle_timeout(hub.settings().idle.timeout) else {
            continue;
        };
        if session.is_closing() || session.idle_for(now) < timeout {
            continue;
        }
        tracing::debug!(context = %hub.name(), session = session.id, ?timeout, "closing an idle session");
        session.close(Closure::IdleTimeout);
    }
    true
}
