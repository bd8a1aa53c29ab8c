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
}

/// The protocol versions a server serves (a spec's `server.protocol_versions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions(u8);

impl Versions {
    /// Every version this runtime speaks.
    pub const ALL: Self = Self(0b1_1111);

    /// The versions listed; none listed means all of them.
    pub fn new(list: impl IntoIterator<Item = ProtocolVersion>) -> Self {
        let bits = list.into_iter().fold(0u8, |b, v| b | 1 << v.index());
        if bits == 0 { Self::ALL } else { Self(bits) }
    }

    pub fn contains(self, v: ProtocolVersion) -> bool {
        self.0 & (1 << v.index()) != 0
    }

    /// The served versions, oldest first.
    pub fn iter(self) -> impl Iterator<Item = ProtocolVersion> {
        ProtocolVersion::ALL
            .into_iter()
            .filter(move |v| self.contains(*v))
    }

    /// `initialize`: the requested version if served, else the newest served legacy version;
    /// `None` when no legacy version is served.
    pub fn negotiate(self, requested: Option<&str>) -> Option<ProtocolVersion> {
        match requested.and_then(ProtocolVersion::parse) {
            Some(v) if !v.is_modern() && self.contains(v) => Some(v),
            _ => self.iter().filter(|v| !v.is_modern()).last(),
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
    use super::Versions;

    #[test]
    fn negotiation_counter_offers_the_newest_legacy_version() {
        let all = Versions::ALL;
        assert_eq!(all.negotiate(Some("2025-06-18")), Some(V::V2025_06_18));
        assert_eq!(all.negotiate(Some("2024-11-05")), Some(V::V2024_11_05));
        assert_eq!(all.negotiate(Some("2026-07-28")), Some(V::V2025_11_25));
        assert_eq!(all.negotiate(Some("1900-01-01")), Some(V::V2025_11_25));
        assert_eq!(all.negotiate(None), Some(V::V2025_11_25));
    }

    #[test]
    fn a_restricted_set_negotiates_within_itself() {
        let all = Versions::new([]);
        assert_eq!(all, Versions::ALL);
        assert_eq!(all.negotiate(Some("2025-06-18")), Some(V::V2025_06_18));
        let two = Versions::new([V::V2025_06_18, V::V2026_07_28]);
        assert!(two.contains(V::V2026_07_28) && !two.contains(V::V2025_11_25));
        assert_eq!(two.negotiate(Some("2025-11-25")), Some(V::V2025_06_18));
        assert_eq!(two.negotiate(Some("2026-07-28")), Some(V::V2025_06_18));
        assert_eq!(
            Versions::new([V::V2026_07_28]).negotiate(Some("2025-11-25")),
            None
        );
        assert_eq!(
            two.iter().collect::<Vec<_>>(),
            [V::V2025_06_18, V::V2026_07_28]
        );
    }

    #[test]
    fn round_trip() {
        for v in V::ALL {
            assert_eq!(V::parse(v.as_str()), Some(v));
            assert_eq!(V::ALL[v.index()], v);
        }
    }
}
