//! Certificate renewal requests (PKCS#10, PEM) as the relay reads them: whose key, for
//! which device, signed by that key. The relay checks that a renewal request is for the
//! key the tablet connected with; IT's signer checks it again against the key it
//! certified (`shinsei-provision device renew`), so neither trusts the other's reading.
//!
//! Parsing is `x509-parser`'s (PEM and DER, and the self-signature); nothing here is
//! hand-written but the checks.

use ring::digest::{digest, SHA256};
use x509_parser::{
    certification_request::X509CertificationRequest, pem::parse_x509_pem, prelude::FromDer,
};

/// Why a renewal request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    #[error("the renewal request is not one PEM CERTIFICATE REQUEST")]
    NotPem,
    #[error("the renewal request is not a PKCS#10 request")]
    Malformed,
    #[error("the renewal request is not signed by its own key")]
    Signature,
    #[error("the renewal request names no common name")]
    NoCommonName,
}

/// What a verified request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrFacts {
    /// The subject's CN (the device ID it asks for).
    pub common_name: String,
    /// SHA-256 of its SubjectPublicKeyInfo DER (what certificate fingerprints use).
    pub spki_sha256: [u8; 32],
}

/// Parses a PEM request, checks its self-signature, and returns its CN and key digest.
pub fn read_csr(pem: &str) -> Result<CsrFacts, CsrError> {
    let (rest, p) = parse_x509_pem(pem.as_bytes()).map_err(|_| CsrError::NotPem)?;
    if p.label != "CERTIFICATE REQUEST" || !rest.iter().all(u8::is_ascii_whitespace) {
        return Err(CsrError::NotPem);
    }
    let (trailing, req) =
        X509CertificationRequest::from_der(&p.contents).map_err(|_| CsrError::Malformed)?;
    if !trailing.is_empty() {
        return Err(CsrError::Malformed);
    }
    req.verify_signature().map_err(|_| CsrError::Signature)?;
    let info = &req.certification_request_info;
    let common_name = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .ok_or(CsrError::NoCommonName)?
        .to_owned();
    let mut spki_sha256 = [0u8; 32];
    spki_sha256.copy_from_slice(digest(&SHA256, info.subject_pki.raw).as_ref());
    Ok(CsrFacts {
        common_name,
        spki_sha256,
    })
}

/// Hex digits of a key fingerprint shown on a tablet's screen and typed by IT to
/// approve a new key (80 bits: finding another key with the same digits is a 2^80
/// search).
pub const FINGERPRINT_DIGITS: usize = 20;

/// The fingerprint of a key as a tablet shows it to IT: the first
/// [`FINGERPRINT_DIGITS`] hex digits of its SPKI SHA-256, upper case, in groups of four
/// (`"3F2A 9C01 77B4 E5D0 1A2B"`).
pub fn fingerprint_text(spki_sha256: &[u8; 32]) -> String {
    let hex = hex::encode_upper(spki_sha256);
    let digits = hex.get(..FINGERPRINT_DIGITS).unwrap_or(&hex);
    let groups: Vec<&str> = digits
        .as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    groups.join(" ")
}

/// Whether `typed` (what IT copied from the tablet's screen; spaces, `:` and `-`
/// ignored, any case) names this key: at least [`FINGERPRINT_DIGITS`] hex digits, all
/// of them a prefix of the key's SPKI SHA-256 in hex.
pub fn fingerprint_matches(spki_sha256: &[u8; 32], typed: &str) -> bool {
    let digits: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | ':' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    digits.len() >= FINGERPRINT_DIGITS
        && digits.chars().all(|c| c.is_ascii_hexdigit())
        && hex::encode(spki_sha256).starts_with(&digits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

    use super::*;

    fn csr(cn: &str, key: &KeyPair) -> String {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.serialize_request(key).unwrap().pem().unwrap()
    }

    #[test]
    fn a_request_names_its_device_and_its_key() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let facts = read_csr(&csr("TAB-0001", &key)).unwrap();
        assert_eq!(facts.common_name, "TAB-0001");
        // The same digest a certificate for this key has.
        let cert = CertificateParams::default().self_signed(&key).unwrap();
        let s = crate::signed::summarize_cert(cert.der()).unwrap();
        assert_eq!(facts.spki_sha256, s.spki_sha256);
    }

    #[test]
    fn bad_requests_are_refused() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let good = csr("TAB-0001", &key);
        assert_eq!(read_csr("hello"), Err(CsrError::NotPem));
        let cert = CertificateParams::default().self_signed(&key).unwrap();
        assert_eq!(read_csr(&cert.pem()), Err(CsrError::NotPem));
        // One bit of the signed part flipped: the signature no longer holds.
        let (_, p) = parse_x509_pem(good.as_bytes()).unwrap();
        let mut der = p.contents.clone();
        let i = der.len() / 3;
        der[i] ^= 1;
        let tampered = format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der)
        );
        assert!(matches!(
            read_csr(&tampered),
            Err(CsrError::Signature | CsrError::Malformed)
        ));
        assert_eq!(read_csr(&format!("{good}trailing")), Err(CsrError::NotPem));
    }

    #[test]
    fn a_fingerprint_is_shown_in_groups_and_matched_as_typed() {
        let mut d = [0u8; 32];
        for (i, b) in d.iter_mut().enumerate() {
            *b = u8::try_from(i * 17 % 256).unwrap();
        }
        assert_eq!(fingerprint_text(&d), "0011 2233 4455 6677 8899");
        assert!(fingerprint_matches(&d, "0011 2233 4455 6677 8899"));
        assert!(fingerprint_matches(&d, "00:11:22:33:44:55:66:77:88:99:aa"));
        assert!(fingerprint_matches(&d, &hex::encode(d)));
        // Too short, wrong digit, not hex.
        assert!(!fingerprint_matches(&d, "0011 2233 4455 6677 889"));
        assert!(!fingerprint_matches(&d, "0011 2233 4455 6677 8898"));
        assert!(!fingerprint_matches(&d, "0011 2233 4455 6677 889Z"));
        assert!(!fingerprint_matches(&d, ""));
    }
}
