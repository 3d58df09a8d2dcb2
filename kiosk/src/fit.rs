//! Fitting the kiosk's design to the screen it is shown on.
//!
//! Every screen is laid out for 1280×800 points (the counter tablets' panel, and the
//! size of the snapshots in `tests/snapshots`). A display that reports a scale of its
//! own (X11's DPI from the panel's physical size, a HiDPI panel) would otherwise make
//! the layout larger than the screen: the booted tablet image showed the on-screen
//! keypad cut off at the right edge at 1.2 pixels per point. The kiosk therefore sets
//! egui's zoom so that the whole design fills the screen, whatever the platform says.

/// The size every screen is designed for, in points.
pub const DESIGN: egui::Vec2 = egui::vec2(1280.0, 800.0);

/// The zoom factor (egui's `zoom_factor`, applied on top of the platform's
/// `native_pixels_per_point`) that makes [`DESIGN`] fill `physical` pixels, keeping its
/// proportions. `None` when the inputs make no sense (an empty or minimised window).
pub fn zoom_to_fit(physical: egui::Vec2, native_pixels_per_point: f32) -> Option<f32> {
    if !(physical.x.is_finite() && physical.y.is_finite()) {
        return None;
    }
    let want = (physical.x / DESIGN.x).min(physical.y / DESIGN.y);
    let zoom = want / native_pixels_per_point;
    (want.is_finite() && zoom.is_finite() && want >= 0.25 && zoom > 0.0).then_some(zoom)
}

/// Applies [`zoom_to_fit`] for the current window (called at the start of each frame;
/// egui applies a changed zoom from the next frame on).
pub fn fit_to_screen(ctx: &egui::Context) {
    let native = ctx.native_pixels_per_point().unwrap_or(1.0);
    let physical = ctx.viewport_rect().size() * ctx.pixels_per_point();
    if let Some(zoom) = zoom_to_fit(physical, native) {
        if (ctx.zoom_factor() - zoom).abs() > 0.001 {
            ctx.set_zoom_factor(zoom);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_fills_the_screen_whatever_the_platform_scale() {
        // The booted image: a 1280×800 panel that X11 reports at 1.2 pixels per point.
        assert_eq!(zoom_to_fit(egui::vec2(1280.0, 800.0), 1.2), Some(1.0 / 1.2));
        // The panel at its native scale: nothing to do.
        assert_eq!(zoom_to_fit(egui::vec2(1280.0, 800.0), 1.0), Some(1.0));
        // A 1920×1200 panel: everything 1.5 times larger, not more room.
        assert_eq!(zoom_to_fit(egui::vec2(1920.0, 1200.0), 1.0), Some(1.5));
        // A 16:9 screen: the narrower side decides; nothing is cut off.
        let z = zoom_to_fit(egui::vec2(1920.0, 1080.0), 1.0).unwrap();
        assert!((z - 1.35).abs() < 1e-6);
        assert!(DESIGN.x * z <= 1920.0 && DESIGN.y * z <= 1080.0);
    }

    #[test]
    fn nonsense_sizes_leave_the_zoom_alone() {
        assert_eq!(zoom_to_fit(egui::vec2(0.0, 0.0), 1.0), None);
        assert_eq!(zoom_to_fit(egui::vec2(1280.0, 800.0), 0.0), None);
        assert_eq!(zoom_to_fit(egui::vec2(f32::NAN, 800.0), 1.0), None);
    }
}
