//! Express issuance: the PINs on the keypad, rules checked as typed.

use egui::{Sense, Ui, Vec2};

use crate::entry::{Kind, PinForm};
use crate::i18n::T;
use crate::kiosk::{Kiosk, Look};

use crate::view::theme::*;
use crate::view::widgets::*;
use crate::view::words::{self, Words};

pub(crate) fn pins(ui: &mut Ui, k: &mut Kiosk) {
    applicant_header(ui, k, true);
    let lang = k.applicant_lang();
    words::label(
        ui,
        Words::new(T::PinsTitle.get(lang), sz(ui, 26.0)).strong(),
    );
    let p = pal(ui);
    let field_h = sz(ui, MIN_TARGET);
    // Large text: the PIN being typed alone, the others behind a row of tabs (four at
    // that size do not fit beside the keypad), and the way on under it.
    let large = k.applicant.look == Look::Large;
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(560.0);
            ui.spacing_mut().item_spacing.y = 2.0;
            let shown: Vec<usize> = if large {
                pin_tabs(ui, k);
                vec![k.applicant.pins.focus / 2]
            } else {
                k.applicant.pins.visible().collect()
            };
            for i in shown {
                let label = PinForm::LABELS[i].get(lang);
                words::label(ui, Words::new(label, sz(ui, 18.0)).strong());
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
                            ui.allocate_exact_size(Vec2::new(270.0, field_h), Sense::click());
                        field_box(ui, r, focused);
                        words::paint_at(
                            ui,
                            r.left_top() + Vec2::new(8.0, 4.0),
                            egui::Align2::LEFT_TOP,
                            Words::new(name, sz(ui, 15.0)).color(p.muted),
                        );
                        ui.painter().text(
                            r.left_bottom() + Vec2::new(10.0, -6.0),
                            egui::Align2::LEFT_BOTTOM,
                            text,
                            egui::FontId::proportional(sz(ui, 26.0)),
                            p.ink,
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
                    words::label(
                        ui,
                        Words::new(T::PinMismatch.get(lang), sz(ui, 18.0))
                            .strong()
                            .color(p.bad),
                    );
                } else {
                    ui.scope(|ui| rules_line(ui, lang, &rules));
                }
                ui.add_space(4.0);
            }
            if large {
                ui.add_space(24.0);
                back_and_next(ui, k);
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
            if !large {
                ui.add_space(12.0);
                back_and_next(ui, k);
            }
        });
    });
}

fn back_and_next(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.applicant_lang();
    ui.horizontal(|ui| {
        if plain_button(ui, T::Back.get(lang), Vec2::new(150.0, 80.0)) {
            k.back();
        }
        // The same primary button as every screen's (grey while disabled).
        if primary_button(ui, T::Next.get(lang), k.applicant.pins.all_ok()) {
            k.after_pins();
        }
    });
}

/// One tab per PIN, by its number among the screen's PINs, ticked when it is done;
/// a tap moves to its first field.
fn pin_tabs(ui: &mut Ui, k: &mut Kiosk) {
    let pins = &mut k.applicant.pins;
    let current = pins.focus / 2;
    ui.horizontal(|ui| {
        for (n, i) in pins.visible().enumerate() {
            let number = ['①', '②', '③', '④'][n.min(3)];
            let tick = if pins.field_ok(i) { " ✔" } else { "" };
            if choice_button(ui, &format!("{number}{tick}"), i == current, 110.0) {
                pins.focus = i * 2;
            }
        }
    });
}
