//! The submission pipeline: from the bytes of a `POST /v1/envelopes` to a stored
//! envelope and a signed receipt. No sockets and no HTTP types here: a refusal is a
//! [`Refusal`]; the HTTP layer calls [`prepare`] (the CPU work, under the relay's
//! CPU-worker limit) and then [`commit`] (the durable write, whose flush concurrent
//! submissions share) on blocking threads.
//!
//! Order: parse → header device ID = certificate CN → device active → `created_at` in
//! the window → deduplicate by envelope ID → verify the signature with the
//! certificate's key → open with the key of the envelope's `created_at` epoch (or the
//! provisioned bootstrap ring, keys past `not_after` excluded) → decode and re-validate
//! every field → store the application sealed under the current storage epoch's key
//! ([`crate::epochs::StoredRecord`]) durably → receipt. Nothing is stored unless every
//! step passed.

use shinsei_pki::layout::HpkeKeyRing;
use shinsei_protocol::{
    application::ApplicationError,
    envelope::{Envelope, EnvelopeError},
    keys::{KeyId, RelayKeyRing, RelaySecretKey},
    receipt::{envelope_digest, Receipt, ReceiptStatus},
};

use crate::{
    budget::Exhausted,
    core::RelayCore,
    identity::DeviceIdentity,
    refusal::{Refusal, RefusalKind},
    registry::{DeviceRecord, DeviceState},
    store::{EnvelopeMeta, InsertOutcome},
};

/// An accepted submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// The receipt bytes (protocol receipt v1).
    pub receipt: Vec<u8>,
    /// `true` if the envelope had been stored before (the same receipt is returned).
    pub duplicate: bool,
}

/// The key ring as seen at one instant: keys past their `not_after` do not open.
struct RingAt<'a> {
    ring: &'a HpkeKeyRing,
    now: u64,
}

impl RelayKeyRing for RingAt<'_> {
    fn secret_key(&self, key_id: &KeyId) -> Option<&RelaySecretKey> {
        self.ring.secret_key_at(key_id, self.now)
    }
}

fn forbidden(code: &'static str, msg: &str) -> Refusal {
    Refusal::new(RefusalKind::Forbidden, code, msg)
}

/// The refusal for a device that may not do what it asked, if any.
pub(crate) fn state_refusal(r: &DeviceRecord, allowed: &[DeviceState]) -> Option<Refusal> {
    if allowed.contains(&r.state) {
        return None;
    }
    Some(match r.state {
        DeviceState::Active => forbidden("device_active", "not allowed while the device is active"),
        DeviceState::Disabled => forbidden("device_disabled", "the device is disabled"),
        DeviceState::WipePending => forbidden(
            "wipe_pending",
            "the device must wipe itself (POST /v1/wipe-confirm)",
        ),
        DeviceState::Wiped => forbidden("device_wiped", "the device has been wiped"),
        DeviceState::Revoked => forbidden("device_revoked", "the device has been revoked"),
    })
}

fn unprocessable(code: &'static str, msg: impl Into<String>) -> Refusal {
    Refusal::new(RefusalKind::Unprocessable, code, msg)
}

fn envelope_refusal(e: &EnvelopeError) -> Refusal {
    match e {
        EnvelopeError::TooLarge => {
            Refusal::new(RefusalKind::TooLarge, "too_large", "envelope too large")
        }
        EnvelopeError::BadSignature => unprocessable(
            "bad_signature",
            "the signature does not verify with the client certificate's key",
        ),
        EnvelopeError::UnknownRelayKey(id) => unprocessable(
            "unknown_relay_key",
            format!("relay key {id} is unknown or retired"),
        ),
        EnvelopeError::Decrypt => unprocessable("decrypt_failed", "the ciphertext does not open"),
        // Not the envelope's fault: the pixel budget is full (503, retried).
        EnvelopeError::Application(ApplicationError::DecodeNotAdmitted { .. }) => {
            Exhausted::Pixels.refusal()
        }
        // The application error's text names the field rule, never a value.
        EnvelopeError::Application(a) => unprocessable("invalid_application", a.to_string()),
        other => Refusal::malformed(other.to_string()),
    }
}

fn replay_answer(
    existing: &EnvelopeMeta,
    device: &str,
    digest: &[u8; 32],
) -> Result<Accepted, Refusal> {
    let same_bytes = existing
        .digest_bytes()
        .is_some_and(|d| shinsei_protocol::ct::eq(&d, digest));
    if same_bytes && existing.device_id == device {
        let receipt = existing
            .receipt_bytes()
            .ok_or_else(|| Refusal::internal("stored receipt is not hex"))?;
        return Ok(Accepted {
            receipt,
            duplicate: true,
        });
    }
    Err(Refusal::new(
        RefusalKind::Conflict,
        "duplicate_conflict",
        "an envelope with this ID and different bytes was already accepted",
    ))
}

/// An envelope checked, opened, validated and sealed for storage, with its receipt:
/// everything but the durable write ([`commit`]).
pub(crate) enum Prepared {
    /// Already stored: the answer is the stored receipt.
    Replay(Accepted),
    /// New: to be written.
    New(Box<NewRecord>),
}

pub(crate) struct NewRecord {
    id: shinsei_protocol::envelope::EnvelopeId,
    meta: EnvelopeMeta,
    record: Vec<u8>,
    receipt: Vec<u8>,
    digest: [u8; 32],
    key_used: String,
}

/// The CPU part of the pipeline (signature, HPKE, the photo's decode, sealing, the
/// receipt's signature): the HTTP layer runs it under the CPU-worker limit.
pub(crate) fn prepare(
    core: &RelayCore,
    device: &DeviceIdentity,
    body: &[u8],
) -> Result<Prepared, Refusal> {
    let limit = core.config.limits.max_envelope_bytes;
    if body.len() > limit {
        return Err(Refusal::too_large(limit));
    }
    let env = Envelope::parse(body).map_err(|e| envelope_refusal(&e))?;
    let h = env.header();
    let id = h.envelope_id;
    if h.device_id != device.device_id {
        return Err(forbidden(
            "device_mismatch",
            "the envelope names another device than the client certificate",
        ));
    }
    let rec = core.registry.contact(device)?;
    if let Some(e) = state_refusal(&rec, &[DeviceState::Active]) {
        return Err(e);
    }
    let now = core.clock.now();
    let w = &core.config.clock;
    if h.created_at > now.saturating_add(w.max_future_secs) {
        return Err(unprocessable(
            "clock_skew",
            format!(
                "created_at is more than {} s in the future",
                w.max_future_secs
            ),
        ));
    }
    if h.created_at.saturating_add(w.max_age_secs) < now {
        return Err(unprocessable(
            "clock_skew",
            format!("created_at is more than {} s in the past", w.max_age_secs),
        ));
    }
    let digest = envelope_digest(body);
    if let Some(existing) = core.store.envelope_meta(&id)? {
        return replay_answer(&existing, device.device_id.as_str(), &digest).map(Prepared::Replay);
    }
    let verified = env
        .verify(&device.verifying_key)
        .map_err(|e| envelope_refusal(&e))?;
    let mut key_used = String::from("bootstrap");
    let record = {
        // The epoch key of the envelope's creation time, if that is the key it names;
        // otherwise the provisioned (bootstrap) ring.
        let epoch_key = core
            .epochs()
            .hpke_key_for(verified.header().created_at)
            .filter(|k| k.key_id() == verified.header().relay_key_id);
        // The application and its encoding zeroize themselves when dropped at the end
        // of this block. The photo's pixels are reserved before it is decoded.
        let admit = |pixels: u64| core.budget.pixels(pixels);
        let app = match &epoch_key {
            Some(k) => {
                key_used = format!(
                    "epoch {}",
                    verified.header().created_at / core.config.keys.hpke_epoch_secs.max(1)
                );
                verified.open_admitted(k, admit)
            }
            None => {
                let ring = core.key_ring();
                verified.open_admitted(&RingAt { ring: &ring, now }, admit)
            }
        }
        .map_err(|e| envelope_refusal(&e))?;
        let plaintext = app.encode();
        core.epochs()
            .seal_record(now, &id, verified.header().profile, &plaintext)
            .map_err(|e| Refusal::internal(format!("cannot seal for storage: {e}")))?
    };
    if core.store.envelope_count() >= core.config.limits.max_stored_envelopes {
        return Err(Refusal::new(
            RefusalKind::StorageFull,
            "storage_full",
            "the relay holds the most envelopes it may; retry later",
        ));
    }
    let receipt = Receipt {
        status: ReceiptStatus::Accepted,
        envelope_id: id,
        envelope_sha256: digest,
        received_at: now,
    }
    .sign(core.receipt_key())
    .map_err(Refusal::internal)?;
    let meta = EnvelopeMeta {
        device_id: device.device_id.as_str().to_owned(),
        digest: hex::encode(digest),
        receipt: hex::encode(&receipt),
        received_at: now,
        device_key: hex::encode(device.verifying_key.as_bytes()),
        forwarded: false,
    };
    Ok(Prepared::New(Box::new(NewRecord {
        id,
        meta,
        record,
        receipt,
        digest,
        key_used,
    })))
}

/// The durable write of a prepared envelope (concurrent writes share a flush: the
/// store's group commit), then the receipt: never before the record is durable.
pub(crate) fn commit(
    core: &RelayCore,
    device: &DeviceIdentity,
    n: NewRecord,
) -> Result<Accepted, Refusal> {
    let NewRecord {
        id,
        meta,
        record,
        receipt,
        digest,
        key_used,
    } = n;
    match core.store.insert_envelope(&id, &meta, &record)? {
        InsertOutcome::Inserted => {
            tracing::info!(envelope_id = %id, device_id = %device.device_id, relay_key = %key_used, "envelope accepted");
            core.forward_wakeup.notify_one();
            Ok(Accepted {
                receipt,
                duplicate: false,
            })
        }
        // A concurrent submission of the same ID won the race.
        InsertOutcome::Existing(existing) => {
            replay_answer(&existing, device.device_id.as_str(), &digest)
        }
    }
}
