//! The numeric codes that cross the boundary as plain integers.
//!
//! Each group is a module of constants; the safe SDK maps them to enums in exactly one place
//! each ([`MessageKind`](crate::MessageKind), [`LogLevel`](crate::LogLevel),
//! [`CloseCause`](crate::CloseCause), [`ErrorKind`](crate::ErrorKind)), and unknown values
//! map to a catch-all there. Values never change meaning; new ones are only added (and then
//! appear in the layout fingerprint, which forces a version bump).

/// Declares constant groups and the list the layout fingerprint prints.
macro_rules! abi_codes {
    ($(
        $(#[$group_doc:meta])*
        $group:ident: $ty:ty {
            $( $(#[$doc:meta])* $name:ident = $value:expr, )*
        }
    )*) => {
        $(
            $(#[$group_doc])*
            pub mod $group {
                $( $(#[$doc])* pub const $name: $ty = $value; )*
            }
        )*

        /// Every code as `(group, name, value)`, for the layout fingerprint.
        pub(crate) const ALL_CODES: &[(&str, &str, u64)] = &[
            $( $( (stringify!($group), stringify!($name), $group::$name as u64), )* )*
        ];
    };
}

abi_codes! {
    /// The `kind` argument of `send` and `send_many`.
    message_kind: u32 {
        /// A text message (the data must be UTF-8).
        TEXT = 1,
        /// A binary message.
        BINARY = 2,
        /// A ping (at most 125 bytes).
        PING = 3,
        /// An unsolicited pong (at most 125 bytes).
        PONG = 4,
    }

    /// The `mode` argument of `send`.
    send_mode: u32 {
        /// Wait until the frame is written, or fail with `TIMEOUT` after the context's
        /// blocking send timeout. `token` is ignored.
        BLOCKING = 0,
        /// Queue and return at once. When the call returns `OK`, the host later calls
        /// `on_send_complete` exactly once with the caller's `token`; when it returns
        /// anything else, no completion follows.
        ASYNC = 1,
    }

    /// The `level` argument of `log`.
    log_level: u32 {
        /// An error.
        ERROR = 1,
        /// A warning.
        WARN = 2,
        /// Information.
        INFO = 3,
        /// Debugging detail.
        DEBUG = 4,
        /// Tracing detail.
        TRACE = 5,
    }

    /// The `cause` argument of `on_close`: why the session ended.
    close_cause: u32 {
        /// The peer sent a close frame.
        REMOTE_CLOSE = 1,
        /// The connection ended without a close frame (reset, FIN, I/O error): 1006.
        CONNECTION_LOST = 2,
        /// No data frame in either direction for the idle timeout: 1001.
        IDLE_TIMEOUT = 3,
        /// No pong came within the pong timeout after a keepalive ping: 1006.
        PONG_TIMEOUT = 4,
        /// A message exceeded the context's size limit: 1009.
        MESSAGE_TOO_BIG = 5,
        /// The peer broke the protocol: 1002.
        PROTOCOL_ERROR = 6,
        /// A text message was not valid UTF-8: 1007.
        INVALID_UTF8 = 7,
        /// A send timed out; the connection was dropped: 1006.
        SEND_TIMEOUT = 8,
        /// A callback panicked (or failed): 1011.
        ENDPOINT_FAILURE = 9,
        /// The endpoint closed the session itself (`close`, or `on_open` refused it).
        ENDPOINT_CLOSE = 10,
        /// The context was undeployed: 1001.
        UNDEPLOY = 11,
        /// The context was redeployed: 1012.
        REDEPLOY = 12,
        /// The server is shutting down: 1001.
        SHUTDOWN = 13,
        /// The client stopped reading: its outgoing queue was full when a broadcast came,
        /// and the connection was dropped: 1006. Since ABI 1.1.
        SLOW_CONSUMER = 14,
    }

    /// The `kind` argument of `on_error`.
    error_kind: u32 {
        /// The peer broke the protocol.
        PROTOCOL = 1,
        /// An incoming message exceeded the size limit.
        MESSAGE_TOO_BIG = 2,
        /// An incoming text message was not valid UTF-8.
        INVALID_UTF8 = 3,
        /// Reading or writing the connection failed.
        IO = 4,
        /// A send failed or timed out.
        SEND_FAILED = 5,
        /// A callback of this endpoint panicked.
        ENDPOINT_PANIC = 6,
        /// The host failed internally.
        INTERNAL = 7,
    }

    /// The `reason` argument of `on_undeploy` (ABI 1.2): why the context goes away.
    undeploy_reason: u32 {
        /// The context was undeployed (its directory removed, or an administrator asked).
        UNDEPLOY = 1,
        /// The context is being replaced by a new version of itself.
        REDEPLOY = 2,
        /// The server is shutting down.
        SHUTDOWN = 3,
    }

    /// Bits of [`HandshakeRef::flags`](super::HandshakeRef::flags).
    handshake_flags: u64 {
        /// The session's user properties were restored from the session store (failover).
        PROPERTIES_RESTORED = 1,
    }
}
