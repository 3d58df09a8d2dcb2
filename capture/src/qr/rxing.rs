//! The second door: rxing (the Rust port of ZXing, with zxing-cpp's QR decoder) on the
//! whole frame, for the codes our locator and rqrr cannot read: modes rqrr does not
//! decode (Hanzi, FNC1/GS1, QR Model 1) and frames where ZXing's binarizer and detector
//! find a grid ours misses. Run only at thorough effort, after our own located passes.
//!
//! Like [`super::rqrr`]: inside `catch_unwind` (a panic is an unreadable code), the
//! payload in a zeroizing buffer, accepted only when the caller's [`Accept`] takes it.
//! rxing returns text, not bytes: the payload is that text in UTF-8 (an application ID
//! is ASCII digits either way). rxing keeps its own copies of the frame's binarization
//! and of the text; they are freed, and so wiped, by the process's zeroizing allocator.

use std::panic::{catch_unwind, AssertUnwindSafe};

use zeroize::Zeroizing;

use super::rqrr::{Accept, Payload};
use super::QrError;

/// The code in the frame (light on dark too), if rxing reads one that `accept` takes.
pub(crate) fn detect(luma: &[u8], w: usize, h: usize, accept: Accept) -> Result<Payload, QrError> {
    let (Ok(width), Ok(height)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(QrError::NoCode);
    };
    if width == 0 || height == 0 || luma.len() < w * h {
        return Err(QrError::NoCode);
    }
    let read = catch_unwind(AssertUnwindSafe(|| {
        let mut hints = ::rxing::DecodeHints {
            TryHarder: Some(true),
            AlsoInverted: Some(true),
            ..Default::default()
        };
        ::rxing::helpers::detect_in_luma_slice_with_hints(
            &luma[..w * h],
            width,
            height,
            Some(::rxing::BarcodeFormat::QR_CODE),
            &mut hints,
        )
        .map(|r| Zeroizing::new(r.getText().as_bytes().to_vec()))
    }));
    match read {
        Ok(Ok(payload)) if !payload.is_empty() => {
            accept.check(&payload)?;
            Ok(payload)
        }
        Ok(Ok(_)) => Err(QrError::Unreadable),
        Ok(Err(::rxing::Exceptions::NotFoundException(_))) => Err(QrError::NoCode),
        Ok(Err(_)) | Err(_) => Err(QrError::Unreadable),
    }
}
