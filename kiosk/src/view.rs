//! Drawing the kiosk with egui. Everything here reads [`Kiosk`] and calls its methods;
//! no decision is taken in this file that a test of the model could not see.
//!
//! Touch-first: every control is at least [`MIN_TARGET`] points on each side (about
//! 11 mm on a 10-inch 1280×800 tablet at one pixel per point, above the 9 mm asked),
//! text is large, colours are dark on light: text and buttons above 7:1, the green and
//! red of the checks above 4.5:1 (WCAG AA), tested in `tests/ui.rs`.

use egui::{
    Align, Button, Color32, ColorImage, CornerRadius, Frame, Layout, Margin, Pos2, Rect, RichText,
    Sense, Stroke, StrokeKind, TextureHandle, TextureOptions, Ui, Vec2,
};

use crate::entry::{Entry, Kind, PinForm};
use crate::i18n::{self, Lang, T};
use crate::kiosk::{Kiosk, LoginField, Screen};
use shinsei_capture::live::vision::Preview;

/// Smallest side of any control, points.
pub const MIN_TARGET: f32 = 64.0;
/// Body text size, points.
pub const TEXT: f32 = 24.0;
/// Heading size, points.
pub const HEADING: f32 = 34.0;

pub const INK: Color32 = Color32::from_rgb(0x11, 0x11, 0x11);
pub const PAPER: Color32 = Color32::from_rgb(0xFA, 0xFA, 0xF7);
pub const ACCENT: Color32 = Color32::from_rgb(0x00, 0x3D, 0x8F);
pub const OK: Color32 = Color32::from_rgb(0x0B, 0x6B, 0x1F);
pub const BAD: Color32 = Color32::from_rgb(0xA4, 0x00, 0x0F);
pub const BAR: Color32 = Color32::from_rgb(0x1F, 0x2A, 0x44);

/// Applies the kiosk's look: large text, large targets, high contrast.
pub fn apply_style(ctx: &egui::Context) {
    ctx.all_styles_mut(|s| {
        use egui::{FontFamily, FontId, TextStyle};
        s.text_styles = [
            (
                TextStyle::Small,
                FontId::new(18.0, FontFamily::Proportional),
            ),
            (TextStyle::Body, FontId::new(TEXT, FontFamily::Proportional)),
            (
                TextStyle::Button,
                FontId::new(26.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Heading,
                FontId::new(HEADING, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(TEXT, FontFamily::Monospace),
            ),
        ]
        .into();
        s.spacing.interact_size = Vec2::splat(MIN_TARGET);
        s.spacing.button_padding = Vec2::new(18.0, 12.0);
        s.spacing.item_spacing = Vec2::new(14.0, 14.0);
        let mut v = egui::Visuals::light();
        v.override_text_color = Some(INK);
        v.panel_fill = PAPER;
        v.window_fill = PAPER;
        v.widgets.inactive.weak_bg_fill = Color32::from_rgb(0xE4, 0xE8, 0xF0);
        v.widgets.inactive.bg_stroke = Stroke::new(2.0, INK);
        v.widgets.hovered.bg_stroke = Stroke::new(3.0, ACCENT);
        v.widgets.active.bg_stroke = Stroke::new(3.0, ACCENT);
        v.widgets.noninteractive.fg_stroke = Stroke::new(1.0, INK);
        v.selection.bg_fill = ACCENT;
        v.selection.stroke = Stroke::new(2.0, Color32::WHITE);
        s.visuals = v;
        s.animation_time = 0.0;
    });
}

/// Textures for the camera preview and the review screen.
#[derive(Default)]
pub struct Textures {
    preview: Option<TextureHandle>,
    preview_serial: u64,
    original: Option<TextureHandle>,
    cropped: Option<TextureHandle>,
    review_serial: u64,
}

fn upload(ctx: &egui::Context, slot: &mut Option<TextureHandle>, name: &str, p: &Preview) {
    let img = ColorImage::from_rgba_unmultiplied([p.width as usize, p.height as usize], &p.rgba);
    match slot {
        Some(t) => t.set(img, TextureOptions::LINEAR),
        None => *slot = Some(ctx.load_texture(name, img, TextureOptions::LINEAR)),
    }
}

/// Uploads the camera preview when a new frame was processed.
fn sync_preview(ctx: &egui::Context, tex: &mut Textures, serial: u64, p: Option<&Preview>) {
    if let Some(p) = p {
        if tex.preview_serial != serial {
            upload(ctx, &mut tex.preview, "preview", p);
            tex.preview_serial = serial;
        }
    }
}

fn big_button(ui: &mut Ui, text: &str, enabled: bool) -> bool {
    ui.add_enabled(
        enabled,
        Button::new(RichText::new(text).size(28.0)).min_size(Vec2::new(240.0, 80.0)),
    )
    .clicked()
}

fn primary_button(ui: &mut Ui, text: &str, enabled: bool) -> bool {
    // Disabled: grey, drawn opaque (egui's faded look is too faint for a counter).
    let (fill, ink) = if enabled {
        (ACCENT, Color32::WHITE)
    } else {
        (Color32::from_gray(200), Color32::from_gray(90))
    };
    ui.scope(|ui| {
        ui.visuals_mut().disabled_alpha = 1.0;
        ui.add_enabled(
            enabled,
            Button::new(RichText::new(text).size(28.0).color(ink))
                .fill(fill)
                .min_size(Vec2::new(280.0, 80.0)),
        )
        .clicked()
    })
    .inner
}

fn button(ui: &mut Ui, text: &str) -> bool {
    ui.add(Button::new(text).min_size(Vec2::splat(MIN_TARGET)))
        .clicked()
}

fn heading(ui: &mut Ui, t: &str) {
    ui.label(RichText::new(t).size(HEADING).strong());
}

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
    // Pictures of an applicant live only as long as the screen that shows them.
    if k.screen != Screen::Review {
        tex.original = None;
        tex.cropped = None;
    }
    if !matches!(k.screen, Screen::Scan | Screen::Photo) {
        tex.preview = None;
        tex.preview_serial = 0;
    }

    egui::Panel::top("status")
        .exact_size(76.0)
        .frame(
            Frame::new()
                .fill(BAR)
                .inner_margin(Margin::symmetric(16, 6)),
        )
        .show_inside(ui, |ui| status_bar(ui, k));
    egui::CentralPanel::default()
        .frame(Frame::new().fill(PAPER).inner_margin(Margin::same(24)))
        .show_inside(ui, |ui| {
            if let Some(b) = k.banner.clone() {
                banner(ui, &b.text, &b.detail, b.error);
            }
            match k.screen {
                Screen::Login => login(ui, k),
                Screen::Scan => scan(ui, k, tex),
                Screen::ManualId => manual_id(ui, k),
                Screen::Photo => photo(ui, k, tex),
                Screen::Review => review(ui, k, tex),
                Screen::Choices => choices(ui, k),
                Screen::Pins => pins(ui, k),
                Screen::Summary => summary(ui, k),
                Screen::Sending => sending(ui, k),
                Screen::Receipt => receipt(ui, k),
                Screen::Blocked(b) => blocked(ui, k.lang, b),
            }
        });
    if k.animating() {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(50));
    } else {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(500));
    }
}

/// Hardware keyboard (and the on-screen keyboard of the OS): typed text goes to the
/// focused field of the current screen.
fn keyboard(ui: &Ui, k: &mut Kiosk) {
    let events = ui.input(|i| i.events.clone());
    for e in events {
        match e {
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

fn status_bar(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    let white = |s: String| RichText::new(s).color(Color32::WHITE).size(21.0);
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
                shinsei_protocol::api::DeviceState::Active => T::DeviceActive.get(lang).to_string(),
                shinsei_protocol::api::DeviceState::Disabled => {
                    T::DeviceDisabled.get(lang).to_string()
                }
                other => other.as_str().to_string(),
            };
            ui.label(white(format!("{}: {st}", T::Device.get(lang))));
            ui.separator();
        }
        let staff = k.login.as_ref().map_or_else(
            || T::NotLoggedIn.get(lang).to_string(),
            |l| l.staff_id.clone(),
        );
        ui.label(white(format!("{}: {staff}", T::Staff.get(lang))));
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if k.login.is_some() && !k.busy && button(ui, T::LogOut.get(lang)) {
                k.logout();
            }
            if button(ui, lang.switch_label()) {
                k.toggle_lang();
            }
        });
    });
}

fn banner(ui: &mut Ui, text: &str, detail: &str, error: bool) {
    let (fill, ink) = if error {
        (Color32::from_rgb(0xFD, 0xE7, 0xE9), BAD)
    } else {
        (Color32::from_rgb(0xE6, 0xF0, 0xFF), ACCENT)
    };
    Frame::new()
        .fill(fill)
        .stroke(Stroke::new(2.0, ink))
        .corner_radius(CornerRadius::same(6))
        .inner_margin(Margin::same(12))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new(text).size(26.0).color(ink).strong());
            if !detail.is_empty() {
                ui.label(RichText::new(detail).size(16.0).color(INK));
            }
        });
    ui.add_space(8.0);
}

/// A field box under its label, showing `text`, highlighted when it has the keyboard;
/// clicking focuses. The label is painted, and given to the box for accessibility (so
/// a test or a screen reader finds the field by it).
fn field(ui: &mut Ui, label: &str, text: &str, focused: bool, width: f32) -> bool {
    let (all, resp) = ui.allocate_exact_size(Vec2::new(width, MIN_TARGET + 34.0), Sense::click());
    ui.painter().text(
        all.left_top(),
        egui::Align2::LEFT_TOP,
        label,
        egui::FontId::proportional(TEXT),
        INK,
    );
    let r = Rect::from_min_max(all.left_top() + Vec2::new(0.0, 34.0), all.right_bottom());
    let stroke = if focused {
        Stroke::new(4.0, ACCENT)
    } else {
        Stroke::new(2.0, INK)
    };
    ui.painter().rect_filled(r, 6, Color32::WHITE);
    ui.painter().rect_stroke(r, 6, stroke, StrokeKind::Inside);
    ui.painter().text(
        r.left_center() + Vec2::new(14.0, 0.0),
        egui::Align2::LEFT_CENTER,
        text,
        egui::FontId::proportional(30.0),
        INK,
    );
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, label));
    resp.clicked()
}

/// What a keypad key does.
enum KeyPress {
    Char(char),
    /// A symbol key (typed as is, whatever the case key says).
    Symbol(char),
    Backspace,
    Clear,
}

/// An on-screen keypad: digits, plus letters when `letters` (lower case when `lower`).
fn keypad(ui: &mut Ui, lang: Lang, letters: bool, lower: bool) -> Option<KeyPress> {
    let mut out = None;
    // Alphabetical (easier than QWERTY for people who rarely type), nine to a row so
    // the keypad fits beside the fields with every key at least MIN_TARGET wide.
    let (key, rows): (Vec2, Vec<&str>) = if letters {
        (
            Vec2::new(MIN_TARGET, 68.0),
            vec!["123456789", "0ABCDEFGH", "IJKLMNOPQ", "RSTUVWXYZ"],
        )
    } else {
        (Vec2::new(96.0, 72.0), vec!["123", "456", "789", "0"])
    };
    ui.vertical(|ui| {
        ui.spacing_mut().item_spacing = Vec2::new(6.0, 6.0);
        for row in rows {
            ui.horizontal(|ui| {
                for c in row.chars() {
                    let c = if lower { c.to_ascii_lowercase() } else { c };
                    if ui
                        .add(Button::new(RichText::new(c.to_string()).size(30.0)).min_size(key))
                        .clicked()
                    {
                        out = Some(KeyPress::Char(c));
                    }
                }
            });
        }
        ui.horizontal(|ui| {
            if ui
                .add(Button::new(T::Backspace.get(lang)).min_size(Vec2::new(150.0, 72.0)))
                .clicked()
            {
                out = Some(KeyPress::Backspace);
            }
            if ui
                .add(Button::new(T::Clear.get(lang)).min_size(Vec2::new(150.0, 72.0)))
                .clicked()
            {
                out = Some(KeyPress::Clear);
            }
        });
    });
    out
}

fn apply_key(e: &mut Entry, k: KeyPress) {
    match k {
        KeyPress::Char(c) | KeyPress::Symbol(c) => {
            e.push(c);
        }
        KeyPress::Backspace => e.backspace(),
        KeyPress::Clear => e.clear(),
    }
}

fn login(ui: &mut Ui, k: &mut Kiosk) {
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
            let lower = k.login_field == LoginField::Password && !k.keypad_upper;
            let mut pressed = keypad(ui, lang, true, lower);
            // Passwords: lower case by default, a case key, and the common symbols.
            if k.login_field == LoginField::Password {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing = Vec2::new(6.0, 6.0);
                    let case = if k.keypad_upper { "A→a" } else { "a→A" };
                    if ui
                        .add(Button::new(case).min_size(Vec2::new(100.0, 68.0)))
                        .clicked()
                    {
                        k.keypad_upper = !k.keypad_upper;
                    }
                    for sym in ["-", "_", ".", "@", "!", "#", "␣"] {
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

/// Draws a preview texture scaled to fit `max`, returns its screen rect and scale.
fn preview_image(ui: &mut Ui, t: &TextureHandle, max: Vec2) -> (Rect, f32) {
    let size = t.size_vec2();
    let s = (max.x / size.x).min(max.y / size.y);
    let (r, _) = ui.allocate_exact_size(size * s, Sense::hover());
    ui.painter().image(
        t.id(),
        r,
        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
        Color32::WHITE,
    );
    (r, s)
}

fn to_screen(r: &shinsei_capture::imgops::Rect, origin: Pos2, s: f32) -> Rect {
    Rect::from_min_size(
        origin + Vec2::new(r.x as f32 * s, r.y as f32 * s),
        Vec2::new(r.w as f32 * s, r.h as f32 * s),
    )
}

fn no_camera(ui: &mut Ui, lang: Lang, size: Vec2) {
    let (r, _) = ui.allocate_exact_size(size, Sense::hover());
    ui.painter().rect_filled(r, 6, Color32::from_gray(40));
    ui.painter().text(
        r.center(),
        egui::Align2::CENTER_CENTER,
        T::NoCamera.get(lang),
        egui::FontId::proportional(28.0),
        Color32::WHITE,
    );
}

fn steps(ui: &mut Ui, lang: Lang, current: Screen, express: bool) {
    ui.horizontal(|ui| {
        let mut list = vec![
            (
                T::StepScan,
                matches!(current, Screen::Scan | Screen::ManualId),
            ),
            (
                T::StepPhoto,
                matches!(current, Screen::Photo | Screen::Review),
            ),
            (T::StepChoices, current == Screen::Choices),
        ];
        if express {
            list.push((T::StepPins, current == Screen::Pins));
        }
        list.push((T::StepSend, current == Screen::Summary));
        for (t, on) in list {
            let txt = RichText::new(t.get(lang)).size(22.0);
            ui.label(if on {
                txt.strong().color(ACCENT).underline()
            } else {
                txt.color(Color32::from_gray(70))
            });
            ui.add_space(16.0);
        }
    });
    ui.add_space(6.0);
}

fn is_express(k: &Kiosk) -> bool {
    k.profile() == Some(shinsei_protocol::application::Profile::Express)
}

fn scan(ui: &mut Ui, k: &mut Kiosk, tex: &mut Textures) {
    let lang = k.lang;
    steps(ui, lang, k.screen, is_express(k));
    sync_preview(
        ui.ctx(),
        tex,
        k.frame_serial,
        k.applicant.scan.as_ref().map(|v| &v.preview),
    );
    ui.horizontal_top(|ui| {
        match (&tex.preview, &k.applicant.scan) {
            (Some(t), Some(v)) => {
                let (r, s) = preview_image(ui, t, Vec2::new(720.0, 540.0));
                if let Some(q) = &v.region {
                    let rr = to_screen(q, r.min, s);
                    ui.painter()
                        .rect_stroke(rr, 4, Stroke::new(6.0, OK), StrokeKind::Outside);
                }
            }
            _ => no_camera(ui, lang, Vec2::new(720.0, 540.0)),
        }
        ui.add_space(16.0);
        ui.vertical(|ui| {
            match &k.applicant.found {
                Some(id) => {
                    ui.label(RichText::new(T::ScanFound.get(lang)).size(TEXT));
                    ui.add_space(8.0);
                    ui.label(RichText::new(id.masked()).size(30.0).monospace().strong());
                    ui.add_space(16.0);
                    if primary_button(ui, T::ScanConfirm.get(lang), true) {
                        k.confirm_scan();
                    }
                    if big_button(ui, T::Rescan.get(lang), true) {
                        k.rescan();
                    }
                }
                None => {
                    ui.label(RichText::new(T::ScanHint.get(lang)).size(TEXT));
                }
            }
            ui.add_space(24.0);
            if big_button(ui, T::ManualEntry.get(lang), true) {
                k.manual_entry();
            }
        });
    });
}

fn manual_id(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    steps(ui, lang, k.screen, is_express(k));
    ui.label(RichText::new(T::ManualHint.get(lang)).size(TEXT));
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(600.0);
            field(
                ui,
                T::SummaryId.get(lang),
                &k.applicant.manual.display(),
                true,
                580.0,
            );
            ui.label(i18n::digits_typed(k.applicant.manual.len(), lang));
            ui.add_space(16.0);
            if primary_button(ui, T::Next.get(lang), k.applicant.manual.is_full()) {
                k.confirm_manual();
            }
            if k.has_camera() && big_button(ui, T::UseCamera.get(lang), true) {
                k.back_to_camera();
            }
        });
        if let Some(p) = keypad(ui, lang, false, false) {
            apply_key(&mut k.applicant.manual, p);
        }
    });
}

fn photo(ui: &mut Ui, k: &mut Kiosk, tex: &mut Textures) {
    let lang = k.lang;
    steps(ui, lang, k.screen, is_express(k));
    sync_preview(
        ui.ctx(),
        tex,
        k.frame_serial,
        k.applicant.photo.as_ref().map(|v| &v.preview),
    );
    ui.horizontal_top(|ui| {
        match (&tex.preview, &k.applicant.photo) {
            (Some(t), Some(v)) => {
                let (r, s) = preview_image(ui, t, Vec2::new(640.0, 540.0));
                // Face-position guide: a 35:45 frame with an oval where the face goes.
                let gh = r.height() * 0.9;
                let gw = gh * 35.0 / 45.0;
                let g = Rect::from_center_size(r.center(), Vec2::new(gw, gh));
                let white = Stroke::new(3.0, Color32::from_white_alpha(220));
                ui.painter().rect_stroke(g, 4, white, StrokeKind::Inside);
                ui.painter().add(egui::Shape::ellipse_stroke(
                    g.center() - Vec2::new(0.0, gh * 0.05),
                    Vec2::new(gw * 0.32, gh * 0.36),
                    white,
                ));
                if let Some(c) = &v.crop {
                    let color = if v.accepted() { OK } else { BAD };
                    ui.painter().rect_stroke(
                        to_screen(c, r.min, s),
                        2,
                        Stroke::new(5.0, color),
                        StrokeKind::Outside,
                    );
                }
                if let Some(n) = k.countdown() {
                    let band = Rect::from_min_max(
                        Pos2::new(r.left(), r.bottom() - 64.0),
                        r.right_bottom(),
                    );
                    ui.painter()
                        .rect_filled(band, 0, Color32::from_black_alpha(170));
                    ui.painter().text(
                        band.center(),
                        egui::Align2::CENTER_CENTER,
                        i18n::countdown(n, lang),
                        egui::FontId::proportional(40.0),
                        Color32::WHITE,
                    );
                }
            }
            _ => no_camera(ui, lang, Vec2::new(640.0, 540.0)),
        }
        ui.add_space(16.0);
        ui.vertical(|ui| {
            ui.label(RichText::new(T::PhotoHint.get(lang)).size(TEXT).strong());
            ui.add_space(8.0);
            match &k.applicant.photo {
                Some(v) => {
                    for c in &v.report.checks {
                        let pass = c.verdict == shinsei_capture::Verdict::Pass;
                        let (mark, color) = if pass { ("✔", OK) } else { ("✖", BAD) };
                        let text = if pass {
                            check_name(c.check, lang).to_string()
                        } else if lang == Lang::Ja {
                            c.message_ja.clone()
                        } else {
                            c.message_en.clone()
                        };
                        ui.label(
                            RichText::new(format!("{mark} {text}"))
                                .size(22.0)
                                .color(color),
                        );
                    }
                }
                None => {
                    ui.label(T::PhotoChecking.get(lang));
                }
            }
            ui.add_space(16.0);
            if primary_button(ui, T::TakePhoto.get(lang), k.can_take_photo()) {
                k.take_photo();
            }
            if big_button(ui, T::Back.get(lang), true) {
                k.back();
            }
        });
    });
}

/// Plain words for a passed check.
fn check_name(id: &str, lang: Lang) -> &'static str {
    let (ja, en) = match id {
        "face_count" => ("顔がひとつ写っています", "One face in view"),
        "face_size" => ("顔の大きさ", "Face size"),
        "cut_off" => ("頭と肩が枠に入っています", "Head and shoulders in frame"),
        "off_centre" => ("顔が中央にあります", "Face centred"),
        "roll" => ("顔がまっすぐです", "Head straight"),
        "too_dark" => ("明るさ", "Brightness"),
        "overexposed" => ("白飛びなし", "No glare"),
        "blur" => ("ピント", "Sharpness"),
        _ => ("確認済み", "Checked"),
    };
    if lang == Lang::Ja {
        ja
    } else {
        en
    }
}

fn review(ui: &mut Ui, k: &mut Kiosk, tex: &mut Textures) {
    let lang = k.lang;
    steps(ui, lang, k.screen, is_express(k));
    heading(ui, T::ReviewTitle.get(lang));
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
                ui.label(T::ReviewOriginal.get(lang));
                let (r, s) = preview_image(ui, t, Vec2::new(460.0, 420.0));
                let cr = to_screen(&crop.scale(scale), r.min, s);
                ui.painter()
                    .rect_stroke(cr, 2, Stroke::new(4.0, OK), StrokeKind::Outside);
            });
        }
        ui.add_space(24.0);
        if let Some(t) = &tex.cropped {
            ui.vertical(|ui| {
                ui.label(T::ReviewCropped.get(lang));
                // At the printed proportion: 35 wide by 45 high.
                let (r, _) = ui.allocate_exact_size(Vec2::new(336.0, 432.0), Sense::hover());
                ui.painter().image(
                    t.id(),
                    r,
                    Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                    Color32::WHITE,
                );
                ui.painter()
                    .rect_stroke(r, 0, Stroke::new(2.0, INK), StrokeKind::Outside);
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
        tex.cropped = None;
    }
}

fn yes_no(ui: &mut Ui, lang: Lang, question: T, value: &mut Option<bool>) {
    ui.label(RichText::new(question.get(lang)).size(28.0).strong());
    ui.horizontal(|ui| {
        for (v, t) in [(true, T::Yes), (false, T::No)] {
            let selected = *value == Some(v);
            let mut text = RichText::new(t.get(lang)).size(28.0);
            if selected {
                text = text.color(Color32::WHITE).strong();
            }
            let b = Button::new(text)
                .selected(selected)
                .min_size(Vec2::new(260.0, 84.0));
            if ui.add(b).clicked() {
                *value = Some(v);
            }
        }
    });
    ui.add_space(20.0);
}

fn choices(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    steps(ui, lang, k.screen, is_express(k));
    yes_no(ui, lang, T::CertQuestion, &mut k.applicant.cert);
    yes_no(ui, lang, T::BrailleQuestion, &mut k.applicant.braille);
    if is_express(k) {
        ui.label(RichText::new(T::ExpressNote.get(lang)).size(22.0));
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

fn rules_line(ui: &mut Ui, lang: Lang, rules: &[(T, bool)]) {
    // Text only, not a row of touch targets: rows as high as the text.
    ui.spacing_mut().interact_size.y = 20.0;
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        for (t, ok) in rules {
            let (mark, color) = if *ok { ("✔", OK) } else { ("・", BAD) };
            ui.label(
                RichText::new(format!("{mark} {}", t.get(lang)))
                    .size(16.0)
                    .color(color),
            );
        }
    });
}

fn pins(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    steps(ui, lang, k.screen, is_express(k));
    ui.label(RichText::new(T::PinsTitle.get(lang)).size(26.0).strong());
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(560.0);
            ui.spacing_mut().item_spacing.y = 2.0;
            for i in 0..4 {
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
                        let stroke = if focused {
                            Stroke::new(4.0, ACCENT)
                        } else {
                            Stroke::new(2.0, INK)
                        };
                        ui.painter().rect_filled(r, 6, Color32::WHITE);
                        ui.painter().rect_stroke(r, 6, stroke, StrokeKind::Inside);
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
                ui.scope(|ui| rules_line(ui, lang, &k.applicant.pins.rules(i)));
                ui.add_space(4.0);
            }
        });
        ui.add_space(12.0);
        ui.vertical(|ui| {
            let letters = k.applicant.pins.focused().kind() == Kind::SignaturePassword;
            if let Some(p) = keypad(ui, lang, letters, false) {
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
                let next = Button::new(
                    RichText::new(T::Next.get(lang))
                        .size(28.0)
                        .strong()
                        .color(Color32::WHITE),
                )
                .fill(ACCENT)
                .min_size(Vec2::new(200.0, 80.0));
                if ui.add_enabled(k.applicant.pins.all_ok(), next).clicked() {
                    k.after_pins();
                }
            });
        });
    });
}

fn summary(ui: &mut Ui, k: &mut Kiosk) {
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

fn sending(ui: &mut Ui, k: &mut Kiosk) {
    ui.add_space(120.0);
    ui.vertical_centered(|ui| {
        ui.add(egui::Spinner::new().size(96.0));
        ui.add_space(24.0);
        heading(ui, T::Sending.get(k.lang));
    });
}

fn receipt(ui: &mut Ui, k: &mut Kiosk) {
    let lang = k.lang;
    let Some(r) = k.applicant.receipt.clone() else {
        k.new_applicant();
        return;
    };
    ui.vertical_centered(|ui| {
        let (t, color) = if r.delivered {
            (T::Delivered, OK)
        } else {
            (T::Queued, Color32::from_rgb(0x8A, 0x4B, 0x00))
        };
        ui.label(
            RichText::new(t.get(lang))
                .size(HEADING)
                .strong()
                .color(color),
        );
        ui.add_space(16.0);
        Frame::new()
            .stroke(Stroke::new(2.0, INK))
            .fill(Color32::WHITE)
            .inner_margin(Margin::same(24))
            .show(ui, |ui| {
                ui.label(RichText::new(T::ReceiptTitle.get(lang)).size(28.0).strong());
                egui::Grid::new("receipt")
                    .spacing(Vec2::new(40.0, 14.0))
                    .show(ui, |ui| {
                        ui.label(T::SummaryId.get(lang));
                        ui.label(RichText::new(&r.masked_id).monospace().size(28.0));
                        ui.end_row();
                        ui.label(T::ReceiptTime.get(lang));
                        ui.label(format!("{} JST", r.time));
                        ui.end_row();
                        ui.label(T::ReceiptStatus.get(lang));
                        ui.label(if r.delivered {
                            T::ReceiptDelivered.get(lang)
                        } else {
                            T::ReceiptQueued.get(lang)
                        });
                        ui.end_row();
                    });
            });
        ui.add_space(24.0);
        if primary_button(ui, T::NextApplicant.get(lang), true) {
            k.new_applicant();
        }
    });
}

fn blocked(ui: &mut Ui, lang: Lang, b: crate::kiosk::Block) {
    let r = ui.max_rect();
    ui.painter()
        .rect_filled(r, 0, Color32::from_rgb(0xFF, 0xF4, 0xE5));
    ui.add_space(140.0);
    ui.vertical_centered(|ui| {
        ui.label(RichText::new("⚠").size(96.0).color(BAD));
        ui.label(
            RichText::new(b.title().get(lang))
                .size(40.0)
                .strong()
                .color(BAD),
        );
        ui.add_space(20.0);
        ui.label(RichText::new(b.advice().get(lang)).size(28.0));
    });
}
