//! Why a session ended, and the close code that goes with it — decided in this one place.
//!
//! Faults are classified by whose they are: the client's (protocol error 1002, invalid UTF-8
//! 1007, message too big 1009), the plugin's (1011), the server's policy (idle 1001, undeploy
//! 1001, shutdown 1001, redeploy 1012), or nobody's (connection lost, reported as 1006).
//! 1005, 1006 and 1015 are only ever reported, never sent.

use crate::codec::CodecError;

/// Why a session ended: the SDK's own enum, so the runtime and `on_close` cannot disagree.
pub(crate) use endpoint_api::CloseCause as Cause;

/// No status code was present in the peer's close frame.
pub(crate) const NO_STATUS: u16 = 1005;
/// The connection ended abnormally.
pub(crate) const ABNORMAL: u16 = 1006;

/// The code the server sends for `cause`; `None` means the connection is dropped without a
/// close frame (reported as 1006), or the code comes from the peer or the endpoint.
pub(crate) fn server_code(cause: Cause) -> Option<u16> {
    match cause {
        Cause::IdleTimeout | Cause::Undeploy | Cause::Shutdown => Some(1001),
        Cause::ProtocolError => Some(1002),
        Cause::InvalidUtf8 => Some(1007),
        Cause::MessageTooBig => Some(1009),
        Cause::EndpointFailure => Some(1011),
        Cause::Redeploy => Some(1012),
        Cause::RemoteClose | Cause::EndpointClose | Cause::Unknown(_) => None,
        Cause::ConnectionLost | Cause::PongTimeout | Cause::SendTimeout => None,
    }
}

/// The cause of a read failure.
pub(crate) fn cause_of(error: &CodecError) -> Cause {
    match error {
        CodecError::TooBig(_) => Cause::MessageTooBig,
        CodecError::Protocol(_) => Cause::ProtocolError,
        CodecError::InvalidUtf8 => Cause::InvalidUtf8,
        CodecError::ConnectionLost(_) => Cause::ConnectionLost,
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
        assert_eq!(server_code(Cause::MessageTooBig), Some(1009));
        assert_eq!(server_code(Cause::EndpointFailure), Some(1011));
        assert_eq!(server_code(Cause::Redeploy), Some(1012));
        assert_eq!(server_code(Cause::SendTimeout), None);
        assert_eq!(server_code(Cause::PongTimeout), None);
    }
}
