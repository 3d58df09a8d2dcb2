//! The relay's signed receipt for an accepted envelope.
//!
//! ```text
//! receipt = "SHSR" | version=1 | status u8 | envelope_id[16] | envelope_sha256[32]
//!           | received_at u64 BE | signature[64]
//! ```
//! The signature (ECDSA P-256 SHA-256, `r||s`) is made with the relay's receipt key over
//! `"shinsei receipt v1\0" || everything before the signature`. The device holds the
//! receipt public key from its bundle and deletes its outbox entry only when the
//! receipt verifies, names its envelope ID and carries the SHA-256 of the exact bytes it
//! sent. A repeat submission returns the same receipt.

use ring::digest;

use crate::envelope::{EnvelopeId, ENVELOPE_ID_LEN};
use crate::keys::{KeyError, SigningKey, VerifyingKey, SIGNATURE_LEN};

pub const RECEIPT_MAGIC: [u8; 4] = *b"SHSR";
pub const RECEIPT_VERSION: u8 = 1;
pub const RECEIPT_CONTEXT: &[u8] = b"shinsei receipt v1\0";
/// Exact length of a receipt.
pub const RECEIPT_LEN: usize = 4 + 1 + 1 + ENVELOPE_ID_LEN + 32 + 8 + SIGNATURE_LEN;

/// What the relay did with the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// Stored durably; the relay now answers for it.
    Accepted,
}

/// A receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub status: ReceiptStatus,
    pub envelope_id: EnvelopeId,
    pub envelope_sha256: [u8; 32],
    /// Seconds since the Unix epoch at the relay.
    pub received_at: u64,
}

/// Why a receipt was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("receipt has the wrong length")]
    Length,
    #[error("not a receipt (bad magic or version)")]
    Format,
    #[error("unknown receipt status")]
    Status,
    #[error("receipt signature does not verify")]
    BadSignature,
    #[error("receipt names another envelope")]
    WrongEnvelope,
    #[error("receipt is for different envelope bytes")]
    WrongDigest,
    #[error("signing failed: {0}")]
    Sign(KeyError),
}

/// SHA-256 of envelope bytes.
pub fn envelope_digest(envelope: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, envelope).as_ref());
    out
}

impl Receipt {
    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(RECEIPT_LEN);
        b.extend_from_slice(&RECEIPT_MAGIC);
        b.push(RECEIPT_VERSION);
        b.push(match self.status {
            ReceiptStatus::Accepted => 1,
        });
        b.extend_from_slice(&self.envelope_id.0);
        b.extend_from_slice(&self.envelope_sha256);
        b.extend_from_slice(&self.received_at.to_be_bytes());
        b
    }

    /// Signs and encodes (relay side).
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, ReceiptError> {
        let mut body = self.body();
        let mut msg = RECEIPT_CONTEXT.to_vec();
        msg.extend_from_slice(&body);
        let sig = key.sign(&msg).map_err(ReceiptError::Sign)?;
        body.extend_from_slice(&sig);
        Ok(body)
    }

    /// Parses and verifies a receipt (device side) for the envelope `sent`.
    pub fn verify(
        bytes: &[u8],
        key: &VerifyingKey,
        expected_id: &EnvelopeId,
        sent: &[u8],
    ) -> Result<Self, ReceiptError> {
        let r = Self::parse_and_verify(bytes, key)?;
        if r.envelope_id != *expected_id {
            return Err(ReceiptError::WrongEnvelope);
        }
        if r.envelope_sha256 != envelope_digest(sent) {
            return Err(ReceiptError::WrongDigest);
        }
        Ok(r)
    }

    /// Parses and checks the signature only.
    pub fn parse_and_verify(bytes: &[u8], key: &VerifyingKey) -> Result<Self, ReceiptError> {
        if bytes.len() != RECEIPT_LEN {
            return Err(ReceiptError::Length);
        }
        let (body, sig) = bytes.split_at(RECEIPT_LEN - SIGNATURE_LEN);
        if body[..4] != RECEIPT_MAGIC || body[4] != RECEIPT_VERSION {
            return Err(ReceiptError::Format);
        }
        let status = match body[5] {
            1 => ReceiptStatus::Accepted,
            _ => return Err(ReceiptError::Status),
        };
        let mut msg = RECEIPT_CONTEXT.to_vec();
        msg.extend_from_slice(body);
        let sig: [u8; SIGNATURE_LEN] = sig.try_into().map_err(|_| ReceiptError::Length)?;
        if !key.verify(&msg, &sig) {
            return Err(ReceiptError::BadSignature);
        }
        let mut id = [0u8; ENVELOPE_ID_LEN];
        id.copy_from_slice(&body[6..22]);
        let mut d = [0u8; 32];
        d.copy_from_slice(&body[22..54]);
        let mut t = [0u8; 8];
        t.copy_from_slice(&body[54..62]);
        Ok(Self {
            status,
            envelope_id: EnvelopeId(id),
            envelope_sha256: d,
            received_at: u64::from_be_bytes(t),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let (_d, key) = SigningKey::generate().unwrap();
        let sent = b"envelope bytes";
        let r = Receipt {
            status: ReceiptStatus::Accepted,
            envelope_id: EnvelopeId([9; 16]),
            envelope_sha256: envelope_digest(sent),
            received_at: 1_700_000_000,
        };
        let bytes = r.sign(&key).unwrap();
        assert_eq!(bytes.len(), RECEIPT_LEN);
        let pk = key.public_key();
        assert_eq!(
            Receipt::verify(&bytes, &pk, &EnvelopeId([9; 16]), sent).unwrap(),
            r
        );
        assert_eq!(
            Receipt::verify(&bytes, &pk, &EnvelopeId([8; 16]), sent),
            Err(ReceiptError::WrongEnvelope)
        );
        assert_eq!(
            Receipt::verify(&bytes, &pk, &EnvelopeId([9; 16]), b"other"),
            Err(ReceiptError::WrongDigest)
        );
        let mut bad = bytes.clone();
        bad[60] ^= 1;
        assert_eq!(
            Receipt::parse_and_verify(&bad, &pk),
            Err(ReceiptError::BadSignature)
        );
        let (_d2, other) = SigningKey::generate().unwrap();
        assert_eq!(
            Receipt::parse_and_verify(&bytes, &other.public_key()),
            Err(ReceiptError::BadSignature)
        );
        assert_eq!(
            Receipt::parse_and_verify(&bytes[1..], &pk),
            Err(ReceiptError::Length)
        );
        let mut fmt = bytes.clone();
        fmt[0] = b'X';
        assert_eq!(
            Receipt::parse_and_verify(&fmt, &pk),
            Err(ReceiptError::Format)
        );
        let mut st = bytes;
        st[5] = 7;
        assert_eq!(
            Receipt::parse_and_verify(&st, &pk),
            Err(ReceiptError::Status)
        );
    }
}
