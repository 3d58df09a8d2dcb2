//! The kiosk's look: sizes of text and targets, the palettes (contrast tested in
//! `tests/ui.rs` on the rendered screens), and the egui styles built from them.
//!
//! Two looks. The standard one, dark on light, for every screen. The large-text,
//! high-contrast one ([`Look::Large`]), which an applicant with low vision chooses on
//! their own screens: every text [`LARGE_SCALE`] times larger, white and yellow on
//! black (the scheme of high-contrast modes of operating systems and accessible
//! ATMs), thicker frames. The clerk's screens and status bar keep the standard look.
//!
//! A screen asks `pal` for its colours and `sz` for its sizes; both read the style
//! of the `Ui` they draw in, so one screen's code serves both looks.

use egui::{Color32, Stroke, Ui, Vec2};

pub use crate::kiosk::Look;

/// Smallest side of any control, points.
pub const MIN_TARGET: f32 = 64.0;
/// Body text size, points.
pub const TEXT: f32 = 24.0;
/// Height of the banner's slot under the status bar, points (reserved whether a
/// banner shows or not).
pub const BANNER_H: f32 = 76.0;
/// Heading size, points.
pub const HEADING: f32 = 34.0;

pub const INK: Color32 = Color32::from_rgb(0x11, 0x11, 0x11);
pub const PAPER: Color32 = Color32::from_rgb(0xFA, 0xFA, 0xF7);
pub const ACCENT: Color32 = Color32::from_rgb(0x00, 0x3D, 0x8F);
pub const OK: Color32 = Color32::from_rgb(0x0B, 0x6B, 0x1F);
pub const BAD: Color32 = Color32::from_rgb(0xA4, 0x00, 0x0F);
pub const BAR: Color32 = Color32::from_rgb(0x1F, 0x2A, 0x44);

/// How much larger every text of the applicant's screens is in [`Look::Large`].
pub const LARGE_SCALE: f32 = 1.3;

/// The colours a screen draws with, one set per [`Look`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Palette {
    /// Text, and the frames of controls.
    pub ink: Color32,
    /// The page.
    pub paper: Color32,
    /// The primary button's fill, a focused field's frame, the current step's tag.
    pub accent: Color32,
    /// Text on [`Palette::accent`].
    pub on_accent: Color32,
    /// A passed check.
    pub ok: Color32,
    /// A failed check, a refusal.
    pub bad: Color32,
    /// Queued rather than delivered.
    pub warn: Color32,
    /// Secondary text (the steps not current, a field's name inside its box).
    pub muted: Color32,
    /// A button's fill.
    pub key: Color32,
    /// A field's and the receipt's fill.
    pub field: Color32,
    /// A disabled primary button: fill, text.
    pub disabled: (Color32, Color32),
    /// A selected choice's text (on [`Palette::accent`]).
    pub chosen: Color32,
    /// The banner: fill of an information, fill of an error.
    pub banner: (Color32, Color32),
    /// Width of a control's frame.
    pub frame: f32,
}

/// The standard look: dark on light.
pub const STANDARD: Palette = Palette {
    ink: INK,
    paper: PAPER,
    accent: ACCENT,
    on_accent: Color32::WHITE,
    ok: OK,
    bad: BAD,
    warn: Color32::from_rgb(0x8A, 0x4B, 0x00),
    muted: Color32::from_gray(70),
    key: Color32::from_rgb(0xE4, 0xE8, 0xF0),
    field: Color32::WHITE,
    disabled: (Color32::from_gray(200), Color32::from_gray(70)),
    chosen: Color32::WHITE,
    banner: (
        Color32::from_rgb(0xE6, 0xF0, 0xFF),
        Color32::from_rgb(0xFD, 0xE7, 0xE9),
    ),
    frame: 2.0,
};

/// The high-contrast look: white text on black, yellow for what is chosen or
/// primary (black text on it), light green and light red for the checks.
pub const HIGH: Palette = Palette {
    ink: Color32::WHITE,
    paper: Color32::BLACK,
    accent: Color32::from_rgb(0xFF, 0xE6, 0x00),
    on_accent: Color32::BLACK,
    ok: Color32::from_rgb(0x6C, 0xF0, 0x8A),
    bad: Color32::from_rgb(0xFF, 0x9E, 0x9E),
    warn: Color32::from_rgb(0xFF, 0xC8, 0x5A),
    muted: Color32::from_gray(0xD8),
    key: Color32::from_gray(0x14),
    field: Color32::BLACK,
    disabled: (Color32::from_gray(0x30), Color32::from_gray(0xC0)),
    chosen: Color32::BLACK,
    banner: (
        Color32::from_gray(0x14),
        Color32::from_rgb(0x3A, 0x00, 0x06),
    ),
    frame: 3.0,
};

impl Look {
    /// This look's colours.
    pub fn palette(self) -> &'static Palette {
        match self {
            Look::Standard => &STANDARD,
            Look::Large => &HIGH,
        }
    }

    /// How much larger than the standard look's its texts are.
    pub fn scale(self) -> f32 {
        match self {
            Look::Standard => 1.0,
            Look::Large => LARGE_SCALE,
        }
    }
}

/// The colours of the look `ui` is drawn in (the high-contrast style is the only
/// dark one).
pub(crate) fn pal(ui: &Ui) -> &'static Palette {
    if ui.visuals().dark_mode {
        &HIGH
    } else {
        &STANDARD
    }
}

/// `points` in the look `ui` is drawn in (larger in [`Look::Large`]).
pub(crate) fn sz(ui: &Ui, points: f32) -> f32 {
    let body = ui
        .style()
        .text_styles
        .get(&egui::TextStyle::Body)
        .map_or(TEXT, |f| f.size);
    points * body / TEXT
}

/// Applies the kiosk's standard look: large text, large targets, high contrast.
pub fn apply_style(ctx: &egui::Context) {
    ctx.all_styles_mut(|s| set_look(s, Look::Standard));
}

/// `base` (the context's style) in `look`.
pub fn style(base: &egui::Style, look: Look) -> egui::Style {
    let mut s = base.clone();
    set_look(&mut s, look);
    s
}

fn set_look(s: &mut egui::Style, look: Look) {
    {
        use egui::{FontFamily, FontId, TextStyle};
        let k = look.scale();
        let p = look.palette();
        s.text_styles = [
            (
                TextStyle::Small,
                FontId::new(18.0 * k, FontFamily::Proportional),
            ),
            (
                TextStyle::Body,
                FontId::new(TEXT * k, FontFamily::Proportional),
            ),
            (
                TextStyle::Button,
                FontId::new(26.0 * k, FontFamily::Proportional),
            ),
            (
                TextStyle::Heading,
                FontId::new(HEADING * k, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(TEXT * k, FontFamily::Monospace),
            ),
        ]
        .into();
        s.spacing.interact_size = Vec2::splat(MIN_TARGET);
        s.spacing.button_padding = Vec2::new(18.0, 12.0);
        s.spacing.item_spacing = Vec2::new(14.0, 14.0);
        let mut v = match look {
            Look::Standard => egui::Visuals::light(),
            Look::Large => egui::Visuals::dark(),
        };
        v.override_text_color = Some(p.ink);
        v.panel_fill = p.paper;
        v.window_fill = p.paper;
        v.widgets.inactive.weak_bg_fill = p.key;
        v.widgets.inactive.bg_stroke = Stroke::new(p.frame, p.ink);
        v.widgets.hovered.bg_stroke = Stroke::new(p.frame + 1.0, p.accent);
        v.widgets.active.bg_stroke = Stroke::new(p.frame + 1.0, p.accent);
        v.widgets.noninteractive.fg_stroke = Stroke::new(1.0, p.ink);
        if look == Look::Large {
            // egui's dark greys are too close to black for this look: every state of
            // a control on the same near-black fill, told apart by its frame.
            v.extreme_bg_color = p.field;
            for w in [
                &mut v.widgets.hovered,
                &mut v.widgets.active,
                &mut v.widgets.open,
            ] {
                w.weak_bg_fill = p.key;
                w.bg_fill = p.key;
            }
            v.widgets.noninteractive.bg_stroke = Stroke::new(1.0, p.muted);
        }
        v.selection.bg_fill = p.accent;
        v.selection.stroke = Stroke::new(2.0, p.on_accent);
        s.visuals = v;
        s.animation_time = 0.0;
    }
}
