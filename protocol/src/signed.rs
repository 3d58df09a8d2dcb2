//! CA-signed documents distributed to devices: `shinsei-signed/v1`.
//!
//! A signed document is a JSON object (at most [`MAX_DOCUMENT_LEN`] bytes, unknown
//! fields refused):
//!
//! ```json
//! {
//!   "format": "shinsei-signed/v1",
//!   "kind": "device-bundle" | "staff-list",
//!   "payload": "<base64 of the payload bytes>",
//!   "signer_chain": ["<base64 DER of the signer certificate>", "<issuer of the previous>", ...],
//!   "signature": "<base64 of 64 bytes: ECDSA P-256 SHA-256, fixed r || s>"
//! }
//! ```
//!
//! The signature covers `"shinsei-signed/v1" 0x00 kind 0x00 payload` (see
//! [`signing_input`]), so a payload signed as one kind can not be replayed as another.
//!
//! Verification ([`SignedDocument::verify`]) takes the pinned root CA certificate (DER)
//! and the current time, and checks, in order: the root is a valid self-signed P-256 CA
//! at `now`; `signer_chain[0]` is the device CA (a CA certificate whose subject has
//! OU [`DEVICE_CA_OU`]); every certificate of the chain is issued (name and signature)
//! by the next one and the last by the root; every certificate is valid at `now`; the
//! signature verifies with the signer's public key. All certificates must be ECDSA
//! P-256 keys signed with ECDSA-SHA256. Each failure is its own [`SignedError`] variant.
//!
//! Nothing here does I/O; [`SignedDocument::parse`] is the fuzzing entry point.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use serde::{Deserialize, Serialize};
use x509_parser::{
    certificate::X509Certificate,
    oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ECDSA_WITH_SHA256},
    prelude::FromDer,
    time::ASN1Time,
};

use crate::keys::{SigningKey, VerifyingKey, SIGNATURE_LEN};

/// The `format` field of every signed document.
pub const FORMAT: &str = "shinsei-signed/v1";
/// Largest signed document accepted, in bytes (the whole JSON text).
pub const MAX_DOCUMENT_LEN: usize = 256 * 1024;
/// Largest certificate accepted in `signer_chain`, in DER bytes.
pub const MAX_CERT_LEN: usize = 8 * 1024;
/// Most certificates in `signer_chain` (the device CA plus intermediates, root excluded).
pub const MAX_CHAIN_LEN: usize = 3;
/// Organizational unit of the device CA's subject.
pub const DEVICE_CA_OU: &str = "shinsei device CA";
/// Organizational unit of device client certificates.
pub const DEVICE_OU: &str = "shinsei device";
/// Organizational unit of enrollment tickets: device client certificates that can only
/// ask for the tablet's own certificate (made on the imaging workstation for a fresh
/// image; the tablet replaces the ticket's key with one it makes on its first boot).
pub const ENROLLMENT_OU: &str = "shinsei device enrollment";
/// Organizational unit of the relay's TLS server certificate.
pub const RELAY_OU: &str = "shinsei relay";
/// Organizational unit of IT administrators' client certificates.
pub const ADMIN_OU: &str = "shinsei admin";
/// Organizational unit of the ward root CA.
pub const ROOT_CA_OU: &str = "shinsei root CA";

/// What a signed document holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A [`crate::bundle::DeviceBundle`].
    DeviceBundle,
    /// A [`crate::staff::StaffList`].
    StaffList,
}

impl DocumentKind {
    /// The text form used in the `kind` field and in the signing input.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::DeviceBundle => "device-bundle",
            DocumentKind::StaffList => "staff-list",
        }
    }

    fn from_str(s: &str) -> Option<Self> {
        match s {
            "device-bundle" => Some(DocumentKind::DeviceBundle),
            "staff-list" => Some(DocumentKind::StaffList),
            _ => None,
        }
    }
}

/// Why a signed document was refused. One variant per failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    #[error(
        "signed document is larger than {MAX_DOCUMENT_LEN} bytes / 署名付き文書が大きすぎます"
    )]
    TooLarge,
    #[error("signed document is not valid JSON of the expected shape: {0} / 署名付き文書の形式が不正です")]
    Malformed(String),
    #[error("unsupported signed document format / 未対応の署名付き文書形式です")]
    UnsupportedFormat,
    #[error("unknown document kind / 不明な文書種別です")]
    UnknownKind,
    #[error("document is a {found}, expected a {expected} / 文書の種別が違います")]
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    #[error("field {0} is not valid base64 / {0} の base64 が不正です")]
    BadBase64(&'static str),
    #[error("signature must be 64 bytes / 署名の長さが不正です")]
    BadSignatureLength,
    #[error("signer chain is empty / 署名者の証明書がありません")]
    EmptyChain,
    #[error(
        "signer chain has more than {MAX_CHAIN_LEN} certificates / 証明書チェーンが長すぎます"
    )]
    ChainTooLong,
    #[error("a certificate is larger than {MAX_CERT_LEN} bytes / 証明書が大きすぎます")]
    CertTooLarge,
    #[error("the pinned root CA certificate cannot be parsed / 固定されたルートCA証明書を読み取れません")]
    BadRootCertificate,
    #[error(
        "the pinned root CA is not a self-signed ECDSA P-256 CA / 固定されたルートCAが不正です"
    )]
    RootNotCa,
    #[error("the pinned root CA is not valid at this time (expired or not yet valid) / ルートCAの有効期間外です")]
    RootNotValidNow,
    #[error("a signer certificate cannot be parsed / 署名者の証明書を読み取れません")]
    BadSignerCertificate,
    #[error(
        "a signer certificate is not ECDSA P-256 with SHA-256 / 署名者の証明書の暗号方式が不正です"
    )]
    UnsupportedAlgorithm,
    #[error("the signer is not the device CA / 署名者が端末CAではありません")]
    SignerNotDeviceCa,
    #[error("the signer chain does not lead to the pinned root CA / 証明書チェーンがルートCAにつながりません")]
    NotIssuedByRoot,
    #[error("a signer certificate is not valid at this time (expired or not yet valid) / 署名者の証明書の有効期間外です")]
    SignerNotValidNow,
    #[error("the signature does not verify / 署名が一致しません")]
    BadSignature,
    #[error("the signing key is not the signer certificate's key / 署名鍵が証明書と一致しません")]
    KeyMismatch,
    #[error("signing failed / 署名に失敗しました")]
    SigningFailed,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    kind: String,
    payload: String,
    signer_chain: Vec<String>,
    signature: String,
}

/// A parsed (not yet verified) signed document.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedDocument {
    kind: DocumentKind,
    payload: Vec<u8>,
    signer_chain: Vec<Vec<u8>>,
    signature: [u8; SIGNATURE_LEN],
}

impl std::fmt::Debug for SignedDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedDocument")
            .field("kind", &self.kind)
            .field("payload_len", &self.payload.len())
            .field("signer_chain_len", &self.signer_chain.len())
            .finish()
    }
}

/// The bytes the signature covers: `"shinsei-signed/v1" 0x00 kind 0x00 payload`.
pub fn signing_input(kind: DocumentKind, payload: &[u8]) -> Vec<u8> {
    let k = kind.as_str().as_bytes();
    let mut v = Vec::with_capacity(FORMAT.len() + k.len() + payload.len() + 2);
    v.extend_from_slice(FORMAT.as_bytes());
    v.push(0);
    v.extend_from_slice(k);
    v.push(0);
    v.extend_from_slice(payload);
    v
}

/// Parses a signed document from untrusted bytes (structure only; no cryptography).
pub fn parse(bytes: &[u8]) -> Result<SignedDocument, SignedError> {
    SignedDocument::parse(bytes)
}

impl SignedDocument {
    /// Parses the JSON form, checking sizes, base64 and the format tag.
    pub fn parse(bytes: &[u8]) -> Result<Self, SignedError> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(SignedError::TooLarge);
        }
        let w: Wire =
            serde_json::from_slice(bytes).map_err(|e| SignedError::Malformed(e.to_string()))?;
        if w.format != FORMAT {
            return Err(SignedError::UnsupportedFormat);
        }
        let kind = DocumentKind::from_str(&w.kind).ok_or(SignedError::UnknownKind)?;
        let payload = B64
            .decode(w.payload.as_bytes())
            .map_err(|_| SignedError::BadBase64("payload"))?;
        if w.signer_chain.is_empty() {
            return Err(SignedError::EmptyChain);
        }
        if w.signer_chain.len() > MAX_CHAIN_LEN {
            return Err(SignedError::ChainTooLong);
        }
        let mut signer_chain = Vec::with_capacity(w.signer_chain.len());
        for c in &w.signer_chain {
            let der = B64
                .decode(c.as_bytes())
                .map_err(|_| SignedError::BadBase64("signer_chain"))?;
            if der.len() > MAX_CERT_LEN {
                return Err(SignedError::CertTooLarge);
            }
            signer_chain.push(der);
        }
        let sig = B64
            .decode(w.signature.as_bytes())
            .map_err(|_| SignedError::BadBase64("signature"))?;
        let signature: [u8; SIGNATURE_LEN] = sig
            .as_slice()
            .try_into()
            .map_err(|_| SignedError::BadSignatureLength)?;
        Ok(Self {
            kind,
            payload,
            signer_chain,
            signature,
        })
    }

    /// Signs `payload` with the device CA's key. `signer_chain[0]` must be the certificate
    /// of `key` (checked).
    pub fn sign(
        kind: DocumentKind,
        payload: Vec<u8>,
        signer_chain: Vec<Vec<u8>>,
        key: &SigningKey,
    ) -> Result<Self, SignedError> {
        let first = signer_chain.first().ok_or(SignedError::EmptyChain)?;
        if signer_chain.len() > MAX_CHAIN_LEN {
            return Err(SignedError::ChainTooLong);
        }
        let cert = parse_cert(first).ok_or(SignedError::BadSignerCertificate)?;
        let cert_key = p256_public_key(&cert).ok_or(SignedError::UnsupportedAlgorithm)?;
        if cert_key != key.public_key() {
            return Err(SignedError::KeyMismatch);
        }
        let signature = key
            .sign(&signing_input(kind, &payload))
            .map_err(|_| SignedError::SigningFailed)?;
        Ok(Self {
            kind,
            payload,
            signer_chain,
            signature,
        })
    }

    /// The JSON form (what [`SignedDocument::parse`] reads).
    pub fn to_json(&self) -> Vec<u8> {
        let w = Wire {
            format: FORMAT.to_owned(),
            kind: self.kind.as_str().to_owned(),
            payload: B64.encode(&self.payload),
            signer_chain: self.signer_chain.iter().map(|c| B64.encode(c)).collect(),
            signature: B64.encode(self.signature),
        };
        // Serializing a struct of strings cannot fail.
        let mut out = serde_json::to_vec_pretty(&w).unwrap_or_default();
        out.push(b'\n');
        out
    }

    pub fn kind(&self) -> DocumentKind {
        self.kind
    }

    /// The payload, not yet verified.
    pub fn unverified_payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signer chain (DER), not yet verified.
    pub fn signer_chain(&self) -> &[Vec<u8>] {
        &self.signer_chain
    }

    /// Verifies the document (see the module documentation) and returns its payload.
    pub fn verify(
        &self,
        expected: DocumentKind,
        pinned_root_der: &[u8],
        now: u64,
    ) -> Result<&[u8], SignedError> {
        if self.kind != expected {
            return Err(SignedError::WrongKind {
                expected: expected.as_str(),
                found: self.kind.as_str(),
            });
        }
        let root = check_root_ca(pinned_root_der, now)?;
        let at = asn1_time(now)?;
        let mut certs = Vec::with_capacity(self.signer_chain.len());
        for der in &self.signer_chain {
            let c = parse_cert(der).ok_or(SignedError::BadSignerCertificate)?;
            if !is_ecdsa_p256_sha256(&c) {
                return Err(SignedError::UnsupportedAlgorithm);
            }
            certs.push(c);
        }
        let signer = certs.first().ok_or(SignedError::EmptyChain)?;
        if !is_device_ca(signer) {
            return Err(SignedError::SignerNotDeviceCa);
        }
        for (i, c) in certs.iter().enumerate() {
            let issuer = certs.get(i + 1).unwrap_or(&root);
            if !issued_by(c, issuer) {
                return Err(SignedError::NotIssuedByRoot);
            }
            if !c.validity().is_valid_at(at) {
                return Err(SignedError::SignerNotValidNow);
            }
        }
        let key = p256_public_key(signer).ok_or(SignedError::UnsupportedAlgorithm)?;
        if !key.verify(&signing_input(self.kind, &self.payload), &self.signature) {
            return Err(SignedError::BadSignature);
        }
        Ok(&self.payload)
    }
}

// ---------------------------------------------------------------------------------
// Certificate helpers shared by `bundle`, `staff` and the agent. Pure functions.
// ---------------------------------------------------------------------------------

/// Parses one DER certificate; trailing bytes are refused.
pub(crate) fn parse_cert(der: &[u8]) -> Option<X509Certificate<'_>> {
    if der.len() > MAX_CERT_LEN {
        return None;
    }
    match X509Certificate::from_der(der) {
        Ok(([], c)) => Some(c),
        _ => None,
    }
}

/// True if the certificate's key is ECDSA P-256 and its signature ECDSA-SHA256.
pub(crate) fn is_ecdsa_p256_sha256(c: &X509Certificate<'_>) -> bool {
    c.signature_algorithm.algorithm == OID_SIG_ECDSA_WITH_SHA256 && p256_public_key(c).is_some()
}

/// The certificate's public key if it is an uncompressed ECDSA P-256 point.
pub(crate) fn p256_public_key(c: &X509Certificate<'_>) -> Option<VerifyingKey> {
    let spki = c.public_key();
    if spki.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
        return None;
    }
    let curve = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
    if curve != OID_EC_P256 {
        return None;
    }
    VerifyingKey::from_bytes(&spki.subject_public_key.data).ok()
}

/// True if `child` names `issuer` as its issuer, `issuer` is a CA, and `issuer`'s key
/// verifies `child`'s signature.
pub(crate) fn issued_by(child: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    child.issuer().as_raw() == issuer.subject().as_raw()
        && issuer.is_ca()
        && child.verify_signature(Some(issuer.public_key())).is_ok()
}

/// The subject's first organizational unit.
pub(crate) fn subject_ou<'a>(c: &'a X509Certificate<'_>) -> Option<&'a str> {
    c.subject()
        .iter_organizational_unit()
        .next()
        .and_then(|a| a.as_str().ok())
}

/// Every `title` attribute (OID 2.5.4.12) of the subject, `None` if one is not a
/// string: where an admin certificate carries its role ([`crate::x509::AdminRole`]).
pub(crate) fn subject_titles(c: &X509Certificate<'_>) -> Option<Vec<String>> {
    c.subject()
        .iter_by_oid(&x509_parser::oid_registry::OID_X509_TITLE)
        .map(|a| a.as_str().ok().map(str::to_owned))
        .collect()
}

/// The subject's first common name.
pub(crate) fn subject_cn<'a>(c: &'a X509Certificate<'_>) -> Option<&'a str> {
    c.subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
}

fn is_device_ca(c: &X509Certificate<'_>) -> bool {
    let ku_ok = match c.key_usage() {
        Ok(Some(ku)) => ku.value.digital_signature() && ku.value.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    c.is_ca() && ku_ok && subject_ou(c) == Some(DEVICE_CA_OU)
}

pub(crate) fn asn1_time(now: u64) -> Result<ASN1Time, SignedError> {
    let secs = i64::try_from(now).map_err(|_| SignedError::SignerNotValidNow)?;
    ASN1Time::from_timestamp(secs).map_err(|_| SignedError::SignerNotValidNow)
}

/// Checks that `der` is a self-signed ECDSA P-256 CA certificate valid at `now`, and
/// returns it parsed. Used on the pinned root.
pub(crate) fn check_root_ca(der: &[u8], now: u64) -> Result<X509Certificate<'_>, SignedError> {
    let root = check_root_ca_structure(der)?;
    if !root.validity().is_valid_at(asn1_time(now)?) {
        return Err(SignedError::RootNotValidNow);
    }
    Ok(root)
}

fn check_root_ca_structure(der: &[u8]) -> Result<X509Certificate<'_>, SignedError> {
    let root = parse_cert(der).ok_or(SignedError::BadRootCertificate)?;
    if !is_ecdsa_p256_sha256(&root) || !root.is_ca() || !issued_by(&root, &root) {
        return Err(SignedError::RootNotCa);
    }
    Ok(root)
}

/// Checks that `der` can serve as a pinned root CA (self-signed ECDSA P-256 CA), without
/// looking at its validity period. For the agent, before it pins a root.
pub fn validate_root_ca(der: &[u8]) -> Result<(), SignedError> {
    check_root_ca_structure(der).map(|_| ())
}

/// Summary of a certificate, for display and for callers without an X.509 parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub common_name: Option<String>,
    pub organizational_unit: Option<String>,
    /// Serial number, big-endian bytes as encoded.
    pub serial: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub is_ca: bool,
    /// The public key if it is ECDSA P-256.
    pub p256_public_key: Option<VerifyingKey>,
    /// SHA-256 of the SubjectPublicKeyInfo DER.
    pub spki_sha256: [u8; 32],
}

/// Summarises a DER certificate (no verification).
pub fn summarize_cert(der: &[u8]) -> Option<CertSummary> {
    let c = parse_cert(der)?;
    Some(CertSummary {
        common_name: subject_cn(&c).map(str::to_owned),
        organizational_unit: subject_ou(&c).map(str::to_owned),
        serial: c.raw_serial().to_vec(),
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
        is_ca: c.is_ca(),
        p256_public_key: p256_public_key(&c),
        spki_sha256: {
            let mut d = [0u8; 32];
            d.copy_from_slice(
                ring::digest::digest(&ring::digest::SHA256, c.tbs_certificate.subject_pki.raw)
                    .as_ref(),
            );
            d
        },
    })
}

/// Checks that `child_der` is issued (name and ECDSA P-256 signature) by `issuer_der`,
/// a CA certificate, and that both are valid at `now`. `None` if they chain, else why not.
pub fn check_issued_by(child_der: &[u8], issuer_der: &[u8], now: u64) -> Result<(), SignedError> {
    let child = parse_cert(child_der).ok_or(SignedError::BadSignerCertificate)?;
    let issuer = parse_cert(issuer_der).ok_or(SignedError::BadSignerCertificate)?;
    if !is_ecdsa_p256_sha256(&child) || !is_ecdsa_p256_sha256(&issuer) {
        return Err(SignedError::UnsupportedAlgorithm);
    }
    if !issued_by(&child, &issuer) {
        return Err(SignedError::NotIssuedByRoot);
    }
    let at = asn1_time(now)?;
    if !child.validity().is_valid_at(at) || !issuer.validity().is_valid_at(at) {
        return Err(SignedError::SignerNotValidNow);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_pki {
    //! A tiny PKI for unit tests (rcgen, dev-dependency only).
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use time::OffsetDateTime;

    use crate::keys::SigningKey;

    pub(crate) const NOW: u64 = 1_800_000_000;

    pub(crate) struct Ca {
        pub der: Vec<u8>,
        pub issuer: Issuer<'static, KeyPair>,
        pub pkcs8: Vec<u8>,
    }

    impl Ca {
        pub(crate) fn signing_key(&self) -> SigningKey {
            SigningKey::from_pkcs8(&self.pkcs8).unwrap()
        }
    }

    fn t(secs: u64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs as i64).unwrap()
    }

    fn ca_params(cn: &str, ou: &str, from: u64, to: u64, pathlen: Option<u8>) -> CertificateParams {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, ou);
        p.is_ca = IsCa::Ca(match pathlen {
            Some(n) => BasicConstraints::Constrained(n),
            None => BasicConstraints::Unconstrained,
        });
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = t(from);
        p.not_after = t(to);
        p
    }

    pub(crate) fn root(from: u64, to: u64) -> Ca {
        let key = KeyPair::generate().unwrap();
        let p = ca_params("test root", super::ROOT_CA_OU, from, to, None);
        let cert = p.self_signed(&key).unwrap();
        let pkcs8 = key.serialize_der();
        Ca {
            der: cert.der().to_vec(),
            issuer: Issuer::new(p, key),
            pkcs8,
        }
    }

    pub(crate) fn sub_ca(parent: &Ca, ou: &str, from: u64, to: u64) -> Ca {
        let key = KeyPair::generate().unwrap();
        let p = ca_params("test device ca", ou, from, to, Some(0));
        let cert = p.signed_by(&key, &parent.issuer).unwrap();
        let pkcs8 = key.serialize_der();
        Ca {
            der: cert.der().to_vec(),
            issuer: Issuer::new(p, key),
            pkcs8,
        }
    }

    /// A device certificate for `cn` with the given key (PKCS#8); returns DER.
    pub(crate) fn device_cert(ca: &Ca, cn: &str, key_pkcs8: &[u8], from: u64, to: u64) -> Vec<u8> {
        let key = KeyPair::try_from(key_pkcs8).unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, super::DEVICE_OU);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.not_before = t(from);
        p.not_after = t(to);
        p.signed_by(&key, &ca.issuer).unwrap().der().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::test_pki::*;
    use super::*;

    struct Fixture {
        root: Ca,
        dca: Ca,
    }

    fn fixture() -> Fixture {
        let root = root(NOW - 1000, NOW + 100_000);
        let dca = sub_ca(&root, DEVICE_CA_OU, NOW - 1000, NOW + 50_000);
        Fixture { root, dca }
    }

    fn signed(f: &Fixture, kind: DocumentKind, payload: &[u8]) -> SignedDocument {
        SignedDocument::sign(
            kind,
            payload.to_vec(),
            vec![f.dca.der.clone()],
            &f.dca.signing_key(),
        )
        .unwrap()
    }

    fn json_with(doc: &SignedDocument, field: &str, value: serde_json::Value) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(&doc.to_json()).unwrap();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn round_trip_and_verify() {
        let f = fixture();
        let doc = signed(&f, DocumentKind::StaffList, b"hello");
        let bytes = doc.to_json();
        let back = parse(&bytes).unwrap();
        assert_eq!(back, doc);
        assert_eq!(
            back.verify(DocumentKind::StaffList, &f.root.der, NOW)
                .unwrap(),
            b"hello"
        );
    }

    #[test]
    fn structural_errors() {
        let f = fixture();
        let doc = signed(&f, DocumentKind::StaffList, b"x");
        assert_eq!(
            parse(&vec![b' '; MAX_DOCUMENT_LEN + 1]),
            Err(SignedError::TooLarge)
        );
        assert!(matches!(parse(b"{"), Err(SignedError::Malformed(_))));
        assert!(matches!(
            parse(&json_with(&doc, "extra", "1".into())),
            Err(SignedError::Malformed(_))
        ));
        assert_eq!(
            parse(&json_with(&doc, "format", "shinsei-signed/v2".into())),
            Err(SignedError::UnsupportedFormat)
        );
        assert_eq!(
            parse(&json_with(&doc, "kind", "photo".into())),
            Err(SignedError::UnknownKind)
        );
        assert_eq!(
            parse(&json_with(&doc, "payload", "!!".into())),
            Err(SignedError::BadBase64("payload"))
        );
        assert_eq!(
            parse(&json_with(&doc, "signature", "AAAA".into())),
            Err(SignedError::BadSignatureLength)
        );
        assert_eq!(
            parse(&json_with(&doc, "signer_chain", serde_json::json!([]))),
            Err(SignedError::EmptyChain)
        );
        assert_eq!(
            parse(&json_with(
                &doc,
                "signer_chain",
                serde_json::json!(["AA==", "AA==", "AA==", "AA=="])
            )),
            Err(SignedError::ChainTooLong)
        );
        assert_eq!(
            parse(&json_with(&doc, "signer_chain", serde_json::json!(["%"]))),
            Err(SignedError::BadBase64("signer_chain"))
        );
    }

    #[test]
    fn tampering_is_refused() {
        let f = fixture();
        let doc = signed(&f, DocumentKind::StaffList, b"payload");
        let verify = |d: &SignedDocument| {
            d.verify(DocumentKind::StaffList, &f.root.der, NOW)
                .map(|p| p.to_vec())
        };
        // Payload changed.
        let mut d = doc.clone();
        d.payload[0] ^= 1;
        assert_eq!(verify(&d), Err(SignedError::BadSignature));
        // Signature changed.
        let mut d = doc.clone();
        d.signature[5] ^= 1;
        assert_eq!(verify(&d), Err(SignedError::BadSignature));
        // Kind changed: a staff-list signature is not a device-bundle signature.
        let mut d = doc.clone();
        d.kind = DocumentKind::DeviceBundle;
        assert_eq!(
            d.verify(DocumentKind::DeviceBundle, &f.root.der, NOW),
            Err(SignedError::BadSignature)
        );
        assert!(matches!(
            doc.verify(DocumentKind::DeviceBundle, &f.root.der, NOW),
            Err(SignedError::WrongKind { .. })
        ));
        // Signer certificate byte flipped.
        let mut d = doc.clone();
        let n = d.signer_chain[0].len() - 10;
        d.signer_chain[0][n] ^= 1;
        assert!(matches!(
            verify(&d),
            Err(SignedError::NotIssuedByRoot | SignedError::BadSignerCertificate)
        ));
        d.signer_chain[0] = b"junk".to_vec();
        assert_eq!(verify(&d), Err(SignedError::BadSignerCertificate));
    }

    #[test]
    fn chain_errors() {
        let f = fixture();
        let doc = signed(&f, DocumentKind::StaffList, b"p");
        // A different root.
        let other = root(NOW - 1000, NOW + 100_000);
        assert_eq!(
            doc.verify(DocumentKind::StaffList, &other.der, NOW),
            Err(SignedError::NotIssuedByRoot)
        );
        // Root not valid now / signer expired.
        assert_eq!(
            doc.verify(DocumentKind::StaffList, &f.root.der, NOW + 200_000),
            Err(SignedError::RootNotValidNow)
        );
        assert_eq!(
            doc.verify(DocumentKind::StaffList, &f.root.der, NOW + 60_000),
            Err(SignedError::SignerNotValidNow)
        );
        // Root pin garbage / not a CA.
        assert_eq!(
            doc.verify(DocumentKind::StaffList, b"nope", NOW),
            Err(SignedError::BadRootCertificate)
        );
        assert_eq!(
            doc.verify(DocumentKind::StaffList, &f.dca.der, NOW),
            Err(SignedError::RootNotCa)
        );
        // Signed by a CA that is not the device CA.
        let wrong = sub_ca(&f.root, "shinsei something else", NOW - 10, NOW + 10_000);
        let d = SignedDocument::sign(
            DocumentKind::StaffList,
            b"p".to_vec(),
            vec![wrong.der.clone()],
            &wrong.signing_key(),
        )
        .unwrap();
        assert_eq!(
            d.verify(DocumentKind::StaffList, &f.root.der, NOW),
            Err(SignedError::SignerNotDeviceCa)
        );
        // The root itself is not the device CA.
        let d = SignedDocument::sign(
            DocumentKind::StaffList,
            b"p".to_vec(),
            vec![f.root.der.clone()],
            &f.root.signing_key(),
        )
        .unwrap();
        assert_eq!(
            d.verify(DocumentKind::StaffList, &f.root.der, NOW),
            Err(SignedError::SignerNotDeviceCa)
        );
        // Signing with a key that is not the certificate's.
        assert_eq!(
            SignedDocument::sign(
                DocumentKind::StaffList,
                b"p".to_vec(),
                vec![f.dca.der.clone()],
                &f.root.signing_key(),
            ),
            Err(SignedError::KeyMismatch)
        );
        assert!(validate_root_ca(&f.root.der).is_ok());
        assert_eq!(validate_root_ca(&f.dca.der), Err(SignedError::RootNotCa));
        assert!(check_issued_by(&f.dca.der, &f.root.der, NOW).is_ok());
        assert_eq!(
            check_issued_by(&f.dca.der, &other.der, NOW),
            Err(SignedError::NotIssuedByRoot)
        );
    }
}
