//! Behaviour of the `shinsei-provision` binary: every subcommand's happy path and its bad
//! inputs, with real files, and the tablet side (`agent/src/enroll.rs`) installing what
//! it produced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use assert_cmd::prelude::*;
use predicates::prelude::*;
use shinsei_protocol::device::DeviceId;

// The agent's enrollment module, compiled in until `shinsei_agent::enroll` is exported.
#[allow(dead_code)]
#[path = "../../agent/src/enroll.rs"]
mod enroll;

const DAY: u64 = 86_400;

fn now() -> u64 {
    shinsei_provisioning::unix_now()
}

fn prov(pki: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shinsei-provision"));
    c.arg("--pki").arg(pki);
    c
}

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    pki: PathBuf,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_owned();
        Self {
            pki: root.join("pki"),
            root,
            _tmp: tmp,
        }
    }
    fn p(&self) -> Command {
        prov(&self.pki)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
    /// `ca init` + `relay init` + `admin issue`.
    fn init(&self) {
        self.p()
            .args(["ca", "init", "--org", "Test Ward"])
            .assert()
            .success();
        self.p()
            .args(["relay", "init", "--host", "relay.test.example"])
            .assert()
            .success();
    }
    /// A tablet data directory with a key and CSR; returns (data dir, CSR path).
    fn tablet(&self, id: &str) -> (PathBuf, PathBuf) {
        let data = self.path(&format!("tablet-{id}"));
        let root_pem = fs::read(self.pki.join("root-ca.pem")).unwrap();
        let csr =
            enroll::create_key_and_csr(&data, &DeviceId::parse(id).unwrap(), &root_pem).unwrap();
        let csr_path = self.path(&format!("{id}.csr.pem"));
        fs::write(&csr_path, csr).unwrap();
        (data, csr_path)
    }
}

fn stdin_run(mut c: Command, input: &str) -> std::process::Output {
    shinsei_testkit::sys::run_with_stdin(&mut c, input)
}

#[test]
fn help_on_every_subcommand() {
    let cmds: &[&[&str]] = &[
        &[],
        &["ca"],
        &["ca", "init"],
        &["relay"],
        &["relay", "init"],
        &["relay", "rotate-key"],
        &["admin"],
        &["admin", "issue"],
        &["device"],
        &["device", "sign"],
        &["device", "sign-bulk"],
        &["device", "list"],
        &["device", "disable"],
        &["device", "enable"],
        &["device", "wipe"],
        &["device", "revoke"],
        &["staff"],
        &["staff", "add"],
        &["staff", "disable"],
        &["staff", "list"],
        &["staff", "publish"],
        &["audit"],
        &["firmware"],
        &["firmware", "render"],
    ];
    for c in cmds {
        Command::new(env!("CARGO_BIN_EXE_shinsei-provision"))
            .args(*c)
            .arg("--help")
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage:"))
            .stdout(predicate::str::contains(" / "));
    }
}

#[test]
fn enroll_a_tablet_end_to_end() {
    let e = Env::new();
    e.init();
    // Keys are 0600, certificates public.
    use std::os::unix::fs::PermissionsExt;
    for k in [
        "root-ca.key",
        "device-ca.key",
        "relay/tls.key",
        "relay/receipt.key",
    ] {
        let m = fs::metadata(e.pki.join(k)).unwrap().permissions().mode();
        assert_eq!(m & 0o777, 0o600, "{k}");
    }
    let (data, csr) = e.tablet("TAB-0001");
    let bundle = e.path("TAB-0001.bundle.json");
    e.p()
        .args([
            "device",
            "sign",
            "--device-id",
            "TAB-0001",
            "--profile",
            "express",
        ])
        .arg("--csr")
        .arg(&csr)
        .arg("--out")
        .arg(&bundle)
        .assert()
        .success()
        .stdout(predicate::str::contains("TAB-0001"));
    // Refuses to overwrite the bundle.
    e.p()
        .args(["device", "sign", "--device-id", "TAB-0001"])
        .arg("--csr")
        .arg(&csr)
        .arg("--out")
        .arg(&bundle)
        .assert()
        .failure()
        .stderr(predicate::str::contains("already exists"));

    let bytes = fs::read(&bundle).unwrap();
    // One flipped byte anywhere in the bundle: the tablet refuses it.
    for i in (0..bytes.len()).step_by(bytes.len() / 23) {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        assert!(
            enroll::install_bundle(&data, &t, now()).is_err(),
            "flip at {i} accepted"
        );
    }
    let installed = enroll::install_bundle(&data, &bytes, now()).unwrap();
    assert_eq!(installed.relay_url, "https://relay.test.example:8443");
    let en = enroll::load_enrollment(&data).unwrap();
    assert_eq!(en.device_id.as_str(), "TAB-0001");
    assert_eq!(en.relay_host, "relay.test.example");
    assert_eq!(
        en.policy.profile,
        shinsei_protocol::bundle::Profile::Express
    );
    let d =
        shinsei_pki::layout::load_deployment(&shinsei_pki::layout::PkiLayout::new(&e.pki)).unwrap();
    assert_eq!(en.relay_key_id.to_hex(), d.hpke_key_id);
    // The certificate lasts the default 30 days.
    let left = en.cert_not_after - now() as i64;
    assert!(
        (29 * DAY as i64..=30 * DAY as i64).contains(&left),
        "{left}"
    );
    // Another tablet's data dir refuses this bundle.
    let (other, _) = e.tablet("TAB-0002");
    assert!(enroll::install_bundle(&other, &bytes, now()).is_err());
    // The issued certificate is recorded.
    assert!(e.pki.join("devices/TAB-0001.pem").exists());
    assert!(fs::read_to_string(e.pki.join("devices/issued.jsonl"))
        .unwrap()
        .contains("TAB-0001"));
}

#[test]
fn missing_ca_is_a_clear_error() {
    let e = Env::new();
    for args in [
        vec!["relay", "init", "--host", "relay.example"],
        vec!["admin", "issue", "--name", "it", "--role", "viewer"],
        vec!["staff", "publish", "--out", "x.json"],
    ] {
        e.p()
            .args(&args)
            .assert()
            .failure()
            .stderr(predicate::str::contains("ca init"));
    }
    fs::write(e.path("a.csr.pem"), "x").unwrap();
    e.p()
        .args(["device", "sign", "--device-id", "TAB-1", "--out", "b.json"])
        .arg("--csr")
        .arg(e.path("a.csr.pem"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("ca init"));
    // CA present, relay not initialised.
    e.p().args(["ca", "init"]).assert().success();
    e.p()
        .args(["ca", "init"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("already exists"));
    fs::write(e.path("b.csr.pem"), "x").unwrap();
    e.p()
        .args(["device", "sign", "--device-id", "TAB-1", "--out"])
        .arg(e.path("b.json"))
        .arg("--csr")
        .arg(e.path("b.csr.pem"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("relay init"));
}

#[test]
fn bad_csrs_are_refused() {
    let e = Env::new();
    e.init();
    let (_data, csr) = e.tablet("TAB-0001");
    let out = e.path("out.json");
    let sign = |id: &str, csr: &Path| {
        let mut c = e.p();
        c.args(["device", "sign", "--device-id", id])
            .arg("--csr")
            .arg(csr)
            .arg("--out")
            .arg(&out);
        c
    };
    // CN is not the device ID.
    sign("TAB-0002", &csr)
        .assert()
        .failure()
        .stderr(predicate::str::contains("is not the device ID"));
    // Malformed device ID.
    sign("TAB_1", &csr)
        .assert()
        .failure()
        .stderr(predicate::str::contains("device ID"));
    // Not a CSR at all.
    let junk = e.path("junk.csr.pem");
    fs::write(
        &junk,
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    )
    .unwrap();
    sign("TAB-0001", &junk)
        .assert()
        .failure()
        .stderr(predicate::str::contains("CSR"));
    // A CSR claiming one key but signed by another: swap the public key inside a valid
    // CSR for another key's; the self-signature no longer verifies.
    let a = rcgen::KeyPair::generate().unwrap();
    let b = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "TAB-0001");
    let der = params.serialize_request(&a).unwrap().der().to_vec();
    let pa = a.public_key_raw();
    let pos = der.windows(pa.len()).position(|w| w == pa).unwrap();
    let mut forged = der.clone();
    forged[pos..pos + pa.len()].copy_from_slice(b.public_key_raw());
    let pem = shinsei_pki::layout::cert_pem(&forged).replace("CERTIFICATE", "CERTIFICATE REQUEST");
    let forged_path = e.path("forged.csr.pem");
    fs::write(&forged_path, pem).unwrap();
    sign("TAB-0001", &forged_path)
        .assert()
        .failure()
        .stderr(predicate::str::contains("self-signature"));
    assert!(!out.exists());
    // The genuine one still works.
    sign("TAB-0001", &csr).assert().success();
}

#[test]
fn expired_cas_are_refused() {
    let t0 = now() - 400 * DAY;
    // Root CA valid for one day, 400 days ago.
    let e = Env::new();
    e.p()
        .args(["ca", "init", "--days", "1", "--device-ca-days", "1"])
        .args(["--now", &t0.to_string()])
        .assert()
        .success();
    e.p()
        .args(["relay", "init", "--host", "relay.example"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("expired"));
    e.p()
        .args(["admin", "issue", "--name", "it", "--role", "viewer"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("expired"));

    // Root fine, device CA expired: device signing and staff publishing refuse.
    let e = Env::new();
    e.p()
        .args(["ca", "init", "--device-ca-days", "1"])
        .args(["--now", &t0.to_string()])
        .assert()
        .success();
    e.p()
        .args(["relay", "init", "--host", "relay.example"])
        .args(["--now", &t0.to_string()])
        .assert()
        .success();
    let data = e.path("tablet");
    let root_pem = fs::read(e.pki.join("root-ca.pem")).unwrap();
    let csr =
        enroll::create_key_and_csr(&data, &DeviceId::parse("TAB-1").unwrap(), &root_pem).unwrap();
    fs::write(e.path("TAB-1.csr.pem"), csr).unwrap();
    e.p()
        .args(["device", "sign", "--device-id", "TAB-1", "--out"])
        .arg(e.path("b.json"))
        .arg("--csr")
        .arg(e.path("TAB-1.csr.pem"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("device CA").and(predicate::str::contains("expired")));
    e.p()
        .args(["staff", "publish", "--out"])
        .arg(e.path("s.json"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("expired"));
}

#[test]
fn bulk_signing_shows_progress() {
    let e = Env::new();
    e.init();
    let dir = e.path("csrs");
    fs::create_dir(&dir).unwrap();
    for id in ["TAB-0001", "TAB-0002", "TAB-0003"] {
        let (_d, csr) = e.tablet(id);
        fs::copy(csr, dir.join(format!("{id}.csr.pem"))).unwrap();
    }
    e.p()
        .args(["device", "sign-bulk", "--dir"])
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains("[1/3] TAB-0001 ok"))
        .stderr(predicate::str::contains("[3/3] TAB-0003 ok"))
        .stdout(predicate::str::contains("3"));
    for id in ["TAB-0001", "TAB-0002", "TAB-0003"] {
        assert!(dir.join(format!("{id}.bundle.json")).exists());
    }
    // A CSR whose file name does not match its CN fails; the others go on.
    let dir2 = e.path("csrs2");
    fs::create_dir(&dir2).unwrap();
    let (_d, csr) = e.tablet("TAB-0004");
    fs::copy(&csr, dir2.join("TAB-0004.csr.pem")).unwrap();
    fs::copy(&csr, dir2.join("TAB-0009.csr.pem")).unwrap();
    e.p()
        .args(["device", "sign-bulk", "--dir"])
        .arg(&dir2)
        .assert()
        .failure()
        .stderr(predicate::str::contains("[1/2] TAB-0004 ok"))
        .stderr(predicate::str::contains("[2/2] TAB-0009"))
        .stderr(predicate::str::contains("1 of 2"));
    assert!(dir2.join("TAB-0004.bundle.json").exists());
    // Empty directory.
    let empty = e.path("empty");
    fs::create_dir(&empty).unwrap();
    e.p()
        .args(["device", "sign-bulk", "--dir"])
        .arg(&empty)
        .assert()
        .failure()
        .stderr(predicate::str::contains("*.csr.pem"));
}

#[test]
fn staff_accounts_and_signed_lists() {
    let e = Env::new();
    e.init();
    let (data, csr) = e.tablet("TAB-0001");
    let bundle = e.path("b.json");
    e.p()
        .args(["device", "sign", "--device-id", "TAB-0001", "--csr"])
        .arg(&csr)
        .arg("--out")
        .arg(&bundle)
        .assert()
        .success();
    enroll::install_bundle(&data, &fs::read(&bundle).unwrap(), now()).unwrap();

    // Password rules.
    let mut c = e.p();
    c.args(["staff", "add", "--id", "tanaka"]);
    c.assert()
        .failure()
        .stderr(predicate::str::contains("--password-stdin"));
    for (pw, why) in [
        ("short-1A", "at least 12"),
        ("aaaaaaaaaaaaaaaa", "repeated"),
        ("abcdefghijklmnop", "two of"),
        ("xxTanaka-2025-yy", "staff ID"),
    ] {
        let mut c = e.p();
        c.args(["staff", "add", "--id", "tanaka", "--password-stdin"]);
        let out = stdin_run(c, &format!("{pw}\n"));
        assert!(!out.status.success(), "{pw}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{pw}: {err}");
        assert!(!err.contains(pw), "password echoed");
    }
    let mut c = e.p();
    c.args(["staff", "add", "--id", "bad id", "--password-stdin"]);
    assert!(!stdin_run(c, "Good-password-1\n").status.success());

    // One good account (each PBKDF2 hash is slow in debug builds: keep it to one).
    let mut c = e.p();
    c.args(["staff", "add", "--id", "tanaka", "--password-stdin"]);
    let out = stdin_run(c, "Sakura-no-hana-2025\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = e.p();
    c.args(["staff", "add", "--id", "tanaka", "--password-stdin"]);
    let out = stdin_run(c, "Sakura-no-hana-2026\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replace"));
    use std::os::unix::fs::PermissionsExt;
    let db = e.pki.join("staff/staff.json");
    assert_eq!(
        fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!fs::read_to_string(&db).unwrap().contains("Sakura"));

    e.p()
        .args(["staff", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("tanaka").and(predicate::str::contains("active")));

    let l1 = e.path("staff-1.json");
    e.p()
        .args(["staff", "publish", "--valid-days", "30", "--out"])
        .arg(&l1)
        .assert()
        .success()
        .stdout(predicate::str::contains("sequence: 1"));
    e.p()
        .args(["staff", "disable", "--id", "tanaka"])
        .assert()
        .success();
    e.p()
        .args(["staff", "disable", "--id", "nobody"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no staff ID"));
    e.p()
        .args(["staff", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("disabled"));
    let l2 = e.path("staff-2.json");
    e.p()
        .args(["staff", "publish", "--out"])
        .arg(&l2)
        .assert()
        .success()
        .stdout(predicate::str::contains("sequence: 2"));

    // The tablet: installs list 1, logs in, installs list 2 (disabled), refuses list 1.
    let list1 = enroll::install_staff_list(&data, &fs::read(&l1).unwrap(), now()).unwrap();
    assert_eq!(
        list1.verify_password("tanaka", b"Sakura-no-hana-2025"),
        Ok(())
    );
    let list2 = enroll::install_staff_list(&data, &fs::read(&l2).unwrap(), now()).unwrap();
    assert_eq!(
        list2.verify_password("tanaka", b"Sakura-no-hana-2025"),
        Err(shinsei_protocol::staff::LoginError::Disabled)
    );
    let rolled = enroll::install_staff_list(&data, &fs::read(&l1).unwrap(), now());
    assert!(
        matches!(
            rolled,
            Err(enroll::EnrollError::StaffList(
                shinsei_protocol::staff::StaffError::RolledBack { .. }
            ))
        ),
        "rollback accepted"
    );
    // Stale: 31 days later the list is refused.
    assert!(matches!(
        enroll::load_staff_list(&data, now() + 31 * DAY),
        Err(enroll::EnrollError::StaffList(
            shinsei_protocol::staff::StaffError::Expired
        ))
    ));
    // Unsigned: the bare payload, or a list with its signature removed.
    let doc = shinsei_protocol::signed::parse(&fs::read(&l2).unwrap()).unwrap();
    assert!(enroll::install_staff_list(&data, doc.unverified_payload(), now()).is_err());
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&l2).unwrap()).unwrap();
    v["signature"] = "".into();
    assert!(enroll::install_staff_list(&data, &serde_json::to_vec(&v).unwrap(), now()).is_err());
}

#[test]
fn relay_key_rotation() {
    use shinsei_pki::layout::{load_deployment, load_hpke_key_ring, PkiLayout};
    let e = Env::new();
    let t0 = now() - 30 * DAY;
    e.p()
        .args(["ca", "init", "--now", &t0.to_string()])
        .assert()
        .success();
    e.p()
        .args([
            "relay",
            "init",
            "--host",
            "relay.example",
            "--now",
            &t0.to_string(),
        ])
        .assert()
        .success();
    e.p()
        .args(["relay", "init", "--host", "relay.example"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("already exists"));
    let l = PkiLayout::new(&e.pki);
    let first = load_deployment(&l).unwrap().hpke_key_id;
    // Rotate 30 days ago, old key kept for 7 days.
    e.p()
        .args([
            "relay",
            "rotate-key",
            "--retire-old-after",
            "7",
            "--now",
            &t0.to_string(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(&first));
    let second = load_deployment(&l).unwrap().hpke_key_id;
    assert_ne!(first, second);
    let ring = load_hpke_key_ring(&l, t0 + DAY).unwrap();
    assert_eq!(ring.current().key_id().to_hex(), second);
    assert_eq!(ring.info().len(), 2);
    let first_id = shinsei_protocol::keys::KeyId::from_hex(&first).unwrap();
    assert!(ring.secret_key_at(&first_id, t0 + DAY).is_some());
    assert!(ring.secret_key_at(&first_id, t0 + 8 * DAY).is_none());
    // Today the first key is past its end: loading skips it, rotating deletes it.
    assert_eq!(load_hpke_key_ring(&l, now()).unwrap().info().len(), 1);
    e.p()
        .args(["relay", "rotate-key"])
        .assert()
        .success()
        .stdout(predicate::str::contains("removed"));
    assert_eq!(fs::read_dir(l.hpke_dir()).unwrap().count(), 2);
    // Key files are 0600 and the relay can load all its material.
    use std::os::unix::fs::PermissionsExt;
    for f in fs::read_dir(l.hpke_dir()).unwrap() {
        let m = f.unwrap().metadata().unwrap().permissions().mode();
        assert_eq!(m & 0o777, 0o600);
    }
    let m = shinsei_pki::layout::load_relay_material(&l, now()).unwrap();
    assert_eq!(m.deployment.relay_url, "https://relay.example:8443");
    assert_eq!(m.tls_chain.len(), 1);
}

#[test]
fn admin_issue_and_fleet_without_relay() {
    let e = Env::new();
    e.init();
    // No admin certificate yet.
    e.p()
        .args(["device", "list"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("admin issue"));
    // The role is never implied.
    e.p()
        .args(["admin", "issue", "--name", "it-suzuki"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--role"));
    e.p()
        .args(["admin", "issue", "--name", "it-suzuki", "--role", "boss"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("security-officer"));
    e.p()
        .args([
            "admin",
            "issue",
            "--name",
            "it-suzuki",
            "--role",
            "security-officer",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("it-suzuki.pem"))
        .stdout(predicate::str::contains("role security-officer, 30 days"));
    e.p()
        .args(["admin", "issue", "--name", "../evil", "--role", "viewer"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("bad name"));
    // A closed loopback port: a clear connection error, non-zero exit.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("https://127.0.0.1:{port}");
    for args in [
        vec!["device", "list"],
        vec!["device", "disable", "TAB-0001"],
        vec!["device", "enable", "TAB-0001"],
        vec!["device", "wipe", "TAB-0001"],
        vec!["device", "revoke", "TAB-0001"],
        vec!["audit"],
    ] {
        e.p()
            .args(&args)
            .args(["--admin-url", &url])
            .assert()
            .failure()
            .stderr(predicate::str::contains("cannot connect to the relay"));
    }
    e.p()
        .args(["device", "list", "--admin-url", "http://127.0.0.1:1"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("https://"));
    // Two admins: the choice must be explicit.
    e.p()
        .args(["admin", "issue", "--name", "it-sato", "--role", "operator"])
        .assert()
        .success();
    e.p()
        .args(["audit", "--admin-url", &url])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--admin-cert"));
    e.p()
        .args(["audit", "--admin-cert", "it-sato", "--admin-url", &url])
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot connect"));
}

/// Issue 18: the published staff list holds every account's password hash (PBKDF2, but
/// offline-crackable): it is written 0600 from the start, like the tool's other secret
/// files, and still never overwrites an existing file.
#[test]
fn staff_publish_writes_the_password_hashes_0600() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    e.init();
    let mut c = e.p();
    c.args(["staff", "add", "--id", "suzuki", "--password-stdin"]);
    let out = stdin_run(c, "Momiji-no-aki-2025\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = e.path("out/staff-list.json");
    e.p()
        .args(["staff", "publish", "--out"])
        .arg(&list)
        .assert()
        .success();
    let text = fs::read_to_string(&list).unwrap();
    let doc = shinsei_protocol::signed::parse(text.as_bytes()).unwrap();
    assert!(
        String::from_utf8_lossy(doc.unverified_payload()).contains("pbkdf2"),
        "the list carries the password hashes"
    );
    assert_eq!(
        fs::metadata(&list).unwrap().permissions().mode() & 0o777,
        0o600,
        "the staff list holds password hashes"
    );
    // No overwrite: a second publish to the same file is refused and leaves it as it was.
    e.p()
        .args(["staff", "publish", "--out"])
        .arg(&list)
        .assert()
        .failure();
    assert_eq!(fs::read_to_string(&list).unwrap(), text);
}
