//! Certificate renewal end to end (issue 17), over the real binaries: a tablet whose
//! certificate nears its end asks for a new one at check-in, IT's policy signer
//! (`shinsei-provision device renew`, an operator certificate, the device CA on IT's
//! machine) signs it, the relay hands it over at the next check-in, and the tablet keeps
//! submitting past its old certificate's end. IT can hold renewals. A tablet whose
//! certificate has ended says so plainly and takes no application.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use shinsei_tests::{ok, text, write_photo, Relay, Tablet, Ward};

const DAY: u64 = 86_400;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
const RENEWER: &str = "it-renewer";

/// The tablet's agent with its clock `days` ahead (test hook; the relay and IT are on
/// the real clock).
fn agent_at(t: &Tablet, days: u64) -> Command {
    let mut c = t.agent().unwrap();
    c.env("SHINSEI_CLOCK_FORWARD_SECS", (days * DAY).to_string());
    c
}

fn submit_at(t: &Tablet, days: u64, id: &str, photo: &std::path::Path) -> Output {
    let mut c = agent_at(t, days);
    c.args(["submit", "--application-id", "-", "--keep-photo", "--photo"])
        .arg(photo);
    let input = format!(
        "{}\n{}\n{id}\n",
        shinsei_tests::STAFF_ID,
        shinsei_tests::STAFF_PASSWORD
    );
    shinsei_tests::run(&mut c, &input).unwrap()
}

fn renew(ward: &Ward) -> String {
    ok(
        ward.provision()
            .unwrap()
            .args(["device", "renew", "--admin-cert", RENEWER]),
        "",
    )
    .unwrap()
}

fn device(ward: &Ward, id: &str) -> serde_json::Value {
    let out = ok(
        ward.provision()
            .unwrap()
            .args(["device", "list", "--json", "--admin-cert", RENEWER]),
        "",
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not listed: {out}"))
}

#[test]
fn a_certificate_near_its_end_renews_through_check_in_and_the_tablet_keeps_submitting() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create_backdated(tmp.path(), 30 * DAY).unwrap();
    ok(
        ward.provision()
            .unwrap()
            .args(["admin", "issue", "--name", RENEWER, "--role", "operator"]),
        "",
    )
    .unwrap();
    let relay = Relay::start(&ward, "relay").unwrap();
    // A 12-day certificate issued 9 days ago: in the last third of its life, 3 days
    // left. (The envelopes carry the tablet's clock, which the relay holds to its own:
    // the certificate is made old rather than the clock moved on.)
    let nine_days_ago = (unix_now() - 9 * DAY).to_string();
    let tab = Tablet::enroll_with(
        &ward,
        "TAB-0031",
        "standard",
        &["--days", "12", "--now", &nine_days_ago],
    )
    .unwrap();
    let photo = tmp.path().join("p.jpg");
    write_photo(&photo, 31).unwrap();
    let first_expiry = device_expiry_after_contact(&ward, &tab);

    // Check-in with the request; IT holds this tablet's renewals first.
    let o = submit_at(&tab, 0, "12345678901234567890123", &photo);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(device(&ward, "TAB-0031")["renewal"], "requested");
    ok(
        ward.provision().unwrap().args([
            "device",
            "renewal-hold",
            "TAB-0031",
            "--reason",
            "tablet under review",
            "--admin-cert",
            RENEWER,
        ]),
        "",
    )
    .unwrap();
    let held = renew(&ward);
    assert!(held.contains("held by IT"), "{held}");
    assert!(!held.contains("issued,"), "{held}");
    // Held: a new request is not even kept.
    let o = submit_at(&tab, 0, "23456789012345678901234", &photo);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(device(&ward, "TAB-0031")["renewal"], "held");

    // Resumed: the next check-in asks again, the policy signer signs.
    ok(
        ward.provision().unwrap().args([
            "device",
            "renewal-hold",
            "TAB-0031",
            "--resume",
            "--admin-cert",
            RENEWER,
        ]),
        "",
    )
    .unwrap();
    let o = submit_at(&tab, 0, "34567890123456789012345", &photo);
    assert!(o.status.success(), "{}", text(&o));
    let signed = renew(&ward);
    assert!(
        signed.contains("TAB-0031") && signed.contains("issued,"),
        "{signed}"
    );
    assert_eq!(device(&ward, "TAB-0031")["renewal"], "issued");

    // The next check-in installs it; the relay sees the new certificate in use.
    let o = submit_at(&tab, 0, "45678901234567890123456", &photo);
    assert!(o.status.success(), "{}", text(&o));
    let d = device(&ward, "TAB-0031");
    assert_eq!(d["renewal"], "none", "{d}");
    let new_expiry = d["cert_expires"].as_u64().unwrap();
    assert!(
        new_expiry > first_expiry + 15 * DAY,
        "{new_expiry} vs {first_expiry}"
    );
    let log = ok(tab.agent().unwrap().args(["audit", "show"]), "").unwrap();
    assert!(log.contains("certificate_renewed"), "{log}");
    // The tablet's report reached IT: version, outbox (taken at check-in, before the
    // send: this application), per-day counts (the three delivered before).
    let report = &d["report"];
    assert_eq!(report["outbox_depth"], 1, "{d}");
    assert!(report["agent_version"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));
    let sent: u64 = report["sent_per_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert!(sent >= 3, "{report}");
    assert!(report["lease_deadline"].as_u64().is_some(), "{report}");

    // Every application accepted reaches the upstream (forwarded in the background).
    assert!(
        shinsei_testkit::wait::poll(|| relay.spooled().len() == 4, 30),
        "{}",
        relay.spooled().len()
    );
    // Past the old certificate's end (4 days on, by the tablet's clock), it still
    // checks in, which lifts the lock four days offline put on it: with the old
    // certificate the check-in would stop at "expired" and the lock would stay.
    ok(agent_at(&tab, 4).args(["run", "--for-secs", "1"]), "").unwrap();
    let st = ok(agent_at(&tab, 4).args(["status", "--json"]), "").unwrap();
    assert!(st.contains("\"lease\":\"ok"), "{st}");
    let audit = ok(
        ward.provision()
            .unwrap()
            .args(["audit", "--admin-cert", RENEWER]),
        "",
    )
    .unwrap();
    assert!(audit.contains("renewal hold"), "{audit}");
    assert!(audit.contains("renewal issued"), "{audit}");
}

/// The relay's record of the tablet's certificate end, after one contact.
fn device_expiry_after_contact(ward: &Ward, tab: &Tablet) -> u64 {
    ok(tab.agent().unwrap().args(["run", "--for-secs", "1"]), "").unwrap();
    device(ward, &tab.device_id)["cert_expires"]
        .as_u64()
        .unwrap()
}

#[test]
fn an_expired_certificate_is_said_plainly_and_no_application_is_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let _relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll_with(&ward, "TAB-0032", "standard", &["--days", "12"]).unwrap();
    let photo = tmp.path().join("p.jpg");
    write_photo(&photo, 32).unwrap();
    let o = submit_at(&tab, 13, "12345678901234567890123", &photo);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("証明書の有効期限が切れました"), "{t}");
    assert!(t.contains("certificate has expired"), "{t}");
    let st = ok(agent_at(&tab, 13).args(["outbox", "list"]), "").unwrap();
    assert!(!st.contains("TAB"), "{st}");
    // Not mistaken for a revocation: the tablet's recorded state is unchanged.
    let st = ok(agent_at(&tab, 13).args(["status", "--json"]), "").unwrap();
    assert!(st.contains("\"state\":\"active\""), "{st}");
}
