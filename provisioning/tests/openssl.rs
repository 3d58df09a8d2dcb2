//! Debian's `openssl` agrees with our chain: `openssl verify` accepts root → device CA →
//! device certificate and root → relay certificate for its host, refuses a foreign root,
//! and `openssl x509 -text` shows the profile we intended. openssl must be installed
//! (CI installs it); a missing openssl fails this test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::Path, process::Command};

use shinsei_pki::layout::PkiLayout;
use shinsei_protocol::{bundle::Profile, device::DeviceId};
use shinsei_provisioning::{
    device::{self, SignOptions},
    pki::{self, CaInitOptions},
    relay::{self, RelayInitOptions},
};

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed (apt-get install openssl)");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

fn make(dir: &Path) -> PkiLayout {
    let now = shinsei_provisioning::unix_now();
    let l = PkiLayout::new(dir.join("pki"));
    pki::ca_init(
        &l,
        &CaInitOptions {
            org: "OpenSSL Ward".into(),
            root_days: 3650,
            device_ca_days: 1825,
        },
        now,
    )
    .unwrap();
    relay::relay_init(
        &l,
        &RelayInitOptions {
            host: "relay.openssl.example".into(),
            port: 8443,
            admin_port: 8444,
            tls_days: 365,
        },
        now,
    )
    .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "TAB-0001");
    let csr = p.serialize_request(&key).unwrap().pem().unwrap();
    device::sign_csr(
        &l,
        csr.as_bytes(),
        &DeviceId::parse("TAB-0001").unwrap(),
        &SignOptions {
            profile: Profile::Standard,
            days: 30,
        },
        now,
    )
    .unwrap();
    pki::admin_issue(&l, "it", 30, now).unwrap();
    l
}

fn s(p: std::path::PathBuf) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn openssl_agrees_with_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let l = make(tmp.path());
    let root = s(l.root_ca_cert());
    let dca = s(l.device_ca_cert());
    let dev = s(l.device_cert("TAB-0001"));
    let relay = s(l.relay_tls_cert());
    let admin = s(l.admin_cert("it"));

    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        &root,
        "-untrusted",
        &dca,
        "-purpose",
        "sslclient",
        &dev,
    ]);
    assert!(ok && out.contains(": OK"), "{out}");
    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        &root,
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "relay.openssl.example",
        &relay,
    ]);
    assert!(ok && out.contains(": OK"), "{out}");
    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        &root,
        "-verify_hostname",
        "other.example",
        &relay,
    ]);
    assert!(!ok, "wrong host accepted: {out}");
    let (ok, out) = openssl(&["verify", "-CAfile", &root, "-purpose", "sslclient", &admin]);
    assert!(ok, "{out}");
    // Without the device CA the device certificate does not chain; the device CA may not
    // issue further CAs (pathlen 0) and is itself issued by the root.
    let (ok, out) = openssl(&["verify", "-CAfile", &root, &dev]);
    assert!(!ok, "{out}");
    let (ok, out) = openssl(&["verify", "-CAfile", &root, &dca]);
    assert!(ok, "{out}");
    // A different ward's root.
    let other = tempfile::tempdir().unwrap();
    let l2 = make(other.path());
    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        &s(l2.root_ca_cert()),
        "-untrusted",
        &dca,
        &dev,
    ]);
    assert!(!ok, "{out}");

    let (ok, text) = openssl(&["x509", "-noout", "-text", "-in", &root]);
    assert!(ok);
    for want in [
        "ecdsa-with-SHA256",
        "prime256v1",
        "CA:TRUE, pathlen:1",
        "Certificate Sign, CRL Sign",
        "OU = shinsei root CA",
    ] {
        assert!(text.contains(want), "root lacks {want}:\n{text}");
    }
    let (_, text) = openssl(&["x509", "-noout", "-text", "-in", &dca]);
    for want in [
        "CA:TRUE, pathlen:0",
        "Digital Signature, Certificate Sign, CRL Sign",
        "OU = shinsei device CA",
        "Issuer: O = OpenSSL Ward, OU = shinsei root CA",
    ] {
        assert!(text.contains(want), "device CA lacks {want}:\n{text}");
    }
    let (_, text) = openssl(&["x509", "-noout", "-text", "-in", &dev]);
    for want in [
        "Subject: OU = shinsei device, CN = TAB-0001",
        "TLS Web Client Authentication",
        "prime256v1",
        "Issuer: O = OpenSSL Ward, OU = shinsei device CA",
    ] {
        assert!(text.contains(want), "device cert lacks {want}:\n{text}");
    }
    assert!(!text.contains("CA:TRUE"));
    let (_, text) = openssl(&["x509", "-noout", "-text", "-in", &relay]);
    for want in [
        "DNS:relay.openssl.example",
        "TLS Web Server Authentication",
        "OU = shinsei relay",
    ] {
        assert!(text.contains(want), "relay cert lacks {want}:\n{text}");
    }
    let (_, text) = openssl(&["x509", "-noout", "-text", "-in", &admin]);
    assert!(text.contains("OU = shinsei admin, CN = it"), "{text}");

    // The device certificate lasts 30 days: openssl's dates agree with ours.
    let (ok, dates) = openssl(&["x509", "-noout", "-checkend", "2500000", "-in", &dev]);
    assert!(ok && dates.contains("will not expire"), "{dates}");
    let (ok, dates) = openssl(&["x509", "-noout", "-checkend", "2600000", "-in", &dev]);
    assert!(!ok && dates.contains("will expire"), "{dates}");
    let (ok, _) = openssl(&["x509", "-noout", "-checkend", "2500000", "-in", &dca]);
    assert!(ok);
    // Private keys are PKCS#8 P-256 that openssl reads.
    let (ok, out) = openssl(&["pkey", "-noout", "-text", "-in", &s(l.device_ca_key())]);
    assert!(ok && out.contains("prime256v1"), "bad key");
}
