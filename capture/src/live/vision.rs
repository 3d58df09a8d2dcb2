//! The camera as the kiosk sees it: one frame at a time from any [`FrameSource`],
//! turned into a small preview plus what the capture pipeline found in it (the QR
//! code's region and application ID, or the face checks and the 35:45 crop).
//!
//! No egui here: previews are RGBA buffers that zeroize on drop, so the screen tests
//! and the benchmarks can use this module without a window. The full-resolution frame
//! of the last photo analysis is kept until the next one, so what is captured is
//! exactly what was checked.

use shinsei_protocol::application::{ApplicationId, ApplicationIdError};
use shinsei_protocol::photo::FacePhoto;
use zeroize::Zeroizing;

use crate::crop::{self, CropGeometry, CropReport};
use crate::face::{FaceBox, FaceDetector};
use crate::imgops::Rect;
use crate::qr::{QrError, QrTracker};
use crate::raster::RgbRef;
use crate::{CaptureError, Frame, FrameSource};

/// Widest preview, pixels.
pub const PREVIEW_MAX_W: u32 = 640;
/// Polls in a row without a frame before the camera counts as lost (at the kiosk's
/// 15 polls a second: about 5 s).
pub const MAX_EMPTY_POLLS: u32 = 75;
/// Every this many photo frames the whole frame is searched for faces; between them the
/// face is followed in a window around where it was (about a seventh of the cost).
pub const FULL_DETECTION_EVERY: u64 = 4;

/// A downscaled RGBA picture for the screen.
pub struct Preview {
    pub width: u32,
    pub height: u32,
    pub rgba: Zeroizing<Vec<u8>>,
    /// Preview pixels per source pixel.
    pub scale: f64,
}

impl Preview {
    /// Box-filtered downscale of RGB pixels to at most `max_w` wide (never upscaled).
    pub fn from_rgb(img: RgbRef<'_>, max_w: u32) -> Self {
        let (w, h, rgb) = (img.width() as u32, img.height() as u32, img.pixels());
        let f = w.div_ceil(max_w.max(1)).max(1);
        let (pw, ph) = ((w / f).max(1), (h / f).max(1));
        let mut out = Zeroizing::new(vec![0u8; pw as usize * ph as usize * 4]);
        let (w, f) = (w as usize, f as usize);
        for py in 0..ph as usize {
            for px in 0..pw as usize {
                let mut acc = [0u32; 3];
                for y in py * f..py * f + f {
                    for x in px * f..px * f + f {
                        let i = (y * w + x) * 3;
                        if let Some(p) = rgb.get(i..i + 3) {
                            acc[0] += u32::from(p[0]);
                            acc[1] += u32::from(p[1]);
                            acc[2] += u32::from(p[2]);
                        }
                    }
                }
                let n = (f * f) as u32;
                let o = (py * pw as usize + px) * 4;
                out[o] = (acc[0] / n) as u8;
                out[o + 1] = (acc[1] / n) as u8;
                out[o + 2] = (acc[2] / n) as u8;
                out[o + 3] = 255;
            }
        }
        Self {
            width: pw,
            height: ph,
            rgba: out,
            scale: 1.0 / f as f64,
        }
    }

    /// A rectangle of the source picture in preview pixels.
    pub fn map(&self, r: &Rect) -> Rect {
        r.scale(self.scale)
    }
}

/// What one scan frame showed.
pub struct ScanView {
    pub preview: Preview,
    /// Where the code was read, preview pixels.
    pub region: Option<Rect>,
    pub id: Option<ApplicationId>,
    /// A code was read but it is not a form's: why (for the clerk to see).
    pub refusal: Option<ApplicationIdError>,
}

/// What one photo frame showed.
pub struct PhotoView {
    pub preview: Preview,
    pub report: CropReport,
    /// The 35:45 crop, preview pixels (when a face was found).
    pub crop: Option<Rect>,
    /// Every face found, preview pixels, left to right (the choices of an override).
    pub faces: Vec<Rect>,
}

impl PhotoView {
    pub fn accepted(&self) -> bool {
        self.report.accepted
    }
}

/// A captured and cropped photo, ready for the application.
pub struct Captured {
    /// The JPEG, already validated as a [`FacePhoto`] (rebuilt from these bytes at each
    /// send, so a refused send can be retried).
    jpeg: Zeroizing<Vec<u8>>,
    /// The crop at 35:45, for the review screen.
    pub cropped: Preview,
    /// The picture it was cut from, with `crop` in its pixels.
    pub original: Preview,
    pub crop: Rect,
}

impl Captured {
    pub fn jpeg(&self) -> &[u8] {
        &self.jpeg
    }
}

/// Cuts the 35:45 photo out of `rgb`, encodes it and proves it a valid `FacePhoto`.
fn cut(rgb: &crate::raster::Rgb, geo: &CropGeometry) -> Result<Captured, CaptureError> {
    let out = crop::render_crop(rgb.view(), &geo.crop);
    let jpeg = crop::encode_jpeg(out.view())?;
    let photo: FacePhoto = crate::photo::photo_from_jpeg(&jpeg)?;
    drop(photo);
    Ok(Captured {
        jpeg,
        cropped: Preview::from_rgb(out.view(), 300),
        original: Preview::from_rgb(rgb.view(), PREVIEW_MAX_W),
        crop: geo.crop,
    })
}

/// The camera plus the capture pipeline.
pub struct Vision {
    source: Box<dyn FrameSource + Send>,
    qr: QrTracker,
    detector: Option<FaceDetector>,
    /// The face of the last photo frame, followed on the next ([`crop::analyse_tracked`]).
    face_prior: Option<FaceBox>,
    /// Photo frames analysed since the screen opened (every [`FULL_DETECTION_EVERY`]th
    /// searches the whole frame).
    photo_frames: u64,
    /// The frame and crop of the last photo analysis that passed every check, and
    /// whether that analysis searched the whole frame.
    last_ok: Option<(Frame, CropGeometry, bool)>,
    /// The last frame analysed, passed or not (an override is cut from it).
    last_frame: Option<Frame>,
    ended: bool,
    empty_polls: u32,
}

impl Vision {
    pub fn new(source: Box<dyn FrameSource + Send>) -> Self {
        Self {
            source,
            qr: QrTracker::new(),
            detector: None,
            face_prior: None,
            photo_frames: 0,
            last_ok: None,
            last_frame: None,
            ended: false,
            empty_polls: 0,
        }
    }

    /// The frame source back (the rest is rebuilt on the thread that will use it: the
    /// face detector cannot move between threads).
    pub fn into_source(self) -> Box<dyn FrameSource + Send> {
        self.source
    }

    /// The next frame; `Ok(None)` when none is ready yet (a live camera between frames).
    fn next(&mut self) -> Result<Option<Frame>, CaptureError> {
        if self.ended {
            return Err(CaptureError::EndOfStream);
        }
        match self.source.next_frame() {
            Ok(f) => {
                self.empty_polls = 0;
                Ok(Some(f))
            }
            Err(CaptureError::Timeout) => {
                self.empty_polls += 1;
                if self.empty_polls >= MAX_EMPTY_POLLS {
                    self.empty_polls = 0;
                    return Err(CaptureError::CameraLost(
                        "no frame for several seconds".into(),
                    ));
                }
                Ok(None)
            }
            Err(e) => {
                if matches!(e, CaptureError::EndOfStream | CaptureError::CameraLost(_)) {
                    self.ended = true;
                }
                Err(e)
            }
        }
    }

    /// Reads the next frame for the scan screen.
    pub fn scan_step(&mut self) -> Result<Option<ScanView>, CaptureError> {
        let Some(frame) = self.next()? else {
            return Ok(None);
        };
        let rgb = frame.to_rgb();
        let preview = Preview::from_rgb(rgb.view(), PREVIEW_MAX_W);
        let luma = frame.to_luma();
        let (region, id, refusal) = match self.qr.scan(luma.view()) {
            Ok(hit) => (Some(preview.map(&hit.region)), Some(hit.id), None),
            Err(QrError::NotAnApplicationId(e)) => (None, None, Some(e)),
            Err(_) => (None, None, None),
        };
        Ok(Some(ScanView {
            preview,
            region,
            id,
            refusal,
        }))
    }

    /// Reads the next frame for the photo screen and runs every check on it (at full
    /// resolution: the size checks are in source pixels).
    pub fn photo_step(&mut self) -> Result<Option<PhotoView>, CaptureError> {
        if self.detector.is_none() {
            self.detector = Some(FaceDetector::new()?);
        }
        let Some(frame) = self.next()? else {
            return Ok(None);
        };
        let rgb = frame.to_rgb();
        let preview = Preview::from_rgb(rgb.view(), PREVIEW_MAX_W);
        let Some(det) = self.detector.as_mut() else {
            return Ok(None);
        };
        let prior = if self.photo_frames.checked_rem(FULL_DETECTION_EVERY) == Some(0) {
            None
        } else {
            self.face_prior
        };
        self.photo_frames += 1;
        let (report, geo) = crop::analyse_tracked(rgb.view(), det, prior.as_ref());
        drop(rgb);
        self.face_prior = match (report.face_box, report.face_score) {
            (Some(rect), Some(score)) if report.faces_found == 1 => Some(FaceBox { rect, score }),
            _ => None,
        };
        let crop = geo.map(|g| preview.map(&g.crop));
        let mut faces: Vec<Rect> = report.faces.iter().map(|f| preview.map(f)).collect();
        faces.sort_by(|a, b| a.x.total_cmp(&b.x));
        let full = report.detection == "full";
        self.last_ok = match geo {
            Some(g) if report.accepted => Some((frame, g, full)),
            _ => {
                self.last_frame = Some(frame);
                None
            }
        };
        Ok(Some(PhotoView {
            preview,
            report,
            crop,
            faces,
        }))
    }

    /// Whether the last analysed frame passed every check (a capture can be made).
    pub fn can_capture(&self) -> bool {
        self.last_ok.is_some()
    }

    /// Cuts, encodes and validates the photo from the last frame that passed.
    pub fn capture(&mut self) -> Result<Captured, CaptureError> {
        let Some((frame, geo, full)) = self.last_ok.take() else {
            return Err(CaptureError::Rejected {
                reasons: "no frame passed the checks".into(),
                report_json: String::new(),
            });
        };
        let rgb = frame.to_rgb();
        // A frame that passed with the face only tracked is checked again with the
        // whole frame searched (a second person outside the tracking window) before it
        // becomes the photo.
        let geo = if full {
            geo
        } else {
            let det = match self.detector.as_mut() {
                Some(d) => d,
                None => self.detector.insert(FaceDetector::new()?),
            };
            match crop::analyse(rgb.view(), det) {
                (report, Some(g)) if report.accepted => g,
                (report, _) => {
                    return Err(CaptureError::Rejected {
                        reasons: report.reasons(),
                        report_json: serde_json::to_string(&report).unwrap_or_default(),
                    })
                }
            }
        };
        cut(&rgb, &geo)
    }

    /// A supervisor's override of the checks: cuts the photo around face `face` (left
    /// to right, as in [`PhotoView::faces`]) of the last frame analysed, whatever the
    /// checks said. The geometry is the same 35:45 solve as always, and the result must
    /// still be a valid `FacePhoto`; only the quality verdicts are set aside. Needs a
    /// face to cut around.
    pub fn capture_override(&mut self, face: usize) -> Result<Captured, CaptureError> {
        let Some(frame) = self
            .last_frame
            .take()
            .or_else(|| self.last_ok.take().map(|(f, _, _)| f))
        else {
            return Err(CaptureError::Rejected {
                reasons: "no frame to take the photo from".into(),
                report_json: String::new(),
            });
        };
        let rgb = frame.to_rgb();
        let det = match self.detector.as_mut() {
            Some(d) => d,
            None => self.detector.insert(FaceDetector::new()?),
        };
        let luma = crate::imgops::rgb_to_luma(rgb.view());
        let mut found = det.detect(luma.view());
        found.sort_by(|a, b| a.rect.x.total_cmp(&b.rect.x));
        let Some(coarse) = found.get(face).or(found.first()).copied() else {
            return Err(CaptureError::Rejected {
                reasons: "no face to cut the photo around".into(),
                report_json: String::new(),
            });
        };
        let refined = det.refine(luma.view(), &coarse);
        let (crown, chin) = crop::crown_and_chin(&refined.rect);
        let geo = crop::solve_crop(
            crown,
            chin,
            refined.rect.cx(),
            rgb.width() as f64,
            rgb.height() as f64,
        );
        cut(&rgb, &geo)
    }

    /// Forgets the tracked code and the last frame (between applicants).
    pub fn reset(&mut self) {
        self.qr = QrTracker::new();
        self.last_ok = None;
        self.last_frame = None;
        self.face_prior = None;
        self.photo_frames = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_downscales_by_whole_factors_and_averages() {
        // 4×2 picture: left half black, right half white.
        let mut rgb = vec![0u8; 4 * 2 * 3];
        for y in 0..2 {
            for x in 2..4 {
                let i = (y * 4 + x) * 3;
                rgb[i..i + 3].copy_from_slice(&[255, 255, 255]);
            }
        }
        let p = Preview::from_rgb(RgbRef::new(4, 2, &rgb).unwrap(), 2);
        assert_eq!((p.width, p.height, p.scale), (2, 1, 0.5));
        assert_eq!(&p.rgba[..], &[0, 0, 0, 255, 255, 255, 255, 255]);
        let same = Preview::from_rgb(RgbRef::new(4, 2, &rgb).unwrap(), 640);
        assert_eq!((same.width, same.height), (4, 2));
        let r = p.map(&Rect::new(2.0, 0.0, 2.0, 2.0));
        assert_eq!((r.x, r.w), (1.0, 1.0));
    }

    #[test]
    fn capture_without_a_passing_frame_is_refused() {
        let mut v = Vision::new(Box::new(crate::source::MemorySource::new(vec![])));
        assert!(!v.can_capture());
        assert!(matches!(v.capture(), Err(CaptureError::Rejected { .. })));
        assert!(matches!(v.scan_step(), Err(CaptureError::EndOfStream)));
        assert!(matches!(v.scan_step(), Err(CaptureError::EndOfStream)));
    }
}
