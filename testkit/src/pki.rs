//! A ward PKI (root CA, device CA, relay material), tablets and admins, all made through
//! the `shinsei-provisioning` library as IT would.

use std::path::Path;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use shinsei_pki::layout::{self, PkiLayout};
use shinsei_protocol::{
    application::Application,
    bundle::Profile,
    device::DeviceId,
    envelope::{self, EnvelopeId},
    keys::{RelayPublicKey, SigningKey, VerifyingKey},
    x509::AdminRole,
};
use shinsei_provisioning::{
    device::{self as pdevice, SignOptions},
    pki::{self, CaInitOptions},
    relay::{self as prelay, RelayInitOptions},
};

use crate::now;

/// The relay host name in the test PKI's relay certificate.
pub const HOST: &str = "relay.test";

/// A PKI directory with root CA, device CA and relay material.
pub struct Pki {
    pub layout: PkiLayout,
    pub root: CertificateDer<'static>,
    pub relay_key: RelayPublicKey,
    pub receipt_key: VerifyingKey,
}

/// How to make a [`Pki`]: `ca init` then `relay init` at one moment.
pub struct PkiBuilder {
    layout: PkiLayout,
    org: String,
    host: String,
    at: u64,
}

impl PkiBuilder {
    /// A PKI in the directory `dir` (created), organisation "Test Ward", relay
    /// [`HOST`], made an hour ago.
    pub fn new(dir: &Path) -> Self {
        Self {
            layout: PkiLayout::new(dir.to_owned()),
            org: "Test Ward".into(),
            host: HOST.into(),
            at: now() - 3600,
        }
    }

    /// The organisation named in the CA certificates.
    pub fn org(mut self, org: impl Into<String>) -> Self {
        self.org = org.into();
        self
    }

    /// The host the relay certificate names.
    pub fn host(mut self, host: &str) -> Self {
        self.host = host.into();
        self
    }

    /// The moment the CA and relay material are made (Unix seconds).
    pub fn at(mut self, t: u64) -> Self {
        self.at = t;
        self
    }

    /// `ca init` and `relay init` only (the bare layout).
    pub fn layout(self) -> PkiLayout {
        pki::ca_init(
            &self.layout,
            &CaInitOptions {
                org: self.org,
                root_days: 3650,
                device_ca_days: 1825,
            },
            self.at,
        )
        .unwrap();
        prelay::relay_init(
            &self.layout,
            &RelayInitOptions {
                host: self.host,
                port: 8443,
                admin_port: 8444,
                tls_days: 365,
            },
            self.at,
        )
        .unwrap();
        self.layout
    }

    /// The PKI with its root certificate and the relay's public keys loaded.
    pub fn build(self) -> Pki {
        let layout = self.layout();
        let d = layout::load_deployment(&layout).unwrap();
        Pki {
            root: layout::read_cert_pem(&layout.root_ca_cert()).unwrap(),
            relay_key: d.hpke_public_key().unwrap(),
            receipt_key: d.receipt_key().unwrap(),
            layout,
        }
    }
}

/// A PKI in `dir/name`, organisation "`name` Ward", relay [`HOST`].
pub fn make_pki(dir: &Path, name: &str) -> Pki {
    make_pki_for(dir, name, HOST)
}

/// [`make_pki`] with a relay certificate naming `host`.
pub fn make_pki_for(dir: &Path, name: &str, host: &str) -> Pki {
    PkiBuilder::new(&dir.join(name))
        .org(format!("{name} Ward"))
        .host(host)
        .build()
}

/// A client identity (device or admin).
pub struct Identity {
    pub cert: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

impl Identity {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key_der.clone().into())
    }
}

/// A tablet: its ID, certificate and signing key.
pub struct Tablet {
    pub id: DeviceId,
    pub ident: Identity,
    pub signing: SigningKey,
}

impl Tablet {
    /// Seals `app` for the PKI's relay, signed by this tablet.
    pub fn seal(&self, pki: &Pki, app: &Application, created_at: u64) -> (EnvelopeId, Vec<u8>) {
        envelope::seal(app, &self.id, created_at, &pki.relay_key, &self.signing).unwrap()
    }
}

/// A PEM CSR with common name `cn`, and its key.
pub fn csr(cn: &str) -> (rcgen::KeyPair, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    (key, csr)
}

/// Enrols tablet `id` through the provisioning path (CSR → device CA, standard
/// profile), a certificate for `days` issued at `at`.
pub fn device(layout: &PkiLayout, id: &str, days: u32, at: u64) -> Tablet {
    device_as(layout, id, days, at, false)
}

/// An enrollment ticket for tablet `id` (OU `shinsei device enrollment`), 30 days,
/// issued a minute ago: it may only ask for the tablet's own key to be certified.
pub fn ticket(pki: &Pki, id: &str) -> Tablet {
    device_as(&pki.layout, id, 30, now() - 60, true)
}

fn device_as(layout: &PkiLayout, id: &str, days: u32, at: u64, ticket: bool) -> Tablet {
    let (key, csr) = csr(id);
    let did = DeviceId::parse(id).unwrap();
    pdevice::sign_csr(
        layout,
        csr.as_bytes(),
        &did,
        &SignOptions {
            profile: Profile::Standard,
            days,
            ticket,
        },
        at,
    )
    .unwrap();
    let cert = layout::read_cert_pem(&layout.device_cert(id)).unwrap();
    let key_der = key.serialize_der();
    Tablet {
        id: did,
        signing: SigningKey::from_pkcs8(&key_der).unwrap(),
        ident: Identity { cert, key_der },
    }
}

/// [`device`] for 30 days, issued a minute ago.
pub fn tablet(pki: &Pki, id: &str) -> Tablet {
    device(&pki.layout, id, 30, now() - 60)
}

/// A security officer's certificate from the root CA (30 days, issued a minute ago):
/// may do everything, alone where the relay allows one officer.
pub fn admin(pki: &Pki, name: &str) -> Identity {
    admin_as(pki, name, AdminRole::SecurityOfficer)
}

/// An admin certificate with `role` from the root CA (30 days, issued a minute ago).
pub fn admin_as(pki: &Pki, name: &str, role: AdminRole) -> Identity {
    let cert = pki::admin_issue(&pki.layout, name, role, 30, now() - 60).unwrap();
    let key = layout::read_pkcs8_pem(&pki.layout.admin_key(name)).unwrap();
    Identity {
        cert,
        key_der: key.secret_pkcs8_der().to_vec(),
    }
}
