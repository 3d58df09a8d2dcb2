//! rustls server configurations: TLS 1.2 and 1.3 only, AEAD suites with ECDHE only,
//! client certificates required, no session resumption (a resumed session would skip
//! the deny-list check), ALPN `h2` and `http/1.1`.

use std::sync::Arc;

use rustls::{
    crypto::CryptoProvider,
    pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer},
    server::{danger::ClientCertVerifier, NoServerSessionStorage},
    CipherSuite, ServerConfig,
};

/// The cipher suites offered: TLS 1.3 AEAD suites and TLS 1.2 ECDHE + AEAD suites
/// (Mozilla "intermediate").
pub const ALLOWED_SUITES: &[CipherSuite] = &[
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// The ring provider restricted to [`ALLOWED_SUITES`].
pub fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites
        .retain(|s| ALLOWED_SUITES.contains(&s.suite()));
    Arc::new(p)
}

/// A server configuration for one listener.
pub fn server_config(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ClientCertVerifier>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    let mut c = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    c.session_storage = Arc::new(NoServerSessionStorage {});
    c.send_tls13_tickets = 0;
    c.ignore_client_order = true;
    Ok(c)
}

/// Reads CRL files (PEM with one or more `X509 CRL` blocks, or DER).
pub fn load_crls(
    paths: &[std::path::PathBuf],
) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let mut out = Vec::new();
    for p in paths {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if bytes.starts_with(b"-----") {
            for c in CertificateRevocationListDer::pem_slice_iter(&bytes) {
                out.push(c.map_err(|e| format!("{}: {e}", p.display()))?);
            }
        } else {
            out.push(CertificateRevocationListDer::from(bytes));
        }
    }
    Ok(out)
}
