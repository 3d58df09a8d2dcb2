//! Device identifiers.

use std::fmt;

/// Longest device ID accepted.
pub const MAX_DEVICE_ID_LEN: usize = 32;

/// A tablet's identifier, e.g. `TAB-0001`.
///
/// 1 to 32 characters of `A`–`Z`, `0`–`9` and `-`; starts and ends with a letter or
/// digit. Lower case is folded to upper case on parsing. A device ID is not personal
/// data and may be logged.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(String);

/// Why a device ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceIdError {
    #[error("device ID is empty / 端末IDが空です")]
    Empty,
    #[error("device ID is longer than {MAX_DEVICE_ID_LEN} characters / 端末IDが長すぎます")]
    TooLong,
    #[error("device ID may contain only A-Z, 0-9 and '-' / 端末IDに使えない文字があります")]
    BadCharacter,
    #[error("device ID must start and end with a letter or digit / 端末IDの先頭と末尾は英数字にしてください")]
    BadEdge,
}

impl DeviceId {
    /// Parses and normalises a device ID.
    pub fn parse(s: &str) -> Result<Self, DeviceIdError> {
        if s.is_empty() {
            return Err(DeviceIdError::Empty);
        }
        if s.len() > MAX_DEVICE_ID_LEN {
            return Err(DeviceIdError::TooLong);
        }
        let up = s.to_ascii_uppercase();
        if !up
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(DeviceIdError::BadCharacter);
        }
        let edge_ok = |b: Option<u8>| b.is_some_and(|b| b != b'-');
        if !edge_ok(up.bytes().next()) || !edge_ok(up.bytes().last()) {
            return Err(DeviceIdError::BadEdge);
        }
        Ok(Self(up))
    }

    /// The normalised text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.0)
    }
}

impl std::str::FromStr for DeviceId {
    type Err = DeviceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(DeviceId::parse("tab-0001").unwrap().as_str(), "TAB-0001");
        assert_eq!(DeviceId::parse("A").unwrap().as_str(), "A");
    }

    #[test]
    fn refuses() {
        assert_eq!(DeviceId::parse(""), Err(DeviceIdError::Empty));
        assert_eq!(
            DeviceId::parse(&"A".repeat(33)),
            Err(DeviceIdError::TooLong)
        );
        assert_eq!(DeviceId::parse("TAB_1"), Err(DeviceIdError::BadCharacter));
        assert_eq!(DeviceId::parse("タブ"), Err(DeviceIdError::BadCharacter));
        assert_eq!(DeviceId::parse("-TAB"), Err(DeviceIdError::BadEdge));
        assert_eq!(DeviceId::parse("TAB-"), Err(DeviceIdError::BadEdge));
    }
}
