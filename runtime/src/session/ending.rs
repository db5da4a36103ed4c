//! What ends a session and how that is reported — decided here and nowhere else.
//!
//! A session ends in one of four ways ([`Ending`]): the peer closed, the connection was
//! lost, the peer broke a rule, or the server closed it for a reason of its own
//! ([`Closure`]: a timeout, the endpoint, a slow consumer, undeploy, redeploy, shutdown).
//! [`Ending::report`] turns each into everything the rest of the session needs: the close
//! frame the server sends (or none: the connection is dropped), the code, reason and typed
//! cause `on_close` receives, the error `on_error` receives first, and whether the last
//! callbacks run on the reserved timeout threads.
//!
//! Faults are classified by whose they are: the client's (protocol error 1002, invalid UTF-8
//! 1007, message too big 1009), the plugin's (1011), the server's policy (idle, undeploy and
//! shutdown 1001, redeploy 1012), or nobody's (a lost connection, a peer that stopped
//! answering pings or reading: reported as 1006, nothing sent). 1005, 1006 and 1015 are only
//! ever reported, never sent; which codes may be sent is the SDK's rule
//! ([`CloseReason::is_sendable`]), and reasons are cut as the SDK cuts them.

use endpoint_api::CloseReason;

use crate::codec::CodecError;

/// Why a session ended: the SDK's own enum, so the runtime and `on_close` cannot disagree.
pub(crate) use endpoint_api::CloseCause as Cause;

/// No status code was present in the peer's close frame.
const NO_STATUS: u16 = 1005;
/// The connection ended abnormally.
const ABNORMAL: u16 = 1006;

/// Why the server ends a session. Other threads ask the connection task for one with
/// `Command::Close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Closure {
    /// No data frame in either direction for the idle timeout.
    IdleTimeout,
    /// No pong within the pong timeout after a keepalive ping.
    PongTimeout,
    /// A send was not written in time (`why` says which).
    SendTimeout(&'static str),
    /// A broadcast found the session's outgoing queue full: the client stopped reading.
    SlowConsumer,
    /// A write from a plugin thread found the connection gone.
    WriteFailed(String),
    /// A callback failed or panicked, or `on_open` refused the session.
    EndpointFailure(&'static str),
    /// The endpoint closed the session with this (valid) code and reason.
    EndpointClose(CloseReason),
    /// The context is being undeployed.
    Undeploy,
    /// The context is being redeployed.
    Redeploy,
    /// The server is shutting down.
    Shutdown,
}

/// The rule a peer broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A frame broke RFC 6455 (or the negotiated extension).
    Protocol,
    /// A text message (or close reason) was not UTF-8.
    InvalidUtf8,
    /// A message exceeded the context's limit for its kind.
    TooBig,
}

/// How a session ended, as the connection task found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The peer sent a close frame (already answered by the codec); `None`: without a code.
    Remote(Option<(u16, String)>),
    /// The connection is gone (reset, end of stream, I/O error).
    Lost(String),
    /// The peer broke a rule: reported to `on_error`, then closed with its code.
    Violation(Violation, String),
    /// The server closes.
    Closed(Closure),
}

/// What kind of error `on_error` receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The peer broke the protocol.
    Protocol,
    /// A text message was not UTF-8.
    InvalidUtf8,
    /// A message exceeded the limit.
    MessageTooBig,
    /// A callback of the endpoint failed or panicked.
    EndpointFailure,
}

/// Everything that follows from an [`Ending`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    /// The close frame the server sends (its reason already cut); `None`: the connection is
    /// dropped (or, for a peer's close, the codec has answered already).
    pub(crate) close_frame: Option<(u16, String)>,
    /// The code `on_close` receives.
    pub(crate) code: u16,
    /// The reason `on_close` receives, cut like a close frame's.
    pub(crate) reason: String,
    /// The cause `on_close` receives.
    pub(crate) cause: Cause,
    /// What `on_error` receives before `on_close`.
    pub(crate) error: Option<(ErrorKind, String)>,
    /// The last callbacks run on the reserved timeout threads: a saturated pool must not
    /// keep an expired session from ending.
    pub(crate) expiry: bool,
}

impl Closure {
    /// The typed cause and the close code sent (`None`: dropped, reported as 1006).
    fn cause_and_code(&self) -> (Cause, Option<u16>) {
        match self {
            Closure::IdleTimeout => (Cause::IdleTimeout, Some(1001)),
            Closure::PongTimeout => (Cause::PongTimeout, None),
            Closure::SendTimeout(_) => (Cause::SendTimeout, None),
            Closure::SlowConsumer => (Cause::SlowConsumer, None),
            Closure::WriteFailed(_) => (Cause::ConnectionLost, None),
            Closure::EndpointFailure(_) => (Cause::EndpointFailure, Some(1011)),
            Closure::EndpointClose(close) => (Cause::EndpointClose, Some(close.code())),
            Closure::Undeploy => (Cause::Undeploy, Some(1001)),
            Closure::Redeploy => (Cause::Redeploy, Some(1012)),
            Closure::Shutdown => (Cause::Shutdown, Some(1001)),
        }
    }

    fn reason(&self) -> &str {
        match self {
            Closure::IdleTimeout => "idle timeout",
            Closure::PongTimeout => "no pong within the pong timeout",
            Closure::SendTimeout(why) | Closure::EndpointFailure(why) => why,
            Closure::SlowConsumer => "outgoing queue full: the client does not read",
            Closure::WriteFailed(why) => why,
            Closure::EndpointClose(close) => close.reason(),
            Closure::Undeploy => "context undeployed",
            Closure::Redeploy => "context redeployed",
            Closure::Shutdown => "server shutting down",
        }
    }

    /// Whether frames queued before the close still go out first: only when a close frame
    /// follows them (a dropped connection writes nothing more).
    pub(crate) fn writes_queued_first(&self) -> bool {
        self.cause_and_code().1.is_some()
    }

    /// Whether a send is stuck behind it: the connection task must be woken out of a write
    /// that does not progress.
    pub(crate) fn aborts_writes(&self) -> bool {
        matches!(self, Closure::SendTimeout(_) | Closure::SlowConsumer)
    }
}

impl Violation {
    fn cause_code_and_kind(self) -> (Cause, u16, ErrorKind) {
        match self {
            Violation::Protocol => (Cause::ProtocolError, 1002, ErrorKind::Protocol),
            Violation::InvalidUtf8 => (Cause::InvalidUtf8, 1007, ErrorKind::InvalidUtf8),
            Violation::TooBig => (Cause::MessageTooBig, 1009, ErrorKind::MessageTooBig),
        }
    }
}

impl From<CodecError> for Ending {
    /// A read that failed: the peer broke a rule, or the connection is gone.
    fn from(error: CodecError) -> Ending {
        let violation = match &error {
            CodecError::ConnectionLost(why) => return Ending::Lost(why.clone()),
            CodecError::TooBig(_) => Violation::TooBig,
            CodecError::Protocol(_) => Violation::Protocol,
            CodecError::InvalidUtf8 => Violation::InvalidUtf8,
        };
        Ending::Violation(violation, error.to_string())
    }
}

impl Ending {
    /// How this ending is carried out and reported.
    pub(crate) fn report(&self) -> Report {
        let report = |close_frame: Option<u16>, code: u16, reason: &str, cause: Cause| {
            let reason = CloseReason::cut(reason).to_owned();
            Report {
                close_frame: close_frame.map(|code| (code, reason.clone())),
                code,
                reason,
                cause,
                error: None,
                expiry: matches!(
                    cause,
                    Cause::IdleTimeout
                        | Cause::PongTimeout
                        | Cause::SendTimeout
                        | Cause::SlowConsumer
                ),
            }
        };
        match self {
            Ending::Remote(Some((code, reason))) => report(None, *code, reason, Cause::RemoteClose),
            Ending::Remote(None) => report(None, NO_STATUS, "", Cause::RemoteClose),
            Ending::Lost(_) => report(None, ABNORMAL, "", Cause::ConnectionLost),
            Ending::Violation(violation, message) => {
                let (cause, code, kind) = violation.cause_code_and_kind();
                Report {
                    error: Some((kind, message.clone())),
                    ..report(Some(code), code, message, cause)
                }
            }
            Ending::Closed(closure) => {
                let (cause, sent) = closure.cause_and_code();
                report(sent, sent.unwrap_or(ABNORMAL), closure.reason(), cause)
            }
        }
    }

    /// Whether the callbacks of messages that arrived before the ending get to answer before
    /// the close frame goes out (a peer's violation: Autobahn 3.*, 4.*, 5.15).
    pub(crate) fn settles_first(&self) -> bool {
        matches!(self, Ending::Violation(..))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way a session ends: sent close code (`None`: dropped), reported code, cause,
    /// `on_error` kind, and whether its last callbacks take the timeout lane.
    #[test]
    fn every_ending_with_its_codes_cause_and_error() {
        let endpoint_close = CloseReason::new(4001, "bye").expect("valid");
        type Row = (Ending, Option<u16>, u16, Cause, Option<ErrorKind>, bool);
        let table: Vec<Row> = vec![
            (
                Ending::Remote(Some((1000, "ok".into()))),
                None,
                1000,
                Cause::RemoteClose,
                None,
                false,
            ),
            (
                Ending::Remote(None),
                None,
                1005,
                Cause::RemoteClose,
                None,
                false,
            ),
            (
                Ending::Lost("reset".into()),
                None,
                1006,
                Cause::ConnectionLost,
                None,
                false,
            ),
            (
                Ending::Violation(Violation::Protocol, "bad".into()),
                Some(1002),
                1002,
                Cause::ProtocolError,
                Some(ErrorKind::Protocol),
                false,
            ),
            (
                Ending::Violation(Violation::InvalidUtf8, "bad".into()),
                Some(1007),
                1007,
                Cause::InvalidUtf8,
                Some(ErrorKind::InvalidUtf8),
                false,
            ),
            (
                Ending::Violation(Violation::TooBig, "big".into()),
                Some(1009),
                1009,
                Cause::MessageTooBig,
                Some(ErrorKind::MessageTooBig),
                false,
            ),
            (
                Ending::Closed(Closure::IdleTimeout),
                Some(1001),
                1001,
                Cause::IdleTimeout,
                None,
                true,
            ),
            (
                Ending::Closed(Closure::PongTimeout),
                None,
                1006,
                Cause::PongTimeout,
                None,
                true,
            ),
            (
                Ending::Closed(Closure::SendTimeout("slow")),
                None,
                1006,
                Cause::SendTimeout,
                None,
                true,
            ),
            (
                Ending::Closed(Closure::SlowConsumer),
                None,
                1006,
                Cause::SlowConsumer,
                None,
                true,
            ),
            (
                Ending::Closed(Closure::WriteFailed("broken pipe".into())),
                None,
                1006,
                Cause::ConnectionLost,
                None,
                false,
            ),
            (
                Ending::Closed(Closure::EndpointFailure("endpoint failure")),
                Some(1011),
                1011,
                Cause::EndpointFailure,
                None,
                false,
            ),
            (
                Ending::Closed(Closure::EndpointClose(endpoint_close)),
                Some(4001),
                4001,
                Cause::EndpointClose,
                None,
                false,
            ),
            (
                Ending::Closed(Closure::Undeploy),
                Some(1001),
                1001,
                Cause::Undeploy,
                None,
                false,
            ),
            (
                Ending::Closed(Closure::Redeploy),
                Some(1012),
                1012,
                Cause::Redeploy,
                None,
                false,
            ),
            (
                Ending::Closed(Closure::Shutdown),
                Some(1001),
                1001,
                Cause::Shutdown,
                None,
                false,
            ),
        ];
        for (ending, sent, code, cause, error, expiry) in table {
            let report = ending.report();
            let sent_code = report.close_frame.as_ref().map(|(code, _)| *code);
            assert_eq!(sent_code, sent, "{ending:?}");
            assert_eq!(report.code, code, "{ending:?}");
            assert_eq!(report.cause, cause, "{ending:?}");
            assert_eq!(report.error.map(|(kind, _)| kind), error, "{ending:?}");
            assert_eq!(report.expiry, expiry, "{ending:?}");
            if let Some((sent, _)) = report.close_frame {
                assert!(CloseReason::is_sendable(sent), "{ending:?} sends {sent}");
            }
        }
    }

    #[test]
    fn every_known_cause_has_an_ending() {
        let causes: Vec<Cause> = [
            Ending::Remote(None),
            Ending::Lost(String::new()),
            Ending::Violation(Violation::Protocol, String::new()),
            Ending::Violation(Violation::InvalidUtf8, String::new()),
            Ending::Violation(Violation::TooBig, String::new()),
            Ending::Closed(Closure::IdleTimeout),
            Ending::Closed(Closure::PongTimeout),
            Ending::Closed(Closure::SendTimeout("")),
            Ending::Closed(Closure::SlowConsumer),
            Ending::Closed(Closure::EndpointFailure("")),
            Ending::Closed(Closure::EndpointClose(CloseReason::normal())),
            Ending::Closed(Closure::Undeploy),
            Ending::Closed(Closure::Redeploy),
            Ending::Closed(Closure::Shutdown),
        ]
        .iter()
        .map(|ending| ending.report().cause)
        .collect();
        for known in Cause::KNOWN {
            assert!(causes.contains(&known), "{known:?} has no ending");
        }
    }

    #[test]
    fn reasons_are_cut_like_a_close_frame_and_sent_with_the_code() {
        let long = "é".repeat(100);
        let close = CloseReason::new(1008, long.clone()).expect("valid");
        let report = Ending::Closed(Closure::EndpointClose(close)).report();
        assert_eq!(report.reason.len(), 122);
        assert_eq!(report.close_frame, Some((1008, report.reason.clone())));
        let report = Ending::Violation(Violation::TooBig, long).report();
        assert_eq!(report.reason.len(), 122);
        assert_eq!(report.error.map(|(_, message)| message.len()), Some(200));
    }

    #[test]
    fn only_closes_with_a_frame_write_what_was_queued_first() {
        assert!(Closure::Shutdown.writes_queued_first());
        assert!(Closure::IdleTimeout.writes_queued_first());
        assert!(!Closure::SendTimeout("").writes_queued_first());
        assert!(!Closure::SlowConsumer.writes_queued_first());
        assert!(Closure::SlowConsumer.aborts_writes());
        assert!(!Closure::Shutdown.aborts_writes());
        assert!(Ending::Violation(Violation::Protocol, String::new()).settles_first());
        assert!(!Ending::Lost(String::new()).settles_first());
    }
}
