//! `shinsei-agent`: the tablet agent, as a library. The binary (`main.rs`) is a thin
//! command-line layer over [`cli`].
//!
//! One concept per module:
//! - [`enroll`] — device key, CSR, bundle and staff-list installation.
//! - [`transport`] — the mTLS client pinned to the relay; nothing else can be reached.
//! - [`outbox`] — sealed envelopes waiting for a receipt, encrypted at rest.
//! - [`session`] — staff login, lock-out, auto-lock.
//! - [`audit`] — the hash-chained operation log (no personal data).
//! - [`lease`] — the offline lease (lock, then wipe).
//! - [`runtime`] — the submit flow, check-in, remote disable and wipe.
//! - [`qr`] — application ID from the form's QR code.
//! - [`secret_input`] — password and PIN lines read unbuffered into locked memory.
//! - [`photo_input`] — a JPEG file → `FacePhoto` (metadata stripped).
//! - [`memguard`] — zeroize-on-free allocator, locked secret buffers, no core dumps
//!   (the crate's only `unsafe` code).
//! - [`demo`] — the self-contained demonstration.
//! - [`ui`] — the counter kiosk (feature `ui`, on by default).
#![deny(unsafe_code)]

pub mod audit;
pub mod capture;
pub mod cli;
pub mod clock;
pub mod demo;
pub mod enroll;
pub mod error;
pub mod fsutil;
pub mod lease;
pub mod memguard;
pub mod outbox;
pub mod photo_input;
/// The QR reader lives in the capture pipeline; `shinsei_agent::qr` is kept as its name.
pub use capture::qr;
pub mod route;
pub mod runtime;
pub mod secret_input;
pub mod session;
pub mod test_hooks;
pub mod transport;
#[cfg(feature = "ui")]
pub mod ui;
