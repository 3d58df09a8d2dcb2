//! HTTPS clients of a relay on loopback (reqwest over rustls, mutual TLS).

use std::{net::SocketAddr, time::Duration};

use rustls::pki_types::CertificateDer;

use crate::{pki::Identity, tls};

/// The relay's host name in the tests' certificates (defined with the PKI); the
/// clients resolve it to loopback.
pub use crate::pki::HOST;

/// A reqwest client presenting `ident`, trusting only `root`, resolving [`HOST`] to
/// loopback. `h2`: offer only HTTP/2 (else only HTTP/1.1).
pub fn client(
    root: &CertificateDer<'static>,
    ident: Option<&Identity>,
    h2: bool,
) -> reqwest::Client {
    let mut cfg = tls::client_config(root, ident);
    cfg.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    let mut cb = reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .no_proxy()
        .timeout(Duration::from_secs(90));
    cb = cb.resolve(HOST, SocketAddr::from(([127, 0, 0, 1], 0)));
    if h2 {
        cb = cb.http2_prior_knowledge();
    } else {
        cb = cb.http1_only();
    }
    cb.build().unwrap()
}

/// `https://HOST:PORT/path` for a listener at `addr`.
pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://{HOST}:{}{path}", addr.port())
}

/// GETs `path` from `addr`.
pub async fn get(
    c: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    c.get(url(addr, path)).send().await
}

/// POSTs `body` (JSON, if any) to `path` at `addr` (panics if there is no answer).
pub async fn post(
    c: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    body: Option<&serde_json::Value>,
) -> reqwest::Response {
    let mut req = c.post(url(addr, path));
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

/// GETs `path` from `addr` and parses the answer as JSON (panics on any failure).
pub async fn get_json(c: &reqwest::Client, addr: SocketAddr, path: &str) -> serde_json::Value {
    get(c, addr, path).await.unwrap().json().await.unwrap()
}

/// POSTs an envelope; returns status and body.
pub async fn post_envelope(
    c: &reqwest::Client,
    addr: SocketAddr,
    bytes: Vec<u8>,
) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let r = c
        .post(url(addr, "/v1/envelopes"))
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await?;
    let s = r.status().as_u16();
    Ok((s, r.bytes().await?.to_vec()))
}

/// POSTs an envelope and asserts that the relay accepted it (200).
pub async fn assert_accepted(c: &reqwest::Client, addr: SocketAddr, bytes: Vec<u8>) {
    assert_eq!(post_envelope(c, addr, bytes).await.unwrap().0, 200);
}

/// The `error` code of a JSON error body ("" if none).
pub fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    v["error"].as_str().unwrap_or("").to_owned()
}

/// `POST /admin/v1/devices/{device}/{action}`; status and JSON body.
/// A wipe or revoke as the two-person rule wants it: `first` asks (must get `202`,
/// waiting), `second` approves; the second answer.
pub async fn approved_post(
    first: &reqwest::Client,
    second: &reqwest::Client,
    addr: SocketAddr,
    device: &str,
    action: &str,
) -> (u16, serde_json::Value) {
    let (s, v) = admin_post(first, addr, device, action).await;
    assert_eq!(s, 202, "the first officer's {action} must wait: {v}");
    assert_eq!(v["pending"]["action"], action, "{v}");
    admin_post(second, addr, device, action).await
}

pub async fn admin_post(
    c: &reqwest::Client,
    addr: SocketAddr,
    device: &str,
    action: &str,
) -> (u16, serde_json::Value) {
    let r = c
        .post(url(addr, &format!("/admin/v1/devices/{device}/{action}")))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or_default())
}
