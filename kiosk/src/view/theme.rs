//! The kiosk's look: sizes of text and targets, the palette (contrast tested in
//! `tests/ui.rs`), and the egui style built from them.

use egui::{Color32, Stroke, Vec2};

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
