//! The one HPKE (RFC 9180) code path of shinsei.
//!
//! Suite (fixed for envelope v1, identifier `0x01`):
//! mode Base, KEM DHKEM(X25519, HKDF-SHA256) (`0x0020`), KDF HKDF-SHA256 (`0x0001`),
//! AEAD ChaCha20-Poly1305 (`0x0003`). The HPKE itself is the maintained `hpke` crate;
//! this module only fixes the suite, sizes and zeroization of the opened plaintext.

use hpke::{
    aead::{AeadTag, ChaCha20Poly1305},
    inout::InOutBuf,
    kdf::HkdfSha256,
    kem::X25519HkdfSha256,
    rand_core::CryptoRng,
    Deserializable, Kem, OpModeR, OpModeS, Serializable,
};
use zeroize::Zeroizing;

type SuiteKem = X25519HkdfSha256;
type SuiteKdf = HkdfSha256;
type SuiteAead = ChaCha20Poly1305;

/// Length of the encapsulated key (`enc`), an X25519 public key.
pub const ENC_LEN: usize = 32;
/// Length of a public or secret X25519 key.
pub const KEY_LEN: usize = 32;
/// Length of the AEAD tag appended to every ciphertext.
pub const TAG_LEN: usize = 16;

/// Why an HPKE operation failed. Deliberately coarse: no oracle for attackers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HpkeFailure {
    #[error("the recipient public key is not a valid X25519 key")]
    BadPublicKey,
    #[error("the secret key is not a valid X25519 key")]
    BadSecretKey,
    #[error("encapsulation or encryption failed")]
    Seal,
    #[error("the ciphertext does not open with this key, info and aad")]
    Open,
}

/// Seals `plaintext` to `recipient_pk` with the system RNG.
pub fn seal(
    recipient_pk: &[u8; KEY_LEN],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<([u8; ENC_LEN], Vec<u8>), HpkeFailure> {
    let mut rng = hpke::rand_core::UnwrapErr(getrandom::SysRng);
    seal_with_rng(recipient_pk, info, aad, plaintext, &mut rng)
}

/// Seals with a caller-supplied RNG. The RNG is asked for exactly 32 bytes, the
/// ephemeral key's `ikmE` of RFC 9180 §7.1.3 (`DeriveKeyPair`); known-answer tests pass
/// a fixed RNG here, production passes the system RNG.
pub fn seal_with_rng(
    recipient_pk: &[u8; KEY_LEN],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<([u8; ENC_LEN], Vec<u8>), HpkeFailure> {
    let pk = <SuiteKem as Kem>::PublicKey::from_bytes(recipient_pk)
        .map_err(|_| HpkeFailure::BadPublicKey)?;
    let (enc, ct) = hpke::single_shot_seal_with_rng::<SuiteAead, SuiteKdf, SuiteKem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| HpkeFailure::Seal)?;
    let mut enc_bytes = [0u8; ENC_LEN];
    enc.write_exact(&mut enc_bytes);
    Ok((enc_bytes, ct))
}

/// Opens `ciphertext` (ciphertext followed by its 16-byte tag). The plaintext is
/// decrypted in place inside a zeroizing buffer; no other copy of it is made.
pub fn open(
    secret_key: &[u8; KEY_LEN],
    enc: &[u8; ENC_LEN],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, HpkeFailure> {
    let sk = <SuiteKem as Kem>::PrivateKey::from_bytes(secret_key)
        .map_err(|_| HpkeFailure::BadSecretKey)?;
    let encapped =
        <SuiteKem as Kem>::EncappedKey::from_bytes(enc).map_err(|_| HpkeFailure::Open)?;
    let msg_len = ciphertext
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(HpkeFailure::Open)?;
    let (body, tag_bytes) = ciphertext.split_at(msg_len);
    let tag = AeadTag::<SuiteAead>::from_bytes(tag_bytes).map_err(|_| HpkeFailure::Open)?;
    let mut buf = Zeroizing::new(body.to_vec());
    hpke::single_shot_open_inout_detached::<SuiteAead, SuiteKdf, SuiteKem>(
        &OpModeR::Base,
        &sk,
        &encapped,
        info,
        InOutBuf::from(&mut buf[..]),
        aad,
        &tag,
    )
    .map_err(|_| HpkeFailure::Open)?;
    Ok(buf)
}

/// Derives the X25519 public key of a secret key.
pub fn public_key_of(secret_key: &[u8; KEY_LEN]) -> Result<[u8; KEY_LEN], HpkeFailure> {
    let sk = <SuiteKem as Kem>::PrivateKey::from_bytes(secret_key)
        .map_err(|_| HpkeFailure::BadSecretKey)?;
    let mut out = [0u8; KEY_LEN];
    <SuiteKem as Kem>::sk_to_pk(&sk).write_exact(&mut out);
    Ok(out)
}

/// Generates a fresh key pair from the system RNG: `(secret, public)`.
pub fn generate_keypair() -> (Zeroizing<[u8; KEY_LEN]>, [u8; KEY_LEN]) {
    let (sk, pk) = <SuiteKem as Kem>::gen_keypair();
    let mut s = Zeroizing::new([0u8; KEY_LEN]);
    sk.write_exact(&mut s[..]);
    let mut p = [0u8; KEY_LEN];
    pk.write_exact(&mut p);
    (s, p)
}

/// A "random" source that returns fixed bytes, for known-answer tests only (RFC 9180
/// vectors and the committed envelope vectors). Compiled only with the `kat` feature,
/// which only the crate's own tests enable.
#[cfg(feature = "kat")]
pub struct FixedIkm(pub [u8; 32]);

#[cfg(feature = "kat")]
impl hpke::rand_core::TryRng for FixedIkm {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::from_le_bytes([
            self.0[0], self.0[1], self.0[2], self.0[3],
        ]))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for (d, s) in dst.iter_mut().zip(self.0.iter().cycle()) {
            *d = *s;
        }
        Ok(())
    }
}

#[cfg(feature = "kat")]
impl hpke::rand_core::TryCryptoRng for FixedIkm {}
