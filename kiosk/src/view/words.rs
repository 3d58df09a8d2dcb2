//! Text of the applicant's screens, whatever its script: egui's own text where egui
//! lays the script out right, and for Devanagari (Nepali) a picture of the text shaped
//! by [`crate::shaping`], drawn where egui would have drawn its text.
//!
//! A shaped text is a texture of its coverage, tinted with the text's colour, cached
//! by text, size and wrap width (a screen draws the same texts frame after frame). It
//! is given to AccessKit by its words, like a label or a button of egui's (tests and
//! screen readers find it by them). Nothing is recorded as it is painted: [`painted`]
//! finds the shaped texts among a frame's output shapes (the meshes with a shaped
//! text's texture), for the tests' layout and contrast checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use egui::{Align2, Button, Color32, Pos2, Rect, Response, RichText, Sense, Ui, Vec2};

use crate::shaping::{needs_shaping, Shaper};

/// A text to draw: its words, size in points (the widget's text style when `None`),
/// colour (the style's when `None`).
#[derive(Clone, Copy)]
pub(crate) struct Words<'a> {
    text: &'a str,
    size: Option<f32>,
    color: Option<Color32>,
    strong: bool,
    /// `None`: the widget's own (labels wrap, buttons do not).
    wrap: Option<bool>,
}

impl<'a> Words<'a> {
    pub(crate) fn new(text: &'a str, size: f32) -> Self {
        Self::styled(text).size(size)
    }

    /// In the text style of the widget it is drawn in (body text, button text).
    pub(crate) fn styled(text: &'a str) -> Self {
        Self {
            text,
            size: None,
            color: None,
            strong: false,
            wrap: None,
        }
    }

    pub(crate) fn size(mut self, points: f32) -> Self {
        self.size = Some(points);
        self
    }

    pub(crate) fn color(mut self, c: Color32) -> Self {
        self.color = Some(c);
        self
    }

    pub(crate) fn strong(mut self) -> Self {
        self.strong = true;
        self
    }

    /// On one line, however long.
    pub(crate) fn one_line(mut self) -> Self {
        self.wrap = Some(false);
        self
    }

    /// Broken into lines where it does not fit (egui's text; a shaped button stays
    /// on one line).
    pub(crate) fn wrap(mut self) -> Self {
        self.wrap = Some(true);
        self
    }

    fn rich(&self) -> RichText {
        let mut r = RichText::new(self.text);
        if let Some(size) = self.size {
            r = r.size(size);
        }
        if let Some(c) = self.color {
            r = r.color(c);
        }
        if self.strong {
            r = r.strong();
        }
        r
    }

    fn shaped(&self) -> bool {
        needs_shaping(self.text)
    }
}

/// A shaped text as painted in a frame ([`painted`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ShapedText {
    pub text: String,
    /// Where its ink is.
    pub rect: Rect,
    /// The clip rect it was painted in.
    pub clip: Rect,
    pub color: Color32,
    /// Size in points.
    pub size: f32,
    pub lines: usize,
    /// Characters on its last line (spaces aside).
    pub last_line_chars: usize,
    /// Characters the font has no glyph for.
    pub missing: Vec<char>,
}

/// One shaped text, ready to paint.
#[derive(Clone)]
struct Picture {
    texture: egui::TextureHandle,
    text: String,
    /// Its size, points.
    points: f32,
    /// The text's box (advance × lines), points.
    size: Vec2,
    /// Where the ink's top-left lies from the box's, and its size, points.
    ink: Rect,
    lines: usize,
    last_line_chars: usize,
    missing: Vec<char>,
}

#[derive(Default)]
struct State {
    cache: HashMap<(String, u32, u32), Picture>,
}

type Shared = Arc<Mutex<State>>;

fn state(ctx: &egui::Context) -> Shared {
    ctx.data_mut(|d| {
        d.get_temp_mut_or_default::<Shared>(egui::Id::new("shinsei-shaped-words"))
            .clone()
    })
}

/// The shaped texts among a frame's output `shapes`: each mesh textured with a shaped
/// text, where it was painted, its clip rect and its tint (the text's colour).
pub fn painted(ctx: &egui::Context, shapes: &[egui::epaint::ClippedShape]) -> Vec<ShapedText> {
    fn walk(
        shape: &egui::Shape,
        clip: Rect,
        pictures: &HashMap<egui::TextureId, Picture>,
        out: &mut Vec<ShapedText>,
    ) {
        match shape {
            egui::Shape::Vec(v) => v.iter().for_each(|s| walk(s, clip, pictures, out)),
            egui::Shape::Mesh(m) => {
                if let (Some(p), Some(v)) = (pictures.get(&m.texture_id), m.vertices.first()) {
                    out.push(ShapedText {
                        text: p.text.clone(),
                        rect: m.calc_bounds(),
                        clip,
                        color: v.color,
                        size: p.points,
                        lines: p.lines,
                        last_line_chars: p.last_line_chars,
                        missing: p.missing.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    let Ok(s) = state(ctx).lock().map(|s| {
        s.cache
            .values()
            .map(|p| (p.texture.id(), p.clone()))
            .collect::<HashMap<_, _>>()
    }) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in shapes {
        walk(&c.shape, c.clip_rect, &s, &mut out);
    }
    out
}

/// The size of `w` in points: its own, or that of the text style `style`.
fn points(ui: &Ui, w: &Words<'_>, style: egui::TextStyle) -> f32 {
    w.size.unwrap_or_else(|| {
        ui.style()
            .text_styles
            .get(&style)
            .map_or(crate::view::theme::TEXT, |f| f.size)
    })
}

/// The picture of `w` at `size` points, at most `max_width` points wide (`None`: one
/// line).
fn picture(ui: &Ui, w: &Words<'_>, size: f32, max_width: Option<f32>) -> Option<Picture> {
    let shaper: Arc<Shaper> = crate::fonts::shaper(ui.ctx())?;
    let ppp = ui.ctx().pixels_per_point();
    let px = size * ppp;
    let max_px = max_width.map(|m| (m * ppp).max(1.0));
    let key = (
        w.text.to_string(),
        px.to_bits(),
        max_px.map_or(0, |m| m.round() as u32),
    );
    let shared = state(ui.ctx());
    let mut s = shared.lock().ok()?;
    if let Some(p) = s.cache.get(&key) {
        return Some(p.clone());
    }
    let block = shaper.block(w.text, px, max_px);
    let mask = shaper.render(&block, px);
    let image = egui::ColorImage::new(
        [mask.width.max(1), mask.height.max(1)],
        if mask.coverage.is_empty() {
            vec![Color32::TRANSPARENT]
        } else {
            mask.coverage
                .iter()
                .map(|&c| Color32::from_white_alpha(c))
                .collect()
        },
    );
    let texture = ui.ctx().load_texture(
        format!("shaped:{}", w.text),
        image,
        egui::TextureOptions::LINEAR,
    );
    let last = block
        .lines
        .last()
        .map_or(0, |l| l.text.chars().filter(|c| !c.is_whitespace()).count());
    let picture = Picture {
        texture,
        text: w.text.to_string(),
        points: size,
        size: Vec2::new(block.width(), block.height()) / ppp,
        ink: Rect::from_min_size(
            Pos2::new(mask.offset.0, mask.offset.1) / ppp,
            Vec2::new(mask.width as f32, mask.height as f32) / ppp,
        ),
        lines: block.lines.len(),
        last_line_chars: last,
        missing: shaper.missing(w.text),
    };
    // A screen has a few dozen texts; a full cache is a language or size switched
    // many times over, so it starts again.
    if s.cache.len() > 512 {
        s.cache.clear();
    }
    s.cache.insert(key, picture.clone());
    Some(picture)
}

/// Paints `p` with its box's top-left at `at`.
fn paint(ui: &Ui, p: &Picture, at: Pos2, color: Color32) {
    let ink = p.ink.translate(at.to_vec2());
    ui.painter().image(
        p.texture.id(),
        ink,
        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
        color,
    );
}

fn text_color(ui: &Ui, w: &Words<'_>) -> Color32 {
    w.color.unwrap_or_else(|| ui.visuals().text_color())
}

/// A label.
pub(crate) fn label(ui: &mut Ui, w: Words<'_>) -> Response {
    if !w.shaped() {
        let mut l = egui::Label::new(w.rich());
        if w.wrap == Some(false) {
            l = l.wrap_mode(egui::TextWrapMode::Extend);
        }
        return ui.add(l);
    }
    // As egui's labels: wrapped where the layout wraps (not in a grid's cell or a row).
    let wraps = w.wrap.unwrap_or(ui.wrap_mode() == egui::TextWrapMode::Wrap);
    let max = wraps.then(|| ui.available_width());
    let size = points(ui, &w, egui::TextStyle::Body);
    let Some(p) = picture(ui, &w, size, max) else {
        return ui.label(w.rich());
    };
    let (rect, resp) = ui.allocate_exact_size(p.size, Sense::hover());
    paint(ui, &p, rect.min, text_color(ui, &w));
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, w.text));
    resp
}

/// Text painted at `pos`, aligned to it by `align` (one line), outside any layout.
pub(crate) fn paint_at(ui: &Ui, pos: Pos2, align: Align2, w: Words<'_>) {
    let color = text_color(ui, &w);
    let size = points(ui, &w, egui::TextStyle::Body);
    if !w.shaped() {
        let font = egui::FontId::proportional(size);
        ui.painter().text(pos, align, w.text, font, color);
        return;
    }
    if let Some(p) = picture(ui, &w, size, None) {
        let at = align.anchor_size(pos, p.size).min;
        paint(ui, &p, at, color);
    }
}

/// A button showing `w`, at least `min` large, styled by `style` (fill, selection).
/// Shaped words are painted over a button of their size, which AccessKit names by
/// them.
pub(crate) fn button(
    ui: &mut Ui,
    w: Words<'_>,
    enabled: bool,
    min: Vec2,
    style: impl FnOnce(Button<'static>) -> Button<'static>,
) -> Response {
    if !w.shaped() {
        let mut b = Button::new(w.rich()).min_size(min);
        if w.wrap == Some(true) {
            b = b.wrap_mode(egui::TextWrapMode::Wrap);
        }
        return ui.add_enabled(enabled, style(b));
    }
    let size = points(ui, &w, egui::TextStyle::Button);
    let Some(p) = picture(ui, &w, size, None) else {
        return ui.add_enabled(enabled, style(Button::new(w.rich()).min_size(min)));
    };
    let pad = ui.spacing().button_padding;
    let b = style(Button::new("").min_size(min.max(p.size + 2.0 * pad)));
    let resp = ui.add_enabled(enabled, b);
    let mut color = text_color(ui, &w);
    if !enabled {
        color = color.gamma_multiply(ui.visuals().disabled_alpha);
    }
    let at = Align2::CENTER_CENTER
        .anchor_size(resp.rect.center(), p.size)
        .min;
    paint(ui, &p, at, color);
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Button, enabled, w.text));
    resp
}
