//! The staff login: ID and password through the keypad, lock-out shown with its wait.

use egui::Ui;

use crate::i18n::T;
use crate::kiosk::{Kiosk, LoginField};

use crate::view::widgets::*;

pub(crate) fn login(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    heading(ui, T::StaffLogin.get(lang));
    ui.add_space(8.0);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(520.0);
            credential_fields(
                ui,
                [T::StaffId.get(lang), T::Password.get(lang)],
                [&k.staff_id, &k.password.display()],
                &mut k.login_field,
                480.0,
            );
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
            if let Some(p) = case_and_symbols(ui, &mut k.keypad_upper, k.login_field) {
                pressed = Some(p);
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
