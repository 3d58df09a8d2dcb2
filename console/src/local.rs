//! What the console reads and changes on IT's own machine, in the PKI directory it was
//! started with: the ward's certificates (for the expiry calendar) and the staff
//! database (add, disable, reset a password, publish the signed list). Passwords are
//! hashed here (PBKDF2, the provisioning tool's `staff` module); the relay never sees a
//! staff account.
//!
//! Who may change staff: an operator or a security officer, read from the console's own
//! admin certificate (the role the relay enforces for its own API). The real guard is
//! the file system: whoever runs the console can read the PKI directory, device CA key
//! included, so this check keeps a viewer's console from changing staff by mistake
//! rather than keeping a determined viewer out.

use std::path::PathBuf;

use shinsei_pki::layout::{self, PkiLayout};
use shinsei_protocol::{
    signed::summarize_cert,
    x509::{classify_client_cert, AdminRole, ClientIdentity},
};
use shinsei_provisioning::staff;

/// The console's local PKI directory and the role of its admin certificate.
pub struct LocalPki {
    layout: PkiLayout,
    admin: String,
    role: AdminRole,
}

impl std::fmt::Debug for LocalPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPki")
            .field("dir", &self.layout.dir())
            .field("admin", &self.admin)
            .field("role", &self.role)
            .finish()
    }
}

/// A ward certificate and its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WardCert {
    /// What it is, in words (`ルートCA / root CA`, `管理者 / admin it-suzuki`).
    pub what: String,
    pub not_before: u64,
    pub not_after: u64,
}

/// A staff account as the console shows it (no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    pub id: String,
    pub disabled: bool,
}

impl LocalPki {
    /// The PKI directory and the admin certificate `admin` (`pki/admins/NAME.pem`).
    pub fn open(layout: PkiLayout, admin: &str) -> Result<Self, String> {
        let cert = layout::read_cert_pem(&layout.admin_cert(admin)).map_err(|e| e.to_string())?;
        let role = match classify_client_cert(cert.as_ref()) {
            Some(ClientIdentity::Admin { role, .. }) => role,
            _ => return Err(format!("{admin}: not an admin certificate")),
        };
        Ok(Self {
            layout,
            admin: admin.to_owned(),
            role,
        })
    }

    /// The console's admin name and role.
    pub fn who(&self) -> (&str, AdminRole) {
        (&self.admin, self.role)
    }

    /// May this console change staff accounts?
    pub fn may_change_staff(&self) -> bool {
        self.role >= AdminRole::Operator
    }

    fn check_may_change(&self) -> Result<(), String> {
        if self.may_change_staff() {
            Ok(())
        } else {
            Err(format!(
                "role {} may not change staff accounts; it needs {}",
                self.role,
                AdminRole::Operator
            ))
        }
    }

    /// The ward's own certificates with their ends: root CA, device CA, the relay's TLS
    /// certificate, every admin certificate on this machine. Unreadable ones are left out.
    pub fn ward_certificates(&self) -> Vec<WardCert> {
        let l = &self.layout;
        let mut files: Vec<(String, PathBuf)> = vec![
            ("ルートCA / root CA".into(), l.root_ca_cert()),
            ("端末CA / device CA".into(), l.device_ca_cert()),
            (
                "リレーのTLS証明書 / relay TLS certificate".into(),
                l.relay_tls_cert(),
            ),
        ];
        if let Ok(rd) = std::fs::read_dir(l.admins_dir()) {
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".pem")
                        .map(str::to_owned)
                })
                .collect();
            names.sort();
            for n in names {
                files.push((format!("管理者 / admin {n}"), l.admin_cert(&n)));
            }
        }
        files
            .into_iter()
            .filter_map(|(what, path)| {
                let der = layout::read_cert_pem(&path).ok()?;
                let s = summarize_cert(der.as_ref())?;
                Some(WardCert {
                    what,
                    not_before: u64::try_from(s.not_before).unwrap_or(0),
                    not_after: u64::try_from(s.not_after).unwrap_or(0),
                })
            })
            .collect()
    }

    /// The staff accounts.
    pub fn staff(&self) -> Result<Vec<StaffRow>, String> {
        let db = staff::StaffDb::load(&self.layout).map_err(|e| e.to_string())?;
        Ok(db
            .entries
            .iter()
            .map(|e| StaffRow {
                id: e.staff_id.to_string(),
                disabled: e.disabled,
            })
            .collect())
    }

    /// Adds a staff member, or (`replace`) resets an existing one's password, which
    /// also enables a disabled account. The password policy is the tablets' own.
    pub fn set_password(&self, id: &str, password: &str, replace: bool) -> Result<(), String> {
        self.check_may_change()?;
        staff::add(&self.layout, id, password, replace).map_err(|e| e.to_string())?;
        tracing::info!(admin = %self.admin, staff_id = %id, replace, "console: staff password set");
        Ok(())
    }

    /// Disables a staff member.
    pub fn disable(&self, id: &str) -> Result<(), String> {
        self.check_may_change()?;
        staff::disable(&self.layout, id).map_err(|e| e.to_string())?;
        tracing::info!(admin = %self.admin, staff_id = %id, "console: staff disabled");
        Ok(())
    }

    /// Publishes the signed staff list (30 days) into `pki/staff/`; its sequence
    /// number and path.
    pub fn publish(&self, now: u64) -> Result<(u64, PathBuf), String> {
        self.check_may_change()?;
        let dir = self
            .layout
            .staff_db()
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| self.layout.dir().to_path_buf());
        let db = staff::StaffDb::load(&self.layout).map_err(|e| e.to_string())?;
        let out = dir.join(format!("staff-list-{}.json", db.last_sequence + 1));
        let seq = staff::publish(&self.layout, 30, &out, now).map_err(|e| e.to_string())?;
        tracing::info!(admin = %self.admin, sequence = seq, "console: staff list published");
        Ok((seq, out))
    }
}
