//! `shinsei-pki`: the ward PKI's files, shared by the relay (which loads its key
//! material) and the provisioning tool (which writes it).
//!
//! - [`layout`] — where each file of a PKI directory is, and the loaders: PEM
//!   certificates and PKCS#8 keys, `deployment.json`, the relay's provisioned HPKE key
//!   ring, and the relay's whole material ([`layout::load_relay_material`]). Who a
//!   certificate belongs to is decided in `shinsei_protocol::x509`.
//! - [`files`] — secret files: created 0600 from the start, replaced atomically, read
//!   with a size limit.
//! - [`error`] — [`PkiError`].
//!
//! Why a crate of its own: the relay needs these loaders but must not link the
//! provisioning tool (its CLI, HTTP client and certificate generator).
//!
//! Never: print or log a private key; write a secret with a mode other than 0600;
//! overwrite an existing key without being asked.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod error;
pub mod files;
pub mod layout;

pub use error::{PkiError, Result};
