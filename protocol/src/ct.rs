//! Constant-time helpers.

/// Compares two byte strings in constant time (for equal lengths).
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    ring::constant_time::verify_slices_are_equal(a, b).is_ok()
}
