//! The 35:45 ID-photo crop and its quality checks.
//!
//! # Geometry (numbers and source: `agent/capture-README.md`)
//! The Japanese passport photo rule (Ministry of Foreign Affairs, パスポート申請用写真の
//! 規格), which the My Number card photo follows in format (縦45mm×横35mm, 正面・無帽・
//! 無背景, 胸から上): photo 35 mm × 45 mm; face from the top of the head to the chin
//! 34 mm ± 2 mm; margin from the top of the photo to the top of the head 4 mm ± 2 mm;
//! face centred left–right.
//!
//! SeetaFace's box runs from about the eyebrows to the chin; the crown and the chin
//! are estimated from it with [`CROWN_ABOVE_BOX`] and [`CHIN_BELOW_BOX`] (fractions of the
//! box height, calibrated on the reference portrait). The crop is solved as the nominal
//! geometry (34 mm face, 4 mm top margin, centred); when the nominal crop leaves the
//! image, face size and top margin are moved *within their tolerances* (32–36 mm, 2–6 mm)
//! to the feasible values closest to nominal, and the crop is shifted sideways (which
//! the off-centre check measures). What still does not fit is "cut off".
//!
//! # Checks
//! Every check reports its measured value, its threshold and its verdict, with a
//! bilingual message for the clerk. The thresholds are the `pub const`s below.

use std::path::Path;

use zeroize::Zeroizing;

use super::face::{FaceBox, FaceDetector};
use super::imgops::{self, Rect};
use super::source::{decode_image, read_bounded};
use super::CaptureError;
use crate::checks::{CheckId, Failure};
use crate::raster::{LumaRef, Rgb, RgbRef};

/// Photo width, mm.
pub const PHOTO_W_MM: f64 = 35.0;
/// Photo height, mm.
pub const PHOTO_H_MM: f64 = 45.0;
/// Crown-to-chin face height, mm (nominal) and tolerance.
pub const FACE_MM: f64 = 34.0;
pub const FACE_TOL_MM: f64 = 2.0;
/// Top of photo to crown, mm (nominal) and tolerance.
pub const TOP_MM: f64 = 4.0;
pub const TOP_TOL_MM: f64 = 2.0;
/// Output size: 600 × 771 px (35:45, about 435 dpi), inside the FacePhoto limits.
pub const OUT_W: u32 = 600;
pub const OUT_H: u32 = 771;
/// JPEG quality of the output.
pub const JPEG_QUALITY: u8 = 92;

/// Crown above the top of SeetaFace's box, as a fraction of the box height.
pub const CROWN_ABOVE_BOX: f64 = 0.52;
/// Chin below the bottom of SeetaFace's box, as a fraction of the box height.
pub const CHIN_BELOW_BOX: f64 = 0.25;

/// Faces at least this fraction of the largest face's height count as "another person".
pub const OTHER_FACE_FRACTION: f64 = 0.5;
/// Smallest crown-to-chin height in the source, px (≤ 2.8× upscaling to the 583 px
/// face of the 771 px output).
pub const MIN_FACE_PX: f64 = 150.0;
/// Largest horizontal offset of the face centre from the photo centre, mm.
pub const MAX_OFFCENTRE_MM: f64 = 1.5;
/// Largest part of the crop that may lie outside the frame (padding), fraction of area.
pub const MAX_OUTSIDE_FRACTION: f64 = 0.0;
/// Largest head roll (eye-line angle), degrees.
pub const MAX_ROLL_DEG: f64 = 8.0;
/// Face-region mean luma limits (0–255).
pub const MIN_FACE_LUMA: f64 = 70.0;
pub const MAX_FACE_LUMA: f64 = 205.0;
/// Largest fraction of clipped (≥ 250) face pixels.
pub const MAX_CLIPPED_FRACTION: f64 = 0.05;
/// Smallest variance of the Laplacian of the face region resampled to 128 px wide.
pub const MIN_SHARPNESS: f64 = 15.0;
/// Width the face region is resampled to before the sharpness measure.
pub const SHARPNESS_WIDTH: usize = 128;

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// One quality check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckResult {
    /// Which check (serialised as its stable name: `face_count`, `face_size`, `cut_off`,
    /// `off_centre`, `roll`, `too_dark`, `overexposed`, `blur`).
    pub check: CheckId,
    pub value: f64,
    /// The rule, e.g. `">= 150 px"`.
    pub threshold: String,
    pub verdict: Verdict,
    /// "OK", or the advice for the failure (from [`crate::checks`]).
    pub message_ja: String,
    pub message_en: String,
}

/// Everything the crop decided, serialisable as the CLI's JSON report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CropReport {
    pub image_width: u32,
    pub image_height: u32,
    /// "full": faces searched in the whole frame; "tracked": only around the face of the
    /// previous frame ([`analyse_tracked`]).
    pub detection: &'static str,
    pub faces_found: usize,
    /// Every face counted in `faces_found` (source pixels, as detected): drawn on the
    /// screen so the clerk sees what was found, and the choices of an override.
    pub faces: Vec<Rect>,
    /// SeetaFace's box (refined) in source pixels.
    pub face_box: Option<Rect>,
    pub face_score: Option<f64>,
    /// Estimated crown and chin rows, source pixels.
    pub crown_y: Option<f64>,
    pub chin_y: Option<f64>,
    /// The 35:45 crop in source pixels (may extend past the frame when cut off).
    pub crop_box: Option<Rect>,
    /// Resulting face height and top margin on the 35 × 45 mm photo.
    pub face_mm: Option<f64>,
    pub top_margin_mm: Option<f64>,
    pub offcentre_mm: Option<f64>,
    pub roll_deg: Option<f64>,
    pub output_width: u32,
    pub output_height: u32,
    pub output_bytes: usize,
    pub checks: Vec<CheckResult>,
    pub accepted: bool,
}

impl CropReport {
    /// The failed checks' messages, "ja / en", joined with "; ".
    pub fn reasons(&self) -> String {
        self.checks
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .map(|c| format!("{} / {}", c.message_ja, c.message_en))
            .collect::<Vec<_>>()
            .join("; ")
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

fn check(id: CheckId, value: f64, threshold: String, pass: bool, how: Failure) -> CheckResult {
    let advice = id.advice(how);
    CheckResult {
        check: id,
        value: (value * 1000.0).round() / 1000.0,
        threshold,
        verdict: if pass { Verdict::Pass } else { Verdict::Fail },
        message_ja: if pass { "OK".into() } else { advice.ja.into() },
        message_en: if pass { "OK".into() } else { advice.en.into() },
    }
}

/// The solved crop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropGeometry {
    pub crop: Rect,
    pub face_mm: f64,
    pub top_mm: f64,
    /// Face centre minus photo centre, mm (positive: face right of centre).
    pub offcentre_mm: f64,
    /// Fraction of the crop's area outside the image.
    pub outside_fraction: f64,
}

/// Solves the crop for a face from `crown_y` to `chin_y` centred at `face_cx` in a
/// `w`×`h` image (pure function; see the module documentation).
pub fn solve_crop(crown_y: f64, chin_y: f64, face_cx: f64, w: f64, h: f64) -> CropGeometry {
    let face_px = (chin_y - crown_y).max(1.0);
    let build = |face_mm: f64, top_mm: f64| {
        let px_per_mm = face_px / face_mm;
        let ch = PHOTO_H_MM * px_per_mm;
        let cw = PHOTO_W_MM * px_per_mm;
        Rect::new(face_cx - cw / 2.0, crown_y - top_mm * px_per_mm, cw, ch)
    };
    let fits_v = |r: &Rect| r.y >= -1e-6 && r.bottom() <= h + 1e-6;
    let fits_h = |r: &Rect| r.w <= w + 1e-6;
    // Search the tolerance box (0.25 mm steps) for the feasible value closest to nominal.
    let mut best: Option<(f64, f64, f64)> = None;
    let steps = (FACE_TOL_MM / 0.25) as i32;
    let tsteps = (TOP_TOL_MM / 0.25) as i32;
    for i in -steps..=steps {
        for j in -tsteps..=tsteps {
            let (fm, tm) = (FACE_MM + f64::from(i) * 0.25, TOP_MM + f64::from(j) * 0.25);
            let r = build(fm, tm);
            if fits_v(&r) && fits_h(&r) {
                let d = (fm - FACE_MM).powi(2) + (tm - TOP_MM).powi(2);
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, fm, tm));
                }
            }
        }
    }
    let (face_mm, top_mm) = best.map(|b| (b.1, b.2)).unwrap_or((FACE_MM, TOP_MM));
    let mut crop = build(face_mm, top_mm);
    // Shift sideways into the frame when possible.
    if crop.w <= w {
        if crop.x < 0.0 {
            crop.x = 0.0;
        } else if crop.right() > w {
            crop.x = w - crop.w;
        }
    }
    let px_per_mm = crop.h / PHOTO_H_MM;
    let offcentre_mm = (face_cx - crop.cx()) / px_per_mm;
    let inside = crop.intersection_area(&Rect::new(0.0, 0.0, w, h));
    let outside_fraction = (1.0 - inside / (crop.w * crop.h)).max(0.0);
    CropGeometry {
        crop,
        face_mm,
        top_mm,
        offcentre_mm,
        outside_fraction,
    }
}

/// Crown and chin rows estimated from SeetaFace's box.
pub fn crown_and_chin(face: &Rect) -> (f64, f64) {
    (
        face.y - CROWN_ABOVE_BOX * face.h,
        face.bottom() + CHIN_BELOW_BOX * face.h,
    )
}

/// Head roll in degrees, from mirror symmetry (rustface gives no landmarks).
///
/// The face box (grown by 10 %) is resampled to 64×64 greyscale. For every candidate
/// angle θ from −25° to +25° (1° steps) and axis offset −4…+4 px, the patch is sampled
/// along axes rotated by θ and compared with its own mirror image (mean absolute
/// difference over a central disc). A face is most symmetric about its own vertical
/// axis, so the best θ is the roll. Positive: the face turned clockwise in the image.
/// Returns `None` when the face box is too small to measure.
pub fn estimate_roll(img: LumaRef<'_>, face: &Rect) -> Option<f64> {
    let (w, h, luma) = (img.width(), img.height(), img.pixels());
    const N: usize = 64;
    let roi = face.grow(face.w.max(face.h) * 0.1);
    let bounds = roi.clamp_to(w, h);
    let (x0, y0, x1, y1) = bounds;
    let (cw, ch) = (x1 - x0, y1 - y0);
    if cw < 24 || ch < 24 {
        return None;
    }
    // Resample the (possibly clamped) ROI onto an N×N grid centred on the face centre.
    let crop = imgops::crop_luma(luma, w, bounds);
    let scale = roi.w.max(roi.h) / N as f64;
    let (fcx, fcy) = (face.cx() - x0 as f64, face.cy() - y0 as f64);
    let sample = |x: f64, y: f64| -> Option<f64> {
        let sx = fcx + x * scale;
        let sy = fcy + y * scale;
        if sx < 0.0 || sy < 0.0 || sx >= (cw - 1) as f64 || sy >= (ch - 1) as f64 {
            return None;
        }
        let (ix, iy) = (sx as usize, sy as usize);
        let (tx, ty) = (sx - ix as f64, sy - iy as f64);
        let p = |xx: usize, yy: usize| f64::from(crop[yy * cw + xx]);
        Some(
            (p(ix, iy) * (1.0 - tx) + p(ix + 1, iy) * tx) * (1.0 - ty)
                + (p(ix, iy + 1) * (1.0 - tx) + p(ix + 1, iy + 1) * tx) * ty,
        )
    };
    let r = N as f64 * 0.42;
    let mut best: Option<(f64, f64)> = None;
    for deg in -25..=25 {
        let (s, c) = f64::from(deg).to_radians().sin_cos();
        for off in -4..=4 {
            let off = f64::from(off);
            let (mut sum, mut n) = (0.0, 0.0);
            let mut v = -r;
            while v <= r {
                let mut u = 1.0;
                while u <= r {
                    if u * u + v * v <= r * r {
                        // Points at ±u across the rotated axis, shifted by `off`.
                        let (ax, ay) = ((off + u) * c - v * s, (off + u) * s + v * c);
                        let (bx, by) = ((off - u) * c - v * s, (off - u) * s + v * c);
                        if let (Some(a), Some(b)) = (sample(ax, ay), sample(bx, by)) {
                            sum += (a - b).abs();
                            n += 1.0;
                        }
                    }
                    u += 2.0;
                }
                v += 2.0;
            }
            if n > 50.0 {
                let score = sum / n;
                if best.is_none_or(|b| score < b.0) {
                    best = Some((score, f64::from(deg)));
                }
            }
        }
    }
    best.map(|b| b.1)
}

/// Face-region statistics: mean luma, clipped fraction, sharpness.
fn face_stats(luma: &[u8], w: usize, h: usize, face: &Rect) -> Option<(f64, f64, f64)> {
    let inner = Rect::new(
        face.x + 0.2 * face.w,
        face.y + 0.15 * face.h,
        0.6 * face.w,
        0.75 * face.h,
    );
    let bounds = inner.clamp_to(w, h);
    let (x0, y0, x1, y1) = bounds;
    let (cw, ch) = (x1 - x0, y1 - y0);
    if cw < 8 || ch < 8 {
        return None;
    }
    let crop = imgops::crop_luma(luma, w, bounds);
    let n = crop.len() as f64;
    let mean = crop.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let clipped = crop.iter().filter(|&&v| v >= 250).count() as f64 / n;
    let nh = ((ch as f64 * SHARPNESS_WIDTH as f64 / cw as f64).round() as usize).max(8);
    let small = imgops::resize_luma(&crop, cw, ch, SHARPNESS_WIDTH, nh);
    let sharp = imgops::laplacian_variance(&small, SHARPNESS_WIDTH, nh);
    Some((mean, clipped, sharp))
}

/// Runs detection, geometry and checks on an RGB frame (no encoding).
pub fn analyse(img: RgbRef<'_>, detector: &mut FaceDetector) -> (CropReport, Option<CropGeometry>) {
    analyse_tracked(img, detector, None)
}

/// Like [`analyse`]; with `prior` (the face of the previous frame) the face is first
/// looked for only around it ([`FaceDetector::track`], no refinement), and the whole
/// frame is searched only when it is not there. A tracked analysis cannot see a second
/// person outside the window: a live view mixes in whole-frame analyses, and a photo is
/// taken only from a frame that passed a whole-frame analysis (with refinement).
pub fn analyse_tracked(
    img: RgbRef<'_>,
    detector: &mut FaceDetector,
    prior: Option<&FaceBox>,
) -> (CropReport, Option<CropGeometry>) {
    let (w, h) = (img.width(), img.height());
    let (width, height) = (w as u32, h as u32);
    let luma_img = imgops::rgb_to_luma(img);
    let luma = luma_img.view();
    let tracked = prior
        .map(|p| detector.track(luma, p))
        .filter(|f| !f.is_empty());
    let detection = if tracked.is_some() { "tracked" } else { "full" };
    let faces = match tracked {
        Some(f) => f,
        None => detector.detect(luma),
    };
    let largest = faces.iter().map(|f| f.rect.h).fold(0.0, f64::max);
    let people: Vec<&FaceBox> = faces
        .iter()
        .filter(|f| f.rect.h >= OTHER_FACE_FRACTION * largest)
        .collect();
    let mut report = CropReport {
        image_width: width,
        image_height: height,
        detection,
        faces_found: people.len(),
        faces: people.iter().map(|f| f.rect).collect(),
        face_box: None,
        face_score: None,
        crown_y: None,
        chin_y: None,
        crop_box: None,
        face_mm: None,
        top_margin_mm: None,
        offcentre_mm: None,
        roll_deg: None,
        output_width: 0,
        output_height: 0,
        output_bytes: 0,
        checks: Vec::new(),
        accepted: false,
    };
    let n = people.len();
    report.checks.push(check(
        CheckId::FaceCount,
        n as f64,
        "== 1".into(),
        n == 1,
        if n == 0 {
            Failure::NoFace
        } else {
            Failure::SeveralFaces
        },
    ));
    let Some(coarse) = people.first().copied() else {
        return (report, None);
    };
    if n != 1 {
        return (report, None);
    }
    let face = if detection == "tracked" {
        *coarse
    } else {
        detector.refine(luma, coarse)
    };
    let (crown, chin) = crown_and_chin(&face.rect);
    let geo = solve_crop(crown, chin, face.rect.cx(), w as f64, h as f64);
    report.face_box = Some(face.rect);
    report.face_score = Some(face.score);
    report.crown_y = Some(crown);
    report.chin_y = Some(chin);
    report.crop_box = Some(geo.crop);
    report.face_mm = Some(geo.face_mm);
    report.top_margin_mm = Some(geo.top_mm);
    report.offcentre_mm = Some(geo.offcentre_mm);

    let face_px = chin - crown;
    report.checks.push(check(
        CheckId::FaceSize,
        face_px,
        format!(">= {MIN_FACE_PX} px crown to chin"),
        face_px >= MIN_FACE_PX,
        Failure::Failed,
    ));
    report.checks.push(check(
        CheckId::CutOff,
        geo.outside_fraction,
        format!("<= {MAX_OUTSIDE_FRACTION} of the crop outside the frame"),
        geo.outside_fraction <= MAX_OUTSIDE_FRACTION + 1e-9,
        Failure::Failed,
    ));
    report.checks.push(check(
        CheckId::OffCentre,
        geo.offcentre_mm.abs(),
        format!("<= {MAX_OFFCENTRE_MM} mm"),
        geo.offcentre_mm.abs() <= MAX_OFFCENTRE_MM,
        Failure::Failed,
    ));
    let roll = estimate_roll(luma, &face.rect);
    report.roll_deg = roll;
    let roll_v = roll.map(f64::abs).unwrap_or(f64::INFINITY);
    report.checks.push(check(
        CheckId::Roll,
        roll.map(f64::abs).unwrap_or(-1.0),
        format!("<= {MAX_ROLL_DEG} degrees"),
        roll_v <= MAX_ROLL_DEG,
        Failure::Failed,
    ));
    let (mean, clipped, sharp) =
        face_stats(luma.pixels(), w, h, &face.rect).unwrap_or((0.0, 0.0, 0.0));
    report.checks.push(check(
        CheckId::TooDark,
        mean,
        format!(">= {MIN_FACE_LUMA} mean face luma"),
        mean >= MIN_FACE_LUMA,
        Failure::Failed,
    ));
    let over = mean > MAX_FACE_LUMA || clipped > MAX_CLIPPED_FRACTION;
    report.checks.push(check(
        CheckId::Overexposed,
        clipped,
        format!(
            "<= {MAX_CLIPPED_FRACTION} of face pixels clipped and mean <= {MAX_FACE_LUMA} (mean {mean:.0})"
        ),
        !over,
        Failure::Failed,
    ));
    report.checks.push(check(
        CheckId::Blur,
        sharp,
        format!(">= {MIN_SHARPNESS} variance of Laplacian at {SHARPNESS_WIDTH} px face width"),
        sharp >= MIN_SHARPNESS,
        Failure::Failed,
    ));
    report.accepted = report.checks.iter().all(|c| c.verdict == Verdict::Pass);
    (report, Some(geo))
}

/// Cuts the crop out of an RGB image (outside the frame: neutral grey) and resizes it to
/// [`OUT_W`]×[`OUT_H`].
pub fn render_crop(img: RgbRef<'_>, crop: &Rect) -> Rgb {
    let (w, h, rgb) = (img.width() as u32, img.height() as u32, img.pixels());
    let (ow, oh) = (OUT_W as usize, OUT_H as usize);
    let (cw, ch) = (
        crop.w.round().max(1.0) as u32,
        crop.h.round().max(1.0) as u32,
    );
    let (cw, ch) = (cw.min(12_000), ch.min(12_000));
    let mut buf = Zeroizing::new(vec![128u8; cw as usize * ch as usize * 3]);
    let (ox, oy) = (crop.x.round() as i64, crop.y.round() as i64);
    for y in 0..ch as i64 {
        let sy = y + oy;
        if sy < 0 || sy >= i64::from(h) {
            continue;
        }
        let xs = (-ox).max(0);
        let xe = (i64::from(w) - ox).min(i64::from(cw));
        if xe <= xs {
            continue;
        }
        let src = ((sy * i64::from(w) + ox + xs) * 3) as usize;
        let dst = ((y * i64::from(cw) + xs) * 3) as usize;
        let len = ((xe - xs) * 3) as usize;
        if let (Some(s), Some(d)) = (rgb.get(src..src + len), buf.get_mut(dst..dst + len)) {
            d.copy_from_slice(s);
        }
    }
    let cut = Rgb::from_checked(cw as usize, ch as usize, buf);
    crate::resample::resize_rgb(cut.view(), ow, oh)
}

/// Encodes RGB pixels as a baseline JPEG (JFIF, no other metadata; 4:2:0 chroma as
/// before), raising the quality if the file would be under the FacePhoto minimum size.
/// The encoder is `jpeg-encoder` (several times faster than the `image` crate's).
pub fn encode_jpeg(img: RgbRef<'_>) -> Result<Zeroizing<Vec<u8>>, CaptureError> {
    let (w, h, rgb) = (img.width(), img.height(), img.pixels());
    let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
        return Err(CaptureError::Image(format!("{w}×{h}: too large for JPEG")));
    };
    let mut last = Zeroizing::new(Vec::new());
    for q in [JPEG_QUALITY, 98, 100] {
        let mut out = Zeroizing::new(Vec::with_capacity(w * h / 4));
        let mut enc = jpeg_encoder::Encoder::new(&mut *out, q);
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
        enc.encode(rgb, w16, h16, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| CaptureError::Image(e.to_string()))?;
        if out.len() >= shinsei_protocol::photo::MIN_PHOTO_BYTES {
            return Ok(out);
        }
        last = out;
    }
    Ok(last)
}

/// Crops an input photo (JPEG or PNG bytes) to the 35:45 ID format and reports every
/// check. Returns the output JPEG (accepted by `photo::photo_from_jpeg`) and the
/// report; `report.accepted` tells whether every check passed. When no crop can be made
/// (no face, several faces) the result is [`CaptureError::Rejected`].
pub fn crop_report(input_jpeg: &[u8]) -> Result<(Zeroizing<Vec<u8>>, CropReport), CaptureError> {
    let frame = decode_image(input_jpeg)?;
    let rgb = frame.to_rgb();
    let mut detector = FaceDetector::new()?;
    let (mut report, geo) = analyse(rgb.view(), &mut detector);
    let Some(geo) = geo else {
        return Err(CaptureError::Rejected {
            reasons: report.reasons(),
            report_json: report.to_json(),
        });
    };
    let out = render_crop(rgb.view(), &geo.crop);
    let jpeg = encode_jpeg(out.view())?;
    // The same door as every other photo: must validate.
    crate::photo::photo_from_jpeg(&jpeg)?;
    report.output_width = OUT_W;
    report.output_height = OUT_H;
    report.output_bytes = jpeg.len();
    Ok((jpeg, report))
}

/// Reads a photo file (bounded) and crops it; the photo only when every check passes,
/// otherwise [`CaptureError::Rejected`] with the JSON report. Used by `crop` and by
/// `submit --crop`.
pub fn crop_file(input: &Path) -> Result<(Zeroizing<Vec<u8>>, CropReport), CaptureError> {
    let bytes = read_bounded(input, super::qr::MAX_IMAGE_FILE)?;
    let (jpeg, report) = crop_report(&bytes)?;
    if !report.accepted {
        return Err(CaptureError::Rejected {
            reasons: report.reasons(),
            report_json: report.to_json(),
        });
    }
    Ok((jpeg, report))
}

/// `shinsei-agent crop --in FILE --out FILE.jpg`: writes the photo when every check
/// passes and returns the JSON report; otherwise writes nothing and returns
/// [`CaptureError::Rejected`] (with the JSON report inside).
pub fn run_crop_cli(input: &Path, output: &Path) -> Result<String, CaptureError> {
    let (jpeg, report) = crop_file(input)?;
    std::fs::write(output, &*jpeg)
        .map_err(|e| CaptureError::Io(format!("{}: {e}", output.display())))?;
    Ok(report.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominal_geometry() {
        // 340 px face → 10 px/mm → 350 × 450 crop, crown 40 px below the top.
        let g = solve_crop(500.0, 840.0, 1000.0, 2000.0, 2000.0);
        assert!((g.crop.w - 350.0).abs() < 1e-6 && (g.crop.h - 450.0).abs() < 1e-6);
        assert!((g.crop.y - 460.0).abs() < 1e-6);
        assert!((g.crop.cx() - 1000.0).abs() < 1e-6);
        assert_eq!((g.face_mm, g.top_mm, g.outside_fraction), (34.0, 4.0, 0.0));
        assert!(g.offcentre_mm.abs() < 1e-9);
        assert!((g.crop.w / g.crop.h - 35.0 / 45.0).abs() < 1e-9);
    }

    #[test]
    fn tolerance_used_near_the_top_edge() {
        // Crown 25 px from the top: nominal margin (40 px) does not fit; 2–6 mm does.
        let g = solve_crop(25.0, 365.0, 1000.0, 2000.0, 2000.0);
        assert_eq!(g.outside_fraction, 0.0);
        assert!(g.top_mm < TOP_MM && g.top_mm >= TOP_MM - TOP_TOL_MM);
        // Crown at the very top: cut off.
        let g = solve_crop(0.0, 340.0, 1000.0, 2000.0, 2000.0);
        assert!(g.outside_fraction > 0.0);
    }

    #[test]
    fn shift_sideways_is_off_centre() {
        let g = solve_crop(500.0, 840.0, 100.0, 2000.0, 2000.0);
        assert_eq!(g.crop.x, 0.0);
        assert!((g.offcentre_mm + 7.5).abs() < 1e-6);
    }
}
