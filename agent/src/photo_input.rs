//! Turning a photo file into a [`FacePhoto`]: bounded read, metadata stripped (EXIF
//! and the like can carry a name or birth date), then the protocol's validation.
//! The cropping pipeline of the capture issue produces its JPEG through the same door.

use std::io::Read;
use std::path::Path;

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
