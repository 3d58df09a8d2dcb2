//! Debian's `openssl` agrees with our chain: `openssl verify` accepts root → device CA →
//! device certificate and root → relay certificate for its host, refuses a foreign root,
//! and `openssl x509 -text` shows the profile we intended. openssl must be installed
//! (CI installs it); a missing openssl fails this test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use shinsei_pki::layout::PkiLayout;
use shinsei_provisioning::pki;
use shinsei_testkit::{sys::openssl, PkiBuilder};

fn make(dir: &Path) -> PkiLayout {
    let now = shinsei_provisioning::unix_now();
    let l = PkiBuilder::new(&dir.join("pki"))
        .org("OpenSSL Ward")
        .host("relay.openssl.example")
        .at(now)
        .layout();
    shinsei_testkit::device(&l, "TAB-0001", 30, now);
    pki::admin_issue(
        &l,
        "it",
        shinsei_protocol::x509::AdminRole::SecurityOfficer,
        30,
        now,
    )
    .unwrap();
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
    // `openssl verify -CAfile ROOT ARGS…`
    let verify = |args: &[&str]| {
        let mut all = vec!["verify", "-CAfile", root.as_str()];
        all.extend_from_slice(args);
        openssl(&all)
    };

    let (ok, out) = verify(&["-untrusted", &dca, "-purpose", "sslclient", &dev]);
    assert!(ok && out.contains(": OK"), "{out}");
    let (ok, out) = verify(&[
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "relay.openssl.example",
        &relay,
    ]);
    assert!(ok && out.contains(": OK"), "{out}");
    let (ok, out) = verify(&["-verify_hostname", "other.example", &relay]);
    assert!(!ok, "wrong host accepted: {out}");
    let (ok, out) = verify(&["-purpose", "sslclient", &admin]);
    assert!(ok, "{out}");
    // Without the device CA the device certificate does not chain; the device CA may not
    // issue further CAs (pathlen 0) and is itself issued by the root.
    let (ok, out) = verify(&[&dev]);
    assert!(!ok, "{out}");
    let (ok, out) = verify(&[&dca]);
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

    // What `openssl x509 -text` shows of each certificate.
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            &root,
            "root",
            &[
                "ecdsa-with-SHA256",
                "prime256v1",
                "CA:TRUE, pathlen:1",
                "Certificate Sign, CRL Sign",
                "OU = shinsei root CA",
            ],
        ),
        (
            &dca,
            "device CA",
            &[
                "CA:TRUE, pathlen:0",
                "Digital Signature, Certificate Sign, CRL Sign",
                "OU = shinsei device CA",
                "Issuer: O = OpenSSL Ward, OU = shinsei root CA",
            ],
        ),
        (
            &dev,
            "device cert",
            &[
                "Subject: OU = shinsei device, CN = TAB-0001",
                "TLS Web Client Authentication",
                "prime256v1",
                "Issuer: O = OpenSSL Ward, OU = shinsei device CA",
            ],
        ),
        (
            &relay,
            "relay cert",
            &[
                "DNS:relay.openssl.example",
                "TLS Web Server Authentication",
                "OU = shinsei relay",
            ],
        ),
        (&admin, "admin cert", &["OU = shinsei admin, CN = it"]),
    ];
    for (path, what, wants) in cases {
        let (ok, text) = openssl(&["x509", "-noout", "-text", "-in", path]);
        if what == "root" {
            assert!(ok);
        }
        for want in wants {
            assert!(text.contains(want), "{what} lacks {want}:\n{text}");
        }
        if what == "device cert" {
            assert!(!text.contains("CA:TRUE"));
        }
    }

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
