//! Device control over real TLS: long-polled status, disable reaching a waiting tablet,
//! the wipe flow, the admin API and its audit log, device audit uploads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_reaches_a_long_polling_device() {
    let (env, relay) = Env::started().await;
    let t = tablet(&env.pki, "TAB-0001");
    let adm = client(&env.pki.root, Some(&admin(&env.pki, "alice")), false);
    for h2 in [false, true] {
        let c = client(&env.pki.root, Some(&t.ident), h2);
        let v: Value = get_json(&c, relay.device_addr, "/v1/status").await;
        let version = v["version"].as_u64().unwrap();
        assert!(v["server_time"].as_u64().unwrap() > 1_700_000_000);

        // Long-poll for up to 30 s; the admin disables the device after 300 ms.
        let u = url(
            relay.device_addr,
            &format!("/v1/status?wait=30&since={version}"),
        );
        let poll = tokio::spawn(async move {
            let t0 = Instant::now();
            let v: Value = c.get(u).send().await.unwrap().json().await.unwrap();
            (v, t0.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            relay
                .core()
                .metrics
                .long_polls_open
                .load(std::sync::atomic::Ordering::SeqCst),
            1
        );
        let action = if h2 { "enable" } else { "disable" };
        let t_cmd = Instant::now();
        let (s, _) = admin_post(&adm, relay.admin_addr, "TAB-0001", action).await;
        assert_eq!(s, 200);
        let (v, waited) = poll.await.unwrap();
        let expect = if h2 { "active" } else { "disabled" };
        assert_eq!(v["state"], expect);
        assert_eq!(v["version"].as_u64().unwrap(), version + 1);
        // Well before the long-poll's own 30 s timeout.
        assert!(waited < Duration::from_secs(25), "{waited:?}");
        eprintln!(
            "state change reached the tablet {:?} after the admin command",
            t_cmd.elapsed()
        );
    }
    // A long-poll with nothing new returns at its timeout with the same version.
    let c = client(&env.pki.root, Some(&t.ident), false);
    let v: Value = get_json(&c, relay.device_addr, "/v1/status?wait=1&since=3").await;
    assert_eq!(v["version"], 3);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wipe_flow_and_admin_audit() {
    let (env, relay) = Env::started().await;
    let t = tablet(&env.pki, "TAB-0002");
    let alice = client(&env.pki.root, Some(&admin(&env.pki, "alice")), false);
    let bob = client(&env.pki.root, Some(&admin(&env.pki, "bob")), false);
    let c = client(&env.pki.root, Some(&t.ident), false);
    let r = get(&c, relay.device_addr, "/v1/status").await.unwrap();
    assert_eq!(r.status(), 200);

    // Audit upload while active (a chain signed by the tablet, issue 18).
    let body = serde_json::to_value(t.audit_upload(shinsei_testkit::audit::log(2))).unwrap();
    let r = post(&c, relay.device_addr, "/v1/audit", Some(&body)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["acked_through"], 2);
    assert_eq!(
        relay.core().store.device_audit("TAB-0002").unwrap().len(),
        2
    );

    let (s, v) = approved_post(&alice, &bob, relay.admin_addr, "TAB-0002", "wipe").await;
    assert_eq!((s, v["state"].as_str()), (200, Some("wipe_pending")));

    // wipe_pending: status yes, submissions and audit no.
    let v: Value = get_json(&c, relay.device_addr, "/v1/status").await;
    assert_eq!(v["state"], "wipe_pending");
    let (_, e) = t.seal(&env.pki, &standard_app(), now());
    let (s, b) = post_envelope(&c, relay.device_addr, e).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (403, "wipe_pending"));
    let r = post(&c, relay.device_addr, "/v1/audit", Some(&body)).await;
    assert_eq!(r.status(), 403);

    // Confirm: wiped, then refused at the TLS layer.
    let r = post(&c, relay.device_addr, "/v1/wipe-confirm", None).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"], "wiped");
    let fresh = client(&env.pki.root, Some(&t.ident), false);
    assert!(get(&fresh, relay.device_addr, "/v1/status").await.is_err());
    let (s, v) = admin_post(&alice, relay.admin_addr, "TAB-0002", "enable").await;
    assert_eq!((s, v["error"].as_str()), (409, Some("invalid_transition")));

    // A device never seen can be disabled ahead of time; bad IDs are refused.
    let (s, v) = admin_post(&alice, relay.admin_addr, "TAB-0099", "disable").await;
    assert_eq!((s, v["state"].as_str()), (200, Some("disabled")));
    let (s, _) = admin_post(&alice, relay.admin_addr, "tab_0099", "disable").await;
    assert_eq!(s, 400);
    let (s, _) = admin_post(&alice, relay.admin_addr, "TAB-0099", "explode").await;
    assert_eq!(s, 404);

    // Device list with history.
    let v: Value = get_json(&alice, relay.admin_addr, "/admin/v1/devices").await;
    let devs = v["devices"].as_array().unwrap();
    let d = devs.iter().find(|d| d["device_id"] == "TAB-0002").unwrap();
    assert_eq!(d["state"], "wiped");
    let states: Vec<&str> = strs(&d["history"], "state");
    assert_eq!(states, ["active", "wipe_pending", "wiped"]);
    assert_eq!(d["history"][1]["by"], "admin:bob");
    assert_eq!(d["history"][2]["by"], "device");
    assert!(d["updated_at"].as_u64().unwrap() > 1_700_000_000);

    // The admin audit log: who, what, when.
    let v: Value = get_json(&alice, relay.admin_addr, "/admin/v1/audit").await;
    let entries = v["entries"].as_array().unwrap();
    let actions: Vec<(&str, &str, Option<&str>)> = entries
        .iter()
        .map(|e| {
            assert!(e["at"].as_u64().unwrap() > 1_700_000_000);
            (
                e["admin"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["device_id"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("alice", "wipe requested", Some("TAB-0002")),
            ("bob", "wipe approved", Some("TAB-0002")),
            ("alice", "enable (refused)", Some("TAB-0002")),
            ("alice", "disable", Some("TAB-0099")),
            // Every refused admin request is audited (issue 17).
            (
                "alice",
                "POST /admin/v1/devices/tab_0099/disable (refused)",
                None
            ),
            (
                "alice",
                "POST /admin/v1/devices/TAB-0099/explode (refused)",
                None
            ),
            ("alice", "list_devices", None),
            ("alice", "read_audit", None),
        ]
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_client_of_provisioning_talks_to_the_relay() {
    // `shinsei-provision device …` uses provisioning::fleet::AdminClient: the contract
    // end to end (relay certificate for 127.0.0.1, so no resolver is needed).
    use shinsei_protocol::device::DeviceId;
    use shinsei_provisioning::fleet::{audit_table, devices_table, AdminClient, DeviceAction};
    let env = Env::for_host("127.0.0.1");
    let relay = env.start_default().await;
    admin(&env.pki, "alice");
    let base = format!("https://127.0.0.1:{}", relay.admin_addr.port());
    let l = env.pki.layout.clone();
    let (list, state, audit, refused) = tokio::task::spawn_blocking(move || {
        let c = AdminClient::from_pki(&l, Some("alice"), Some(&base)).unwrap();
        let id = DeviceId::parse("TAB-0042").unwrap();
        // Alone, an officer's wipe waits; with the emergency path and a reason it is
        // carried out at once (issue 17).
        let ask = shinsei_protocol::api::ActionRequest::default();
        let waiting = c.device_action(&id, DeviceAction::Wipe, &ask).unwrap();
        assert_eq!(waiting.state.as_str(), "active");
        assert_eq!(waiting.pending.as_ref().unwrap().requested_by, "alice");
        let urgent = shinsei_protocol::api::ActionRequest {
            reason: Some("stolen, online".into()),
            emergency: true,
        };
        let state = c.device_action(&id, DeviceAction::Wipe, &urgent).unwrap();
        let refused = c
            .device_action(&id, DeviceAction::Disable, &ask)
            .unwrap_err();
        (
            c.list_devices().unwrap(),
            state,
            c.audit().unwrap(),
            refused,
        )
    })
    .await
    .unwrap();
    assert_eq!(
        (state.device_id.as_str(), state.state.as_str()),
        ("TAB-0042", "wipe_pending")
    );
    assert!(
        refused.to_string().contains("invalid_transition"),
        "{refused}"
    );
    assert_eq!(list.devices.len(), 1);
    assert_eq!(list.devices[0].history.len(), 2);
    assert!(list.devices[0].pending.is_none());
    assert!(devices_table(&list).contains("wipe_pending"));
    assert_eq!(audit.entries[0].action, "wipe requested");
    assert_eq!(audit.entries[1].action, "wipe EMERGENCY");
    assert_eq!(
        audit.entries[1].detail.as_deref(),
        Some("reason: stolen, online")
    );
    assert_eq!(audit.entries[1].device_id.as_deref(), Some("TAB-0042"));
    assert!(audit_table(&audit).contains("alice"));
    relay.shutdown().await;
}

/// Issue 18: the relay checks each device's log as a chain signed by the device, and
/// refuses (and raises for IT) a gap, a rewritten entry, a replayed sequence number
/// with other content, a log restarted after truncation, and a head signed by another
/// key; a resend after a lost acknowledgement is accepted and stores nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_holds_each_devices_log_as_a_signed_chain() {
    use shinsei_testkit::audit::{chain, log};
    let (env, relay) = Env::started().await;
    let t = tablet(&env.pki, "TAB-0003");
    let c = client(&env.pki.root, Some(&t.ident), false);
    let up = |entries| serde_json::to_value(t.audit_upload(entries)).unwrap();
    let send = |body: Value| {
        let c = c.clone();
        async move {
            let r = post(&c, relay.device_addr, "/v1/audit", Some(&body)).await;
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    let full = log(10);
    let (s, v) = send(up(full[..5].to_vec())).await;
    assert_eq!((s, v["acked_through"].as_u64()), (200, Some(5)));
    assert_eq!(v["head_hash"], full[4].hash.as_str());
    // Resend (the acknowledgement was lost) plus new entries: accepted, nothing doubled.
    let (s, v) = send(up(full[2..8].to_vec())).await;
    assert_eq!((s, v["acked_through"].as_u64()), (200, Some(8)));
    let held = relay.core().store.device_audit("TAB-0003").unwrap();
    assert_eq!(
        held.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );

    // Each break of the chain: 409, nothing stored, an alert for IT.
    let forked = chain(6, 9, full[4].hash_bytes().unwrap(), "S002"); // rewritten from 6 on
    let replay8 = chain(8, 8, full[6].hash_bytes().unwrap(), "S009"); // seq 8, other content
    let restarted = log(3); // truncated and begun again
    let gap = full[9..].to_vec(); // entry 9 missing
    for (what, body) in [
        ("fork", up(forked)),
        ("replayed seq", up(replay8)),
        ("restart", up(restarted)),
        ("gap", up(gap)),
    ] {
        let (s, v) = send(body).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (409, Some("audit_chain_broken")),
            "{what}: {v}"
        );
    }
    let held2 = relay.core().store.device_audit("TAB-0003").unwrap();
    assert_eq!(held, held2, "a refused upload changes nothing");
    let rec = relay.core().registry.get("TAB-0003").unwrap().unwrap();
    assert!(rec.audit_alert.is_some());
    assert_eq!(rec.audit_head.as_ref().map(|h| h.seq), Some(8));
    let alice = client(&env.pki.root, Some(&admin(&env.pki, "alice")), false);
    let v: Value = get_json(&alice, relay.admin_addr, "/admin/v1/audit").await;
    let alerts = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "audit_chain_broken" && e["device_id"] == "TAB-0003")
        .count();
    assert_eq!(alerts, 4);

    // A head signed by another key: refused before the chain is looked at.
    let other = tablet(&env.pki, "TAB-0004");
    let mut forged = t.audit_upload(full[8..].to_vec());
    forged.head = other.audit_upload(full[8..].to_vec()).head;
    let (s, v) = send(serde_json::to_value(forged).unwrap()).await;
    assert_eq!((s, v["error"].as_str()), (422, Some("bad_signature")));
    // The true continuation is still accepted.
    let (s, v) = send(up(full[8..].to_vec())).await;
    assert_eq!((s, v["acked_through"].as_u64()), (200, Some(10)));
    relay.shutdown().await;
}
