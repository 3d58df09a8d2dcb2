//! The agent's tamper-evident operation log.
//!
//! `audit.log` holds one JSON object a line ([`Entry`], the wire type of
//! `shinsei_protocol::audit`). Each entry carries `prev`, the hash of the entry before
//! it, and its own `hash` (SHA-256 over the entry), so the relay can check the chain;
//! each upload's last entry is signed with the device key. `audit.anchor` names the
//! last entry the relay acknowledged (pruned here), `audit.head` the last appended;
//! once anything was written, both must agree with the log ([`AuditLog::verify`]
//! detects a modified, removed, inserted or reordered entry, a truncated tail and a
//! deleted head). The relay's own anchor is the one a thief with the disk cannot move.
//!
//! Bounded growth: failed and locked-out logins (what anyone at the login screen can
//! cause, as often as they like) are coalesced into one pending entry with a count
//! and a time range (`audit.pending`), written out when anything else happens or
//! before a shipment.
//!
//! No personal data: staff IDs (only those on the staff list; "unknown" otherwise),
//! envelope IDs, counts and reasons only. An application is referred to by
//! [`AuditLog::app_ref`], a keyed hash of its ID (`audit.key`: not reversible without
//! the key, and not linkable across tablets).

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ring::hmac;
use serde::{Deserialize, Serialize};
use shinsei_protocol::api::DeviceState;
use shinsei_protocol::audit::{self as wire, GENESIS};
use shinsei_protocol::envelope::EnvelopeId;

use crate::error::{AgentError, Result};
use crate::fsutil;

/// One log entry (the wire type).
pub use shinsei_protocol::audit::Entry;

/// The staff ID written for a login attempt with an ID that is not on the staff list
/// (what was typed is never written: it may be a password typed into the wrong field).
pub const UNKNOWN_STAFF: &str = "unknown";

/// A keyed reference to an application ([`AuditLog::app_ref`]): the only way an
/// application appears in the log. Made only by the log's key, never from an ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRef(String);

impl AppRef {
    /// The reference as written in the log (24 hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why the tablet wiped itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WipeReason {
    /// The offline lease ran out.
    OfflineLease,
    /// IT ordered it.
    Remote,
}

impl WipeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WipeReason::OfflineLease => "offline lease expired",
            WipeReason::Remote => "remote wipe",
        }
    }
}

/// Why a supervisor set the photo checks aside (the fixed list the clerk chooses
/// from; J-LIS accepts such photos with these circumstances, e.g. an infant held by a
/// parent whose hands or face show).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideReason {
    /// An infant or small child held or supported by a parent.
    Infant,
    /// A disability or illness: the head cannot be held straight or still.
    Disability,
    /// Head covering for medical or religious reasons.
    HeadCovering,
    /// Another reason the supervisor judged acceptable.
    Other,
}

impl OverrideReason {
    /// Every reason, in the order offered.
    pub const ALL: [OverrideReason; 4] = [
        OverrideReason::Infant,
        OverrideReason::Disability,
        OverrideReason::HeadCovering,
        OverrideReason::Other,
    ];

    /// The stable name written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideReason::Infant => "infant",
            OverrideReason::Disability => "disability",
            OverrideReason::HeadCovering => "head_covering",
            OverrideReason::Other => "other",
        }
    }
}

/// What happened, as a type: every variant carries only staff IDs, envelope IDs,
/// [`AppRef`]s, device states, counts, times and fixed reasons, so no caller can put
/// an application's content (ID, name, PIN, photo) into the log. The log fills in the
/// sequence number, the time and the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditEvent<'a> {
    Login {
        staff: &'a str,
    },
    /// A failed login; `why` is the failure's kind ([`crate::error::AgentError::kind`],
    /// never the password).
    LoginFailed {
        staff: &'a str,
        why: &'static str,
    },
    Lockout {
        staff: &'a str,
        secs: u64,
    },
    Logout {
        staff: &'a str,
    },
    Scan {
        staff: &'a str,
        app_ref: AppRef,
    },
    Capture {
        staff: &'a str,
    },
    /// The clerk started the audio guidance for an applicant (issue 22): that it was
    /// used, by whose session, and nothing else (no language, no key, no prompt).
    Guidance {
        staff: &'a str,
    },
    /// A supervisor (another staff member, who logged in for it) set the photo checks
    /// aside. No photo, no application ID: who, who approved, and why.
    PhotoOverride {
        staff: &'a str,
        supervisor: &'a str,
        reason: OverrideReason,
    },
    Seal {
        staff: &'a str,
        envelope: EnvelopeId,
        app_ref: AppRef,
    },
    Receipt {
        envelope: EnvelopeId,
        received_at: u64,
    },
    /// The relay refused an envelope: its HTTP status and error code (reduced to
    /// `[a-z0-9_]`, at most 48 characters).
    SendRefused {
        envelope: EnvelopeId,
        status: u16,
        code: &'a str,
    },
    /// One pass over the outbox.
    Send {
        delivered: usize,
        pending: usize,
        refused: usize,
    },
    OutboxExpired {
        envelope: EnvelopeId,
    },
    /// IT enabled or disabled the tablet.
    StateChanged {
        from: DeviceState,
        to: DeviceState,
    },
    Wipe {
        reason: WipeReason,
    },
    /// A renewed certificate (IT's signed bundle, verified) was installed.
    CertificateRenewed {
        not_after: u64,
    },
    /// A newer signed staff list from the relay was verified and installed.
    StaffListInstalled {
        sequence: u64,
    },
}

impl AuditEvent<'_> {
    /// The event's name in the log.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::Login { .. } => "login",
            AuditEvent::LoginFailed { .. } => "login_failed",
            AuditEvent::Lockout { .. } => "lockout",
            AuditEvent::Logout { .. } => "logout",
            AuditEvent::Scan { .. } => "scan",
            AuditEvent::Capture { .. } => "capture",
            AuditEvent::Guidance { .. } => "guidance",
            AuditEvent::PhotoOverride { .. } => "photo_override",
            AuditEvent::Seal { .. } => "seal",
            AuditEvent::Receipt { .. } => "receipt",
            AuditEvent::SendRefused { .. } => "send_refused",
            AuditEvent::Send { .. } => "send",
            AuditEvent::OutboxExpired { .. } => "outbox_expired",
            AuditEvent::StateChanged { to, .. } => {
                if *to == DeviceState::Active {
                    "enable"
                } else {
                    "disable"
                }
            }
            AuditEvent::Wipe { .. } => "wipe",
            AuditEvent::CertificateRenewed { .. } => "certificate_renewed",
            AuditEvent::StaffListInstalled { .. } => "staff_list_installed",
        }
    }

    /// The log line's fields (unchanged format: `event`, `staff`, `envelope`,
    /// `app_ref`, `detail`).
    fn fields(&self) -> Fields {
        let mut f = Fields::default();
        match self {
            AuditEvent::Login { staff }
            | AuditEvent::Logout { staff }
            | AuditEvent::Capture { staff }
            | AuditEvent::Guidance { staff } => f.staff = Some(staff.to_string()),
            AuditEvent::PhotoOverride {
                staff,
                supervisor,
                reason,
            } => {
                f.staff = Some(staff.to_string());
                f.detail = Some(format!("approved by {supervisor}: {}", reason.as_str()));
            }
            AuditEvent::LoginFailed { staff, why } => {
                f.staff = Some(staff.to_string());
                f.detail = Some((*why).to_string());
            }
            AuditEvent::Lockout { staff, secs } => {
                f.staff = Some(staff.to_string());
                f.detail = Some(format!("locked for {secs} s"));
            }
            AuditEvent::Scan { staff, app_ref } => {
                f.staff = Some(staff.to_string());
                f.app_ref = Some(app_ref.0.clone());
            }
            AuditEvent::Seal {
                staff,
                envelope,
                app_ref,
            } => {
                f.staff = Some(staff.to_string());
                f.envelope = Some(envelope.to_hex());
                f.app_ref = Some(app_ref.0.clone());
            }
            AuditEvent::Receipt {
                envelope,
                received_at,
            } => {
                f.envelope = Some(envelope.to_hex());
                f.detail = Some(format!("received_at {received_at}"));
            }
            AuditEvent::SendRefused {
                envelope,
                status,
                code,
            } => {
                let code: String = code
                    .chars()
                    .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .take(48)
                    .collect();
                f.envelope = Some(envelope.to_hex());
                f.detail = Some(format!("refused {status} {code}"));
            }
            AuditEvent::Send {
                delivered,
                pending,
                refused,
            } => {
                f.detail = Some(format!(
                    "delivered {delivered} pending {pending} refused {refused}"
                ))
            }
            AuditEvent::OutboxExpired { envelope } => f.envelope = Some(envelope.to_hex()),
            AuditEvent::StateChanged { from, to } => f.detail = Some(format!("{from} -> {to}")),
            AuditEvent::Wipe { reason } => f.detail = Some(reason.as_str().into()),
            AuditEvent::CertificateRenewed { not_after } => {
                f.detail = Some(format!("until {not_after}"));
            }
            AuditEvent::StaffListInstalled { sequence } => {
                f.detail = Some(format!("sequence {sequence}"));
            }
        }
        f
    }
}

#[derive(Default)]
struct Fields {
    staff: Option<String>,
    envelope: Option<String>,
    app_ref: Option<String>,
    detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MarkFile", into = "MarkFile")]
struct Mark {
    seq: u64,
    hash: [u8; 32],
}

/// A mark as written: `{"seq":N,"hash":"64 hex digits"}`.
#[derive(Serialize, Deserialize)]
struct MarkFile {
    seq: u64,
    hash: String,
}

impl From<Mark> for MarkFile {
    fn from(m: Mark) -> Self {
        Self {
            seq: m.seq,
            hash: hex::encode(m.hash),
        }
    }
}

impl TryFrom<MarkFile> for Mark {
    type Error = hex::FromHexError;
    fn try_from(m: MarkFile) -> std::result::Result<Self, Self::Error> {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&m.hash, &mut hash)?;
        Ok(Self { seq: m.seq, hash })
    }
}

const START: Mark = Mark {
    seq: 0,
    hash: GENESIS,
};

/// Repeated login failures (or lock-out refusals) waiting to be written as one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    /// `login_failed` or `lockout`.
    event: String,
    first_at: u64,
    last_at: u64,
    count: u64,
    /// The longest lock-out wait announced (lock-outs only).
    max_wait_secs: u64,
    /// Staff IDs involved (on the staff list, or [`UNKNOWN_STAFF`]), at most 8.
    staff: BTreeSet<String>,
}

const PENDING_STAFF_MAX: usize = 8;

/// What became of an appended event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Chained and fsync'd: the entry as written.
    Written(Box<Entry>),
    /// A failed or locked-out login, counted with the ones before it; it is chained
    /// with the next other event (or a flush).
    Coalesced,
}

/// The audit log of one data directory.
pub struct AuditLog {
    dir: PathBuf,
    key: hmac::Key,
}

fn internal(e: impl std::fmt::Display) -> AgentError {
    AgentError::Internal(e.to_string())
}

impl AuditLog {
    pub fn open(data_dir: &Path) -> Result<Self> {
        let k = fsutil::load_or_create_key(&data_dir.join("audit.key"))?;
        Ok(Self {
            dir: data_dir.to_path_buf(),
            key: hmac::Key::new(hmac::HMAC_SHA256, &k[..]),
        })
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("audit.log")
    }

    fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<Option<T>> {
        let p = self.dir.join(name);
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|_| AgentError::AuditBroken(format!("{name} unreadable"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AgentError::file(p, e)),
        }
    }

    fn write_json<T: Serialize>(&self, name: &str, v: &T) -> Result<()> {
        let b = serde_json::to_vec(v).map_err(internal)?;
        fsutil::write_atomic(&self.dir.join(name), &b, 0o600)
    }

    fn lock(&self) -> Result<fs::File> {
        let p = self.dir.join("audit.lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&p)
            .map_err(|e| AgentError::file(&p, e))?;
        f.lock().map_err(|e| AgentError::file(&p, e))?;
        Ok(f)
    }

    /// A keyed, truncated hash of an application ID for correlating log lines about the
    /// same application on this tablet without storing the ID.
    pub fn app_ref(&self, application_id: &[u8]) -> AppRef {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"shinsei app ref v1\0");
        ctx.update(application_id);
        AppRef(hex::encode(&ctx.sign().as_ref()[..12]))
    }

    /// The last entry written (the head), or the anchor when the log is empty.
    fn last_mark(&self) -> Result<Mark> {
        match self.read_json::<Mark>("audit.head")? {
            Some(m) => Ok(m),
            None => Ok(self.read_json::<Mark>("audit.anchor")?.unwrap_or(START)),
        }
    }

    /// Writes one entry after the head (caller holds the lock).
    fn write_entry(&self, mut e: Entry) -> Result<Entry> {
        let last = self.last_mark()?;
        e.seq = last.seq + 1;
        e.prev = hex::encode(last.hash);
        e.hash = String::new();
        let hash = e.chain_hash();
        e.hash = hex::encode(hash);
        let mut line = serde_json::to_vec(&e).map_err(internal)?;
        line.push(b'\n');
        let p = self.log_path();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&p)
            .map_err(|x| AgentError::file(&p, x))?;
        f.write_all(&line).map_err(|x| AgentError::file(&p, x))?;
        f.sync_all().map_err(|x| AgentError::file(&p, x))?;
        self.write_json("audit.head", &Mark { seq: e.seq, hash })?;
        Ok(e)
    }

    /// Writes out the coalesced login failures, if any (caller holds the lock).
    fn flush_pending(&self) -> Result<Option<Entry>> {
        let Some(p) = self.read_json::<Pending>("audit.pending")? else {
            return Ok(None);
        };
        let detail =
            (p.event == "lockout").then(|| format!("locked for up to {} s", p.max_wait_secs));
        let e = self.write_entry(Entry {
            seq: 0,
            at: p.first_at,
            event: p.event.clone(),
            staff: Some(p.staff.iter().cloned().collect::<Vec<_>>().join(",")),
            envelope: None,
            app_ref: None,
            detail,
            count: Some(p.count),
            until: Some(p.last_at),
            prev: String::new(),
            hash: String::new(),
        })?;
        let path = self.dir.join("audit.pending");
        fs::remove_file(&path).map_err(|x| AgentError::file(&path, x))?;
        Ok(Some(e))
    }

    /// Adds a login failure (`event`) to the pending coalesced entry; a pending entry
    /// of the other kind is written out first. An attacker alternating failures and
    /// lock-outs makes at most two entries per lock-out period, and lock-outs grow to
    /// an hour (`session.rs`): the log's growth stays bounded.
    fn coalesce(&self, at: u64, event: &str, staff: &str, wait: u64) -> Result<()> {
        let mut p = match self.read_json::<Pending>("audit.pending")? {
            Some(p) if p.event == event => p,
            other => {
                if other.is_some() {
                    self.flush_pending()?;
                }
                Pending {
                    event: event.to_owned(),
                    first_at: at,
                    ..Pending::default()
                }
            }
        };
        p.last_at = p.last_at.max(at);
        p.count += 1;
        p.max_wait_secs = p.max_wait_secs.max(wait);
        if p.staff.len() < PENDING_STAFF_MAX || p.staff.contains(staff) {
            p.staff.insert(staff.to_owned());
        }
        self.write_json("audit.pending", &p)
    }

    /// Appends an event (fsync'd). A failed or locked-out login is coalesced with the
    /// failures before it and written out with the next other event
    /// ([`Appended::Coalesced`]); every other event is chained at once
    /// ([`Appended::Written`]).
    pub fn append(&self, at: u64, ev: AuditEvent<'_>) -> Result<Appended> {
        let f = ev.fields();
        let _guard = self.lock()?;
        let entry = Entry {
            seq: 0,
            at,
            event: ev.name().to_string(),
            staff: f.staff,
            envelope: f.envelope,
            app_ref: f.app_ref,
            detail: f.detail,
            count: None,
            until: None,
            prev: String::new(),
            hash: String::new(),
        };
        match ev {
            AuditEvent::LoginFailed { staff, .. } => {
                self.coalesce(at, "login_failed", staff, 0)?;
                return Ok(Appended::Coalesced);
            }
            AuditEvent::Lockout { staff, secs } => {
                self.coalesce(at, "lockout", staff, secs)?;
                return Ok(Appended::Coalesced);
            }
            _ => {}
        }
        self.flush_pending()?;
        self.write_entry(entry)
            .map(|e| Appended::Written(Box::new(e)))
    }

    /// Writes out what is pending (before a shipment or a wipe).
    pub fn flush(&self) -> Result<()> {
        let _guard = self.lock()?;
        self.flush_pending().map(|_| ())
    }

    /// All entries currently on the tablet, in file order.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let p = self.log_path();
        let f = match fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AgentError::file(p, e)),
        };
        let mut out = Vec::new();
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| AgentError::file(&p, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let e: Entry = serde_json::from_str(&line)
                .map_err(|_| AgentError::AuditBroken(format!("line {} is not an entry", i + 1)))?;
            out.push(e);
        }
        Ok(out)
    }

    /// Verifies the chain from the anchor to the head. Returns the number of entries.
    pub fn verify(&self) -> Result<usize> {
        let anchor = self.read_json::<Mark>("audit.anchor")?;
        let entries = self.entries()?;
        let mut prev = anchor.unwrap_or(START);
        for e in &entries {
            if e.seq != prev.seq + 1 {
                return Err(AgentError::AuditBroken(format!(
                    "entry {} follows {}: removed or reordered entries",
                    e.seq, prev.seq
                )));
            }
            if e.prev != hex::encode(prev.hash) {
                return Err(AgentError::AuditBroken(format!(
                    "entry {} does not chain to the one before it",
                    e.seq
                )));
            }
            let hash = e.chain_hash();
            if e.hash_bytes() != Some(hash) {
                return Err(AgentError::AuditBroken(format!(
                    "entry {} was modified",
                    e.seq
                )));
            }
            prev = Mark { seq: e.seq, hash };
        }
        match self.read_json::<Mark>("audit.head")? {
            Some(head) if head != prev => Err(AgentError::AuditBroken(format!(
                "the log ends at entry {} but {} were written: entries removed",
                prev.seq, head.seq
            ))),
            Some(_) => Ok(entries.len()),
            // Nothing was ever written, or the head was deleted.
            None if entries.is_empty() && anchor.is_none() => Ok(0),
            None => Err(AgentError::AuditBroken(
                "audit.head is missing: the log's end cannot be checked (deleted?)".into(),
            )),
        }
    }

    /// The log cut into uploads within the relay's limits (at most
    /// [`wire::MAX_UPLOAD_ENTRIES`] entries and about [`wire::MAX_UPLOAD_BYTES`] each),
    /// oldest first, each with its head signed by `key`. Writes out what is pending
    /// first.
    pub fn uploads(
        &self,
        device_id: &str,
        key: &shinsei_protocol::keys::SigningKey,
    ) -> Result<Vec<wire::Upload>> {
        self.flush()?;
        let entries = self.entries()?;
        let mut out = Vec::new();
        let mut batch: Vec<Entry> = Vec::new();
        let mut bytes = 0usize;
        let close = |batch: Vec<Entry>, out: &mut Vec<wire::Upload>| -> Result<()> {
            let Some(last) = batch.last() else {
                return Ok(());
            };
            let hash = last
                .hash_bytes()
                .ok_or_else(|| AgentError::AuditBroken(format!("entry {}: bad hash", last.seq)))?;
            let head = wire::SignedHead::sign(device_id, last.seq, &hash, key)
                .map_err(|e| AgentError::Internal(e.to_string()))?;
            out.push(wire::Upload {
                entries: batch,
                head,
            });
            Ok(())
        };
        for e in entries {
            let n = serde_json::to_vec(&e).map_err(internal)?.len() + 1;
            if !batch.is_empty()
                && (batch.len() >= wire::MAX_UPLOAD_ENTRIES
                    || bytes + n > wire::MAX_UPLOAD_BYTES - 1024)
            {
                close(std::mem::take(&mut batch), &mut out)?;
                bytes = 0;
            }
            bytes += n;
            batch.push(e);
        }
        close(batch, &mut out)?;
        Ok(out)
    }

    /// Drops entries up to `acked_through` (the relay holds them now) and moves the
    /// anchor. `relay_hash` is the hash the relay holds for that entry: a different one
    /// means the relay's chain and this log have forked.
    pub fn prune_through(&self, acked_through: u64, relay_hash: Option<&str>) -> Result<usize> {
        let _guard = self.lock()?;
        let entries = self.entries()?;
        let (gone, keep): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|e| e.seq <= acked_through);
        let Some(last_gone) = gone.last() else {
            return Ok(0);
        };
        if let Some(h) = relay_hash {
            if !shinsei_protocol::ct::eq(h.as_bytes(), last_gone.hash.as_bytes()) {
                return Err(AgentError::AuditBroken(format!(
                    "the relay holds another entry {} than this log",
                    last_gone.seq
                )));
            }
        }
        let hash = last_gone
            .hash_bytes()
            .ok_or_else(|| AgentError::AuditBroken("bad hash".into()))?;
        let mut body = Vec::new();
        for e in &keep {
            body.extend(serde_json::to_vec(e).map_err(internal)?);
            body.push(b'\n');
        }
        self.write_json(
            "audit.anchor",
            &Mark {
                seq: last_gone.seq,
                hash,
            },
        )?;
        fsutil::write_atomic(&self.log_path(), &body, 0o600)?;
        Ok(gone.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(n: u64) -> (tempfile::TempDir, AuditLog) {
        let d = tempfile::tempdir().unwrap();
        let l = AuditLog::open(d.path()).unwrap();
        for i in 0..n {
            let ev = AuditEvent::Send {
                delivered: i as usize,
                pending: 0,
                refused: 0,
            };
            l.append(1000 + i, ev).unwrap();
        }
        (d, l)
    }

    fn rewrite(l: &AuditLog, f: impl FnOnce(&mut Vec<String>)) {
        let text = fs::read_to_string(l.log_path()).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        f(&mut lines);
        fs::write(l.log_path(), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn intact_log_verifies() {
        let (_d, l) = log_with(5);
        assert_eq!(l.verify().unwrap(), 5);
    }

    #[test]
    fn modified_entry_detected() {
        let (_d, l) = log_with(5);
        rewrite(&l, |v| v[2] = v[2].replace("delivered 2 ", "delivered 9 "));
        let e = l.verify().unwrap_err().to_string();
        assert!(e.contains("entry 3 was modified"), "{e}");
    }

    #[test]
    fn removed_entry_detected() {
        let (_d, l) = log_with(5);
        rewrite(&l, |v| {
            v.remove(1);
        });
        assert!(l
            .verify()
            .unwrap_err()
            .to_string()
            .contains("removed or reordered"));
        let (_d2, l2) = log_with(5);
        rewrite(&l2, |v| {
            v.pop();
        });
        assert!(l2
            .verify()
            .unwrap_err()
            .to_string()
            .contains("entries removed"));
    }

    #[test]
    fn reordered_entries_detected() {
        let (_d, l) = log_with(5);
        rewrite(&l, |v| v.swap(1, 3));
        assert!(l.verify().is_err());
    }

    #[test]
    fn prune_keeps_the_chain_verifiable() {
        let (_d, l) = log_with(6);
        assert_eq!(l.prune_through(4, None).unwrap(), 4);
        assert_eq!(l.verify().unwrap(), 2);
        l.append(2000, AuditEvent::Logout { staff: "S001" })
            .unwrap();
        assert_eq!(l.verify().unwrap(), 3);
        assert_eq!(l.entries().unwrap()[0].seq, 5);
    }

    #[test]
    fn a_photo_override_is_logged_with_who_approved_and_why_only() {
        let (_d, l) = log_with(0);
        let Appended::Written(e) = l
            .append(
                7,
                AuditEvent::PhotoOverride {
                    staff: "S001",
                    supervisor: "S002",
                    reason: OverrideReason::Infant,
                },
            )
            .unwrap()
        else {
            panic!("a photo override is never coalesced")
        };
        assert_eq!(e.event, "photo_override");
        assert_eq!(e.staff.as_deref(), Some("S001"));
        assert_eq!(e.detail.as_deref(), Some("approved by S002: infant"));
        assert!(e.app_ref.is_none() && e.envelope.is_none());
        assert_eq!(l.verify().unwrap(), 1);
    }

    #[test]
    fn thousands_of_failed_logins_make_one_entry_with_a_count() {
        let (_d, l) = log_with(1);
        for i in 0..5000u64 {
            let ev = if i >= 4 {
                AuditEvent::Lockout {
                    staff: if i % 2 == 0 { "S001" } else { UNKNOWN_STAFF },
                    secs: 60 + i,
                }
            } else {
                AuditEvent::LoginFailed {
                    staff: "S001",
                    why: "login",
                }
            };
            assert_eq!(l.append(2000 + i, ev).unwrap(), Appended::Coalesced);
        }
        l.append(9000, AuditEvent::Login { staff: "S001" }).unwrap();
        let v = l.entries().unwrap();
        assert_eq!(v.len(), 4, "{v:?}");
        assert_eq!(v[1].event, "login_failed");
        assert_eq!(
            (v[1].count, v[1].at, v[1].until),
            (Some(4), 2000, Some(2003))
        );
        assert_eq!(v[1].staff.as_deref(), Some("S001"));
        assert_eq!(v[2].event, "lockout");
        assert_eq!(
            (v[2].count, v[2].at, v[2].until),
            (Some(4996), 2004, Some(6999))
        );
        assert_eq!(v[2].staff.as_deref(), Some("S001,unknown"));
        assert_eq!(v[2].detail.as_deref(), Some("locked for up to 5059 s"));
        assert_eq!(v[3].event, "login");
        assert_eq!(l.verify().unwrap(), 4);
    }

    #[test]
    fn a_deleted_head_or_a_truncated_tail_is_detected() {
        let (_d, l) = log_with(4);
        fs::remove_file(l.dir.join("audit.head")).unwrap();
        let e = l.verify().unwrap_err().to_string();
        assert!(e.contains("audit.head is missing"), "{e}");
        let (_d2, l2) = log_with(4);
        fs::remove_file(l2.dir.join("audit.head")).unwrap();
        rewrite(&l2, |v| {
            v.truncate(2);
        });
        assert!(l2.verify().is_err());
    }

    #[test]
    fn uploads_stay_within_the_relays_limits_and_are_signed() {
        let (_d, l) = log_with(1203);
        let (_, key) = shinsei_protocol::keys::SigningKey::generate().unwrap();
        let ups = l.uploads("TAB-0001", &key).unwrap();
        assert_eq!(
            ups.iter().map(|u| u.entries.len()).collect::<Vec<_>>(),
            vec![500, 500, 203]
        );
        for u in &ups {
            u.check("TAB-0001", &key.public_key()).unwrap();
            assert!(serde_json::to_vec(u).unwrap().len() <= wire::MAX_UPLOAD_BYTES);
        }
        assert_eq!(ups[1].entries[0].prev, ups[0].entries[499].hash);
        // The relay's ack moves the anchor; another hash than ours is a fork.
        let h = ups[0].head.hash.clone();
        assert!(l.prune_through(500, Some(&"0".repeat(64))).is_err());
        assert_eq!(l.prune_through(500, Some(&h)).unwrap(), 500);
        assert_eq!(l.verify().unwrap(), 703);
    }

    #[test]
    fn app_ref_is_keyed_and_stable() {
        let (_d, l) = log_with(0);
        let (_d2, other) = log_with(0);
        let id = b"12345678901234567890123";
        assert_eq!(l.app_ref(id), l.app_ref(id));
        assert_ne!(l.app_ref(id), other.app_ref(id));
        assert!(!l.app_ref(id).as_str().contains("1234567890"));
    }
}
