#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Seal and open of an application with a ~300 KB photo, next to the raw AEAD
//! throughput of the same machine (ring's AES-128-GCM and ChaCha20-Poly1305 over the
//! same number of bytes): the ceiling the envelope can approach.
//!
//! Run: `cargo bench -p shinsei-protocol --bench envelope`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use image::{codecs::jpeg::JpegEncoder, ExtendedColorType};
use ring::aead::{self, LessSafeKey, Nonce, UnboundKey};
use shinsei_protocol::application::{Application, ApplicationId, BrailleWish, CertificateWish};
use shinsei_protocol::device::DeviceId;
use shinsei_protocol::envelope;
use shinsei_protocol::keys::{RelaySecretKey, SigningKey};
use shinsei_protocol::photo::FacePhoto;
use zeroize::Zeroizing;

/// A noisy synthetic JPEG of about 300 KB.
fn photo_300k() -> Vec<u8> {
    let (w, h) = (700u32, 900u32);
    let mut state = 0x1234_5678u32;
    let mut px = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (state % 24) as u8;
            px.push(((x * 255 / w) as u8).wrapping_add(n));
            px.push(((y * 255 / h) as u8).wrapping_add(n));
            px.push(128u8.wrapping_add(n));
        }
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 88)
        .encode(&px, w, h, ExtendedColorType::Rgb8)
        .expect("encode");
    out
}

fn bench(c: &mut Criterion) {
    let jpeg = photo_300k();
    let n = jpeg.len();
    let relay = RelaySecretKey::generate();
    let (_der, device) = SigningKey::generate().expect("key");
    let device_id = DeviceId::parse("TAB-0001").expect("id");
    let app = || {
        Application::standard(
            ApplicationId::parse(b"12345678901234567890123").expect("id"),
            FacePhoto::from_jpeg(Zeroizing::new(jpeg.clone())).expect("photo"),
            CertificateWish::Yes,
            BrailleWish::No,
        )
    };
    let a = app();
    let sealed = envelope::seal(&a, &device_id, 1, relay.public(), &device)
        .expect("seal")
        .1;

    let mut g = c.benchmark_group(format!("envelope_{}kB", n / 1000));
    g.throughput(Throughput::Bytes(n as u64));
    g.bench_function("seal", |b| {
        b.iter(|| envelope::seal(&a, &device_id, 1, relay.public(), &device).expect("seal"))
    });
    g.bench_function("open_incl_jpeg_validation", |b| {
        b.iter(|| envelope::open(&sealed, &device.public_key(), &relay).expect("open"))
    });
    g.bench_function("parse_and_verify_signature_only", |b| {
        b.iter(|| {
            envelope::Envelope::parse(&sealed)
                .expect("parse")
                .verify(&device.public_key())
                .expect("verify")
        })
    });
    g.bench_function("photo_validation_only", |b| {
        b.iter(|| FacePhoto::from_jpeg(Zeroizing::new(jpeg.clone())).expect("photo"))
    });
    for (name, alg) in [
        ("raw_aes128gcm_seal", &aead::AES_128_GCM),
        ("raw_chacha20poly1305_seal", &aead::CHACHA20_POLY1305),
    ] {
        let key = LessSafeKey::new(UnboundKey::new(alg, &vec![7u8; alg.key_len()]).expect("key"));
        let mut buf = jpeg.clone();
        g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
            b.iter(|| {
                let nonce = Nonce::assume_unique_for_key([0u8; 12]);
                key.seal_in_place_separate_tag(nonce, aead::Aad::empty(), &mut buf)
                    .expect("seal")
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
