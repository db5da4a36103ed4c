//! Closing: [`CloseReason`] (what an endpoint sends), [`CloseInfo`] and [`CloseCause`] (what
//! [`Endpoint::on_close`](crate::Endpoint::on_close) receives).

use std::fmt;

use crate::abi::close_cause;

/// The longest close reason that fits in a close frame (125 bytes minus the 2-byte code).
pub const MAX_REASON_BYTES: usize = 123;

/// A close code and reason an endpoint may send.
///
/// The code is checked (1000–1003, 1007–1014 or 3000–4999: never 1005, 1006 or 1015, which
/// only describe closes) and the reason is cut to [`MAX_REASON_BYTES`] on a character
/// boundary.
///
/// ```
/// use endpoint_api::CloseReason;
///
/// let reason = CloseReason::policy_violation().with_reason("no token");
/// assert_eq!((reason.code(), reason.reason()), (1008, "no token"));
/// assert!(CloseReason::new(1006, "").is_err());
/// assert_eq!(CloseReason::normal().with_reason("é".repeat(100)).reason().len(), 122);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseReason {
    code: u16,
    reason: String,
}

impl CloseReason {
    /// A close with any sendable code.
    pub fn new(code: u16, reason: impl Into<String>) -> Result<CloseReason, CloseCodeError> {
        if !CloseReason::is_sendable(code) {
            return Err(CloseCodeError(code));
        }
        Ok(CloseReason::standard(code).with_reason(reason))
    }

    const fn standard(code: u16) -> CloseReason {
        CloseReason {
            code,
            reason: String::new(),
        }
    }

    /// 1000: normal closure.
    pub const fn normal() -> CloseReason {
        CloseReason::standard(1000)
    }

    /// 1001: going away (the endpoint is shutting down).
    pub const fn going_away() -> CloseReason {
        CloseReason::standard(1001)
    }

    /// 1002: the peer broke the protocol.
    pub const fn protocol_error() -> CloseReason {
        CloseReason::standard(1002)
    }

    /// 1003: a kind of data the endpoint does not accept.
    pub const fn unsupported_data() -> CloseReason {
        CloseReason::standard(1003)
    }

    /// 1007: a message's content is invalid (e.g. malformed JSON).
    pub const fn invalid_payload() -> CloseReason {
        CloseReason::standard(1007)
    }

    /// 1008: the peer violated the endpoint's policy (e.g. not authorised).
    pub const fn policy_violation() -> CloseReason {
        CloseReason::standard(1008)
    }

    /// 1009: a message is too big to process.
    pub const fn message_too_big() -> CloseReason {
        CloseReason::standard(1009)
    }

    /// 1011: the endpoint failed.
    pub const fn internal_error() -> CloseReason {
        CloseReason::standard(1011)
    }

    /// 1012: the service is restarting.
    pub const fn service_restart() -> CloseReason {
        CloseReason::standard(1012)
    }

    /// 1013: try again later (temporary overload).
    pub const fn try_again_later() -> CloseReason {
        CloseReason::standard(1013)
    }

    /// The same code with this reason, cut to [`MAX_REASON_BYTES`] on a char boundary.
    pub fn with_reason(mut self, reason: impl Into<String>) -> CloseReason {
        let mut reason = reason.into();
        reason.truncate(truncated_len(&reason, MAX_REASON_BYTES));
        self.reason = reason;
        self
    }

    /// Whether `code` may be sent in a close frame (RFC 6455 §7.4 and the IANA registry):
    /// 1000–1003, 1007–1014 and 3000–4999. 1005, 1006 and 1015 only describe closes; the
    /// rest is reserved. A peer's close frame with any other code is a protocol error.
    ///
    /// ```
    /// use endpoint_api::CloseReason;
    ///
    /// assert!(CloseReason::is_sendable(1012) && CloseReason::is_sendable(4000));
    /// assert!(!CloseReason::is_sendable(1006) && !CloseReason::is_sendable(1015));
    /// ```
    pub fn is_sendable(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// `reason` cut to [`MAX_REASON_BYTES`] on a character boundary, as a close frame holds it.
    ///
    /// ```
    /// use endpoint_api::CloseReason;
    ///
    /// assert_eq!(CloseReason::cut("bye"), "bye");
    /// assert_eq!(CloseReason::cut(&"é".repeat(100)).len(), 122);
    /// ```
    pub fn cut(reason: &str) -> &str {
        &reason[..truncated_len(reason, MAX_REASON_BYTES)]
    }

    /// The close code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The reason (at most [`MAX_REASON_BYTES`] bytes).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
pub(crate) fn truncated_len(text: &str, max: usize) -> usize {
    if text.len() <= max {
        return text.len();
    }
    (0..=max)
        .rev()
        .find(|&at| text.is_char_boundary(at))
        .unwrap_or(0)
}

/// A close code that may not be sent: 1005, 1006 and 1015 only describe closes, and codes
/// outside 1000–1003, 1007–1014, 3000–4999 are reserved or invalid.
///
/// ```
/// use endpoint_api::CloseReason;
///
/// let err = CloseReason::new(1015, "").unwrap_err();
/// assert_eq!(err.code(), 1015);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseCodeError(u16);

impl CloseCodeError {
    /// The rejected code.
    pub fn code(self) -> u16 {
        self.0
    }
}

impl fmt::Display for CloseCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "close code {} may not be sent", self.0)
    }
}

impl std::error::Error for CloseCodeError {}

/// How a session ended, as [`Endpoint::on_close`](crate::Endpoint::on_close) receives it.
///
/// `code` may be one that is never sent (1006 for an abnormal end, 1005 for a close frame
/// without a code).
///
/// ```
/// use endpoint_api::{CloseCause, CloseInfo};
///
/// let info = CloseInfo { code: 1001, reason: String::new(), cause: CloseCause::IdleTimeout };
/// assert!(!info.is_clean());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseInfo {
    /// The close code.
    pub code: u16,
    /// The close reason (possibly empty).
    pub reason: String,
    /// Why the session ended.
    pub cause: CloseCause,
}

impl CloseInfo {
    /// Whether the peer or the endpoint ended the session on purpose.
    pub fn is_clean(&self) -> bool {
        matches!(
            self.cause,
            CloseCause::RemoteClose | CloseCause::EndpointClose
        )
    }
}

/// Why a session ended. Mapped to and from the ABI code ([`abi::close_cause`]) in one place,
/// [`CloseCause::to_raw`] / [`CloseCause::from_raw`]; unknown codes become
/// [`CloseCause::Unknown`].
///
/// [`abi::close_cause`]: crate::abi::close_cause
///
/// ```
/// use endpoint_api::CloseCause;
///
/// assert_eq!(CloseCause::from_raw(CloseCause::PongTimeout.to_raw()), CloseCause::PongTimeout);
/// assert_eq!(CloseCause::from_raw(4242), CloseCause::Unknown(4242));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseCause {
    /// The peer sent a close frame.
    RemoteClose,
    /// The connection ended without a close frame (reported as 1006).
    ConnectionLost,
    /// The session was idle too long (1001).
    IdleTimeout,
    /// The peer stopped answering keepalive pings (reported as 1006).
    PongTimeout,
    /// A message exceeded the size limit (1009).
    MessageTooBig,
    /// The peer broke the protocol (1002).
    ProtocolError,
    /// A text message was not valid UTF-8 (1007).
    InvalidUtf8,
    /// A send timed out and the connection was dropped (reported as 1006).
    SendTimeout,
    /// A callback of the endpoint panicked or failed (1011).
    EndpointFailure,
    /// The endpoint closed the session (`Session::close`, or `on_open` refused it).
    EndpointClose,
    /// The context was undeployed (1001).
    Undeploy,
    /// The context was redeployed (1012).
    Redeploy,
    /// The server is shutting down (1001).
    Shutdown,
    /// The client stopped reading: its outgoing queue was full when a broadcast came, and
    /// the connection was dropped (reported as 1006). A host before ABI 1.1 reports
    /// [`CloseCause::SendTimeout`] instead.
    SlowConsumer,
    /// A cause this SDK does not know (from a newer host), with its raw code.
    Unknown(u32),
}

/// The one table between causes and ABI codes.
const CAUSES: [(CloseCause, u32); 14] = [
    (CloseCause::RemoteClose, close_cause::REMOTE_CLOSE),
    (CloseCause::ConnectionLost, close_cause::CONNECTION_LOST),
    (CloseCause::IdleTimeout, close_cause::IDLE_TIMEOUT),
    (CloseCause::PongTimeout, close_cause::PONG_TIMEOUT),
    (CloseCause::MessageTooBig, close_cause::MESSAGE_TOO_BIG),
    (CloseCause::ProtocolError, close_cause::PROTOCOL_ERROR),
    (CloseCause::InvalidUtf8, close_cause::INVALID_UTF8),
    (CloseCause::SendTimeout, close_cause::SEND_TIMEOUT),
    (CloseCause::EndpointFailure, close_cause::ENDPOINT_FAILURE),
    (CloseCause::EndpointClose, close_cause::ENDPOINT_CLOSE),
    (CloseCause::Undeploy, close_cause::UNDEPLOY),
    (CloseCause::Redeploy, close_cause::REDEPLOY),
    (CloseCause::Shutdown, close_cause::SHUTDOWN),
    (CloseCause::SlowConsumer, close_cause::SLOW_CONSUMER),
];

impl CloseCause {
    /// Every known cause, in ABI code order.
    pub const KNOWN: [CloseCause; 14] = {
        let mut all = [CloseCause::RemoteClose; 14];
        let mut i = 0;
        while i < CAUSES.len() {
            all[i] = CAUSES[i].0;
            i += 1;
        }
        all
    };

    /// The ABI code.
    pub fn to_raw(self) -> u32 {
        match self {
            CloseCause::Unknown(raw) => raw,
            known => CAUSES
                .iter()
                .find(|(cause, _)| *cause == known)
                .map_or(0, |(_, raw)| *raw),
        }
    }

    /// From the ABI code; unknown codes become [`CloseCause::Unknown`].
    pub fn from_raw(raw: u32) -> CloseCause {
        CAUSES
            .iter()
            .find(|(_, code)| *code == raw)
            .map_or(CloseCause::Unknown(raw), |(cause, _)| *cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_round_trip() {
        for cause in CloseCause::KNOWN {
            assert_eq!(CloseCause::from_raw(cause.to_raw()), cause);
            assert!(!matches!(
                CloseCause::from_raw(cause.to_raw()),
                CloseCause::Unknown(_)
            ));
        }
        for raw in [0, 15, 1000, u32::MAX] {
            assert_eq!(CloseCause::from_raw(raw), CloseCause::Unknown(raw));
            assert_eq!(CloseCause::from_raw(raw).to_raw(), raw);
        }
        let mut codes: Vec<u32> = CloseCause::KNOWN.iter().map(|c| c.to_raw()).collect();
        codes.dedup();
        assert_eq!(codes.len(), 14, "codes are distinct");
    }

    #[test]
    fn reason_is_cut_on_a_char_boundary() {
        let ascii = "a".repeat(200);
        assert_eq!(CloseReason::normal().with_reason(ascii).reason().len(), 123);
        // 'é' is two bytes: 61 of them fit (122 bytes), the 62nd would straddle 123.
        let accents = "é".repeat(100);
        assert_eq!(
            CloseReason::normal().with_reason(accents).reason().len(),
            122
        );
        // '€' is three bytes: 41 fit exactly.
        let euros = "€".repeat(50);
        assert_eq!(CloseReason::normal().with_reason(euros).reason().len(), 123);
        let short = CloseReason::normal().with_reason("bye");
        assert_eq!(short.reason(), "bye");
        assert_eq!(truncated_len("😀😀", 5), 4);
    }

    #[test]
    fn unsendable_codes_are_refused() {
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert_eq!(
                CloseReason::new(code, "x"),
                Err(CloseCodeError(code)),
                "{code}"
            );
        }
        for code in [1000, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert_eq!(CloseReason::new(code, "x").map(|r| r.code()), Ok(code));
        }
    }
}
