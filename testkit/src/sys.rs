//! System tools and processes: required Debian tools, root, commands that must succeed.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

/// Fails the test with the package to install when `tool` is neither in the system
/// directories nor on the PATH.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(PathBuf::from)
        .collect();
    if let Ok(path) = std::env::var("PATH") {
        dirs.extend(path.split(':').map(PathBuf::from));
    }
    for d in dirs {
        let p = Path::new(&d).join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{tool}` is missing: install the Debian package `{package}` \
         (apt-get install -y {package}, as scripts/test does); this test does not skip"
    );
}

/// Is this process root?
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Fails the test unless it runs as root (network namespaces, nftables).
pub fn require_root(what: &str) {
    let out = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "{what} needs root (network namespaces, nftables); run the tests as root"
    );
}

/// Runs `cmd` and fails the test, with its output, unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether `child` (its standard output piped) prints a line ending in `marker` within
/// 30 s. Its output is read on a thread that keeps draining it, so the child never
/// blocks on a full pipe (libtest may print "test NAME ... " before the marker on the
/// same line).
pub fn wait_for_line(child: &mut Child, marker: &'static str) -> bool {
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if l.ends_with(marker) {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).is_ok()
}

/// Runs `openssl ARGS…` (standard input empty): whether it succeeded, and its standard
/// output followed by its standard error. Fails the test when openssl is missing.
pub fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl must be installed (apt-get install openssl)");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// Runs `cmd` with `input` on its standard input; its output, whatever the exit status.
pub fn run_with_stdin(cmd: &mut Command, input: &str) -> Output {
    spawn_with_stdin(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        input,
    )
    .wait_with_output()
    .unwrap()
}

/// Starts `cmd` (whose standard input must be piped), writes `input` to it and closes
/// it; the child keeps running.
pub fn spawn_with_stdin(cmd: &mut Command, input: &str) -> Child {
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child
}
