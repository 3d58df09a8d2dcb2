//! A freshly imaged tablet's own key (issue 20), over the real binaries: the seed holds
//! an enrollment ticket (`shinsei-provision device sign --ticket`) made on the imaging
//! workstation; on its first start the tablet makes its own key, shows its
//! fingerprint and asks for it at check-in; it takes no application meanwhile. IT's
//! signer signs the new key only with the fingerprint approved (`device renew
//! --approve ID=FINGERPRINT`); the tablet installs its certificate at the next
//! check-in and submits, and the ticket's key is in none of its files. The seed is made
//! by the imaging workstation's script, `scripts/make-seed`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shinsei_tests::{contains, ok, text, write_photo, Relay, Tablet, Ward};

const IT: &str = "it-enroller";

fn renew(ward: &Ward, approve: &[&str]) -> String {
    let mut c = ward.provision().unwrap();
    c.args(["device", "renew", "--admin-cert", IT]);
    for a in approve {
        c.args(["--approve", a]);
    }
    ok(&mut c, "").unwrap()
}

/// The headless service for a few seconds: check-in, report.
fn checkin(t: &Tablet) {
    ok(t.agent().unwrap().args(["run", "--for-secs", "3"]), "").unwrap();
}

fn awaiting(t: &Tablet) -> Option<String> {
    // Standard output only: the agent warns of the waiting key on standard error.
    let o = shinsei_tests::run(t.agent().unwrap().args(["status", "--json"]), "").unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["awaiting_approval"].as_str().map(str::to_owned)
}

#[test]
fn a_ticket_enrolled_tablet_makes_its_own_key_and_works_once_it_approves() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    ok(
        ward.provision()
            .unwrap()
            .args(["admin", "issue", "--name", IT, "--role", "operator"]),
        "",
    )
    .unwrap();
    let _relay = Relay::start(&ward, "relay").unwrap();
    // A seed cut short (here: a staff list that is not one) is removed, bundle and
    // all: half a seed must never be imaged.
    let bad = tmp.path().join("not-a-staff-list.json");
    std::fs::write(&bad, b"{ not json").unwrap();
    let cut = Tablet::from_make_seed_with(&ward, "TAB-0061", &bad)
        .err()
        .unwrap_or_default();
    assert!(cut.contains("staff-list"), "{cut}");
    assert!(!ward.dir.join("tablet-TAB-0061").exists(), "{cut}");
    assert!(!ward.dir.join("TAB-0061.bundle.json").exists(), "{cut}");
    // The imaging workstation's script makes the seed (a ticket and the staff list).
    let tab = Tablet::from_make_seed(&ward, "TAB-0061").unwrap();
    assert!(ward.dir.join("TAB-0061.bundle.json").is_file());
    // A seed is made once: the script refuses to overwrite it, and leaves it whole.
    let again = Tablet::from_make_seed(&ward, "TAB-0061")
        .err()
        .unwrap_or_default();
    assert!(again.contains("a seed is made once"), "{again}");
    assert!(tab.data.join("enrollment/device.key").is_file());
    let key_file = tab.data.join("enrollment/device.key");
    let ticket_key = std::fs::read(&key_file).unwrap();

    // First start: its own key, a fingerprint to show; no application taken.
    let fp = awaiting(&tab).expect("no fingerprint while the ticket is installed");
    assert_eq!(
        awaiting(&tab).as_deref(),
        Some(fp.as_str()),
        "the key changed"
    );
    let photo = tmp.path().join("p.jpg");
    write_photo(&photo, 61).unwrap();
    let o = tab
        .submit("12345678901234567890123", &photo, &["--keep-photo"], None)
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("承認待ち"), "{}", text(&o));

    // The tablet's service checks in (the kiosk does as it shows the fingerprint).
    checkin(&tab);

    // IT's signer: not without the approval, which it says how to give.
    let out = renew(&ward, &[]);
    assert!(
        out.contains(&fp) && out.contains("--approve TAB-0061="),
        "{out}"
    );
    // A fingerprint read wrong (or a copied ticket's key): refused.
    let mut wrong = fp.replace(' ', "");
    let last = if wrong.ends_with('0') { "1" } else { "0" };
    wrong.replace_range(wrong.len() - 1.., last);
    let out = renew(&ward, &[&format!("TAB-0061={wrong}")]);
    assert!(out.contains("not the requested key"), "{out}");
    // As on the tablet's screen.
    let out = renew(&ward, &[&format!("TAB-0061={fp}")]);
    assert!(out.contains("issued,"), "{out}");

    // Control: the ticket's key is on the tablet before its certificate arrives.
    assert!(tab
        .all_files()
        .iter()
        .any(|(_, b)| contains(b, &ticket_key)));
    // The next check-in installs the tablet's own certificate; it submits.
    checkin(&tab);
    let o = tab
        .submit("12345678901234567890123", &photo, &["--keep-photo"], None)
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(awaiting(&tab), None);
    // The device key is the tablet's own, and the ticket's key is in no file.
    assert_ne!(std::fs::read(&key_file).unwrap(), ticket_key);
    for (path, bytes) in tab.all_files() {
        assert!(!contains(&bytes, &ticket_key), "{}", path.display());
    }
    // A second approval for another key is refused: the ticket served once.
    let out = renew(&ward, &[&format!("TAB-0061={fp}")]);
    assert!(!out.contains("issued,"), "{out}");
}
