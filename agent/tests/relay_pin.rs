//! Issue 17, "the tablet cannot tell a real wipe order from a fake one": a TLS server
//! presenting a certificate for the relay's host name that the ward's **device CA**
//! minted (which the holder of the everyday device-CA key can do) answers the agent's
//! `GET /v1/status` with a wipe order. The agent must refuse the TLS handshake, say
//! that the relay is not the ward's relay, not lock itself as if its own certificate
//! had been revoked, and wipe nothing.
//!
//! Real TLS on loopback (a rustls server in a thread of this test speaking HTTP/1.1),
//! a real enrolled data directory, and the agent's public runtime API
//! (`Agent::open(…, Some(address))` + `Agent::checkin`), as `shinsei-agent run` uses it.
//!
//! The ward here is made like `shinsei-provision ca init` made every ward before issue
//! 17: the device CA has **no** extended key usage, so rustls' WebPKI checks alone accept
//! a server certificate it issues (see `device_ca_server_certificate_passes_plain_webpki`
//! below, which proves that the gap is real). Wards made since carry a device CA limited
//! to clientAuth (the provisioning tool's `device_ca_cannot_issue_a_server_certificate`
//! test); the agent's pin protects both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::{ServerConfig, ServerConnection};
use shinsei_agent::clock::SystemClock;
use shinsei_agent::enroll;
use shinsei_agent::error::AgentError;
use shinsei_agent::runtime::{Agent, WIPED_MARKER};
use shinsei_protocol::api::{DeviceState, StatusResponse};
use shinsei_protocol::bundle::{DeviceBundle, Policy, Profile, RelayUrl};
use shinsei_protocol::device::DeviceId;
use shinsei_protocol::keys::{RelaySecretKey, SigningKey};
use shinsei_protocol::signed::{DEVICE_CA_OU, DEVICE_OU, RELAY_OU, ROOT_CA_OU};

const HOST: &str = "relay.ward.test";

// ---------------------------------------------------------------------------------------
// A ward PKI as `ca init` made it before issue 17 (device CA without EKU)

struct Ward {
    root_der: Vec<u8>,
    root_pem: String,
    root: Issuer<'static, KeyPair>,
    dca_der: Vec<u8>,
    dca: Issuer<'static, KeyPair>,
    dca_pkcs8: Vec<u8>,
}

fn name(cn: &str, ou: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::OrganizationName, "Test Ward");
    d.push(DnType::OrganizationalUnitName, ou);
    d.push(DnType::CommonName, cn);
    d
}

fn ward() -> Ward {
    let root_key = KeyPair::generate().unwrap();
    let mut rp = CertificateParams::default();
    rp.distinguished_name = name("Test Ward shinsei root CA", ROOT_CA_OU);
    rp.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    rp.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root_cert = rp.self_signed(&root_key).unwrap();
    let root = Issuer::new(rp, root_key);

    let dca_key = KeyPair::generate().unwrap();
    let mut dp = CertificateParams::default();
    dp.distinguished_name = name("Test Ward shinsei device CA", DEVICE_CA_OU);
    dp.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    dp.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    dp.use_authority_key_identifier_extension = true;
    let dca_cert = dp.signed_by(&dca_key, &root).unwrap();
    let dca_pkcs8 = dca_key.serialize_der();
    Ward {
        root_der: root_cert.der().to_vec(),
        root_pem: root_cert.pem(),
        root,
        dca_der: dca_cert.der().to_vec(),
        dca: Issuer::new(dp, dca_key),
        dca_pkcs8,
    }
}

/// A TLS server certificate for [`HOST`] (EKU serverAuth, subject OU `ou`) issued by
/// `issuer`, with its PKCS#8 key.
fn server_cert(issuer: &Issuer<'_, KeyPair>, ou: &str) -> (CertificateDer<'static>, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![HOST.to_string()]).unwrap();
    p.distinguished_name = name(HOST, ou);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert.der().clone(), key.serialize_der())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Enrolls a tablet in `data` the way the product does: key and CSR on the tablet, the
/// CSR signed by the device CA (what `shinsei-provision device sign` does), the signed
/// bundle installed and verified by the agent.
fn enroll_tablet(w: &Ward, data: &Path, id: &str, port: u16) {
    let did = DeviceId::parse(id).unwrap();
    let csr = enroll::create_key_and_csr(data, &did, w.root_pem.as_bytes()).unwrap();
    let mut csr = CertificateSigningRequestParams::from_pem(&csr).unwrap();
    csr.params.distinguished_name = name(id, DEVICE_OU);
    csr.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    csr.params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = csr.signed_by(&w.dca).unwrap();
    let (_, receipt) = SigningKey::generate().unwrap();
    let bundle = DeviceBundle {
        device_id: did,
        issued_at: now() - 60,
        device_cert_der: cert.der().to_vec(),
        device_ca_der: w.dca_der.clone(),
        root_ca_der: w.root_der.clone(),
        relay_url: RelayUrl::parse(&format!("https://{HOST}:{port}")).unwrap(),
        relay_public_key: RelaySecretKey::generate().public().clone(),
        receipt_public_key: receipt.public_key(),
        policy: Policy::for_profile(Profile::Standard),
    }
    .sign(&SigningKey::from_pkcs8(&w.dca_pkcs8).unwrap())
    .unwrap();
    enroll::install_bundle(data, &bundle, now()).unwrap();
}

// ---------------------------------------------------------------------------------------
// A fake relay: real TLS (rustls), HTTP/1.1, every `GET /v1/status` answered with a wipe
// order

#[derive(Debug, Default)]
struct Seen {
    connections: usize,
    handshakes_completed: usize,
    /// Request lines received (only after a completed handshake).
    requests: Vec<String>,
    /// TLS errors of failed handshakes (as the server saw them).
    errors: Vec<String>,
}

struct FakeRelay {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeRelay {
    /// Presents `chain` (end entity first, then any intermediates) with `key_pkcs8`.
    fn start(chain: Vec<CertificateDer<'static>>, key_pkcs8: &[u8], device_id: &str) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8.to_vec()));
        let mut cfg = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let cfg = Arc::new(cfg);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let order = serde_json::to_vec(&StatusResponse {
            device_id: device_id.to_string(),
            state: DeviceState::WipePending,
            version: 7,
            server_time: now(),
            bundle_ready: false,
            staff_list: None,
        })
        .unwrap();
        let thread = std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(tcp) = tcp {
                    serve(cfg.clone(), tcp, &seen2, &order);
                }
            }
        });
        Self {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Seen {
        self.shutdown();
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn shutdown(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            let _ = t.join();
        }
    }
}

impl Drop for FakeRelay {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One connection: the handshake, then one HTTP/1.1 request answered and closed.
fn serve(cfg: Arc<ServerConfig>, mut tcp: TcpStream, seen: &Mutex<Seen>, order: &[u8]) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
    seen.lock().unwrap().connections += 1;
    let mut conn = ServerConnection::new(cfg).unwrap();
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            seen.lock().unwrap().errors.push(e.to_string());
            return;
        }
    }
    seen.lock().unwrap().handshakes_completed += 1;
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tls.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
    let line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let answer = if line.starts_with("GET /v1/status") {
        let mut a = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            order.len()
        )
        .into_bytes();
        a.extend_from_slice(order);
        a
    } else {
        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
    };
    seen.lock().unwrap().requests.push(line);
    let _ = tls.write_all(&answer);
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(tls.sock);
}

fn secrets_present(data: &Path) -> bool {
    data.join(enroll::ENROLL_DIR).join("device.key").exists()
        && data.join(enroll::ENROLL_DIR).join("bundle.json").exists()
        && data.join("outbox.key").exists()
}

// ---------------------------------------------------------------------------------------

/// The heart of the finding: a server certificate minted by the device CA for the
/// relay's host name, sent with the device CA as intermediate, answering with a wipe
/// order. Refused at the handshake; nothing wiped; no lock as "revoked"; the error says
/// the relay is not the ward's relay.
#[test]
fn a_server_certificate_minted_by_the_device_ca_is_refused_and_nothing_is_wiped() {
    let w = ward();
    let (leaf, key) = server_cert(&w.dca, RELAY_OU);
    let dca = CertificateDer::from(w.dca_der.clone());
    let fake = FakeRelay::start(vec![leaf, dca], &key, "TAB-0171");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tablet");
    enroll_tablet(&w, &data, "TAB-0171", fake.addr.port());

    let mut agent = Agent::open(&data, Arc::new(SystemClock::default()), Some(fake.addr)).unwrap();
    assert!(secrets_present(&data), "enrollment incomplete (vacuous)");
    let r = agent.checkin(0);
    let seen = fake.finish();

    // Nothing wiped: the keys and the enrollment are still on disk, no marker.
    assert!(
        !data.join(WIPED_MARKER).exists() && secrets_present(&data),
        "the tablet wiped itself on the order of a server the device CA certified: {r:?}, {seen:?}"
    );
    let e = r.expect_err("the check-in with an impostor must fail");
    assert_eq!(e.kind(), "untrusted_relay", "{e}");
    let text = e.to_string();
    assert!(text.contains("not the ward's relay"), "{text}");
    assert!(
        text.contains("not issued directly by the ward root CA"),
        "the detail must say why: {text}"
    );
    // The server saw the TLS attempt, but no handshake completed and no request came.
    assert!(
        seen.connections > 0,
        "the agent never reached the fake: {seen:?}"
    );
    assert_eq!(seen.handshakes_completed, 0, "{seen:?}");
    assert!(seen.requests.is_empty(), "{seen:?}");
    // A refused *server* certificate is not "the relay refused ours": no lock-out.
    let st = agent.status().unwrap();
    assert_eq!(st.state, DeviceState::Active, "{st:?}");
    assert!(secrets_present(&data));
}

/// The same fake relay with the ward's genuine relay certificate (issued directly by the
/// root CA, OU `shinsei relay`): the agent obeys the wipe order. Shows that the refusal
/// above is for the certificate alone and that the fake's wipe order does work.
#[test]
fn control_the_genuine_relay_certificate_is_obeyed() {
    let w = ward();
    let (leaf, key) = server_cert(&w.root, RELAY_OU);
    let fake = FakeRelay::start(vec![leaf], &key, "TAB-0172");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tablet");
    enroll_tablet(&w, &data, "TAB-0172", fake.addr.port());
    let mut agent = Agent::open(&data, Arc::new(SystemClock::default()), Some(fake.addr)).unwrap();
    assert!(secrets_present(&data));
    let r = agent.checkin(0);
    let seen = fake.finish();
    assert!(matches!(r, Err(AgentError::Wiped)), "{r:?} {seen:?}");
    assert!(data.join(WIPED_MARKER).exists());
    assert!(!data.join(enroll::ENROLL_DIR).exists());
    assert!(!data.join("outbox.key").exists());
    assert!(
        seen.requests
            .iter()
            .any(|l| l.starts_with("GET /v1/status")),
        "{seen:?}"
    );
}

/// The gap the pin closes, shown with rustls' own WebPKI verifier on the pinned root:
/// for a ward whose device CA has no EKU (every ward made before issue 17), a server
/// certificate minted by the device CA passes chain, name and EKU checks.
#[test]
fn device_ca_server_certificate_passes_plain_webpki() {
    let w = ward();
    let (leaf, _) = server_cert(&w.dca, RELAY_OU);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(w.root_der.clone())).unwrap();
    let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    use rustls::client::danger::ServerCertVerifier;
    let r = v.verify_server_cert(
        &leaf,
        &[CertificateDer::from(w.dca_der.clone())],
        &ServerName::try_from(HOST).unwrap(),
        &[],
        UnixTime::now(),
    );
    assert!(r.is_ok(), "{r:?}");
}

/// A server that answers every ClientHello with a plaintext fatal `certificate_revoked`
/// alert, before it has shown any certificate: it cannot be the relay refusing our
/// certificate (the relay proves itself first), so the tablet must not lock itself as
/// revoked; it stays active and reports the relay unreachable. Before issue 17 any such
/// alert locked the tablet: a disable that anyone on the network could order.
#[test]
fn an_alert_from_a_server_that_did_not_prove_itself_does_not_lock_the_tablet() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let connections = Arc::new(Mutex::new(0usize));
    let connections2 = connections.clone();
    let thread = std::thread::spawn(move || {
        for tcp in listener.incoming() {
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(mut tcp) = tcp else { continue };
            *connections2.lock().unwrap() += 1;
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
            let mut hello = [0u8; 4096];
            let _ = tcp.read(&mut hello);
            // TLS record: alert (21), TLS 1.2, length 2: fatal (2), certificate_revoked (44).
            let _ = tcp.write_all(&[21, 3, 3, 0, 2, 2, 44]);
            let _ = tcp.flush();
        }
    });

    let w = ward();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tablet");
    enroll_tablet(&w, &data, "TAB-0173", addr.port());
    let mut agent = Agent::open(&data, Arc::new(SystemClock::default()), Some(addr)).unwrap();
    let r = agent.checkin(0);
    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect(addr);
    thread.join().unwrap();

    assert!(
        *connections.lock().unwrap() > 0,
        "never connected (vacuous)"
    );
    let st = agent.status().unwrap();
    assert_eq!(
        st.state,
        DeviceState::Active,
        "a forged alert locked the tablet: {r:?}"
    );
    let e = r.expect_err("no relay answered");
    assert_eq!(e.kind(), "relay_unreachable", "{e}");
    assert!(e.to_string().contains("CertificateRevoked"), "{e}");
    assert!(secrets_present(&data));
}
