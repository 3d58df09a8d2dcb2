#![no_main]
//! QR payload / manual entry parsing of the application ID.
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::application::ApplicationId;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = ApplicationId::parse(data) {
        assert!(id.as_bytes().iter().all(u8::is_ascii_digit));
        assert_eq!(id.as_str().len(), 23);
    }
});
