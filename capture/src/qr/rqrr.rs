//! The one door to rqrr: every grid rqrr returns, or the one our own sampler builds, is
//! decoded here, inside `catch_unwind` (rqrr is known to panic on some inputs: a panic
//! is an unreadable code, never a crash), into a zeroizing buffer, and accepted only
//! when the payload is what the caller asked for ([`Accept`]): an [`ApplicationId`]
//! for everything that can reach the outbox, any payload for the raw reader.

use std::panic::{catch_unwind, AssertUnwindSafe};

use shinsei_protocol::application::ApplicationId;
use zeroize::Zeroizing;

use super::QrError;

/// A decoded payload (the code's bytes), wiped when dropped.
pub(crate) type Payload = Zeroizing<Vec<u8>>;

/// Which payloads a scan accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Only a payload that parses as an [`ApplicationId`] (the form's code).
    ApplicationId,
    /// Any payload that decodes (format, Reed–Solomon and data all correct).
    Any,
}

impl Accept {
    /// `Ok` when the payload is acceptable, else why not.
    pub(crate) fn check(self, payload: &[u8]) -> Result<(), QrError> {
        match self {
            Accept::Any => Ok(()),
            Accept::ApplicationId => ApplicationId::parse(payload)
                .map(|_| ())
                .map_err(QrError::NotAnApplicationId),
        }
    }
}

/// Runs `f` (which calls into rqrr) so that a panic becomes [`QrError::Unreadable`].
pub(crate) fn guarded(f: impl FnOnce() -> Result<Payload, QrError>) -> Result<Payload, QrError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(Err(QrError::Unreadable))
}

/// The first grid whose payload `accept` takes. No grid at all is [`QrError::NoCode`];
/// grids that do not decode are [`QrError::Unreadable`]; a decoded payload that is not
/// acceptable is [`QrError::NotAnApplicationId`]. Call inside [`guarded`].
pub(crate) fn first_accepted<G: ::rqrr::BitGrid>(
    grids: impl IntoIterator<Item = ::rqrr::Grid<G>>,
    accept: Accept,
) -> Result<Payload, QrError> {
    let mut last = None;
    for g in grids {
        let mut payload = Zeroizing::new(Vec::new());
        if g.decode_to(&mut *payload).is_err() {
            last.get_or_insert(QrError::Unreadable);
            continue;
        }
        match accept.check(&payload) {
            Ok(()) => return Ok(payload),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(QrError::NoCode))
}

/// rqrr's own grid detection on a prepared greyscale image, then [`first_accepted`].
pub(crate) fn detect_greyscale(
    w: usize,
    h: usize,
    pixel: impl FnMut(usize, usize) -> u8,
    accept: Accept,
) -> Result<Payload, QrError> {
    guarded(|| {
        let mut img = ::rqrr::PreparedImage::prepare_from_greyscale(w, h, pixel);
        first_accepted(img.detect_grids(), accept)
    })
}

/// rqrr's own grid detection on a binary image (`true` = dark), then [`first_accepted`].
pub(crate) fn detect_bitmap(
    w: usize,
    h: usize,
    dark: impl FnMut(usize, usize) -> bool,
    accept: Accept,
) -> Result<Payload, QrError> {
    guarded(|| {
        let mut img = ::rqrr::PreparedImage::prepare_from_bitmap(w, h, dark);
        first_accepted(img.detect_grids(), accept)
    })
}
