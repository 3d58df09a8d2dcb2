//! Fleet commands against the relay's admin API, over mutual TLS with an admin
//! certificate. Only the ward root CA is trusted (no system roots), no proxies, no
//! redirects.
//!
//! Contract: the paths and bodies of `shinsei_protocol::api` (`PATH_ADMIN_DEVICES` →
//! `DeviceList`, `admin_action_path` → `ActionResult`, `PATH_ADMIN_AUDIT` →
//! `AdminAuditLog`, errors as `ErrorBody`), which the relay builds its answers from.

use std::{sync::Arc, time::Duration};

use serde::Deserialize;
use shinsei_protocol::device::DeviceId;

use crate::{
    error::{ProvisionError, Result},
    pki,
};
use shinsei_pki::layout::{self, PkiLayout};
use shinsei_protocol::api;

/// What IT can order for a device (one spelling, shared with the relay).
pub use shinsei_protocol::api::AdminAction as DeviceAction;
/// The admin API's answers (wire types shared with the relay).
pub use shinsei_protocol::api::{
    ActionResult, AdminAuditEntry as AuditEntry, AdminAuditLog as AuditLog, DeviceList,
    DeviceView as DeviceStatus, ErrorBody,
};

/// A client of the relay admin API.
pub struct AdminClient {
    base: String,
    http: reqwest::blocking::Client,
}

/// Picks the admin certificate: `name` if given, else the only one in `admins/`.
pub fn choose_admin(l: &PkiLayout, name: Option<&str>) -> Result<String> {
    if let Some(n) = name {
        pki::check_name(n)?;
        if !l.admin_cert(n).exists() || !l.admin_key(n).exists() {
            return Err(ProvisionError::AdminCertMissing { name: n.to_owned() });
        }
        return Ok(n.to_owned());
    }
    let mut names: Vec<String> = std::fs::read_dir(l.admins_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|f| f.strip_suffix(".pem"))
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    match names.len() {
        0 => Err(ProvisionError::AdminCertMissing {
            name: "(none)".into(),
        }),
        1 => Ok(names.remove(0)),
        _ => Err(ProvisionError::AdminCertAmbiguous {
            candidates: names.join(", "),
        }),
    }
}

/// Builds the rustls client configuration: trust only `root_der`, present `chain`/`key`.
pub fn tls_config(
    root_der: rustls_pki_types::CertificateDer<'static>,
    chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    key: rustls_pki_types::PrivateKeyDer<'static>,
) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(root_der)
        .map_err(|e| ProvisionError::Tls(e.to_string()))?;
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ProvisionError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| ProvisionError::Tls(e.to_string()))
}

fn check_admin_url(url: &str) -> Result<String> {
    let u = shinsei_protocol::bundle::RelayUrl::parse(url)
        .map_err(|_| ProvisionError::BadAdminUrl(url.to_owned()))?;
    Ok(u.to_string())
}

impl AdminClient {
    /// Builds a client from the PKI directory: admin cert `admins/NAME.{pem,key}`, the
    /// root CA, and the admin URL from `deployment.json` unless `admin_url` is given.
    pub fn from_pki(l: &PkiLayout, admin: Option<&str>, admin_url: Option<&str>) -> Result<Self> {
        let name = choose_admin(l, admin)?;
        let base = match admin_url {
            Some(u) => check_admin_url(u)?,
            None => match layout::load_deployment(l) {
                Ok(d) => check_admin_url(&d.admin_url)?,
                Err(shinsei_pki::PkiError::RelayMissing) => return Err(ProvisionError::NoAdminUrl),
                Err(e) => return Err(e.into()),
            },
        };
        let root =
            layout::read_cert_pem(&l.root_ca_cert()).map_err(|_| ProvisionError::CaMissing {
                path: l.root_ca_cert(),
            })?;
        let (chain, key) = layout::load_tls_server(&l.admin_cert(&name), &l.admin_key(&name))?;
        let cfg = tls_config(root, chain, key)?;
        Self::new(base, cfg)
    }

    /// Builds a client for `base` (`https://HOST:PORT`) with a prepared TLS configuration.
    pub fn new(base: String, tls: rustls::ClientConfig) -> Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .use_preconfigured_tls(tls)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ProvisionError::Tls(e.to_string()))?;
        Ok(Self { base, http })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn send<T: for<'de> Deserialize<'de>>(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> Result<T> {
        let resp = req.send().map_err(|e| ProvisionError::Connection {
            url: self.base.clone(),
            detail: error_chain(&e),
        })?;
        let status = resp.status();
        let body = resp.bytes().map_err(|e| ProvisionError::Connection {
            url: self.base.clone(),
            detail: error_chain(&e),
        })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|b| b.error)
                .unwrap_or_else(|_| status.canonical_reason().unwrap_or("").to_owned());
            return Err(ProvisionError::Http {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| ProvisionError::BadResponse(e.to_string()))
    }

    /// `GET /admin/v1/devices`.
    pub fn list_devices(&self) -> Result<DeviceList> {
        self.send(
            self.http
                .get(format!("{}{}", self.base, api::PATH_ADMIN_DEVICES)),
        )
    }

    /// `POST /admin/v1/devices/{id}/{action}` with a reason (and, for a wipe, the
    /// emergency flag). A wipe or revoke may come back waiting for a second security
    /// officer ([`ActionResult::pending`]).
    pub fn device_action(
        &self,
        id: &DeviceId,
        action: DeviceAction,
        ask: &api::ActionRequest,
    ) -> Result<ActionResult> {
        self.send(
            self.http
                .post(format!(
                    "{}{}",
                    self.base,
                    api::admin_action_path(id.as_str(), action)
                ))
                .json(ask),
        )
    }

    /// `GET /admin/v1/devices/{id}/audit`: the device's operations log at the relay.
    pub fn device_audit(&self, id: &DeviceId) -> Result<api::DeviceAuditView> {
        self.send(self.http.get(format!(
            "{}{}",
            self.base,
            api::admin_device_audit_path(id.as_str())
        )))
    }

    /// `POST /admin/v1/admins/{name}/revoke`: every certificate of `name` is refused
    /// from its next request on.
    pub fn revoke_admin(&self, name: &str) -> Result<api::AdminRevoked> {
        self.send(
            self.http
                .post(format!("{}{}", self.base, api::admin_revoke_path(name))),
        )
    }

    /// `GET /admin/v1/renewals`: renewal requests waiting for IT's signer.
    pub fn renewals(&self) -> Result<api::RenewalList> {
        self.send(
            self.http
                .get(format!("{}{}", self.base, api::PATH_ADMIN_RENEWALS)),
        )
    }

    /// `POST /admin/v1/devices/{id}/bundle`: a renewed, signed device bundle.
    pub fn post_bundle(&self, id: &DeviceId, bundle: &[u8]) -> Result<serde_json::Value> {
        self.send(
            self.http
                .post(format!(
                    "{}{}",
                    self.base,
                    api::admin_bundle_path(id.as_str())
                ))
                .header("content-type", "application/json")
                .body(bundle.to_vec()),
        )
    }

    /// `POST /admin/v1/devices/{id}/renewal-hold`: stop (or resume) a device's renewals.
    pub fn renewal_hold(&self, id: &DeviceId, hold: &api::RenewalHold) -> Result<DeviceStatus> {
        self.send(
            self.http
                .post(format!(
                    "{}{}",
                    self.base,
                    api::admin_renewal_hold_path(id.as_str())
                ))
                .json(hold),
        )
    }

    /// `POST /admin/v1/staff-list`: the signed staff list, for the tablets to fetch.
    pub fn publish_staff_list(&self, signed: &[u8]) -> Result<api::StaffListView> {
        self.send(
            self.http
                .post(format!("{}{}", self.base, api::PATH_ADMIN_STAFF_LIST))
                .header("content-type", "application/json")
                .body(signed.to_vec()),
        )
    }

    /// `GET /admin/v1/audit`.
    pub fn audit(&self) -> Result<AuditLog> {
        self.send(
            self.http
                .get(format!("{}{}", self.base, api::PATH_ADMIN_AUDIT)),
        )
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Renders rows as a plain text table with a header line.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(display_width(c));
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i + 1 < cells.len() {
                let pad = w
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(display_width(c))
                    + 2;
                s.push_str(&" ".repeat(pad));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(header.to_vec());
    out.push_str(&line(
        w.iter()
            .map(|n| "-".repeat(*n))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Terminal width: CJK characters take two columns.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// Device list as a table.
pub fn devices_table(list: &DeviceList) -> String {
    let rows: Vec<Vec<String>> = list
        .devices
        .iter()
        .map(|d| {
            vec![
                d.device_id.clone(),
                d.state.as_str().to_owned(),
                pki::fmt_time(i64::try_from(d.updated_at).unwrap_or(i64::MAX)),
                d.history.len().to_string(),
                d.cert_expires.map_or_else(
                    || "-".to_owned(),
                    |t| pki::fmt_time(i64::try_from(t).unwrap_or(i64::MAX)),
                ),
                d.renewal.as_str().to_owned(),
            ]
        })
        .collect();
    table(
        &[
            "端末ID / device",
            "状態 / state",
            "更新 / updated",
            "履歴 / history",
            "証明書期限 / certificate ends",
            "更新要求 / renewal",
        ],
        &rows,
    )
}

/// Audit log as a table.
pub fn audit_table(log: &AuditLog) -> String {
    let rows: Vec<Vec<String>> = log
        .entries
        .iter()
        .map(|e| {
            vec![
                pki::fmt_time(i64::try_from(e.at).unwrap_or(i64::MAX)),
                e.admin.clone(),
                e.role.clone().unwrap_or_else(|| "-".into()),
                e.action.clone(),
                e.device_id.clone().unwrap_or_else(|| "-".into()),
                e.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "日時 / at",
            "管理者 / admin",
            "役割 / role",
            "操作 / action",
            "端末ID / device",
            "理由 / why",
        ],
        &rows,
    )
}
