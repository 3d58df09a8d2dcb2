//! Fixtures shared by shinsei's tests (like `rustls-test`): a ward PKI built through the
//! `shinsei-provisioning` library, enrolled tablets and admin identities, standard
//! applications and photos, rustls and HTTP clients, free ports, waiting, raw-file
//! scans, process helpers and a throw-away PostgreSQL cluster.
//!
//! A dev-dependency only (the `tests` crate, itself never published, may use it as a
//! normal one): see README.md for what it must never do.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod app;
pub mod audit;
pub mod files;
pub mod http;
pub mod json;
pub mod net;
pub mod netns;
pub mod pg;
pub mod pki;
pub mod sys;
pub mod tls;
pub mod wait;

pub use app::{express_app, photo, standard_app, APP_ID};
pub use files::{contains, files_below, find_all, walk};
pub use http::{
    admin_post, approved_post, assert_accepted, client, error_code, get, get_json, post,
    post_envelope, url, HOST,
};
pub use json::{keys, strs};
pub use net::free_port;
pub use pki::{
    admin, admin_as, device, make_pki, make_pki_for, tablet, Identity, Pki, PkiBuilder, Tablet,
};
pub use tls::provider;

/// Seconds in a day.
pub const DAY: u64 = 86_400;

/// The wall clock, in Unix seconds (the provisioning tool's notion of now).
pub fn now() -> u64 {
    shinsei_provisioning::unix_now()
}
