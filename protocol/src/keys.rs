//! Keys: the relay's HPKE keys (with key IDs), device signing keys and the relay's
//! receipt-signing key.
//!
//! Signing keys are ECDSA P-256 with SHA-256 (`ring`), signatures in the fixed 64-byte
//! `r || s` form. Public keys are 65-byte uncompressed SEC1 points, the form found in
//! an X.509 `subjectPublicKeyInfo` of a P-256 certificate.

use std::fmt;

use ring::{
    rand::SystemRandom,
    signature::{self, EcdsaKeyPair, KeyPair},
};
use zeroize::Zeroizing;

use crate::hpke_suite::{self, HpkeFailure, KEY_LEN};

/// Length of a relay key ID.
pub const KEY_ID_LEN: usize = 8;
/// Length of an ECDSA P-256 fixed-form signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an uncompressed P-256 public key.
pub const P256_PUBLIC_KEY_LEN: usize = 65;

/// Identifies one relay HPKE key: the first 8 bytes of
/// `SHA-256("shinsei relay key id v1" || 0x00 || public_key)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// The key ID of an X25519 public key.
    pub fn of(public_key: &[u8; KEY_LEN]) -> Self {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"shinsei relay key id v1\0");
        ctx.update(public_key);
        let d = ctx.finish();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&d.as_ref()[..KEY_ID_LEN]);
        Self(id)
    }

    /// Parses the 16-hex-digit text form.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let mut id = [0u8; KEY_ID_LEN];
        hex::decode_to_slice(s, &mut id).map_err(|_| KeyError::BadKeyId)?;
        Ok(Self(id))
    }

    /// The 16-hex-digit text form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.to_hex())
    }
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key ID must be 16 hex digits")]
    BadKeyId,
    #[error("key ID does not match the public key")]
    KeyIdMismatch,
    #[error("not a valid X25519 key")]
    BadX25519,
    #[error("not a valid ECDSA P-256 PKCS#8 private key")]
    BadPkcs8,
    #[error("not a valid uncompressed P-256 public key")]
    BadP256PublicKey,
    #[error("the system random number generator failed")]
    Rng,
}

impl From<HpkeFailure> for KeyError {
    fn from(_: HpkeFailure) -> Self {
        KeyError::BadX25519
    }
}

/// The relay's HPKE public key as distributed to devices.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayPublicKey {
    key_id: KeyId,
    bytes: [u8; KEY_LEN],
}

impl RelayPublicKey {
    /// Wraps raw X25519 public key bytes; the key ID is derived.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self {
            key_id: KeyId::of(&bytes),
            bytes,
        }
    }

    /// Wraps raw bytes and checks a stated key ID against them.
    pub fn from_bytes_with_id(bytes: [u8; KEY_LEN], key_id: KeyId) -> Result<Self, KeyError> {
        let k = Self::from_bytes(bytes);
        if k.key_id != key_id {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(k)
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for RelayPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelayPublicKey({})", self.key_id)
    }
}

/// The relay's HPKE secret key. Zeroized on drop, no `Debug`, no `Clone`.
pub struct RelaySecretKey {
    public: RelayPublicKey,
    secret: Zeroizing<[u8; KEY_LEN]>,
}

impl RelaySecretKey {
    /// Generates a new key pair.
    pub fn generate() -> Self {
        let (secret, public) = hpke_suite::generate_keypair();
        Self {
            public: RelayPublicKey::from_bytes(public),
            secret,
        }
    }

    /// Restores a key from its 32 secret bytes.
    pub fn from_secret_bytes(secret: Zeroizing<[u8; KEY_LEN]>) -> Result<Self, KeyError> {
        let public = hpke_suite::public_key_of(&secret)?;
        Ok(Self {
            public: RelayPublicKey::from_bytes(public),
            secret,
        })
    }

    pub fn public(&self) -> &RelayPublicKey {
        &self.public
    }

    pub fn key_id(&self) -> KeyId {
        self.public.key_id
    }

    /// The secret bytes, for writing the key file (mode 0600) only.
    pub fn secret_bytes(&self) -> &[u8; KEY_LEN] {
        &self.secret
    }
}

/// Finds the relay secret key for a key ID (the relay's key ring: current key plus
/// rotated keys that have not yet expired).
pub trait RelayKeyRing {
    fn secret_key(&self, key_id: &KeyId) -> Option<&RelaySecretKey>;
}

impl RelayKeyRing for RelaySecretKey {
    fn secret_key(&self, key_id: &KeyId) -> Option<&RelaySecretKey> {
        (self.key_id() == *key_id).then_some(self)
    }
}

impl RelayKeyRing for [RelaySecretKey] {
    fn secret_key(&self, key_id: &KeyId) -> Option<&RelaySecretKey> {
        self.iter().find(|k| k.key_id() == *key_id)
    }
}

impl RelayKeyRing for Vec<RelaySecretKey> {
    fn secret_key(&self, key_id: &KeyId) -> Option<&RelaySecretKey> {
        self.as_slice().secret_key(key_id)
    }
}

/// An ECDSA P-256 signing key (a device key or the relay's receipt key).
/// Kept as `ring`'s key pair; the PKCS#8 document it came from is the caller's to
/// zeroize. No `Debug`, no `Clone`.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl SigningKey {
    /// Loads a PKCS#8 v1/v2 ECDSA P-256 private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| KeyError::BadPkcs8)?;
        Ok(Self { pair, rng })
    }

    /// Generates a new key; returns the PKCS#8 document (to store, 0600) and the key.
    pub fn generate() -> Result<(Zeroizing<Vec<u8>>, Self), KeyError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Rng)?;
        let der = Zeroizing::new(doc.as_ref().to_vec());
        let key = Self::from_pkcs8(&der)?;
        Ok((der, key))
    }

    /// Signs `msg` (SHA-256, fixed-form signature).
    pub fn sign(&self, msg: &[u8]) -> Result<[u8; SIGNATURE_LEN], KeyError> {
        let sig = self.pair.sign(&self.rng, msg).map_err(|_| KeyError::Rng)?;
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(sig.as_ref());
        Ok(out)
    }

    /// The public key (65-byte uncompressed point).
    pub fn public_key(&self) -> VerifyingKey {
        let mut b = [0u8; P256_PUBLIC_KEY_LEN];
        b.copy_from_slice(self.pair.public_key().as_ref());
        VerifyingKey(b)
    }
}

/// An ECDSA P-256 public key (65-byte uncompressed SEC1 point).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey([u8; P256_PUBLIC_KEY_LEN]);

impl VerifyingKey {
    /// Accepts a 65-byte uncompressed point (`0x04 || x || y`). Whether the point is
    /// on the curve is checked when verifying.
    pub fn from_bytes(b: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; P256_PUBLIC_KEY_LEN] =
            b.try_into().map_err(|_| KeyError::BadP256PublicKey)?;
        if arr[0] != 0x04 {
            return Err(KeyError::BadP256PublicKey);
        }
        Ok(Self(arr))
    }

    pub fn as_bytes(&self) -> &[u8; P256_PUBLIC_KEY_LEN] {
        &self.0
    }

    /// Verifies a fixed-form signature over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8; SIGNATURE_LEN]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &self.0)
            .verify(msg, sig)
            .is_ok()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", hex::encode(&self.0[1..9]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_is_stable_and_hex_round_trips() {
        let pk = [7u8; 32];
        let id = KeyId::of(&pk);
        assert_eq!(KeyId::from_hex(&id.to_hex()).unwrap(), id);
        assert_ne!(KeyId::of(&[8u8; 32]), id);
        assert!(KeyId::from_hex("zz").is_err());
        assert_eq!(
            RelayPublicKey::from_bytes_with_id(pk, KeyId([0; 8])),
            Err(KeyError::KeyIdMismatch)
        );
    }

    #[test]
    fn relay_secret_restores_public() {
        let k = RelaySecretKey::generate();
        let again = RelaySecretKey::from_secret_bytes(Zeroizing::new(*k.secret_bytes())).unwrap();
        assert_eq!(again.public(), k.public());
    }

    #[test]
    fn sign_verify() {
        let (_der, k) = SigningKey::generate().unwrap();
        let sig = k.sign(b"msg").unwrap();
        assert!(k.public_key().verify(b"msg", &sig));
        assert!(!k.public_key().verify(b"msh", &sig));
        let (_d2, other) = SigningKey::generate().unwrap();
        assert!(!other.public_key().verify(b"msg", &sig));
        assert!(VerifyingKey::from_bytes(&[4u8; 64]).is_err());
        assert!(SigningKey::from_pkcs8(b"junk").is_err());
    }
}
