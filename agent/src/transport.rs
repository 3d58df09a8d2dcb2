//! The only network client of the agent: HTTPS with mutual TLS to the relay named in
//! the device bundle, and nothing else.
//!
//! - rustls with the `ring` provider, TLS 1.3 and 1.2 only;
//! - the server must be the ward's relay ([`pin`]): WebPKI on the ward root CA pinned at
//!   enrollment (no system roots), and the certificate issued directly by that root
//!   with subject OU `shinsei relay`, so that a certificate the device CA minted is
//!   refused ([`AgentError::UntrustedRelay`]);
//! - client certificate: the device certificate (+ device CA) with the device key;
//! - no proxies from the environment, no redirects, `https` only, and every URL is
//!   built here from the bundle's host and port: there is no API to reach another host.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::enroll::Enrollment;
use crate::error::{AgentError, Result};

mod pin;

/// Device state as the relay reports it (the wire type of `GET /v1/status`).
pub(crate) use shinsei_protocol::api::StatusResponse as Status;
use shinsei_protocol::api::{self, ErrorBody};

/// Outcome of posting an envelope.
#[derive(Debug)]
pub(crate) enum PostOutcome {
    /// 200 with receipt bytes.
    Receipt(Vec<u8>),
    /// The relay refused the envelope for good (4xx): code and message.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// Try again later (5xx, 429, 503).
    Retry(String),
}

/// Builds the TLS configuration (exposed so security tests can inspect it): the relay
/// pin ([`pin::RelayPin`]) as the only server verifier, the device certificate (+ device
/// CA) as client certificate, ALPN h2 and http/1.1.
pub(crate) fn tls_config(en: &Enrollment) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let root = en
        .ca_chain_der
        .first()
        .ok_or_else(|| AgentError::Enroll("no pinned root CA".into()))?;
    let relay_pin = pin::RelayPin::new(root, provider.clone())
        .map_err(|e| AgentError::Enroll(format!("pinned root CA: {e}")))?;
    let mut chain = vec![CertificateDer::from(en.device_cert_der.clone())];
    for ca in en.ca_chain_der.iter().skip(1) {
        chain.push(CertificateDer::from(ca.clone()));
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(en.device_key_pkcs8.to_vec()));
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| AgentError::Internal(format!("TLS: {e}")))?
        // "dangerous" in rustls' words only because the verifier is our own: it runs
        // rustls' WebPKI verifier unchanged first and only adds checks (see `pin`).
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(relay_pin))
        .with_client_auth_cert(chain, key)
        .map_err(|e| AgentError::Enroll(format!("device certificate/key: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// The relay client.
pub(crate) struct RelayClient {
    http: reqwest::blocking::Client,
    base: String,
    /// For the certificate probe ([`RelayClient::certificate_refused_by_probe`]).
    probe: Probe,
}

/// What a bare TLS handshake with the relay needs.
struct Probe {
    tls: Arc<rustls::ClientConfig>,
    host: String,
    port: u16,
    address: Option<SocketAddr>,
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// A fatal alert that says the relay does not accept this tablet's certificate. Only
/// an alert *received* from the peer: the agent refusing the server's certificate is
/// [`is_server_certificate_rejection`], a different thing.
fn is_certificate_refusal(r: &rustls::Error) -> bool {
    use rustls::AlertDescription as A;
    matches!(
        r,
        rustls::Error::AlertReceived(
            A::CertificateRevoked
                | A::BadCertificate
                | A::CertificateUnknown
                | A::AccessDenied
                | A::UnknownCA
                | A::CertificateExpired
                | A::CertificateRequired
        )
    )
}

/// The agent itself refused the server's certificate (WebPKI or the relay pin): the
/// server is not the ward's relay as the tablet can prove it.
fn is_server_certificate_rejection(r: &rustls::Error) -> bool {
    matches!(r, rustls::Error::InvalidCertificate(_))
}

/// The rustls error behind a failed request, if the failure was at the TLS layer.
fn tls_error(e: &reqwest::Error) -> Option<&rustls::Error> {
    use std::error::Error;
    let mut src: Option<&(dyn Error + 'static)> = e.source();
    while let Some(x) = src {
        if let Some(r) = rustls_error_in(x) {
            return Some(r);
        }
        src = x.source();
    }
    None
}

/// `x` itself, or the error an `io::Error` (possibly wrapped in another `io::Error`, as
/// the HTTP client does for a refused server certificate) carries, if it is rustls'.
fn rustls_error_in<'a>(x: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = x;
    loop {
        if let Some(r) = cur.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        cur = cur.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// Why the server's certificate was refused, in words (the pin's own reason, or
/// rustls' for a WebPKI refusal).
fn rejection_detail(r: &rustls::Error) -> String {
    match pin::pin_error(r) {
        Some(p) => p.to_string(),
        None => r.to_string(),
    }
}

/// A failed request: the agent refused the server's certificate
/// ([`AgentError::UntrustedRelay`]), or the relay could not be reached.
fn request_error(e: &reqwest::Error) -> AgentError {
    match tls_error(e) {
        Some(r) if is_server_certificate_rejection(r) => {
            AgentError::UntrustedRelay(rejection_detail(r))
        }
        _ => AgentError::RelayUnreachable(describe(e)),
    }
}

impl RelayClient {
    /// `address` optionally pins the IP address and port the relay is reached at (set by
    /// the deployment when there is no DNS entry; the certificate is still checked
    /// against the bundle's host name). reqwest's resolver override ignores the port, so
    /// the port goes into the URL.
    pub(crate) fn new(en: &Enrollment, address: Option<SocketAddr>) -> Result<Self> {
        let tls = tls_config(en)?;
        let probe = Probe {
            tls: Arc::new(tls.clone()),
            host: en.relay_host.clone(),
            port: address.map_or(en.relay_port, |a| a.port()),
            address,
        };
        let mut b = reqwest::blocking::Client::builder()
            .use_preconfigured_tls(tls)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("shinsei-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(a) = address {
            b = b.resolve(&en.relay_host, a);
        }
        let http = b
            .build()
            .map_err(|e| AgentError::Internal(format!("HTTP client: {}", describe(&e))))?;
        let port = address.map_or(en.relay_port, |a| a.port());
        Ok(Self {
            http,
            base: format!("https://{}:{port}", en.relay_host),
            probe,
        })
    }

    /// After a failed request: does the relay refuse this tablet's certificate? A bare
    /// handshake with the pinned relay and one read: with TLS 1.3 the relay's verdict
    /// on the client certificate arrives as an alert after the handshake, which an
    /// HTTP client reports only as "connection closed". `false` when the relay cannot
    /// be reached at all, and `false` for an alert that arrives before the server has
    /// passed the relay pin (certificate and handshake signature verified): the real
    /// relay judges our certificate only after proving itself, so such an alert comes
    /// from whoever answered (a man in the middle must not be able to lock the tablet
    /// as revoked).
    fn certificate_refused_by_probe(&self) -> bool {
        use std::io::Read;
        let p = &self.probe;
        let addr = match p.address {
            Some(a) => a,
            None => match std::net::ToSocketAddrs::to_socket_addrs(&(p.host.as_str(), p.port))
                .ok()
                .and_then(|mut a| a.next())
            {
                Some(a) => a,
                None => return false,
            },
        };
        let Ok(mut tcp) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        else {
            return false;
        };
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
        let Ok(name) = rustls_pki_types::ServerName::try_from(p.host.clone()) else {
            return false;
        };
        let Ok(mut conn) = rustls::ClientConnection::new(p.tls.clone(), name) else {
            return false;
        };
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut b = [0u8; 1];
        let read = tls.read_exact(&mut b);
        // rustls records the server's certificates only once they and the handshake
        // signature verified (or on resuming a session that did).
        let relay_authenticated = conn.peer_certificates().is_some();
        match read {
            Err(e) => {
                relay_authenticated
                    && e.get_ref()
                        .and_then(|i| i.downcast_ref::<rustls::Error>())
                        .is_some_and(is_certificate_refusal)
            }
            Ok(_) => false,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET /v1/status`, long-polling up to `wait` seconds for a change after `since`.
    pub(crate) fn status(&self, since: u64, wait: u64) -> Result<Status> {
        let r = self
            .http
            .get(self.url(&format!("{}?since={since}&wait={wait}", api::PATH_STATUS)))
            .timeout(Duration::from_secs(wait + 20))
            .send()
            // The relay refusing this tablet's certificate (revoked or wiped) is told
            // only by the probe, which requires the relay to have proven itself first.
            .map_err(|e| match request_error(&e) {
                AgentError::RelayUnreachable(d) if self.certificate_refused_by_probe() => {
                    AgentError::CertificateRefused(d)
                }
                other => other,
            })?;
        if !r.status().is_success() {
            return Err(AgentError::RelayRefused(format!(
                "status: HTTP {}",
                r.status()
            )));
        }
        r.json::<Status>()
            .map_err(|e| AgentError::BadRelayAnswer(describe(&e)))
    }

    /// `GET /v1/relay-keys`: the relay's signed key schedule (bytes; the caller
    /// verifies them against the pinned receipt key). `Ok(None)` from a relay that does
    /// not publish one (404).
    pub(crate) fn relay_keys(&self) -> Result<Option<Vec<u8>>> {
        self.get_bounded(
            api::PATH_RELAY_KEYS,
            shinsei_protocol::relay_keys::MAX_LEN,
            "relay-keys",
        )
    }

    /// `GET path`: the body, of at most `max` bytes (read at most one byte more: a
    /// bound, not a hope), or `Ok(None)` on 404.
    fn get_bounded(&self, path: &str, max: usize, what: &str) -> Result<Option<Vec<u8>>> {
        let r = self
            .http
            .get(self.url(path))
            .send()
            .map_err(|e| request_error(&e))?;
        if r.status().as_u16() == 404 {
            return Ok(None);
        }
        if !r.status().is_success() {
            return Err(AgentError::RelayRefused(format!(
                "{what}: HTTP {}",
                r.status()
            )));
        }
        let mut body = Vec::with_capacity(max.min(4096));
        std::io::Read::read_to_end(&mut std::io::Read::take(r, max as u64 + 1), &mut body)
            .map_err(|e| AgentError::RelayUnreachable(e.to_string()))?;
        if body.len() > max {
            return Err(AgentError::BadRelayAnswer(format!(
                "{what}: answer too large"
            )));
        }
        Ok(Some(body))
    }

    /// `POST /v1/envelopes`.
    pub(crate) fn post_envelope(&self, envelope: &[u8]) -> Result<PostOutcome> {
        let r = self
            .http
            .post(self.url(api::PATH_ENVELOPES))
            .header("content-type", "application/octet-stream")
            .body(envelope.to_vec())
            .send()
            .map_err(|e| request_error(&e))?;
        let status = r.status().as_u16();
        let body = r
            .bytes()
            .map_err(|e| AgentError::RelayUnreachable(describe(&e)))?;
        if status == 200 {
            return Ok(PostOutcome::Receipt(body.to_vec()));
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => (b.error, b.message),
            Err(_) => (format!("http_{status}"), String::new()),
        };
        if status == 429 || status >= 500 {
            return Ok(PostOutcome::Retry(format!("{code} {message}")));
        }
        Ok(PostOutcome::Refused {
            status,
            code,
            message,
        })
    }

    /// `POST /v1/report`: the tablet's figures (and renewal request) for IT.
    pub(crate) fn report(&self, report: &api::DeviceReport) -> Result<api::RenewalState> {
        self.post_json::<_, api::ReportAck>(api::PATH_REPORT, report, "report")
            .map(|a| a.renewal)
    }

    /// POSTs `body` as JSON to `path` and reads a JSON answer; a refusal is
    /// `RelayRefused("WHAT: HTTP status code")`.
    fn post_json<B: serde::Serialize + ?Sized, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        what: &str,
    ) -> Result<R> {
        let r = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .map_err(|e| request_error(&e))?;
        if !r.status().is_success() {
            let status = r.status();
            let code = r
                .json::<api::ErrorBody>()
                .map(|b| b.error)
                .unwrap_or_default();
            return Err(AgentError::RelayRefused(format!(
                "{what}: HTTP {status} {code}"
            )));
        }
        r.json::<R>()
            .map_err(|e| AgentError::BadRelayAnswer(describe(&e)))
    }

    /// `GET /v1/bundle`: the renewed bundle IT signed (bytes; the caller verifies them
    /// against the pinned root and the device key). `Ok(None)` when none waits.
    pub(crate) fn bundle(&self) -> Result<Option<Vec<u8>>> {
        self.get_bounded(api::PATH_BUNDLE, 64 * 1024, "bundle")
    }

    /// `GET /v1/staff-list`: the signed staff list IT published (bytes; the caller
    /// verifies them). `Ok(None)` when the relay holds none.
    pub(crate) fn staff_list(&self) -> Result<Option<Vec<u8>>> {
        self.get_bounded(api::PATH_STAFF_LIST, 2 * 1024 * 1024, "staff-list")
    }

    /// `POST /v1/wipe-confirm`.
    pub(crate) fn confirm_wipe(&self) -> Result<()> {
        let r = self
            .http
            .post(self.url(api::PATH_WIPE_CONFIRM))
            .send()
            .map_err(|e| request_error(&e))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(AgentError::RelayRefused(format!(
                "wipe-confirm: HTTP {}",
                r.status()
            )))
        }
    }

    /// `POST /v1/audit`: one batch; returns the relay's acknowledgement (the last entry
    /// it holds and that entry's hash).
    pub(crate) fn ship_audit(
        &self,
        upload: &shinsei_protocol::audit::Upload,
    ) -> Result<api::AuditAck> {
        self.post_json(api::PATH_AUDIT, upload, "audit")
    }
}
