//! The applicant's wishes: e-certificates and braille.

use egui::Ui;

use crate::i18n::T;
use crate::kiosk::Kiosk;

use crate::view::theme::sz;
use crate::view::widgets::*;
use crate::view::words::{self, Words};

pub(crate) fn choices(ui: &mut Ui, k: &mut Kiosk) {
    applicant_header(ui, k, true);
    let lang = k.applicant_lang();
    yes_no(ui, lang, T::CertQuestion, &mut k.applicant.cert);
    yes_no(ui, lang, T::BrailleQuestion, &mut k.applicant.braille);
    if is_express(k) {
        words::label(ui, Words::new(T::ExpressNote.get(lang), sz(ui, 22.0)));
    }
    ui.horizontal(|ui| {
        if big_button(ui, T::Back.get(lang), true) {
            k.back();
        }
        if primary_button(ui, T::Next.get(lang), k.choices_done()) {
            k.after_choices();
        }
    });
}
