#![no_main]
//! The QR reader on arbitrary frames: the finder search, the outline fit and grid
//! sampling (`capture::qr_grid`), the two-finder guesses and every rqrr fallback.
//! Input: width (1 byte, +1), then the luma bytes (height = what fits, at most 256).
//! Never a panic; a read ID is always 23 digits. Also the raw reader
//! (`scan_payloads`, any code, as text): never a panic, never an empty list.
use libfuzzer_sys::fuzz_target;
use shinsei_capture::qr::{scan_detailed, scan_payloads, text::payload_text, Effort};
use shinsei_capture::raster::LumaRef;

fuzz_target!(|data: &[u8]| {
    let Some((&w, luma)) = data.split_first() else {
        return;
    };
    let w = usize::from(w) + 1;
    let h = (luma.len() / w).min(256);
    let Ok(img) = LumaRef::new(w, h, &luma[..w * h]) else {
        return;
    };
    for effort in [Effort::Fast, Effort::Thorough] {
        if let Ok(hit) = scan_detailed(img, None, effort) {
            assert!(hit.id.as_bytes().iter().all(u8::is_ascii_digit));
            assert_eq!(hit.id.as_str().len(), 23);
        }
    }
    if let Ok(all) = scan_payloads(img) {
        assert!(!all.is_empty());
        for p in &all {
            let _ = payload_text(p);
        }
    }
});
