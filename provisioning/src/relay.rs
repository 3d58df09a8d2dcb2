//! `relay init` and `relay rotate-key`.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use shinsei_protocol::{
    bundle::RelayUrl,
    keys::{KeyId, RelaySecretKey, SigningKey},
};

use crate::{
    error::{ProvisionError, Result},
    pki,
};
use shinsei_pki::files;
use shinsei_pki::layout::{self, Deployment, PkiLayout, DEPLOYMENT_FORMAT};

/// Options of `relay init`.
#[derive(Debug, Clone)]
pub struct RelayInitOptions {
    pub host: String,
    pub port: u16,
    pub admin_port: u16,
    /// Validity of the TLS certificate, in days.
    pub tls_days: u32,
}

/// What `relay init` made (public facts only).
#[derive(Debug, Clone)]
pub struct RelayInitReport {
    pub deployment: Deployment,
    pub hpke_key_id: KeyId,
}

/// Creates the relay's TLS certificate and key, receipt key, first HPKE key and
/// `deployment.json`. Refuses to overwrite an existing relay.
pub fn relay_init(l: &PkiLayout, o: &RelayInitOptions, now: u64) -> Result<RelayInitReport> {
    let url =
        RelayUrl::new(&o.host, o.port).map_err(|_| ProvisionError::BadHost(o.host.clone()))?;
    let admin_url = RelayUrl::new(&o.host, o.admin_port)
        .map_err(|_| ProvisionError::BadHost(o.host.clone()))?;
    for p in [
        l.relay_tls_cert(),
        l.relay_tls_key(),
        l.receipt_key(),
        l.deployment(),
    ] {
        if p.exists() {
            return Err(ProvisionError::already_exists(p));
        }
    }
    let root = pki::load_root(l, now)?;
    let tls = pki::issue_relay_tls(&root, url.host(), o.tls_days, now)?;
    let (receipt_pkcs8, receipt) = SigningKey::generate()?;
    let hpke = RelaySecretKey::generate();

    files::ensure_private_dir(&l.hpke_dir())?;
    files::write_new(
        &l.relay_tls_key(),
        layout::pkcs8_pem(tls.key.serialized_der()).as_bytes(),
        true,
    )?;
    files::write_new(
        &l.relay_tls_cert(),
        layout::cert_pem(&tls.cert_der).as_bytes(),
        false,
    )?;
    files::write_new(
        &l.receipt_key(),
        layout::pkcs8_pem(&receipt_pkcs8).as_bytes(),
        true,
    )?;
    layout::write_hpke_key(&l.hpke_dir(), &hpke, now, None, None)?;
    let deployment = Deployment {
        format: DEPLOYMENT_FORMAT.to_owned(),
        relay_host: url.host().to_owned(),
        relay_port: url.port(),
        admin_port: admin_url.port(),
        relay_url: url.to_string(),
        admin_url: admin_url.to_string(),
        receipt_public_key: B64.encode(receipt.public_key().as_bytes()),
        hpke_key_id: hpke.key_id().to_hex(),
        hpke_public_key: B64.encode(hpke.public().as_bytes()),
    };
    layout::save_deployment(l, &deployment)?;
    tracing::info!(host = %url.host(), key_id = %hpke.key_id(), "relay initialised");
    Ok(RelayInitReport {
        deployment,
        hpke_key_id: hpke.key_id(),
    })
}

/// What `relay rotate-key` did.
#[derive(Debug, Clone)]
pub struct RotateReport {
    pub new_key_id: KeyId,
    pub retired: Vec<(KeyId, u64)>,
    pub removed: Vec<KeyId>,
}

/// Makes a new current HPKE key; the previous current key (and any other key without an
/// end) gets `not_after = now + retire_after_days`; key files already past their
/// `not_after` are deleted. Updates `deployment.json` so new bundles carry the new key.
pub fn rotate_key(l: &PkiLayout, retire_after_days: u32, now: u64) -> Result<RotateReport> {
    if retire_after_days == 0 || retire_after_days > 365 {
        return Err(ProvisionError::BadDays {
            days: retire_after_days,
            max: 365,
        });
    }
    let mut deployment = layout::load_deployment(l)?;
    // Load everything, including expired keys, to be able to delete them.
    let ring = layout::load_hpke_key_ring_dir(&l.hpke_dir(), 0)?;
    let new = RelaySecretKey::generate();
    // Write the new key first: a crash after this leaves two keys without an end, and the
    // newest one is current.
    let created = now.max(ring.info().iter().map(|i| i.created + 1).max().unwrap_or(0));
    layout::write_hpke_key(&l.hpke_dir(), &new, created, None, None)?;
    let retire_at = now.saturating_add(u64::from(retire_after_days) * 86_400);
    let mut retired = Vec::new();
    let mut removed = Vec::new();
    for info in ring.info() {
        match info.not_after {
            None => {
                let key = ring.secret_key_at(&info.key_id, now).ok_or_else(|| {
                    shinsei_pki::PkiError::NoCurrentHpkeKey { path: l.hpke_dir() }
                })?;
                layout::write_hpke_key(
                    &l.hpke_dir(),
                    key,
                    info.created,
                    Some(retire_at),
                    Some(&info.path),
                )?;
                retired.push((info.key_id, retire_at));
            }
            Some(t) if now > t => {
                std::fs::remove_file(&info.path).map_err(|e| ProvisionError::io(&info.path, e))?;
                removed.push(info.key_id);
            }
            Some(_) => {}
        }
    }
    deployment.hpke_key_id = new.key_id().to_hex();
    deployment.hpke_public_key = B64.encode(new.public().as_bytes());
    layout::save_deployment(l, &deployment)?;
    tracing::info!(key_id = %new.key_id(), "relay HPKE key rotated");
    Ok(RotateReport {
        new_key_id: new.key_id(),
        retired,
        removed,
    })
}
