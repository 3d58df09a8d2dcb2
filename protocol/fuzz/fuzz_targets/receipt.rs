#![no_main]
//! Receipt parsing (what the agent does with the relay's answer).
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::keys::SigningKey;
use shinsei_protocol::receipt::Receipt;

fuzz_target!(|data: &[u8]| {
    if let Ok((_der, k)) = SigningKey::generate() {
        let _ = Receipt::parse_and_verify(data, &k.public_key());
    }
});
