//! `shinsei-provisioning`: the ward's PKI, device enrollment (signing CSRs into device
//! bundles), staff accounts and the fleet commands of `shinsei-provision`.
//!
//! The binary (`src/main.rs` and its `cli`, the only place clap is used) parses
//! arguments and calls this library; everything
//! else is here and testable without sockets. [`firmware`] renders a tablet's OS
//! configuration (firewall, Wi-Fi, sandboxed agent unit, kiosk target) from its bundle. The PKI directory's files
//! (layout, loaders, secret files) are in the `shinsei-pki` crate, shared with the relay.
//!
//! Never: print or log a private key, a password or a password hash; write a secret
//! with a mode other than 0600; overwrite an existing key without being asked.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod device;
pub mod error;
pub mod firmware;
pub mod fleet;
pub mod pki;
pub mod relay;
pub mod renewal;
pub mod staff;

pub use error::ProvisionError;

/// Seconds since the Unix epoch, from the system clock.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
