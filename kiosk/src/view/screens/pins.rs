//! Express issuance: the PINs on the keypad, rules checked as typed.

use egui::{Button, Color32, RichText, Sense, Ui, Vec2};

use crate::entry::{Kind, PinForm};
use crate::i18n::T;
use crate::kiosk::Kiosk;

use crate::view::theme::*;
use crate::view::widgets::*;

pub(crate) fn pins(ui: &mut Ui, k: &mut Kiosk) {
    applicant_header(ui, k, true);
    let lang = k.applicant_lang();
    ui.label(RichText::new(T::PinsTitle.get(lang)).size(26.0).strong());
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(560.0);
            ui.spacing_mut().item_spacing.y = 2.0;
            for i in k.applicant.pins.visible() {
                let label = PinForm::LABELS[i].get(lang);
                ui.label(RichText::new(label).size(18.0).strong());
                ui.horizontal(|ui| {
                    for j in 0..2 {
                        let idx = i * 2 + j;
                        let focused = k.applicant.pins.focus == idx;
                        let e = if j == 0 {
                            &k.applicant.pins.fields[i].0
                        } else {
                            &k.applicant.pins.fields[i].1
                        };
                        let name = if j == 0 {
                            T::PinEnter.get(lang)
                        } else {
                            T::PinConfirm.get(lang)
                        };
                        let text = e.display();
                        let (r, resp) =
                            ui.allocate_exact_size(Vec2::new(270.0, MIN_TARGET), Sense::click());
                        field_box(ui, r, focused);
                        ui.painter().text(
                            r.left_top() + Vec2::new(8.0, 4.0),
                            egui::Align2::LEFT_TOP,
                            name,
                            egui::FontId::proportional(15.0),
                            Color32::from_gray(60),
                        );
                        ui.painter().text(
                            r.left_bottom() + Vec2::new(10.0, -6.0),
                            egui::Align2::LEFT_BOTTOM,
                            text,
                            egui::FontId::proportional(26.0),
                            INK,
                        );
                        let label = format!("{label} {name}");
                        resp.widget_info(|| {
                            egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, &label)
                        });
                        if resp.clicked() {
                            k.applicant.pins.focus = idx;
                        }
                    }
                });
                let rules = k.applicant.pins.rules(i);
                if k.applicant.pins.mismatch(i) {
                    // A confirmation that differs, said in words (not only a red rule).
                    ui.label(
                        RichText::new(T::PinMismatch.get(lang))
                            .size(18.0)
                            .strong()
                            .color(BAD),
                    );
                } else {
                    ui.scope(|ui| rules_line(ui, lang, &rules));
                }
                ui.add_space(4.0);
            }
        });
        ui.add_space(12.0);
        ui.vertical(|ui| {
            // One layout for every field: the letters are greyed out for 4-digit PINs.
            let letters = k.applicant.pins.focused().kind() == Kind::SignaturePassword;
            if let Some(p) = keypad_with(ui, lang, true, letters, false) {
                match p {
                    KeyPress::Char(c) => {
                        k.applicant.pins.push(c);
                    }
                    other => apply_key(k.applicant.pins.focused(), other),
                }
            }
            ui.add_space(12.0);
            ui.horizontal(|ui| {
                if ui
                    .add(Button::new(T::Back.get(lang)).min_size(Vec2::new(150.0, 80.0)))
                    .clicked()
                {
                    k.back();
                }
                // The same primary button as every screen's (grey while disabled).
                if primary_button(ui, T::Next.get(lang), k.applicant.pins.all_ok()) {
                    k.after_pins();
                }
            });
        });
    });
}
