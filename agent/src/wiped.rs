//! The wipe marker: a wiped data directory holds nothing but `WIPED`, and the agent
//! refuses to open it until the tablet is enrolled again.
//!
//! What is left of the outbox is removed by the types, not by every caller
//! remembering it: the outbox removes its files when it is closed after a wipe, and
//! `Agent::open` removes them when it finds the marker
//! ([`crate::runtime::clear_for_reenrollment`] before enrolling again).

use std::path::Path;

/// The marker file of a wiped tablet.
pub const WIPED_MARKER: &str = "WIPED";

/// The marker of a wipe in progress: written before anything is shredded, so that a
/// wipe a crash interrupted is finished at the next start (`Agent::open`).
pub const WIPING_MARKER: &str = "WIPING";

/// Whether this data directory was wiped.
pub fn is_wiped(data_dir: &Path) -> bool {
    data_dir.join(WIPED_MARKER).exists() || data_dir.join(WIPING_MARKER).exists()
}
