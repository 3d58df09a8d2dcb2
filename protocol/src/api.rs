//! The relay's device API as types: paths, the device states, the status answer and
//! the error body. The relay builds its answers from these and the agent and the
//! provisioning tool read them with these, so a state or a field has one spelling.
//!
//! Wire form (JSON): states are `"active"`, `"disabled"`, `"wipe_pending"`, `"wiped"`,
//! `"revoked"`; see `relay/README.md` for every endpoint.

use serde::{Deserialize, Serialize};

/// `POST`: an envelope (body: envelope bytes) → receipt bytes.
pub const PATH_ENVELOPES: &str = "/v1/envelopes";
/// `GET ?since=VERSION&wait=SECS` → [`StatusResponse`].
pub const PATH_STATUS: &str = "/v1/status";
/// `POST` → `{"state":"wiped"}`.
pub const PATH_WIPE_CONFIRM: &str = "/v1/wipe-confirm";
/// `POST` the device's audit entries.
pub const PATH_AUDIT: &str = "/v1/audit";
/// `GET` → the signed relay key schedule ([`crate::relay_keys`]).
pub const PATH_RELAY_KEYS: &str = "/v1/relay-keys";

/// A device's state at the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// May submit.
    #[default]
    Active,
    /// Locked by IT; may check in and ship its audit log.
    Disabled,
    /// Must wipe itself and confirm.
    WipePending,
    /// Wiped (confirmed); refused at the TLS layer.
    Wiped,
    /// Revoked; refused at the TLS layer.
    Revoked,
}

impl DeviceState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Active => "active",
            DeviceState::Disabled => "disabled",
            DeviceState::WipePending => "wipe_pending",
            DeviceState::Wiped => "wiped",
            DeviceState::Revoked => "revoked",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => DeviceState::Active,
            "disabled" => DeviceState::Disabled,
            "wipe_pending" => DeviceState::WipePending,
            "wiped" => DeviceState::Wiped,
            "revoked" => DeviceState::Revoked,
            _ => return None,
        })
    }

    /// Wiped and revoked devices are refused at the TLS layer.
    pub fn is_denied(self) -> bool {
        matches!(self, DeviceState::Wiped | DeviceState::Revoked)
    }

    /// The device must wipe itself (a wipe was ordered or confirmed).
    pub fn must_wipe(self) -> bool {
        matches!(self, DeviceState::WipePending | DeviceState::Wiped)
    }
}

impl std::fmt::Display for DeviceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /v1/status` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub device_id: String,
    pub state: DeviceState,
    /// Increases with every change of the device's record.
    pub version: u64,
    /// The relay's clock (unix seconds).
    pub server_time: u64,
}

/// Every refusal: `{"error":"code","message":"text"}` (never applicant data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_have_one_spelling() {
        for s in [
            DeviceState::Active,
            DeviceState::Disabled,
            DeviceState::WipePending,
            DeviceState::Wiped,
            DeviceState::Revoked,
        ] {
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(DeviceState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::from_str::<DeviceState>(&json).ok(), Some(s));
        }
        assert!(serde_json::from_str::<DeviceState>("\"lost\"").is_err());
        let st: StatusResponse = serde_json::from_str(
            r#"{"device_id":"TAB-0001","state":"wipe_pending","version":3,"server_time":9}"#,
        )
        .unwrap_or_else(|_| StatusResponse {
            device_id: String::new(),
            state: DeviceState::Active,
            version: 0,
            server_time: 0,
        });
        assert_eq!(st.state, DeviceState::WipePending);
        assert!(st.state.must_wipe() && !st.state.is_denied());
    }
}
