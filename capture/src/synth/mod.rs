//! Synthetic frames for the test corpus and the benchmarks: a QR module matrix (made by
//! the caller, e.g. with the `qrcode` crate) printed on a sheet of paper, placed in a
//! cluttered 1920×1080 scene with rotation, perspective, blur, noise, low contrast or
//! inversion. Deterministic (seeded xorshift). Not used by the agent at run time.

pub mod corpus;

/// Where the public-domain test faces are (`scripts/fetch-test-faces.sh` puts them in
/// the workspace's `target/test-faces`; `SHINSEI_TEST_FACES` overrides).
pub fn test_faces_dir() -> std::path::PathBuf {
    std::env::var_os("SHINSEI_TEST_FACES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-faces")
        })
}

use super::geometry::Homography;

/// Deterministic xorshift64* generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// A cluttered desk-like background: gradient lighting, random rectangles, text-like bars.
pub fn background(w: usize, h: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut img = vec![0u8; w * h];
    let base = rng.range(90.0, 160.0);
    let gx = rng.range(-40.0, 40.0);
    let gy = rng.range(-40.0, 40.0);
    for y in 0..h {
        for x in 0..w {
            let v = base + gx * (x as f64 / w as f64 - 0.5) + gy * (y as f64 / h as f64 - 0.5);
            img[y * w + x] = v.clamp(0.0, 255.0) as u8;
        }
    }
    for _ in 0..40 {
        let rw = rng.range(20.0, w as f64 / 4.0) as usize;
        let rh = rng.range(20.0, h as f64 / 4.0) as usize;
        let x0 = rng.range(0.0, (w - rw) as f64) as usize;
        let y0 = rng.range(0.0, (h - rh) as f64) as usize;
        let v = rng.range(20.0, 235.0) as u8;
        for y in y0..y0 + rh {
            img[y * w + x0..y * w + x0 + rw].fill(v);
        }
    }
    // "Printed text": short dark bars.
    for _ in 0..600 {
        let bw = rng.range(4.0, 60.0) as usize;
        let bh = rng.range(3.0, 12.0) as usize;
        let x0 = rng.range(0.0, (w - bw) as f64) as usize;
        let y0 = rng.range(0.0, (h - bh) as f64) as usize;
        let v = rng.range(10.0, 80.0) as u8;
        for y in y0..y0 + bh {
            img[y * w + x0..y * w + x0 + bw].fill(v);
        }
    }
    img
}

/// How the code is printed and seen.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// Module size in pixels (before perspective).
    pub module_px: f64,
    /// Centre of the code in the frame.
    pub cx: f64,
    pub cy: f64,
    /// In-plane rotation, degrees.
    pub rotation_deg: f64,
    /// Keystone: the top edge is (1 − p) and the bottom (1 + p) times as wide.
    pub perspective: f64,
    /// Horizontal keystone (left/right edges).
    pub perspective_x: f64,
    /// Grey levels of dark modules and of the paper.
    pub dark: u8,
    pub light: u8,
    /// Light modules on dark paper.
    pub inverted: bool,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            module_px: 6.0,
            cx: 960.0,
            cy: 540.0,
            rotation_deg: 0.0,
            perspective: 0.0,
            perspective_x: 0.0,
            dark: 20,
            light: 235,
            inverted: false,
        }
    }
}

/// Prints the code (`n`×`n` modules, `dark(x, y)`) on paper into the frame.
/// Returns the code's four corners in the frame.
pub fn place_code(
    img: &mut [u8],
    w: usize,
    h: usize,
    n: usize,
    dark: &dyn Fn(usize, usize) -> bool,
    p: &Placement,
) -> [(f64, f64); 4] {
    let quiet = 4.0;
    let paper = 5.0;
    let side_modules = n as f64 + 2.0 * (quiet + paper);
    let half = side_modules * p.module_px / 2.0;
    let (s, c) = p.rotation_deg.to_radians().sin_cos();
    let corner = |ux: f64, uy: f64| {
        // Keystone before rotation.
        let kx = 1.0 + p.perspective * uy + p.perspective_x * 0.0;
        let ky = 1.0 + p.perspective_x * ux;
        let (x, y) = (ux * half * kx, uy * half * ky);
        (p.cx + x * c - y * s, p.cy + x * s + y * c)
    };
    let quad = [
        corner(-1.0, -1.0),
        corner(1.0, -1.0),
        corner(1.0, 1.0),
        corner(-1.0, 1.0),
    ];
    let hmg = Homography::square_to_quad(quad);
    let inv = hmg.inverse();
    let minx = quad.iter().map(|q| q.0).fold(f64::MAX, f64::min).max(0.0) as usize;
    let maxx = quad
        .iter()
        .map(|q| q.0)
        .fold(f64::MIN, f64::max)
        .min(w as f64 - 1.0) as usize;
    let miny = quad.iter().map(|q| q.1).fold(f64::MAX, f64::min).max(0.0) as usize;
    let maxy = quad
        .iter()
        .map(|q| q.1)
        .fold(f64::MIN, f64::max)
        .min(h as f64 - 1.0) as usize;
    let (fg, bg) = if p.inverted {
        (f64::from(p.light), f64::from(p.dark))
    } else {
        (f64::from(p.dark), f64::from(p.light))
    };
    const SS: usize = 3;
    for y in miny..=maxy {
        for x in minx..=maxx {
            let mut acc = 0.0;
            let mut inside = 0;
            for sy in 0..SS {
                for sx in 0..SS {
                    let px = x as f64 + (sx as f64 + 0.5) / SS as f64;
                    let py = y as f64 + (sy as f64 + 0.5) / SS as f64;
                    let (u, v) = inv.apply(px, py);
                    if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
                        continue;
                    }
                    inside += 1;
                    let mx = u * side_modules - quiet - paper;
                    let my = v * side_modules - quiet - paper;
                    let is_dark = mx >= 0.0
                        && my >= 0.0
                        && (mx as usize) < n
                        && (my as usize) < n
                        && dark(mx as usize, my as usize);
                    acc += if is_dark { fg } else { bg };
                }
            }
            if inside > 0 {
                let old = f64::from(img[y * w + x]);
                let total = (SS * SS) as f64;
                let v = (acc + old * (total - inside as f64)) / total;
                img[y * w + x] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    let code_lo = (quiet + paper) / side_modules;
    let code_hi = (quiet + paper + n as f64) / side_modules;
    [
        hmg.apply(code_lo, code_lo),
        hmg.apply(code_hi, code_lo),
        hmg.apply(code_hi, code_hi),
        hmg.apply(code_lo, code_hi),
    ]
}

/// Separable Gaussian blur (σ in pixels).
pub fn gaussian_blur(img: &mut [u8], w: usize, h: usize, sigma: f64) {
    if sigma <= 0.0 || img.len() < w * h {
        return;
    }
    let r = (sigma * 3.0).ceil() as usize;
    let kernel: Vec<f64> = (0..=2 * r)
        .map(|i| {
            let d = i as f64 - r as f64;
            (-d * d / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let sum: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.iter().map(|k| k / sum).collect();
    let mut tmp = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (i, k) in kernel.iter().enumerate() {
                let xx = (x + i).saturating_sub(r).min(w - 1);
                acc += k * f64::from(img[y * w + xx]);
            }
            tmp[y * w + x] = acc as f32;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (i, k) in kernel.iter().enumerate() {
                let yy = (y + i).saturating_sub(r).min(h - 1);
                acc += k * f64::from(tmp[yy * w + x]);
            }
            img[y * w + x] = acc.round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Adds Gaussian noise of standard deviation `sigma`.
pub fn add_noise(img: &mut [u8], sigma: f64, seed: u64) {
    let mut rng = Rng::new(seed);
    for v in img.iter_mut() {
        *v = (f64::from(*v) + rng.normal() * sigma)
            .round()
            .clamp(0.0, 255.0) as u8;
    }
}

/// Rotates an RGB8 image about its centre by `deg` (bilinear; outside → edge colour).
pub fn rotate_rgb(rgb: &[u8], w: usize, h: usize, deg: f64) -> Vec<u8> {
    let mut out = vec![0u8; w * h * 3];
    if rgb.len() < w * h * 3 || w == 0 || h == 0 {
        return out;
    }
    let (s, c) = deg.to_radians().sin_cos();
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    for y in 0..h {
        for x in 0..w {
            let dx = x as f64 + 0.5 - cx;
            let dy = y as f64 + 0.5 - cy;
            let sx = (c * dx + s * dy + cx - 0.5).clamp(0.0, (w - 1) as f64);
            let sy = (-s * dx + c * dy + cy - 0.5).clamp(0.0, (h - 1) as f64);
            let (x0, y0) = (sx as usize, sy as usize);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (tx, ty) = (sx - x0 as f64, sy - y0 as f64);
            for ch in 0..3 {
                let p = |xx: usize, yy: usize| f64::from(rgb[(yy * w + xx) * 3 + ch]);
                let v = (p(x0, y0) * (1.0 - tx) + p(x1, y0) * tx) * (1.0 - ty)
                    + (p(x0, y1) * (1.0 - tx) + p(x1, y1) * tx) * ty;
                out[(y * w + x) * 3 + ch] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}
