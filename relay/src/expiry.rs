//! The relay's own certificates, seen ahead (issue 17: no certificate expires
//! silently): its TLS server certificate, the root CA and the device CA. Pure: the
//! server logs the warnings at start and on every reload, `--check-config` prints them.

use shinsei_protocol::x509::summarize_cert;

/// Warn this many days before one of the relay's certificates expires.
pub const WARN_DAYS: u64 = 30;

/// One warning per certificate that expires within [`WARN_DAYS`] of `now` (or has
/// expired), naming it and its end.
pub fn warnings(certs: &[(&str, &[u8])], now: u64) -> Vec<String> {
    let mut out = Vec::new();
    for (name, der) in certs {
        let Some(end) = summarize_cert(der).and_then(|s| u64::try_from(s.not_after).ok()) else {
            out.push(format!("{name}: the certificate cannot be read"));
            continue;
        };
        if end <= now {
            out.push(format!("{name}: EXPIRED at {end} (unix seconds)"));
        } else if end - now < WARN_DAYS * 86_400 {
            out.push(format!(
                "{name}: expires in {} days (at {end}, unix seconds): renew it now",
                (end - now) / 86_400
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cert(not_after: i64) -> Vec<u8> {
        let mut p = rcgen::CertificateParams::new(vec!["relay.example".into()]).unwrap();
        p.not_before = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
        let k = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        p.self_signed(&k).unwrap().der().to_vec()
    }

    #[test]
    fn certificates_are_warned_of_thirty_days_ahead() {
        let now = 1_800_000_000u64;
        let day = 86_400;
        let (ok, soon, gone) = (
            cert((now + 31 * day) as i64),
            cert((now + 29 * day) as i64),
            cert((now - day) as i64),
        );
        let w = warnings(
            &[
                ("relay TLS", &ok),
                ("root CA", &soon),
                ("device CA", &gone),
                ("x", b"junk"),
            ],
            now,
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("root CA: expires in 29 days"), "{w:?}");
        assert!(w[1].starts_with("device CA: EXPIRED"), "{w:?}");
        assert!(w[2].contains("cannot be read"), "{w:?}");
    }
}
