#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Cost of one kiosk frame on the UI thread (issue 7): the model's update, egui's
//! layout and tessellation — everything but the GPU upload — and, separately, the
//! camera thread's work per frame (QR scan on the scan screen, the full face checks on
//! the photo screen). The camera replays a 1280×720 counter scene (form QR code and the
//! astronaut portrait). Prints p50/p95 against the 16.7 ms of a 60 Hz display (UI) and
//! the 66 ms of the kiosk's 15 analysed frames a second (camera thread).
//!
//! Run: `cargo bench -p shinsei-kiosk --bench kiosk` (needs `scripts/fetch-test-faces.sh`).

use shinsei_kiosk::testkit as scene;

use shinsei_protocol::api::DeviceState;
use std::sync::Arc;
use std::time::Instant;

use egui_kittest::Harness;
use shinsei_agent::clock::SystemClock;
use shinsei_agent::error::{AgentError, Result};
use shinsei_agent::runtime::SubmitOutcome;
use shinsei_capture::live::vision::Vision;
use shinsei_capture::{CaptureError, Frame, FrameSource, PixelFormat};
use shinsei_kiosk::{CounterBackend, Kiosk, KioskApp, LoginInfo, Screen, StatusInfo, Worker};
use shinsei_protocol::application::{Application, ApplicationId, Profile};
use zeroize::Zeroizing;

struct Backend;

impl CounterBackend for Backend {
    fn login(&mut self, staff_id: &str, _: &[u8]) -> Result<LoginInfo> {
        Ok(LoginInfo {
            staff_id: staff_id.into(),
            auto_lock_secs: 3600,
            profile: Profile::Standard,
        })
    }
    fn logout(&mut self) {}
    fn touch(&mut self) {}
    fn record_scan(&mut self, _: &ApplicationId) {}
    fn record_capture(&mut self) {}
    fn submit(&mut self, _: Application, _: bool) -> Result<SubmitOutcome> {
        Err(AgentError::Internal("not in the benchmark".into()))
    }
    fn tick(&mut self) -> Result<StatusInfo> {
        Ok(StatusInfo {
            device_id: "TAB-0001".into(),
            network: true,
            online: true,
            device_state: DeviceState::Active,
            outbox: 0,
            relay: "relay.ward.example".into(),
            awaiting_approval: None,
        })
    }
}

/// The same frame forever.
struct Still {
    w: u32,
    h: u32,
    rgb: Vec<u8>,
}

impl FrameSource for Still {
    fn next_frame(&mut self) -> std::result::Result<Frame, CaptureError> {
        Frame::new(
            self.w,
            self.h,
            PixelFormat::Rgb8,
            Zeroizing::new(self.rgb.clone()),
        )
    }
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (p(0.5), p(0.95))
}

fn main() {
    let face = shinsei_capture::synth::test_faces_dir().join("astronaut.png");
    if !face.exists() {
        println!(
            "kiosk bench skipped: {} missing (scripts/fetch-test-faces.sh)",
            face.display()
        );
        return;
    }
    // The counter scene, scaled to 1280×720 like a tablet camera's frame.
    let (w, h, rgb) = scene::counter_scene(&face, "12345678901234567890123");
    let img = image::RgbImage::from_raw(w, h, rgb).unwrap();
    let img = image::imageops::resize(&img, 1280, 720, image::imageops::FilterType::Triangle);
    let still = Still {
        w: 1280,
        h: 720,
        rgb: img.into_raw(),
    };
    // The camera thread's work, measured directly.
    let cam_frame = |still: &Still| Still {
        w: still.w,
        h: still.h,
        rgb: still.rgb.clone(),
    };
    let mut v = Vision::new(Box::new(cam_frame(&still)));
    let mut scan = Vec::new();
    let mut photo = Vec::new();
    for _ in 0..30 {
        v.reset();
        let t = Instant::now();
        let _ = v.scan_step().unwrap();
        scan.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = v.photo_step().unwrap(); // loads the detector
    for _ in 0..30 {
        let t = Instant::now();
        let _ = v.photo_step().unwrap();
        photo.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    for (name, samples) in [("scan (QR)", scan), ("photo (face checks)", photo)] {
        let (p50, p95) = percentiles(samples);
        println!(
            "camera thread, {name:<25} p50 {p50:>7.2} ms  p95 {p95:>7.2} ms  p50/66ms {:>4.2}",
            p50 / 66.7
        );
    }
    let vision = Vision::new(Box::new(still));
    let clock = Arc::new(SystemClock::default());
    let kiosk = Kiosk::new(Worker::spawn(Backend).unwrap(), Some(vision), clock);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_step_dt(1.0 / 15.0)
        .build_ui_state(
            |ui, app: &mut KioskApp| app.ui(ui),
            KioskApp::new(kiosk, Default::default()),
        );
    shinsei_kiosk::setup_context(&h.ctx).expect("Japanese font");

    let measure = |h: &mut Harness<'_, KioskApp>, name: &str, n: usize| {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            h.step();
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p95) = percentiles(v);
        println!(
            "UI frame, {name:<30} p50 {p50:>7.2} ms  p95 {p95:>7.2} ms  p50/16.7ms {:>4.2}",
            p50 / 16.7
        );
    };

    for _ in 0..5 {
        h.step();
    }
    measure(&mut h, "login (idle)", 60);
    h.state_mut().kiosk.staff_id.push_str("S001");
    for c in "pw".chars() {
        h.state_mut().kiosk.password.push(c);
    }
    h.state_mut().kiosk.submit_login();
    while h.state().kiosk.screen != Screen::Scan {
        h.step();
    }
    // Scanning: the camera thread reads the code; the UI keeps drawing.
    h.state_mut().kiosk.rescan();
    let t = Instant::now();
    while h.state().kiosk.applicant.found.is_none() {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    println!(
        "kiosk scan: code on screen {:.1} ms after the scan screen opened",
        t.elapsed().as_secs_f64() * 1000.0
    );
    measure(&mut h, "scan, code found", 60);
    h.state_mut().kiosk.confirm_scan();
    // Photo screen: the camera thread checks frames while the UI draws them.
    let mut v = Vec::new();
    for _ in 0..60 {
        if h.state().kiosk.screen != Screen::Photo {
            h.state_mut().kiosk.retake();
        }
        let t = Instant::now();
        h.step();
        v.push(t.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (p50, p95) = percentiles(v);
    println!(
        "UI frame, {:<30} p50 {p50:>7.2} ms  p95 {p95:>7.2} ms  p50/16.7ms {:>4.2}",
        "photo (checks on their thread)",
        p50 / 16.7
    );
}
