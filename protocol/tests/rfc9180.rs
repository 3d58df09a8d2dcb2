#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! RFC 9180 Appendix A.2.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305,
//! Base mode) through the exact functions the envelope uses.

use shinsei_protocol::hpke_suite::{self, FixedIkm};

#[derive(serde::Deserialize)]
struct Vector {
    mode: u8,
    kem_id: u16,
    kdf_id: u16,
    aead_id: u16,
    info: String,
    #[serde(rename = "ikmE")]
    ikm_e: String,
    #[serde(rename = "pkRm")]
    pk_rm: String,
    #[serde(rename = "skRm")]
    sk_rm: String,
    enc: String,
    encryptions: Vec<Encryption>,
}

#[derive(serde::Deserialize)]
struct Encryption {
    sequence_number: u64,
    pt: String,
    aad: String,
    ct: String,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn arr(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

fn vector() -> Vector {
    let text = include_str!("vectors/rfc9180-a.2.1-base-x25519-sha256-chacha20poly1305.json");
    serde_json::from_str(text).unwrap()
}

impl Vector {
    /// The encryption with sequence number 0.
    fn first(&self) -> &Encryption {
        self.encryptions
            .iter()
            .find(|e| e.sequence_number == 0)
            .unwrap()
    }
}

#[test]
fn suite_is_the_one_in_the_vector() {
    let v = vector();
    assert_eq!((v.mode, v.kem_id, v.kdf_id, v.aead_id), (0, 0x20, 1, 3));
}

#[test]
fn seal_matches_rfc9180_a_2_1() {
    let v = vector();
    let first = v.first();
    let (enc, ct) = hpke_suite::seal_with_rng(
        &arr(&v.pk_rm),
        &h(&v.info),
        &h(&first.aad),
        &h(&first.pt),
        &mut FixedIkm(arr(&v.ikm_e)),
    )
    .unwrap();
    assert_eq!(hex::encode(enc), v.enc);
    assert_eq!(hex::encode(ct), first.ct);
}

#[test]
fn open_matches_rfc9180_a_2_1() {
    let v = vector();
    let first = v.first();
    let pt = hpke_suite::open(
        &arr(&v.sk_rm),
        &arr(&v.enc),
        &h(&v.info),
        &h(&first.aad),
        &h(&first.ct),
    )
    .unwrap();
    assert_eq!(&pt[..], &h(&first.pt)[..]);
    assert_eq!(
        hpke_suite::public_key_of(&arr(&v.sk_rm)).unwrap(),
        arr(&v.pk_rm)
    );
    // The same ciphertext under another aad or info does not open.
    assert!(hpke_suite::open(
        &arr(&v.sk_rm),
        &arr(&v.enc),
        &h(&v.info),
        b"Count-9",
        &h(&first.ct)
    )
    .is_err());
    assert!(hpke_suite::open(
        &arr(&v.sk_rm),
        &arr(&v.enc),
        b"other",
        &h(&first.aad),
        &h(&first.ct)
    )
    .is_err());
}
