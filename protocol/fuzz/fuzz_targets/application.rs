#![no_main]
//! Plaintext application decoding (what the relay does after opening).
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::application::{Application, Profile};

fuzz_target!(|data: &[u8]| {
    for p in [Profile::Standard, Profile::Express] {
        if let Ok(app) = Application::decode(data, p) {
            // Whatever decodes must re-encode to the same bytes.
            assert_eq!(&app.encode()[..], data);
        }
    }
});
