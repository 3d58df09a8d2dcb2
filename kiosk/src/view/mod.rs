//! Drawing the kiosk with egui. Everything here reads [`Kiosk`] and calls its methods;
//! no decision is taken in this file that a test of the model could not see.
//!
//! Touch-first: every control is at least [`MIN_TARGET`] points on each side (about
//! 11 mm on a 10-inch 1280×800 tablet at one pixel per point, above the 9 mm asked),
//! text is large, colours are dark on light: text and buttons above 7:1, the green and
//! red of the checks above 4.5:1 (WCAG AA), tested in `tests/ui.rs`.
//!
//! Layout: [`theme`] (sizes, palette, style), `widgets` (buttons, fields, keypad,
//! steps), `preview` (camera and photo textures), `screens` (one file per screen).

mod preview;
mod screens;
pub mod theme;
mod widgets;
pub mod words;

pub use preview::Textures;
pub use theme::{
    apply_style, ACCENT, BAD, BANNER_H, BAR, HEADING, INK, MIN_TARGET, OK, PAPER, TEXT,
};

use egui::{Align, Button, Color32, Frame, Layout, Margin, RichText, Sense, Ui, Vec2};

use crate::i18n::{self, T};
use crate::kiosk::{Kiosk, LoginField, Screen};

use crate::view::screens::*;
use crate::view::widgets::*;

/// The whole screen.
pub fn show(ui: &mut Ui, k: &mut Kiosk, tex: &mut Textures) {
    let now = ui.input(|i| i.time);
    let activity = ui.input(|i| {
        i.events.iter().any(|e| {
            matches!(
                e,
                egui::Event::Text(_)
                    | egui::Event::Key { .. }
                    | egui::Event::PointerButton { .. }
                    | egui::Event::Touch { .. }
            )
        })
    });
    k.update(now, activity);
    keyboard(ui, k);
    // Pictures of an applicant live only as long as the screens that show them: the
    // source on the review screen, the cropped photo from review to the summary.
    if k.screen != Screen::Review {
        tex.original = None;
    }
    if !matches!(
        k.screen,
        Screen::Review | Screen::Choices | Screen::Pins | Screen::Summary
    ) {
        tex.cropped = None;
    }
    if !matches!(k.screen, Screen::Scan | Screen::Photo) {
        tex.preview = None;
        tex.preview_serial = 0;
    }

    // Below the status bar, the look of the screen (the applicant's choice on theirs).
    let look = k.screen_look();
    let styled = |ui: &mut Ui| {
        if look != theme::Look::Standard {
            ui.set_style(theme::style(ui.style(), look));
        }
    };
    let paper = look.palette().paper;
    if look != theme::Look::Standard {
        // The margin around the panels too (the standard look's paper is egui's).
        ui.painter()
            .with_clip_rect(ui.ctx().content_rect())
            .rect_filled(ui.ctx().content_rect(), 0, paper);
    }
    egui::Panel::top("status")
        .exact_size(76.0)
        .frame(
            Frame::new()
                .fill(BAR)
                .inner_margin(Margin::symmetric(16, 6)),
        )
        .show_inside(ui, |ui| status_bar(ui, k));
    // The banner has a slot of its own, shown or not, so that nothing below it moves
    // when a message appears or goes (a tap aimed at a button must land on it).
    egui::Panel::top("banner")
        .exact_size(BANNER_H)
        .frame(
            Frame::new()
                .fill(paper)
                .inner_margin(Margin::symmetric(24, 6)),
        )
        .show_inside(ui, |ui| {
            styled(ui);
            if let Some(b) = k.banner.clone() {
                banner(ui, &b.text, &b.detail, b.error);
            }
        });
    egui::CentralPanel::default()
        .frame(
            Frame::new()
                .fill(paper)
                .inner_margin(Margin::symmetric(24, 8)),
        )
        .show_inside(ui, |ui| {
            styled(ui);
            screen(ui, k, tex)
        });
    overlays(ui, k);
    if k.animating() {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(50));
    } else {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(500));
    }
}

/// The screen now showing.
fn screen(ui: &mut Ui, k: &mut Kiosk, tex: &mut Textures) {
    match k.screen {
        Screen::Login => login(ui, k),
        Screen::Scan => scan(ui, k, tex),
        Screen::ManualId => manual_id(ui, k),
        Screen::Photo => photo(ui, k, tex),
        Screen::Review => review(ui, k, tex),
        Screen::Choices => choices(ui, k),
        Screen::Pins => pins(ui, k),
        Screen::Summary => summary(ui, k, tex),
        Screen::Sending => sending(ui, k),
        Screen::Receipt => receipt(ui, k),
        Screen::Blocked(b) => {
            let device = k.status.as_ref().map(|s| s.device_id.clone());
            blocked(ui, k.lang, b, device.as_deref(), k.fingerprint.as_deref())
        }
    }
}

/// Hardware keyboard (and the on-screen keyboard of the OS): typed text goes to the
/// focused field of the current screen.
pub(crate) fn keyboard(ui: &Ui, k: &mut Kiosk) {
    let events = ui.input(|i| i.events.clone());
    for e in events {
        // The audio guidance takes the number keypad whole while it runs.
        if k.applicant.guide.is_some() && k.screen.is_applicant() {
            use crate::kiosk::guide::Key as G;
            match e {
                egui::Event::Text(s) => s
                    .chars()
                    .filter_map(G::from_char)
                    .for_each(|key| k.guide_key(key)),
                egui::Event::Key {
                    key: egui::Key::Enter,
                    pressed: true,
                    ..
                } => k.guide_key(G::Enter),
                egui::Event::Key {
                    key: egui::Key::Backspace,
                    pressed: true,
                    ..
                } => k.guide_key(G::Delete),
                _ => {}
            }
            continue;
        }
        match e {
            egui::Event::Text(s) if k.applicant.override_form.is_some() => {
                for c in s.chars() {
                    k.override_type(c);
                }
            }
            egui::Event::Key {
                key: egui::Key::Backspace,
                pressed: true,
                ..
            } if k.applicant.override_form.is_some() => k.override_backspace(),
            egui::Event::Text(s) => {
                for c in s.chars() {
                    match k.screen {
                        Screen::Login => k.login_type(c),
                        Screen::ManualId => {
                            k.applicant.manual.push(c);
                        }
                        Screen::Pins => {
                            k.applicant.pins.push(c);
                        }
                        _ => {}
                    }
                }
            }
            egui::Event::Key {
                key, pressed: true, ..
            } => match (key, k.screen) {
                (egui::Key::Backspace, Screen::Login) => k.login_backspace(),
                (egui::Key::Backspace, Screen::ManualId) => k.applicant.manual.backspace(),
                (egui::Key::Backspace, Screen::Pins) => k.applicant.pins.focused().backspace(),
                (egui::Key::Tab, Screen::Login) => {
                    k.login_field = match k.login_field {
                        LoginField::StaffId => LoginField::Password,
                        LoginField::Password => LoginField::StaffId,
                    }
                }
                (egui::Key::Enter, Screen::Login) => {
                    if k.login_field == LoginField::StaffId {
                        k.login_field = LoginField::Password;
                    } else {
                        k.submit_login();
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
}

pub(crate) fn status_bar(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    let white = |s: String| RichText::new(s).color(Color32::WHITE).size(18.0);
    let amber = Color32::from_rgb(0xFF, 0xB0, 0x00);
    let light = |ui: &mut Ui, on: Option<bool>, what: T| {
        let (color, word) = match on {
            Some(true) => (Color32::from_rgb(0x3C, 0xD0, 0x5A), T::NetOnline),
            Some(false) => (amber, T::NetOffline),
            None => (Color32::GRAY, T::NetUnknown),
        };
        let (r, _) = ui.allocate_exact_size(Vec2::splat(20.0), Sense::hover());
        ui.painter().circle_filled(r.center(), 9.0, color);
        ui.label(white(format!("{} {}", what.get(lang), word.get(lang))));
    };
    ui.horizontal_centered(|ui| {
        ui.spacing_mut().item_spacing.x = 8.0;
        // The buttons first, from the right, at fixed widths (they do not move with
        // the language); the facts get what is left and are cut short with "…"
        // rather than slide under the buttons.
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let wide = Vec2::new(170.0, MIN_TARGET);
            // On the applicant's screens their own picker sets the language (one
            // control for it on screen, not two); the clerk's switch keeps its place.
            // There, the clerk's slot starts (or stops) the audio guidance for the
            // applicant, in the clerk's words.
            if k.screen.is_applicant() {
                let on = k.applicant.guide.is_some();
                if choice_button(ui, T::AudioGuide.get(lang), on, wide.x) {
                    if on {
                        k.stop_guide();
                    } else {
                        k.start_guide();
                    }
                }
            } else if ui
                .add(Button::new(lang.switch_label()).min_size(wide))
                .clicked()
            {
                k.toggle_lang();
            }
            // Logged out or sending: an empty place of the same size, so the facts
            // do not move either.
            if k.login.is_some() && !k.busy {
                if ui
                    .add(Button::new(T::LogOut.get(lang)).min_size(wide))
                    .clicked()
                {
                    k.request_logout();
                }
            } else {
                ui.allocate_exact_size(wide, Sense::hover());
            }
            ui.with_layout(Layout::left_to_right(Align::Center), |ui| {
                ui.set_clip_rect(ui.max_rect().intersect(ui.clip_rect()));
                let staff = k.login.as_ref().map_or_else(
                    || T::NotLoggedIn.get(lang).to_string(),
                    |l| l.staff_id.clone(),
                );
                light(ui, k.status.as_ref().map(|s| s.network), T::Network);
                ui.separator();
                light(ui, k.status.as_ref().map(|s| s.online), T::Relay);
                ui.separator();
                if let Some(s) = &k.status {
                    ui.label(white(format!(
                        "{}: {}",
                        T::Outbox.get(lang),
                        i18n::outbox_count(s.outbox, lang)
                    )));
                    ui.separator();
                    let st = match s.device_state {
                        // A freshly imaged tablet whose own key waits for IT: not yet
                        // a working tablet, whatever state its ticket has.
                        _ if s.awaiting_approval.is_some() => {
                            T::DeviceAwaitingApproval.get(lang).to_string()
                        }
                        shinsei_protocol::api::DeviceState::Active => {
                            T::DeviceActive.get(lang).to_string()
                        }
                        shinsei_protocol::api::DeviceState::Disabled => {
                            T::DeviceDisabled.get(lang).to_string()
                        }
                        shinsei_protocol::api::DeviceState::WipePending
                        | shinsei_protocol::api::DeviceState::Wiped => {
                            T::DeviceWiped.get(lang).to_string()
                        }
                        other => other.as_str().to_string(),
                    };
                    ui.label(white(format!("{}: {st}", T::Device.get(lang))));
                    ui.separator();
                }
                ui.add(
                    egui::Label::new(white(format!("{}: {staff}", T::Staff.get(lang)))).truncate(),
                );
            });
        });
    });
}

/// Questions and warnings over the screen (modal: the screen under them cannot be
/// touched until they are answered).
fn overlays(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    if k.applicant.override_form.is_some() && k.screen == Screen::Photo {
        egui::Modal::new(egui::Id::new("override")).show(ui.ctx(), |ui| {
            override_form(ui, k);
        });
    } else if let Some(c) = k.confirm {
        let text = match c {
            crate::kiosk::Confirm::DiscardAndLogOut => T::ConfirmDiscard,
        };
        let mut answer = None;
        egui::Modal::new(egui::Id::new("confirm")).show(ui.ctx(), |ui| {
            ui.set_width(620.0);
            ui.label(RichText::new(text.get(lang)).size(TEXT).color(INK));
            ui.add_space(16.0);
            ui.horizontal(|ui| {
                if big_button(ui, T::KeepApplication.get(lang), true) {
                    answer = Some(false);
                }
                ui.add_space(24.0);
                if big_button(ui, T::DiscardAndLogOut.get(lang), true) {
                    answer = Some(true);
                }
            });
        });
        if let Some(yes) = answer {
            k.answer_confirm(yes);
        }
    } else if let Some(left) = k.idle_warning() {
        egui::Modal::new(egui::Id::new("idle")).show(ui.ctx(), |ui| {
            ui.set_width(620.0);
            ui.label(
                RichText::new(i18n::idle_warning(left, lang))
                    .size(TEXT)
                    .color(INK),
            );
            ui.add_space(16.0);
            // Any touch counts as activity; the button says what to do.
            if primary_button(ui, T::Continue.get(lang), true) {
                k.answer_confirm(false);
            }
        });
    }
}

/// The supervisor's approval of a photo the checks refuse: a reason from the list,
/// the applicant's face when there are several, and the supervisor's own ID and
/// password (typed on the keypad, never into a text widget).
fn override_form(ui: &mut Ui, k: &mut Kiosk) {
    use shinsei_agent::audit::OverrideReason;
    let lang = k.lang;
    let faces = k.applicant.photo.as_ref().map_or(0, |p| p.faces.len());
    let can_approve = k.can_approve();
    let Some(f) = k.applicant.override_form.as_mut() else {
        return;
    };
    ui.set_width(1120.0);
    ui.label(
        RichText::new(T::OverrideTitle.get(lang))
            .size(28.0)
            .strong()
            .color(INK),
    );
    ui.add_space(8.0);
    let mut approve = false;
    let mut cancel = false;
    let mut pressed = None;
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(480.0);
            ui.label(
                RichText::new(T::OverrideWhy.get(lang))
                    .size(20.0)
                    .color(INK),
            );
            ui.spacing_mut().item_spacing.y = 6.0;
            for r in OverrideReason::ALL {
                let t = i18n::override_reason(r, lang);
                if choice_button(ui, t, f.reason == Some(r), 470.0) {
                    f.reason = Some(r);
                }
            }
            if faces > 1 {
                ui.add_space(6.0);
                ui.label(
                    RichText::new(T::OverrideFace.get(lang))
                        .size(20.0)
                        .color(INK),
                );
                ui.horizontal(|ui| {
                    for i in 0..faces {
                        let label = match (faces, i) {
                            (2, 0) => T::FaceLeft.get(lang).to_string(),
                            (2, _) => T::FaceRight.get(lang).to_string(),
                            _ => format!("{} {}", T::OverrideFace.get(lang), i + 1),
                        };
                        if choice_button(ui, &label, f.face == i, 150.0) {
                            f.face = i;
                        }
                    }
                });
            }
            ui.add_space(6.0);
            credential_fields(
                ui,
                [T::SupervisorId.get(lang), T::SupervisorPassword.get(lang)],
                [&f.supervisor, &f.password.display()],
                &mut f.field,
                460.0,
            );
        });
        ui.add_space(16.0);
        ui.vertical(|ui| {
            pressed = keypad(ui, lang, true, !f.upper);
            if let Some(p) = case_and_symbols(ui, &mut f.upper, f.field) {
                pressed = Some(p);
            }
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if big_button(ui, T::Cancel.get(lang), true) {
                    cancel = true;
                }
                if primary_button(ui, T::Approve.get(lang), can_approve) {
                    approve = true;
                }
            });
        });
    });
    match pressed {
        Some(KeyPress::Char(c) | KeyPress::Symbol(c)) => k.override_type(c),
        Some(KeyPress::Backspace) => k.override_backspace(),
        Some(KeyPress::Clear) => k.override_clear(),
        None => {}
    }
    if cancel {
        k.cancel_override();
    } else if approve {
        k.submit_override();
    }
}
