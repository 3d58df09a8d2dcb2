//! The client-certificate verifiers of the two listeners.
//!
//! Device listener: rustls' `WebPkiClientVerifier` anchored on the device CA only (with
//! the configured CRLs), then: the certificate must be a device certificate (OU
//! `shinsei device`, CN a device ID) whose serial, SPKI and device ID are not denied
//! (`crate::deny`). The deny list changes live (admin revoke, wipe confirmation, file
//! reload) and the inner verifier can be rebuilt with new CRLs without a restart.
//!
//! Admin listener: `WebPkiClientVerifier` anchored on the root CA, then: OU
//! `shinsei admin`, and issued directly by the root (a certificate from the device CA
//! never passes, whatever its OU).

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

fn build_webpki(
    anchor: CertificateDer<'static>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(anchor)?;
    let mut b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    if !crls.is_empty() {
        b = b.with_crls(crls).only_check_end_entity_revocation();
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

/// The device listener's verifier (see the module docs).
pub struct DeviceClientVerifier {
    anchor: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
    inner: RwLock<Arc<dyn ClientCertVerifier>>,
    hints: Vec<DistinguishedName>,
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
        let inner = build_webpki(device_ca.clone(), crls, &provider)?;
        let hints = inner.root_hint_subjects().to_vec();
        Ok(Self {
            anchor: device_ca,
            provider,
            inner: RwLock::new(inner),
            hints,
            deny,
        })
    }

    /// Rebuilds the chain verifier with a new set of CRLs (live; new handshakes use it).
    pub fn set_crls(
        &self,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<(), rustls::Error> {
        let v = build_webpki(self.anchor.clone(), crls, &self.provider)?;
        let mut g = self
            .inner
            .write()
            .map_err(|_| rustls::Error::General("verifier lock poisoned".into()))?;
        *g = v;
        Ok(())
    }

    fn inner(&self) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        self.inner
            .read()
            .map(|g| g.clone())
            .map_err(|_| rustls::Error::General("verifier lock poisoned".into()))
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
        &self.hints
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
    inner: Arc<dyn ClientCertVerifier>,
}

opaque_debug!(AdminClientVerifier);

impl AdminClientVerifier {
    pub fn new(
        root_ca: CertificateDer<'static>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, rustls::Error> {
        let inner = build_webpki(root_ca.clone(), Vec::new(), &provider)?;
        Ok(Self {
            root_der: root_ca,
            inner,
        })
    }

    fn inner(&self) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        Ok(self.inner.clone())
    }
}

impl ClientCertVerifier for AdminClientVerifier {
    delegate_to_inner!();

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
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
