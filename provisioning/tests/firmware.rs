//! `shinsei-provision firmware render`, checked with the real tools: `nft -c`,
//! `systemd-analyze verify`, `systemd-analyze security --offline=yes`, `systemd-sysusers`,
//! `nmcli --offline` (NetworkManager's own keyfile parser), and two network namespaces where the loaded ruleset lets the tablet reach the relay and
//! nothing else.
//!
//! Needs root (network namespaces, `nft`) and the Debian packages `nftables`, `iproute2`,
//! `systemd`, `util-linux` and `network-manager` (for `nmcli`; `--no-install-recommends`
//! is enough). A missing tool fails the test with the package to install;
//! nothing is skipped silently.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    fs,
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream, UdpSocket},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use shinsei_protocol::device::DeviceId;
use shinsei_testkit::{
    netns::VethPair,
    sys::{require_root, require_tool, run_ok, run_with_stdin, wait_for_line},
};

// The agent's enrollment module (the tablet makes its key and CSR), as in tests/cli.rs.
#[allow(dead_code)]
#[path = "../../agent/src/enroll.rs"]
mod enroll;

const WIFI_PASSWORD: &str = "correct horse;battery#staple=%\"'$x";
const RELAY_HOST: &str = "relay.test.example";
const RELAY_IP: &str = "10.77.1.10";
const OTHER_IP: &str = "10.77.1.20";
const DNS_IP: &str = "10.77.1.53";
const RELAY_PORT: u16 = 8443;
const RELAY_IP6: &str = "fd77:1::10";
const OTHER_IP6: &str = "fd77:1::20";

/// A PKI with a relay at `relay.test.example:8443` and one signed bundle for TAB-0001.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    pki: PathBuf,
    bundle: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        Self::with_relay_host(RELAY_HOST)
    }

    fn with_relay_host(host: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_owned();
        let pki = root.join("pki");
        let f = Self {
            bundle: root.join("TAB-0001.bundle.json"),
            root,
            pki,
            _tmp: tmp,
        };
        run_ok(f.prov().args(["ca", "init", "--org", "Test Ward"]));
        run_ok(f.prov().args([
            "relay",
            "init",
            "--host",
            host,
            "--port",
            &RELAY_PORT.to_string(),
        ]));
        let root_pem = fs::read(f.pki.join("root-ca.pem")).unwrap();
        let id = DeviceId::parse("TAB-0001").unwrap();
        let csr = enroll::create_key_and_csr(&f.root.join("tablet"), &id, &root_pem).unwrap();
        let csr_path = f.root.join("TAB-0001.csr.pem");
        fs::write(&csr_path, csr).unwrap();
        run_ok(
            f.prov()
                .args(["device", "sign", "--device-id", "TAB-0001"])
                .args([
                    "--csr".as_ref(),
                    csr_path.as_os_str(),
                    "--out".as_ref(),
                    f.bundle.as_os_str(),
                ]),
        );
        f
    }

    fn prov(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_shinsei-provision"));
        c.arg("--pki").arg(&self.pki);
        c
    }

    /// `firmware render --bundle B --out OUT` plus `args`, `stdin` on standard input.
    fn render(&self, out: &Path, args: &[&str], stdin: &str) -> Output {
        let mut c = self.prov();
        c.args(["firmware", "render", "--bundle"])
            .arg(&self.bundle)
            .arg("--out")
            .arg(out)
            .args(args);
        run_with_stdin(&mut c, stdin)
    }

    /// The standard rendering of these tests, with Wi-Fi; returns the output directory.
    fn render_standard(&self, name: &str, extra: &[&str]) -> PathBuf {
        let out = self.root.join(name);
        let mut args = vec![
            "--relay-ip",
            RELAY_IP,
            "--dns",
            DNS_IP,
            "--wifi-ssid",
            "ward-tablets",
            "--wifi-password-stdin",
        ];
        args.extend_from_slice(extra);
        let o = self.render(&out, &args, &format!("{WIFI_PASSWORD}\n"));
        assert!(
            o.status.success(),
            "render failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn render_writes_every_file_with_its_mode_and_the_password_only_in_the_wifi_profile() {
    let f = Fixture::new();
    let out = f.root.join("fw");
    let o = f.render(
        &out,
        &[
            "--relay-ip",
            RELAY_IP,
            "--dns",
            DNS_IP,
            "--ntp",
            "10.77.1.123",
            "--update-proxy",
            "10.77.1.80:3142",
            "--wifi-ssid",
            "ward-tablets",
            "--wifi-password-stdin",
        ],
        &format!("{WIFI_PASSWORD}\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("/etc/nftables.conf"), "{stdout}");
    assert!(!stdout.contains(WIFI_PASSWORD));
    assert!(!String::from_utf8_lossy(&o.stderr).contains(WIFI_PASSWORD));
    assert_eq!(mode(&out), 0o700);
    let mut names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "70-shinsei-camera.rules",
            "71-shinsei-display.rules",
            "apt-proxy.conf",
            "logind-kiosk.conf",
            "nftables.conf",
            "seatd-kiosk.conf",
            "shinsei-agent.service",
            "shinsei-agent.sysusers.conf",
            "shinsei-kiosk.service",
            "shinsei-kiosk.target",
            "shinsei-wifi.nmconnection",
            "timesyncd.conf",
        ]
    );
    for n in &names {
        let p = out.join(n);
        let text = fs::read_to_string(&p).unwrap();
        if n == "shinsei-wifi.nmconnection" {
            assert_eq!(mode(&p), 0o600, "{n}");
            assert!(text.lines().any(|l| l == format!("psk={WIFI_PASSWORD}")));
            assert!(text.lines().any(|l| l == "hidden=true"));
            assert!(text.lines().any(|l| l == "key-mgmt=sae"));
        } else {
            assert_eq!(mode(&p), 0o644, "{n}");
            assert!(!text.contains(WIFI_PASSWORD), "password leaked into {n}");
        }
    }
    let unit = fs::read_to_string(out.join("shinsei-agent.service")).unwrap();
    assert!(unit.contains(&format!("IPAddressAllow={RELAY_IP}\n")));
    assert!(unit.contains(&format!(
        "Environment=SHINSEI_RELAY_ADDR={RELAY_IP}:{RELAY_PORT}\n"
    )));

    // Never overwrites: a second render into the same directory is refused.
    let again = f.render(
        &out,
        &[
            "--relay-ip",
            RELAY_IP,
            "--wifi-ssid",
            "ward-tablets",
            "--wifi-password-stdin",
        ],
        &format!("{WIFI_PASSWORD}\n"),
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn render_refuses_bad_inputs() {
    let f = Fixture::new();
    let fail = |args: &[&str], stdin: &str, needle: &str| {
        let out = f
            .root
            .join(format!("bad-{}", COUNTER.fetch_add(1, Ordering::SeqCst)));
        let o = f.render(&out, args, stdin);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(
            err.contains(needle),
            "{args:?}: expected '{needle}' in: {err}"
        );
        assert!(!err.contains(WIFI_PASSWORD));
        // Nothing half-written.
        assert!(!out.join("nftables.conf").exists());
    };
    // The bundle names a DNS host: its addresses must be given.
    fail(&[], "", "--relay-ip");
    // Injection attempts through every interpolated value.
    let pw = format!("{WIFI_PASSWORD}\n");
    fail(
        &[
            "--relay-ip",
            RELAY_IP,
            "--wifi-ssid",
            "x\n[ipv4]",
            "--wifi-password-stdin",
        ],
        &pw,
        "bad SSID",
    );
    for bad_password in ["short\n", "a\\nvery-long-password\n"] {
        fail(
            &[
                "--relay-ip",
                RELAY_IP,
                "--wifi-ssid",
                "ward",
                "--wifi-password-stdin",
            ],
            bad_password,
            "bad Wi-Fi password",
        );
    }
    fail(
        &[
            "--relay-ip",
            RELAY_IP,
            "--agent-bin",
            "/bin/sh\nExecStartPre=/bin/sh",
        ],
        "",
        "bad agent binary",
    );
    fail(
        &["--relay-ip", RELAY_IP, "--camera", "/dev/sda"],
        "",
        "bad camera device",
    );
    fail(&["--relay-ip", "127.0.0.1"], "", "cannot be used as relay");
    fail(&["--relay-ip", "10.0.0.1; accept"], "", "invalid value");
    fail(&["--relay-ip", RELAY_IP, "--dns", "0.0.0.0"], "", "DNS");
    // Wi-Fi without the password on stdin is a usage error.
    let o = f.render(
        &f.root.join("bad-usage"),
        &["--relay-ip", RELAY_IP, "--wifi-ssid", "ward"],
        "",
    );
    assert_eq!(o.status.code(), Some(2));

    // A tampered bundle is refused before anything is rendered.
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&f.bundle).unwrap()).unwrap();
    let sig = doc["signature"].as_str().unwrap().to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    doc["signature"] = format!("{flipped}{}", &sig[1..]).into();
    let tampered = f.root.join("tampered.bundle.json");
    fs::write(&tampered, serde_json::to_vec(&doc).unwrap()).unwrap();
    let o = f
        .prov()
        .args(["firmware", "render", "--relay-ip", RELAY_IP, "--bundle"])
        .arg(&tampered)
        .arg("--out")
        .arg(f.root.join("bad-tampered"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("device bundle check failed"));

    // The Wi-Fi password is never written inside a git work tree.
    let repo = f.root.join("repo");
    fs::create_dir_all(repo.join(".git")).unwrap();
    let o = f.render(
        &repo.join("fw"),
        &[
            "--relay-ip",
            RELAY_IP,
            "--wifi-ssid",
            "ward",
            "--wifi-password-stdin",
        ],
        &pw,
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("git work tree"));
    assert!(!repo.join("fw/shinsei-wifi.nmconnection").exists());
}

#[test]
fn relay_given_by_ip_in_the_bundle_needs_no_flag() {
    let f = Fixture::with_relay_host(RELAY_IP);
    let out = f.root.join("fw");
    let o = f.render(&out, &[], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let nft = fs::read_to_string(out.join("nftables.conf")).unwrap();
    assert!(nft.contains(&format!(
        "ip daddr {{ {RELAY_IP} }} tcp dport {RELAY_PORT} accept"
    )));
    // No Wi-Fi asked for, none written.
    assert!(!out.join("shinsei-wifi.nmconnection").exists());
    // Another address than the bundle's is refused.
    let o = f.render(&f.root.join("fw2"), &["--relay-ip", OTHER_IP], "");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not match"));
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs root and system tools: scripts/test runs it (feature system-tests)"
)]
#[test]
fn nft_accepts_the_rulesets() {
    let nft = require_tool("nft", "nftables");
    let unshare = require_tool("unshare", "util-linux");
    require_root("nft -c");
    let f = Fixture::new();
    let v4 = f.render_standard(
        "fw4",
        &["--ntp", "10.77.1.123", "--update-proxy", "10.77.1.80:3142"],
    );
    let v6 = f.render_standard(
        "fw6",
        &["--relay-ip", "2001:db8::10", "--dns", "2001:db8::53"],
    );
    for dir in [v4, v6] {
        // In a fresh network namespace: the check never touches the host's ruleset.
        run_ok(
            Command::new(&unshare)
                .arg("-n")
                .arg(&nft)
                .arg("-c")
                .arg("-f")
                .arg(dir.join("nftables.conf")),
        );
    }
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs root and system tools: scripts/test runs it (feature system-tests)"
)]
#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let sa = require_tool("systemd-analyze", "systemd");
    let f = Fixture::new();
    // `verify` checks that ExecStart's binary exists: stand in for the agent.
    let bin = f.root.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let agent = bin.join("shinsei-agent");
    fs::write(&agent, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&agent, fs::Permissions::from_mode(0o755)).unwrap();
    let out = f.render_standard("fw", &["--agent-bin", agent.to_str().unwrap()]);
    // The kiosk unit's ExecStart is Debian's cage, and it requires seatd.service
    // (both installed by scripts/test).
    require_tool("cage", "cage");
    require_tool("seatd", "seatd");
    let o = Command::new(&sa)
        .arg("verify")
        .arg(out.join("shinsei-agent.service"))
        .arg(out.join("shinsei-kiosk.service"))
        .arg(out.join("shinsei-kiosk.target"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "systemd-analyze verify failed: {stderr}"
    );
    // Warnings (unknown keys, bad values) go to stderr without failing: refuse them too.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("shinsei-")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify warned: {ours:?}");
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs root and system tools: scripts/test runs it (feature system-tests)"
)]
#[test]
fn systemd_analyze_security_exposure_is_ok() {
    let sa = require_tool("systemd-analyze", "systemd");
    let f = Fixture::new();
    let out = f.render_standard("fw", &[]);
    // The headless agent and the kiosk (cage + the UI: GPU and input devices, netlink,
    // and no MemoryDenyWriteExecute for Mesa's shader compilers) both stay below 2.0.
    for unit in ["shinsei-agent.service", "shinsei-kiosk.service"] {
        let o = Command::new(&sa)
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(out.join(unit))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        let line = stdout
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .unwrap_or_else(|| {
                panic!(
                    "no exposure level in systemd-analyze output: {stdout}\n{}",
                    String::from_utf8_lossy(&o.stderr)
                )
            });
        let score: f64 = line
            .split(':')
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("cannot read the score in: {line}"));
        println!("systemd-analyze security {unit}: {}", line.trim());
        assert!(
            score < 2.0,
            "{unit}: exposure {score} is not below 2.0 (OK): {stdout}"
        );
        assert!(line.contains(" OK"), "{unit}: {line}");
    }
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs root and system tools: scripts/test runs it (feature system-tests)"
)]
#[test]
fn nmcli_offline_accepts_the_wifi_profiles() {
    let nmcli = require_tool("nmcli", "network-manager");
    let f = Fixture::new();
    let cases: [(&str, &[&str], &[&str]); 3] = [
        (
            "wpa3",
            &[],
            &[
                "key-mgmt=sae",
                "pmf=3",
                "method=disabled",
                "dns=10.77.1.53;",
            ],
        ),
        (
            "wpa2",
            &["--wifi-security", "wpa2"],
            &[
                "key-mgmt=wpa-psk",
                "proto=rsn;",
                "pairwise=ccmp;",
                "group=ccmp;",
                "pmf=2",
            ],
        ),
        (
            "dual",
            &["--relay-ip", "2001:db8::10", "--dns", "2001:db8::53"],
            &[
                "method=auto",
                "addr-gen-mode=stable-privacy",
                "dns=2001:db8::53;",
            ],
        ),
    ];
    for (name, extra, expect) in cases {
        let out = f.render_standard(name, extra);
        let profile = fs::read(out.join("shinsei-wifi.nmconnection")).unwrap();
        // libnm parses the keyfile, verifies the connection and writes it back out;
        // an invalid value fails, an unknown key would be dropped from the output.
        let mut child = Command::new(&nmcli)
            .args([
                "--offline",
                "connection",
                "modify",
                "connection.id",
                "shinsei-wifi",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&profile).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "{name}: nmcli refused the profile: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let parsed = String::from_utf8_lossy(&o.stdout);
        let lines: Vec<&str> = parsed.lines().collect();
        for want in [
            "ssid=ward-tablets",
            "hidden=true",
            "mode=infrastructure",
            "ignore-auto-dns=true",
        ]
        .iter()
        .chain(expect)
        {
            assert!(lines.contains(want), "{name}: nmcli lost '{want}'");
        }
        assert!(lines.contains(&format!("psk={WIFI_PASSWORD}").as_str()));
    }
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs root and system tools: scripts/test runs it (feature system-tests)"
)]
#[test]
fn systemd_sysusers_creates_the_agent_user() {
    let su = require_tool("systemd-sysusers", "systemd");
    let f = Fixture::new();
    let out = f.render_standard("fw", &[]);
    let root = f.root.join("image");
    fs::create_dir_all(root.join("etc")).unwrap();
    run_ok(
        Command::new(&su)
            .arg(format!("--root={}", root.display()))
            .arg(out.join("shinsei-agent.sysusers.conf")),
    );
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("shinsei-agent:"))
        .unwrap_or_else(|| panic!("no shinsei-agent user in {passwd}"));
    assert!(
        line.ends_with(":/var/lib/shinsei-agent:/usr/sbin/nologin"),
        "{line}"
    );
    let uid: u32 = line.split(':').nth(2).unwrap().parse().unwrap();
    assert!(uid > 0 && uid < 1000, "not a system user: {line}");
}

// ---------------------------------------------------------------------------------------
// Network namespaces: the ruleset loaded, the tablet reaches the relay and nothing else.

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Two namespaces joined by a veth pair ("tab" and "net"); removed when dropped.
type Netns = VethPair;

fn netns(ip: PathBuf) -> Netns {
    let s = VethPair::new(ip, "shinsei-fw", "10.77.0");
    // The relay, another host and the DNS resolver all live in the "net" namespace.
    for a in [RELAY_IP, OTHER_IP, DNS_IP] {
        s.add_host(&s.net, a, 32, &[]);
    }
    // IPv6 too (no duplicate address detection, so the addresses work at once).
    s.ipn(&s.tab, &["addr", "add", "fd77::2/64", "dev", "t0", "nodad"]);
    s.ipn(&s.net, &["addr", "add", "fd77::1/64", "dev", "n0", "nodad"]);
    s.ipn(&s.tab, &["-6", "route", "add", "default", "via", "fd77::1"]);
    for a in [RELAY_IP6, OTHER_IP6] {
        s.add_host(&s.net, a, 128, &["nodad"]);
    }
    s
}

/// Starts this test binary in `ns` as a helper (see [`netns_helper_process`]).
fn helper(nets: &Netns, ns: &str, mode: &str, arg: &str) -> Command {
    let mut c = nets.exec(ns);
    c.arg(std::env::current_exe().unwrap())
        .args([
            "netns_helper_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SHINSEI_FW_HELPER", mode)
        .env("SHINSEI_FW_ARG", arg);
    c
}

/// A listener helper; waits until it is ready. Killed when dropped.
struct Listener(Child);

impl Listener {
    fn start(nets: &Netns, ns: &str, ports: &str) -> Self {
        let mut child = helper(nets, ns, "listen", ports)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Wait at most 30 s for READY.
        if !wait_for_line(&mut child, "READY") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("listener helper in {ns} did not start");
        }
        Self(child)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Probes `targets` ("tcp:IP:PORT" or "udp:IP:PORT", comma-separated) from `ns`;
/// returns (target, reached) in order.
fn probe(nets: &Netns, ns: &str, targets: &[String]) -> Vec<(String, bool)> {
    let o = run_ok(&mut helper(nets, ns, "probe", &targets.join(",")));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let results: Vec<(String, bool)> = stdout
        .lines()
        .filter_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .map(|l| {
            let (t, r) = l.rsplit_once(' ').unwrap();
            (t.to_owned(), r == "reached")
        })
        .collect();
    assert_eq!(results.len(), targets.len(), "probe output: {stdout}");
    results
}

/// Loads `ruleset` in the tablet's namespace and checks every probe: reachable before
/// (so any blocking is the ruleset's), then exactly the `(target, allowed)` expectations
/// outbound, and nothing inbound.
fn check_ruleset_in_namespaces(ruleset: &Path, outbound: &[(String, bool)]) {
    let ip = require_tool("ip", "iproute2");
    let nft = require_tool("nft", "nftables");
    require_root("the network-namespace test");
    let nets = netns(ip.clone());
    let _servers = Listener::start(&nets, &nets.net, "8443,8444,443,53");
    let _tablet_server = Listener::start(&nets, &nets.tab, "2222");
    let targets: Vec<String> = outbound.iter().map(|(t, _)| t.clone()).collect();
    let inbound = vec![
        "tcp:10.77.0.2:2222".to_owned(),
        "tcp:[fd77::2]:2222".to_owned(),
    ];

    for (t, reached) in probe(&nets, &nets.tab, &targets)
        .into_iter()
        .chain(probe(&nets, &nets.net, &inbound))
    {
        assert!(reached, "{t} unreachable before the ruleset was loaded");
    }

    run_ok(nets.exec(&nets.tab).arg(&nft).arg("-f").arg(ruleset));
    let listed = run_ok(nets.exec(&nets.tab).arg(&nft).args(["list", "ruleset"]));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("table inet shinsei"));
    // Forget the neighbours learnt so far: IPv6 must now work through neighbour
    // discovery as the ruleset allows it (or not at all).
    for ns in [&nets.tab, &nets.net] {
        run_ok(Command::new(&ip).args(["-n", ns, "neigh", "flush", "all"]));
    }

    for ((t, reached), (_, want)) in probe(&nets, &nets.tab, &targets).into_iter().zip(outbound) {
        assert_eq!(
            reached,
            *want,
            "{t}: {} with the ruleset loaded",
            if reached { "reached" } else { "blocked" }
        );
    }
    // Nothing comes in.
    for (t, reached) in probe(&nets, &nets.net, &inbound) {
        assert!(!reached, "inbound {t} reached the tablet");
    }
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs root and system tools: scripts/test runs it (feature system-tests)"
)]
#[test]
fn netns_ruleset_lets_the_tablet_reach_the_relay_and_nothing_else() {
    let f = Fixture::new();
    let out = f.render_standard("fw", &[]);
    let outbound = [
        (format!("tcp:{RELAY_IP}:{RELAY_PORT}"), true), // the relay
        (format!("tcp:{RELAY_IP}:8444"), false),        // the relay's admin port
        (format!("tcp:{OTHER_IP}:{RELAY_PORT}"), false), // another host, same port
        (format!("tcp:{OTHER_IP}:443"), false),         // another host, HTTPS
        (format!("udp:{DNS_IP}:53"), true),             // the resolver
        (format!("tcp:{DNS_IP}:53"), true),             // the resolver over TCP
        (format!("udp:{OTHER_IP}:53"), false),          // another resolver
        // No IPv6 address rendered: all IPv6 is dropped, even to the relay's host.
        (format!("tcp:[{RELAY_IP6}]:{RELAY_PORT}"), false),
    ];
    check_ruleset_in_namespaces(&out.join("nftables.conf"), &outbound);
}

#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs root and system tools: scripts/test runs it (feature system-tests)"
)]
#[test]
fn netns_dual_stack_ruleset_reaches_the_relay_over_ipv6_and_nothing_else() {
    let f = Fixture::new();
    let out = f.render_standard("fw", &["--relay-ip", RELAY_IP6]);
    let outbound = [
        (format!("tcp:{RELAY_IP}:{RELAY_PORT}"), true),
        (format!("tcp:[{RELAY_IP6}]:{RELAY_PORT}"), true), // via neighbour discovery
        (format!("tcp:[{RELAY_IP6}]:8444"), false),
        (format!("tcp:[{OTHER_IP6}]:{RELAY_PORT}"), false),
        (format!("tcp:[{OTHER_IP6}]:443"), false),
        (format!("tcp:{OTHER_IP}:{RELAY_PORT}"), false),
        (format!("udp:{DNS_IP}:53"), true),
    ];
    check_ruleset_in_namespaces(&out.join("nftables.conf"), &outbound);
}

/// Not a test of its own: the process the namespace test starts inside a namespace
/// (`ip netns exec NS <this binary> netns_helper_process --exact`). Does nothing when
/// run as part of the suite.
#[test]
fn netns_helper_process() {
    let Ok(mode) = std::env::var("SHINSEI_FW_HELPER") else {
        return;
    };
    let arg = std::env::var("SHINSEI_FW_ARG").unwrap();
    match mode.as_str() {
        "listen" => {
            for port in arg.split(',') {
                let port: u16 = port.parse().unwrap();
                // [::] accepts IPv4 as well (bindv6only is 0 in a new namespace).
                let l = TcpListener::bind(("::", port)).unwrap();
                std::thread::spawn(move || {
                    for s in l.incoming().flatten() {
                        let mut s = s;
                        let _ = s.write_all(b"hello\n");
                    }
                });
                // UDP echo bound to each host address (so the reply comes from it);
                // only the "net" namespace has them.
                for host in [RELAY_IP, OTHER_IP, DNS_IP] {
                    if let Ok(u) = UdpSocket::bind((host, port)) {
                        std::thread::spawn(move || {
                            let mut buf = [0u8; 512];
                            while let Ok((n, from)) = u.recv_from(&mut buf) {
                                let _ = u.send_to(&buf[..n], from);
                            }
                        });
                    }
                }
            }
            println!("READY");
            std::io::stdout().flush().unwrap();
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        "probe" => {
            let targets: Vec<String> = arg.split(',').map(str::to_owned).collect();
            let handles: Vec<_> = targets
                .into_iter()
                .map(|t| {
                    std::thread::spawn(move || {
                        let (proto, addr) = t.split_once(':').unwrap();
                        let addr: SocketAddr = addr.parse().unwrap();
                        let reached = match proto {
                            "tcp" => tcp_reaches(addr),
                            _ => udp_reaches(addr),
                        };
                        (t, reached)
                    })
                })
                .collect();
            for h in handles {
                let (t, reached) = h.join().unwrap();
                println!("RESULT {t} {}", if reached { "reached" } else { "blocked" });
            }
        }
        other => panic!("unknown helper mode {other}"),
    }
}

fn tcp_reaches(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(1500)) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf).is_ok() && &buf == b"hello\n"
}

fn udp_reaches(addr: SocketAddr) -> bool {
    let u = UdpSocket::bind("0.0.0.0:0").unwrap();
    u.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    if u.send_to(b"ping", addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(u.recv_from(&mut buf), Ok((4, from)) if from == addr && &buf[..4] == b"ping")
}
