//! Reading the application ID from the form's QR code (rqrr).
//!
//! Images are read with bounded size (20 MB file, 8000×8000 pixels). rqrr is run inside
//! `catch_unwind` (it is known to panic on some inputs); a panic is a failed read, never
//! a crash. The decoded payload goes into a zeroizing buffer and is accepted only when
//! it parses as an [`ApplicationId`].
//!
//! - `locate` — finding finder patterns in a frame, the effort levels, [`QrTracker`].
//! - `grid` — reading the module grid from the finders (projective fit, sampling).
//! - `rqrr` — the one door to rqrr's decoder (panic guard, zeroizing payload, ID parse).
//! - `rxing` — the second door: rxing (ZXing's port) on the whole frame, at thorough
//!   effort, after our own passes, for modes rqrr lacks and grids our locator misses.
//! - `text` — a raw payload's bytes as text (UTF-8, else Shift_JIS), for the raw reader.

use std::io::Read;
use std::path::Path;

use shinsei_protocol::application::{ApplicationId, ApplicationIdError};
use zeroize::Zeroizing;

use crate::raster::LumaRef;

mod grid;
mod locate;
mod rqrr;
mod rxing;
pub mod text;

pub use locate::{
    scan_detailed, scan_luma, scan_payload, scan_payloads, Effort, Hint, QrTracker, ScanHit, Stage,
};

pub const MAX_IMAGE_FILE: u64 = 20 * 1024 * 1024;
pub const MAX_SIDE: u32 = 8000;

/// Why no application ID was read.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("画像を読めません: {0} / cannot read the image")]
    Image(String),
    #[error("QRコードが見つかりません / no QR code found")]
    NoCode,
    #[error("QRコードを読み取れません（汚れ・ぼけ） / QR code found but unreadable")]
    Unreadable,
    #[error("申請書のQRコードではありません: {0} / not an application form QR code")]
    NotAnApplicationId(ApplicationIdError),
}

/// Bytes that do not make an image are an image error.
impl From<crate::raster::RasterError> for QrError {
    fn from(e: crate::raster::RasterError) -> Self {
        QrError::Image(e.to_string())
    }
}

/// Decodes the application ID from an 8-bit greyscale image with rqrr's own grid
/// detection only (no locating or sampling of ours: [`scan_luma`] does it all).
pub fn decode_luma(img: LumaRef<'_>) -> Result<ApplicationId, QrError> {
    let (width, luma) = (img.width(), img.pixels());
    let payload = rqrr::detect_greyscale(
        width,
        img.height(),
        |x, y| luma[y * width + x],
        rqrr::Accept::ApplicationId,
    )?;
    ApplicationId::parse(&payload).map_err(QrError::NotAnApplicationId)
}

/// Decodes the application ID from an image file (JPEG or PNG).
pub fn decode_file(path: &Path) -> Result<ApplicationId, QrError> {
    decode_bytes(&read_file(path)?)
}

/// Decodes from encoded image bytes.
pub fn decode_bytes(bytes: &[u8]) -> Result<ApplicationId, QrError> {
    let (w, h, luma) = luma_from_bytes(bytes)?;
    scan_luma(LumaRef::new(w, h, &luma)?)
}

/// Reads every QR code in an image file (JPEG or PNG) and returns their texts
/// ([`text::payload_text`]), first found first. For tests, benchmarks and
/// `scan-qr --raw` only: the application-ID rule is not applied, so nothing read this
/// way may reach the outbox.
pub fn read_text_file(path: &Path) -> Result<Vec<Zeroizing<String>>, QrError> {
    let (w, h, luma) = luma_from_bytes(&read_file(path)?)?;
    let payloads = scan_payloads(LumaRef::new(w, h, &luma)?)?;
    Ok(payloads.iter().map(|p| text::payload_text(p)).collect())
}

/// The file's bytes, at most [`MAX_IMAGE_FILE`].
fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, QrError> {
    let f = std::fs::File::open(path).map_err(|e| QrError::Image(e.to_string()))?;
    let mut bytes = Zeroizing::new(Vec::new());
    f.take(MAX_IMAGE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| QrError::Image(e.to_string()))?;
    if bytes.len() as u64 > MAX_IMAGE_FILE {
        return Err(QrError::Image("file larger than 20 MB".into()));
    }
    Ok(bytes)
}

/// Decodes image bytes (bounded) to 8-bit grey: (width, height, pixels).
fn luma_from_bytes(bytes: &[u8]) -> Result<(usize, usize, Zeroizing<Vec<u8>>), QrError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| QrError::Image(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| QrError::Image(e.to_string()))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let luma = Zeroizing::new(img.to_luma8().into_raw());
    drop(Zeroizing::new(img.into_bytes()));
    Ok((w, h, luma))
}
