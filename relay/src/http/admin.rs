//! The admin API (`/admin/v1/…`) and `/metrics`, on the admin listener.

use std::{convert::Infallible, sync::Arc};

use hyper::{body::Incoming, Method, Request, Response, StatusCode};
use shinsei_protocol::{
    api::{ActionResult, AdminAction, AdminAuditLog, DeviceList},
    device::DeviceId,
};

use super::{
    blocking, error_response, json_ok, method_not_allowed, not_found, query_u64, response,
    status_of, Body,
};
use crate::{
    core::RelayCore,
    identity::AdminIdentity,
    refusal::{Refusal, RefusalKind},
    registry::RegistryError,
};

/// Serves one request on the admin listener.
pub(crate) async fn handle_admin(
    core: Arc<RelayCore>,
    who: Arc<AdminIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    Ok(match admin_route(&core, &who, req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(admin = %who.name, path = %path, status = status_of(e.kind).as_u16(), code = e.code, "admin request refused");
            error_response(&e)
        }
    })
}

async fn admin_route(
    core: &Arc<RelayCore>,
    who: &Arc<AdminIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Refusal> {
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
            Ok(json_ok(&DeviceList {
                devices: list.iter().map(|r| r.view()).collect(),
            }))
        }
        (["admin", "v1", "devices", id, action], Method::POST) => {
            let action = AdminAction::parse(action).ok_or_else(not_found)?;
            let dev = DeviceId::parse(id)
                .ok()
                .filter(|d| d.as_str() == *id)
                .ok_or_else(|| {
                    Refusal::new(RefusalKind::Malformed, "bad_device_id", "not a device ID")
                })?;
            let (c, w) = (core.clone(), who.clone());
            let rec = blocking(move || {
                c.registry
                    .admin_action(&dev, action.into(), &w.name)
                    .map_err(|e| match e {
                        RegistryError::Transition(t) => {
                            Refusal::new(RefusalKind::Conflict, "invalid_transition", t.to_string())
                        }
                        RegistryError::Store(s) => s.into(),
                    })
            })
            .await?;
            tracing::info!(admin = %who.name, device_id = %rec.device_id, action = action.as_str(), state = rec.state.as_str(), "admin action");
            Ok(json_ok(&ActionResult {
                device_id: rec.device_id,
                state: rec.state,
            }))
        }
        (["admin", "v1", "audit"], Method::GET) => {
            let limit = query_u64(&req, "limit")?.unwrap_or(1000).min(100_000) as usize;
            let (c, w) = (core.clone(), who.clone());
            let entries = blocking(move || {
                c.registry.audit(&w.name, "read_audit", None)?;
                Ok(c.store.admin_audit(limit)?)
            })
            .await?;
            Ok(json_ok(&AdminAuditLog { entries }))
        }
        (["metrics"] | ["admin", "v1", "devices"] | ["admin", "v1", "audit"], _)
        | (["admin", "v1", "devices", _, _], _) => Err(method_not_allowed()),
        _ => Err(not_found()),
    }
}
