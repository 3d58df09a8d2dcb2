//! The device API (`/v1/…`): envelopes, status long-poll, wipe confirmation, audit
//! upload, relay key schedule.

use std::{convert::Infallible, sync::atomic::Ordering, sync::Arc, time::Duration};

use hyper::{body::Incoming, Method, Request, Response, StatusCode};
use shinsei_protocol::api::{
    self, AuditAck, DeviceReport, RenewalState, ReportAck, StatusResponse, WipeConfirmed,
};

use super::{
    blocking, error_response, json_ok, method_not_allowed, not_found, query_u64, read_body,
    response, status_of, Body,
};
use crate::{
    audit::{self, continue_chain, parse_audit},
    core::RelayCore,
    device::AuditHead,
    identity::DeviceIdentity,
    refusal::{Refusal, RefusalKind},
    registry::{DeviceRecord, DeviceState, RegistryError},
    renewal::check_request,
    store::DeviceAuditRecord,
    submit::{commit, prepare, state_refusal, Prepared},
};

/// Serves one request on the device listener.
pub(crate) async fn handle_device(
    core: Arc<RelayCore>,
    who: Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    Ok(match device_route(&core, &who, req).await {
        Ok(r) => r,
        Err(e) => {
            core.metrics.refused(e.code);
            tracing::info!(device_id = %who.device_id, path = %path, status = status_of(e.kind).as_u16(), code = e.code, "request refused");
            error_response(&core, &e)
        }
    })
}

async fn device_route(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Refusal> {
    // A connection opened before a revocation is refused from the next request on.
    if core
        .deny
        .is_denied(&who.fingerprint, who.device_id.as_str())
    {
        return Err(Refusal::new(
            RefusalKind::Forbidden,
            "device_revoked",
            "this device certificate is no longer accepted",
        ));
    }
    let m = req.method().clone();
    // An enrollment ticket asks for the tablet's own certificate and nothing more: it
    // never submits, never reads the staff list (its key was made on the imaging
    // workstation, not on the tablet).
    if who.ticket && matches!(req.uri().path(), api::PATH_ENVELOPES | api::PATH_STAFF_LIST) {
        return Err(Refusal::new(
            RefusalKind::Forbidden,
            "enrollment_ticket",
            "an enrollment ticket may only ask for the tablet's own certificate",
        ));
    }
    match (req.uri().path(), m) {
        (api::PATH_ENVELOPES, Method::POST) => post_envelope(core, who, req).await,
        (api::PATH_STATUS, Method::GET) => status(core, who, req).await,
        (api::PATH_WIPE_CONFIRM, Method::POST) => wipe_confirm(core, who).await,
        (api::PATH_AUDIT, Method::POST) => post_audit(core, who, req).await,
        (api::PATH_RELAY_KEYS, Method::GET) => relay_keys(core).await,
        (api::PATH_REPORT, Method::POST) => post_report(core, who, req).await,
        (api::PATH_BUNDLE, Method::GET) => get_bundle(core, who).await,
        (api::PATH_STAFF_LIST, Method::GET) => get_staff_list(core, who).await,
        (
            api::PATH_ENVELOPES
            | api::PATH_STATUS
            | api::PATH_WIPE_CONFIRM
            | api::PATH_AUDIT
            | api::PATH_RELAY_KEYS
            | api::PATH_REPORT
            | api::PATH_BUNDLE
            | api::PATH_STAFF_LIST,
            _,
        ) => Err(method_not_allowed()),
        _ => Err(not_found()),
    }
}

async fn post_envelope(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Refusal> {
    let dev = who.device_id.as_str();
    // The reservation is held until the submission is done (the body's copies live
    // that long).
    let (body, _held) = read_body(core, req, core.config.limits.max_envelope_bytes, dev).await?;
    // The CPU part (signature, HPKE, the photo's decode) under the CPU-worker limit, so
    // that many submissions at once queue here instead of thrashing the cores; the
    // durable write outside it, so that waiting writers share a flush.
    let prepared = {
        let _cpu = core
            .cpu
            .acquire()
            .await
            .map_err(|_| Refusal::internal("the relay is stopping"))?;
        let (c, w) = (core.clone(), who.clone());
        blocking(move || prepare(&c, &w, &body)).await?
    };
    let a = match prepared {
        Prepared::Replay(a) => a,
        Prepared::New(n) => {
            let (c, w) = (core.clone(), who.clone());
            blocking(move || commit(&c, &w, *n)).await?
        }
    };
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
async fn relay_keys(core: &Arc<RelayCore>) -> Result<Response<Body>, Refusal> {
    let c = core.clone();
    let bytes = blocking(move || {
        let now = c.clock.now();
        let schedule = c.epochs().schedule(now);
        schedule
            .sign(c.receipt_key())
            .map_err(|e| Refusal::internal(format!("key schedule: {e}")))
    })
    .await?;
    Ok(response(StatusCode::OK, "application/octet-stream", bytes))
}

fn status_json(core: &RelayCore, (r, staff_list): &(DeviceRecord, Option<u64>)) -> Response<Body> {
    json_ok(&StatusResponse {
        device_id: r.device_id.clone(),
        state: r.state,
        version: r.version,
        server_time: core.clock.now(),
        bundle_ready: r.renewal_state() == RenewalState::Issued,
        staff_list: *staff_list,
    })
}

/// Registers the contact and refuses a device that is neither active nor disabled
/// (what report, bundle, staff list and audit allow).
fn contact_live(core: &RelayCore, who: &DeviceIdentity) -> Result<DeviceRecord, Refusal> {
    let rec = core.registry.contact(who)?;
    match state_refusal(&rec, &[DeviceState::Active, DeviceState::Disabled]) {
        Some(e) => Err(e),
        None => Ok(rec),
    }
}

/// `GET /v1/staff-list`: the signed staff list IT published, if any (the tablet
/// verifies it against its pinned root and its installed sequence).
async fn get_staff_list(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
) -> Result<Response<Body>, Refusal> {
    let (c, w) = (core.clone(), who.clone());
    let bytes = blocking(move || {
        contact_live(&c, &w)?;
        Ok(c.store.staff_list()?.ok_or_else(not_found)?.1)
    })
    .await?;
    Ok(response(StatusCode::OK, "application/json", bytes))
}

/// Largest report body (a CSR and two weeks of counts).
const MAX_REPORT_BYTES: usize = 8 * 1024;

/// `POST /v1/report`: the tablet's figures for IT, and its renewal request.
async fn post_report(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Refusal> {
    let (body, _held) = read_body(core, req, MAX_REPORT_BYTES, who.device_id.as_str()).await?;
    let report: DeviceReport =
        serde_json::from_slice(&body).map_err(|e| Refusal::malformed(format!("report: {e}")))?;
    report
        .check()
        .map_err(|what| Refusal::malformed(format!("report: {what} out of bounds")))?;
    let (c, w) = (core.clone(), who.clone());
    let renewal = blocking(move || {
        contact_live(&c, &w)?;
        let request = match &report.renewal_csr {
            Some(pem) => Some(
                check_request(pem, &w, c.clock.now())
                    .map_err(|(code, m)| Refusal::new(RefusalKind::Malformed, code, m))?,
            ),
            None => None,
        };
        Ok(c.registry.report(&w, report, request)?)
    })
    .await?;
    Ok(json_ok(&ReportAck { renewal }))
}

/// `GET /v1/bundle`: the renewed bundle IT signed, if one waits.
async fn get_bundle(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
) -> Result<Response<Body>, Refusal> {
    let (c, w) = (core.clone(), who.clone());
    let bytes = blocking(move || {
        let rec = contact_live(&c, &w)?;
        let issued = rec
            .renewal
            .filter(|_| rec.renewal_hold.is_none())
            .and_then(|n| n.issued)
            .ok_or_else(not_found)?;
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            issued.bundle_b64,
        )
        .map_err(Refusal::internal)
    })
    .await?;
    Ok(response(StatusCode::OK, "application/json", bytes))
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
) -> Result<Response<Body>, Refusal> {
    let wait = query_u64(&req, "wait")?
        .unwrap_or(0)
        .min(core.config.limits.max_long_poll_secs);
    let since = query_u64(&req, "since")?.unwrap_or(0);
    let dev = who.device_id.as_str().to_owned();
    // Subscribe before reading, so a change in between is not missed.
    let mut rx = core.registry.subscribe(&dev);
    let (c, w) = (core.clone(), who.clone());
    let rec =
        blocking(move || Ok((c.registry.contact(&w)?, c.store.staff_list_sequence()?))).await?;
    if rec.0.version > since || wait == 0 {
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
        let r = c
            .registry
            .get(&dev)?
            .ok_or_else(|| Refusal::internal("device vanished"))?;
        Ok((r, c.store.staff_list_sequence()?))
    })
    .await?;
    Ok(status_json(core, &rec))
}

async fn wipe_confirm(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
) -> Result<Response<Body>, Refusal> {
    let (c, w) = (core.clone(), who.clone());
    let rec = blocking(move || {
        c.registry.contact(&w)?;
        c.registry.confirm_wipe(&w).map_err(|e| match e {
            RegistryError::Transition(t) => {
                Refusal::new(RefusalKind::Conflict, "invalid_state", t.to_string())
            }
            RegistryError::Store(s) => s.into(),
        })
    })
    .await?;
    Ok(json_ok(&WipeConfirmed { state: rec.state }))
}

async fn post_audit(
    core: &Arc<RelayCore>,
    who: &Arc<DeviceIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Refusal> {
    let (body, _held) = read_body(
        core,
        req,
        core.config.limits.max_audit_bytes,
        who.device_id.as_str(),
    )
    .await?;
    let (c, w) = (core.clone(), who.clone());
    let (seq, hash) = blocking(move || {
        let rec = contact_live(&c, &w)?;
        let dev = w.device_id.as_str();
        let up = parse_audit(&body)?;
        up.check(dev, &w.verifying_key)
            .map_err(|e| audit::refusal_of(&e))?;
        let new = match continue_chain(rec.audit_head.as_ref(), &up) {
            Ok(new) => new,
            Err(fault) => {
                c.registry.raise_audit_alert(dev, &fault.to_string())?;
                return Err(fault.refusal());
            }
        };
        let now = c.clock.now();
        let recs = new
            .iter()
            .map(|e| {
                Ok(DeviceAuditRecord {
                    device_id: dev.to_owned(),
                    seq: e.seq,
                    received_at: now,
                    entry: serde_json::to_vec(e).map_err(Refusal::internal)?,
                })
            })
            .collect::<Result<Vec<_>, Refusal>>()?;
        c.store.append_device_audit(&recs)?;
        let head = match (new.last(), rec.audit_head) {
            (Some(_), _) => {
                let h = AuditHead {
                    seq: up.head.seq,
                    hash: up.head.hash.clone(),
                    sig: up.head.sig.clone(),
                    at: now,
                };
                c.registry.set_audit_head(dev, h.clone())?;
                h
            }
            (None, Some(held)) => held,
            (None, None) => {
                return Err(Refusal::internal("an empty upload passed the chain check"))
            }
        };
        Ok((head.seq, head.hash))
    })
    .await?;
    Ok(json_ok(&AuditAck {
        acked_through: Some(seq),
        head_hash: Some(hash),
    }))
}
