//! End to end over the real binaries: provisioning → relay → agent, real TLS on loopback,
//! real files, real processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use shinsei_testkit::{files::names, keys, wait::poll as wait_for};
use shinsei_tests::{contains, ok, run, write_photo, Relay, Tablet, Ward};

const ID1: &str = "12345678901234567890123";
const ID2: &str = "23456789012345678901234";

fn spool_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("application.json")).unwrap()).unwrap()
}

fn assert_nothing_left(t: &Tablet, id: &str, photo: &[u8], pins: &[&str]) {
    for (path, bytes) in t.all_files() {
        assert!(
            !contains(&bytes, id.as_bytes()),
            "application ID in {}",
            path.display()
        );
        for chunk in photo[200..].chunks(64).take(40) {
            assert!(
                !contains(&bytes, chunk),
                "photo bytes in {}",
                path.display()
            );
        }
        for p in pins {
            assert!(!contains(&bytes, p.as_bytes()), "PIN in {}", path.display());
        }
    }
}

/// Outbox records found in the raw bytes of every file under the tablet's data
/// directory (sled does not erase removed records), and how many of them open with a
/// key present on that disk (every 32-byte file is tried as a key).
fn outbox_remnants(t: &Tablet) -> (usize, usize) {
    let files = t.all_files();
    let keys: Vec<[u8; 32]> = files
        .iter()
        .filter_map(|(_, b)| <[u8; 32]>::try_from(b.as_slice()).ok())
        .collect();
    let (mut found, mut opened) = (0, 0);
    for (_, bytes) in &files {
        for (_, rec) in shinsei_agent::outbox::scan_records(bytes) {
            found += 1;
            if keys
                .iter()
                .any(|k| shinsei_agent::outbox::open_record_with(k, rec).is_some())
            {
                opened += 1;
            }
        }
    }
    (found, opened)
}

fn outbox_len(t: &Tablet) -> u64 {
    let o = ok(t.agent().unwrap().args(["status", "--json"]), "").unwrap();
    let v: serde_json::Value = serde_json::from_str(o.lines().next().unwrap()).unwrap();
    v["outbox"].as_u64().unwrap()
}

#[test]
fn submit_standard_and_express_deliver_only_permitted_fields_and_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let relay = Relay::start(&ward, "relay").unwrap();
    let std_tab = Tablet::enroll(&ward, "TAB-0001", "standard").unwrap();
    let exp_tab = Tablet::enroll(&ward, "TAB-0002", "express").unwrap();
    let p1 = tmp.path().join("p1.jpg");
    let p2 = tmp.path().join("p2.jpg");
    let b1 = write_photo(&p1, 1).unwrap();
    let b2 = write_photo(&p2, 2).unwrap();

    let o = std_tab
        .submit(ID1, &p1, &["--e-cert", "yes"], None)
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("delivered"));
    let pins = ["XYZ789", "4321", "8765", "1357"];
    let o = exp_tab
        .submit(
            ID2,
            &p2,
            &["--braille", "yes", "--e-cert", "yes"],
            Some(pins),
        )
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    assert!(
        wait_for(|| relay.spooled().len() == 2, 30),
        "spool: {:?}",
        relay.spooled()
    );
    let mut seen = Vec::new();
    for d in relay.spooled() {
        assert_eq!(names(&d), ["application.json", "photo.jpg"]);
        let v = spool_json(&d);
        let keys = keys(&v);
        let id = v["application_id"].as_str().unwrap().to_string();
        let photo = std::fs::read(d.join("photo.jpg")).unwrap();
        if id == ID1 {
            assert_eq!(
                keys,
                [
                    "application_id",
                    "braille",
                    "e_certificate",
                    "profile",
                    "received_at"
                ]
            );
            assert_eq!(v["e_certificate"], true);
            assert_eq!(v["braille"], false);
            assert_eq!(v["profile"], "standard");
            assert_eq!(photo, b1);
        } else {
            assert_eq!(id, ID2);
            assert_eq!(
                keys,
                [
                    "application_id",
                    "braille",
                    "e_certificate",
                    "pins",
                    "profile",
                    "received_at"
                ]
            );
            assert_eq!(v["pins"]["signature_password"], "XYZ789");
            assert_eq!(v["pins"]["card_info"], "1357");
            assert_eq!(v["profile"], "express");
            assert_eq!(photo, b2);
        }
        seen.push(id);
    }
    seen.sort();
    assert_eq!(seen, [ID1, ID2]);

    assert_eq!(outbox_len(&std_tab), 0);
    assert_eq!(outbox_len(&exp_tab), 0);
    assert_nothing_left(&std_tab, ID1, &b1, &[]);
    assert_nothing_left(&exp_tab, ID2, &b2, &pins);
    // The relay stores the sealed envelope only: no plaintext in its data directory.
    for (path, bytes) in shinsei_tests::walk(&relay.data) {
        assert!(!contains(&bytes, ID1.as_bytes()), "{}", path.display());
        assert!(!contains(&bytes, b"XYZ789"), "{}", path.display());
    }
    let audit = ok(std_tab.agent().unwrap().args(["audit", "verify"]), "").unwrap();
    assert!(audit.contains("intact"), "{audit}");
}

#[test]
fn relay_down_queues_then_delivers_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let mut relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0003", "standard").unwrap();
    // A first check-in registers the device.
    ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
    relay.stop();
    let p = tmp.path().join("p.jpg");
    let b = write_photo(&p, 3).unwrap();
    let o = tab.submit(ID1, &p, &[], None).unwrap();
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("queued"));
    assert_eq!(outbox_len(&tab), 1);
    assert_nothing_left(&tab, ID1, &b, &[]);
    // Control for the raw-disk check below: while queued, the record is on disk and
    // opens with the key beside it.
    let (found, opened) = outbox_remnants(&tab);
    println!("queued: outbox records on disk {found}, opening {opened}");
    assert!(found >= 1 && opened >= 1, "found {found}, opened {opened}");

    let relay = Relay::start_with(
        &ward,
        relay.config.clone(),
        relay.data.clone(),
        relay.spool.clone(),
        tmp.path().join("relay2.log"),
    )
    .unwrap();
    ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
    assert_eq!(outbox_len(&tab), 0);
    assert!(wait_for(|| relay.spooled().len() == 1, 30));
    // Issue 14: after the outbox drained, remnants may still be in sled's files, but
    // no key on the disk opens any of them (the outbox key was replaced in place).
    let (found, opened) = outbox_remnants(&tab);
    println!("delivered: outbox records on disk {found}, opening {opened}");
    assert_eq!(opened, 0, "{found} remnants, {opened} readable");
    // Flushing again sends nothing more.
    ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(relay.spooled().len(), 1);
}

#[test]
fn agent_killed_between_seal_and_send_or_before_delete_delivers_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0004", "standard").unwrap();
    let p = tmp.path().join("p.jpg");
    write_photo(&p, 4).unwrap();
    for (point, id) in [("sealed", ID1), ("received", ID2)] {
        let mut c = tab.agent().unwrap();
        c.env("SHINSEI_TEST_CRASH_AT", point);
        c.args(["submit", "--application-id", "-", "--photo"])
            .arg(&p);
        let o = run(
            &mut c,
            &format!(
                "{}\n{}\n{id}\n",
                shinsei_tests::STAFF_ID,
                shinsei_tests::STAFF_PASSWORD
            ),
        )
        .unwrap();
        assert!(!o.status.success(), "the agent was to be killed at {point}");
        assert_eq!(outbox_len(&tab), 1, "{point}");
        // The clerk retries the same form: recognised, nothing new is sealed.
        let again = tab.submit(id, &p, &[], None).unwrap();
        assert_eq!(
            again.status.code(),
            Some(11),
            "{point}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(outbox_len(&tab), 1, "{point}");
        ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
        assert_eq!(outbox_len(&tab), 0, "{point}");
    }
    assert!(wait_for(|| relay.spooled().len() == 2, 30));
    std::thread::sleep(Duration::from_millis(500));
    let ids: Vec<String> = relay
        .spooled()
        .iter()
        .map(|d| {
            spool_json(d)["application_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&ID1.to_string()) && ids.contains(&ID2.to_string()));
    // An explicit resend (e.g. a retaken photo) is the clerk's choice and goes through.
    let o = tab.submit(ID1, &p, &["--resend"], None).unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(wait_for(|| relay.spooled().len() == 3, 30));
}

#[test]
fn remote_disable_and_wipe_reach_a_running_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let _relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0005", "standard").unwrap();
    let p = tmp.path().join("p.jpg");
    write_photo(&p, 5).unwrap();
    ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();

    // Disable while the agent runs (long-poll), then the agent refuses to submit.
    let mut daemon = tab
        .agent()
        .unwrap()
        .args(["run", "--for-secs", "4"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    ward.fleet("disable", "TAB-0005").unwrap();
    daemon.wait().unwrap();
    let st = ok(tab.agent().unwrap().args(["status", "--json"]), "").unwrap();
    assert!(st.contains("\"state\":\"disabled\""), "{st}");
    let o = tab.submit(ID1, &p, &[], None).unwrap();
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    ward.fleet("enable", "TAB-0005").unwrap();
    ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
    let st = ok(tab.agent().unwrap().args(["status", "--json"]), "").unwrap();
    assert!(st.contains("\"state\":\"active\""), "{st}");

    // Wipe while the agent runs: it erases itself and exits with code 6.
    let mut daemon = tab
        .agent()
        .unwrap()
        .args(["run", "--for-secs", "30"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    // One officer's order only asks (issue 17's two-person rule): the tablet keeps its
    // data until a second officer approves.
    let asked = ward
        .fleet_as(
            shinsei_tests::ADMIN,
            "wipe",
            "TAB-0005",
            &["--reason", "lost at the event"],
        )
        .unwrap();
    assert!(asked.contains("second security officer"), "{asked}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(daemon.try_wait().unwrap().is_none());
    assert!(tab.data.join("outbox.key").exists());
    let t0 = Instant::now();
    ward.fleet_as(shinsei_tests::ADMIN2, "wipe", "TAB-0005", &[])
        .unwrap();
    let status = daemon.wait().unwrap();
    let took = t0.elapsed();
    eprintln!(
        "figure: remote wipe to keys erased (online): {} ms",
        took.as_millis()
    );
    assert_eq!(status.code(), Some(6));
    assert!(tab.data.join("WIPED").exists());
    assert!(!tab.data.join("enrollment").exists());
    assert!(!tab.data.join("outbox.key").exists());
    let o = run(tab.agent().unwrap().args(["status"]), "").unwrap();
    assert_eq!(o.status.code(), Some(6));
    // The relay now refuses the wiped device at the TLS layer: re-enrolling is the only way back.
    let devices = ok(
        ward.provision()
            .unwrap()
            .args(["device", "list", "--admin-cert", shinsei_tests::ADMIN]),
        "",
    )
    .unwrap();
    assert!(devices.contains("wiped"), "{devices}");
}

#[test]
fn offline_lease_locks_then_wipes() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0006", "standard").unwrap();
    ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
    drop(relay);
    let p = tmp.path().join("p.jpg");
    write_photo(&p, 6).unwrap();
    let with_clock = |secs: u64| {
        let mut c = tab.agent().unwrap();
        c.env("SHINSEI_CLOCK_FORWARD_SECS", secs.to_string());
        c
    };
    // 25 hours without a check-in: locked.
    let mut c = with_clock(25 * 3600);
    c.args(["submit", "--application-id", "-", "--photo"])
        .arg(&p);
    let o = run(
        &mut c,
        &format!(
            "{}\n{}\n{ID1}\n",
            shinsei_tests::STAFF_ID,
            shinsei_tests::STAFF_PASSWORD
        ),
    )
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Setting the clock back does not unlock: the high-water mark persists.
    let o = run(with_clock(0).args(["status", "--json"]), "").unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("locked"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // 8 days: wiped.
    let o = run(with_clock(8 * 86400).args(["status"]), "").unwrap();
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(tab.data.join("WIPED").exists());
    let o = run(
        Command::new(shinsei_tests::bin("shinsei-agent").unwrap())
            .arg("--data-dir")
            .arg(&tab.data)
            .arg("status"),
        "",
    )
    .unwrap();
    assert_eq!(o.status.code(), Some(6));
}

#[test]
fn staff_lockout_after_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let _relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0007", "standard").unwrap();
    let p = tmp.path().join("p.jpg");
    write_photo(&p, 7).unwrap();
    let attempt = |pw: &str| {
        let mut c = tab.agent().unwrap();
        c.args(["submit", "--application-id", "-", "--photo"])
            .arg(&p);
        run(
            &mut c,
            &format!("{}\n{pw}\n{ID1}\n", shinsei_tests::STAFF_ID),
        )
        .unwrap()
    };
    for i in 0..4 {
        let o = attempt("wrong-password-000");
        assert_eq!(o.status.code(), Some(3), "attempt {i}");
    }
    let o = attempt("wrong-password-000");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("locked out"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Even the right password is refused while locked out.
    let o = attempt(shinsei_tests::STAFF_PASSWORD);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("locked out"));
    let log = ok(tab.agent().unwrap().args(["audit", "show"]), "").unwrap();
    assert!(log.contains("\"event\":\"lockout\""), "{log}");
    assert!(!log.contains("wrong-password"), "passwords never logged");
}

/// Issue 18: 5,000 failed logins (most refused by the lock-out, which costs no PBKDF2)
/// leave a bounded log, and one `audit ship` then delivers all of it within the relay's
/// limits (it used to fail for good past 1,000 entries: exit 8, `422 invalid_audit`).
/// A password typed into the staff-ID field is found in no file of the data directory.
#[test]
fn thousands_of_failed_logins_ship_in_one_go_and_leave_no_typed_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let _relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0018", "standard").unwrap();
    let typed_password = "Hunter2Secret99";
    {
        let mut agent = shinsei_agent::runtime::Agent::open(
            &tab.data,
            std::sync::Arc::new(shinsei_agent::clock::SystemClock::default()),
            Some(tab.relay_addr),
        )
        .unwrap();
        // The password typed into the ID field (it matches the staff-ID syntax).
        assert!(agent.login(typed_password, b"whatever").is_err());
        for i in 0..5000 {
            let id = if i % 2 == 0 {
                shinsei_tests::STAFF_ID
            } else {
                "S0999"
            };
            assert!(agent.login(id, b"wrong-password-000").is_err());
        }
        let pending = shinsei_agent::audit::AuditLog::open(&tab.data).unwrap();
        pending.flush().unwrap();
        let entries = pending.entries().unwrap();
        assert!(entries.len() <= 8, "bounded: {} entries", entries.len());
        let attempts: u64 = entries
            .iter()
            .filter(|e| e.event == "login_failed" || e.event == "lockout")
            .map(|e| e.count.unwrap_or(1))
            .sum();
        assert_eq!(attempts, 5001);
    }
    let out = ok(tab.agent().unwrap().args(["audit", "ship"]), "").unwrap();
    assert!(out.contains("shipped"), "{out}");
    let left = ok(tab.agent().unwrap().args(["audit", "show"]), "").unwrap();
    assert!(
        left.trim().is_empty(),
        "the relay acknowledged everything: {left}"
    );
    ok(tab.agent().unwrap().args(["audit", "verify"]), "").unwrap();
    // Control: the scan finds what is there (the staff ID is in the staff list file).
    let has = |needle: &[u8]| {
        shinsei_testkit::files_below(&tab.data)
            .into_iter()
            .filter(|p| contains(&std::fs::read(p).unwrap_or_default(), needle))
            .collect::<Vec<_>>()
    };
    assert!(!has(shinsei_tests::STAFF_ID.as_bytes()).is_empty());
    let found = has(typed_password.as_bytes());
    assert!(found.is_empty(), "typed password found in {found:?}");
}

/// Issue 18: an agent killed at any step of a wipe leaves no key once it starts again:
/// the wipe is marked before anything is shredded and finished at the next start, and
/// the wipe is confirmed to the relay only after the keys are gone.
#[test]
fn a_wipe_killed_at_any_step_is_finished_at_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let _relay = Relay::start(&ward, "relay").unwrap();
    for (i, point) in [
        "wipe-begun",
        "wipe-outbox-key",
        "wipe-shipped",
        "wipe-shredded",
        "wipe-confirmed",
    ]
    .into_iter()
    .enumerate()
    {
        let tab = Tablet::enroll(&ward, &format!("TAB-01{i:02}"), "standard").unwrap();
        ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
        // Control: the keys are there before.
        let secrets = |t: &Tablet| {
            shinsei_testkit::files_below(&t.data)
                .into_iter()
                .filter(|p| {
                    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    n.ends_with(".key") || n.contains("key") || n == "audit.log"
                })
                .collect::<Vec<_>>()
        };
        assert!(secrets(&tab).len() >= 2, "{point}: {:?}", secrets(&tab));
        // 8 days offline: the lease wipes, and the process is killed at `point`.
        let mut c = tab.agent().unwrap();
        c.env("SHINSEI_CLOCK_FORWARD_SECS", (8 * 86400).to_string())
            .env("SHINSEI_TEST_CRASH_AT", point)
            .args(["status"]);
        let o = run(&mut c, "").unwrap();
        assert!(!o.status.success(), "{point}: the agent was not killed");
        // The next start finishes the wipe.
        let o = run(tab.agent().unwrap().args(["status"]), "").unwrap();
        assert_eq!(
            o.status.code(),
            Some(6),
            "{point}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(tab.data.join("WIPED").exists(), "{point}");
        assert!(!tab.data.join("WIPING").exists(), "{point}");
        assert!(secrets(&tab).is_empty(), "{point}: {:?}", secrets(&tab));
    }
}

/// Issue 18: a revoked (not wiped) tablet used to see only "relay unreachable" and work
/// offline for up to a day. The relay's refusal of its certificate now locks it, and it
/// stays locked with the relay out of reach.
#[test]
fn a_revoked_tablet_locks_instead_of_working_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0019", "standard").unwrap();
    let p = tmp.path().join("p.jpg");
    write_photo(&p, 19).unwrap();
    ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
    ward.fleet("revoke", "TAB-0019").unwrap();
    // The next command that checks in learns it from the TLS refusal.
    let o = tab.submit(ID1, &p, &[], None).unwrap();
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    drop(relay);
    // Offline now, and still locked: a submission is refused before any login.
    let o = tab.submit(ID1, &p, &[], None).unwrap();
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let st = ok(tab.agent().unwrap().args(["status", "--json"]), "").unwrap();
    assert!(st.contains("\"state\":\"revoked\""), "{st}");
}

// Issue 18: the smaller tablet-side findings.

fn login_lines() -> String {
    format!(
        "{}\n{}\n",
        shinsei_tests::STAFF_ID,
        shinsei_tests::STAFF_PASSWORD
    )
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `enroll --out x.csr.pem` with a bare file name (relative to the current directory)
/// wrote the CSR, then failed (exit 9) syncing the directory "" of the bare name.
#[test]
fn enroll_writes_the_csr_to_a_bare_relative_file_name() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let cwd = tmp.path().join("it-desk");
    std::fs::create_dir(&cwd).unwrap();
    let o = run(
        Command::new(shinsei_tests::bin("shinsei-agent").unwrap())
            .current_dir(&cwd)
            .arg("--data-dir")
            .arg(tmp.path().join("tablet"))
            .args(["enroll", "--device-id", "TAB-0201", "--root-ca"])
            .arg(ward.root_ca())
            .args(["--out", "TAB-0201.csr.pem"]),
        "",
    )
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let csr = std::fs::read_to_string(cwd.join("TAB-0201.csr.pem")).unwrap();
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    assert_eq!(names(&cwd), ["TAB-0201.csr.pem"], "no temporary file left");
}

/// `--application-id -` reads the ID from standard input (after the password), so it is
/// neither in the shell's history nor in `/proc/PID/cmdline`; the argv form is refused
/// with what to do instead.
#[test]
fn submit_takes_the_application_id_from_standard_input() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0202", "standard").unwrap();
    let p = tmp.path().join("p.jpg");
    write_photo(&p, 202).unwrap();
    let mut c = tab.agent().unwrap();
    c.args(["submit", "--application-id", "-", "--photo"])
        .arg(&p);
    let o = run(&mut c, &format!("{}{ID1}\n", login_lines())).unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(ID1), "the ID is printed masked only");
    assert!(
        !text(&o).contains("warning"),
        "no warning for the stdin form: {}",
        text(&o)
    );
    assert!(wait_for(|| relay.spooled().len() == 1, 30));
    assert_eq!(spool_json(&relay.spooled()[0])["application_id"], ID1);

    // The ID line missing: a clear error, nothing sent.
    write_photo(&p, 203).unwrap();
    let mut c = tab.agent().unwrap();
    c.args(["submit", "--application-id", "-", "--photo"])
        .arg(&p);
    let o = run(&mut c, &login_lines()).unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("application ID"),
        "{}",
        text(&o)
    );

    // The argv form: refused before anything is read, with what to do instead.
    write_photo(&p, 204).unwrap();
    let mut c = tab.agent().unwrap();
    c.args(["submit", "--application-id", ID2, "--photo"])
        .arg(&p);
    let o = run(&mut c, &format!("{}{ID2}\n", login_lines())).unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--application-id -"), "{err}");
    assert!(
        !err.contains(ID2),
        "the refusal does not repeat the ID: {err}"
    );
    assert!(p.exists(), "nothing was sealed: the photo stays");
    // The same through standard input goes through.
    let o = tab.submit(ID2, &p, &[], None).unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(wait_for(|| relay.spooled().len() == 2, 30));
}

/// The applicant's photo file is removed once the application is sealed into the outbox
/// (delivered or queued), kept with `--keep-photo`, and kept when nothing was sealed.
#[test]
fn submit_removes_the_input_photo_once_sealed_unless_keep_photo() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let mut relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0203", "standard").unwrap();
    let photo = |n: u32| {
        let p = tmp.path().join(format!("photo-{n}.jpg"));
        write_photo(&p, n).unwrap();
        p
    };

    // Delivered: removed.
    let p1 = photo(1);
    let o = tab.submit(ID1, &p1, &[], None).unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(!p1.exists(), "the photo file was left after delivery");

    // Not sealed (wrong password; already submitted): kept.
    let p2 = photo(2);
    let mut c = tab.agent().unwrap();
    c.args(["submit", "--application-id", "-", "--photo"])
        .arg(&p2);
    let o = run(
        &mut c,
        &format!("{}\nwrong-password-000\n{ID2}\n", shinsei_tests::STAFF_ID),
    )
    .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(p2.exists(), "nothing was sealed: the photo stays");
    let o = tab.submit(ID1, &p2, &[], None).unwrap();
    assert_eq!(o.status.code(), Some(11), "{}", text(&o));
    assert!(p2.exists(), "nothing was sealed: the photo stays");

    // --keep-photo: kept.
    let o = tab.submit(ID2, &p2, &["--keep-photo"], None).unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(p2.exists(), "--keep-photo");
    std::fs::remove_file(&p2).unwrap();

    // Queued (relay down): sealed into the outbox, so removed too.
    relay.stop();
    let p3 = photo(3);
    let o = tab
        .submit("34567890123456789012345", &p3, &[], None)
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(!p3.exists(), "the photo file was left after queueing");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("removed"),
        "{}",
        text(&o)
    );
}

fn test_face() -> std::path::PathBuf {
    let dir = std::env::var_os("SHINSEI_TEST_FACES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-faces")
        });
    let p = dir.join("astronaut.png");
    assert!(
        p.exists(),
        "test face image missing ({}); run scripts/fetch-test-faces.sh first",
        p.display()
    );
    p
}

/// `crop --out` writes a plaintext photo of the applicant: mode 0600, and a warning on
/// standard error that says so and that the file must be deleted.
#[test]
fn crop_out_is_private_and_warns_that_it_holds_a_face() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cropped.jpg");
    let o = run(
        Command::new(shinsei_tests::bin("shinsei-agent").unwrap())
            .arg("--data-dir")
            .arg(tmp.path().join("tablet"))
            .args(["crop", "--in"])
            .arg(test_face())
            .arg("--out")
            .arg(&out),
        "",
    )
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning") && err.contains("face") && err.contains("delete"),
        "{err}"
    );
    // The JSON report alone on standard output (scripts parse it).
    let report: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    assert_eq!(report["accepted"], true, "{report}");
}

// ---------------------------------------------------------------------------------------
// Issue 17: "the tablet cannot tell a real wipe order from a fake one". A TLS server that
// presents a certificate for the relay's host name minted with the ward's device-CA key
// (the everyday key, on the provisioning PC) and answers `GET /v1/status` with a wipe
// order. The real agent binary, on a tablet of a ward made by the real provisioning tool.

mod impostor {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::Duration;

    use rcgen::{
        CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::server::{ServerConfig, ServerConnection};
    use shinsei_protocol::api::{DeviceState, StatusResponse};

    #[derive(Debug, Default)]
    pub(super) struct Seen {
        pub connections: usize,
        pub handshakes_completed: usize,
        /// Request lines received after a completed handshake.
        pub requests: Vec<String>,
    }

    /// A fake relay on 127.0.0.1 (a port of its own): real TLS (rustls), HTTP/1.1, every
    /// `GET /v1/status` answered `wipe_pending`, anything else 404.
    pub(super) struct FakeRelay {
        pub addr: SocketAddr,
        seen: Arc<Mutex<Seen>>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl FakeRelay {
        pub(super) fn start(
            chain: Vec<CertificateDer<'static>>,
            key_pkcs8: Vec<u8>,
            device_id: &str,
        ) -> Self {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8));
            let mut cfg = ServerConfig::builder_with_provider(provider)
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
            cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            let cfg = Arc::new(cfg);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let seen = Arc::new(Mutex::new(Seen::default()));
            let stop = Arc::new(AtomicBool::new(false));
            let (seen2, stop2) = (seen.clone(), stop.clone());
            let order = serde_json::to_vec(&StatusResponse {
                device_id: device_id.to_string(),
                state: DeviceState::WipePending,
                version: 1_000,
                server_time: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
                bundle_ready: false,
                staff_list: None,
            })
            .unwrap();
            let thread = std::thread::spawn(move || {
                for tcp in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(tcp) = tcp {
                        serve(cfg.clone(), tcp, &seen2, &order);
                    }
                }
            });
            Self {
                addr,
                seen,
                stop,
                thread: Some(thread),
            }
        }

        pub(super) fn finish(mut self) -> Seen {
            self.shutdown();
            std::mem::take(&mut *self.seen.lock().unwrap())
        }

        fn shutdown(&mut self) {
            if let Some(t) = self.thread.take() {
                self.stop.store(true, Ordering::SeqCst);
                let _ = TcpStream::connect(self.addr);
                let _ = t.join();
            }
        }
    }

    impl Drop for FakeRelay {
        fn drop(&mut self) {
            self.shutdown();
        }
    }

    fn serve(cfg: Arc<ServerConfig>, mut tcp: TcpStream, seen: &Mutex<Seen>, order: &[u8]) {
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
        seen.lock().unwrap().connections += 1;
        let mut conn = ServerConnection::new(cfg).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return;
            }
        }
        seen.lock().unwrap().handshakes_completed += 1;
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
            match tls.read(&mut b) {
                Ok(1) => head.push(b[0]),
                _ => return,
            }
        }
        let line = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let answer = if line.starts_with("GET /v1/status") {
            let mut a = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                order.len()
            )
            .into_bytes();
            a.extend_from_slice(order);
            a
        } else {
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
        };
        seen.lock().unwrap().requests.push(line);
        let _ = tls.write_all(&answer);
        let _ = tls.flush();
        tls.conn.send_close_notify();
        let _ = tls.conn.complete_io(tls.sock);
    }

    /// A CA of the ward's PKI directory (`NAME.pem` / `NAME.key`) as an rcgen issuer, and
    /// its certificate.
    pub(super) fn ward_ca(
        pki: &std::path::Path,
        name: &str,
    ) -> (Issuer<'static, KeyPair>, CertificateDer<'static>) {
        use rustls::pki_types::pem::PemObject;
        let pem = std::fs::read_to_string(pki.join(format!("{name}.pem"))).unwrap();
        let key =
            KeyPair::from_pem(&std::fs::read_to_string(pki.join(format!("{name}.key"))).unwrap())
                .unwrap();
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        (Issuer::from_ca_cert_pem(&pem, key).unwrap(), der)
    }

    /// A TLS server certificate for `host` (SAN, EKU serverAuth, subject OU `shinsei
    /// relay` like the relay's own) issued by `issuer`, and its PKCS#8 key.
    pub(super) fn server_cert(
        issuer: &Issuer<'_, KeyPair>,
        host: &str,
    ) -> (CertificateDer<'static>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![host.to_string()]).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationalUnitName, "shinsei relay");
        dn.push(DnType::CommonName, host);
        p.distinguished_name = dn;
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&key, issuer).unwrap();
        (cert.der().clone(), key.serialize_der())
    }
}

fn tablet_secrets_present(t: &Tablet) -> bool {
    t.data.join("enrollment").join("device.key").exists()
        && t.data.join("enrollment").join("bundle.json").exists()
        && t.data.join("outbox.key").exists()
}

/// Issue 17's required test: a server certificate minted by the device CA is refused by
/// the agent. The fake relay presents it (with the device CA as intermediate) and orders
/// a wipe: the running agent (`run`) and `outbox flush` refuse the handshake, say that
/// the relay is not the ward's relay, wipe nothing and do not lock as revoked; the real
/// relay then takes the tablet's application. Control: the same fake with a certificate
/// from the ward root (OU `shinsei relay`) is obeyed, so the refusal is the
/// certificate's alone.
#[test]
fn a_server_certificate_minted_by_the_device_ca_is_refused_by_the_agent() {
    use impostor::{server_cert, ward_ca, FakeRelay};
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0017", "standard").unwrap();
    let p = tmp.path().join("p.jpg");
    write_photo(&p, 17).unwrap();
    // One application queued while the relay is down: the flush below has work to do.
    let o = tab.submit(ID1, &p, &[], None).unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert_eq!(outbox_len(&tab), 1);

    let (device_ca, device_ca_der) = ward_ca(&ward.pki, "device-ca");
    let (leaf, key) = server_cert(&device_ca, shinsei_tests::RELAY_HOST);
    let fake = FakeRelay::start(vec![leaf, device_ca_der], key, "TAB-0017");
    let at_fake = Tablet {
        data: tab.data.clone(),
        device_id: tab.device_id.clone(),
        relay_addr: fake.addr,
    };
    assert!(
        tablet_secrets_present(&tab),
        "enrollment incomplete (vacuous)"
    );

    // The running agent long-polls the impostor for 3 s.
    let o = run(
        at_fake.agent().unwrap().args(["run", "--for-secs", "3"]),
        "",
    )
    .unwrap();
    assert!(
        !tab.data.join("WIPED").exists() && tablet_secrets_present(&tab),
        "the agent wiped itself on the order of a server the device CA certified: {}",
        text(&o)
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("not the ward's relay"), "{}", text(&o));
    // What the clerk or IT reads: the sentence of the message table, both languages.
    let o = run(at_fake.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(7), "{all}");
    assert!(all.contains("申請サーバーの証明書を拒否しました"), "{all}");
    assert!(all.contains("not the ward's relay"), "{all}");
    let seen = fake.finish();
    assert!(seen.connections > 0, "never reached the fake: {seen:?}");
    assert_eq!(seen.handshakes_completed, 0, "{seen:?}");
    assert!(seen.requests.is_empty(), "{seen:?}");
    assert!(tablet_secrets_present(&tab));
    // A refused server certificate is not a revocation of ours: still active, and the
    // real relay takes the queued application.
    let st = ok(tab.agent().unwrap().args(["status", "--json"]), "").unwrap();
    assert!(st.contains("\"state\":\"active\""), "{st}");
    let relay = Relay::start(&ward, "relay").unwrap();
    let out = ok(tab.agent().unwrap().args(["outbox", "flush"]), "").unwrap();
    assert!(out.contains("delivered 1"), "{out}");
    assert!(wait_for(|| relay.spooled().len() == 1, 30));
    drop(relay);

    // Control: the ward root's certificate for the relay's name on the same fake.
    let (root, _) = ward_ca(&ward.pki, "root-ca");
    let (leaf, key) = server_cert(&root, shinsei_tests::RELAY_HOST);
    let fake = FakeRelay::start(vec![leaf], key, "TAB-0017");
    let at_fake = Tablet {
        relay_addr: fake.addr,
        ..at_fake
    };
    let o = run(
        at_fake.agent().unwrap().args(["run", "--for-secs", "30"]),
        "",
    )
    .unwrap();
    let seen = fake.finish();
    assert_eq!(o.status.code(), Some(6), "{} {seen:?}", text(&o));
    assert!(tab.data.join("WIPED").exists());
    assert!(!tab.data.join("enrollment").exists());
    assert!(
        seen.requests
            .iter()
            .any(|l| l.starts_with("GET /v1/status")),
        "{seen:?}"
    );
}
