//! The kiosk's controls: large buttons, field boxes, the on-screen keypad, the step
//! bar, yes/no choices and rule lines.

use egui::{
    Button, Color32, CornerRadius, Frame, Margin, Rect, RichText, Sense, Stroke, StrokeKind, Ui,
    Vec2,
};

use crate::entry::Entry;
use crate::i18n::{Lang, T};
use crate::kiosk::{Kiosk, Screen};

use crate::view::theme::*;
use crate::view::words::{self, Words};

pub(crate) fn big_button(ui: &mut Ui, text: &str, enabled: bool) -> bool {
    let w = Words::new(text, sz(ui, 28.0));
    words::button(ui, w, enabled, Vec2::new(240.0, 80.0), |b| b).clicked()
}

/// A button in the style's button text (the keypad's edit keys, "back").
pub(crate) fn plain_button(ui: &mut Ui, text: &str, min: Vec2) -> bool {
    let w = Words::styled(text);
    words::button(ui, w, true, min, |b| b).clicked()
}

pub(crate) fn primary_button(ui: &mut Ui, text: &str, enabled: bool) -> bool {
    // Disabled: grey, drawn opaque (egui's faded look is too faint for a counter).
    let p = pal(ui);
    let (fill, ink) = if enabled {
        (p.accent, p.on_accent)
    } else {
        p.disabled
    };
    let w = Words::new(text, sz(ui, 28.0)).color(ink);
    ui.scope(|ui| {
        ui.visuals_mut().disabled_alpha = 1.0;
        words::button(ui, w, enabled, Vec2::new(280.0, 80.0), |b| b.fill(fill)).clicked()
    })
    .inner
}

pub(crate) fn heading(ui: &mut Ui, t: &str) {
    words::label(ui, Words::new(t, sz(ui, HEADING)).strong());
}

pub(crate) fn banner(ui: &mut Ui, text: &str, detail: &str, error: bool) {
    let p = pal(ui);
    let (fill, ink) = if error {
        (p.banner.1, p.bad)
    } else {
        (p.banner.0, p.accent)
    };
    let (big, small) = (sz(ui, 22.0), sz(ui, 15.0));
    Frame::new()
        .fill(fill)
        .stroke(Stroke::new(2.0, ink))
        .corner_radius(CornerRadius::same(6))
        .inner_margin(Margin::symmetric(12, 6))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.set_height(ui.available_height());
            ui.label(RichText::new(text).size(big).color(ink).strong());
            if !detail.is_empty() {
                ui.label(RichText::new(detail).size(small).color(p.ink));
            }
        });
}

/// Draws `add` in a slot of exactly `size` (allocated whether it fills it or not), so
/// what follows does not move with what the slot holds.
pub(crate) fn fixed_slot(ui: &mut Ui, size: Vec2, add: impl FnOnce(&mut Ui)) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    // A child that is not allocated in `ui` again (a scope would add its content's
    // height to the slot's).
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(rect)
            .layout(egui::Layout::top_down(egui::Align::Min)),
    );
    child.set_clip_rect(rect.intersect(ui.clip_rect()));
    add(&mut child);
}

/// The end of `text` that fits in `max_w` points, with "…" in front when cut: a field
/// shows what was typed last (the characters being typed), never text past its box.
pub(crate) fn fit_tail(ui: &Ui, text: &str, font: &egui::FontId, max_w: f32) -> String {
    let width = |s: &str| {
        ui.fonts_mut(|f| {
            f.layout_no_wrap(s.to_string(), font.clone(), Color32::WHITE)
                .size()
                .x
        })
    };
    if width(text) <= max_w {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    for start in 1..chars.len() {
        let s: String = std::iter::once('…')
            .chain(chars[start..].iter().copied())
            .collect();
        if width(&s) <= max_w {
            return s;
        }
    }
    "…".to_string()
}

/// A field box under its label, showing `text`, highlighted when it has the keyboard;
/// clicking focuses. The label is painted, and given to the box for accessibility (so
/// a test or a screen reader finds the field by it).
pub(crate) fn field(ui: &mut Ui, label: &str, text: &str, focused: bool, width: f32) -> bool {
    let (all, resp) = ui.allocate_exact_size(Vec2::new(width, MIN_TARGET + 34.0), Sense::click());
    ui.painter().text(
        all.left_top(),
        egui::Align2::LEFT_TOP,
        label,
        egui::FontId::proportional(TEXT),
        pal(ui).ink,
    );
    let r = Rect::from_min_max(all.left_top() + Vec2::new(0.0, 34.0), all.right_bottom());
    field_box(ui, r, focused);
    let font = egui::FontId::proportional(30.0);
    let shown = fit_tail(ui, text, &font, r.width() - 28.0);
    ui.painter().text(
        r.left_center() + Vec2::new(14.0, 0.0),
        egui::Align2::LEFT_CENTER,
        shown,
        font,
        pal(ui).ink,
    );
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, label));
    resp.clicked()
}

/// A staff ID field and a password field (labels, shown texts); tapping one gives it
/// the keyboard.
pub(crate) fn credential_fields(
    ui: &mut Ui,
    labels: [&str; 2],
    texts: [&str; 2],
    focus: &mut crate::kiosk::LoginField,
    width: f32,
) {
    use crate::kiosk::LoginField;
    for (i, which) in [LoginField::StaffId, LoginField::Password]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            ui.add_space(8.0);
        }
        if field(ui, labels[i], texts[i], *focus == which, width) {
            *focus = which;
        }
    }
}

/// A box with a frame, thicker and in the accent colour when it has the keyboard.
pub(crate) fn field_box(ui: &Ui, r: Rect, focused: bool) {
    let p = pal(ui);
    let stroke = if focused {
        Stroke::new(4.0, p.accent)
    } else {
        Stroke::new(p.frame, p.ink)
    };
    ui.painter().rect_filled(r, 6, p.field);
    ui.painter().rect_stroke(r, 6, stroke, StrokeKind::Inside);
}

/// What a keypad key does.
pub(crate) enum KeyPress {
    Char(char),
    /// A symbol key (typed as is, whatever the case key says).
    Symbol(char),
    Backspace,
    Clear,
}

/// An on-screen keypad: digits, plus letters when `letters` (lower case when `lower`).
pub(crate) fn keypad(ui: &mut Ui, lang: Lang, letters: bool, lower: bool) -> Option<KeyPress> {
    keypad_with(ui, lang, letters, true, lower)
}

/// [`keypad`] whose letter keys can be shown but disabled (`letters_enabled`), so a
/// screen can keep one layout for fields that take letters and fields that do not.
pub(crate) fn keypad_with(
    ui: &mut Ui,
    lang: Lang,
    letters: bool,
    letters_enabled: bool,
    lower: bool,
) -> Option<KeyPress> {
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
                    let enabled = letters_enabled || c.is_ascii_digit();
                    if ui
                        .add_enabled(
                            enabled,
                            Button::new(RichText::new(c.to_string()).size(sz(ui, 30.0)))
                                .min_size(key),
                        )
                        .clicked()
                    {
                        out = Some(KeyPress::Char(c));
                    }
                }
            });
        }
        ui.horizontal(|ui| {
            if plain_button(ui, T::Backspace.get(lang), Vec2::new(150.0, 72.0)) {
                out = Some(KeyPress::Backspace);
            }
            if plain_button(ui, T::Clear.get(lang), Vec2::new(150.0, 72.0)) {
                out = Some(KeyPress::Clear);
            }
        });
    });
    out
}

pub(crate) fn apply_key(e: &mut Entry, k: KeyPress) {
    match k {
        KeyPress::Char(c) | KeyPress::Symbol(c) => {
            e.push(c);
        }
        KeyPress::Backspace => e.backspace(),
        KeyPress::Clear => e.clear(),
    }
}

pub(crate) fn steps(ui: &mut Ui, lang: Lang, current: Screen, express: bool) {
    ui.scope(|ui| {
        // Text, not touch targets: a row as high as the text (this scope only).
        ui.spacing_mut().interact_size.y = 30.0;
        ui.horizontal(|ui| step_tags(ui, lang, current, express, Steps::Named));
        ui.add_space(6.0);
    });
}

/// How much of the steps a row shows.
#[derive(Clone, Copy, PartialEq)]
enum Steps {
    /// Every step by its name.
    Named,
    /// The current step by its name, the others by their circled number (the
    /// applicant's screens share the row with the language picker).
    Compact,
    /// The current step alone (large text: the row has room for nothing more).
    Current,
}

/// The steps of an application, the current one on a filled tag.
fn step_tags(ui: &mut Ui, lang: Lang, current: Screen, express: bool, shown: Steps) {
    let compact = shown != Steps::Named;
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
    for (i, (t, on)) in list.into_iter().enumerate() {
        if shown == Steps::Current && !on {
            continue;
        }
        // Where the applicant is: white on a filled tag, not underlined (an underline
        // reads as a link, and the steps are not buttons).
        // Circled digits: a step is not a key of the keypad (nor read as one).
        let text = if compact && !on {
            ['①', '②', '③', '④', '⑤'][i.min(4)].to_string()
        } else {
            t.get(lang).to_string()
        };
        let p = pal(ui);
        let txt = Words::new(&text, sz(ui, 22.0));
        if on {
            Frame::new()
                .fill(p.accent)
                .corner_radius(CornerRadius::same(12))
                .inner_margin(Margin::symmetric(10, 2))
                .show(ui, |ui| words::label(ui, txt.strong().color(p.on_accent)));
        } else {
            words::label(ui, txt.color(p.muted));
        }
        ui.add_space(if compact { 8.0 } else { 16.0 });
    }
}

/// The top row of an applicant's screen: the steps (`with_steps`; the current one
/// named, the others by number), large text and high contrast on or off, and the
/// languages, each in its own name. One tap chooses; the applicant's screens follow at
/// once, the clerk's stay as they were.
pub(crate) fn applicant_header(ui: &mut Ui, k: &mut Kiosk, with_steps: bool) {
    let lang = k.applicant_lang();
    let (screen, express) = (k.screen, is_express(k));
    let mut chosen = None;
    let mut look = false;
    let large = k.applicant.look == crate::kiosk::Look::Large;
    ui.horizontal(|ui| {
        if with_steps {
            let shown = if large {
                Steps::Current
            } else {
                Steps::Compact
            };
            step_tags(ui, lang, screen, express, shown);
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.spacing_mut().item_spacing.x = 6.0;
            for l in Lang::APPLICANT.iter().rev() {
                if choice_button(ui, l.native_name(), *l == lang, MIN_TARGET) {
                    chosen = Some(*l);
                }
            }
            ui.add_space(12.0);
            let mut t = Words::new(T::LargeText.get(lang), sz(ui, 20.0));
            if large {
                t = t.color(pal(ui).chosen).strong();
            }
            // On one line: a short name, and the row has room for it in every
            // language (tested).
            look = words::button(ui, t, true, Vec2::splat(MIN_TARGET), |b| b.selected(large))
                .clicked();
        });
    });
    if let Some(l) = chosen {
        k.choose_applicant_lang(l);
    }
    if look {
        k.toggle_look();
    }
    ui.add_space(6.0);
}

pub(crate) fn is_express(k: &Kiosk) -> bool {
    k.profile() == Some(shinsei_protocol::application::Profile::Express)
}

/// The row under a login keypad: the case key, and the symbols the field accepts
/// (staff IDs: what provisioning accepts, `.`, `_`, `-`; passwords: common symbols
/// and space). The keys both rows have stay in place when the field changes.
pub(crate) fn case_and_symbols(
    ui: &mut Ui,
    upper: &mut bool,
    field: crate::kiosk::LoginField,
) -> Option<KeyPress> {
    let symbols: &[&str] = match field {
        crate::kiosk::LoginField::StaffId => &["-", "_", "."],
        crate::kiosk::LoginField::Password => &["-", "_", ".", "@", "!", "#", "␣"],
    };
    let mut pressed = None;
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing = Vec2::new(6.0, 6.0);
        let case = if *upper { "A→a" } else { "a→A" };
        if ui
            .add(Button::new(case).min_size(Vec2::new(100.0, 68.0)))
            .clicked()
        {
            *upper = !*upper;
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
    pressed
}

/// A choice among several (selected: filled), at least a touch target high.
pub(crate) fn choice_button(ui: &mut Ui, text: &str, selected: bool, width: f32) -> bool {
    let mut t = Words::new(text, sz(ui, 20.0)).wrap();
    if selected {
        t = t.color(pal(ui).chosen).strong();
    }
    words::button(ui, t, true, Vec2::new(width, MIN_TARGET), |b| {
        b.selected(selected)
    })
    .clicked()
}

pub(crate) fn yes_no(ui: &mut Ui, lang: Lang, question: T, value: &mut Option<bool>) {
    let size = sz(ui, 28.0);
    words::label(ui, Words::new(question.get(lang), size).strong());
    ui.horizontal(|ui| {
        for (v, t) in [(true, T::Yes), (false, T::No)] {
            let selected = *value == Some(v);
            let mut text = Words::new(t.get(lang), size);
            if selected {
                text = text.color(pal(ui).chosen).strong();
            }
            let min = Vec2::new(260.0, 84.0);
            if words::button(ui, text, true, min, |b| b.selected(selected)).clicked() {
                *value = Some(v);
            }
        }
    });
    ui.add_space(20.0);
}

pub(crate) fn rules_line(ui: &mut Ui, lang: Lang, rules: &[(T, bool)]) {
    // Text only, not a row of touch targets: rows as high as the text. Each rule is
    // kept whole (a rule that does not fit goes to the next row, it is not broken).
    ui.spacing_mut().interact_size.y = sz(ui, 22.0);
    let (p, size) = (pal(ui), sz(ui, 16.0));
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing = Vec2::new(10.0, 2.0);
        for (t, ok) in rules {
            let (mark, color) = if *ok { ("✔", p.ok) } else { ("・", p.bad) };
            let text = t.get(lang);
            if crate::shaping::needs_shaping(text) {
                // The mark from egui's fonts, the words shaped (the Devanagari font
                // has no ✔).
                ui.scope(|ui| {
                    ui.spacing_mut().item_spacing.x = 4.0;
                    words::label(ui, Words::new(mark, size).color(color).one_line());
                    words::label(ui, Words::new(text, size).color(color).one_line());
                });
            } else {
                let line = format!("{mark} {text}");
                words::label(ui, Words::new(&line, size).color(color).one_line());
            }
        }
    });
}
