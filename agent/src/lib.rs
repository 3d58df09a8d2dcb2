//! `shinsei-agent`: the tablet agent's runtime, as a library: everything between "an
//! application exists" and "the tablet holds nothing of it any more".
//!
//! One concept per module:
//! - [`enroll`] — device key, CSR, bundle and staff-list installation.
//! - `transport` — the mTLS client pinned to the relay; nothing else can be reached.
//! - [`outbox`] — sealed envelopes waiting for a receipt, encrypted at rest.
//! - [`session`] — staff login, lock-out, auto-lock.
//! - [`audit`] — the hash-chained operation log (no personal data).
//! - `lease` — the offline lease (lock, then wipe).
//! - [`runtime`] — the submit flow, check-in, remote disable and wipe.
//! - [`wiped`] — the wipe marker; the outbox removes itself after a wipe.
//! - [`secret_input`] — password and PIN lines read unbuffered into locked memory.
//! - [`memguard`] — zeroize-on-free allocator, locked secret buffers, no core dumps
//!   (the crate's only `unsafe` code).
//!
//! The capture pipeline is `shinsei-capture`, the counter kiosk `shinsei-kiosk`, and
//! the binary with its command line `shinsei-tablet` (`shinsei-agent`).
#![deny(unsafe_code)]
#![warn(unreachable_pub)]

pub mod audit;
pub mod clock;
pub mod enroll;
pub mod error;
pub mod fsutil;
mod lease;
pub mod memguard;
pub mod outbox;
pub mod route;
pub mod runtime;
pub mod secret_input;
pub mod session;
pub mod test_hooks;
mod transport;
pub mod wiped;
