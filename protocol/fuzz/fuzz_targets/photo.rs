#![no_main]
//! JPEG validation and metadata stripping.
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::photo::{strip_metadata, FacePhoto};
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    let _ = FacePhoto::from_jpeg(Zeroizing::new(data.to_vec()));
    if let Ok(stripped) = strip_metadata(data) {
        let _ = FacePhoto::from_jpeg(stripped);
    }
});
