//! Test PKI (through the provisioning library), tablets, clients and a relay on
//! loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod pg;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use shinsei_pki::layout::{self, PkiLayout};
use shinsei_protocol::{
    application::{Application, ApplicationId, BrailleWish, CertificateWish},
    bundle::Profile as BundleProfile,
    device::DeviceId,
    envelope::{self, EnvelopeId},
    keys::{RelayPublicKey, SigningKey, VerifyingKey},
    photo::FacePhoto,
    pins::ExpressPins,
};
use shinsei_provisioning::{
    device::{self as pdevice, SignOptions},
    pki::{self, CaInitOptions},
    relay::{self as prelay, RelayInitOptions},
};
use shinsei_relay::{clock::Clock, Config, Relay, RelayOptions, RunningRelay};
use zeroize::Zeroizing;

pub const HOST: &str = "relay.test";
pub const APP_ID: &str = "12345678901234567890123";

pub fn now() -> u64 {
    shinsei_provisioning::unix_now()
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A PKI directory with root CA, device CA and relay material.
pub struct Pki {
    pub layout: PkiLayout,
    pub root: CertificateDer<'static>,
    pub relay_key: RelayPublicKey,
    pub receipt_key: VerifyingKey,
}

pub fn make_pki(dir: &std::path::Path, name: &str) -> Pki {
    make_pki_for(dir, name, HOST)
}

/// A PKI whose relay certificate names `host`.
pub fn make_pki_for(dir: &std::path::Path, name: &str, host: &str) -> Pki {
    let layout = PkiLayout::new(dir.join(name));
    let t = now() - 3600;
    pki::ca_init(
        &layout,
        &CaInitOptions {
            org: format!("{name} Ward"),
            root_days: 3650,
            device_ca_days: 1825,
        },
        t,
    )
    .unwrap();
    prelay::relay_init(
        &layout,
        &RelayInitOptions {
            host: host.into(),
            port: 8443,
            admin_port: 8444,
            tls_days: 365,
        },
        t,
    )
    .unwrap();
    let d = layout::load_deployment(&layout).unwrap();
    Pki {
        root: layout::read_cert_pem(&layout.root_ca_cert()).unwrap(),
        relay_key: d.hpke_public_key().unwrap(),
        receipt_key: d.receipt_key().unwrap(),
        layout,
    }
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

/// Enrols a tablet through the provisioning path (CSR → device CA).
pub fn tablet(pki: &Pki, id: &str) -> Tablet {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, id);
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let did = DeviceId::parse(id).unwrap();
    pdevice::sign_csr(
        &pki.layout,
        csr.as_bytes(),
        &did,
        &SignOptions {
            profile: BundleProfile::Standard,
            days: 30,
        },
        now() - 60,
    )
    .unwrap();
    let cert = layout::read_cert_pem(&pki.layout.device_cert(id)).unwrap();
    let key_der = key.serialize_der();
    Tablet {
        id: did,
        signing: SigningKey::from_pkcs8(&key_der).unwrap(),
        ident: Identity { cert, key_der },
    }
}

/// An admin certificate from the root CA.
pub fn admin(pki: &Pki, name: &str) -> Identity {
    let cert = pki::admin_issue(&pki.layout, name, 30, now() - 60).unwrap();
    let key = layout::read_pkcs8_pem(&pki.layout.admin_key(name)).unwrap();
    Identity {
        cert,
        key_der: key.secret_pkcs8_der().to_vec(),
    }
}

pub fn photo() -> FacePhoto {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocol/tests/fixtures/baseline.jpg"
    );
    FacePhoto::from_jpeg(Zeroizing::new(std::fs::read(p).unwrap())).unwrap()
}

pub fn standard_app() -> Application {
    Application::standard(
        ApplicationId::parse(APP_ID.as_bytes()).unwrap(),
        photo(),
        CertificateWish::Yes,
        BrailleWish::No,
    )
}

pub fn express_app() -> Application {
    Application::express(
        ApplicationId::parse(APP_ID.as_bytes()).unwrap(),
        photo(),
        CertificateWish::Yes,
        BrailleWish::Yes,
        ExpressPins::new(b"abc123", b"1111", b"2222", b"3333").unwrap(),
    )
    .unwrap()
}

impl Tablet {
    pub fn seal(&self, pki: &Pki, app: &Application, created_at: u64) -> (EnvelopeId, Vec<u8>) {
        envelope::seal(app, &self.id, created_at, &pki.relay_key, &self.signing).unwrap()
    }
}

/// A reqwest client presenting `ident`, trusting only `root`, resolving the relay host
/// to loopback. `h2`: offer only HTTP/2 (else only HTTP/1.1).
pub fn client(
    root: &CertificateDer<'static>,
    ident: Option<&Identity>,
    h2: bool,
) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let b = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match ident {
        Some(i) => b
            .with_client_auth_cert(vec![i.cert.clone()], i.key())
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    let mut cb = reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .no_proxy()
        .timeout(Duration::from_secs(90));
    cb = cb.resolve(HOST, SocketAddr::from(([127, 0, 0, 1], 0)));
    if h2 {
        cb = cb.http2_prior_knowledge();
    } else {
        cb = cb.http1_only();
    }
    cb.build().unwrap()
}

pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://{HOST}:{}{path}", addr.port())
}

/// A test environment: PKI, data and spool directories; with
/// `SHINSEI_TEST_BACKEND=postgres`, a PostgreSQL database that `config()` names (so
/// the whole suite can be run against PostgreSQL).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub pki: Pki,
    pub db: Option<pg::TestDb>,
}

/// Whether this suite runs its relays on PostgreSQL: `SHINSEI_TEST_BACKEND=postgres`,
/// or the test binary `on_postgres` (which includes the HTTP-level suites again).
pub fn on_postgres() -> bool {
    std::env::var("SHINSEI_TEST_BACKEND").is_ok_and(|b| b == "postgres")
        || std::env::current_exe().is_ok_and(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("on_postgres"))
        })
}

/// Points `c` at a PostgreSQL database.
pub fn use_postgres(c: &mut Config, db: &pg::TestDb) {
    c.store.backend = shinsei_relay::config::StoreBackend::Postgres;
    c.store.url = Some(db.url.clone());
    c.store.claim_lease_secs = 3;
}

impl Env {
    pub fn new() -> Self {
        Self::for_host(HOST)
    }

    /// A relay certificate for `host` (e.g. `127.0.0.1` for clients without a resolver).
    pub fn for_host(host: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = make_pki_for(dir.path(), "pki", host);
        let db = if on_postgres() { pg::test_db() } else { None };
        Self { dir, pki, db }
    }

    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    pub fn config(&self) -> Config {
        let mut c = Config::with_paths(
            self.pki.layout.dir().to_owned(),
            self.dir.path().join("data"),
            self.spool(),
        );
        c.listen.device = SocketAddr::from(([127, 0, 0, 1], 0));
        c.listen.admin = SocketAddr::from(([127, 0, 0, 1], 0));
        c.log_level = "debug".into();
        c.forward.retry_initial_ms = 50;
        c.forward.retry_max_ms = 400;
        c.forward.scan_interval_ms = 200;
        if let Some(db) = &self.db {
            use_postgres(&mut c, db);
        }
        c
    }

    pub async fn start(&self, config: Config, opts: RelayOptions) -> RunningRelay {
        init_tracing();
        Relay::new(config, opts).unwrap().start().await.unwrap()
    }

    pub async fn start_default(&self) -> RunningRelay {
        self.start(self.config(), RelayOptions::default()).await
    }
}

pub fn opts_with_clock(clock: Arc<dyn Clock>) -> RelayOptions {
    RelayOptions {
        clock,
        ..RelayOptions::default()
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_test_writer()
        .try_init();
}

/// POSTs an envelope; returns status and body.
pub async fn post_envelope(
    c: &reqwest::Client,
    addr: SocketAddr,
    bytes: Vec<u8>,
) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let r = c
        .post(url(addr, "/v1/envelopes"))
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await?;
    let s = r.status().as_u16();
    Ok((s, r.bytes().await?.to_vec()))
}

pub fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    v["error"].as_str().unwrap_or("").to_owned()
}

pub async fn admin_post(
    c: &reqwest::Client,
    addr: SocketAddr,
    device: &str,
    action: &str,
) -> (u16, serde_json::Value) {
    let r = c
        .post(url(addr, &format!("/admin/v1/devices/{device}/{action}")))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or_default())
}
