//! [`UndeployReason`]: why a context goes away, as
//! [`Endpoint::on_undeploy`](crate::Endpoint::on_undeploy) receives it.

use crate::abi::undeploy_reason;

/// Why a deployed context goes away. Mapped from the ABI code
/// ([`abi::undeploy_reason`](crate::abi::undeploy_reason)) in one place,
/// [`UndeployReason::from_raw`]; a code this SDK does not know (from a newer host) becomes
/// [`UndeployReason::Unknown`].
///
/// ```
/// use endpoint_api::UndeployReason;
///
/// let reason = UndeployReason::from_raw(UndeployReason::Shutdown.to_raw());
/// assert_eq!(reason, UndeployReason::Shutdown);
/// assert_eq!(UndeployReason::from_raw(77), UndeployReason::Unknown(77));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UndeployReason {
    /// The context was undeployed (its directory removed, or an administrator asked).
    Undeploy,
    /// The context is being replaced by a new version of itself; the new version gets its
    /// own instance and its own `on_deploy`.
    Redeploy,
    /// The server is shutting down.
    Shutdown,
    /// A reason this SDK does not know, with its raw code.
    Unknown(u32),
}

impl UndeployReason {
    /// The ABI code.
    pub const fn to_raw(self) -> u32 {
        match self {
            UndeployReason::Undeploy => undeploy_reason::UNDEPLOY,
            UndeployReason::Redeploy => undeploy_reason::REDEPLOY,
            UndeployReason::Shutdown => undeploy_reason::SHUTDOWN,
            UndeployReason::Unknown(raw) => raw,
        }
    }

    /// From the ABI code; unknown codes become [`UndeployReason::Unknown`].
    pub const fn from_raw(raw: u32) -> UndeployReason {
        match raw {
            undeploy_reason::UNDEPLOY => UndeployReason::Undeploy,
            undeploy_reason::REDEPLOY => UndeployReason::Redeploy,
            undeploy_reason::SHUTDOWN => UndeployReason::Shutdown,
            other => UndeployReason::Unknown(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_reason_round_trips() {
        for reason in [
            UndeployReason::Undeploy,
            UndeployReason::Redeploy,
            UndeployReason::Shutdown,
        ] {
            assert_eq!(UndeployReason::from_raw(reason.to_raw()), reason);
        }
        for raw in [0, 4, u32::MAX] {
            assert_eq!(UndeployReason::from_raw(raw), UndeployReason::Unknown(raw));
            assert_eq!(UndeployReason::Unknown(raw).to_raw(), raw);
        }
    }
}
