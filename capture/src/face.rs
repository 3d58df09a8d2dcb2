//! Face detection with rustface (a Rust port of SeetaFace's funnel-structured cascade).
//!
//! The model (`seeta_fd_frontal_v1.0.bin`, BSD-2-Clause, 1.2 MB) ships inside the
//! rustface crate; `capture/build.rs` locates it and it is embedded here with
//! `include_bytes!`, so nothing is ever downloaded at run time.
//!
//! Speed: SeetaFace costs roughly in proportion to the pixels searched and the
//! number of pyramid levels. [`FaceDetector::detect`] therefore works on a frame
//! downscaled so its longer side is at most [`DETECT_MAX_SIDE`] and searches only faces at
//! least [`MIN_FACE_FRACTION`] of the shorter side (an applicant in front of the
//! tablet fills a good part of the frame). [`FaceDetector::refine`] re-detects at
//! higher resolution in a window around a coarse face for the final crop.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use super::imgops::{self, Rect};
use super::CaptureError;
use crate::raster::LumaRef;

static MODEL_BYTES: &[u8] = include_bytes!(env!("SHINSEI_SEETA_MODEL"));

/// Longer side of the frame the coarse detection runs on.
pub const DETECT_MAX_SIDE: usize = 480;
/// Smallest face searched, as a fraction of the frame's shorter side.
pub const MIN_FACE_FRACTION: f64 = 0.12;
/// Face width the tracking window is scaled to ([`FaceDetector::track`]): just above
/// SeetaFace's 40 px window, where tracking costs a seventh of a whole-frame detection
/// (100 px: two thirds). Box accuracy is a few per cent of the face; the photo itself is
/// always cut from a whole-frame analysis with [`FaceDetector::refine`].
pub const TRACK_FACE_PX: f64 = 48.0;
/// Sliding-window step (pixels at the working scale) of the whole-frame detection
/// ([`FaceDetector::detect`]): 5 instead of rustface's 4 visits 1.56 times fewer window
/// positions (a 1080p frame: 34 → under 30 ms) and still finds all six faces of the
/// group test photo and the portrait darkened to 0.3 (6 loses that one); the windowed
/// searches that place the crop ([`FaceDetector::refine`], [`FaceDetector::track`])
/// keep [`FINE_WINDOW_STEP`].
pub const COARSE_WINDOW_STEP: u32 = 5;
/// Sliding-window step of the windowed searches (rustface's usual 4).
pub const FINE_WINDOW_STEP: u32 = 4;
/// SeetaFace score threshold (rustface's examples use 2.0; 3.85 is its default).
pub const SCORE_THRESHOLD: f64 = 2.0;

/// A detected face (full-resolution pixel coordinates).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FaceBox {
    pub rect: Rect,
    pub score: f64,
}

fn model() -> Result<rustface::Model, CaptureError> {
    static MODEL: OnceLock<Result<rustface::Model, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            catch_unwind(|| rustface::read_model(Cursor::new(MODEL_BYTES)))
                .map_err(|_| "model parser panicked".to_string())?
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(CaptureError::Detector)
}

/// A SeetaFace detector (not `Send`: one per thread).
pub struct FaceDetector {
    inner: Box<dyn rustface::Detector>,
}

impl std::fmt::Debug for FaceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaceDetector")
    }
}

impl FaceDetector {
    pub fn new() -> Result<Self, CaptureError> {
        let mut inner = rustface::create_detector_with_model(model()?);
        inner.set_score_thresh(SCORE_THRESHOLD);
        inner.set_pyramid_scale_factor(0.8);
        inner.set_slide_window_step(FINE_WINDOW_STEP, FINE_WINDOW_STEP);
        Ok(Self { inner })
    }

    /// Runs SeetaFace on a greyscale image as is, faces of at least `min_face` px.
    pub fn detect_raw(&mut self, img: LumaRef<'_>, min_face: u32) -> Vec<FaceBox> {
        self.detect_sized(img.pixels(), img.width(), img.height(), min_face, 0)
    }

    /// Like [`Self::detect_raw`], also bounding the face size (`max_face` 0: no bound).
    fn detect_sized(
        &mut self,
        luma: &[u8],
        w: usize,
        h: usize,
        min_face: u32,
        max_face: u32,
    ) -> Vec<FaceBox> {
        if w < 20 || h < 20 || luma.len() < w * h {
            return Vec::new();
        }
        let min_face = min_face.max(20).min(w.min(h) as u32);
        self.inner.set_min_face_size(min_face.max(20));
        self.inner.set_max_face_size(if max_face == 0 {
            0
        } else {
            max_face.max(min_face)
        });
        let inner = &mut self.inner;
        let faces = catch_unwind(AssertUnwindSafe(|| {
            let img = rustface::ImageData::new(&luma[..w * h], w as u32, h as u32);
            inner.detect(&img)
        }));
        match faces {
            Ok(faces) => faces
                .iter()
                .map(|f| {
                    let b = f.bbox();
                    FaceBox {
                        rect: Rect::new(
                            f64::from(b.x()),
                            f64::from(b.y()),
                            f64::from(b.width()),
                            f64::from(b.height()),
                        ),
                        score: f.score(),
                    }
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Coarse detection on a downscaled copy; boxes in full-resolution coordinates,
    /// best score first.
    pub fn detect(&mut self, img: LumaRef<'_>) -> Vec<FaceBox> {
        let (w, h, luma) = (img.width(), img.height(), img.pixels());
        let long = w.max(h);
        let scale = if long > DETECT_MAX_SIDE {
            DETECT_MAX_SIDE as f64 / long as f64
        } else {
            1.0
        };
        let (sw, sh) = (
            ((w as f64 * scale).round() as usize).max(1),
            ((h as f64 * scale).round() as usize).max(1),
        );
        let small;
        let img: &[u8] = if scale < 1.0 {
            small = imgops::resize_luma(luma, w, h, sw, sh);
            &small
        } else {
            luma
        };
        let min_face = (sw.min(sh) as f64 * MIN_FACE_FRACTION) as u32;
        self.inner
            .set_slide_window_step(COARSE_WINDOW_STEP, COARSE_WINDOW_STEP);
        let found = self.detect_sized(img, sw, sh, min_face, 0);
        self.inner
            .set_slide_window_step(FINE_WINDOW_STEP, FINE_WINDOW_STEP);
        let mut faces: Vec<FaceBox> = found
            .into_iter()
            .map(|f| FaceBox {
                rect: f.rect.scale(1.0 / scale),
                score: f.score,
            })
            .collect();
        faces.sort_by(|a, b| b.score.total_cmp(&a.score));
        faces
    }

    /// Follows a face from the previous frame: detects only in a window around it (half
    /// a face wider on every side), scaled so the face is [`TRACK_FACE_PX`] wide, and
    /// only faces from 0.7 to 1.5 times its size. About a seventh of [`Self::detect`]'s
    /// cost. Sees nothing outside the window: the caller still runs a whole-frame
    /// detection now and then (another person stepping into the picture).
    pub fn track(&mut self, img: LumaRef<'_>, last: &FaceBox) -> Vec<FaceBox> {
        let (w, h, luma) = (img.width(), img.height(), img.pixels());
        let size = last.rect.w.max(last.rect.h);
        if !(size.is_finite() && size >= 8.0) {
            return Vec::new();
        }
        let win = last.rect.grow(size * 0.5);
        let scale = (TRACK_FACE_PX / size).min(1.0);
        let mut found = self
            .detect_in_window(luma, w, h, &win, scale, size * 0.7, size * 1.5)
            .unwrap_or_default();
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        found
    }

    /// Re-detects around a coarse face at a resolution where the face is ~160 px, for a
    /// tighter box. Falls back to the coarse box when nothing is found.
    pub fn refine(&mut self, img: LumaRef<'_>, coarse: &FaceBox) -> FaceBox {
        let (w, h, luma) = (img.width(), img.height(), img.pixels());
        let win = coarse.rect.grow(coarse.rect.w.max(coarse.rect.h) * 0.6);
        let scale = (160.0 / coarse.rect.w.max(1.0)).min(1.0);
        let Some(found) = self.detect_in_window(luma, w, h, &win, scale, coarse.rect.w * 0.6, 0.0)
        else {
            return *coarse;
        };
        let best = found.into_iter().max_by(|a, b| {
            a.rect
                .intersection_area(&coarse.rect)
                .total_cmp(&b.rect.intersection_area(&coarse.rect))
        });
        match best {
            Some(b)
                if b.rect.intersection_area(&coarse.rect) > 0.3 * coarse.rect.w * coarse.rect.h =>
            {
                b
            }
            _ => *coarse,
        }
    }

    /// Detects in the window `win` of the frame, resampled by `scale`, faces of
    /// `min_face`..`max_face` source pixels (`max_face` 0: no bound). Boxes in frame
    /// coordinates; `None` when the window is under 20 px on a side.
    #[allow(clippy::too_many_arguments)]
    fn detect_in_window(
        &mut self,
        luma: &[u8],
        w: usize,
        h: usize,
        win: &Rect,
        scale: f64,
        min_face: f64,
        max_face: f64,
    ) -> Option<Vec<FaceBox>> {
        let bounds = win.clamp_to(w, h);
        let (x0, y0, x1, y1) = bounds;
        let (cw, ch) = (x1 - x0, y1 - y0);
        if cw < 20 || ch < 20 {
            return None;
        }
        let crop = imgops::crop_luma(luma, w, bounds);
        let (sw, sh) = (
            ((cw as f64 * scale) as usize).max(20),
            ((ch as f64 * scale) as usize).max(20),
        );
        let small = imgops::resize_luma(&crop, cw, ch, sw, sh);
        let max = if max_face > 0.0 {
            (max_face * scale).ceil() as u32
        } else {
            0
        };
        let found = self.detect_sized(&small, sw, sh, (min_face * scale) as u32, max);
        Some(
            found
                .into_iter()
                .map(|f| FaceBox {
                    rect: Rect::new(
                        f.rect.x / scale + x0 as f64,
                        f.rect.y / scale + y0 as f64,
                        f.rect.w / scale,
                        f.rect.h / scale,
                    ),
                    score: f.score,
                })
                .collect(),
        )
    }
}
