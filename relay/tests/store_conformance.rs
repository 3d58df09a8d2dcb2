//! The `Store` contract, checked on both backends (sled and PostgreSQL), plus what only
//! a shared database has: two stores (two relay nodes) on one database — forwarding
//! claims, one purge at a time, change notifications across nodes, no lost device
//! update — versioned migrations, and retries after a lost connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::pg::{self, TestDb};
use shinsei_protocol::envelope::EnvelopeId;
use shinsei_relay::{
    config::{StoreBackend, StoreConfig},
    registry::{DeviceRecord, DeviceState, HistoryEntry},
    store::{
        AdminAuditEntry, ChangeSink, DenyEntry, DeviceAuditRecord, EnvelopeMeta, InsertOutcome,
        PgStore, SledStore, Store, StoreError,
    },
};

fn meta(t: u64) -> EnvelopeMeta {
    EnvelopeMeta {
        device_id: "TAB-1".into(),
        digest: hex::encode([1u8; 32]),
        receipt: "00".into(),
        received_at: t,
        device_key: String::new(),
        forwarded: false,
    }
}

fn device(id: &str) -> DeviceRecord {
    DeviceRecord {
        device_id: id.into(),
        state: DeviceState::Active,
        version: 1,
        updated_at: 10,
        history: vec![HistoryEntry {
            at: 10,
            state: DeviceState::Active,
            by: "relay".into(),
        }],
        certs: Vec::new(),
        audit_head: None,
        audit_alert: None,
        pending: None,
        last_seen: None,
        cert_expires: None,
        // The renewal and report fields ride in the same record: every store keeps them.
        report: Some(shinsei_protocol::api::DeviceReport {
            agent_version: "0.1.0".into(),
            outbox_depth: 2,
            lease_deadline: Some(1_000),
            sent_per_day: vec![shinsei_protocol::api::DayCount { day: 1, count: 3 }],
            renewal_csr: None,
        }),
        report_at: Some(10),
        renewal: Some(shinsei_relay::device::Renewal {
            requested_at: 10,
            csr_pem: "-----BEGIN CERTIFICATE REQUEST-----".into(),
            spki_sha256_hex: "00".repeat(32),
            issued: Some(shinsei_relay::device::IssuedBundle {
                at: 11,
                by: "it-renewer".into(),
                not_after: 2_000,
                bundle_b64: "e30=".into(),
            }),
        }),
        renewal_hold: None,
    }
}

fn pg_config(db: &TestDb) -> StoreConfig {
    StoreConfig {
        backend: StoreBackend::Postgres,
        url: Some(db.url.clone()),
        claim_lease_secs: 2,
        ..StoreConfig::default()
    }
}

fn open_pg(db: &TestDb) -> PgStore {
    PgStore::open(&pg_config(db)).unwrap()
}

/// Inserts envelopes `a` (at 100) and `b` (at 200); a second `a` returns the first.
fn insert_a_and_b(s: &dyn Store) -> (EnvelopeId, EnvelopeId) {
    let a = EnvelopeId([1; 16]);
    let b = EnvelopeId([2; 16]);
    assert_eq!(
        s.insert_envelope(&a, &meta(100), b"sealed-a").unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.insert_envelope(&b, &meta(200), b"sealed-b").unwrap(),
        InsertOutcome::Inserted
    );
    assert!(matches!(
        s.insert_envelope(&a, &meta(300), b"other").unwrap(),
        InsertOutcome::Existing(m) if m.received_at == 100
    ));
    assert_eq!(s.envelope_count(), 2);
    (a, b)
}

/// With `a` marked forwarded: its sealed bytes are gone, `b` is pending; the purge
/// takes each at its time, sealed bytes and all.
fn forwarded_a_then_purge(s: &dyn Store, a: EnvelopeId, b: EnvelopeId) {
    assert_eq!(s.sealed_envelope(&a).unwrap(), None);
    assert!(s.envelope_meta(&a).unwrap().unwrap().forwarded);
    assert_eq!(s.pending_forward(10).unwrap(), vec![b]);
    assert_eq!(s.purge_envelopes(99).unwrap(), vec![]);
    assert_eq!(s.purge_envelopes(100).unwrap(), vec![a]);
    assert_eq!(s.envelope_count(), 1);
    assert_eq!(s.envelope_meta(&a).unwrap(), None);
    assert_eq!(s.purge_envelopes(1000).unwrap(), vec![b]);
    assert_eq!(s.sealed_envelope(&b).unwrap(), None);
}

/// Envelopes: insert, idempotency by ID, pending order, forwarding, purge.
fn envelopes(s: &dyn Store) {
    let (a, b) = insert_a_and_b(s);
    assert_eq!(s.envelope_meta(&a).unwrap().unwrap(), meta(100));
    assert_eq!(s.sealed_envelope(&a).unwrap().unwrap(), b"sealed-a");
    assert_eq!(s.pending_forward(10).unwrap(), vec![a, b]);
    assert_eq!(s.pending_forward(1).unwrap(), vec![a]);
    let (m, sealed) = s.claim_for_forward(&a).unwrap().unwrap();
    assert_eq!((m.received_at, sealed.as_slice()), (100, &b"sealed-a"[..]));
    // The same node may claim again (its own retry).
    assert!(s.claim_for_forward(&a).unwrap().is_some());
    assert!(s.mark_forwarded(&a).unwrap());
    assert!(s.claim_for_forward(&a).unwrap().is_none());
    forwarded_a_then_purge(s, a, b);
    assert!(s.claim_for_forward(&b).unwrap().is_none());
    assert_eq!(s.pending_forward(10).unwrap(), vec![]);
    assert!(!s.mark_forwarded(&b).unwrap());
    assert_eq!(s.envelope_count(), 0);
}

/// Device registry, deny list, admin audit, device audit.
fn registry_and_audit(s: &dyn Store) {
    assert_eq!(s.device("TAB-1").unwrap(), None);
    s.put_device(&device("TAB-1")).unwrap();
    assert_eq!(s.device("TAB-1").unwrap().unwrap(), device("TAB-1"));
    // update_device: None writes nothing, Some writes.
    let r = s.update_device("TAB-2", &mut |cur| {
        assert!(cur.is_none());
        None
    });
    assert_eq!(r.unwrap(), None);
    assert_eq!(s.device("TAB-2").unwrap(), None);
    let r = s
        .update_device("TAB-2", &mut |cur| {
            let mut d = cur.unwrap_or_else(|| device("TAB-2"));
            d.state = DeviceState::WipePending;
            d.version += 1;
            Some(d)
        })
        .unwrap()
        .unwrap();
    assert_eq!((r.state, r.version), (DeviceState::WipePending, 2));
    assert_eq!(s.device("TAB-2").unwrap().unwrap(), r);
    let ids: Vec<String> = s
        .devices()
        .unwrap()
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    assert_eq!(ids, ["TAB-1", "TAB-2"]);

    let e = |k: &str, v: &str| DenyEntry {
        kind: k.into(),
        value: v.into(),
        device_id: "TAB-2".into(),
        at: 5,
    };
    s.add_deny(&e("serial", "01")).unwrap();
    s.add_deny(&e("device", "TAB-2")).unwrap();
    s.add_deny(&e("serial", "01")).unwrap();
    let mut d = s.deny_entries().unwrap();
    d.sort_by(|a, b| a.kind.cmp(&b.kind));
    assert_eq!(d, vec![e("device", "TAB-2"), e("serial", "01")]);

    for i in 0..5u64 {
        s.append_admin_audit(&AdminAuditEntry {
            at: 100 + i,
            admin: "alice".into(),
            action: format!("a{i}"),
            device_id: (i % 2 == 0).then(|| "TAB-1".into()),
            role: (i == 1).then(|| "viewer".into()),
            detail: (i == 1).then(|| "role_forbidden: 管理者".into()),
        })
        .unwrap();
    }
    let all = s.admin_audit(100).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].action, "a0");
    assert_eq!(all[1].device_id, None);
    // Role and reason round-trip (issue 17: who, what and why).
    assert_eq!(all[1].role.as_deref(), Some("viewer"));
    assert_eq!(all[1].detail.as_deref(), Some("role_forbidden: 管理者"));
    assert_eq!(
        (all[0].role.as_deref(), all[0].detail.as_deref()),
        (None, None)
    );
    let last2: Vec<String> = s
        .admin_audit(2)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(last2, ["a3", "a4"]);

    let r = |seq, t, e: &[u8]| DeviceAuditRecord {
        device_id: "TAB-1".into(),
        seq,
        received_at: t,
        entry: e.to_vec(),
    };
    s.append_device_audit(&[r(1, 10, b"{}"), r(2, 20, b"{}")])
        .unwrap();
    // Issue 18: an entry already held is never replaced (it used to be).
    s.append_device_audit(&[r(2, 30, b"{\"x\":1}")]).unwrap();
    let got = s.device_audit("TAB-1").unwrap();
    assert_eq!(got, vec![r(1, 10, b"{}"), r(2, 20, b"{}")]);
    assert_eq!(s.device_audit("TAB-10").unwrap().len(), 0);
    assert_eq!(s.purge_device_audit(10).unwrap(), 1);
    assert_eq!(s.device_audit("TAB-1").unwrap()[0].seq, 2);
}

/// The staff list: kept only when newer; its sequence read alone; nodes racing with
/// different sequences end with the highest.
fn staff_list(stores: &[Arc<dyn Store>]) {
    let s = &stores[0];
    assert_eq!(s.staff_list().unwrap(), None);
    assert_eq!(s.staff_list_sequence().unwrap(), None);
    assert!(s.put_staff_list(2, b"list two").unwrap());
    assert!(!s.put_staff_list(2, b"list two again").unwrap());
    assert!(!s.put_staff_list(1, b"list one").unwrap());
    assert_eq!(s.staff_list().unwrap(), Some((2, b"list two".to_vec())));
    std::thread::scope(|sc| {
        for (i, st) in stores.iter().cycle().take(8).enumerate() {
            let st = st.clone();
            sc.spawn(move || {
                let seq = 3 + i as u64;
                st.put_staff_list(seq, format!("list {seq}").as_bytes())
                    .unwrap();
            });
        }
    });
    for st in stores {
        assert_eq!(st.staff_list_sequence().unwrap(), Some(10));
        assert_eq!(st.staff_list().unwrap(), Some((10, b"list 10".to_vec())));
    }
}

/// Many concurrent read-modify-writes of one device record: none is lost.
fn no_lost_device_update(stores: &[Arc<dyn Store>]) {
    let threads = 4;
    let per = 15;
    std::thread::scope(|sc| {
        for t in 0..threads {
            let s = stores[t % stores.len()].clone();
            sc.spawn(move || {
                for _ in 0..per {
                    s.update_device("TAB-C", &mut |cur| {
                        let mut d = cur.unwrap_or_else(|| {
                            let mut d = device("TAB-C");
                            d.version = 0;
                            d
                        });
                        d.version += 1;
                        Some(d)
                    })
                    .unwrap();
                }
            });
        }
    });
    let v = stores[0].device("TAB-C").unwrap().unwrap().version;
    assert_eq!(v, (threads * per) as u64, "device updates lost");
}

/// Forwarding without a claim (was `store::tests::insert_dedupe_forward_purge`).
#[test]
fn sled_insert_dedupe_forward_purge() {
    let s = &SledStore::temporary().unwrap();
    let (a, b) = insert_a_and_b(s);
    assert_eq!(s.pending_forward(10).unwrap(), vec![a, b]);
    assert!(s.mark_forwarded(&a).unwrap());
    forwarded_a_then_purge(s, a, b);
    assert_eq!(s.pending_forward(10).unwrap(), vec![]);
    assert!(!s.mark_forwarded(&b).unwrap());
}

#[test]
fn sled_store_conformance() {
    let s = SledStore::temporary().unwrap();
    envelopes(&s);
    registry_and_audit(&s);
    let s: Arc<dyn Store> = Arc::new(s);
    staff_list(std::slice::from_ref(&s));
    no_lost_device_update(&[s]);
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs PostgreSQL: scripts/test runs it (feature system-tests)"
)]
#[test]
fn postgres_store_conformance() {
    let Some(db) = pg::test_db() else { return };
    let s = open_pg(&db);
    assert_eq!(s.backend_name(), "postgres");
    envelopes(&s);
    registry_and_audit(&s);
    // Two nodes writing the same device record (and the staff list) at once.
    let b: Arc<dyn Store> = Arc::new(open_pg(&db));
    let a: Arc<dyn Store> = Arc::new(s);
    staff_list(&[a.clone(), b.clone()]);
    no_lost_device_update(&[a, b]);
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs PostgreSQL: scripts/test runs it (feature system-tests)"
)]
#[test]
fn postgres_two_nodes_claims_and_purge_lock() {
    let Some(db) = pg::test_db() else { return };
    let a = open_pg(&db);
    let b = open_pg(&db);
    assert_ne!(a.node(), b.node());
    let id = EnvelopeId([7; 16]);
    assert_eq!(
        a.insert_envelope(&id, &meta(100), b"s").unwrap(),
        InsertOutcome::Inserted
    );
    // The same envelope ID through the other node: one row, the stored record back.
    assert!(matches!(
        b.insert_envelope(&id, &meta(999), b"t").unwrap(),
        InsertOutcome::Existing(m) if m.received_at == 100
    ));
    // A claims: B may not forward it while A's claim lasts (2 s), then may.
    assert!(a.claim_for_forward(&id).unwrap().is_some());
    assert!(b.claim_for_forward(&id).unwrap().is_none());
    assert_eq!(b.pending_forward(10).unwrap(), vec![id]);
    let t0 = Instant::now();
    while b.claim_for_forward(&id).unwrap().is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "claim never expired"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(t0.elapsed() >= Duration::from_millis(1500));
    assert!(a.claim_for_forward(&id).unwrap().is_none());
    assert!(b.mark_forwarded(&id).unwrap());
    assert!(a.claim_for_forward(&id).unwrap().is_none());

    // Purge: while another session holds the purge lock, a node skips its round.
    let lock = std::thread::spawn({
        let url = db.url.clone();
        move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let mut tx = c.transaction().unwrap();
            tx.execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[&0x5348_494e_5345_4902_i64],
            )
            .unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            tx.commit().unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(a.purge_envelopes(1000).unwrap(), vec![]);
    assert!(a.envelope_meta(&id).unwrap().is_some());
    lock.join().unwrap();
    assert_eq!(b.purge_envelopes(1000).unwrap(), vec![id]);
    assert!(a.envelope_meta(&id).unwrap().is_none());
}

#[derive(Default)]
struct Recorder {
    devices: Mutex<Vec<(String, u64, Instant)>>,
    deny: Mutex<Vec<DenyEntry>>,
    resyncs: Mutex<usize>,
}

impl ChangeSink for Recorder {
    fn device_changed(&self, device_id: &str, version: u64) {
        self.devices
            .lock()
            .unwrap()
            .push((device_id.into(), version, Instant::now()));
    }
    fn deny_added(&self, entry: &DenyEntry) {
        self.deny.lock().unwrap().push(entry.clone());
    }
    fn resync(&self, _versions: &[(String, u64)], _deny: &[DenyEntry]) {
        *self.resyncs.lock().unwrap() += 1;
    }
}

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs PostgreSQL: scripts/test runs it (feature system-tests)"
)]
#[test]
fn postgres_changes_reach_the_other_node_and_survive_reconnection() {
    let Some(db) = pg::test_db() else { return };
    let a = open_pg(&db);
    let b = open_pg(&db);
    let rec = Arc::new(Recorder::default());
    let sink: Arc<dyn ChangeSink> = rec.clone();
    b.watch_changes(Arc::downgrade(&sink));
    wait("listener up", || *rec.resyncs.lock().unwrap() >= 1);

    let t0 = Instant::now();
    a.update_device("TAB-9", &mut |_| Some(device("TAB-9")))
        .unwrap();
    wait("device change on the other node", || {
        rec.devices
            .lock()
            .unwrap()
            .iter()
            .any(|(d, v, _)| d == "TAB-9" && *v == 1)
    });
    let latency = t0.elapsed();
    println!("figure: device change through node A seen by node B after {latency:?}");
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    a.add_deny(&DenyEntry {
        kind: "device".into(),
        value: "TAB-9".into(),
        device_id: "TAB-9".into(),
        at: 1,
    })
    .unwrap();
    wait("deny entry on the other node", || {
        rec.deny.lock().unwrap().iter().any(|e| e.value == "TAB-9")
    });

    // The listening connection is killed: B reconnects and resynchronises.
    let before = *rec.resyncs.lock().unwrap();
    assert!(db.terminate_sessions() >= 1);
    wait("resync after reconnection", || {
        *rec.resyncs.lock().unwrap() > before
    });
    a.update_device("TAB-9", &mut |cur| {
        let mut d = cur.unwrap();
        d.version = 2;
        Some(d)
    })
    .unwrap();
    wait("change after reconnection", || {
        rec.devices
            .lock()
            .unwrap()
            .iter()
            .any(|(d, v, _)| d == "TAB-9" && *v == 2)
    });
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs PostgreSQL: scripts/test runs it (feature system-tests)"
)]
#[test]
fn postgres_migrations_are_versioned_and_a_newer_schema_is_refused() {
    let Some(db) = pg::test_db() else { return };
    // Two nodes starting at once apply the schema once.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| open_pg(&db));
        let b = s.spawn(|| open_pg(&db));
        (a.join().unwrap(), b.join().unwrap())
    });
    drop((a, b));
    let rows: Vec<(i32, String)> = db.with(|c| {
        c.query(
            "SELECT version, name FROM shinsei_schema_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    });
    let want: Vec<(i32, String)> = shinsei_relay::store::MIGRATIONS
        .iter()
        .map(|m| (m.0, m.1.to_owned()))
        .collect();
    assert_eq!(rows, want);
    // Re-opening applies nothing new.
    drop(open_pg(&db));
    db.with(|c| {
        let n: i64 = c
            .query_one("SELECT count(*) FROM shinsei_schema_migrations", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, want.len() as i64);
        c.execute(
            "INSERT INTO shinsei_schema_migrations (version, name) VALUES (999, 'future')",
            &[],
        )
        .unwrap();
    });
    match PgStore::open(&pg_config(&db)) {
        Err(StoreError::Backend(m)) => assert!(m.contains("newer than this relay"), "{m}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs PostgreSQL: scripts/test runs it (feature system-tests)"
)]
#[test]
fn postgres_connection_loss_is_retried_and_unreachable_is_a_clear_error() {
    let Some(db) = pg::test_db() else { return };
    let s = open_pg(&db);
    let id = EnvelopeId([3; 16]);
    s.insert_envelope(&id, &meta(5), b"x").unwrap();
    // Every pooled connection is killed: the next operations reconnect and succeed.
    assert!(db.terminate_sessions() >= 1);
    for i in 0..8u8 {
        let id = EnvelopeId([10 + i; 16]);
        assert_eq!(
            s.insert_envelope(&id, &meta(6), b"y").unwrap(),
            InsertOutcome::Inserted
        );
    }
    assert_eq!(s.pending_forward(100).unwrap().len(), 9);

    // A server that is not there: Unavailable after the configured attempts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = StoreConfig {
        backend: StoreBackend::Postgres,
        url: Some(format!(
            "host=127.0.0.1 port={port} user=nobody dbname=none"
        )),
        retry_attempts: 2,
        timeout_secs: 2,
        ..StoreConfig::default()
    };
    let t0 = Instant::now();
    match PgStore::open(&cfg) {
        Err(StoreError::Unavailable(m)) => {
            assert!(m.contains("cannot connect"), "{m}");
            assert!(m.contains("2 attempts"), "{m}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("connected to nothing"),
    }
    assert!(t0.elapsed() < Duration::from_secs(10));
}
