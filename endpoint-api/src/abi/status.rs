//! [`Status`]: the result code of every call across the boundary.

use std::fmt;

/// The result of a call across the plugin boundary, in either direction.
///
/// A transparent `i32` rather than a Rust `enum`, so that a value this side does not know (sent
/// by a newer peer) is still a valid `Status` instead of undefined behaviour. Known values are
/// the associated constants; they never change meaning, and new ones are only ever added.
///
/// ```
/// use endpoint_api::abi::Status;
///
/// assert!(Status::OK.is_ok());
/// assert_eq!(Status::NO_SUCH_SESSION.name(), "no such session");
/// assert_eq!(Status(99).name(), "unknown status");
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub i32);

impl Status {
    /// Success.
    pub const OK: Status = Status(0);
    /// The callee lacks this service or callback (an older peer): nothing was done.
    pub const UNSUPPORTED: Status = Status(1);
    /// The session id is unknown: it never existed, belongs to another context, or is stale
    /// (the session has ended; ids are generation-tagged and never reused).
    pub const NO_SUCH_SESSION: Status = Status(2);
    /// The session is closing or closed: it accepts no more sends.
    pub const CLOSED: Status = Status(3);
    /// A blocking send was not written within the context's blocking send timeout, or an
    /// asynchronous send stayed unsent past the async send timeout.
    pub const TIMEOUT: Status = Status(4);
    /// The session's bounded outgoing queue is full (also "would block").
    pub const QUEUE_FULL: Status = Status(5);
    /// An argument was rejected: an unknown kind or mode, text that is not UTF-8, a close code
    /// that may not be sent (1005, 1006, 1015 or out of range), an endpoint index out of range.
    pub const INVALID_ARGUMENT: Status = Status(6);
    /// The callee panicked; the panic was caught and logged through the host's `log` service.
    pub const PANICKED: Status = Status(7);
    /// The requested item (a user property key) does not exist.
    pub const NOT_FOUND: Status = Status(8);
    /// `on_open` refused the session; the plugin has already asked the host to close it.
    pub const REJECTED: Status = Status(9);
    /// The callee failed for a reason of its own (e.g. the property store is unreachable).
    pub const INTERNAL: Status = Status(10);

    /// Every known status with its name, in numeric order (used by the layout fingerprint).
    pub const ALL: [(Status, &'static str); 11] = [
        (Status::OK, "ok"),
        (Status::UNSUPPORTED, "unsupported"),
        (Status::NO_SUCH_SESSION, "no such session"),
        (Status::CLOSED, "closed"),
        (Status::TIMEOUT, "timeout"),
        (Status::QUEUE_FULL, "queue full"),
        (Status::INVALID_ARGUMENT, "invalid argument"),
        (Status::PANICKED, "panicked"),
        (Status::NOT_FOUND, "not found"),
        (Status::REJECTED, "rejected"),
        (Status::INTERNAL, "internal error"),
    ];

    /// Whether this is [`Status::OK`].
    pub const fn is_ok(self) -> bool {
        self.0 == Status::OK.0
    }

    /// A short human-readable name; `"unknown status"` for values this side does not know.
    pub fn name(self) -> &'static str {
        Status::ALL
            .iter()
            .find(|(status, _)| *status == self)
            .map_or("unknown status", |(_, name)| name)
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Status({}: {})", self.0, self.name())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
