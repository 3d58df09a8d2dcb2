//! Plane geometry shared by the QR reader and the corpus generator: the square-to-quad
//! projective map (Heckbert, "Fundamentals of Texture Mapping", 1989, §2.2.3).

/// Square-to-quad projective map (Heckbert), corners for (0,0), (1,0), (1,1), (0,1).
#[derive(Debug, Clone, Copy)]
pub struct Homography([f64; 9]);

impl Homography {
    pub fn square_to_quad(q: [(f64, f64); 4]) -> Self {
        let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = q;
        let sx = x0 - x1 + x2 - x3;
        let sy = y0 - y1 + y2 - y3;
        let (dx1, dx2, dy1, dy2) = (x1 - x2, x3 - x2, y1 - y2, y3 - y2);
        let den = dx1 * dy2 - dx2 * dy1;
        let (g, h) = if den.abs() < 1e-12 {
            (0.0, 0.0)
        } else {
            ((sx * dy2 - dx2 * sy) / den, (dx1 * sy - sx * dy1) / den)
        };
        Self([
            x1 - x0 + g * x1,
            x3 - x0 + h * x3,
            x0,
            y1 - y0 + g * y1,
            y3 - y0 + h * y3,
            y0,
            g,
            h,
            1.0,
        ])
    }
    pub fn inverse(&self) -> Self {
        let [a, b, c, d, e, f, g, h, i] = self.0;
        let m = [
            e * i - f * h,
            c * h - b * i,
            b * f - c * e,
            f * g - d * i,
            a * i - c * g,
            c * d - a * f,
            d * h - e * g,
            b * g - a * h,
            a * e - b * d,
        ];
        Self(m)
    }
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f, g, h, i] = self.0;
        let z = g * x + h * y + i;
        ((a * x + b * y + c) / z, (d * x + e * y + f) / z)
    }
}
