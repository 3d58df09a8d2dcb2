//! Reading a located QR code's module grid straight from the greyscale frame.
//!
//! rqrr's own grid fitting works on a binary image and fails on blurred codes, on codes
//! of ~3 px modules and under strong perspective, even when the three finder patterns
//! have been found. Given the three finder centres (from `super::locate`) this module:
//!
//! 1. **Fits the code's outline.** Each finder's sides that face the quiet zone (the top
//!    and left of the top-left finder, the top and right of the top-right one, the left
//!    and bottom of the bottom-left one) are measured by casting rays outwards from the
//!    finder across its dark ring and taking the sub-pixel point where the grey level
//!    crosses halfway between the ring and the paper. A blur moves that point by nothing,
//!    because it is symmetric. A straight line is fitted through each side's points
//!    (total least squares), and the four outer corners of the code are where the lines
//!    meet. Lines stay lines under perspective, so the corners are right under keystone
//!    too, where the parallelogram through three finder centres is off by several modules.
//! 2. **Samples every module** through the projective map from the code's corners: the
//!    mean of five bilinear samples around the module's centre.
//! 3. **Thresholds** the samples (Otsu over the code), then, if that does not decode,
//!    the samples sharpened against their four neighbours (undoing part of the blur
//!    that pulls an isolated module toward its neighbours).
//! 4. **Decodes** the bit grid with rqrr's decoder (format information, unmasking,
//!    Reed–Solomon correction): nothing of the QR format is re-implemented here.
//!
//! Every version whose size fits the finder spacing (±1) is tried, up to version 10.
//! All buffers that hold samples or bits of the code are zeroized.

use zeroize::Zeroizing;

use super::rqrr::{self, Accept, Payload};
use super::QrError;
use crate::geometry::Homography;

/// Largest version tried (all of them: the form's code is version 1 or 2, other codes
/// read raw may be larger).
const MAX_VERSION: i32 = 40;

type P = (f64, f64);

/// Three finder-pattern centres of one code: `corner` is the top-left finder (the right
/// angle), `right` and `down` the other two, in the code's own orientation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finders {
    pub corner: P,
    pub right: P,
    pub down: P,
    /// Estimated module size in pixels.
    pub module: f64,
}

impl Finders {
    /// Orders three centres, `corner` first: `right` and `down` are swapped when needed
    /// so that the code reads left-to-right, top-to-bottom (a mirrored code is not read).
    pub(crate) fn oriented(corner: P, b: P, c: P, module: f64) -> Self {
        let cross = (b.0 - corner.0) * (c.1 - corner.1) - (b.1 - corner.1) * (c.0 - corner.0);
        let (right, down) = if cross >= 0.0 { (b, c) } else { (c, b) };
        Self {
            corner,
            right,
            down,
            module,
        }
    }
}

/// A module size (pixels) worth sampling with: finite, above half a pixel.
fn usable_module(m: f64) -> bool {
    m.is_finite() && m > 0.5
}

/// The module grid handed to rqrr's decoder.
struct Bits {
    n: usize,
    dark: Zeroizing<Vec<u8>>,
}

impl ::rqrr::BitGrid for Bits {
    fn size(&self) -> usize {
        self.n
    }
    fn bit(&self, y: usize, x: usize) -> bool {
        self.dark.get(y * self.n + x).is_some_and(|&b| b == 1)
    }
}

/// Reads the code whose finder patterns are `f`. `inverted`: light modules on dark.
pub(crate) fn read(
    luma: &[u8],
    w: usize,
    h: usize,
    f: &Finders,
    inverted: bool,
    accept: Accept,
) -> Result<Payload, QrError> {
    read_with(luma, w, h, f, inverted, accept, false)
}

/// Like [`read`], with only the outline's map and Otsu's threshold (about a tenth of
/// the decoding attempts): for looking for further codes once one was read.
pub(crate) fn read_quick(
    luma: &[u8],
    w: usize,
    h: usize,
    f: &Finders,
    inverted: bool,
    accept: Accept,
) -> Result<Payload, QrError> {
    read_with(luma, w, h, f, inverted, accept, true)
}

#[allow(clippy::too_many_arguments)]
fn read_with(
    luma: &[u8],
    w: usize,
    h: usize,
    f: &Finders,
    inverted: bool,
    accept: Accept,
    quick: bool,
) -> Result<Payload, QrError> {
    if w < 2 || h < 2 || luma.len() < w * h || !usable_module(f.module) {
        return Err(QrError::NoCode);
    }
    let img = Img {
        luma,
        w,
        h,
        inverted,
    };
    let Some(quad) = outline(&img, f) else {
        return Err(QrError::NoCode);
    };
    // Size in modules: the outline's mean side over the module size, and the finder
    // spacing (N − 7 modules) against the outline (N modules): N = 7·s/(s − d).
    let side = (dist(quad[0], quad[1]) + dist(quad[3], quad[2])) / 2.0;
    let spacing = (dist(f.corner, f.right) + dist(f.corner, f.down)) / 2.0;
    let n_from_module = side / f.module;
    let n_from_ratio = if side > spacing + 1.0 {
        7.0 * side / (side - spacing)
    } else {
        n_from_module
    };
    let mut versions: Vec<i32> = Vec::with_capacity(4);
    for n in [n_from_ratio, n_from_module] {
        let v = ((n - 17.0) / 4.0).round() as i32;
        for v in [v, v - 1, v + 1] {
            if (1..=MAX_VERSION).contains(&v) && !versions.contains(&v) {
                versions.push(v);
            }
        }
    }
    let hmg = Homography::square_to_quad(quad);
    let mut outcome = QrError::Unreadable;
    // The same bits from another map or threshold are not decoded twice (per version).
    let mut tried: Vec<Vec<Zeroizing<Vec<u8>>>> = vec![Vec::new(); versions.len()];
    // First the outline's own map for every version (cheap: most codes read here), then
    // the maps refined by the alignment patterns (a search around each), then the
    // outline's map nudged by a quarter module.
    let phases: &[Phase] = if quick {
        &[Phase::Outline]
    } else {
        &[Phase::Outline, Phase::Refined, Phase::Nudged]
    };
    for &phase in phases {
        for (vi, &v) in versions.iter().enumerate() {
            let n = (17 + 4 * v) as usize;
            let maps = match phase {
                Phase::Outline => vec![GridMap {
                    h: hmg,
                    n: n as f64,
                    field: Vec::new(),
                }],
                Phase::Refined => refined_maps(&img, &hmg, quad, v, n),
                Phase::Nudged => nudged_maps(&hmg, n),
            };
            for map in maps {
                let samples = sample_grid(&img, &map, n);
                let mut all = vec![threshold(&samples, n)];
                if !quick {
                    all.push(threshold(&sharpened(&samples, n), n));
                    all.push(local_threshold(&samples, n));
                }
                for bits in all {
                    if !version_info_fits(&bits, v) || tried[vi].contains(&bits.dark) {
                        continue;
                    }
                    tried[vi].push(bits.dark.clone());
                    match decode(bits, accept) {
                        Ok(p) => return Ok(p),
                        Err(e @ QrError::NotAnApplicationId(_)) => outcome = e,
                        Err(_) => {}
                    }
                }
            }
        }
    }
    Err(outcome)
}

/// The maps tried, in order, each for every version before the next.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The outline's projective map.
    Outline,
    /// Corrected by the alignment patterns ([`refined_maps`]).
    Refined,
    /// The outline's map moved by a quarter module ([`nudged_maps`]).
    Nudged,
}

/// The outline's map moved by a fraction of a module: shifted a quarter module each way,
/// and grown or shrunk by a quarter module on every side (an outline fitted to blurred
/// or bent edges is off by about that).
fn nudged_maps(hmg: &Homography, n: usize) -> Vec<GridMap> {
    let nf = n as f64;
    let q = 0.25 / nf;
    let moved = |x0: f64, y0: f64, x1: f64, y1: f64| GridMap {
        h: Homography::square_to_quad([
            hmg.apply(x0, y0),
            hmg.apply(x1, y0),
            hmg.apply(x1, y1),
            hmg.apply(x0, y1),
        ]),
        n: nf,
        field: Vec::new(),
    };
    vec![
        moved(-q, -q, 1.0 + q, 1.0 + q),
        moved(q, q, 1.0 - q, 1.0 - q),
        moved(q, 0.0, 1.0 + q, 1.0),
        moved(-q, 0.0, 1.0 - q, 1.0),
        moved(0.0, q, 1.0, 1.0 + q),
        moved(0.0, -q, 1.0, 1.0 - q),
    ]
}

/// Versions 7 and up carry their number twice, as an 18-bit BCH codeword beside the
/// top-right and bottom-left finders (ISO/IEC 18004 §7.10): a sampled grid whose both
/// copies are more than 3 bits from version `v`'s codeword is not that version, and
/// is not handed to the decoder (whose error correction on a large grid is costly).
fn version_info_fits(bits: &Bits, v: i32) -> bool {
    if v < 7 {
        return true;
    }
    let n = bits.n;
    let mut rem = v as u32;
    for _ in 0..12 {
        rem = (rem << 1) ^ ((rem >> 11) * 0x1F25);
    }
    let word = ((v as u32) << 12) | (rem & 0xFFF);
    let (mut d1, mut d2) = (0, 0);
    for i in 0..18 {
        let want = (word >> i) & 1 == 1;
        let (a, b) = (n - 11 + i % 3, i / 3);
        d1 += u32::from(bits.dark[b * n + a] == 1 && !want || bits.dark[b * n + a] == 0 && want);
        d2 += u32::from(bits.dark[a * n + b] == 1 && !want || bits.dark[a * n + b] == 0 && want);
    }
    d1.min(d2) <= 3
}

/// Where each module of an `n`×`n` code lies in the frame: a projective map of the
/// code's square, plus, where alignment patterns were measured, a smooth correction
/// (paper that is not flat bends the grid away from any single projective map).
struct GridMap {
    h: Homography,
    n: f64,
    /// Measured corrections: (module x, module y, dx, dy) in pixels; zero at the
    /// finder centres.
    field: Vec<(f64, f64, f64, f64)>,
}

impl GridMap {
    /// The frame point of module coordinates (x, y) (0..n each way).
    fn at(&self, x: f64, y: f64) -> P {
        let p = self.h.apply(x / self.n, y / self.n);
        if self.field.is_empty() {
            return p;
        }
        // Inverse-distance weighting (power 2) of the measured corrections.
        let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for &(u, v, dx, dy) in &self.field {
            let w = 1.0 / ((u - x).powi(2) + (v - y).powi(2) + 1.0);
            sw += w;
            sx += w * dx;
            sy += w * dy;
        }
        (p.0 + sx / sw, p.1 + sy / sw)
    }
}

/// Module coordinates of the alignment patterns' centres of version `v` (none for
/// version 1): the ISO/IEC 18004 table, computed as its rows are built (first at 6,
/// last at n − 7, evenly spaced by an even step between).
fn alignment_centres(v: i32) -> Vec<(f64, f64)> {
    if v < 2 {
        return Vec::new();
    }
    let n = 17 + 4 * v;
    let count = v / 7 + 2;
    let step = if v == 32 {
        26
    } else {
        (v * 4 + count * 2 + 1) / (count * 2 - 2) * 2
    };
    let mut pos = vec![6; count as usize];
    let mut p = n - 7;
    for i in (1..count as usize).rev() {
        pos[i] = p;
        p -= step;
    }
    let last = n - 7;
    let mut out = Vec::new();
    for &y in &pos {
        for &x in &pos {
            // Not where a finder pattern is.
            if [(6, 6), (6, last), (last, 6)].contains(&(x, y)) {
                continue;
            }
            out.push((f64::from(x) + 0.5, f64::from(y) + 0.5));
        }
    }
    out
}

/// Finds the alignment pattern nearest to module (x, y) under `map`, within 2 modules:
/// a dark centre, a light ring one module out and a dark ring two modules out. Returns
/// the frame point, if the pattern stands out by at least a fifth of the contrast.
fn find_alignment(img: &Img<'_>, map: &GridMap, x: f64, y: f64, contrast: f64) -> Option<P> {
    let c = map.at(x, y);
    let ex = sub(map.at(x + 1.0, y), c);
    let ey = sub(map.at(x, y + 1.0), c);
    let at = |p: P, i: f64, j: f64| img.at(p.0 + ex.0 * i + ey.0 * j, p.1 + ex.1 * i + ey.1 * j);
    const RING: [(f64, f64); 8] = [
        (1.0, 0.0),
        (-1.0, 0.0),
        (0.0, 1.0),
        (0.0, -1.0),
        (1.0, 1.0),
        (-1.0, 1.0),
        (1.0, -1.0),
        (-1.0, -1.0),
    ];
    let score = |p: P| {
        let centre = at(p, 0.0, 0.0);
        let light = RING.iter().map(|&(i, j)| at(p, i, j)).sum::<f64>() / 8.0;
        let dark = RING
            .iter()
            .map(|&(i, j)| at(p, 2.0 * i, 2.0 * j))
            .sum::<f64>()
            / 8.0;
        light - (centre + dark) / 2.0
    };
    let mut best: Option<(f64, P)> = None;
    for i in -8..=8 {
        for j in -8..=8 {
            let (a, b) = (f64::from(i) * 0.25, f64::from(j) * 0.25);
            let p = (c.0 + ex.0 * a + ey.0 * b, c.1 + ex.1 * a + ey.1 * b);
            // Nearer the prediction wins a tie.
            let s = score(p) - 0.5 * (a * a + b * b).sqrt();
            if best.is_none_or(|(bs, _)| s > bs) {
                best = Some((s, p));
            }
        }
    }
    best.filter(|&(s, _)| s > contrast / 5.0).map(|(_, p)| p)
}

fn sub(a: P, b: P) -> P {
    (a.0 - b.0, a.1 - b.1)
}

/// The maps to sample version `v` with after the outline's projective map failed: for
/// versions with alignment patterns, that map with its fourth corner moved so that the
/// bottom-right alignment pattern lands where it was found (three outer corners and
/// that pattern, as other readers do); and the outline's map corrected at every
/// alignment pattern found (for paper that is not flat).
fn refined_maps(img: &Img<'_>, hmg: &Homography, quad: [P; 4], v: i32, n: usize) -> Vec<GridMap> {
    let nf = n as f64;
    let base = GridMap {
        h: *hmg,
        n: nf,
        field: Vec::new(),
    };
    let centres = alignment_centres(v);
    if centres.is_empty() {
        return Vec::new();
    }
    // Contrast of the code: from a coarse sample of the whole grid.
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for y in 0..n {
        for x in 0..n {
            let p = base.at(x as f64 + 0.5, y as f64 + 0.5);
            let g = img.at(p.0, p.1);
            lo = lo.min(g);
            hi = hi.max(g);
        }
    }
    let contrast = hi - lo;
    let mut field = Vec::with_capacity(centres.len() + 3);
    for (x, y) in [(3.5, 3.5), (nf - 3.5, 3.5), (3.5, nf - 3.5)] {
        field.push((x, y, 0.0, 0.0));
    }
    let mut br_found = None;
    for &(x, y) in &centres {
        if let Some(p) = find_alignment(img, &base, x, y, contrast) {
            let q = base.at(x, y);
            field.push((x, y, p.0 - q.0, p.1 - q.1));
            if x > nf - 8.0 && y > nf - 8.0 {
                br_found = Some(p);
            }
        }
    }
    let mut maps = Vec::new();
    if let Some(target) = br_found {
        // Move the fourth corner until the pattern's centre maps onto the point found
        // (a few fixed-point steps: the corner moves the point by about a² of its move).
        let a = (nf - 6.5) / nf;
        let mut q = quad;
        for _ in 0..8 {
            let h = Homography::square_to_quad(q);
            let p = h.apply(a, a);
            q[2].0 += (target.0 - p.0) / (a * a);
            q[2].1 += (target.1 - p.1) / (a * a);
        }
        if q[2].0.is_finite() && q[2].1.is_finite() {
            maps.push(GridMap {
                h: Homography::square_to_quad(q),
                n: nf,
                field: Vec::new(),
            });
        }
    }
    if field.len() > 3 {
        maps.push(GridMap {
            h: *hmg,
            n: nf,
            field,
        });
    }
    maps
}

/// Reads a code of which only two finder patterns were found (the third is blurred,
/// small or in shadow). The two may be the ends of one side (the third then lies on
/// either side of them, at either end) or the diagonal; each of the six places is
/// checked for a finder-like pattern before the grid is read.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_pair(
    luma: &[u8],
    w: usize,
    h: usize,
    p: P,
    q: P,
    module: f64,
    inverted: bool,
    accept: Accept,
) -> Result<(Payload, Finders), QrError> {
    if w < 2 || h < 2 || luma.len() < w * h || !usable_module(module) {
        return Err(QrError::NoCode);
    }
    let img = Img {
        luma,
        w,
        h,
        inverted,
    };
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let perp = (-dy, dx);
    let mid = ((p.0 + q.0) / 2.0, (p.1 + q.1) / 2.0);
    // (corner, other two): the guessed finder is always the last one listed.
    let mut guesses: Vec<(P, P, P)> = Vec::with_capacity(6);
    for s in [1.0, -1.0] {
        guesses.push((p, q, (p.0 + s * perp.0, p.1 + s * perp.1)));
        guesses.push((q, p, (q.0 + s * perp.0, q.1 + s * perp.1)));
        let c = (mid.0 + s * perp.0 / 2.0, mid.1 + s * perp.1 / 2.0);
        guesses.push((c, p, q));
    }
    let mut outcome = QrError::NoCode;
    for (corner, b, c) in guesses {
        // One axis of the code: from the corner to either other finder.
        let axis = (b.0 - corner.0, b.1 - corner.1);
        // The place nobody saw: the third point for side guesses, the corner otherwise.
        let side_guess = corner == p || corner == q;
        let unseen = if side_guess { c } else { corner };
        let Some(found) = find_finder_near(&img, unseen, axis, module) else {
            continue;
        };
        let finders = if side_guess {
            Finders::oriented(corner, b, found, module)
        } else {
            Finders::oriented(found, b, c, module)
        };
        match read(luma, w, h, &finders, inverted, accept) {
            Ok(p) => return Ok((p, finders)),
            Err(e @ QrError::NotAnApplicationId(_)) => outcome = e,
            Err(_) => outcome = QrError::Unreadable,
        }
    }
    Err(outcome)
}

/// Where a finder pattern is near `c` (within 1.5 modules: the guess inherits the other
/// two centres' errors): the centre and the dark ring (3 modules out) must both be
/// darker than the light ring between them (2 modules out) along both axes of the code.
/// Returns the best-matching place.
fn find_finder_near(img: &Img<'_>, c: P, axis: P, m: f64) -> Option<P> {
    let u = unit((0.0, 0.0), axis)?;
    let v = (-u.1, u.0);
    let dirs = [u, v, (-u.0, -u.1), (-v.0, -v.1)];
    let score = |p: P| {
        let centre = img.at(p.0, p.1);
        dirs.iter()
            .map(|d| {
                let light = img.at(p.0 + d.0 * 2.0 * m, p.1 + d.1 * 2.0 * m);
                let ring = img.at(p.0 + d.0 * 3.0 * m, p.1 + d.1 * 3.0 * m);
                light - centre.max(ring)
            })
            .fold(f64::MAX, f64::min)
    };
    let mut best: Option<(f64, P)> = None;
    for i in -3..=3 {
        for j in -3..=3 {
            let (a, b) = (f64::from(i) * 0.5 * m, f64::from(j) * 0.5 * m);
            let p = (c.0 + u.0 * a + v.0 * b, c.1 + u.1 * a + v.1 * b);
            let s = score(p);
            if s > 8.0 && best.is_none_or(|(bs, _)| s > bs) {
                best = Some((s, p));
            }
        }
    }
    best.map(|(_, p)| p)
}

fn decode(bits: Bits, accept: Accept) -> Result<Payload, QrError> {
    rqrr::guarded(move || rqrr::first_accepted([::rqrr::Grid::new(bits)], accept))
}

/// The frame, read with the code's polarity folded in (dark = low).
struct Img<'a> {
    luma: &'a [u8],
    w: usize,
    h: usize,
    inverted: bool,
}

impl Img<'_> {
    /// Bilinear sample; points outside the frame are clamped to its edge.
    fn at(&self, x: f64, y: f64) -> f64 {
        let x = x.clamp(0.0, (self.w - 1) as f64);
        let y = y.clamp(0.0, (self.h - 1) as f64);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (tx, ty) = (x - x0 as f64, y - y0 as f64);
        let p = |xx: usize, yy: usize| f64::from(self.luma[yy * self.w + xx]);
        let v = (p(x0, y0) * (1.0 - tx) + p(x1, y0) * tx) * (1.0 - ty)
            + (p(x0, y1) * (1.0 - tx) + p(x1, y1) * tx) * ty;
        if self.inverted {
            255.0 - v
        } else {
            v
        }
    }
}

fn dist(a: P, b: P) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

fn unit(a: P, b: P) -> Option<P> {
    let d = dist(a, b);
    (d > 1e-6).then(|| ((b.0 - a.0) / d, (b.1 - a.1) / d))
}

/// A fitted line: a point on it and its unit direction.
#[derive(Debug, Clone, Copy)]
struct Line {
    p: P,
    d: P,
}

fn intersect(a: Line, b: Line) -> Option<P> {
    let den = a.d.0 * b.d.1 - a.d.1 * b.d.0;
    if den.abs() < 0.05 {
        return None; // nearly parallel
    }
    let t = ((b.p.0 - a.p.0) * b.d.1 - (b.p.1 - a.p.1) * b.d.0) / den;
    Some((a.p.0 + t * a.d.0, a.p.1 + t * a.d.1))
}

/// Total-least-squares line through points, fitted again without the points more than
/// max(1 px, 3 × the median residual) off the first fit (a ray that grazed a corner of
/// the finder, or hit a mark on the paper).
fn fit_line(pts: &[P]) -> Option<Line> {
    let first = fit_line_once(pts)?;
    let residual = |p: &P| ((p.0 - first.p.0) * first.d.1 - (p.1 - first.p.1) * first.d.0).abs();
    let mut r: Vec<f64> = pts.iter().map(residual).collect();
    r.sort_by(f64::total_cmp);
    let limit = (3.0 * r[r.len() / 2]).max(1.0);
    let kept: Vec<P> = pts
        .iter()
        .copied()
        .filter(|p| residual(p) <= limit)
        .collect();
    if kept.len() == pts.len() {
        Some(first)
    } else {
        fit_line_once(&kept)
    }
}

fn fit_line_once(pts: &[P]) -> Option<Line> {
    if pts.len() < 4 {
        return None;
    }
    let n = pts.len() as f64;
    let (mx, my) = pts
        .iter()
        .fold((0.0, 0.0), |(sx, sy), p| (sx + p.0, sy + p.1));
    let (mx, my) = (mx / n, my / n);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for p in pts {
        let (dx, dy) = (p.0 - mx, p.1 - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    Some(Line {
        p: (mx, my),
        d: (angle.cos(), angle.sin()),
    })
}

/// Points of one outer side of a finder: rays from `c + t·along` (t over the side's
/// middle five modules) along `out`, each giving the outermost point where the grey
/// level crosses halfway between the finder's dark ring and the quiet zone beyond it.
/// Walking in from the quiet zone (6 modules out) makes the point independent of the
/// finder centre's error up to about 1.5 modules.
fn side_points(img: &Img<'_>, c: P, along: P, out: P, m: f64) -> Vec<P> {
    const STEP: f64 = 0.125; // modules
    const FROM: f64 = 1.5; // modules out from the centre
    const TO: f64 = 6.0;
    const REACH: f64 = 5.25; // modules out: the ring's edge with the centre 1.75 off
    let steps = ((TO - FROM) / STEP) as usize;
    let reach = ((REACH - FROM) / STEP) as usize;
    let at = |i: usize| (FROM + i as f64 * STEP) * m;
    let mut pts = Vec::with_capacity(11);
    let mut prof = Vec::with_capacity(steps + 1);
    for k in -5..=5 {
        let t = f64::from(k) * 0.5 * m;
        let base = (c.0 + along.0 * t, c.1 + along.1 * t);
        prof.clear();
        prof.extend((0..=steps).map(|i| img.at(base.0 + out.0 * at(i), base.1 + out.1 * at(i))));
        // Paper: the brightest point; ring: the darkest point.
        let light = prof.iter().copied().fold(f64::MIN, f64::max);
        let dark = prof.iter().copied().fold(f64::MAX, f64::min);
        if light - dark < 12.0 {
            continue;
        }
        let mid = (dark + light) / 2.0;
        // The outermost step from below halfway to above it within REACH modules: the
        // ring's outer edge, also when the quiet zone is narrow and a dark table or
        // background begins a module or two beyond it.
        let Some(j) = (0..reach)
            .rev()
            .find(|&j| prof[j] < mid && prof[j + 1] >= mid)
        else {
            continue;
        };
        let frac = (mid - prof[j]) / (prof[j + 1] - prof[j]).max(1e-9);
        let s = (FROM + (j as f64 + frac) * STEP) * m;
        pts.push((base.0 + out.0 * s, base.1 + out.1 * s));
    }
    pts
}

/// The code's four outer corners (top-left, top-right, bottom-right, bottom-left).
fn outline(img: &Img<'_>, f: &Finders) -> Option<[P; 4]> {
    let hx = unit(f.corner, f.right)?;
    let vy = unit(f.corner, f.down)?;
    let neg = |p: P| (-p.0, -p.1);
    let m = f.module;
    let pts = |c: P, along: P, out: P| side_points(img, c, along, out, m);
    let a_top = pts(f.corner, hx, neg(vy));
    let b_top = pts(f.right, hx, neg(vy));
    let a_left = pts(f.corner, vy, neg(hx));
    let c_left = pts(f.down, vy, neg(hx));
    // The top side is fitted through both top finders' points (a longer baseline),
    // likewise the left side; the right and bottom sides have one finder each.
    let top = fit_line(&[a_top, b_top].concat())?;
    let left = fit_line(&[a_left, c_left].concat())?;
    let right = fit_line(&pts(f.right, vy, hx))?;
    let bottom = fit_line(&pts(f.down, hx, vy))?;
    let tl = intersect(top, left)?;
    let tr = intersect(top, right)?;
    let br = intersect(right, bottom)?;
    let bl = intersect(left, bottom)?;
    // Sanity: a convex quad of a plausible size.
    let span = dist(tl, tr).min(dist(tl, bl));
    let far = dist(tl, br);
    if !(span.is_finite() && far.is_finite()) || span <= 5.0 * m || far > 400.0 * m {
        return None;
    }
    Some([tl, tr, br, bl])
}

/// Mean of five samples around each module centre, row-major, `n`×`n`.
fn sample_grid(img: &Img<'_>, map: &GridMap, n: usize) -> Zeroizing<Vec<f64>> {
    let mut out = Zeroizing::new(Vec::with_capacity(n * n));
    const OFF: [(f64, f64); 5] = [(0.0, 0.0), (-0.2, 0.0), (0.2, 0.0), (0.0, -0.2), (0.0, 0.2)];
    for y in 0..n {
        for x in 0..n {
            let mut acc = 0.0;
            for (dx, dy) in OFF {
                let (px, py) = map.at(x as f64 + 0.5 + dx, y as f64 + 0.5 + dy);
                acc += img.at(px, py);
            }
            out.push(acc / OFF.len() as f64);
        }
    }
    out
}

/// Each sample against the mean of the samples within 4 modules (light that varies
/// across the code: a shadow, a glare); dark = below it.
fn local_threshold(s: &[f64], n: usize) -> Bits {
    const R: usize = 4;
    let mut dark = Zeroizing::new(Vec::with_capacity(n * n));
    for y in 0..n {
        for x in 0..n {
            let (y0, y1) = (y.saturating_sub(R), (y + R + 1).min(n));
            let (x0, x1) = (x.saturating_sub(R), (x + R + 1).min(n));
            let mut acc = 0.0;
            for yy in y0..y1 {
                acc += s[yy * n + x0..yy * n + x1].iter().sum::<f64>();
            }
            let mean = acc / ((y1 - y0) * (x1 - x0)) as f64;
            dark.push(u8::from(s[y * n + x] < mean));
        }
    }
    Bits { n, dark }
}

/// Each sample pushed away from the mean of its four neighbours.
fn sharpened(s: &[f64], n: usize) -> Zeroizing<Vec<f64>> {
    let mut out = Zeroizing::new(vec![0.0; n * n]);
    for y in 0..n {
        for x in 0..n {
            let c = s[y * n + x];
            let mut acc = 0.0;
            let mut k = 0.0;
            for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                if xx >= 0 && yy >= 0 && (xx as usize) < n && (yy as usize) < n {
                    acc += s[yy as usize * n + xx as usize];
                    k += 1.0;
                }
            }
            out[y * n + x] = c + (c - acc / k);
        }
    }
    out
}

/// Otsu's threshold over the samples; dark = below it.
fn threshold(s: &[f64], n: usize) -> Bits {
    let lo = s.iter().copied().fold(f64::MAX, f64::min);
    let hi = s.iter().copied().fold(f64::MIN, f64::max);
    let span = (hi - lo).max(1e-9);
    const BINS: usize = 64;
    let mut hist = [0u32; BINS];
    for &v in s {
        let b = (((v - lo) / span) * (BINS - 1) as f64).round() as usize;
        hist[b.min(BINS - 1)] += 1;
    }
    let total = s.len() as f64;
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * f64::from(c))
        .sum();
    let (mut w0, mut sum0, mut best, mut best_t) = (0.0, 0.0, -1.0, BINS / 2);
    for (t, &c) in hist.iter().enumerate() {
        w0 += f64::from(c);
        sum0 += t as f64 * f64::from(c);
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let (m0, m1) = (sum0 / w0, (sum_all - sum0) / w1);
        let between = w0 * w1 * (m0 - m1).powi(2);
        if between > best {
            best = between;
            best_t = t;
        }
    }
    let t = lo + (best_t as f64 + 0.5) / (BINS - 1) as f64 * span;
    Bits {
        n,
        dark: Zeroizing::new(s.iter().map(|&v| u8::from(v < t)).collect()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::synth::{self, Placement};

    const ID: &str = "12345678901234567890123";

    fn id(p: Payload) -> String {
        String::from_utf8(p.to_vec()).unwrap()
    }

    /// A version-1 code printed with `p`, its truth finder centres, and the frame.
    fn scene(p: &Placement, blur: f64) -> (Vec<u8>, usize, usize, Finders) {
        let (w, h) = (640, 480);
        let code =
            qrcode::QrCode::with_error_correction_level(ID.as_bytes(), qrcode::EcLevel::M).unwrap();
        let n = code.width();
        assert_eq!(n, 21);
        let colors = code.to_colors();
        let dark = |x: usize, y: usize| colors[y * n + x] == qrcode::Color::Dark;
        let mut luma = synth::background(w, h, 3);
        let quad = synth::place_code(&mut luma, w, h, n, &dark, p);
        if blur > 0.0 {
            synth::gaussian_blur(&mut luma, w, h, blur);
        }
        // Finder centres at modules (3.5, 3.5), (17.5, 3.5), (3.5, 17.5) of the quad.
        let hmg = Homography::square_to_quad(quad);
        let at = |u: f64, v: f64| hmg.apply(u / 21.0, v / 21.0);
        let f = Finders::oriented(at(3.5, 3.5), at(17.5, 3.5), at(3.5, 17.5), p.module_px);
        (luma, w, h, f)
    }

    fn placement(module: f64, rotation: f64, perspective: f64) -> Placement {
        Placement {
            module_px: module,
            cx: 320.0,
            cy: 240.0,
            rotation_deg: rotation,
            perspective,
            ..Placement::default()
        }
    }

    #[test]
    fn reads_a_clean_code_from_its_finders() {
        let (luma, w, h, f) = scene(&placement(6.0, 10.0, 0.0), 0.0);
        assert_eq!(
            id(read(&luma, w, h, &f, false, Accept::ApplicationId).unwrap()),
            ID
        );
    }

    #[test]
    fn strong_keystone_is_followed_by_the_outline() {
        // The parallelogram through the three centres misses the far corner by several
        // modules here; the fitted outline does not.
        let (luma, w, h, f) = scene(&placement(6.0, 25.0, 0.4), 0.0);
        let d = (
            f.right.0 + f.down.0 - f.corner.0,
            f.right.1 + f.down.1 - f.corner.1,
        );
        let quad = outline(
            &Img {
                luma: &luma,
                w,
                h,
                inverted: false,
            },
            &f,
        )
        .unwrap();
        // Bottom-right finder-centre position implied by the outline vs the parallelogram.
        let hmg = Homography::square_to_quad(quad);
        let br = hmg.apply(17.5 / 21.0, 17.5 / 21.0);
        assert!(dist(br, d) > 2.0 * 6.0, "keystone too weak for this test");
        assert_eq!(
            id(read(&luma, w, h, &f, false, Accept::ApplicationId).unwrap()),
            ID
        );
    }

    #[test]
    fn heavy_blur_is_read() {
        // σ = half a module, as the corpus's hardest blur frames.
        let (luma, w, h, f) = scene(&placement(5.0, 5.0, 0.1), 2.5);
        assert_eq!(
            id(read(&luma, w, h, &f, false, Accept::ApplicationId).unwrap()),
            ID
        );
    }

    #[test]
    fn centres_off_by_a_module_still_read() {
        let (luma, w, h, mut f) = scene(&placement(6.0, -6.0, 0.0), 0.0);
        f.corner.0 += 6.0;
        f.right.1 += 6.0;
        f.down.0 -= 5.0;
        assert_eq!(
            id(read(&luma, w, h, &f, false, Accept::ApplicationId).unwrap()),
            ID
        );
    }

    #[test]
    fn two_finders_are_enough() {
        let (luma, w, h, f) = scene(&placement(5.0, 12.0, 0.0), 0.0);
        // Any two of the three, in either order.
        for (p, q) in [(f.right, f.down), (f.corner, f.right), (f.down, f.corner)] {
            let (payload, _) =
                read_pair(&luma, w, h, p, q, f.module, false, Accept::ApplicationId).unwrap();
            assert_eq!(id(payload), ID);
        }
    }

    #[test]
    fn no_code_and_bad_input_are_errors() {
        let (w, h) = (200, 200);
        let luma = synth::background(w, h, 9);
        let f = Finders::oriented((50.0, 50.0), (150.0, 50.0), (50.0, 150.0), 5.0);
        assert!(read(&luma, w, h, &f, false, Accept::Any).is_err());
        assert!(read(
            &luma,
            w,
            h,
            &Finders {
                module: f64::NAN,
                ..f
            },
            false,
            Accept::Any
        )
        .is_err());
        assert!(read(&luma[..100], w, h, &f, false, Accept::Any).is_err());
        assert!(read_pair(
            &luma,
            w,
            h,
            (10.0, 10.0),
            (10.0, 10.0),
            3.0,
            false,
            Accept::Any
        )
        .is_err());
        // Far outside the frame.
        let far = Finders::oriented((-1e9, 5.0), (1e9, 5.0), (5.0, 1e12), 1e6);
        assert!(read(&luma, w, h, &far, false, Accept::Any).is_err());
    }

    #[test]
    fn lines_meet_where_expected() {
        let a = Line {
            p: (0.0, 5.0),
            d: (1.0, 0.0),
        };
        let b = Line {
            p: (3.0, 0.0),
            d: (0.0, 1.0),
        };
        let p = intersect(a, b).unwrap_or((f64::NAN, f64::NAN));
        assert!((p.0 - 3.0).abs() < 1e-9 && (p.1 - 5.0).abs() < 1e-9);
        assert!(intersect(a, a).is_none());
    }

    #[test]
    fn fitted_line_follows_the_points() {
        let pts: Vec<P> = (0..10)
            .map(|i| (f64::from(i), 2.0 * f64::from(i) + 1.0))
            .collect();
        let l = fit_line(&pts).unwrap_or(Line {
            p: (0.0, 0.0),
            d: (1.0, 0.0),
        });
        assert!((l.d.1 / l.d.0 - 2.0).abs() < 1e-9);
        assert!(fit_line(&pts[..3]).is_none());
    }

    #[test]
    fn otsu_splits_two_levels() {
        let s: Vec<f64> = (0..25)
            .map(|i| if i % 3 == 0 { 40.0 } else { 200.0 })
            .collect();
        let b = threshold(&s, 5);
        for (i, &d) in b.dark.iter().enumerate() {
            assert_eq!(d == 1, i % 3 == 0);
        }
    }

    #[test]
    fn orientation_puts_right_before_down() {
        let f = Finders::oriented((0.0, 0.0), (0.0, 10.0), (10.0, 0.0), 1.0);
        assert_eq!(f.right, (10.0, 0.0));
        assert_eq!(f.down, (0.0, 10.0));
    }
}
