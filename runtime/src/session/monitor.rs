//! The idle monitor of one context: every `monitoring-period-in-millis` it closes, with 1001
//! and cause "idle timeout", each session that saw no data frame (in either direction) for
//! longer than its idle timeout — the endpoint's override, else the context's. A session
//! therefore closes between `timeout` and `timeout + period` after its last activity. The
//! close frame is sent by the session's own task; its `on_close` runs on the reserved
//! timeout threads, so expiry happens even while the pool is saturated.

use std::sync::{Arc, Weak};

use tokio::time::{Instant, MissedTickBehavior};

use super::ending::Closure;
use super::hub::Hub;

/// Starts the monitor of `core` on the current tokio runtime; it stops with the context.
pub(crate) fn spawn_idle_monitor(hub: &Arc<Hub>) {
    let period = hub.settings().idle.monitoring_period;
    let context = Arc::downgrade(hub);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
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
