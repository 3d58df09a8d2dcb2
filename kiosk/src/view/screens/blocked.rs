//! A disabled, wiped, offline-locked or unenrolled tablet: contact IT. A tablet waiting
//! for IT to approve its own key shows the key's fingerprint, large, for IT to compare.

use egui::{Color32, RichText, Ui};

use crate::i18n::{Lang, T};

use crate::view::theme::*;

pub(crate) fn blocked(
    ui: &mut Ui,
    lang: Lang,
    b: crate::kiosk::Block,
    device: Option<&str>,
    fingerprint: Option<&str>,
) {
    let r = ui.max_rect();
    ui.painter()
        .rect_filled(r, 0, Color32::from_rgb(0xFF, 0xF4, 0xE5));
    ui.add_space(140.0);
    ui.vertical_centered(|ui| {
        ui.label(RichText::new("⚠").size(96.0).color(BAD));
        ui.label(
            RichText::new(b.title().get(lang))
                .size(40.0)
                .strong()
                .color(BAD),
        );
        ui.add_space(20.0);
        ui.label(RichText::new(b.advice().get(lang)).size(28.0));
        // What IT asks first on the phone: which tablet.
        if let Some(d) = device {
            ui.add_space(16.0);
            ui.label(
                RichText::new(format!("{}: {d}", T::DeviceId.get(lang)))
                    .size(28.0)
                    .monospace(),
            );
        }
        if let Some(fp) = fingerprint.filter(|_| b == crate::kiosk::Block::AwaitingApproval) {
            ui.add_space(24.0);
            ui.label(RichText::new(T::KeyFingerprint.get(lang)).size(28.0));
            ui.label(RichText::new(fp).size(44.0).strong().monospace());
        }
    });
}
