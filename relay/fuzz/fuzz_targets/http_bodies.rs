#![no_main]
//! Decoded request bodies of the relay's device API: the audit upload
//! (`POST /v1/audit`). The envelope body of `POST /v1/envelopes` is the protocol's
//! envelope parser, fuzzed in `protocol/fuzz` (target `envelope`).
//!
//! Invariants: never panics (parsing, the chain check, the comparison with a held
//! head); what is accepted holds 1 to `MAX_AUDIT_ENTRIES` entries.
use libfuzzer_sys::fuzz_target;
use shinsei_relay::audit::{continue_chain, parse_audit, MAX_AUDIT_ENTRIES};

fuzz_target!(|data: &[u8]| {
    if let Ok(up) = parse_audit(data) {
        assert!(!up.entries.is_empty() && up.entries.len() <= MAX_AUDIT_ENTRIES);
        let _ = shinsei_protocol::audit::check_chain(&up.entries);
        let _ = continue_chain(None, &up);
    }
});
