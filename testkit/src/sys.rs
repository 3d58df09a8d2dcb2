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
///
/// A child that exits without reading its input (a command refusing its arguments
/// first) closes the pipe: the write's `BrokenPipe` is no failure of the test, whose
/// verdict is the child's exit status and output (CI saw `render_refuses_bad_inputs`
/// panic here when the refusal won the race).
pub fn spawn_with_stdin(cmd: &mut Command, input: &str) -> Child {
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut stdin = child
        .stdin
        .take()
        .expect("spawn_with_stdin: stdin must be piped");
    match stdin.write_all(input.as_bytes()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => panic!("writing to {cmd:?}'s standard input: {e}"),
    }
    child
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child that refuses before reading its input: more input than a pipe holds makes
    /// the write fail with `BrokenPipe` every time (the race CI lost once, made certain).
    #[test]
    fn a_child_that_exits_without_reading_its_input_is_judged_by_its_exit() {
        let input = "x".repeat(1 << 20);
        let out = run_with_stdin(
            Command::new("sh").args(["-c", "echo refused >&2; exit 3"]),
            &input,
        );
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "refused");
        // Control: a child that reads its input gets all of it.
        let out = run_with_stdin(Command::new("wc").arg("-c"), &input);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1048576");
    }
}
