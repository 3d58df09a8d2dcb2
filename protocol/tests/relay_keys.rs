#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Relay key schedule v1: the committed test vector (`vectors/relay-keys-v1.json`,
//! test keys only), so that another implementation can check its parser.

use shinsei_protocol::keys::{KeyId, SigningKey, VerifyingKey};
use shinsei_protocol::relay_keys::{RelayKeySchedule, RelayKeysError, ScheduledKey};

const VECTOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/relay-keys-v1.json"
);

fn schedule() -> RelayKeySchedule {
    RelayKeySchedule {
        issued_at: 1_800_000_000,
        epoch_secs: 86_400,
        keys: (0..3u8)
            .map(|i| ScheduledKey {
                epoch: 20_832 + u64::from(i),
                public: shinsei_protocol::keys::RelaySecretKey::from_secret_bytes(
                    zeroize::Zeroizing::new([0x40 + i; 32]),
                )
                .unwrap()
                .public()
                .clone(),
            })
            .collect(),
    }
}

#[test]
fn committed_vector_verifies_and_matches_the_layout() {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(VECTOR).unwrap()).unwrap();
    let pk =
        VerifyingKey::from_bytes(&hex::decode(v["receipt_public_key"].as_str().unwrap()).unwrap())
            .unwrap();
    let bytes = hex::decode(v["schedule"].as_str().unwrap()).unwrap();
    let s = RelayKeySchedule::verify(&bytes, &pk).unwrap();
    assert_eq!(s, schedule());
    assert_eq!(s.issued_at, v["issued_at"].as_u64().unwrap());
    assert_eq!(s.epoch_secs, v["epoch_secs"].as_u64().unwrap());
    for (k, e) in s.keys.iter().zip(v["keys"].as_array().unwrap()) {
        assert_eq!(k.epoch, e["epoch"].as_u64().unwrap());
        assert_eq!(
            hex::encode(k.public.as_bytes()),
            e["public_key"].as_str().unwrap()
        );
        assert_eq!(
            k.public.key_id(),
            KeyId::from_hex(e["key_id"].as_str().unwrap()).unwrap()
        );
        let (from, until) = RelayKeySchedule::window(s.epoch_secs, k.epoch).unwrap();
        assert_eq!(from, e["not_before"].as_u64().unwrap());
        assert_eq!(until, e["not_after"].as_u64().unwrap());
    }
    // Everything but the signature is deterministic: our encoder writes the same bytes.
    let (der, _) = SigningKey::generate().unwrap();
    let k = SigningKey::from_pkcs8(&der).unwrap();
    let ours = schedule().sign(&k).unwrap();
    assert_eq!(ours[..ours.len() - 64], bytes[..bytes.len() - 64]);
    // Another receipt key does not verify it.
    assert_eq!(
        RelayKeySchedule::verify(&bytes, &k.public_key()),
        Err(RelayKeysError::BadSignature)
    );
}

/// Regenerates the vector: `SHINSEI_WRITE_VECTORS=1 cargo test -p shinsei-protocol
/// --test relay_keys -- --ignored`.
#[test]
#[ignore = "writes the committed vector"]
fn write_vector() {
    if std::env::var("SHINSEI_WRITE_VECTORS").as_deref() != Ok("1") {
        return;
    }
    let (der, k) = SigningKey::generate().unwrap();
    let s = schedule();
    let bytes = s.sign(&k).unwrap();
    let keys: Vec<serde_json::Value> = s
        .keys
        .iter()
        .map(|e| {
            let (a, b) = RelayKeySchedule::window(s.epoch_secs, e.epoch).unwrap();
            serde_json::json!({"epoch": e.epoch, "key_id": e.public.key_id().to_hex(),
                "public_key": hex::encode(e.public.as_bytes()), "not_before": a, "not_after": b})
        })
        .collect();
    let v = serde_json::json!({
        "note": "TEST KEYS ONLY. Relay key schedule v1 (protocol/README.md). The signature is randomised by ECDSA; everything before it is deterministic.",
        "receipt_pkcs8": hex::encode(&der[..]),
        "receipt_public_key": hex::encode(k.public_key().as_bytes()),
        "issued_at": s.issued_at,
        "epoch_secs": s.epoch_secs,
        "keys": keys,
        "schedule": hex::encode(&bytes),
    });
    std::fs::write(VECTOR, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
}
