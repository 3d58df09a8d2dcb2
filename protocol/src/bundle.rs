//! The device bundle: what a tablet needs to talk to its relay, signed by the device CA.
//!
//! Carried as the payload of a [`crate::signed`] document of kind `device-bundle`. The
//! payload is JSON (unknown fields refused):
//!
//! ```json
//! {
//!   "version": 1,
//!   "device_id": "TAB-0001",
//!   "issued_at": 1760000000,
//!   "device_cert": "<base64 DER>",
//!   "device_ca_cert": "<base64 DER>",
//!   "root_ca_cert": "<base64 DER>",
//!   "relay_url": "https://relay.example.lg.jp:8443",
//!   "relay_hpke_public_key": "<base64, 32 bytes X25519>",
//!   "relay_hpke_key_id": "<16 hex digits>",
//!   "receipt_public_key": "<base64, 65 bytes uncompressed P-256>",
//!   "policy": { "profile": "standard", "checkin_interval_secs": 30, ... }
//! }
//! ```
//!
//! [`DeviceBundle::parse`] checks the payload alone; [`DeviceBundle::verify`] checks a
//! whole signed bundle against the pinned root CA; [`DeviceBundle::check_device`] checks
//! that it is meant for this device and its key.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use serde::{Deserialize, Serialize};

use crate::{
    device::DeviceId,
    hpke_suite::KEY_LEN,
    keys::{KeyId, RelayPublicKey, SigningKey, VerifyingKey},
    signed::{
        self, DocumentKind, SignedDocument, SignedError, DEVICE_OU, ENROLLMENT_OU, MAX_DOCUMENT_LEN,
    },
};

/// The only bundle version.
pub const BUNDLE_VERSION: u32 = 1;
/// How long the relay keeps an envelope (seconds); outbox ages may not exceed it.
pub const RELAY_RETENTION_SECS: u64 = crate::policy::MAX_RETENTION_SECS;
/// Clock skew tolerated for `issued_at` in the future (seconds).
pub const MAX_CLOCK_SKEW_SECS: u64 = crate::policy::DEFAULT_MAX_FUTURE_SECS;

/// The device's operating profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Ordinary application (card mailed to the resident).
    Standard,
    /// Express issuance (PINs set at the counter).
    Express,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Standard => "standard",
            Profile::Express => "express",
        }
    }
}

fn d_checkin() -> u32 {
    30
}
fn d_offline_lock() -> u64 {
    86_400
}
fn d_offline_wipe() -> u64 {
    604_800
}
fn d_outbox_max_age() -> u64 {
    crate::policy::DEFAULT_OUTBOX_MAX_AGE_SECS
}
fn d_lockout() -> u32 {
    5
}
fn d_auto_lock() -> u32 {
    300
}

/// Device policy. Absent fields take their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub profile: Profile,
    /// Seconds between check-ins with the relay (5..=3600; default 30).
    #[serde(default = "d_checkin")]
    pub checkin_interval_secs: u32,
    /// Without a successful check-in for this long the device locks (300..=604800; default 24 h).
    #[serde(default = "d_offline_lock")]
    pub offline_lock_secs: u64,
    /// Without a successful check-in for this long the device wipes itself
    /// (>= offline_lock_secs, <= 30 days; default 7 days).
    #[serde(default = "d_offline_wipe")]
    pub offline_wipe_secs: u64,
    /// Oldest an envelope may get in the outbox (3600..=RELAY_RETENTION_SECS; default 72 h).
    #[serde(default = "d_outbox_max_age")]
    pub outbox_max_age_secs: u64,
    /// Failed staff logins before lock-out (3..=10; default 5).
    #[serde(default = "d_lockout")]
    pub lockout_threshold: u32,
    /// Idle seconds before the staff session locks (30..=3600; default 300).
    #[serde(default = "d_auto_lock")]
    pub auto_lock_secs: u32,
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("checkin_interval_secs must be 5..=3600 / チェックイン間隔が範囲外です")]
    CheckinInterval,
    #[error("offline_lock_secs must be 300..=604800 / オフラインロック時間が範囲外です")]
    OfflineLock,
    #[error("offline_wipe_secs must be >= offline_lock_secs and <= 2592000 / オフライン消去時間が範囲外です")]
    OfflineWipe,
    #[error("outbox_max_age_secs must be 3600..={RELAY_RETENTION_SECS} / 送信待ちの保存期間が範囲外です")]
    OutboxMaxAge,
    #[error("lockout_threshold must be 3..=10 / ロックアウト回数が範囲外です")]
    LockoutThreshold,
    #[error("auto_lock_secs must be 30..=3600 / 自動ロック時間が範囲外です")]
    AutoLock,
}

impl Policy {
    /// The default policy of a profile.
    pub fn for_profile(profile: Profile) -> Self {
        Self {
            profile,
            checkin_interval_secs: d_checkin(),
            offline_lock_secs: d_offline_lock(),
            offline_wipe_secs: d_offline_wipe(),
            outbox_max_age_secs: d_outbox_max_age(),
            lockout_threshold: d_lockout(),
            auto_lock_secs: d_auto_lock(),
        }
    }

    /// Checks every limit.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(5..=3600).contains(&self.checkin_interval_secs) {
            return Err(PolicyError::CheckinInterval);
        }
        if !(300..=604_800).contains(&self.offline_lock_secs) {
            return Err(PolicyError::OfflineLock);
        }
        if self.offline_wipe_secs < self.offline_lock_secs || self.offline_wipe_secs > 2_592_000 {
            return Err(PolicyError::OfflineWipe);
        }
        if !(3600..=RELAY_RETENTION_SECS).contains(&self.outbox_max_age_secs) {
            return Err(PolicyError::OutboxMaxAge);
        }
        if !(3..=10).contains(&self.lockout_threshold) {
            return Err(PolicyError::LockoutThreshold);
        }
        if !(30..=3600).contains(&self.auto_lock_secs) {
            return Err(PolicyError::AutoLock);
        }
        Ok(())
    }
}

/// The relay's URL: `https://HOST[:PORT]`, nothing else (no path, user or query).
/// HOST is a DNS name (letters, digits, `-`, `.`; folded to lower case) or an IPv4
/// address. The default port is 443.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayUrl {
    host: String,
    port: u16,
}

impl RelayUrl {
    /// Parses `https://HOST[:PORT]` (a single trailing `/` is allowed).
    pub fn parse(s: &str) -> Result<Self, BundleError> {
        let rest = s.strip_prefix("https://").ok_or(BundleError::BadRelayUrl)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => {
                if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(BundleError::BadRelayUrl);
                }
                let port: u16 = p.parse().map_err(|_| BundleError::BadRelayUrl)?;
                (h, port)
            }
            None => (rest, 443),
        };
        if port == 0 || !valid_host(host) {
            return Err(BundleError::BadRelayUrl);
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Builds from parts (the host is checked).
    pub fn new(host: &str, port: u16) -> Result<Self, BundleError> {
        if port == 0 || !valid_host(host) {
            return Err(BundleError::BadRelayUrl);
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Display for RelayUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "https://{}:{}", self.host, self.port)
    }
}

/// True for a DNS host name (1..=253 chars, labels 1..=63 of `[a-z0-9-]` not starting or
/// ending with `-`, not all digits in the last label unless an IPv4 address) or an IPv4
/// address.
pub fn valid_host(h: &str) -> bool {
    if h.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    if h.is_empty() || h.len() > 253 {
        return false;
    }
    let labels_ok = h.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    let last_numeric = h
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    labels_ok && !last_numeric
}

/// Why a bundle was refused. One variant per failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("{0}")]
    Document(#[from] SignedError),
    #[error("bundle is larger than {MAX_DOCUMENT_LEN} bytes / 端末バンドルが大きすぎます")]
    TooLarge,
    #[error("bundle payload is not valid JSON of the expected shape: {0} / 端末バンドルの形式が不正です")]
    Malformed(String),
    #[error("unsupported bundle version / 未対応の端末バンドルのバージョンです")]
    UnsupportedVersion,
    #[error("bad device ID in bundle / 端末バンドルの端末IDが不正です")]
    BadDeviceId,
    #[error("field {0} is not valid base64 / {0} の base64 が不正です")]
    BadBase64(&'static str),
    #[error(
        "relay_url must be https://HOST[:PORT] / リレーURLが不正です（https://ホスト名:ポート）"
    )]
    BadRelayUrl,
    #[error("relay HPKE public key must be 32 bytes / リレーの公開鍵が不正です")]
    BadRelayKey,
    #[error(
        "relay HPKE key ID is not 16 hex digits or does not match the key / リレー鍵IDが不正です"
    )]
    BadRelayKeyId,
    #[error("receipt public key is not a 65-byte P-256 point / 受付証明の公開鍵が不正です")]
    BadReceiptKey,
    #[error("{0}")]
    Policy(#[from] PolicyError),
    #[error(
        "bundle names a different root CA than the pinned one / ルートCAが固定されたものと違います"
    )]
    RootMismatch,
    #[error(
        "bundle's device CA is not the certificate that signed it / 端末CAが署名者と一致しません"
    )]
    DeviceCaMismatch,
    #[error(
        "device certificate cannot be parsed or is not ECDSA P-256 / 端末証明書を読み取れません"
    )]
    BadDeviceCert,
    #[error("device certificate was not issued by the device CA / 端末証明書が端末CAから発行されていません")]
    DeviceCertNotIssuedByDeviceCa,
    #[error("device certificate is expired or not yet valid / 端末証明書の有効期間外です")]
    DeviceCertNotValidNow,
    #[error("device certificate is not a device client certificate (OU, EKU clientAuth, not a CA) / 端末用の証明書ではありません")]
    DeviceCertWrongUsage,
    #[error("device certificate's name does not match the bundle's device ID / 端末証明書の名前と端末IDが一致しません")]
    DeviceCertNameMismatch,
    #[error("bundle is for device {bundle}, this device is {expected} / この端末用のバンドルではありません")]
    NotForThisDevice { bundle: String, expected: String },
    #[error("device certificate's key is not this device's key / 端末証明書の鍵がこの端末の鍵と一致しません")]
    KeyMismatch,
    #[error("bundle was issued in the future (check the clock) / 発行日時が未来です（時計を確認してください）")]
    IssuedInFuture,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    version: u32,
    device_id: String,
    issued_at: u64,
    device_cert: String,
    device_ca_cert: String,
    root_ca_cert: String,
    relay_url: String,
    relay_hpke_public_key: String,
    relay_hpke_key_id: String,
    receipt_public_key: String,
    policy: Policy,
}

/// A device bundle (payload of a signed `device-bundle` document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBundle {
    pub device_id: DeviceId,
    /// Unix seconds.
    pub issued_at: u64,
    pub device_cert_der: Vec<u8>,
    pub device_ca_der: Vec<u8>,
    pub root_ca_der: Vec<u8>,
    pub relay_url: RelayUrl,
    pub relay_public_key: RelayPublicKey,
    pub receipt_public_key: VerifyingKey,
    pub policy: Policy,
}

fn b64(field: &'static str, s: &str) -> Result<Vec<u8>, BundleError> {
    B64.decode(s.as_bytes())
        .map_err(|_| BundleError::BadBase64(field))
}

/// Parses a bundle payload from untrusted bytes (no signature check).
pub fn parse(bytes: &[u8]) -> Result<DeviceBundle, BundleError> {
    DeviceBundle::parse(bytes)
}

impl DeviceBundle {
    /// Parses and checks the payload JSON on its own (no certificate or signature checks).
    pub fn parse(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(BundleError::TooLarge);
        }
        let w: Wire =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
        if w.version != BUNDLE_VERSION {
            return Err(BundleError::UnsupportedVersion);
        }
        let device_id = DeviceId::parse(&w.device_id).map_err(|_| BundleError::BadDeviceId)?;
        if device_id.as_str() != w.device_id {
            // Only the canonical (upper-case) form is signed.
            return Err(BundleError::BadDeviceId);
        }
        let relay_url = RelayUrl::parse(&w.relay_url)?;
        let pk: [u8; KEY_LEN] = b64("relay_hpke_public_key", &w.relay_hpke_public_key)?
            .as_slice()
            .try_into()
            .map_err(|_| BundleError::BadRelayKey)?;
        let key_id =
            KeyId::from_hex(&w.relay_hpke_key_id).map_err(|_| BundleError::BadRelayKeyId)?;
        let relay_public_key = RelayPublicKey::from_bytes_with_id(pk, key_id)
            .map_err(|_| BundleError::BadRelayKeyId)?;
        let receipt_public_key =
            VerifyingKey::from_bytes(&b64("receipt_public_key", &w.receipt_public_key)?)
                .map_err(|_| BundleError::BadReceiptKey)?;
        w.policy.validate()?;
        Ok(Self {
            device_id,
            issued_at: w.issued_at,
            device_cert_der: b64("device_cert", &w.device_cert)?,
            device_ca_der: b64("device_ca_cert", &w.device_ca_cert)?,
            root_ca_der: b64("root_ca_cert", &w.root_ca_cert)?,
            relay_url,
            relay_public_key,
            receipt_public_key,
            policy: w.policy,
        })
    }

    /// The payload JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let w = Wire {
            version: BUNDLE_VERSION,
            device_id: self.device_id.as_str().to_owned(),
            issued_at: self.issued_at,
            device_cert: B64.encode(&self.device_cert_der),
            device_ca_cert: B64.encode(&self.device_ca_der),
            root_ca_cert: B64.encode(&self.root_ca_der),
            relay_url: self.relay_url.to_string(),
            relay_hpke_public_key: B64.encode(self.relay_public_key.as_bytes()),
            relay_hpke_key_id: self.relay_public_key.key_id().to_hex(),
            receipt_public_key: B64.encode(self.receipt_public_key.as_bytes()),
            policy: self.policy.clone(),
        };
        serde_json::to_vec(&w).unwrap_or_default()
    }

    /// Signs the bundle with the device CA key; returns the signed document's JSON.
    pub fn sign(&self, device_ca_key: &SigningKey) -> Result<Vec<u8>, BundleError> {
        let doc = SignedDocument::sign(
            DocumentKind::DeviceBundle,
            self.to_json(),
            vec![self.device_ca_der.clone()],
            device_ca_key,
        )?;
        Ok(doc.to_json())
    }

    /// Verifies a signed bundle: the document signature and chain to `pinned_root_der`,
    /// the payload, that the bundle's root and device CA are the pinned root and the
    /// signer, and that the device certificate is a device client certificate for the
    /// bundle's device ID, issued by the device CA and valid at `now`.
    pub fn verify(
        signed_bytes: &[u8],
        pinned_root_der: &[u8],
        now: u64,
    ) -> Result<Self, BundleError> {
        let doc = SignedDocument::parse(signed_bytes)?;
        let payload = doc.verify(DocumentKind::DeviceBundle, pinned_root_der, now)?;
        let b = Self::parse(payload)?;
        if !crate::ct::eq(&b.root_ca_der, pinned_root_der) {
            return Err(BundleError::RootMismatch);
        }
        if doc.signer_chain().first().map(Vec::as_slice) != Some(b.device_ca_der.as_slice()) {
            return Err(BundleError::DeviceCaMismatch);
        }
        if b.issued_at > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(BundleError::IssuedInFuture);
        }
        b.check_device_cert(now)?;
        Ok(b)
    }

    fn check_device_cert(&self, now: u64) -> Result<(), BundleError> {
        let cert = signed::parse_cert(&self.device_cert_der).ok_or(BundleError::BadDeviceCert)?;
        if !signed::is_ecdsa_p256_sha256(&cert) {
            return Err(BundleError::BadDeviceCert);
        }
        let ca = signed::parse_cert(&self.device_ca_der).ok_or(BundleError::DeviceCaMismatch)?;
        if !signed::issued_by(&cert, &ca) {
            return Err(BundleError::DeviceCertNotIssuedByDeviceCa);
        }
        let at = signed::asn1_time(now)?;
        if !cert.validity().is_valid_at(at) {
            return Err(BundleError::DeviceCertNotValidNow);
        }
        let client_auth = matches!(cert.extended_key_usage(), Ok(Some(e)) if e.value.client_auth);
        let ou = signed::subject_ou(&cert);
        if cert.is_ca() || !client_auth || !matches!(ou, Some(DEVICE_OU | ENROLLMENT_OU)) {
            return Err(BundleError::DeviceCertWrongUsage);
        }
        if signed::subject_cn(&cert) != Some(self.device_id.as_str()) {
            return Err(BundleError::DeviceCertNameMismatch);
        }
        Ok(())
    }

    /// Checks that the bundle is for `device_id` and that its certificate carries
    /// `public_key` (the device's own key).
    pub fn check_device(
        &self,
        device_id: &DeviceId,
        public_key: &VerifyingKey,
    ) -> Result<(), BundleError> {
        if &self.device_id != device_id {
            return Err(BundleError::NotForThisDevice {
                bundle: self.device_id.to_string(),
                expected: device_id.to_string(),
            });
        }
        let cert = signed::parse_cert(&self.device_cert_der).ok_or(BundleError::BadDeviceCert)?;
        let key = signed::p256_public_key(&cert).ok_or(BundleError::BadDeviceCert)?;
        if !crate::ct::eq(key.as_bytes(), public_key.as_bytes()) {
            return Err(BundleError::KeyMismatch);
        }
        Ok(())
    }

    /// Whether the device certificate is an enrollment ticket (OU
    /// [`ENROLLMENT_OU`]): the tablet must replace its key before it takes applications.
    pub fn is_enrollment_ticket(&self) -> bool {
        signed::parse_cert(&self.device_cert_der)
            .is_some_and(|c| signed::subject_ou(&c) == Some(ENROLLMENT_OU))
    }

    /// The device certificate's `notAfter` (unix seconds).
    pub fn device_cert_not_after(&self) -> Option<i64> {
        signed::parse_cert(&self.device_cert_der).map(|c| c.validity().not_after.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        keys::RelaySecretKey,
        signed::test_pki::{self, NOW},
        signed::DEVICE_CA_OU,
    };

    struct F {
        root: test_pki::Ca,
        dca: test_pki::Ca,
        device_key: SigningKey,
        bundle: DeviceBundle,
    }

    fn fixture() -> F {
        let root = test_pki::root(NOW - 1000, NOW + 100_000);
        let dca = test_pki::sub_ca(&root, DEVICE_CA_OU, NOW - 1000, NOW + 50_000);
        let (pkcs8, device_key) = SigningKey::generate().unwrap();
        let cert = test_pki::device_cert(&dca, "TAB-0001", &pkcs8, NOW - 10, NOW + 3000);
        let (_r, receipt) = SigningKey::generate().unwrap();
        let bundle = DeviceBundle {
            device_id: DeviceId::parse("TAB-0001").unwrap(),
            issued_at: NOW,
            device_cert_der: cert,
            device_ca_der: dca.der.clone(),
            root_ca_der: root.der.clone(),
            relay_url: RelayUrl::parse("https://relay.ward.example:8443").unwrap(),
            relay_public_key: RelaySecretKey::generate().public().clone(),
            receipt_public_key: receipt.public_key(),
            policy: Policy::for_profile(Profile::Standard),
        };
        F {
            root,
            dca,
            device_key,
            bundle,
        }
    }

    fn payload_with(b: &DeviceBundle, field: &str, v: serde_json::Value) -> Vec<u8> {
        let mut j: serde_json::Value = serde_json::from_slice(&b.to_json()).unwrap();
        if let Some((a, c)) = field.split_once('.') {
            j[a][c] = v;
        } else {
            j[field] = v;
        }
        serde_json::to_vec(&j).unwrap()
    }

    #[test]
    fn sign_verify_round_trip() {
        let f = fixture();
        let signed = f.bundle.sign(&f.dca.signing_key()).unwrap();
        let b = DeviceBundle::verify(&signed, &f.root.der, NOW).unwrap();
        assert_eq!(b, f.bundle);
        b.check_device(
            &DeviceId::parse("TAB-0001").unwrap(),
            &f.device_key.public_key(),
        )
        .unwrap();
        assert_eq!(
            b.check_device(
                &DeviceId::parse("TAB-0002").unwrap(),
                &f.device_key.public_key()
            ),
            Err(BundleError::NotForThisDevice {
                bundle: "TAB-0001".into(),
                expected: "TAB-0002".into()
            })
        );
        let (_d, other) = SigningKey::generate().unwrap();
        assert_eq!(
            b.check_device(&DeviceId::parse("TAB-0001").unwrap(), &other.public_key()),
            Err(BundleError::KeyMismatch)
        );
        assert_eq!(b.device_cert_not_after(), Some((NOW + 3000) as i64));
    }

    #[test]
    fn every_byte_flip_is_refused() {
        let f = fixture();
        let signed = f.bundle.sign(&f.dca.signing_key()).unwrap();
        // Flip bytes at a spread of positions; none may verify.
        for i in (0..signed.len()).step_by(97) {
            let mut t = signed.clone();
            t[i] ^= 0x01;
            assert!(
                DeviceBundle::verify(&t, &f.root.der, NOW).is_err(),
                "flip at {i} accepted"
            );
        }
    }

    #[test]
    fn payload_field_errors() {
        let f = fixture();
        let b = &f.bundle;
        let p = |field, v| DeviceBundle::parse(&payload_with(b, field, v));
        assert_eq!(p("version", 2.into()), Err(BundleError::UnsupportedVersion));
        assert_eq!(
            p("device_id", "TAB_1".into()),
            Err(BundleError::BadDeviceId)
        );
        assert_eq!(
            p("device_id", "tab-0001".into()),
            Err(BundleError::BadDeviceId)
        );
        assert_eq!(
            p("device_cert", "%%".into()),
            Err(BundleError::BadBase64("device_cert"))
        );
        for u in [
            "http://relay:8443",
            "https://",
            "https://relay:0",
            "https://relay:99999",
            "https://user@relay",
            "https://relay/path",
            "https://relay:8443/x",
            "https://-relay",
            "https://1.2.3",
        ] {
            assert_eq!(
                p("relay_url", u.into()),
                Err(BundleError::BadRelayUrl),
                "{u}"
            );
        }
        assert_eq!(
            p("relay_hpke_public_key", "AAAA".into()),
            Err(BundleError::BadRelayKey)
        );
        assert_eq!(
            p("relay_hpke_key_id", "0011223344556677".into()),
            Err(BundleError::BadRelayKeyId)
        );
        assert_eq!(
            p("relay_hpke_key_id", "xyz".into()),
            Err(BundleError::BadRelayKeyId)
        );
        assert_eq!(
            p("receipt_public_key", "AAAA".into()),
            Err(BundleError::BadReceiptKey)
        );
        assert_eq!(
            p("policy.outbox_max_age_secs", 604_801.into()),
            Err(BundleError::Policy(PolicyError::OutboxMaxAge))
        );
        assert_eq!(
            p("policy.profile", "turbo".into())
                .map(|_| ())
                .map_err(|e| matches!(e, BundleError::Malformed(_))),
            Err(true)
        );
        assert!(matches!(
            p("extra", 1.into()),
            Err(BundleError::Malformed(_))
        ));
        assert!(matches!(
            p("policy.extra", 1.into()),
            Err(BundleError::Malformed(_))
        ));
        // Defaults fill absent policy fields.
        let mut j: serde_json::Value = serde_json::from_slice(&b.to_json()).unwrap();
        j["policy"] = serde_json::json!({"profile": "express"});
        let parsed = DeviceBundle::parse(&serde_json::to_vec(&j).unwrap()).unwrap();
        assert_eq!(parsed.policy, Policy::for_profile(Profile::Express));
    }

    #[test]
    fn consistency_errors() {
        let f = fixture();
        let key = f.dca.signing_key();
        let sign = |b: &DeviceBundle| b.sign(&key).unwrap();
        // Root in bundle is not the pinned root.
        let other_root = test_pki::root(NOW - 1000, NOW + 100_000);
        let mut b = f.bundle.clone();
        b.root_ca_der = other_root.der.clone();
        assert_eq!(
            DeviceBundle::verify(&sign(&b), &f.root.der, NOW),
            Err(BundleError::RootMismatch)
        );
        // Device cert from another CA.
        let other_dca = test_pki::sub_ca(&f.root, DEVICE_CA_OU, NOW - 10, NOW + 10_000);
        let (pk8, _k) = SigningKey::generate().unwrap();
        let mut b = f.bundle.clone();
        b.device_cert_der = test_pki::device_cert(&other_dca, "TAB-0001", &pk8, NOW - 10, NOW + 10);
        assert_eq!(
            DeviceBundle::verify(&sign(&b), &f.root.der, NOW),
            Err(BundleError::DeviceCertNotIssuedByDeviceCa)
        );
        // Expired device cert.
        let mut b = f.bundle.clone();
        b.device_cert_der = test_pki::device_cert(&f.dca, "TAB-0001", &pk8, NOW - 100, NOW - 10);
        assert_eq!(
            DeviceBundle::verify(&sign(&b), &f.root.der, NOW),
            Err(BundleError::DeviceCertNotValidNow)
        );
        // Name mismatch.
        let mut b = f.bundle.clone();
        b.device_cert_der = test_pki::device_cert(&f.dca, "TAB-0002", &pk8, NOW - 100, NOW + 10);
        assert_eq!(
            DeviceBundle::verify(&sign(&b), &f.root.der, NOW),
            Err(BundleError::DeviceCertNameMismatch)
        );
        // Garbage device cert.
        let mut b = f.bundle.clone();
        b.device_cert_der = vec![1, 2, 3];
        assert_eq!(
            DeviceBundle::verify(&sign(&b), &f.root.der, NOW),
            Err(BundleError::BadDeviceCert)
        );
        // Issued in the future.
        let mut b = f.bundle.clone();
        b.issued_at = NOW + 10_000;
        assert_eq!(
            DeviceBundle::verify(&sign(&b), &f.root.der, NOW),
            Err(BundleError::IssuedInFuture)
        );
        // Bundle's device CA field differs from the signer.
        let mut b = f.bundle.clone();
        b.device_ca_der = other_dca.der.clone();
        let doc = SignedDocument::sign(
            DocumentKind::DeviceBundle,
            b.to_json(),
            vec![f.dca.der.clone()],
            &key,
        )
        .unwrap()
        .to_json();
        assert_eq!(
            DeviceBundle::verify(&doc, &f.root.der, NOW),
            Err(BundleError::DeviceCaMismatch)
        );
        // A staff-list document is not a bundle.
        let doc = SignedDocument::sign(
            DocumentKind::StaffList,
            f.bundle.to_json(),
            vec![f.dca.der.clone()],
            &key,
        )
        .unwrap()
        .to_json();
        assert!(matches!(
            DeviceBundle::verify(&doc, &f.root.der, NOW),
            Err(BundleError::Document(SignedError::WrongKind { .. }))
        ));
    }

    #[test]
    fn relay_url_forms() {
        let u = RelayUrl::parse("https://Relay.Ward.example").unwrap();
        assert_eq!((u.host(), u.port()), ("relay.ward.example", 443));
        assert_eq!(u.to_string(), "https://relay.ward.example:443");
        let u = RelayUrl::parse("https://10.0.0.5:8443/").unwrap();
        assert_eq!((u.host(), u.port()), ("10.0.0.5", 8443));
        assert!(RelayUrl::parse("https://[::1]:8443").is_err());
    }
}
