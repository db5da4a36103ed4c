//! Accepting connections without spinning when the process runs out of resources.
//!
//! `accept` fails at once, again and again, while the process is at its open-files limit
//! (EMFILE), the system at its own (ENFILE), or memory or socket buffers are short (ENOMEM,
//! ENOBUFS): the pending connection stays in the backlog and the listener stays readable.
//! Retrying at once burns a core and floods the log. So such a failure starts an *episode*:
//! accepting pauses 10 ms, then twice as long after each further failure, up to 1 s; an
//! accept that succeeds brings the pause back to 10 ms. An episode is logged twice: a warning
//! when it starts, and a line with the count of failed accepts and its length when it is
//! over — after [`RECOVERED_AFTER`] accepts in a row without a failure, or an accept
//! [`QUIET`] after the last failure — so a server that stays at its limit, where accepts and
//! failures alternate as connections come and go, logs one episode, not two lines each.
//! Any other accept error concerns one connection only (a peer that reset before being
//! accepted) and is retried at once. [`Backoff`] is the pure policy; [`next`] drives it.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// The first pause of an episode.
const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// The longest pause.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// Accepts in a row without a failure that end an episode.
const RECOVERED_AFTER: u32 = 16;

/// Time without a failure after which an accept ends an episode.
const QUIET: Duration = Duration::from_secs(10);

/// The accept loop's memory of the current resource-exhaustion episode.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    episode: Option<Episode>,
}

#[derive(Debug)]
struct Episode {
    started: Instant,
    last_failure: Instant,
    failures: u64,
    accepted_in_a_row: u32,
    pause: Duration,
}

/// What the loop should do about a failed accept.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Try again at once: the error concerned one connection.
    Retry,
    /// Wait this long before the next accept; `first` says whether the episode just began.
    Pause { pause: Duration, first: bool },
}

/// How an episode ended, for its closing log line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Recovered {
    pub(crate) failures: u64,
    pub(crate) lasted: Duration,
}

impl Backoff {
    /// Records a failed accept at `now`.
    pub(crate) fn failed(&mut self, error: &io::Error, now: Instant) -> AfterFailure {
        if !is_exhaustion(error) {
            return AfterFailure::Retry;
        }
        match &mut self.episode {
            Some(episode) => {
                episode.failures += 1;
                episode.last_failure = now;
                episode.pause = if episode.accepted_in_a_row > 0 {
                    FIRST_PAUSE
                } else {
                    (episode.pause * 2).min(LONGEST_PAUSE)
                };
                episode.accepted_in_a_row = 0;
                AfterFailure::Pause {
                    pause: episode.pause,
                    first: false,
                }
            }
            None => {
                self.episode = Some(Episode {
                    started: now,
                    last_failure: now,
                    failures: 1,
                    accepted_in_a_row: 0,
                    pause: FIRST_PAUSE,
                });
                AfterFailure::Pause {
                    pause: FIRST_PAUSE,
                    first: true,
                }
            }
        }
    }

    /// Records a successful accept at `now`; says so when that ends the current episode.
    pub(crate) fn accepted(&mut self, now: Instant) -> Option<Recovered> {
        let episode = self.episode.as_mut()?;
        episode.accepted_in_a_row += 1;
        let quiet = now.saturating_duration_since(episode.last_failure) >= QUIET;
        if episode.accepted_in_a_row < RECOVERED_AFTER && !quiet {
            return None;
        }
        let episode = self.episode.take()?;
        Some(Recovered {
            failures: episode.failures,
            lasted: now.saturating_duration_since(episode.started),
        })
    }
}

/// Errors that say the process or the system is out of something, not that one connection
/// went wrong.
fn is_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS)
    )
}

/// The next accepted connection, or `None` once `stop` turns true. Pauses as [`Backoff`]
/// says while accepting fails for lack of resources, and logs each episode's start and end.
pub(crate) async fn next(
    listener: &TcpListener,
    backoff: &mut Backoff,
    stop: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return None,
        };
        let error = match accepted {
            Ok(pair) => {
                if let Some(done) = backoff.accepted(Instant::now()) {
                    tracing::warn!(
                        failed_accepts = done.failures,
                        lasted_ms = done.lasted.as_millis() as u64,
                        "accepting connections again"
                    );
                }
                return Some(pair);
            }
            Err(error) => error,
        };
        match backoff.failed(&error, Instant::now()) {
            AfterFailure::Retry => tracing::debug!(%error, "accept failed for one connection"),
            AfterFailure::Pause { pause, first } => {
                if first {
                    tracing::warn!(%error, "accept failed for lack of resources; pausing accepts (10 ms, doubling up to 1 s) until one succeeds");
                }
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => return None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn exhaustion_pauses_doubling_up_to_a_second_then_recovers_once() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        let pauses: Vec<AfterFailure> = (0..10)
            .map(|_| backoff.failed(&os(libc::EMFILE), start))
            .collect();
        assert_eq!(
            pauses[0],
            AfterFailure::Pause {
                pause: Duration::from_millis(10),
                first: true
            }
        );
        assert_eq!(
            pauses[1],
            AfterFailure::Pause {
                pause: Duration::from_millis(20),
                first: false
            }
        );
        assert_eq!(
            pauses[9],
            AfterFailure::Pause {
                pause: Duration::from_secs(1),
                first: false
            }
        );
        let later = start + Duration::from_secs(3);
        for _ in 1..RECOVERED_AFTER {
            assert_eq!(backoff.accepted(later), None, "not over after one accept");
        }
        assert_eq!(
            backoff.accepted(later),
            Some(Recovered {
                failures: 10,
                lasted: Duration::from_secs(3)
            })
        );
        assert_eq!(
            backoff.accepted(later),
            None,
            "one closing line per episode"
        );
    }

    #[test]
    fn accepts_and_failures_alternating_at_the_limit_are_one_episode() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        let mut firsts = 0;
        for second in 0..9 {
            let now = start + Duration::from_secs(second);
            if let AfterFailure::Pause { pause, first } = backoff.failed(&os(libc::EMFILE), now) {
                firsts += usize::from(first);
                assert_eq!(pause, FIRST_PAUSE, "after an accept the pause starts again");
            }
            assert_eq!(backoff.accepted(now), None);
        }
        assert_eq!(firsts, 1, "one start line");
        let quiet = start + Duration::from_secs(8) + QUIET;
        let recovered = backoff.accepted(quiet).expect("quiet for long enough");
        assert_eq!(recovered.failures, 9);
    }

    #[test]
    fn every_kind_of_exhaustion_pauses_and_a_single_connection_error_does_not() {
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOMEM, libc::ENOBUFS] {
            let mut backoff = Backoff::default();
            assert!(matches!(
                backoff.failed(&os(code), Instant::now()),
                AfterFailure::Pause { first: true, .. }
            ));
        }
        let mut backoff = Backoff::default();
        assert_eq!(
            backoff.failed(&os(libc::ECONNABORTED), Instant::now()),
            AfterFailure::Retry
        );
        assert_eq!(backoff.accepted(Instant::now()), None);
    }
}
