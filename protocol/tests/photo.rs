#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `FacePhoto` validation against committed fixtures (made by
//! `tests/fixtures/make_fixtures.py`, Pillow) and crafted inputs.

use shinsei_protocol::photo::{strip_metadata, FacePhoto, PhotoError};
use zeroize::Zeroizing;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn check(bytes: Vec<u8>) -> Result<FacePhoto, PhotoError> {
    FacePhoto::from_jpeg(Zeroizing::new(bytes))
}

#[test]
fn accepts_baseline_progressive_and_greyscale() {
    let p = check(fixture("baseline.jpg")).unwrap();
    assert_eq!((p.width(), p.height()), (600, 772));
    assert!(!p.is_progressive() && !p.is_greyscale());
    assert_eq!(
        format!("{p:?}"),
        format!("FacePhoto(600x772, {} bytes)", p.as_bytes().len())
    );
    assert!(check(fixture("progressive.jpg")).unwrap().is_progressive());
    assert!(check(fixture("greyscale.jpg")).unwrap().is_greyscale());
}

#[test]
fn refuses_cmyk() {
    let e = check(fixture("cmyk.jpg")).unwrap_err();
    // Pillow writes an Adobe APP14 segment with CMYK; either refusal is right, but it
    // must be refused before decoding, and the stripped file must still be refused as CMYK.
    assert!(
        matches!(e, PhotoError::Metadata(0xEE) | PhotoError::Cmyk),
        "{e:?}"
    );
    let stripped = strip_metadata(&fixture("cmyk.jpg")).unwrap();
    let e = check(stripped.to_vec()).unwrap_err();
    assert!(
        matches!(e, PhotoError::Cmyk | PhotoError::Components(4)),
        "{e:?}"
    );
}

#[test]
fn refuses_metadata_and_strip_removes_it() {
    let exif = fixture("exif.jpg");
    assert_eq!(check(exif.clone()).unwrap_err(), PhotoError::Metadata(0xE1));
    assert!(exif.windows(11).any(|w| w == b"YAMADA TARO"));
    let stripped = strip_metadata(&exif).unwrap();
    assert!(!stripped.windows(11).any(|w| w == b"YAMADA TARO"));
    assert!(!stripped.windows(4).any(|w| w == b"Exif"));
    let p = check(stripped.to_vec()).unwrap();
    assert_eq!(p.width(), 600);
}

#[test]
fn refuses_comment_segment() {
    let mut b = fixture("baseline.jpg");
    // Insert a COM segment right after SOI.
    let com = [&[0xFF, 0xFE, 0x00, 0x0A][..], b"BIRTH=19"].concat();
    b.splice(2..2, com);
    assert_eq!(check(b).unwrap_err(), PhotoError::Metadata(0xFE));
}

#[test]
fn refuses_sizes_and_dimensions() {
    assert!(matches!(
        check(fixture("tiny-bytes.jpg")).unwrap_err(),
        PhotoError::TooFewBytes(_)
    ));
    assert_eq!(
        check(fixture("too-narrow.jpg")).unwrap_err(),
        PhotoError::Dimensions {
            width: 400,
            height: 515
        }
    );
    let mut huge = fixture("baseline.jpg");
    huge.resize(7_000_001, 0);
    assert_eq!(
        check(huge).unwrap_err(),
        PhotoError::TooManyBytes(7_000_001)
    );
}

#[test]
fn refuses_non_jpeg_and_corruption() {
    let mut png_like = vec![0x89, b'P', b'N', b'G'];
    png_like.resize(30_000, 0);
    assert_eq!(check(png_like).unwrap_err(), PhotoError::NotJpeg);
    let b = fixture("baseline.jpg");
    let truncated = b[..b.len() / 2].to_vec();
    assert!(matches!(
        check(truncated).unwrap_err(),
        PhotoError::Corrupt(_)
    ));
}

#[test]
fn refuses_crafted_huge_dimensions_before_decoding() {
    // Patch the SOF0 frame size to 60000×60000: must be refused without allocating.
    let mut b = fixture("baseline.jpg");
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    b[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    assert_eq!(
        check(b).unwrap_err(),
        PhotoError::Dimensions {
            width: 60000,
            height: 60000
        }
    );
}

#[test]
fn refuses_other_codings() {
    let mut b = fixture("baseline.jpg");
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    b[sof + 1] = 0xC9; // arithmetic-coded
    assert_eq!(
        check(b).unwrap_err(),
        PhotoError::UnsupportedCoding("arithmetic")
    );
}

#[test]
fn strip_keeps_clean_files_identical() {
    let b = fixture("baseline.jpg");
    assert_eq!(&strip_metadata(&b).unwrap()[..], &b[..]);
}

#[test]
fn frame_size_is_read_from_the_header_without_decoding() {
    use shinsei_protocol::photo::frame_size;
    for name in [
        "baseline.jpg",
        "progressive.jpg",
        "greyscale.jpg",
        "exif.jpg",
    ] {
        let b = fixture(name);
        let p = strip_metadata(&b).ok().and_then(|s| check(s.to_vec()).ok());
        let got = frame_size(&b).unwrap_or_else(|| panic!("{name}: no frame size"));
        if let Some(p) = p {
            assert_eq!(got, (p.width(), p.height()), "{name}");
        }
    }
    // A crafted frame header is reported as it claims (the caller budgets for it).
    let mut b = fixture("baseline.jpg");
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    b[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0x17, 0x70]);
    assert_eq!(frame_size(&b), Some((6000, 60000)));
    // No frame header before the scan, truncations, not a JPEG: none.
    let b = fixture("baseline.jpg");
    for cut in [0, 1, 2, 3, 5, sof, sof + 4, sof + 8] {
        assert_eq!(frame_size(&b[..cut]), None, "cut at {cut}");
    }
    assert_eq!(frame_size(b"GIF89a"), None);
    assert_eq!(frame_size(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]), None);
    assert_eq!(frame_size(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), None);
}

/// The relay's second look at a photo it validated before (issue 19): the same checks
/// from the headers, without decoding the pixels again.
#[test]
fn an_own_record_is_checked_from_its_headers_without_a_second_decode() {
    let own = |b: Vec<u8>| FacePhoto::from_own_record(Zeroizing::new(b));
    for name in ["baseline.jpg", "progressive.jpg", "greyscale.jpg"] {
        let full = check(fixture(name)).unwrap();
        let light = own(fixture(name)).unwrap();
        assert_eq!(
            (
                light.width(),
                light.height(),
                light.is_progressive(),
                light.is_greyscale()
            ),
            (
                full.width(),
                full.height(),
                full.is_progressive(),
                full.is_greyscale()
            ),
            "{name}"
        );
        assert_eq!(light.as_bytes(), full.as_bytes());
    }
    // What the headers show is still refused: metadata, CMYK, dimensions, coding.
    assert_eq!(
        own(fixture("exif.jpg")).unwrap_err(),
        PhotoError::Metadata(0xE1)
    );
    assert!(own(fixture("cmyk.jpg")).is_err());
    let mut huge = fixture("baseline.jpg");
    let sof = huge.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    huge[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    assert!(matches!(
        own(huge).unwrap_err(),
        PhotoError::Dimensions { .. }
    ));
}
