//! Submissions over real TLS: receipts, replay, conflicts, tampering, smuggled fields,
//! size limits, device mismatch, clock window, HTTP/2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{sync::Arc, time::Duration};

use common::*;
use shinsei_protocol::{
    application::Profile,
    envelope::{self, EnvelopeId, Header, MAX_ENVELOPE_LEN},
    receipt::{envelope_digest, Receipt},
};
use shinsei_relay::clock::ManualClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_replay_conflict_over_http1_and_http2() {
    let (env, relay) = Env::started().await;
    let store = relay.core().store.clone();
    let t = tablet(&env.pki, "TAB-0001");
    for h2 in [false, true] {
        let c = client(&env.pki.root, Some(&t.ident), h2);
        let before = store.envelope_count();
        let (id, bytes) = t.seal(&env.pki, &express_app(), now());
        let (s, receipt) = post_envelope(&c, relay.device_addr, bytes.clone())
            .await
            .unwrap();
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&receipt));
        let r = Receipt::verify(&receipt, &env.pki.receipt_key, &id, &bytes).unwrap();
        assert!(r.received_at.abs_diff(now()) < 60);
        assert_eq!(store.envelope_count(), before + 1);
        // At rest: the sealed bytes, never the plaintext.
        let meta = store.envelope_meta(&id).unwrap().unwrap();
        assert_eq!(meta.device_id, "TAB-0001");
        assert_eq!(meta.digest, hex::encode(envelope_digest(&bytes)));

        // Replay: identical receipt, nothing new stored.
        let (s, again) = post_envelope(&c, relay.device_addr, bytes.clone())
            .await
            .unwrap();
        assert_eq!(s, 200);
        assert_eq!(again, receipt);
        assert_eq!(store.envelope_count(), before + 1);

        // Same ID, different bytes (re-signed: a fresh ECDSA signature).
        let body = bytes[..bytes.len() - 64].to_vec();
        let other = envelope::sign_body(body, &t.signing).unwrap();
        assert_ne!(other, bytes);
        let (s, b) = post_envelope(&c, relay.device_addr, other).await.unwrap();
        assert_eq!(s, 409);
        assert_eq!(error_code(&b), "duplicate_conflict");
        assert_eq!(store.envelope_count(), before + 1);
    }
    let accepted = relay
        .core()
        .metrics
        .accepted
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(accepted, 2);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_store_nothing() {
    let (env, relay) = Env::started().await;
    let store = relay.core().store.clone();
    let t = tablet(&env.pki, "TAB-0002");
    let t3 = tablet(&env.pki, "TAB-0003");
    let c = client(&env.pki.root, Some(&t.ident), false);
    let post = |b: Vec<u8>| post_envelope(&c, relay.device_addr, b);

    // Tampered: one ciphertext bit flipped, one header bit flipped, signature broken.
    let (_, good) = t.seal(&env.pki, &standard_app(), now());
    let mut ct = good.clone();
    let n = ct.len() - 100;
    ct[n] ^= 1;
    let (s, b) = post(ct).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (422, "bad_signature"));
    let mut sig = good.clone();
    let n = sig.len() - 1;
    sig[n] ^= 1;
    let (s, b) = post(sig).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (422, "bad_signature"));
    // Re-signed after tampering: the signature is fine, the AEAD refuses.
    let mut body = good[..good.len() - 64].to_vec();
    let n = body.len() - 100;
    body[n] ^= 1;
    let resigned = envelope::sign_body(body, &t.signing).unwrap();
    let (s, b) = post(resigned).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (422, "decrypt_failed"));
    // Garbage.
    let (s, b) = post(b"SHSE\x02junk".to_vec()).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (400, "malformed"));

    // Signed by another device's key but on this device's connection.
    let (_, theirs) = t3.seal(&env.pki, &standard_app(), now());
    let (s, b) = post(theirs).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (403, "device_mismatch"));
    // Right device ID in the header, wrong key.
    let hdr_ok = {
        let (_, e) = envelope::seal(
            &standard_app(),
            &t.id,
            now(),
            &env.pki.relay_key,
            &t3.signing,
        )
        .unwrap();
        e
    };
    let (s, b) = post(hdr_ok).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (422, "bad_signature"));

    // Clock window.
    let (_, future) = t.seal(&env.pki, &standard_app(), now() + 3600);
    let (s, b) = post(future).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (422, "clock_skew"));
    let (_, old) = t.seal(&env.pki, &standard_app(), now() - 80 * 3600);
    let (s, b) = post(old).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (422, "clock_skew"));

    // Smuggled fields: a valid application followed by extra bytes, a JSON plaintext,
    // reserved bits, an express payload under a standard header — each sealed to the
    // relay's key and correctly signed.
    let header = |id: u8| Header {
        profile: Profile::Standard,
        envelope_id: EnvelopeId([id; 16]),
        created_at: now(),
        relay_key_id: env.pki.relay_key.key_id(),
        device_id: t.id.clone(),
    };
    let seal_raw = |h: &Header, plaintext: &[u8]| {
        shinsei_testkit::app::seal_raw(h, &env.pki.relay_key, &t.signing, plaintext)
    };
    let mut extra = standard_app().encode().to_vec();
    extra.extend_from_slice(b"{\"name\":\"YAMADA TARO\"}");
    let mut reserved = standard_app().encode().to_vec();
    reserved[25] |= 0x80;
    let cases: Vec<(u8, Vec<u8>)> = vec![
        (0x51, extra),
        (
            0x52,
            b"{\"name\":\"YAMADA TARO\",\"birth\":\"1970-01-01\"}".to_vec(),
        ),
        (0x53, reserved),
        (0x54, express_app().encode().to_vec()),
    ];
    for (id, pt) in cases {
        let h = header(id);
        let (s, b) = post(seal_raw(&h, &pt)).await.unwrap();
        assert_eq!((s, error_code(&b).as_str()), (422, "invalid_application"));
        assert!(store.envelope_meta(&h.envelope_id).unwrap().is_none());
    }
    // An unknown relay key.
    let other_key = shinsei_protocol::keys::RelaySecretKey::generate();
    let (_, unknown) = envelope::seal(
        &standard_app(),
        &t.id,
        now(),
        other_key.public(),
        &t.signing,
    )
    .unwrap();
    let (s, b) = post(unknown).await.unwrap();
    assert_eq!((s, error_code(&b).as_str()), (422, "unknown_relay_key"));

    assert_eq!(store.envelope_count(), 0);
    let m = &relay.core().metrics;
    assert_eq!(m.refused_count("invalid_application"), 4);
    assert_eq!(m.refused_count("bad_signature"), 3);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_body_refused_before_it_is_read() {
    let (env, relay) = Env::started().await;
    let t = tablet(&env.pki, "TAB-0004");

    // Raw HTTP/1.1: announce MAX_ENVELOPE_LEN + 1 bytes, send none, read the answer.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(env.pki.root.clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![t.ident.cert.clone()], t.ident.key())
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(relay.device_addr)
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from(HOST).unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    let req = format!(
        "POST /v1/envelopes HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        MAX_ENVELOPE_LEN + 1
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf))
        .await
        .expect("the relay answered without waiting for the body")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("too_large"), "{text}");

    // HTTP/2 without a length: streamed past the limit, refused with 413.
    let c = client(&env.pki.root, Some(&t.ident), true);
    let body = reqwest::Body::wrap(Unsized { left: 8 });
    let r = c
        .post(url(relay.device_addr, "/v1/envelopes"))
        .body(body)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    assert_eq!(relay.core().store.envelope_count(), 0);
    assert!(relay.core().metrics.refused_count("too_large") >= 1);
    relay.shutdown().await;
}

/// A body of `left` 1 MB chunks with no declared length.
struct Unsized {
    left: usize,
}

impl http_body::Body for Unsized {
    type Data = bytes::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from(vec![
            0u8;
            1_000_000
        ])))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_device_cannot_submit() {
    let env = Env::new();
    let clock = ManualClock::new(now());
    let relay = env
        .start(env.config(), opts_with_clock(Arc::new(clock.clone())))
        .await;
    let t = tablet(&env.pki, "TAB-0005");
    let c = client(&env.pki.root, Some(&t.ident), false);
    let adm = client(&env.pki.root, Some(&admin(&env.pki, "alice")), false);
    let (s, _) = admin_post(&adm, relay.admin_addr, "TAB-0005", "disable").await;
    assert_eq!(s, 200);
    let (_, e) = t.seal(&env.pki, &standard_app(), now());
    let (s, b) = post_envelope(&c, relay.device_addr, e.clone())
        .await
        .unwrap();
    assert_eq!((s, error_code(&b).as_str()), (403, "device_disabled"));
    let (s, _) = admin_post(&adm, relay.admin_addr, "TAB-0005", "enable").await;
    assert_eq!(s, 200);
    let (s, _) = post_envelope(&c, relay.device_addr, e).await.unwrap();
    assert_eq!(s, 200);
    relay.shutdown().await;
}
