//! Who is on the other end of a connection: facts read from a client certificate that
//! rustls has already verified.

use shinsei_protocol::{
    device::DeviceId,
    keys::VerifyingKey,
    signed::{ADMIN_OU, DEVICE_OU},
};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Serial number and SPKI digest of a certificate: what the deny list matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CertFingerprint {
    /// Serial number bytes as encoded in the certificate, lower-case hex.
    pub serial_hex: String,
    /// SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex.
    pub spki_sha256_hex: String,
}

/// A parsed end-entity certificate.
#[derive(Debug, Clone)]
pub struct ParsedCert {
    pub common_name: Option<String>,
    pub organizational_unit: Option<String>,
    pub is_ca: bool,
    pub fingerprint: CertFingerprint,
    /// The public key if it is an uncompressed P-256 point.
    pub p256_key: Option<VerifyingKey>,
}

/// Parses a DER certificate (no verification). `None` if it is not X.509.
pub fn parse_cert(der: &[u8]) -> Option<ParsedCert> {
    let (rest, c) = X509Certificate::from_der(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let common_name = c
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let organizational_unit = c
        .subject()
        .iter_organizational_unit()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let spki = c.tbs_certificate.subject_pki.raw;
    let spki_sha256 = ring::digest::digest(&ring::digest::SHA256, spki);
    let is_p256 = c.tbs_certificate.subject_pki.algorithm.algorithm
        == x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
        && c.tbs_certificate
            .subject_pki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .is_some_and(|o| o == x509_parser::oid_registry::OID_EC_P256);
    let p256_key = if is_p256 {
        VerifyingKey::from_bytes(&c.tbs_certificate.subject_pki.subject_public_key.data).ok()
    } else {
        None
    };
    Some(ParsedCert {
        common_name,
        organizational_unit,
        is_ca: c.is_ca(),
        fingerprint: CertFingerprint {
            serial_hex: hex::encode(c.raw_serial()),
            spki_sha256_hex: hex::encode(spki_sha256.as_ref()),
        },
        p256_key,
    })
}

/// A device, as identified by its verified client certificate.
#[derive(Debug, Clone)]
pub struct DeviceIdentity {
    pub device_id: DeviceId,
    pub fingerprint: CertFingerprint,
    /// The key that must have signed the device's envelopes.
    pub verifying_key: VerifyingKey,
}

impl DeviceIdentity {
    /// Reads a device identity from a certificate: OU `shinsei device`, not a CA, CN a
    /// canonical device ID, ECDSA P-256 key.
    pub fn from_cert(der: &[u8]) -> Option<Self> {
        let p = parse_cert(der)?;
        if p.is_ca || p.organizational_unit.as_deref() != Some(DEVICE_OU) {
            return None;
        }
        let cn = p.common_name?;
        let device_id = DeviceId::parse(&cn).ok().filter(|d| d.as_str() == cn)?;
        Some(Self {
            device_id,
            fingerprint: p.fingerprint,
            verifying_key: p.p256_key?,
        })
    }
}

/// An administrator, as identified by a verified admin client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminIdentity {
    /// The certificate's CN.
    pub name: String,
}

impl AdminIdentity {
    /// OU `shinsei admin`, not a CA, a non-empty CN.
    pub fn from_cert(der: &[u8]) -> Option<Self> {
        let p = parse_cert(der)?;
        if p.is_ca || p.organizational_unit.as_deref() != Some(ADMIN_OU) {
            return None;
        }
        let name = p.common_name.filter(|n| !n.is_empty() && n.len() <= 64)?;
        Some(Self { name })
    }
}
