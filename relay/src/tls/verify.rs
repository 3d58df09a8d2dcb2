//! The client-certificate verifiers of the two listeners.
//!
//! Device listener: rustls' `WebPkiClientVerifier` anchored on the device CA only (with
//! the configured CRLs), then: the certificate must be a device certificate (OU
//! `shinsei device`, CN a device ID) whose serial, SPKI and device ID are not denied
//! (`crate::deny`). The deny list changes live (admin revoke, wipe confirmation, file
//! reload) and the inner verifier can be rebuilt with new CRLs without a restart.
//!
//! Admin listener: `WebPkiClientVerifier` anchored on the root CA, with the same CRLs
//! (a CRL signed by the root revokes admin certificates; an admin certificate no
//! configured CRL speaks for passes: the device CA's CRL cannot list it), then: OU
//! `shinsei admin` with a valid role, and issued directly by the root (a certificate
//! from the device CA never passes, whatever its OU). The deny list (serials, SPKI
//! digests, administrator names) is checked on every admin *request*
//! (`crate::http::admin`), where a refusal can be audited with what was asked.

use std::{
    fmt,
    sync::{Arc, RwLock},
};

use rustls::{
    client::danger::HandshakeSignatureValid,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime},
    server::{
        danger::{ClientCertVerified, ClientCertVerifier},
        WebPkiClientVerifier,
    },
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};

use crate::{
    deny::DenyList,
    identity::{AdminIdentity, DeviceIdentity},
};

/// Whose certificates a verifier checks: devices must be spoken for by a CRL when CRLs
/// are configured; administrators are checked against the CRLs that speak for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revocation {
    UnknownDenied,
    UnknownAllowed,
}

fn build_webpki(
    anchor: CertificateDer<'static>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    provider: &Arc<CryptoProvider>,
    unknown: Revocation,
) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(anchor)?;
    let mut b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    if !crls.is_empty() {
        b = b.with_crls(crls).only_check_end_entity_revocation();
        if unknown == Revocation::UnknownAllowed {
            b = b.allow_unknown_revocation_status();
        }
    }
    b.build()
        .map_err(|e| rustls::Error::General(format!("client verifier: {e}")))
}

fn reject(e: CertificateError) -> rustls::Error {
    rustls::Error::InvalidCertificate(e)
}

/// `Debug` that names the type only (the verifiers hold keys and locks).
macro_rules! opaque_debug {
    ($t:ident) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    };
}

/// A webpki chain verifier on one anchor that can be rebuilt with new CRLs without a
/// restart (new handshakes use the new one).
struct Chain {
    anchor: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
    unknown: Revocation,
    inner: RwLock<Arc<dyn ClientCertVerifier>>,
    hints: Vec<DistinguishedName>,
}

impl Chain {
    fn new(
        anchor: CertificateDer<'static>,
        crls: Vec<CertificateRevocationListDer<'static>>,
        provider: Arc<CryptoProvider>,
        unknown: Revocation,
    ) -> Result<Self, rustls::Error> {
        let inner = build_webpki(anchor.clone(), crls, &provider, unknown)?;
        let hints = inner.root_hint_subjects().to_vec();
        Ok(Self {
            anchor,
            provider,
            unknown,
            inner: RwLock::new(inner),
            hints,
        })
    }

    fn set_crls(
        &self,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<(), rustls::Error> {
        let v = build_webpki(self.anchor.clone(), crls, &self.provider, self.unknown)?;
        let mut g = self
            .inner
            .write()
            .map_err(|_| rustls::Error::General("verifier lock poisoned".into()))?;
        *g = v;
        Ok(())
    }

    fn get(&self) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        self.inner
            .read()
            .map(|g| g.clone())
            .map_err(|_| rustls::Error::General("verifier lock poisoned".into()))
    }
}

/// The device listener's verifier (see the module docs).
pub struct DeviceClientVerifier {
    chain: Chain,
    deny: Arc<DenyList>,
}

opaque_debug!(DeviceClientVerifier);

impl DeviceClientVerifier {
    pub fn new(
        device_ca: CertificateDer<'static>,
        crls: Vec<CertificateRevocationListDer<'static>>,
        deny: Arc<DenyList>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, rustls::Error> {
        Ok(Self {
            chain: Chain::new(device_ca, crls, provider, Revocation::UnknownDenied)?,
            deny,
        })
    }

    /// Rebuilds the chain verifier with a new set of CRLs (live; new handshakes use it).
    pub fn set_crls(
        &self,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<(), rustls::Error> {
        self.chain.set_crls(crls)
    }

    fn inner(&self) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        self.chain.get()
    }
}

/// The methods both verifiers take from their inner webpki verifier (`self.inner()`):
/// client authentication offered and mandatory, the chain check (then the listener's own
/// rule, `self.accepts`), handshake signatures, schemes.
macro_rules! delegate_to_inner {
    ($($signature:ident),+) => {
        $(
            fn $signature(
                &self,
                message: &[u8],
                cert: &CertificateDer<'_>,
                dss: &DigitallySignedStruct,
            ) -> Result<HandshakeSignatureValid, rustls::Error> {
                self.inner()?.$signature(message, cert, dss)
            }
        )+
    };
    () => {
        fn offer_client_auth(&self) -> bool {
            true
        }

        fn client_auth_mandatory(&self) -> bool {
            true
        }

        fn verify_client_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            now: UnixTime,
        ) -> Result<ClientCertVerified, rustls::Error> {
            let ok = self
                .inner()?
                .verify_client_cert(end_entity, intermediates, now)?;
            self.accepts(end_entity, now)?;
            Ok(ok)
        }

        delegate_to_inner!(verify_tls12_signature, verify_tls13_signature);

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner()
                .map(|v| v.supported_verify_schemes())
                .unwrap_or_default()
        }
    };
}

impl ClientCertVerifier for DeviceClientVerifier {
    delegate_to_inner!();

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.chain.hints
    }
}

impl DeviceClientVerifier {
    /// After the chain check: a device certificate, not on the deny list.
    fn accepts(
        &self,
        end_entity: &CertificateDer<'_>,
        _now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let id = DeviceIdentity::from_cert(end_entity)
            .ok_or_else(|| reject(CertificateError::ApplicationVerificationFailure))?;
        if self.deny.is_denied(&id.fingerprint, id.device_id.as_str()) {
            tracing::info!(device_id = %id.device_id, "TLS: denied device certificate refused");
            return Err(reject(CertificateError::Revoked));
        }
        Ok(())
    }
}

/// The admin listener's verifier (see the module docs).
pub struct AdminClientVerifier {
    root_der: CertificateDer<'static>,
    chain: Chain,
}

opaque_debug!(AdminClientVerifier);

impl AdminClientVerifier {
    pub fn new(
        root_ca: CertificateDer<'static>,
        crls: Vec<CertificateRevocationListDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, rustls::Error> {
        Ok(Self {
            chain: Chain::new(root_ca.clone(), crls, provider, Revocation::UnknownAllowed)?,
            root_der: root_ca,
        })
    }

    /// Rebuilds the chain verifier with a new set of CRLs (live; new handshakes use it).
    pub fn set_crls(
        &self,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<(), rustls::Error> {
        self.chain.set_crls(crls)
    }

    fn inner(&self) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        self.chain.get()
    }
}

impl ClientCertVerifier for AdminClientVerifier {
    delegate_to_inner!();

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.chain.hints
    }
}

impl AdminClientVerifier {
    /// After the chain check: an admin certificate issued directly by the root.
    fn accepts(&self, end_entity: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
        if AdminIdentity::from_cert(end_entity).is_none() {
            return Err(reject(CertificateError::ApplicationVerificationFailure));
        }
        // Directly issued by the root: a device CA can never mint an admin.
        shinsei_protocol::signed::check_issued_by(end_entity, &self.root_der, now.as_secs())
            .map_err(|_| reject(CertificateError::ApplicationVerificationFailure))?;
        Ok(())
    }
}
