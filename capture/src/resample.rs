//! Separable Catmull–Rom resampling of RGB images (the ID photo's final resize).
//!
//! The same filter as `image::imageops::FilterType::CatmullRom` (support 2, widened by
//! the scale factor when shrinking), in integer arithmetic: the weights of each output
//! column and row are computed once (14-bit fixed point, each set summing to exactly
//! 1.0), then a horizontal and a vertical pass of multiply-adds. About ten times
//! faster than the generic `f32` resize for a 1080p crop; the output differs from it
//! by rounding only.

use zeroize::Zeroizing;

use crate::raster::{Rgb, RgbRef};

const SHIFT: u32 = 14;
const ONE: i32 = 1 << SHIFT;
/// Fractional bits kept between the two passes.
const MID: u32 = 7;

/// Catmull–Rom cubic (B = 0, C = 0.5).
fn cubic(x: f32) -> f32 {
    let x = x.abs();
    if x < 1.0 {
        1.5 * x * x * x - 2.5 * x * x + 1.0
    } else if x < 2.0 {
        -0.5 * x * x * x + 2.5 * x * x - 4.0 * x + 2.0
    } else {
        0.0
    }
}

/// For each of `out_len` outputs: the first input index and the fixed-point weights
/// of the inputs from there on.
fn weights(in_len: usize, out_len: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_len as f32 / out_len as f32;
    let widen = scale.max(1.0);
    let support = 2.0 * widen;
    (0..out_len)
        .map(|o| {
            let centre = (o as f32 + 0.5) * scale;
            let lo = ((centre - support).floor().max(0.0)) as usize;
            let hi = ((centre + support).ceil() as usize).min(in_len);
            let lo = lo.min(hi.saturating_sub(1));
            let raw: Vec<f32> = (lo..hi)
                .map(|i| cubic((i as f32 + 0.5 - centre) / widen))
                .collect();
            let sum: f32 = raw.iter().sum();
            let sum = if sum.abs() < 1e-6 { 1.0 } else { sum };
            let mut w: Vec<i32> = raw
                .iter()
                .map(|v| (v / sum * ONE as f32).round() as i32)
                .collect();
            // Exactly one in total: the rounding remainder goes to the largest weight.
            let rest = ONE - w.iter().sum::<i32>();
            if let Some(m) = (0..w.len()).max_by_key(|&i| w[i]) {
                w[m] += rest;
            }
            (lo, w)
        })
        .collect()
}

/// Resizes an RGB image to `ow`×`oh` (each at least 1) with the Catmull–Rom filter.
pub fn resize_rgb(img: RgbRef<'_>, ow: usize, oh: usize) -> Rgb {
    let (w, h, src) = (img.width(), img.height(), img.pixels());
    let (ow, oh) = (ow.max(1), oh.max(1));
    let wx = weights(w, ow);
    let wy = weights(h, oh);
    // Horizontal pass: h rows of ow pixels, kept with MID fractional bits (i32: at most
    // about 255 · 2^7 · 1.3 in magnitude).
    let mut mid = Zeroizing::new(vec![0i32; h * ow * 3]);
    for y in 0..h {
        let row = &src[y * w * 3..(y + 1) * w * 3];
        let out = &mut mid[y * ow * 3..(y + 1) * ow * 3];
        for (x, (lo, ws)) in wx.iter().enumerate() {
            let (mut r, mut g, mut b) = (0i32, 0i32, 0i32);
            let taps = &row[lo * 3..(lo + ws.len()) * 3];
            for (&c, p) in ws.iter().zip(taps.chunks_exact(3)) {
                r += c * i32::from(p[0]);
                g += c * i32::from(p[1]);
                b += c * i32::from(p[2]);
            }
            let round = 1 << (SHIFT - MID - 1);
            out[x * 3] = (r + round) >> (SHIFT - MID);
            out[x * 3 + 1] = (g + round) >> (SHIFT - MID);
            out[x * 3 + 2] = (b + round) >> (SHIFT - MID);
        }
    }
    // Vertical pass, one output row at a time (i32: 2^7 · 255 · 1.3 · 2^14 < 2^31).
    let mut out = Zeroizing::new(vec![0u8; ow * oh * 3]);
    let mut acc = Zeroizing::new(vec![0i32; ow * 3]);
    for (y, (lo, ws)) in wy.iter().enumerate() {
        acc.iter_mut().for_each(|a| *a = 0);
        for (k, &c) in ws.iter().enumerate() {
            let row = &mid[(lo + k) * ow * 3..(lo + k + 1) * ow * 3];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += c * v;
            }
        }
        let dst = &mut out[y * ow * 3..(y + 1) * ow * 3];
        let round = 1 << (SHIFT + MID - 1);
        for (d, &a) in dst.iter_mut().zip(acc.iter()) {
            *d = ((a + round) >> (SHIFT + MID)).clamp(0, 255) as u8;
        }
    }
    Rgb::from_checked(ow, oh, out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn gradient(w: usize, h: usize) -> Rgb {
        let mut px = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                px.extend([(x * 255 / w) as u8, (y * 255 / h) as u8, 90]);
            }
        }
        Rgb::from_checked(w, h, Zeroizing::new(px))
    }

    #[test]
    fn matches_the_image_crates_catmull_rom_within_rounding() {
        for (w, h, ow, oh) in [(338, 435, 600, 771), (900, 1157, 600, 771), (7, 5, 3, 9)] {
            let src = gradient(w, h);
            let ours = resize_rgb(src.view(), ow, oh);
            let theirs = image::imageops::resize(
                &image::RgbImage::from_raw(w as u32, h as u32, src.view().pixels().to_vec())
                    .unwrap(),
                ow as u32,
                oh as u32,
                image::imageops::FilterType::CatmullRom,
            );
            let worst = ours
                .view()
                .pixels()
                .iter()
                .zip(theirs.as_raw())
                .map(|(&a, &b)| a.abs_diff(b))
                .max()
                .unwrap();
            assert!(worst <= 2, "{w}x{h} → {ow}x{oh}: differs by {worst}");
        }
    }

    #[test]
    fn flat_stays_flat_and_weights_sum_to_one() {
        let src = Rgb::from_checked(10, 10, Zeroizing::new(vec![77u8; 300]));
        let out = resize_rgb(src.view(), 33, 4);
        assert!(out.view().pixels().iter().all(|&v| v == 77));
        for (_, w) in weights(100, 37).iter().chain(weights(5, 80).iter()) {
            assert_eq!(w.iter().sum::<i32>(), ONE);
        }
    }
}
