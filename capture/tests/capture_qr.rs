#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The generated QR corpus: application-ID codes printed on paper in a cluttered
//! 1920×1080 scene, by category (clean, perspective, rotation, blur, noise, low contrast,
//! small modules, inverted, large modules). Prints the decode rate per category and
//! asserts that every frame is read.
//!
//! `SHINSEI_QR_CORPUS=DIR cargo test -p shinsei-capture --test capture_qr` also writes the
//! corpus as PNGs (plus `truth.tsv`), and each frame's time (median of 5 scans, this
//! build) to `shinsei.tsv`, for `scripts/bench-qr-compare.sh`.

use shinsei_capture::qr::QrError;
use shinsei_capture::qr::{self as qr_scan, QrTracker};
use shinsei_capture::raster::LumaRef;
use shinsei_capture::synth::corpus::{corpus, CATEGORIES};

/// The bytes as a typed image; bytes that are not one are a `QrError::Image`.
fn img(w: usize, h: usize, px: &[u8]) -> Result<LumaRef<'_>, QrError> {
    Ok(LumaRef::new(w, h, px)?)
}

#[test]
fn corpus_decode_rates() {
    let frames = corpus();
    let out_dir = std::env::var("SHINSEI_QR_CORPUS").ok();
    if let Some(dir) = &out_dir {
        shinsei_capture::synth::corpus::write_corpus(std::path::Path::new(dir), &frames);
    }
    let mut failures = Vec::new();
    let mut all_ms = Vec::new();
    let mut all_ok = 0;
    let mut from_grid = 0;
    let mut per_frame = String::from("file\tms\tdecoded\n");
    for cat in CATEGORIES {
        let mut ok = 0;
        let mut n = 0;
        let mut total_ms = 0.0;
        for f in frames.iter().filter(|f| f.category == *cat) {
            n += 1;
            let scan = || {
                let t = std::time::Instant::now();
                let r = img(f.width, f.height, &f.luma)
                    .and_then(|i| qr_scan::scan_detailed(i, None, qr_scan::Effort::Thorough));
                (r, t.elapsed().as_secs_f64() * 1000.0)
            };
            let (r, mut ms) = scan();
            if out_dir.is_some() {
                // Per-frame figures for the comparison: the median of 5 scans.
                let mut v: Vec<f64> = (0..4).map(|_| scan().1).chain([ms]).collect();
                v.sort_by(f64::total_cmp);
                ms = v[2];
            }
            per_frame.push_str(&format!("{}.png\t{ms:.3}\t{}\n", f.name, r.is_ok()));
            total_ms += ms;
            all_ms.push(ms);
            if std::env::var_os("QR_VERBOSE").is_some() {
                eprintln!(
                    "  {} {:.1} ms {:?}",
                    f.name,
                    ms,
                    r.as_ref().map(|h| h.stage)
                );
            }
            match r {
                Ok(hit) => {
                    assert_eq!(hit.id.as_str(), f.payload_id, "{}: wrong ID", f.name);
                    from_grid += usize::from(hit.read_from_finders());
                    ok += 1;
                    all_ok += 1;
                }
                Err(e) => eprintln!("  {}: {e}", f.name),
            }
        }
        println!(
            "qr corpus {cat:<13} {ok}/{n} decoded (mean {:.1} ms)",
            total_ms / n as f64
        );
        if ok < n {
            failures.push(format!("{cat}: {ok}/{n}"));
        }
    }
    all_ms.sort_by(f64::total_cmp);
    println!(
        "qr corpus ALL           {all_ok}/{} decoded (median {:.1} ms, p95 {:.1} ms; {} build)",
        all_ms.len(),
        all_ms[all_ms.len() / 2],
        all_ms[(all_ms.len() - 1) * 95 / 100],
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!("qr corpus read from the finders' module grid: {from_grid}/{all_ok}");
    if let Some(dir) = &out_dir {
        std::fs::write(std::path::Path::new(dir).join("shinsei.tsv"), per_frame).unwrap();
    }
    assert!(failures.is_empty(), "frames not read: {failures:?}");
}

#[test]
fn empty_scene_is_no_code() {
    let (w, h) = (1280, 720);
    let luma = shinsei_capture::synth::background(w, h, 99);
    assert!(matches!(
        img(w, h, &luma).and_then(qr_scan::scan_luma),
        Err(QrError::NoCode)
    ));
}

#[test]
fn non_application_code_is_refused() {
    let f = shinsei_capture::synth::corpus::render_frame(
        "https://example.invalid/not-an-id",
        1280,
        720,
        7,
        |_| {},
    );
    match img(f.width, f.height, &f.luma).and_then(qr_scan::scan_luma) {
        Err(QrError::NotAnApplicationId(_)) => {}
        other => panic!("expected NotAnApplicationId, got {other:?}"),
    }
}

#[test]
fn bad_buffers_are_errors_not_panics() {
    assert!(matches!(
        img(0, 0, &[]).and_then(qr_scan::scan_luma),
        Err(QrError::Image(_))
    ));
    assert!(matches!(
        img(100, 100, &[0u8; 50]).and_then(qr_scan::scan_luma),
        Err(QrError::Image(_))
    ));
    // Tiny and degenerate images.
    for (w, h) in [(1, 1), (3, 500), (500, 3), (21, 21)] {
        let luma = vec![128u8; w * h];
        assert!(img(w, h, &luma).and_then(qr_scan::scan_luma).is_err());
    }
    // Pseudo-random noise never panics.
    let mut rng = shinsei_capture::synth::Rng::new(5);
    let luma: Vec<u8> = (0..640 * 480).map(|_| rng.next_u64() as u8).collect();
    let _ = img(640, 480, &luma).and_then(qr_scan::scan_luma);
}

#[test]
fn tracker_follows_the_code() {
    let frames = corpus();
    let f = frames.iter().find(|f| f.category == "clean").unwrap();
    let mut tracker = QrTracker::new();
    let first = img(f.width, f.height, &f.luma)
        .and_then(|i| tracker.scan(i))
        .unwrap();
    assert_eq!(first.id.as_str(), f.payload_id);
    assert!(tracker.last_region().is_some());
    let second = img(f.width, f.height, &f.luma)
        .and_then(|i| tracker.scan(i))
        .unwrap();
    assert_eq!(second.stage, qr_scan::Stage::Tracked);
}
