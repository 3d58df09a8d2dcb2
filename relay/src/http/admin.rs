//! The admin API (`/admin/v1/…`) and `/metrics`, on the admin listener.

use std::{convert::Infallible, sync::Arc};

use hyper::{body::Incoming, Method, Request, Response, StatusCode};
use shinsei_protocol::{
    api::{
        ActionRequest, ActionResult, AdminAction, AdminAuditLog, AdminRevoked, DeviceAuditView,
        DeviceList, RenewalHold, RenewalList, RenewalView, StaffListView, MAX_REASON_LEN,
    },
    device::DeviceId,
    staff::StaffList,
    x509::MAX_ADMIN_NAME_LEN,
};

use super::{
    blocking, error_response, json_ok, method_not_allowed, not_found, query_u64, read_body,
    response, status_of, Body,
};
use crate::{
    approval::{self, Operation, Order},
    core::RelayCore,
    identity::AdminIdentity,
    refusal::{Refusal, RefusalKind},
    registry::{OrderError, OrderOutcome},
    renewal::check_bundle,
};

/// Serves one request on the admin listener: the deny list and the role are checked on
/// every request (a revoked administrator's open connection is refused from its next
/// request on), and every refusal is written to the admin audit log with who, what and
/// why.
pub(crate) async fn handle_admin(
    core: Arc<RelayCore>,
    who: Arc<AdminIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let what = format!("{} {}", req.method(), path);
    Ok(match admin_route(&core, &who, req).await {
        Ok(r) => r,
        Err(Refused { refusal: e, audit }) => {
            tracing::info!(admin = %who.name, role = %who.role, path = %path, status = status_of(e.kind).as_u16(), code = e.code, "admin request refused");
            if audit {
                let (c, w) = (core.clone(), who.clone());
                let detail = format!("{}: {}", e.code, e.message);
                let logged = blocking(move || {
                    Ok(c.registry
                        .audit(&w, &format!("{what} (refused)"), None, Some(detail))?)
                })
                .await;
                if let Err(le) = logged {
                    tracing::error!(code = le.code, "refused admin request not audited");
                }
            }
            error_response(&core, &e)
        }
    })
}

/// A refusal, and whether the route still has to audit it (the registry audits the
/// refusals of device orders itself).
struct Refused {
    refusal: Refusal,
    audit: bool,
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Self {
        Self {
            refusal,
            audit: true,
        }
    }
}

fn forbidden(code: &'static str, message: String) -> Refused {
    Refusal::new(RefusalKind::Forbidden, code, message).into()
}

/// The deny list, then the role.
fn admit(core: &RelayCore, who: &AdminIdentity, op: Operation) -> Result<(), Refused> {
    if core.deny.is_admin_denied(&who.fingerprint, &who.name) {
        return Err(forbidden(
            "admin_revoked",
            format!("the certificate of {} is revoked", who.name),
        ));
    }
    if !approval::permits(who.role, op) {
        return Err(forbidden(
            "role_forbidden",
            format!(
                "role {} may not do this; it needs {}",
                who.role,
                approval::required_role(op)
            ),
        ));
    }
    Ok(())
}

async fn admin_route(
    core: &Arc<RelayCore>,
    who: &Arc<AdminIdentity>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Refused> {
    let path = req.uri().path().to_owned();
    let m = req.method().clone();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (segs.as_slice(), m) {
        (["metrics"], Method::GET) => {
            admit(core, who, Operation::Read)?;
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
            admit(core, who, Operation::Read)?;
            let (c, w) = (core.clone(), who.clone());
            let list = blocking(move || {
                c.registry.audit_read(&w, "list_devices")?;
                Ok(c.registry.list()?)
            })
            .await?;
            Ok(json_ok(&DeviceList {
                devices: list.iter().map(|r| r.view()).collect(),
            }))
        }
        (["admin", "v1", "devices", id, "audit"], Method::GET) => {
            admit(core, who, Operation::Read)?;
            let dev = device_id(id)?;
            let limit = query_u64(&req, "limit")?.unwrap_or(1000).min(100_000) as usize;
            let (c, w) = (core.clone(), who.clone());
            let view = blocking(move || {
                c.registry.audit_read(&w, "read_device_audit")?;
                let rec = c.registry.get(dev.as_str())?;
                let mut entries = Vec::new();
                for r in c.store.device_audit(dev.as_str())? {
                    entries.push(
                        serde_json::from_slice::<shinsei_protocol::audit::Entry>(&r.entry)
                            .map_err(Refusal::internal)?,
                    );
                }
                let head = rec.as_ref().and_then(|r| r.audit_head.as_ref());
                // The verdict covers every entry held; the answer shows the newest.
                let (chain_ok, chain) = crate::audit::chain_verdict(&entries, head);
                let total = entries.len();
                entries.drain(..total.saturating_sub(limit));
                Ok(DeviceAuditView {
                    device_id: dev.as_str().to_owned(),
                    total,
                    entries,
                    chain_ok,
                    chain,
                    alert: rec
                        .and_then(|r| r.audit_alert)
                        .map(|a| format!("{} (at {})", a.what, a.at)),
                })
            })
            .await?;
            Ok(json_ok(&view))
        }
        (["admin", "v1", "renewals"], Method::GET) => {
            admit(core, who, Operation::Read)?;
            let (c, w) = (core.clone(), who.clone());
            let list = blocking(move || {
                c.registry.audit_read(&w, "list_renewals")?;
                Ok(c.registry.list()?)
            })
            .await?;
            Ok(json_ok(&RenewalList {
                renewals: list
                    .iter()
                    .filter(|r| r.renewal.is_some() || r.renewal_hold.is_some())
                    .map(|r| RenewalView {
                        device_id: r.device_id.clone(),
                        device_state: r.state,
                        state: r.renewal_state(),
                        requested_at: r.renewal.as_ref().map_or(0, |n| n.requested_at),
                        csr_pem: r
                            .renewal
                            .as_ref()
                            .map_or_else(String::new, |n| n.csr_pem.clone()),
                        cert_expires: r.cert_expires,
                    })
                    .collect(),
            }))
        }
        (["admin", "v1", "devices", id, "bundle"], Method::POST) => {
            admit(core, who, Operation::Renewal)?;
            let dev = device_id(id)?;
            let holder = format!("admin:{}", who.name);
            let (body, _held) = read_body(core, req, MAX_BUNDLE_BYTES, &holder).await?;
            let (c, w) = (core.clone(), who.clone());
            let not_after = blocking(move || {
                let root = root_ca(&c)?;
                let now = c.clock.now();
                let check = |n: &crate::device::Renewal| {
                    check_bundle(&body, root.as_ref(), dev.as_str(), n, &w.name, now)
                };
                c.registry
                    .issue_bundle(&w, &dev, &check)?
                    .map_err(|(code, m)| Refusal::new(RefusalKind::Conflict, code, m))
            })
            .await
            .map_err(|refusal| Refused {
                refusal,
                audit: false,
            })?;
            Ok(json_ok(
                &serde_json::json!({ "device_id": id, "not_after": not_after }),
            ))
        }
        (["admin", "v1", "staff-list"], Method::POST) => {
            admit(core, who, Operation::Renewal)?;
            let holder = format!("admin:{}", who.name);
            let (body, _held) = read_body(core, req, MAX_STAFF_LIST_BYTES, &holder).await?;
            let (c, w) = (core.clone(), who.clone());
            let view = blocking(move || {
                let root = root_ca(&c)?;
                let list =
                    StaffList::verify(&body, root.as_ref(), c.clock.now(), None).map_err(|e| {
                        Refusal::new(RefusalKind::Conflict, "bad_staff_list", e.to_string())
                    })?;
                let view = staff_view(&list);
                if !c.store.put_staff_list(list.sequence, &body)? {
                    return Err(Refusal::new(
                        RefusalKind::Conflict,
                        "staff_list_not_newer",
                        format!(
                            "the relay holds a list numbered {} or higher",
                            list.sequence
                        ),
                    ));
                }
                c.registry.audit(
                    &w,
                    "staff list published",
                    None,
                    Some(format!(
                        "sequence {}, {} accounts, until {}",
                        view.sequence, view.accounts, view.expires_at
                    )),
                )?;
                Ok(view)
            })
            .await?;
            Ok(json_ok(&view))
        }
        (["admin", "v1", "staff-list"], Method::GET) => {
            admit(core, who, Operation::Read)?;
            let c = core.clone();
            let view = blocking(move || {
                let (_, bytes) = c.store.staff_list()?.ok_or_else(not_found)?;
                let list = StaffList::parse(
                    shinsei_protocol::signed::SignedDocument::parse(&bytes)
                        .map_err(Refusal::internal)?
                        .unverified_payload(),
                )
                .map_err(Refusal::internal)?;
                Ok(staff_view(&list))
            })
            .await?;
            Ok(json_ok(&view))
        }
        (["admin", "v1", "devices", id, "renewal-hold"], Method::POST) => {
            admit(core, who, Operation::Renewal)?;
            let dev = device_id(id)?;
            let holder = format!("admin:{}", who.name);
            let (body, _held) = read_body(core, req, MAX_ACTION_BODY, &holder).await?;
            let ask: RenewalHold = serde_json::from_slice(&body)
                .map_err(|e| Refusal::malformed(format!("hold body: {e}")))?;
            check_reason(ask.reason.as_deref())?;
            let (c, w) = (core.clone(), who.clone());
            let rec = blocking(move || {
                if c.registry.get(dev.as_str())?.is_none() {
                    return Err(not_found());
                }
                Ok(c.registry.hold_renewals(&w, &dev, ask.hold, ask.reason)?)
            })
            .await?;
            Ok(json_ok(&rec.view()))
        }
        (["admin", "v1", "devices", id, action], Method::POST) => {
            let action = AdminAction::parse(action).ok_or_else(not_found)?;
            let dev = device_id(id)?;
            admit(core, who, Operation::Device(action))?;
            let holder = format!("admin:{}", who.name);
            let (body, _held) = read_body(core, req, MAX_ACTION_BODY, &holder).await?;
            let ask = action_request(&body)?;
            let (c, w) = (core.clone(), who.clone());
            let out = blocking(move || {
                let o = Order {
                    action,
                    admin: &w.name,
                    now: c.clock.now(),
                    reason: ask.reason.as_deref(),
                    emergency: ask.emergency,
                    approval_secs: c.config.admin.approval_secs,
                };
                c.registry.admin_order(&dev, &w, &o).map_err(|e| match e {
                    OrderError::Transition(t) => {
                        Refusal::new(RefusalKind::Conflict, "invalid_transition", t.to_string())
                    }
                    OrderError::Refused(code, m) => Refusal::new(RefusalKind::Conflict, code, m),
                    OrderError::Store(s) => s.into(),
                })
            })
            .await
            .map_err(|refusal| Refused {
                refusal,
                audit: false,
            })?;
            let rec = out.record();
            tracing::info!(admin = %who.name, device_id = %rec.device_id, action = action.as_str(), state = rec.state.as_str(), "admin action");
            let (status, pending) = match &out {
                OrderOutcome::Waiting { order, .. } => (StatusCode::ACCEPTED, Some(order.clone())),
                OrderOutcome::Done { .. } => (StatusCode::OK, None),
            };
            let mut r = json_ok(&ActionResult {
                device_id: rec.device_id.clone(),
                state: rec.state,
                pending,
            });
            *r.status_mut() = status;
            Ok(r)
        }
        (["admin", "v1", "admins", name, "revoke"], Method::POST) => {
            admit(core, who, Operation::RevokeAdmin)?;
            let name = (*name).to_owned();
            if name.is_empty() || name.len() > MAX_ADMIN_NAME_LEN {
                return Err(Refusal::malformed("not an administrator name").into());
            }
            if name == who.name {
                return Err(Refusal::new(
                    RefusalKind::Conflict,
                    "revoke_self",
                    "an administrator cannot revoke their own certificate here",
                )
                .into());
            }
            let (c, w, n) = (core.clone(), who.clone(), name.clone());
            blocking(move || Ok(c.registry.revoke_admin(&w, &n)?)).await?;
            Ok(json_ok(&AdminRevoked { revoked: name }))
        }
        (["admin", "v1", "audit"], Method::GET) => {
            admit(core, who, Operation::Read)?;
            let limit = query_u64(&req, "limit")?.unwrap_or(1000).min(100_000) as usize;
            let (c, w) = (core.clone(), who.clone());
            let entries = blocking(move || {
                c.registry.audit_read(&w, "read_audit")?;
                Ok(c.store.admin_audit(limit)?)
            })
            .await?;
            Ok(json_ok(&AdminAuditLog { entries }))
        }
        (["metrics"] | ["admin", "v1", "devices"] | ["admin", "v1", "audit"], _)
        | (["admin", "v1", "renewals"] | ["admin", "v1", "staff-list"], _)
        | (["admin", "v1", "devices", _, _], _)
        | (["admin", "v1", "admins", _, "revoke"], _) => Err(method_not_allowed().into()),
        _ => Err(not_found().into()),
    }
}

/// A device ID as the path spells it: canonical, or 400 `bad_device_id`.
fn device_id(id: &str) -> Result<DeviceId, Refusal> {
    DeviceId::parse(id)
        .ok()
        .filter(|d| d.as_str() == id)
        .ok_or_else(|| Refusal::new(RefusalKind::Malformed, "bad_device_id", "not a device ID"))
}

/// Largest body of an admin action (a reason and a flag).
const MAX_ACTION_BODY: usize = 4096;

/// The optional JSON body of an admin action: empty means no reason, no emergency.
fn action_request(body: &[u8]) -> Result<ActionRequest, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionRequest::default());
    }
    let r: ActionRequest = serde_json::from_slice(body)
        .map_err(|e| Refusal::malformed(format!("action body: {e}")))?;
    check_reason(r.reason.as_deref())?;
    Ok(r)
}

/// A reason: at most [`MAX_REASON_LEN`] bytes, no control characters.
fn check_reason(why: Option<&str>) -> Result<(), Refusal> {
    if why.is_some_and(|w| w.len() > MAX_REASON_LEN || w.chars().any(char::is_control)) {
        return Err(Refusal::malformed(format!(
            "reason: at most {MAX_REASON_LEN} bytes, no control characters"
        )));
    }
    Ok(())
}

/// The ward root CA (from the PKI directory): what renewed bundles and staff lists
/// must chain to.
fn root_ca(core: &RelayCore) -> Result<rustls_pki_types::CertificateDer<'static>, Refusal> {
    let layout = shinsei_pki::layout::PkiLayout::new(&core.config.paths.pki_dir);
    shinsei_pki::layout::read_cert_pem(&layout.root_ca_cert()).map_err(Refusal::internal)
}

fn staff_view(list: &StaffList) -> StaffListView {
    StaffListView {
        sequence: list.sequence,
        issued_at: list.issued_at,
        expires_at: list.expires_at,
        accounts: list.entries.len(),
    }
}

/// Largest staff list accepted (a few thousand accounts).
const MAX_STAFF_LIST_BYTES: usize = 2 * 1024 * 1024;

/// Largest renewed bundle accepted (three certificates and two public keys).
const MAX_BUNDLE_BYTES: usize = 64 * 1024;
