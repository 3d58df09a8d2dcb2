//! Sending, then the receipt (delivered, or queued to send automatically).

use egui::{Frame, Margin, RichText, Stroke, Ui, Vec2};

use crate::i18n::T;
use crate::kiosk::Kiosk;

use crate::view::theme::*;
use crate::view::widgets::*;
use crate::view::words::{self, Words};

pub(crate) fn sending(ui: &mut Ui, k: &mut Kiosk) {
    ui.add_space(120.0);
    ui.vertical_centered(|ui| {
        ui.add(egui::Spinner::new().size(96.0));
        ui.add_space(24.0);
        heading(ui, T::Sending.get(k.applicant_lang()));
    });
}

pub(crate) fn receipt(ui: &mut Ui, k: &mut Kiosk) {
    applicant_header(ui, k, false);
    let lang = k.applicant_lang();
    let Some(r) = k.applicant.receipt.clone() else {
        k.new_applicant();
        return;
    };
    ui.vertical_centered(|ui| {
        let p = pal(ui);
        let (t, color) = if r.delivered {
            (T::Delivered, p.ok)
        } else {
            (T::Queued, p.warn)
        };
        words::label(
            ui,
            Words::new(t.get(lang), sz(ui, HEADING))
                .strong()
                .color(color),
        );
        ui.add_space(16.0);
        Frame::new()
            .stroke(Stroke::new(p.frame, p.ink))
            .fill(p.field)
            .inner_margin(Margin::same(24))
            .show(ui, |ui| {
                words::label(
                    ui,
                    Words::new(T::ReceiptTitle.get(lang), sz(ui, 28.0)).strong(),
                );
                egui::Grid::new("receipt")
                    .spacing(Vec2::new(40.0, 14.0))
                    .show(ui, |ui| {
                        words::label(ui, Words::styled(T::SummaryId.get(lang)));
                        ui.label(RichText::new(&r.masked_id).monospace().size(sz(ui, 28.0)));
                        ui.end_row();
                        words::label(ui, Words::styled(T::ReceiptTime.get(lang)));
                        ui.label(format!("{} JST", r.time));
                        ui.end_row();
                        words::label(ui, Words::styled(T::ReceiptStatus.get(lang)));
                        let status = if r.delivered {
                            T::ReceiptDelivered
                        } else {
                            T::ReceiptQueued
                        };
                        words::label(ui, Words::styled(status.get(lang)));
                        ui.end_row();
                    });
            });
        ui.add_space(24.0);
        if primary_button(ui, T::NextApplicant.get(lang), true) {
            k.new_applicant();
        }
    });
}
