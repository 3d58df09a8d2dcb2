#![no_main]
//! Plaintext application decoding (what the relay does after opening).
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::application::{Application, Profile};

fuzz_target!(|data: &[u8]| {
    for p in [Profile::Standard, Profile::Express] {
        if let Ok(app) = Application::decode(data, p) {
            // Whatever decodes must re-encode to the same bytes, and the relay's second
            // look (headers only) must accept it too.
            assert_eq!(&app.encode()[..], data);
            assert!(Application::decode_own_record(data, p).is_ok());
        }
        if let Ok(app) = Application::decode_own_record(data, p) {
            assert_eq!(&app.encode()[..], data);
        }
    }
});
