//! The real kiosk window (eframe, OpenGL through Mesa's software renderer) under Xvfb:
//! `shinsei-agent ui` on an enrolled tablet with a running relay starts, shows the
//! login screen, takes a screenshot of its own window and exits cleanly (issue 7).
//!
//! Needs Debian's `xvfb` and Mesa (`libgl1-mesa-dri`), installed by `scripts/test`.
//! The screenshot is kept under `target/ui-screenshots/` and its path printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shinsei_tests::{Relay, Tablet, Ward};

/// An Xvfb server on a display it picks itself (`-displayfd`), killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Self {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is needed for this test: apt-get install xvfb (scripts/test does)");
        // Xvfb writes the display number, then a newline, once it accepts clients.
        let mut out = child.stdout.take().unwrap();
        let mut num = String::new();
        let mut b = [0u8; 1];
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match out.read(&mut b) {
                Ok(1) if b[0] == b'\n' => break,
                Ok(1) => num.push(char::from(b[0])),
                _ => break,
            }
        }
        assert!(
            !num.is_empty() && num.chars().all(|c| c.is_ascii_digit()),
            "Xvfb did not report a display: {num:?}"
        );
        Self {
            child,
            display: format!(":{num}"),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshot_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn kiosk_window_starts_on_the_login_screen_and_exits_cleanly_under_xvfb() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let _relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0101", "standard").unwrap();
    let x = Xvfb::start();
    let shot = screenshot_dir().join("kiosk-login-xvfb.png");
    let _ = std::fs::remove_file(&shot);

    let t0 = Instant::now();
    let out = tab
        .agent()
        .unwrap()
        .args(["ui", "--windowed", "--exit-after-secs", "6", "--screenshot"])
        .arg(&shot)
        .env("DISPLAY", &x.display)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    assert!(stdout.contains("screenshot:"), "{stdout}");
    println!(
        "ui-screenshot: {} (window ran {:?})",
        shot.display(),
        t0.elapsed()
    );

    // The screenshot is the kiosk's login screen: the dark status bar across the top,
    // the light page below, and the keypad's many edges (not a blank or black frame).
    let img = image::open(&shot).unwrap().to_rgb8();
    assert_eq!((img.width(), img.height()), (1280, 800));
    let bar = img.get_pixel(640, 4).0;
    assert!(
        bar[2] > bar[0] && bar[0] < 80,
        "top bar colour {bar:?} is not the status bar"
    );
    let page = img.get_pixel(1200, 700).0;
    assert!(page.iter().all(|&c| c > 230), "page colour {page:?}");
    let mut colours = std::collections::HashSet::new();
    for p in img.pixels() {
        colours.insert(p.0);
    }
    assert!(
        colours.len() > 50,
        "only {} colours: blank window?",
        colours.len()
    );
    // Starting and closing the kiosk did not disturb the tablet.
    assert!(!tab.data.join("WIPED").exists());
    let st = tab
        .agent()
        .unwrap()
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[test]
fn kiosk_window_of_a_wiped_tablet_shows_the_blocked_screen() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tablet");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("WIPED"), "wiped: test\n").unwrap();
    let x = Xvfb::start();
    let shot = screenshot_dir().join("kiosk-wiped-xvfb.png");
    let out = Command::new(shinsei_tests::bin("shinsei-agent").unwrap())
        .arg("--data-dir")
        .arg(&data)
        .args(["ui", "--windowed", "--exit-after-secs", "4", "--screenshot"])
        .arg(&shot)
        .env("DISPLAY", &x.display)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("ui-screenshot: {}", shot.display());
    // The blocked screen's warm background fills the page.
    let img = image::open(&shot).unwrap().to_rgb8();
    let page = img.get_pixel(1200, 700).0;
    assert_eq!(page, [0xFF, 0xF4, 0xE5], "not the blocked screen");
}
