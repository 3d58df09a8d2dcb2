//! Small greyscale image operations used by the QR scanner and the face checks.
//! Plain safe Rust over `&[u8]` rows; every function checks its buffer sizes and
//! never panics on well-formed (w, h, len ≥ w·h) input.

use zeroize::Zeroizing;

use crate::raster::{Luma, RgbRef};

/// A rectangle in pixel coordinates (`x`, `y` may be negative when a box leaves the image).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Self { x, y, w, h }
    }
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    pub fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    pub fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
    pub fn scale(&self, s: f64) -> Self {
        Self::new(self.x * s, self.y * s, self.w * s, self.h * s)
    }
    /// Grows the rectangle by `m` on every side.
    pub fn grow(&self, m: f64) -> Self {
        Self::new(self.x - m, self.y - m, self.w + 2.0 * m, self.h + 2.0 * m)
    }
    /// Integer bounds clamped to a `w`×`h` image: (x0, y0, x1, y1), possibly empty.
    pub fn clamp_to(&self, w: usize, h: usize) -> (usize, usize, usize, usize) {
        let c = |v: f64, max: usize| -> usize {
            if v.is_nan() || v <= 0.0 {
                0
            } else if v >= max as f64 {
                max
            } else {
                v as usize
            }
        };
        let x0 = c(self.x.floor(), w);
        let y0 = c(self.y.floor(), h);
        let x1 = c(self.right().ceil(), w).max(x0);
        let y1 = c(self.bottom().ceil(), h).max(y0);
        (x0, y0, x1, y1)
    }
    /// Area of the intersection with another rectangle.
    pub fn intersection_area(&self, o: &Rect) -> f64 {
        let w = (self.right().min(o.right()) - self.x.max(o.x)).max(0.0);
        let h = (self.bottom().min(o.bottom()) - self.y.max(o.y)).max(0.0);
        w * h
    }
}

/// RGB8 → luma (BT.601 integer weights).
pub fn rgb_to_luma(img: RgbRef<'_>) -> Luma {
    let n = img.width() * img.height();
    let mut out = Zeroizing::new(Vec::with_capacity(n));
    for p in img.pixels().chunks_exact(3) {
        let y = (77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8;
        out.push(y.min(255) as u8);
    }
    Luma::from_checked(img.width(), img.height(), out)
}

/// Copies a sub-rectangle (already clamped) of a luma image.
pub fn crop_luma(
    luma: &[u8],
    w: usize,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
) -> Zeroizing<Vec<u8>> {
    let cw = x1.saturating_sub(x0);
    let mut out = Zeroizing::new(Vec::with_capacity(cw * y1.saturating_sub(y0)));
    for y in y0..y1 {
        let row = y * w;
        if let Some(s) = luma.get(row + x0..row + x1) {
            out.extend_from_slice(s);
        }
    }
    out
}

/// Box-filter downscale by an integer factor `f` (≥ 1). Returns (pixels, w', h').
pub fn downscale(luma: &[u8], w: usize, h: usize, f: usize) -> (Zeroizing<Vec<u8>>, usize, usize) {
    let f = f.max(1);
    let (nw, nh) = (w / f, h / f);
    let mut out = Zeroizing::new(vec![0u8; nw * nh]);
    if luma.len() < w * h || nw == 0 || nh == 0 {
        return (out, nw, nh);
    }
    if f == 2 {
        // The common case, written so that it vectorises: two rows, pairs of columns.
        for (oy, dst) in out.chunks_exact_mut(nw).enumerate() {
            let a = &luma[2 * oy * w..2 * oy * w + 2 * nw];
            let b = &luma[(2 * oy + 1) * w..(2 * oy + 1) * w + 2 * nw];
            for ((d, pa), pb) in dst.iter_mut().zip(a.chunks_exact(2)).zip(b.chunks_exact(2)) {
                let s = u16::from(pa[0]) + u16::from(pa[1]) + u16::from(pb[0]) + u16::from(pb[1]);
                *d = ((s + 2) >> 2) as u8;
            }
        }
        return (out, nw, nh);
    }
    let area = (f * f) as u32;
    let mut acc = Zeroizing::new(vec![0u32; nw]);
    for oy in 0..nh {
        acc.iter_mut().for_each(|a| *a = 0);
        for dy in 0..f {
            let row = &luma[(oy * f + dy) * w..(oy * f + dy) * w + nw * f];
            for (a, chunk) in acc.iter_mut().zip(row.chunks_exact(f)) {
                *a += chunk.iter().map(|&v| u32::from(v)).sum::<u32>();
            }
        }
        for (o, a) in out[oy * nw..(oy + 1) * nw].iter_mut().zip(acc.iter()) {
            *o = ((a + area / 2) / area) as u8;
        }
    }
    (out, nw, nh)
}

/// Local threshold on a grid of `block`×`block` cells: a pixel is dark (1) when it is
/// below `(100 − t_percent)%` of the mean of the (2k+1)×(2k+1) cells around its own.
/// The same rule as [`adaptive_binarize`] with a window of about `(2k+1)·block` pixels,
/// at the cost of two passes over the pixels (cell sums, then one compare per pixel).
/// Returns one byte per pixel, 1 = dark, 0 = light (zeroized on drop: a binarised
/// frame still shows the code, and so the application ID).
pub fn block_binarize(
    luma: &[u8],
    w: usize,
    h: usize,
    block: usize,
    k: usize,
    t_percent: u32,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; w * h]);
    if w == 0 || h == 0 || luma.len() < w * h {
        return out;
    }
    let block = block.max(1);
    let (bw, bh) = (w.div_ceil(block), h.div_ceil(block));
    // Cell sums and pixel counts.
    let mut sums = Zeroizing::new(vec![0u32; bw * bh]);
    for y in 0..h {
        let cells = &mut sums[(y / block) * bw..(y / block + 1) * bw];
        for (cell, px) in cells.iter_mut().zip(luma[y * w..(y + 1) * w].chunks(block)) {
            *cell += px.iter().map(|&v| u32::from(v)).sum::<u32>();
        }
    }
    let cell_px = |bx: usize, by: usize| -> u64 {
        let cw = (w - bx * block).min(block);
        let ch = (h - by * block).min(block);
        (cw * ch) as u64
    };
    // Per-cell threshold from the window of cells around it (integral over cells).
    let iw = bw + 1;
    let mut integral = Zeroizing::new(vec![0u64; iw * (bh + 1)]);
    let mut counts = vec![0u64; iw * (bh + 1)];
    for by in 0..bh {
        let (mut rs, mut rc) = (0u64, 0u64);
        for bx in 0..bw {
            rs += u64::from(sums[by * bw + bx]);
            rc += cell_px(bx, by);
            integral[(by + 1) * iw + bx + 1] = integral[by * iw + bx + 1] + rs;
            counts[(by + 1) * iw + bx + 1] = counts[by * iw + bx + 1] + rc;
        }
    }
    let kk = 100u64.saturating_sub(u64::from(t_percent.min(100)));
    let mut thr = Zeroizing::new(vec![0u8; bw * bh]);
    for by in 0..bh {
        let (y0, y1) = (by.saturating_sub(k), (by + k + 1).min(bh));
        for bx in 0..bw {
            let (x0, x1) = (bx.saturating_sub(k), (bx + k + 1).min(bw));
            let rect =
                |t: &[u64]| t[y1 * iw + x1] + t[y0 * iw + x0] - t[y0 * iw + x1] - t[y1 * iw + x0];
            let (sum, count) = (rect(&integral), rect(&counts).max(1));
            // dark ⇔ v < mean·kk/100 ⇔ v < ⌈sum·kk / (100·count)⌉
            thr[by * bw + bx] = (sum * kk).div_ceil(100 * count).min(255) as u8;
        }
    }
    for y in 0..h {
        let t_row = &thr[(y / block) * bw..(y / block + 1) * bw];
        let src = &luma[y * w..(y + 1) * w];
        let dst = &mut out[y * w..(y + 1) * w];
        for ((d, s), &t) in dst.chunks_mut(block).zip(src.chunks(block)).zip(t_row) {
            for (dd, &v) in d.iter_mut().zip(s) {
                *dd = u8::from(v < t);
            }
        }
    }
    out
}

/// Bilinear resize of a luma image to exactly `nw`×`nh`.
pub fn resize_luma(luma: &[u8], w: usize, h: usize, nw: usize, nh: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; nw * nh]);
    if w == 0 || h == 0 || luma.len() < w * h || nw == 0 || nh == 0 {
        return out;
    }
    let sx = w as f32 / nw as f32;
    let sy = h as f32 / nh as f32;
    for oy in 0..nh {
        let fy = ((oy as f32 + 0.5) * sy - 0.5).clamp(0.0, (h - 1) as f32);
        let y0 = fy as usize;
        let y1 = (y0 + 1).min(h - 1);
        let ty = fy - y0 as f32;
        for ox in 0..nw {
            let fx = ((ox as f32 + 0.5) * sx - 0.5).clamp(0.0, (w - 1) as f32);
            let x0 = fx as usize;
            let x1 = (x0 + 1).min(w - 1);
            let tx = fx - x0 as f32;
            let a = f32::from(luma[y0 * w + x0]);
            let b = f32::from(luma[y0 * w + x1]);
            let c = f32::from(luma[y1 * w + x0]);
            let d = f32::from(luma[y1 * w + x1]);
            let v = (a * (1.0 - tx) + b * tx) * (1.0 - ty) + (c * (1.0 - tx) + d * tx) * ty;
            out[oy * nw + ox] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Adaptive (Bradley–Roth) threshold with an integral image: a pixel is dark (1) when it
/// is below `(100 − t_percent)%` of the mean of the (2r+1)² window around it.
/// Returns one byte per pixel, 1 = dark, 0 = light (zeroized on drop: a binarised
/// frame still shows the code, and so the application ID).
pub fn adaptive_binarize(
    luma: &[u8],
    w: usize,
    h: usize,
    r: usize,
    t_percent: u32,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; w * h]);
    if w == 0 || h == 0 || luma.len() < w * h {
        return out;
    }
    let iw = w + 1;
    let mut integral = Zeroizing::new(vec![0u32; iw * (h + 1)]);
    for y in 0..h {
        let mut row_sum = 0u32;
        let src = &luma[y * w..(y + 1) * w];
        for x in 0..w {
            row_sum += u32::from(src[x]);
            integral[(y + 1) * iw + x + 1] = integral[y * iw + x + 1] + row_sum;
        }
    }
    let r = r.max(1);
    let k = 100u64.saturating_sub(u64::from(t_percent.min(100)));
    for y in 0..h {
        let y0 = y.saturating_sub(r);
        let y1 = (y + r + 1).min(h);
        let src = &luma[y * w..(y + 1) * w];
        let dst = &mut out[y * w..(y + 1) * w];
        for x in 0..w {
            let x0 = x.saturating_sub(r);
            let x1 = (x + r + 1).min(w);
            let count = ((x1 - x0) * (y1 - y0)) as u64;
            let sum = u64::from(integral[y1 * iw + x1]) + u64::from(integral[y0 * iw + x0])
                - u64::from(integral[y0 * iw + x1])
                - u64::from(integral[y1 * iw + x0]);
            // v < mean·k/100  ⇔  v·count·100 < sum·k
            dst[x] = u8::from(u64::from(src[x]) * count * 100 < sum * k);
        }
    }
    out
}

/// Variance of the 4-neighbour Laplacian (a standard sharpness measure).
pub fn laplacian_variance(luma: &[u8], w: usize, h: usize) -> f64 {
    if w < 3 || h < 3 || luma.len() < w * h {
        return 0.0;
    }
    let mut sum = 0f64;
    let mut sum2 = 0f64;
    let mut n = 0f64;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let c = i32::from(luma[y * w + x]);
            let l = i32::from(luma[y * w + x - 1])
                + i32::from(luma[y * w + x + 1])
                + i32::from(luma[(y - 1) * w + x])
                + i32::from(luma[(y + 1) * w + x])
                - 4 * c;
            let l = f64::from(l);
            sum += l;
            sum2 += l * l;
            n += 1.0;
        }
    }
    let mean = sum / n;
    sum2 / n - mean * mean
}

/// Separable box blur of radius `r` (used for the eye-line heuristic).
pub fn box_blur(luma: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    if w == 0 || h == 0 || luma.len() < w * h || r == 0 {
        return luma.get(..w * h).map(<[u8]>::to_vec).unwrap_or_default();
    }
    let mut tmp = Zeroizing::new(vec![0u8; w * h]);
    for y in 0..h {
        let row = &luma[y * w..(y + 1) * w];
        for x in 0..w {
            let x0 = x.saturating_sub(r);
            let x1 = (x + r + 1).min(w);
            let s: u32 = row[x0..x1].iter().map(|&v| u32::from(v)).sum();
            tmp[y * w + x] = (s / (x1 - x0) as u32) as u8;
        }
    }
    let mut out = vec![0u8; w * h];
    for x in 0..w {
        for y in 0..h {
            let y0 = y.saturating_sub(r);
            let y1 = (y + r + 1).min(h);
            let s: u32 = (y0..y1).map(|yy| u32::from(tmp[yy * w + x])).sum();
            out[y * w + x] = (s / (y1 - y0) as u32) as u8;
        }
    }
    out
}
