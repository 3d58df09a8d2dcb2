//! Staff accounts: `staff add|disable|list|publish`.
//!
//! The accounts live in `staff/staff.json` (mode 0600, password hashes only, never
//! passwords). `staff publish` turns them into a staff list signed by the device CA,
//! with a sequence number one higher than the last published one.

use serde::{Deserialize, Serialize};
use shinsei_protocol::staff::{
    check_password_policy, StaffEntry, StaffId, StaffList, MIN_ITERATIONS,
};

use crate::{
    error::{ProvisionError, Result},
    pki,
};
use shinsei_pki::files;
use shinsei_pki::layout::PkiLayout;

/// The `format` tag of the staff database.
pub const STAFF_DB_FORMAT: &str = "shinsei-staff-db/v1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DbWire {
    format: String,
    last_sequence: u64,
    entries: Vec<serde_json::Value>,
}

/// The provisioning side's staff database.
#[derive(Debug, Clone, Default)]
pub struct StaffDb {
    pub last_sequence: u64,
    pub entries: Vec<StaffEntry>,
}

impl StaffDb {
    /// Loads the database, or an empty one if there is none yet.
    pub fn load(l: &PkiLayout) -> Result<Self> {
        let path = l.staff_db();
        if !path.exists() {
            return Ok(Self::default());
        }
        let bytes = files::read_secret(&path)?;
        let w: DbWire = serde_json::from_slice(&bytes)
            .map_err(|e| ProvisionError::bad_json(path.clone(), e.to_string()))?;
        if w.format != STAFF_DB_FORMAT {
            return Err(ProvisionError::bad_json(path, "unknown format".into()));
        }
        let entries = w
            .entries
            .into_iter()
            .map(StaffEntry::from_json_value)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Self {
            last_sequence: w.last_sequence,
            entries,
        })
    }

    /// Saves the database (atomically, 0600).
    pub fn save(&self, l: &PkiLayout) -> Result<()> {
        let w = DbWire {
            format: STAFF_DB_FORMAT.to_owned(),
            last_sequence: self.last_sequence,
            entries: self.entries.iter().map(StaffEntry::to_json_value).collect(),
        };
        let mut bytes = serde_json::to_vec_pretty(&w).unwrap_or_default();
        bytes.push(b'\n');
        Ok(files::replace(&l.staff_db(), &bytes, true)?)
    }

    fn position(&self, id: &StaffId) -> Option<usize> {
        self.entries.iter().position(|e| &e.staff_id == id)
    }
}

/// `staff add`: checks the password rules, hashes (PBKDF2-HMAC-SHA256, 600,000
/// iterations, random salt) and stores. With `replace`, an existing account gets the new
/// password and is enabled again.
pub fn add(l: &PkiLayout, id: &str, password: &str, replace: bool) -> Result<()> {
    let sid = StaffId::parse(id)?;
    check_password_policy(&sid, password)?;
    let mut db = StaffDb::load(l)?;
    let entry = StaffEntry::new(sid.clone(), password.as_bytes(), MIN_ITERATIONS)?;
    match db.position(&sid) {
        Some(_) if !replace => return Err(ProvisionError::StaffExists(id.to_owned())),
        Some(i) => db.entries[i] = entry,
        None => db.entries.push(entry),
    }
    db.save(l)?;
    tracing::info!(staff_id = %sid, "staff account stored");
    Ok(())
}

/// `staff disable`.
pub fn disable(l: &PkiLayout, id: &str) -> Result<()> {
    let sid = StaffId::parse(id)?;
    let mut db = StaffDb::load(l)?;
    let i = db
        .position(&sid)
        .ok_or_else(|| ProvisionError::StaffUnknown(id.to_owned()))?;
    db.entries[i].disabled = true;
    db.save(l)
}

/// `staff publish`: a staff list signed by the device CA, valid `valid_days` from `now`.
/// Writes it to `out` (refusing to overwrite) and returns its sequence number.
///
/// The list carries every account's password hash (PBKDF2, still open to an offline
/// guessing attack), so the file is a secret: created 0600 from the start, like the
/// tool's key files (issue 18; it was 0644).
pub fn publish(l: &PkiLayout, valid_days: u32, out: &std::path::Path, now: u64) -> Result<u64> {
    if valid_days == 0 || valid_days > 366 {
        return Err(ProvisionError::BadDays {
            days: valid_days,
            max: 366,
        });
    }
    let dca = pki::load_device_ca(l, now)?;
    let mut db = StaffDb::load(l)?;
    let sequence = db.last_sequence.saturating_add(1);
    let list = StaffList {
        sequence,
        issued_at: now,
        expires_at: now.saturating_add(u64::from(valid_days) * 86_400),
        entries: db.entries.clone(),
    };
    let bytes = list.sign(&dca.cert_der, &dca.signing_key)?;
    files::write_new(out, &bytes, true)?;
    db.last_sequence = sequence;
    db.save(l)?;
    Ok(sequence)
}
