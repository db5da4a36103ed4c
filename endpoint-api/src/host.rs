//! The [`Host`] trait: the container's services as the SDK sees them.
//!
//! In a deployed plugin the host is the `berth` runtime, reached through the C ABI; in unit
//! tests it is [`MockHost`](crate::mock::MockHost). Endpoint code never calls `Host` directly:
//! it uses [`Session`](crate::Session) and [`PluginContext`](crate::PluginContext), which
//! delegate here.

use std::time::Duration;

use crate::abi::{log_level, message_kind};
use crate::close::CloseReason;
use crate::error::{HostError, SendError};
use crate::id::{EndpointId, SendToken, SessionId};

/// The services a host offers one deployed context. Implemented by the ABI adapter and by
/// [`MockHost`](crate::mock::MockHost); implement it yourself for a custom test double.
///
/// Every method may be called from any callback thread, concurrently.
pub trait Host: Send + Sync {
    /// Sends one message to a session, blocking or asynchronously.
    fn send(
        &self,
        session: SessionId,
        kind: MessageKind,
        data: &[u8],
        mode: SendMode,
    ) -> Result<(), SendError>;

    /// Queues one message to many sessions of this context (encoded once; stale or closed
    /// ids are skipped; no completions).
    fn send_many(
        &self,
        sessions: &[SessionId],
        kind: MessageKind,
        data: &[u8],
    ) -> Result<(), SendError>;

    /// Starts closing a session.
    fn close(&self, session: SessionId, reason: &CloseReason) -> Result<(), HostError>;

    /// A user property's JSON text, or `None` when absent.
    fn property_get(&self, session: SessionId, key: &str) -> Result<Option<String>, HostError>;

    /// Stores a user property as JSON text.
    fn property_set(&self, session: SessionId, key: &str, json: &str) -> Result<(), HostError>;

    /// Removes a user property; whether it was present.
    fn property_remove(&self, session: SessionId, key: &str) -> Result<bool, HostError>;

    /// The keys of the session's user properties.
    fn property_keys(&self, session: SessionId) -> Result<Vec<String>, HostError>;

    /// Overrides the session's idle timeout; `None` means never.
    fn set_idle_timeout(
        &self,
        session: SessionId,
        timeout: Option<Duration>,
    ) -> Result<(), HostError>;

    /// Turns batching of outgoing frames on or off.
    fn set_batching(&self, session: SessionId, enabled: bool) -> Result<(), HostError>;

    /// Writes out batched frames now.
    fn flush(&self, session: SessionId) -> Result<(), HostError>;

    /// The open sessions of one endpoint of this context.
    fn endpoint_sessions(&self, endpoint: EndpointId) -> Result<Vec<SessionId>, HostError>;

    /// Logs a message (with the context, and the session when given).
    fn log(&self, session: Option<SessionId>, level: LogLevel, message: &str);
}

/// What a message is.
///
/// ```
/// use endpoint_api::MessageKind;
///
/// assert_eq!(MessageKind::from_raw(MessageKind::Ping.to_raw()), Some(MessageKind::Ping));
/// assert_eq!(MessageKind::from_raw(0), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Text (UTF-8).
    Text,
    /// Binary.
    Binary,
    /// Ping (at most 125 bytes).
    Ping,
    /// Pong (at most 125 bytes).
    Pong,
}

impl MessageKind {
    /// The ABI code ([`abi::message_kind`](crate::abi::message_kind)).
    pub const fn to_raw(self) -> u32 {
        match self {
            MessageKind::Text => message_kind::TEXT,
            MessageKind::Binary => message_kind::BINARY,
            MessageKind::Ping => message_kind::PING,
            MessageKind::Pong => message_kind::PONG,
        }
    }

    /// From the ABI code; `None` for an unknown one.
    pub const fn from_raw(raw: u32) -> Option<MessageKind> {
        match raw {
            message_kind::TEXT => Some(MessageKind::Text),
            message_kind::BINARY => Some(MessageKind::Binary),
            message_kind::PING => Some(MessageKind::Ping),
            message_kind::PONG => Some(MessageKind::Pong),
            _ => None,
        }
    }
}

/// How a send waits.
///
/// ```
/// use endpoint_api::{SendMode, SendToken};
///
/// assert_ne!(SendMode::Blocking, SendMode::Async(SendToken::from_raw(1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendMode {
    /// Return when written, or fail after the blocking send timeout.
    Blocking,
    /// Return at once; completion comes later with this token.
    Async(SendToken),
}

/// A log level.
///
/// ```
/// use endpoint_api::LogLevel;
///
/// assert_eq!(LogLevel::from_raw(LogLevel::Warn.to_raw()), LogLevel::Warn);
/// assert_eq!(LogLevel::from_raw(99), LogLevel::Info);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// An error.
    Error,
    /// A warning.
    Warn,
    /// Information.
    Info,
    /// Debugging detail.
    Debug,
    /// Tracing detail.
    Trace,
}

impl LogLevel {
    /// The ABI code ([`abi::log_level`](crate::abi::log_level)).
    pub const fn to_raw(self) -> u32 {
        match self {
            LogLevel::Error => log_level::ERROR,
            LogLevel::Warn => log_level::WARN,
            LogLevel::Info => log_level::INFO,
            LogLevel::Debug => log_level::DEBUG,
            LogLevel::Trace => log_level::TRACE,
        }
    }

    /// From the ABI code; an unknown code reads as [`LogLevel::Info`].
    pub const fn from_raw(raw: u32) -> LogLevel {
        match raw {
            log_level::ERROR => LogLevel::Error,
            log_level::WARN => LogLevel::Warn,
            log_level::DEBUG => LogLevel::Debug,
            log_level::TRACE => LogLevel::Trace,
            _ => LogLevel::Info,
        }
    }
}
