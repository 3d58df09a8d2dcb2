//! Erasure that holds on disk (issue 14): after an application's deadline no copy of
//! it is readable with any key that exists — proven by scanning raw bytes (the sled
//! directory; PostgreSQL's data directory with `pg_wal` and a `pg_dump` taken before
//! the purge) and trying every key derivable from the relay's key directory and PKI.
//! Each test has a control: the same scan before the deadline finds and opens it.
//!
//! Also: rotation never loses an application (a tablet sealing with the schedule it
//! fetched 72 h earlier is accepted), and the spool never keeps an orphan (failed
//! `forget`, a crash between purge and forget, a purge racing a delivery).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use common::*;
use shinsei_protocol::{
    envelope::{self, Envelope, EnvelopeId},
    keys::RelaySecretKey,
    relay_keys::RelayKeySchedule,
};
use shinsei_relay::{
    clock::{Clock, ManualClock},
    config::Config,
    epochs::{self, StoredRecord},
    retention,
    upstream::{Delivery, SpoolUpstream, Upstream, UpstreamError},
    RelayOptions,
};
use shinsei_testkit::{files_below, find_all};

/// Short windows so that a test can step past every deadline with a manual clock.
fn short(cfg: &mut Config) {
    cfg.clock.max_age_secs = 600;
    cfg.clock.max_future_secs = 60;
    cfg.retention.retention_secs = 3_600;
    cfg.retention.purge_interval_secs = 60;
    cfg.keys.hpke_epoch_secs = 600;
    cfg.keys.store_epoch_secs = 600;
    cfg.keys.publish_ahead_secs = 3_600;
}

async fn fetch_schedule(
    c: &reqwest::Client,
    addr: std::net::SocketAddr,
    pki: &Pki,
) -> RelayKeySchedule {
    let r = c.get(url(addr, "/v1/relay-keys")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let b = r.bytes().await.unwrap();
    RelayKeySchedule::verify(&b, &pki.receipt_key).unwrap()
}

async fn wait_for(what: &str, f: impl FnMut() -> bool) {
    shinsei_testkit::wait::until(what, Duration::from_secs(30), f).await;
}

fn copy_tree(from: &Path, to: &Path) {
    for f in files_below(from) {
        let rel = f.strip_prefix(from).unwrap();
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        // A live database may remove a file while we copy: skip it.
        let _ = std::fs::copy(&f, &dst);
    }
}

/// Every stored-record candidate in raw bytes: (epoch, the bytes from the header up
/// to the declared length, or to the end of the file).
fn records_in(raw: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut v = Vec::new();
    for at in find_all(raw, &[b'S', b'H', b'S', b'T', 1]) {
        if let Ok((epoch, _, len)) = StoredRecord::header(&raw[at..]) {
            let end = (at + len).min(raw.len());
            v.push((epoch, raw[at..end].to_vec()));
        }
    }
    v
}

/// Stored records found in a plain-text `pg_dump` (bytea as `\x` hex).
fn records_in_dump(text: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut v = Vec::new();
    for at in find_all(text, b"5348535401") {
        let hexrun: Vec<u8> = text[at..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .copied()
            .collect();
        if let Ok(bytes) = hex::decode(&hexrun[..hexrun.len() & !1]) {
            v.extend(records_in(&bytes));
        }
    }
    v
}

/// What a scan of some copies found, given every key that exists at that moment.
#[derive(Debug, Default)]
struct Scan {
    /// The raw envelope (as the tablet sent it) found verbatim.
    raw_envelopes: usize,
    /// The application ID or a stretch of the photo found in plaintext.
    plaintext: usize,
    /// Stored-record headers found.
    records: usize,
    /// Records whose epoch's key exists on the disk.
    records_with_key: usize,
    /// Records opened (only contiguous copies can be).
    records_opened: usize,
    /// Copies of the tablet's envelope that open with an HPKE key on the disk.
    envelopes_opened: usize,
}

struct Keys {
    hpke: Vec<(u64, RelaySecretKey)>,
    bootstrap: Vec<RelaySecretKey>,
    store: Vec<(u64, epochs::Seed)>,
}

/// Every key the relay holds right now: everything derivable from the seed files in
/// its key directory (up to far in the future) and the provisioned HPKE key ring.
fn keys_now(cfg: &Config, now: u64) -> Keys {
    let (hpke, store) = epochs::keys_on_disk(
        &cfg.key_dir(),
        now / cfg.keys.hpke_epoch_secs + 64,
        now / cfg.keys.store_epoch_secs + 64,
    )
    .unwrap();
    let ring = shinsei_pki::layout::load_hpke_key_ring(
        &shinsei_pki::layout::PkiLayout::new(&cfg.paths.pki_dir),
        0,
    )
    .unwrap();
    let bootstrap = ring
        .info()
        .iter()
        .filter_map(|i| {
            use shinsei_protocol::keys::RelayKeyRing;
            ring.secret_key(&i.key_id).map(|k| {
                RelaySecretKey::from_secret_bytes(zeroize::Zeroizing::new(*k.secret_bytes()))
                    .unwrap()
            })
        })
        .collect();
    Keys {
        hpke,
        bootstrap,
        store,
    }
}

/// Scans `blobs` (and a plain-text dump) for the copies of what `sub` submitted: its
/// raw envelope, its application's [`markers`] in plaintext, stored records, and which
/// of `keys` open them.
fn scan(blobs: &[Vec<u8>], dump_text: Option<&[u8]>, sub: &Submitted, keys: &Keys) -> Scan {
    let Submitted {
        bytes: envelope_bytes,
        id,
        t,
    } = sub;
    let m = markers();
    let app_marker: Vec<&[u8]> = m.iter().map(|v| v.as_slice()).collect();
    let mut s = Scan::default();
    let mut recs = Vec::new();
    for b in blobs {
        s.raw_envelopes += find_all(b, &envelope_bytes[..64]).len();
        for m in &app_marker {
            s.plaintext += find_all(b, m).len();
        }
        recs.extend(records_in(b));
    }
    if let Some(d) = dump_text {
        recs.extend(records_in_dump(d));
    }
    for (epoch, rec) in &recs {
        s.records += 1;
        if keys.store.iter().any(|(e, _)| e == epoch) {
            s.records_with_key += 1;
        }
        if keys
            .store
            .iter()
            .any(|(_, k)| StoredRecord::open(k, id, rec).is_ok())
        {
            s.records_opened += 1;
        }
    }
    // The tablet's own copy of the envelope (as a thief of an outbox remnant would
    // hold it): does any HPKE key on the relay's disk open it?
    let v = Envelope::parse(envelope_bytes)
        .unwrap()
        .verify(&t.signing.public_key())
        .unwrap();
    for (_, k) in &keys.hpke {
        if v.open(k).is_ok() {
            s.envelopes_opened += 1;
        }
    }
    for k in &keys.bootstrap {
        if v.open(k).is_ok() {
            s.envelopes_opened += 1;
        }
    }
    s
}

impl Scan {
    /// After the deadline: no record has a key, nothing opens, nothing in plaintext.
    fn assert_nothing_opens(&self) {
        assert_eq!(self.records_with_key, 0, "{self:?}");
        assert_eq!(self.records_opened, 0, "{self:?}");
        assert_eq!(self.envelopes_opened, 0, "{self:?}");
        assert_eq!(self.plaintext + self.raw_envelopes, 0, "{self:?}");
    }
}

/// Moves `clock` past the deadline of what was submitted at its start (received +
/// retention + one store epoch, with the short windows) and purges: one envelope goes.
async fn purge_past_the_deadline(clock: &ManualClock, core: Arc<shinsei_relay::core::RelayCore>) {
    clock.advance(3_600 + 600 + 60);
    let r = tokio::task::spawn_blocking(move || retention::purge(&core))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.envelopes, 1);
}

fn read_all(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// What a tablet submitted: the envelope's bytes and ID, and the tablet.
struct Submitted {
    bytes: Vec<u8>,
    id: EnvelopeId,
    t: Tablet,
}

/// Submits one express application sealed to the published epoch key, waits until it
/// is forwarded.
async fn submit_one(
    env: &Env,
    relay: &shinsei_relay::RunningRelay,
    start: u64,
    name: &str,
) -> Submitted {
    submit_one_with(env, relay, start, name, true).await
}

async fn submit_one_with(
    env: &Env,
    relay: &shinsei_relay::RunningRelay,
    start: u64,
    name: &str,
    forwarded: bool,
) -> Submitted {
    let t = tablet(&env.pki, name);
    let c = client(&env.pki.root, Some(&t.ident), false);
    let sched = fetch_schedule(&c, relay.device_addr, &env.pki).await;
    let key = sched
        .key_at(start)
        .expect("the schedule covers now")
        .clone();
    let (id, bytes) = envelope::seal(&express_app(), &t.id, start, &key, &t.signing).unwrap();
    let (status, _) = post_envelope(&c, relay.device_addr, bytes.clone())
        .await
        .unwrap();
    assert_eq!(status, 200);
    if forwarded {
        let store = relay.core().store.clone();
        wait_for("forwarding", || nothing_pending(&*store)).await;
    }
    Submitted { bytes, id, t }
}

fn markers() -> Vec<Vec<u8>> {
    let photo = photo();
    let p = photo.as_bytes();
    vec![
        APP_ID.as_bytes().to_vec(),
        p[p.len() / 2..p.len() / 2 + 64].to_vec(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_copies_open_before_the_deadline_and_nothing_opens_after() {
    let env = Env::new();
    let (start, clock) = manual_clock();
    let mut cfg = env.config();
    if env.db.is_some() {
        return; // the PostgreSQL variant is its own test
    }
    short(&mut cfg);
    let relay = env
        .start(cfg.clone(), opts_with_clock(Arc::new(clock.clone())))
        .await;
    let sub = submit_one(&env, &relay, start, "TAB-0140").await;
    let core = relay.core().clone();
    let data = cfg.paths.data_dir.clone();

    // A backup of the data directory taken now (the operator's file-level backup).
    let backup = tempfile::tempdir().unwrap();
    copy_tree(&data, backup.path());

    // Control: before the deadline the record is there and opens.
    let before = scan(
        &read_all(&files_below(&data)),
        None,
        &sub,
        &keys_now(&cfg, start),
    );
    println!("before the deadline: {before:?}");
    assert_eq!(before.raw_envelopes, 0, "the raw envelope is never stored");
    assert_eq!(before.plaintext, 0, "nothing in plaintext");
    assert!(
        before.records >= 1 && before.records_opened >= 1,
        "{before:?}"
    );
    assert!(before.envelopes_opened >= 1, "{before:?}");

    // Past the deadline: received + retention + one store epoch.
    purge_past_the_deadline(&clock, core).await;
    let after_keys = keys_now(&cfg, clock.now());
    let mut blobs = read_all(&files_below(&data));
    blobs.extend(read_all(&files_below(backup.path())));
    let after = scan(&blobs, None, &sub, &after_keys);
    println!("after the deadline: {after:?}");
    assert!(
        after.records >= 1,
        "the bytes are still on disk (sled does not erase)"
    );
    after.assert_nothing_opens();
    assert!(!env.spool().join(sub.id.to_hex()).exists());
    relay.shutdown().await;
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs PostgreSQL: scripts/test runs it (feature system-tests)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_heap_wal_and_dump_open_before_the_deadline_and_nothing_opens_after() {
    let Some(db) = pg::test_db() else { return };
    let server = pg::server().unwrap();
    let env = Env::new();
    let (start, clock) = manual_clock();
    let mut cfg = env.config();
    use_postgres(&mut cfg, &db);
    short(&mut cfg);
    // J-LIS is down: the record stays in the database (and so in its backups) until
    // its deadline, the case retention exists for.
    struct Down;
    impl Upstream for Down {
        fn deliver(&self, _: &Delivery<'_>) -> Result<(), UpstreamError> {
            Err(UpstreamError("J-LIS unreachable".into()))
        }
    }
    let relay = start_with(&env, &cfg, &clock, Arc::new(Down)).await;
    let sub = submit_one_with(&env, &relay, start, "TAB-0141", false).await;
    let core = relay.core().clone();

    // A plain-text dump before the purge (what a nightly backup holds).
    let dumps = tempfile::tempdir().unwrap();
    let dump = dumps.path().join("before.sql");
    server.pg_dump(&db.url, "plain", &dump);
    let custom = dumps.path().join("before.dump");
    server.pg_dump(&db.url, "custom", &custom);
    let dump_text = std::fs::read(&dump).unwrap();
    // The cluster's files: heap (after a checkpoint) and WAL.
    let data_dir: Option<PathBuf> = server.own.then(|| {
        db.with(|c| {
            c.batch_execute("CHECKPOINT").unwrap();
            let dir: String = c.query_one("SHOW data_directory", &[]).unwrap().get(0);
            PathBuf::from(dir)
        })
    });
    let cluster_copy = tempfile::tempdir().unwrap();
    if let Some(d) = &data_dir {
        copy_tree(d, cluster_copy.path());
    }
    let cluster_files = || files_below(cluster_copy.path());

    let before = scan(
        &read_all(&cluster_files()),
        Some(&dump_text),
        &sub,
        &keys_now(&cfg, start),
    );
    println!("before the deadline: {before:?}");
    assert_eq!(before.raw_envelopes, 0);
    assert_eq!(before.plaintext, 0);
    assert!(
        before.records_opened >= 1,
        "the dump's copy opens: {before:?}"
    );
    if data_dir.is_some() {
        assert!(before.records >= 2, "dump + heap/WAL: {before:?}");
    }
    assert_eq!(before.records, before.records_with_key);

    // Restore within the window works: the dump, restored into a fresh database, is
    // readable by a relay with today's keys (the record is found and opens).
    let restored = db.sibling("erasure_restored");
    server.pg_restore(&custom, &restored.url);
    {
        let s = shinsei_relay::store::PgStore::open(&shinsei_relay::config::StoreConfig {
            backend: shinsei_relay::config::StoreBackend::Postgres,
            url: Some(restored.url.clone()),
            ..Default::default()
        })
        .unwrap();
        use shinsei_relay::store::Store;
        assert!(s.envelope_meta(&sub.id).unwrap().is_some());
    }

    purge_past_the_deadline(&clock, core).await;
    let keys = keys_now(&cfg, clock.now());
    let mut blobs = read_all(&cluster_files());
    if let Some(d) = &data_dir {
        db.with(|c| c.batch_execute("CHECKPOINT").unwrap());
        blobs.extend(read_all(&files_below(d)));
    }
    blobs.push(std::fs::read(&custom).unwrap());
    let after = scan(&blobs, Some(&dump_text), &sub, &keys);
    println!("after the deadline: {after:?}");
    assert!(after.records >= 1, "old copies still exist: {after:?}");
    after.assert_nothing_opens();
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tablet_offline_for_its_whole_outbox_age_is_accepted_across_rotations() {
    let env = Env::new();
    let (start, clock) = manual_clock();
    // Default windows: daily HPKE epochs, 73 h accepted age, 72 h outbox.
    let cfg = env.config();
    let relay = env
        .start(cfg.clone(), opts_with_clock(Arc::new(clock.clone())))
        .await;
    let t = tablet(&env.pki, "TAB-0142");
    let c = client(&env.pki.root, Some(&t.ident), false);
    let sched = fetch_schedule(&c, relay.device_addr, &env.pki).await;
    assert!(
        sched.covers_until() >= start + 7 * 86_400,
        "covers a 7-day offline lock"
    );
    // Created at `at`, sealed to the schedule's key for `key_time`.
    let seal = |at: u64, key_time: u64| {
        let key = sched.key_at(key_time).unwrap();
        envelope::seal(&standard_app(), &t.id, at, key, &t.signing)
            .unwrap()
            .1
    };
    // Sealed now; and sealed just before the offline lock (24 h) with the same schedule.
    let a = seal(start, start);
    let late = start + 86_399;
    let b = seal(late, late);
    assert_ne!(
        sched.key_at(start),
        sched.key_at(late + 86_400),
        "keys rotate"
    );
    // The relay moves on 72 h, purging and rotating keys every hour.
    let core = relay.core().clone();
    for _ in 0..72 {
        clock.advance(3_600);
        let c2 = core.clone();
        tokio::task::spawn_blocking(move || retention::purge(&c2))
            .await
            .unwrap()
            .unwrap();
    }
    let (old_h, _) = core.epochs().oldest();
    assert!(old_h > start / 86_400 - 1, "older HPKE keys were destroyed");
    for bytes in [a, b] {
        let (status, body) = post_envelope(&c, relay.device_addr, bytes).await.unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    // The counter is incremented after the record is marked forwarded: wait for it.
    wait_for("both forwarded", || {
        core.metrics.forwarded.load(Ordering::Relaxed) == 2
    })
    .await;
    // An envelope naming an epoch key for another time than its created_at is refused.
    let wrong = seal(clock.now(), start);
    let (status, body) = post_envelope(&c, relay.device_addr, wrong).await.unwrap();
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "unknown_relay_key")
    );
    relay.shutdown().await;
}

/// A spool whose `forget` fails while `fail_forget` > 0, and whose `deliver` can be
/// held until the test releases it.
struct FlakySpool {
    inner: SpoolUpstream,
    fail_forget: AtomicUsize,
    hold: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    delivering: AtomicUsize,
    delivered: AtomicUsize,
}

impl Upstream for FlakySpool {
    fn deliver(&self, d: &Delivery<'_>) -> Result<(), UpstreamError> {
        self.delivering.fetch_add(1, Ordering::SeqCst);
        let rx = self.hold.lock().unwrap().take();
        if let Some(rx) = rx {
            let _ = rx.recv_timeout(Duration::from_secs(30));
        }
        let r = self.inner.deliver(d);
        self.delivered.fetch_add(1, Ordering::SeqCst);
        r
    }
    fn forget(&self, id: &EnvelopeId) -> Result<(), UpstreamError> {
        if self
            .fail_forget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(UpstreamError("injected forget failure".into()));
        }
        self.inner.forget(id)
    }
    fn local_copies(&self) -> Result<Vec<EnvelopeId>, UpstreamError> {
        self.inner.local_copies()
    }
}

async fn start_with(
    env: &Env,
    cfg: &Config,
    clock: &ManualClock,
    upstream: Arc<dyn Upstream>,
) -> shinsei_relay::RunningRelay {
    env.start(
        cfg.clone(),
        RelayOptions {
            clock: Arc::new(clock.clone()),
            upstream: Some(upstream),
            ..RelayOptions::default()
        },
    )
    .await
}

fn spool_entries(p: &Path) -> usize {
    std::fs::read_dir(p)
        .map(|r| {
            r.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spool_orphan_survives_the_next_purge() {
    let env = Env::new();
    let (start, clock) = manual_clock();
    let mut cfg = env.config();
    short(&mut cfg);
    let (tx, rx) = std::sync::mpsc::channel();
    let spool = Arc::new(FlakySpool {
        inner: SpoolUpstream::new(env.spool()).unwrap(),
        fail_forget: AtomicUsize::new(2),
        hold: Mutex::new(None),
        delivering: AtomicUsize::new(0),
        delivered: AtomicUsize::new(0),
    });
    let relay = start_with(&env, &cfg, &clock, spool.clone()).await;
    let core = relay.core().clone();
    let purge = |core: Arc<shinsei_relay::core::RelayCore>| async move {
        tokio::task::spawn_blocking(move || retention::purge(&core))
            .await
            .unwrap()
            .unwrap()
    };

    // 1. `forget` fails (twice): the copy survives that purge, not the next ones.
    let id1 = submit_one(&env, &relay, start, "TAB-0143").await.id;
    assert!(env.spool().join(id1.to_hex()).exists());
    clock.advance(3_700);
    let r = purge(core.clone()).await;
    assert_eq!(r.envelopes, 1);
    assert!(
        env.spool().join(id1.to_hex()).exists(),
        "forget failed twice (purge + sweep)"
    );
    let r = purge(core.clone()).await;
    assert_eq!(r.orphans, 1, "the sweep retried it");
    assert_eq!(spool_entries(&env.spool()), 0);

    // 2. A crash between deleting the records and forgetting the copies: the records
    //    go (as the purge's first statement would), the copy stays; the next purge —
    //    also the one every start-up runs — removes it.
    let t2 = clock.now();
    let id2 = submit_one(&env, &relay, t2, "TAB-0144").await.id;
    clock.advance(3_700);
    let cut = retention::cutoff(clock.now(), 3_600, 60).unwrap();
    assert_eq!(core.store.purge_envelopes(cut).unwrap(), vec![id2]);
    assert!(env.spool().join(id2.to_hex()).exists());
    relay.shutdown().await;
    drop(core);
    let relay = start_with(&env, &cfg, &clock, spool.clone()).await;
    wait_for("the start-up purge's sweep", || {
        !env.spool().join(id2.to_hex()).exists()
    })
    .await;
    let core = relay.core().clone();

    // 3. A purge racing a delivery: the forwarder holds the record, the purge deletes
    //    it, then the delivery writes its copy. The forwarder sees the record gone and
    //    removes the copy at once.
    *spool.hold.lock().unwrap() = Some(rx);
    let before = spool.delivering.load(Ordering::SeqCst);
    let done_before = spool.delivered.load(Ordering::SeqCst);
    let t3 = clock.now();
    let t = tablet(&env.pki, "TAB-0145");
    let c = client(&env.pki.root, Some(&t.ident), false);
    let sched = fetch_schedule(&c, relay.device_addr, &env.pki).await;
    let (id3, b3) = envelope::seal(
        &express_app(),
        &t.id,
        t3,
        sched.key_at(t3).unwrap(),
        &t.signing,
    )
    .unwrap();
    assert_accepted(&c, relay.device_addr, b3).await;
    wait_for("the delivery to start", || {
        spool.delivering.load(Ordering::SeqCst) > before
    })
    .await;
    clock.advance(3_700);
    let r = purge(core.clone()).await;
    assert_eq!(r.envelopes, 1);
    tx.send(()).unwrap();
    wait_for("the delivery to finish", || {
        spool.delivered.load(Ordering::SeqCst) > done_before
    })
    .await;
    wait_for("its copy to go", || {
        !env.spool().join(id3.to_hex()).exists()
    })
    .await;
    // And whatever happens, the next purge leaves no orphan.
    purge(core.clone()).await;
    assert_eq!(spool_entries(&env.spool()), 0);
    relay.shutdown().await;
}
