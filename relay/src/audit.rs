//! The device audit upload as the relay checks it: `{"entries":[{"seq":N,"at":UNIX,
//! "event":"name",…}]}`, scalar values only, within fixed limits. I/O-free (fuzzed:
//! `relay/fuzz/fuzz_targets/http_bodies.rs`).

use serde_json::Value;

use crate::refusal::{Refusal, RefusalKind};

/// Most entries in one audit upload.
pub const MAX_AUDIT_ENTRIES: usize = 1000;
/// Most fields in one audit entry.
pub const MAX_AUDIT_FIELDS: usize = 16;
/// Longest string value in an audit entry.
pub const MAX_AUDIT_STRING: usize = 256;

fn bad_audit(msg: impl Into<String>) -> Refusal {
    Refusal::new(RefusalKind::Unprocessable, "invalid_audit", msg)
}

/// Checks an audit upload: `{"entries":[{"seq":N,"at":UNIX,"event":"name",…}]}` with
/// scalar values only.
pub fn parse_audit(body: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, Refusal> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| Refusal::malformed("body is not JSON"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad_audit("body must be an object"))?;
    if obj.len() != 1 {
        return Err(bad_audit("body must hold only \"entries\""));
    }
    let entries = obj
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_audit("\"entries\" must be an array"))?;
    if entries.len() > MAX_AUDIT_ENTRIES {
        return Err(bad_audit(format!("at most {MAX_AUDIT_ENTRIES} entries")));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let o = e
            .as_object()
            .ok_or_else(|| bad_audit(format!("entry {i} is not an object")))?;
        let seq = o
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_audit(format!("entry {i}: seq must be a non-negative integer")))?;
        o.get("at")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_audit(format!("entry {i}: at must be unix seconds")))?;
        let ev = o
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_audit(format!("entry {i}: event must be a string")))?;
        if ev.is_empty()
            || ev.len() > 64
            || !ev
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        {
            return Err(bad_audit(format!(
                "entry {i}: event must match [a-z0-9_.-]{{1,64}}"
            )));
        }
        if o.len() > MAX_AUDIT_FIELDS {
            return Err(bad_audit(format!(
                "entry {i}: at most {MAX_AUDIT_FIELDS} fields"
            )));
        }
        for (k, val) in o {
            let ok_key = !k.is_empty() && k.len() <= 64;
            let ok_val = match val {
                Value::Null | Value::Bool(_) | Value::Number(_) => true,
                Value::String(s) => s.len() <= MAX_AUDIT_STRING,
                Value::Array(_) | Value::Object(_) => false,
            };
            if !ok_key || !ok_val {
                return Err(bad_audit(format!(
                    "entry {i}: values must be scalars, strings at most {MAX_AUDIT_STRING} bytes"
                )));
            }
        }
        out.push((seq, serde_json::to_vec(o).unwrap_or_default()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn audit_parsing() {
        let ok = br#"{"entries":[{"seq":3,"at":1700000000,"event":"login","staff":"s01"},{"seq":4,"at":1700000001,"event":"submit","ok":true}]}"#;
        let v = parse_audit(ok).unwrap();
        assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), vec![3, 4]);
        for bad in [
            &br#"{"entries":[{"at":1,"event":"x"}]}"#[..],
            br#"{"entries":[{"seq":1,"at":1,"event":"X Y"}]}"#,
            br#"{"entries":[{"seq":1,"at":1,"event":"x","nested":{"a":1}}]}"#,
            br#"{"entries":[],"extra":1}"#,
            br#"[1]"#,
        ] {
            assert!(
                parse_audit(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
