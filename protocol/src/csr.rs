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
}
