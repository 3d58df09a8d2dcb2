//! Load generator: N tablets (each with its own device certificate from a test PKI)
//! submit ~300 KB envelopes over mutual TLS (HTTP/1.1, one keep-alive connection per
//! tablet) to the relay on loopback, and the same bodies to a bare hyper + rustls
//! server that only reads and discards them (the ceiling). Prints submissions/s and
//! p50/p99 latency for each N.
//!
//! A third reference row (issue 19), the **unavoidable work** of one submission, in the
//! same run: a server with the same TLS that, per request, receives the body, verifies
//! the device signature, opens the HPKE envelope and decodes and validates the
//! application (its photo decoded once), and makes one durable write of the whole
//! submission (append it to a file and `fdatasync`). Nothing else: no deduplication, no
//! receipt, no registry, no forwarding. The sled relay's cost per submission is compared
//! with this row. With PostgreSQL, a fourth: the same with its one durable write an
//! `INSERT` of the submission committed into the relays' database (four connections,
//! synchronous commit), the PostgreSQL rows' reference (their ratio to the file-write
//! reference is printed too).
//!
//! After each relay row the bench waits until the relay has forwarded everything it
//! accepted, and prints how long that took after the last receipt, so that one row's
//! forwarding does not run into the next row's measurement.
//!
//! ```text
//! cargo bench -p shinsei-relay --bench load
//! SHINSEI_LOAD_N=10,100,500 SHINSEI_LOAD_TOTAL=400 cargo bench -p shinsei-relay --bench load
//! ```
//! `SHINSEI_LOAD_TOTAL` is the number of submissions per run (spread over the N
//! tablets, at least one each). Everything runs in one process on one machine, so
//! the clients (TLS, sealing is done beforehand) share the CPU with the server.
//!
//! With PostgreSQL available (`SHINSEI_TEST_PG_URL`, or Debian's packages from which
//! a throw-away cluster is started, see `shinsei_testkit::pg`), two more rows per N:
//! one relay node on PostgreSQL, and two relay nodes on the same database with the
//! tablets split between them. `SHINSEI_LOAD_PG=0` leaves them out.
//! `SHINSEI_LOAD_CPU_WORKERS=N` and `SHINSEI_LOAD_PG_POOL=N` override the relay's
//! `limits.cpu_workers` and `store.pool_size` (experiments).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, service::service_fn, Request, Response};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use rustls::pki_types::CertificateDer;
use shinsei_pki::layout;
use shinsei_protocol::{
    application::{Application, ApplicationId, BrailleWish, CertificateWish},
    envelope,
    photo::FacePhoto,
};
use shinsei_relay::{config::StoreBackend, Config, Relay, RelayOptions, RunningRelay};

use shinsei_testkit::{now, pg, tablet, PkiBuilder, Tablet, APP_ID, HOST};

/// A baseline JPEG of roughly `target` bytes that `FacePhoto` accepts.
fn photo(target: usize) -> FacePhoto {
    let (w, h) = (900u32, 1200u32);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut img = image::RgbImage::new(w, h);
    for (x, y, p) in img.enumerate_pixels_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed % 48) as u8;
        *p = image::Rgb([
            (x * 200 / w) as u8 + n,
            (y * 200 / h) as u8 + n / 2,
            120 + n,
        ]);
    }
    let mut best = None;
    for q in [95u8, 90, 85, 80, 75, 70, 60, 50, 40, 30] {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q)
            .encode_image(&img)
            .unwrap();
        let len = out.len();
        best = Some(out);
        if len <= target {
            break;
        }
    }
    let bytes = shinsei_protocol::photo::strip_metadata(&best.unwrap()).unwrap();
    FacePhoto::from_jpeg(bytes).expect("generated JPEG is a valid face photo")
}

fn client(root: &CertificateDer<'static>, t: &Tablet) -> reqwest::Client {
    let mut cfg = shinsei_testkit::tls::client_config(root, Some(&t.ident));
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .no_proxy()
        .http1_only()
        .pool_max_idle_per_host(1)
        .resolve(HOST, SocketAddr::from(([127, 0, 0, 1], 0)))
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap()
}

/// The ceiling: hyper + rustls with the same TLS configuration (client certificates
/// verified against the device CA), reading each body to the end and answering 200.
async fn bare_server(tls: Arc<rustls::ServerConfig>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(s) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(|req: Request<Incoming>| async move {
                    let n = req.into_body().collect().await.map(|c| c.to_bytes().len());
                    let _ = std::hint::black_box(n);
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

/// Where the reference makes its one durable write of the whole submission.
enum Durable {
    /// Append to one file and `fdatasync` (the sled rows' reference).
    File(std::sync::Mutex<std::fs::File>),
    /// One `INSERT` committed (synchronous commit, as the relay's) into PostgreSQL
    /// (the PostgreSQL rows' reference), by as many connection threads as the
    /// relay's default pool (4).
    Pg(std::sync::Mutex<std::sync::mpsc::Sender<PgJob>>),
}

type PgJob = (Vec<u8>, std::sync::mpsc::SyncSender<bool>);

impl Durable {
    fn file(path: &std::path::Path) -> Self {
        Durable::File(std::sync::Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap(),
        ))
    }

    /// Connection threads of their own: the synchronous client must not run on the
    /// async runtime's threads.
    fn pg(url: &str) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<PgJob>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        for i in 0..4 {
            let (url, rx, ready) = (url.to_owned(), rx.clone(), ready_tx.clone());
            std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                if i == 0 {
                    c.batch_execute(
                        "CREATE TABLE IF NOT EXISTS reference (id BYTEA PRIMARY KEY, body BYTEA NOT NULL);
                         ALTER TABLE reference ALTER COLUMN body SET STORAGE EXTERNAL",
                    )
                    .unwrap();
                }
                let _ = ready.send(());
                loop {
                    let job = rx.lock().unwrap().recv();
                    let Ok((body, done)) = job else { return };
                    let id = ring::digest::digest(&ring::digest::SHA256, &body);
                    let ok = c
                        .execute(
                            "INSERT INTO reference (id, body) VALUES ($1, $2)",
                            &[&id.as_ref(), &body],
                        )
                        .is_ok();
                    let _ = done.send(ok);
                }
            });
        }
        for _ in 0..4 {
            ready_rx.recv().unwrap();
        }
        Durable::Pg(std::sync::Mutex::new(tx))
    }

    /// Called on a blocking thread.
    fn write(&self, body: &[u8]) -> bool {
        match self {
            Durable::File(f) => {
                use std::io::Write;
                let mut f = f.lock().unwrap();
                f.write_all(body).is_ok() && f.sync_data().is_ok()
            }
            Durable::Pg(jobs) => {
                let (done, wait) = std::sync::mpsc::sync_channel(1);
                if jobs.lock().unwrap().send((body.to_vec(), done)).is_err() {
                    return false;
                }
                wait.recv().unwrap_or(false)
            }
        }
    }
}

/// The unavoidable work of one submission (see the crate docs): TLS receive, signature,
/// HPKE open, one validation of the application and its photo, one durable write.
async fn unavoidable_server(
    tls: Arc<rustls::ServerConfig>,
    keys: Arc<std::collections::HashMap<String, shinsei_protocol::keys::VerifyingKey>>,
    ring: Arc<shinsei_pki::layout::HpkeKeyRing>,
    durable: Durable,
) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let file = Arc::new(durable);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, keys, ring, file) =
                (acceptor.clone(), keys.clone(), ring.clone(), file.clone());
            tokio::spawn(async move {
                let Ok(s) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: Request<Incoming>| {
                    let (keys, ring, file) = (keys.clone(), ring.clone(), file.clone());
                    async move {
                        let Ok(body) = req.into_body().collect().await.map(|c| c.to_bytes()) else {
                            return Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())));
                        };
                        let ok = tokio::task::spawn_blocking(move || {
                            if body.is_empty() {
                                return true; // the warm-up GET
                            }
                            let Ok(env) = envelope::Envelope::parse(&body) else {
                                return false;
                            };
                            let Some(key) = keys.get(env.header().device_id.as_str()) else {
                                return false;
                            };
                            let Ok(v) = env.verify(key) else { return false };
                            let Ok(app) = v.open(ring.as_ref()) else {
                                return false;
                            };
                            std::hint::black_box(&app);
                            file.write(&body)
                        })
                        .await
                        .unwrap_or(false);
                        let mut r = Response::new(Full::new(Bytes::from_static(b"ok")));
                        if !ok {
                            *r.status_mut() = hyper::StatusCode::UNPROCESSABLE_ENTITY;
                        }
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

struct Stats {
    rate: f64,
    p50: Duration,
    p99: Duration,
    ok: usize,
    failed: usize,
}

/// Every tablet first opens its connection (GET status), then submits its envelopes
/// one after the other; all tablets run at once.
/// Waits until the relay has forwarded everything; how long that took.
async fn drained(r: &RunningRelay) -> Duration {
    let t = Instant::now();
    loop {
        let store = r.core().store.clone();
        let left = tokio::task::spawn_blocking(move || store.pending_forward(1).map(|v| v.len()))
            .await
            .unwrap()
            .unwrap();
        if left == 0 {
            return t.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run(
    addrs: &[SocketAddr],
    clients: &[reqwest::Client],
    work: Vec<Vec<Vec<u8>>>,
    warm_path: &str,
) -> Stats {
    let addr_of = |i: usize| addrs[i % addrs.len()];
    for (i, (c, _)) in clients.iter().zip(&work).enumerate() {
        let _ = c
            .get(format!("https://{HOST}:{}{warm_path}", addr_of(i).port()))
            .send()
            .await
            .map(|r| r.status());
    }
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (i, (c, envs)) in clients.iter().cloned().zip(work).enumerate() {
        let u = format!("https://{HOST}:{}/v1/envelopes", addr_of(i).port());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0;
            for e in envs {
                let t = Instant::now();
                let ok = match c.post(&u).body(e).send().await {
                    Ok(r) => {
                        let s = r.status();
                        r.bytes().await.is_ok() && s.is_success()
                    }
                    Err(_) => false,
                };
                if ok {
                    lat.push(t.elapsed());
                } else {
                    failed += 1;
                }
            }
            (lat, failed)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (l, f) = t.await.unwrap();
        all.extend(l);
        failed += f;
    }
    let wall = t0.elapsed();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    Stats {
        rate: all.len() as f64 / wall.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        ok: all.len(),
        failed,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let ns: Vec<usize> = std::env::var("SHINSEI_LOAD_N")
        .unwrap_or_else(|_| "10,100,500".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let total: usize = std::env::var("SHINSEI_LOAD_TOTAL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let max_n = ns.iter().copied().max().unwrap_or(10);

    let dir = tempfile::tempdir().unwrap();
    let pki = PkiBuilder::new(&dir.path().join("pki"))
        .org("Load Ward")
        .build();
    let l = &pki.layout;
    let relay_key = &pki.relay_key;
    let root = pki.root.clone();

    eprintln!("enrolling {max_n} tablets …");
    let tablets: Vec<Tablet> = (0..max_n)
        .map(|i| tablet(&pki, &format!("TAB-{i:04}")))
        .collect();
    let photo = photo(300_000);
    let app = Application::standard(
        ApplicationId::parse(APP_ID.as_bytes()).unwrap(),
        photo,
        CertificateWish::Yes,
        BrailleWish::No,
    );
    let sample = envelope::seal(&app, &tablets[0].id, now(), relay_key, &tablets[0].signing)
        .unwrap()
        .1;
    eprintln!("envelope size: {} bytes", sample.len());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut cfg = Config::with_paths(
            l.dir().to_owned(),
            dir.path().join("data"),
            dir.path().join("spool"),
        );
        cfg.listen.device = SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.listen.admin = SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.limits.max_connections = 2048;
        // Throughput, not the memory budgets (those are tests/attack*.rs): every
        // tablet's body in flight at once fits.
        cfg.limits.max_inflight_bytes = 1 << 30;
        cfg.limits.cpu_workers = std::env::var("SHINSEI_LOAD_CPU_WORKERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        cfg.log_level = "warn".into();
        let relay = Relay::new(cfg, RelayOptions::default())
            .unwrap()
            .start()
            .await
            .unwrap();

        // Two relay nodes on one PostgreSQL database, if there is one.
        let mut pg_db = None;
        let pg_nodes: Option<Vec<RunningRelay>> = if std::env::var("SHINSEI_LOAD_PG").is_ok_and(|v| v == "0") {
            println!("PostgreSQL rows left out (SHINSEI_LOAD_PG=0)");
            None
        } else {
            match pg::try_server() {
                Ok(server) => {
                    let db = server.create_db();
                    let mut nodes = Vec::new();
                    for i in 0..2 {
                        let mut c = Config::with_paths(
                            l.dir().to_owned(),
                            dir.path().join(format!("data-pg{i}")),
                            dir.path().join("spool-pg"),
                        );
                        c.listen.device = SocketAddr::from(([127, 0, 0, 1], 0));
                        c.listen.admin = SocketAddr::from(([127, 0, 0, 1], 0));
                        c.limits.max_connections = 2048;
                        c.limits.max_inflight_bytes = 1 << 30;
                        c.log_level = "warn".into();
                        c.store.backend = StoreBackend::Postgres;
                        c.store.url = Some(db.url.clone());
                        if let Some(n) = std::env::var("SHINSEI_LOAD_PG_POOL").ok().and_then(|v| v.parse().ok()) {
                            c.store.pool_size = n;
                        }
                        nodes.push(
                            Relay::new(c, RelayOptions::default())
                                .unwrap()
                                .start()
                                .await
                                .unwrap(),
                        );
                    }
                    println!(
                        "PostgreSQL: {} cluster, fsync on, database {}",
                        if server.own { "throw-away local" } else { "SHINSEI_TEST_PG_URL" },
                        db.name
                    );
                    pg_db = Some(db);
                    Some(nodes)
                }
                Err(e) => {
                    println!("PostgreSQL rows left out: {e}");
                    None
                }
            }
        };

        // The ceiling server: same certificate, same client verification (device CA).
        let (chain, key) = layout::load_tls_server(&l.relay_tls_cert(), &l.relay_tls_key()).unwrap();
        let dca = layout::read_cert_pem(&l.device_ca_cert()).unwrap();
        let provider = shinsei_relay::tls::provider();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(dca).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let bare_tls = Arc::new(shinsei_relay::tls::server_config(provider, verifier, chain, key).unwrap());
        let bare = bare_server(bare_tls.clone()).await;
        let keys: std::collections::HashMap<String, shinsei_protocol::keys::VerifyingKey> = tablets
            .iter()
            .map(|t| (t.id.as_str().to_owned(), t.signing.public_key()))
            .collect();
        let keys = Arc::new(keys);
        let ring = Arc::new(layout::load_hpke_key_ring(l, now()).unwrap());
        let floor = unavoidable_server(
            bare_tls.clone(),
            keys.clone(),
            ring.clone(),
            Durable::file(&dir.path().join("unavoidable.log")),
        )
        .await;
        // The same with its one durable write an INSERT into the relays' database.
        let floor_pg = match &pg_db {
            Some(db) => Some(
                unavoidable_server(
                    bare_tls.clone(),
                    keys.clone(),
                    ring.clone(),
                    Durable::pg(&db.url),
                )
                .await,
            ),
            None => None,
        };

        println!();
        println!(
            "{} submissions per run, envelope {} KB, HTTP/1.1 keep-alive, mutual TLS, loopback, {} CPUs",
            total,
            sample.len() / 1000,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!(
            "{:>5}  {:<34}  {:>10}  {:>9}  {:>9}  {:>6}",
            "N", "server", "subm./s", "p50 ms", "p99 ms", "failed"
        );
        for &n in &ns {
            let per = total.div_ceil(n).max(1);
            let clients: Vec<reqwest::Client> =
                tablets[..n].iter().map(|t| client(&root, t)).collect();
            // Seal everything beforehand (fresh envelope IDs for every submission).
            let seal_all = || -> Vec<Vec<Vec<u8>>> {
                tablets[..n]
                    .iter()
                    .map(|t| {
                        (0..per)
                            .map(|_| envelope::seal(&app, &t.id, now(), relay_key, &t.signing).unwrap().1)
                            .collect()
                    })
                    .collect()
            };
            let bare_clients: Vec<reqwest::Client> =
                tablets[..n].iter().map(|t| client(&root, t)).collect();
            let s = run(&[bare], &bare_clients, seal_all(), "/").await;
            println!(
                "{n:>5}  {:<34}  {:>10.1}  {:>9}  {:>9}  {:>6}",
                "bare hyper+rustls (ceiling)",
                s.rate,
                ms(s.p50),
                ms(s.p99),
                s.failed
            );
            let floor_clients: Vec<reqwest::Client> =
                tablets[..n].iter().map(|t| client(&root, t)).collect();
            let s = run(&[floor], &floor_clients, seal_all(), "/").await;
            let floor_rate = s.rate;
            println!(
                "{n:>5}  {:<34}  {:>10.1}  {:>9}  {:>9}  {:>6}",
                "unavoidable work (reference)",
                s.rate,
                ms(s.p50),
                ms(s.p99),
                s.failed
            );
            drop(floor_clients);
            let s = run(&[relay.device_addr], &clients, seal_all(), "/v1/status").await;
            let drain = drained(&relay).await;
            println!(
                "{n:>5}  {:<34}  {:>10.1}  {:>9}  {:>9}  {:>6}  cost ×{:.2} of the reference",
                "shinsei-relay, sled (1 node)",
                s.rate,
                ms(s.p50),
                ms(s.p99),
                s.failed,
                floor_rate / s.rate
            );
            println!(
                "{:>5}  {:<34}  (forwarding done {} ms after the last receipt)",
                "", "", drain.as_millis()
            );
            if let (Some(nodes), Some(floor_pg)) = (&pg_nodes, floor_pg) {
                let floor_clients: Vec<reqwest::Client> =
                    tablets[..n].iter().map(|t| client(&root, t)).collect();
                let s = run(&[floor_pg], &floor_clients, seal_all(), "/").await;
                let floor_pg_rate = s.rate;
                println!(
                    "{n:>5}  {:<34}  {:>10.1}  {:>9}  {:>9}  {:>6}",
                    "unavoidable work, PostgreSQL write",
                    s.rate,
                    ms(s.p50),
                    ms(s.p99),
                    s.failed
                );
                drop(floor_clients);
                for k in [1usize, 2] {
                    let addrs: Vec<SocketAddr> =
                        nodes[..k].iter().map(|r| r.device_addr).collect();
                    let s = run(&addrs, &clients, seal_all(), "/v1/status").await;
                    let drain = drained(&nodes[0]).await;
                    println!(
                        "{n:>5}  {:<34}  {:>10.1}  {:>9}  {:>9}  {:>6}  cost ×{:.2} of the reference",
                        format!("shinsei-relay, PostgreSQL ({k} node{})", if k > 1 { "s" } else { "" }),
                        s.rate,
                        ms(s.p50),
                        ms(s.p99),
                        s.failed,
                        floor_pg_rate / s.rate
                    );
                    println!(
                        "{:>5}  {:<34}  (×{:.2} of the file-write reference; forwarding done {} ms after the last receipt)",
                        "", "", floor_rate / s.rate, drain.as_millis()
                    );
                }
            }
            let _ = s.ok;
            drop(clients);
            drop(bare_clients);
        }
        relay.shutdown().await;
        for r in pg_nodes.into_iter().flatten() {
            r.shutdown().await;
        }
    });
}
