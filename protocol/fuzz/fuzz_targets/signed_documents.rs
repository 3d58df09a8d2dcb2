#![no_main]
//! Signed-document, device-bundle and staff-list parsing (what a tablet does with files
//! handed to it at enrollment).
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::{bundle, signed, staff};

fuzz_target!(|data: &[u8]| {
    let _ = signed::parse(data);
    let _ = bundle::parse(data);
    let _ = staff::parse(data);
});
