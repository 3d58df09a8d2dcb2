//! Limits shared by the tablet and the relay, written once. The relay's accepted age
//! of an envelope follows from the tablet's outbox age, and the retention from both
//! (`relay/src/config.rs` checks the relation at start-up).

/// The longest any application may stay readable at the relay, from receipt (7 days).
pub const MAX_RETENTION_SECS: u64 = 7 * 24 * 3600;
/// Default oldest an envelope may get in a tablet's outbox (72 h).
pub const DEFAULT_OUTBOX_MAX_AGE_SECS: u64 = 72 * 3600;
/// Slack between the outbox age and what the relay accepts (clock differences, the
/// last retry).
pub const ACCEPT_SLACK_SECS: u64 = 3600;
/// Default oldest `created_at` the relay accepts: the outbox age plus the slack.
pub const DEFAULT_MAX_AGE_SECS: u64 = DEFAULT_OUTBOX_MAX_AGE_SECS + ACCEPT_SLACK_SECS;
/// Default furthest in the future a `created_at` (or `issued_at`) may be.
pub const DEFAULT_MAX_FUTURE_SECS: u64 = 300;
