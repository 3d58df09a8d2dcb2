#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Real photos of printed QR codes (the shared development set, `qr-real-dev`: renders
//! and phone photos, many 240×240 px with 2–4 px modules, perspective, curved paper).
//! Each code's exact text is in `NAME.txt`; the payloads are not application IDs, so
//! they are read with the raw reader (`qr::scan_payload` + `qr::text::payload_text`).
//!
//! Per set: codes read with exactly the right text, and wrong reads (a text that is not
//! `NAME.txt`), which must be none. The counts asserted are those reached, so a later
//! regression fails. The images are not in the repository: the test reads them from
//! `$SHINSEI_QR_REAL_DIR` or `../shared/data/qr-real-dev` beside the work tree, and
//! skips with a message when neither exists.
//!
//! `SHINSEI_QR_REAL_OUT=FILE` also writes each image's time (median of 5 scans) and
//! text to FILE (TSV), for `scripts/bench-qr-compare.sh`.

use std::path::{Path, PathBuf};

use shinsei_capture::qr::{self, text::payload_text};
use shinsei_capture::raster::LumaRef;

/// Per set: the least number of codes that must be read (what this reader reached),
/// out of how many.
const MIN_READ: [(&str, usize, usize); 3] = [
    ("qrcode-2", 54, 56),
    ("qrcode-3", 18, 18),
    ("qrcode-4", 19, 24),
];

fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SHINSEI_QR_REAL_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/qr-real-dev"),
    };
    dir.is_dir().then_some(dir)
}

struct Outcome {
    file: String,
    ms: f64,
    /// The text that equals `want` if one of the codes read does, else the first.
    text: Option<String>,
    want: String,
}

fn scan_all(dir: &Path, repeat: usize) -> Vec<Outcome> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let want = std::fs::read_to_string(path.with_extension("txt"))
            .unwrap_or_else(|e| panic!("{}: no text beside it: {e}", path.display()));
        let img = image::open(&path).unwrap().to_luma8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let luma = LumaRef::new(w, h, img.as_raw()).unwrap();
        let mut times = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for _ in 0..repeat {
            let t = std::time::Instant::now();
            texts = qr::scan_payloads(luma)
                .map(|ps| ps.iter().map(|p| payload_text(p).to_string()).collect())
                .unwrap_or_default();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        out.push(Outcome {
            file: path.file_name().unwrap().to_string_lossy().into_owned(),
            ms: times[times.len() / 2],
            text: texts
                .iter()
                .find(|t| **t == want)
                .or(texts.first())
                .cloned(),
            want,
        });
    }
    out
}

#[test]
fn real_photos_read_exactly() {
    let Some(dir) = data_dir() else {
        eprintln!(
            "SKIPPED real_photos_read_exactly: no qr-real-dev directory (set SHINSEI_QR_REAL_DIR \
             or put the shared data at ../shared/data/qr-real-dev)"
        );
        return;
    };
    let out_file = std::env::var_os("SHINSEI_QR_REAL_OUT");
    let results = scan_all(&dir, if out_file.is_some() { 5 } else { 1 });
    assert!(!results.is_empty(), "{}: no PNG images", dir.display());
    let mut failures = Vec::new();
    let mut tsv = String::from("file\tms\ttext\n");
    for (set, min, total) in MIN_READ {
        let mine: Vec<&Outcome> = results
            .iter()
            .filter(|o| o.file.starts_with(&format!("{set}_")))
            .collect();
        let ok = mine
            .iter()
            .filter(|o| o.text.as_ref() == Some(&o.want))
            .count();
        let wrong: Vec<&str> = mine
            .iter()
            .filter(|o| o.text.as_ref().is_some_and(|t| *t != o.want))
            .map(|o| o.file.as_str())
            .collect();
        let missed: Vec<&str> = mine
            .iter()
            .filter(|o| o.text.is_none())
            .map(|o| o.file.as_str())
            .collect();
        let mut ms: Vec<f64> = mine.iter().map(|o| o.ms).collect();
        ms.sort_by(f64::total_cmp);
        let median = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
        println!(
            "qr real {set}: {ok}/{} read exactly, {} wrong, median {median:.2} ms; missed {missed:?}",
            mine.len(),
            wrong.len()
        );
        if mine.len() != total {
            failures.push(format!("{set}: {} images, expected {total}", mine.len()));
        }
        if ok < min {
            failures.push(format!("{set}: {ok} read, at least {min} expected"));
        }
        if !wrong.is_empty() {
            failures.push(format!("{set}: wrong reads {wrong:?}"));
            for o in mine
                .iter()
                .filter(|o| o.text.as_ref().is_some_and(|t| *t != o.want))
            {
                eprintln!("  {}: read {:?}, want {:?}", o.file, o.text, o.want);
            }
        }
        for o in mine {
            let text = o.text.as_deref().map(|t| serde_json::to_string(t).unwrap());
            tsv.push_str(&format!(
                "{}\t{:.3}\t{}\n",
                o.file,
                o.ms,
                text.as_deref().unwrap_or("-")
            ));
        }
    }
    if let Some(f) = out_file {
        std::fs::write(f, tsv).unwrap();
    }
    assert!(failures.is_empty(), "real QR photos: {failures:?}");
}
