//! Why a session ended, and the close code that goes with it — decided in this one place.
//!
//! Faults are classified by whose they are: the client's (protocol error 1002, invalid UTF-8
//! 1007, message too big 1009), the plugin's (1011), the server's policy (idle 1001, undeploy
//! 1001, shutdown 1001, redeploy 1012), or nobody's (connection lost, reported as 1006).
//! 1005, 1006 and 1015 are only ever reported, never sent.

use endpoint_api::abi::close_cause;

use crate::codec::CodecError;

/// Why a session ended (mirrors the SDK's `CloseCause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code, reason = "Undeploy and Redeploy come with hot redeploy")]
pub(crate) enum Cause {
    /// The peer sent a close frame.
    RemoteClose,
    /// The connection ended without a close frame.
    ConnectionLost,
    /// No data frame for the idle timeout.
    IdleTimeout,
    /// A ping was not answered in time.
    PongTimeout,
    /// A message exceeded its limit.
    MessageTooBig,
    /// The peer broke the protocol.
    ProtocolError,
    /// A text message was not UTF-8.
    InvalidUtf8,
    /// A send could not be written in time.
    SendTimeout,
    /// The endpoint failed (panicked or refused).
    EndpointFailure,
    /// The endpoint closed the session.
    EndpointClose,
    /// The context was undeployed.
    Undeploy,
    /// The context was redeployed.
    Redeploy,
    /// The server is shutting down.
    Shutdown,
}

/// No status code was present in the peer's close frame.
pub(crate) const NO_STATUS: u16 = 1005;
/// The connection ended abnormally.
pub(crate) const ABNORMAL: u16 = 1006;

impl Cause {
    /// The ABI code handed to `on_close`.
    pub(crate) fn abi(self) -> u32 {
        match self {
            Cause::RemoteClose => close_cause::REMOTE_CLOSE,
            Cause::ConnectionLost => close_cause::CONNECTION_LOST,
            Cause::IdleTimeout => close_cause::IDLE_TIMEOUT,
            Cause::PongTimeout => close_cause::PONG_TIMEOUT,
            Cause::MessageTooBig => close_cause::MESSAGE_TOO_BIG,
            Cause::ProtocolError => close_cause::PROTOCOL_ERROR,
            Cause::InvalidUtf8 => close_cause::INVALID_UTF8,
            Cause::SendTimeout => close_cause::SEND_TIMEOUT,
            Cause::EndpointFailure => close_cause::ENDPOINT_FAILURE,
            Cause::EndpointClose => close_cause::ENDPOINT_CLOSE,
            Cause::Undeploy => close_cause::UNDEPLOY,
            Cause::Redeploy => close_cause::REDEPLOY,
            Cause::Shutdown => close_cause::SHUTDOWN,
        }
    }

    /// The code the server sends for this cause; `None` means the connection is dropped
    /// without a close frame (reported as 1006).
    pub(crate) fn server_code(self) -> Option<u16> {
        match self {
            Cause::IdleTimeout | Cause::Undeploy | Cause::Shutdown => Some(1001),
            Cause::ProtocolError => Some(1002),
            Cause::InvalidUtf8 => Some(1007),
            Cause::MessageTooBig => Some(1009),
            Cause::EndpointFailure => Some(1011),
            Cause::Redeploy => Some(1012),
            Cause::RemoteClose | Cause::EndpointClose => None,
            Cause::ConnectionLost | Cause::PongTimeout | Cause::SendTimeout => None,
        }
    }

    /// The cause of a read failure.
    pub(crate) fn of(error: &CodecError) -> Cause {
        match error {
            CodecError::TooBig(_) => Cause::MessageTooBig,
            CodecError::Protocol(_) => Cause::ProtocolError,
            CodecError::InvalidUtf8 => Cause::InvalidUtf8,
            CodecError::ConnectionLost(_) => Cause::ConnectionLost,
        }
    }

    /// Lower-case words for logs.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Cause::RemoteClose => "remote close",
            Cause::ConnectionLost => "connection lost",
            Cause::IdleTimeout => "idle timeout",
            Cause::PongTimeout => "pong timeout",
            Cause::MessageTooBig => "message too big",
            Cause::ProtocolError => "protocol error",
            Cause::InvalidUtf8 => "invalid UTF-8",
            Cause::SendTimeout => "send timeout",
            Cause::EndpointFailure => "endpoint failure",
            Cause::EndpointClose => "endpoint close",
            Cause::Undeploy => "undeploy",
            Cause::Redeploy => "redeploy",
            Cause::Shutdown => "shutdown",
        }
    }
}

/// Whether an application may send `code` in a close frame (RFC 6455 §7.4).
pub(crate) fn is_sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Cuts a close reason to 123 bytes on a character boundary (the frame's limit).
pub(crate) fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= 123 {
        return reason;
    }
    let mut end = 123;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_codes_are_never_sendable() {
        for code in [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert!(!is_sendable(code), "{code}");
        }
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
        ] {
            assert!(is_sendable(code), "{code}");
        }
    }

    #[test]
    fn reasons_are_cut_on_a_character_boundary() {
        let long = "é".repeat(100);
        let cut = truncate_reason(&long);
        assert_eq!(cut.len(), 122);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(truncate_reason("short"), "short");
    }

    #[test]
    fn policy_causes_send_their_codes_and_losses_send_nothing() {
        assert_eq!(Cause::MessageTooBig.server_code(), Some(1009));
        assert_eq!(Cause::EndpointFailure.server_code(), Some(1011));
        assert_eq!(Cause::Redeploy.server_code(), Some(1012));
        assert_eq!(Cause::SendTimeout.server_code(), None);
        assert_eq!(Cause::PongTimeout.server_code(), None);
    }
}
