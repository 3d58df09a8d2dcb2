//! The tablet image booted in a virtual machine (issue 20): `scripts/build-image` makes
//! the disk images from Debian packages, the agent binary, an enrolled tablet's data and
//! the files `shinsei-provision firmware render` made for it; QEMU (KVM when
//! `/dev/kvm` works, else TCG with a longer limit) boots them with a virtual screen and
//! user-mode networking to a relay started by this test on the host.
//!
//! Checked from outside: the screen (QEMU's `screendump`) shows the kiosk's login screen
//! (compared with the kiosk's own snapshot `kiosk/tests/snapshots/01_login.png` below
//! the status bar, within a tolerance; the picture is kept for the README), and the
//! relay saw the tablet check in through the firewall. Checked from inside, by a
//! one-shot unit that only this test adds (`--overlay`) and that prints to the serial
//! console: `nft list ruleset` equals the rendered ruleset loaded on the host, nothing
//! listens (`ss -lntu`), no getty or SSH unit is running, the kiosk runs cage, XWayland
//! and the agent as `shinsei-agent`, the root is mounted read-only.
//!
//! **Not passing yet** (feature `image-boot`, outside `scripts/test` and CI; see
//! `firmware-notes/README.md`): XWayland cannot compile its keymap in the kiosk's
//! sandbox on the booted image.
//!
//! Needs root, Debian's `debootstrap`, `qemu-system-x86`, `e2fsprogs`, `nftables`,
//! `util-linux` (installed by `scripts/test`). The Debian base is downloaded once and
//! cached (`SHINSEI_IMAGE_CACHE`, see `scripts/build-image`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shinsei_testkit::sys::{require_root, require_tool, run_ok};
use shinsei_tests::{Relay, Tablet, Ward};

/// The guest reaches the host's loopback at this address (QEMU user-mode networking).
const HOST_FROM_GUEST: &str = "10.0.2.2";
/// QEMU's user-mode DNS forwarder.
const GUEST_DNS: &str = "10.0.2.3";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Qemu {
    child: Child,
    monitor: PathBuf,
    serial: PathBuf,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Qemu {
    /// One monitor command; waits for its answer (the next prompt).
    fn monitor(&self, cmd: &str) -> Result<String, String> {
        let mut s = UnixStream::connect(&self.monitor).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // The banner and first prompt.
        while !String::from_utf8_lossy(&buf).contains("(qemu)") {
            let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("monitor closed".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf.clear();
        s.write_all(format!("{cmd}\n").as_bytes())
            .map_err(|e| e.to_string())?;
        while String::from_utf8_lossy(&buf).matches("(qemu)").count() < 1 {
            let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn screendump(&self, png: &Path) -> Option<image::RgbImage> {
        let _ = std::fs::remove_file(png);
        self.monitor(&format!("screendump {} -f png", png.display()))
            .ok()?;
        image::open(png).ok().map(|i| i.to_rgb8())
    }

    fn serial_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.serial).unwrap_or_default()).into_owned()
    }
}

/// The lines between `=== BEGIN name` and `=== END name` on the serial console.
fn section(serial: &str, name: &str) -> Option<Vec<String>> {
    let begin = format!("=== BEGIN {name}");
    let end = format!("=== END {name}");
    let start = serial.find(&begin)? + begin.len();
    let stop = serial[start..].find(&end)? + start;
    Some(
        serial[start..stop]
            .lines()
            .map(|l| l.trim_end_matches('\r').to_owned())
            .filter(|l| !l.trim().is_empty())
            .collect(),
    )
}

/// Mean absolute difference per channel below the status bar (the bar shows live
/// states that differ between the snapshot and the booted tablet).
fn difference_below_bar(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let bar = 80;
    let (w, h) = (a.width().min(b.width()), a.height().min(b.height()));
    let mut sum = 0u64;
    for y in bar..h {
        for x in 0..w {
            let (p, q) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
            sum += p
                .iter()
                .zip(q.iter())
                .map(|(u, v)| u64::from(u.abs_diff(*v)))
                .sum::<u64>();
        }
    }
    sum as f64 / (f64::from(w) * f64::from(h - bar) * 3.0)
}

/// The test's overlay: a one-shot unit that waits for the kiosk and prints what is
/// checked from inside to the serial console.
fn check_overlay(dir: &Path) {
    let units = dir.join("etc/systemd/system");
    std::fs::create_dir_all(units.join("shinsei-kiosk.target.wants")).unwrap();
    std::fs::create_dir_all(dir.join("usr/local/sbin")).unwrap();
    std::fs::write(
        units.join("shinsei-boot-check.service"),
        "[Unit]\nDescription=boot test checks (test image only)\nAfter=shinsei-kiosk.service nftables.service\n\n\
         [Service]\nType=oneshot\nExecStart=/usr/local/sbin/shinsei-boot-check\n\
         StandardOutput=tty\nStandardError=tty\nTTYPath=/dev/ttyS0\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "../shinsei-boot-check.service",
        units.join("shinsei-kiosk.target.wants/shinsei-boot-check.service"),
    )
    .unwrap();
    let script = dir.join("usr/local/sbin/shinsei-boot-check");
    std::fs::write(
        &script,
        "#!/bin/sh\n\
         # Wait until the kiosk's processes run (at most 3 minutes).\n\
         i=0; while [ $i -lt 180 ] && ! pgrep -u shinsei-agent -x shinsei-agent >/dev/null; do sleep 1; i=$((i+1)); done\n\
         sleep 5\n\
         echo '=== BEGIN nft'; nft list ruleset; echo '=== END nft'\n\
         echo '=== BEGIN ss'; ss -Hlntu; echo '=== END ss'\n\
         echo '=== BEGIN logins'; systemctl list-units --all --plain --no-legend --state=active 'getty*' 'serial-getty*' 'autovt*' 'console-getty*' 'ssh*' 'display-manager*'; echo '=== END logins'\n\
         echo '=== BEGIN kiosk'; systemctl is-active shinsei-kiosk.service; ps -o user:20=,comm= -u shinsei-agent; echo '=== END kiosk'\n\
         echo '=== BEGIN journal'; journalctl -b --no-pager -o short-monotonic -u shinsei-kiosk.service | tail -n 60; echo '=== END journal'\n\
         echo '=== BEGIN root'; findmnt -no OPTIONS /; echo '=== END root'\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[test]
fn the_image_boots_into_the_kiosk_behind_its_firewall() {
    require_root("the image build (file ownership) and QEMU");
    let qemu_bin = require_tool("qemu-system-x86_64", "qemu-system-x86");
    require_tool("debootstrap", "debootstrap");
    require_tool("mkfs.ext4", "e2fsprogs");
    let nft = require_tool("nft", "nftables");
    let unshare = require_tool("unshare", "util-linux");

    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0201", "standard").unwrap();

    // The tablet's files, rendered from its bundle as IT would.
    let fw = tmp.path().join("firmware");
    run_ok(
        ward.provision()
            .unwrap()
            .args(["firmware", "render", "--bundle"])
            .arg(ward.dir.join("TAB-0201.bundle.json"))
            .arg("--out")
            .arg(&fw)
            .args(["--relay-ip", HOST_FROM_GUEST, "--dns", GUEST_DNS]),
    );
    let overlay = tmp.path().join("overlay");
    check_overlay(&overlay);

    let img = tmp.path().join("image");
    let t0 = Instant::now();
    let st = Command::new(workspace().join("scripts/build-image"))
        .arg("--out")
        .arg(&img)
        .arg("--agent-bin")
        .arg(shinsei_tests::bin("shinsei-agent").unwrap())
        .arg("--firmware")
        .arg(&fw)
        .arg("--agent-data")
        .arg(&tab.data)
        .arg("--overlay")
        .arg(&overlay)
        .status()
        .unwrap();
    assert!(st.success(), "scripts/build-image failed");
    println!("image built in {:?}", t0.elapsed());

    // KVM when it can run a stock kernel: a host whose KVM is PVM (`kvm_pvm`, a
    // software-only nested hypervisor) runs only PVM-enabled guest kernels, and
    // Debian's hangs there after its first line, so such hosts use TCG.
    // SHINSEI_QEMU_ACCEL=kvm|tcg overrides.
    let kvm = match std::env::var("SHINSEI_QEMU_ACCEL").as_deref() {
        Ok("kvm") => true,
        Ok("tcg") => false,
        _ => {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/kvm")
                .is_ok()
                && !Path::new("/sys/module/kvm_pvm").exists()
        }
    };
    let limit = Duration::from_secs(if kvm { 300 } else { 1500 });
    let monitor = tmp.path().join("monitor.sock");
    let serial = tmp.path().join("serial.log");
    let mut c = Command::new(&qemu_bin);
    if kvm {
        c.args(["-accel", "kvm"]);
    } else {
        c.args(["-accel", "tcg,thread=multi", "-cpu", "max"]);
    }
    c.args(["-m", "2048", "-smp", "2", "-no-reboot", "-display", "none"])
        .arg("-kernel")
        .arg(img.join("vmlinuz"))
        .arg("-initrd")
        .arg(img.join("initrd.img"))
        .args([
            "-append",
            "root=/dev/vda ro console=ttyS0 panic=-1 systemd.show_status=1",
        ])
        .arg("-drive")
        .arg(format!(
            "file={},if=virtio,format=raw,snapshot=on",
            img.join("root.img").display()
        ))
        .arg("-drive")
        .arg(format!(
            "file={},if=virtio,format=raw",
            img.join("data.img").display()
        ))
        .args(["-vga", "none", "-device", "virtio-vga,xres=1280,yres=800"])
        .args(["-nic", "user,model=virtio-net-pci"])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .arg("-monitor")
        .arg(format!("unix:{},server,nowait", monitor.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t_boot = Instant::now();
    let vm = Qemu {
        child: c.spawn().unwrap(),
        monitor,
        serial,
    };

    // Outside: the screen, until it shows the login screen.
    let reference = image::open(workspace().join("kiosk/tests/snapshots/01_login.png"))
        .unwrap()
        .to_rgb8();
    let shot = tmp.path().join("screen.png");
    let mut best = f64::MAX;
    let mut screen = None;
    while t_boot.elapsed() < limit {
        std::thread::sleep(Duration::from_secs(3));
        if let Some(s) = vm.screendump(&shot) {
            if (s.width(), s.height()) == (reference.width(), reference.height()) {
                let d = difference_below_bar(&s, &reference);
                best = best.min(d);
                if d < 4.0 {
                    screen = Some(s);
                    break;
                }
            }
        }
    }
    let serial_now = vm.serial_text();
    let keep = workspace().join("target/ui-screenshots");
    std::fs::create_dir_all(&keep).unwrap();
    let _ = std::fs::write(keep.join("kiosk-boot-serial.log"), &serial_now);
    let _ = std::fs::copy(&shot, keep.join("kiosk-boot-last-screen.png"));
    let Some(screen) = screen else {
        panic!(
            "no login screen within {limit:?} (closest mean difference {best:.1}); serial console:\n{}",
            serial_now.chars().rev().take(6000).collect::<String>().chars().rev().collect::<String>()
        );
    };
    println!(
        "login screen on the booted tablet after {:?} (KVM {kvm})",
        t_boot.elapsed()
    );
    screen.save(keep.join("kiosk-boot-qemu.png")).unwrap();
    println!(
        "boot-screenshot: {} (mean difference below the status bar {best:.2})",
        keep.join("kiosk-boot-qemu.png").display()
    );

    // Inside: the check unit's report on the serial console.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut serial_text = vm.serial_text();
    while section(&serial_text, "root").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(2));
        serial_text = vm.serial_text();
    }
    let sec = |n: &str| {
        section(&serial_text, n)
            .unwrap_or_else(|| panic!("no {n} report on the serial console:\n{serial_text}"))
    };
    // The firewall in force is the rendered one, as nft prints it after loading it.
    let expected = run_ok(Command::new(&unshare).args(["-n", "sh", "-c"]).arg(format!(
        "{} -f {} && {} list ruleset",
        nft.display(),
        fw.join("nftables.conf").display(),
        nft.display()
    )));
    let expected: Vec<String> = String::from_utf8_lossy(&expected.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        sec("nft"),
        expected,
        "the booted tablet's ruleset is not the rendered one"
    );
    assert_eq!(
        sec("ss"),
        Vec::<String>::new(),
        "something listens on the tablet"
    );
    assert_eq!(sec("logins"), Vec::<String>::new(), "a login service runs");
    let kiosk = sec("kiosk");
    assert_eq!(
        kiosk.first().map(String::as_str),
        Some("active"),
        "{kiosk:?}"
    );
    for p in ["cage", "Xwayland", "shinsei-agent"] {
        assert!(
            kiosk
                .iter()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["shinsei-agent", p]),
            "{p} does not run as shinsei-agent: {kiosk:?}"
        );
    }
    let rootopts = sec("root");
    assert!(
        rootopts
            .first()
            .is_some_and(|o| o.split(',').any(|x| x == "ro")),
        "root not read-only: {rootopts:?}"
    );

    // The relay saw the tablet (its check-in came through the firewall).
    let log = std::fs::read_to_string(&relay.log).unwrap_or_default();
    assert!(
        log.contains("TAB-0201"),
        "the relay never heard from the tablet:\n{log}"
    );
}
