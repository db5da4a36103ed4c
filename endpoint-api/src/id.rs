//! Small identifiers: [`SessionId`], [`EndpointId`], [`SendToken`].

use std::fmt;

/// A session's id: unique in the container, opaque, never reused.
///
/// The host tags ids with a generation, so an id kept after its session ended is simply
/// stale: calls with it fail with [`HostError::NoSuchSession`](crate::HostError), never touch
/// another session. Keep ids (not [`Session`](crate::Session)s) in your own maps.
///
/// ```
/// use endpoint_api::SessionId;
///
/// let id = SessionId::from_raw(42);
/// assert_eq!(id.raw(), 42);
/// assert_eq!(id.to_string(), "42");
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(u64);

impl SessionId {
    /// Wraps a raw id (as the host passes it).
    pub const fn from_raw(raw: u64) -> SessionId {
        SessionId(raw)
    }

    /// The raw id.
    pub const fn raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One of the plugin's declared endpoints: its position in the [`plugin!`](crate::plugin)
/// declaration, counting from 0.
///
/// ```
/// use endpoint_api::EndpointId;
///
/// assert_eq!(EndpointId::new(1).index(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(u32);

impl EndpointId {
    /// The endpoint declared at `index`.
    pub const fn new(index: u32) -> EndpointId {
        EndpointId(index)
    }

    /// Its index in the declaration.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The raw index (as the host passes it).
    pub const fn raw(self) -> u32 {
        self.0
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "endpoint {}", self.0)
    }
}

/// Names one asynchronous send; the same token comes back in
/// [`Endpoint::on_send_complete`](crate::Endpoint::on_send_complete). Unique within one
/// deployed context.
///
/// ```
/// use endpoint_api::SendToken;
///
/// assert_eq!(SendToken::from_raw(7).raw(), 7);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SendToken(u64);

impl SendToken {
    /// Wraps a raw token.
    pub const fn from_raw(raw: u64) -> SendToken {
        SendToken(raw)
    }

    /// The raw token.
    pub const fn raw(self) -> u64 {
        self.0
    }
}
