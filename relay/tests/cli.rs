//! The binary: `--check-config` on a good and a bad configuration, and a real start
//! that answers on its device port until SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{process::Command, time::Duration};

use common::*;

fn write_config(env: &Env, extra: &str, ports: (u16, u16)) -> std::path::PathBuf {
    let p = env.dir.path().join("relay.toml");
    std::fs::write(
        &p,
        format!(
            "log_level = \"info\"\n{extra}\n[listen]\ndevice = \"127.0.0.1:{}\"\nadmin = \"127.0.0.1:{}\"\n[paths]\npki_dir = {:?}\ndata_dir = {:?}\nspool_dir = {:?}\n",
            ports.0,
            ports.1,
            env.pki.layout.dir(),
            env.dir.path().join("data"),
            env.spool(),
        ),
    )
    .unwrap();
    p
}

#[test]
fn check_config() {
    let env = Env::new();
    let bin = env!("CARGO_BIN_EXE_shinsei-relay");
    let p = write_config(&env, "", (18443, 18444));
    let out = Command::new(bin)
        .args(["--config", p.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("configuration OK"), "{text}");
    assert!(text.contains("(current)"), "{text}");
    assert!(
        !env.dir.path().join("data").exists(),
        "check-config must not open the store"
    );

    let p = write_config(
        &env,
        "[retention]\nretention_secs = 700000\n",
        (18443, 18444),
    );
    let out = Command::new(bin)
        .args(["--config", p.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("retention_secs"));

    // Issue 14: a retention shorter than the oldest envelope the relay accepts (plus
    // the purge interval) is refused at start-up, saying why.
    let p = write_config(&env, "[retention]\nretention_secs = 20\n", (18443, 18444));
    let out = Command::new(bin)
        .args(["--config", p.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("max_age_secs") && err.contains("forwarded a second time"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_and_stops_on_sigterm() {
    let env = Env::new();
    // Free ports (bound then released).
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (dp, ap) = (port(), port());
    let p = write_config(&env, "", (dp, ap));
    let mut child = Command::new(env!("CARGO_BIN_EXE_shinsei-relay"))
        .args(["--config", p.to_str().unwrap()])
        .spawn()
        .unwrap();
    let t = tablet(&env.pki, "TAB-0001");
    let c = client(&env.pki.root, Some(&t.ident), false);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], dp));
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(r) = c.get(url(addr, "/v1/status")).send().await {
            assert_eq!(r.status(), 200);
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, e) = t.seal(&env.pki, &standard_app(), now());
    let (s, _) = post_envelope(&c, addr, e).await.unwrap();
    assert_eq!(s, 200);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut exited = None;
    for _ in 0..100 {
        if let Some(st) = child.try_wait().unwrap() {
            exited = Some(st);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if exited.is_none() {
        let _ = child.kill();
    }
    assert!(ok, "the relay did not answer");
    assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
}

/// Issue 17: the relay's own certificate is warned of 30 days ahead (`--check-config`
/// prints it; the running relay logs it at start and on every reload).
#[test]
fn check_config_warns_of_the_relays_certificate_ahead() {
    let dir = tempfile::tempdir().unwrap();
    // Made 345 days ago: the 365-day relay certificate has 20 days left.
    let layout = shinsei_testkit::PkiBuilder::new(&dir.path().join("pki"))
        .at(now() - 345 * 86_400)
        .layout();
    let p = dir.path().join("relay.toml");
    std::fs::write(
        &p,
        format!(
            "[listen]\ndevice = \"127.0.0.1:18445\"\nadmin = \"127.0.0.1:18446\"\n[paths]\npki_dir = {:?}\ndata_dir = {:?}\nspool_dir = {:?}\n",
            layout.dir(),
            dir.path().join("data"),
            dir.path().join("spool"),
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shinsei-relay"))
        .args(["--config", p.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("WARNING:         relay TLS certificate: expires in 19 days")
            || text.contains("WARNING:         relay TLS certificate: expires in 20 days"),
        "{text}"
    );
    assert!(!text.contains("root CA:"), "{text}");
}
