//! The counter as the kiosk's camera sees it (used by the kiosk's screen tests and
//! benchmark, and the end-to-end kiosk test).

/// The applicant's portrait (`face`, e.g. the astronaut test image) and, lower left on
/// the desk, the form's QR code carrying `payload` (the bare 23 digits): one frame
/// serves both the scan and the photo screens. Returns width, height, RGB pixels.
pub fn counter_scene(face: &std::path::Path, payload: &str) -> (u32, u32, Vec<u8>) {
    let face = image::open(face)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-test-faces.sh)", face.display()))
        .to_rgb8();
    let (fw, fh) = (face.width() as usize, face.height() as usize);
    let (w, h) = (1100usize, 640usize);
    let mut data = vec![150u8; w * h * 3];
    let (fx, fy) = (400usize, 64usize);
    let src = face.as_raw();
    for y in 0..fh.min(h - fy) {
        let s = y * fw * 3;
        let d = ((fy + y) * w + fx) * 3;
        data[d..d + fw * 3].copy_from_slice(&src[s..s + fw * 3]);
    }
    let code = qrcode::QrCode::new(payload.as_bytes()).expect("QR code");
    let n = code.width();
    let colors = code.to_colors();
    let m = 6usize;
    let side = (n + 8) * m;
    let (ox, oy) = (20usize, h - side - 20);
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x / m) as isize - 4, (y / m) as isize - 4);
            let dark = mx >= 0
                && my >= 0
                && (mx as usize) < n
                && (my as usize) < n
                && colors[my as usize * n + mx as usize] == qrcode::Color::Dark;
            let v = if dark { 20 } else { 245 };
            let i = ((oy + y) * w + ox + x) * 3;
            data[i..i + 3].copy_from_slice(&[v, v, v]);
        }
    }
    (w as u32, h as u32, data)
}
