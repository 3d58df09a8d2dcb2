#![no_main]
//! The relay's at-rest formats (issue 14): the stored-record header and opener
//! (`epochs::StoredRecord`) and the ratchet seed file parser. Invariants: never panic;
//! a parsed seed file is 32 bytes.
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::envelope::EnvelopeId;
use shinsei_relay::epochs::{parse_seed_file, StoredRecord};

fuzz_target!(|data: &[u8]| {
    let id = EnvelopeId([7; 16]);
    let _ = StoredRecord::header(data);
    let _ = StoredRecord::open(&[1; 32], &id, data);
    for chain in ["hpke", "store"] {
        if let Ok((_, secs, seed)) = parse_seed_file(data, chain) {
            assert!(secs > 0);
            assert_eq!(seed.len(), 32);
        }
    }
});
