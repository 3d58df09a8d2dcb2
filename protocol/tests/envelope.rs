#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Envelope v1: round trip, tampering, wrong keys, malformed input, committed vectors.

use shinsei_protocol::application::{
    Application, ApplicationError, ApplicationId, BrailleWish, CertificateWish, Profile,
};
use shinsei_protocol::device::DeviceId;
use shinsei_protocol::envelope::{
    self, Envelope, EnvelopeError, EnvelopeId, Header, MAX_ENVELOPE_LEN,
};
use shinsei_protocol::hpke_suite::FixedIkm;
use shinsei_protocol::keys::{RelaySecretKey, SigningKey};
use shinsei_protocol::photo::FacePhoto;
use shinsei_protocol::pins::ExpressPins;
use shinsei_testkit::{
    app::{express_pins, seal_raw},
    photo, standard_app as standard,
};
use zeroize::Zeroizing;

const ID: &str = "12345678901234567890123";

fn express() -> Application {
    Application::express(
        ApplicationId::parse(ID.as_bytes()).unwrap(),
        photo(),
        CertificateWish::Yes,
        BrailleWish::Yes,
        express_pins(),
    )
    .unwrap()
}

struct Keys {
    relay: RelaySecretKey,
    device: SigningKey,
    device_id: DeviceId,
}

fn keys() -> Keys {
    Keys {
        relay: RelaySecretKey::generate(),
        device: SigningKey::generate().unwrap().1,
        device_id: DeviceId::parse("TAB-0001").unwrap(),
    }
}

fn seal(k: &Keys, app: &Application) -> Vec<u8> {
    envelope::seal(
        app,
        &k.device_id,
        1_750_000_000,
        k.relay.public(),
        &k.device,
    )
    .unwrap()
    .1
}

fn open(k: &Keys, bytes: &[u8]) -> Result<(Header, Application), EnvelopeError> {
    envelope::open(bytes, &k.device.public_key(), &k.relay)
}

#[test]
fn round_trip_standard_and_express() {
    let k = keys();
    let (id, bytes) = envelope::seal(
        &standard(),
        &k.device_id,
        1_750_000_000,
        k.relay.public(),
        &k.device,
    )
    .unwrap();
    let (h, app) = open(&k, &bytes).unwrap();
    assert_eq!(h.envelope_id, id);
    assert_eq!(h.profile, Profile::Standard);
    assert_eq!(h.created_at, 1_750_000_000);
    assert_eq!(h.device_id.as_str(), "TAB-0001");
    assert_eq!(h.relay_key_id, k.relay.key_id());
    assert_eq!(app.id().as_str(), ID);
    assert_eq!(app.certificate_wish(), CertificateWish::Yes);
    assert_eq!(app.braille_wish(), BrailleWish::No);
    assert!(app.pins().is_none());
    assert_eq!(app.photo().as_bytes(), photo().as_bytes());

    let bytes = seal(&k, &express());
    let (h, app) = open(&k, &bytes).unwrap();
    assert_eq!(h.profile, Profile::Express);
    let pins = app.pins().unwrap();
    assert_eq!(pins.signature_password().unwrap().as_bytes(), b"ABC123");
    assert_eq!(pins.card_info().as_bytes(), b"3333");
}

/// Issue 16: without e-certificates the express application carries exactly the two
/// PINs that apply; PINs that do not match the wish are refused when building it.
#[test]
fn express_without_e_certificates_carries_two_pins_only() {
    let k = keys();
    let two = ExpressPins::without_certificates(b"2222", b"3333").unwrap();
    let app = Application::express(
        ApplicationId::parse(ID.as_bytes()).unwrap(),
        photo(),
        CertificateWish::No,
        BrailleWish::Yes,
        two,
    )
    .unwrap();
    // Four PINs fewer bytes: 1 + 6 + 4 (length, password, user-certificate PIN).
    assert_eq!(express().encode().len() - app.encode().len(), 1 + 6 + 4);
    let (_, opened) = open(&k, &seal(&k, &app)).unwrap();
    let pins = opened.pins().unwrap();
    assert!(pins.signature_password().is_none() && pins.user_certificate().is_none());
    assert_eq!(pins.resident_registry().as_bytes(), b"2222");
    assert_eq!(opened.certificate_wish(), CertificateWish::No);
    let mismatch = |c, p| {
        Application::express(
            ApplicationId::parse(ID.as_bytes()).unwrap(),
            photo(),
            c,
            BrailleWish::No,
            p,
        )
        .err()
    };
    assert_eq!(
        mismatch(
            CertificateWish::No,
            ExpressPins::new(b"abc123", b"1111", b"2222", b"3333").unwrap()
        ),
        Some(ApplicationError::PinsDoNotMatchWishes)
    );
    assert_eq!(
        mismatch(
            CertificateWish::Yes,
            ExpressPins::without_certificates(b"2222", b"3333").unwrap()
        ),
        Some(ApplicationError::PinsDoNotMatchWishes)
    );
}

#[test]
fn plaintext_never_appears_in_the_envelope() {
    let k = keys();
    let bytes = seal(&k, &express());
    assert!(!bytes.windows(ID.len()).any(|w| w == ID.as_bytes()));
    assert!(!bytes.windows(6).any(|w| w == b"ABC123"));
    let p = photo();
    let chunk = &p.as_bytes()[1000..1032];
    assert!(!bytes.windows(32).any(|w| w == chunk));
}

#[test]
fn every_header_byte_is_signed() {
    let k = keys();
    let bytes = seal(&k, &standard());
    let header_len = Envelope::parse(&bytes).unwrap().header().encode().len();
    for i in 0..header_len {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        let e = open(&k, &t).unwrap_err();
        assert!(
            matches!(
                e,
                EnvelopeError::BadSignature
                    | EnvelopeError::BadMagic
                    | EnvelopeError::UnsupportedVersion(_)
                    | EnvelopeError::UnsupportedSuite(_)
                    | EnvelopeError::BadProfile(_)
                    | EnvelopeError::BadDeviceId
                    | EnvelopeError::Truncated
                    | EnvelopeError::CiphertextLength(_)
                    | EnvelopeError::TrailingBytes(_)
            ),
            "byte {i}: {e:?}"
        );
    }
    // A tampered envelope ID, time or key ID parses, so the signature is what stops it.
    for i in [7, 23, 31] {
        let mut t = bytes.clone();
        t[i] ^= 0x80;
        assert_eq!(
            open(&k, &t).unwrap_err(),
            EnvelopeError::BadSignature,
            "byte {i}"
        );
    }
}

#[test]
fn header_is_bound_to_the_ciphertext_even_if_resigned() {
    // An attacker holding a device key moves a ciphertext under another header and signs
    // it again: the HPKE aad no longer matches.
    let k = keys();
    let bytes = seal(&k, &standard());
    let sig_at = bytes.len() - 64;
    for i in [7usize, 23, 30] {
        let mut body = bytes[..sig_at].to_vec();
        body[i] ^= 0x01;
        let resigned = envelope::sign_body(body, &k.device).unwrap();
        assert_eq!(
            open(&k, &resigned).unwrap_err(),
            EnvelopeError::Decrypt,
            "byte {i}"
        );
    }
    // Profile changed from standard to express, re-signed: refused too.
    let mut body = bytes[..sig_at].to_vec();
    body[6] = 1;
    let resigned = envelope::sign_body(body, &k.device).unwrap();
    assert_eq!(open(&k, &resigned).unwrap_err(), EnvelopeError::Decrypt);
}

#[test]
fn ciphertext_and_signature_bit_flips() {
    let k = keys();
    let bytes = seal(&k, &standard());
    let n = bytes.len();
    for i in [60, 90, n / 2, n - 65] {
        let mut t = bytes.clone();
        t[i] ^= 0x04;
        assert_eq!(
            open(&k, &t).unwrap_err(),
            EnvelopeError::BadSignature,
            "byte {i}"
        );
        let mut body = t[..n - 64].to_vec();
        body.truncate(n - 64);
        let resigned = envelope::sign_body(body, &k.device).unwrap();
        assert_eq!(
            open(&k, &resigned).unwrap_err(),
            EnvelopeError::Decrypt,
            "byte {i}"
        );
    }
    for i in [n - 64, n - 33, n - 1] {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        assert_eq!(
            open(&k, &t).unwrap_err(),
            EnvelopeError::BadSignature,
            "byte {i}"
        );
    }
}

#[test]
fn wrong_keys() {
    let k = keys();
    let bytes = seal(&k, &standard());
    let other_relay = RelaySecretKey::generate();
    assert_eq!(
        envelope::open(&bytes, &k.device.public_key(), &other_relay).unwrap_err(),
        EnvelopeError::UnknownRelayKey(k.relay.key_id())
    );
    // A key ring holding the old and the new key opens it.
    let ring = vec![other_relay, k.relay];
    assert!(envelope::open(&bytes, &k.device.public_key(), &ring).is_ok());
    let other_device = SigningKey::generate().unwrap().1;
    assert_eq!(
        envelope::open(&bytes, &other_device.public_key(), &ring).unwrap_err(),
        EnvelopeError::BadSignature
    );
}

#[test]
fn truncated_oversized_and_trailing() {
    let k = keys();
    let bytes = seal(&k, &standard());
    for cut in [0, 3, 10, 40, 48, 80, bytes.len() - 65, bytes.len() - 1] {
        let e = Envelope::parse(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(e, EnvelopeError::Truncated | EnvelopeError::BadDeviceId),
            "cut {cut}: {e:?}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        Envelope::parse(&long).unwrap_err(),
        EnvelopeError::TrailingBytes(1)
    );
    let huge = vec![0u8; MAX_ENVELOPE_LEN + 1];
    assert_eq!(Envelope::parse(&huge).unwrap_err(), EnvelopeError::TooLarge);
    let mut bad_len = bytes.clone();
    let hl = Envelope::parse(&bytes).unwrap().header().encode().len();
    bad_len[hl + 32..hl + 36].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Envelope::parse(&bad_len).unwrap_err(),
        EnvelopeError::CiphertextLength(_)
    ));
}

/// What a relay sees when a (compromised) device seals something that is not an
/// application v1: an extra field after the photo, or a bare name.
#[test]
fn relay_refuses_smuggled_fields() {
    let k = keys();
    let header = Header {
        profile: Profile::Standard,
        envelope_id: EnvelopeId([1; 16]),
        created_at: 1,
        relay_key_id: k.relay.key_id(),
        device_id: k.device_id.clone(),
    };
    let relay_key = k.relay.public();
    let seal_raw = |plaintext: &[u8]| seal_raw(&header, relay_key, &k.device, plaintext);
    let mut extra = standard().encode().to_vec();
    extra.extend_from_slice(b"{\"name\":\"YAMADA TARO\"}");
    assert_eq!(
        open(&k, &seal_raw(&extra)).unwrap_err(),
        EnvelopeError::Application(ApplicationError::TrailingBytes(22))
    );
    assert_eq!(
        open(
            &k,
            &seal_raw(b"{\"name\":\"YAMADA TARO\",\"birth\":\"1970-01-01\"}")
        )
        .unwrap_err(),
        EnvelopeError::Application(ApplicationError::UnknownFormat(b'{'))
    );
    let mut reserved = standard().encode().to_vec();
    reserved[25] |= 0x80;
    assert_eq!(
        open(&k, &seal_raw(&reserved)).unwrap_err(),
        EnvelopeError::Application(ApplicationError::ReservedBits(0x81))
    );
    // An express payload under a standard header.
    assert_eq!(
        open(&k, &seal_raw(&express().encode())).unwrap_err(),
        EnvelopeError::Application(ApplicationError::ProfileMismatch {
            expected: Profile::Standard,
            found: Profile::Express
        })
    );
}

// ---- committed vectors ----

#[derive(serde::Deserialize, serde::Serialize)]
struct EnvelopeVector {
    name: String,
    note: String,
    relay_secret_key: String,
    device_pkcs8: String,
    ikm_e: String,
    envelope_id: String,
    created_at: u64,
    device_id: String,
    application_id: String,
    certificate_wish: bool,
    braille_wish: bool,
    /// Express: the signature password and user-certificate PIN (with e-certificates
    /// only), then the resident-registry and card-info PINs.
    pins: Option<Vec<String>>,
    photo_file: String,
    envelope_file: String,
}

fn vectors_dir() -> String {
    format!("{}/tests/vectors", env!("CARGO_MANIFEST_DIR"))
}

fn app_of(v: &EnvelopeVector) -> Application {
    let b = std::fs::read(format!(
        "{}/tests/fixtures/{}",
        env!("CARGO_MANIFEST_DIR"),
        v.photo_file
    ))
    .unwrap();
    let photo = FacePhoto::from_jpeg(Zeroizing::new(b)).unwrap();
    let id = ApplicationId::parse(v.application_id.as_bytes()).unwrap();
    let c = if v.certificate_wish {
        CertificateWish::Yes
    } else {
        CertificateWish::No
    };
    let b = if v.braille_wish {
        BrailleWish::Yes
    } else {
        BrailleWish::No
    };
    match v.pins.as_deref() {
        None => Application::standard(id, photo, c, b),
        Some([s, u, r, ci]) => Application::express(
            id,
            photo,
            c,
            b,
            ExpressPins::new(s.as_bytes(), u.as_bytes(), r.as_bytes(), ci.as_bytes()).unwrap(),
        )
        .unwrap(),
        Some([r, ci]) => Application::express(
            id,
            photo,
            c,
            b,
            ExpressPins::without_certificates(r.as_bytes(), ci.as_bytes()).unwrap(),
        )
        .unwrap(),
        Some(other) => panic!("{}: {} PINs", v.name, other.len()),
    }
}

fn relay_of(v: &EnvelopeVector) -> RelaySecretKey {
    let sk: [u8; 32] = hex::decode(&v.relay_secret_key)
        .unwrap()
        .try_into()
        .unwrap();
    RelaySecretKey::from_secret_bytes(Zeroizing::new(sk)).unwrap()
}

fn header_of(v: &EnvelopeVector, relay: &RelaySecretKey, app: &Application) -> Header {
    Header {
        profile: app.profile(),
        envelope_id: EnvelopeId::from_hex(&v.envelope_id).unwrap(),
        created_at: v.created_at,
        relay_key_id: relay.key_id(),
        device_id: DeviceId::parse(&v.device_id).unwrap(),
    }
}

/// Regenerates the vectors when `SHINSEI_WRITE_VECTORS=1` (run once, review, commit).
/// Without it, checks that sealing with the fixed keys and ephemeral reproduces the
/// committed bytes (all but the ECDSA signature, which is randomised) and that the
/// committed envelope verifies and opens to the stated application.
#[test]
fn committed_envelope_vectors() {
    let dir = vectors_dir();
    let list: Vec<EnvelopeVector> =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/envelope-v1.json")).unwrap())
            .unwrap();
    assert!(list.len() >= 2);
    let write = std::env::var("SHINSEI_WRITE_VECTORS").as_deref() == Ok("1");
    for v in &list {
        let relay = relay_of(v);
        let device = SigningKey::from_pkcs8(&hex::decode(&v.device_pkcs8).unwrap()).unwrap();
        let app = app_of(v);
        let header = header_of(v, &relay, &app);
        let ikm: [u8; 32] = hex::decode(&v.ikm_e).unwrap().try_into().unwrap();
        let body = envelope::seal_body(&app, &header, relay.public(), &mut FixedIkm(ikm)).unwrap();
        let path = format!("{dir}/{}", v.envelope_file);
        if write {
            std::fs::write(&path, envelope::sign_body(body.clone(), &device).unwrap()).unwrap();
        }
        let committed = std::fs::read(&path).unwrap();
        assert_eq!(&committed[..committed.len() - 64], &body[..], "{}", v.name);
        let (h, opened) = envelope::open(&committed, &device.public_key(), &relay).unwrap();
        assert_eq!(h, header, "{}", v.name);
        assert_eq!(&opened.encode()[..], &app.encode()[..], "{}", v.name);
    }
}

// ---- stable fuzz smoke: the same entry points as the cargo-fuzz targets ----

mod smoke {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn mutated_envelopes_never_open_or_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
            cut in any::<prop::sample::Index>(),
            do_cut in any::<bool>(),
        ) {
            thread_local!(static FIXTURE: (Keys, Vec<u8>) = {
                let k = keys();
                let b = seal(&k, &standard());
                (k, b)
            });
            FIXTURE.with(|(k, bytes)| {
                let mut t = bytes.clone();
                for (i, x) in &flips {
                    let i = i.index(t.len());
                    t[i] ^= x;
                }
                if do_cut {
                    t.truncate(cut.index(t.len()));
                }
                assert!(open(k, &t).is_err());
            });
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Envelope::parse(&data);
            let _ = Application::decode(&data, Profile::Standard);
            let _ = Application::decode(&data, Profile::Express);
        }
    }
}

/// Issue 14: every size limit follows from the field limits, and the spec says the same
/// numbers. The largest envelope (32-character device ID, express application with a
/// 16-character signature password and a 7,000,000-byte photo) passes the size checks.
#[test]
fn size_limits_derive_from_the_field_limits_and_match_the_spec() {
    use shinsei_protocol::application::MAX_ENCODED_LEN;
    use shinsei_protocol::device::MAX_DEVICE_ID_LEN;
    use shinsei_protocol::envelope::{HEADER_FIXED_LEN, MAX_CIPHERTEXT_LEN};
    use shinsei_protocol::photo::MAX_PHOTO_BYTES;
    use shinsei_protocol::pins::SIGNATURE_PASSWORD_MAX;
    // Plaintext: format, profile, 23-digit ID, wishes; express: L, password, 3 × 4
    // digits; photo length; photo.
    let plaintext = 1 + 1 + 23 + 1 + (1 + SIGNATURE_PASSWORD_MAX + 3 * 4) + 4 + MAX_PHOTO_BYTES;
    assert_eq!(MAX_ENCODED_LEN, plaintext);
    assert_eq!(MAX_ENCODED_LEN, 7_000_059);
    assert_eq!(MAX_CIPHERTEXT_LEN, plaintext + 16);
    // Envelope: 40-byte fixed header + D + enc 32 + ct_len 4 + C + signature 64.
    assert_eq!(HEADER_FIXED_LEN, 40);
    let envelope = 140 + MAX_DEVICE_ID_LEN + MAX_CIPHERTEXT_LEN;
    assert_eq!(MAX_ENVELOPE_LEN, envelope);
    assert_eq!(MAX_ENVELOPE_LEN, 7_000_247);

    // The spec states the same numbers.
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let fmt = |n: usize| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    for (what, n) in [
        ("largest plaintext", MAX_ENCODED_LEN),
        ("largest ciphertext", MAX_CIPHERTEXT_LEN),
        ("largest envelope", MAX_ENVELOPE_LEN),
    ] {
        assert!(
            spec.contains(&fmt(n)),
            "protocol/README.md must state the {what}: {}",
            fmt(n)
        );
    }
    for wrong in ["7,000,063", "7,000,079", "7,000,223"] {
        assert!(
            !spec.contains(wrong),
            "protocol/README.md still says {wrong}"
        );
    }

    // A structurally maximal envelope passes every size check of the parser; one more
    // byte of ciphertext does not.
    let build = |ct_len: usize| {
        let did = "A".repeat(MAX_DEVICE_ID_LEN);
        let mut b = Vec::with_capacity(ct_len + 200);
        b.extend_from_slice(b"SHSE");
        b.extend_from_slice(&[1, 1, 1]);
        b.extend_from_slice(&[7; 16]);
        b.extend_from_slice(&1_800_000_000u64.to_be_bytes());
        b.extend_from_slice(&[9; 8]);
        b.push(did.len() as u8);
        b.extend_from_slice(did.as_bytes());
        b.extend_from_slice(&[5; 32]);
        b.extend_from_slice(&(ct_len as u32).to_be_bytes());
        b.resize(b.len() + ct_len, 0xAB);
        b.extend_from_slice(&[0; 64]);
        b
    };
    let max = build(MAX_CIPHERTEXT_LEN);
    assert_eq!(max.len(), MAX_ENVELOPE_LEN);
    let e = Envelope::parse(&max).expect("the largest envelope parses");
    assert_eq!(e.header().device_id.as_str().len(), MAX_DEVICE_ID_LEN);
    assert!(matches!(
        Envelope::parse(&build(MAX_CIPHERTEXT_LEN + 1)),
        Err(EnvelopeError::TooLarge)
    ));
    // A real envelope has exactly 140 + D + C bytes, C = plaintext + 16.
    let (_, bytes) = envelope::seal(
        &express(),
        &DeviceId::parse("TAB-0001").unwrap(),
        1_800_000_000,
        RelaySecretKey::generate().public(),
        &SigningKey::generate().unwrap().1,
    )
    .unwrap();
    assert_eq!(bytes.len(), 140 + 8 + express().encode().len() + 16);
}

#[test]
fn open_admitted_asks_for_the_photo_pixels_before_decoding() {
    let k = keys();
    let bytes = seal(&k, &standard());
    let v = Envelope::parse(&bytes)
        .unwrap()
        .verify(&k.device.public_key())
        .unwrap();
    let p = photo();
    let pixels = u64::from(p.width()) * u64::from(p.height());
    // Refused: nothing decoded, the pixel count in the error.
    let e = v.open_admitted(&k.relay, |_| None::<()>).unwrap_err();
    assert_eq!(
        e,
        EnvelopeError::Application(ApplicationError::DecodeNotAdmitted { pixels })
    );
    // Admitted: asked once, with width × height, and the guard is dropped after.
    let mut asked = Vec::new();
    let app = v
        .open_admitted(&k.relay, |n| {
            asked.push(n);
            Some(())
        })
        .unwrap();
    assert_eq!(asked, vec![pixels]);
    assert_eq!(app.photo().width(), p.width());
}
