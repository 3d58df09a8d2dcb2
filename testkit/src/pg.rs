//! PostgreSQL for the relay's tests (and the relay's load bench).
//!
//! `SHINSEI_TEST_PG_URL` (a superuser connection string or URL) names a server to use;
//! otherwise a throw-away cluster is started from Debian's binaries
//! (`/usr/lib/postgresql/*/bin`, or `initdb` on `PATH`) in a temporary directory, on a
//! free loopback port, as user `postgres` when running as root. A watchdog process
//! stops it and deletes the directory when the test process exits. Every test gets
//! its own database.
//!
//! Without PostgreSQL the tests FAIL with a message saying what to install, unless
//! `SHINSEI_SKIP_PG=1` is set (then they print that they were skipped).

use crate::{net::free_port, sys::is_root};

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

/// A PostgreSQL server the tests may create databases on.
pub struct PgServer {
    /// Connection string of the server without a database name.
    base: String,
    /// Directory of the client binaries (`pg_dump`, `pg_restore`), if known.
    pub bindir: Option<PathBuf>,
    /// Started here (vs. given by `SHINSEI_TEST_PG_URL`).
    pub own: bool,
}

/// One database, dropped at the end of the test.
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin: String,
}

static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();

fn skip_allowed() -> bool {
    std::env::var("SHINSEI_SKIP_PG").is_ok_and(|v| v == "1")
}

/// The server, or `None` when PostgreSQL is unavailable and `SHINSEI_SKIP_PG=1`.
/// Panics (fails the test) when it is unavailable otherwise.
pub fn server() -> Option<&'static PgServer> {
    match SERVER.get_or_init(start) {
        Ok(s) => Some(s),
        Err(e) if skip_allowed() => {
            eprintln!("SKIPPED (SHINSEI_SKIP_PG=1): PostgreSQL unavailable: {e}");
            None
        }
        Err(e) => panic!(
            "PostgreSQL is needed by this test and is unavailable: {e}\n\
             Install Debian's packages (apt-get install postgresql) so the test can start \
             its own cluster, or set SHINSEI_TEST_PG_URL to a superuser connection string; \
             SHINSEI_SKIP_PG=1 skips the PostgreSQL tests explicitly."
        ),
    }
}

/// The server, or why there is none (never panics; the load bench uses this).
pub fn try_server() -> Result<&'static PgServer, String> {
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// A fresh database on the server (`None`: skipped, see [`server`]).
pub fn test_db() -> Option<TestDb> {
    server().map(PgServer::create_db)
}

fn with_db(base: &str, db: &str) -> String {
    for scheme in ["postgresql://", "postgres://"] {
        if let Some(rest) = base.strip_prefix(scheme) {
            let (main, query) = match rest.split_once('?') {
                Some((m, q)) => (m, format!("?{q}")),
                None => (rest, String::new()),
            };
            let host = main.split('/').next().unwrap_or("");
            return format!("{scheme}{host}/{db}{query}");
        }
    }
    format!("{base} dbname={db}")
}

/// Runs `f` on a plain thread (the synchronous client must not run inside a tokio
/// runtime).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

impl PgServer {
    pub fn admin_url(&self) -> String {
        with_db(&self.base, "postgres")
    }

    pub fn create_db(&self) -> TestDb {
        let mut b = [0u8; 6];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).unwrap();
        let name = format!("shinsei_t_{}", hex::encode(b));
        let admin = self.admin_url();
        off_runtime(|| {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls)
                .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
            c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        });
        TestDb {
            url: with_db(&self.base, &name),
            name,
            admin,
        }
    }

    /// `pg_dump --format=FORMAT` of the database at `url` into `file`; fails the test
    /// if it fails.
    pub fn pg_dump(&self, url: &str, format: &str, file: &Path) {
        let st = Command::new(self.tool("pg_dump"))
            .args([&format!("--format={format}"), "--no-owner", "--file"])
            .arg(file)
            .arg("--dbname")
            .arg(url)
            .status()
            .unwrap();
        assert!(st.success(), "pg_dump --format={format} failed");
    }

    /// `pg_restore` of the custom-format dump `file` into the database at `url`; fails
    /// the test if it fails.
    pub fn pg_restore(&self, file: &Path, url: &str) {
        let st = Command::new(self.tool("pg_restore"))
            .args(["--no-owner", "--exit-on-error", "--dbname"])
            .arg(url)
            .arg(file)
            .status()
            .unwrap();
        assert!(st.success(), "pg_restore failed");
    }

    /// A client binary (`pg_dump`, `pg_restore`, `psql`).
    pub fn tool(&self, name: &str) -> PathBuf {
        match &self.bindir {
            Some(d) if d.join(name).exists() => d.join(name),
            _ => PathBuf::from(name),
        }
    }
}

impl TestDb {
    /// A synchronous client on this database, for checks (call off the runtime, e.g.
    /// through [`TestDb::with`]).
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// Runs `f` with a client on a plain thread.
    pub fn with<T: Send>(&self, f: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
        off_runtime(|| f(&mut self.client()))
    }

    /// Creates another (empty) database next to this one, e.g. to restore into.
    pub fn sibling(&self, suffix: &str) -> TestDb {
        let name = format!("{}_{suffix}", self.name);
        let admin = self.admin.clone();
        off_runtime(|| {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        });
        let url = match self.url.rsplit_once(&self.name) {
            Some((a, b)) => format!("{a}{name}{b}"),
            None => panic!("database name not in its URL"),
        };
        TestDb {
            name,
            url,
            admin: self.admin.clone(),
        }
    }

    /// Closes every other session on this database (simulates a connection loss or
    /// a database failover as the relay sees it).
    pub fn terminate_sessions(&self) -> u64 {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        off_runtime(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            let rows = c
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                      WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&name],
                )
                .unwrap();
            rows.len() as u64
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        })
        .join();
    }
}

fn find_bindir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("SHINSEI_PG_BINDIR") {
        return Some(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, b)) = versions.pop() {
        return Some(b);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
}

fn out(cmd: &mut Command) -> Result<String, String> {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

fn start() -> Result<PgServer, String> {
    if let Ok(url) = std::env::var("SHINSEI_TEST_PG_URL") {
        return Ok(PgServer {
            base: url,
            bindir: find_bindir(),
            own: false,
        });
    }
    // A process may hold several copies of this module (a test binary that also
    // compiles a copy of it in): the first starts the cluster, the others use it.
    let tmp = tempfile::env::temp_dir();
    let lock = tmp.join(format!("shinsei-pg-{}.lock", std::process::id()));
    let url_file = tmp.join(format!("shinsei-pg-{}.url", std::process::id()));
    let first = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
        .is_ok();
    if !first {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < std::time::Duration::from_secs(120) {
            if let Ok(u) = std::fs::read_to_string(&url_file) {
                if let Some(base) = u.strip_prefix("ok ") {
                    return Ok(PgServer {
                        base: base.to_owned(),
                        bindir: find_bindir(),
                        own: true,
                    });
                }
                return Err(u);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        return Err("timed out waiting for the cluster started by this process".into());
    }
    let r = start_cluster(&lock, &url_file);
    let text = match &r {
        Ok(s) => format!("ok {}", s.base),
        Err(e) => e.clone(),
    };
    let tmp_file = url_file.with_extension("tmp");
    let _ = std::fs::write(&tmp_file, text).and_then(|_| std::fs::rename(&tmp_file, &url_file));
    if r.is_err() {
        // No cluster: only the coordination files to remove at exit.
        let _ = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "while kill -0 {} 2>/dev/null; do sleep 1; done; rm -f '{}' '{}'",
                    std::process::id(),
                    lock.display(),
                    url_file.display()
                ),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
    r
}

fn start_cluster(lock: &Path, url_file: &Path) -> Result<PgServer, String> {
    let bindir = find_bindir().ok_or_else(|| {
        "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH"
            .to_owned()
    })?;
    let dir = tempfile::Builder::new()
        .prefix("shinsei-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let root = is_root();
    let r = (|| {
        // postgres refuses to run as root: the cluster belongs to user `postgres`.
        if root {
            let uid: u32 = out(Command::new("id").args(["-u", "postgres"]))
                .map_err(|e| format!("running as root needs a `postgres` user: {e}"))?
                .parse()
                .map_err(|_| "id -u postgres".to_owned())?;
            let gid: u32 = out(Command::new("id").args(["-g", "postgres"]))?
                .parse()
                .map_err(|_| "id -g postgres".to_owned())?;
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        }
        init_and_start(&bindir, &dir, root, lock, url_file)
    })();
    if r.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    r
}

fn init_and_start(
    bindir: &Path,
    dir: &Path,
    root: bool,
    lock: &Path,
    url_file: &Path,
) -> Result<PgServer, String> {
    let run = |bin: &str| -> Command {
        if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bindir.join(bin));
            c
        } else {
            Command::new(bindir.join(bin))
        }
    };
    let data = dir.join("data");
    out(run("initdb").arg("-D").arg(&data).args([
        "-A",
        "trust",
        "-U",
        "shinsei",
        "-E",
        "UTF8",
        "--no-locale",
        "-N",
    ]))?;
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=300 -c shared_buffers=64MB",
            dir.display()
        );
        let r = out(run("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "-t", "60", "-o", &opts, "start"]));
        match r {
            Ok(_) => {
                watchdog(&run("pg_ctl"), &data, dir, &[lock, url_file]);
                return Ok(PgServer {
                    base: format!("host=127.0.0.1 port={port} user=shinsei"),
                    bindir: Some(bindir.to_owned()),
                    own: true,
                });
            }
            Err(e) => last = e,
        }
    }
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    Err(format!("cannot start a PostgreSQL cluster: {last}\n{log}"))
}

/// Stops the cluster and deletes its directory once this process has exited.
fn watchdog(pg_ctl: &Command, data: &Path, dir: &Path, files: &[&Path]) {
    let prog: Vec<String> = std::iter::once(pg_ctl.get_program())
        .chain(pg_ctl.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {prog} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}' {files}",
        pid = std::process::id(),
        prog = prog.join(" "),
        data = data.display(),
        dir = dir.display(),
        files = files
            .iter()
            .map(|f| format!("'{}'", f.display()))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
