//! Constant-time helpers.

use subtle::ConstantTimeEq;

/// Compares two byte strings in constant time (the length is not secret).
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
