//! Transport and identity over real TLS on loopback: old protocol versions, missing or
//! foreign client certificates, admin/device certificates on the wrong listener,
//! revocation taking effect live, HTTP/1.1 and HTTP/2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use common::*;

fn write_pem(dir: &std::path::Path, name: &str, ident: &Identity) -> (String, String) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, shinsei_pki::layout::cert_pem(&ident.cert)).unwrap();
    std::fs::write(
        &key,
        shinsei_pki::layout::pkcs8_pem(&ident.key_der).as_bytes(),
    )
    .unwrap();
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

/// Runs `openssl s_client` with `version` (`-tls1`, `-tls1_1`, `-tls1_2`, `-tls1_3`).
fn s_client(addr: SocketAddr, version: &str, cert: &str, key: &str) -> (bool, String) {
    shinsei_testkit::sys::openssl(&[
        "s_client",
        "-connect",
        &addr.to_string(),
        "-servername",
        HOST,
        version,
        // Let OpenSSL 3 actually offer TLS 1.0/1.1 (its default security level
        // would refuse them on the client side, proving nothing about the relay).
        "-cipher",
        "DEFAULT:@SECLEVEL=0",
        "-cert",
        cert,
        "-key",
        key,
    ])
}

fn handshake_done(out: &str) -> bool {
    // s_client prints the negotiated session only after a completed handshake.
    out.contains("Cipher is ") && !out.contains("Cipher is (NONE)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls10_and_tls11_clients_refused_tls12_accepted() {
    let (env, relay) = Env::started().await;
    let t = tablet(&env.pki, "TAB-0001");
    let (cert, key) = write_pem(env.dir.path(), "tab", &t.ident);
    let addr = relay.device_addr;
    let (c, k) = (cert.clone(), key.clone());
    let results = tokio::task::spawn_blocking(move || {
        ["-tls1", "-tls1_1", "-tls1_2", "-tls1_3"].map(|v| (v, s_client(addr, v, &c, &k)))
    })
    .await
    .unwrap();
    for (v, (_ok, out)) in &results {
        assert!(
            !out.contains("no protocols available"),
            "{v}: the client did not even offer the version:\n{out}"
        );
        match *v {
            "-tls1" | "-tls1_1" => {
                assert!(!handshake_done(out), "{v} handshake completed:\n{out}");
                assert!(
                    out.contains("alert protocol version")
                        || out.contains("unsupported protocol")
                        || out.contains("wrong version number")
                        || out.contains("handshake failure"),
                    "{v}: unexpected failure:\n{out}"
                );
            }
            _ => assert!(handshake_done(out), "{v} should complete:\n{out}"),
        }
    }
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_rules() {
    let (env, relay) = Env::started().await;
    let root = env.pki.root.clone();
    let t = tablet(&env.pki, "TAB-0001");
    let adm = admin(&env.pki, "alice");
    // Another ward's PKI: a device certificate from a foreign device CA.
    let other = make_pki(env.dir.path(), "other");
    let foreign = tablet(&other, "TAB-0001");

    let status =
        |c: reqwest::Client, addr| async move { c.get(url(addr, "/v1/status")).send().await };
    // A valid device certificate works.
    let r = status(client(&root, Some(&t.ident), false), relay.device_addr)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["device_id"], "TAB-0001");
    assert_eq!(v["state"], "active");
    // No client certificate.
    assert!(status(client(&root, None, false), relay.device_addr)
        .await
        .is_err());
    // Foreign CA.
    assert!(status(
        client(&root, Some(&foreign.ident), false),
        relay.device_addr
    )
    .await
    .is_err());
    // An admin certificate on the device port.
    assert!(status(
        client(&root, Some(&adm.ident_or_self()), false),
        relay.device_addr
    )
    .await
    .is_err());

    // Admin port: admin certificate yes, device certificate no (it chains to the root
    // through the device CA, but is not an admin), no certificate no.
    let devices = |c: reqwest::Client, addr| async move {
        c.get(url(addr, "/admin/v1/devices")).send().await
    };
    let r = devices(client(&root, Some(&adm), false), relay.admin_addr)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        devices(client(&root, Some(&t.ident), false), relay.admin_addr)
            .await
            .is_err()
    );
    assert!(devices(client(&root, None, false), relay.admin_addr)
        .await
        .is_err());
    // A device certificate presented with its device CA chain is refused as well.
    let dca = shinsei_pki::layout::read_cert_pem(&env.pki.layout.device_ca_cert()).unwrap();
    let chained = {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root.clone()).unwrap();
        let cfg = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(vec![t.ident.cert.clone(), dca], t.ident.key())
            .unwrap();
        reqwest::Client::builder()
            .use_preconfigured_tls(cfg)
            .no_proxy()
            .resolve(HOST, SocketAddr::from(([127, 0, 0, 1], 0)))
            .build()
            .unwrap()
    };
    assert!(devices(chained, relay.admin_addr).await.is_err());
    // Metrics on the admin port only.
    let r = client(&root, Some(&adm), false)
        .get(url(relay.admin_addr, "/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("shinsei_relay_tls_handshake_failures_total"));
    let r = client(&root, Some(&t.ident), false)
        .get(url(relay.device_addr, "/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    relay.shutdown().await;
}

trait SelfIdent {
    fn ident_or_self(&self) -> Identity;
}

impl SelfIdent for Identity {
    fn ident_or_self(&self) -> Identity {
        Identity {
            cert: self.cert.clone(),
            key_der: self.key_der.clone(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_device_is_refused_live_and_after_restart() {
    let (env, relay) = Env::started().await;
    let root = env.pki.root.clone();
    let t = tablet(&env.pki, "TAB-0007");
    let other = tablet(&env.pki, "TAB-0008");
    let adm = client(&root, Some(&admin(&env.pki, "alice")), false);
    let bob = client(&root, Some(&admin(&env.pki, "bob")), false);

    let open = client(&root, Some(&t.ident), false);
    let r = get(&open, relay.device_addr, "/v1/status").await.unwrap();
    assert_eq!(r.status(), 200);

    let (s, v) = approved_post(&adm, &bob, relay.admin_addr, "TAB-0007", "revoke").await;
    assert_eq!(s, 200);
    assert_eq!(v["state"], "revoked");

    // The connection opened before the revocation: refused at the HTTP layer.
    let r = open.get(url(relay.device_addr, "/v1/status")).send().await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 403);
        assert_eq!(error_code(&r.bytes().await.unwrap()), "device_revoked");
    }
    // A new connection: refused at the TLS layer.
    let fresh = client(&root, Some(&t.ident), false);
    assert!(get(&fresh, relay.device_addr, "/v1/status").await.is_err());
    // Over HTTP/2 as well.
    let fresh = client(&root, Some(&t.ident), true);
    assert!(get(&fresh, relay.device_addr, "/v1/status").await.is_err());
    // Other devices are unaffected.
    let r = client(&root, Some(&other.ident), false)
        .get(url(relay.device_addr, "/v1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Enabling a revoked device is refused.
    let (s, v) = admin_post(&adm, relay.admin_addr, "TAB-0007", "enable").await;
    assert_eq!(s, 409, "{v}");
    relay.shutdown().await;

    // The deny list is persistent.
    let relay = env.start_default().await;
    let fresh = client(&root, Some(&t.ident), false);
    assert!(get(&fresh, relay.device_addr, "/v1/status").await.is_err());
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_list_file_and_crl_reload() {
    let env = Env::new();
    let deny_file = env.dir.path().join("deny.txt");
    std::fs::write(&deny_file, "# empty\n").unwrap();
    let crl_file = env.dir.path().join("device-ca.crl.pem");
    let t1 = tablet(&env.pki, "TAB-0011");
    let t2 = tablet(&env.pki, "TAB-0012");
    let dca = shinsei_provisioning::pki::load_device_ca(&env.pki.layout, now()).unwrap();
    let empty_crl = shinsei_provisioning::pki::build_crl(&dca, &[], 1, now() - 60, 86_400).unwrap();
    std::fs::write(&crl_file, &empty_crl).unwrap();
    let mut cfg = env.config();
    cfg.paths.deny_list_file = Some(deny_file.clone());
    cfg.paths.crl_files = vec![crl_file.clone()];
    let relay = env.start(cfg, shinsei_relay::RelayOptions::default()).await;
    let root = env.pki.root.clone();
    let ok = |t: &Tablet| {
        let c = client(&root, Some(&t.ident), false);
        let u = url(relay.device_addr, "/v1/status");
        async move { c.get(u).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(ok(&t1).await.unwrap(), 200);
    assert_eq!(ok(&t2).await.unwrap(), 200);

    // Deny TAB-0011 by serial in the file; revoke TAB-0012 in a new CRL; reload.
    let s1 = shinsei_protocol::signed::summarize_cert(&t1.ident.cert)
        .unwrap()
        .serial;
    std::fs::write(&deny_file, format!("serial:{}\n", hex::encode(&s1))).unwrap();
    let s2 = shinsei_protocol::signed::summarize_cert(&t2.ident.cert)
        .unwrap()
        .serial;
    let crl = shinsei_provisioning::pki::build_crl(
        &dca,
        &[shinsei_provisioning::pki::Revoked {
            serial: s2,
            revoked_at: now() - 10,
        }],
        2,
        now() - 60,
        86_400,
    )
    .unwrap();
    std::fs::write(&crl_file, &crl).unwrap();
    let report = relay.reload().unwrap();
    assert_eq!(report.crls, 1);
    assert_eq!(report.deny_file_entries, 1);
    assert!(ok(&t1).await.is_err());
    assert!(ok(&t2).await.is_err());
    // Removing the file entry lets TAB-0011 back in.
    std::fs::write(&deny_file, "").unwrap();
    relay.reload().unwrap();
    assert_eq!(ok(&t1).await.unwrap(), 200);
    relay.shutdown().await;
}
