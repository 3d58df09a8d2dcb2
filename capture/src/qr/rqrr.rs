//! The one door to rqrr: every grid rqrr returns, or the one our own sampler builds, is
//! decoded here, inside `catch_unwind` (rqrr is known to panic on some inputs: a panic
//! is an unreadable code, never a crash), into a zeroizing buffer, and accepted only
//! when the payload parses as an [`ApplicationId`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use shinsei_protocol::application::ApplicationId;
use zeroize::Zeroizing;

use super::QrError;

/// Runs `f` (which calls into rqrr) so that a panic becomes [`QrError::Unreadable`].
pub(crate) fn guarded(
    f: impl FnOnce() -> Result<ApplicationId, QrError>,
) -> Result<ApplicationId, QrError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(Err(QrError::Unreadable))
}

/// The first grid whose payload is an application ID. No grid at all is
/// [`QrError::NoCode`]; grids that do not decode are [`QrError::Unreadable`]; a decoded
/// payload that is not an ID is [`QrError::NotAnApplicationId`]. Call inside
/// [`guarded`].
pub(crate) fn first_id<G: ::rqrr::BitGrid>(
    grids: impl IntoIterator<Item = ::rqrr::Grid<G>>,
) -> Result<ApplicationId, QrError> {
    let mut last = None;
    for g in grids {
        let mut payload = Zeroizing::new(Vec::new());
        if g.decode_to(&mut *payload).is_err() {
            last.get_or_insert(QrError::Unreadable);
            continue;
        }
        match ApplicationId::parse(&payload) {
            Ok(id) => return Ok(id),
            Err(e) => last = Some(QrError::NotAnApplicationId(e)),
        }
    }
    Err(last.unwrap_or(QrError::NoCode))
}

/// rqrr's own grid detection on a prepared greyscale image, then [`first_id`].
pub(crate) fn detect_greyscale(
    w: usize,
    h: usize,
    pixel: impl FnMut(usize, usize) -> u8,
) -> Result<ApplicationId, QrError> {
    guarded(|| {
        let mut img = ::rqrr::PreparedImage::prepare_from_greyscale(w, h, pixel);
        first_id(img.detect_grids())
    })
}

/// rqrr's own grid detection on a binary image (`true` = dark), then [`first_id`].
pub(crate) fn detect_bitmap(
    w: usize,
    h: usize,
    dark: impl FnMut(usize, usize) -> bool,
) -> Result<ApplicationId, QrError> {
    guarded(|| {
        let mut img = ::rqrr::PreparedImage::prepare_from_bitmap(w, h, dark);
        first_id(img.detect_grids())
    })
}
