//! Issue 17: the fleet console in a real browser. A ward, a relay, a tablet enrolled
//! and running the real agent (long-polling), `shinsei-console` holding the admin
//! certificate, and Debian's chromium driven through chromedriver by
//! `tests/browser/console.py` (Selenium): log in with the one-time token, see the
//! fleet, disable the tablet with a reason and see it reported disabled, ask for a wipe
//! (which waits for a second officer), read the audit. Requests without the CSRF token,
//! with a foreign or no Origin, with a forged Host, or without a session are refused.
//! The screenshots go to `docs/console-*.png` (README).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
};

use shinsei_tests::{bin, ok, Relay, Tablet, Ward, ADMIN};

#[test]
fn it_disables_a_running_tablet_from_the_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let _relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0001", "standard").unwrap();
    // Control: the tablet holds the staff list of its enrollment (list 1).
    let installed = tab.data.join("enrollment").join("staff-list.json");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&ward.staff_list).unwrap()
    );
    ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
    let mut daemon = tab
        .agent()
        .unwrap()
        .args(["run", "--for-secs", "40"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    // The tablet has checked in (the relay lists it) before the browser looks.
    let t0 = std::time::Instant::now();
    while !ok(
        ward.provision()
            .unwrap()
            .args(["device", "list", "--admin-cert", ADMIN]),
        "",
    )
    .unwrap()
    .contains("TAB-0001")
    {
        assert!(t0.elapsed().as_secs() < 30, "the tablet never checked in");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut console = Command::new(bin("shinsei-console").unwrap())
        .arg("--pki")
        .arg(&ward.pki)
        .args(["--admin-cert", ADMIN, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(console.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let login = line.trim().to_owned();
    if !(login.starts_with("http://127.0.0.1:") && login.contains("/login?token=")) {
        let _ = console.kill();
        let out = console.wait_with_output().unwrap();
        panic!(
            "no login URL from the console: {login:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    std::fs::create_dir_all(&shots).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/console.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([login.as_str(), "TAB-0001"])
        .arg(&shots)
        .output()
        .unwrap();
    let _ = console.kill();
    let _ = console.wait();
    assert!(
        out.status.success(),
        "browser script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{seen:#}");

    // The browser saw the tablet active, then disabled after its order.
    assert_eq!(seen["before"], "active");
    // The certificate's expiry, from what the relay saw at the tablet's check-in.
    assert!(
        seen["cert"].as_str().unwrap().contains("29 days left"),
        "{seen}"
    );
    assert_eq!(seen["after"], "disabled");
    assert!(
        seen["flash"]
            .as_str()
            .unwrap()
            .contains("disable → disabled"),
        "{seen}"
    );
    // One officer's wipe only waits.
    assert!(seen["pending"].as_str().unwrap().contains("wipe"), "{seen}");
    assert_eq!(seen["after_wipe_request"], "disabled");
    // Attacks on the console refused.
    for k in ["no_csrf", "foreign_origin", "no_origin", "forged_host"] {
        assert_eq!(seen[k], 403, "{k}: {seen}");
    }
    assert_eq!(seen["no_session"], 401, "{seen}");
    assert!(
        seen["second_login"]
            .as_str()
            .unwrap()
            .contains("Login refused"),
        "{seen}"
    );
    // The audit names the admin, the role, the order and the reason.
    let audit: Vec<&str> = seen["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        audit.iter().any(|r| r.contains(ADMIN)
            && r.contains("security-officer")
            && r.contains("disable")
            && r.contains("left at the branch office")),
        "{audit:?}"
    );
    assert!(
        audit.iter().any(|r| r.contains("wipe requested")),
        "{audit:?}"
    );

    // The real agent, long-polling while IT clicked, got the order: once its run ends
    // it reports itself disabled.
    let status = daemon.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let st = ok(tab.agent().unwrap().args(["status", "--json"]), "").unwrap();
    assert!(
        st.contains("\"state\":\"disabled\""),
        "agent never saw the disable: {st}"
    );
    // The tablet's report, as the fleet shows it; filter by state and by ID.
    assert_eq!(seen["version"], env!("CARGO_PKG_VERSION"), "{seen}");
    assert_eq!(seen["outbox"], "0", "{seen}");
    assert!(seen["lease"].as_str().unwrap().contains("days"), "{seen}");
    assert_eq!(seen["apps"], "0 · 0", "{seen}");
    assert_eq!(seen["rows_active"], 0, "{seen}");
    assert_eq!(seen["rows_disabled"], 1, "{seen}");
    assert_eq!(seen["rows_nosuch"], 0, "{seen}");
    // The calendar: the ward's certificates and the tablet's; IT held its renewals.
    let calendar = seen["calendar"].to_string();
    for want in [
        "root CA",
        "device CA",
        "relay TLS",
        "tablet TAB-0001",
        ADMIN,
    ] {
        assert!(calendar.contains(want), "{want}: {calendar}");
    }
    assert!(
        seen["hold_flash"].as_str().unwrap().contains("held"),
        "{seen}"
    );
    assert!(
        seen["renewal_held"]
            .as_str()
            .unwrap()
            .contains("held by IT"),
        "{seen}"
    );
    // Staff changed in the browser, hashed and signed on this machine.
    assert!(
        seen["staff_added"].as_str().unwrap().contains("S0100"),
        "{seen}"
    );
    assert!(
        seen["staff_mismatch"].as_str().unwrap().contains("differ"),
        "{seen}"
    );
    assert!(
        seen["staff_reset"].as_str().unwrap().contains("reset"),
        "{seen}"
    );
    assert!(
        seen["staff_state"].as_str().unwrap().contains("disabled"),
        "{seen}"
    );
    let page = seen["staff_page"].as_str().unwrap();
    assert!(!page.contains("Another-Password"), "{page}");
    // `Ward::create` published list 1; the console wrote list 2 and handed it to the
    // relay, and the tablet installs it at its next check-in (verified against its root).
    let published = ward.pki.join("staff").join("staff-list-2.json");
    let flash = seen["published"].as_str().unwrap();
    assert!(flash.contains(&published.display().to_string()), "{seen}");
    assert!(flash.contains("sent to the relay"), "{seen}");
    // (The agent was still running when the browser published: it may have installed
    // the list already; one more check-in makes sure.)
    ok(tab.agent().unwrap().args(["run", "--for-secs", "2"]), "").unwrap();
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&published).unwrap(),
        "the tablet did not install the published list"
    );
    for f in [
        "console-fleet.png",
        "console-disabled.png",
        "console-audit.png",
        "console-certificates.png",
        "console-staff.png",
    ] {
        assert!(shots.join(f).metadata().unwrap().len() > 10_000, "{f}");
    }
}
