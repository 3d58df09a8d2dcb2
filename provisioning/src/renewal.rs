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
    csr::read_csr,
    device::DeviceId,
    signed::summarize_cert,
};

use crate::{
    device::{self, SignOptions},
    error::Result,
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

/// The policy's decision on one request, before anything is signed (pure: the
/// request, the relay's view of the device, the certificate IT issued last).
pub fn decide(r: &RenewalView, last_cert_der: Option<&[u8]>, now: u64) -> Result<(), String> {
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
    now: u64,
) -> Result<Vec<(String, Outcome)>> {
    let list = client.renewals()?;
    let mut out = Vec::new();
    for r in list.renewals {
        let outcome = match r.state {
            RenewalState::Issued => Outcome::Skipped("issued, waiting for the tablet"),
            RenewalState::Held => Outcome::Skipped("held by IT"),
            RenewalState::None => Outcome::Skipped("nothing asked"),
            RenewalState::Requested => renew_one(l, client, &r, days, default_profile, now),
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
    now: u64,
) -> Outcome {
    let Ok(id) = DeviceId::parse(&r.device_id) else {
        return Outcome::Refused("not a device ID".into());
    };
    let last = layout::read_cert_pem(&l.device_cert(id.as_str())).ok();
    if let Err(why) = decide(r, last.as_ref().map(|c| c.as_ref()), now) {
        return Outcome::Refused(why);
    }
    let Some(profile) = device::last_profile(l, &id).or(default_profile) else {
        return Outcome::Refused(
            "no profile on record for this device (enrolled before renewals): give --default-profile".into(),
        );
    };
    let o = SignOptions { profile, days };
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
        assert_eq!(decide(&ok, Some(&on_file), NOW), Ok(()));
        let disabled = view("TAB-0001", &key, DeviceState::Disabled);
        assert_eq!(decide(&disabled, Some(&on_file), NOW), Ok(()));

        for s in [
            DeviceState::WipePending,
            DeviceState::Wiped,
            DeviceState::Revoked,
        ] {
            let e = decide(&view("TAB-0001", &key, s), Some(&on_file), NOW).unwrap_err();
            assert!(e.contains("device is"), "{e}");
        }
        // Another key (a relay slipping its own in): refused.
        let other = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let e = decide(
            &view("TAB-0001", &other, DeviceState::Active),
            Some(&on_file),
            NOW,
        )
        .unwrap_err();
        assert!(e.contains("not the key IT certified"), "{e}");
        // Another device's name.
        let e = decide(
            &view("TAB-0002", &key, DeviceState::Active),
            Some(&on_file),
            NOW,
        )
        .unwrap_err();
        assert!(e.contains("names TAB-0002"), "{e}");
        // No certificate on file.
        assert!(decide(&ok, None, NOW)
            .unwrap_err()
            .contains("no certificate"));
        // Far ahead of time (5 days into 30).
        let young = cert(&key, 5);
        assert!(decide(&ok, Some(&young), NOW)
            .unwrap_err()
            .contains("near its end"));
    }
}
