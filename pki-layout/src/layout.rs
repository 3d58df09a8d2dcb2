//! The PKI directory layout (see `certs/README.md`) and the loaders the relay calls.
//!
//! ```text
//! pki/
//!   root-ca.pem  root-ca.key          ward root CA (offline)
//!   device-ca.pem device-ca.key       device CA (signs device certs, bundles, staff lists)
//!   deployment.json                   relay URL, admin URL, receipt key, current HPKE key
//!   relay/tls.pem relay/tls.key       relay TLS server certificate and key
//!   relay/receipt.key                 relay receipt-signing key (PKCS#8 PEM)
//!   relay/hpke/<created>-<keyid>.key  relay HPKE key ring, one JSON file per key (0600)
//!   admins/NAME.pem admins/NAME.key   IT administrators' client certificates
//!   devices/ID.pem devices/issued.jsonl  issued device certificates (public)
//!   staff/staff.json                  staff accounts with password hashes (0600)
//! ```
//!
//! Every `*.key` file holds a secret and is written with mode 0600.

use std::path::{Path, PathBuf};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
use shinsei_protocol::{
    hpke_suite::KEY_LEN,
    keys::{KeyId, RelayKeyRing, RelayPublicKey, RelaySecretKey, SigningKey, VerifyingKey},
};
use zeroize::Zeroizing;

use crate::{
    error::{PkiError, Result},
    files,
};

/// Paths inside a PKI directory.
#[derive(Debug, Clone)]
pub struct PkiLayout {
    dir: PathBuf,
}

impl PkiLayout {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn root_ca_cert(&self) -> PathBuf {
        self.dir.join("root-ca.pem")
    }
    pub fn root_ca_key(&self) -> PathBuf {
        self.dir.join("root-ca.key")
    }
    pub fn device_ca_cert(&self) -> PathBuf {
        self.dir.join("device-ca.pem")
    }
    pub fn device_ca_key(&self) -> PathBuf {
        self.dir.join("device-ca.key")
    }
    pub fn deployment(&self) -> PathBuf {
        self.dir.join("deployment.json")
    }
    pub fn relay_dir(&self) -> PathBuf {
        self.dir.join("relay")
    }
    pub fn relay_tls_cert(&self) -> PathBuf {
        self.relay_dir().join("tls.pem")
    }
    pub fn relay_tls_key(&self) -> PathBuf {
        self.relay_dir().join("tls.key")
    }
    pub fn receipt_key(&self) -> PathBuf {
        self.relay_dir().join("receipt.key")
    }
    pub fn hpke_dir(&self) -> PathBuf {
        self.relay_dir().join("hpke")
    }
    pub fn admins_dir(&self) -> PathBuf {
        self.dir.join("admins")
    }
    pub fn admin_cert(&self, name: &str) -> PathBuf {
        self.admins_dir().join(format!("{name}.pem"))
    }
    pub fn admin_key(&self, name: &str) -> PathBuf {
        self.admins_dir().join(format!("{name}.key"))
    }
    pub fn devices_dir(&self) -> PathBuf {
        self.dir.join("devices")
    }
    pub fn device_cert(&self, device_id: &str) -> PathBuf {
        self.devices_dir().join(format!("{device_id}.pem"))
    }
    pub fn issued_log(&self) -> PathBuf {
        self.devices_dir().join("issued.jsonl")
    }
    pub fn staff_db(&self) -> PathBuf {
        self.dir.join("staff").join("staff.json")
    }
}

// ---------------------------------------------------------------------------------
// PEM files
// ---------------------------------------------------------------------------------

/// Reads the first certificate of a PEM file.
pub fn read_cert_pem(path: &Path) -> Result<CertificateDer<'static>> {
    let bytes = files::read_limited(path)?;
    CertificateDer::from_pem_slice(&bytes).map_err(|_| PkiError::BadPem {
        path: path.to_owned(),
        what: "certificate",
    })
}

/// Reads every certificate of a PEM file (at least one).
pub fn read_cert_chain_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = files::read_limited(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| PkiError::BadPem {
            path: path.to_owned(),
            what: "certificate chain",
        })?;
    if certs.is_empty() {
        return Err(PkiError::BadPem {
            path: path.to_owned(),
            what: "certificate chain",
        });
    }
    Ok(certs)
}

/// Reads a PKCS#8 private key PEM file (`-----BEGIN PRIVATE KEY-----`). The returned
/// key zeroizes itself on drop.
pub fn read_pkcs8_pem(path: &Path) -> Result<PrivatePkcs8KeyDer<'static>> {
    let bytes = files::read_secret(path)?;
    PrivatePkcs8KeyDer::from_pem_slice(&bytes).map_err(|_| PkiError::BadPem {
        path: path.to_owned(),
        what: "PKCS#8 private key",
    })
}

/// PEM text of a PKCS#8 key, in a zeroizing string.
pub fn pkcs8_pem(der: &[u8]) -> Zeroizing<String> {
    let b = Zeroizing::new(B64.encode(der));
    let mut s = Zeroizing::new(String::with_capacity(b.len() + 80));
    s.push_str("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str("-----END PRIVATE KEY-----\n");
    s
}

/// PEM text of a DER certificate.
pub fn cert_pem(der: &[u8]) -> String {
    let b = B64.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

// ---------------------------------------------------------------------------------
// deployment.json
// ---------------------------------------------------------------------------------

/// The `format` tag of `deployment.json`.
pub const DEPLOYMENT_FORMAT: &str = "shinsei-deployment/v1";

/// `deployment.json`: where the relay is and what devices must know about it. Public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub format: String,
    /// Host name (or IPv4 address) of the relay; the relay TLS certificate's SAN.
    pub relay_host: String,
    /// Port of the device API.
    pub relay_port: u16,
    /// Port of the admin API (mutual TLS with admin certificates).
    pub admin_port: u16,
    /// `https://HOST:PORT` of the device API.
    pub relay_url: String,
    /// `https://HOST:ADMIN_PORT` of the admin API.
    pub admin_url: String,
    /// The relay's receipt-signing public key (base64, 65-byte uncompressed P-256).
    pub receipt_public_key: String,
    /// The current HPKE key's ID (16 hex digits).
    pub hpke_key_id: String,
    /// The current HPKE public key (base64, 32 bytes).
    pub hpke_public_key: String,
}

impl Deployment {
    /// The receipt verifying key.
    pub fn receipt_key(&self) -> Result<VerifyingKey> {
        let b = B64
            .decode(self.receipt_public_key.as_bytes())
            .map_err(|_| shinsei_protocol::keys::KeyError::BadP256PublicKey)?;
        Ok(VerifyingKey::from_bytes(&b)?)
    }

    /// The current relay HPKE public key (key ID checked).
    pub fn hpke_public_key(&self) -> Result<RelayPublicKey> {
        use shinsei_protocol::keys::KeyError;
        let b: [u8; KEY_LEN] = B64
            .decode(self.hpke_public_key.as_bytes())
            .map_err(|_| KeyError::BadX25519)?
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::BadX25519)?;
        Ok(RelayPublicKey::from_bytes_with_id(
            b,
            KeyId::from_hex(&self.hpke_key_id)?,
        )?)
    }
}

/// Reads `deployment.json`.
pub fn load_deployment(layout: &PkiLayout) -> Result<Deployment> {
    let path = layout.deployment();
    if !path.exists() {
        return Err(PkiError::RelayMissing);
    }
    let bytes = files::read_limited(&path)?;
    serde_json::from_slice(&bytes).map_err(|e| PkiError::BadJson {
        path,
        detail: e.to_string(),
    })
}

/// Writes `deployment.json` (replacing it).
pub fn save_deployment(layout: &PkiLayout, d: &Deployment) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(d).map_err(|e| PkiError::BadJson {
        path: layout.deployment(),
        detail: e.to_string(),
    })?;
    bytes.push(b'\n');
    files::replace(&layout.deployment(), &bytes, false)
}

// ---------------------------------------------------------------------------------
// HPKE key ring
// ---------------------------------------------------------------------------------

/// The `format` tag of an HPKE key file.
pub const HPKE_KEY_FORMAT: &str = "shinsei-relay-hpke-key/v1";

/// One HPKE key file (`relay/hpke/<created>-<keyid>.key`, mode 0600):
/// `{"format","key_id","public_key","secret_key","created","not_after"}`; keys base64,
/// times unix seconds, `not_after` null for the current key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HpkeKeyFile {
    format: String,
    key_id: String,
    public_key: String,
    secret_key: String,
    created: u64,
    not_after: Option<u64>,
}

/// Public facts about one key of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpkeKeyInfo {
    pub key_id: KeyId,
    pub created: u64,
    /// `None` for the current key; otherwise the time after which envelopes sealed to
    /// it are no longer opened.
    pub not_after: Option<u64>,
    pub path: PathBuf,
}

/// The relay's HPKE key ring: the current key (used by new bundles) and retiring keys
/// that still open envelopes until their `not_after`.
pub struct HpkeKeyRing {
    keys: Vec<RelaySecretKey>,
    info: Vec<HpkeKeyInfo>,
    current: usize,
}

impl HpkeKeyRing {
    /// The current key.
    pub fn current(&self) -> &RelaySecretKey {
        &self.keys[self.current]
    }

    /// Facts about every key, current included.
    pub fn info(&self) -> &[HpkeKeyInfo] {
        &self.info
    }

    /// The secret key for `key_id` if it is still usable at `now`.
    pub fn secret_key_at(&self, key_id: &KeyId, now: u64) -> Option<&RelaySecretKey> {
        self.keys
            .iter()
            .zip(&self.info)
            .find(|(k, i)| k.key_id() == *key_id && i.not_after.is_none_or(|t| now <= t))
            .map(|(k, _)| k)
    }

    /// Drops keys whose `not_after` has passed (call periodically in a long-running relay).
    pub fn prune(&mut self, now: u64) {
        let current_id = self.current().key_id();
        let mut keys = Vec::new();
        let mut info = Vec::new();
        for (k, i) in std::mem::take(&mut self.keys)
            .into_iter()
            .zip(std::mem::take(&mut self.info))
        {
            if i.not_after.is_none_or(|t| now <= t) || k.key_id() == current_id {
                keys.push(k);
                info.push(i);
            }
        }
        self.current = keys
            .iter()
            .position(|k| k.key_id() == current_id)
            .unwrap_or(0);
        self.keys = keys;
        self.info = info;
    }
}

impl RelayKeyRing for HpkeKeyRing {
    /// Any key still in the ring (call [`HpkeKeyRing::prune`] to drop expired ones, or use
    /// [`HpkeKeyRing::secret_key_at`]).
    fn secret_key(&self, key_id: &KeyId) -> Option<&RelaySecretKey> {
        self.keys.as_slice().secret_key(key_id)
    }
}

/// Writes a new key file for `key` (mode 0600) and returns its path.
pub fn write_hpke_key(
    dir: &Path,
    key: &RelaySecretKey,
    created: u64,
    not_after: Option<u64>,
    replace_existing: Option<&Path>,
) -> Result<PathBuf> {
    let secret = Zeroizing::new(B64.encode(key.secret_bytes()));
    let file = HpkeKeyFile {
        format: HPKE_KEY_FORMAT.to_owned(),
        key_id: key.key_id().to_hex(),
        public_key: B64.encode(key.public().as_bytes()),
        secret_key: secret.to_string(),
        created,
        not_after,
    };
    let json = Zeroizing::new(serde_json::to_vec_pretty(&file).unwrap_or_default());
    // Zeroize the copy held by the struct as well.
    let mut file = file;
    zeroize::Zeroize::zeroize(&mut file.secret_key);
    match replace_existing {
        Some(p) => {
            files::replace(p, &json, true)?;
            Ok(p.to_owned())
        }
        None => {
            let path = dir.join(format!("{created}-{}.key", key.key_id().to_hex()));
            files::write_new(&path, &json, true)?;
            Ok(path)
        }
    }
}

fn read_hpke_key(path: &Path) -> Result<(RelaySecretKey, HpkeKeyInfo)> {
    let bad = |detail: &str| PkiError::BadJson {
        path: path.to_owned(),
        detail: detail.to_owned(),
    };
    let bytes = files::read_secret(path)?;
    let mut f: HpkeKeyFile = serde_json::from_slice(&bytes).map_err(|e| bad(&e.to_string()))?;
    let secret_b64 = Zeroizing::new(std::mem::take(&mut f.secret_key));
    if f.format != HPKE_KEY_FORMAT {
        return Err(bad("unknown format"));
    }
    let raw = Zeroizing::new(
        B64.decode(secret_b64.as_bytes())
            .map_err(|_| bad("secret_key is not base64"))?,
    );
    let mut secret = Zeroizing::new([0u8; KEY_LEN]);
    if raw.len() != KEY_LEN {
        return Err(bad("secret_key must be 32 bytes"));
    }
    secret.copy_from_slice(&raw);
    let key = RelaySecretKey::from_secret_bytes(secret)?;
    let id = KeyId::from_hex(&f.key_id)?;
    if id != key.key_id() || f.public_key != B64.encode(key.public().as_bytes()) {
        return Err(bad("key_id or public_key does not match secret_key"));
    }
    Ok((
        key,
        HpkeKeyInfo {
            key_id: id,
            created: f.created,
            not_after: f.not_after,
            path: path.to_owned(),
        },
    ))
}

/// Loads every HPKE key file of `dir` (`*.key`), dropping keys whose `not_after` is
/// before `now`. The current key is the newest one without `not_after`.
pub fn load_hpke_key_ring_dir(dir: &Path, now: u64) -> Result<HpkeKeyRing> {
    let mut keys = Vec::new();
    let mut info = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| PkiError::io(dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "key"))
        .collect();
    paths.sort();
    for p in paths {
        let (k, i) = read_hpke_key(&p)?;
        if i.not_after.is_some_and(|t| now > t) {
            continue;
        }
        keys.push(k);
        info.push(i);
    }
    let current = info
        .iter()
        .enumerate()
        .filter(|(_, i)| i.not_after.is_none())
        .max_by_key(|(_, i)| i.created)
        .map(|(n, _)| n)
        .ok_or_else(|| PkiError::NoCurrentHpkeKey {
            path: dir.to_owned(),
        })?;
    Ok(HpkeKeyRing {
        keys,
        info,
        current,
    })
}

/// Loads the relay HPKE key ring of a PKI directory.
pub fn load_hpke_key_ring(layout: &PkiLayout, now: u64) -> Result<HpkeKeyRing> {
    load_hpke_key_ring_dir(&layout.hpke_dir(), now)
}

// ---------------------------------------------------------------------------------
// Relay material
// ---------------------------------------------------------------------------------

/// The relay's TLS server certificate chain and key (rustls types).
pub fn load_tls_server(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = read_cert_chain_pem(cert_path)?;
    let key = read_pkcs8_pem(key_path)?;
    Ok((chain, PrivateKeyDer::Pkcs8(key)))
}

/// The receipt-signing key (PKCS#8 PEM).
pub fn load_signing_key(path: &Path) -> Result<SigningKey> {
    let der = read_pkcs8_pem(path)?;
    Ok(SigningKey::from_pkcs8(der.secret_pkcs8_der())?)
}

/// Everything the relay needs, loaded from a PKI directory. No `Debug`: holds secrets.
pub struct RelayMaterial {
    /// TLS server certificate chain (leaf first) and key.
    pub tls_chain: Vec<CertificateDer<'static>>,
    pub tls_key: PrivateKeyDer<'static>,
    /// Signs receipts.
    pub receipt_key: SigningKey,
    /// Opens envelopes.
    pub hpke_keys: HpkeKeyRing,
    /// Trust anchor for admin client certificates (OU `shinsei admin`).
    pub root_ca: CertificateDer<'static>,
    /// Trust anchor for device client certificates (OU `shinsei device`).
    pub device_ca: CertificateDer<'static>,
    pub deployment: Deployment,
}

/// Loads the relay's material from a PKI directory (as written by `relay init`).
pub fn load_relay_material(layout: &PkiLayout, now: u64) -> Result<RelayMaterial> {
    let deployment = load_deployment(layout)?;
    let (tls_chain, tls_key) = load_tls_server(&layout.relay_tls_cert(), &layout.relay_tls_key())?;
    Ok(RelayMaterial {
        tls_chain,
        tls_key,
        receipt_key: load_signing_key(&layout.receipt_key())?,
        hpke_keys: load_hpke_key_ring(layout, now)?,
        root_ca: read_cert_pem(&layout.root_ca_cert())?,
        device_ca: read_cert_pem(&layout.device_ca_cert())?,
        deployment,
    })
}
