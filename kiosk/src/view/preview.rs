//! Camera previews and photos on screen: GPU textures replaced frame by frame and
//! released with the screen that shows them.

use egui::{Color32, ColorImage, Pos2, Rect, Sense, TextureHandle, TextureOptions, Ui, Vec2};

use crate::i18n::{Lang, T};
use shinsei_capture::live::vision::Preview;

/// Textures for the camera preview and the review screen.
#[derive(Default)]
pub struct Textures {
    pub(crate) preview: Option<TextureHandle>,
    pub(crate) preview_serial: u64,
    pub(crate) original: Option<TextureHandle>,
    pub(crate) cropped: Option<TextureHandle>,
    pub(crate) review_serial: u64,
}

pub(crate) fn upload(
    ctx: &egui::Context,
    slot: &mut Option<TextureHandle>,
    name: &str,
    p: &Preview,
) {
    let img = ColorImage::from_rgba_unmultiplied([p.width as usize, p.height as usize], &p.rgba);
    match slot {
        Some(t) => t.set(img, TextureOptions::LINEAR),
        None => *slot = Some(ctx.load_texture(name, img, TextureOptions::LINEAR)),
    }
}

/// The head of a camera screen: the steps, and the preview uploaded when a new frame
/// was processed.
pub(crate) fn live_head(
    ui: &mut Ui,
    k: &crate::kiosk::Kiosk,
    tex: &mut Textures,
    p: Option<&Preview>,
) {
    crate::view::widgets::steps(ui, k.lang, k.screen, crate::view::widgets::is_express(k));
    sync_preview(ui.ctx(), tex, k.frame_serial, p);
}

/// Uploads the camera preview when a new frame was processed.
pub(crate) fn sync_preview(
    ctx: &egui::Context,
    tex: &mut Textures,
    serial: u64,
    p: Option<&Preview>,
) {
    if let Some(p) = p {
        if tex.preview_serial != serial {
            upload(ctx, &mut tex.preview, "preview", p);
            tex.preview_serial = serial;
        }
    }
}

/// Draws a preview texture scaled to fit `max`, returns its screen rect and scale.
pub(crate) fn preview_image(ui: &mut Ui, t: &TextureHandle, max: Vec2) -> (Rect, f32) {
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

pub(crate) fn to_screen(r: &shinsei_capture::imgops::Rect, origin: Pos2, s: f32) -> Rect {
    Rect::from_min_size(
        origin + Vec2::new(r.x as f32 * s, r.y as f32 * s),
        Vec2::new(r.w as f32 * s, r.h as f32 * s),
    )
}

pub(crate) fn no_camera(ui: &mut Ui, lang: Lang, size: Vec2) {
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
