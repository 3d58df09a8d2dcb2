//! What will be sent, for the applicant to confirm.

use egui::{RichText, Ui, Vec2};

use crate::i18n::T;
use crate::kiosk::Kiosk;

use crate::view::preview::*;
use crate::view::theme::*;
use crate::view::widgets::*;
use crate::view::words::{self, Words};

pub(crate) fn summary(ui: &mut Ui, k: &mut Kiosk, tex: &mut Textures) {
    applicant_header(ui, k, true);
    let lang = k.applicant_lang();
    heading(ui, T::SummaryTitle.get(lang));
    // The photo that will be sent, beside the facts (35:45, as printed).
    if let Some(c) = &k.applicant.captured {
        if tex.cropped.is_none() || tex.review_serial != k.capture_serial {
            upload(ui.ctx(), &mut tex.cropped, "cropped", &c.cropped);
            tex.review_serial = k.capture_serial;
        }
    }
    let photo = tex.cropped.as_ref().map(|t| t.id());
    ui.horizontal_top(|ui| {
        if let Some(id) = photo {
            let (r, _) = ui.allocate_exact_size(Vec2::new(210.0, 270.0), egui::Sense::hover());
            ui.painter().image(
                id,
                r,
                egui::Rect::from_min_max(egui::Pos2::ZERO, egui::Pos2::new(1.0, 1.0)),
                egui::Color32::WHITE,
            );
            ui.painter().rect_stroke(
                r,
                0,
                egui::Stroke::new(2.0, pal(ui).ink),
                egui::StrokeKind::Outside,
            );
            ui.add_space(32.0);
        }
        ui.vertical(|ui| summary_facts(ui, k));
    });
}

fn summary_facts(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.applicant_lang();
    let yes = |b: Option<bool>| {
        if b == Some(true) {
            T::Yes.get(lang)
        } else {
            T::No.get(lang)
        }
    };
    egui::Grid::new("summary")
        .spacing(Vec2::new(40.0, 16.0))
        .show(ui, |ui| {
            words::label(ui, Words::styled(T::SummaryId.get(lang)));
            ui.label(
                RichText::new(
                    k.applicant
                        .found
                        .as_ref()
                        .map(|i| i.masked())
                        .unwrap_or_default(),
                )
                .monospace()
                .size(sz(ui, 28.0)),
            );
            ui.end_row();
            words::label(ui, Words::styled(T::SummaryCert.get(lang)));
            words::label(ui, Words::styled(yes(k.applicant.cert)));
            ui.end_row();
            words::label(ui, Words::styled(T::SummaryBraille.get(lang)));
            words::label(ui, Words::styled(yes(k.applicant.braille)));
            ui.end_row();
            if is_express(k) {
                words::label(ui, Words::styled(T::SummaryPins.get(lang)));
                words::label(ui, Words::styled(T::PinsSet.get(lang)));
                ui.end_row();
            }
        });
    ui.add_space(24.0);
    ui.horizontal(|ui| {
        if big_button(ui, T::Back.get(lang), !k.busy) {
            k.back();
        }
        if k.applicant.offer_resend {
            if primary_button(ui, T::SendAgain.get(lang), !k.busy) {
                k.send(true);
            }
        } else if primary_button(ui, T::SendNow.get(lang), !k.busy) {
            k.send(false);
        }
    });
}
