//! TLS: the server configurations ([`config`]) and the client-certificate verifiers of
//! the two listeners ([`verify`]).

pub mod config;
pub mod verify;

pub use self::config::{load_crls, provider, server_config, ALLOWED_SUITES};
pub use self::verify::{AdminClientVerifier, DeviceClientVerifier};
