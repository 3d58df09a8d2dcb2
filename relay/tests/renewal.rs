//! Issue 17, certificate renewal at the relay, over real mutual TLS: a tablet may ask
//! only for its own key and its own ID; only an operator may post a renewed bundle, and
//! only one signed under the ward root for that device and the requested key; the
//! tablet learns of it at check-in and fetches the very bytes IT signed; IT's hold drops
//! what waits. The relay never holds the device CA key: the bundles here are signed by
//! the provisioning code on the test's PKI, as IT's signer does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use shinsei_protocol::{bundle::Profile, device::DeviceId, x509::AdminRole};
use shinsei_provisioning::device::{sign_csr, SignOptions};

/// A CSR naming `cn` for the key in `key_der` (PKCS#8).
fn csr_for(key_der: &[u8], cn: &str) -> String {
    let key = rcgen::KeyPair::try_from(key_der).unwrap();
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.serialize_request(&key).unwrap().pem().unwrap()
}

fn report(csr: Option<&str>) -> Value {
    json!({
        "agent_version": "0.1.0",
        "outbox_depth": 1,
        "lease_deadline": 2_000_000_000u64,
        "sent_per_day": [{"day": 20_000, "count": 4}],
        "renewal_csr": csr,
    })
}

async fn status_and_code(r: reqwest::Response) -> (u16, String) {
    let s = r.status().as_u16();
    (s, error_code(&r.bytes().await.unwrap()))
}

/// A signed bundle for `id` from the test PKI's device CA.
fn bundle(pki: &Pki, csr: &str, id: &str) -> Vec<u8> {
    sign_csr(
        &pki.layout,
        csr.as_bytes(),
        &DeviceId::parse(id).unwrap(),
        &SignOptions {
            profile: Profile::Standard,
            days: 30,
            ticket: false,
        },
        now(),
    )
    .unwrap()
    .bytes
}

/// 64 bytes posted as an envelope: refused, and the refusal's code says why (the
/// certificate, or the envelope).
async fn post_junk_envelope(c: &reqwest::Client, dv: std::net::SocketAddr) -> reqwest::Response {
    c.post(url(dv, "/v1/envelopes"))
        .body(vec![0u8; 64])
        .send()
        .await
        .unwrap()
}

async fn post_bundle(
    c: &reqwest::Client,
    addr: std::net::SocketAddr,
    id: &str,
    b: Vec<u8>,
) -> (u16, String) {
    let r = c
        .post(url(addr, &format!("/admin/v1/devices/{id}/bundle")))
        .header("content-type", "application/json")
        .body(b)
        .send()
        .await
        .unwrap();
    status_and_code(r).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_tablets_own_key_is_renewed_and_only_through_an_operator() {
    let (env, relay) = Env::started().await;
    let root = env.pki.root.clone();
    let t = tablet(&env.pki, "TAB-0001");
    let dev = client(&root, Some(&t.ident), false);
    let (dv, ad) = (relay.device_addr, relay.admin_addr);

    // A request for another key, for another device, or no request at all.
    let other = rcgen::KeyPair::generate().unwrap().serialize_der();
    for (csr, code) in [
        (csr_for(&other, "TAB-0001"), "renewal_other_key"),
        (
            csr_for(&t.ident.key_der, "TAB-0002"),
            "renewal_wrong_device",
        ),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
                .to_owned(),
            "bad_renewal_request",
        ),
    ] {
        let r = post(&dev, dv, "/v1/report", Some(&report(Some(&csr)))).await;
        assert_eq!(status_and_code(r).await, (400, code.to_owned()), "{code}");
    }
    let mut big = report(None);
    big["agent_version"] = json!("x".repeat(33));
    let r = post(&dev, dv, "/v1/report", Some(&big)).await;
    assert_eq!(r.status().as_u16(), 400);

    // Its own key: kept; nothing to fetch yet.
    let good = csr_for(&t.ident.key_der, "TAB-0001");
    let r = post(&dev, dv, "/v1/report", Some(&report(Some(&good)))).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["renewal"], "requested");
    assert_eq!(
        get(&dev, dv, "/v1/bundle").await.unwrap().status().as_u16(),
        404
    );

    // IT's view: the request with its CSR, the report's figures (never the CSR twice).
    let viewer = client(
        &root,
        Some(&admin_as(&env.pki, "vera", AdminRole::Viewer)),
        false,
    );
    let list = get_json(&viewer, ad, "/admin/v1/renewals").await;
    assert_eq!(list["renewals"][0]["device_id"], "TAB-0001");
    assert_eq!(list["renewals"][0]["csr_pem"], good.as_str());
    let devices = get_json(&viewer, ad, "/admin/v1/devices").await;
    let d = &devices["devices"][0];
    assert_eq!(d["renewal"], "requested");
    assert_eq!(d["report"]["sent_per_day"][0]["count"], 4);
    assert!(d["report"].get("renewal_csr").is_none(), "{d}");

    // A viewer may not post a bundle.
    let signed = bundle(&env.pki, &good, "TAB-0001");
    assert_eq!(
        post_bundle(&viewer, ad, "TAB-0001", signed.clone()).await,
        (403, "role_forbidden".to_owned())
    );
    // An operator may, but not a bundle for another key, another device, or garbage.
    let op = client(
        &root,
        Some(&admin_as(&env.pki, "otto", AdminRole::Operator)),
        false,
    );
    let for_other_key = bundle(&env.pki, &csr_for(&other, "TAB-0001"), "TAB-0001");
    assert_eq!(
        post_bundle(&op, ad, "TAB-0001", for_other_key).await,
        (409, "bundle_other_key".to_owned())
    );
    let t2 = tablet(&env.pki, "TAB-0002");
    let for_other_device = bundle(
        &env.pki,
        &csr_for(&t2.ident.key_der, "TAB-0002"),
        "TAB-0002",
    );
    assert_eq!(
        post_bundle(&op, ad, "TAB-0001", for_other_device).await,
        (409, "bundle_wrong_device".to_owned())
    );
    assert_eq!(
        post_bundle(&op, ad, "TAB-0001", b"{}".to_vec()).await,
        (409, "bad_bundle".to_owned())
    );
    // A device that asked for nothing.
    let (s, code) = post_bundle(
        &op,
        ad,
        "TAB-0002",
        bundle(
            &env.pki,
            &csr_for(&t2.ident.key_der, "TAB-0002"),
            "TAB-0002",
        ),
    )
    .await;
    assert_eq!((s, code.as_str()), (409, "no_renewal"));

    // The right one: the tablet is told at check-in and fetches exactly those bytes.
    let signed = bundle(&env.pki, &good, "TAB-0001");
    let (s, _) = post_bundle(&op, ad, "TAB-0001", signed.clone()).await;
    assert_eq!(s, 200);
    let st = get_json(&dev, dv, "/v1/status").await;
    assert_eq!(st["bundle_ready"], true, "{st}");
    let got = get(&dev, dv, "/v1/bundle").await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), signed);

    // IT holds the device's renewals: what waited is gone.
    let r = post(
        &op,
        ad,
        "/admin/v1/devices/TAB-0001/renewal-hold",
        Some(&json!({"hold": true, "reason": "under review"})),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        get(&dev, dv, "/v1/bundle").await.unwrap().status().as_u16(),
        404
    );
    let st = get_json(&dev, dv, "/v1/status").await;
    assert!(st.get("bundle_ready").is_none(), "{st}");
    let list = get_json(&viewer, ad, "/admin/v1/renewals").await;
    assert_eq!(list["renewals"][0]["state"], "held");

    // Every step is in the admin audit, refusals with their reason.
    let audit = get_json(&viewer, ad, "/admin/v1/audit").await;
    let actions: Vec<String> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["detail"].as_str().unwrap_or("")
            )
        })
        .collect();
    for want in [
        "renewal issued (refused) bundle_other_key",
        "renewal issued (refused) bundle_wrong_device",
        "renewal issued certificate until",
        "renewal hold under review",
    ] {
        assert!(
            actions.iter().any(|a| a.starts_with(want)),
            "{want}: {actions:#?}"
        );
    }
    assert!(
        actions.iter().any(
            |a| a.contains("POST /admin/v1/devices/TAB-0001/bundle (refused)")
                && a.contains("role_forbidden")
        ),
        "{actions:#?}"
    );
}

/// An enrollment ticket (a freshly imaged tablet's certificate from the imaging
/// workstation) may only ask for the tablet's own, new key: it can neither submit nor
/// read the staff list, nor get its own key certified; once the tablet connects with
/// its own certificate, the ticket is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrollment_ticket_only_asks_for_the_tablets_own_key_and_is_then_refused() {
    let (env, relay) = Env::started().await;
    let root = env.pki.root.clone();
    let t = shinsei_testkit::pki::ticket(&env.pki, "TAB-0007");
    let dev = client(&root, Some(&t.ident), false);
    let (dv, ad) = (relay.device_addr, relay.admin_addr);

    // What a tablet does with its certificate, refused to a ticket.
    let r = post_junk_envelope(&dev, dv).await;
    assert_eq!(status_and_code(r).await, (403, "enrollment_ticket".into()));
    let r = get(&dev, dv, "/v1/staff-list").await.unwrap();
    assert_eq!(status_and_code(r).await, (403, "enrollment_ticket".into()));
    // Check-in works (the tablet learns of its bundle this way).
    assert_eq!(get_json(&dev, dv, "/v1/status").await["state"], "active");

    // The ticket's own key: never.
    let own_ticket = csr_for(&t.ident.key_der, "TAB-0007");
    let r = post(&dev, dv, "/v1/report", Some(&report(Some(&own_ticket)))).await;
    assert_eq!(status_and_code(r).await, (400, "ticket_same_key".into()));
    // The key the tablet made: kept for IT.
    let own_key = rcgen::KeyPair::generate().unwrap().serialize_der();
    let own_csr = csr_for(&own_key, "TAB-0007");
    let r = post(&dev, dv, "/v1/report", Some(&report(Some(&own_csr)))).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["renewal"], "requested");

    // IT signs it (after comparing fingerprints, `shinsei-provision device renew
    // --approve`); the relay takes the bundle for the requested key.
    let op = client(
        &root,
        Some(&admin_as(&env.pki, "otto", AdminRole::Operator)),
        false,
    );
    let signed = bundle(&env.pki, &own_csr, "TAB-0007");
    let (s, _) = post_bundle(&op, ad, "TAB-0007", signed.clone()).await;
    assert_eq!(s, 200);
    let got = get(&dev, dv, "/v1/bundle").await.unwrap();
    assert_eq!(got.bytes().await.unwrap().to_vec(), signed);

    // The tablet connects with its own certificate: it may submit now (the refusal is
    // about the envelope, not the certificate) and the ticket is refused from then on.
    let cert = shinsei_pki::layout::read_cert_pem(&env.pki.layout.device_cert("TAB-0007")).unwrap();
    let own = client(
        &root,
        Some(&Identity {
            cert,
            key_der: own_key,
        }),
        false,
    );
    assert_eq!(get_json(&own, dv, "/v1/status").await["state"], "active");
    let r = post_junk_envelope(&own, dv).await;
    let (s, code) = status_and_code(r).await;
    assert!(s == 400 && code != "enrollment_ticket", "{s} {code}");
    let r = get(&dev, dv, "/v1/status").await;
    let refused = match r {
        Err(_) => true,
        Ok(r) => r.status().as_u16() == 403,
    };
    assert!(refused, "the replaced ticket still checks in");
}
