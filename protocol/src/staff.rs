//! The staff list: who may log in to the tablets, with PBKDF2 password hashes.
//!
//! Carried as the payload of a [`crate::signed`] document of kind `staff-list`, signed
//! by the device CA. The payload is JSON (unknown fields refused):
//!
//! ```json
//! {
//!   "version": 1,
//!   "sequence": 7,
//!   "issued_at": 1760000000,
//!   "expires_at": 1762592000,
//!   "entries": [
//!     { "staff_id": "tanaka.h", "disabled": false, "kdf": "pbkdf2-hmac-sha256",
//!       "iterations": 600000, "salt": "<base64, 16..=64 bytes>", "hash": "<base64, 32 bytes>" }
//!   ]
//! }
//! ```
//!
//! Rules enforced by [`StaffList::parse`]: version 1; `issued_at < expires_at`; at most
//! [`MAX_ENTRIES`] entries with distinct staff IDs; staff IDs match
//! `[A-Za-z0-9._-]{1,32}`; kdf is `pbkdf2-hmac-sha256` with
//! [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`] iterations; salt 16..=64 bytes; hash 32 bytes.
//! [`StaffList::verify`] also refuses a list that is expired, issued in the future, or
//! older (lower `sequence`) than the one installed.
//!
//! Password rules ([`check_password_policy`]): 12 to 128 characters; at least two of
//! the classes lower-case letter, upper-case letter, digit, other (symbols, spaces,
//! non-ASCII such as kana); not a single repeated character; must not contain the staff
//! ID (case-insensitive). Lock-out after failed logins is the device policy's
//! `lockout_threshold` (default 5), enforced by the agent.

use std::num::NonZeroU32;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use ring::{pbkdf2, rand::SecureRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{
    bundle::MAX_CLOCK_SKEW_SECS,
    keys::SigningKey,
    signed::{DocumentKind, SignedDocument, SignedError, MAX_DOCUMENT_LEN},
};

/// The only staff list version.
pub const STAFF_LIST_VERSION: u32 = 1;
/// The only key derivation function.
pub const KDF_PBKDF2_HMAC_SHA256: &str = "pbkdf2-hmac-sha256";
/// Fewest PBKDF2 iterations accepted (OWASP 2023 recommendation for PBKDF2-HMAC-SHA256).
pub const MIN_ITERATIONS: u32 = 600_000;
/// Most PBKDF2 iterations accepted (bounds the work a hostile list can cause).
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Salt length bounds, in bytes.
pub const MIN_SALT_LEN: usize = 16;
pub const MAX_SALT_LEN: usize = 64;
/// Hash length, in bytes.
pub const HASH_LEN: usize = 32;
/// Most entries in a list.
pub const MAX_ENTRIES: usize = 1000;
/// Longest staff ID.
pub const MAX_STAFF_ID_LEN: usize = 32;
/// Password length bounds, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;

static ALG: pbkdf2::Algorithm = pbkdf2::PBKDF2_HMAC_SHA256;

/// A staff member's login ID: `[A-Za-z0-9._-]{1,32}`, case-sensitive. Not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StaffId(String);

impl StaffId {
    pub fn parse(s: &str) -> Result<Self, StaffError> {
        if s.is_empty()
            || s.len() > MAX_STAFF_ID_LEN
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(StaffError::BadStaffId);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StaffId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a staff list (or an entry) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffError {
    #[error("{0}")]
    Document(#[from] SignedError),
    #[error("staff list is larger than {MAX_DOCUMENT_LEN} bytes / 職員リストが大きすぎます")]
    TooLarge,
    #[error(
        "staff list is not valid JSON of the expected shape: {0} / 職員リストの形式が不正です"
    )]
    Malformed(String),
    #[error("unsupported staff list version / 未対応の職員リストのバージョンです")]
    UnsupportedVersion,
    #[error("staff ID must be 1-32 characters of A-Z a-z 0-9 . _ - / 職員IDが不正です（英数字と . _ - で1〜32文字）")]
    BadStaffId,
    #[error("duplicate staff ID {0} / 職員IDが重複しています")]
    DuplicateStaffId(String),
    #[error("too many entries (max {MAX_ENTRIES}) / 職員が多すぎます")]
    TooManyEntries,
    #[error("unsupported key derivation function / 未対応のパスワード方式です")]
    UnsupportedKdf,
    #[error(
        "PBKDF2 iterations must be {MIN_ITERATIONS}..={MAX_ITERATIONS} / 反復回数が範囲外です"
    )]
    BadIterations,
    #[error("salt must be {MIN_SALT_LEN}..={MAX_SALT_LEN} bytes of base64 / ソルトが不正です")]
    BadSalt,
    #[error("hash must be {HASH_LEN} bytes of base64 / ハッシュが不正です")]
    BadHash,
    #[error("issued_at must be before expires_at / 発行日時と有効期限が不正です")]
    BadValidity,
    #[error("staff list has expired; publish a new one / 職員リストの有効期限が切れています。新しいリストを配布してください")]
    Expired,
    #[error("staff list was issued in the future (check the clock) / 職員リストの発行日時が未来です（時計を確認してください）")]
    IssuedInFuture,
    #[error("staff list sequence {offered} is older than the installed {installed} / 職員リストが古いため拒否しました（{offered} < {installed}）")]
    RolledBack { offered: u64, installed: u64 },
    #[error("random number generator failed / 乱数の生成に失敗しました")]
    Rng,
}

/// Why a password was refused by the password rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters / パスワードは{MIN_PASSWORD_CHARS}文字以上にしてください")]
    TooShort,
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters / パスワードは{MAX_PASSWORD_CHARS}文字以下にしてください")]
    TooLong,
    #[error("password must mix at least two of: lower case, upper case, digits, other characters / パスワードには英小文字・英大文字・数字・記号等のうち2種類以上を含めてください")]
    OneClass,
    #[error("password must not be one repeated character / 同じ文字の繰り返しは使えません")]
    Repeated,
    #[error("password must not contain the staff ID / パスワードに職員IDを含めないでください")]
    ContainsStaffId,
    #[error("password must not contain control characters / パスワードに制御文字は使えません")]
    ControlCharacter,
}

/// Why a login failed. Deliberately says nothing about whether the ID exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("staff ID or password is wrong / 職員IDまたはパスワードが違います")]
    InvalidCredentials,
    #[error("this staff account is disabled / この職員アカウントは無効です")]
    Disabled,
}

/// Checks a new password against the password rules (see the module documentation).
pub fn check_password_policy(
    staff_id: &StaffId,
    password: &str,
) -> Result<(), PasswordPolicyError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooShort);
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooLong);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordPolicyError::ControlCharacter);
    }
    let mut first = password.chars();
    if let Some(c0) = first.next() {
        if first.all(|c| c == c0) {
            return Err(PasswordPolicyError::Repeated);
        }
    }
    let (mut lo, mut up, mut dg, mut ot) = (false, false, false, false);
    for c in password.chars() {
        if c.is_ascii_lowercase() {
            lo = true;
        } else if c.is_ascii_uppercase() {
            up = true;
        } else if c.is_ascii_digit() {
            dg = true;
        } else {
            ot = true;
        }
    }
    if [lo, up, dg, ot].iter().filter(|b| **b).count() < 2 {
        return Err(PasswordPolicyError::OneClass);
    }
    if password
        .to_ascii_lowercase()
        .contains(&staff_id.as_str().to_ascii_lowercase())
    {
        return Err(PasswordPolicyError::ContainsStaffId);
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryWire {
    staff_id: String,
    disabled: bool,
    kdf: String,
    iterations: u32,
    salt: String,
    hash: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListWire {
    version: u32,
    sequence: u64,
    issued_at: u64,
    expires_at: u64,
    entries: Vec<EntryWire>,
}

/// One staff account. The hash is not shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffEntry {
    pub staff_id: StaffId,
    pub disabled: bool,
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: [u8; HASH_LEN],
}

impl std::fmt::Debug for StaffEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffEntry")
            .field("staff_id", &self.staff_id)
            .field("disabled", &self.disabled)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl StaffEntry {
    /// Hashes `password` with a fresh 16-byte random salt. The password rules are the
    /// caller's to check first ([`check_password_policy`]).
    pub fn new(staff_id: StaffId, password: &[u8], iterations: u32) -> Result<Self, StaffError> {
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(StaffError::BadIterations);
        }
        let iterations = NonZeroU32::new(iterations).ok_or(StaffError::BadIterations)?;
        let mut salt = vec![0u8; MIN_SALT_LEN];
        ring::rand::SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| StaffError::Rng)?;
        let mut hash = [0u8; HASH_LEN];
        pbkdf2::derive(ALG, iterations, &salt, password, &mut hash);
        Ok(Self {
            staff_id,
            disabled: false,
            iterations,
            salt,
            hash,
        })
    }

    pub fn iterations(&self) -> u32 {
        self.iterations.get()
    }

    fn from_wire(w: EntryWire) -> Result<Self, StaffError> {
        let staff_id = StaffId::parse(&w.staff_id)?;
        if w.kdf != KDF_PBKDF2_HMAC_SHA256 {
            return Err(StaffError::UnsupportedKdf);
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&w.iterations) {
            return Err(StaffError::BadIterations);
        }
        let iterations = NonZeroU32::new(w.iterations).ok_or(StaffError::BadIterations)?;
        let salt = B64
            .decode(w.salt.as_bytes())
            .map_err(|_| StaffError::BadSalt)?;
        if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt.len()) {
            return Err(StaffError::BadSalt);
        }
        let hash: [u8; HASH_LEN] = B64
            .decode(w.hash.as_bytes())
            .map_err(|_| StaffError::BadHash)?
            .as_slice()
            .try_into()
            .map_err(|_| StaffError::BadHash)?;
        Ok(Self {
            staff_id,
            disabled: w.disabled,
            iterations,
            salt,
            hash,
        })
    }

    fn to_wire(&self) -> EntryWire {
        EntryWire {
            staff_id: self.staff_id.0.clone(),
            disabled: self.disabled,
            kdf: KDF_PBKDF2_HMAC_SHA256.to_owned(),
            iterations: self.iterations.get(),
            salt: B64.encode(&self.salt),
            hash: B64.encode(self.hash),
        }
    }

    /// Constant-time check of a password against this entry (ignores `disabled`).
    fn password_matches(&self, password: &[u8]) -> bool {
        pbkdf2::verify(ALG, self.iterations, &self.salt, password, &self.hash).is_ok()
    }

    /// Serializes one entry as JSON (for the provisioning tool's own staff database).
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(self.to_wire()).unwrap_or(serde_json::Value::Null)
    }

    /// Parses one entry from JSON (same rules as in a list).
    pub fn from_json_value(v: serde_json::Value) -> Result<Self, StaffError> {
        let w: EntryWire =
            serde_json::from_value(v).map_err(|e| StaffError::Malformed(e.to_string()))?;
        Self::from_wire(w)
    }
}

/// A staff list (payload of a signed `staff-list` document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffList {
    /// Monotonic; a device refuses a list with a lower sequence than the installed one.
    pub sequence: u64,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds; the list is refused from this time on.
    pub expires_at: u64,
    pub entries: Vec<StaffEntry>,
}

/// Parses a staff list payload from untrusted bytes (no signature or time check).
pub fn parse(bytes: &[u8]) -> Result<StaffList, StaffError> {
    StaffList::parse(bytes)
}

impl StaffList {
    /// Parses and checks the payload JSON on its own.
    pub fn parse(bytes: &[u8]) -> Result<Self, StaffError> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(StaffError::TooLarge);
        }
        let w: ListWire =
            serde_json::from_slice(bytes).map_err(|e| StaffError::Malformed(e.to_string()))?;
        if w.version != STAFF_LIST_VERSION {
            return Err(StaffError::UnsupportedVersion);
        }
        if w.issued_at >= w.expires_at {
            return Err(StaffError::BadValidity);
        }
        if w.entries.len() > MAX_ENTRIES {
            return Err(StaffError::TooManyEntries);
        }
        let mut entries = Vec::with_capacity(w.entries.len());
        let mut seen = std::collections::BTreeSet::new();
        for e in w.entries {
            let e = StaffEntry::from_wire(e)?;
            if !seen.insert(e.staff_id.clone()) {
                return Err(StaffError::DuplicateStaffId(e.staff_id.0));
            }
            entries.push(e);
        }
        Ok(Self {
            sequence: w.sequence,
            issued_at: w.issued_at,
            expires_at: w.expires_at,
            entries,
        })
    }

    /// The payload JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let w = ListWire {
            version: STAFF_LIST_VERSION,
            sequence: self.sequence,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            entries: self.entries.iter().map(StaffEntry::to_wire).collect(),
        };
        serde_json::to_vec(&w).unwrap_or_default()
    }

    /// Signs the list with the device CA key; returns the signed document's JSON.
    pub fn sign(&self, device_ca_der: &[u8], key: &SigningKey) -> Result<Vec<u8>, StaffError> {
        let doc = SignedDocument::sign(
            DocumentKind::StaffList,
            self.to_json(),
            vec![device_ca_der.to_vec()],
            key,
        )?;
        Ok(doc.to_json())
    }

    /// Verifies a signed staff list against the pinned root at `now`, and refuses one
    /// whose sequence is lower than `installed_sequence`.
    pub fn verify(
        signed_bytes: &[u8],
        pinned_root_der: &[u8],
        now: u64,
        installed_sequence: Option<u64>,
    ) -> Result<Self, StaffError> {
        let doc = SignedDocument::parse(signed_bytes)?;
        let payload = doc.verify(DocumentKind::StaffList, pinned_root_der, now)?;
        let list = Self::parse(payload)?;
        if now >= list.expires_at {
            return Err(StaffError::Expired);
        }
        if list.issued_at > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(StaffError::IssuedInFuture);
        }
        if let Some(installed) = installed_sequence {
            if list.sequence < installed {
                return Err(StaffError::RolledBack {
                    offered: list.sequence,
                    installed,
                });
            }
        }
        Ok(list)
    }

    /// Checks a login. Runs one PBKDF2 whatever the outcome (a dummy one for unknown or
    /// malformed IDs), so the time taken does not reveal whether an ID exists. A disabled
    /// account is reported as such only after its password was verified.
    pub fn verify_password(&self, staff_id: &str, password: &[u8]) -> Result<(), LoginError> {
        let entry = StaffId::parse(staff_id)
            .ok()
            .and_then(|id| self.entries.iter().find(|e| e.staff_id == id));
        match entry {
            Some(e) => {
                if !e.password_matches(password) {
                    return Err(LoginError::InvalidCredentials);
                }
                if e.disabled {
                    return Err(LoginError::Disabled);
                }
                Ok(())
            }
            None => {
                let iterations = self
                    .entries
                    .first()
                    .map(|e| e.iterations)
                    .or(NonZeroU32::new(MIN_ITERATIONS))
                    .unwrap_or(NonZeroU32::MIN);
                let mut out = Zeroizing::new([0u8; HASH_LEN]);
                pbkdf2::derive(
                    ALG,
                    iterations,
                    &[0u8; MIN_SALT_LEN],
                    password,
                    &mut out[..],
                );
                Err(LoginError::InvalidCredentials)
            }
        }
    }

    /// The entry for `staff_id`, if any.
    pub fn entry(&self, staff_id: &StaffId) -> Option<&StaffEntry> {
        self.entries.iter().find(|e| &e.staff_id == staff_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signed::{
        test_pki::{self, NOW},
        DEVICE_CA_OU,
    };

    fn id(s: &str) -> StaffId {
        StaffId::parse(s).unwrap()
    }

    fn list_with(entries: Vec<StaffEntry>) -> StaffList {
        StaffList {
            sequence: 3,
            issued_at: NOW - 100,
            expires_at: NOW + 1000,
            entries,
        }
    }

    #[test]
    fn password_verify_constant_time_paths() {
        // Two hashes only: PBKDF2 at 600k iterations is slow in debug builds.
        let a = StaffEntry::new(id("tanaka.h"), b"Correct-Horse-9", MIN_ITERATIONS).unwrap();
        let mut b = StaffEntry::new(id("sato_k"), b"Another-Pass-77", MIN_ITERATIONS).unwrap();
        b.disabled = true;
        let list = list_with(vec![a, b]);
        assert_eq!(list.verify_password("tanaka.h", b"Correct-Horse-9"), Ok(()));
        assert_eq!(
            list.verify_password("tanaka.h", b"Correct-Horse-8"),
            Err(LoginError::InvalidCredentials)
        );
        assert_eq!(
            list.verify_password("nobody", b"Correct-Horse-9"),
            Err(LoginError::InvalidCredentials)
        );
        assert_eq!(
            list.verify_password("bad id!", b"x"),
            Err(LoginError::InvalidCredentials)
        );
        assert_eq!(
            list.verify_password("sato_k", b"Another-Pass-77"),
            Err(LoginError::Disabled)
        );
        assert_eq!(
            list.verify_password("sato_k", b"wrong"),
            Err(LoginError::InvalidCredentials)
        );
        assert!(!format!("{:?}", list).contains("hash:"));
    }

    #[test]
    fn password_policy() {
        let sid = id("tanaka");
        let ok = |p: &str| check_password_policy(&sid, p);
        assert_eq!(ok("short1A"), Err(PasswordPolicyError::TooShort));
        assert_eq!(ok(&"aB3".repeat(43)), Err(PasswordPolicyError::TooLong));
        assert_eq!(ok("aaaaaaaaaaaaaa"), Err(PasswordPolicyError::Repeated));
        assert_eq!(ok("abcdefghijklmn"), Err(PasswordPolicyError::OneClass));
        assert_eq!(ok("12345678901234"), Err(PasswordPolicyError::OneClass));
        assert_eq!(
            ok("xxTANAKAxx12345"),
            Err(PasswordPolicyError::ContainsStaffId)
        );
        assert_eq!(
            ok("abc\ndefghij123"),
            Err(PasswordPolicyError::ControlCharacter)
        );
        assert_eq!(ok("correct horse battery"), Ok(()));
        assert_eq!(ok("さくらさくら2025年度"), Ok(()));
        assert_eq!(ok("Pa55word-long!"), Ok(()));
    }

    #[test]
    fn staff_id_rules() {
        assert!(StaffId::parse("a.b_c-D9").is_ok());
        assert_eq!(StaffId::parse(""), Err(StaffError::BadStaffId));
        assert_eq!(StaffId::parse(&"a".repeat(33)), Err(StaffError::BadStaffId));
        assert_eq!(StaffId::parse("a b"), Err(StaffError::BadStaffId));
        assert_eq!(StaffId::parse("田中"), Err(StaffError::BadStaffId));
    }

    fn entry_json() -> serde_json::Value {
        serde_json::json!({
            "staff_id": "tanaka", "disabled": false, "kdf": KDF_PBKDF2_HMAC_SHA256,
            "iterations": MIN_ITERATIONS, "salt": B64.encode([1u8; 16]), "hash": B64.encode([2u8; 32])
        })
    }

    fn list_json(entries: Vec<serde_json::Value>) -> serde_json::Value {
        serde_json::json!({"version": 1, "sequence": 1, "issued_at": 10, "expires_at": 20, "entries": entries})
    }

    #[test]
    fn parse_field_errors() {
        let p = |v: serde_json::Value| StaffList::parse(&serde_json::to_vec(&v).unwrap());
        assert!(p(list_json(vec![entry_json()])).is_ok());
        let with = |f: &str, v: serde_json::Value| {
            let mut e = entry_json();
            e[f] = v;
            p(list_json(vec![e]))
        };
        assert_eq!(
            with("kdf", "argon2id".into()),
            Err(StaffError::UnsupportedKdf)
        );
        assert_eq!(
            with("iterations", 599_999.into()),
            Err(StaffError::BadIterations)
        );
        assert_eq!(
            with("iterations", 10_000_001.into()),
            Err(StaffError::BadIterations)
        );
        assert_eq!(
            with("salt", B64.encode([1u8; 15]).into()),
            Err(StaffError::BadSalt)
        );
        assert_eq!(with("salt", "**".into()), Err(StaffError::BadSalt));
        assert_eq!(
            with("hash", B64.encode([1u8; 31]).into()),
            Err(StaffError::BadHash)
        );
        assert_eq!(
            with("staff_id", "no way".into()),
            Err(StaffError::BadStaffId)
        );
        assert!(matches!(
            with("extra", 1.into()),
            Err(StaffError::Malformed(_))
        ));
        assert_eq!(
            p(list_json(vec![entry_json(), entry_json()])),
            Err(StaffError::DuplicateStaffId("tanaka".into()))
        );
        let mut l = list_json(vec![]);
        l["version"] = 2.into();
        assert_eq!(p(l), Err(StaffError::UnsupportedVersion));
        let mut l = list_json(vec![]);
        l["expires_at"] = 10.into();
        assert_eq!(p(l), Err(StaffError::BadValidity));
        let mut l = list_json(vec![]);
        l["entries"] = serde_json::Value::Array(vec![entry_json(); MAX_ENTRIES + 1]);
        assert_eq!(p(l), Err(StaffError::TooManyEntries));
        // Round trip of an entry through the provisioning tool's form.
        let e = StaffEntry::from_json_value(entry_json()).unwrap();
        assert_eq!(StaffEntry::from_json_value(e.to_json_value()).unwrap(), e);
    }

    #[test]
    fn signed_list_checks() {
        let root = test_pki::root(NOW - 1000, NOW + 100_000);
        let dca = test_pki::sub_ca(&root, DEVICE_CA_OU, NOW - 1000, NOW + 50_000);
        let e = StaffEntry::from_json_value(entry_json()).unwrap();
        let list = list_with(vec![e]);
        let signed = list.sign(&dca.der, &dca.signing_key()).unwrap();
        assert_eq!(
            StaffList::verify(&signed, &root.der, NOW, Some(3)).unwrap(),
            list
        );
        assert_eq!(
            StaffList::verify(&signed, &root.der, NOW, None).unwrap(),
            list
        );
        assert_eq!(
            StaffList::verify(&signed, &root.der, NOW, Some(4)),
            Err(StaffError::RolledBack {
                offered: 3,
                installed: 4
            })
        );
        assert_eq!(
            StaffList::verify(&signed, &root.der, NOW + 1000, None),
            Err(StaffError::Expired)
        );
        let mut future = list.clone();
        future.issued_at = NOW + 900;
        let s = future.sign(&dca.der, &dca.signing_key()).unwrap();
        assert_eq!(
            StaffList::verify(&s, &root.der, NOW, None),
            Err(StaffError::IssuedInFuture)
        );
        // Unsigned: a bare payload is not a signed document.
        assert!(matches!(
            StaffList::verify(&list.to_json(), &root.der, NOW, None),
            Err(StaffError::Document(SignedError::Malformed(_)))
        ));
        // Tampered payload.
        let mut doc = SignedDocument::parse(&signed).unwrap().to_json();
        let pos = doc.len() / 3;
        doc[pos] ^= 0x01;
        assert!(StaffList::verify(&doc, &root.der, NOW, None).is_err());
    }
}
