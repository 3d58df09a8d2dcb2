#![no_main]
//! What a tablet sends for IT and for its certificate renewal (`POST /v1/report`): the
//! report JSON and the PKCS#10 request inside it; what IT types to approve a new key
//! (`--approve ID=FINGERPRINT`); a client certificate's classification (device,
//! enrollment ticket, admin).
//!
//! Invariants: never panics; a report that passes `check` is within its bounds; a
//! request that reads was signed by its own key (checked inside `read_csr`) and its
//! own fingerprint text always matches it; typed text that matches a digest has at
//! least `FINGERPRINT_DIGITS` hex digits.
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::{
    api::DeviceReport,
    csr::{fingerprint_matches, fingerprint_text, read_csr, FINGERPRINT_DIGITS},
    x509::classify_client_cert,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<DeviceReport>(data) {
        if r.check().is_ok() {
            assert!(r.sent_per_day.len() <= shinsei_protocol::api::MAX_REPORT_DAYS);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(f) = read_csr(text) {
            assert!(fingerprint_matches(
                &f.spki_sha256,
                &fingerprint_text(&f.spki_sha256)
            ));
        }
        // Any 32 bytes stand for a digest: the input's first ones.
        let mut d = [0u8; 32];
        for (o, i) in d.iter_mut().zip(data) {
            *o = *i;
        }
        if fingerprint_matches(&d, text) {
            assert!(text.chars().filter(char::is_ascii_hexdigit).count() >= FINGERPRINT_DIGITS);
        }
    }
    let _ = classify_client_cert(data);
});
