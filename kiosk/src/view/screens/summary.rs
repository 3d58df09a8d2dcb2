//! What will be sent, for the applicant to confirm.

use egui::{RichText, Ui, Vec2};

use crate::i18n::T;
use crate::kiosk::Kiosk;

use crate::view::widgets::*;

pub(crate) fn summary(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    steps(ui, lang, k.screen, is_express(k));
    heading(ui, T::SummaryTitle.get(lang));
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
            ui.label(T::SummaryId.get(lang));
            ui.label(
                RichText::new(
                    k.applicant
                        .found
                        .as_ref()
                        .map(|i| i.masked())
                        .unwrap_or_default(),
                )
                .monospace()
                .size(28.0),
            );
            ui.end_row();
            ui.label(T::SummaryCert.get(lang));
            ui.label(yes(k.applicant.cert));
            ui.end_row();
            ui.label(T::SummaryBraille.get(lang));
            ui.label(yes(k.applicant.braille));
            ui.end_row();
            if is_express(k) {
                ui.label(T::SummaryPins.get(lang));
                ui.label(T::PinsSet.get(lang));
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
