//! The relay's memory budgets after authentication (issue 19, "after authentication"):
//! request-body bytes in flight and photo pixels being decoded.
//!
//! Without them, one device certificate could hold `max_connections` ×
//! `max_h2_streams` bodies of 7 MB (1,024 × 16 × 7 MB ≈ 115 GB) and have a 6000×6000
//! JPEG decoded for each. With them:
//!
//! - **Bytes.** A body's declared `Content-Length` (or, without one, the endpoint's
//!   limit) is reserved before the first byte of it is read, and held until the
//!   request has been handled (the body, its parsed copy, the plaintext and the sealed
//!   record live that long). The whole relay holds at most `limits.max_inflight_bytes`
//!   (64 MiB by default), one device certificate at most
//!   `limits.max_device_inflight_bytes` of it (two largest envelopes), so one device
//!   cannot take the budget of the others.
//! - **Pixels.** The photo's width × height is read from its JPEG frame header after
//!   decryption and reserved before the decoder allocates anything
//!   (`shinsei_protocol::envelope::VerifiedEnvelope::open_admitted`): at most
//!   `limits.max_decode_pixels` at once (40 Mpx by default: one 6000×6000 photo and a
//!   few of a tablet's ~1 Mpx; decoding is CPU-bound, more at once would not finish
//!   sooner).
//!
//! A reservation that does not fit is not waited for: the request is answered at once
//! with 503 and `Retry-After: limits.retry_after_secs`, nothing of it stored (the agent
//! keeps the envelope in its outbox and retries on 5xx: `agent/src/transport.rs`,
//! `PostOutcome::Retry`). Waiting would let the queue of waiters — each holding a
//! connection and its buffers — grow instead; answering frees them. An application is
//! never lost: a 503 comes before anything is stored, and an envelope stored once is
//! answered with its stored receipt when sent again.
//!
//! Built on tokio's `Semaphore` (one permit a byte or a pixel, `try_acquire_many`),
//! which the relay already uses: `tower`'s `ConcurrencyLimit`/`LoadShed` count
//! requests, not bytes, and cannot size a reservation by the request.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use crate::{
    config::LimitsConfig,
    refusal::{Refusal, RefusalKind},
};

/// What a reservation that does not fit was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The relay's bytes in flight.
    Bytes,
    /// This device's share of them.
    DeviceBytes,
    /// Pixels being decoded.
    Pixels,
}

impl Exhausted {
    /// The refusal: 503 with `Retry-After` (`crate::http::error_response`).
    pub(crate) fn refusal(self) -> Refusal {
        let (code, msg) = match self {
            Self::Bytes => (
                "busy",
                "the relay holds as many request bytes as it may; retry later",
            ),
            Self::DeviceBytes => (
                "busy_device",
                "this device has as many request bytes in flight as it may; retry later",
            ),
            Self::Pixels => (
                "busy_decoding",
                "the relay decodes as many photos as it may; retry later",
            ),
        };
        Refusal::new(RefusalKind::Busy, code, msg)
    }
}

/// The two budgets, shared by both listeners.
pub struct Budget {
    bytes: Arc<Semaphore>,
    device_cap: usize,
    per_device: Arc<Mutex<HashMap<String, usize>>>,
    pixels: Semaphore,
}

/// Bytes reserved for one request; given back on drop.
pub struct BytesHeld {
    _permit: OwnedSemaphorePermit,
    device: String,
    n: usize,
    per_device: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for BytesHeld {
    fn drop(&mut self) {
        let mut m = self.per_device.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = m.get_mut(&self.device) {
            *held = held.saturating_sub(self.n);
            if *held == 0 {
                m.remove(&self.device);
            }
        }
    }
}

impl Budget {
    pub fn new(l: &LimitsConfig) -> Self {
        Self {
            bytes: Arc::new(Semaphore::new(l.max_inflight_bytes)),
            device_cap: l.max_device_inflight_bytes,
            per_device: Arc::new(Mutex::new(HashMap::new())),
            pixels: Semaphore::new(usize::try_from(l.max_decode_pixels).unwrap_or(usize::MAX)),
        }
    }

    /// Reserves `n` body bytes for `device`, or says which budget is full.
    pub fn bytes(&self, device: &str, n: usize) -> Result<BytesHeld, Exhausted> {
        let permits = u32::try_from(n).map_err(|_| Exhausted::Bytes)?;
        let mut m = self.per_device.lock().unwrap_or_else(|p| p.into_inner());
        let held = m.get(device).copied().unwrap_or(0);
        if held.saturating_add(n) > self.device_cap {
            return Err(Exhausted::DeviceBytes);
        }
        let permit = self
            .bytes
            .clone()
            .try_acquire_many_owned(permits)
            .map_err(|_| Exhausted::Bytes)?;
        m.insert(device.to_owned(), held + n);
        Ok(BytesHeld {
            _permit: permit,
            device: device.to_owned(),
            n,
            per_device: self.per_device.clone(),
        })
    }

    /// Reserves `n` pixels for one decode, or `None` if the pixel budget is full.
    pub fn pixels(&self, n: u64) -> Option<SemaphorePermit<'_>> {
        let permits = u32::try_from(n).ok()?;
        self.pixels.try_acquire_many(permits).ok()
    }

    /// Bytes reserved now (metrics, tests).
    pub fn bytes_in_flight(&self, max: usize) -> usize {
        max.saturating_sub(self.bytes.available_permits())
    }
}

/// Listeners of a relay (device and admin), each with its own connection pools.
pub const LISTENERS: u64 = 2;
/// Memory of a connection waiting for its first byte: its task and socket (the
/// kernel's socket buffers are not the process's memory).
pub const WAITING_CONNECTION_BYTES: u64 = 4 * 1024;
/// Memory of a connection in its TLS handshake: rustls's state and record buffers
/// (a ClientHello and a certificate chain of a few KiB, 16 KiB records).
pub const HANDSHAKE_CONNECTION_BYTES: u64 = 64 * 1024;
/// Memory of an authenticated connection outside the request bodies: the HTTP/2
/// connection window (body data received, not yet read; the HTTP/1.1 buffer is
/// smaller), plus TLS and HTTP state and buffers.
pub const ESTABLISHED_CONNECTION_BYTES: u64 =
    crate::server::H2_CONNECTION_WINDOW as u64 + 128 * 1024;
/// Copies of a body alive at once while it is handled: the body, the parsed envelope,
/// the plaintext, the photo, the photo's segments (validation), the re-encoded
/// application, the sealed record, the store's write — eight, rounded up from seven.
pub const COPIES_PER_BODY_BYTE: u64 = 8;
/// Decoder memory per photo pixel: the RGB output (3 bytes) and, for a progressive
/// JPEG, its coefficients (3 components × 2 bytes) — zune-jpeg's allocations.
pub const BYTES_PER_DECODED_PIXEL: u64 = 9;
/// Everything else: the binary and its libraries, the tokio runtime with up to 512
/// blocking threads (their touched stacks), sled's page cache
/// ([`crate::store::SLED_CACHE_BYTES`]) and twice that for its write buffers,
/// key material, the deny list and the registry.
pub const BASE_BYTES: u64 =
    64 * 1024 * 1024 + 512 * 256 * 1024 + 3 * crate::store::SLED_CACHE_BYTES;

/// The relay's worst-case resident memory (bytes) under `l`, whatever its clients
/// send (relay/README.md, "Memory bound"):
///
/// ```text
/// BASE
///   + LISTENERS × (max_pre_tls × WAITING + max_handshakes × HANDSHAKE
///                  + max_connections × ESTABLISHED)
///   + COPIES_PER_BODY_BYTE × max_inflight_bytes
///   + BYTES_PER_DECODED_PIXEL × max_decode_pixels
/// ```
///
/// Long-polls, status and admin requests hold no body beyond the budget and a few KiB
/// of state per connection, counted in the connection terms. With the PostgreSQL store
/// the sled terms are replaced by the pool's connections (`store.pool_size`, a few MiB
/// each), smaller.
pub fn worst_case_memory(l: &LimitsConfig) -> u64 {
    let conns = (l.max_pre_tls as u64) * WAITING_CONNECTION_BYTES
        + (l.max_handshakes as u64) * HANDSHAKE_CONNECTION_BYTES
        + (l.max_connections as u64) * ESTABLISHED_CONNECTION_BYTES;
    BASE_BYTES
        + LISTENERS * conns
        + COPIES_PER_BODY_BYTE * l.max_inflight_bytes as u64
        + BYTES_PER_DECODED_PIXEL * l.max_decode_pixels
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn budget(total: usize, device: usize, pixels: u64) -> Budget {
        Budget::new(&LimitsConfig {
            max_inflight_bytes: total,
            max_device_inflight_bytes: device,
            max_decode_pixels: pixels,
            ..LimitsConfig::default()
        })
    }

    #[test]
    fn bytes_are_bounded_globally_and_per_device() {
        let b = budget(100, 60, 10);
        let a1 = b.bytes("A", 40).unwrap();
        assert_eq!(b.bytes("A", 30).err(), Some(Exhausted::DeviceBytes));
        let a2 = b.bytes("A", 20).unwrap();
        let b1 = b.bytes("B", 40).unwrap();
        assert_eq!(b.bytes("B", 1).err(), Some(Exhausted::Bytes));
        assert_eq!(b.bytes_in_flight(100), 100);
        drop(a1);
        let _b2 = b.bytes("B", 20).unwrap();
        assert_eq!(b.bytes("A", 41).err(), Some(Exhausted::DeviceBytes));
        drop((a2, b1));
        let _a3 = b.bytes("A", 60).unwrap();
        assert_eq!(b.bytes_in_flight(100), 80);
        assert_eq!(b.bytes("C", usize::MAX).err(), Some(Exhausted::Bytes));
    }

    #[test]
    fn pixels_are_bounded() {
        let b = budget(100, 100, 10);
        let p = b.pixels(7).unwrap();
        assert!(b.pixels(4).is_none());
        let _q = b.pixels(3).unwrap();
        drop(p);
        assert!(b.pixels(7).is_some());
        assert!(b.pixels(u64::MAX).is_none());
    }

    #[test]
    fn exhaustion_is_a_busy_refusal() {
        for e in [Exhausted::Bytes, Exhausted::DeviceBytes, Exhausted::Pixels] {
            assert_eq!(e.refusal().kind, RefusalKind::Busy);
        }
    }
}
