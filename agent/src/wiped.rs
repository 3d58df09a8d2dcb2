//! The wipe marker: a wiped data directory holds nothing but `WIPED`, and the agent
//! refuses to open it until the tablet is enrolled again.
//!
//! What is left of the outbox is removed by the types, not by every caller
//! remembering it: the [`Outbox`] removes its files when it is
//! closed after a wipe, and [`Agent::open`](crate::runtime::Agent::open) removes them
//! when it finds the marker.

use std::path::Path;

use crate::error::Result;
use crate::{fsutil, outbox::Outbox};

/// The marker file of a wiped tablet.
pub const WIPED_MARKER: &str = "WIPED";

/// Whether this data directory was wiped.
pub fn is_wiped(data_dir: &Path) -> bool {
    data_dir.join(WIPED_MARKER).exists()
}

/// Removes what a wipe may have left of the outbox (its files, when the agent was
/// killed before it closed them). Nothing to do on a directory that was not wiped.
pub(crate) fn remove_leftovers(data_dir: &Path) -> Result<()> {
    fsutil::shred_tree(&Outbox::db_dir(data_dir))
}

/// Prepares a wiped directory for enrollment again: removes the leftovers, then the
/// marker. A directory that was not wiped is left as it is.
pub fn clear_for_reenrollment(data_dir: &Path) -> Result<()> {
    if is_wiped(data_dir) {
        remove_leftovers(data_dir)?;
        fsutil::shred(&data_dir.join(WIPED_MARKER))?;
    }
    Ok(())
}
