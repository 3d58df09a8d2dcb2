#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Cost of the zeroize-on-free global allocator (`memguard::ZeroizingAlloc`), against
//! the same allocator with clearing switched off (= the system allocator plus one
//! branch): allocate-fill-free cycles at several sizes, `Vec` growth by `push` (the
//! realloc path, which always moves under zeroization), and two real workloads of the
//! agent (photo validation + metadata strip, and the crop pipeline on a 1280×960 photo).
//!
//! Run: `cargo bench -p shinsei-agent --bench alloc --features bench-hooks`
//! Prints one line per case: median ns per operation off / on, and the ratio.

use std::hint::black_box;
use std::time::Instant;

use shinsei_agent::memguard::ZeroizingAlloc;

#[global_allocator]
static GLOBAL: ZeroizingAlloc = ZeroizingAlloc;

fn median_ns(reps: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn compare(name: &str, reps: usize, iters: usize, mut f: impl FnMut()) {
    ZeroizingAlloc::set_active_for_benchmark(false);
    let off = median_ns(reps, iters, &mut f);
    ZeroizingAlloc::set_active_for_benchmark(true);
    let on = median_ns(reps, iters, &mut f);
    println!(
        "{name:<40} off {:>12.0} ns  on {:>12.0} ns  on/off {:>5.2}",
        off,
        on,
        on / off
    );
}

fn main() {
    // `cargo test --benches` runs this too: keep that quick.
    let quick = std::env::args().any(|a| a == "--test") || std::env::var_os("QUICK").is_some();
    let reps = if quick { 3 } else { 15 };
    let scale = if quick { 100 } else { 1 };
    println!("zeroize-on-free allocator: median time per operation (clearing off vs on)");
    for (size, iters) in [
        (64usize, 200_000usize),
        (4096, 50_000),
        (65_536, 5_000),
        (1 << 20, 300),
        (16 << 20, 20),
    ] {
        compare(
            &format!("alloc+fill+free {size} B"),
            reps,
            (iters / scale).max(1),
            || {
                let v = vec![0xA5u8; size];
                black_box(&v);
            },
        );
    }
    compare(
        "Vec push growth to 1 MiB",
        reps,
        (200 / scale).max(1),
        || {
            let mut v = Vec::new();
            for i in 0..(1usize << 20) {
                v.push(i as u8);
            }
            black_box(&v);
        },
    );
    let jpeg = shinsei_capture::photo::synthetic_jpeg(7);
    compare(
        "photo strip + validate (demo JPEG)",
        reps,
        (40 / scale).max(1),
        || {
            let p = shinsei_capture::photo::photo_from_jpeg(&jpeg).unwrap();
            black_box(&p);
        },
    );
    compare(
        "crop pipeline (decode, detect, crop)",
        reps,
        (5 / scale).max(1),
        || {
            // The demo photo has no face: the pipeline decodes, detects and rejects.
            let r = shinsei_capture::crop::crop_report(&jpeg);
            black_box(&r.is_ok());
        },
    );
}
