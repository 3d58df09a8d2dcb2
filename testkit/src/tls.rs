//! rustls configurations over the ward's certificates.

use std::sync::Arc;

use rustls::{
    pki_types::{CertificateDer, PrivateKeyDer},
    ClientConfig, RootCertStore,
};

use crate::pki::Identity;

/// The ring crypto provider (the one every shinsei binary uses).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A root store holding `root` only.
pub fn roots(root: CertificateDer<'static>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(root).unwrap();
    roots
}

/// A client configuration trusting only `root`, presenting `ident` if given.
pub fn client_config(root: &CertificateDer<'static>, ident: Option<&Identity>) -> ClientConfig {
    let b = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(root.clone()));
    match ident {
        Some(i) => b
            .with_client_auth_cert(vec![i.cert.clone()], i.key())
            .unwrap(),
        None => b.with_no_client_auth(),
    }
}

/// A client configuration trusting only `root`, presenting `cert` with `key`.
pub fn client_config_with(
    root: CertificateDer<'static>,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots(root))
            .with_client_auth_cert(vec![cert], key)
            .unwrap(),
    )
}
