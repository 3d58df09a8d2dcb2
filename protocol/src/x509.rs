//! Who a certificate belongs to: the one place that decides whether a (verified)
//! client certificate is a device or an IT administrator, and the facts the relay's
//! deny list matches (serial, SPKI digest). No verification here: call only on a
//! certificate that the TLS layer (or [`crate::signed`]) has verified against the
//! matching trust anchor — the device CA for devices, the root CA for administrators.
//!
//! Rules: not a CA; subject OU [`DEVICE_OU`] with a CN that is a canonical device ID
//! and an ECDSA P-256 key, or OU [`ADMIN_OU`] with a CN of 1 to 64 bytes.

use crate::device::DeviceId;
use crate::keys::VerifyingKey;
pub use crate::signed::{summarize_cert, CertSummary, ADMIN_OU, DEVICE_OU};

/// Longest administrator name (CN) accepted.
pub const MAX_ADMIN_NAME_LEN: usize = 64;

/// Serial number and SPKI digest of a certificate: what a deny list matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// Serial number bytes as encoded in the certificate.
    pub serial: Vec<u8>,
    /// SHA-256 of the SubjectPublicKeyInfo DER.
    pub spki_sha256: [u8; 32],
}

/// Whose certificate it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// A tablet: its ID and the key that signs its envelopes.
    Device {
        device_id: DeviceId,
        key: VerifyingKey,
        fingerprint: Fingerprint,
    },
    /// An IT administrator (the certificate's CN).
    Admin {
        name: String,
        fingerprint: Fingerprint,
    },
}

/// Classifies a DER certificate by the rules above; `None` for anything else.
pub fn classify_client_cert(der: &[u8]) -> Option<ClientIdentity> {
    let s = summarize_cert(der)?;
    if s.is_ca {
        return None;
    }
    let fingerprint = Fingerprint {
        serial: s.serial.clone(),
        spki_sha256: s.spki_sha256,
    };
    let cn = s.common_name?;
    match s.organizational_unit.as_deref() {
        Some(DEVICE_OU) => {
            let device_id = DeviceId::parse(&cn).ok().filter(|d| d.as_str() == cn)?;
            Some(ClientIdentity::Device {
                device_id,
                key: s.p256_public_key?,
                fingerprint,
            })
        }
        Some(ADMIN_OU) if !cn.is_empty() && cn.len() <= MAX_ADMIN_NAME_LEN => {
            Some(ClientIdentity::Admin {
                name: cn,
                fingerprint,
            })
        }
        _ => None,
    }
}
