//! `shinsei-protocol`: the permitted fields and the wire formats shared by the
//! tablet agent, the relay and the provisioning tool.
//!
//! Nothing in this crate does I/O. Every type that can hold applicant data
//! zeroizes itself on drop and has no `Debug` that shows its content.
//!
//! Modules, one concept each:
//! - [`api`] — the relay's device API: paths, device states, status and error bodies.
//! - [`policy`] — limits shared by tablet and relay (retention, ages).
//! - [`application`] — the application (permitted fields only) and its plaintext encoding.
//! - [`photo`] — `FacePhoto`, a validated JPEG.
//! - [`pins`] — `ExpressPins`, the PINs of express issuance.
//! - [`device`] — `DeviceId`.
//! - [`keys`] — relay HPKE keys, device signing keys, receipt keys.
//! - [`hpke_suite`] — the single HPKE code path (RFC 9180) used by the envelope.
//! - [`envelope`] — the sealed, signed envelope v1.
//! - [`receipt`] — the relay's signed receipt.
//! - [`relay_keys`] — the relay's signed HPKE key schedule (key epochs).
//! - [`signed`], [`bundle`], [`staff`] — CA-signed documents distributed to devices.
//! - [`x509`] — who a verified client certificate belongs to (device or admin).
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod api;
pub mod application;
pub mod audit;
pub mod bundle;
pub mod csr;
pub mod device;
pub mod envelope;
pub mod hpke_suite;
pub mod keys;
pub mod photo;
pub mod pins;
pub mod policy;
pub mod receipt;
pub mod relay_keys;
pub mod signed;
pub mod staff;
pub mod x509;

pub mod ct;
