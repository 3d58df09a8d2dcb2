//! Who a certificate belongs to: the one place that decides whether a (verified)
//! client certificate is a device or an IT administrator, and the facts the relay's
//! deny list matches (serial, SPKI digest). No verification here: call only on a
//! certificate that the TLS layer (or [`crate::signed`]) has verified against the
//! matching trust anchor — the device CA for devices, the root CA for administrators.
//!
//! Rules: not a CA; subject OU [`DEVICE_OU`] (or [`ENROLLMENT_OU`], an enrollment
//! ticket) with a CN that is a canonical device ID and an ECDSA P-256 key, or OU [`ADMIN_OU`] with a CN of 1 to 64 bytes and at most
//! one subject `title` naming its [`AdminRole`].
//!
//! # Why the role is in the certificate
//! The role is signed by the root CA together with the name, so the relay needs no
//! second database of who may do what, and no node can disagree with another about it.
//! Changing a role means issuing a new (short-lived) certificate and revoking the old
//! one. A certificate without a `title` (issued before roles existed) is a
//! [`AdminRole::Viewer`]: least privilege, never more than it was meant to have; a
//! `title` that names no role (a typo, a future role) makes the certificate no admin
//! certificate at all.

use crate::device::DeviceId;
use crate::keys::VerifyingKey;
pub use crate::signed::{summarize_cert, CertSummary, ADMIN_OU, DEVICE_OU, ENROLLMENT_OU};

/// The subject attribute that names an admin certificate's role: `title`, 2.5.4.12.
pub const ROLE_TITLE_OID: [u64; 4] = [2, 5, 4, 12];

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

/// What an administrator may do (the permission table is the relay's
/// `policy` module). Ordered: each role may do what the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdminRole {
    /// Reads: the fleet, the audit logs, the metrics.
    Viewer,
    /// Also: disable and re-enable tablets (reversible orders).
    Operator,
    /// Also: wipe, revoke, approve another officer's order, revoke an administrator.
    SecurityOfficer,
}

impl AdminRole {
    /// Every role, least privilege first.
    pub const ALL: [AdminRole; 3] = [
        AdminRole::Viewer,
        AdminRole::Operator,
        AdminRole::SecurityOfficer,
    ];

    /// The spelling in the certificate's `title` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Viewer => "viewer",
            AdminRole::Operator => "operator",
            AdminRole::SecurityOfficer => "security-officer",
        }
    }

    /// Parses [`AdminRole::as_str`]'s spelling (exactly).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for AdminRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose certificate it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// A tablet: its ID and the key that signs its envelopes.
    Device {
        device_id: DeviceId,
        key: VerifyingKey,
        fingerprint: Fingerprint,
        /// The certificate's end (unix seconds).
        not_after: i64,
        /// An enrollment ticket ([`ENROLLMENT_OU`]): it may only ask for the tablet's
        /// own certificate, never submit or read the staff list.
        ticket: bool,
    },
    /// An IT administrator (the certificate's CN) and the role its `title` names.
    Admin {
        name: String,
        role: AdminRole,
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
        Some(ou @ (DEVICE_OU | ENROLLMENT_OU)) => {
            let device_id = DeviceId::parse(&cn).ok().filter(|d| d.as_str() == cn)?;
            Some(ClientIdentity::Device {
                device_id,
                key: s.p256_public_key?,
                fingerprint,
                not_after: s.not_after,
                ticket: ou == ENROLLMENT_OU,
            })
        }
        Some(ADMIN_OU) if !cn.is_empty() && cn.len() <= MAX_ADMIN_NAME_LEN => {
            // Only an admin certificate is read for its titles (devices connect far more
            // often: one parse for them).
            let titles =
                crate::signed::parse_cert(der).and_then(|c| crate::signed::subject_titles(&c))?;
            let role = match titles.as_slice() {
                [] => AdminRole::Viewer,
                [t] => AdminRole::parse(t)?,
                _ => return None,
            };
            Some(ClientIdentity::Admin {
                name: cn,
                role,
                fingerprint,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rcgen::{CertificateParams, DnType, DnValue, KeyPair};

    use super::*;

    /// An admin certificate with at most one `title` (rcgen keeps one value per
    /// attribute type, so a subject with two titles cannot be made here; the parser
    /// refuses it).
    fn admin_cert(cn: &str, title: &[&str]) -> Vec<u8> {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, ADMIN_OU);
        p.distinguished_name.push(DnType::CommonName, cn);
        if let Some(t) = title.first() {
            p.distinguished_name.push(
                DnType::CustomDnType(ROLE_TITLE_OID.to_vec()),
                DnValue::Utf8String((*t).to_owned()),
            );
        }
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        p.self_signed(&key).unwrap().der().to_vec()
    }

    fn role_of(der: &[u8]) -> Option<AdminRole> {
        match classify_client_cert(der)? {
            ClientIdentity::Admin { role, .. } => Some(role),
            ClientIdentity::Device { .. } => None,
        }
    }

    #[test]
    fn an_admin_certificate_carries_its_role_in_the_subject_title() {
        for r in AdminRole::ALL {
            assert_eq!(role_of(&admin_cert("alice", &[r.as_str()])), Some(r));
            assert_eq!(AdminRole::parse(r.as_str()), Some(r));
        }
        // Issued before roles existed: read-only.
        assert_eq!(role_of(&admin_cert("alice", &[])), Some(AdminRole::Viewer));
        // A title that names no role: not an admin certificate at all.
        for bad in ["root", "Security-Officer", "security-officer ", ""] {
            assert_eq!(role_of(&admin_cert("alice", &[bad])), None, "{bad:?}");
        }
        assert!(AdminRole::Viewer < AdminRole::Operator);
        assert!(AdminRole::Operator < AdminRole::SecurityOfficer);
    }

    fn device_cert(cn: &str, ou: &str) -> Vec<u8> {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, ou);
        p.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        p.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn an_enrollment_ticket_is_a_device_certificate_marked_as_a_ticket() {
        let ticket = |der: &[u8]| match classify_client_cert(der) {
            Some(ClientIdentity::Device { ticket, .. }) => Some(ticket),
            _ => None,
        };
        assert_eq!(ticket(&device_cert("TAB-0001", DEVICE_OU)), Some(false));
        assert_eq!(ticket(&device_cert("TAB-0001", ENROLLMENT_OU)), Some(true));
        // Not a device ID, or another unit: nobody.
        assert_eq!(ticket(&device_cert("tab 1", ENROLLMENT_OU)), None);
        assert_eq!(
            ticket(&device_cert("TAB-0001", "shinsei device enrolment")),
            None
        );
    }
}
