//! Issue 17, IT's control plane at the relay, over real mutual TLS: a revoked
//! administrator is refused on every admin route (deny list, API revocation, CRL), each
//! role may do only what it is for, and a wipe or revoke needs a second security
//! officer in time (or the loudly audited emergency path). Every refusal is in the admin
//! audit log with who, what and why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use serde_json::Value;
use shinsei_protocol::x509::AdminRole;

/// Every admin route, as (method, path).
const ROUTES: [(&str, &str); 11] = [
    ("GET", "/admin/v1/devices"),
    ("GET", "/admin/v1/audit"),
    ("GET", "/metrics"),
    ("POST", "/admin/v1/devices/TAB-0001/disable"),
    ("POST", "/admin/v1/devices/TAB-0001/wipe"),
    ("POST", "/admin/v1/admins/someone/revoke"),
    ("GET", "/admin/v1/renewals"),
    ("POST", "/admin/v1/devices/TAB-0001/bundle"),
    ("POST", "/admin/v1/devices/TAB-0001/renewal-hold"),
    ("GET", "/admin/v1/staff-list"),
    ("POST", "/admin/v1/staff-list"),
];

/// Status and error code of `method path` on the admin listener (`None`: no answer,
/// e.g. the handshake was refused).
async fn ask(
    c: &reqwest::Client,
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
) -> Option<(u16, String)> {
    let u = url(addr, path);
    let req = if method == "GET" { c.get(u) } else { c.post(u) };
    let r = req.send().await.ok()?;
    let s = r.status().as_u16();
    let body = r.bytes().await.ok()?;
    Some((s, error_code(&body)))
}

fn serial_hex(ident: &Identity) -> String {
    hex::encode(
        shinsei_protocol::signed::summarize_cert(&ident.cert)
            .unwrap()
            .serial,
    )
}

/// The finding: "With admin alice's serial and SPKI digest in `deny_list_file` and the
/// relay restarted, `POST …/devices/TAB-0099/disable` and `GET /admin/v1/audit` still
/// returned 200." Now: refused on every route, on a connection opened before the
/// denial too, after a restart, whether denied in the file or through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_admin_is_refused_on_every_admin_route() {
    let env = Env::new();
    let deny_file = env.dir.path().join("deny.txt");
    std::fs::write(&deny_file, "").unwrap();
    let mut cfg = env.config();
    cfg.paths.deny_list_file = Some(deny_file.clone());
    let relay = env
        .start(cfg.clone(), shinsei_relay::RelayOptions::default())
        .await;
    let root = env.pki.root.clone();
    let alice_id = admin(&env.pki, "alice");
    let alice = client(&root, Some(&alice_id), false);
    let bob = client(&root, Some(&admin(&env.pki, "bob")), false);
    let carol = client(&root, Some(&admin(&env.pki, "carol")), false);
    assert_eq!(
        ask(&alice, relay.admin_addr, "GET", "/admin/v1/devices").await,
        Some((200, String::new()))
    );
    assert_eq!(
        ask(&carol, relay.admin_addr, "GET", "/admin/v1/devices").await,
        Some((200, String::new()))
    );

    // Alice's certificate in the deny-list file, reloaded: her open keep-alive
    // connection and any new one are refused on every route.
    std::fs::write(&deny_file, format!("serial:{}\n", serial_hex(&alice_id))).unwrap();
    relay.reload().unwrap();
    let fresh = client(&root, Some(&alice_id), false);
    for c in [&alice, &fresh] {
        for (m, p) in ROUTES {
            assert_eq!(
                ask(c, relay.admin_addr, m, p).await,
                Some((403, "admin_revoked".into())),
                "{m} {p}"
            );
        }
    }

    // Bob (a security officer) revokes carol through the API: at once, persistently.
    let (s, v) = {
        let r = bob
            .post(url(relay.admin_addr, "/admin/v1/admins/carol/revoke"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!((s, v["revoked"].as_str()), (200, Some("carol")), "{v}");
    assert_eq!(
        ask(
            &carol,
            relay.admin_addr,
            "POST",
            "/admin/v1/devices/TAB-0001/disable"
        )
        .await,
        Some((403, "admin_revoked".into()))
    );
    // No one revokes themselves here (that would lock out the last officer by a slip).
    assert_eq!(
        ask(
            &bob,
            relay.admin_addr,
            "POST",
            "/admin/v1/admins/bob/revoke"
        )
        .await,
        Some((409, "revoke_self".into()))
    );
    relay.shutdown().await;

    // After a restart: both still refused everywhere; bob still served.
    let relay = env.start(cfg, shinsei_relay::RelayOptions::default()).await;
    for (who, ident) in [("alice", &alice_id)] {
        let c = client(&root, Some(ident), false);
        for (m, p) in ROUTES {
            assert_eq!(
                ask(&c, relay.admin_addr, m, p).await,
                Some((403, "admin_revoked".into())),
                "{who} {m} {p}"
            );
        }
    }
    let carol = client(&root, Some(&env_admin_cert(&env, "carol")), false);
    for (m, p) in ROUTES {
        assert_eq!(
            ask(&carol, relay.admin_addr, m, p).await,
            Some((403, "admin_revoked".into())),
            "carol {m} {p}"
        );
    }
    let bob = client(&root, Some(&env_admin_cert(&env, "bob")), false);
    assert_eq!(
        ask(&bob, relay.admin_addr, "GET", "/admin/v1/devices").await,
        Some((200, String::new()))
    );

    // Who tried what, and why it was refused.
    let v: Value = get_json(&bob, relay.admin_addr, "/admin/v1/audit?limit=1000").await;
    let entries = v["entries"].as_array().unwrap();
    let refused: Vec<(&str, &str, &str)> = entries
        .iter()
        .filter(|e| e["action"].as_str().unwrap().ends_with("(refused)"))
        .map(|e| {
            (
                e["admin"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["detail"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        refused.contains(&(
            "alice",
            "POST /admin/v1/devices/TAB-0001/wipe (refused)",
            "admin_revoked: the certificate of alice is revoked"
        )),
        "{refused:?}"
    );
    assert!(refused
        .iter()
        .any(|(a, act, _)| *a == "carol" && act.starts_with("GET /metrics")));
    assert!(entries.iter().any(|e| e["admin"] == "bob"
        && e["action"] == "revoke_admin"
        && e["detail"] == "revoked carol"
        && e["role"] == "security-officer"));
    relay.shutdown().await;
}

/// The identity of an already issued admin certificate.
fn env_admin_cert(env: &Env, name: &str) -> Identity {
    let l = &env.pki.layout;
    Identity {
        cert: shinsei_pki::layout::read_cert_pem(&l.admin_cert(name)).unwrap(),
        key_der: shinsei_pki::layout::read_pkcs8_pem(&l.admin_key(name))
            .unwrap()
            .secret_pkcs8_der()
            .to_vec(),
    }
}

/// A CRL signed by the root CA revokes an admin certificate at the handshake (the
/// device CA's CRL, configured too, does not lock the other administrators out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_crl_revokes_an_admin_certificate() {
    let env = Env::new();
    let root_ca = shinsei_provisioning::pki::load_root(&env.pki.layout, now()).unwrap();
    let dca = shinsei_provisioning::pki::load_device_ca(&env.pki.layout, now()).unwrap();
    let dave_id = admin(&env.pki, "dave");
    let erin = client(&env.pki.root, Some(&admin(&env.pki, "erin")), false);
    let crl = |serials: Vec<Vec<u8>>, n| {
        let revoked: Vec<_> = serials
            .into_iter()
            .map(|serial| shinsei_provisioning::pki::Revoked {
                serial,
                revoked_at: now() - 10,
            })
            .collect();
        shinsei_provisioning::pki::build_crl(&root_ca, &revoked, n, now() - 60, 86_400).unwrap()
    };
    let root_crl = env.dir.path().join("root.crl.der");
    let dev_crl = env.dir.path().join("device-ca.crl.der");
    std::fs::write(&root_crl, crl(vec![], 1)).unwrap();
    std::fs::write(
        &dev_crl,
        shinsei_provisioning::pki::build_crl(&dca, &[], 1, now() - 60, 86_400).unwrap(),
    )
    .unwrap();
    let mut cfg = env.config();
    cfg.paths.crl_files = vec![root_crl.clone(), dev_crl];
    let relay = env.start(cfg, shinsei_relay::RelayOptions::default()).await;
    let dave = || client(&env.pki.root, Some(&dave_id), false);
    assert_eq!(
        ask(&dave(), relay.admin_addr, "GET", "/admin/v1/devices").await,
        Some((200, String::new()))
    );
    let serial = shinsei_protocol::signed::summarize_cert(&dave_id.cert)
        .unwrap()
        .serial;
    std::fs::write(&root_crl, crl(vec![serial], 2)).unwrap();
    relay.reload().unwrap();
    for (m, p) in ROUTES {
        assert_eq!(ask(&dave(), relay.admin_addr, m, p).await, None, "{m} {p}");
    }
    assert_eq!(
        ask(&erin, relay.admin_addr, "GET", "/admin/v1/devices").await,
        Some((200, String::new()))
    );
    // Tablets are unaffected by the root's CRL.
    let t = tablet(&env.pki, "TAB-0001");
    let c = client(&env.pki.root, Some(&t.ident), false);
    assert_eq!(
        get(&c, relay.device_addr, "/v1/status")
            .await
            .unwrap()
            .status(),
        200
    );
    relay.shutdown().await;
}

/// "A viewer cannot disable": each role may do what the table in
/// `relay/src/approval.rs` says and nothing more; refusals are audited with the role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_do_only_what_it_is_for() {
    let (env, relay) = Env::started().await;
    let root = env.pki.root.clone();
    let viewer = client(
        &root,
        Some(&admin_as(&env.pki, "vera", AdminRole::Viewer)),
        false,
    );
    let operator = client(
        &root,
        Some(&admin_as(&env.pki, "otto", AdminRole::Operator)),
        false,
    );
    let a = relay.admin_addr;
    for (m, p) in [
        ("GET", "/admin/v1/devices"),
        ("GET", "/admin/v1/audit"),
        ("GET", "/metrics"),
    ] {
        assert_eq!(ask(&viewer, a, m, p).await.map(|r| r.0), Some(200), "{p}");
    }
    for action in ["disable", "enable", "wipe", "revoke"] {
        assert_eq!(
            ask(
                &viewer,
                a,
                "POST",
                &format!("/admin/v1/devices/TAB-0001/{action}")
            )
            .await,
            Some((403, "role_forbidden".into())),
            "viewer {action}"
        );
    }
    assert_eq!(
        ask(&viewer, a, "POST", "/admin/v1/admins/otto/revoke").await,
        Some((403, "role_forbidden".into()))
    );
    assert_eq!(
        admin_post(&operator, a, "TAB-0001", "disable").await.1["state"],
        "disabled"
    );
    assert_eq!(
        admin_post(&operator, a, "TAB-0001", "enable").await.1["state"],
        "active"
    );
    for action in ["wipe", "revoke"] {
        assert_eq!(
            ask(
                &operator,
                a,
                "POST",
                &format!("/admin/v1/devices/TAB-0001/{action}")
            )
            .await,
            Some((403, "role_forbidden".into())),
            "operator {action}"
        );
    }
    assert_eq!(
        ask(&operator, a, "POST", "/admin/v1/admins/vera/revoke").await,
        Some((403, "role_forbidden".into()))
    );
    // Nothing the viewer or operator was refused happened.
    let v: Value = get_json(&viewer, a, "/admin/v1/devices").await;
    assert_eq!(v["devices"][0]["state"], "active");
    assert!(v["devices"][0]["pending"].is_null());
    let v: Value = get_json(&viewer, a, "/admin/v1/audit").await;
    let e = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["admin"] == "vera"
                && e["action"] == "POST /admin/v1/devices/TAB-0001/disable (refused)"
        })
        .expect("the viewer's refused disable is audited");
    assert_eq!(e["role"], "viewer");
    assert_eq!(
        e["detail"],
        "role_forbidden: role viewer may not do this; it needs operator"
    );
    relay.shutdown().await;
}

/// "A wipe without its second approval does not happen": one officer's wipe waits
/// (the tablet still sees `active`), the same officer cannot approve it, an approval
/// after the time limit is a new request, and only a second officer in time carries
/// it out. The emergency path: one officer, a reason, once a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wipe_needs_a_second_officer_in_time() {
    let env = Env::new();
    let (start, clock) = manual_clock();
    let relay = env
        .start(env.config(), opts_with_clock(Arc::new(clock.clone())))
        .await;
    let root = env.pki.root.clone();
    let [alice, bob, carol] =
        ["alice", "bob", "carol"].map(|n| client(&root, Some(&admin(&env.pki, n)), false));
    let t = tablet(&env.pki, "TAB-0003");
    let tab = client(&root, Some(&t.ident), false);
    let state = || async {
        get_json(&tab, relay.device_addr, "/v1/status").await["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state().await, "active");
    let a = relay.admin_addr;

    let (s, v) = admin_post(&alice, a, "TAB-0003", "wipe").await;
    assert_eq!((s, v["state"].as_str()), (202, Some("active")), "{v}");
    assert_eq!(v["pending"]["requested_by"], "alice");
    assert_eq!(v["pending"]["expires_at"], start + 900);
    assert_eq!(state().await, "active");
    let (s, v) = admin_post(&alice, a, "TAB-0003", "wipe").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (409, Some("awaiting_second_officer"))
    );
    assert_eq!(state().await, "active");

    // Past the limit the waiting order is void: bob's order is a new request.
    clock.advance(901);
    let (s, v) = admin_post(&bob, a, "TAB-0003", "wipe").await;
    assert_eq!(
        (s, v["pending"]["requested_by"].as_str()),
        (202, Some("bob")),
        "{v}"
    );
    assert_eq!(state().await, "active");
    // Carol in time: carried out.
    clock.advance(60);
    let (s, v) = admin_post(&carol, a, "TAB-0003", "wipe").await;
    assert_eq!((s, v["state"].as_str()), (200, Some("wipe_pending")), "{v}");
    assert!(v["pending"].is_null());
    assert_eq!(state().await, "wipe_pending");

    // A re-enable calls a waiting revoke off.
    let (s, _) = admin_post(&alice, a, "TAB-0004", "revoke").await;
    assert_eq!(s, 202);
    admin_post(&bob, a, "TAB-0004", "enable").await;
    let (s, v) = admin_post(&carol, a, "TAB-0004", "revoke").await;
    assert_eq!(
        (s, v["pending"]["requested_by"].as_str()),
        (202, Some("carol")),
        "{v}"
    );

    // Emergency: a reason is required; then at once; once a day per officer.
    let emergency = |reason: Option<&str>| {
        let mut b = serde_json::json!({ "emergency": true });
        if let Some(r) = reason {
            b["reason"] = r.into();
        }
        b
    };
    let r = post(
        &alice,
        a,
        "/admin/v1/devices/TAB-0005/wipe",
        Some(&emergency(None)),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(&r.bytes().await.unwrap()), "reason_required");
    let r = post(
        &alice,
        a,
        "/admin/v1/devices/TAB-0005/wipe",
        Some(&emergency(Some("stolen from the van, online"))),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "wipe_pending");
    let r = post(
        &alice,
        a,
        "/admin/v1/devices/TAB-0006/wipe",
        Some(&emergency(Some("another one"))),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(&r.bytes().await.unwrap()), "emergency_quota");
    let r = post(
        &alice,
        a,
        "/admin/v1/devices/TAB-0006/revoke",
        Some(&emergency(Some("x"))),
    )
    .await;
    assert_eq!(error_code(&r.bytes().await.unwrap()), "emergency_wipe_only");
    let r = post(
        &alice,
        a,
        "/admin/v1/devices/TAB-0006/wipe",
        Some(&serde_json::json!({"reason": "x", "extra": 1})),
    )
    .await;
    assert_eq!(r.status(), 400);

    let v: Value = get_json(&bob, a, "/admin/v1/audit").await;
    let rows: Vec<(String, String, String)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["device_id"] == "TAB-0003" || e["device_id"] == "TAB-0005")
        .map(|e| {
            (
                e["admin"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let until = |t: u64| format!("awaiting a second security officer until {t}");
    assert_eq!(
        rows,
        vec![
            ("alice".into(), "wipe requested".into(), until(start + 900)),
            (
                "alice".into(),
                "wipe (refused)".into(),
                "awaiting_second_officer".into()
            ),
            (
                "bob".into(),
                "wipe requested".into(),
                until(start + 901 + 900)
            ),
            (
                "carol".into(),
                "wipe approved".into(),
                "requested by bob".into()
            ),
            (
                "alice".into(),
                "wipe (refused)".into(),
                "reason_required".into()
            ),
            (
                "alice".into(),
                "wipe EMERGENCY".into(),
                "reason: stolen from the van, online".into()
            ),
        ]
    );
    relay.shutdown().await;
}

/// The fleet view's facts for IT (issue 17): when each tablet last checked in and when
/// its certificate expires. A check-in writes `last_seen` at most once a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_shows_last_check_in_and_certificate_expiry() {
    let env = Env::new();
    let (start, clock) = manual_clock();
    let relay = env
        .start(env.config(), opts_with_clock(Arc::new(clock.clone())))
        .await;
    let t = tablet(&env.pki, "TAB-0010");
    let not_after = shinsei_protocol::signed::summarize_cert(&t.ident.cert)
        .unwrap()
        .not_after as u64;
    let tab = client(&env.pki.root, Some(&t.ident), false);
    let viewer = client(
        &env.pki.root,
        Some(&admin_as(&env.pki, "vera", AdminRole::Viewer)),
        false,
    );
    let seen = || async {
        let v = get_json(&viewer, relay.admin_addr, "/admin/v1/devices").await;
        let d = v["devices"][0].clone();
        (d["last_seen"].as_u64(), d["cert_expires"].as_u64())
    };
    get_json(&tab, relay.device_addr, "/v1/status").await;
    assert_eq!(seen().await, (Some(start), Some(not_after)));
    clock.advance(30);
    get_json(&tab, relay.device_addr, "/v1/status").await;
    assert_eq!(
        seen().await.0,
        Some(start),
        "written again within the minute"
    );
    clock.advance(31);
    get_json(&tab, relay.device_addr, "/v1/status").await;
    assert_eq!(seen().await.0, Some(start + 61));
    relay.shutdown().await;
}

/// Issue 17: IT reads a device's operations log as the relay holds it, with the
/// relay's verdict on its chain (a viewer may).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devices_log_is_shown_with_its_chain_verdict() {
    let (env, relay) = Env::started().await;
    let t = tablet(&env.pki, "TAB-0011");
    let tab = client(&env.pki.root, Some(&t.ident), false);
    let viewer = client(
        &env.pki.root,
        Some(&admin_as(&env.pki, "vera", AdminRole::Viewer)),
        false,
    );
    let path = shinsei_protocol::api::admin_device_audit_path("TAB-0011");
    let v = get_json(&viewer, relay.admin_addr, &path).await;
    assert_eq!(
        (v["chain_ok"].as_bool(), v["chain"].as_str()),
        (Some(true), Some("empty")),
        "{v}"
    );
    let body = serde_json::to_value(t.audit_upload(shinsei_testkit::audit::log(3))).unwrap();
    let r = post(&tab, relay.device_addr, "/v1/audit", Some(&body)).await;
    assert_eq!(r.status(), 200);
    let v = get_json(&viewer, relay.admin_addr, &path).await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["entries"][0]["event"], "logout");
    assert_eq!(
        (v["chain_ok"].as_bool(), v["chain"].as_str()),
        (Some(true), Some("intact through 3 (signed head)"))
    );
    assert!(v["alert"].is_null());
    assert_eq!(v["total"], 3);
    // `?limit=` shows the newest entries; the verdict still covers all held.
    let v = get_json(&viewer, relay.admin_addr, &format!("{path}?limit=1")).await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["entries"][0]["seq"], 3, "{v}");
    assert_eq!(
        (v["total"].as_u64(), v["chain_ok"].as_bool()),
        (Some(3), Some(true))
    );
    // A forked upload is refused and raised: the view shows the alert.
    let forked = shinsei_testkit::audit::chain(2, 4, [9; 32], "S002");
    let body = serde_json::to_value(t.audit_upload(forked)).unwrap();
    let r = post(&tab, relay.device_addr, "/v1/audit", Some(&body)).await;
    assert_eq!(r.status(), 409);
    let v = get_json(&viewer, relay.admin_addr, &path).await;
    assert!(v["alert"].as_str().unwrap().contains("rewritten"), "{v}");
    assert_eq!(
        v["chain_ok"], true,
        "what is held is still the intact chain: {v}"
    );
    relay.shutdown().await;
}
