//! `shinsei-relay`: the reference relay between the ward's tablets and J-LIS.
//!
//! It accepts HPKE-sealed, device-signed envelopes over mutual TLS, re-validates them,
//! stores them sealed (sled, or PostgreSQL shared by several nodes; durable before the
//! receipt), forwards them through an
//! [`upstream::Upstream`] (a spool directory by default), deletes every record within 7
//! days, and controls devices (disable, wipe, revoke) with a long-polled status
//! endpoint. See `relay/README.md` for the API and the configuration.
//!
//! Layout (one concept per module; module dependencies have no cycles):
//! - the I/O-free core: [`device`] (the state machine), `refusal` (why a request was
//!   refused, without HTTP types), `audit` (the device audit upload's rules), `submit`
//!   (the submission pipeline), [`epochs`] (key epochs: what makes deletion real);
//! - state: [`core::RelayCore`], [`registry`] (devices over the store), `deny` (the
//!   deny list), [`store`] (`store/sled.rs`, `store/pg.rs`), [`upstream`] (the trait and
//!   `upstream/spool.rs`), [`forward`], [`retention`], [`clock`], `metrics`;
//! - admission and budgets: [`admission`] (connections before authentication),
//!   [`budget`] (bytes in flight, pixels being decoded);
//! - the network: [`tls`] (`tls/config.rs`, `tls/verify.rs`: the listeners' verifiers),
//!   `http` (`http/device.rs`, `http/admin.rs`: the only place that knows status codes),
//!   [`server`] (listeners, connections, reload, shutdown).
//!
//! Public modules are those the binary, the integration tests, the benchmarks and the
//! fuzz targets use; the rest is private (`unreachable_pub` is denied).
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod admission;
pub mod approval;
pub mod audit;
pub mod budget;
pub mod clock;
pub mod config;
pub mod core;
mod deny;
pub mod device;
pub mod epochs;
pub mod expiry;
pub mod forward;
pub mod harden;
mod http;
pub mod identity;
mod metrics;
mod refusal;
pub mod registry;
pub mod renewal;
pub mod retention;
pub mod server;
pub mod store;
mod submit;
pub mod tls;
pub mod upstream;

pub use crate::config::Config;
pub use crate::server::{Relay, RelayOptions, RunningRelay, StartError};
