#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Per-frame costs of the capture pipeline at 1280×720 and 1920×1080, against the
//! camera's frame interval (33 ms at 30 fps): QR decode (hit: the clean corpus frames;
//! miss: a scene without a code), QR with the tracker (hit after the first frame), face
//! detection (coarse, downscaled; and tracked in a window around the last face), the
//! whole face analysis (detection + checks) both ways, and crop + JPEG encode. Prints p50/p95 and the
//! ratio to the 33 ms budget after Criterion's own output.
//!
//! Run: `cargo bench -p shinsei-capture --bench capture`
//! (face benchmarks need `scripts/fetch-test-faces.sh`; they are skipped without it).

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use shinsei_capture::crop;
use shinsei_capture::face::FaceDetector;
use shinsei_capture::qr::{self as qr_scan, QrTracker};
use shinsei_capture::raster::{LumaRef, RgbRef};
use shinsei_capture::synth;

const BUDGET_MS: f64 = 33.3;

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (p(0.5), p(0.95))
}

fn report(name: &str, samples: Vec<f64>) {
    let (p50, p95) = percentiles(samples);
    println!(
        "{name:<34} p50 {p50:>7.2} ms  p95 {p95:>7.2} ms  p50/33ms {:>5.2}",
        p50 / BUDGET_MS
    );
}

fn time_n(n: usize, mut f: impl FnMut(usize)) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

/// A person-like frame: the portrait scaled into a scene of the given size.
fn portrait_frame(w: u32, h: u32) -> Option<Vec<u8>> {
    let path = synth::test_faces_dir().join("astronaut.png");
    let img = image::open(path).ok()?.to_rgb8();
    let side = h * 9 / 10;
    let face = image::imageops::resize(&img, side, side, image::imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::from_pixel(w, h, image::Rgb([200, 200, 205]));
    image::imageops::overlay(
        &mut canvas,
        &face,
        i64::from((w - side) / 2),
        i64::from(h - side),
    );
    Some(canvas.into_raw())
}

fn benches(c: &mut Criterion) {
    let mut summary: Vec<(String, Vec<f64>)> = Vec::new();
    for (w, h) in [(1280usize, 720usize), (1920, 1080)] {
        let frames: Vec<_> = shinsei_capture::synth::corpus::corpus_at(w, h)
            .into_iter()
            .filter(|f| f.category == "clean" || f.category == "rotation")
            .collect();
        let miss = synth::background(w, h, 4242);
        let miss_img = LumaRef::new(w, h, &miss).unwrap();
        let res = format!("{w}x{h}");
        let mut g = c.benchmark_group(format!("capture/{res}"));
        g.sample_size(20).measurement_time(Duration::from_secs(3));
        g.bench_function("qr_hit", |b| {
            let mut i = 0;
            b.iter(|| {
                let f = &frames[i % frames.len()];
                i += 1;
                qr_scan::scan_luma(f.view())
            })
        });
        g.bench_function("qr_miss_fast", |b| {
            b.iter(|| qr_scan::scan_detailed(miss_img, None, qr_scan::Effort::Fast))
        });
        g.bench_function("qr_tracked_hit", |b| {
            let mut t = QrTracker::new();
            let f = &frames[0];
            b.iter(|| t.scan(f.view()))
        });
        if let Some(rgb) = portrait_frame(w as u32, h as u32) {
            let rgb_img = RgbRef::new(w, h, &rgb).unwrap();
            let luma_img = shinsei_capture::imgops::rgb_to_luma(rgb_img);
            let luma = luma_img.view();
            let mut det = FaceDetector::new().unwrap();
            g.bench_function("face_detect", |b| b.iter(|| det.detect(luma)));
            let faces = det.detect(luma);
            let face = det.refine(luma, &faces[0]);
            g.bench_function("face_track", |b| b.iter(|| det.track(luma, &face)));
            let (crown, chin) = crop::crown_and_chin(&face.rect);
            let geo = crop::solve_crop(crown, chin, face.rect.cx(), w as f64, h as f64);
            g.bench_function("crop_encode", |b| {
                b.iter(|| {
                    let out = crop::render_crop(rgb_img, &geo.crop);
                    crop::encode_jpeg(out.view()).unwrap()
                })
            });
            summary.push((
                format!("{res} face_detect"),
                time_n(30, |_| {
                    det.detect(luma);
                }),
            ));
            summary.push((
                format!("{res} face_track (window)"),
                time_n(30, |_| {
                    assert!(!det.track(luma, &face).is_empty());
                }),
            ));
            summary.push((
                format!("{res} face analyse, full"),
                time_n(20, |_| {
                    crop::analyse(rgb_img, &mut det);
                }),
            ));
            summary.push((
                format!("{res} face analyse, tracked"),
                time_n(20, |_| {
                    crop::analyse_tracked(rgb_img, &mut det, Some(&face));
                }),
            ));
            summary.push((
                format!("{res} crop_encode"),
                time_n(30, |_| {
                    let out = crop::render_crop(rgb_img, &geo.crop);
                    crop::encode_jpeg(out.view()).unwrap();
                }),
            ));
        } else {
            eprintln!("face benchmarks skipped: run scripts/fetch-test-faces.sh");
        }
        g.finish();
        summary.push((
            format!("{res} qr_hit (scan_luma)"),
            time_n(frames.len() * 5, |i| {
                let f = &frames[i % frames.len()];
                qr_scan::scan_luma(f.view()).unwrap();
            }),
        ));
        summary.push((
            format!("{res} qr_miss (fast effort)"),
            time_n(30, |_| {
                let _ = qr_scan::scan_detailed(miss_img, None, qr_scan::Effort::Fast);
            }),
        ));
        summary.push((
            format!("{res} qr_miss (thorough)"),
            time_n(10, |_| {
                let _ = qr_scan::scan_luma(miss_img);
            }),
        ));
        let mut t = QrTracker::new();
        summary.push((
            format!("{res} qr_tracked_hit"),
            time_n(30, |_| {
                t.scan(frames[0].view()).unwrap();
            }),
        ));
    }
    // Whole 1080p corpus, every category (the figure compared with zxing-cpp/zbar).
    let all = shinsei_capture::synth::corpus::corpus();
    let mut ok = 0;
    let samples = time_n(all.len(), |i| {
        if qr_scan::scan_luma(all[i].view()).is_ok() {
            ok += 1;
        }
    });
    println!("\n== summary (one core, per frame; budget 33.3 ms) ==");
    for (name, s) in summary {
        report(&name, s);
    }
    report(
        &format!("1920x1080 full corpus ({ok}/{} decoded)", all.len()),
        samples,
    );
}

criterion_group!(group, benches);

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
}
