//! Issue 19, the attack run (feature `system-tests`: heavy, about a minute): the relay
//! binary as its own process (so its peak RSS is its own), on loopback, default limits
//! but `retry_after_secs = 1`. At once:
//!
//! - 500 tablets (own device certificates, 10 per source address 127.0.1.x, as offices
//!   behind NAT'd lines) each submit one application, retrying like the agent (after
//!   `Retry-After` on a 503, after 1 s on a connection error) with the same envelope;
//! - an attacker at 127.66.0.1 keeps 5,000 idle TCP sockets open (re-opening each one
//!   the relay closes, after 2 s);
//! - 50 slow-body senders with one compromised device certificate (from 127.66.0.2)
//!   declare 7 MB bodies and send 64 bytes every 500 ms, reconnecting when answered;
//! - another compromised device (from 127.66.0.3) streams valid applications with a
//!   6000×6000 photo over HTTP/2, 32 requests at a time (each decode is 36 Mpx).
//!
//! Asserted (outcomes only, no timing): every tablet's application accepted, stored
//! exactly once under its own envelope ID with the receipt the tablet got, the relay
//! alive throughout and after, and its peak RSS (`VmHWM`) under
//! `shinsei_relay::budget::worst_case_memory` of its limits. Printed as `figure:` lines
//! (relay/README.md, "Figures"): legit p50/p99 from first attempt to receipt, attempts,
//! peak RSS, and what the attackers got.
//!
//! ```text
//! cargo test -p shinsei-relay --features system-tests --test attack_run -- --nocapture
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::{
    io::{Read, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use common::*;
use shinsei_protocol::{
    application::{Application, ApplicationId, BrailleWish, CertificateWish},
    photo::FacePhoto,
};
use shinsei_relay::{budget::worst_case_memory, store::Store, Config};

const TABLETS: usize = 500;
const PER_ADDRESS: usize = 10;
const IDLE_SOCKETS: usize = 5_000;
const SLOW_SENDERS: usize = 50;
const BIG_STREAMS: usize = 32;
const BIG_DISTINCT: usize = 4;
/// A tablet that has no receipt after this gave up: its application counts as lost.
const GIVE_UP: Duration = Duration::from_secs(90);

const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 66, 0, 1);
const SLOW: Ipv4Addr = Ipv4Addr::new(127, 66, 0, 2);
const BIG: Ipv4Addr = Ipv4Addr::new(127, 66, 0, 3);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn https_client(env: &Env, t: &Tablet, source: Ipv4Addr, h2: bool) -> reqwest::Client {
    let mut cfg = shinsei_testkit::tls::client_config(&env.pki.root, Some(&t.ident));
    cfg.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    let b = reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .local_address(IpAddr::V4(source))
        .resolve(HOST, SocketAddr::from(([127, 0, 0, 1], 0)));
    if h2 {
        b.http2_prior_knowledge()
    } else {
        b.http1_only()
    }
    .build()
    .unwrap()
}

/// Enrols `ids` in one `sign-bulk` run (the device CA is loaded once, not per
/// tablet as `tablet()` does: 500 of those take minutes here).
fn enrol_bulk(env: &Env, ids: &[String]) -> Vec<Tablet> {
    let csr_dir = env.dir.path().join("csrs");
    let out = env.dir.path().join("bundles");
    std::fs::create_dir_all(&csr_dir).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let keys: Vec<_> = ids
        .iter()
        .map(|id| {
            let (key, csr) = shinsei_testkit::pki::csr(id);
            std::fs::write(csr_dir.join(format!("{id}.csr.pem")), csr).unwrap();
            key
        })
        .collect();
    let items = shinsei_provisioning::device::sign_bulk(
        &env.pki.layout,
        &csr_dir,
        &out,
        &shinsei_provisioning::device::SignOptions {
            profile: shinsei_protocol::bundle::Profile::Standard,
            days: 30,
            ticket: false,
        },
        now() - 60,
        |_, _, _| {},
    )
    .unwrap();
    assert!(items.iter().all(|i| i.result.is_ok()));
    ids.iter()
        .zip(keys)
        .map(|(id, key)| {
            let cert = shinsei_pki::layout::read_cert_pem(&env.pki.layout.device_cert(id)).unwrap();
            let key_der = key.serialize_der();
            Tablet {
                id: shinsei_protocol::device::DeviceId::parse(id).unwrap(),
                signing: shinsei_protocol::keys::SigningKey::from_pkcs8(&key_der).unwrap(),
                ident: Identity { cert, key_der },
            }
        })
        .collect()
}

/// A 6000×6000 photo the relay accepts (the largest it decodes).
fn largest_photo() -> FacePhoto {
    let (w, h) = (6000u32, 6000u32);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed % 24) as u8;
        image::Rgb([(x / 30) as u8 + n, (y / 30) as u8 + n, 100 + n])
    });
    for q in [50u8, 30] {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q)
            .encode_image(&img)
            .unwrap();
        if out.len() <= 6_500_000 {
            let bytes = shinsei_protocol::photo::strip_metadata(&out).unwrap();
            return FacePhoto::from_jpeg(bytes).unwrap();
        }
    }
    panic!("no quality gives a photo under 6.5 MB");
}

/// One idle socket from `source`, re-opened 2 s after the relay closes it, until
/// `stop`. Counts the closes.
async fn idle_socket(
    addr: SocketAddr,
    source: Ipv4Addr,
    stop: Arc<AtomicBool>,
    closed: Arc<AtomicU64>,
) {
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        if s.bind(SocketAddr::from((source, 0))).is_ok() {
            if let Ok(Ok(tcp)) = tokio::time::timeout(Duration::from_secs(2), s.connect(addr)).await
            {
                // Hold it until the relay closes it.
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match tokio::time::timeout(Duration::from_millis(500), tcp.readable()).await {
                        Err(_) => continue,
                        Ok(Err(_)) => break,
                        Ok(Ok(())) => match tcp.try_read(&mut buf) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => break,
                        },
                    }
                }
                closed.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// A slow-body sender (blocking, own thread): declares 7 MB, sends 64 bytes every 500
/// ms; when answered, reconnects after 1 s. Returns the answers' status lines.
fn slow_sender(
    root: rustls::pki_types::CertificateDer<'static>,
    t: Arc<Tablet>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let mut answers = Vec::new();
    let mut cfg = shinsei_testkit::tls::client_config(&root, Some(&t.ident));
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let cfg = Arc::new(cfg);
    while !stop.load(Ordering::Relaxed) {
        let run = || -> Option<String> {
            let sock = socket2_connect(addr, SLOW)?;
            sock.set_read_timeout(Some(Duration::from_millis(500)))
                .ok()?;
            let name = rustls::pki_types::ServerName::try_from(HOST).ok()?;
            let conn = rustls::ClientConnection::new(cfg.clone(), name).ok()?;
            let mut s = rustls::StreamOwned::new(conn, sock);
            let head = format!(
                "POST /v1/envelopes HTTP/1.1\r\nhost: {HOST}\r\ncontent-length: 7000000\r\n\r\n"
            );
            s.write_all(head.as_bytes()).ok()?;
            let mut buf = [0u8; 1024];
            while !stop.load(Ordering::Relaxed) {
                match s.read(&mut buf) {
                    Ok(0) => return None,
                    Ok(n) => {
                        return Some(
                            String::from_utf8_lossy(&buf[..n])
                                .lines()
                                .next()
                                .unwrap_or("")
                                .to_owned(),
                        )
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        s.write_all(&[0u8; 64]).ok()?;
                    }
                    Err(_) => return None,
                }
            }
            None
        };
        answers.push(run().unwrap_or_else(|| "closed".into()));
        std::thread::sleep(Duration::from_secs(1));
    }
    answers
}

/// A blocking TCP connection to `addr` from `source`.
fn socket2_connect(addr: SocketAddr, source: Ipv4Addr) -> Option<std::net::TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4().ok()?;
        s.bind(SocketAddr::from((source, 0))).ok()?;
        let tcp = tokio::time::timeout(Duration::from_secs(2), s.connect(addr))
            .await
            .ok()?
            .ok()?;
        let std = tcp.into_std().ok()?;
        std.set_nonblocking(false).ok()?;
        Some(std)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_run() {
    let env = Env::new();
    let (dp, ap) = (
        shinsei_testkit::net::free_port(),
        shinsei_testkit::net::free_port(),
    );
    let config_path = env.dir.path().join("relay.toml");
    std::fs::write(
        &config_path,
        format!(
            "log_level = \"warn\"\n[limits]\nretry_after_secs = 1\n[listen]\ndevice = \"127.0.0.1:{dp}\"\nadmin = \"127.0.0.1:{ap}\"\n[paths]\npki_dir = {:?}\ndata_dir = {:?}\nspool_dir = {:?}\n",
            env.pki.layout.dir(),
            env.dir.path().join("data"),
            env.spool(),
        ),
    )
    .unwrap();
    let config = Config::load(&config_path).unwrap();
    let bound = worst_case_memory(&config.limits);
    let log = std::fs::File::create(env.dir.path().join("relay.log")).unwrap();
    let relay = Killed(
        Command::new(env!("CARGO_BIN_EXE_shinsei-relay"))
            .args(["--config", config_path.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let pid = relay.0.id();
    let addr = SocketAddr::from(([127, 0, 0, 1], dp));
    // `SHINSEI_ATTACK=0`: the same run without the attackers (the baseline figures).
    let attack = std::env::var("SHINSEI_ATTACK").map_or(true, |v| v != "0");
    let t_setup = Instant::now();

    // Everything sealed before the clock starts.
    let ids: Vec<String> = (0..TABLETS).map(|i| format!("TAB-{:04}", i + 1)).collect();
    let tablets = enrol_bulk(&env, &ids);
    eprintln!("enrolled in {:.1} s", t_setup.elapsed().as_secs_f64());
    let app = standard_app();
    let work: Vec<(shinsei_protocol::envelope::EnvelopeId, Vec<u8>)> = tablets
        .iter()
        .map(|t| t.seal(&env.pki, &app, now()))
        .collect();
    eprintln!("sealed in {:.1} s", t_setup.elapsed().as_secs_f64());
    let slow_dev = Arc::new(tablet(&env.pki, "TAB-6660"));
    let big_dev = tablet(&env.pki, "TAB-6661");
    let big_app = Application::standard(
        ApplicationId::parse(APP_ID.as_bytes()).unwrap(),
        largest_photo(),
        CertificateWish::Yes,
        BrailleWish::No,
    );
    eprintln!("largest photo in {:.1} s", t_setup.elapsed().as_secs_f64());
    // A few distinct envelopes, sent again and again: each is decoded until it is
    // stored once (a stored one is answered with its receipt, not decoded again);
    // sealing one takes seconds in a debug build.
    let big: Vec<bytes::Bytes> = (0..BIG_DISTINCT)
        .map(|_| bytes::Bytes::from(big_dev.seal(&env.pki, &big_app, now()).1))
        .collect();
    let big_len = big[0].len();

    // The relay is up (a status request of the first tablet from its own address).
    let probe = https_client(&env, &tablets[0], Ipv4Addr::new(127, 0, 1, 1), false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe.get(url(addr, "/v1/status")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the relay did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_idle = status_kib(pid, "VmRSS");
    eprintln!(
        "set-up (certificates, sealing) {:.1} s",
        t_setup.elapsed().as_secs_f64()
    );

    // The attack.
    let stop = Arc::new(AtomicBool::new(false));
    let closed = Arc::new(AtomicU64::new(0));
    let (idle_n, slow_n, big_n) = if attack {
        (IDLE_SOCKETS, SLOW_SENDERS, BIG_STREAMS)
    } else {
        (0, 0, 0)
    };
    let mut idle = Vec::new();
    for _ in 0..idle_n {
        idle.push(tokio::spawn(idle_socket(
            addr,
            ATTACKER,
            stop.clone(),
            closed.clone(),
        )));
    }
    let mut slow = Vec::new();
    for _ in 0..slow_n {
        let (root, t, s) = (env.pki.root.clone(), slow_dev.clone(), stop.clone());
        slow.push(std::thread::spawn(move || slow_sender(root, t, addr, s)));
    }
    let big_client = https_client(&env, &big_dev, BIG, true);
    let big = Arc::new(big);
    let big_statuses = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        String,
        u64,
    >::new()));
    let mut big_tasks = Vec::new();
    for k in 0..big_n {
        let (c, big, st, stop) = (
            big_client.clone(),
            big.clone(),
            big_statuses.clone(),
            stop.clone(),
        );
        big_tasks.push(tokio::spawn(async move {
            let mut i = k;
            while !stop.load(Ordering::Relaxed) {
                let body = big[i % big.len()].clone();
                i += BIG_STREAMS;
                let s = match c.post(url(addr, "/v1/envelopes")).body(body).send().await {
                    Ok(r) => r.status().as_u16().to_string(),
                    Err(_) => "error".to_owned(),
                };
                *st.lock().unwrap().entry(s).or_insert(0) += 1;
            }
        }));
    }
    // Let the attack take hold before the tablets come.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The tablets.
    let legit_statuses = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        String,
        u64,
    >::new()));
    let mut legit = Vec::new();
    for (i, (t, (id, e))) in tablets.iter().zip(work.iter().cloned()).enumerate() {
        let source = Ipv4Addr::new(127, 0, 1, (i / PER_ADDRESS + 1) as u8);
        let c = https_client(&env, t, source, false);
        let st = legit_statuses.clone();
        legit.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let mut attempts = 0u32;
            loop {
                attempts += 1;
                let sent = c
                    .post(url(addr, "/v1/envelopes"))
                    .body(e.clone())
                    .send()
                    .await;
                let label = match &sent {
                    Ok(r) => r.status().as_u16().to_string(),
                    Err(_) => "connection error".to_owned(),
                };
                *st.lock().unwrap().entry(label).or_insert(0) += 1;
                let wait = match sent {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(b) => return (id, Some(b.to_vec()), t0.elapsed(), attempts),
                        Err(_) => Duration::from_secs(1),
                    },
                    Ok(r) if r.status().is_server_error() || r.status() == 429 => r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                        .map_or(Duration::from_secs(1), Duration::from_secs),
                    Ok(r) => panic!("a tablet's application was refused: {}", r.status()),
                    Err(_) => Duration::from_secs(1),
                };
                if t0.elapsed() > GIVE_UP {
                    return (id, None, t0.elapsed(), attempts);
                }
                tokio::time::sleep(wait).await;
            }
        }));
    }
    let t_legit = Instant::now();
    let mut results = Vec::new();
    for l in legit {
        results.push(l.await.unwrap());
    }
    eprintln!("tablets done in {:.1} s", t_legit.elapsed().as_secs_f64());
    let rss_peak_attack = status_kib(pid, "VmHWM");
    let alive_during = relay.0.id() == pid && std::fs::metadata(format!("/proc/{pid}")).is_ok();
    stop.store(true, Ordering::Relaxed);
    for t in big_tasks {
        let _ = t.await;
    }
    for t in idle {
        let _ = t.await;
    }
    let slow_answers: Vec<String> = tokio::task::spawn_blocking(move || {
        slow.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
    .await
    .unwrap();

    // Alive after the attack, and answering.
    let mut relay = relay;
    assert!(
        relay.0.try_wait().unwrap().is_none(),
        "the relay process died"
    );
    assert!(alive_during);
    let r = probe.get(url(addr, "/v1/status")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let rss_peak = status_kib(pid, "VmHWM");

    // Figures.
    let mut lat: Vec<Duration> = results
        .iter()
        .filter(|r| r.1.is_some())
        .map(|r| r.2)
        .collect();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    let attempts: u32 = results.iter().map(|r| r.3).sum();
    println!(
        "figure: attack run: the tablets' answers: {:?}",
        legit_statuses.lock().unwrap()
    );
    let count = |v: &[String], p: &str| v.iter().filter(|s| s.starts_with(p)).count();
    println!(
        "figure: attack run ({}): {} of {TABLETS} tablets accepted, first attempt to receipt p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms, {attempts} attempts",
        if attack { "under attack" } else { "no attacker" },
        lat.len(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    println!(
        "figure: attack run: relay RSS idle {} MiB, peak {} MiB (during the tablets {} MiB); bound {} MiB",
        rss_idle / 1024,
        rss_peak / 1024,
        rss_peak_attack / 1024,
        bound >> 20
    );
    println!(
        "figure: attack run: idle sockets closed by the relay {}; slow-body answers {} (503: {}); {}-byte 36 Mpx bodies: {:?}",
        closed.load(Ordering::Relaxed),
        slow_answers.len(),
        count(&slow_answers, "HTTP/1.1 503"),
        big_len,
        big_statuses.lock().unwrap()
    );

    // Every application accepted, and stored exactly once with the receipt the tablet
    // got.
    let lost: Vec<String> = results
        .iter()
        .filter(|r| r.1.is_none())
        .map(|r| r.0.to_string())
        .collect();
    assert!(
        lost.is_empty(),
        "{} applications never accepted: {lost:?}",
        lost.len()
    );
    assert!(
        rss_peak * 1024 < bound,
        "peak RSS {rss_peak} KiB over the bound {bound} B"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while relay.0.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(env.dir.path().join("relay.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "the relay did not stop on SIGTERM; its log ends:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let store = shinsei_relay::store::SledStore::open(&env.dir.path().join("data")).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for (i, (id, receipt, _, _)) in results.iter().enumerate() {
        assert!(ids.insert(id.to_string()), "envelope IDs are distinct");
        let meta = store
            .envelope_meta(id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} not stored"));
        assert_eq!(meta.device_id, format!("TAB-{:04}", i + 1));
        assert_eq!(
            meta.receipt_bytes().as_deref(),
            receipt.as_deref(),
            "{id}: another receipt"
        );
    }
    let accepted_big = big_statuses
        .lock()
        .unwrap()
        .get("200")
        .copied()
        .unwrap_or(0);
    // Stored: the tablets' applications once each, and at most the big device's
    // distinct envelopes.
    let stored = store.envelope_count();
    assert!(
        stored >= TABLETS as u64 && stored <= (TABLETS + BIG_DISTINCT) as u64,
        "{stored} envelopes stored"
    );
    println!("figure: attack run: stored {stored} envelopes ({TABLETS} tablets' + the big device's; it got {accepted_big} 200s)");
}
