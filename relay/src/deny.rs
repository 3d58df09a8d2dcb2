//! The deny list: revoked and wiped devices (from the registry) and the deny-list file.
//! The listeners' verifiers ([`crate::tls::verify`]) consult it on every handshake.

use std::{collections::HashSet, sync::RwLock};

use crate::identity::CertFingerprint;

/// Denied serials, SPKI digests, device IDs and administrator names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenySet {
    pub serials: HashSet<String>,
    pub spkis: HashSet<String>,
    pub devices: HashSet<String>,
    /// Administrators (certificate CN): every certificate of that name, present and
    /// future, is refused (a new certificate needs a new name).
    pub admins: HashSet<String>,
}

impl DenySet {
    fn matches(&self, fp: &CertFingerprint, device_id: &str) -> bool {
        self.cert_matches(fp) || self.devices.contains(device_id)
    }

    fn cert_matches(&self, fp: &CertFingerprint) -> bool {
        self.serials.contains(&fp.serial_hex) || self.spkis.contains(&fp.spki_sha256_hex)
    }

    fn admin_matches(&self, fp: &CertFingerprint, name: &str) -> bool {
        self.cert_matches(fp) || self.admins.contains(name)
    }

    pub fn len(&self) -> usize {
        self.serials.len() + self.spkis.len() + self.devices.len() + self.admins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parses a deny-list file: `serial:HEX`, `spki:HEX`, `device:ID` or `admin:NAME`
    /// per line, blank lines and `#` comments ignored. Serials and SPKI digests apply to
    /// device and admin certificates alike.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut s = DenySet::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (kind, value) = line
                .split_once(':')
                .ok_or_else(|| format!("line {}: expected KIND:VALUE", n + 1))?;
            let value = value.trim();
            match kind.trim() {
                "serial" | "spki" => {
                    let v = value.to_ascii_lowercase().replace(':', "");
                    if v.is_empty() || hex::decode(&v).is_err() {
                        return Err(format!("line {}: not hex", n + 1));
                    }
                    if kind.trim() == "serial" {
                        s.serials.insert(v);
                    } else {
                        s.spkis.insert(v);
                    }
                }
                "device" => {
                    let d = shinsei_protocol::device::DeviceId::parse(value)
                        .map_err(|_| format!("line {}: not a device ID", n + 1))?;
                    s.devices.insert(d.as_str().to_owned());
                }
                "admin" => {
                    if value.is_empty() || value.len() > shinsei_protocol::x509::MAX_ADMIN_NAME_LEN
                    {
                        return Err(format!("line {}: not an administrator name", n + 1));
                    }
                    s.admins.insert(value.to_owned());
                }
                other => return Err(format!("line {}: unknown kind {other:?}", n + 1)),
            }
        }
        Ok(s)
    }
}

/// The live deny list: entries from the registry (revoked/wiped devices, persistent in
/// the store) and from the deny-list file (replaced on reload).
#[derive(Debug, Default)]
pub struct DenyList {
    registry: RwLock<DenySet>,
    file: RwLock<DenySet>,
}

impl DenyList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Denies a certificate (serial and SPKI).
    pub fn deny_cert(&self, fp: &CertFingerprint) {
        if let Ok(mut s) = self.registry.write() {
            s.serials.insert(fp.serial_hex.clone());
            s.spkis.insert(fp.spki_sha256_hex.clone());
        }
    }

    /// Denies every certificate whose CN is `device_id`.
    pub fn deny_device(&self, device_id: &str) {
        if let Ok(mut s) = self.registry.write() {
            s.devices.insert(device_id.to_owned());
        }
    }

    /// Denies every certificate of administrator `name`.
    pub fn deny_admin(&self, name: &str) {
        if let Ok(mut s) = self.registry.write() {
            s.admins.insert(name.to_owned());
        }
    }

    /// Adds a set to the registry part (start-up, from the store).
    pub fn extend_registry(&self, set: DenySet) {
        if let Ok(mut s) = self.registry.write() {
            s.serials.extend(set.serials);
            s.spkis.extend(set.spkis);
            s.devices.extend(set.devices);
            s.admins.extend(set.admins);
        }
    }

    /// Replaces the file part.
    pub fn replace_file(&self, set: DenySet) {
        if let Ok(mut s) = self.file.write() {
            *s = set;
        }
    }

    /// Is this certificate or device denied? Fails closed if a lock is poisoned.
    pub fn is_denied(&self, fp: &CertFingerprint, device_id: &str) -> bool {
        let r = match self.registry.read() {
            Ok(s) => s.matches(fp, device_id),
            Err(_) => true,
        };
        r || match self.file.read() {
            Ok(s) => s.matches(fp, device_id),
            Err(_) => true,
        }
    }

    /// Is this administrator certificate denied (serial, SPKI or name)? Fails closed if
    /// a lock is poisoned. Checked on every admin request.
    pub fn is_admin_denied(&self, fp: &CertFingerprint, name: &str) -> bool {
        let r = match self.registry.read() {
            Ok(s) => s.admin_matches(fp, name),
            Err(_) => true,
        };
        r || match self.file.read() {
            Ok(s) => s.admin_matches(fp, name),
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parse_deny_file() {
        let s =
            DenySet::parse("# revoked\nserial: 0A:bc\nspki:00ff  # comment\n\ndevice:tab-0009\n")
                .unwrap();
        assert!(s.serials.contains("0abc"));
        assert!(s.spkis.contains("00ff"));
        assert!(s.devices.contains("TAB-0009"));
        let a = DenySet::parse("admin: it-sato\n").unwrap();
        assert!(a.admins.contains("it-sato"));
        assert!(DenySet::parse("admin:").is_err());
        assert!(DenySet::parse("serial:xyz").is_err());
        assert!(DenySet::parse("foo:00").is_err());
        assert!(DenySet::parse("00").is_err());
    }

    #[test]
    fn deny_list_matches() {
        let d = DenyList::new();
        let fp = CertFingerprint {
            serial_hex: "01".into(),
            spki_sha256_hex: "aa".into(),
        };
        assert!(!d.is_denied(&fp, "TAB-1"));
        d.deny_cert(&fp);
        assert!(d.is_denied(&fp, "TAB-1"));
        let other = CertFingerprint {
            serial_hex: "02".into(),
            spki_sha256_hex: "bb".into(),
        };
        assert!(!d.is_denied(&other, "TAB-2"));
        d.replace_file(DenySet::parse("device:TAB-2").unwrap());
        assert!(d.is_denied(&other, "TAB-2"));
        d.replace_file(DenySet::default());
        assert!(!d.is_denied(&other, "TAB-2"));

        // Administrators: by certificate (file or registry) or by name.
        assert!(!d.is_admin_denied(&other, "alice"));
        assert!(d.is_admin_denied(&fp, "alice"));
        d.deny_admin("alice");
        assert!(d.is_admin_denied(&other, "alice"));
        assert!(!d.is_admin_denied(&other, "bob"));
        assert!(!d.is_denied(&other, "alice"));
        d.replace_file(DenySet::parse("admin:bob").unwrap());
        assert!(d.is_admin_denied(&other, "bob"));
    }
}
