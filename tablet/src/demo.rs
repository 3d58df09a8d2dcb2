//! The self-contained demonstration (`shinsei-agent demo`): builds an application from
//! embedded defaults (a synthetic photo, no camera), seals and signs it exactly as the
//! agent does, opens it as the relay does, and prints what crossed the wire. The full
//! multi-process flow (PKI, relay, enrollment, staff login, delivery, spool) is
//! `cargo run -p shinsei-tests --bin shinsei-demo`.

use shinsei_protocol::application::{Application, ApplicationId, BrailleWish, CertificateWish};
use shinsei_protocol::device::DeviceId;
use shinsei_protocol::envelope;
use shinsei_protocol::keys::{RelaySecretKey, SigningKey};

use crate::error::{InputError, Result};
use shinsei_agent::error::AgentError;
use shinsei_capture::photo::{self as photo_input, synthetic_jpeg as synthetic_photo_jpeg};

/// Runs the in-process demonstration and returns the lines it prints.
pub(crate) fn run_protocol_demo() -> Result<Vec<String>> {
    let mut out = Vec::new();
    let relay = RelaySecretKey::generate();
    let (_pkcs8, device) =
        SigningKey::generate().map_err(|e| AgentError::Internal(e.to_string()))?;
    let device_id = DeviceId::parse("TAB-DEMO").map_err(|e| AgentError::Internal(e.to_string()))?;
    let photo = photo_input::photo_from_jpeg(&synthetic_photo_jpeg(7)).map_err(InputError::from)?;
    let id = ApplicationId::parse(b"https://example.invalid/form?id=12345678901234567890123")
        .map_err(InputError::from)?;
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
