//! Driving the kiosk through egui_kittest the way a clerk would: find buttons by their
//! label and click them, type, step until a screen shows.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

use crate::{Kiosk, KioskApp, Screen};

/// Steps until `done` holds (the worker and camera threads answer asynchronously).
/// 20 ms of wall time per 0.1 s step of kiosk time: 30 s of waiting is 150 s of kiosk
/// time, short of the auto-lock.
pub fn step_until(h: &mut Harness<'_, KioskApp>, what: &str, done: impl Fn(&Kiosk) -> bool) {
    for _ in 0..1500 {
        h.step();
        if done(&h.state().kiosk) {
            // Settle the frame after the change.
            h.step();
            h.step();
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!(
        "timed out waiting for {what}; screen {:?}, banner {:?}",
        h.state().kiosk.screen,
        h.state().kiosk.banner
    );
}

/// Clicks the control labelled `label` (there must be exactly one).
pub fn click(h: &mut Harness<'_, KioskApp>, label: &str) {
    h.get_by_label(label).click();
    h.step();
    h.step();
}

/// Types text as keyboard events into the focused field.
pub fn type_text(h: &mut Harness<'_, KioskApp>, s: &str) {
    h.event(egui::Event::Text(s.into()));
    h.step();
}

/// Answers the two questions of the choices screen (e-certificates, braille).
pub fn choose(h: &mut Harness<'_, KioskApp>, cert: bool, braille: bool) {
    for (i, yes) in [cert, braille].into_iter().enumerate() {
        let label = if yes {
            "希望する"
        } else {
            "希望しない"
        };
        h.get_all_by_label(label).nth(i).unwrap().click();
        h.step();
    }
}

/// From a read QR code to the review screen: confirm the ID, wait for the capture.
pub fn scan_to_review(h: &mut Harness<'_, KioskApp>) {
    step_until(h, "the QR code", |k| k.applicant.found.is_some());
    click(h, "この申請書IDで進む");
    step_until(h, "the capture", |k| k.screen == Screen::Review);
}

/// From the review screen to pressing Send (standard profile).
pub fn review_to_send(h: &mut Harness<'_, KioskApp>, cert: bool, braille: bool) {
    click(h, "この写真を使う");
    choose(h, cert, braille);
    click(h, "次へ");
    click(h, "送信する");
}
