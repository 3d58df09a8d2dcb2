//! The staff login: ID and password through the keypad, lock-out shown with its wait.

use egui::{Button, Ui, Vec2};

use crate::i18n::T;
use crate::kiosk::{Kiosk, LoginField};

use crate::view::theme::*;
use crate::view::widgets::*;

pub(crate) fn login(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    heading(ui, T::StaffLogin.get(lang));
    ui.add_space(8.0);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(520.0);
            if field(
                ui,
                T::StaffId.get(lang),
                &k.staff_id,
                k.login_field == LoginField::StaffId,
                480.0,
            ) {
                k.login_field = LoginField::StaffId;
            }
            ui.add_space(8.0);
            if field(
                ui,
                T::Password.get(lang),
                &k.password.display(),
                k.login_field == LoginField::Password,
                480.0,
            ) {
                k.login_field = LoginField::Password;
            }
            ui.add_space(20.0);
            let label = if k.busy {
                T::LoggingIn.get(lang)
            } else {
                T::LogIn.get(lang)
            };
            if primary_button(ui, label, k.can_login()) {
                k.submit_login();
            }
        });
        ui.add_space(24.0);
        ui.vertical(|ui| {
            let lower = !k.keypad_upper;
            let mut pressed = keypad(ui, lang, true, lower);
            // Both fields: lower case by default and a case key (staff IDs are
            // case-sensitive and may hold either); the symbols each field accepts
            // (staff IDs: what provisioning accepts, `.`, `_`, `-`). The keys that both
            // rows have stay in the same place when the field changes.
            let symbols: &[&str] = match k.login_field {
                LoginField::StaffId => &["-", "_", "."],
                LoginField::Password => &["-", "_", ".", "@", "!", "#", "␣"],
            };
            {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing = Vec2::new(6.0, 6.0);
                    let case = if k.keypad_upper { "A→a" } else { "a→A" };
                    if ui
                        .add(Button::new(case).min_size(Vec2::new(100.0, 68.0)))
                        .clicked()
                    {
                        k.keypad_upper = !k.keypad_upper;
                    }
                    for &sym in symbols {
                        if ui
                            .add(Button::new(sym).min_size(Vec2::new(MIN_TARGET, 68.0)))
                            .clicked()
                        {
                            let c = if sym == "␣" {
                                ' '
                            } else {
                                sym.chars().next().unwrap_or(' ')
                            };
                            pressed = Some(KeyPress::Symbol(c));
                        }
                    }
                });
            }
            match (pressed, k.login_field) {
                (Some(KeyPress::Char(c) | KeyPress::Symbol(c)), _) => k.login_type(c),
                (Some(KeyPress::Backspace), _) => k.login_backspace(),
                (Some(KeyPress::Clear), LoginField::StaffId) => k.staff_id.clear(),
                (Some(KeyPress::Clear), LoginField::Password) => k.password.clear(),
                (None, _) => {}
            }
        });
    });
}
