//! The self-contained demonstration (`shinsei-agent demo`): builds an application from
//! embedded defaults (a synthetic photo, no camera), seals and signs it exactly as the
//! agent does, opens it as the relay does, and prints what crossed the wire. The full
//! multi-process flow (PKI, relay, enrollment, staff login, delivery, spool) is
//! `cargo run -p shinsei-tests --bin shinsei-demo`.

use image::{codecs::jpeg::JpegEncoder, ExtendedColorType};
use shinsei_protocol::application::{Application, ApplicationId, BrailleWish, CertificateWish};
use shinsei_protocol::device::DeviceId;
use shinsei_protocol::envelope;
use shinsei_protocol::keys::{RelaySecretKey, SigningKey};
use zeroize::Zeroizing;

use crate::error::{AgentError, Result};
use crate::photo_input;

/// A synthetic 600×772 JPEG (gradient + noise, no person) that passes `FacePhoto`.
pub fn synthetic_photo_jpeg(seed: u32) -> Zeroizing<Vec<u8>> {
    let (w, h) = (600u32, 772u32);
    let mut state = seed | 1;
    let mut px = Zeroizing::new(Vec::with_capacity((w * h * 3) as usize));
    for y in 0..h {
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (state % 16) as u8;
            px.push(((x * 200 / w) as u8).wrapping_add(n));
            px.push(((y * 200 / h) as u8).wrapping_add(n));
            px.push(150u8.wrapping_add(n));
        }
    }
    let mut out = Zeroizing::new(Vec::new());
    // Encoding into a Vec cannot fail for a well-formed buffer; an empty result is
    // refused later by FacePhoto validation.
    let _ = JpegEncoder::new_with_quality(&mut *out, 85).encode(&px, w, h, ExtendedColorType::Rgb8);
    out
}

/// Runs the in-process demonstration and returns the lines it prints.
pub fn run_protocol_demo() -> Result<Vec<String>> {
    let mut out = Vec::new();
    let relay = RelaySecretKey::generate();
    let (_pkcs8, device) =
        SigningKey::generate().map_err(|e| AgentError::Internal(e.to_string()))?;
    let device_id = DeviceId::parse("TAB-DEMO").map_err(|e| AgentError::Internal(e.to_string()))?;
    let photo = photo_input::photo_from_jpeg(&synthetic_photo_jpeg(7))
        .map_err(|e| AgentError::Input(e.to_string()))?;
    let id = ApplicationId::parse(b"https://example.invalid/form?id=12345678901234567890123")
        .map_err(|e| AgentError::Input(e.to_string()))?;
    out.push(format!("申請書ID / application ID: {}", id.masked()));
    out.push(format!(
        "写真 / photo: {}x{} JPEG, {} bytes",
        photo.width(),
        photo.height(),
        photo.as_bytes().len()
    ));
    let app = Application::standard(id, photo, CertificateWish::Yes, BrailleWish::No);
    let (eid, sealed) = envelope::seal(&app, &device_id, 1_767_225_600, relay.public(), &device)
        .map_err(|e| AgentError::Internal(e.to_string()))?;
    drop(app);
    out.push(format!(
        "封筒 / envelope {eid}: {} bytes, HPKE X25519/HKDF-SHA256/ChaCha20-Poly1305 to relay key {}, signed by {}",
        sealed.len(),
        relay.key_id(),
        device_id
    ));
    let (header, opened) = envelope::open(&sealed, &device.public_key(), &relay)
        .map_err(|e| AgentError::Internal(e.to_string()))?;
    out.push(format!(
        "中継サーバーで開封 / opened at the relay: profile {}, ID {}, e-cert {:?}, braille {:?}, photo {} bytes",
        header.profile.as_str(),
        opened.id().masked(),
        opened.certificate_wish(),
        opened.braille_wish(),
        opened.photo().as_bytes().len()
    ));
    let mut tampered = sealed.clone();
    let n = tampered.len();
    tampered[n / 2] ^= 1;
    let e = envelope::open(&tampered, &device.public_key(), &relay)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "accepted (BUG)".into());
    out.push(format!("改ざんした封筒 / tampered envelope: {e}"));
    Ok(out)
}
