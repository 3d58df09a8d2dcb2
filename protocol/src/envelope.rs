//! Envelope v1: an [`Application`] sealed with HPKE to the relay's key and signed by the
//! device. The byte layout is specified in `protocol/README.md`; in short:
//!
//! ```text
//! header  = "SHSE" | version=1 | suite=1 | profile | envelope_id[16] | created_at u64 BE
//!           | relay_key_id[8] | device_id_len u8 | device_id
//! body    = header | enc[32] | ct_len u32 BE | ct[ct_len]
//! envelope= body | signature[64]      (ECDSA P-256 SHA-256, r||s, over CONTEXT || body)
//! ```
//!
//! The header is the HPKE `aad`, so a ciphertext moved under another header does not
//! open even if an attacker re-signs it. Parsing is bounded and strict: no trailing
//! bytes, no unknown version or suite.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

use crate::application::{Application, ApplicationError, Profile, MAX_ENCODED_LEN};
use crate::device::{DeviceId, MAX_DEVICE_ID_LEN};
use crate::hpke_suite::{self, HpkeFailure, ENC_LEN, TAG_LEN};
use crate::keys::{
    KeyError, KeyId, RelayKeyRing, RelayPublicKey, SigningKey, VerifyingKey, KEY_ID_LEN,
    SIGNATURE_LEN,
};

/// First four bytes of every envelope.
pub const MAGIC: [u8; 4] = *b"SHSE";
/// Format version of this module.
pub const VERSION_V1: u8 = 1;
/// Suite 1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, mode Base.
pub const SUITE_V1: u8 = 1;
/// HPKE `info` of v1.
pub const HPKE_INFO: &[u8] = b"shinsei envelope v1";
/// Prefix of the signed message (domain separation).
pub const SIGNATURE_CONTEXT: &[u8] = b"shinsei envelope v1 signature\0";
/// Length of an envelope ID.
pub const ENVELOPE_ID_LEN: usize = 16;
/// Fixed part of the header (without the device ID).
pub const HEADER_FIXED_LEN: usize = 4 + 1 + 1 + 1 + ENVELOPE_ID_LEN + 8 + KEY_ID_LEN + 1;
/// Largest ciphertext (largest encoded application plus the AEAD tag).
pub const MAX_CIPHERTEXT_LEN: usize = MAX_ENCODED_LEN + TAG_LEN;
/// Smallest ciphertext that could hold a valid application.
pub const MIN_CIPHERTEXT_LEN: usize = TAG_LEN + 1;
/// Largest envelope, bytes.
pub const MAX_ENVELOPE_LEN: usize =
    HEADER_FIXED_LEN + MAX_DEVICE_ID_LEN + ENC_LEN + 4 + MAX_CIPHERTEXT_LEN + SIGNATURE_LEN;

/// The random 128-bit envelope ID, the idempotency key of a submission.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvelopeId(pub [u8; ENVELOPE_ID_LEN]);

impl EnvelopeId {
    /// A fresh random ID.
    pub fn random() -> Result<Self, EnvelopeError> {
        let mut b = [0u8; ENVELOPE_ID_LEN];
        SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| EnvelopeError::Random)?;
        Ok(Self(b))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let mut b = [0u8; ENVELOPE_ID_LEN];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(Self(b))
    }
}

impl fmt::Display for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvelopeId({})", self.to_hex())
    }
}

/// Why an envelope was refused. One variant per failure, so tests and operators can
/// tell them apart; none carries applicant data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope is truncated")]
    Truncated,
    #[error("envelope is larger than {MAX_ENVELOPE_LEN} bytes")]
    TooLarge,
    #[error("not a shinsei envelope (bad magic)")]
    BadMagic,
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    #[error("unsupported cipher suite {0}")]
    UnsupportedSuite(u8),
    #[error("unknown profile byte {0}")]
    BadProfile(u8),
    #[error("invalid device ID in header")]
    BadDeviceId,
    #[error("ciphertext length {0} out of range")]
    CiphertextLength(u64),
    #[error("{0} unexpected bytes after the signature")]
    TrailingBytes(usize),
    #[error("device signature does not verify")]
    BadSignature,
    #[error("no relay key with ID {0}")]
    UnknownRelayKey(KeyId),
    #[error("ciphertext does not open (wrong key, moved or modified)")]
    Decrypt,
    #[error("application inside the envelope is invalid: {0}")]
    Application(#[from] ApplicationError),
    #[error("sealing failed: {0}")]
    Seal(HpkeFailure),
    #[error("signing failed: {0}")]
    Sign(KeyError),
    #[error("system random number generator failed")]
    Random,
}

/// The cleartext header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub profile: Profile,
    pub envelope_id: EnvelopeId,
    /// Creation time, seconds since the Unix epoch (UTC).
    pub created_at: u64,
    pub relay_key_id: KeyId,
    pub device_id: DeviceId,
}

impl Header {
    /// The exact header bytes (also the HPKE `aad`).
    pub fn encode(&self) -> Vec<u8> {
        let d = self.device_id.as_str().as_bytes();
        let mut out = Vec::with_capacity(HEADER_FIXED_LEN + d.len());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION_V1);
        out.push(SUITE_V1);
        out.push(self.profile.to_byte());
        out.extend_from_slice(&self.envelope_id.0);
        out.extend_from_slice(&self.created_at.to_be_bytes());
        out.extend_from_slice(&self.relay_key_id.0);
        out.push(d.len() as u8);
        out.extend_from_slice(d);
        out
    }
}

/// A parsed envelope whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct Envelope {
    header: Header,
    header_len: usize,
    enc: [u8; ENC_LEN],
    ct_range: (usize, usize),
    signature: [u8; SIGNATURE_LEN],
    bytes: Vec<u8>,
}

/// An envelope whose device signature has been verified.
#[derive(Debug, Clone)]
pub struct VerifiedEnvelope(Envelope);

/// Seals and signs an application. Returns the envelope ID and the envelope bytes
/// (ciphertext only; safe to store and send).
pub fn seal(
    app: &Application,
    device_id: &DeviceId,
    created_at: u64,
    relay_key: &RelayPublicKey,
    device_key: &SigningKey,
) -> Result<(EnvelopeId, Vec<u8>), EnvelopeError> {
    let header = Header {
        profile: app.profile(),
        envelope_id: EnvelopeId::random()?,
        created_at,
        relay_key_id: relay_key.key_id(),
        device_id: device_id.clone(),
    };
    let rng = &mut hpke::rand_core::UnwrapErr(getrandom::SysRng);
    let body = seal_body(app, &header, relay_key, rng)?;
    let id = header.envelope_id;
    Ok((id, sign_body(body, device_key)?))
}

/// The deterministic part of sealing: header, `enc` and ciphertext, before the
/// signature. `rng` supplies the 32 bytes of the ephemeral key's `ikmE`. Used by
/// [`seal`] and by the committed test vectors.
pub fn seal_body(
    app: &Application,
    header: &Header,
    relay_key: &RelayPublicKey,
    rng: &mut impl hpke::rand_core::CryptoRng,
) -> Result<Vec<u8>, EnvelopeError> {
    let header_bytes = header.encode();
    let plaintext = app.encode();
    let (enc, ct) = hpke_suite::seal_with_rng(
        relay_key.as_bytes(),
        HPKE_INFO,
        &header_bytes,
        &plaintext,
        rng,
    )
    .map_err(EnvelopeError::Seal)?;
    drop(plaintext);
    let mut body = header_bytes;
    body.reserve(ENC_LEN + 4 + ct.len() + SIGNATURE_LEN);
    body.extend_from_slice(&enc);
    body.extend_from_slice(&(ct.len() as u32).to_be_bytes());
    body.extend_from_slice(&ct);
    Ok(body)
}

/// Appends the device signature over `SIGNATURE_CONTEXT || body`.
pub fn sign_body(mut body: Vec<u8>, device_key: &SigningKey) -> Result<Vec<u8>, EnvelopeError> {
    let sig = device_key
        .sign(&signed_message(&body))
        .map_err(EnvelopeError::Sign)?;
    body.extend_from_slice(&sig);
    Ok(body)
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + body.len());
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(body);
    m
}

impl Envelope {
    /// Parses the structure of untrusted bytes. Checks sizes, magic, version, suite,
    /// profile, device ID syntax and that nothing trails the signature.
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(EnvelopeError::TooLarge);
        }
        let mut r = Cursor { b: bytes, pos: 0 };
        if r.take(4)? != MAGIC {
            return Err(EnvelopeError::BadMagic);
        }
        let version = r.byte()?;
        if version != VERSION_V1 {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        let suite = r.byte()?;
        if suite != SUITE_V1 {
            return Err(EnvelopeError::UnsupportedSuite(suite));
        }
        let pb = r.byte()?;
        let profile = Profile::from_byte(pb).ok_or(EnvelopeError::BadProfile(pb))?;
        let envelope_id = EnvelopeId(r.array()?);
        let created_at = u64::from_be_bytes(r.array()?);
        let relay_key_id = KeyId(r.array()?);
        let dlen = usize::from(r.byte()?);
        if dlen == 0 || dlen > MAX_DEVICE_ID_LEN {
            return Err(EnvelopeError::BadDeviceId);
        }
        let draw = r.take(dlen)?;
        let dstr = std::str::from_utf8(draw).map_err(|_| EnvelopeError::BadDeviceId)?;
        let device_id = DeviceId::parse(dstr).map_err(|_| EnvelopeError::BadDeviceId)?;
        // The header must be in canonical (upper-case) form, or the bytes would differ
        // from what the relay re-encodes.
        if device_id.as_str() != dstr {
            return Err(EnvelopeError::BadDeviceId);
        }
        let header_len = r.pos;
        let enc: [u8; ENC_LEN] = r.array()?;
        let ct_len = u32::from_be_bytes(r.array()?);
        let ct_usize =
            usize::try_from(ct_len).map_err(|_| EnvelopeError::CiphertextLength(ct_len.into()))?;
        if !(MIN_CIPHERTEXT_LEN..=MAX_CIPHERTEXT_LEN).contains(&ct_usize) {
            return Err(EnvelopeError::CiphertextLength(ct_len.into()));
        }
        let ct_start = r.pos;
        r.take(ct_usize)?;
        let ct_range = (ct_start, r.pos);
        let signature: [u8; SIGNATURE_LEN] = r.array()?;
        if r.pos != bytes.len() {
            return Err(EnvelopeError::TrailingBytes(bytes.len() - r.pos));
        }
        Ok(Self {
            header: Header {
                profile,
                envelope_id,
                created_at,
                relay_key_id,
                device_id,
            },
            header_len,
            enc,
            ct_range,
            signature,
            bytes: bytes.to_vec(),
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The envelope's bytes exactly as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks the device signature with the public key of the device's client
    /// certificate.
    pub fn verify(self, device_key: &VerifyingKey) -> Result<VerifiedEnvelope, EnvelopeError> {
        let body = &self.bytes[..self.bytes.len() - SIGNATURE_LEN];
        if device_key.verify(&signed_message(body), &self.signature) {
            Ok(VerifiedEnvelope(self))
        } else {
            Err(EnvelopeError::BadSignature)
        }
    }
}

impl VerifiedEnvelope {
    pub fn header(&self) -> &Header {
        &self.0.header
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// Opens the ciphertext with the relay key named in the header and decodes and
    /// re-validates the application against the header's profile.
    pub fn open(&self, keys: &(impl RelayKeyRing + ?Sized)) -> Result<Application, EnvelopeError> {
        self.open_admitted(keys, |_| Some(()))
    }

    /// [`VerifiedEnvelope::open`], with the photo's decoding admitted by `admit` (see
    /// [`Application::decode_admitted`]).
    pub fn open_admitted<G>(
        &self,
        keys: &(impl RelayKeyRing + ?Sized),
        admit: impl FnOnce(u64) -> Option<G>,
    ) -> Result<Application, EnvelopeError> {
        let e = &self.0;
        let sk = keys
            .secret_key(&e.header.relay_key_id)
            .ok_or(EnvelopeError::UnknownRelayKey(e.header.relay_key_id))?;
        let aad = &e.bytes[..e.header_len];
        let ct = &e.bytes[e.ct_range.0..e.ct_range.1];
        let plaintext = hpke_suite::open(sk.secret_bytes(), &e.enc, HPKE_INFO, aad, ct)
            .map_err(|_| EnvelopeError::Decrypt)?;
        Ok(Application::decode_admitted(
            &plaintext,
            e.header.profile,
            admit,
        )?)
    }
}

/// Parses, verifies and opens in one call (the relay's path).
pub fn open(
    bytes: &[u8],
    device_key: &VerifyingKey,
    keys: &(impl RelayKeyRing + ?Sized),
) -> Result<(Header, Application), EnvelopeError> {
    let v = Envelope::parse(bytes)?.verify(device_key)?;
    let app = v.open(keys)?;
    Ok((v.0.header, app))
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EnvelopeError> {
        let end = self.pos.checked_add(n).ok_or(EnvelopeError::Truncated)?;
        let s = self.b.get(self.pos..end).ok_or(EnvelopeError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, EnvelopeError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EnvelopeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
}
