//! Who is on the other end of a connection: facts read from a client certificate that
//! rustls has already verified.

use shinsei_protocol::{
    device::DeviceId,
    keys::VerifyingKey,
    x509::{classify_client_cert, AdminRole, ClientIdentity, Fingerprint},
};

/// Serial number and SPKI digest of a certificate: what the deny list matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CertFingerprint {
    /// Serial number bytes as encoded in the certificate, lower-case hex.
    pub serial_hex: String,
    /// SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex.
    pub spki_sha256_hex: String,
}

impl From<Fingerprint> for CertFingerprint {
    fn from(f: Fingerprint) -> Self {
        Self {
            serial_hex: hex::encode(f.serial),
            spki_sha256_hex: hex::encode(f.spki_sha256),
        }
    }
}

/// A device, as identified by its verified client certificate.
#[derive(Debug, Clone)]
pub struct DeviceIdentity {
    pub device_id: DeviceId,
    pub fingerprint: CertFingerprint,
    /// The key that must have signed the device's envelopes.
    pub verifying_key: VerifyingKey,
    /// When the certificate expires (unix seconds): shown to IT, warned of ahead.
    pub not_after: u64,
    /// An enrollment ticket: it may check in, report (asking for the tablet's own
    /// key to be certified) and fetch that bundle, nothing else.
    pub ticket: bool,
}

impl DeviceIdentity {
    /// Reads a device identity from a certificate (rules: [`shinsei_protocol::x509`]).
    pub fn from_cert(der: &[u8]) -> Option<Self> {
        match classify_client_cert(der)? {
            ClientIdentity::Device {
                device_id,
                key,
                fingerprint,
                not_after,
                ticket,
            } => Some(Self {
                device_id,
                fingerprint: fingerprint.into(),
                verifying_key: key,
                not_after: u64::try_from(not_after).unwrap_or(0),
                ticket,
            }),
            ClientIdentity::Admin { .. } => None,
        }
    }
}

/// An administrator, as identified by a verified admin client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminIdentity {
    /// The certificate's CN.
    pub name: String,
    /// The role the certificate's subject `title` names.
    pub role: AdminRole,
    /// What the deny list matches (checked on every request).
    pub fingerprint: CertFingerprint,
}

impl AdminIdentity {
    /// Reads an administrator identity (rules: [`shinsei_protocol::x509`]).
    pub fn from_cert(der: &[u8]) -> Option<Self> {
        match classify_client_cert(der)? {
            ClientIdentity::Admin {
                name,
                role,
                fingerprint,
            } => Some(Self {
                name,
                role,
                fingerprint: fingerprint.into(),
            }),
            ClientIdentity::Device { .. } => None,
        }
    }
}
