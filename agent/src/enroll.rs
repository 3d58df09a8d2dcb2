//! Device enrollment: the tablet makes its own key and a CSR, IT signs the CSR with
//! `shinsei-provision device sign`, and the tablet installs the signed device bundle.
//! The device key never leaves the tablet.
//!
//! Files, in `DATA_DIR/enrollment/` (directory mode 0700):
//!
//! | file             | content                                    | mode |
//! |------------------|--------------------------------------------|------|
//! | `device.key`     | device private key, PKCS#8 DER (P-256)     | 0600 |
//! | `next-device.key`| the tablet's own key while an enrollment ticket is installed | 0600 |
//! | `device-id`      | the device ID, text                        | 0600 |
//! | `root-ca.der`    | the pinned ward root CA certificate        | 0600 |
//! | `device.csr.pem` | the last CSR made                          | 0600 |
//! | `bundle.json`    | the installed, verified signed bundle      | 0600 |
//! | `staff-list.json`| the installed, verified signed staff list  | 0600 |
//!
//! All parsing and verification is in `shinsei_protocol::{signed, bundle, staff}`;
//! this module only reads and writes files.
//!
//! # Enrollment tickets (a freshly imaged tablet)
//! An image's data partition may hold an **enrollment ticket** instead of an enrollment:
//! a key and bundle made on the imaging workstation whose certificate (OU `shinsei
//! device enrollment`) can only ask for the tablet's own certificate. On its first
//! start with it the tablet makes its own key (`next-device.key`, [`own_key_request`]),
//! asks for it at check-in, and shows its fingerprint until IT approves it; the bundle
//! IT signs for that key replaces the ticket ([`install_bundle`]), and the ticket's key
//! file is replaced by the tablet's own (a rename: the ticket's key is gone from the
//! file system at that moment).

use std::{
    fs::{self, DirBuilder, OpenOptions},
    io::{Read, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivatePkcs8KeyDer};
use shinsei_protocol::{
    bundle::{BundleError, DeviceBundle, Policy},
    device::DeviceId,
    keys::{KeyError, KeyId, RelayPublicKey, SigningKey, VerifyingKey},
    signed::{self, SignedDocument, SignedError},
    staff::{StaffError, StaffList},
};
use zeroize::Zeroizing;

/// Sub-directory of the agent's data directory holding the enrollment.
pub const ENROLL_DIR: &str = "enrollment";
const KEY_FILE: &str = "device.key";
const ID_FILE: &str = "device-id";
const ROOT_FILE: &str = "root-ca.der";
const CSR_FILE: &str = "device.csr.pem";
const NEXT_KEY_FILE: &str = "next-device.key";
const BUNDLE_FILE: &str = "bundle.json";
const STAFF_FILE: &str = "staff-list.json";
/// Largest file read here.
const MAX_FILE_LEN: u64 = 512 * 1024;

/// Why enrollment failed. Messages are bilingual.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("ファイルを読み書きできません / cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ルートCA証明書の PEM を読み取れません / the root CA file is not a PEM certificate")]
    BadRootPem,
    #[error("ルートCA証明書が不正です / the root CA certificate is not acceptable: {0}")]
    BadRootCa(SignedError),
    #[error("別のルートCAが既に固定されています。端末を初期化してから登録し直してください / a different root CA is already pinned; wipe the device before enrolling it again")]
    RootAlreadyPinned,
    #[error("この端末は既に {existing} として登録されています / this device is already enrolled as {existing}")]
    OtherDeviceId { existing: String },
    #[error("端末の鍵がありません。先に `enroll --device-id` を実行してください / no device key: run `enroll --device-id ID` first")]
    NotStarted,
    #[error("端末バンドルがインストールされていません / no device bundle installed: run `enroll --bundle FILE`")]
    NotEnrolled,
    #[error("端末の鍵が不正です / bad device key: {0}")]
    Key(#[from] KeyError),
    #[error("CSR を作成できません / cannot make the CSR: {0}")]
    Csr(#[from] rcgen::Error),
    #[error("端末バンドルを拒否しました / device bundle refused: {0}")]
    Bundle(#[from] BundleError),
    #[error(
        "インストール済みより古い端末バンドルです / the bundle is older than the installed one"
    )]
    BundleRolledBack,
    #[error("職員リストを拒否しました / staff list refused: {0}")]
    StaffList(#[from] StaffError),
    #[error("保存されたファイルが壊れています / stored file {0} is corrupt")]
    Corrupt(PathBuf),
}

type Result<T, E = EnrollError> = std::result::Result<T, E>;

fn io(path: &Path, source: std::io::Error) -> EnrollError {
    EnrollError::Io {
        path: path.to_owned(),
        source,
    }
}

fn enroll_dir(data_dir: &Path) -> Result<PathBuf> {
    let d = data_dir.join(ENROLL_DIR);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&d)
        .map_err(|e| io(&d, e))?;
    Ok(d)
}

fn read_opt(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, e)),
    };
    let mut buf = Zeroizing::new(Vec::new());
    f.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut buf)
        .map_err(|e| io(path, e))?;
    if buf.len() as u64 > MAX_FILE_LEN {
        return Err(EnrollError::Corrupt(path.to_owned()));
    }
    Ok(Some(buf))
}

fn read_req(path: &Path, missing: fn() -> EnrollError) -> Result<Zeroizing<Vec<u8>>> {
    read_opt(path)?.ok_or_else(missing)
}

/// Creates `path` with mode 0600; refuses to overwrite.
fn write_new_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io(path, e))
}

/// Replaces `path` atomically (temporary file created 0600, then rename).
fn replace_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    write_new_secret(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// Generates the device key (if there is none yet; an existing key is reused, which is
/// how a still-active device renews its certificate), pins `root_ca_pem`, and returns
/// (and stores) a CSR whose subject CN is `device_id`.
pub fn create_key_and_csr(
    data_dir: &Path,
    device_id: &DeviceId,
    root_ca_pem: &[u8],
) -> Result<String> {
    let root = CertificateDer::from_pem_slice(root_ca_pem).map_err(|_| EnrollError::BadRootPem)?;
    signed::validate_root_ca(&root).map_err(EnrollError::BadRootCa)?;
    let dir = enroll_dir(data_dir)?;

    let root_path = dir.join(ROOT_FILE);
    match read_opt(&root_path)? {
        Some(pinned) if pinned.as_slice() != root.as_ref() => {
            return Err(EnrollError::RootAlreadyPinned)
        }
        Some(_) => {}
        None => write_new_secret(&root_path, &root)?,
    }
    let id_path = dir.join(ID_FILE);
    match read_opt(&id_path)? {
        Some(existing) if existing.as_slice() != device_id.as_str().as_bytes() => {
            return Err(EnrollError::OtherDeviceId {
                existing: String::from_utf8_lossy(&existing).into_owned(),
            })
        }
        Some(_) => {}
        None => write_new_secret(&id_path, device_id.as_str().as_bytes())?,
    }
    let key_path = dir.join(KEY_FILE);
    let pkcs8 = match read_opt(&key_path)? {
        Some(k) => {
            SigningKey::from_pkcs8(&k)?;
            k
        }
        None => {
            let (k, _) = SigningKey::generate()?;
            write_new_secret(&key_path, &k)?;
            k
        }
    };
    let csr = csr_pem(&pkcs8, device_id)?;
    replace_secret(&dir.join(CSR_FILE), csr.as_bytes())?;
    Ok(csr)
}

/// A CSR (PEM) for `device_id` signed by the device key.
fn csr_pem(pkcs8: &[u8], device_id: &DeviceId) -> Result<String> {
    let key_pair = KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(pkcs8),
        &PKCS_ECDSA_P256_SHA256,
    )?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, device_id.as_str());
    Ok(params.serialize_request(&key_pair)?.pem()?)
}

/// A renewal request for the installed enrollment: a CSR for the device's current key
/// (the key never changes; IT's signer checks it is the key it certified before).
pub fn renewal_csr(data_dir: &Path) -> Result<String> {
    let local = load_local(data_dir)?;
    csr_pem(&local.key_pkcs8, &local.device_id)
}

/// The tablet's request for its own key while an enrollment ticket is installed: makes
/// the key on first use (`next-device.key`, kept across restarts until its certificate
/// arrives) and returns a CSR for it and the fingerprint IT compares
/// ([`shinsei_protocol::csr::fingerprint_text`]).
pub fn own_key_request(data_dir: &Path) -> Result<(String, String)> {
    let local = load_local(data_dir)?;
    let path = local.dir.join(NEXT_KEY_FILE);
    let pkcs8 = match read_opt(&path)? {
        Some(k) => {
            SigningKey::from_pkcs8(&k)?;
            k
        }
        None => {
            let (k, _) = SigningKey::generate()?;
            write_new_secret(&path, &k)?;
            k
        }
    };
    let csr = csr_pem(&pkcs8, &local.device_id)?;
    let facts = shinsei_protocol::csr::read_csr(&csr)
        .map_err(|_| EnrollError::Corrupt(local.dir.join(CSR_FILE)))?;
    Ok((
        csr,
        shinsei_protocol::csr::fingerprint_text(&facts.spki_sha256),
    ))
}

/// The public key of `next-device.key`, if there is one.
fn next_public_key(dir: &Path) -> Result<Option<VerifyingKey>> {
    match read_opt(&dir.join(NEXT_KEY_FILE))? {
        Some(k) => Ok(Some(SigningKey::from_pkcs8(&k)?.public_key())),
        None => Ok(None),
    }
}

/// The tablet's own key becomes the device key (an atomic rename over the ticket's).
fn promote_next_key(dir: &Path) -> Result<()> {
    let (next, cur) = (dir.join(NEXT_KEY_FILE), dir.join(KEY_FILE));
    fs::rename(&next, &cur).map_err(|e| io(&cur, e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

struct Local {
    dir: PathBuf,
    device_id: DeviceId,
    root_der: Zeroizing<Vec<u8>>,
    key_pkcs8: Zeroizing<Vec<u8>>,
    public_key: VerifyingKey,
}

fn load_local(data_dir: &Path) -> Result<Local> {
    let dir = data_dir.join(ENROLL_DIR);
    let key_pkcs8 = read_req(&dir.join(KEY_FILE), || EnrollError::NotStarted)?;
    let id_bytes = read_req(&dir.join(ID_FILE), || EnrollError::NotStarted)?;
    let root_der = read_req(&dir.join(ROOT_FILE), || EnrollError::NotStarted)?;
    let device_id = std::str::from_utf8(&id_bytes)
        .ok()
        .and_then(|s| DeviceId::parse(s).ok())
        .ok_or_else(|| EnrollError::Corrupt(dir.join(ID_FILE)))?;
    let public_key = SigningKey::from_pkcs8(&key_pkcs8)?.public_key();
    Ok(Local {
        dir,
        device_id,
        root_der,
        key_pkcs8,
        public_key,
    })
}

/// What an installed bundle says, for display.
#[derive(Debug, Clone)]
pub struct InstalledBundle {
    pub device_id: DeviceId,
    pub relay_url: String,
    /// Device certificate end (unix seconds).
    pub cert_not_after: i64,
}

/// Verifies a signed device bundle (signed by the device CA, chained to the pinned root,
/// device certificate from the device CA for this device ID and this device's key, valid
/// at `now`) and installs it. A bundle that does not verify, or is older than the
/// installed one, is refused and nothing is changed.
pub fn install_bundle(data_dir: &Path, bundle_bytes: &[u8], now: u64) -> Result<InstalledBundle> {
    let local = load_local(data_dir)?;
    let bundle = DeviceBundle::verify(bundle_bytes, &local.root_der, now)?;
    // The ticket's key, or (replacing a ticket) the tablet's own key made for it.
    let for_own_key = match bundle.check_device(&local.device_id, &local.public_key) {
        Ok(()) => false,
        Err(BundleError::KeyMismatch) => match next_public_key(&local.dir)? {
            Some(next) => {
                bundle.check_device(&local.device_id, &next)?;
                true
            }
            None => return Err(BundleError::KeyMismatch.into()),
        },
        Err(e) => return Err(e.into()),
    };
    if for_own_key && bundle.is_enrollment_ticket() {
        // The own key is never to be a ticket again.
        return Err(BundleError::KeyMismatch.into());
    }
    let path = local.dir.join(BUNDLE_FILE);
    if let Some(old) = read_opt(&path)? {
        let old_issued = SignedDocument::parse(&old)
            .ok()
            .and_then(|d| DeviceBundle::parse(d.unverified_payload()).ok())
            .map(|b| b.issued_at);
        if old_issued.is_some_and(|t| t > bundle.issued_at) {
            return Err(EnrollError::BundleRolledBack);
        }
    }
    replace_secret(&path, bundle_bytes)?;
    if for_own_key {
        // After the bundle: a crash between the two is finished by `load_enrollment`.
        promote_next_key(&local.dir)?;
    }
    Ok(InstalledBundle {
        device_id: bundle.device_id.clone(),
        relay_url: bundle.relay_url.to_string(),
        cert_not_after: bundle.device_cert_not_after().unwrap_or(0),
    })
}

/// What the agent runtime needs from the enrollment. No `Debug`, no `Clone`: holds the
/// device key.
pub struct Enrollment {
    pub device_id: DeviceId,
    /// The device's private key (PKCS#8 DER), for the TLS client certificate and for
    /// signing envelopes.
    pub device_key_pkcs8: Zeroizing<Vec<u8>>,
    pub device_cert_der: Vec<u8>,
    /// Certificates to pin: `[root CA, device CA]` (DER).
    pub ca_chain_der: Vec<Vec<u8>>,
    /// `https://HOST:PORT`.
    pub relay_url: String,
    pub relay_host: String,
    pub relay_port: u16,
    pub relay_public_key: RelayPublicKey,
    pub relay_key_id: KeyId,
    pub receipt_public_key: VerifyingKey,
    pub policy: Policy,
    /// Device certificate end (unix seconds): renew before this.
    pub cert_not_after: i64,
    /// Device certificate start (unix seconds).
    pub cert_not_before: i64,
    /// The certificate is an enrollment ticket: the tablet must get its own key
    /// certified ([`own_key_request`]) before it takes applications.
    pub ticket: bool,
}

/// Loads the installed enrollment. The stored bundle is verified again (signature,
/// chain, this device's key), at its own issue time: expiry is the caller's to check
/// with `cert_not_after`.
pub fn load_enrollment(data_dir: &Path) -> Result<Enrollment> {
    let local = load_local(data_dir)?;
    let path = local.dir.join(BUNDLE_FILE);
    let bytes = read_req(&path, || EnrollError::NotEnrolled)?;
    let unverified = SignedDocument::parse(&bytes)
        .ok()
        .and_then(|d| DeviceBundle::parse(d.unverified_payload()).ok())
        .ok_or_else(|| EnrollError::Corrupt(path.clone()))?;
    let bundle = DeviceBundle::verify(&bytes, &local.root_der, unverified.issued_at)?;
    if let Err(e) = bundle.check_device(&local.device_id, &local.public_key) {
        // Interrupted after the tablet's own bundle was written: finish the key swap.
        let next = next_public_key(&local.dir)?;
        if !matches!(e, BundleError::KeyMismatch)
            || next.is_none_or(|k| bundle.check_device(&local.device_id, &k).is_err())
        {
            return Err(e.into());
        }
        promote_next_key(&local.dir)?;
        return load_enrollment(data_dir);
    }
    let cert_not_before = shinsei_protocol::signed::summarize_cert(&bundle.device_cert_der)
        .map_or(0, |c| c.not_before);
    Ok(Enrollment {
        ticket: bundle.is_enrollment_ticket(),
        cert_not_after: bundle.device_cert_not_after().unwrap_or(0),
        cert_not_before,
        device_id: bundle.device_id,
        device_key_pkcs8: local.key_pkcs8,
        device_cert_der: bundle.device_cert_der,
        ca_chain_der: vec![bundle.root_ca_der, bundle.device_ca_der],
        relay_url: bundle.relay_url.to_string(),
        relay_host: bundle.relay_url.host().to_owned(),
        relay_port: bundle.relay_url.port(),
        relay_key_id: bundle.relay_public_key.key_id(),
        relay_public_key: bundle.relay_public_key,
        receipt_public_key: bundle.receipt_public_key,
        policy: bundle.policy,
    })
}

/// The sequence of the installed staff list (read, not verified: for comparing with
/// a newer one, which is verified before it replaces it).
pub fn installed_staff_sequence(data_dir: &Path) -> Result<Option<u64>> {
    let path = data_dir.join(ENROLL_DIR).join(STAFF_FILE);
    Ok(read_opt(&path)?.and_then(|old| {
        SignedDocument::parse(&old)
            .ok()
            .and_then(|d| StaffList::parse(d.unverified_payload()).ok())
            .map(|l| l.sequence)
    }))
}

/// Verifies and installs a signed staff list: signed by the device CA, not expired, and
/// not older (by sequence) than the installed one.
pub fn install_staff_list(data_dir: &Path, bytes: &[u8], now: u64) -> Result<StaffList> {
    let local = load_local(data_dir)?;
    let path = local.dir.join(STAFF_FILE);
    let installed = installed_staff_sequence(data_dir)?;
    let list = StaffList::verify(bytes, &local.root_der, now, installed)?;
    replace_secret(&path, bytes)?;
    Ok(list)
}

/// Loads the installed staff list, verified at `now` (an expired list is refused: staff
/// cannot log in until a fresh one is installed).
pub fn load_staff_list(data_dir: &Path, now: u64) -> Result<StaffList> {
    let local = load_local(data_dir)?;
    let path = local.dir.join(STAFF_FILE);
    let bytes = read_req(&path, || EnrollError::NotEnrolled)?;
    Ok(StaffList::verify(&bytes, &local.root_der, now, None)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateSigningRequestParams, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyUsagePurpose,
    };
    use shinsei_protocol::{
        bundle::{Profile, RelayUrl},
        keys::RelaySecretKey,
        signed::{DEVICE_CA_OU, DEVICE_OU},
        staff::StaffEntry,
    };
    use std::os::unix::fs::PermissionsExt;

    // rcgen's default validity (1975..4096) covers any realistic test clock.
    const NOW: u64 = 1_800_000_000;

    struct Pki {
        root_pem: String,
        root_der: Vec<u8>,
        dca_der: Vec<u8>,
        dca: Issuer<'static, KeyPair>,
        dca_pkcs8: Vec<u8>,
    }

    fn pki() -> Pki {
        let root_key = KeyPair::generate().unwrap();
        let mut rp = CertificateParams::default();
        rp.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        rp.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root = rp.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(rp, root_key);
        let dkey = KeyPair::generate().unwrap();
        let mut dp = CertificateParams::default();
        dp.distinguished_name = DistinguishedName::new();
        dp.distinguished_name
            .push(DnType::OrganizationalUnitName, DEVICE_CA_OU);
        dp.distinguished_name.push(DnType::CommonName, "dca");
        dp.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        dp.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let dca = dp.signed_by(&dkey, &root_issuer).unwrap();
        let dca_pkcs8 = dkey.serialize_der();
        Pki {
            root_pem: root.pem(),
            root_der: root.der().to_vec(),
            dca_der: dca.der().to_vec(),
            dca: Issuer::new(dp, dkey),
            dca_pkcs8,
        }
    }

    /// What `shinsei-provision device sign` does, in miniature.
    fn sign_csr(p: &Pki, csr_pem: &str, id: &str, issued_at: u64) -> Vec<u8> {
        sign_as(p, csr_pem, id, issued_at, DEVICE_OU)
    }

    fn sign_as(p: &Pki, csr_pem: &str, id: &str, issued_at: u64, ou: &str) -> Vec<u8> {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).unwrap();
        csr.params.distinguished_name = DistinguishedName::new();
        csr.params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, ou);
        csr.params.distinguished_name.push(DnType::CommonName, id);
        csr.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = csr.signed_by(&p.dca).unwrap();
        let (_r, receipt) = SigningKey::generate().unwrap();
        DeviceBundle {
            device_id: DeviceId::parse(id).unwrap(),
            issued_at,
            device_cert_der: cert.der().to_vec(),
            device_ca_der: p.dca_der.clone(),
            root_ca_der: p.root_der.clone(),
            relay_url: RelayUrl::parse("https://relay.example:8443").unwrap(),
            relay_public_key: RelaySecretKey::generate().public().clone(),
            receipt_public_key: receipt.public_key(),
            policy: Policy::for_profile(Profile::Express),
        }
        .sign(&SigningKey::from_pkcs8(&p.dca_pkcs8).unwrap())
        .unwrap()
    }

    #[test]
    fn enroll_install_load() {
        let p = pki();
        let d = tempfile::tempdir().unwrap();
        let id = DeviceId::parse("TAB-0001").unwrap();
        let csr = create_key_and_csr(d.path(), &id, p.root_pem.as_bytes()).unwrap();
        assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        let key_path = d.path().join(ENROLL_DIR).join(KEY_FILE);
        assert_eq!(
            fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(matches!(
            load_enrollment(d.path()),
            Err(EnrollError::NotEnrolled)
        ));

        let bundle = sign_csr(&p, &csr, "TAB-0001", NOW);
        // One flipped byte anywhere: refused, nothing installed.
        for i in [10, bundle.len() / 2, bundle.len() - 20] {
            let mut t = bundle.clone();
            t[i] ^= 0x01;
            assert!(install_bundle(d.path(), &t, NOW).is_err(), "flip at {i}");
        }
        assert!(matches!(
            load_enrollment(d.path()),
            Err(EnrollError::NotEnrolled)
        ));

        let ib = install_bundle(d.path(), &bundle, NOW).unwrap();
        assert_eq!(ib.relay_url, "https://relay.example:8443");
        let e = load_enrollment(d.path()).unwrap();
        assert_eq!(e.device_id.as_str(), "TAB-0001");
        assert_eq!(e.relay_host, "relay.example");
        assert_eq!(e.relay_port, 8443);
        assert_eq!(e.ca_chain_der, vec![p.root_der.clone(), p.dca_der.clone()]);
        assert_eq!(e.policy.profile, Profile::Express);
        assert_eq!(
            SigningKey::from_pkcs8(&e.device_key_pkcs8)
                .unwrap()
                .public_key(),
            shinsei_protocol::signed::summarize_cert(&e.device_cert_der)
                .unwrap()
                .p256_public_key
                .unwrap()
        );

        // Renewal reuses the key; an older bundle is refused.
        let csr2 = create_key_and_csr(d.path(), &id, p.root_pem.as_bytes()).unwrap();
        let newer = sign_csr(&p, &csr2, "TAB-0001", NOW + 10);
        install_bundle(d.path(), &newer, NOW + 10).unwrap();
        assert!(matches!(
            install_bundle(d.path(), &bundle, NOW + 10),
            Err(EnrollError::BundleRolledBack)
        ));
    }

    /// Some file under `dir` holds `needle`, read raw.
    fn on_disk(dir: &Path, needle: &[u8]) -> bool {
        shinsei_testkit::files::walk(dir)
            .iter()
            .any(|(_, b)| shinsei_testkit::files::contains(b, needle))
    }

    /// The imaging workstation's part: a ticket (its key and bundle) installed in `dir`.
    fn installed_ticket(p: &Pki, dir: &Path, id: &str) {
        let device = DeviceId::parse(id).unwrap();
        let csr = create_key_and_csr(dir, &device, p.root_pem.as_bytes()).unwrap();
        let ticket = sign_as(p, &csr, id, NOW, shinsei_protocol::signed::ENROLLMENT_OU);
        install_bundle(dir, &ticket, NOW).unwrap();
    }

    #[test]
    fn a_ticket_is_replaced_by_the_tablets_own_key_and_certificate() {
        let p = pki();
        let d = tempfile::tempdir().unwrap();
        let id = DeviceId::parse("TAB-0009").unwrap();
        // The imaging workstation: the ticket's key and bundle.
        installed_ticket(&p, d.path(), "TAB-0009");
        assert!(load_enrollment(d.path()).unwrap().ticket);
        let ticket_key = fs::read(d.path().join(ENROLL_DIR).join(KEY_FILE)).unwrap();

        // First boot: the tablet's own key, the same request on every restart.
        let (own_csr, fp) = own_key_request(d.path()).unwrap();
        // (ECDSA signatures differ each time: the key is what stays.)
        assert_eq!(own_key_request(d.path()).unwrap().1, fp);
        let facts = shinsei_protocol::csr::read_csr(&own_csr).unwrap();
        assert!(shinsei_protocol::csr::fingerprint_matches(
            &facts.spki_sha256,
            &fp
        ));
        let own_key = fs::read(d.path().join(ENROLL_DIR).join(NEXT_KEY_FILE)).unwrap();
        assert_ne!(own_key, ticket_key);

        // A ticket for the own key is refused (it would never leave ticket mode).
        let own_ticket = sign_as(
            &p,
            &own_csr,
            "TAB-0009",
            NOW + 5,
            shinsei_protocol::signed::ENROLLMENT_OU,
        );
        assert!(install_bundle(d.path(), &own_ticket, NOW + 5).is_err());
        // A certificate for somebody else's key: refused.
        let (_k, stranger) = {
            let o = tempfile::tempdir().unwrap();
            (
                o.path().to_owned(),
                create_key_and_csr(o.path(), &id, p.root_pem.as_bytes()).unwrap(),
            )
        };
        let theirs = sign_csr(&p, &stranger, "TAB-0009", NOW + 5);
        assert!(matches!(
            install_bundle(d.path(), &theirs, NOW + 5),
            Err(EnrollError::Bundle(BundleError::KeyMismatch))
        ));
        assert!(load_enrollment(d.path()).unwrap().ticket);

        // Control: the ticket's key is on the disk before.
        assert!(on_disk(d.path(), &ticket_key));
        // IT approved: the own key's certificate replaces the ticket.
        let own = sign_csr(&p, &own_csr, "TAB-0009", NOW + 10);
        install_bundle(d.path(), &own, NOW + 10).unwrap();
        let e = load_enrollment(d.path()).unwrap();
        assert!(!e.ticket);
        assert_eq!(e.device_key_pkcs8.as_slice(), own_key.as_slice());
        assert!(!d.path().join(ENROLL_DIR).join(NEXT_KEY_FILE).exists());
        // The ticket's key is in no file any more.
        assert!(!on_disk(d.path(), &ticket_key));
    }

    #[test]
    fn a_key_swap_cut_short_is_finished_at_the_next_start() {
        let p = pki();
        let d = tempfile::tempdir().unwrap();
        installed_ticket(&p, d.path(), "TAB-0010");
        let (own_csr, _) = own_key_request(d.path()).unwrap();
        let own = sign_csr(&p, &own_csr, "TAB-0010", NOW + 10);
        // Power lost after the bundle was written, before the key file was renamed.
        replace_secret(&d.path().join(ENROLL_DIR).join(BUNDLE_FILE), &own).unwrap();
        let e = load_enrollment(d.path()).unwrap();
        assert!(!e.ticket);
        assert!(!d.path().join(ENROLL_DIR).join(NEXT_KEY_FILE).exists());
        assert!(load_enrollment(d.path()).is_ok());
    }

    #[test]
    fn refuses_foreign_bundles() {
        let p = pki();
        let d = tempfile::tempdir().unwrap();
        let id = DeviceId::parse("TAB-0002").unwrap();
        create_key_and_csr(d.path(), &id, p.root_pem.as_bytes()).unwrap();

        // A bundle for another device (its own key, its own ID).
        let other = tempfile::tempdir().unwrap();
        let other_csr = create_key_and_csr(
            other.path(),
            &DeviceId::parse("TAB-0003").unwrap(),
            p.root_pem.as_bytes(),
        )
        .unwrap();
        let b = sign_csr(&p, &other_csr, "TAB-0003", NOW);
        assert!(matches!(
            install_bundle(d.path(), &b, NOW),
            Err(EnrollError::Bundle(BundleError::NotForThisDevice { .. }))
        ));
        // Right ID, someone else's key.
        let b = sign_csr(&p, &other_csr, "TAB-0002", NOW);
        assert!(matches!(
            install_bundle(d.path(), &b, NOW),
            Err(EnrollError::Bundle(BundleError::KeyMismatch))
        ));
        // A bundle from another ward's PKI.
        let q = pki();
        let mine = fs::read_to_string(d.path().join(ENROLL_DIR).join(CSR_FILE)).unwrap();
        let b = sign_csr(&q, &mine, "TAB-0002", NOW);
        assert!(matches!(
            install_bundle(d.path(), &b, NOW),
            Err(EnrollError::Bundle(BundleError::Document(
                SignedError::NotIssuedByRoot
            )))
        ));
        // Re-pinning another root or another ID is refused.
        assert!(matches!(
            create_key_and_csr(d.path(), &id, q.root_pem.as_bytes()),
            Err(EnrollError::RootAlreadyPinned)
        ));
        assert!(matches!(
            create_key_and_csr(
                d.path(),
                &DeviceId::parse("TAB-9").unwrap(),
                p.root_pem.as_bytes()
            ),
            Err(EnrollError::OtherDeviceId { .. })
        ));
        assert!(matches!(
            create_key_and_csr(d.path(), &id, b"junk"),
            Err(EnrollError::BadRootPem)
        ));
        let no = tempfile::tempdir().unwrap();
        assert!(matches!(
            install_bundle(no.path(), &b, NOW),
            Err(EnrollError::NotStarted)
        ));
    }

    #[test]
    fn staff_list_install_rollback() {
        let p = pki();
        let d = tempfile::tempdir().unwrap();
        create_key_and_csr(
            d.path(),
            &DeviceId::parse("TAB-0004").unwrap(),
            p.root_pem.as_bytes(),
        )
        .unwrap();
        let key = SigningKey::from_pkcs8(&p.dca_pkcs8).unwrap();
        let entry = StaffEntry::from_json_value(serde_json_entry()).unwrap();
        let list = |seq| {
            StaffList {
                sequence: seq,
                issued_at: NOW - 10,
                expires_at: NOW + 1000,
                entries: vec![entry.clone()],
            }
            .sign(&p.dca_der, &key)
            .unwrap()
        };
        install_staff_list(d.path(), &list(5), NOW).unwrap();
        install_staff_list(d.path(), &list(6), NOW).unwrap();
        assert!(matches!(
            install_staff_list(d.path(), &list(5), NOW),
            Err(EnrollError::StaffList(StaffError::RolledBack { .. }))
        ));
        assert_eq!(load_staff_list(d.path(), NOW).unwrap().sequence, 6);
        assert!(matches!(
            load_staff_list(d.path(), NOW + 1000),
            Err(EnrollError::StaffList(StaffError::Expired))
        ));
    }

    fn serde_json_entry() -> serde_json::Value {
        serde_json::json!({
            "staff_id": "tanaka", "disabled": false, "kdf": "pbkdf2-hmac-sha256",
            "iterations": 600000, "salt": "AQEBAQEBAQEBAQEBAQEBAQ==",
            "hash": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
        })
    }
}
