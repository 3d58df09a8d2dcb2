//! The generated QR corpus: deterministic frames, 1920×1080, by category (used by
//! `tests/capture_qr.rs`, `benches/capture.rs` and `scripts/bench-qr-compare.sh`).
// Test-corpus generator: a failure here is a broken test set-up, so it panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{self as synth, Placement, Rng};

pub const CATEGORIES: &[&str] = &[
    "clean",
    "perspective",
    "rotation",
    "blur",
    "noise",
    "low_contrast",
    "small",
    "inverted",
    "large",
];
pub const PER_CATEGORY: usize = 6;

pub struct CorpusFrame {
    pub name: String,
    pub category: &'static str,
    pub payload_id: String,
    pub width: usize,
    pub height: usize,
    pub luma: Vec<u8>,
}

impl CorpusFrame {
    /// The frame as a typed image.
    pub fn view(&self) -> crate::raster::LumaRef<'_> {
        crate::raster::LumaRef::new(self.width, self.height, &self.luma).unwrap()
    }
}

/// A 23-digit application ID derived from a seed.
pub fn id_for(seed: u64) -> String {
    let mut rng = Rng::new(seed.wrapping_add(1000));
    (0..23)
        .map(|_| char::from(b'0' + (rng.next_u64() % 10) as u8))
        .collect()
}

/// Renders `payload` as a QR code (EC level M) into a scene; `tweak` edits the placement.
pub fn render_frame(
    payload: &str,
    w: usize,
    h: usize,
    seed: u64,
    tweak: impl FnOnce(&mut Placement),
) -> CorpusFrame {
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
        .unwrap();
    let n = code.width();
    let colors = code.to_colors();
    let dark = move |x: usize, y: usize| colors[y * n + x] == qrcode::Color::Dark;
    let mut rng = Rng::new(seed);
    let mut luma = synth::background(w, h, seed);
    let mut p = Placement {
        module_px: rng.range(4.0, 8.0),
        cx: rng.range(w as f64 * 0.3, w as f64 * 0.7),
        cy: rng.range(h as f64 * 0.3, h as f64 * 0.7),
        rotation_deg: rng.range(-8.0, 8.0),
        perspective: rng.range(-0.05, 0.05),
        ..Placement::default()
    };
    tweak(&mut p);
    synth::place_code(&mut luma, w, h, n, &dark, &p);
    CorpusFrame {
        name: format!("seed{seed}"),
        category: "clean",
        payload_id: payload.to_string(),
        width: w,
        height: h,
        luma,
    }
}

/// The whole corpus at 1920×1080.
pub fn corpus() -> Vec<CorpusFrame> {
    corpus_at(1920, 1080)
}

pub fn corpus_at(w: usize, h: usize) -> Vec<CorpusFrame> {
    let mut out = Vec::new();
    for (ci, &cat) in CATEGORIES.iter().enumerate() {
        for k in 0..PER_CATEGORY {
            let seed = (ci * 100 + k) as u64 + 1;
            let id = id_for(seed);
            let mut rng = Rng::new(seed ^ 0xABCD);
            let kf = k as f64 / (PER_CATEGORY - 1) as f64; // 0..1 across the category
            let mut f = render_frame(&id, w, h, seed, |p| match cat {
                "perspective" => {
                    p.perspective = if k % 2 == 0 {
                        0.2 + 0.2 * kf
                    } else {
                        -0.2 - 0.2 * kf
                    };
                    p.perspective_x = rng.range(-0.2, 0.2);
                }
                "rotation" => p.rotation_deg = 15.0 + 150.0 * kf,
                "blur" => p.module_px = rng.range(5.0, 7.0),
                "noise" => {}
                "low_contrast" => {
                    p.dark = 105 + (k as u8 % 3) * 5;
                    p.light = 150 + (k as u8 % 2) * 10;
                }
                "small" => p.module_px = 2.5 + 0.5 * kf,
                "inverted" => p.inverted = true,
                // The form held close to the camera.
                "large" => p.module_px = 10.0 + 6.0 * kf,
                _ => {}
            });
            match cat {
                "blur" => synth::gaussian_blur(&mut f.luma, w, h, 1.5 + 1.5 * kf),
                "noise" => synth::add_noise(&mut f.luma, 15.0 + 20.0 * kf, seed),
                _ => {}
            }
            f.category = cat;
            f.name = format!("{cat}-{k:02}");
            out.push(f);
        }
    }
    out
}

/// Writes the corpus as PNGs plus `truth.tsv` (file, category, expected ID).
#[allow(dead_code)]
pub fn write_corpus(dir: &std::path::Path, frames: &[CorpusFrame]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut truth = String::from("file\tcategory\tid\n");
    for f in frames {
        let file = format!("{}.png", f.name);
        image::GrayImage::from_raw(f.width as u32, f.height as u32, f.luma.clone())
            .unwrap()
            .save(dir.join(&file))
            .unwrap();
        truth.push_str(&format!("{file}\t{}\t{}\n", f.category, f.payload_id));
    }
    std::fs::write(dir.join("truth.tsv"), truth).unwrap();
}
