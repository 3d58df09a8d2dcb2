#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Stable-toolchain smoke of the `relay/fuzz` target `http_bodies` (CI machines have no
//! nightly for `cargo fuzz`): the same entry point and invariants, driven by proptest
//! with arbitrary bytes and with structured, almost-valid audit bodies.

use proptest::prelude::*;
use shinsei_relay::audit::{continue_chain, parse_audit, MAX_AUDIT_ENTRIES};

fn check(body: &[u8]) {
    if let Ok(up) = parse_audit(body) {
        assert!(!up.entries.is_empty() && up.entries.len() <= MAX_AUDIT_ENTRIES);
        // What the handler does next never panics either.
        let _ = shinsei_protocol::audit::check_chain(&up.entries);
        let _ = continue_chain(None, &up);
        for e in &up.entries {
            assert!(serde_json::to_vec(e).is_ok());
        }
    }
}

fn scalar() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<u64>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z_.-]{0,70}".prop_map(serde_json::Value::from),
        ".{0,300}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::json!({"nested": [1, 2]})),
    ]
}

fn entry() -> impl Strategy<Value = serde_json::Value> {
    proptest::collection::btree_map(
        prop_oneof![
            Just("seq".to_string()),
            Just("at".to_string()),
            Just("event".to_string()),
            Just("prev".to_string()),
            Just("hash".to_string()),
            "[a-z]{1,12}"
        ],
        scalar(),
        0..6,
    )
    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&body);
    }

    #[test]
    fn structured_bodies_hold_the_invariants(
        entries in proptest::collection::vec(entry(), 0..20),
        extra in proptest::option::of("[a-z]{1,8}"),
    ) {
        let mut body = serde_json::json!({
            "entries": entries,
            "head": {"seq": 1, "hash": "00", "sig": "00"},
        });
        if let Some(k) = extra {
            body[k] = serde_json::Value::from(1);
        }
        check(&serde_json::to_vec(&body).unwrap());
    }
}

#[test]
fn a_valid_body_is_accepted_and_oversized_ones_are_not() {
    let e = |seq: u64| {
        serde_json::json!({"seq": seq, "at": 1700000000, "event": "login", "staff": "S0001",
            "prev": "00".repeat(32), "hash": "11".repeat(32)})
    };
    let head = serde_json::json!({"seq": 1, "hash": "11".repeat(32), "sig": "22".repeat(64)});
    let ok = serde_json::to_vec(&serde_json::json!({"entries": [e(1)], "head": head})).unwrap();
    assert_eq!(parse_audit(&ok).unwrap().entries.len(), 1);
    let many: Vec<_> = (1..=MAX_AUDIT_ENTRIES as u64 + 1).map(e).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "entries": many, "head": head })).unwrap();
    assert!(parse_audit(&body).is_err());
}

/// The at-rest formats (fuzz target `at_rest`): arbitrary bytes never open as a stored
/// record, flipped records never open, and arbitrary seed files are refused or give a
/// 32-byte seed.
#[test]
fn at_rest_formats_of_arbitrary_bytes() {
    use shinsei_protocol::{application::Profile, envelope::EnvelopeId};
    use shinsei_relay::epochs::{parse_seed_file, StoredRecord};
    let id = EnvelopeId([7; 16]);
    let rec = StoredRecord::seal(&[1; 32], 9, &id, Profile::Standard, b"application").unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(500));
    runner
        .run(
            &(
                proptest::collection::vec(any::<u8>(), 0..200),
                any::<usize>(),
                any::<u8>(),
            ),
            |(data, at, bit)| {
                let _ = StoredRecord::header(&data);
                prop_assert!(StoredRecord::open(&[1; 32], &id, &data).is_err());
                let mut t = rec.clone();
                let i = at % t.len();
                t[i] ^= bit | 1;
                prop_assert!(StoredRecord::open(&[1; 32], &id, &t).is_err());
                for chain in ["hpke", "store"] {
                    if let Ok((_, secs, seed)) = parse_seed_file(&data, chain) {
                        prop_assert!(secs > 0 && seed.len() == 32);
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    assert!(StoredRecord::open(&[1; 32], &id, &rec).is_ok());
}
