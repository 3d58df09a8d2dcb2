//! Standard applications and the baseline photo.

use shinsei_protocol::{
    application::{Application, ApplicationId, BrailleWish, CertificateWish},
    envelope::{self, Header, HPKE_INFO},
    hpke_suite,
    keys::{RelayPublicKey, SigningKey},
    photo::FacePhoto,
    pins::ExpressPins,
};
use zeroize::Zeroizing;

/// The application ID of [`standard_app`] and [`express_app`].
pub const APP_ID: &str = "12345678901234567890123";

/// Path of the baseline JPEG fixture (`protocol/tests/fixtures/baseline.jpg`).
pub const PHOTO_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../protocol/tests/fixtures/baseline.jpg"
);

/// The baseline photo, as a [`FacePhoto`].
pub fn photo() -> FacePhoto {
    FacePhoto::from_jpeg(Zeroizing::new(std::fs::read(PHOTO_PATH).unwrap())).unwrap()
}

/// The express PINs of [`express_app`].
pub fn express_pins() -> ExpressPins {
    ExpressPins::new(b"abc123", b"1111", b"2222", b"3333").unwrap()
}

/// A standard application for [`APP_ID`]: certificate yes, braille no.
pub fn standard_app() -> Application {
    Application::standard(
        ApplicationId::parse(APP_ID.as_bytes()).unwrap(),
        photo(),
        CertificateWish::Yes,
        BrailleWish::No,
    )
}

/// An express application for [`APP_ID`]: certificate yes (so all four PINs apply),
/// braille yes, [`express_pins`].
pub fn express_app() -> Application {
    Application::express(
        ApplicationId::parse(APP_ID.as_bytes()).unwrap(),
        photo(),
        CertificateWish::Yes,
        BrailleWish::Yes,
        express_pins(),
    )
    .unwrap()
}

/// An envelope around any `plaintext` (not necessarily an application v1), sealed to
/// `relay_key` under `header` and signed by `device`: what a compromised tablet could
/// send.
pub fn seal_raw(
    header: &Header,
    relay_key: &RelayPublicKey,
    device: &SigningKey,
    plaintext: &[u8],
) -> Vec<u8> {
    let h = header.encode();
    let (enc, ct) = hpke_suite::seal(relay_key.as_bytes(), HPKE_INFO, &h, plaintext).unwrap();
    let mut body = h;
    body.extend_from_slice(&enc);
    body.extend_from_slice(&(ct.len() as u32).to_be_bytes());
    body.extend_from_slice(&ct);
    envelope::sign_body(body, device).unwrap()
}
