//! Protocol versions, the era each belongs to, and `initialize` version negotiation.

/// A protocol version this runtime speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl ProtocolVersion {
    /// Every version, oldest first; the index is [`ProtocolVersion::index`].
    pub const ALL: [Self; 5] = [
        Self::V2024_11_05,
        Self::V2025_03_26,
        Self::V2025_06_18,
        Self::V2025_11_25,
        Self::V2026_07_28,
    ];

    /// The versions with an `initialize` handshake.
    pub const LEGACY: [Self; 4] = [
        Self::V2024_11_05,
        Self::V2025_03_26,
        Self::V2025_06_18,
        Self::V2025_11_25,
    ];

    /// The stateless versions, as `server/discover` and -32022 list them.
    pub const MODERN: [Self; 1] = [Self::V2026_07_28];

    /// What `initialize` answers when the requested version is not one we speak.
    pub const LATEST_LEGACY: Self = Self::V2025_11_25;

    /// Assumed when a legacy request has no `MCP-Protocol-Version` header (2025-06-18 §Protocol
    /// Version Header: clients before 2025-06-18 never sent one).
    pub const DEFAULT_LEGACY: Self = Self::V2025_03_26;

    /// Parses an exact version string.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "2024-11-05" => Self::V2024_11_05,
            "2025-03-26" => Self::V2025_03_26,
            "2025-06-18" => Self::V2025_06_18,
            "2025-11-25" => Self::V2025_11_25,
            "2026-07-28" => Self::V2026_07_28,
            _ => return None,
        })
    }

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2024_11_05 => "2024-11-05",
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// Position in [`ProtocolVersion::ALL`], for per-version tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether this is a stateless (per-request `_meta`) version.
    pub fn is_modern(self) -> bool {
        self >= Self::V2026_07_28
    }

    /// The version `initialize` answers: the requested one when it is a legacy version we
    /// speak, else the newest legacy one (never an error, as the lifecycle spec asks).
    pub fn negotiate(requested: Option<&str>) -> Self {
        match requested.and_then(Self::parse) {
            Some(v) if !v.is_modern() => v,
            _ => Self::LATEST_LEGACY,
        }
    }
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ProtocolVersion as V;

    #[test]
    fn negotiation_counter_offers_the_newest_legacy_version() {
        assert_eq!(V::negotiate(Some("2025-06-18")), V::V2025_06_18);
        assert_eq!(V::negotiate(Some("2024-11-05")), V::V2024_11_05);
        assert_eq!(V::negotiate(Some("2026-07-28")), V::V2025_11_25);
        assert_eq!(V::negotiate(Some("1900-01-01")), V::V2025_11_25);
        assert_eq!(V::negotiate(None), V::V2025_11_25);
    }

    #[test]
    fn round_trip() {
        for v in V::ALL {
            assert_eq!(V::parse(v.as_str()), Some(v));
            assert_eq!(V::ALL[v.index()], v);
        }
    }
}
