//! Errors: [`HostError`] (a failed host service, mapped from [`Status`] in one place),
//! [`PropertyError`], and [`SessionError`] (what [`Endpoint::on_error`](crate::Endpoint)
//! receives).

use std::fmt;

use crate::abi::{Status, error_kind};

/// A host service failed. Mapped from the ABI [`Status`] by [`HostError::check`] and back by
/// [`HostError::status`] (the only place that knows the correspondence).
///
/// ```
/// use endpoint_api::HostError;
/// use endpoint_api::abi::Status;
///
/// assert_eq!(HostError::check(Status::OK), Ok(()));
/// assert_eq!(HostError::check(Status::TIMEOUT), Err(HostError::Timeout));
/// assert_eq!(HostError::Timeout.status(), Status::TIMEOUT);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// The host lacks this service (it is older than the SDK).
    Unsupported,
    /// The session has ended (or never existed in this context).
    NoSuchSession,
    /// The session is closing or closed: no more sends.
    Closed,
    /// The send was not written in time.
    Timeout,
    /// The session's outgoing queue is full.
    QueueFull,
    /// The host rejected an argument (e.g. a ping over 125 bytes).
    InvalidArgument,
    /// The host failed internally (e.g. the property store is unreachable).
    Internal,
    /// A status this SDK does not know (from a newer host).
    Other(Status),
}

/// The error of a send: a [`HostError`], usually `Closed`, `NoSuchSession`, `Timeout` or
/// `QueueFull`.
pub type SendError = HostError;

impl HostError {
    /// `Ok` for [`Status::OK`], the matching error otherwise.
    pub fn check(status: Status) -> Result<(), HostError> {
        let error = match status {
            Status::OK => return Ok(()),
            Status::UNSUPPORTED => HostError::Unsupported,
            Status::NO_SUCH_SESSION => HostError::NoSuchSession,
            Status::CLOSED => HostError::Closed,
            Status::TIMEOUT => HostError::Timeout,
            Status::QUEUE_FULL => HostError::QueueFull,
            Status::INVALID_ARGUMENT => HostError::InvalidArgument,
            Status::INTERNAL => HostError::Internal,
            other => HostError::Other(other),
        };
        Err(error)
    }

    /// The ABI status for this error.
    pub fn status(&self) -> Status {
        match self {
            HostError::Unsupported => Status::UNSUPPORTED,
            HostError::NoSuchSession => Status::NO_SUCH_SESSION,
            HostError::Closed => Status::CLOSED,
            HostError::Timeout => Status::TIMEOUT,
            HostError::QueueFull => Status::QUEUE_FULL,
            HostError::InvalidArgument => Status::INVALID_ARGUMENT,
            HostError::Internal => Status::INTERNAL,
            HostError::Other(status) => *status,
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Unsupported => f.write_str("the host does not support this service"),
            HostError::NoSuchSession => f.write_str("no such session (it has ended)"),
            HostError::Closed => f.write_str("the session is closed"),
            HostError::Timeout => f.write_str("the send timed out"),
            HostError::QueueFull => f.write_str("the session's outgoing queue is full"),
            HostError::InvalidArgument => f.write_str("the host rejected an argument"),
            HostError::Internal => f.write_str("the host failed internally"),
            HostError::Other(status) => write!(f, "host error {}", status.0),
        }
    }
}

impl std::error::Error for HostError {}

/// A user property could not be read or written.
///
/// ```
/// use endpoint_api::{HostError, PropertyError};
///
/// let err = PropertyError::from(HostError::NoSuchSession);
/// assert!(err.to_string().contains("no such session"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropertyError {
    /// The host service failed.
    Host(HostError),
    /// The value could not be serialized to JSON.
    Encode {
        /// The property key.
        key: String,
        /// What serde said.
        message: String,
    },
    /// The stored JSON does not deserialize into the requested type.
    Decode {
        /// The property key.
        key: String,
        /// What serde said.
        message: String,
    },
}

impl From<HostError> for PropertyError {
    fn from(error: HostError) -> PropertyError {
        PropertyError::Host(error)
    }
}

impl fmt::Display for PropertyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyError::Host(error) => write!(f, "user property: {error}"),
            PropertyError::Encode { key, message } => {
                write!(f, "user property {key:?} cannot be encoded: {message}")
            }
            PropertyError::Decode { key, message } => {
                write!(f, "user property {key:?} cannot be decoded: {message}")
            }
        }
    }
}

impl std::error::Error for PropertyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PropertyError::Host(error) => Some(error),
            _ => None,
        }
    }
}

/// What went wrong on a session, as [`Endpoint::on_error`](crate::Endpoint::on_error) sees it.
///
/// ```
/// use endpoint_api::{ErrorKind, SessionError};
///
/// let err = SessionError { kind: ErrorKind::MessageTooBig, message: "9000 > 8192".into() };
/// assert_eq!(err.to_string(), "message too big: 9000 > 8192");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionError {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// The host's description.
    pub message: String,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for SessionError {}

/// The kind of a [`SessionError`]; mapped to and from the ABI code in one place. Most kinds
/// come from the host; [`ErrorKind::Decode`] comes from the SDK itself and has no ABI code.
///
/// ```
/// use endpoint_api::ErrorKind;
///
/// assert_eq!(ErrorKind::Io.to_raw().map(ErrorKind::from_raw), Some(ErrorKind::Io));
/// assert_eq!(ErrorKind::from_raw(999), ErrorKind::Other(999));
/// assert_eq!(ErrorKind::Decode.to_raw(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The peer broke the protocol.
    Protocol,
    /// An incoming message exceeded the size limit.
    MessageTooBig,
    /// An incoming text message was not valid UTF-8.
    InvalidUtf8,
    /// Reading or writing the connection failed.
    Io,
    /// A send failed or timed out.
    SendFailed,
    /// A callback of this endpoint panicked.
    EndpointPanic,
    /// The host failed internally.
    Internal,
    /// An incoming message did not decode into the type the endpoint asked for
    /// ([`Text::json`](crate::Text::json), [`Text::parsed`](crate::Text::parsed),
    /// [`Binary::json`](crate::Binary::json)). The session stays open; reported by the SDK
    /// right after the callback that tried.
    Decode,
    /// A code this SDK does not know (from a newer host).
    Other(u32),
}

impl ErrorKind {
    /// The ABI code ([`abi::error_kind`](crate::abi::error_kind)); `None` for
    /// [`ErrorKind::Decode`], which never crosses the boundary.
    pub const fn to_raw(self) -> Option<u32> {
        let raw = match self {
            ErrorKind::Protocol => error_kind::PROTOCOL,
            ErrorKind::MessageTooBig => error_kind::MESSAGE_TOO_BIG,
            ErrorKind::InvalidUtf8 => error_kind::INVALID_UTF8,
            ErrorKind::Io => error_kind::IO,
            ErrorKind::SendFailed => error_kind::SEND_FAILED,
            ErrorKind::EndpointPanic => error_kind::ENDPOINT_PANIC,
            ErrorKind::Internal => error_kind::INTERNAL,
            ErrorKind::Decode => return None,
            ErrorKind::Other(raw) => raw,
        };
        Some(raw)
    }

    /// From the ABI code; unknown codes become [`ErrorKind::Other`].
    pub const fn from_raw(raw: u32) -> ErrorKind {
        match raw {
            error_kind::PROTOCOL => ErrorKind::Protocol,
            error_kind::MESSAGE_TOO_BIG => ErrorKind::MessageTooBig,
            error_kind::INVALID_UTF8 => ErrorKind::InvalidUtf8,
            error_kind::IO => ErrorKind::Io,
            error_kind::SEND_FAILED => ErrorKind::SendFailed,
            error_kind::ENDPOINT_PANIC => ErrorKind::EndpointPanic,
            error_kind::INTERNAL => ErrorKind::Internal,
            other => ErrorKind::Other(other),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Protocol => f.write_str("protocol error"),
            ErrorKind::MessageTooBig => f.write_str("message too big"),
            ErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8"),
            ErrorKind::Io => f.write_str("I/O error"),
            ErrorKind::SendFailed => f.write_str("send failed"),
            ErrorKind::EndpointPanic => f.write_str("endpoint panicked"),
            ErrorKind::Internal => f.write_str("internal error"),
            ErrorKind::Decode => f.write_str("message does not decode"),
            ErrorKind::Other(raw) => write!(f, "error kind {raw}"),
        }
    }
}
