//! The kiosk on the real agent (issue 7): the same screens as `kiosk/tests/ui.rs`,
//! driven through egui_kittest, but the backend is `AgentBackend` over an enrolled
//! tablet talking mutual TLS to a real `shinsei-relay` process, and the camera replays
//! image files from a directory. One application is delivered and spooled; with the
//! relay stopped the next is queued ("will send automatically"), and once the relay is
//! back the kiosk's own status tick sends it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use shinsei_agent::clock::SystemClock;
use shinsei_agent::runtime::Agent;
use shinsei_capture::live::vision::Vision;
use shinsei_capture::source::ReplaySource;
use shinsei_kiosk::{AgentBackend, Kiosk, KioskApp, Screen, Worker};
use shinsei_tests::{contains, Relay, Tablet, Ward, STAFF_ID, STAFF_PASSWORD};

use shinsei_kiosk::testkit as scene;

const ID1: &str = "31234567890123456789012";
const ID2: &str = "42345678901234567890123";

/// The relay forwards to its spool asynchronously after the receipt.
fn wait_spooled(relay: &Relay, n: usize) -> Vec<PathBuf> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let s = relay.spooled();
        if s.len() >= n || std::time::Instant::now() > end {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

use shinsei_kiosk::testkit::{click, review_to_send, scan_to_review, step_until, type_text};

/// From the review screen to the receipt (no cert, braille).
fn review_to_receipt(h: &mut Harness<'_, KioskApp>) {
    review_to_send(h, false, true);
    step_until(h, "the receipt", |k| k.screen == Screen::Receipt);
}

#[test]
fn kiosk_on_the_real_agent_delivers_then_queues_while_the_relay_is_down() {
    let tmp = tempfile::tempdir().unwrap();
    let ward = Ward::create(tmp.path()).unwrap();
    let mut relay = Relay::start(&ward, "relay").unwrap();
    let tab = Tablet::enroll(&ward, "TAB-0201", "standard").unwrap();

    // The replay camera: image files in a directory, as `shinsei-agent ui --replay-camera`.
    let cam = tmp.path().join("camera");
    std::fs::create_dir_all(&cam).unwrap();
    let (w, h, rgb) = scene::counter_scene(
        &shinsei_capture::synth::test_faces_dir().join("astronaut.png"),
        ID1,
    );
    image::RgbImage::from_raw(w, h, rgb)
        .unwrap()
        .save(cam.join("frame-0001.png"))
        .unwrap();
    let vision = Vision::new(Box::new(ReplaySource::open(&cam, true).unwrap()));

    let clock = Arc::new(SystemClock::default());
    let agent = Agent::open(&tab.data, clock.clone(), Some(tab.relay_addr)).unwrap();
    let worker = Worker::spawn(AgentBackend::new(agent, clock.clone())).unwrap();
    let kiosk = Kiosk::new(worker, Some(vision), clock);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_step_dt(0.1)
        .build_ui_state(
            |ui, app: &mut KioskApp| app.ui(ui),
            KioskApp::new(kiosk, Default::default()),
        );
    shinsei_kiosk::setup_context(&h.ctx).expect("Japanese font (fonts-ipafont-gothic)");

    // Login against the signed staff list (PBKDF2), a wrong password first.
    h.step();
    click(&mut h, "職員ID");
    type_text(&mut h, STAFF_ID);
    click(&mut h, "パスワード");
    type_text(&mut h, "not-the-password");
    click(&mut h, "ログイン");
    step_until(&mut h, "the refusal", |k| !k.busy && k.banner.is_some());
    assert_eq!(h.state().kiosk.screen, Screen::Login);
    click(&mut h, "パスワード");
    type_text(&mut h, STAFF_PASSWORD);
    click(&mut h, "ログイン");
    step_until(&mut h, "login", |k| k.screen == Screen::Scan);
    step_until(&mut h, "the status bar", |k| {
        k.status
            .as_ref()
            .is_some_and(|s| s.online && s.device_id == "TAB-0201")
    });

    // 1. Delivered.
    scan_to_review(&mut h);
    review_to_receipt(&mut h);
    let r = h.state().kiosk.applicant.receipt.clone().unwrap();
    assert!(r.delivered, "{r:?}");
    assert_eq!(r.masked_id, "*******************9012");
    let spooled = wait_spooled(&relay, 1);
    assert_eq!(spooled.len(), 1);
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(spooled[0].join("application.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["application_id"], ID1);
    assert_eq!(
        (v["e_certificate"].as_bool(), v["braille"].as_bool()),
        (Some(false), Some(true))
    );
    let photo = std::fs::read(spooled[0].join("photo.jpg")).unwrap();
    assert!(photo.len() >= 20_000 && photo.starts_with(&[0xFF, 0xD8]));

    // 2. Relay down: typed ID, queued, the status bar counts it.
    relay.stop();
    click(&mut h, "次の申請者へ");
    click(&mut h, "申請書IDを手で入力");
    type_text(&mut h, ID2);
    click(&mut h, "次へ");
    assert_eq!(h.state().kiosk.screen, Screen::Photo);
    step_until(&mut h, "the capture", |k| k.screen == Screen::Review);
    review_to_receipt(&mut h);
    let r = h.state().kiosk.applicant.receipt.clone().unwrap();
    assert!(!r.delivered, "{r:?}");
    assert!(h
        .query_by_label("送信待ちに保存しました。接続が戻ると自動で送信します。")
        .is_some());
    step_until(&mut h, "the outbox count", |k| {
        k.status
            .as_ref()
            .is_some_and(|s| s.outbox == 1 && !s.online)
    });
    assert!(h.query_by_label("送信待ち: 1 件").is_some());

    // 3. Relay back: the kiosk's status tick sends the queued application.
    let relay = Relay::start(&ward, "relay").unwrap();
    step_until(&mut h, "the outbox to empty", |k| {
        k.status.as_ref().is_some_and(|s| s.outbox == 0 && s.online)
    });
    assert_eq!(wait_spooled(&relay, 2).len(), 2);

    // Nothing of either applicant on the tablet's disk.
    click(&mut h, "次の申請者へ");
    for (path, bytes) in tab.all_files() {
        for id in [ID1, ID2] {
            assert!(
                !contains(&bytes, id.as_bytes()),
                "{id} in {}",
                path.display()
            );
        }
        for chunk in photo[400..].chunks(64).take(20) {
            assert!(
                !contains(&bytes, chunk),
                "photo bytes in {}",
                path.display()
            );
        }
    }
}
