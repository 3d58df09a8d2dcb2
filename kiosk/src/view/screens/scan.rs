//! Scanning the form's QR code (camera) or typing the application ID.

use egui::{RichText, Stroke, StrokeKind, Ui, Vec2};

use crate::i18n::{self, T};
use crate::kiosk::Kiosk;

use crate::view::preview::*;
use crate::view::theme::*;
use crate::view::widgets::*;

pub(crate) fn scan(ui: &mut Ui, k: &mut Kiosk, tex: &mut Textures) {
    let lang = k.lang;
    live_head(ui, k, tex, k.applicant.scan.as_ref().map(|v| &v.preview));
    ui.horizontal_top(|ui| {
        match (&tex.preview, &k.applicant.scan) {
            (Some(t), Some(v)) => {
                let (r, s) = preview_image(ui, t, Vec2::new(720.0, 540.0));
                if let Some(q) = &v.region {
                    let rr = to_screen(q, r.min, s);
                    ui.painter()
                        .rect_stroke(rr, 4, Stroke::new(6.0, OK), StrokeKind::Outside);
                }
            }
            _ => no_camera(ui, lang, Vec2::new(720.0, 540.0)),
        }
        ui.add_space(16.0);
        ui.vertical(|ui| {
            match &k.applicant.found {
                Some(id) => {
                    ui.label(RichText::new(T::ScanFound.get(lang)).size(TEXT));
                    ui.add_space(8.0);
                    ui.label(RichText::new(id.masked()).size(30.0).monospace().strong());
                    ui.add_space(16.0);
                    if primary_button(ui, T::ScanConfirm.get(lang), true) {
                        k.confirm_scan();
                    }
                    if big_button(ui, T::Rescan.get(lang), true) {
                        k.rescan();
                    }
                }
                None => {
                    ui.label(RichText::new(T::ScanHint.get(lang)).size(TEXT));
                    // A code was read but it is not a form's: say why, and what to do.
                    if let Some(e) = k.applicant.scan.as_ref().and_then(|s| s.refusal.as_ref()) {
                        ui.add_space(8.0);
                        ui.label(
                            RichText::new(i18n::qr_refusal(e, lang))
                                .size(22.0)
                                .color(BAD),
                        );
                    }
                }
            }
            ui.add_space(24.0);
            if big_button(ui, T::ManualEntry.get(lang), true) {
                k.manual_entry();
            }
        });
    });
}

pub(crate) fn manual_id(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    steps(ui, lang, k.screen, is_express(k));
    ui.label(RichText::new(T::ManualHint.get(lang)).size(TEXT));
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(600.0);
            field(
                ui,
                T::SummaryId.get(lang),
                &k.applicant.manual.display(),
                true,
                580.0,
            );
            ui.label(i18n::digits_typed(k.applicant.manual.len(), lang));
            ui.add_space(16.0);
            if primary_button(ui, T::Next.get(lang), k.applicant.manual.is_full()) {
                k.confirm_manual();
            }
            if k.has_camera() && big_button(ui, T::UseCamera.get(lang), true) {
                k.back_to_camera();
            }
        });
        if let Some(p) = keypad(ui, lang, false, false) {
            apply_key(&mut k.applicant.manual, p);
        }
    });
}
