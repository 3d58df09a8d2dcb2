//! Operations-log fixtures: chains of entries (`shinsei_protocol::audit`) as a tablet
//! writes them, and signed uploads.

use shinsei_protocol::audit::{Entry, SignedHead, Upload, GENESIS};

use crate::pki::Tablet;

/// Entries `from..=to`, chained from `prev` (`GENESIS` for a log's start), each a
/// `logout` of staff `tag` (vary `tag` to make another chain over the same numbers).
pub fn chain(from: u64, to: u64, prev: [u8; 32], tag: &str) -> Vec<Entry> {
    let mut prev = prev;
    (from..=to)
        .map(|seq| {
            let mut e = Entry {
                seq,
                at: 1_750_000_000 + seq,
                event: "logout".into(),
                staff: Some(tag.into()),
                envelope: None,
                app_ref: None,
                detail: None,
                count: None,
                until: None,
                prev: hex::encode(prev),
                hash: String::new(),
            };
            prev = e.chain_hash();
            e.hash = hex::encode(prev);
            e
        })
        .collect()
}

/// A log from its start.
pub fn log(n: u64) -> Vec<Entry> {
    chain(1, n, GENESIS, "S001")
}

impl Tablet {
    /// `entries` as an upload whose head this tablet signs.
    pub fn audit_upload(&self, entries: Vec<Entry>) -> Upload {
        let last = entries.last().unwrap();
        let hash = last.hash_bytes().unwrap();
        let head = SignedHead::sign(self.id.as_str(), last.seq, &hash, &self.signing).unwrap();
        Upload { entries, head }
    }
}
