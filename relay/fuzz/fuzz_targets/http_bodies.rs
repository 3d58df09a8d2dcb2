#![no_main]
//! Decoded request bodies of the relay's device API: the audit upload
//! (`POST /v1/audit`). The envelope body of `POST /v1/envelopes` is the protocol's
//! envelope parser, fuzzed in `protocol/fuzz` (target `envelope`).
//!
//! Invariants: never panics; what is accepted holds at most `MAX_AUDIT_ENTRIES`
//! entries, each stored entry is valid JSON.
use libfuzzer_sys::fuzz_target;
use shinsei_relay::audit::{parse_audit, MAX_AUDIT_ENTRIES};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse_audit(data) {
        assert!(entries.len() <= MAX_AUDIT_ENTRIES);
        for (_, e) in entries {
            assert!(serde_json::from_slice::<serde_json::Value>(&e).is_ok());
        }
    }
});
