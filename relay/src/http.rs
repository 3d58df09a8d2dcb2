//! HTTP routing of the device and admin APIs (hyper, HTTP/1.1 and HTTP/2). Each handler
//! gets the identity of the verified client certificate of its connection.
//!
//! Device API (`/v1/…`), admin API (`/admin/v1/…`, `/metrics`): see `relay/README.md`.

use std::{convert::Infallible, sync::atomic::Ordering, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::{body::Incoming, header, Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use shinsei_protocol::{
    api::{self, StatusResponse},
    device::DeviceId,
};

use crate::{
    core::RelayCore,
    error::ApiError,
    identity::{AdminIdentity, DeviceIdentity},
    registry::{Action, DeviceRecord, DeviceState, RegistryError},
    store::DeviceAuditRecord,
    submit::{state_refusal, submit},
};

pub type Body = Full<Bytes>;

fn response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Body> {
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

fn json_ok(v: Value) -> Response<Body> {
    response(
        StatusCode::OK,
        "application/json",
        serde_json::to_vec(&v).unwrap_or_default(),
    )
}

fn error_response(e: &ApiError) -> Response<Body> {
    response(e.status, "application/json", e.to_json())
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed",
    )
}

/// Runs blocking work (store, crypto, JPEG decoding) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// Reads a body of at most `limit` bytes within the body timeout. A declared
/// `Content-Length` above the limit is refused before anything is read.
async fn read_body(
    core: &RelayCore,
    req: Request<Incoming>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(len) = req.headers().get(header::CONTENT_LENGTH) {
        let n: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed", "bad Content-Length")
            })?;
        if n > limit as u64 {
            return Err(ApiError::too_large(limit));
        }
    }
    let t = Duration::from_secs(core.config.limits.body_read_timeout_secs);
    match tokio::time::timeout(t, Limited::new(req.into_body(), limit).collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the body did not arrive in time",
        )),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::too_large(limit))
        }
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "the body could not be read",
        )),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

fn query_u64(req: &Request<Incoming>, key: &str) -> Result<Option<u64>, ApiError> {
    let Some(q) = req.uri().query() else {
        return Ok(None);
    };
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == key {
            return v.parse().map(Some).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    format!("query parameter {key} must be a non-negative integer"),
                )
            });
        }
    }
    Ok(None)
}

// -------------------------------------------------------------------------------------
// Device API
// -------------------------------------------------------------------------------------

/// Serves one request on the device listener.
pub async fn handle_device(
    core: Arc<RelayCore>,
    who: Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    Ok(match device_route(&core, &who, req).await {
        Ok(r) => r,
        Err(e) => {
            core.metrics.refused(e.code);
            tracing::info!(device_id = %who.device_id, path = %path, status = e.status.as_u16(), code = e.code, "request refused");
            error_response(&e)
        }
    })
}

async fn device_route(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    // A connection opened before a revocation is refused from the next request on.
    if core
        .deny
        .is_denied(&who.fingerprint, who.device_id.as_str())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "device_revoked",
            "this device certificate is no longer accepted",
        ));
    }
    let m = req.method().clone();
    match (req.uri().path(), m) {
        (api::PATH_ENVELOPES, Method::POST) => post_envelope(core, who, req).await,
        (api::PATH_STATUS, Method::GET) => status(core, who, req).await,
        (api::PATH_WIPE_CONFIRM, Method::POST) => wipe_confirm(core, who).await,
        (api::PATH_AUDIT, Method::POST) => post_audit(core, who, req).await,
        (api::PATH_RELAY_KEYS, Method::GET) => relay_keys(core).await,
        (
            api::PATH_ENVELOPES
            | api::PATH_STATUS
            | api::PATH_WIPE_CONFIRM
            | api::PATH_AUDIT
            | api::PATH_RELAY_KEYS,
            _,
        ) => Err(method_not_allowed()),
        _ => Err(not_found()),
    }
}

async fn post_envelope(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let body = read_body(core, req, core.config.limits.max_envelope_bytes).await?;
    let (c, w) = (core.clone(), who.clone());
    let a = blocking(move || submit(&c, &w, &body)).await?;
    if a.duplicate {
        core.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
    } else {
        core.metrics.accepted.fetch_add(1, Ordering::Relaxed);
    }
    Ok(response(
        StatusCode::OK,
        "application/octet-stream",
        a.receipt,
    ))
}

/// `GET /v1/relay-keys`: the signed HPKE key schedule (protocol `relay_keys` v1). Any
/// device that passed the TLS layer may read it (public keys only).
async fn relay_keys(core: &Arc<RelayCore>) -> Result<Response<Body>, ApiError> {
    let c = core.clone();
    let bytes = blocking(move || {
        let now = c.clock.now();
        let schedule = c.epochs().schedule(now);
        schedule
            .sign(c.receipt_key())
            .map_err(|e| ApiError::internal(format!("key schedule: {e}")))
    })
    .await?;
    Ok(response(StatusCode::OK, "application/octet-stream", bytes))
}

fn status_json(core: &RelayCore, r: &DeviceRecord) -> Response<Body> {
    json_ok(
        serde_json::to_value(StatusResponse {
            device_id: r.device_id.clone(),
            state: r.state,
            version: r.version,
            server_time: core.clock.now(),
        })
        .unwrap_or_default(),
    )
}

struct LongPollGuard<'a>(&'a RelayCore);

impl Drop for LongPollGuard<'_> {
    fn drop(&mut self) {
        self.0
            .metrics
            .long_polls_open
            .fetch_sub(1, Ordering::SeqCst);
    }
}

async fn status(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let wait = query_u64(&req, "wait")?
        .unwrap_or(0)
        .min(core.config.limits.max_long_poll_secs);
    let since = query_u64(&req, "since")?.unwrap_or(0);
    let dev = who.device_id.as_str().to_owned();
    // Subscribe before reading, so a change in between is not missed.
    let mut rx = core.registry.subscribe(&dev);
    let (c, w) = (core.clone(), who.clone());
    let rec = blocking(move || Ok(c.registry.contact(&w)?)).await?;
    if rec.version > since || wait == 0 {
        return Ok(status_json(core, &rec));
    }
    let open = core.metrics.long_polls_open.fetch_add(1, Ordering::SeqCst);
    let _guard = LongPollGuard(core);
    if open >= core.config.limits.max_long_polls as i64 {
        return Ok(status_json(core, &rec));
    }
    let _ = tokio::time::timeout(Duration::from_secs(wait), async {
        loop {
            if rx.changed().await.is_err() {
                // No sender any more: nothing will change; wait out the timeout.
                std::future::pending::<()>().await;
            }
            if *rx.borrow_and_update() > since {
                return;
            }
        }
    })
    .await;
    let c = core.clone();
    let rec = blocking(move || {
        c.registry
            .get(&dev)?
            .ok_or_else(|| ApiError::internal("device vanished"))
    })
    .await?;
    Ok(status_json(core, &rec))
}

async fn wipe_confirm(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
) -> Result<Response<Body>, ApiError> {
    let (c, w) = (core.clone(), who.clone());
    let rec = blocking(move || {
        c.registry.contact(&w)?;
        c.registry.confirm_wipe(&w).map_err(|e| match e {
            RegistryError::Transition(t) => {
                ApiError::new(StatusCode::CONFLICT, "invalid_state", t.to_string())
            }
            RegistryError::Store(s) => s.into(),
        })
    })
    .await?;
    Ok(json_ok(json!({"state": rec.state.as_str()})))
}

/// Most entries in one audit upload.
pub const MAX_AUDIT_ENTRIES: usize = 1000;
/// Most fields in one audit entry.
pub const MAX_AUDIT_FIELDS: usize = 16;
/// Longest string value in an audit entry.
pub const MAX_AUDIT_STRING: usize = 256;

fn bad_audit(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_audit", msg)
}

/// Checks an audit upload: `{"entries":[{"seq":N,"at":UNIX,"event":"name",…}]}` with
/// scalar values only.
pub fn parse_audit(body: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "malformed", "body is not JSON"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad_audit("body must be an object"))?;
    if obj.len() != 1 {
        return Err(bad_audit("body must hold only \"entries\""));
    }
    let entries = obj
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_audit("\"entries\" must be an array"))?;
    if entries.len() > MAX_AUDIT_ENTRIES {
        return Err(bad_audit(format!("at most {MAX_AUDIT_ENTRIES} entries")));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let o = e
            .as_object()
            .ok_or_else(|| bad_audit(format!("entry {i} is not an object")))?;
        let seq = o
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_audit(format!("entry {i}: seq must be a non-negative integer")))?;
        o.get("at")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_audit(format!("entry {i}: at must be unix seconds")))?;
        let ev = o
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_audit(format!("entry {i}: event must be a string")))?;
        if ev.is_empty()
            || ev.len() > 64
            || !ev
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        {
            return Err(bad_audit(format!(
                "entry {i}: event must match [a-z0-9_.-]{{1,64}}"
            )));
        }
        if o.len() > MAX_AUDIT_FIELDS {
            return Err(bad_audit(format!(
                "entry {i}: at most {MAX_AUDIT_FIELDS} fields"
            )));
        }
        for (k, val) in o {
            let ok_key = !k.is_empty() && k.len() <= 64;
            let ok_val = match val {
                Value::Null | Value::Bool(_) | Value::Number(_) => true,
                Value::String(s) => s.len() <= MAX_AUDIT_STRING,
                Value::Array(_) | Value::Object(_) => false,
            };
            if !ok_key || !ok_val {
                return Err(bad_audit(format!(
                    "entry {i}: values must be scalars, strings at most {MAX_AUDIT_STRING} bytes"
                )));
            }
        }
        out.push((seq, serde_json::to_vec(o).unwrap_or_default()));
    }
    Ok(out)
}

async fn post_audit(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let body = read_body(core, req, core.config.limits.max_audit_bytes).await?;
    let (c, w) = (core.clone(), who.clone());
    let acked = blocking(move || {
        let rec = c.registry.contact(&w)?;
        if let Some(e) = state_refusal(&rec, &[DeviceState::Active, DeviceState::Disabled]) {
            return Err(e);
        }
        let entries = parse_audit(&body)?;
        let now = c.clock.now();
        let recs: Vec<DeviceAuditRecord> = entries
            .into_iter()
            .map(|(seq, entry)| DeviceAuditRecord {
                device_id: w.device_id.as_str().to_owned(),
                seq,
                received_at: now,
                entry,
            })
            .collect();
        c.store.append_device_audit(&recs)?;
        Ok(recs.iter().map(|r| r.seq).max())
    })
    .await?;
    Ok(json_ok(json!({ "acked_through": acked })))
}

// -------------------------------------------------------------------------------------
// Admin API
// -------------------------------------------------------------------------------------

/// Serves one request on the admin listener.
pub async fn handle_admin(
    core: Arc<RelayCore>,
    who: Arc<AdminIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    Ok(match admin_route(&core, &who, req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(admin = %who.name, path = %path, status = e.status.as_u16(), code = e.code, "admin request refused");
            error_response(&e)
        }
    })
}

fn device_json(r: &DeviceRecord) -> Value {
    json!({
        "device_id": r.device_id,
        "state": r.state.as_str(),
        "version": r.version,
        "updated_at": r.updated_at,
        "history": r.history.iter().map(|h| json!({
            "at": h.at, "state": h.state.as_str(), "by": h.by,
        })).collect::<Vec<_>>(),
        "certificates": r.certs.iter().map(|c| json!({
            "serial": c.serial_hex, "spki_sha256": c.spki_sha256_hex,
        })).collect::<Vec<_>>(),
    })
}

async fn admin_route(
    core: &Arc<RelayCore>,
    who: &Arc<AdminIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_owned();
    let m = req.method().clone();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (segs.as_slice(), m) {
        (["metrics"], Method::GET) => {
            let c = core.clone();
            let text = blocking(move || {
                let devices = c.registry.list()?.len();
                Ok(c.metrics.render(c.store.envelope_count(), devices))
            })
            .await?;
            Ok(response(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                text.into_bytes(),
            ))
        }
        (["admin", "v1", "devices"], Method::GET) => {
            let (c, w) = (core.clone(), who.clone());
            let list = blocking(move || {
                c.registry.audit(&w.name, "list_devices", None)?;
                Ok(c.registry.list()?)
            })
            .await?;
            Ok(json_ok(json!({
                "devices": list.iter().map(device_json).collect::<Vec<_>>()
            })))
        }
        (["admin", "v1", "devices", id, action], Method::POST) => {
            let action = Action::parse_admin(action).ok_or_else(not_found)?;
            let dev = DeviceId::parse(id)
                .ok()
                .filter(|d| d.as_str() == *id)
                .ok_or_else(|| {
                    ApiError::new(StatusCode::BAD_REQUEST, "bad_device_id", "not a device ID")
                })?;
            let (c, w) = (core.clone(), who.clone());
            let rec = blocking(move || {
                c.registry
                    .admin_action(&dev, action, &w.name)
                    .map_err(|e| match e {
                        RegistryError::Transition(t) => {
                            ApiError::new(StatusCode::CONFLICT, "invalid_transition", t.to_string())
                        }
                        RegistryError::Store(s) => s.into(),
                    })
            })
            .await?;
            tracing::info!(admin = %who.name, device_id = %rec.device_id, action = action.as_str(), state = rec.state.as_str(), "admin action");
            Ok(json_ok(
                json!({"device_id": rec.device_id, "state": rec.state.as_str()}),
            ))
        }
        (["admin", "v1", "audit"], Method::GET) => {
            let limit = query_u64(&req, "limit")?.unwrap_or(1000).min(100_000) as usize;
            let (c, w) = (core.clone(), who.clone());
            let entries = blocking(move || {
                c.registry.audit(&w.name, "read_audit", None)?;
                Ok(c.store.admin_audit(limit)?)
            })
            .await?;
            Ok(json_ok(json!({ "entries": entries })))
        }
        (["metrics"] | ["admin", "v1", "devices"] | ["admin", "v1", "audit"], _)
        | (["admin", "v1", "devices", _, _], _) => Err(method_not_allowed()),
        _ => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn audit_parsing() {
        let ok = br#"{"entries":[{"seq":3,"at":1700000000,"event":"login","staff":"s01"},{"seq":4,"at":1700000001,"event":"submit","ok":true}]}"#;
        let v = parse_audit(ok).unwrap();
        assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), vec![3, 4]);
        for bad in [
            &br#"{"entries":[{"at":1,"event":"x"}]}"#[..],
            br#"{"entries":[{"seq":1,"at":1,"event":"X Y"}]}"#,
            br#"{"entries":[{"seq":1,"at":1,"event":"x","nested":{"a":1}}]}"#,
            br#"{"entries":[],"extra":1}"#,
            br#"[1]"#,
        ] {
            assert!(
                parse_audit(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
