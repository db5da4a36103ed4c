//! ABI versions: the constants, [`AbiVersion`] and the compatibility rule.

use std::fmt;

/// The ABI major version. A different major means incompatible: the host refuses the plugin.
pub const ABI_MAJOR: u16 = 1;

/// The ABI minor version: bumped for append-only changes (a field at the end of a table, a new
/// code); plugins and hosts of any minor within one major work together.
pub const ABI_MINOR: u16 = 2;

/// `ABI_MAJOR << 16 | ABI_MINOR`, what `berth_abi_version()` returns.
pub const ABI_VERSION: u32 = AbiVersion::CURRENT.to_raw();

/// The version of this `endpoint-api` crate, exported in the plugin table so that errors can
/// name the SDK a plugin was built with.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An ABI version, `major.minor`.
///
/// ```
/// use endpoint_api::abi::{ABI_VERSION, AbiVersion};
///
/// let v = AbiVersion::from_raw(ABI_VERSION);
/// assert_eq!(v, AbiVersion::CURRENT);
/// assert!(v.is_compatible_with(AbiVersion { major: v.major, minor: v.minor + 3 }));
/// assert!(!v.is_compatible_with(AbiVersion { major: v.major + 1, minor: 0 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbiVersion {
    /// Incompatible changes.
    pub major: u16,
    /// Append-only changes.
    pub minor: u16,
}

impl AbiVersion {
    /// The version this crate implements.
    pub const CURRENT: AbiVersion = AbiVersion {
        major: ABI_MAJOR,
        minor: ABI_MINOR,
    };

    /// Decodes `major << 16 | minor`.
    pub const fn from_raw(raw: u32) -> AbiVersion {
        AbiVersion {
            major: (raw >> 16) as u16,
            minor: (raw & 0xffff) as u16,
        }
    }

    /// Encodes as `major << 16 | minor`.
    pub const fn to_raw(self) -> u32 {
        (self.major as u32) << 16 | self.minor as u32
    }

    /// Whether the two sides can talk: same major (any minors; the size prefixes of the
    /// tables settle which fields both know).
    pub const fn is_compatible_with(self, other: AbiVersion) -> bool {
        self.major == other.major
    }

    /// Checks a plugin's version (from `berth_abi_version()`) against this host's, for the
    /// loader. `plugin_sdk` is the plugin table's SDK version when it could be read.
    ///
    /// ```
    /// use endpoint_api::abi::AbiVersion;
    ///
    /// let err = AbiVersion::CURRENT.accept(9 << 16, Some("9.9.9")).unwrap_err();
    /// assert!(err.to_string().contains("ABI 9.0"));
    /// assert!(err.to_string().contains("endpoint-api 9.9.9"));
    /// ```
    pub fn accept(self, plugin_raw: u32, plugin_sdk: Option<&str>) -> Result<(), VersionMismatch> {
        let plugin = AbiVersion::from_raw(plugin_raw);
        if self.is_compatible_with(plugin) {
            return Ok(());
        }
        Err(VersionMismatch {
            host: self,
            plugin,
            plugin_sdk: plugin_sdk.map(str::to_owned),
        })
    }
}

impl fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A plugin whose ABI major differs from the host's. Its message names both versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionMismatch {
    /// The host's ABI version.
    pub host: AbiVersion,
    /// The plugin's ABI version.
    pub plugin: AbiVersion,
    /// The SDK version the plugin was built with, when known.
    pub plugin_sdk: Option<String>,
}

impl fmt::Display for VersionMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sdk = self.plugin_sdk.as_deref().unwrap_or("unknown");
        write!(
            f,
            "plugin built with endpoint-api {sdk} (ABI {}) is incompatible with this host \
             (endpoint-api {SDK_VERSION}, ABI {}): rebuild it against an endpoint-api with ABI {}.x",
            self.plugin, self.host, self.host.major
        )
    }
}

impl std::error::Error for VersionMismatch {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trip() {
        for raw in [0, 1, 0x0001_0000, 0x0001_0007, 0xffff_ffff] {
            assert_eq!(AbiVersion::from_raw(raw).to_raw(), raw);
        }
        assert_eq!(
            AbiVersion::from_raw(0x0002_0003),
            AbiVersion { major: 2, minor: 3 }
        );
        assert_eq!(ABI_VERSION, (ABI_MAJOR as u32) << 16 | ABI_MINOR as u32);
    }

    #[test]
    fn minors_are_compatible_majors_are_not() {
        let current = AbiVersion::CURRENT;
        let newer_minor = AbiVersion {
            minor: current.minor + 1,
            ..current
        };
        assert!(current.accept(newer_minor.to_raw(), None).is_ok());
        let older_major = AbiVersion {
            major: current.major - 1,
            minor: 4,
        };
        let err = current
            .accept(older_major.to_raw(), Some("0.0.1"))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("ABI {older_major}")), "{text}");
        assert!(text.contains(&format!("ABI {current}")), "{text}");
        assert!(text.contains("endpoint-api 0.0.1"), "{text}");
        assert!(text.contains(SDK_VERSION), "{text}");
    }

    #[test]
    fn display() {
        assert_eq!(
            AbiVersion {
                major: 1,
                minor: 12
            }
            .to_string(),
            "1.12"
        );
    }
}
