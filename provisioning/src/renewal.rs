//! `device renew`: IT's policy signer for certificate renewals.
//!
//! Tablets ask for a new certificate for their current key in the last third of its
//! life (through the relay, at check-in). This signer, run by IT on the machine that
//! holds the device CA (by hand, from a timer, or with `--every`), fetches the waiting
//! requests with an operator's admin certificate and signs those its policy allows:
//!
//! - the device is `active` or `disabled` at the relay (never one being wiped, wiped or
//!   revoked), and IT has not held its renewals (the relay lists held devices as such);
//! - the request is signed by its own key, names the device, and **its key is the key
//!   of the certificate IT issued last for this device** (`pki/devices/ID.pem`): the
//!   relay cannot slip another key in;
//! - that certificate ends within [`WINDOW_SECS`] or is in the second half of its life
//!   (a request far ahead of time is refused as odd).
//!
//! A new bundle (same profile as the last one, `--days` of validity) goes back to the
//! relay, which hands it to the tablet at its next check-in; the tablet verifies it
//! against its pinned root and its own key before installing it. The device CA key
//! never leaves this machine; the relay never holds it.

use shinsei_pki::layout::{self, PkiLayout};
use shinsei_protocol::{
    api::{DeviceState, RenewalState, RenewalView},
    bundle::Profile,
    csr::{fingerprint_matches, fingerprint_text, read_csr, FINGERPRINT_DIGITS},
    device::DeviceId,
    signed::{summarize_cert, ENROLLMENT_OU},
};

use crate::{
    device::{self, SignOptions},
    error::{ProvisionError, Result},
    fleet::AdminClient,
};

/// A certificate ending within this is renewed whatever its length (15 days: half the
/// default 30-day device certificate).
pub const WINDOW_SECS: u64 = 15 * 86_400;

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Signed and handed to the relay; the new certificate's end.
    Issued { not_after: i64 },
    /// Not signed, and why (the policy's words).
    Refused(String),
    /// Nothing to do (already issued, or held).
    Skipped(&'static str),
}

/// IT's approval of a new key (`--approve ID=FINGERPRINT`): the fingerprint IT read on
/// the tablet's screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub device_id: DeviceId,
    pub fingerprint: String,
}

impl Approval {
    /// Reads `ID=FINGERPRINT`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad =
            || ProvisionError::BadApproval(format!("--approve {s:?}: expected ID=FINGERPRINT"));
        let (id, fp) = s.split_once('=').ok_or_else(bad)?;
        let device_id = DeviceId::parse(id.trim()).map_err(|_| bad())?;
        let digits = fp.chars().filter(char::is_ascii_hexdigit).count();
        if digits < FINGERPRINT_DIGITS {
            return Err(ProvisionError::BadApproval(format!(
                "--approve {s:?}: the fingerprint has {digits} hex digits, at least {FINGERPRINT_DIGITS} are needed"
            )));
        }
        Ok(Self {
            device_id,
            fingerprint: fp.to_owned(),
        })
    }
}

/// The policy's decision on one request, before anything is signed (pure: the
/// request, the relay's view of the device, the certificate IT issued last, and the
/// fingerprint IT approved for this device, if any).
///
/// A device whose last certificate is an **enrollment ticket** asks for a new key,
/// made on the tablet on its first boot. The relay cannot vouch for that key (anyone
/// holding the ticket could ask), so it is signed only when IT approves it by the
/// fingerprint the tablet shows on its screen; and never for the ticket's own key,
/// which was made on the imaging workstation.
pub fn decide(
    r: &RenewalView,
    last_cert_der: Option<&[u8]>,
    approved: Option<&str>,
    now: u64,
) -> Result<(), String> {
    if !matches!(r.device_state, DeviceState::Active | DeviceState::Disabled) {
        return Err(format!("device is {}", r.device_state));
    }
    let facts = read_csr(&r.csr_pem).map_err(|e| e.to_string())?;
    if facts.common_name != r.device_id {
        return Err(format!("the request names {}", facts.common_name));
    }
    let last = last_cert_der
        .and_then(summarize_cert)
        .ok_or("IT has no certificate on file for this device")?;
    if last.organizational_unit.as_deref() == Some(ENROLLMENT_OU) {
        let fp = fingerprint_text(&facts.spki_sha256);
        if last.spki_sha256 == facts.spki_sha256 {
            return Err("the request is for the enrollment ticket's own key".into());
        }
        return match approved {
            None => Err(format!(
                "a new key (fingerprint {fp}): compare it with the tablet's screen, then give --approve {}={}",
                r.device_id,
                fp.replace(' ', "")
            )),
            Some(a) if !fingerprint_matches(&facts.spki_sha256, a) => Err(format!(
                "the approved fingerprint is not the requested key's ({fp}): someone else may hold the ticket"
            )),
            Some(_) => Ok(()),
        };
    }
    if last.spki_sha256 != facts.spki_sha256 {
        return Err("the request's key is not the key IT certified for this device".into());
    }
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let half = last.not_after.saturating_sub(last.not_before) / 2;
    let window = half.max(i64::try_from(WINDOW_SECS).unwrap_or(i64::MAX));
    if last.not_after.saturating_sub(now) > window {
        return Err(
            "the certificate on file is neither near its end nor in the second half of its life"
                .into(),
        );
    }
    Ok(())
}

/// Signs every waiting request the policy allows and posts the bundles to the relay.
/// `default_profile`: the profile of a device whose last bundle predates the issued
/// log's profile field; without it such a device is refused rather than switched to
/// another profile silently.
pub fn renew_all(
    l: &PkiLayout,
    client: &AdminClient,
    days: u32,
    default_profile: Option<Profile>,
    approvals: &[Approval],
    now: u64,
) -> Result<Vec<(String, Outcome)>> {
    let list = client.renewals()?;
    let mut out = Vec::new();
    for r in list.renewals {
        let outcome = match r.state {
            RenewalState::Issued => Outcome::Skipped("issued, waiting for the tablet"),
            RenewalState::Held => Outcome::Skipped("held by IT"),
            RenewalState::None => Outcome::Skipped("nothing asked"),
            RenewalState::Requested => {
                let approved = approvals
                    .iter()
                    .find(|a| a.device_id.as_str() == r.device_id)
                    .map(|a| a.fingerprint.as_str());
                renew_one(l, client, &r, days, default_profile, approved, now)
            }
        };
        match &outcome {
            Outcome::Issued { not_after } => {
                tracing::info!(device_id = %r.device_id, not_after, "renewal issued")
            }
            Outcome::Refused(why) => {
                tracing::warn!(device_id = %r.device_id, why = %why, "renewal refused")
            }
            Outcome::Skipped(_) => {}
        }
        out.push((r.device_id, outcome));
    }
    Ok(out)
}

fn renew_one(
    l: &PkiLayout,
    client: &AdminClient,
    r: &RenewalView,
    days: u32,
    default_profile: Option<Profile>,
    approved: Option<&str>,
    now: u64,
) -> Outcome {
    let Ok(id) = DeviceId::parse(&r.device_id) else {
        return Outcome::Refused("not a device ID".into());
    };
    let last = layout::read_cert_pem(&l.device_cert(id.as_str())).ok();
    if let Err(why) = decide(r, last.as_ref().map(|c| c.as_ref()), approved, now) {
        return Outcome::Refused(why);
    }
    let Some(profile) = device::last_profile(l, &id).or(default_profile) else {
        return Outcome::Refused(
            "no profile on record for this device (enrolled before renewals): give --default-profile".into(),
        );
    };
    let o = SignOptions {
        profile,
        days,
        ticket: false,
    };
    let signed = match device::sign_csr(l, r.csr_pem.as_bytes(), &id, &o, now) {
        Ok(b) => b,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    match client.post_bundle(&id, &signed.bytes) {
        Ok(_) => Outcome::Issued {
            not_after: signed.not_after,
        },
        Err(e) => Outcome::Refused(format!("the relay refused the bundle: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

    use super::*;

    const DAY: u64 = 86_400;
    const NOW: u64 = 1_800_000_000;

    fn csr(cn: &str, key: &KeyPair) -> String {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.serialize_request(key).unwrap().pem().unwrap()
    }

    /// A certificate for `key` from `NOW - age` lasting 30 days.
    fn cert(key: &KeyPair, age_days: u64) -> Vec<u8> {
        let mut p = CertificateParams::default();
        let start = NOW - age_days * DAY;
        p.not_before = time::OffsetDateTime::from_unix_timestamp(start as i64).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp((start + 30 * DAY) as i64).unwrap();
        p.self_signed(key).unwrap().der().to_vec()
    }

    fn view(cn: &str, key: &KeyPair, state: DeviceState) -> RenewalView {
        RenewalView {
            device_id: "TAB-0001".into(),
            device_state: state,
            state: RenewalState::Requested,
            requested_at: NOW,
            csr_pem: csr(cn, key),
            cert_expires: None,
        }
    }

    #[test]
    fn the_policy_signs_only_the_certified_key_of_a_live_device_near_its_end() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let on_file = cert(&key, 22);
        let ok = view("TAB-0001", &key, DeviceState::Active);
        assert_eq!(decide(&ok, Some(&on_file), None, NOW), Ok(()));
        let disabled = view("TAB-0001", &key, DeviceState::Disabled);
        assert_eq!(decide(&disabled, Some(&on_file), None, NOW), Ok(()));

        for s in [
            DeviceState::WipePending,
            DeviceState::Wiped,
            DeviceState::Revoked,
        ] {
            let e = decide(&view("TAB-0001", &key, s), Some(&on_file), None, NOW).unwrap_err();
            assert!(e.contains("device is"), "{e}");
        }
        // Another key (a relay slipping its own in): refused.
        let other = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let e = decide(
            &view("TAB-0001", &other, DeviceState::Active),
            Some(&on_file),
            None,
            NOW,
        )
        .unwrap_err();
        assert!(e.contains("not the key IT certified"), "{e}");
        // Another device's name.
        let e = decide(
            &view("TAB-0002", &key, DeviceState::Active),
            Some(&on_file),
            None,
            NOW,
        )
        .unwrap_err();
        assert!(e.contains("names TAB-0002"), "{e}");
        // No certificate on file.
        assert!(decide(&ok, None, None, NOW)
            .unwrap_err()
            .contains("no certificate"));
        // Far ahead of time (5 days into 30).
        let young = cert(&key, 5);
        assert!(decide(&ok, Some(&young), None, NOW)
            .unwrap_err()
            .contains("near its end"));
    }

    /// A certificate for `key` from `NOW - age` lasting 30 days, with subject OU `ou`.
    fn cert_ou(key: &KeyPair, ou: &str) -> Vec<u8> {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, ou);
        p.distinguished_name.push(DnType::CommonName, "TAB-0001");
        p.not_before = time::OffsetDateTime::from_unix_timestamp((NOW - DAY) as i64).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp((NOW + 29 * DAY) as i64).unwrap();
        p.self_signed(key).unwrap().der().to_vec()
    }

    #[test]
    fn a_ticket_holders_new_key_is_signed_only_with_its_fingerprint_approved() {
        let ticket_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let on_file = cert_ou(&ticket_key, ENROLLMENT_OU);
        let tablet_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let r = view("TAB-0001", &tablet_key, DeviceState::Active);
        let spki = read_csr(&r.csr_pem).unwrap().spki_sha256;
        let fp = fingerprint_text(&spki);

        // Not approved: refused, and IT is told what to compare.
        let e = decide(&r, Some(&on_file), None, NOW).unwrap_err();
        assert!(e.contains(&fp) && e.contains("--approve TAB-0001="), "{e}");
        // Approved by the fingerprint on the screen (a new certificate 1 day into 30:
        // no waiting for the end of the ticket's life).
        assert_eq!(decide(&r, Some(&on_file), Some(&fp), NOW), Ok(()));
        // Another key's fingerprint (someone else asked with a copy of the ticket).
        let other = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let theirs = view("TAB-0001", &other, DeviceState::Active);
        let e = decide(&theirs, Some(&on_file), Some(&fp), NOW).unwrap_err();
        assert!(e.contains("not the requested key"), "{e}");
        // The ticket's own key: never, approved or not.
        let own = view("TAB-0001", &ticket_key, DeviceState::Active);
        let own_fp = fingerprint_text(&read_csr(&own.csr_pem).unwrap().spki_sha256);
        let e = decide(&own, Some(&on_file), Some(&own_fp), NOW).unwrap_err();
        assert!(e.contains("ticket's own key"), "{e}");
        // A wiped device's request: refused before anything else.
        let gone = view("TAB-0001", &tablet_key, DeviceState::Wiped);
        assert!(decide(&gone, Some(&on_file), Some(&fp), NOW).is_err());
        // After the tablet's own certificate is on file, a new key is refused even with
        // an approval: a ticket serves once.
        let own_cert = cert_ou(&tablet_key, shinsei_protocol::signed::DEVICE_OU);
        let again = view("TAB-0001", &other, DeviceState::Active);
        let e = decide(&again, Some(&own_cert), Some(&fp), NOW).unwrap_err();
        assert!(e.contains("not the key IT certified"), "{e}");
    }

    #[test]
    fn an_approval_names_a_device_and_enough_of_a_fingerprint() {
        let a = Approval::parse("TAB-0001=3F2A 9C01 77B4 E5D0 1A2B").unwrap();
        assert_eq!(a.device_id.as_str(), "TAB-0001");
        for bad in [
            "TAB-0001",
            "TAB-0001=3F2A",
            "not a device=3F2A9C0177B4E5D01A2B",
        ] {
            assert!(Approval::parse(bad).is_err(), "{bad}");
        }
    }
}
