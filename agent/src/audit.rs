//! The agent's tamper-evident operation log.
//!
//! `audit.log` holds one JSON object a line. Each entry carries `prev`, the MAC of the
//! entry before it, and `mac` = HMAC-SHA256(audit key, prev ‖ the entry's JSON without
//! `mac`). The key (`audit.key`, 0600) never leaves the tablet. `audit.anchor` names the
//! last entry pruned after the relay acknowledged it, `audit.head` the last appended.
//! [`AuditLog::verify`] detects a modified, removed, inserted or reordered entry.
//!
//! No personal data: staff IDs, envelope IDs, counts and reasons only. An application
//! is referred to by [`AuditLog::app_ref`], a keyed hash of its ID (not reversible without the
//! key, and not linkable across tablets).

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ring::hmac;
use serde::{Deserialize, Serialize};
use shinsei_protocol::api::DeviceState;
use shinsei_protocol::envelope::EnvelopeId;

use crate::error::{AgentError, Result};
use crate::fsutil;

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    pub at: u64,
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub prev: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
}

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
        }
    }

    /// The log line's fields (unchanged format: `event`, `staff`, `envelope`,
    /// `app_ref`, `detail`).
    fn fields(&self) -> Fields {
        let mut f = Fields::default();
        match self {
            AuditEvent::Login { staff }
            | AuditEvent::Logout { staff }
            | AuditEvent::Capture { staff } => f.staff = Some(staff.to_string()),
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
struct Mark {
    seq: u64,
    mac: [u8; 32],
}

const ZERO_MAC: [u8; 32] = [0; 32];

/// The audit log of one data directory.
pub struct AuditLog {
    dir: PathBuf,
    key: hmac::Key,
}

fn mac_of(key: &hmac::Key, e: &Entry) -> Result<[u8; 32]> {
    let mut unsigned = e.clone();
    unsigned.mac = String::new();
    let body = serde_json::to_vec(&unsigned).map_err(|x| AgentError::Internal(x.to_string()))?;
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(b"shinsei audit v1\0");
    ctx.update(&body);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    Ok(out)
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

    fn read_mark(&self, name: &str) -> Result<Option<Mark>> {
        let p = self.dir.join(name);
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|_| AgentError::AuditBroken(format!("{name} unreadable"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AgentError::file(p, e)),
        }
    }

    fn write_mark(&self, name: &str, m: &Mark) -> Result<()> {
        let b = serde_json::to_vec(m).map_err(|x| AgentError::Internal(x.to_string()))?;
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

    /// Appends an event (fsync'd).
    pub fn append(&self, at: u64, ev: AuditEvent<'_>) -> Result<Entry> {
        let f = ev.fields();
        let _guard = self.lock()?;
        let last = match self.read_mark("audit.head")? {
            Some(m) => m,
            None => self.read_mark("audit.anchor")?.unwrap_or(Mark {
                seq: 0,
                mac: ZERO_MAC,
            }),
        };
        let mut e = Entry {
            seq: last.seq + 1,
            at,
            event: ev.name().to_string(),
            staff: f.staff,
            envelope: f.envelope,
            app_ref: f.app_ref,
            detail: f.detail,
            prev: hex::encode(last.mac),
            mac: String::new(),
        };
        let mac = mac_of(&self.key, &e)?;
        e.mac = hex::encode(mac);
        let mut line = serde_json::to_vec(&e).map_err(|x| AgentError::Internal(x.to_string()))?;
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
        self.write_mark("audit.head", &Mark { seq: e.seq, mac })?;
        Ok(e)
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
        let anchor = self.read_mark("audit.anchor")?.unwrap_or(Mark {
            seq: 0,
            mac: ZERO_MAC,
        });
        let entries = self.entries()?;
        let mut prev = anchor;
        for e in &entries {
            if e.seq != prev.seq + 1 {
                return Err(AgentError::AuditBroken(format!(
                    "entry {} follows {}: removed or reordered entries",
                    e.seq, prev.seq
                )));
            }
            if e.prev != hex::encode(prev.mac) {
                return Err(AgentError::AuditBroken(format!(
                    "entry {} does not chain to the one before it",
                    e.seq
                )));
            }
            let mac = mac_of(&self.key, e)?;
            if !shinsei_protocol::ct::eq(e.mac.as_bytes(), hex::encode(mac).as_bytes()) {
                return Err(AgentError::AuditBroken(format!(
                    "entry {} was modified",
                    e.seq
                )));
            }
            prev = Mark { seq: e.seq, mac };
        }
        if let Some(head) = self.read_mark("audit.head")? {
            if head != prev {
                return Err(AgentError::AuditBroken(format!(
                    "the log ends at entry {} but {} were written: entries removed",
                    prev.seq, head.seq
                )));
            }
        }
        Ok(entries.len())
    }

    /// Drops entries up to `acked_through` (the relay holds them now) and moves the anchor.
    pub fn prune_through(&self, acked_through: u64) -> Result<usize> {
        let _guard = self.lock()?;
        let entries = self.entries()?;
        let (gone, keep): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|e| e.seq <= acked_through);
        let Some(last_gone) = gone.last() else {
            return Ok(0);
        };
        let mut mac = [0u8; 32];
        hex::decode_to_slice(&last_gone.mac, &mut mac)
            .map_err(|_| AgentError::AuditBroken("bad mac".into()))?;
        let mut body = Vec::new();
        for e in &keep {
            body.extend(serde_json::to_vec(e).map_err(|x| AgentError::Internal(x.to_string()))?);
            body.push(b'\n');
        }
        self.write_mark(
            "audit.anchor",
            &Mark {
                seq: last_gone.seq,
                mac,
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
            let ev = AuditEvent::Lockout {
                staff: "S001",
                secs: i,
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
        rewrite(&l, |v| v[2] = v[2].replace("for 2 s", "for 9 s"));
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
        assert_eq!(l.prune_through(4).unwrap(), 4);
        assert_eq!(l.verify().unwrap(), 2);
        l.append(2000, AuditEvent::Logout { staff: "S001" })
            .unwrap();
        assert_eq!(l.verify().unwrap(), 3);
        assert_eq!(l.entries().unwrap()[0].seq, 5);
    }

    #[test]
    fn a_photo_override_is_logged_with_who_approved_and_why_only() {
        let (_d, l) = log_with(0);
        let e = l
            .append(
                7,
                AuditEvent::PhotoOverride {
                    staff: "S001",
                    supervisor: "S002",
                    reason: OverrideReason::Infant,
                },
            )
            .unwrap();
        assert_eq!(e.event, "photo_override");
        assert_eq!(e.staff.as_deref(), Some("S001"));
        assert_eq!(e.detail.as_deref(), Some("approved by S002: infant"));
        assert!(e.app_ref.is_none() && e.envelope.is_none());
        assert_eq!(l.verify().unwrap(), 1);
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
