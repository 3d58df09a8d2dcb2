//! Test support for the kiosk (feature `testkit`; never in a product build): the
//! counter scene a camera sees, and a driver that works the screens as a clerk does.
//! Used by this crate's tests and benchmark and by the end-to-end kiosk test.
// Test support: a failure is a broken test set-up and panics with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod counter_scene;
mod kiosk_driver;

pub use counter_scene::counter_scene;
pub use kiosk_driver::{choose, click, review_to_send, scan_to_review, step_until, type_text};
