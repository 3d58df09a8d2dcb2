//! The relay pin: how the agent knows that the server it talks to is the ward's relay,
//! so that a disable or wipe order it obeys comes from the relay (issue 17).
//!
//! # The threat
//!
//! The ward's PKI has a root CA (kept offline) and a device CA (the everyday key on the
//! provisioning PC: it signs device certificates, bundles and staff lists). Plain WebPKI
//! verification on the pinned root accepts any certificate that chains to the root and
//! names the relay's host. A device CA without usage constraints (every ward made before
//! issue 17) chains to the root, so whoever holds the device-CA key and a network
//! position could mint `relay.example` with EKU serverAuth, present it with the device
//! CA as intermediate, and answer `GET /v1/status` with `wipe_pending`.
//!
//! # The rule
//!
//! [`RelayPin`] is a [`ServerCertVerifier`] that first runs rustls'
//! [`WebPkiServerVerifier`] built on the pinned root alone, unchanged (chain to the root,
//! signatures, validity, EKU serverAuth, the bundle's host name; its handshake-signature
//! checks too), and then additionally requires the end-entity certificate to be
//!
//! 1. issued **directly** by the pinned root CA
//!    ([`shinsei_protocol::signed::check_issued_by`]: issuer name, ECDSA P-256 signature
//!    by the root's key, both valid now), and
//! 2. a relay certificate: subject OU [`RELAY_OU`] (`shinsei relay`), which only
//!    `shinsei-provision relay init` puts in a root-issued certificate.
//!
//! The relay's certificate is the only root-issued certificate with that OU and EKU
//! serverAuth. Issuing one needs the **root** key, which stays offline; the device-CA
//! key can at best issue a certificate *under* the device CA, which fails rule 1
//! whatever intermediates the server sends (they are not consulted for it). Rule 2 keeps
//! any other root-issued certificate (an admin's, a future one) from standing in for the
//! relay. With the device CA since issue 17 also limited to clientAuth
//! (`shinsei-provision ca init`), WebPKI already refuses such a certificate for its
//! purpose; the pin is what protects wards whose device CA predates that.
//!
//! The pin names the relay's issuer and role, not its key: the relay's TLS key can be
//! renewed (`relay init` again with the root) without re-enrolling every tablet.
//!
//! A refusal is [`rustls::Error::InvalidCertificate`] with
//! [`CertificateError::Other`] holding a [`PinError`]; the transport reports it as
//! [`crate::error::AgentError::UntrustedRelay`], never as the relay refusing *our*
//! certificate (which would lock the tablet as revoked).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use shinsei_protocol::signed::{check_issued_by, summarize_cert, SignedError, RELAY_OU};

/// Why the relay pin refused a server certificate that WebPKI had accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PinError {
    /// Not issued directly by the pinned ward root CA (e.g. minted by the device CA).
    #[error("the server certificate is not issued directly by the ward root CA ({0:?})")]
    NotIssuedByRoot(SignedError),
    /// Issued by the root, but not the relay's (subject OU is not `shinsei relay`).
    #[error("the server certificate is not the relay's (subject OU {found:?}, not {RELAY_OU:?})")]
    NotRelay { found: Option<String> },
}

impl From<PinError> for rustls::Error {
    fn from(e: PinError) -> Self {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
    }
}

/// The relay pin (see the module documentation).
#[derive(Debug)]
pub(crate) struct RelayPin {
    webpki: Arc<WebPkiServerVerifier>,
    root_der: Vec<u8>,
}

impl RelayPin {
    /// A pin on `root_der`, the ward root CA pinned at enrollment (the only trust
    /// anchor).
    pub(crate) fn new(
        root_der: &[u8],
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(root_der.to_vec()))?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| rustls::Error::General(format!("pinned root CA: {e}")))?;
        Ok(Self {
            webpki,
            root_der: root_der.to_vec(),
        })
    }

    /// Rules 1 and 2 on the end-entity certificate alone.
    pub(crate) fn check_relay_cert(&self, end_entity: &[u8], now: u64) -> Result<(), PinError> {
        check_issued_by(end_entity, &self.root_der, now).map_err(PinError::NotIssuedByRoot)?;
        let ou = summarize_cert(end_entity).and_then(|s| s.organizational_unit);
        if ou.as_deref() != Some(RELAY_OU) {
            return Err(PinError::NotRelay { found: ou });
        }
        Ok(())
    }
}

impl ServerCertVerifier for RelayPin {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        self.check_relay_cert(end_entity, now.as_secs())?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The pin's refusal, if `e` is one.
pub(crate) fn pin_error(e: &rustls::Error) -> Option<&PinError> {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<PinError>()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    use shinsei_protocol::signed::{ADMIN_OU, DEVICE_CA_OU, ROOT_CA_OU};

    const HOST: &str = "relay.ward.test";

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn dn(cn: &str, ou: &str) -> DistinguishedName {
        let mut d = DistinguishedName::new();
        d.push(DnType::OrganizationalUnitName, ou);
        d.push(DnType::CommonName, cn);
        d
    }

    fn ca(
        cn: &str,
        ou: &str,
        parent: Option<&Issuer<'_, KeyPair>>,
    ) -> (Vec<u8>, Issuer<'static, KeyPair>) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(cn, ou);
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(if parent.is_some() {
            0
        } else {
            1
        }));
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = match parent {
            Some(i) => p.signed_by(&key, i).unwrap(),
            None => p.self_signed(&key).unwrap(),
        };
        (cert.der().to_vec(), Issuer::new(p, key))
    }

    fn leaf(
        issuer: &Issuer<'_, KeyPair>,
        host: &str,
        ou: &str,
        eku: ExtendedKeyUsagePurpose,
    ) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![host.to_string()]).unwrap();
        p.distinguished_name = dn(host, ou);
        p.extended_key_usages = vec![eku];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.signed_by(&key, issuer).unwrap().der().clone()
    }

    struct Ward {
        root_der: Vec<u8>,
        root: Issuer<'static, KeyPair>,
        dca_der: Vec<u8>,
        dca: Issuer<'static, KeyPair>,
    }

    /// A ward whose device CA has no EKU, as before issue 17.
    fn ward() -> Ward {
        let (root_der, root) = ca("root", ROOT_CA_OU, None);
        let (dca_der, dca) = ca("device ca", DEVICE_CA_OU, Some(&root));
        Ward {
            root_der,
            root,
            dca_der,
            dca,
        }
    }

    fn verify(
        pin: &RelayPin,
        ee: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        host: &str,
    ) -> Result<(), rustls::Error> {
        pin.verify_server_cert(
            ee,
            intermediates,
            &ServerName::try_from(host.to_string()).unwrap(),
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
    }

    #[test]
    fn the_relays_certificate_from_the_root_is_accepted() {
        let w = ward();
        let pin = RelayPin::new(&w.root_der, provider()).unwrap();
        let ee = leaf(&w.root, HOST, RELAY_OU, ExtendedKeyUsagePurpose::ServerAuth);
        verify(&pin, &ee, &[], HOST).unwrap();
        // Extra certificates sent along change nothing.
        verify(&pin, &ee, &[CertificateDer::from(w.root_der.clone())], HOST).unwrap();
    }

    #[test]
    fn a_device_ca_server_certificate_is_refused_whatever_the_intermediates() {
        let w = ward();
        let pin = RelayPin::new(&w.root_der, provider()).unwrap();
        let ee = leaf(&w.dca, HOST, RELAY_OU, ExtendedKeyUsagePurpose::ServerAuth);
        let dca = CertificateDer::from(w.dca_der.clone());
        // WebPKI alone accepts it (the gap): the pin is what refuses it.
        let now = UnixTime::now();
        pin.webpki
            .verify_server_cert(
                &ee,
                std::slice::from_ref(&dca),
                &ServerName::try_from(HOST).unwrap(),
                &[],
                now,
            )
            .unwrap();
        for intermediates in [
            vec![dca.clone()],
            vec![dca.clone(), CertificateDer::from(w.root_der.clone())],
        ] {
            let e = verify(&pin, &ee, &intermediates, HOST).unwrap_err();
            assert!(
                matches!(pin_error(&e), Some(PinError::NotIssuedByRoot(_))),
                "{e:?}"
            );
            assert!(!super::super::is_certificate_refusal(&e), "{e:?}");
        }
    }

    #[test]
    fn a_root_issued_certificate_that_is_not_the_relays_is_refused() {
        let w = ward();
        let pin = RelayPin::new(&w.root_der, provider()).unwrap();
        for ou in [ADMIN_OU, "something else"] {
            let ee = leaf(&w.root, HOST, ou, ExtendedKeyUsagePurpose::ServerAuth);
            let e = verify(&pin, &ee, &[], HOST).unwrap_err();
            assert!(
                matches!(pin_error(&e), Some(PinError::NotRelay { found: Some(f) }) if f == ou),
                "{ou}: {e:?}"
            );
        }
    }

    #[test]
    fn webpki_checks_still_come_first() {
        let w = ward();
        let pin = RelayPin::new(&w.root_der, provider()).unwrap();
        // Wrong host name: WebPKI's refusal, not the pin's.
        let ee = leaf(
            &w.root,
            "other.ward.test",
            RELAY_OU,
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let e = verify(&pin, &ee, &[], HOST).unwrap_err();
        assert!(pin_error(&e).is_none(), "{e:?}");
        assert!(matches!(e, rustls::Error::InvalidCertificate(_)), "{e:?}");
        // A client-only certificate from the root (an admin's): refused for its purpose.
        let ee = leaf(&w.root, HOST, RELAY_OU, ExtendedKeyUsagePurpose::ClientAuth);
        let e = verify(&pin, &ee, &[], HOST).unwrap_err();
        assert!(pin_error(&e).is_none(), "{e:?}");
        // Another CA altogether.
        let (_, other) = ca("other root", ROOT_CA_OU, None);
        let ee = leaf(&other, HOST, RELAY_OU, ExtendedKeyUsagePurpose::ServerAuth);
        let e = verify(&pin, &ee, &[], HOST).unwrap_err();
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            ),
            "{e:?}"
        );
    }
}
