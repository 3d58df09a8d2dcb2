//! The PostgreSQL backend of [`Store`]: several relay nodes share one database.
//!
//! - **Connections.** A small pool of worker threads, each owning one synchronous
//!   [`postgres::Client`] (which runs tokio-postgres on a private current-thread
//!   runtime). Store calls are sent to the workers as jobs, so they may be made from
//!   any thread, inside a tokio runtime or not. A job whose connection is lost (or
//!   fails over) is retried on a fresh connection with backoff (100 ms, 200 ms, …,
//!   `retry_attempts` in all), then fails with [`StoreError::Unavailable`] (503).
//!   Every operation is a single statement or transaction and safe to repeat: an
//!   insert whose commit was lost is found by its envelope ID on the retry and
//!   answered with the stored receipt.
//! - **Durability.** A submission is committed (synchronous commit) before
//!   `insert_envelope` returns, and the relay only answers with a receipt after that.
//! - **Idempotency.** `envelopes.id` is the primary key: one row per envelope ID
//!   whichever node receives it (`INSERT … ON CONFLICT DO NOTHING`).
//! - **Forwarding.** A node claims an envelope (`claimed_by`, `claim_until`, database
//!   time) in one `UPDATE … WHERE` before delivering it; another node takes it over
//!   only after the claim expired (`claim_lease_secs`), so two live nodes never
//!   deliver the same envelope.
//! - **Device registry.** Records are changed by compare-and-swap on a `rev` column
//!   (no lost update between nodes: a wipe and a concurrent first contact both
//!   survive); each change is announced with `NOTIFY shinsei_changes` in the same
//!   transaction. Every node `LISTEN`s on a dedicated connection and passes changes
//!   to its [`ChangeSink`] (long-polls, live deny list); after a reconnection it
//!   resynchronises everything it may have missed.
//! - **Retention.** The purge runs under `pg_try_advisory_xact_lock`: one node at a
//!   time, the others skip that round.
//! - **Schema.** Versioned migrations in `shinsei_schema_migrations`, applied at
//!   start-up under `pg_advisory_lock` (nodes starting together apply each once). A
//!   database newer than this relay is refused.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc, Arc, Mutex, Weak,
    },
    thread,
    time::{Duration, Instant},
};

use postgres::{error::SqlState, Client, NoTls, Row};
use serde::{Deserialize, Serialize};
use shinsei_protocol::envelope::EnvelopeId;

use crate::{
    config::StoreConfig,
    registry::DeviceRecord,
    store::{
        AdminAuditEntry, ChangeSink, DenyEntry, DeviceAuditRecord, EnvelopeMeta, InsertOutcome,
        Store, StoreError,
    },
};

/// The notification channel of device and deny-list changes.
pub(super) const CHANNEL: &str = "shinsei_changes";
/// Advisory lock held while migrating.
const LOCK_MIGRATE: i64 = 0x5348_494e_5345_4901;
/// Advisory lock held (per transaction) by the node that purges.
const LOCK_PURGE: i64 = 0x5348_494e_5345_4902;

/// Versioned schema migrations, applied in order, each in one transaction. Never edit
/// an applied one: add a new version.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "initial schema",
        r#"
CREATE TABLE envelopes (
    id          BYTEA PRIMARY KEY CHECK (octet_length(id) = 16),
    device_id   TEXT NOT NULL,
    digest      TEXT NOT NULL,
    receipt     TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    device_key  TEXT NOT NULL,
    forwarded   BOOLEAN NOT NULL DEFAULT false,
    sealed      BYTEA,
    claimed_by  TEXT,
    claim_until TIMESTAMPTZ
);
CREATE INDEX envelopes_received_at ON envelopes (received_at);
CREATE INDEX envelopes_pending ON envelopes (received_at, id) WHERE NOT forwarded;
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    version   BIGINT NOT NULL,
    rev       BIGINT NOT NULL,
    record    TEXT NOT NULL
);
CREATE TABLE admin_audit (
    seq       BIGSERIAL PRIMARY KEY,
    entry_id  BYTEA NOT NULL UNIQUE,
    at        BIGINT NOT NULL,
    admin     TEXT NOT NULL,
    action    TEXT NOT NULL,
    device_id TEXT
);
CREATE TABLE device_audit (
    device_id   TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    entry       BYTEA NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX device_audit_received_at ON device_audit (received_at);
CREATE TABLE deny (
    kind      TEXT NOT NULL,
    value     TEXT NOT NULL,
    device_id TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (kind, value)
);
"#,
    ),
    (
        2,
        "admin audit: the administrator's role and why",
        r#"
ALTER TABLE admin_audit ADD COLUMN role TEXT;
ALTER TABLE admin_audit ADD COLUMN detail TEXT;
"#,
    ),
    (
        3,
        "the signed staff list tablets fetch",
        r#"
CREATE TABLE staff_list (
    id       SMALLINT PRIMARY KEY CHECK (id = 1),
    sequence BIGINT NOT NULL,
    list     BYTEA NOT NULL
);
"#,
    ),
    (
        4,
        "sealed records are not compressed (they are ciphertext)",
        r#"
ALTER TABLE envelopes ALTER COLUMN sealed SET STORAGE EXTERNAL;
"#,
    ),
];

/// The newest schema version this relay knows.
pub(super) fn latest_schema_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

#[derive(Clone, Copy)]
struct Settings {
    attempts: u32,
    timeout: Duration,
}

struct Worker {
    config: postgres::Config,
    settings: Settings,
    client: Option<Client>,
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// Errors worth a new connection and another try: the connection is gone, the
/// server is shutting down or starting, the node became a standby (failover), or a
/// serialisation conflict.
fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        return code.code().starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::READ_ONLY_SQL_TRANSACTION,
                SqlState::TOO_MANY_CONNECTIONS,
            ]
            .contains(code);
    }
    // No SQLSTATE: I/O, connect, timeout errors.
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if s.is::<std::io::Error>() {
            return true;
        }
        src = s.source();
    }
    let t = e.to_string();
    t.contains("connect") || t.contains("timeout") || t.contains("timed out")
}

/// An error's text without anything from the connection string (no password).
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn connect(config: &postgres::Config, s: Settings) -> Result<Client, postgres::Error> {
    let mut c = config.connect(NoTls)?;
    let ms = s.timeout.as_millis();
    c.batch_execute(&format!(
        "SET statement_timeout = {ms}; SET lock_timeout = {ms}; SET synchronous_commit = on"
    ))?;
    Ok(c)
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.saturating_sub(1).min(5))
}

impl Worker {
    fn execute<T>(
        &mut self,
        what: &str,
        f: &dyn Fn(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut last = String::from("no attempt made");
        for attempt in 0..self.settings.attempts {
            if attempt > 0 {
                thread::sleep(backoff(attempt));
            }
            if self.client.as_ref().is_some_and(Client::is_closed) {
                self.client = None;
            }
            if self.client.is_none() {
                match connect(&self.config, self.settings) {
                    Ok(c) => {
                        if attempt > 0 {
                            tracing::info!(operation = what, "database connection re-established");
                        }
                        self.client = Some(c);
                    }
                    Err(e) => {
                        last = format!("cannot connect: {}", describe(&e));
                        tracing::warn!(operation = what, attempt = attempt + 1, error = %last, "database unreachable; retrying");
                        continue;
                    }
                }
            }
            let Some(client) = self.client.as_mut() else {
                continue;
            };
            match f(client) {
                Ok(v) => return Ok(v),
                Err(e) if is_transient(&e) || client.is_closed() => {
                    last = describe(&e);
                    tracing::warn!(operation = what, attempt = attempt + 1, error = %last, "database connection lost; retrying on a new connection");
                    self.client = None;
                }
                Err(e) => {
                    return Err(StoreError::Backend(format!("{what}: {}", describe(&e))));
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "{what}: {last} (gave up after {} attempts)",
            self.settings.attempts
        )))
    }
}

/// The PostgreSQL store. See the module documentation.
pub struct PgStore {
    jobs: Option<mpsc::Sender<Job>>,
    config: postgres::Config,
    settings: Settings,
    node: String,
    lease_secs: f64,
    count: AtomicU64,
    count_at: Mutex<Option<Instant>>,
    stop: Arc<AtomicBool>,
    listening: AtomicBool,
}

/// How often the cached envelope count is refreshed from the database.
const COUNT_REFRESH: Duration = Duration::from_secs(1);

fn i64_of(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{what} out of range")))
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Device-audit sequence numbers are any u64: stored bit for bit in a BIGINT.
fn seq_to_db(seq: u64) -> i64 {
    i64::from_be_bytes(seq.to_be_bytes())
}

fn seq_from_db(v: i64) -> u64 {
    u64::from_be_bytes(v.to_be_bytes())
}

fn id_of(b: &[u8]) -> Result<EnvelopeId, StoreError> {
    Ok(EnvelopeId(b.try_into().map_err(|_| {
        StoreError::Corrupt("envelope id is not 16 bytes".into())
    })?))
}

fn meta_of(r: &Row) -> Result<EnvelopeMeta, postgres::Error> {
    Ok(EnvelopeMeta {
        device_id: r.try_get(0)?,
        digest: r.try_get(1)?,
        receipt: r.try_get(2)?,
        received_at: u64_of(r.try_get(3)?),
        device_key: r.try_get(4)?,
        forwarded: r.try_get(5)?,
    })
}

const META_COLS: &str = "device_id, digest, receipt, received_at, device_key, forwarded";

fn unjson<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A notification's payload.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Change {
    Device { device_id: String, version: u64 },
    Deny(DenyEntry),
}

fn random_bytes(n: usize) -> Result<Vec<u8>, StoreError> {
    let mut b = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| StoreError::Backend("random number generator failed".into()))?;
    Ok(b)
}

impl PgStore {
    /// Connects (with retries), applies the schema migrations and starts the pool.
    pub fn open(cfg: &StoreConfig) -> Result<Self, StoreError> {
        let url = cfg
            .url
            .as_deref()
            .ok_or_else(|| StoreError::Backend("store.url is not set".into()))?;
        let mut config: postgres::Config = url.parse().map_err(|_| {
            StoreError::Backend("store.url is not a valid connection string".into())
        })?;
        let timeout = Duration::from_secs(cfg.timeout_secs);
        config
            .connect_timeout(timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .application_name("shinsei-relay");
        let settings = Settings {
            attempts: cfg.retry_attempts,
            timeout,
        };
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..cfg.pool_size {
            let rx = rx.clone();
            let mut w = Worker {
                config: config.clone(),
                settings,
                client: None,
            };
            thread::Builder::new()
                .name(format!("shinsei-pg-{i}"))
                .spawn(move || loop {
                    let job = {
                        let g = rx.lock().unwrap_or_else(|p| p.into_inner());
                        g.recv()
                    };
                    match job {
                        Ok(job) => job(&mut w),
                        Err(_) => return, // the store was dropped
                    }
                })
                .map_err(|e| StoreError::Backend(format!("cannot start a worker thread: {e}")))?;
        }
        let store = Self {
            jobs: Some(tx),
            config,
            settings,
            node: format!("{}-{}", std::process::id(), hex::encode(random_bytes(6)?)),
            lease_secs: cfg.claim_lease_secs as f64,
            count: AtomicU64::new(0),
            count_at: Mutex::new(None),
            stop: Arc::new(AtomicBool::new(false)),
            listening: AtomicBool::new(false),
        };
        let version = store.migrate()?;
        store.refresh_count()?;
        tracing::info!(
            schema_version = version,
            node = %store.node,
            pool = cfg.pool_size,
            "PostgreSQL store ready"
        );
        Ok(store)
    }

    /// This node's name in forwarding claims.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Runs `f` on a pooled connection, retrying on connection loss.
    fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl Fn(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |w: &mut Worker| {
            let _ = tx.send(w.execute(what, &f));
        });
        self.jobs
            .as_ref()
            .ok_or_else(|| StoreError::Backend("store closed".into()))?
            .send(job)
            .map_err(|_| StoreError::Backend("store worker threads have stopped".into()))?;
        rx.recv()
            .map_err(|_| StoreError::Backend(format!("{what}: worker thread ended")))?
    }

    /// Applies missing migrations; returns the schema version.
    fn migrate(&self) -> Result<i32, StoreError> {
        let r = self.run("migrate", |c| {
            c.execute("SELECT pg_advisory_lock($1)", &[&LOCK_MIGRATE])?;
            let r = (|| -> Result<Result<i32, i32>, postgres::Error> {
                c.batch_execute(
                    "CREATE TABLE IF NOT EXISTS shinsei_schema_migrations (
                        version    INTEGER PRIMARY KEY,
                        name       TEXT NOT NULL,
                        applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                )?;
                let cur: i32 = c
                    .query_one(
                        "SELECT COALESCE(max(version), 0) FROM shinsei_schema_migrations",
                        &[],
                    )?
                    .try_get(0)?;
                if cur > latest_schema_version() {
                    return Ok(Err(cur));
                }
                for (v, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > cur) {
                    let mut tx = c.transaction()?;
                    tx.batch_execute(sql)?;
                    tx.execute(
                        "INSERT INTO shinsei_schema_migrations (version, name) VALUES ($1, $2)",
                        &[v, name],
                    )?;
                    tx.commit()?;
                    tracing::info!(version = v, name, "schema migration applied");
                }
                Ok(Ok(latest_schema_version()))
            })();
            let unlocked = c.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_MIGRATE]);
            let r = r?;
            unlocked?;
            Ok(r)
        })?;
        r.map_err(|v| {
            StoreError::Backend(format!(
                "database schema version {v} is newer than this relay's ({}): upgrade the relay",
                latest_schema_version()
            ))
        })
    }

    fn refresh_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.run("count", |c| {
            c.query_one("SELECT count(*) FROM envelopes", &[])?
                .try_get(0)
        })?;
        let n = u64_of(n);
        self.count.store(n, Ordering::SeqCst);
        *self.count_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        Ok(n)
    }

    fn notify(tx: &mut postgres::Transaction<'_>, change: &Change) -> Result<(), postgres::Error> {
        let payload = serde_json::to_string(change).unwrap_or_default();
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
        Ok(())
    }

    fn device_row(&self, device_id: &str) -> Result<Option<(String, i64)>, StoreError> {
        let d = device_id.to_owned();
        self.run("read device", move |c| {
            c.query_opt(
                "SELECT record, rev FROM devices WHERE device_id = $1",
                &[&d],
            )?
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
        })
    }

    /// Writes `rec` if the row's `rev` is still `rev` (`None`: the row must not
    /// exist). `false` if someone else changed it first.
    fn cas_device(
        &self,
        rec: &DeviceRecord,
        rev: Option<i64>,
        notify: bool,
    ) -> Result<bool, StoreError> {
        let (id, version, record, change) = device_row_of(rec)?;
        self.run("write device", move |c| {
            let mut tx = c.transaction()?;
            let n = match rev {
                None => tx.execute(
                    "INSERT INTO devices (device_id, version, rev, record) VALUES ($1, $2, 1, $3)
                     ON CONFLICT (device_id) DO NOTHING",
                    &[&id, &version, &record],
                )?,
                Some(rev) => tx.execute(
                    "UPDATE devices SET version = $2, rev = rev + 1, record = $3
                     WHERE device_id = $1 AND rev = $4",
                    &[&id, &version, &record, &rev],
                )?,
            };
            if n == 1 && notify {
                Self::notify(&mut tx, &change)?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn spawn_listener(&self, sink: Weak<dyn ChangeSink>) -> std::io::Result<()> {
        let config = self.config.clone();
        let settings = self.settings;
        let stop = self.stop.clone();
        thread::Builder::new()
            .name("shinsei-pg-listen".into())
            .spawn(move || listen_loop(config, settings, sink, stop))?;
        Ok(())
    }
}

/// The columns of a device row (ID, version, JSON record) and the change it announces.
fn device_row_of(rec: &DeviceRecord) -> Result<(String, i64, String, Change), StoreError> {
    let record = serde_json::to_string(rec).map_err(|e| StoreError::Backend(e.to_string()))?;
    let version = i64_of(rec.version, "device version")?;
    let change = Change::Device {
        device_id: rec.device_id.clone(),
        version: rec.version,
    };
    Ok((rec.device_id.clone(), version, record, change))
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Workers end when the channel closes (and drop their connections on their
        // own threads); the listener sees the flag within its poll interval.
        self.stop.store(true, Ordering::SeqCst);
        self.jobs = None;
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
}

/// Every device's version and the whole deny list.
type Snapshot = (Vec<(String, u64)>, Vec<DenyEntry>);

/// Everything a node may have missed while it was not listening.
fn snapshot(c: &mut Client) -> Result<Snapshot, postgres::Error> {
    let versions = c
        .query("SELECT device_id, version FROM devices", &[])?
        .iter()
        .map(|r| Ok((r.try_get(0)?, u64_of(r.try_get(1)?))))
        .collect::<Result<Vec<_>, postgres::Error>>()?;
    let deny = c
        .query("SELECT kind, value, device_id, at FROM deny", &[])?
        .iter()
        .map(deny_of)
        .collect::<Result<Vec<_>, postgres::Error>>()?;
    Ok((versions, deny))
}

fn deny_of(r: &Row) -> Result<DenyEntry, postgres::Error> {
    Ok(DenyEntry {
        kind: r.try_get(0)?,
        value: r.try_get(1)?,
        device_id: r.try_get(2)?,
        at: u64_of(r.try_get(3)?),
    })
}

/// The `LISTEN` connection: passes notifications to the sink, reconnects with
/// backoff, and resynchronises after every (re)connection.
fn listen_loop(
    config: postgres::Config,
    settings: Settings,
    sink: Weak<dyn ChangeSink>,
    stop: Arc<AtomicBool>,
) {
    let mut client: Option<Client> = None;
    let mut failures = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let Some(s) = sink.upgrade() else { return };
        let Some(c) = client.as_mut() else {
            let r = connect(&config, settings).and_then(|mut c| {
                c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
                let snap = snapshot(&mut c)?;
                Ok((c, snap))
            });
            match r {
                Ok((c, (versions, deny))) => {
                    if failures > 0 {
                        tracing::info!("change notifications: listening again; resynchronised");
                    }
                    failures = 0;
                    s.resync(&versions, &deny);
                    client = Some(c);
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %describe(&e), failures, "change notifications: cannot listen; retrying");
                    drop(s);
                    sleep_unless_stopped(backoff(failures.min(6)), &stop);
                }
            }
            continue;
        };
        let next = {
            let mut n = c.notifications();
            let mut it = n.timeout_iter(Duration::from_millis(250));
            postgres::fallible_iterator::FallibleIterator::next(&mut it)
        };
        match next {
            Ok(Some(n)) => match serde_json::from_str::<Change>(n.payload()) {
                Ok(Change::Device { device_id, version }) => s.device_changed(&device_id, version),
                Ok(Change::Deny(e)) => s.deny_added(&e),
                Err(e) => tracing::warn!(error = %e, "change notifications: bad payload ignored"),
            },
            Ok(None) => {
                if c.is_closed() {
                    tracing::warn!("change notifications: connection closed; reconnecting");
                    client = None;
                }
            }
            Err(e) => {
                tracing::warn!(error = %describe(&e), "change notifications: connection lost; reconnecting");
                client = None;
            }
        }
    }
}

impl Store for PgStore {
    fn insert_envelope(
        &self,
        id: &EnvelopeId,
        meta: &EnvelopeMeta,
        sealed: &[u8],
    ) -> Result<InsertOutcome, StoreError> {
        let idb = id.0.to_vec();
        let m = meta.clone();
        let received_at = i64_of(meta.received_at, "received_at")?;
        let sealed = sealed.to_vec();
        let out = self.run("insert envelope", move |c| {
            let n = c.execute(
                "INSERT INTO envelopes
                   (id, device_id, digest, receipt, received_at, device_key, forwarded, sealed)
                 VALUES ($1, $2, $3, $4, $5, $6, false, $7)
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &idb,
                    &m.device_id,
                    &m.digest,
                    &m.receipt,
                    &received_at,
                    &m.device_key,
                    &sealed,
                ],
            )?;
            if n == 1 {
                return Ok(None);
            }
            c.query_opt(
                &format!("SELECT {META_COLS} FROM envelopes WHERE id = $1"),
                &[&idb],
            )?
            .map(|r| meta_of(&r))
            .transpose()
            .map(Some)
        })?;
        match out {
            None => {
                self.count.fetch_add(1, Ordering::SeqCst);
                Ok(InsertOutcome::Inserted)
            }
            Some(Some(existing)) => Ok(InsertOutcome::Existing(existing)),
            // Purged between the conflict and the read: report, the client retries.
            Some(None) => Err(StoreError::Unavailable(
                "envelope vanished during insert".into(),
            )),
        }
    }

    fn envelope_meta(&self, id: &EnvelopeId) -> Result<Option<EnvelopeMeta>, StoreError> {
        let idb = id.0.to_vec();
        self.run("read envelope", move |c| {
            c.query_opt(
                &format!("SELECT {META_COLS} FROM envelopes WHERE id = $1"),
                &[&idb],
            )?
            .map(|r| meta_of(&r))
            .transpose()
        })
    }

    fn sealed_envelope(&self, id: &EnvelopeId) -> Result<Option<Vec<u8>>, StoreError> {
        let idb = id.0.to_vec();
        let r: Option<Option<Vec<u8>>> = self.run("read sealed envelope", move |c| {
            c.query_opt(
                "SELECT sealed FROM envelopes WHERE id = $1 AND NOT forwarded",
                &[&idb],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })?;
        Ok(r.flatten())
    }

    fn pending_forward(&self, limit: usize) -> Result<Vec<EnvelopeId>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<Vec<u8>> = self.run("list pending", move |c| {
            c.query(
                "SELECT id FROM envelopes WHERE NOT forwarded ORDER BY received_at, id LIMIT $1",
                &[&limit],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
        })?;
        rows.iter().map(|b| id_of(b)).collect()
    }

    fn claim_for_forward(
        &self,
        id: &EnvelopeId,
    ) -> Result<Option<(EnvelopeMeta, Vec<u8>)>, StoreError> {
        let idb = id.0.to_vec();
        let node = self.node.clone();
        let lease = self.lease_secs;
        let r = self.run("claim envelope", move |c| {
            // A claim lost in a database crash is as if never made (the lease expires;
            // an upstream is idempotent by envelope ID): no WAL flush to wait for.
            let mut tx = c.transaction()?;
            tx.batch_execute("SET LOCAL synchronous_commit = off")?;
            let Some(r) = tx.query_opt(
                &format!(
                    "UPDATE envelopes
                        SET claimed_by = $2, claim_until = now() + make_interval(secs => $3)
                      WHERE id = $1 AND NOT forwarded AND sealed IS NOT NULL
                        AND (claim_until IS NULL OR claim_until < now() OR claimed_by = $2)
                  RETURNING {META_COLS}, sealed"
                ),
                &[&idb, &node, &lease],
            )?
            else {
                return Ok(None);
            };
            let sealed: Vec<u8> = r.try_get(6)?;
            let meta = meta_of(&r)?;
            tx.commit()?;
            Ok(Some((meta, sealed)))
        })?;
        Ok(r)
    }

    fn mark_forwarded(&self, id: &EnvelopeId) -> Result<bool, StoreError> {
        let idb = id.0.to_vec();
        let n = self.run("mark forwarded", move |c| {
            // Lost in a database crash, the mark only repeats a delivery (idempotent by
            // envelope ID upstream): the commit does not wait for the WAL flush, which
            // the WAL writer makes within `wal_writer_delay`.
            let mut tx = c.transaction()?;
            tx.batch_execute("SET LOCAL synchronous_commit = off")?;
            let n = tx.execute(
                "UPDATE envelopes
                    SET forwarded = true, sealed = NULL, claimed_by = NULL, claim_until = NULL
                  WHERE id = $1",
                &[&idb],
            )?;
            tx.commit()?;
            Ok(n)
        })?;
        Ok(n > 0)
    }

    fn purge_envelopes(&self, cutoff: u64) -> Result<Vec<EnvelopeId>, StoreError> {
        let cut = i64::try_from(cutoff).unwrap_or(i64::MAX);
        let rows: Option<Vec<Vec<u8>>> = self.run("purge envelopes", move |c| {
            let mut tx = c.transaction()?;
            let got: bool = tx
                .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&LOCK_PURGE])?
                .try_get(0)?;
            if !got {
                return Ok(None);
            }
            // A first purge after a restore may delete much: not bound by the
            // per-statement timeout of ordinary requests.
            tx.batch_execute("SET LOCAL statement_timeout = '15min'")?;
            let ids = tx
                .query(
                    "DELETE FROM envelopes WHERE received_at <= $1 RETURNING id",
                    &[&cut],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<Vec<Vec<u8>>, _>>()?;
            tx.commit()?;
            Ok(Some(ids))
        })?;
        let Some(rows) = rows else {
            tracing::debug!("retention purge: another node holds the purge lock; skipped");
            return Ok(Vec::new());
        };
        if !rows.is_empty() {
            let _ = self.refresh_count();
        }
        rows.iter().map(|b| id_of(b)).collect()
    }

    fn envelope_count(&self) -> u64 {
        let stale = self
            .count_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|t| t.elapsed() >= COUNT_REFRESH);
        if stale {
            if let Err(e) = self.refresh_count() {
                tracing::warn!(error = %e, "cannot count envelopes; using the last count");
            }
        }
        self.count.load(Ordering::SeqCst)
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        self.device_row(device_id)?
            .map(|(rec, _)| unjson(&rec))
            .transpose()
    }

    fn put_device(&self, rec: &DeviceRecord) -> Result<(), StoreError> {
        let (id, version, record, change) = device_row_of(rec)?;
        self.run("write device", move |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO devices (device_id, version, rev, record) VALUES ($1, $2, 1, $3)
                 ON CONFLICT (device_id) DO UPDATE
                   SET version = EXCLUDED.version, rev = devices.rev + 1, record = EXCLUDED.record",
                &[&id, &version, &record],
            )?;
            Self::notify(&mut tx, &change)?;
            tx.commit()
        })
    }

    fn update_device(
        &self,
        device_id: &str,
        f: &mut dyn FnMut(Option<DeviceRecord>) -> Option<DeviceRecord>,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        // Optimistic: read, compute, write if nobody changed the row meanwhile.
        for _ in 0..100 {
            let (cur, rev) = match self.device_row(device_id)? {
                Some((rec, rev)) => (Some(unjson::<DeviceRecord>(&rec)?), Some(rev)),
                None => (None, None),
            };
            let old_version = cur.as_ref().map(|r| r.version);
            let Some(next) = f(cur) else {
                return Ok(None);
            };
            if next.device_id != device_id {
                return Err(StoreError::Backend(
                    "device record of another device".into(),
                ));
            }
            if self.cas_device(&next, rev, old_version != Some(next.version))? {
                return Ok(Some(next));
            }
        }
        Err(StoreError::Unavailable(
            "device record changed concurrently too often".into(),
        ))
    }

    fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        let rows: Vec<String> = self.run("list devices", |c| {
            c.query("SELECT record FROM devices ORDER BY device_id", &[])?
                .iter()
                .map(|r| r.try_get(0))
                .collect()
        })?;
        rows.iter().map(|r| unjson(r)).collect()
    }

    fn watch_changes(&self, sink: Weak<dyn ChangeSink>) {
        if self.listening.swap(true, Ordering::SeqCst) {
            tracing::warn!("change notifications: a listener is already running");
            return;
        }
        if let Err(e) = self.spawn_listener(sink) {
            tracing::error!(error = %e, "change notifications: cannot start the listener thread");
        }
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn append_admin_audit(&self, e: &AdminAuditEntry) -> Result<(), StoreError> {
        // A random entry ID makes a retried insert (commit outcome lost) a no-op.
        let entry_id = random_bytes(16)?;
        let e = e.clone();
        let at = i64_of(e.at, "audit time")?;
        self.run("append admin audit", move |c| {
            c.execute(
                "INSERT INTO admin_audit (entry_id, at, admin, action, device_id, role, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (entry_id) DO NOTHING",
                &[
                    &entry_id,
                    &at,
                    &e.admin,
                    &e.action,
                    &e.device_id,
                    &e.role,
                    &e.detail,
                ],
            )
            .map(|_| ())
        })
    }

    fn admin_audit(&self, limit: usize) -> Result<Vec<AdminAuditEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run("read admin audit", move |c| {
            c.query(
                "SELECT at, admin, action, device_id, role, detail FROM
                   (SELECT seq, at, admin, action, device_id, role, detail FROM admin_audit
                     ORDER BY seq DESC LIMIT $1) t
                 ORDER BY seq",
                &[&limit],
            )?
            .iter()
            .map(|r| {
                Ok(AdminAuditEntry {
                    at: u64_of(r.try_get(0)?),
                    admin: r.try_get(1)?,
                    action: r.try_get(2)?,
                    device_id: r.try_get(3)?,
                    role: r.try_get(4)?,
                    detail: r.try_get(5)?,
                })
            })
            .collect()
        })
    }

    fn append_device_audit(&self, recs: &[DeviceAuditRecord]) -> Result<(), StoreError> {
        let rows = recs
            .iter()
            .map(|r| {
                Ok((
                    r.device_id.clone(),
                    seq_to_db(r.seq),
                    i64_of(r.received_at, "received_at")?,
                    r.entry.clone(),
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.run("append device audit", move |c| {
            let mut tx = c.transaction()?;
            let st = tx.prepare(
                "INSERT INTO device_audit (device_id, seq, received_at, entry)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (device_id, seq) DO NOTHING",
            )?;
            for (d, s, t, e) in &rows {
                tx.execute(&st, &[d, s, t, e])?;
            }
            tx.commit()
        })
    }

    fn device_audit(&self, device_id: &str) -> Result<Vec<DeviceAuditRecord>, StoreError> {
        let d = device_id.to_owned();
        self.run("read device audit", move |c| {
            c.query(
                "SELECT seq, received_at, entry FROM device_audit WHERE device_id = $1 ORDER BY seq",
                &[&d],
            )?
            .iter()
            .map(|r| {
                Ok(DeviceAuditRecord {
                    device_id: d.clone(),
                    seq: seq_from_db(r.try_get(0)?),
                    received_at: u64_of(r.try_get(1)?),
                    entry: r.try_get(2)?,
                })
            })
            .collect()
        })
    }

    fn purge_device_audit(&self, cutoff: u64) -> Result<usize, StoreError> {
        let cut = i64::try_from(cutoff).unwrap_or(i64::MAX);
        let n = self.run("purge device audit", move |c| {
            let mut tx = c.transaction()?;
            let got: bool = tx
                .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&LOCK_PURGE])?
                .try_get(0)?;
            if !got {
                return Ok(0);
            }
            tx.batch_execute("SET LOCAL statement_timeout = '15min'")?;
            let n = tx.execute("DELETE FROM device_audit WHERE received_at <= $1", &[&cut])?;
            tx.commit()?;
            Ok(n)
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn add_deny(&self, e: &DenyEntry) -> Result<(), StoreError> {
        let at = i64_of(e.at, "deny time")?;
        let e = e.clone();
        self.run("add deny entry", move |c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "INSERT INTO deny (kind, value, device_id, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (kind, value) DO NOTHING",
                &[&e.kind, &e.value, &e.device_id, &at],
            )?;
            if n == 1 {
                Self::notify(&mut tx, &Change::Deny(e.clone()))?;
            }
            tx.commit()
        })
    }

    fn deny_entries(&self) -> Result<Vec<DenyEntry>, StoreError> {
        self.run("read deny list", |c| {
            c.query(
                "SELECT kind, value, device_id, at FROM deny ORDER BY at",
                &[],
            )?
            .iter()
            .map(deny_of)
            .collect()
        })
    }

    fn put_staff_list(&self, sequence: u64, bytes: &[u8]) -> Result<bool, StoreError> {
        let seq = i64_of(sequence, "staff list sequence")?;
        let list = bytes.to_vec();
        self.run("store staff list", move |c| {
            // Replaced only by a higher sequence, in one statement (nodes race safely).
            let n = c.execute(
                "INSERT INTO staff_list (id, sequence, list) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence, list = excluded.list
                 WHERE staff_list.sequence < excluded.sequence",
                &[&seq, &list],
            )?;
            Ok(n == 1)
        })
    }

    fn staff_list(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.run("read staff list", |c| {
            c.query_opt("SELECT sequence, list FROM staff_list WHERE id = 1", &[])?
                .map(|r| Ok((u64_of(r.try_get(0)?), r.try_get(1)?)))
                .transpose()
        })
    }

    fn staff_list_sequence(&self) -> Result<Option<u64>, StoreError> {
        self.run("read staff list sequence", |c| {
            c.query_opt("SELECT sequence FROM staff_list WHERE id = 1", &[])?
                .map(|r| Ok(u64_of(r.try_get(0)?)))
                .transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_roundtrip_and_backoff() {
        for s in [0, 1, u64::MAX, 1 << 63, 12345] {
            assert_eq!(seq_from_db(seq_to_db(s)), s);
        }
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(50), Duration::from_millis(3200));
    }

    #[test]
    fn migrations_are_ordered() {
        let v: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
        let mut s = v.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(v, s);
        // Contiguous from 1 (issue 17 added version 2: the admin audit's role and why;
        // and 3: the staff list tablets fetch; issue 19 4: no compression of ciphertext).
        assert_eq!(v, (1..=4).collect::<Vec<i32>>());
        assert_eq!(latest_schema_version(), 4);
    }
}
