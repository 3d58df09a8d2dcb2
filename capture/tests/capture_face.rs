#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Face detection, 35:45 crop and quality checks on the public-domain NASA portrait
//! of Eileen Collins (scikit-image's `astronaut.png`), installed by
//! `scripts/fetch-test-faces.sh` into `target/test-faces/` (or `$SHINSEI_TEST_FACES`).
//! Every check is exercised with an image that passes and one that fails; the failing
//! images are derived from the portrait (darkened, blurred, rotated, shrunk, shifted).

use image::ImageEncoder;
use shinsei_capture::crop::{self, CropReport, Verdict};
use shinsei_capture::raster::RgbRef;
use shinsei_capture::{synth, CaptureError};

/// The portrait as RGB8 (512×512).
fn astronaut() -> (Vec<u8>, u32, u32) {
    let path = shinsei_capture::synth::test_faces_dir().join("astronaut.png");
    let img = image::open(&path).unwrap_or_else(|e| {
        panic!(
            "test face image missing ({}: {e}); run scripts/fetch-test-faces.sh first",
            path.display()
        )
    });
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    (rgb.into_raw(), w, h)
}

fn png(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// RGB bytes of a test image as a typed image.
fn rgb_img(px: &[u8], w: u32, h: u32) -> RgbRef<'_> {
    RgbRef::new(w as usize, h as usize, px).unwrap()
}

fn run(rgb: &[u8], w: u32, h: u32) -> Result<CropReport, CaptureError> {
    crop::crop_report(&png(rgb, w, h)).map(|(_, r)| r)
}

fn verdict(r: &CropReport, id: &str) -> (Verdict, f64) {
    let c = r.checks.iter().find(|c| c.check.as_str() == id).unwrap();
    (c.verdict, c.value)
}

/// The portrait on the left of a frame twice as wide; on the right a second copy
/// (`second`) or neutral grey.
fn side_by_side(rgb: &[u8], w: u32, h: u32, second: bool) -> Vec<u8> {
    let mut out = vec![128u8; rgb.len() * 2];
    for y in 0..h as usize {
        let row = &rgb[y * w as usize * 3..(y + 1) * w as usize * 3];
        let dst = y * w as usize * 6;
        out[dst..dst + row.len()].copy_from_slice(row);
        if second {
            out[dst + row.len()..dst + 2 * row.len()].copy_from_slice(row);
        }
    }
    out
}

fn map_rgb(rgb: &[u8], f: impl Fn(f64) -> f64) -> Vec<u8> {
    rgb.iter()
        .map(|&v| f(f64::from(v)).round().clamp(0.0, 255.0) as u8)
        .collect()
}

fn blur_rgb(rgb: &[u8], w: u32, h: u32, sigma: f64) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    let mut out = rgb.to_vec();
    for ch in 0..3 {
        let mut plane: Vec<u8> = rgb.iter().skip(ch).step_by(3).copied().collect();
        synth::gaussian_blur(&mut plane, w, h, sigma);
        for (i, v) in plane.into_iter().enumerate() {
            out[i * 3 + ch] = v;
        }
    }
    out
}

fn sub_image(rgb: &[u8], w: u32, x0: u32, y0: u32, x1: u32, y1: u32) -> (Vec<u8>, u32, u32) {
    let mut out = Vec::new();
    for y in y0..y1 {
        let s = ((y * w + x0) * 3) as usize;
        out.extend_from_slice(&rgb[s..s + ((x1 - x0) * 3) as usize]);
    }
    (out, x1 - x0, y1 - y0)
}

fn resize_rgb(rgb: &[u8], w: u32, h: u32, f: f64) -> (Vec<u8>, u32, u32) {
    let img = image::RgbImage::from_raw(w, h, rgb.to_vec()).unwrap();
    let (nw, nh) = ((w as f64 * f) as u32, (h as f64 * f) as u32);
    let out = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle);
    (out.into_raw(), nw, nh)
}

/// Asserts `id` has `want`; prints the value.
fn expect(label: &str, r: &CropReport, id: &str, want: Verdict) {
    let (v, value) = verdict(r, id);
    println!("{label:<28} {id:<12} value {value:>9.3} → {v:?}");
    assert_eq!(v, want, "{label}: check {id} = {value}\n{}", r.to_json());
}

#[test]
fn reference_portrait_passes_every_check_and_output_is_a_valid_photo() {
    let (rgb, w, h) = astronaut();
    let (jpeg, r) = crop::crop_report(&png(&rgb, w, h)).unwrap();
    for c in &r.checks {
        println!(
            "reference {:<12} value {:>9.3} threshold {}",
            c.check.as_str(),
            c.value,
            c.threshold
        );
    }
    assert!(r.accepted, "{}", r.to_json());
    let photo = shinsei_capture::photo::photo_from_jpeg(&jpeg).unwrap();
    assert_eq!((photo.width(), photo.height()), (crop::OUT_W, crop::OUT_H));
    let crop_box = r.crop_box.unwrap();
    assert!((crop_box.w / crop_box.h - 35.0 / 45.0).abs() < 1e-6);
    // JSON report carries every check.
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["checks"].as_array().unwrap().len(), 8);
}

#[test]
fn exposure_checks() {
    let (rgb, w, h) = astronaut();
    let dark = map_rgb(&rgb, |v| v * 0.3);
    let r = run(&dark, w, h).unwrap();
    expect("darkened ×0.3", &r, "too_dark", Verdict::Fail);
    let bright = map_rgb(&rgb, |v| v * 1.5 + 40.0);
    let r = run(&bright, w, h).unwrap();
    expect("brightened ×1.5+40", &r, "overexposed", Verdict::Fail);
    let slightly = map_rgb(&rgb, |v| v * 0.8);
    let r = run(&slightly, w, h).unwrap();
    expect("darkened ×0.8", &r, "too_dark", Verdict::Pass);
    expect("darkened ×0.8", &r, "overexposed", Verdict::Pass);
}

#[test]
fn blur_check() {
    let (rgb, w, h) = astronaut();
    let r = run(&blur_rgb(&rgb, w, h, 2.5), w, h).unwrap();
    expect("gaussian σ2.5", &r, "blur", Verdict::Fail);
    let r = run(&blur_rgb(&rgb, w, h, 0.5), w, h).unwrap();
    expect("gaussian σ0.5", &r, "blur", Verdict::Pass);
}

#[test]
fn roll_check() {
    let (rgb, w, h) = astronaut();
    for deg in [-16.0, 16.0] {
        let r = run(&synth::rotate_rgb(&rgb, w as usize, h as usize, deg), w, h).unwrap();
        expect(&format!("rotated {deg}°"), &r, "roll", Verdict::Fail);
    }
    for deg in [-2.0, 2.0] {
        let r = run(&synth::rotate_rgb(&rgb, w as usize, h as usize, deg), w, h).unwrap();
        expect(&format!("rotated {deg}°"), &r, "roll", Verdict::Pass);
    }
}

#[test]
fn size_cut_off_and_centring_checks() {
    let (rgb, w, h) = astronaut();
    let (small, sw, sh) = resize_rgb(&rgb, w, h, 0.6);
    let r = run(&small, sw, sh).unwrap();
    expect("shrunk ×0.6", &r, "face_size", Verdict::Fail);
    // Top 25 rows removed: the crown touches the frame's top edge.
    let (top, tw, th) = sub_image(&rgb, w, 0, 25, w, h);
    let r = run(&top, tw, th).unwrap();
    expect("top 25 rows cut", &r, "cut_off", Verdict::Fail);
    // Left 175 columns removed: the face sits at the left edge.
    let (left, lw, lh) = sub_image(&rgb, w, 175, 0, w, h);
    let r = run(&left, lw, lh).unwrap();
    expect("left 175 columns cut", &r, "off_centre", Verdict::Fail);
    // Left 100 columns removed: still room for a centred crop.
    let (left, lw, lh) = sub_image(&rgb, w, 100, 0, w, h);
    let r = run(&left, lw, lh).unwrap();
    expect("left 100 columns cut", &r, "off_centre", Verdict::Pass);
    expect("left 100 columns cut", &r, "cut_off", Verdict::Pass);
}

#[test]
fn face_count_checks() {
    let (rgb, w, h) = astronaut();
    // Two portraits side by side.
    let two = side_by_side(&rgb, w, h, true);
    match run(&two, w * 2, h) {
        Err(CaptureError::Rejected { report_json, .. }) => {
            assert!(report_json.contains("\"face_count\""));
            assert!(report_json.contains("several faces"));
        }
        other => panic!("two faces accepted: {other:?}"),
    }
    // A scene without a face.
    let bg = synth::background(640, 480, 3);
    let rgb_bg: Vec<u8> = bg.iter().flat_map(|&v| [v, v, v]).collect();
    match run(&rgb_bg, 640, 480) {
        Err(CaptureError::Rejected { reasons, .. }) => assert!(reasons.contains("no face")),
        other => panic!("no-face scene accepted: {other:?}"),
    }
}

#[test]
fn corrupt_inputs_are_typed_errors() {
    assert!(matches!(
        crop::crop_report(b"not an image"),
        Err(CaptureError::Image(_))
    ));
    let (rgb, w, h) = astronaut();
    let mut bytes = png(&rgb, w, h);
    bytes.truncate(bytes.len() / 2);
    assert!(crop::crop_report(&bytes).is_err());
    assert!(crop::crop_report(&[]).is_err());
}

#[test]
fn crop_cli_writes_only_accepted_photos() {
    let (rgb, w, h) = astronaut();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    std::fs::write(&input, png(&rgb, w, h)).unwrap();
    let out = dir.path().join("out.jpg");
    let json = crop::run_crop_cli(&input, &out).unwrap();
    assert!(json.contains("\"accepted\": true"));
    assert!(shinsei_capture::photo::photo_from_file(&out).is_ok());
    let dark_in = dir.path().join("dark.png");
    std::fs::write(&dark_in, png(&map_rgb(&rgb, |v| v * 0.3), w, h)).unwrap();
    let out2 = dir.path().join("out2.jpg");
    assert!(matches!(
        crop::run_crop_cli(&dark_in, &out2),
        Err(CaptureError::Rejected { .. })
    ));
    assert!(!out2.exists());
}

#[test]
fn tracking_follows_the_face_and_agrees_with_the_whole_frame_analysis() {
    use shinsei_capture::face::FaceDetector;
    let (rgb, w, h) = astronaut();
    let mut det = FaceDetector::new().unwrap();
    let (full, _) = crop::analyse(rgb_img(&rgb, w, h), &mut det);
    assert_eq!(full.detection, "full");
    assert!(full.accepted, "{}", full.reasons());
    let face = shinsei_capture::face::FaceBox {
        rect: full.face_box.unwrap(),
        score: full.face_score.unwrap(),
    };
    // The same frame, then the face moved by a fifth of its width.
    let dx = (face.rect.w / 5.0) as u32;
    let mut shifted = vec![128u8; rgb.len()];
    for y in 0..h as usize {
        let row = &rgb[y * w as usize * 3..(y + 1) * w as usize * 3];
        shifted[y * w as usize * 3 + dx as usize * 3..(y + 1) * w as usize * 3]
            .copy_from_slice(&row[..(w - dx) as usize * 3]);
    }
    for (frame, moved) in [(&rgb, 0.0), (&shifted, f64::from(dx))] {
        let (tracked, _) = crop::analyse_tracked(rgb_img(frame, w, h), &mut det, Some(&face));
        assert_eq!(tracked.detection, "tracked");
        let b = tracked.face_box.unwrap();
        // Within a tenth of a face of where the whole-frame analysis put it.
        assert!(
            (b.cx() - (face.rect.cx() + moved)).abs() < face.rect.w / 10.0
                && (b.cy() - face.rect.cy()).abs() < face.rect.h / 10.0
                && (b.w / face.rect.w - 1.0).abs() < 0.15,
            "tracked {b:?} vs full {:?} moved {moved}",
            face.rect
        );
        assert_eq!(tracked.faces_found, 1);
    }
    let (tracked, _) = crop::analyse_tracked(rgb_img(&rgb, w, h), &mut det, Some(&face));
    let verdicts = |r: &CropReport| r.checks.iter().map(|c| c.verdict).collect::<Vec<_>>();
    assert_eq!(verdicts(&tracked), verdicts(&full));
    // A prior where there is no face: the whole frame is searched instead.
    let nowhere = shinsei_capture::face::FaceBox {
        rect: shinsei_capture::imgops::Rect::new(5.0, 5.0, 40.0, 40.0),
        score: 5.0,
    };
    let (r, _) = crop::analyse_tracked(rgb_img(&rgb, w, h), &mut det, Some(&nowhere));
    assert_eq!(r.detection, "full");
    assert!(r.accepted);
}

#[test]
fn a_second_person_outside_the_tracking_window_needs_the_whole_frame() {
    // Why the kiosk mixes whole-frame analyses in and re-checks a tracked frame before
    // it becomes the photo: tracking alone sees one face here.
    use shinsei_capture::face::{FaceBox, FaceDetector};
    let (rgb, w, h) = astronaut();
    let two = side_by_side(&rgb, w, h, true);
    let mut det = FaceDetector::new().unwrap();
    let (single, _) = crop::analyse(rgb_img(&rgb, w, h), &mut det);
    let prior = FaceBox {
        rect: single.face_box.unwrap(),
        score: single.face_score.unwrap(),
    };
    let (tracked, _) = crop::analyse_tracked(rgb_img(&two, w * 2, h), &mut det, Some(&prior));
    assert_eq!((tracked.detection, tracked.faces_found), ("tracked", 1));
    let (full, _) = crop::analyse(rgb_img(&two, w * 2, h), &mut det);
    assert_eq!(full.faces_found, 2);
    assert!(!full.accepted);
}

/// [`side_by_side`] as a camera frame.
fn wide_frame(rgb: &[u8], w: u32, h: u32, second: bool) -> shinsei_capture::Frame {
    shinsei_capture::Frame::new(
        w * 2,
        h,
        shinsei_capture::PixelFormat::Rgb8,
        zeroize::Zeroizing::new(side_by_side(rgb, w, h, second)),
    )
    .unwrap()
}

#[test]
fn the_kiosk_rechecks_a_tracked_frame_with_the_whole_frame_before_taking_it() {
    use shinsei_capture::live::vision::Vision;
    use shinsei_capture::source::MemorySource;
    let (rgb, w, h) = astronaut();
    // Frame 1 is searched whole (accepted); frame 2 only around the face: it passes,
    // but a second person has stepped in on the right.
    let frames = vec![wide_frame(&rgb, w, h, false), wide_frame(&rgb, w, h, true)];
    let mut v = Vision::new(Box::new(MemorySource::new(frames)));
    let first = v.photo_step().unwrap().unwrap();
    assert_eq!(first.report.detection, "full");
    assert!(first.report.accepted, "{}", first.report.reasons());
    let second = v.photo_step().unwrap().unwrap();
    assert_eq!(second.report.detection, "tracked");
    assert!(second.report.accepted);
    assert!(v.can_capture());
    match v.capture() {
        Err(CaptureError::Rejected { reasons, .. }) => assert!(reasons.contains("several faces")),
        other => panic!(
            "a frame with two people became the photo: {:?}",
            other.is_ok()
        ),
    }
    // Control: the same with one person throughout is taken.
    let frames = vec![wide_frame(&rgb, w, h, false), wide_frame(&rgb, w, h, false)];
    let mut v = Vision::new(Box::new(MemorySource::new(frames)));
    v.photo_step().unwrap();
    assert_eq!(v.photo_step().unwrap().unwrap().report.detection, "tracked");
    assert!(v.capture().is_ok());
}

/// Issue 16, finding 1: with two faces (an infant held by a parent) every face is
/// reported for the screen to box, the normal capture is refused, and a supervisor's
/// override cuts the photo around the face chosen (still a valid `FacePhoto`).
#[test]
fn two_faces_are_each_reported_and_an_override_cuts_around_the_one_chosen() {
    use shinsei_capture::live::vision::Vision;
    use shinsei_capture::source::MemorySource;
    let (rgb, w, h) = astronaut();
    let frames = vec![wide_frame(&rgb, w, h, true)];
    let mut v = Vision::new(Box::new(MemorySource::new(frames)));
    let view = v.photo_step().unwrap().unwrap();
    assert_eq!(view.report.faces_found, 2);
    assert_eq!(view.faces.len(), 2, "a box for every face");
    assert!(view.faces[0].x < view.faces[1].x, "left to right");
    assert!(!view.report.accepted);
    assert!(!v.can_capture());
    assert!(v.capture().is_err(), "no normal capture with two faces");
    let c = v.capture_override(1).unwrap();
    // The crop is around the right-hand face (the frame is two portraits wide).
    assert!(c.crop.cx() > f64::from(w), "{:?}", c.crop);
    assert!(shinsei_capture::photo::photo_from_jpeg(c.jpeg()).is_ok());
}
