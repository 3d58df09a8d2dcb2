//! Where accepted applications go: the [`Upstream`] trait (J-LIS behind it) and the
//! spool-directory upstream ([`SpoolUpstream`]). Free of the relay's core, so that the
//! core can hold an upstream and the forwarder (`forward.rs`) can use both without a
//! cycle.

mod spool;

use shinsei_protocol::{application::Application, envelope::EnvelopeId};

pub use self::spool::{application_json, SpoolUpstream, SPOOL_FILES};

/// An application on its way upstream.
pub struct Delivery<'a> {
    pub envelope_id: EnvelopeId,
    /// When the relay received it (unix seconds).
    pub received_at: u64,
    pub application: &'a Application,
}

/// A delivery failure (retried).
#[derive(Debug, thiserror::Error)]
#[error("upstream: {0}")]
pub struct UpstreamError(pub String);

/// Where accepted applications go (J-LIS). Called from a blocking thread, one delivery
/// at a time.
pub trait Upstream: Send + Sync + 'static {
    /// Delivers one application. `Ok` means the upstream has it durably. Must be
    /// idempotent by `envelope_id`.
    fn deliver(&self, d: &Delivery<'_>) -> Result<(), UpstreamError>;

    /// The relay's record of `envelope_id` has been purged; an upstream that keeps a
    /// local copy (the spool) deletes it too.
    fn forget(&self, _envelope_id: &EnvelopeId) -> Result<(), UpstreamError> {
        Ok(())
    }

    /// The envelope IDs of every local copy this upstream keeps (the spool's entries),
    /// for the retention purge's orphan sweep: a copy whose relay record is gone or
    /// past its deadline is forgotten. An upstream without local copies has none.
    fn local_copies(&self) -> Result<Vec<EnvelopeId>, UpstreamError> {
        Ok(Vec::new())
    }
}
