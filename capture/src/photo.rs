//! Turning a photo file into a [`FacePhoto`]: bounded read, metadata stripped (EXIF
//! and the like can carry a name or birth date), then the protocol's validation.
//! The cropping pipeline of the capture issue produces its JPEG through the same door.

use std::io::Read;
use std::path::Path;

use image::{codecs::jpeg::JpegEncoder, ExtendedColorType};
use shinsei_protocol::photo::{strip_metadata, FacePhoto, PhotoError, MAX_PHOTO_BYTES};
use zeroize::Zeroizing;

/// Reads, strips and validates a JPEG photo file.
pub fn photo_from_file(path: &Path) -> Result<FacePhoto, PhotoError> {
    let f = std::fs::File::open(path).map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    let mut bytes = Zeroizing::new(Vec::new());
    f.take(MAX_PHOTO_BYTES as u64 * 2)
        .read_to_end(&mut bytes)
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    photo_from_jpeg(&bytes)
}

/// Strips metadata from JPEG bytes and validates the result.
pub fn photo_from_jpeg(bytes: &[u8]) -> Result<FacePhoto, PhotoError> {
    if bytes.len() > MAX_PHOTO_BYTES * 2 {
        return Err(PhotoError::TooManyBytes(bytes.len()));
    }
    let stripped = strip_metadata(bytes)?;
    FacePhoto::from_jpeg(stripped)
}

/// A synthetic 600×772 JPEG (gradient + noise, no person) that passes `FacePhoto`:
/// the embedded default photo of the demonstration (no camera), and of tests.
pub fn synthetic_jpeg(seed: u32) -> Zeroizing<Vec<u8>> {
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
