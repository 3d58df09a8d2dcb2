//! Several relay nodes on one PostgreSQL database (issue 10): a wipe issued through
//! node B reaches a tablet long-polling node A; a revocation through one node is
//! enforced at the TLS layer of the other; two real `shinsei-relay` processes under
//! load, one killed mid-load, lose and duplicate nothing; a `pg_dump` backup restored
//! brings back what is inside the retention window and nothing older.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use common::{pg, *};
use serde_json::Value;
use shinsei_protocol::envelope::EnvelopeId;
use shinsei_relay::{
    config::{StoreBackend, StoreConfig},
    registry::{DeviceRecord, DeviceState, HistoryEntry},
    store::{AdminAuditEntry, DenyEntry, DeviceAuditRecord, EnvelopeMeta, PgStore, Store},
    RelayOptions, RunningRelay,
};
use shinsei_testkit::{free_port, wait::until as wait_for};

/// An environment on `db` and two relay nodes A and B on it.
async fn two_nodes(db: &pg::TestDb) -> (Env, RunningRelay, RunningRelay) {
    let (env, cfg) = Env::on_db(db);
    let a = env.start(cfg.clone(), RelayOptions::default()).await;
    let b = env.start(cfg, RelayOptions::default()).await;
    (env, a, b)
}

/// Whether a new connection presenting `ident` is refused by the node at `addr` within
/// 40 attempts 50 ms apart.
async fn refused_within_2s(
    root: &rustls::pki_types::CertificateDer<'static>,
    ident: &Identity,
    addr: SocketAddr,
) -> bool {
    for _ in 0..40 {
        let fresh = client(root, Some(ident), false);
        if get(&fresh, addr, "/v1/status").await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wipe_through_node_b_reaches_a_device_long_polling_node_a() {
    let Some(db) = pg::test_db() else { return };
    let (env, a, b) = two_nodes(&db).await;
    let t = tablet(&env.pki, "TAB-0001");
    let t2 = tablet(&env.pki, "TAB-0002");
    let alice = client(&env.pki.root, Some(&admin(&env.pki, "alice")), false);
    let bob = client(&env.pki.root, Some(&admin(&env.pki, "bob")), false);

    let c = client(&env.pki.root, Some(&t.ident), false);
    let v: Value = get_json(&c, a.device_addr, "/v1/status").await;
    assert_eq!(
        (v["state"].as_str(), v["version"].as_u64()),
        (Some("active"), Some(1))
    );

    let u = url(a.device_addr, "/v1/status?wait=30&since=1");
    let poll = tokio::spawn(async move {
        let v: Value = c.get(u).send().await.unwrap().json().await.unwrap();
        (v, Instant::now())
    });
    wait_for("the long-poll on node A", Duration::from_secs(10), || {
        a.core().metrics.long_polls_open.load(Ordering::SeqCst) == 1
    })
    .await;
    // Alice asks through node A; the waiting order is on the shared record, so Bob's
    // approval through node B carries it out.
    let (s, v) = admin_post(&alice, a.admin_addr, "TAB-0001", "wipe").await;
    assert_eq!((s, v["state"].as_str()), (202, Some("active")), "{v}");
    let t_cmd = Instant::now();
    let (s, v) = admin_post(&bob, b.admin_addr, "TAB-0001", "wipe").await;
    assert_eq!((s, v["state"].as_str()), (200, Some("wipe_pending")), "{v}");
    let (v, at) = poll.await.unwrap();
    let latency = at.duration_since(t_cmd);
    println!("figure: wipe issued through node B reached the tablet long-polling node A after {latency:?}");
    assert_eq!(v["state"], "wipe_pending");
    assert_eq!(v["version"], 2);
    assert!(latency < Duration::from_millis(1500), "{latency:?}");

    // The device confirms through A; B refuses its certificate at the TLS layer.
    let c = client(&env.pki.root, Some(&t.ident), false);
    let r = post(&c, a.device_addr, "/v1/wipe-confirm", None).await;
    assert_eq!(r.status(), 200);
    let root = env.pki.root.clone();
    let ident = t.ident.cert.clone();
    assert!(
        refused_within_2s(&root, &t.ident, b.device_addr).await,
        "node B still accepts a wiped device"
    );
    let _ = ident;

    // Revocation through B: A refuses at the TLS layer, other devices unaffected.
    let c2 = client(&root, Some(&t2.ident), false);
    let r = get(&c2, a.device_addr, "/v1/status").await.unwrap();
    assert_eq!(r.status(), 200);
    let (s, _) = approved_post(&alice, &bob, b.admin_addr, "TAB-0002", "revoke").await;
    assert_eq!(s, 200);
    assert!(
        refused_within_2s(&root, &t2.ident, a.device_addr).await,
        "node A still accepts a device revoked through node B"
    );

    // One registry, one audit log, whichever node is asked.
    for node in [&a, &b] {
        let v: Value = get_json(&alice, node.admin_addr, "/admin/v1/audit").await;
        let actions: Vec<&str> = strs(&v["entries"], "action");
        assert!(
            actions.starts_with(&[
                "wipe requested",
                "wipe approved",
                "revoke requested",
                "revoke approved"
            ]),
            "{actions:?}"
        );
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_through_two_nodes_are_stored_once_and_forwarded_once() {
    let Some(db) = pg::test_db() else { return };
    let (env, a, b) = two_nodes(&db).await;
    let t = tablet(&env.pki, "TAB-0003");
    let c = client(&env.pki.root, Some(&t.ident), true);
    let mut ids = Vec::new();
    for i in 0..6 {
        let (id, e) = t.seal(&env.pki, &standard_app(), now());
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (s, r1) = post_envelope(&c, first.device_addr, e.clone())
            .await
            .unwrap();
        assert_eq!(s, 200);
        // The replay through the other node returns the same receipt.
        let (s, r2) = post_envelope(&c, second.device_addr, e).await.unwrap();
        assert_eq!((s, &r1), (200, &r2));
        ids.push(id);
    }
    let store = a.core().store.clone();
    // A node counts a delivery just after it marked it forwarded in the database, so
    // wait for the counters rather than for the pending list alone.
    let forwarded = || {
        a.core().metrics.forwarded.load(Ordering::SeqCst)
            + b.core().metrics.forwarded.load(Ordering::SeqCst)
    };
    wait_for("forwarding", Duration::from_secs(20), || {
        forwarded() >= 6 && nothing_pending(&*store)
    })
    .await;
    // Let both forwarders make further passes: a second delivery would show here.
    for _ in 0..3 {
        a.core().forward_wakeup.notify_one();
        b.core().forward_wakeup.notify_one();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(forwarded(), 6, "forwarded more than once");
    for id in &ids {
        assert!(env
            .spool()
            .join(id.to_hex())
            .join("application.json")
            .exists());
    }
    let accepted = a.core().metrics.accepted.load(Ordering::SeqCst)
        + b.core().metrics.accepted.load(Ordering::SeqCst);
    assert_eq!(accepted, 6);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_and_lost_connections_are_retried() {
    let Some(db) = pg::test_db() else { return };
    let (env, mut cfg) = Env::on_db(&db);
    cfg.store.retry_attempts = 3;
    cfg.store.timeout_secs = 2;
    let relay = env.start(cfg, RelayOptions::default()).await;
    let t = tablet(&env.pki, "TAB-0004");
    let c = client(&env.pki.root, Some(&t.ident), false);
    // Every connection of the relay is killed between submissions: transparent.
    for _ in 0..3 {
        let (_, e) = t.seal(&env.pki, &standard_app(), now());
        assert_accepted(&c, relay.device_addr, e).await;
        db.terminate_sessions();
    }
    // The database refuses connections: 503 `unavailable`, nothing accepted.
    let name = db.name.clone();
    let admin_sql = |sql: String| {
        let url = pg::server().unwrap().admin_url();
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.batch_execute(&sql).unwrap();
        })
        .join()
        .unwrap();
    };
    admin_sql(format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
    ));
    db.terminate_sessions();
    let (id, e) = t.seal(&env.pki, &standard_app(), now());
    let t0 = Instant::now();
    let (s, body) = post_envelope(&c, relay.device_addr, e.clone())
        .await
        .unwrap();
    assert_eq!((s, error_code(&body).as_str()), (503, "unavailable"));
    println!(
        "figure: 503 after {:?} with the database refusing connections",
        t0.elapsed()
    );
    // Back: the same envelope is accepted (the tablet's outbox retries it).
    admin_sql(format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"));
    let (s, _) = post_envelope(&c, relay.device_addr, e).await.unwrap();
    assert_eq!(s, 200);
    let store = relay.core().store.clone();
    assert!(store.envelope_meta(&id).unwrap().is_some());
    assert_eq!(relay.core().metrics.accepted.load(Ordering::SeqCst), 4);
    relay.shutdown().await;
}

// ---------------------------------------------------------------------------------
// Two real processes, one killed mid-load.

struct Node {
    child: Child,
    device: SocketAddr,
    log: std::path::PathBuf,
}

fn start_node(env: &Env, db: &pg::TestDb, name: &str) -> Node {
    let (dp, ap) = (free_port(), free_port());
    let p = env.dir.path().join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "log_level = \"info\"\n\
             [listen]\ndevice = \"127.0.0.1:{dp}\"\nadmin = \"127.0.0.1:{ap}\"\n\
             [paths]\npki_dir = {:?}\nspool_dir = {:?}\n\
             [forward]\nretry_initial_ms = 100\nretry_max_ms = 1000\nscan_interval_ms = 200\n\
             [store]\nbackend = \"postgres\"\nurl = {:?}\nclaim_lease_secs = 3\n",
            env.pki.layout.dir(),
            env.spool(),
            db.url,
        ),
    )
    .unwrap();
    let log = env.dir.path().join(format!("{name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_shinsei-relay"))
        .args(["--config", p.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Node {
        child,
        device: SocketAddr::from(([127, 0, 0, 1], dp)),
        log,
    }
}

fn forwarded_in_log(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("forwarded upstream"))
        .filter_map(|l| {
            let i = l.find("envelope_id=")? + "envelope_id=".len();
            Some(l.get(i..i + 32)?.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_one_killed_mid_load_lose_and_duplicate_nothing() {
    let Some(db) = pg::test_db() else { return };
    let env = Env::new();
    let mut a = start_node(&env, &db, "node-a");
    let mut b = start_node(&env, &db, "node-b");
    const TABLETS: usize = 8;
    const PER: usize = 20;
    let tablets: Vec<Tablet> = (0..TABLETS)
        .map(|i| tablet(&env.pki, &format!("TAB-{:04}", 100 + i)))
        .collect();
    for (node, name) in [(&a, "A"), (&b, "B")] {
        let c = client(&env.pki.root, Some(&tablets[0].ident), false);
        let mut up = false;
        for _ in 0..200 {
            if c.get(url(node.device, "/v1/status")).send().await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            up,
            "node {name} did not start: {}",
            std::fs::read_to_string(&node.log).unwrap_or_default()
        );
    }
    // Sealed beforehand: every application has one envelope ID, retried unchanged
    // (as the tablet's outbox does) until a receipt comes back.
    let work: Vec<Vec<(EnvelopeId, Vec<u8>)>> = tablets
        .iter()
        .map(|t| {
            (0..PER)
                .map(|_| t.seal(&env.pki, &standard_app(), now()))
                .collect()
        })
        .collect();
    let accepted = Arc::new(AtomicUsize::new(0));
    let retried = Arc::new(AtomicUsize::new(0));
    let receipts: Arc<Mutex<HashMap<EnvelopeId, Vec<Vec<u8>>>>> = Arc::default();
    let nodes = [a.device, b.device];
    let mut tasks = Vec::new();
    for (i, (t, envs)) in tablets.iter().zip(work).enumerate() {
        let c = client(&env.pki.root, Some(&t.ident), false);
        let (accepted, retried, receipts) = (accepted.clone(), retried.clone(), receipts.clone());
        tasks.push(tokio::spawn(async move {
            let mut node = i % 2;
            for (id, e) in envs {
                let t0 = Instant::now();
                loop {
                    assert!(
                        t0.elapsed() < Duration::from_secs(60),
                        "no receipt for {id}"
                    );
                    match post_envelope(&c, nodes[node], e.clone()).await {
                        Ok((200, receipt)) => {
                            receipts
                                .lock()
                                .unwrap()
                                .entry(id)
                                .or_default()
                                .push(receipt);
                            accepted.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        // Connection refused/reset or 5xx: the other node, same bytes.
                        Ok((s, _)) if s >= 500 => {}
                        Ok((s, body)) => panic!("{id}: refused {s} {}", error_code(&body)),
                        Err(_) => {}
                    }
                    retried.fetch_add(1, Ordering::SeqCst);
                    node = 1 - node;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    // Kill node A (SIGKILL: no graceful anything) when about a third is accepted.
    let total = TABLETS * PER;
    wait_for("a third of the load", Duration::from_secs(120), || {
        accepted.load(Ordering::SeqCst) >= total / 3
    })
    .await;
    a.child.kill().unwrap();
    let _ = a.child.wait();
    let killed_at = accepted.load(Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    // Node B forwards everything, including what A had claimed (after the lease).
    let store = PgStore::open(&StoreConfig {
        backend: StoreBackend::Postgres,
        url: Some(db.url.clone()),
        ..StoreConfig::default()
    })
    .unwrap();
    wait_for(
        "node B to forward everything",
        Duration::from_secs(60),
        || {
            store
                .pending_forward(1)
                .map(|p| p.is_empty())
                .unwrap_or(false)
        },
    )
    .await;
    let _ = Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status();
    let _ = b.child.wait();

    let receipts = receipts.lock().unwrap().clone();
    let mut lost = 0;
    let mut duplicated = 0;
    for (id, rs) in &receipts {
        // A retried application must get the receipt of its first acceptance.
        if rs.iter().any(|r| r != &rs[0]) {
            duplicated += 1;
        }
        let in_spool = env
            .spool()
            .join(id.to_hex())
            .join("application.json")
            .exists();
        let in_db = store
            .envelope_meta(id)
            .unwrap()
            .is_some_and(|m| m.forwarded);
        if !in_spool || !in_db {
            lost += 1;
        }
    }
    lost += total - receipts.len();
    // Deliveries to the upstream, as logged by both nodes.
    let mut deliveries: HashMap<String, usize> = HashMap::new();
    for log in [&a.log, &b.log] {
        for id in forwarded_in_log(log) {
            *deliveries.entry(id).or_default() += 1;
        }
    }
    duplicated += deliveries.values().filter(|&&n| n > 1).count();
    let rows = store.envelope_count() as usize;
    duplicated += rows.saturating_sub(total);
    let spool_entries: HashSet<String> = std::fs::read_dir(env.spool())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".tmp-"))
        .collect();
    println!(
        "figure: two nodes, node A killed (SIGKILL) after {killed_at} of {total} receipts: \
         {} accepted, {} retries after errors, {} stored, {} in the spool, {} deliveries logged; \
         lost {lost}, duplicated {duplicated}",
        receipts.len(),
        retried.load(Ordering::SeqCst),
        rows,
        spool_entries.len(),
        deliveries.values().sum::<usize>(),
    );
    assert_eq!(spool_entries.len(), total);
    assert_eq!((lost, duplicated), (0, 0));
}

// ---------------------------------------------------------------------------------
// Backup and restore.

fn old_meta(t: u64) -> EnvelopeMeta {
    EnvelopeMeta {
        device_id: "TAB-0500".into(),
        digest: hex::encode([9u8; 32]),
        receipt: hex::encode([t as u8; 8]),
        received_at: t,
        device_key: String::new(),
        forwarded: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_restore_brings_back_the_retention_window_and_nothing_older() {
    let Some(db) = pg::test_db() else { return };
    let server = pg::server().unwrap();
    let day = 86_400;
    let t = now();
    // A backup taken of a database holding records of several ages.
    {
        let s = PgStore::open(&StoreConfig {
            backend: StoreBackend::Postgres,
            url: Some(db.url.clone()),
            ..StoreConfig::default()
        })
        .unwrap();
        for (i, age) in [8 * day, 6 * day, 3600].into_iter().enumerate() {
            let id = EnvelopeId([i as u8 + 1; 16]);
            s.insert_envelope(&id, &old_meta(t - age), b"sealed")
                .unwrap();
            s.mark_forwarded(&id).unwrap();
            s.append_device_audit(&[DeviceAuditRecord {
                device_id: "TAB-0500".into(),
                seq: i as u64 + 1,
                received_at: t - age,
                entry: b"{\"event\":\"login\"}".to_vec(),
            }])
            .unwrap();
        }
        s.update_device("TAB-0500", &mut |_| {
            Some(DeviceRecord {
                device_id: "TAB-0500".into(),
                state: DeviceState::WipePending,
                version: 2,
                updated_at: t - 8 * day,
                history: vec![HistoryEntry {
                    at: t - 8 * day,
                    state: DeviceState::WipePending,
                    by: "admin:alice".into(),
                }],
                certs: Vec::new(),
                audit_head: None,
                audit_alert: None,
                pending: None,
                last_seen: None,
                cert_expires: None,
                report: None,
                report_at: None,
                renewal: None,
                renewal_hold: None,
            })
        })
        .unwrap();
        s.append_admin_audit(&AdminAuditEntry {
            at: t - 8 * day,
            admin: "alice".into(),
            action: "wipe".into(),
            device_id: Some("TAB-0500".into()),
            role: Some("security-officer".into()),
            detail: None,
        })
        .unwrap();
        s.add_deny(&DenyEntry {
            kind: "device".into(),
            value: "TAB-0501".into(),
            device_id: "TAB-0501".into(),
            at: t - 8 * day,
        })
        .unwrap();
    }
    let dump = tempfile::tempdir().unwrap();
    let file = dump.path().join("shinsei.dump");
    server.pg_dump(&db.url, "custom", &file);

    // Restored into an empty database; a relay started on it purges at start-up.
    let restored = db.sibling("restored");
    server.pg_restore(&file, &restored.url);
    let (env, cfg) = Env::on_db(&restored);
    let relay = env.start(cfg, RelayOptions::default()).await;
    let store = relay.core().store.clone();
    let oldest = EnvelopeId([1; 16]);
    wait_for("the start-up purge", Duration::from_secs(20), || {
        store
            .envelope_meta(&oldest)
            .map(|m| m.is_none())
            .unwrap_or(false)
    })
    .await;
    // Inside the window: back, unchanged (receipts too).
    for (i, age) in [(2u8, 6 * day), (3, 3600)] {
        let m = store.envelope_meta(&EnvelopeId([i; 16])).unwrap().unwrap();
        assert_eq!(
            m,
            EnvelopeMeta {
                forwarded: true,
                ..old_meta(t - age)
            }
        );
    }
    // The count is cached for up to a second.
    wait_for("the envelope count", Duration::from_secs(5), || {
        store.envelope_count() == 2
    })
    .await;
    // The start-up purge deletes envelopes and device audit records in separate
    // statements: wait for the second too.
    let audit = || -> Vec<u64> {
        store
            .device_audit("TAB-0500")
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect()
    };
    wait_for("the audit purge", Duration::from_secs(20), || {
        audit().len() < 3
    })
    .await;
    assert_eq!(audit(), [2, 3]);
    // The registry, its pending wipe, the deny list and the admin log (no applicant
    // data, kept) are back.
    let d = store.device("TAB-0500").unwrap().unwrap();
    assert_eq!((d.state, d.version), (DeviceState::WipePending, 2));
    assert_eq!(store.admin_audit(10).unwrap().len(), 1);
    assert_eq!(store.deny_entries().unwrap().len(), 1);
    assert!(relay.core().deny.is_denied(
        &shinsei_relay::identity::CertFingerprint {
            serial_hex: "00".into(),
            spki_sha256_hex: "00".into(),
        },
        "TAB-0501"
    ));
    relay.shutdown().await;
}
