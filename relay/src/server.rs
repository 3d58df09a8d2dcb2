//! Listeners: TLS accept loops with admission before authentication
//! ([`crate::admission`]: per-address cap, first-byte grace, separate pools for waiting,
//! handshaking and authenticated connections), handshake timeout, HTTP/1.1
//! header-read timeout, an idle timeout, HTTP/2 stream and window limits; plus the background
//! loops (forwarding, retention purge, periodic reload) and start-up from a
//! configuration.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use hyper::{body::Incoming, service::service_fn, Request};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use rustls::ServerConfig;
use shinsei_pki::layout::{self, PkiLayout};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};
use tokio_rustls::TlsAcceptor;

use crate::{
    admission::{Admission, Unauthenticated},
    clock::{Clock, SystemClock},
    config::{Config, StoreBackend},
    core::{RelayCore, RelayKeys},
    epochs::{EpochKeys, KeyDir},
    forward::forward_loop,
    http::{handle_admin, handle_device},
    identity::{AdminIdentity, DeviceIdentity},
    retention::purge_loop,
    store::{PgStore, SledStore, Store},
    tls,
    tls::{AdminClientVerifier, DeviceClientVerifier},
    upstream::{SpoolUpstream, Upstream},
};

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("PKI: {0}")]
    Pki(#[from] shinsei_pki::PkiError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("spool: {0}")]
    Upstream(#[from] crate::upstream::UpstreamError),
    #[error("{0}")]
    Other(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Opens the store the configuration names (`[store] backend`).
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    Ok(match config.store.backend {
        StoreBackend::Sled => Arc::new(SledStore::open(&config.paths.data_dir)?),
        StoreBackend::Postgres => Arc::new(PgStore::open(&config.store)?),
    })
}

/// Replaceable parts (tests): the clock, the upstream and the store.
pub struct RelayOptions {
    pub clock: Arc<dyn Clock>,
    /// Default: a [`SpoolUpstream`] on `paths.spool_dir`.
    pub upstream: Option<Arc<dyn Upstream>>,
    /// Default: what `[store]` names ([`SledStore`] on `paths.data_dir`, or
    /// [`PgStore`]).
    pub store: Option<Arc<dyn Store>>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            upstream: None,
            store: None,
        }
    }
}

/// A relay, configured and loaded, not yet listening.
pub struct Relay {
    core: Arc<RelayCore>,
    layout: PkiLayout,
    device_tls: Arc<ServerConfig>,
    admin_tls: Arc<ServerConfig>,
    device_verifier: Arc<DeviceClientVerifier>,
    admin_verifier: Arc<AdminClientVerifier>,
    /// The relay's TLS certificate, the root CA and the device CA: warned of ahead of
    /// their end at start and on every reload (`crate::expiry`).
    own_certs: Vec<(&'static str, Vec<u8>)>,
}

fn warn_expiring(certs: &[(&'static str, Vec<u8>)], now: u64) {
    let refs: Vec<(&str, &[u8])> = certs.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    for w in crate::expiry::warnings(&refs, now) {
        tracing::warn!(certificate = %w, "certificate expiring");
    }
}

/// What a reload re-read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub crls: usize,
    pub deny_file_entries: usize,
    pub hpke_keys: usize,
}

impl Relay {
    /// Loads the PKI material, opens the store and the upstream, builds the TLS
    /// configurations.
    pub fn new(config: Config, opts: RelayOptions) -> Result<Self, StartError> {
        config.validate()?;
        let layout = PkiLayout::new(&config.paths.pki_dir);
        let now = opts.clock.now();
        let m = layout::load_relay_material(&layout, now)?;
        let store: Arc<dyn Store> = match opts.store {
            Some(s) => s,
            None => open_store(&config)?,
        };
        let upstream: Arc<dyn Upstream> = match opts.upstream {
            Some(u) => u,
            None => Arc::new(SpoolUpstream::new(&config.paths.spool_dir)?),
        };
        let provider = tls::provider();
        let crls = tls::load_crls(&config.paths.crl_files).map_err(StartError::Other)?;
        let own_certs = vec![
            (
                "relay TLS certificate",
                m.tls_chain.first().map(|c| c.to_vec()).unwrap_or_default(),
            ),
            ("root CA", m.root_ca.to_vec()),
            ("device CA", m.device_ca.to_vec()),
        ];
        warn_expiring(&own_certs, now);
        let epochs = EpochKeys::open(KeyDir::new(config.key_dir()), config.epoch_params(), now)
            .map_err(|e| StartError::Other(format!("key epochs: {e}")))?;
        let core = Arc::new(RelayCore::new(
            config,
            RelayKeys {
                receipt_key: m.receipt_key,
                hpke: m.hpke_keys,
                epochs,
            },
            store,
            opts.clock,
            upstream,
        )?);
        core.reload_deny_file().map_err(StartError::Other)?;
        let device_verifier = Arc::new(DeviceClientVerifier::new(
            m.device_ca,
            crls.clone(),
            core.deny.clone(),
            provider.clone(),
        )?);
        let admin_verifier = Arc::new(AdminClientVerifier::new(m.root_ca, crls, provider.clone())?);
        let device_tls = Arc::new(tls::server_config(
            provider.clone(),
            device_verifier.clone(),
            m.tls_chain.clone(),
            m.tls_key.clone_key(),
        )?);
        let admin_tls = Arc::new(tls::server_config(
            provider,
            admin_verifier.clone(),
            m.tls_chain,
            m.tls_key,
        )?);
        Ok(Self {
            core,
            layout,
            device_tls,
            admin_tls,
            device_verifier,
            admin_verifier,
            own_certs,
        })
    }

    pub fn core(&self) -> &Arc<RelayCore> {
        &self.core
    }

    /// Re-reads the CRLs, the deny-list file and the HPKE key ring. A part that fails
    /// keeps its previous value; the errors are returned together.
    pub fn reload(&self) -> Result<ReloadReport, String> {
        let mut report = ReloadReport::default();
        let mut errors = Vec::new();
        warn_expiring(&self.own_certs, self.core.clock.now());
        match tls::load_crls(&self.core.config.paths.crl_files) {
            Ok(crls) => {
                report.crls = crls.len();
                if let Err(e) = self.device_verifier.set_crls(crls.clone()) {
                    errors.push(format!("CRLs: {e}"));
                }
                if let Err(e) = self.admin_verifier.set_crls(crls) {
                    errors.push(format!("CRLs (admin listener): {e}"));
                }
            }
            Err(e) => errors.push(format!("CRLs: {e}")),
        }
        match self.core.reload_deny_file() {
            Ok(n) => report.deny_file_entries = n,
            Err(e) => errors.push(format!("deny list: {e}")),
        }
        match layout::load_hpke_key_ring(&self.layout, self.core.clock.now()) {
            Ok(ring) => {
                report.hpke_keys = ring.info().len();
                self.core.set_key_ring(ring);
            }
            Err(e) => errors.push(format!("HPKE keys: {e}")),
        }
        if errors.is_empty() {
            tracing::info!(
                crls = report.crls,
                deny_file_entries = report.deny_file_entries,
                hpke_keys = report.hpke_keys,
                "reloaded"
            );
            Ok(report)
        } else {
            let e = errors.join("; ");
            tracing::error!(error = %e, "reload incomplete; previous values kept");
            Err(e)
        }
    }

    /// Binds both listeners and starts the accept loops and background tasks.
    pub async fn start(self) -> Result<RunningRelay, StartError> {
        let cfg = &self.core.config;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { addr, source })
        };
        let dl = bind(cfg.listen.device).await?;
        let al = bind(cfg.listen.admin).await?;
        let device_addr = dl
            .local_addr()
            .map_err(|e| StartError::Other(e.to_string()))?;
        let admin_addr = al
            .local_addr()
            .map_err(|e| StartError::Other(e.to_string()))?;
        let (tx, rx) = watch::channel(false);
        let relay = Arc::new(self);
        let core = relay.core.clone();
        let mut tasks = vec![
            tokio::spawn(accept_loop(
                Kind::Device,
                dl,
                TlsAcceptor::from(relay.device_tls.clone()),
                core.clone(),
                rx.clone(),
            )),
            tokio::spawn(accept_loop(
                Kind::Admin,
                al,
                TlsAcceptor::from(relay.admin_tls.clone()),
                core.clone(),
                rx.clone(),
            )),
            tokio::spawn(forward_loop(core.clone(), rx.clone())),
            tokio::spawn(purge_loop(core.clone(), rx.clone())),
        ];
        let r = relay.clone();
        let mut srx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let every = Duration::from_secs(r.core.config.reload_interval_secs);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = srx.changed() => return,
                }
                let r2 = r.clone();
                let _ = tokio::task::spawn_blocking(move || r2.reload()).await;
            }
        }));
        tracing::info!(device = %device_addr, admin = %admin_addr, "relay listening");
        Ok(RunningRelay {
            device_addr,
            admin_addr,
            relay,
            shutdown: tx,
            tasks,
        })
    }
}

/// A listening relay.
pub struct RunningRelay {
    pub device_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    relay: Arc<Relay>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningRelay {
    pub fn core(&self) -> &Arc<RelayCore> {
        &self.relay.core
    }

    /// See [`Relay::reload`].
    pub fn reload(&self) -> Result<ReloadReport, String> {
        self.relay.reload()
    }

    /// Stops accepting connections and the background loops. Open connections finish
    /// on their own (every accepted envelope was flushed before its receipt was sent).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        // Let open connections close (bounded by the grace period).
        let until = Instant::now() + SHUTDOWN_GRACE + Duration::from_secs(1);
        while self
            .relay
            .core
            .metrics
            .connections_open
            .load(Ordering::Relaxed)
            > 0
            && Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::info!("relay stopped");
    }

    /// Runs until SIGTERM or SIGINT; reloads on SIGHUP.
    pub async fn run_until_signal(self) -> Result<(), StartError> {
        use tokio::signal::unix::{signal, SignalKind};
        let sig = |k| signal(k).map_err(|e| StartError::Other(format!("signal handler: {e}")));
        let mut hup = sig(SignalKind::hangup())?;
        let mut term = sig(SignalKind::terminate())?;
        let mut int = sig(SignalKind::interrupt())?;
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading");
                    let r = self.relay.clone();
                    let _ = tokio::task::spawn_blocking(move || r.reload()).await;
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        self.shutdown().await;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Device,
    Admin,
}

async fn accept_loop(
    kind: Kind,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    core: Arc<RelayCore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let admission = Admission::new(&core.config.limits);
    let mut accept_errors = 0u64;
    loop {
        // Never stop accepting: a connection that finds its pool full is closed at
        // once rather than left in the kernel's backlog in front of others.
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE/ENFILE (out of descriptors) and the like: back off instead
                    // of spinning; the connections held finish and free descriptors.
                    accept_errors += 1;
                    if accept_errors.is_power_of_two() {
                        tracing::warn!(error = %e, errors = accept_errors, listener = ?kind, "accept failed; backing off");
                    }
                    core.metrics.accept_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let slot = match admission.accept(peer.ip().to_canonical()) {
            Ok(s) => s,
            Err(r) => {
                core.metrics.connection_rejected(r);
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (core, acceptor, stop) = (core.clone(), acceptor.clone(), shutdown.clone());
        tokio::spawn(async move {
            core.metrics
                .connections_open
                .fetch_add(1, Ordering::Relaxed);
            serve_connection(kind, &core, acceptor, tcp, slot, stop).await;
            core.metrics
                .connections_open
                .fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Tracks requests in flight on one connection, for the idle timeout.
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn idle_for(&self) -> Duration {
        Duration::from_millis(
            (self.start.elapsed().as_millis() as u64)
                .saturating_sub(self.last_ms.load(Ordering::Relaxed)),
        )
    }
}

struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(a: &Arc<Activity>) -> Self {
        a.in_flight.fetch_add(1, Ordering::Relaxed);
        a.touch();
        Self(a.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve_connection(
    kind: Kind,
    core: &Arc<RelayCore>,
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    slot: Unauthenticated,
    stop: watch::Receiver<bool>,
) {
    let limits = &core.config.limits;
    // Stage 1: the first byte (the ClientHello) within the grace, else the socket is
    // idle and goes.
    let mut first = [0u8; 1];
    match tokio::time::timeout(core.config.pre_tls_grace(), tcp.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 => {}
        Ok(_) => return,
        Err(_) => {
            core.metrics
                .pre_tls_timeouts
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    // Stage 2: a handshake slot.
    let slot = match slot.first_byte() {
        Ok(s) => s,
        Err(r) => {
            core.metrics.connection_rejected(r);
            return;
        }
    };
    let tls =
        match tokio::time::timeout(core.config.handshake_timeout(), acceptor.accept(tcp)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                core.metrics
                    .tls_handshake_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, listener = ?kind, "TLS handshake failed");
                return;
            }
            Err(_) => {
                core.metrics
                    .tls_handshake_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(listener = ?kind, "TLS handshake timed out");
                return;
            }
        };
    let Some(cert) = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
    else {
        return;
    };
    // Stage 3: an authenticated connection's slot, held until the connection closes.
    let _established = match slot.authenticated() {
        Ok(s) => s,
        Err(r) => {
            core.metrics.connection_rejected(r);
            return;
        }
    };
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout_secs))
        .max_buf_size(H1_MAX_BUF)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_h2_streams)
        // Body bytes a connection may have received and not yet read by its handlers
        // (the per-connection term of the memory bound in relay/README.md).
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
        .max_header_list_size(16 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let activity = Arc::new(Activity {
        start: Instant::now(),
        in_flight: AtomicUsize::new(0),
        last_ms: AtomicU64::new(0),
    });
    let io = TokioIo::new(tls);
    let idle = Duration::from_secs(limits.idle_timeout_secs);
    // The same serving for both listeners, with that listener's identity and handler
    // (a macro: the service and connection types differ per handler).
    macro_rules! serve {
        ($identity:ty, $handler:path) => {{
            let Some(who) = <$identity>::from_cert(&cert) else {
                return;
            };
            let who = Arc::new(who);
            let (c, a) = (core.clone(), activity.clone());
            let svc = service_fn(move |req: Request<Incoming>| {
                let (c, who, guard) = (c.clone(), who.clone(), InFlight::new(&a));
                async move {
                    let r = $handler(c, who, req).await;
                    drop(guard);
                    r
                }
            });
            let conn = b.serve_connection(io, svc);
            drive(conn, &activity, idle, stop).await;
        }};
    }
    match kind {
        Kind::Device => serve!(DeviceIdentity, handle_device),
        Kind::Admin => serve!(AdminIdentity, handle_admin),
    }
}

/// HTTP/2 flow-control window of one stream (bytes).
pub const H2_STREAM_WINDOW: u32 = 256 * 1024;
/// HTTP/2 flow-control window of one connection (bytes): at most this much body data
/// received and not yet read, whatever the number of streams.
pub const H2_CONNECTION_WINDOW: u32 = 512 * 1024;
/// HTTP/1.1 read buffer of one connection (bytes).
pub const H1_MAX_BUF: usize = 64 * 1024;

/// How long open connections get to finish after shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Drives a connection; shuts it down gracefully once idle for `idle` or at relay
/// shutdown (then drops it after [`SHUTDOWN_GRACE`]).
async fn drive<F, E>(conn: F, activity: &Activity, idle: Duration, mut stop: watch::Receiver<bool>)
where
    F: std::future::Future<Output = Result<(), E>> + GracefulShutdown,
    E: std::fmt::Display,
{
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    let mut stopping = false;
    let tick = Duration::from_secs(1).min(idle);
    let deadline = tokio::time::sleep(Duration::from_secs(365 * 86_400));
    let mut deadline = std::pin::pin!(deadline);
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = tokio::time::sleep(tick), if !closing => {
                if activity.in_flight.load(Ordering::Relaxed) == 0 && activity.idle_for() >= idle {
                    conn.as_mut().shutdown_gracefully();
                    closing = true;
                }
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                if !closing {
                    conn.as_mut().shutdown_gracefully();
                    closing = true;
                }
                deadline.as_mut().reset(tokio::time::Instant::now() + SHUTDOWN_GRACE);
            }
            _ = deadline.as_mut() => return,
        }
    }
}

/// hyper-util's connection types, graceful shutdown.
trait GracefulShutdown {
    fn shutdown_gracefully(self: std::pin::Pin<&mut Self>);
}

impl<I, S, E> GracefulShutdown for auto::Connection<'_, I, S, E>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: hyper::body::Body + Send + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn shutdown_gracefully(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// `--check-config`: validates the configuration and loads the PKI material, CRLs and
/// deny-list file, without opening the store or listening. Returns a summary (no
/// secrets).
pub fn check(config: &Config) -> Result<String, StartError> {
    config.validate()?;
    let now = SystemClock.now();
    let layout = PkiLayout::new(&config.paths.pki_dir);
    let m = layout::load_relay_material(&layout, now)?;
    let expiring = crate::expiry::warnings(
        &[
            (
                "relay TLS certificate",
                m.tls_chain.first().map(|c| c.as_ref()).unwrap_or_default(),
            ),
            ("root CA", m.root_ca.as_ref()),
            ("device CA", m.device_ca.as_ref()),
        ],
        now,
    );
    let crls = tls::load_crls(&config.paths.crl_files).map_err(StartError::Other)?;
    if let Some(p) = &config.paths.deny_list_file {
        let text = std::fs::read_to_string(p)
            .map_err(|e| StartError::Other(format!("{}: {e}", p.display())))?;
        crate::deny::DenySet::parse(&text)
            .map_err(|e| StartError::Other(format!("{}: {e}", p.display())))?;
    }
    // Both TLS configurations must build.
    let provider = tls::provider();
    let verifier = Arc::new(DeviceClientVerifier::new(
        m.device_ca,
        crls.clone(),
        Arc::new(crate::deny::DenyList::new()),
        provider.clone(),
    )?);
    tls::server_config(provider, verifier, m.tls_chain, m.tls_key)?;
    let keys: Vec<String> = m
        .hpke_keys
        .info()
        .iter()
        .map(|i| match i.not_after {
            Some(t) => format!("{} (until {t})", i.key_id),
            None => format!("{} (current)", i.key_id),
        })
        .collect();
    Ok(format!(
        "configuration OK\n  device listener: {}\n  admin listener:  {}\n  relay URL:       {}\n  HPKE keys:       {}\n  receipt key:     {}\n  CRLs:            {}\n  store:           {}\n  spool dir:       {}\n  retention:       {} s",
        config.listen.device,
        config.listen.admin,
        m.deployment.relay_url,
        keys.join(", "),
        m.deployment.receipt_public_key,
        crls.len(),
        match config.store.backend {
            StoreBackend::Sled => format!("sled in {}", config.paths.data_dir.display()),
            StoreBackend::Postgres => "postgres (connection not tried by --check-config)".into(),
        },
        config.paths.spool_dir.display(),
        config.retention.retention_secs,
    ) + &expiring
        .iter()
        .map(|w| format!("\n  WARNING:         {w}"))
        .collect::<String>())
}
