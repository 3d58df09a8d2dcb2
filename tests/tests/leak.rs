//! Secret-leak detector (issue 8, "Memory"): the real flow — QR decode, photo crop,
//! PIN entry through the headless interface, seal, send — with random sentinel values,
//! then, after the relay's receipt, this (separate) process reads the agent's writable
//! memory through `/proc/PID/maps` + `/proc/PID/mem` and searches for every sentinel in
//! raw, hex, base64 and UTF-16 form. The agent's data directory, its temp directory and
//! its log output are searched too. Target: zero hits.
//!
//! The agent keeps itself readable and alive after the command only with the debug
//! build's test switch `SHINSEI_TEST_MEMREAD=1`. A control run with
//! `SHINSEI_TEST_NO_ZEROIZE=1` (freed memory not cleared, stack not scrubbed) must find
//! hits, which proves the scanner can see what it looks for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use shinsei_tests::{contains, walk, Relay, Tablet, Ward, STAFF_ID, STAFF_PASSWORD};

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    b
}

fn random_digits(n: usize) -> String {
    random_bytes(n)
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect()
}

fn random_alnum(n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    random_bytes(n)
        .iter()
        .map(|b| char::from(A[usize::from(*b) % A.len()]))
        .collect()
}

/// What is searched for: a name and the bytes.
struct Sentinel {
    name: &'static str,
    bytes: Vec<u8>,
}

struct Sentinels {
    application_id: String,
    signature_password: String,
    pins: [String; 3],
    photo_marker: Vec<u8>,
}

impl Sentinels {
    fn new() -> Self {
        Self {
            application_id: random_digits(23),
            // 6–16 of A–Z0–9 with a letter and a digit: make sure of both.
            signature_password: format!("Q{}7", random_alnum(14)),
            pins: [random_digits(4), random_digits(4), random_digits(4)],
            photo_marker: random_bytes(32),
        }
    }

    /// Four-digit PINs alone are too short to tell from chance in megabytes of memory;
    /// they are searched as the 12-digit run the plaintext encoding makes of them and as
    /// the lines typed on standard input.
    fn list(&self) -> Vec<Sentinel> {
        let [a, b, c] = &self.pins;
        vec![
            Sentinel {
                name: "application ID",
                bytes: self.application_id.as_bytes().to_vec(),
            },
            Sentinel {
                name: "signature password",
                bytes: self.signature_password.as_bytes().to_vec(),
            },
            Sentinel {
                name: "PINs (encoded run)",
                bytes: format!("{a}{b}{c}").into_bytes(),
            },
            Sentinel {
                name: "PINs (typed lines)",
                bytes: format!("{a}\n{b}\n{c}").into_bytes(),
            },
            Sentinel {
                name: "photo marker",
                bytes: self.photo_marker.clone(),
            },
        ]
    }
}

/// Every form a sentinel is searched in.
fn forms(s: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut v = vec![
        ("raw", s.to_vec()),
        ("hex", hex_lower(s).into_bytes()),
        ("HEX", hex_lower(s).to_uppercase().into_bytes()),
        (
            "utf16le",
            s.iter().flat_map(|b| [*b, 0]).collect::<Vec<u8>>(),
        ),
        (
            "utf16be",
            s.iter().flat_map(|b| [0, *b]).collect::<Vec<u8>>(),
        ),
    ];
    // Base64 at each of the three alignments the sentinel can have in an encoded
    // stream: drop 0, 2 or 1 leading bytes so the rest starts a 3-byte group, and keep
    // only whole groups (the last partial one depends on the bytes that follow).
    for (name, skip) in [("base64/0", 0usize), ("base64/1", 2), ("base64/2", 1)] {
        let rest = &s[skip..];
        let whole = rest.len() / 3 * 3;
        if whole >= 9 {
            v.push((name, b64.encode(&rest[..whole]).into_bytes()));
        }
    }
    v
}

fn hex_lower(s: &[u8]) -> String {
    s.iter().map(|b| format!("{b:02x}")).collect()
}

/// Finds every (sentinel, form) in `hay`; returns descriptions of the hits.
fn search(hay: &[u8], sentinels: &[Sentinel], place: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for s in sentinels {
        for (form, needle) in forms(&s.bytes) {
            if contains(hay, &needle) {
                hits.push(format!("{} ({form}) in {place}", s.name));
            }
        }
    }
    hits
}

/// Reads every writable mapping of `pid` (the agent) and searches it.
fn scan_process(pid: u32, sentinels: &[Sentinel]) -> (Vec<String>, usize) {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut hits = Vec::new();
    let mut scanned = 0usize;
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        let name = parts.nth(3).unwrap_or("[anon]").to_string();
        if !perms.starts_with("rw") || name == "[vvar]" || name == "[vsyscall]" {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut region = vec![0u8; usize::try_from(end - start).unwrap()];
        let mut got = 0usize;
        // Read page-wise so an unreadable page (guard) does not hide the rest.
        while got < region.len() {
            let chunk = (region.len() - got).min(1 << 20);
            match mem.read_at(&mut region[got..got + chunk], start + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(_) => {
                    got += 4096;
                }
            }
        }
        scanned += got;
        hits.extend(search(
            &region,
            sentinels,
            &format!("memory {range} {perms} {name}"),
        ));
    }
    (hits, scanned)
}

/// A QR code image (PNG) of `text`, with a quiet zone, 6 px per module.
fn qr_png(text: &str, path: &Path) {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let w = code.width();
    let colors = code.to_colors();
    let (scale, quiet) = (6usize, 4usize);
    let side = (w + 2 * quiet) * scale;
    let mut img = image::GrayImage::from_pixel(side as u32, side as u32, image::Luma([255]));
    for y in 0..w {
        for x in 0..w {
            if colors[y * w + x] == qrcode::Color::Dark {
                for dy in 0..scale {
                    for dx in 0..scale {
                        img.put_pixel(
                            ((x + quiet) * scale + dx) as u32,
                            ((y + quiet) * scale + dy) as u32,
                            image::Luma([0]),
                        );
                    }
                }
            }
        }
    }
    img.save(path).unwrap();
}

fn test_face() -> PathBuf {
    let dir = std::env::var_os("SHINSEI_TEST_FACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-faces"));
    let p = dir.join("astronaut.png");
    assert!(
        p.exists(),
        "test face image missing ({}); run scripts/fetch-test-faces.sh first",
        p.display()
    );
    p
}

/// The applicant's photo as a JPEG that carries the marker in a comment segment and
/// in an EXIF segment (where a camera would put an owner's name).
fn photo_with_marker(marker: &[u8], out: &Path) {
    let img = image::open(test_face()).unwrap().to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .encode_image(&img)
        .unwrap();
    let mut with = jpeg[..2].to_vec(); // SOI
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(marker);
    for (marker_byte, payload) in [(0xE1u8, exif), (0xFE, marker.to_vec())] {
        with.extend_from_slice(&[0xFF, marker_byte]);
        with.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        with.extend_from_slice(&payload);
    }
    with.extend_from_slice(&jpeg[2..]);
    std::fs::write(out, with).unwrap();
}

struct RunResult {
    memory_hits: Vec<String>,
    scanned_bytes: usize,
    file_hits: Vec<String>,
    output_hits: Vec<String>,
    stdout: String,
}

fn run_flow(control: bool) -> RunResult {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0100", "express").unwrap();
    let s = Sentinels::new();
    let qr = tmp.path().join("form-qr.png");
    // What the form's QR code carries: the ID inside a URL.
    qr_png(
        &format!("https://example.invalid/apply?id={}", s.application_id),
        &qr,
    );
    let photo = tmp.path().join("applicant.jpg");
    photo_with_marker(&s.photo_marker, &photo);
    let agent_tmp = tmp.path().join("agent-tmp");
    std::fs::create_dir(&agent_tmp).unwrap();

    let mut cmd = tab.agent().unwrap();
    cmd.args(["submit", "--qr-image"])
        .arg(&qr)
        .arg("--photo")
        .arg(&photo)
        .args([
            "--crop",
            "--e-cert",
            "yes",
            "--braille",
            "yes",
            "--express",
            "--pins-from-stdin",
        ])
        .env("SHINSEI_TEST_MEMREAD", "1")
        .env("TMPDIR", &agent_tmp)
        .env("SHINSEI_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if control {
        cmd.env("SHINSEI_TEST_NO_ZEROIZE", "1");
    }
    let [a, b, c] = &s.pins;
    let input = format!(
        "{STAFF_ID}\n{STAFF_PASSWORD}\n{}\n{a}\n{b}\n{c}\n",
        s.signature_password
    );
    let mut child = shinsei_testkit::sys::spawn_with_stdin(&mut cmd, &input);
    let mut stdout = child.stdout.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut held = false;
    loop {
        let mut line = Vec::new();
        let n = stderr.read_until(b'\n', &mut line).unwrap();
        log.extend_from_slice(&line);
        if n == 0 || Instant::now() > deadline {
            break;
        }
        if line.starts_with(b"HOLD ") {
            held = true;
            break;
        }
    }
    let pid = child.id();
    let (memory_hits, scanned_bytes) = if held {
        scan_process(pid, &s.list())
    } else {
        (Vec::new(), 0)
    };
    child.kill().unwrap();
    let _ = child.wait();
    let mut rest = Vec::new();
    let _ = stderr.read_to_end(&mut rest);
    log.extend_from_slice(&rest);
    let stdout = out_thread.join().unwrap();
    assert!(
        held,
        "the agent did not reach the hold point: {}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&log)
    );
    let stdout_s = String::from_utf8_lossy(&stdout).to_string();
    assert!(
        stdout_s.contains("delivered"),
        "{stdout_s}{}",
        String::from_utf8_lossy(&log)
    );
    // The relay has it, with the real ID; the photo's metadata (EXIF, comment: where a
    // name or birth date could hide) was stripped on the tablet and never reached it.
    let mut spooled = Vec::new();
    for _ in 0..300 {
        spooled = relay.spooled();
        if !spooled.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(spooled.len(), 1);
    let app = std::fs::read_to_string(spooled[0].join("application.json")).unwrap();
    assert!(app.contains(&s.application_id), "{app}");
    let marker = [Sentinel {
        name: "photo marker",
        bytes: s.photo_marker.clone(),
    }];
    for (path, bytes) in walk(&relay.spool).into_iter().chain(walk(&relay.data)) {
        let hits = search(&bytes, &marker, &path.display().to_string());
        assert!(hits.is_empty(), "{hits:?}");
    }

    let sl = s.list();
    let mut file_hits = Vec::new();
    for (path, bytes) in walk(&tab.data).into_iter().chain(walk(&agent_tmp)) {
        file_hits.extend(search(&bytes, &sl, &path.display().to_string()));
    }
    let mut output_hits = search(&stdout, &sl, "stdout");
    output_hits.extend(search(&log, &sl, "log (stderr)"));
    RunResult {
        memory_hits,
        scanned_bytes,
        file_hits,
        output_hits,
        stdout: stdout_s,
    }
}

#[test]
fn no_secret_survives_a_submission_in_memory_files_or_logs() {
    let r = run_flow(false);
    eprintln!(
        "leak detector: scanned {} bytes of agent memory; hits: memory {}, files {}, output {}",
        r.scanned_bytes,
        r.memory_hits.len(),
        r.file_hits.len(),
        r.output_hits.len()
    );
    assert!(r.scanned_bytes > 1 << 20, "scanned too little memory");
    assert!(r.memory_hits.is_empty(), "{:#?}", r.memory_hits);
    assert!(r.file_hits.is_empty(), "{:#?}", r.file_hits);
    assert!(
        r.output_hits.is_empty(),
        "{:#?}\n{}",
        r.output_hits,
        r.stdout
    );
}

#[test]
fn control_without_zeroization_finds_the_sentinels() {
    let r = run_flow(true);
    eprintln!(
        "leak detector control (zeroization off): {} hits in {} bytes: {:#?}",
        r.memory_hits.len(),
        r.scanned_bytes,
        r.memory_hits
    );
    assert!(
        !r.memory_hits.is_empty(),
        "the scanner found nothing with zeroization off: it cannot be trusted"
    );
    // Files and logs do not depend on zeroization.
    assert!(r.file_hits.is_empty(), "{:#?}", r.file_hits);
    assert!(r.output_hits.is_empty(), "{:#?}", r.output_hits);
}
