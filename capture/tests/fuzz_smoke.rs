#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Stable-toolchain smoke of the `capture/fuzz` target `qr_scan` (CI has no nightly for
//! `cargo fuzz` everywhere): the same entry point and invariants, driven by proptest:
//! arbitrary frames and damaged frames of a real code (so the finder search, the outline
//! fit, the grid sampling and the two-finder guesses all run on bad data); the raw
//! reader (`scan_payloads`) too.

use proptest::prelude::*;
use shinsei_capture::qr::{scan_detailed, scan_payloads, text::payload_text, Effort, QrError};
use shinsei_capture::raster::LumaRef;
use shinsei_capture::synth::{self, Placement};

/// The bytes as a typed image; bytes that are not one are a `QrError::Image`.
fn img(w: usize, h: usize, px: &[u8]) -> Result<LumaRef<'_>, QrError> {
    Ok(LumaRef::new(w, h, px)?)
}

fn qr_scan(w: usize, h: usize, luma: &[u8]) {
    for effort in [Effort::Fast, Effort::Thorough] {
        if let Ok(hit) = img(w, h, luma).and_then(|i| scan_detailed(i, None, effort)) {
            assert!(hit.id.as_bytes().iter().all(u8::is_ascii_digit));
            assert_eq!(hit.id.as_str().len(), 23);
        }
    }
    if let Ok(all) = img(w, h, luma).and_then(scan_payloads) {
        assert!(!all.is_empty());
        for p in &all {
            let _ = payload_text(p);
        }
    }
}

const ID: &str = "31415926535897932384626";

/// A 320×240 frame with one code (module 4 px).
fn frame_with_code() -> Vec<u8> {
    let code =
        qrcode::QrCode::with_error_correction_level(ID.as_bytes(), qrcode::EcLevel::M).unwrap();
    let n = code.width();
    let colors = code.to_colors();
    let dark = |x: usize, y: usize| colors[y * n + x] == qrcode::Color::Dark;
    let mut luma = synth::background(320, 240, 1);
    let p = Placement {
        module_px: 4.0,
        cx: 160.0,
        cy: 120.0,
        ..Placement::default()
    };
    synth::place_code(&mut luma, 320, 240, n, &dark, &p);
    luma
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_frames_never_panic(w in 1usize..96, data in proptest::collection::vec(any::<u8>(), 0..9000)) {
        let h = data.len() / w;
        qr_scan(w, h, &data[..w * h]);
    }

    #[test]
    fn damaged_codes_are_read_right_or_refused(
        hits in proptest::collection::vec((0usize..320 * 240, any::<u8>()), 0..4000),
        stripe in 0usize..240,
        stripe_h in 0usize..40,
    ) {
        let mut luma = frame_with_code();
        for (i, v) in hits {
            luma[i] = v;
        }
        for row in stripe..(stripe + stripe_h).min(240) {
            luma[row * 320..(row + 1) * 320].fill(0);
        }
        for effort in [Effort::Fast, Effort::Thorough] {
            if let Ok(hit) = img(320, 240, &luma).and_then(|i| scan_detailed(i, None, effort)) {
                // Reed–Solomon either restores the one ID printed or refuses.
                prop_assert_eq!(hit.id.as_str(), ID);
            }
        }
    }
}

#[test]
fn the_undamaged_frame_is_read() {
    let luma = frame_with_code();
    let hit = img(320, 240, &luma)
        .and_then(|i| scan_detailed(i, None, Effort::Fast))
        .unwrap();
    assert_eq!(hit.id.as_str(), ID);
    assert!(hit.read_from_finders());
}
