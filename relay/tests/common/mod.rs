//! The relay's test environment over `shinsei-testkit`'s fixtures (PKI, tablets,
//! clients, PostgreSQL): a relay configuration on loopback and a relay started in
//! this process.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unused_imports)]

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use shinsei_relay::{
    clock::{Clock, ManualClock},
    store::Store,
    Config, Relay, RelayOptions, RunningRelay,
};
pub use shinsei_testkit::{
    admin, admin_as, admin_post, approved_post, assert_accepted, client, error_code, express_app,
    get, get_json, keys, make_pki, make_pki_for, now, pg, photo, post, post_envelope, provider,
    standard_app, strs, tablet, url, Identity, Pki, Tablet, APP_ID, HOST,
};

/// A test environment: PKI, data and spool directories; with
/// `SHINSEI_TEST_BACKEND=postgres`, a PostgreSQL database that `config()` names (so
/// the whole suite can be run against PostgreSQL).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub pki: Pki,
    pub db: Option<pg::TestDb>,
}

/// Whether this suite runs its relays on PostgreSQL: `SHINSEI_TEST_BACKEND=postgres`,
/// or the test binary `on_postgres` (which includes the HTTP-level suites again).
pub fn on_postgres() -> bool {
    std::env::var("SHINSEI_TEST_BACKEND").is_ok_and(|b| b == "postgres")
        || std::env::current_exe().is_ok_and(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("on_postgres"))
        })
}

/// Points `c` at a PostgreSQL database.
pub fn use_postgres(c: &mut Config, db: &pg::TestDb) {
    c.store.backend = shinsei_relay::config::StoreBackend::Postgres;
    c.store.url = Some(db.url.clone());
    c.store.claim_lease_secs = 3;
}

impl Env {
    pub fn new() -> Self {
        Self::for_host(HOST)
    }

    /// A relay certificate for `host` (e.g. `127.0.0.1` for clients without a resolver).
    pub fn for_host(host: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = make_pki_for(dir.path(), "pki", host);
        let db = if on_postgres() { pg::test_db() } else { None };
        Self { dir, pki, db }
    }

    /// An environment and its configuration on the database `db`.
    pub fn on_db(db: &pg::TestDb) -> (Self, Config) {
        let env = Self::new();
        let mut cfg = env.config();
        use_postgres(&mut cfg, db);
        (env, cfg)
    }

    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    pub fn config(&self) -> Config {
        let mut c = Config::with_paths(
            self.pki.layout.dir().to_owned(),
            self.dir.path().join("data"),
            self.spool(),
        );
        c.listen.device = SocketAddr::from(([127, 0, 0, 1], 0));
        c.listen.admin = SocketAddr::from(([127, 0, 0, 1], 0));
        c.log_level = "debug".into();
        c.forward.retry_initial_ms = 50;
        c.forward.retry_max_ms = 400;
        c.forward.scan_interval_ms = 200;
        if let Some(db) = &self.db {
            use_postgres(&mut c, db);
        }
        c
    }

    pub async fn start(&self, config: Config, opts: RelayOptions) -> RunningRelay {
        init_tracing();
        Relay::new(config, opts).unwrap().start().await.unwrap()
    }

    pub async fn start_default(&self) -> RunningRelay {
        self.start(self.config(), RelayOptions::default()).await
    }

    /// A new environment with a relay started on its default configuration.
    pub async fn started() -> (Self, RunningRelay) {
        let env = Self::new();
        let relay = env.start_default().await;
        (env, relay)
    }
}

/// Whether the store has nothing left to forward.
pub fn nothing_pending(store: &dyn Store) -> bool {
    store
        .pending_forward(10)
        .map(|p| p.is_empty())
        .unwrap_or(false)
}

/// The wall clock now, and a manual clock starting there.
pub fn manual_clock() -> (u64, ManualClock) {
    let start = now();
    (start, ManualClock::new(start))
}

pub fn opts_with_clock(clock: Arc<dyn Clock>) -> RelayOptions {
    RelayOptions {
        clock,
        ..RelayOptions::default()
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_test_writer()
        .try_init();
}
