//! The relay's configuration file (TOML), with defaults and start-up checks.
//!
//! Every field has a default except `pki_dir`, `data_dir` and `spool_dir`. A file with
//! an unknown key, a retention above 7 days, or a limit out of range is refused before
//! anything listens.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::Deserialize;
use tokio::sync::Semaphore;

/// Seven days: the longest any application may stay readable at the relay, counted
/// from receipt. `retention_secs + keys.store_epoch_secs` may not exceed it (records
/// are deleted at `retention_secs`, their key is destroyed at most one store epoch
/// later).
pub const MAX_RETENTION_SECS: u64 = shinsei_protocol::policy::MAX_RETENTION_SECS;

/// Default store epoch (one hour).
pub const DEFAULT_STORE_EPOCH_SECS: u64 = 3600;

/// Default retention: seven days less one store epoch, so that the last key that
/// opens a record is destroyed within seven days of its receipt.
pub const DEFAULT_RETENTION_SECS: u64 = MAX_RETENTION_SECS - DEFAULT_STORE_EPOCH_SECS;

/// The pixels of the largest photo the protocol accepts (6000 × 6000).
pub const MAX_PHOTO_PIXELS: u64 =
    shinsei_protocol::photo::MAX_SIDE as u64 * shinsei_protocol::photo::MAX_SIDE as u64;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// `[listen]`: where the two listeners bind.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ListenConfig {
    /// Device API (mutual TLS with device certificates).
    pub device: SocketAddr,
    /// Admin API and `/metrics` (mutual TLS with admin certificates).
    pub admin: SocketAddr,
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            device: SocketAddr::from(([0, 0, 0, 0], 8443)),
            admin: SocketAddr::from(([0, 0, 0, 0], 8444)),
        }
    }
}

/// `[paths]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    /// The PKI directory written by `shinsei-provision` (`relay/`, `root-ca.pem`,
    /// `device-ca.pem`, `deployment.json`). Only the relay's files are read.
    pub pki_dir: PathBuf,
    /// sled database directory (created, mode 0700). Required with the sled backend,
    /// unused with PostgreSQL.
    #[serde(default)]
    pub data_dir: PathBuf,
    /// Spool directory of the spool upstream (created, mode 0700).
    pub spool_dir: PathBuf,
    /// CRLs (PEM or DER) issued by the device CA; re-read on SIGHUP and every
    /// `reload_interval_secs`.
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// Optional deny-list file: one entry a line, `serial:HEX`, `spki:HEX` (SHA-256 of
    /// the SubjectPublicKeyInfo DER) or `device:ID`; `#` starts a comment. Re-read like
    /// the CRLs.
    #[serde(default)]
    pub deny_list_file: Option<PathBuf>,
}

/// `[retention]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Every record is deleted this long after receipt at the latest. Default 601200
    /// (7 days less one store epoch); `retention_secs + keys.store_epoch_secs` ≤ 604800,
    /// and it must exceed `clock.max_age_secs + clock.max_future_secs +
    /// purge_interval_secs` (else a tablet's resend of a purged envelope would be
    /// accepted and forwarded twice).
    pub retention_secs: u64,
    /// How often the purge runs.
    pub purge_interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            retention_secs: DEFAULT_RETENTION_SECS,
            purge_interval_secs: 60,
        }
    }
}

/// `[admin]`: the admin API's rules (roles are in the certificates; see
/// `crate::approval`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// How long a wipe or revoke waits for its second security officer (60..=86400).
    pub approval_secs: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            approval_secs: crate::approval::DEFAULT_APPROVAL_SECS,
        }
    }
}

/// `[clock]`: the accepted window for an envelope's `created_at`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// How far in the future `created_at` may be.
    pub max_future_secs: u64,
    /// How old `created_at` may be (the agent's outbox keeps entries 72 h; plus slack).
    pub max_age_secs: u64,
}

impl Default for ClockConfig {
    fn default() -> Self {
        Self {
            max_future_secs: shinsei_protocol::policy::DEFAULT_MAX_FUTURE_SECS,
            max_age_secs: shinsei_protocol::policy::DEFAULT_MAX_AGE_SECS,
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest envelope body accepted (at most `MAX_ENVELOPE_LEN`).
    pub max_envelope_bytes: usize,
    /// Largest device-audit body.
    pub max_audit_bytes: usize,
    /// Authenticated connections per listener; a connection whose handshake completes
    /// beyond it is closed (see [`crate::admission`]).
    pub max_connections: usize,
    /// Connections per listener accepted and waiting for their first byte.
    pub max_pre_tls: usize,
    /// The first byte (the ClientHello) must arrive within this after the accept.
    pub pre_tls_grace_secs: u64,
    /// TLS handshakes running at once per listener (after their first byte).
    pub max_handshakes: usize,
    /// Connections not yet authenticated (waiting or handshaking) per source address
    /// and listener.
    pub max_unauthenticated_per_ip: usize,
    /// TLS handshake must finish within this.
    pub handshake_timeout_secs: u64,
    /// HTTP/1 request headers must arrive within this.
    pub header_read_timeout_secs: u64,
    /// A request body must arrive completely within this.
    pub body_read_timeout_secs: u64,
    /// A connection is closed after this long without a request.
    pub idle_timeout_secs: u64,
    /// Simultaneous waiting long-polls; beyond it, status answers at once.
    pub max_long_polls: usize,
    /// Longest long-poll wait (the `wait` parameter is capped to it).
    pub max_long_poll_secs: u64,
    /// HTTP/2 streams per connection.
    pub max_h2_streams: u32,
    /// Largest number of stored envelopes before `storage_full` (507).
    pub max_stored_envelopes: u64,
    /// Request-body bytes held at once by the whole relay (both listeners): the
    /// declared length of a body is reserved before it is read; beyond it, 503 with
    /// `Retry-After` (see [`crate::budget`]). At least `max_envelope_bytes`.
    pub max_inflight_bytes: usize,
    /// The part of `max_inflight_bytes` one device certificate may hold. At least
    /// `max_envelope_bytes`.
    pub max_device_inflight_bytes: usize,
    /// Photo pixels (width × height) decoded at once; beyond it, 503 with
    /// `Retry-After`. At least 6000 × 6000 (one largest photo); the default 40,000,000
    /// is one largest photo and a few of a tablet's (about 1 Mpx each).
    pub max_decode_pixels: u64,
    /// The `Retry-After` of a 503 (seconds).
    pub retry_after_secs: u64,
    /// Submissions doing CPU work (signature, HPKE, the photo's decode, sealing) at
    /// once; others queue (0: twice the number of CPUs: the work has short waits of its
    /// own, and with exactly one per CPU a core idles in each; measured in the load
    /// bench).
    pub cpu_workers: usize,
}

impl LimitsConfig {
    /// [`LimitsConfig::cpu_workers`], with 0 read as twice the number of CPUs.
    pub fn cpu_workers(&self) -> usize {
        match self.cpu_workers {
            0 => 2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_envelope_bytes: shinsei_protocol::envelope::MAX_ENVELOPE_LEN,
            max_audit_bytes: 256 * 1024,
            max_connections: 1024,
            max_pre_tls: 1024,
            pre_tls_grace_secs: 3,
            max_handshakes: 256,
            max_unauthenticated_per_ip: 32,
            handshake_timeout_secs: 10,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 60,
            idle_timeout_secs: 120,
            max_long_polls: 2000,
            max_long_poll_secs: 60,
            max_h2_streams: 16,
            max_stored_envelopes: 200_000,
            max_inflight_bytes: 64 * 1024 * 1024,
            max_device_inflight_bytes: 2 * shinsei_protocol::envelope::MAX_ENVELOPE_LEN,
            max_decode_pixels: 40_000_000,
            retry_after_secs: 5,
            cpu_workers: 0,
        }
    }
}

/// `[forward]`: delivery to the upstream.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardConfig {
    /// First retry delay after a failure.
    pub retry_initial_ms: u64,
    /// Longest retry delay (exponential backoff up to this).
    pub retry_max_ms: u64,
    /// How often pending envelopes are looked at even without a new submission.
    pub scan_interval_ms: u64,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self {
            retry_initial_ms: 1000,
            retry_max_ms: 300_000,
            scan_interval_ms: 5000,
        }
    }
}

/// `[keys]`: key epochs (see [`crate::epochs`]).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Directory of the ratchet seed files (created, 0700). Default
    /// `<pki_dir>/relay/epochs`. Never back it up; on several nodes, copy it from the
    /// first node to the others before they first start.
    pub key_dir: Option<PathBuf>,
    /// Length of an HPKE key epoch (tablets seal to one key per epoch). 1..=604800.
    pub hpke_epoch_secs: u64,
    /// Length of a storage key epoch. 1..=86400.
    pub store_epoch_secs: u64,
    /// How far ahead the published key schedule reaches; must cover the tablets'
    /// `offline_lock_secs` (at most 7 days) plus one check-in.
    pub publish_ahead_secs: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            key_dir: None,
            hpke_epoch_secs: 86_400,
            store_epoch_secs: DEFAULT_STORE_EPOCH_SECS,
            publish_ahead_secs: 8 * 86_400,
        }
    }
}

/// Which storage backend.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded sled database in `paths.data_dir` (one node).
    #[default]
    Sled,
    /// A PostgreSQL database shared by one or more relay nodes.
    Postgres,
}

/// `[store]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sled` (default) or `postgres`.
    pub backend: StoreBackend,
    /// PostgreSQL connection string (`postgresql://user@host:5432/db` or
    /// `host=/run/postgresql dbname=shinsei`); several hosts with
    /// `target_session_attrs=read-write` for failover. Required with `postgres`.
    pub url: Option<String>,
    /// Connections (and worker threads) of this node.
    pub pool_size: usize,
    /// How long a node's claim on an envelope it is forwarding lasts; another node
    /// takes the envelope over only after it expired. Must exceed the longest
    /// upstream delivery.
    pub claim_lease_secs: u64,
    /// Connection attempts per operation before it fails with 503 `unavailable`
    /// (100 ms, 200 ms, 400 ms … between them).
    pub retry_attempts: u32,
    /// `connect_timeout` and server-side `statement_timeout`.
    pub timeout_secs: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Sled,
            url: None,
            pool_size: 4,
            claim_lease_secs: 60,
            retry_attempts: 6,
            timeout_secs: 10,
        }
    }
}

// The URL may carry a password: never print it.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("backend", &self.backend)
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("pool_size", &self.pool_size)
            .field("claim_lease_secs", &self.claim_lease_secs)
            .field("retry_attempts", &self.retry_attempts)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub listen: ListenConfig,
    pub paths: PathsConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub clock: ClockConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub forward: ForwardConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub keys: KeysConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    /// How often CRLs, the deny-list file and the HPKE key ring are re-read (also on
    /// SIGHUP).
    #[serde(default = "default_reload")]
    pub reload_interval_secs: u64,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    #[serde(default = "default_log_level")]
    pub log_level: String,
}

fn default_reload() -> u64 {
    300
}

fn default_log_level() -> String {
    "info".to_owned()
}

impl Config {
    /// A configuration with defaults for everything but the three paths.
    pub fn with_paths(pki_dir: PathBuf, data_dir: PathBuf, spool_dir: PathBuf) -> Self {
        Self {
            listen: ListenConfig::default(),
            paths: PathsConfig {
                pki_dir,
                data_dir,
                spool_dir,
                crl_files: Vec::new(),
                deny_list_file: None,
            },
            retention: RetentionConfig::default(),
            clock: ClockConfig::default(),
            limits: LimitsConfig::default(),
            forward: ForwardConfig::default(),
            store: StoreConfig::default(),
            keys: KeysConfig::default(),
            admin: AdminConfig::default(),
            reload_interval_secs: default_reload(),
            log_level: default_log_level(),
        }
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Reads, parses and validates a file (at most 1 MiB).
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        if meta.len() > 1024 * 1024 {
            return Err(ConfigError::Invalid("configuration file over 1 MiB".into()));
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        Self::from_toml(&text)
    }

    /// Checks ranges. Called by [`Config::from_toml`]; call it yourself on a
    /// configuration built in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let r = &self.retention;
        if r.retention_secs == 0 || r.retention_secs > MAX_RETENTION_SECS {
            return bad(format!(
                "retention.retention_secs must be 1..={MAX_RETENTION_SECS} (7 days), got {}",
                r.retention_secs
            ));
        }
        if r.purge_interval_secs == 0 || r.purge_interval_secs > 3600 {
            return bad("retention.purge_interval_secs must be 1..=3600".into());
        }
        if !(60..=86_400).contains(&self.admin.approval_secs) {
            return bad("admin.approval_secs must be 60..=86400".into());
        }
        let k = &self.keys;
        if !(1..=MAX_RETENTION_SECS).contains(&k.hpke_epoch_secs) {
            return bad("keys.hpke_epoch_secs must be 1..=604800".into());
        }
        if !(1..=86_400).contains(&k.store_epoch_secs) {
            return bad("keys.store_epoch_secs must be 1..=86400".into());
        }
        if r.retention_secs.saturating_add(k.store_epoch_secs) > MAX_RETENTION_SECS {
            return bad(format!(
                "retention.retention_secs ({}) + keys.store_epoch_secs ({}) must be at most {MAX_RETENTION_SECS}: an application must be unreadable 7 days after receipt",
                r.retention_secs, k.store_epoch_secs
            ));
        }
        let c = &self.clock;
        let accepted = c
            .max_age_secs
            .saturating_add(c.max_future_secs)
            .saturating_add(r.purge_interval_secs);
        if r.retention_secs <= accepted {
            return bad(format!(
                "retention.retention_secs ({}) must exceed clock.max_age_secs + clock.max_future_secs + retention.purge_interval_secs ({accepted}): otherwise a tablet resending an envelope whose record was purged would have it accepted and forwarded a second time",
                r.retention_secs
            ));
        }
        if k.publish_ahead_secs == 0 || k.publish_ahead_secs > 30 * 86_400 {
            return bad("keys.publish_ahead_secs must be 1..=2592000".into());
        }
        if k.publish_ahead_secs / k.hpke_epoch_secs + 2
            > shinsei_protocol::relay_keys::MAX_KEYS as u64
        {
            return bad(format!(
                "keys.publish_ahead_secs / keys.hpke_epoch_secs must be at most {}",
                shinsei_protocol::relay_keys::MAX_KEYS - 2
            ));
        }
        let steps = (c.max_age_secs + c.max_future_secs + k.publish_ahead_secs) / k.hpke_epoch_secs
            + r.retention_secs / k.store_epoch_secs;
        if steps > 100_000 {
            return bad(
                "keys: epochs too short for the windows they must cover (more than 100000 epochs)"
                    .into(),
            );
        }
        let l = &self.limits;
        let max = shinsei_protocol::envelope::MAX_ENVELOPE_LEN;
        if l.max_envelope_bytes == 0 || l.max_envelope_bytes > max {
            return bad(format!("limits.max_envelope_bytes must be 1..={max}"));
        }
        if l.max_audit_bytes == 0 || l.max_audit_bytes > 1024 * 1024 {
            return bad("limits.max_audit_bytes must be 1..=1048576".into());
        }
        if l.max_connections == 0 || l.max_connections > 100_000 {
            return bad("limits.max_connections must be 1..=100000".into());
        }
        for (name, v) in [
            ("max_pre_tls", l.max_pre_tls),
            ("max_handshakes", l.max_handshakes),
            ("max_unauthenticated_per_ip", l.max_unauthenticated_per_ip),
        ] {
            if v == 0 || v > 100_000 {
                return bad(format!("limits.{name} must be 1..=100000"));
            }
        }
        if l.pre_tls_grace_secs == 0 || l.pre_tls_grace_secs > l.handshake_timeout_secs {
            return bad(
                "limits.pre_tls_grace_secs must be 1..=limits.handshake_timeout_secs".into(),
            );
        }
        // Each reservation is one `Semaphore::acquire_many` (u32 permits); the totals
        // must fit a semaphore.
        let most = u32::MAX as usize;
        if l.max_inflight_bytes < l.max_envelope_bytes.max(l.max_audit_bytes)
            || l.max_inflight_bytes > Semaphore::MAX_PERMITS
        {
            return bad("limits.max_inflight_bytes must be at least limits.max_envelope_bytes and limits.max_audit_bytes".into());
        }
        if l.max_device_inflight_bytes < l.max_envelope_bytes.max(l.max_audit_bytes)
            || l.max_device_inflight_bytes > l.max_inflight_bytes
            || l.max_envelope_bytes > most
        {
            return bad("limits.max_device_inflight_bytes must be at least limits.max_envelope_bytes and at most limits.max_inflight_bytes".into());
        }
        if l.max_decode_pixels < MAX_PHOTO_PIXELS
            || l.max_decode_pixels > Semaphore::MAX_PERMITS as u64
        {
            return bad(format!(
                "limits.max_decode_pixels must be at least {MAX_PHOTO_PIXELS} (one 6000×6000 photo)"
            ));
        }
        if l.retry_after_secs == 0 || l.retry_after_secs > 3600 {
            return bad("limits.retry_after_secs must be 1..=3600".into());
        }
        for (name, v) in [
            ("handshake_timeout_secs", l.handshake_timeout_secs),
            ("header_read_timeout_secs", l.header_read_timeout_secs),
            ("body_read_timeout_secs", l.body_read_timeout_secs),
            ("idle_timeout_secs", l.idle_timeout_secs),
        ] {
            if v == 0 || v > 3600 {
                return bad(format!("limits.{name} must be 1..=3600"));
            }
        }
        if l.max_long_poll_secs > 300 {
            return bad("limits.max_long_poll_secs must be at most 300".into());
        }
        if l.idle_timeout_secs <= l.max_long_poll_secs {
            return bad("limits.idle_timeout_secs must exceed limits.max_long_poll_secs".into());
        }
        if l.max_h2_streams == 0 || l.max_h2_streams > 1000 {
            return bad("limits.max_h2_streams must be 1..=1000".into());
        }
        if l.max_stored_envelopes == 0 {
            return bad("limits.max_stored_envelopes must be at least 1".into());
        }
        let f = &self.forward;
        if f.retry_initial_ms == 0 || f.retry_max_ms < f.retry_initial_ms || f.scan_interval_ms == 0
        {
            return bad(
                "forward: need 0 < retry_initial_ms <= retry_max_ms, scan_interval_ms > 0".into(),
            );
        }
        let st = &self.store;
        match st.backend {
            StoreBackend::Sled => {
                if self.paths.data_dir.as_os_str().is_empty() {
                    return bad("paths.data_dir is required with store.backend = \"sled\"".into());
                }
            }
            StoreBackend::Postgres => {
                if st.url.as_deref().is_none_or(|u| u.trim().is_empty()) {
                    return bad("store.url is required with store.backend = \"postgres\"".into());
                }
                if let Some(u) = &st.url {
                    if u.parse::<postgres::Config>().is_err() {
                        return bad("store.url is not a valid PostgreSQL connection string".into());
                    }
                }
            }
        }
        if st.pool_size == 0 || st.pool_size > 64 {
            return bad("store.pool_size must be 1..=64".into());
        }
        if st.claim_lease_secs == 0 || st.claim_lease_secs > 3600 {
            return bad("store.claim_lease_secs must be 1..=3600".into());
        }
        if st.retry_attempts == 0 || st.retry_attempts > 20 {
            return bad("store.retry_attempts must be 1..=20".into());
        }
        if st.timeout_secs == 0 || st.timeout_secs > 600 {
            return bad("store.timeout_secs must be 1..=600".into());
        }
        if self.reload_interval_secs == 0 {
            return bad("reload_interval_secs must be at least 1".into());
        }
        if !matches!(
            self.log_level.as_str(),
            "error" | "warn" | "info" | "debug" | "trace"
        ) {
            return bad("log_level must be error, warn, info, debug or trace".into());
        }
        if self.listen.device == self.listen.admin && self.listen.device.port() != 0 {
            return bad("listen.device and listen.admin must differ".into());
        }
        Ok(())
    }

    /// The key directory (`keys.key_dir`, default `<pki_dir>/relay/epochs`).
    pub fn key_dir(&self) -> PathBuf {
        self.keys
            .key_dir
            .clone()
            .unwrap_or_else(|| self.paths.pki_dir.join("relay").join("epochs"))
    }

    /// The parameters of the key epochs.
    pub fn epoch_params(&self) -> crate::epochs::EpochParams {
        crate::epochs::EpochParams {
            hpke_epoch_secs: self.keys.hpke_epoch_secs,
            store_epoch_secs: self.keys.store_epoch_secs,
            accept_secs: self.clock.max_age_secs + self.clock.max_future_secs,
            retention_secs: self.retention.retention_secs,
            publish_ahead_secs: self.keys.publish_ahead_secs,
            max_future_secs: self.clock.max_future_secs,
        }
    }

    pub fn pre_tls_grace(&self) -> Duration {
        Duration::from_secs(self.limits.pre_tls_grace_secs)
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.limits.handshake_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MIN: &str = r#"
[paths]
pki_dir = "/etc/shinsei/pki"
data_dir = "/var/lib/shinsei-relay"
spool_dir = "/var/spool/shinsei-relay"
"#;

    #[test]
    fn defaults() {
        let c = Config::from_toml(MIN).unwrap();
        assert_eq!(c.retention.retention_secs, DEFAULT_RETENTION_SECS);
        assert_eq!(
            c.retention.retention_secs + c.keys.store_epoch_secs,
            MAX_RETENTION_SECS
        );
        assert_eq!(c.listen.device.port(), 8443);
        assert_eq!(c.listen.admin.port(), 8444);
        assert_eq!(c.clock.max_future_secs, 300);
    }

    #[test]
    fn retention_above_seven_days_refused() {
        let t = format!("{MIN}\n[retention]\nretention_secs = 604801\n");
        assert!(matches!(
            Config::from_toml(&t),
            Err(ConfigError::Invalid(_))
        ));
        let t =
            format!("{MIN}\n[retention]\nretention_secs = 3600\n[clock]\nmax_age_secs = 1800\n");
        assert_eq!(
            Config::from_toml(&t).unwrap().retention.retention_secs,
            3600
        );
        // The default 601200 plus the default one-hour store epoch is exactly 7 days;
        // 604800 itself (a full week of records plus a key epoch) is too long now.
        let t = format!("{MIN}\n[retention]\nretention_secs = 604800\n");
        let e = Config::from_toml(&t).unwrap_err().to_string();
        assert!(e.contains("store_epoch_secs"), "{e}");
    }

    #[test]
    fn retention_shorter_than_the_accepted_age_refused() {
        // Issue 14: a purged envelope re-sent by a tablet would be accepted again.
        let t = format!("{MIN}\n[retention]\nretention_secs = 20\n");
        let e = Config::from_toml(&t).unwrap_err().to_string();
        assert!(e.contains("max_age_secs"), "{e}");
        assert!(e.contains("forwarded a second time"), "{e}");
        let t = format!("{MIN}\n[retention]\nretention_secs = 263160\n");
        assert!(
            Config::from_toml(&t).is_err(),
            "equal to age + future + interval"
        );
        let t = format!("{MIN}\n[retention]\nretention_secs = 263161\n");
        assert!(Config::from_toml(&t).is_ok());
    }

    #[test]
    fn unknown_key_refused() {
        let t = format!("{MIN}\nfoo = 1\n");
        assert!(matches!(Config::from_toml(&t), Err(ConfigError::Parse(_))));
    }

    #[test]
    fn store_section() {
        let c = Config::from_toml(MIN).unwrap();
        assert_eq!(c.store.backend, StoreBackend::Sled);
        let t = format!("{MIN}\n[store]\nbackend = \"postgres\"\n");
        assert!(matches!(
            Config::from_toml(&t),
            Err(ConfigError::Invalid(m)) if m.contains("store.url")
        ));
        let t = format!(
            "{MIN}\n[store]\nbackend = \"postgres\"\nurl = \"postgresql://shinsei:secret@db1,db2/shinsei?target_session_attrs=read-write\"\n"
        );
        let c = Config::from_toml(&t).unwrap();
        assert_eq!(c.store.backend, StoreBackend::Postgres);
        assert!(!format!("{c:?}").contains("secret"));
        let t = format!("{MIN}\n[store]\nbackend = \"mysql\"\n");
        assert!(Config::from_toml(&t).is_err());
        // data_dir may be left out with PostgreSQL, not with sled.
        let no_data = "[paths]\npki_dir = \"/p\"\nspool_dir = \"/s\"\n";
        assert!(Config::from_toml(no_data).is_err());
        let t = format!("{no_data}[store]\nbackend = \"postgres\"\nurl = \"host=/run/postgresql dbname=shinsei\"\n");
        Config::from_toml(&t).unwrap();
    }

    #[test]
    fn attack_limits_are_checked() {
        let c = Config::from_toml(MIN).unwrap();
        assert_eq!(c.limits.max_unauthenticated_per_ip, 32);
        assert_eq!(c.limits.pre_tls_grace_secs, 3);
        for (extra, what) in [
            ("pre_tls_grace_secs = 11", "pre_tls_grace_secs"),
            (
                "max_unauthenticated_per_ip = 0",
                "max_unauthenticated_per_ip",
            ),
            ("max_inflight_bytes = 1000000", "max_inflight_bytes"),
            (
                "max_device_inflight_bytes = 1000000",
                "max_device_inflight_bytes",
            ),
            ("max_decode_pixels = 35999999", "max_decode_pixels"),
            ("retry_after_secs = 0", "retry_after_secs"),
        ] {
            let t = format!("{MIN}\n[limits]\n{extra}\n");
            let e = Config::from_toml(&t).unwrap_err().to_string();
            assert!(e.contains(what), "{extra}: {e}");
        }
    }

    #[test]
    fn example_config_parses() {
        let t = include_str!("../dist/relay.toml");
        Config::from_toml(t).unwrap();
    }
}
