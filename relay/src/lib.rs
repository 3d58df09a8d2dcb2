//! `shinsei-relay`: the reference relay between the ward's tablets and J-LIS.
//!
//! It accepts HPKE-sealed, device-signed envelopes over mutual TLS, re-validates them,
//! stores them sealed (sled, or PostgreSQL shared by several nodes; durable before the
//! receipt), forwards them through an
//! [`forward::Upstream`] (a spool directory by default), deletes every record within 7
//! days, and controls devices (disable, wipe, revoke) with a long-polled status
//! endpoint. See `relay/README.md` for the API and the configuration.
//!
//! The core ([`core::RelayCore`], [`submit`], [`registry`] over the I/O-free
//! [`device`] model, [`retention`], [`epochs`] (key epochs: what makes deletion real),
//! [`forward`] over [`upstream`]) works without sockets; [`server`] and [`http`] put it
//! on the network. Module dependencies have no cycles.
#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod core;
pub mod deny;
pub mod device;
pub mod epochs;
pub mod error;
pub mod forward;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod pg;
pub mod registry;
pub mod retention;
pub mod server;
pub mod store;
pub mod submit;
pub mod tls;
pub mod upstream;

pub use crate::config::Config;
pub use crate::server::{Relay, RelayOptions, RunningRelay, StartError};
