#![no_main]
//! Envelope v1 parsing, signature check and opening with fixed test keys.
use libfuzzer_sys::fuzz_target;
use shinsei_protocol::{envelope, keys::RelaySecretKey, keys::VerifyingKey};
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = envelope::Envelope::parse(data) {
        let _ = e.header().encode();
        // Arbitrary but valid point (the P-256 generator) as device key.
        let g = hex_point();
        if let Ok(v) = e.verify(&g) {
            if let Ok(relay) = RelaySecretKey::from_secret_bytes(Zeroizing::new([7u8; 32])) {
                let _ = v.open(&relay);
            }
        }
    }
});

fn hex_point() -> VerifyingKey {
    let mut p = [0u8; 65];
    p[0] = 4;
    p[1..33].copy_from_slice(&[
        0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
        0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98,
        0xc2, 0x96,
    ]);
    p[33..].copy_from_slice(&[
        0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
        0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf,
        0x51, 0xf5,
    ]);
    VerifyingKey::from_bytes(&p).expect("generator")
}
