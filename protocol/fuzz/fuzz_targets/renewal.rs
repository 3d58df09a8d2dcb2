#![no_main]
//! What a tablet sends for IT and for its certificate renewal (`POST /v1/report`): the
//! report JSON and the PKCS#10 request inside it.
//!
//! Invariants: never panics; a report that passes `check` is within its bounds; a
//! request that reads was signed by its own key (checked inside `read_csr`).
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::{api::DeviceReport, csr::read_csr};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<DeviceReport>(data) {
        if r.check().is_ok() {
            assert!(r.sent_per_day.len() <= shinsei_protocol::api::MAX_REPORT_DAYS);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(f) = read_csr(text) {
            let _ = f.spki_sha256;
        }
    }
});
