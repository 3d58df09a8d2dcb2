//! Issue 17, the signed staff list through the relay: IT publishes it (an operator;
//! only a list signed under the ward root, only a newer one), every tablet learns its
//! sequence at check-in and fetches exactly the bytes IT signed. The relay cannot make
//! or alter one: the tablet verifies it against its pinned root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;
use shinsei_protocol::x509::AdminRole;
use shinsei_provisioning::staff;

/// Signs the PKI's staff database into a list (sequence +1).
fn published(pki: &Pki, dir: &std::path::Path, ids: &[&str]) -> Vec<u8> {
    for id in ids {
        staff::add(&pki.layout, id, "Counter-Staff-2026", true).unwrap();
    }
    let out = dir.join(format!("list-{}.json", rand_suffix()));
    staff::publish(&pki.layout, 30, &out, now()).unwrap();
    std::fs::read(&out).unwrap()
}

fn rand_suffix() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

async fn post_list(c: &reqwest::Client, addr: std::net::SocketAddr, b: Vec<u8>) -> (u16, Value) {
    let r = c
        .post(url(addr, "/admin/v1/staff-list"))
        .header("content-type", "application/json")
        .body(b)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tablets_fetch_the_newest_staff_list_it_published() {
    let (env, relay) = Env::started().await;
    let root = env.pki.root.clone();
    let t = tablet(&env.pki, "TAB-0001");
    let dev = client(&root, Some(&t.ident), false);
    let (dv, ad) = (relay.device_addr, relay.admin_addr);

    // Nothing published yet.
    let st = get_json(&dev, dv, "/v1/status").await;
    assert!(st.get("staff_list").is_none(), "{st}");
    assert_eq!(
        get(&dev, dv, "/v1/staff-list")
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    let one = published(&env.pki, env.dir.path(), &["S0001", "S0002"]);
    let viewer = client(
        &root,
        Some(&admin_as(&env.pki, "vera", AdminRole::Viewer)),
        false,
    );
    let (s, v) = post_list(&viewer, ad, one.clone()).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("role_forbidden")));
    let op = client(
        &root,
        Some(&admin_as(&env.pki, "otto", AdminRole::Operator)),
        false,
    );
    // Garbage, and a list signed under another ward's root.
    let (s, v) = post_list(&op, ad, b"{}".to_vec()).await;
    assert_eq!((s, v["error"].as_str()), (409, Some("bad_staff_list")));
    let other = make_pki(env.dir.path(), "other");
    let foreign = published(&other, env.dir.path(), &["S0009"]);
    let (s, v) = post_list(&op, ad, foreign).await;
    assert_eq!((s, v["error"].as_str()), (409, Some("bad_staff_list")));

    let (s, v) = post_list(&op, ad, one.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["sequence"].as_u64(), v["accounts"].as_u64()),
        (Some(1), Some(2))
    );
    // The same or an older list again: refused.
    let (s, v) = post_list(&op, ad, one.clone()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (409, Some("staff_list_not_newer"))
    );

    // The tablet learns the sequence at check-in and fetches exactly those bytes.
    let st = get_json(&dev, dv, "/v1/status").await;
    assert_eq!(st["staff_list"], 1, "{st}");
    let got = get(&dev, dv, "/v1/staff-list").await.unwrap();
    assert_eq!(got.bytes().await.unwrap().to_vec(), one);

    let two = published(&env.pki, env.dir.path(), &["S0003"]);
    assert_eq!(post_list(&op, ad, two.clone()).await.0, 200);
    let st = get_json(&dev, dv, "/v1/status").await;
    assert_eq!(st["staff_list"], 2, "{st}");
    assert_eq!(
        get(&dev, dv, "/v1/staff-list")
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        two
    );
    // The older one cannot come back.
    assert_eq!(post_list(&op, ad, one).await.0, 409);
    let view = get_json(&viewer, ad, "/admin/v1/staff-list").await;
    assert_eq!(
        (view["sequence"].as_u64(), view["accounts"].as_u64()),
        (Some(2), Some(3))
    );
    // Audited with who and what (never a hash).
    let audit = get_json(&viewer, ad, "/admin/v1/audit").await.to_string();
    assert!(audit.contains("staff list published"), "{audit}");
    assert!(audit.contains("sequence 2, 3 accounts"), "{audit}");
    assert!(audit.contains("bad_staff_list"), "{audit}");
}
