#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Faces beyond one portrait: the group photo `t1.jpg` of PyPI's `insightface` 0.7.3
//! source archive (six people at a table, 1280×886; installed by
//! `scripts/fetch-test-faces.sh` into `target/test-faces/group-t1.jpg`).
//!
//! - The whole photo: every face found, refused as "several faces".
//! - Each face cut out with its surroundings (head and shoulders: 2.4 face widths by
//!   3.2, the face a little above the middle) and placed, enlarged to the frame's
//!   height, in a grey 1920×1080 frame: the photo is made, or refused, and by which
//!   checks (faces 1–3 for roll, their heads tilted 14–25°; 4–6 made). The outcome of every face is asserted (a later regression fails), and
//!   `SHINSEI_FACE_OUT=DIR` writes each photo made (`face-N.jpg`) and `faces.tsv` for
//!   `scripts/bench-face-check.sh`, where OpenCV's Haar cascade checks them
//!   independently.

use shinsei_capture::crop::{self, Verdict};
use shinsei_capture::face::{FaceBox, FaceDetector};
use shinsei_capture::imgops::Rect;
use shinsei_capture::raster::RgbRef;
use shinsei_capture::CaptureError;

fn group() -> image::RgbImage {
    let path = shinsei_capture::synth::test_faces_dir().join("group-t1.jpg");
    image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "group photo missing ({}: {e}); run scripts/fetch-test-faces.sh first",
                path.display()
            )
        })
        .to_rgb8()
}

/// The faces found in the whole group photo, left to right, each box refined (the
/// windowed re-detection the crop uses: cut-outs that do not move with the coarse
/// search's settings).
fn group_faces(img: &image::RgbImage) -> (crop::CropReport, Vec<Rect>) {
    let rgb = RgbRef::new(img.width() as usize, img.height() as usize, img.as_raw()).unwrap();
    let mut det = FaceDetector::new().unwrap();
    let (report, _) = crop::analyse(rgb, &mut det);
    let luma = shinsei_capture::imgops::rgb_to_luma(rgb);
    let mut faces: Vec<Rect> = report
        .faces
        .iter()
        .map(|&rect| det.refine(luma.view(), &FaceBox { rect, score: 0.0 }).rect)
        .collect();
    faces.sort_by(|a, b| a.cx().total_cmp(&b.cx()));
    (report, faces)
}

/// Face `f` of the group with its surroundings, enlarged into a grey 1920×1080 frame.
fn placed(img: &image::RgbImage, f: &Rect) -> image::RgbImage {
    let s = f.w.max(f.h);
    let (ww, wh) = (2.4 * s, 3.2 * s);
    let (x0, y0) = (f.cx() - ww / 2.0, f.y + f.h / 2.0 - 0.42 * wh);
    let mut cut = image::RgbImage::from_pixel(ww as u32, wh as u32, image::Rgb([128, 128, 128]));
    for y in 0..cut.height() {
        for x in 0..cut.width() {
            let (sx, sy) = (x0 as i64 + i64::from(x), y0 as i64 + i64::from(y));
            if sx >= 0 && sy >= 0 && sx < i64::from(img.width()) && sy < i64::from(img.height()) {
                cut.put_pixel(x, y, *img.get_pixel(sx as u32, sy as u32));
            }
        }
    }
    let scale = 1080.0 / wh;
    let (nw, nh) = ((ww * scale) as u32, 1080);
    let big = image::imageops::resize(&cut, nw, nh, image::imageops::FilterType::CatmullRom);
    let mut frame = image::RgbImage::from_pixel(1920, 1080, image::Rgb([128, 128, 128]));
    image::imageops::overlay(&mut frame, &big, i64::from((1920 - nw) / 2), 0);
    frame
}

fn png(img: &image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn the_group_is_refused_as_several_faces() {
    let img = group();
    let (report, faces) = group_faces(&img);
    println!("\ngroup photo: {} faces found: {faces:?}", faces.len());
    assert_eq!(faces.len(), 6, "six people in the photo");
    let count = report
        .checks
        .iter()
        .find(|c| c.check.as_str() == "face_count")
        .unwrap();
    assert_eq!(count.verdict, Verdict::Fail);
    assert!(!report.accepted);
}

/// Per face (left to right): `None` when the photo is made and passes every check,
/// else the checks that refuse it. Faces 1, 2 and 3 hold their heads visibly tilted
/// (cards, a glance down, a lean: 14–25° by the roll estimate); 4, 5 and 6 are upright
/// enough.
const ROLL: Option<&[&str]> = Some(&["roll"]);
const EXPECTED: [Option<&[&str]>; 6] = [ROLL, ROLL, ROLL, None, None, None];

#[test]
fn each_face_alone_is_cropped_or_refused_by_the_right_check() {
    let img = group();
    let (_, faces) = group_faces(&img);
    let out_dir = std::env::var_os("SHINSEI_FACE_OUT").map(std::path::PathBuf::from);
    let mut tsv = String::from("face\tfile\toutcome\tface_mm\ttop_mm\toffcentre_mm\troll_deg\n");
    let mut outcomes = Vec::new();
    for (i, f) in faces.iter().enumerate() {
        let frame = placed(&img, f);
        if let Some(dir) = &out_dir {
            std::fs::create_dir_all(dir).unwrap();
            frame
                .save(dir.join(format!("placed-{}.png", i + 1)))
                .unwrap();
        }
        let (outcome, file, r) = match crop::crop_report(&png(&frame)) {
            Ok((jpeg, r)) => {
                let failed: Vec<&str> = r
                    .checks
                    .iter()
                    .filter(|c| c.verdict == Verdict::Fail)
                    .map(|c| c.check.as_str())
                    .collect();
                let mut file = String::from("-");
                if let (Some(dir), true) = (&out_dir, r.accepted) {
                    std::fs::create_dir_all(dir).unwrap();
                    file = format!("face-{}.jpg", i + 1);
                    std::fs::write(dir.join(&file), &*jpeg).unwrap();
                }
                (
                    (!failed.is_empty()).then_some(failed.join(",")),
                    file,
                    Some(r),
                )
            }
            Err(CaptureError::Rejected { reasons, .. }) => {
                (Some(format!("rejected: {reasons}")), "-".into(), None)
            }
            Err(e) => panic!("face {}: {e}", i + 1),
        };
        let mm = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        println!(
            "face {} at ({:.0}, {:.0}) {:.0} px: {}",
            i + 1,
            f.cx(),
            f.cy(),
            f.w,
            outcome.as_deref().unwrap_or("accepted")
        );
        tsv.push_str(&format!(
            "{}\t{file}\t{}\t{}\t{}\t{}\t{}\n",
            i + 1,
            outcome.as_deref().unwrap_or("accepted"),
            mm(r.as_ref().and_then(|r| r.face_mm)),
            mm(r.as_ref().and_then(|r| r.top_margin_mm)),
            mm(r.as_ref().and_then(|r| r.offcentre_mm)),
            mm(r.as_ref().and_then(|r| r.roll_deg)),
        ));
        outcomes.push(outcome);
    }
    if let Some(dir) = &out_dir {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("faces.tsv"), tsv).unwrap();
        // The yardstick for the independent check: the reference portrait's photo.
        let path = shinsei_capture::synth::test_faces_dir().join("astronaut.png");
        let (jpeg, r) = crop::crop_report(&std::fs::read(path).unwrap()).unwrap();
        assert!(r.accepted);
        std::fs::write(dir.join("reference.jpg"), &*jpeg).unwrap();
    }
    for (i, (got, want)) in outcomes.iter().zip(EXPECTED).enumerate() {
        assert_eq!(
            got.as_deref(),
            want.map(|w| w.join(",")).as_deref(),
            "face {}",
            i + 1
        );
    }
}
