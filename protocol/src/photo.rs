//! `FacePhoto`: the applicant's face photo as the JPEG that is sent.
//!
//! Rules (online application rules for the My Number card photo, made strict):
//! - JPEG, baseline (SOF0) or progressive (SOF2) Huffman DCT;
//! - 3 components (YCbCr/RGB) or 1 (greyscale); CMYK/YCCK refused;
//! - width and height each 480–6000 px;
//! - file size 20 KiB (20,480 bytes) – 7 MB (7,000,000 bytes), the intersection of the
//!   decimal and binary readings of "20 KB – 7 MB";
//! - no metadata: only `APP0` JFIF without thumbnail, `DQT`, `DHT`, `SOF0/2`, `DRI`, `SOS`
//!   segments are allowed. EXIF, XMP, ICC, IPTC, comments and every other `APPn` are refused
//!   (they could carry a name or a birth date). [`strip_metadata`] removes them.
//! - the whole image must decode (strict mode), with the decoder limited to 6000×6000
//!   pixels so a crafted header cannot make it allocate more than ~108 MB.
//!
//! The bytes live in a zeroizing buffer. `Debug` shows only the dimensions.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};
use zune_jpeg::zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
use zune_jpeg::JpegDecoder;

/// Smallest accepted file, bytes.
pub const MIN_PHOTO_BYTES: usize = 20 * 1024;
/// Largest accepted file, bytes.
pub const MAX_PHOTO_BYTES: usize = 7_000_000;
/// Smallest accepted width or height, pixels.
pub const MIN_SIDE: u32 = 480;
/// Largest accepted width or height, pixels.
pub const MAX_SIDE: u32 = 6000;

const APP0: u8 = 0xE0;
const SOF2: u8 = 0xC2;
const ALLOWED_MARKERS: [u8; 6] = [0xDB, 0xC4, 0xC0, 0xC2, 0xDD, 0xDA];

/// Why a photo was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("photo is too small ({0} bytes, minimum {MIN_PHOTO_BYTES}) / 写真のファイルサイズが小さすぎます")]
    TooFewBytes(usize),
    #[error("photo is too large ({0} bytes, maximum {MAX_PHOTO_BYTES}) / 写真のファイルサイズが大きすぎます")]
    TooManyBytes(usize),
    #[error("not a JPEG file / JPEG形式ではありません")]
    NotJpeg,
    #[error("JPEG coding {0} is not allowed (baseline or progressive only) / この JPEG 形式は使えません")]
    UnsupportedCoding(&'static str),
    #[error("CMYK photos are not allowed / CMYK の写真は使えません")]
    Cmyk,
    #[error("JPEG with {0} colour components is not allowed / 色成分数が不正です")]
    Components(u8),
    #[error("photo is {width}×{height} px; each side must be {MIN_SIDE}–{MAX_SIDE} px / 写真の縦横サイズが範囲外です")]
    Dimensions { width: u32, height: u32 },
    #[error("photo carries metadata (JPEG marker 0x{0:02X}); it must be removed / 写真にメタデータが含まれています")]
    Metadata(u8),
    #[error("photo is corrupt: {0} / 写真が壊れています")]
    Corrupt(String),
}

/// A validated face photo (JPEG bytes). Zeroized on drop; no `Clone`.
pub struct FacePhoto {
    bytes: Zeroizing<Vec<u8>>,
    width: u32,
    height: u32,
    progressive: bool,
    greyscale: bool,
}

impl FacePhoto {
    /// Validates JPEG bytes (see the module documentation) and takes ownership.
    pub fn from_jpeg(bytes: Zeroizing<Vec<u8>>) -> Result<Self, PhotoError> {
        Self::checked(bytes, Pixels::Decode)
    }

    /// [`FacePhoto::from_jpeg`] for a photo this process validated before and kept
    /// under authenticated encryption (the relay's storage record): size, segments,
    /// markers, colour model and dimensions are checked again from the headers, but the
    /// pixels are not decoded a second time (the decode is most of the cost of a
    /// submission). Never for bytes from outside.
    pub fn from_own_record(bytes: Zeroizing<Vec<u8>>) -> Result<Self, PhotoError> {
        Self::checked(bytes, Pixels::HeadersOnly)
    }

    fn checked(bytes: Zeroizing<Vec<u8>>, pixels: Pixels) -> Result<Self, PhotoError> {
        let n = bytes.len();
        if n < MIN_PHOTO_BYTES {
            return Err(PhotoError::TooFewBytes(n));
        }
        if n > MAX_PHOTO_BYTES {
            return Err(PhotoError::TooManyBytes(n));
        }
        let progressive = check_segments(&bytes)?;
        let info = decode_jpeg(&bytes, pixels)?;
        Ok(Self {
            bytes,
            width: info.width,
            height: info.height,
            progressive,
            greyscale: info.greyscale,
        })
    }

    /// The JPEG bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn is_progressive(&self) -> bool {
        self.progressive
    }

    pub fn is_greyscale(&self) -> bool {
        self.greyscale
    }
}

impl fmt::Debug for FacePhoto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FacePhoto({}x{}, {} bytes)",
            self.width,
            self.height,
            self.bytes.len()
        )
    }
}

struct JpegInfo {
    width: u32,
    height: u32,
    greyscale: bool,
}

fn parse_segments(bytes: &[u8]) -> Result<img_parts::jpeg::Jpeg, PhotoError> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF {
        return Err(PhotoError::NotJpeg);
    }
    img_parts::jpeg::Jpeg::from_bytes(img_parts::Bytes::copy_from_slice(bytes))
        .map_err(|e| PhotoError::Corrupt(e.to_string()))
}

fn jfif_without_thumbnail(contents: &[u8]) -> bool {
    // "JFIF\0", version (2), units (1), x/y density (2+2), thumbnail w/h (1+1) = 14 bytes.
    contents.len() == 14
        && contents.starts_with(b"JFIF\0")
        && contents[12] == 0
        && contents[13] == 0
}

/// Returns whether the JPEG is progressive.
fn check_segments(bytes: &[u8]) -> Result<bool, PhotoError> {
    let jpeg = parse_segments(bytes)?;
    let mut progressive = false;
    for seg in jpeg.segments() {
        let m = seg.marker();
        let ok = if m == APP0 {
            jfif_without_thumbnail(seg.contents())
        } else {
            ALLOWED_MARKERS.contains(&m)
        };
        if !ok {
            if let Some(coding) = unsupported_coding(m) {
                return Err(PhotoError::UnsupportedCoding(coding));
            }
            return Err(PhotoError::Metadata(m));
        }
        progressive |= m == SOF2;
    }
    // Check the frame size before the decoder allocates anything for it.
    let (w, h) = jpeg
        .dimensions()
        .ok_or_else(|| PhotoError::Corrupt("no frame header".into()))?;
    check_dimensions(u32::from(w), u32::from(h))?;
    Ok(progressive)
}

/// The frame size (width, height) of a JPEG, read from its first start-of-frame
/// segment without decoding and without copying: what a caller needs to budget the
/// memory of a decode before it starts. `None` if no frame header is found before the
/// scan data (the decoder refuses such a file). Not a validation: [`FacePhoto::from_jpeg`]
/// still checks everything.
pub fn frame_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    loop {
        // Fill bytes (0xFF) may precede a marker.
        while *bytes.get(i)? == 0xFF && *bytes.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *bytes.get(i)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(i + 1)?;
        let len = usize::from(u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]));
        match marker {
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let h = u16::from_be_bytes([*bytes.get(i + 5)?, *bytes.get(i + 6)?]);
                let w = u16::from_be_bytes([*bytes.get(i + 7)?, *bytes.get(i + 8)?]);
                return Some((u32::from(w), u32::from(h)));
            }
            // Start of scan or end of image before any frame header.
            0xDA | 0xD9 => return None,
            _ if len < 2 => return None,
            _ => i += 2 + len,
        }
    }
}

fn check_dimensions(width: u32, height: u32) -> Result<(), PhotoError> {
    if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
        return Err(PhotoError::Dimensions { width, height });
    }
    Ok(())
}

fn unsupported_coding(m: u8) -> Option<&'static str> {
    match m {
        0xC1 => Some("extended sequential"),
        0xC3 | 0xC7 | 0xCB | 0xCF => Some("lossless"),
        0xC5 | 0xC6 => Some("hierarchical"),
        0xC9 | 0xCA | 0xCC | 0xCD | 0xCE => Some("arithmetic"),
        _ => None,
    }
}

fn map_decode_error(e: &zune_jpeg::errors::DecodeErrors) -> PhotoError {
    PhotoError::Corrupt(e.to_string())
}

/// Removes every metadata segment (EXIF, XMP, ICC, IPTC, comments, other `APPn`, JFIF
/// thumbnails) from a JPEG, keeping the image data bit for bit, and returns the result
/// in a zeroizing buffer. The caller still validates the result with
/// [`FacePhoto::from_jpeg`].
pub fn strip_metadata(bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, PhotoError> {
    let mut jpeg = parse_segments(bytes)?;
    jpeg.segments_mut().retain(|seg| {
        let m = seg.marker();
        ALLOWED_MARKERS.contains(&m) || (m == APP0 && jfif_without_thumbnail(seg.contents()))
    });
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    jpeg.encoder()
        .write_to(&mut *out)
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    Ok(out)
}

/// Whether the pixels are decoded or only the headers read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pixels {
    Decode,
    HeadersOnly,
}

fn decode_jpeg(bytes: &[u8], pixels: Pixels) -> Result<JpegInfo, PhotoError> {
    let options = DecoderOptions::default()
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize)
        .set_strict_mode(true);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    dec.decode_headers().map_err(|e| map_decode_error(&e))?;
    let info = dec
        .info()
        .ok_or_else(|| PhotoError::Corrupt("no frame header".into()))?;
    match dec.input_colorspace() {
        Some(ColorSpace::CMYK) | Some(ColorSpace::YCCK) => return Err(PhotoError::Cmyk),
        _ => {}
    }
    let greyscale = match info.components {
        1 => true,
        3 => false,
        n => return Err(PhotoError::Components(n)),
    };
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_dimensions(width, height)?;
    if pixels == Pixels::Decode {
        let mut decoded = dec.decode().map_err(|e| map_decode_error(&e))?;
        decoded.zeroize();
    }
    Ok(JpegInfo {
        width,
        height,
        greyscale,
    })
}
