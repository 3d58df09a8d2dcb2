//! The devices' operations logs at the relay: an upload (`POST /v1/audit`,
//! `shinsei_protocol::audit::Upload`) is parsed into the protocol's closed entry type
//! (unknown fields refused), checked on its own (shape, hashes, chain, the head signed
//! by the key of the certificate the device connected with), and then against the
//! head the relay holds for the device ([`continue_chain`]):
//!
//! - first entry at `head + 1` whose `prev` is the head's hash: new entries;
//! - the batch holds the head's entry with the same hash (a resend after a lost
//!   acknowledgement): the entries after it are new, the ones up to it are the same
//!   ones by the hash chain;
//! - anything else (a gap, another entry under a sequence number already held, a log
//!   restarted from 1 after a truncation) is a [`ChainFault`]: refused with 409
//!   `audit_chain_broken`, and raised for IT (admin audit log, the device record's
//!   `audit_alert`, a metric).
//!
//! I/O-free (fuzzed: `relay/fuzz/fuzz_targets/http_bodies.rs`).

use shinsei_protocol::audit::{AuditError, Entry, Upload, GENESIS};

use crate::{
    device::AuditHead,
    refusal::{Refusal, RefusalKind},
};

pub use shinsei_protocol::audit::MAX_UPLOAD_ENTRIES as MAX_AUDIT_ENTRIES;

fn bad_audit(msg: impl Into<String>) -> Refusal {
    Refusal::new(RefusalKind::Unprocessable, "invalid_audit", msg)
}

/// Parses an upload: the protocol's types exactly (no other field), at most
/// [`MAX_AUDIT_ENTRIES`] entries.
pub fn parse_audit(body: &[u8]) -> Result<Upload, Refusal> {
    let up: Upload =
        serde_json::from_slice(body).map_err(|e| bad_audit(format!("not an audit upload: {e}")))?;
    if up.entries.is_empty() || up.entries.len() > MAX_AUDIT_ENTRIES {
        return Err(bad_audit(format!(
            "an upload holds 1 to {MAX_AUDIT_ENTRIES} entries"
        )));
    }
    Ok(up)
}

/// The refusal of an upload that is wrong on its own (before the chain is compared).
pub fn refusal_of(e: &AuditError) -> Refusal {
    match e {
        AuditError::BadSignature => Refusal::new(
            RefusalKind::Unprocessable,
            "bad_signature",
            "the head signature does not verify with the client certificate's key",
        ),
        other => bad_audit(other.to_string()),
    }
}

/// An upload that does not continue the chain the relay holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    #[error("the upload starts at entry {first}, the relay holds up to {head}: entries missing")]
    Gap { first: u64, head: u64 },
    #[error("entry {seq} differs from the one the relay holds: the log was rewritten")]
    Fork { seq: u64 },
    #[error("the upload ends at entry {last}, before the relay's {head}: the log was truncated")]
    Behind { last: u64, head: u64 },
}

impl ChainFault {
    pub fn refusal(&self) -> Refusal {
        Refusal::new(
            RefusalKind::Conflict,
            "audit_chain_broken",
            self.to_string(),
        )
    }
}

/// Which of `up`'s entries are new, given the head the relay holds.
pub fn continue_chain<'a>(
    head: Option<&AuditHead>,
    up: &'a Upload,
) -> Result<&'a [Entry], ChainFault> {
    let (head_seq, head_hash) = match head {
        Some(h) => (h.seq, h.hash.clone()),
        None => (0, hex::encode(GENESIS)),
    };
    let (Some(first), Some(last)) = (up.entries.first(), up.entries.last()) else {
        return Ok(&[]);
    };
    if first.seq == head_seq + 1 {
        return if first.prev == head_hash {
            Ok(&up.entries)
        } else {
            Err(ChainFault::Fork { seq: first.seq })
        };
    }
    if first.seq > head_seq + 1 {
        return Err(ChainFault::Gap {
            first: first.seq,
            head: head_seq,
        });
    }
    if last.seq < head_seq {
        return Err(ChainFault::Behind {
            last: last.seq,
            head: head_seq,
        });
    }
    // The batch overlaps what is held: its entry at the head must be the held one.
    let i =
        usize::try_from(head_seq - first.seq).map_err(|_| ChainFault::Fork { seq: head_seq })?;
    match up.entries.get(i) {
        Some(e) if e.seq == head_seq && e.hash == head_hash => Ok(&up.entries[i + 1..]),
        _ => Err(ChainFault::Fork { seq: head_seq }),
    }
}

/// The relay's verdict on the entries it holds for a device and the head the device
/// signed (`GET /admin/v1/devices/ID/audit`): `(ok, words)`.
pub fn chain_verdict(entries: &[Entry], head: Option<&AuditHead>) -> (bool, String) {
    if let Err(e) = shinsei_protocol::audit::check_chain(entries) {
        return (false, format!("broken: {e}"));
    }
    match (entries.last(), head) {
        (None, None) => (true, "empty".into()),
        (Some(last), Some(h)) if last.seq == h.seq && last.hash == h.hash => {
            (true, format!("intact through {} (signed head)", last.seq))
        }
        (None, Some(h)) => (
            true,
            format!("no entries held (purged); signed head at {}", h.seq),
        ),
        (Some(last), Some(h)) => (
            false,
            format!(
                "the held entries end at {}, the signed head is {}",
                last.seq, h.seq
            ),
        ),
        (Some(last), None) => (
            false,
            format!("entries through {} but no signed head", last.seq),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use shinsei_protocol::audit::SignedHead;
    // The same chains the integration tests use (one fixture, testkit's).
    use shinsei_testkit::audit::chain;

    fn upload(entries: Vec<Entry>) -> Upload {
        let (_, key) = shinsei_protocol::keys::SigningKey::generate().unwrap();
        let last = entries.last().unwrap();
        let head = SignedHead::sign("TAB-1", last.seq, &last.hash_bytes().unwrap(), &key).unwrap();
        Upload { entries, head }
    }

    fn head_of(e: &Entry) -> AuditHead {
        AuditHead {
            seq: e.seq,
            hash: e.hash.clone(),
            sig: String::new(),
            at: 0,
        }
    }

    #[test]
    fn the_held_log_is_judged_against_the_signed_head() {
        let all = chain(1, 4, GENESIS, "S001");
        assert_eq!(chain_verdict(&[], None), (true, "empty".into()));
        let h = head_of(&all[3]);
        assert_eq!(
            chain_verdict(&all, Some(&h)),
            (true, "intact through 4 (signed head)".into())
        );
        // Purged from the front: still intact.
        assert!(chain_verdict(&all[2..], Some(&h)).0);
        // A held entry altered, one missing, or the head elsewhere.
        let mut bad = all.clone();
        bad[1].staff = Some("S999".into());
        assert!(!chain_verdict(&bad, Some(&h)).0);
        let gap = [all[0].clone(), all[2].clone(), all[3].clone()];
        assert!(!chain_verdict(&gap, Some(&h)).0);
        assert!(!chain_verdict(&all[..3], Some(&h)).0);
    }

    #[test]
    fn continuing_resending_and_every_break_are_told_apart() {
        let all = chain(1, 10, GENESIS, "S001");
        let head = head_of(&all[4]);
        // Continues.
        let up = upload(all[5..].to_vec());
        assert_eq!(continue_chain(Some(&head), &up).unwrap().len(), 5);
        // The first upload.
        assert_eq!(
            continue_chain(None, &upload(all[..3].to_vec()))
                .unwrap()
                .len(),
            3
        );
        // A resend overlapping the head: only what follows it is new.
        let up = upload(all[2..].to_vec());
        let new = continue_chain(Some(&head), &up).unwrap();
        assert_eq!(new.first().map(|e| e.seq), Some(6));
        // A gap.
        assert_eq!(
            continue_chain(Some(&head), &upload(all[6..].to_vec())),
            Err(ChainFault::Gap { first: 7, head: 5 })
        );
        // Another entry 5 (the log was rewritten from entry 3 on).
        let forked = chain(3, 8, all[1].hash_bytes().unwrap(), "S002");
        assert_eq!(
            continue_chain(Some(&head), &upload(forked)),
            Err(ChainFault::Fork { seq: 5 })
        );
        // A new entry 6 that does not chain to the held 5.
        let other6 = chain(6, 6, [7; 32], "S001");
        assert_eq!(
            continue_chain(Some(&head), &upload(other6)),
            Err(ChainFault::Fork { seq: 6 })
        );
        // Truncated and restarted from 1, or ending before the head.
        assert_eq!(
            continue_chain(Some(&head), &upload(chain(1, 2, GENESIS, "S003"))),
            Err(ChainFault::Behind { last: 2, head: 5 })
        );
    }

    #[test]
    fn uploads_are_the_protocol_type_only() {
        let up = upload(chain(1, 2, GENESIS, "S001"));
        let body = serde_json::to_vec(&up).unwrap();
        assert_eq!(parse_audit(&body).unwrap(), up);
        let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["entries"][0]["name"] = "山田太郎".into();
        assert!(parse_audit(&serde_json::to_vec(&v).unwrap()).is_err());
        assert!(parse_audit(br#"{"entries":[],"head":{"seq":0,"hash":"","sig":""}}"#).is_err());
        assert!(parse_audit(b"[1]").is_err());
    }
}
