#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Stable-toolchain smoke of every `protocol/fuzz` target (CI machines have no nightly
//! for `cargo fuzz`): the same entry points and invariants, driven by proptest with
//! arbitrary bytes and with inputs close to valid ones.

use proptest::prelude::*;
use shinsei_protocol::application::{Application, ApplicationId, Profile};
use shinsei_protocol::keys::SigningKey;
use shinsei_protocol::photo::{strip_metadata, FacePhoto};
use shinsei_protocol::receipt::Receipt;
use shinsei_protocol::{bundle, envelope, signed, staff};
use zeroize::Zeroizing;

fn application_id(data: &[u8]) {
    if let Ok(id) = ApplicationId::parse(data) {
        assert!(id.as_bytes().iter().all(u8::is_ascii_digit));
        assert_eq!(id.as_str().len(), 23);
    }
}

fn application(data: &[u8]) {
    for p in [Profile::Standard, Profile::Express] {
        if let Ok(app) = Application::decode(data, p) {
            assert_eq!(&app.encode()[..], data);
            assert!(Application::decode_own_record(data, p).is_ok());
        }
        if let Ok(app) = Application::decode_own_record(data, p) {
            assert_eq!(&app.encode()[..], data);
        }
    }
}

fn documents(data: &[u8]) {
    let _ = signed::parse(data);
    let _ = bundle::parse(data);
    let _ = staff::parse(data);
}

fn photo(data: &[u8]) {
    let _ = FacePhoto::from_jpeg(Zeroizing::new(data.to_vec()));
    if let Ok(stripped) = strip_metadata(data) {
        let _ = FacePhoto::from_jpeg(stripped);
    }
}

fn renewal(data: &[u8]) {
    if let Ok(r) = serde_json::from_slice::<shinsei_protocol::api::DeviceReport>(data) {
        if r.check().is_ok() {
            assert!(r.sent_per_day.len() <= shinsei_protocol::api::MAX_REPORT_DAYS);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = shinsei_protocol::csr::read_csr(text);
    }
}

fn env(data: &[u8]) {
    if let Ok(e) = envelope::Envelope::parse(data) {
        let _ = e.header().encode();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        application_id(&data);
        application(&data);
        documents(&data);
        photo(&data);
        env(&data);
        renewal(&data);
    }

    #[test]
    fn qr_like_text(pre in ".{0,60}", digits in "[0-9]{0,30}", post in ".{0,60}") {
        application_id(format!("{pre}{digits}{post}").as_bytes());
    }

    #[test]
    fn json_like_documents(body in r#"\{"[a-z_]{1,12}":("[ -~]{0,40}"|[0-9]{1,12}|\{\}|\[\]|null)(,"[a-z_]{1,12}":[0-9]{1,5}){0,4}\}"#) {
        documents(body.as_bytes());
        renewal(body.as_bytes());
    }

    #[test]
    fn jpeg_like_prefixes(tail in proptest::collection::vec(any::<u8>(), 0..512), marker in any::<u8>()) {
        let mut d = vec![0xFF, 0xD8, 0xFF, marker, 0x00, 0x10];
        d.extend_from_slice(&tail);
        photo(&d);
    }
}

#[test]
fn receipts_of_arbitrary_bytes_are_refused() {
    let (_der, k) = SigningKey::generate().unwrap();
    let pk = k.public_key();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(500));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..300), |data| {
            prop_assert!(Receipt::parse_and_verify(&data, &pk).is_err());
            Ok(())
        })
        .unwrap();
}

/// The relay key schedule parser (fuzz target `relay_keys`): arbitrary bytes are
/// refused, and arbitrary bodies signed with the pinned key either parse into a
/// schedule that re-signs identically or are refused with a typed error.
#[test]
fn relay_key_schedules_of_arbitrary_bytes() {
    use shinsei_protocol::relay_keys::{RelayKeySchedule, CONTEXT};
    let (_der, k) = SigningKey::generate().unwrap();
    let pk = k.public_key();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..400), |data| {
            prop_assert!(RelayKeySchedule::verify(&data, &pk).is_err());
            // Mostly well-formed bodies: a valid prefix, then arbitrary keys.
            let mut body = b"SHRK\x01".to_vec();
            body.extend_from_slice(&data[..data.len().min(17)]);
            body.extend_from_slice(data.get(17..).unwrap_or(&[]));
            let mut msg = CONTEXT.to_vec();
            msg.extend_from_slice(&body);
            body.extend_from_slice(&k.sign(&msg).unwrap());
            if let Ok(s) = RelayKeySchedule::verify(&body, &pk) {
                let again = s.sign(&k).unwrap();
                prop_assert_eq!(RelayKeySchedule::verify(&again, &pk).unwrap(), s);
            }
            Ok(())
        })
        .unwrap();
}
