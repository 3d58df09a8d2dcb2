//! Fast, robust reading of the form's QR code (rqrr decodes; we locate and sample).
//!
//! rqrr alone spends ~15 ms thresholding and ~25 ms finding grids on a 1080p frame, and
//! fails on very small modules, inverted codes, heavy blur and strong keystone. This
//! scanner does the locating and the sampling itself:
//!
//! 1. **Locate.** The frame is reduced 2× (frames of 720 lines or more), binarised with
//!    a local threshold on 4 px cells ([`imgops::block_binarize`], a window about the
//!    size of a finder pattern), and every row is split into runs and searched for the
//!    finder pattern's 1:1:3:1:1 ratio in both polarities (dark-on-light and inverted),
//!    with a minimum grey-level contrast and a vertical cross-check. Hits merge into
//!    finders (a cell index keeps noisy frames cheap), then group into candidate codes:
//!    right-isosceles triples of finders, or pairs.
//! 2. **Read the module grid from the finders** (module `grid`): the code's outline
//!    is fitted from the finders' outer sides, every module is sampled through the
//!    projective map, thresholded, and the bits go to rqrr's decoder. Pairs get the
//!    third finder searched for where it could be.
//! 3. **Fallbacks.** Locate again at full resolution (small modules); at thorough effort
//!    also rqrr's own grid detection on each candidate region (cropped at full
//!    resolution, pre-binarised, via `PreparedImage::prepare_from_bitmap`), then on the
//!    whole frame.
//!
//! A decoded payload is accepted only when it parses as an [`ApplicationId`]. rqrr runs
//! inside `catch_unwind`: a panic is an unreadable frame, never a crash.
//!
//! [`QrTracker`] adds frame-to-frame state: the last code's grid is read again from its
//! finder centres first (≈0.2 ms per 1080p frame), and the expensive fallbacks run only
//! every few frames, so a stream never spends more than one frame's budget on most frames.

use shinsei_protocol::application::ApplicationId;

use super::grid::{self as qr_grid, Finders};
use super::rqrr::{self, Accept, Payload};
use super::QrError;
use crate::imgops::{self, Rect};
use crate::raster::LumaRef;
use zeroize::Zeroizing;

/// Grey levels by which a finder's core must be darker (lighter, inverted) than the
/// light rings around it on the scanned row: rejects 1:1:3:1:1 patterns that the local
/// threshold finds in sensor noise, while the low-contrast corpus (paper 150, ink 105,
/// blurred by the 2× reduction) keeps a margin of about 30.
const MIN_FINDER_CONTRAST: i32 = 12;

/// Frames whose longer side is at most this are also located on a 2× enlargement (3×
/// up to half of it) at thorough effort.
const UPSCALE_MAX_SIDE: usize = 640;
/// Shorter side of the half-size frame rxing gets a second look at, at least (a code
/// needs some 60 px to be read at all).
const RXING_MIN_HALF_SIDE: usize = 60;

/// Finder-pattern candidate (full-resolution coordinates).
#[derive(Debug, Clone, Copy)]
struct Finder {
    x: f32,
    y: f32,
    module: f32,
    inverted: bool,
    hits: u32,
}

/// Where a code was read.
#[derive(Debug)]
pub struct ScanHit {
    pub id: ApplicationId,
    /// The region (full-resolution pixels) that was decoded.
    pub region: Rect,
    /// The code was light-on-dark.
    pub inverted: bool,
    /// Estimated module size, full-resolution pixels.
    pub module: f32,
    /// Which stage succeeded (for diagnostics and benchmarks).
    pub stage: Stage,
    /// The finder centres the module grid was read from, if it was.
    pub(crate) finders: Option<Finders>,
}

impl ScanHit {
    /// The code was read by sampling its module grid from the finder patterns
    /// (module `grid`), not by rqrr's own grid detection.
    pub fn read_from_finders(&self) -> bool {
        self.finders.is_some()
    }
}

/// The pipeline stage that read the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Stage {
    Tracked,
    Located,
    LocatedFullRes,
    /// Located on an enlargement of a small frame.
    LocatedUpscaled,
    WholeFrame,
    WholeFrameGreyscale,
    /// rxing's own detection and decoding on the whole frame.
    WholeFrameRxing,
}

/// How far to go before giving up on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Locate at working resolution only, read grids from the finders.
    Fast,
    /// Also locate at full resolution.
    Medium,
    /// Everything: also rqrr's own grid detection on each candidate region, then on
    /// the whole frame.
    Thorough,
}

/// Running verdict: the best error seen so far (NotAnApplicationId > Unreadable > NoCode),
/// and, when asked for, the other codes read beside the first.
struct Outcome {
    err: QrError,
    others: Option<Vec<Payload>>,
}

impl Outcome {
    fn new() -> Self {
        Self {
            err: QrError::NoCode,
            others: None,
        }
    }
    fn note(&mut self, e: QrError) {
        let rank = |e: &QrError| match e {
            QrError::NoCode => 0,
            QrError::Image(_) => 0,
            QrError::Unreadable => 1,
            QrError::NotAnApplicationId(_) => 2,
        };
        if rank(&e) > rank(&self.err) {
            self.err = e;
        }
    }
}

/// Reads the application ID from an 8-bit greyscale frame, trying every stage.
pub fn scan_luma(img: LumaRef<'_>) -> Result<ApplicationId, QrError> {
    scan_detailed(img, None, Effort::Thorough).map(|h| h.id)
}

/// Reads any QR code's payload (its bytes, not only an application ID) from an 8-bit
/// greyscale frame, trying every stage. For tests and benchmarks on real photos of
/// other codes: nothing read this way may reach the outbox (that takes an
/// [`ApplicationId`], which only [`scan_luma`] and [`scan_detailed`] give).
pub fn scan_payload(img: LumaRef<'_>) -> Result<Zeroizing<Vec<u8>>, QrError> {
    let mut outcome = Outcome::new();
    scan_accepting(img, None, Effort::Thorough, Accept::Any, &mut outcome).map(|(p, _)| p)
}

/// Like [`scan_payload`], but every code read in the frame (a frame may show several:
/// a code printed inside another, two forms): the first, then the others whose grids
/// were read from their finders in the same pass, each once.
pub fn scan_payloads(img: LumaRef<'_>) -> Result<Vec<Zeroizing<Vec<u8>>>, QrError> {
    let mut outcome = Outcome::new();
    outcome.others = Some(Vec::new());
    let (first, _) = scan_accepting(img, None, Effort::Thorough, Accept::Any, &mut outcome)?;
    let mut all = vec![first];
    for p in outcome.others.take().unwrap_or_default() {
        if !all.contains(&p) {
            all.push(p);
        }
    }
    Ok(all)
}

/// What to try first: where the last code was (its finder centres when it was read
/// from them), its module size and polarity.
#[derive(Debug, Clone, Copy)]
pub struct Hint {
    pub(crate) region: Rect,
    pub(crate) module: f32,
    pub(crate) inverted: bool,
    pub(crate) finders: Option<Finders>,
}

/// Like [`scan_luma`] with a hint region (tried first) and a chosen effort.
pub fn scan_detailed(
    img: LumaRef<'_>,
    hint: Option<Hint>,
    effort: Effort,
) -> Result<ScanHit, QrError> {
    let mut outcome = Outcome::new();
    let (payload, at) = scan_accepting(img, hint, effort, Accept::ApplicationId, &mut outcome)?;
    let id = ApplicationId::parse(&payload).map_err(QrError::NotAnApplicationId)?;
    Ok(ScanHit {
        id,
        region: at.region,
        inverted: at.inverted,
        module: at.module,
        stage: at.stage,
        finders: at.finders,
    })
}

/// Where and how a payload was read (a [`ScanHit`] without the payload).
struct Found {
    region: Rect,
    inverted: bool,
    module: f32,
    stage: Stage,
    finders: Option<Finders>,
}

impl Found {
    /// Read by a stage that looks at the whole `width` × `height` frame (no region, no
    /// finders worth keeping).
    fn whole(width: usize, height: usize, inverted: bool, stage: Stage) -> Self {
        Self {
            region: Rect::new(0.0, 0.0, width as f64, height as f64),
            inverted,
            module: 0.0,
            finders: None,
            stage,
        }
    }
}

/// Every stage, in order, until a payload that `accept` takes is read.
fn scan_accepting(
    img: LumaRef<'_>,
    hint: Option<Hint>,
    effort: Effort,
    accept: Accept,
    outcome: &mut Outcome,
) -> Result<(Payload, Found), QrError> {
    let (width, height, luma) = (img.width(), img.height(), img.pixels());

    if let Some(Hint {
        region,
        module,
        inverted,
        finders,
    }) = hint
    {
        // The last code's finders (cheap: no search); a region without finders gets
        // rqrr on the crop.
        let r = match &finders {
            Some(fs) => qr_grid::read(luma, width, height, fs, inverted, accept),
            None => decode_region(luma, width, height, region, module, inverted, accept),
        };
        match r {
            Ok(p) => {
                let at = Found {
                    region,
                    inverted,
                    module,
                    finders,
                    stage: Stage::Tracked,
                };
                return Ok((p, at));
            }
            Err(e) => outcome.note(e),
        }
    }

    let factor = if width.min(height) >= 720 { 2 } else { 1 };
    let mut passes = vec![(factor, Stage::Located)];
    if factor > 1 && effort != Effort::Fast {
        passes.push((1, Stage::LocatedFullRes));
    }
    for (f, stage) in passes {
        if let Some(hit) = located(luma, width, height, f, stage, effort, accept, outcome) {
            return Ok(hit);
        }
    }

    // ZXing's detector and decoder (through rxing) before our slower last resorts: it
    // reads in about a millisecond what they take hundreds for, and modes rqrr lacks.
    // Then on the frame at half size, where averaging smooths print halftones, paper
    // texture and sensor noise that break its binarizer at full size.
    if effort == Effort::Thorough {
        let whole = Found::whole(width, height, false, Stage::WholeFrameRxing);
        match super::rxing::detect(luma, width, height, accept) {
            Ok(p) => return Ok((p, whole)),
            Err(e) => outcome.note(e),
        }
        if width.min(height) >= 2 * RXING_MIN_HALF_SIDE {
            let (hw, hh) = (width / 2, height / 2);
            let half = imgops::resize_luma(luma, width, height, hw, hh);
            match super::rxing::detect(&half, hw, hh, accept) {
                Ok(p) => return Ok((p, whole)),
                Err(e) => outcome.note(e),
            }
        }
    }

    // A small frame (a code of a few hundred pixels, modules of 2–3 px): located and
    // sampled again on a bilinear enlargement, where the finder search's integer run
    // lengths and the outline's rays have room.
    if effort == Effort::Thorough && width.max(height) <= UPSCALE_MAX_SIDE {
        let up = if width.max(height) <= UPSCALE_MAX_SIDE / 2 {
            3
        } else {
            2
        };
        let (uw, uh) = (width * up, height * up);
        let big = imgops::resize_luma(luma, width, height, uw, uh);
        if let Some((p, at)) = located(
            &big,
            uw,
            uh,
            1,
            Stage::LocatedUpscaled,
            effort,
            accept,
            outcome,
        ) {
            let s = 1.0 / up as f64;
            let at = Found {
                region: Rect::new(
                    at.region.x * s,
                    at.region.y * s,
                    at.region.w * s,
                    at.region.h * s,
                ),
                module: at.module / up as f32,
                // Finder centres are in the enlargement's pixels: not reusable here.
                finders: None,
                ..at
            };
            return Ok((p, at));
        }
        // A code of a few dozen pixels: rxing on the enlargement too.
        match super::rxing::detect(&big, uw, uh, accept) {
            Ok(p) => {
                let at = Found::whole(width, height, false, Stage::WholeFrameRxing);
                return Ok((p, at));
            }
            Err(e) => outcome.note(e),
        }
    }

    if effort == Effort::Thorough {
        let at = |inverted, stage| Found::whole(width, height, inverted, stage);
        let r = (width.min(height) / 16).max(8);
        let bin = imgops::adaptive_binarize(luma, width, height, r, 10);
        for inverted in [false, true] {
            match rqrr_bitmap(&bin, width, height, inverted, accept) {
                Ok(p) => return Ok((p, at(inverted, Stage::WholeFrame))),
                Err(e) => outcome.note(e),
            }
        }
        match rqrr_greyscale(luma, width, height, false, accept) {
            Ok(p) => return Ok((p, at(false, Stage::WholeFrameGreyscale))),
            Err(e) => outcome.note(e),
        }
    }
    Err(std::mem::replace(&mut outcome.err, QrError::NoCode))
}

/// One locate pass at reduction `factor`: every candidate's grid read from its
/// finders, then (thorough effort) rqrr's own grid detection on each candidate region.
#[allow(clippy::too_many_arguments)]
fn located(
    luma: &[u8],
    width: usize,
    height: usize,
    factor: usize,
    stage: Stage,
    effort: Effort,
    accept: Accept,
    outcome: &mut Outcome,
) -> Option<(Payload, Found)> {
    let cands = regions(&locate(luma, width, height, factor), width, height);
    // Reading the module grid from the finders is cheap: every candidate first.
    let mut first: Option<(Payload, Found)> = None;
    let mut extra_tries = 0;
    for c in &cands {
        if first.is_some() {
            // Collecting the other codes of the frame: only grids read quickly from
            // finders, at most three more.
            let (Some(fs), Some(others)) = (&c.finders, outcome.others.as_mut()) else {
                continue;
            };
            extra_tries += 1;
            if extra_tries > 3 {
                break;
            }
            if let Ok(p) = qr_grid::read_quick(luma, width, height, fs, c.inverted, accept) {
                others.push(p);
            }
            continue;
        }
        let r = match (&c.finders, c.pair) {
            (Some(fs), _) => {
                qr_grid::read(luma, width, height, fs, c.inverted, accept).map(|p| (p, *fs))
            }
            (None, Some((p, q))) => qr_grid::read_pair(
                luma,
                width,
                height,
                p,
                q,
                f64::from(c.module),
                c.inverted,
                accept,
            ),
            _ => continue,
        };
        match r {
            Ok((p, fs)) => {
                let at = Found {
                    region: c.rect,
                    inverted: c.inverted,
                    module: c.module,
                    finders: Some(fs),
                    stage,
                };
                if outcome.others.is_none() {
                    return Some((p, at));
                }
                first = Some((p, at));
            }
            Err(e) => outcome.note(e),
        }
    }
    if first.is_some() {
        return first;
    }
    // Then rqrr's own grid finding on each region, at full resolution: costly on
    // clutter that looks like finders (tens of ms on some scenes), and not needed by
    // any frame of the corpus, so only at thorough effort.
    if effort != Effort::Thorough {
        return None;
    }
    for c in cands {
        match decode_region(luma, width, height, c.rect, c.module, c.inverted, accept) {
            Ok(p) => {
                let at = Found {
                    region: c.rect,
                    inverted: c.inverted,
                    module: c.module,
                    finders: None,
                    stage,
                };
                return Some((p, at));
            }
            Err(e) => outcome.note(e),
        }
    }
    None
}

/// Frame-to-frame QR reading: reads the last code's grid again from its finder centres
/// (or its region), and spreads the costly fallbacks over frames (medium effort every
/// 2nd frame, thorough every 8th).
#[derive(Debug, Default)]
pub struct QrTracker {
    last: Option<Hint>,
    frame: u64,
    misses: u32,
}

impl QrTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Region of the last code read, if it is still being followed.
    pub fn last_region(&self) -> Option<Rect> {
        self.last.map(|h| h.region)
    }

    /// Scans one frame.
    pub fn scan(&mut self, img: LumaRef<'_>) -> Result<ScanHit, QrError> {
        self.frame = self.frame.wrapping_add(1);
        let effort = if self.frame & 7 == 0 {
            Effort::Thorough
        } else if self.frame & 1 == 0 {
            Effort::Medium
        } else {
            Effort::Fast
        };
        // A region to give rqrr is grown a little (the form moves between frames);
        // finder centres are used as they were (the outline fit tolerates ±1.5 modules).
        let hint = self.last.map(|h| Hint {
            region: if h.finders.is_some() {
                h.region
            } else {
                h.region.grow(h.region.w.max(h.region.h) * 0.25)
            },
            ..h
        });
        match scan_detailed(img, hint, effort) {
            Ok(hit) => {
                self.misses = 0;
                // Whole-frame hits carry no useful region.
                self.last = match hit.stage {
                    Stage::WholeFrame | Stage::WholeFrameGreyscale | Stage::WholeFrameRxing => None,
                    // Keep the located region (the hint was a grown copy of it).
                    Stage::Tracked => self.last,
                    _ => Some(Hint {
                        region: hit.region,
                        module: hit.module,
                        inverted: hit.inverted,
                        finders: hit.finders,
                    }),
                };
                Ok(hit)
            }
            Err(e) => {
                self.misses += 1;
                if self.misses > 15 {
                    self.last = None;
                }
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Locating finder patterns

/// Finds finder-pattern candidates on the frame downscaled by `factor`.
fn locate(luma: &[u8], w: usize, h: usize, factor: usize) -> Vec<Finder> {
    let (small, sw, sh);
    let (img, iw, ih): (&[u8], usize, usize) = if factor > 1 {
        (small, sw, sh) = imgops::downscale(luma, w, h, factor);
        (&small, sw, sh)
    } else {
        (luma, w, h)
    };
    if iw < 21 || ih < 21 {
        return Vec::new();
    }
    // A window of 5×5 cells of 4 pixels (20 px at the working scale): about the size
    // of a finder pattern. Much larger windows let blur merge the finder's light ring
    // into its dark rings (the paper around a code lifts the local mean).
    let bin = imgops::block_binarize(img, iw, ih, 4, 2, 10);
    let mut found = FinderSet::new(w, h);
    let mut runs: Vec<(u8, usize, usize)> = Vec::with_capacity(iw / 2);
    let mut changes: Vec<u64> = Vec::with_capacity(iw / 64 + 1);
    for y in 0..ih {
        let row = &bin[y * iw..(y + 1) * iw];
        row_runs(row, &mut changes, &mut runs);
        if runs.len() < 5 {
            continue;
        }
        for i in 0..runs.len() - 4 {
            let lens = [
                runs[i].2,
                runs[i + 1].2,
                runs[i + 2].2,
                runs[i + 3].2,
                runs[i + 4].2,
            ];
            let Some(module) = ratio_ok(&lens) else {
                continue;
            };
            let dark = runs[i].0;
            // Real contrast between the core and the light rings on the grey row (the
            // binarisation alone lets noise through as tiny 1:1:3:1:1 patterns).
            let grey = &img[y * iw..(y + 1) * iw];
            let mean = |r: (u8, usize, usize)| {
                grey[r.1..r.1 + r.2]
                    .iter()
                    .map(|&v| u32::from(v))
                    .sum::<u32>()
                    / r.2.max(1) as u32
            };
            let core = mean(runs[i + 2]) as i32;
            let rings = ((mean(runs[i + 1]) + mean(runs[i + 3])) / 2) as i32;
            let contrast = if dark == 1 {
                rings - core
            } else {
                core - rings
            };
            if contrast < MIN_FINDER_CONTRAST {
                continue;
            }
            let cx = runs[i + 2].1 + runs[i + 2].2 / 2;
            let total_h: usize = lens.iter().sum();
            let Some((cy, total_v)) = cross_check_vertical(&bin, iw, ih, cx, y, dark, total_h)
            else {
                continue;
            };
            let tv = total_v as f32;
            let th = total_h as f32;
            if tv > th * 2.5 || th > tv * 2.5 {
                continue;
            }
            let m = (module + tv / 7.0) / 2.0;
            let f = factor as f32;
            found.merge(Finder {
                x: (cx as f32 + 0.5) * f,
                y: (cy + 0.5) * f,
                module: m * f,
                inverted: dark == 0,
                hits: 1,
            });
        }
    }
    let mut found = found.finders;
    found.retain(|c| c.hits >= 2);
    found
}

/// Splits a binary row into runs (value, start, length). The places where the value
/// changes are first packed 64 to a word (a loop the compiler vectorises), then read
/// with `trailing_zeros`, so long uniform stretches cost almost nothing.
fn row_runs(row: &[u8], changes: &mut Vec<u64>, runs: &mut Vec<(u8, usize, usize)>) {
    runs.clear();
    changes.clear();
    let Some(&first) = row.first() else {
        return;
    };
    // Bit j of word k: row[64k + j] differs from row[64k + j − 1] (bit 0 of word 0: never).
    for (k, chunk) in row.chunks(64).enumerate() {
        let base = k * 64;
        let mut word = 0u64;
        for (j, &v) in chunk.iter().enumerate() {
            let prev = if base + j == 0 { v } else { row[base + j - 1] };
            word |= u64::from(v != prev) << j;
        }
        changes.push(word);
    }
    let mut start = 0usize;
    let mut value = first;
    for (k, &word) in changes.iter().enumerate() {
        let mut w = word;
        while w != 0 {
            let x = k * 64 + w.trailing_zeros() as usize;
            runs.push((value, start, x - start));
            start = x;
            value ^= 1;
            w &= w - 1;
        }
    }
    runs.push((value, start, row.len() - start));
}

/// 1:1:3:1:1 within tolerance → module size. With m = total/7 a one-module run may be
/// off by max(0.6·m, 1) pixels and the three-module core by 3.46 times that; in integers
/// (scaled by 7, then 10 or 100) so the row scan's hot loop has no floating point.
fn ratio_ok(lens: &[usize; 5]) -> Option<f32> {
    let total: usize = lens.iter().sum();
    if total < 6 {
        return None;
    }
    let one = |l: usize| (7 * l).abs_diff(total) * 10 <= (6 * total).max(70);
    let three = (7 * lens[2]).abs_diff(3 * total) * 100 <= (208 * total).max(2422);
    (three && one(lens[0]) && one(lens[1]) && one(lens[3]) && one(lens[4]))
        .then_some(total as f32 / 7.0)
}

/// Walks up and down column `x` from `y` through the five runs; returns the centre row
/// of the middle run and the vertical total.
fn cross_check_vertical(
    bin: &[u8],
    w: usize,
    h: usize,
    x: usize,
    y: usize,
    dark: u8,
    total_h: usize,
) -> Option<(f32, usize)> {
    let max = total_h * 3;
    let at = |yy: usize| bin[yy * w + x];
    if at(y) != dark {
        return None;
    }
    // Up.
    let mut lens_up = [0usize; 3];
    let mut yy = y as isize;
    for (k, want) in [dark, 1 - dark, dark].into_iter().enumerate() {
        while yy >= 0 && at(yy as usize) == want && lens_up[k] <= max {
            lens_up[k] += 1;
            yy -= 1;
        }
        if lens_up[k] == 0 || lens_up[k] > max {
            return None;
        }
    }
    let top_of_centre = y + 1 - lens_up[0];
    let mut lens_down = [0usize; 3];
    let mut yy = y + 1;
    for (k, want) in [dark, 1 - dark, dark].into_iter().enumerate() {
        while yy < h && at(yy) == want && lens_down[k] <= max {
            lens_down[k] += 1;
            yy += 1;
        }
        if (k > 0 && lens_down[k] == 0) || lens_down[k] > max {
            return None;
        }
    }
    let centre = lens_up[0] + lens_down[0];
    let lens = [lens_up[2], lens_up[1], centre, lens_down[1], lens_down[2]];
    ratio_ok(&lens)?;
    let total: usize = lens.iter().sum();
    Some((top_of_centre as f32 + centre as f32 / 2.0 - 0.5, total))
}

/// Finder hits merged by position: a hit joins an earlier finder of the same polarity
/// and similar module size within 2.5 modules. Finders are filed in 32-pixel cells
/// (full-resolution coordinates) so that a noisy frame with thousands of hits does not
/// compare every hit with every finder.
struct FinderSet {
    finders: Vec<Finder>,
    cells: Vec<Vec<u32>>,
    cols: usize,
    rows: usize,
}

impl FinderSet {
    const CELL: f32 = 32.0;
    const MAX: usize = 4096;

    fn new(w: usize, h: usize) -> Self {
        let cols = (w / Self::CELL as usize) + 1;
        let rows = (h / Self::CELL as usize) + 1;
        Self {
            finders: Vec::new(),
            cells: vec![Vec::new(); cols * rows],
            cols,
            rows,
        }
    }

    fn cell_of(&self, x: f32, y: f32) -> (usize, usize) {
        let cx = ((x.max(0.0) / Self::CELL) as usize).min(self.cols - 1);
        let cy = ((y.max(0.0) / Self::CELL) as usize).min(self.rows - 1);
        (cx, cy)
    }

    fn merge(&mut self, c: Finder) {
        let reach = (c.module * 2.5 * 2.0).max(3.0);
        let (x0, y0) = self.cell_of(c.x - reach, c.y - reach);
        let (x1, y1) = self.cell_of(c.x + reach, c.y + reach);
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                for &i in &self.cells[cy * self.cols + cx] {
                    let f = &mut self.finders[i as usize];
                    if f.inverted != c.inverted {
                        continue;
                    }
                    let d = ((f.x - c.x).powi(2) + (f.y - c.y).powi(2)).sqrt();
                    let ratio = f.module.max(c.module) / f.module.min(c.module).max(0.01);
                    if d < (f.module * 2.5).max(3.0) && ratio < 2.0 {
                        let n = f.hits as f32;
                        f.x = (f.x * n + c.x) / (n + 1.0);
                        f.y = (f.y * n + c.y) / (n + 1.0);
                        f.module = (f.module * n + c.module) / (n + 1.0);
                        f.hits += 1;
                        return;
                    }
                }
            }
        }
        if self.finders.len() < Self::MAX {
            let (cx, cy) = self.cell_of(c.x, c.y);
            self.cells[cy * self.cols + cx].push(self.finders.len() as u32);
            self.finders.push(c);
        }
    }
}

/// A candidate code: its region, module size, polarity and, when three finders form a
/// plausible corner, the oriented finder centres.
struct Candidate {
    rect: Rect,
    module: f32,
    inverted: bool,
    finders: Option<Finders>,
    /// Only two finders: their centres (the third is guessed by [`qr_grid::read_pair`]).
    pair: Option<((f64, f64), (f64, f64))>,
}

/// Groups finders into candidate code regions, most promising first.
fn regions(finders: &[Finder], w: usize, h: usize) -> Vec<Candidate> {
    let n = finders.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (&finders[i], &finders[j]);
            if a.inverted != b.inverted {
                continue;
            }
            let ratio = a.module.max(b.module) / a.module.min(b.module).max(0.01);
            let m = (a.module + b.module) / 2.0;
            let d = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
            if ratio < 1.8 && d < 60.0 * m && d > 6.0 * m {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                parent[ri] = rj;
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index_of_root = vec![usize::MAX; n];
    for i in 0..n {
        let r = root(&mut parent, i);
        if index_of_root[r] == usize::MAX {
            index_of_root[r] = groups.len();
            groups.push(Vec::new());
        }
        groups[index_of_root[r]].push(i);
    }
    // Candidate (score, finder indices); lower score is better.
    let mut cands: Vec<(f32, Vec<usize>)> = Vec::new();
    for mut g in groups {
        if g.len() < 2 {
            continue;
        }
        if g.len() == 2 {
            cands.push((1.0e3, g));
            continue;
        }
        // The best right-isosceles triples: corner `a`, arms `ab`, `ac`.
        g.sort_by_key(|&i| u32::MAX - finders[i].hits);
        g.truncate(12);
        let mut triples: Vec<(f32, Vec<usize>)> = Vec::new();
        for ia in 0..g.len() {
            for ib in 0..g.len() {
                for ic in ib + 1..g.len() {
                    if ia == ib || ia == ic {
                        continue;
                    }
                    let (a, b, c) = (&finders[g[ia]], &finders[g[ib]], &finders[g[ic]]);
                    let (abx, aby) = (b.x - a.x, b.y - a.y);
                    let (acx, acy) = (c.x - a.x, c.y - a.y);
                    let lab = (abx * abx + aby * aby).sqrt();
                    let lac = (acx * acx + acy * acy).sqrt();
                    if lab < 1.0 || lac < 1.0 {
                        continue;
                    }
                    let len_err = (lab - lac).abs() / lab.max(lac);
                    let cos = ((abx * acx + aby * acy) / (lab * lac)).abs();
                    let m = (a.module + b.module + c.module) / 3.0;
                    let modules = lab.max(lac) / m;
                    // Finder centres of a QR code are 14 + 4(v−1) modules apart.
                    if len_err > 0.45 || cos > 0.5 || modules < 10.0 {
                        continue;
                    }
                    // Real finders are hit on many rows; a false one (a few modules
                    // that happen to look like one) on two or three.
                    let hits = a.hits.min(b.hits).min(c.hits).max(1) as f32;
                    triples.push((len_err + cos + 1.0 / hits, vec![g[ia], g[ib], g[ic]]));
                }
            }
        }
        triples.sort_by(|x, y| x.0.total_cmp(&y.0));
        if triples.is_empty() {
            cands.push((1.0e3, g));
        }
        cands.extend(triples.into_iter().take(4));
    }
    cands.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut out: Vec<Candidate> = Vec::new();
    for (_, g) in cands {
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        let mut m = 0.0;
        for &i in &g {
            let f = &finders[i];
            x0 = x0.min(f.x);
            y0 = y0.min(f.y);
            x1 = x1.max(f.x);
            y1 = y1.max(f.y);
            m += f.module;
        }
        m /= g.len() as f32;
        // Two finders only: the third may lie on either side; take the square around them.
        let extra = if g.len() == 2 {
            (x1 - x0).max(y1 - y0)
        } else {
            0.0
        };
        let margin = 9.0 * m + extra;
        let rect = Rect::new(
            f64::from(x0 - margin),
            f64::from(y0 - margin),
            f64::from(x1 - x0 + 2.0 * margin),
            f64::from(y1 - y0 + 2.0 * margin),
        );
        let (cx0, cy0, cx1, cy1) = rect.clamp_to(w, h);
        if cx1 <= cx0 || cy1 <= cy0 {
            continue;
        }
        let corner = |i: usize| (f64::from(finders[g[i]].x), f64::from(finders[g[i]].y));
        let oriented = (g.len() == 3)
            .then(|| Finders::oriented(corner(0), corner(1), corner(2), f64::from(m)));
        // Skip a region already covered by an earlier one (unless it brings finders:
        // another triple over the same code may be the right one when a false finder
        // made a better-looking corner).
        if oriented.is_none()
            && out.iter().any(|c| {
                c.inverted == finders[g[0]].inverted
                    && c.rect.intersection_area(&rect) > 0.9 * rect.w * rect.h
            })
        {
            continue;
        }
        out.push(Candidate {
            rect,
            module: m,
            inverted: finders[g[0]].inverted,
            finders: oriented,
            pair: (g.len() == 2).then(|| (corner(0), corner(1))),
        });
        if out.len() >= 8 {
            break;
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Decoding

fn decode_region(
    luma: &[u8],
    w: usize,
    h: usize,
    region: Rect,
    module: f32,
    inverted: bool,
    accept: Accept,
) -> Result<Payload, QrError> {
    let bounds = region.clamp_to(w, h);
    let (x0, y0, x1, y1) = bounds;
    let (cw, ch) = (x1 - x0, y1 - y0);
    if cw < 21 || ch < 21 {
        return Err(QrError::NoCode);
    }
    let crop = imgops::crop_luma(luma, w, bounds);
    // Small modules: upscale the crop so rqrr's grid sampling has ≥ 4 px per module.
    let up = if module < 2.2 {
        3
    } else if module < 4.0 {
        2
    } else {
        1
    };
    let (crop, cw, ch) = if up > 1 && cw * ch * up * up <= 4_000_000 {
        let (nw, nh) = (cw * up, ch * up);
        (imgops::resize_luma(&crop, cw, ch, nw, nh), nw, nh)
    } else {
        (crop, cw, ch)
    };
    let module = module * up as f32;
    let mut outcome = Outcome::new();
    let r = ((module * 4.0) as usize).clamp(6, 64);
    for t in [10, 0] {
        let bin = imgops::adaptive_binarize(&crop, cw, ch, r, t);
        match rqrr_bitmap(&bin, cw, ch, inverted, accept) {
            Ok(p) => return Ok(p),
            Err(e) => outcome.note(e),
        }
    }
    match rqrr_greyscale(&crop, cw, ch, inverted, accept) {
        Ok(p) => return Ok(p),
        Err(e) => outcome.note(e),
    }
    Err(outcome.err)
}

fn rqrr_bitmap(
    bin: &[u8],
    w: usize,
    h: usize,
    inverted: bool,
    accept: Accept,
) -> Result<Payload, QrError> {
    rqrr::detect_bitmap(w, h, |x, y| (bin[y * w + x] == 1) != inverted, accept)
}

fn rqrr_greyscale(
    luma: &[u8],
    w: usize,
    h: usize,
    inverted: bool,
    accept: Accept,
) -> Result<Payload, QrError> {
    rqrr::detect_greyscale(
        w,
        h,
        |x, y| {
            let v = luma[y * w + x];
            if inverted {
                255 - v
            } else {
                v
            }
        },
        accept,
    )
}
