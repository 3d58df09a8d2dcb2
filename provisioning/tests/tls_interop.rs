//! The certificates interoperate with rustls: a client with a device certificate
//! completes mutual TLS with a server using the relay certificate and a client verifier
//! anchored on the device CA, and fails with a certificate from a different CA, an
//! expired one, or a revoked one. Also: the fleet commands over mutual TLS with an admin
//! certificate against a stand-in admin API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    process::Command,
    sync::Arc,
    thread::JoinHandle,
    time::Duration,
};

use rustls::{
    pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName},
    server::WebPkiClientVerifier,
    ClientConfig, ClientConnection, ServerConfig, ServerConnection,
};
use shinsei_pki::layout::{self, PkiLayout};
use shinsei_protocol::device::DeviceId;
use shinsei_provisioning::pki;
use shinsei_testkit::{
    now, provider,
    tls::{client_config_with as client_config, roots},
    PkiBuilder, DAY,
};

/// Who the server saw (the decision is `shinsei_protocol::x509::classify_client_cert`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientIdentity {
    Admin(String),
    Device(DeviceId),
}

fn classify_client_cert(der: &[u8]) -> Option<ClientIdentity> {
    use shinsei_protocol::x509::{self, ClientIdentity as X};
    Some(match x509::classify_client_cert(der)? {
        X::Device { device_id, .. } => ClientIdentity::Device(device_id),
        X::Admin { name, .. } => ClientIdentity::Admin(name),
    })
}

/// A PKI made `age_days` ago, with a relay for `host`.
fn make_pki(dir: &Path, host: &str, age_days: u64) -> PkiLayout {
    PkiBuilder::new(&dir.join("pki"))
        .org("Interop Ward")
        .host(host)
        .at(now() - age_days * DAY)
        .layout()
}

/// A device key and certificate signed through the provisioning path at time `at`.
fn device(
    l: &PkiLayout,
    id: &str,
    days: u32,
    at: u64,
) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let t = shinsei_testkit::device(l, id, days, at);
    let key = t.ident.key();
    (t.ident.cert, key)
}

fn server_config(
    l: &PkiLayout,
    anchor: CertificateDer<'static>,
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Arc<ServerConfig> {
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(anchor)), provider())
        .with_crls(crls)
        .build()
        .unwrap();
    let (chain, key) = layout::load_tls_server(&l.relay_tls_cert(), &l.relay_tls_key()).unwrap();
    Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap(),
    )
}

/// Accepts one connection; after the handshake reads "ping", answers "pong" and returns
/// who the client is.
fn serve_once(cfg: Arc<ServerConfig>) -> (u16, JoinHandle<Result<ClientIdentity, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut conn = ServerConnection::new(cfg).map_err(|e| e.to_string())?;
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
        tls.write_all(b"pong").map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())?;
        let peer = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or("no client certificate")?;
        classify_client_cert(peer).ok_or_else(|| "unclassified".to_owned())
    });
    (port, h)
}

fn client(port: u16, cfg: Arc<ClientConfig>, name: &str) -> Result<(), String> {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut conn = ClientConnection::new(cfg, ServerName::try_from(name.to_owned()).unwrap())
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(b"ping").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
    if &buf != b"pong" {
        return Err("bad answer".into());
    }
    Ok(())
}

fn handshake(
    server: Arc<ServerConfig>,
    client_cfg: Arc<ClientConfig>,
    name: &str,
) -> (Result<(), String>, Result<ClientIdentity, String>) {
    let (port, h) = serve_once(server);
    let c = client(port, client_cfg, name);
    (c, h.join().unwrap())
}

/// A handshake for "relay.test" with a client presenting `cert`: the server refuses it
/// (and so the client fails); the server's error.
fn refused_by_server(
    server: Arc<ServerConfig>,
    root: CertificateDer<'static>,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> String {
    let (c, s) = handshake(server, client_config(root, cert, key), "relay.test");
    assert!(c.is_err(), "client: {c:?}");
    s.unwrap_err()
}

/// CRL number `number` of the device CA, listing `serial` (revoked a minute ago).
fn crl_listing(dca: &pki::LoadedCa, serial: Vec<u8>, number: u64) -> Vec<u8> {
    pki::build_crl(
        dca,
        &[pki::Revoked {
            serial,
            revoked_at: now() - 60,
        }],
        number,
        now() - 60,
        7 * DAY,
    )
    .unwrap()
}

#[test]
fn device_mutual_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let l = make_pki(tmp.path(), "relay.test", 100);
    let root = layout::read_cert_pem(&l.root_ca_cert()).unwrap();
    let dca = layout::read_cert_pem(&l.device_ca_cert()).unwrap();

    let (good_cert, good_key) = device(&l, "TAB-0001", 30, now());
    let serial = shinsei_protocol::signed::summarize_cert(&good_cert)
        .unwrap()
        .serial;
    let server = server_config(&l, dca.clone(), vec![]);

    // Valid device certificate: the handshake completes, the relay sees TAB-0001.
    let (c, s) = handshake(
        server.clone(),
        client_config(root.clone(), good_cert.clone(), good_key.clone_key()),
        "relay.test",
    );
    assert_eq!(c, Ok(()));
    assert_eq!(
        s,
        Ok(ClientIdentity::Device(DeviceId::parse("TAB-0001").unwrap()))
    );

    // The client refuses a relay certificate for another name.
    let (c, s) = handshake(
        server.clone(),
        client_config(root.clone(), good_cert.clone(), good_key.clone_key()),
        "other.test",
    );
    assert!(c.is_err() && s.is_err(), "{c:?} {s:?}");

    // Device certificate from a different ward's CA.
    let tmp2 = tempfile::tempdir().unwrap();
    let l2 = make_pki(tmp2.path(), "relay.test", 1);
    let (foreign_cert, foreign_key) = device(&l2, "TAB-0001", 30, now());
    let e = refused_by_server(server.clone(), root.clone(), foreign_cert, foreign_key);
    assert!(
        e.contains("UnknownIssuer") || e.contains("BadSignature") || e.contains("unknown issuer"),
        "{e}"
    );

    // Expired: issued 50 days ago for 30 days.
    let (old_cert, old_key) = device(&l, "TAB-0002", 30, now() - 50 * DAY);
    let e = refused_by_server(server.clone(), root.clone(), old_cert, old_key);
    assert!(e.contains("expired"), "{e}");

    // An admin certificate (issued by the root, not the device CA) is no device.
    pki::admin_issue(
        &l,
        "it",
        shinsei_protocol::x509::AdminRole::SecurityOfficer,
        30,
        now(),
    )
    .unwrap();
    let admin_cert = layout::read_cert_pem(&l.admin_cert("it")).unwrap();
    let admin_key = PrivateKeyDer::Pkcs8(layout::read_pkcs8_pem(&l.admin_key("it")).unwrap());
    let (c, s) = handshake(
        server,
        client_config(root.clone(), admin_cert, admin_key),
        "relay.test",
    );
    assert!(c.is_err() && s.is_err());

    // Revoked: a CRL from the device CA listing the certificate's serial.
    let dca_loaded = pki::load_device_ca(&l, now()).unwrap();
    let crl = crl_listing(&dca_loaded, serial.clone(), 1);
    let revoking = server_config(&l, dca.clone(), vec![crl.into()]);
    let e = refused_by_server(
        revoking,
        root.clone(),
        good_cert.clone(),
        good_key.clone_key(),
    );
    assert!(e.contains("Revoked"), "{e}");
    // A CRL that lists someone else does not stop it.
    let crl = crl_listing(&dca_loaded, vec![0x42; 16], 2);
    let (c, s) = handshake(
        server_config(&l, dca, vec![crl.into()]),
        client_config(root, good_cert, good_key),
        "relay.test",
    );
    assert_eq!(c, Ok(()));
    assert!(s.is_ok());
}

/// A stand-in for the relay's admin API: mutual TLS anchored on the root CA, requires an
/// admin certificate, answers `count` requests with canned JSON.
fn fake_admin_api(l: &PkiLayout, count: usize) -> (u16, JoinHandle<Vec<(String, String)>>) {
    let root = layout::read_cert_pem(&l.root_ca_cert()).unwrap();
    let cfg = server_config(l, root, vec![]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..count {
            let Ok((mut sock, _)) = listener.accept() else {
                break;
            };
            sock.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut conn = ServerConnection::new(cfg.clone()).unwrap();
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            let mut req = Vec::new();
            let mut b = [0u8; 1];
            while !req.ends_with(b"\r\n\r\n") && req.len() < 8192 {
                if tls.read(&mut b).unwrap_or(0) == 0 {
                    break;
                }
                req.push(b[0]);
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
            let admin = match tls
                .conn
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| classify_client_cert(c))
            {
                Some(ClientIdentity::Admin(n)) => n,
                _ => "?".into(),
            };
            let (status, body) = if line.starts_with("GET /admin/v1/devices ") {
                ("200 OK", r#"{"devices":[{"device_id":"TAB-0001","state":"active","updated_at":1760000000,"history":[{"at":1,"state":"active"}]},{"device_id":"TAB-0002","state":"disabled","updated_at":1760000100,"history":[]}]}"#.to_owned())
            } else if line.starts_with("POST /admin/v1/devices/TAB-0001/wipe ") {
                (
                    "200 OK",
                    r#"{"device_id":"TAB-0001","state":"wipe_pending"}"#.to_owned(),
                )
            } else if line.starts_with("GET /admin/v1/audit ") {
                ("200 OK", r#"{"entries":[{"at":1760000000,"admin":"it-suzuki","action":"wipe","device_id":"TAB-0001"}]}"#.to_owned())
            } else {
                ("404 Not Found", r#"{"error":"no such device"}"#.to_owned())
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(resp.as_bytes());
            let _ = tls.flush();
            conn.send_close_notify();
            let _ = conn.complete_io(&mut sock);
            seen.push((line, admin));
        }
        seen
    });
    (port, h)
}

#[test]
fn fleet_commands_over_mutual_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let l = make_pki(tmp.path(), "localhost", 1);
    pki::admin_issue(
        &l,
        "it-suzuki",
        shinsei_protocol::x509::AdminRole::SecurityOfficer,
        30,
        now(),
    )
    .unwrap();
    let (port, h) = fake_admin_api(&l, 4);
    let url = format!("https://localhost:{port}");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shinsei-provision"))
            .arg("--pki")
            .arg(l.dir())
            .args(args)
            .args(["--admin-url", &url])
            .output()
            .unwrap()
    };
    let out = run(&["device", "list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("TAB-0001") && stdout.contains("disabled"),
        "{stdout}"
    );
    assert!(stdout.contains("2025-10-09"), "{stdout}");

    let out = run(&["device", "wipe", "tab-0001"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("wipe_pending"));

    let out = run(&["audit"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("it-suzuki"));

    let out = run(&["device", "revoke", "TAB-0404"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("404") && err.contains("no such device"),
        "{err}"
    );

    let seen = h.join().unwrap();
    assert_eq!(seen.len(), 4);
    assert!(
        seen.iter().all(|(_, admin)| admin == "it-suzuki"),
        "{seen:?}"
    );
    assert!(seen[1]
        .0
        .starts_with("POST /admin/v1/devices/TAB-0001/wipe "));
}
