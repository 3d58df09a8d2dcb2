//! HTTP of the device and admin APIs (hyper, HTTP/1.1 and HTTP/2): the shared plumbing
//! here, the routes in [`device`] and [`admin`]. Each handler gets the identity of the
//! verified client certificate of its connection. This is the only place where a
//! [`Refusal`] becomes a status code ([`status_of`]); answers are the wire types of
//! `shinsei_protocol::api`.
//!
//! Device API (`/v1/…`), admin API (`/admin/v1/…`, `/metrics`): see `relay/README.md`.

pub(crate) mod admin;
pub(crate) mod device;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::{body::Incoming, header, Request, Response, StatusCode};

use crate::{
    budget::BytesHeld,
    core::RelayCore,
    refusal::{Refusal, RefusalKind},
};

pub(crate) use self::{admin::handle_admin, device::handle_device};

/// The body type of every answer.
pub(crate) type Body = Full<Bytes>;

pub(crate) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// `200` with a JSON body (one of the wire types of `shinsei_protocol::api`).
pub(crate) fn json_ok<T: serde::Serialize>(v: &T) -> Response<Body> {
    response(
        StatusCode::OK,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

/// The status of each class of refusal: the one place where a refusal becomes HTTP.
pub(crate) fn status_of(kind: RefusalKind) -> StatusCode {
    match kind {
        RefusalKind::Malformed => StatusCode::BAD_REQUEST,
        RefusalKind::Forbidden => StatusCode::FORBIDDEN,
        RefusalKind::NotFound => StatusCode::NOT_FOUND,
        RefusalKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        RefusalKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        RefusalKind::Conflict => StatusCode::CONFLICT,
        RefusalKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        RefusalKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        RefusalKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        RefusalKind::Unavailable | RefusalKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
        RefusalKind::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
    }
}

/// The answer to a refusal. A 503 says when to come back (`Retry-After:
/// limits.retry_after_secs`); the agent retries every 5xx anyway.
pub(crate) fn error_response(core: &RelayCore, e: &Refusal) -> Response<Body> {
    let mut r = response(status_of(e.kind), "application/json", e.to_json());
    if r.status() == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(core.config.limits.retry_after_secs),
        );
    }
    r
}

pub(crate) fn not_found() -> Refusal {
    Refusal::new(RefusalKind::NotFound, "not_found", "no such endpoint")
}

pub(crate) fn method_not_allowed() -> Refusal {
    Refusal::new(
        RefusalKind::MethodNotAllowed,
        "method_not_allowed",
        "method not allowed",
    )
}

/// Runs blocking work (store, crypto, JPEG decoding) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Refusal::internal)?
}

/// Reads a body of at most `limit` bytes within the body timeout, for `holder` (a
/// device ID or an admin name). A declared `Content-Length` above the limit is refused
/// before anything is read. The declared length (else `limit`) is reserved in the
/// byte budget first ([`crate::budget`]); the reservation comes back with the body and
/// must be kept until the request has been handled.
pub(crate) async fn read_body(
    core: &RelayCore,
    req: Request<Incoming>,
    limit: usize,
    holder: &str,
) -> Result<(Bytes, BytesHeld), Refusal> {
    let mut reserve = limit;
    if let Some(len) = req.headers().get(header::CONTENT_LENGTH) {
        let n: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Refusal::malformed("bad Content-Length"))?;
        if n > limit as u64 {
            return Err(Refusal::too_large(limit));
        }
        reserve = usize::try_from(n).unwrap_or(limit);
    }
    let held = core
        .budget
        .bytes(holder, reserve)
        .map_err(|e| e.refusal())?;
    let t = Duration::from_secs(core.config.limits.body_read_timeout_secs);
    match tokio::time::timeout(t, Limited::new(req.into_body(), limit).collect()).await {
        Err(_) => Err(Refusal::new(
            RefusalKind::Timeout,
            "timeout",
            "the body did not arrive in time",
        )),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Refusal::too_large(limit))
        }
        Ok(Err(_)) => Err(Refusal::malformed("the body could not be read")),
        Ok(Ok(c)) => Ok((c.to_bytes(), held)),
    }
}

pub(crate) fn query_u64(req: &Request<Incoming>, key: &str) -> Result<Option<u64>, Refusal> {
    let Some(q) = req.uri().query() else {
        return Ok(None);
    };
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == key {
            return v.parse().map(Some).map_err(|_| {
                Refusal::malformed(format!(
                    "query parameter {key} must be a non-negative integer"
                ))
            });
        }
    }
    Ok(None)
}
