//! The deny list (revoked and wiped devices) and the client-certificate verifiers of
//! the two listeners.
//!
//! Device listener: rustls' `WebPkiClientVerifier` anchored on the device CA only (with
//! the configured CRLs), then: the certificate must be a device certificate (OU
//! `shinsei device`, CN a device ID) whose serial, SPKI and device ID are not denied.
//! The deny list changes live (admin revoke, wipe confirmation, file reload) and the
//! inner verifier can be rebuilt with new CRLs without a restart.
//!
//! Admin listener: `WebPkiClientVerifier` anchored on the root CA, then: OU
//! `shinsei admin`, and issued directly by the root (a certificate from the device CA
//! never passes, whatever its OU).

use std::{
    collections::HashSet,
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

use crate::identity::{AdminIdentity, CertFingerprint, DeviceIdentity};

/// Denied serials, SPKI digests and device IDs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenySet {
    pub serials: HashSet<String>,
    pub spkis: HashSet<String>,
    pub devices: HashSet<String>,
}

impl DenySet {
    fn matches(&self, fp: &CertFingerprint, device_id: &str) -> bool {
        self.serials.contains(&fp.serial_hex)
            || self.spkis.contains(&fp.spki_sha256_hex)
            || self.devices.contains(device_id)
    }

    pub fn len(&self) -> usize {
        self.serials.len() + self.spkis.len() + self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parses a deny-list file: `serial:HEX`, `spki:HEX` or `device:ID` per line,
    /// blank lines and `#` comments ignored.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut s = DenySet::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (kind, value) = line
                .split_once(':')
                .ok_or_else(|| format!("line {}: expected KIND:VALUE", n + 1))?;
            let value = value.trim();
            match kind.trim() {
                "serial" | "spki" => {
                    let v = value.to_ascii_lowercase().replace(':', "");
                    if v.is_empty() || hex::decode(&v).is_err() {
                        return Err(format!("line {}: not hex", n + 1));
                    }
                    if kind.trim() == "serial" {
                        s.serials.insert(v);
                    } else {
                        s.spkis.insert(v);
                    }
                }
                "device" => {
                    let d = shinsei_protocol::device::DeviceId::parse(value)
                        .map_err(|_| format!("line {}: not a device ID", n + 1))?;
                    s.devices.insert(d.as_str().to_owned());
                }
                other => return Err(format!("line {}: unknown kind {other:?}", n + 1)),
            }
        }
        Ok(s)
    }
}

/// The live deny list: entries from the registry (revoked/wiped devices, persistent in
/// the store) and from the deny-list file (replaced on reload).
#[derive(Debug, Default)]
pub struct DenyList {
    registry: RwLock<DenySet>,
    file: RwLock<DenySet>,
}

impl DenyList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Denies a certificate (serial and SPKI).
    pub fn deny_cert(&self, fp: &CertFingerprint) {
        if let Ok(mut s) = self.registry.write() {
            s.serials.insert(fp.serial_hex.clone());
            s.spkis.insert(fp.spki_sha256_hex.clone());
        }
    }

    /// Denies every certificate whose CN is `device_id`.
    pub fn deny_device(&self, device_id: &str) {
        if let Ok(mut s) = self.registry.write() {
            s.devices.insert(device_id.to_owned());
        }
    }

    /// Adds a set to the registry part (start-up, from the store).
    pub fn extend_registry(&self, set: DenySet) {
        if let Ok(mut s) = self.registry.write() {
            s.serials.extend(set.serials);
            s.spkis.extend(set.spkis);
            s.devices.extend(set.devices);
        }
    }

    /// Replaces the file part.
    pub fn replace_file(&self, set: DenySet) {
        if let Ok(mut s) = self.file.write() {
            *s = set;
        }
    }

    /// Is this certificate or device denied? Fails closed if a lock is poisoned.
    pub fn is_denied(&self, fp: &CertFingerprint, device_id: &str) -> bool {
        let r = match self.registry.read() {
            Ok(s) => s.matches(fp, device_id),
            Err(_) => true,
        };
        r || match self.file.read() {
            Ok(s) => s.matches(fp, device_id),
            Err(_) => true,
        }
    }
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parse_deny_file() {
        let s =
            DenySet::parse("# revoked\nserial: 0A:bc\nspki:00ff  # comment\n\ndevice:tab-0009\n")
                .unwrap();
        assert!(s.serials.contains("0abc"));
        assert!(s.spkis.contains("00ff"));
        assert!(s.devices.contains("TAB-0009"));
        assert!(DenySet::parse("serial:xyz").is_err());
        assert!(DenySet::parse("foo:00").is_err());
        assert!(DenySet::parse("00").is_err());
    }

    #[test]
    fn deny_list_matches() {
        let d = DenyList::new();
        let fp = CertFingerprint {
            serial_hex: "01".into(),
            spki_sha256_hex: "aa".into(),
        };
        assert!(!d.is_denied(&fp, "TAB-1"));
        d.deny_cert(&fp);
        assert!(d.is_denied(&fp, "TAB-1"));
        let other = CertFingerprint {
            serial_hex: "02".into(),
            spki_sha256_hex: "bb".into(),
        };
        assert!(!d.is_denied(&other, "TAB-2"));
        d.replace_file(DenySet::parse("device:TAB-2").unwrap());
        assert!(d.is_denied(&other, "TAB-2"));
        d.replace_file(DenySet::default());
        assert!(!d.is_denied(&other, "TAB-2"));
    }
}
