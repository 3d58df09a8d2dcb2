#![no_main]
//! Relay key schedule parsing (what the agent does with `GET /v1/relay-keys`). The
//! input is signed with a fixed key before it is verified, so that the fuzzer reaches
//! the key-list parser behind the signature check; the raw input is also verified as
//! it is (signature path).
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shinsei_protocol::keys::SigningKey;
use shinsei_protocol::relay_keys::{RelayKeySchedule, CONTEXT};

static KEY: OnceLock<Option<SigningKey>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some(k) = KEY.get_or_init(|| SigningKey::generate().ok().map(|(_, k)| k)) else {
        return;
    };
    let _ = RelayKeySchedule::verify(data, &k.public_key());
    let mut msg = CONTEXT.to_vec();
    msg.extend_from_slice(data);
    if let Ok(sig) = k.sign(&msg) {
        let mut signed = data.to_vec();
        signed.extend_from_slice(&sig);
        if let Ok(s) = RelayKeySchedule::verify(&signed, &k.public_key()) {
            // A parsed schedule re-signs to a schedule that parses the same.
            if let Ok(again) = s.sign(k) {
                assert_eq!(RelayKeySchedule::verify(&again, &k.public_key()).ok(), Some(s));
            }
        }
    }
});
