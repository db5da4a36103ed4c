//! Server-side keepalive: a ping every interval, and a deadline for its pong.
//!
//! Mobile networks and proxies drop connections that carry nothing for 30–60 s; a ping every
//! `ping-interval-in-millis` keeps them alive, and a peer that does not answer within
//! `pong-timeout-in-millis` has stopped (a frozen process, a dead network): the session is
//! dropped and reported as 1006 with cause "pong timeout". While a pong is awaited no
//! further ping is sent. Any pong counts as an answer (browsers may coalesce them).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, Sleep};

/// What the keepalive timer asks for.
#[derive(Debug)]
pub(crate) enum Tick {
    /// Send this ping.
    Ping(Bytes),
    /// The pong did not come in time.
    PongLate,
}

/// One session's keepalive state: one timer, aimed at the next ping or, while a pong is
/// awaited, at its deadline (one timer and a poll function keep every idle session's task
/// small).
#[derive(Debug)]
pub(crate) struct Keepalive {
    /// `None` when keepalive is off.
    timer: Option<Pin<Box<Sleep>>>,
    period: Duration,
    pong_timeout: Duration,
    next_ping: Instant,
    awaiting: bool,
    sent: u64,
}

impl Keepalive {
    /// Pings every `interval` (none when `None`), expecting pongs within `pong_timeout`.
    pub(crate) fn new(interval: Option<Duration>, pong_timeout: Duration) -> Keepalive {
        let period = interval.unwrap_or(Duration::MAX);
        let next_ping = interval.map_or_else(Instant::now, |period| Instant::now() + period);
        Keepalive {
            timer: interval.map(|_| Box::pin(tokio::time::sleep_until(next_ping))),
            period,
            pong_timeout,
            next_ping,
            awaiting: false,
            sent: 0,
        }
    }

    /// The next thing to do; pending forever when keepalive is off. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Tick {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Tick> {
        let Some(timer) = self.timer.as_mut() else {
            return Poll::Pending;
        };
        ready!(timer.as_mut().poll(cx));
        if self.awaiting {
            return Poll::Ready(Tick::PongLate);
        }
        // A late tick delays the schedule rather than bursting to catch up.
        self.next_ping = Instant::now() + self.period;
        timer.as_mut().reset(self.next_ping);
        Poll::Ready(Tick::Ping(Bytes::copy_from_slice(
            &(self.sent + 1).to_be_bytes(),
        )))
    }

    /// A ping went out: its pong is due within the pong timeout.
    pub(crate) fn ping_sent(&mut self) {
        self.sent += 1;
        self.awaiting = true;
        if let Some(timer) = self.timer.as_mut() {
            timer.as_mut().reset(Instant::now() + self.pong_timeout);
        }
    }

    /// Pings every `interval` from now on (none when `None`), expecting pongs within
    /// `pong_timeout` — including the pong awaited now, if any.
    pub(crate) fn retune(&mut self, interval: Option<Duration>, pong_timeout: Duration) {
        let Some(period) = interval else {
            *self = Keepalive::new(None, pong_timeout);
            return;
        };
        let awaited = (self.timer.as_ref())
            .filter(|_| self.awaiting)
            .map(|timer| timer.deadline() - self.pong_timeout + pong_timeout);
        self.period = period;
        self.pong_timeout = pong_timeout;
        self.next_ping = Instant::now() + period;
        let deadline = awaited.unwrap_or(self.next_ping);
        match self.timer.as_mut() {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    /// A pong arrived: the peer is alive.
    pub(crate) fn pong_received(&mut self) {
        if self.awaiting {
            self.awaiting = false;
            if let Some(timer) = self.timer.as_mut() {
                timer.as_mut().reset(self.next_ping);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pings_on_the_interval_and_times_out_a_missing_pong() {
        let mut keepalive =
            Keepalive::new(Some(Duration::from_millis(200)), Duration::from_millis(100));
        let started = Instant::now();
        assert!(matches!(keepalive.next().await, Tick::Ping(_)));
        assert_eq!(started.elapsed(), Duration::from_millis(200));
        keepalive.ping_sent();
        keepalive.pong_received();
        assert!(matches!(keepalive.next().await, Tick::Ping(_)));
        assert_eq!(started.elapsed(), Duration::from_millis(400));
        keepalive.ping_sent();
        assert!(matches!(keepalive.next().await, Tick::PongLate));
        assert_eq!(started.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retune_reschedules_the_next_ping_and_the_awaited_pong() {
        let mut keepalive = Keepalive::new(None, Duration::from_millis(100));
        let started = Instant::now();
        keepalive.retune(Some(Duration::from_millis(300)), Duration::from_millis(100));
        assert!(matches!(keepalive.next().await, Tick::Ping(_)));
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        keepalive.ping_sent();
        keepalive.retune(Some(Duration::from_millis(300)), Duration::from_millis(50));
        assert!(matches!(keepalive.next().await, Tick::PongLate));
        assert_eq!(started.elapsed(), Duration::from_millis(350));
        keepalive.retune(None, Duration::from_millis(50));
        let waited = tokio::time::timeout(Duration::from_secs(3600), keepalive.next()).await;
        assert!(waited.is_err(), "off after the retune");
    }

    #[tokio::test(start_paused = true)]
    async fn off_means_never() {
        let mut keepalive = Keepalive::new(None, Duration::from_millis(1));
        let waited = tokio::time::timeout(Duration::from_secs(3600), keepalive.next()).await;
        assert!(waited.is_err());
    }
}
