//! A harness that drives the real binaries (`shinsei-provision`, `shinsei-relay`,
//! `shinsei-agent`) as separate processes over real TLS on loopback, with real files.
//! Used by the end-to-end tests in `tests/tests/` and by the demo.
#![forbid(unsafe_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Host name of the relay in tests: resolves to loopback everywhere.
pub const RELAY_HOST: &str = "localhost";
pub const ADMIN: &str = "it-admin";
/// The second security officer (a wipe or revoke needs two).
pub const ADMIN2: &str = "it-officer-2";
pub const STAFF_ID: &str = "S0001";
pub const STAFF_PASSWORD: &str = "correct-horse-battery-1";

pub type Result<T> = std::result::Result<T, String>;

/// Directory holding the workspace's binaries (built on first use).
pub fn bin_dir() -> Result<&'static Path> {
    static DIR: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut dir = exe.parent().ok_or("no exe dir")?.to_path_buf();
        if dir.ends_with("deps") {
            dir.pop();
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let profile_release = dir.ends_with("release");
        // The end-to-end tests drive the agent's and the tool's test hooks (crash
        // points, clock offset, memory reads, `--now`): those two are built with the
        // `test-hooks` feature (one package per build: cargo applies `--features` to the
        // selected package only); release builds never have it.
        for (package, features) in [
            ("shinsei-tablet", Some("test-hooks")),
            ("shinsei-provisioning", Some("test-hooks")),
            ("shinsei-relay", None),
            ("shinsei-console", None),
        ] {
            let mut cmd = Command::new(&cargo);
            cmd.args(["build", "-q", "-p", package, "--bins"]);
            if let Some(f) = features {
                cmd.args(["--features", f]);
            }
            if profile_release {
                cmd.arg("--release");
            }
            // The variables cargo sets for this test binary would leak into the nested
            // build and look like a changed environment to build scripts (ring reruns on
            // CARGO_MANIFEST_DIR), rebuilding ring and everything above it twice per run.
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy();
                if k == "CARGO_MANIFEST_DIR"
                    || k == "CARGO_MANIFEST_PATH"
                    || k == "CARGO_CRATE_NAME"
                    || k == "CARGO_PRIMARY_PACKAGE"
                    || k == "CARGO_TARGET_TMPDIR"
                    || k == "OUT_DIR"
                    || k.starts_with("CARGO_PKG_")
                    || k.starts_with("CARGO_BIN_EXE_")
                {
                    cmd.env_remove(k.as_ref());
                }
            }
            let st = cmd.status().map_err(|e| format!("cargo build: {e}"))?;
            if !st.success() {
                return Err(format!("building {package} failed"));
            }
        }
        Ok(dir)
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

pub fn bin(name: &str) -> Result<PathBuf> {
    Ok(bin_dir()?.join(name))
}

/// Runs a command, feeding `stdin`, and returns its output.
pub fn run(cmd: &mut Command, stdin: &str) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    child.wait_with_output().map_err(|e| e.to_string())
}

/// A finished command's standard output followed by its standard error, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs and requires success.
pub fn ok(cmd: &mut Command, stdin: &str) -> Result<String> {
    let o = run(cmd, stdin)?;
    let text = text(&o);
    if o.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd:?} failed ({}): {text}", o.status))
    }
}

pub fn free_port() -> Result<u16> {
    shinsei_testkit::net::try_free_port()
}

/// A ward: PKI, relay keys, one admin, one staff member and a published staff list.
pub struct Ward {
    pub dir: PathBuf,
    pub pki: PathBuf,
    pub port: u16,
    pub admin_port: u16,
    pub staff_list: PathBuf,
}

impl Ward {
    pub fn create(dir: &Path) -> Result<Self> {
        Self::create_with_host(dir, RELAY_HOST, free_port()?, free_port()?, &[])
    }

    /// A ward whose relay is `host` (a name or an address, put in the relay's certificate
    /// and the bundles) on the given ports; `relay_init_args` are added to
    /// `shinsei-provision relay init` (e.g. `--days 365`). [`Ward::create`] is this with
    /// `localhost` on free ports; the network tests use it for a relay in a network
    /// namespace under a DNS name.
    pub fn create_with_host(
        dir: &Path,
        host: &str,
        port: u16,
        admin_port: u16,
        relay_init_args: &[&str],
    ) -> Result<Self> {
        Self::create_full(dir, host, port, admin_port, relay_init_args, None)
    }

    /// A ward whose CAs were made `secs` ago (so that certificates can be issued in
    /// the past with `--now`, e.g. a device certificate near its end).
    pub fn create_backdated(dir: &Path, secs: u64) -> Result<Self> {
        let then = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs()
            .saturating_sub(secs);
        Self::create_full(dir, RELAY_HOST, free_port()?, free_port()?, &[], Some(then))
    }

    fn create_full(
        dir: &Path,
        host: &str,
        port: u16,
        admin_port: u16,
        relay_init_args: &[&str],
        ca_now: Option<u64>,
    ) -> Result<Self> {
        let pki = dir.join("pki");
        let p = bin("shinsei-provision")?;
        let pki_s = pki.to_string_lossy().to_string();
        let mut init = Command::new(&p);
        init.args(["--pki", &pki_s, "ca", "init", "--org", "Demo Ward"]);
        if let Some(t) = ca_now {
            init.args(["--now", &t.to_string()]);
        }
        ok(&mut init, "")?;
        ok(
            Command::new(&p)
                .args([
                    "--pki",
                    &pki_s,
                    "relay",
                    "init",
                    "--host",
                    host,
                    "--port",
                    &port.to_string(),
                    "--admin-port",
                    &admin_port.to_string(),
                ])
                .args(relay_init_args),
            "",
        )?;
        for name in [ADMIN, ADMIN2] {
            ok(
                Command::new(&p).args([
                    "--pki",
                    &pki_s,
                    "admin",
                    "issue",
                    "--name",
                    name,
                    "--role",
                    "security-officer",
                ]),
                "",
            )?;
        }
        ok(
            Command::new(&p).args([
                "--pki",
                &pki_s,
                "staff",
                "add",
                "--id",
                STAFF_ID,
                "--password-stdin",
            ]),
            &format!("{STAFF_PASSWORD}\n"),
        )?;
        let staff_list = dir.join("staff-list.json");
        ok(
            Command::new(&p).args([
                "--pki",
                &pki_s,
                "staff",
                "publish",
                "--out",
                &staff_list.to_string_lossy(),
            ]),
            "",
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            pki,
            port,
            admin_port,
            staff_list,
        })
    }

    pub fn provision(&self) -> Result<Command> {
        let mut c = Command::new(bin("shinsei-provision")?);
        c.arg("--pki").arg(&self.pki);
        Ok(c)
    }

    /// `shinsei-provision device <action> <id>` with the admin certificate.
    /// `shinsei-provision device ACTION DEVICE` as IT would give it: a wipe or revoke
    /// by one security officer, then approved by the second.
    pub fn fleet(&self, action: &str, device: &str) -> Result<String> {
        let out = self.fleet_as(ADMIN, action, device, &[])?;
        if matches!(action, "wipe" | "revoke") {
            return self.fleet_as(ADMIN2, action, device, &[]);
        }
        Ok(out)
    }

    /// `shinsei-provision device ACTION DEVICE --admin-cert ADMIN EXTRA…`.
    pub fn fleet_as(
        &self,
        admin: &str,
        action: &str,
        device: &str,
        extra: &[&str],
    ) -> Result<String> {
        let mut c = self.provision()?;
        c.args(["device", action, device, "--admin-cert", admin]);
        c.args(extra);
        ok(&mut c, "")
    }

    pub fn root_ca(&self) -> PathBuf {
        self.pki.join("root-ca.pem")
    }
}

/// A running relay process (killed on drop).
pub struct Relay {
    pub child: Child,
    pub config: PathBuf,
    pub data: PathBuf,
    pub spool: PathBuf,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Relay {
    pub fn config_text(ward: &Ward, data: &Path, spool: &Path, extra: &str) -> String {
        format!(
            "[listen]\ndevice = \"127.0.0.1:{}\"\nadmin = \"127.0.0.1:{}\"\n\n[paths]\npki_dir = {:?}\ndata_dir = {:?}\nspool_dir = {:?}\n{extra}",
            ward.port, ward.admin_port, ward.pki, data, spool
        )
    }

    pub fn start(ward: &Ward, name: &str) -> Result<Self> {
        Self::start_extra(ward, name, "")
    }

    /// Starts a relay whose configuration file ends with `extra` (TOML sections).
    pub fn start_extra(ward: &Ward, name: &str, extra: &str) -> Result<Self> {
        let base = ward.dir.join(name);
        std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
        let data = base.join("data");
        let spool = base.join("spool");
        let config = base.join("relay.toml");
        std::fs::write(&config, Self::config_text(ward, &data, &spool, extra))
            .map_err(|e| e.to_string())?;
        Self::start_with(ward, config, data, spool, base.join("relay.log"))
    }

    pub fn start_with(
        ward: &Ward,
        config: PathBuf,
        data: PathBuf,
        spool: PathBuf,
        log: PathBuf,
    ) -> Result<Self> {
        let logf = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new(bin("shinsei-relay")?)
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .map_err(|e| e.to_string())?;
        let addr = SocketAddr::from(([127, 0, 0, 1], ward.port));
        let mut r = Self {
            child,
            config,
            data,
            spool,
            addr,
            log,
        };
        r.wait_listening()?;
        Ok(r)
    }

    fn wait_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!("relay exited ({st}): {log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("relay did not start listening".into())
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Envelope directories in the spool.
    pub fn spooled(&self) -> Vec<PathBuf> {
        shinsei_testkit::files::visible_dirs(&self.spool)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An enrolled tablet (a data directory).
pub struct Tablet {
    pub data: PathBuf,
    pub device_id: String,
    pub relay_addr: SocketAddr,
}

impl Tablet {
    pub fn enroll(ward: &Ward, device_id: &str, profile: &str) -> Result<Self> {
        Self::enroll_with(ward, device_id, profile, &[])
    }

    /// [`Tablet::enroll`] with more arguments for `shinsei-provision device sign`
    /// (e.g. `--days 12`).
    pub fn enroll_with(
        ward: &Ward,
        device_id: &str,
        profile: &str,
        sign_args: &[&str],
    ) -> Result<Self> {
        let data = ward.dir.join(format!("tablet-{device_id}"));
        let t = Self {
            data,
            device_id: device_id.to_string(),
            relay_addr: SocketAddr::from(([127, 0, 0, 1], ward.port)),
        };
        let csr = ward.dir.join(format!("{device_id}.csr.pem"));
        let bundle = ward.dir.join(format!("{device_id}.bundle.json"));
        ok(
            t.agent()?
                .args(["enroll", "--device-id", device_id, "--root-ca"])
                .arg(ward.root_ca())
                .arg("--out")
                .arg(&csr),
            "",
        )?;
        ok(
            ward.provision()?
                .args([
                    "device",
                    "sign",
                    "--device-id",
                    device_id,
                    "--profile",
                    profile,
                    "--csr",
                ])
                .arg(&csr)
                .arg("--out")
                .arg(&bundle)
                .args(sign_args),
            "",
        )?;
        ok(t.agent()?.args(["enroll", "--bundle"]).arg(&bundle), "")?;
        ok(
            t.agent()?
                .args(["staff-list", "install"])
                .arg(&ward.staff_list),
            "",
        )?;
        Ok(t)
    }

    /// A tablet's seed made as the imaging workstation makes it: `scripts/make-seed`
    /// (an enrollment ticket and the staff list), with this build's binaries. The
    /// ticket's bundle is written to `<ward>/<id>.bundle.json`, as [`Tablet::enroll`]
    /// writes its bundle.
    pub fn from_make_seed(ward: &Ward, device_id: &str) -> Result<Self> {
        Self::from_make_seed_with(ward, device_id, &ward.staff_list)
    }

    /// [`Tablet::from_make_seed`] with another staff list file.
    pub fn from_make_seed_with(ward: &Ward, device_id: &str, staff_list: &Path) -> Result<Self> {
        let data = ward.dir.join(format!("tablet-{device_id}"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-seed");
        ok(
            Command::new("bash")
                .arg(script)
                .args(["--device-id", device_id, "--seed"])
                .arg(&data)
                .arg("--pki")
                .arg(&ward.pki)
                .arg("--staff-list")
                .arg(staff_list)
                .arg("--bundle-out")
                .arg(ward.dir.join(format!("{device_id}.bundle.json")))
                .env("SHINSEI_AGENT", bin("shinsei-agent")?)
                .env("SHINSEI_PROVISION", bin("shinsei-provision")?),
            "",
        )?;
        Ok(Self {
            data,
            device_id: device_id.to_string(),
            relay_addr: SocketAddr::from(([127, 0, 0, 1], ward.port)),
        })
    }

    pub fn agent(&self) -> Result<Command> {
        let mut c = Command::new(bin("shinsei-agent")?);
        c.arg("--data-dir")
            .arg(&self.data)
            .arg("--relay-addr")
            .arg(self.relay_addr.to_string());
        Ok(c)
    }

    /// Headless submit; `pins` are the four express lines.
    pub fn submit(
        &self,
        application_id: &str,
        photo: &Path,
        extra: &[&str],
        pins: Option<[&str; 4]>,
    ) -> Result<Output> {
        let mut c = self.agent()?;
        // The ID on standard input (the line after the password), never in argv.
        c.args(["submit", "--application-id", "-", "--photo"])
            .arg(photo)
            .args(extra);
        let mut input = format!("{STAFF_ID}\n{STAFF_PASSWORD}\n{application_id}\n");
        if let Some(p) = pins {
            c.args(["--express", "--pins-from-stdin"]);
            for x in p {
                input.push_str(x);
                input.push('\n');
            }
        }
        run(&mut c, &input)
    }

    /// Every byte stored under the tablet's data directory.
    pub fn all_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        walk(&self.data)
    }
}

/// Raw-file scans, shared with the other crates' tests.
pub use shinsei_testkit::files::{contains, walk};

/// Writes a synthetic photo (no person) to `path`.
pub fn write_photo(path: &Path, seed: u32) -> Result<Vec<u8>> {
    let b = shinsei_capture::photo::synthetic_jpeg(seed).to_vec();
    std::fs::write(path, &b).map_err(|e| e.to_string())?;
    Ok(b)
}
