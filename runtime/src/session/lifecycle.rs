//! A session's lifecycle as a pure state machine: open → closing → closed.
//!
//! The connection task (`connection`) owns the socket, the timers and the mailbox; this type
//! owns every decision about them, and touches none of them. Each input — a frame read (or
//! a read that failed), a command from another thread, a keepalive tick, a write that failed
//! — comes back as what to do: deliver a callback, answer a ping, write what is queued, send
//! a ping, or end the session in a given [`Ending`]. While the session is closing (our close
//! frame sent, the peer's awaited) data frames are ignored and the peer's close, or the end
//! of the connection, makes it closed. How an ending is reported is `ending`'s.

use std::sync::Arc;

use bytes::Bytes;

use super::ending::{Closure, Ending, Report, Violation};
use super::handle::Command;
use super::job::Job;
use super::keepalive::Tick;
use crate::codec::{CodecError, CodecLimits, Inbound};
use crate::config::descriptor::ContextSettings;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Frames flow both ways.
    Open,
    /// The session has ended; our close frame (if any) is out and the peer's is awaited.
    Closing,
    /// Nothing more is read or written.
    Closed,
}

/// What to do about a frame read (or a read that failed).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Reaction {
    /// Nothing.
    Ignore,
    /// Queue this callback; `touch`: it counts as activity for the idle timeout.
    Deliver { job: Job, touch: bool },
    /// A pong: the keepalive's answer; its callback is queued like a message's.
    Pong { job: Job, touch: bool },
    /// A ping: write the pong the codec queued.
    AnswerPing { touch: bool },
    /// The session ends; `flush_first`: write what the codec queued (the answer to the
    /// peer's close frame) before anything else.
    End { ending: Ending, flush_first: bool },
    /// The closing handshake is over; `flush_first` as above.
    Closed { flush_first: bool },
}

/// What to do about a command from another thread.
#[derive(Debug, PartialEq)]
pub(super) enum Order {
    /// Write out what is batched.
    Flush,
    /// Coalesce frames (on) or write each burst (off, and flush now).
    Batching(bool),
    /// End the session; `write_queued_first`: the frames queued before it go out first.
    End {
        ending: Ending,
        write_queued_first: bool,
    },
    /// Apply the context's new settings to the connection (the lifecycle has taken its
    /// message limits and idle rule already).
    Retune(Arc<ContextSettings>),
    /// Nothing: the session is already ending.
    Ignore,
}

/// What to do about a keepalive tick.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Beat {
    /// Send this ping.
    Ping(Bytes),
    /// End the session.
    End(Ending),
}

/// Why a write did not finish.
#[derive(Debug)]
pub(super) enum WriteFailure {
    /// A queued frame's deadline passed.
    TimedOut,
    /// Another thread gave up on the stuck write with this closure (a blocking send that
    /// timed out, a broadcast that found the queue full); `None` if it was already taken.
    Aborted(Option<Closure>),
    /// The connection failed.
    Lost(CodecError),
}

/// One session's lifecycle.
#[derive(Debug)]
pub(super) struct Lifecycle {
    phase: Phase,
    limits: CodecLimits,
    /// Whether control frames count as activity (Tomcat's rule) or only data frames.
    control_counts: bool,
}

impl Lifecycle {
    /// An open session with these message limits and idle rule.
    pub(super) fn new(limits: CodecLimits, control_counts: bool) -> Lifecycle {
        Lifecycle {
            phase: Phase::Open,
            limits,
            control_counts,
        }
    }

    pub(super) fn phase(&self) -> Phase {
        self.phase
    }

    /// A frame read, a read that failed (`Some(Err)`), or the end of the stream (`None`).
    pub(super) fn on_read(&mut self, read: Option<Result<Inbound, CodecError>>) -> Reaction {
        if self.phase != Phase::Open {
            return self.on_read_while_closing(read);
        }
        let inbound = match read {
            None => {
                let lost = "the connection ended without a close frame";
                return Reaction::End {
                    ending: Ending::Lost(lost.into()),
                    flush_first: false,
                };
            }
            Some(Err(error)) => {
                return Reaction::End {
                    ending: Ending::from(error),
                    flush_first: false,
                };
            }
            Some(Ok(inbound)) => inbound,
        };
        let control = self.control_counts;
        match inbound {
            Inbound::Text(data) if data.len() > self.limits.text => {
                self.too_big("text", data.len(), self.limits.text)
            }
            Inbound::Binary(data) if data.len() > self.limits.binary => {
                self.too_big("binary", data.len(), self.limits.binary)
            }
            Inbound::Text(data) => Reaction::Deliver {
                job: Job::Text(data),
                touch: true,
            },
            Inbound::Binary(data) => Reaction::Deliver {
                job: Job::Binary(data),
                touch: true,
            },
            Inbound::Pong(data) => Reaction::Pong {
                job: Job::Pong(data),
                touch: control,
            },
            Inbound::Ping(_) => Reaction::AnswerPing { touch: control },
            Inbound::Close(frame) => Reaction::End {
                ending: Ending::Remote(frame),
                flush_first: true,
            },
        }
    }

    fn on_read_while_closing(&mut self, read: Option<Result<Inbound, CodecError>>) -> Reaction {
        match read {
            _ if self.phase == Phase::Closed => Reaction::Ignore,
            Some(Ok(Inbound::Close(_))) => {
                self.phase = Phase::Closed;
                Reaction::Closed { flush_first: true }
            }
            Some(Ok(_)) => Reaction::Ignore,
            None | Some(Err(_)) => {
                self.phase = Phase::Closed;
                Reaction::Closed { flush_first: false }
            }
        }
    }

    fn too_big(&self, kind: &str, size: usize, limit: usize) -> Reaction {
        let message = format!("{kind} message of {size} bytes exceeds the limit of {limit}");
        Reaction::End {
            ending: Ending::Violation(Violation::TooBig, message),
            flush_first: false,
        }
    }

    /// A command from another thread.
    pub(super) fn on_command(&mut self, command: Command) -> Order {
        if self.phase != Phase::Open {
            return Order::Ignore;
        }
        match command {
            Command::Flush => Order::Flush,
            Command::SetBatching(on) => Order::Batching(on),
            Command::Close(closure) => Order::End {
                write_queued_first: closure.writes_queued_first(),
                ending: Ending::Closed(closure),
            },
            Command::Retune(settings) => {
                self.limits = CodecLimits {
                    text: settings.limits.text,
                    binary: settings.limits.binary,
                };
                self.control_counts = settings.idle.counts_control_frames;
                Order::Retune(settings)
            }
        }
    }

    /// A keepalive tick.
    pub(super) fn on_tick(&mut self, tick: Tick) -> Beat {
        match tick {
            Tick::Ping(payload) => Beat::Ping(payload),
            Tick::PongLate => Beat::End(Ending::Closed(Closure::PongTimeout)),
        }
    }

    /// A write that failed ends the session.
    pub(super) fn on_write_failure(&mut self, failure: WriteFailure) -> Ending {
        match failure {
            WriteFailure::TimedOut | WriteFailure::Aborted(None) => {
                Ending::Closed(Closure::SendTimeout("a send was not written in time"))
            }
            WriteFailure::Aborted(Some(closure)) => Ending::Closed(closure),
            WriteFailure::Lost(error) => Ending::Lost(error.to_string()),
        }
    }

    /// The session ends: it is closing from now on. Returns how to carry the ending out;
    /// when nothing is to be awaited from the peer (no close frame of ours, or the peer
    /// closed first), it is closed at once.
    pub(super) fn end(&mut self, ending: &Ending) -> Report {
        let report = ending.report();
        self.phase = if report.close_frame.is_some() {
            Phase::Closing
        } else {
            Phase::Closed
        };
        report
    }

    /// The closing handshake is over (the peer answered, or we stopped waiting).
    pub(super) fn closed(&mut self) {
        self.phase = Phase::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::ending::Cause;

    const LIMITS: CodecLimits = CodecLimits {
        text: 10,
        binary: 20,
    };

    fn open() -> Lifecycle {
        Lifecycle::new(LIMITS, false)
    }

    fn text(len: usize) -> Option<Result<Inbound, CodecError>> {
        Some(Ok(Inbound::Text(Bytes::from("x".repeat(len)))))
    }

    fn ended(reaction: Reaction) -> (Ending, bool) {
        match reaction {
            Reaction::End {
                ending,
                flush_first,
            } => (ending, flush_first),
            other => panic!("expected an end, got {other:?}"),
        }
    }

    #[test]
    fn messages_within_their_limits_are_delivered_as_activity() {
        let mut life = open();
        assert!(matches!(
            life.on_read(text(10)),
            Reaction::Deliver {
                job: Job::Text(_),
                touch: true
            }
        ));
        let binary = Some(Ok(Inbound::Binary(Bytes::from(vec![0; 20]))));
        assert!(matches!(
            life.on_read(binary),
            Reaction::Deliver {
                job: Job::Binary(_),
                touch: true
            }
        ));
        assert_eq!(life.phase(), Phase::Open);
    }

    #[test]
    fn a_message_over_its_limit_is_a_violation_reported_as_1009() {
        let mut life = open();
        let (ending, flush_first) = ended(life.on_read(text(11)));
        assert!(!flush_first);
        let report = life.end(&ending);
        assert_eq!(report.cause, Cause::MessageTooBig);
        assert_eq!(report.close_frame.map(|(code, _)| code), Some(1009));
        assert_eq!(
            report.reason,
            "text message of 11 bytes exceeds the limit of 10"
        );
        assert_eq!(life.phase(), Phase::Closing);
        let binary = Some(Ok(Inbound::Binary(Bytes::from(vec![0; 21]))));
        let (ending, _) = ended(open().on_read(binary));
        assert!(matches!(ending, Ending::Violation(Violation::TooBig, _)));
    }

    #[test]
    fn control_frames_count_as_activity_only_under_tomcats_rule() {
        for counts in [false, true] {
            let mut life = Lifecycle::new(LIMITS, counts);
            let ping = Some(Ok(Inbound::Ping(Bytes::new())));
            assert_eq!(life.on_read(ping), Reaction::AnswerPing { touch: counts });
            let pong = Some(Ok(Inbound::Pong(Bytes::new())));
            assert!(matches!(life.on_read(pong), Reaction::Pong { touch, .. } if touch == counts));
        }
    }

    #[test]
    fn the_peers_close_is_answered_then_the_session_is_closed() {
        let mut life = open();
        let close = Some(Ok(Inbound::Close(Some((1000, "bye".into())))));
        let (ending, flush_first) = ended(life.on_read(close));
        assert!(flush_first, "the codec's answer goes out first");
        let report = life.end(&ending);
        assert_eq!((report.code, report.cause), (1000, Cause::RemoteClose));
        assert_eq!(report.close_frame, None, "the codec answered already");
        assert_eq!(life.phase(), Phase::Closed);
    }

    #[test]
    fn a_lost_connection_or_a_broken_rule_ends_the_session() {
        let (ending, _) = ended(open().on_read(None));
        assert!(matches!(ending, Ending::Lost(_)));
        let failed = Some(Err(CodecError::ConnectionLost("reset".into())));
        let (ending, _) = ended(open().on_read(failed));
        assert_eq!(ending, Ending::Lost("reset".into()));
        let utf8 = Some(Err(CodecError::InvalidUtf8));
        let (ending, _) = ended(open().on_read(utf8));
        assert!(matches!(
            ending,
            Ending::Violation(Violation::InvalidUtf8, _)
        ));
    }

    #[test]
    fn while_closing_data_is_ignored_and_the_peers_close_or_the_end_closes() {
        let mut life = open();
        let report = life.end(&Ending::Closed(Closure::Shutdown));
        assert_eq!(report.close_frame.map(|(code, _)| code), Some(1001));
        assert_eq!(life.phase(), Phase::Closing);
        assert_eq!(life.on_read(text(3)), Reaction::Ignore);
        assert_eq!(life.on_read(text(99)), Reaction::Ignore, "no limit either");
        assert_eq!(life.on_command(Command::Flush), Order::Ignore);
        let close = Some(Ok(Inbound::Close(None)));
        assert_eq!(life.on_read(close), Reaction::Closed { flush_first: true });
        assert_eq!(life.phase(), Phase::Closed);
        assert_eq!(life.on_read(text(3)), Reaction::Ignore);

        let mut life = open();
        life.end(&Ending::Closed(Closure::IdleTimeout));
        assert_eq!(life.on_read(None), Reaction::Closed { flush_first: false });
        assert_eq!(life.phase(), Phase::Closed);
    }

    #[test]
    fn a_dropped_connection_is_closed_at_once() {
        let mut life = open();
        let report = life.end(&Ending::Closed(Closure::SlowConsumer));
        assert_eq!(report.close_frame, None);
        assert_eq!(life.phase(), Phase::Closed);
    }

    #[test]
    fn commands_close_flush_and_batch() {
        let mut life = open();
        assert_eq!(life.on_command(Command::Flush), Order::Flush);
        assert_eq!(
            life.on_command(Command::SetBatching(true)),
            Order::Batching(true)
        );
        assert_eq!(
            life.on_command(Command::Close(Closure::Shutdown)),
            Order::End {
                ending: Ending::Closed(Closure::Shutdown),
                write_queued_first: true
            }
        );
        assert_eq!(
            life.on_command(Command::Close(Closure::SendTimeout("late"))),
            Order::End {
                ending: Ending::Closed(Closure::SendTimeout("late")),
                write_queued_first: false
            }
        );
    }

    #[test]
    fn ticks_ping_or_end_with_a_pong_timeout_and_failed_writes_end() {
        let mut life = open();
        let payload = Bytes::from_static(b"1");
        assert_eq!(
            life.on_tick(Tick::Ping(payload.clone())),
            Beat::Ping(payload)
        );
        assert_eq!(
            life.on_tick(Tick::PongLate),
            Beat::End(Ending::Closed(Closure::PongTimeout))
        );
        let timed_out = life.on_write_failure(WriteFailure::TimedOut);
        assert_eq!(timed_out.report().cause, Cause::SendTimeout);
        let slow = life.on_write_failure(WriteFailure::Aborted(Some(Closure::SlowConsumer)));
        assert_eq!(
            slow.report().cause,
            Cause::SlowConsumer,
            "the abort's own cause"
        );
        let lost = life.on_write_failure(WriteFailure::Lost(CodecError::ConnectionLost(
            "broken pipe".into(),
        )));
        assert_eq!(lost.report().cause, Cause::ConnectionLost);
    }
}
