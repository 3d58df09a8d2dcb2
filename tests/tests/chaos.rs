//! Fault injection end to end (issue 8, "Robustness"): many submissions from several
//! tablets while the relay is restarted at random, agent processes are SIGKILLed at
//! random points of the flow, and the network drops connections (a chaos proxy between
//! the tablets and the relay) and goes down for stretches. A clerk retries a failed
//! submission of the same form until the agent accepts it (delivered, queued, or
//! "already submitted"). Afterwards, with the faults stopped, every tablet flushes its
//! outbox, and the relay's spool is counted: lost and duplicated applications, target
//! zero and zero, printed in the test output.
//!
//! `SHINSEI_CHAOS_N` sets the number of applications (default 1000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shinsei_tests::{ok, write_photo, Relay, Tablet, Ward, STAFF_ID, STAFF_PASSWORD};

/// A small xorshift generator, seeded from /dev/urandom (the seed is printed, so a
/// failing run can be repeated with `SHINSEI_CHAOS_SEED`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn seed() -> u64 {
    if let Some(s) = std::env::var("SHINSEI_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    u64::from_le_bytes(b) | 1
}

#[derive(Default)]
struct Counters {
    proxied: AtomicU64,
    dropped: AtomicU64,
    refused_while_down: AtomicU64,
}

/// TCP proxy to the relay that cuts connections at random points and refuses all
/// connections while `down` is set.
fn chaos_proxy(
    relay: SocketAddr,
    down: Arc<AtomicBool>,
    chaos_on: Arc<AtomicBool>,
    counters: Arc<Counters>,
    seed: u64,
) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut rng = Rng(seed);
        for conn in l.incoming() {
            let Ok(client) = conn else { continue };
            if down.load(Ordering::SeqCst) {
                counters.refused_while_down.fetch_add(1, Ordering::Relaxed);
                let _ = client.shutdown(Shutdown::Both);
                continue;
            }
            let Ok(upstream) = TcpStream::connect(relay) else {
                let _ = client.shutdown(Shutdown::Both);
                continue;
            };
            counters.proxied.fetch_add(1, Ordering::Relaxed);
            // One connection in five is cut after a random number of bytes in a random
            // direction (mid-handshake, mid-upload or before the receipt arrives).
            let cut = (chaos_on.load(Ordering::SeqCst) && rng.chance(20)).then(|| {
                // Upstream: within the handshake or the upload; downstream: within
                // the handshake or before the receipt is complete.
                let up = rng.below(2) == 0;
                (
                    up,
                    if up {
                        rng.below(60_000)
                    } else {
                        rng.below(6_000)
                    },
                )
            });
            let counters = Arc::clone(&counters);
            std::thread::spawn(move || pipe_pair(client, upstream, cut, &counters));
        }
    });
    addr
}

fn pipe_pair(a: TcpStream, b: TcpStream, cut: Option<(bool, u64)>, counters: &Counters) {
    let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let limit_up = cut.filter(|c| c.0).map(|c| c.1);
    let limit_down = cut.filter(|c| !c.0).map(|c| c.1);
    let t = std::thread::spawn(move || copy_limited(a2, b2, limit_up));
    let dropped_down = copy_limited(b, a, limit_down);
    let dropped_up = t.join().unwrap_or(false);
    if dropped_up || dropped_down {
        counters.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Copies until EOF, or until `limit` bytes then cuts both directions. True if cut.
fn copy_limited(mut from: TcpStream, mut to: TcpStream, limit: Option<u64>) -> bool {
    let mut buf = [0u8; 16384];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(l) = limit {
            if total + n as u64 > l {
                let keep = usize::try_from(l.saturating_sub(total)).unwrap_or(0);
                let _ = to.write_all(&buf[..keep]);
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
                return true;
            }
        }
        total += n as u64;
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    false
}

fn application_id(n: u64) -> String {
    format!("9{n:022}")
}

/// What the agent told the clerk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Delivered,
    Queued,
    AlreadySubmitted,
    /// Killed, crashed, or a transient error: the clerk tries again.
    Retry,
}

fn submit_once(tab: &Tablet, id: &str, photo: &Path, kill_after: Option<Duration>) -> Answer {
    let mut c = tab.agent().unwrap();
    // One photo file serves every submission (submit removes it otherwise).
    c.args(["submit", "--keep-photo", "--application-id", "-", "--photo"])
        .arg(photo)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{STAFF_ID}\n{STAFF_PASSWORD}\n{id}\n").as_bytes());
    if let Some(d) = kill_after {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill(); // SIGKILL; harmless if it already exited
    }
    match child.wait().unwrap().code() {
        Some(0) => Answer::Delivered,
        Some(7) => Answer::Queued,
        Some(11) => Answer::AlreadySubmitted,
        _ => Answer::Retry,
    }
}

fn outbox_len(t: &Tablet) -> Option<u64> {
    let o = ok(t.agent().unwrap().args(["status", "--json"]), "").ok()?;
    let v: serde_json::Value = serde_json::from_str(o.lines().next()?).ok()?;
    v["outbox"].as_u64()
}

fn spooled_ids(relay: &Relay) -> Vec<String> {
    relay
        .spooled()
        .iter()
        .filter_map(|d| {
            let s = std::fs::read_to_string(d.join("application.json")).ok()?;
            let v: serde_json::Value = serde_json::from_str(&s).ok()?;
            Some(v["application_id"].as_str()?.to_string())
        })
        .collect()
}

#[test]
fn submissions_survive_relay_restarts_agent_kills_and_network_drops() {
    let n: u64 = std::env::var("SHINSEI_CHAOS_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let seed = seed();
    eprintln!("fault injection: {n} applications, seed {seed} (SHINSEI_CHAOS_SEED)");
    let t_start = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    // Key epochs of 5 s (issue 14): tablets move to a new relay key every 5 s, and
    // envelopes queued across restarts and outages arrive under older keys.
    let relay = Relay::start_extra(
        &ward,
        "relay",
        "[keys]\nhpke_epoch_secs = 5\nstore_epoch_secs = 30\npublish_ahead_secs = 60\n",
    )
    .unwrap();
    let (config, data, spool, relay_addr) = (
        relay.config.clone(),
        relay.data.clone(),
        relay.spool.clone(),
        relay.addr,
    );
    let relay = Arc::new(Mutex::new(Some(relay)));

    let down = Arc::new(AtomicBool::new(false));
    let chaos_on = Arc::new(AtomicBool::new(true));
    let counters = Arc::new(Counters::default());
    let proxy = chaos_proxy(
        relay_addr,
        Arc::clone(&down),
        Arc::clone(&chaos_on),
        Arc::clone(&counters),
        seed ^ 0x5eed,
    );

    const TABLETS: u64 = 4;
    let mut tablets = Vec::new();
    for t in 0..TABLETS {
        let mut tab = Tablet::enroll(&ward, &format!("TAB-C{t:03}"), "standard").unwrap();
        ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
        tab.relay_addr = proxy;
        tablets.push(tab);
    }
    let photo = tmp.path().join("p.jpg");
    write_photo(&photo, 42).unwrap();
    eprintln!("fault injection: set-up took {:?}", t_start.elapsed());
    let t_work = Instant::now();

    // Relay restarts and network outages while the tablets work.
    let done = Arc::new(AtomicBool::new(false));
    let restarts = Arc::new(AtomicU64::new(0));
    let outages = Arc::new(AtomicU64::new(0));
    let chaos = {
        let (relay, done, down, restarts, outages) = (
            Arc::clone(&relay),
            Arc::clone(&done),
            Arc::clone(&down),
            Arc::clone(&restarts),
            Arc::clone(&outages),
        );
        let (ward_dir, config, data, spool) = (
            tmp.path().to_path_buf(),
            config.clone(),
            data.clone(),
            spool.clone(),
        );
        let ward_ref = Ward {
            dir: ward.dir.clone(),
            pki: ward.pki.clone(),
            port: ward.port,
            admin_port: ward.admin_port,
            staff_list: ward.staff_list.clone(),
        };
        std::thread::spawn(move || {
            let mut rng = Rng(seed ^ 0xc4a05);
            let mut k = 0u64;
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1500 + rng.below(3000)));
                if done.load(Ordering::SeqCst) {
                    break;
                }
                if rng.chance(50) {
                    // Restart the relay (SIGKILL, then start again on the same data).
                    let mut g = relay.lock().unwrap();
                    if let Some(mut r) = g.take() {
                        r.stop();
                    }
                    std::thread::sleep(Duration::from_millis(rng.below(1500)));
                    k += 1;
                    *g = Some(
                        Relay::start_with(
                            &ward_ref,
                            config.clone(),
                            data.clone(),
                            spool.clone(),
                            ward_dir.join(format!("relay-{k}.log")),
                        )
                        .unwrap(),
                    );
                    restarts.fetch_add(1, Ordering::Relaxed);
                } else {
                    // The network goes away for a while.
                    down.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(500 + rng.below(2000)));
                    down.store(false, Ordering::SeqCst);
                    outages.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let kills = Arc::new(AtomicU64::new(0));
    let attempts = Arc::new(AtomicU64::new(0));
    let run_ms = Arc::new(AtomicU64::new(0));
    let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
    let tablets = Arc::new(tablets);
    let workers: Vec<_> = (0..TABLETS)
        .map(|t| {
            let run_ms = Arc::clone(&run_ms);
            let (tablets, kills, attempts, answers, photo) = (
                Arc::clone(&tablets),
                Arc::clone(&kills),
                Arc::clone(&attempts),
                Arc::clone(&answers),
                photo.clone(),
            );
            std::thread::spawn(move || {
                let tab = &tablets[t as usize];
                let mut rng = Rng(seed ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                for i in (t..n).step_by(TABLETS as usize) {
                    let id = application_id(i);
                    let mut tries = 0;
                    let answer = loop {
                        tries += 1;
                        assert!(tries <= 50, "{id}: still not accepted after 50 tries");
                        attempts.fetch_add(1, Ordering::Relaxed);
                        // One attempt in eight is SIGKILLed somewhere in the flow.
                        let kill = rng
                            .chance(12)
                            .then(|| Duration::from_millis(rng.below(1500)));
                        if kill.is_some() {
                            kills.fetch_add(1, Ordering::Relaxed);
                        }
                        let t0 = Instant::now();
                        let a = submit_once(tab, &id, &photo, kill);
                        run_ms.fetch_add(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
                        match a {
                            Answer::Retry => {
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            a => break a,
                        }
                    };
                    answers.lock().unwrap().insert(id, answer);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    chaos.join().unwrap();
    chaos_on.store(false, Ordering::SeqCst);
    down.store(false, Ordering::SeqCst);

    eprintln!(
        "fault injection: submissions under faults took {:?}",
        t_work.elapsed()
    );
    let t_flush = Instant::now();
    // Faults over: every tablet flushes until its outbox is empty.
    for tab in tablets.iter() {
        let end = Instant::now() + Duration::from_secs(300);
        loop {
            let _ = shinsei_tests::run(tab.agent().unwrap().args(["outbox", "flush"]), "");
            if outbox_len(tab) == Some(0) {
                break;
            }
            assert!(
                Instant::now() < end,
                "{}: outbox not empty after the faults stopped",
                tab.device_id
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    eprintln!("fault injection: final flush took {:?}", t_flush.elapsed());
    let relay = relay.lock().unwrap().take().unwrap();
    // The relay forwards asynchronously: wait until the spool stops growing.
    let mut last = usize::MAX;
    let end = Instant::now() + Duration::from_secs(300);
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let c = relay.spooled().len();
        if c == last && c as u64 >= n || Instant::now() > end {
            break;
        }
        last = c;
    }
    let mut seen: HashMap<String, u64> = HashMap::new();
    for id in spooled_ids(&relay) {
        *seen.entry(id).or_default() += 1;
    }
    let answers = answers.lock().unwrap();
    let lost: Vec<&String> = answers
        .keys()
        .filter(|id| !seen.contains_key(*id))
        .collect();
    let duplicated: Vec<(&String, &u64)> = seen.iter().filter(|(_, c)| **c > 1).collect();
    let unexpected: Vec<&String> = seen
        .keys()
        .filter(|id| !answers.contains_key(*id))
        .collect();
    let by_answer = |a: Answer| answers.values().filter(|x| **x == a).count();
    eprintln!(
        "fault injection result: {n} applications from {TABLETS} tablets, {} agent runs, \
         {} SIGKILLs, {} relay restarts, {} network outages ({} connections refused), \
         {} of {} proxied connections cut; answers: delivered {}, queued {}, \
         already-submitted {}; mean agent run {} ms; LOST {}, DUPLICATED {}",
        attempts.load(Ordering::Relaxed),
        kills.load(Ordering::Relaxed),
        restarts.load(Ordering::Relaxed),
        outages.load(Ordering::Relaxed),
        counters.refused_while_down.load(Ordering::Relaxed),
        counters.dropped.load(Ordering::Relaxed),
        counters.proxied.load(Ordering::Relaxed),
        by_answer(Answer::Delivered),
        by_answer(Answer::Queued),
        by_answer(Answer::AlreadySubmitted),
        run_ms.load(Ordering::Relaxed) / attempts.load(Ordering::Relaxed).max(1),
        lost.len(),
        duplicated.len(),
    );
    assert_eq!(answers.len() as u64, n);
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    assert!(unexpected.is_empty(), "never submitted: {unexpected:?}");
    // The faults really happened (a run without them would prove nothing).
    // Rotations happened: envelopes were accepted under several epoch keys (the relay
    // logs which key opened each envelope), and none needed the bootstrap key.
    let mut epochs_used = std::collections::BTreeSet::new();
    let mut bootstrap = 0;
    for e in std::fs::read_dir(tmp.path()).unwrap().flatten() {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let text = if name.ends_with(".log") {
            std::fs::read_to_string(&p).unwrap_or_default()
        } else if p.join("relay.log").exists() {
            std::fs::read_to_string(p.join("relay.log")).unwrap_or_default()
        } else {
            continue;
        };
        for l in text.lines().filter(|l| l.contains("envelope accepted")) {
            if let Some(rest) = l.split("relay_key=epoch ").nth(1) {
                epochs_used.insert(rest.split_whitespace().next().unwrap_or("").to_owned());
            } else if l.contains("relay_key=bootstrap") {
                bootstrap += 1;
            }
        }
    }
    eprintln!(
        "fault injection: envelopes accepted under {} relay key epochs, {bootstrap} under the bootstrap key",
        epochs_used.len()
    );
    assert!(
        epochs_used.len() >= 3,
        "keys rotated during the run: {epochs_used:?}"
    );
    assert_eq!(bootstrap, 0, "tablets seal to the published epoch keys");
    assert!(kills.load(Ordering::Relaxed) > 0);
    assert!(counters.dropped.load(Ordering::Relaxed) > 0);
    assert!(restarts.load(Ordering::Relaxed) + outages.load(Ordering::Relaxed) > 0);
}
