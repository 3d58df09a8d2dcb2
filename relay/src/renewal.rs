//! Device certificate renewal, free of I/O: what the relay checks of a tablet's request
//! and of the bundle IT's signer posts back.
//!
//! ```text
//! tablet ── POST /v1/report {renewal_csr} ──▶ relay  (request kept on the device record)
//! IT signer ── GET /admin/v1/renewals ──▶ relay      (operator certificate)
//! IT signer: checks the request against the key IT certified before, signs a new
//!            bundle with the device CA (which the relay never holds)
//! IT signer ── POST /admin/v1/devices/ID/bundle ──▶ relay
//! tablet ── GET /v1/status → bundle_ready ── GET /v1/bundle ──▶ verifies and installs
//! tablet connects with the new certificate → the relay drops the renewal
//! ```
//! The relay is a mailbox here: it cannot make a certificate, and the tablet verifies
//! the bundle against its pinned root and its own key whatever the relay says. The
//! relay's checks only keep garbage and other keys out of the mailbox: the request must
//! be for the key the tablet connected with, the bundle for that device and that key,
//! chained to the ward root.

use shinsei_protocol::{bundle::DeviceBundle, csr::read_csr, signed::summarize_cert};

use crate::{
    device::{IssuedBundle, Renewal},
    identity::DeviceIdentity,
};

/// Why a request or a bundle was refused (`code`, message).
pub type Refused = (&'static str, String);

/// Checks a tablet's renewal request: signed by its own key, for this device, for the
/// key this connection's certificate has.
pub fn check_request(csr_pem: &str, who: &DeviceIdentity, now: u64) -> Result<Renewal, Refused> {
    let facts = read_csr(csr_pem).map_err(|e| ("bad_renewal_request", e.to_string()))?;
    if facts.common_name != who.device_id.as_str() {
        return Err((
            "renewal_wrong_device",
            format!("the request names {}", facts.common_name),
        ));
    }
    let spki = hex::encode(facts.spki_sha256);
    // A renewal keeps the key; an enrollment ticket asks for a new one (made on the
    // tablet), which IT approves by its fingerprint on the tablet's screen.
    if who.ticket && spki == who.fingerprint.spki_sha256_hex {
        return Err((
            "ticket_same_key",
            "an enrollment ticket's own key is never certified for good".into(),
        ));
    }
    if !who.ticket && spki != who.fingerprint.spki_sha256_hex {
        return Err((
            "renewal_other_key",
            "the request is not for the key this tablet connected with".into(),
        ));
    }
    Ok(Renewal {
        requested_at: now,
        csr_pem: csr_pem.to_owned(),
        spki_sha256_hex: spki,
        issued: None,
    })
}

/// Checks a bundle IT's signer posted for `renewal` of `device_id`: signed by the device
/// CA under `root_der`, valid at `now`, for this device and the requested key.
pub fn check_bundle(
    bytes: &[u8],
    root_der: &[u8],
    device_id: &str,
    renewal: &Renewal,
    by: &str,
    now: u64,
) -> Result<IssuedBundle, Refused> {
    let bundle = DeviceBundle::verify(bytes, root_der, now)
        .map_err(|e| ("bad_bundle", format!("the bundle does not verify: {e}")))?;
    if bundle.device_id.as_str() != device_id {
        return Err((
            "bundle_wrong_device",
            format!("the bundle is for {}", bundle.device_id),
        ));
    }
    let cert = summarize_cert(&bundle.device_cert_der)
        .ok_or_else(|| ("bad_bundle", "unreadable device certificate".to_owned()))?;
    if hex::encode(cert.spki_sha256) != renewal.spki_sha256_hex {
        return Err((
            "bundle_other_key",
            "the bundle's certificate is not for the requested key".into(),
        ));
    }
    Ok(IssuedBundle {
        at: now,
        by: by.to_owned(),
        not_after: u64::try_from(cert.not_after).unwrap_or(0),
        // Stored as it came: the tablet verifies the signed bytes themselves.
        bundle_b64: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes),
    })
}
