//! Certificate issuance: the ward root CA, the device CA, the relay TLS certificate,
//! admin client certificates, device certificates from CSRs, and CRLs.
//!
//! ECDSA P-256 with SHA-256 throughout; serial numbers are 16 random bytes.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertificateSigningRequestParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData, RevokedCertParams,
    SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use ring::rand::SecureRandom;
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use shinsei_protocol::{
    device::DeviceId,
    keys::SigningKey,
    signed::{
        summarize_cert, ADMIN_OU, DEVICE_CA_OU, DEVICE_OU, ENROLLMENT_OU, RELAY_OU, ROOT_CA_OU,
    },
    x509::{AdminRole, ROLE_TITLE_OID},
};
use time::OffsetDateTime;
use x509_parser::{certification_request::X509CertificationRequest, prelude::FromDer};

use crate::error::{ProvisionError, Result};
use shinsei_pki::files;
use shinsei_pki::layout::{self, PkiLayout};

/// Clock skew allowance: certificates are valid from this many seconds before `now`.
pub const BACKDATE_SECS: u64 = 300;
const DAY: u64 = 86_400;

/// Longest validity accepted for any certificate, in days (30 years).
pub const MAX_DAYS: u32 = 30 * 366;

fn odt(secs: u64) -> Result<OffsetDateTime> {
    let s = i64::try_from(secs).map_err(|_| rcgen::Error::Time)?;
    OffsetDateTime::from_unix_timestamp(s).map_err(|_| ProvisionError::Cert(rcgen::Error::Time))
}

fn check_days(days: u32) -> Result<()> {
    if days == 0 || days > MAX_DAYS {
        return Err(ProvisionError::BadDays {
            days,
            max: MAX_DAYS,
        });
    }
    Ok(())
}

/// 16 random bytes, top bit clear (a positive 128-bit integer).
pub fn random_serial() -> Result<SerialNumber> {
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| ProvisionError::from(shinsei_protocol::keys::KeyError::Rng))?;
    b[0] &= 0x7f;
    b[0] |= 0x01;
    Ok(SerialNumber::from_slice(&b))
}

fn new_key() -> Result<KeyPair> {
    Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)
}

fn dn(cn: &str, ou: &str, org: Option<&str>) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    if let Some(o) = org {
        d.push(DnType::OrganizationName, o);
    }
    d.push(DnType::OrganizationalUnitName, ou);
    d.push(DnType::CommonName, cn);
    d
}

fn base_params(
    dn: DistinguishedName,
    now: u64,
    days: u32,
    cap: Option<i64>,
) -> Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn;
    p.serial_number = Some(random_serial()?);
    p.not_before = odt(now.saturating_sub(BACKDATE_SECS))?;
    let mut end = now.saturating_add(u64::from(days) * DAY);
    if let Some(cap) = cap {
        // A certificate never outlives its issuer.
        end = end.min(u64::try_from(cap).unwrap_or(0));
    }
    p.not_after = odt(end)?;
    p.key_identifier_method = KeyIdMethod::Sha256;
    Ok(p)
}

/// A loaded CA: its certificate, issuer (with key) and validity end.
pub struct LoadedCa {
    pub cert_der: CertificateDer<'static>,
    pub issuer: Issuer<'static, KeyPair>,
    pub not_after: i64,
    /// The key as a protocol signing key (to sign bundles and staff lists).
    pub signing_key: SigningKey,
}

/// Loads a CA certificate and key, checks that they match and that the CA is valid at
/// `now`.
pub fn load_ca(
    cert_path: &std::path::Path,
    key_path: &std::path::Path,
    which: &'static str,
    now: u64,
) -> Result<LoadedCa> {
    if !cert_path.exists() || !key_path.exists() {
        return Err(ProvisionError::CaMissing {
            path: cert_path.to_owned(),
        });
    }
    let cert_der = layout::read_cert_pem(cert_path)?;
    let pkcs8 = layout::read_pkcs8_pem(key_path)?;
    let key = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &PKCS_ECDSA_P256_SHA256)?;
    let signing_key = SigningKey::from_pkcs8(pkcs8.secret_pkcs8_der())?;
    let summary = summarize_cert(&cert_der)
        .ok_or_else(|| ProvisionError::bad_pem(cert_path.to_owned(), "CA certificate"))?;
    if summary.p256_public_key.as_ref().map(|k| &k.as_bytes()[..]) != Some(key.der_bytes()) {
        return Err(ProvisionError::KeyCertMismatch { which });
    }
    let t = i64::try_from(now).unwrap_or(i64::MAX);
    if !summary.is_ca || t < summary.not_before || t > summary.not_after {
        return Err(ProvisionError::CaNotValidNow {
            which,
            not_after: fmt_time(summary.not_after),
        });
    }
    let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
    Ok(LoadedCa {
        cert_der,
        issuer,
        not_after: summary.not_after,
        signing_key,
    })
}

/// Loads the root CA of a PKI directory.
pub fn load_root(l: &PkiLayout, now: u64) -> Result<LoadedCa> {
    load_ca(
        &l.root_ca_cert(),
        &l.root_ca_key(),
        "root CA / ルートCA",
        now,
    )
}

/// Loads the device CA of a PKI directory.
pub fn load_device_ca(l: &PkiLayout, now: u64) -> Result<LoadedCa> {
    load_ca(
        &l.device_ca_cert(),
        &l.device_ca_key(),
        "device CA / 端末CA",
        now,
    )
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub fn fmt_time(unix: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => unix.to_string(),
    }
}

/// Options of `ca init`.
#[derive(Debug, Clone)]
pub struct CaInitOptions {
    /// Organization name put in the subjects, e.g. the ward's name.
    pub org: String,
    pub root_days: u32,
    pub device_ca_days: u32,
}

/// Creates the root CA and the device CA (the device CA limited to EKU clientAuth: it
/// certifies clients only, `certs/README.md`). Refuses to overwrite existing ones.
pub fn ca_init(l: &PkiLayout, o: &CaInitOptions, now: u64) -> Result<()> {
    check_days(o.root_days)?;
    check_days(o.device_ca_days)?;
    for p in [
        l.root_ca_cert(),
        l.root_ca_key(),
        l.device_ca_cert(),
        l.device_ca_key(),
    ] {
        if p.exists() {
            return Err(ProvisionError::already_exists(p));
        }
    }
    files::ensure_private_dir(l.dir())?;
    let org = Some(o.org.as_str());

    let root_key = new_key()?;
    let mut rp = base_params(
        dn(&format!("{} shinsei root CA", o.org), ROOT_CA_OU, org),
        now,
        o.root_days,
        None,
    )?;
    rp.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    rp.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root_cert = rp.self_signed(&root_key)?;
    let root_not_after = rp.not_after.unix_timestamp();
    let root_issuer = Issuer::new(rp, root_key);

    let dca_key = new_key()?;
    let mut dp = base_params(
        dn(&format!("{} shinsei device CA", o.org), DEVICE_CA_OU, org),
        now,
        o.device_ca_days,
        Some(root_not_after),
    )?;
    dp.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    dp.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    // Issue 17: the device CA certifies clients only. The everyday key must not be able
    // to mint a server certificate for the relay's name: rustls-webpki checks the
    // required EKU on every certificate of a path (intermediates too, when they carry
    // the extension), so serverAuth under this CA fails in any verifier on the root.
    // The agent also pins the relay (issued directly by the root, OU "shinsei relay"),
    // which protects wards whose device CA predates this.
    dp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    dp.use_authority_key_identifier_extension = true;
    let dca_cert = dp.signed_by(&dca_key, &root_issuer)?;

    files::write_new(
        &l.root_ca_key(),
        layout::pkcs8_pem(root_issuer.key().serialized_der()).as_bytes(),
        true,
    )?;
    files::write_new(&l.root_ca_cert(), root_cert.pem().as_bytes(), false)?;
    files::write_new(
        &l.device_ca_key(),
        layout::pkcs8_pem(dca_key.serialized_der()).as_bytes(),
        true,
    )?;
    files::write_new(&l.device_ca_cert(), dca_cert.pem().as_bytes(), false)?;
    tracing::info!(dir = %l.dir().display(), "root CA and device CA created");
    Ok(())
}

/// A newly issued certificate with its key.
pub struct IssuedWithKey {
    pub cert_der: CertificateDer<'static>,
    pub key: KeyPair,
}

/// Issues the relay's TLS server certificate (SAN = `host`, EKU serverAuth) from the root.
pub fn issue_relay_tls(root: &LoadedCa, host: &str, days: u32, now: u64) -> Result<IssuedWithKey> {
    check_days(days)?;
    if !shinsei_protocol::bundle::valid_host(host) {
        return Err(ProvisionError::BadHost(host.to_owned()));
    }
    let key = new_key()?;
    let mut p = CertificateParams::new(vec![host.to_ascii_lowercase()])?;
    let base = base_params(dn(host, RELAY_OU, None), now, days, Some(root.not_after))?;
    p.distinguished_name = base.distinguished_name;
    p.serial_number = base.serial_number;
    p.not_before = base.not_before;
    p.not_after = base.not_after;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, &root.issuer)?;
    Ok(IssuedWithKey {
        cert_der: cert.der().clone(),
        key,
    })
}

/// Checks an administrator or file-safe name: `[A-Za-z0-9._-]{1,32}`, not starting with `.`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ProvisionError::BadName(name.to_owned()))
    }
}

/// Default validity of an admin certificate: short, because an admin certificate can
/// wipe tablets and a lost one must not stay useful for long (the relay can also revoke
/// it at once: `admin:NAME` in its deny list, or the admin API).
pub const ADMIN_DEFAULT_DAYS: u32 = 30;

/// Issues an admin client certificate (OU `shinsei admin`, CN `name`, subject `title` =
/// the role, EKU clientAuth) from the root and writes `admins/NAME.{pem,key}`.
pub fn admin_issue(
    l: &PkiLayout,
    name: &str,
    role: AdminRole,
    days: u32,
    now: u64,
) -> Result<CertificateDer<'static>> {
    check_name(name)?;
    check_days(days)?;
    let root = load_root(l, now)?;
    for p in [l.admin_cert(name), l.admin_key(name)] {
        if p.exists() {
            return Err(ProvisionError::already_exists(p));
        }
    }
    let key = new_key()?;
    let mut p = base_params(dn(name, ADMIN_OU, None), now, days, Some(root.not_after))?;
    p.distinguished_name.push(
        DnType::CustomDnType(ROLE_TITLE_OID.to_vec()),
        DnValue::Utf8String(role.as_str().to_owned()),
    );
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, &root.issuer)?;
    files::write_new(
        &l.admin_key(name),
        layout::pkcs8_pem(key.serialized_der()).as_bytes(),
        true,
    )?;
    files::write_new(&l.admin_cert(name), cert.pem().as_bytes(), false)?;
    Ok(cert.der().clone())
}

/// A checked CSR.
pub struct CheckedCsr {
    params: CertificateSigningRequestParams,
}

/// Parses a CSR (PEM), checks its self-signature, that its key is ECDSA P-256 and that
/// its subject CN is `device_id`.
pub fn check_csr(csr_pem: &[u8], device_id: &DeviceId) -> Result<CheckedCsr> {
    use rustls_pki_types::pem::PemObject;
    let der = CertificateSigningRequestDer::from_pem_slice(csr_pem)
        .map_err(|e| ProvisionError::CsrMalformed(format!("{e}")))?;
    let (rest, req) = X509CertificationRequest::from_der(der.as_ref())
        .map_err(|e| ProvisionError::CsrMalformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(ProvisionError::CsrMalformed("trailing data".into()));
    }
    if req.verify_signature().is_err() {
        return Err(ProvisionError::CsrSignature);
    }
    let spki = &req.certification_request_info.subject_pki;
    let is_p256 = spki.algorithm.algorithm == x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
        && spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .is_some_and(|o| o == x509_parser::oid_registry::OID_EC_P256)
        && spki.subject_public_key.data.len() == 65;
    if !is_p256 {
        return Err(ProvisionError::CsrKeyType);
    }
    let cn = req
        .certification_request_info
        .subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or("")
        .to_owned();
    if cn != device_id.as_str() {
        return Err(ProvisionError::CsrDeviceIdMismatch {
            csr_cn: cn,
            device_id: device_id.to_string(),
        });
    }
    let params = CertificateSigningRequestParams::from_der(&der).map_err(|e| match e {
        rcgen::Error::InvalidCertificationRequestSignature => ProvisionError::CsrSignature,
        other => ProvisionError::CsrMalformed(other.to_string()),
    })?;
    Ok(CheckedCsr { params })
}

/// Issues a device certificate for a checked CSR from the device CA: OU `shinsei device`
/// (`shinsei device enrollment` for an enrollment ticket), CN = device ID, EKU
/// clientAuth, `days` of validity (capped at the device CA's end). Requested extensions
/// are ignored.
pub fn issue_device_cert(
    dca: &LoadedCa,
    csr: CheckedCsr,
    device_id: &DeviceId,
    days: u32,
    ticket: bool,
    now: u64,
) -> Result<CertificateDer<'static>> {
    check_days(days)?;
    let ou = if ticket { ENROLLMENT_OU } else { DEVICE_OU };
    let mut p = base_params(
        dn(device_id.as_str(), ou, None),
        now,
        days,
        Some(dca.not_after),
    )?;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    let req = CertificateSigningRequestParams {
        params: p,
        public_key: csr.params.public_key,
    };
    Ok(req.signed_by(&dca.issuer)?.der().clone())
}

/// A revoked certificate for a CRL.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// Serial number bytes as in the certificate.
    pub serial: Vec<u8>,
    pub revoked_at: u64,
}

/// Builds a CRL signed by `ca` (e.g. the device CA) listing `revoked`, valid from `now`
/// for `next_update_secs`.
pub fn build_crl(
    ca: &LoadedCa,
    revoked: &[Revoked],
    crl_number: u64,
    now: u64,
    next_update_secs: u64,
) -> Result<Vec<u8>> {
    let mut revoked_certs = Vec::with_capacity(revoked.len());
    for r in revoked {
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&r.serial),
            revocation_time: odt(r.revoked_at)?,
            reason_code: None,
            invalidity_date: None,
        });
    }
    let params = CertificateRevocationListParams {
        this_update: odt(now)?,
        next_update: odt(now.saturating_add(next_update_secs))?,
        crl_number: SerialNumber::from(crl_number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    Ok(params.signed_by(&ca.issuer)?.der().to_vec())
}

/// Reads the root CA certificate (not its key) and checks it is a CA valid at `now`.
pub fn load_root_cert_only(l: &PkiLayout, now: u64) -> Result<CertificateDer<'static>> {
    let path = l.root_ca_cert();
    if !path.exists() {
        return Err(ProvisionError::CaMissing { path });
    }
    let der = layout::read_cert_pem(&path)?;
    let s =
        summarize_cert(&der).ok_or_else(|| ProvisionError::bad_pem(path, "root CA certificate"))?;
    let t = i64::try_from(now).unwrap_or(i64::MAX);
    if !s.is_ca || t < s.not_before || t > s.not_after {
        return Err(ProvisionError::CaNotValidNow {
            which: "root CA / ルートCA",
            not_after: fmt_time(s.not_after),
        });
    }
    Ok(der)
}
