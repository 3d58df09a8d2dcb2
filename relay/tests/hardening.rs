//! Issue 18: the relay process holds HPKE private keys and, while it validates an
//! envelope, a decrypted application. The real binary must start with core dumps off
//! (`RLIMIT_CORE` 0, soft and hard) and non-dumpable (`PR_SET_DUMPABLE` 0: no core file,
//! no `ptrace` and no `/proc/PID/mem` for other processes of its user), as the agent
//! does (`agent/src/memguard.rs`).
//!
//! Seen from outside: `/proc/PID/limits` shows the core limit, and the kernel makes the
//! `/proc/PID/*` files of a non-dumpable process owned by root (`task_dump_owner`)
//! instead of by the process's user. That owner only tells the two apart when the process
//! does not run as root, so under root both the relay and the control run as `nobody`.
//! Both are started by a shell that first raises the soft core limit to the hard one, so
//! a zero limit is the relay's doing and not inherited. The control — `sleep`, started
//! the same way — shows the other answer for each check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::{
    os::unix::{fs::MetadataExt, process::CommandExt},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::*;

/// The user both processes run as when the test runs as root.
const NOBODY: u32 = 65_534;

/// A field of `/proc/PID/status` (e.g. `Uid`): its first value.
fn status_field(pid: u32, name: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .to_owned()
}

/// (soft, hard) of "Max core file size" in `/proc/PID/limits`.
fn core_limit(pid: u32) -> (String, String) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Max core file size"))
        .expect("no core limit line");
    let mut f = line.split_whitespace();
    (f.next().unwrap().to_owned(), f.next().unwrap().to_owned())
}

/// Owner of `/proc/PID/status`: root for a non-dumpable process.
fn proc_owner(pid: u32) -> u32 {
    std::fs::metadata(format!("/proc/{pid}/status"))
        .unwrap()
        .uid()
}

/// `program args…` through `sh`, soft core limit raised to the hard limit first; as
/// `nobody` when the test runs as root.
fn spawn_with_core_limit_raised(program: &Path, args: &[&str], as_nobody: bool) -> Child {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(r#"ulimit -S -c "$(ulimit -H -c)" && exec "$@""#)
        .arg("sh")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if as_nobody {
        c.uid(NOBODY).gid(NOBODY);
    }
    c.spawn().unwrap()
}

/// Waits until `pid` runs `comm` (the shell has exec'd it).
fn wait_exec(pid: u32, comm: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{comm} did not start");
}

fn chown_tree(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn relay_binary_is_not_dumpable_and_cannot_dump_core() {
    let as_nobody = shinsei_testkit::sys::is_root();
    let env = Env::new();
    let (dp, ap) = (
        shinsei_testkit::net::free_port(),
        shinsei_testkit::net::free_port(),
    );
    let config = env.dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "log_level = \"info\"\n[listen]\ndevice = \"127.0.0.1:{dp}\"\nadmin = \"127.0.0.1:{ap}\"\n[paths]\npki_dir = {:?}\ndata_dir = {:?}\nspool_dir = {:?}\n",
            env.pki.layout.dir(),
            env.dir.path().join("data"),
            env.spool(),
        ),
    )
    .unwrap();
    if as_nobody {
        chown_tree(env.dir.path(), NOBODY);
    }
    let expected_uid = if as_nobody {
        NOBODY
    } else {
        status_field(std::process::id(), "Uid").parse().unwrap()
    };
    assert_ne!(expected_uid, 0, "the owner check needs a non-root process");

    // The control: a normal process started the same way.
    let control = Killed(spawn_with_core_limit_raised(
        Path::new("/bin/sleep"),
        &["60"],
        as_nobody,
    ));
    let cpid = control.0.id();
    wait_exec(cpid, "sleep");
    let (c_soft, c_hard) = core_limit(cpid);
    assert_eq!(c_soft, c_hard, "the shell raised the soft core limit");
    assert_eq!(
        proc_owner(cpid),
        expected_uid,
        "a dumpable process's /proc files belong to its user"
    );

    let relay = Killed(spawn_with_core_limit_raised(
        Path::new(env!("CARGO_BIN_EXE_shinsei-relay")),
        &["--config", config.to_str().unwrap()],
        as_nobody,
    ));
    let pid = relay.0.id();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], dp));
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the relay did not start listening"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status_field(pid, "Uid"), expected_uid.to_string());
    assert_eq!(
        core_limit(pid),
        ("0".to_owned(), "0".to_owned()),
        "RLIMIT_CORE must be 0 (soft and hard); the control has {c_soft}"
    );
    assert_eq!(
        proc_owner(pid),
        0,
        "/proc/{pid}/status belongs to uid {} (the process's user): the relay is dumpable",
        proc_owner(pid)
    );
    if c_soft == "0" {
        eprintln!(
            "note: this environment's hard core limit is 0, so the core-limit check \
             cannot tell the relay from the control here (the dumpable check still does)"
        );
    }
}
