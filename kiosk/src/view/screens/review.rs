//! Reviewing the photo: the source with the crop box, and the result at 35:45.

use egui::{Color32, Pos2, Rect, Sense, Stroke, StrokeKind, Ui, Vec2};

use crate::i18n::T;
use crate::kiosk::{Kiosk, Screen};

use crate::view::preview::*;
use crate::view::theme::*;
use crate::view::widgets::*;
use crate::view::words::{self, Words};

pub(crate) fn review(ui: &mut Ui, k: &mut Kiosk, tex: &mut Textures) {
    applicant_header(ui, k, true);
    let lang = k.applicant_lang();
    heading(ui, T::ReviewTitle.get(lang));
    // A photo taken under a supervisor's override says so, with the reason.
    if let Some(r) = k.applicant.overridden {
        let text = format!(
            "{}: {}",
            T::OverrideApproved.get(lang),
            crate::i18n::override_reason(r, lang)
        );
        let bad = pal(ui).bad;
        words::label(ui, Words::new(&text, sz(ui, 20.0)).strong().color(bad));
    }
    let Some(c) = &k.applicant.captured else {
        k.retake();
        return;
    };
    if tex.original.is_none() || tex.review_serial != k.capture_serial {
        upload(ui.ctx(), &mut tex.original, "original", &c.original);
        upload(ui.ctx(), &mut tex.cropped, "cropped", &c.cropped);
        tex.review_serial = k.capture_serial;
    }
    let crop = c.crop;
    let scale = c.original.scale;
    ui.horizontal_top(|ui| {
        if let Some(t) = &tex.original {
            ui.vertical(|ui| {
                words::label(ui, Words::styled(T::ReviewOriginal.get(lang)));
                let (r, s) = preview_image(ui, t, Vec2::new(460.0, 420.0));
                let cr = to_screen(&crop.scale(scale), r.min, s);
                ui.painter()
                    .rect_stroke(cr, 2, Stroke::new(4.0, pal(ui).ok), StrokeKind::Outside);
            });
        }
        ui.add_space(24.0);
        if let Some(t) = &tex.cropped {
            ui.vertical(|ui| {
                words::label(ui, Words::styled(T::ReviewCropped.get(lang)));
                // At the printed proportion: 35 wide by 45 high.
                let (r, _) = ui.allocate_exact_size(Vec2::new(308.0, 396.0), Sense::hover());
                ui.painter().image(
                    t.id(),
                    r,
                    Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                    Color32::WHITE,
                );
                ui.painter()
                    .rect_stroke(r, 0, Stroke::new(2.0, pal(ui).ink), StrokeKind::Outside);
            });
        }
        ui.add_space(24.0);
        ui.vertical(|ui| {
            if primary_button(ui, T::UsePhoto.get(lang), true) {
                k.use_photo();
            }
            if big_button(ui, T::Retake.get(lang), true) {
                tex.original = None;
                tex.cropped = None;
                k.retake();
            }
        });
    });
    if k.screen != Screen::Review {
        tex.original = None;
    }
}
