//! Text that egui cannot lay out: Devanagari, for the Nepali applicant screens.
//!
//! egui places one glyph per character, left to right. Devanagari needs shaping: the
//! short-i sign is written before the consonant it follows in the text (कि), conjuncts
//! join (क्ष), and reph and nukta forms come from the font's OpenType tables. This module
//! shapes with HarfRust (the HarfBuzz port the egui font stack's `read-fonts` belongs
//! to), draws the shaped glyphs' outlines with `skrifa` and fills them with `vello_cpu`,
//! the same two crates egui uses for its own glyphs. What comes out is a coverage mask
//! the view uploads as a texture (`view::words`).
//!
//! I/O-free: a font's bytes in, glyph positions and masks out.

use std::sync::Arc;

use harfrust::{Direction, FontRef, Language, ShaperData, UnicodeBuffer};
use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::MetadataProvider;
use vello_cpu::kurbo;

/// Why a font cannot shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeError {
    /// Not a font `read-fonts` can read.
    NotAFont(String),
    /// The font has no glyph for the script's first letter.
    NoScript,
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShapeError::NotAFont(e) => write!(f, "not a font: {e}"),
            ShapeError::NoScript => f.write_str("the font has no Devanagari letters"),
        }
    }
}

impl std::error::Error for ShapeError {}

/// Whether `text` needs this module (it holds a Devanagari character).
pub fn needs_shaping(text: &str) -> bool {
    text.chars().any(|c| ('\u{0900}'..='\u{097F}').contains(&c))
}

/// A glyph placed on a line: its id in the font and its pen position in pixels (x to
/// the right from the line's start, y down from the baseline).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    pub glyph: u32,
    pub x: f32,
    pub y: f32,
}

/// One shaped line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    pub glyphs: Vec<Placed>,
    /// Advance of the whole line, pixels.
    pub width: f32,
}

/// Lines of text, laid out at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub lines: Vec<Line>,
    /// Baseline of the first line below the block's top, pixels.
    pub ascent: f32,
    /// Distance between baselines, pixels.
    pub line_height: f32,
}

impl Block {
    /// The widest line's advance.
    pub fn width(&self) -> f32 {
        self.lines.iter().map(|l| l.width).fold(0.0, f32::max)
    }

    /// Lines × line height.
    pub fn height(&self) -> f32 {
        self.lines.len() as f32 * self.line_height
    }
}

/// A block's glyphs filled: coverage per pixel (0 to 255), row by row. `offset` is
/// where the mask's top-left lies from the block's top-left (ink may reach beyond the
/// advance, left of the first glyph or below the last line).
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    pub width: usize,
    pub height: usize,
    pub offset: (f32, f32),
    pub coverage: Vec<u8>,
}

/// A font that shapes one script (Devanagari), in one language (Nepali's forms).
pub struct Shaper {
    font: Arc<[u8]>,
    data: ShaperData,
    language: Language,
}

impl Shaper {
    /// Reads `bytes` as a font and checks that it has Devanagari letters.
    pub fn new(bytes: Vec<u8>) -> Result<Self, ShapeError> {
        let font: Arc<[u8]> = bytes.into();
        let data = {
            let f = FontRef::new(&font).map_err(|e| ShapeError::NotAFont(e.to_string()))?;
            if f.charmap().map('क').is_none() {
                return Err(ShapeError::NoScript);
            }
            ShaperData::new(&f)
        };
        let language = "ne"
            .parse()
            .map_err(|e: &str| ShapeError::NotAFont(e.into()))?;
        Ok(Self {
            font,
            data,
            language,
        })
    }

    fn font(&self) -> FontRef<'_> {
        // Parsed once in `new`; the bytes have not changed since.
        FontRef::new(&self.font).unwrap_or_else(|_| unreachable!("checked in Shaper::new"))
    }

    /// The characters of `text` the font has no glyph for (spaces aside).
    pub fn missing(&self, text: &str) -> Vec<char> {
        let map = self.font().charmap();
        let mut out: Vec<char> = text
            .chars()
            .filter(|c| {
                !c.is_whitespace()
                    // Joiners and the like have no glyph of their own by design.
                    && !matches!(c, '\u{200C}' | '\u{200D}')
                    && map.map(*c).is_none()
            })
            .collect();
        out.dedup();
        out
    }

    /// `text` shaped on one line at `px` pixels per em.
    pub fn line(&self, text: &str, px: f32) -> Line {
        let font = self.font();
        let shaper = self.data.shaper(&font).build();
        let mut buf = UnicodeBuffer::new();
        buf.push_str(text);
        buf.set_direction(Direction::LeftToRight);
        buf.set_script(harfrust::script::DEVANAGARI);
        buf.set_language(self.language.clone());
        let out = shaper.shape(buf, &[]);
        let upem = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em
                .max(1),
        );
        let k = px / upem;
        let mut pen = 0.0f32;
        let glyphs = out
            .glyph_infos()
            .iter()
            .zip(out.glyph_positions())
            .map(|(info, pos)| {
                let placed = Placed {
                    glyph: info.glyph_id,
                    x: pen + pos.x_offset as f32 * k,
                    y: -(pos.y_offset as f32) * k,
                };
                pen += pos.x_advance as f32 * k;
                placed
            })
            .collect();
        Line {
            text: text.to_string(),
            glyphs,
            width: pen,
        }
    }

    /// `text` at `px`, broken between words into lines no wider than `max_width` (a
    /// word wider than that gets a line of its own; none when `None`).
    pub fn block(&self, text: &str, px: f32, max_width: Option<f32>) -> Block {
        let m = self.font().metrics(Size::new(px), LocationRef::default());
        let line_height = (m.ascent - m.descent + m.leading).max(px);
        let mut lines = Vec::new();
        match max_width {
            None => lines.push(self.line(text, px)),
            Some(max) => {
                let space = self.line(" ", px).width;
                let mut current = String::new();
                let mut width = 0.0;
                for word in text.split(' ').filter(|w| !w.is_empty()) {
                    let w = self.line(word, px).width;
                    if !current.is_empty() && width + space + w > max {
                        lines.push(self.line(&current, px));
                        current.clear();
                        width = 0.0;
                    }
                    if !current.is_empty() {
                        current.push(' ');
                        width += space;
                    }
                    current.push_str(word);
                    width += w;
                }
                lines.push(self.line(&current, px));
            }
        }
        Block {
            lines,
            ascent: m.ascent,
            line_height,
        }
    }

    /// The block's glyph outlines, filled.
    pub fn render(&self, block: &Block, px: f32) -> Mask {
        let font = self.font();
        let outlines = font.outline_glyphs();
        let mut path = kurbo::BezPath::new();
        for (i, line) in block.lines.iter().enumerate() {
            let baseline = block.ascent + i as f32 * block.line_height;
            for g in &line.glyphs {
                let Some(outline) = outlines.get(skrifa::GlyphId::new(g.glyph)) else {
                    continue;
                };
                let mut pen = Pen {
                    path: &mut path,
                    x: f64::from(g.x),
                    y: f64::from(baseline + g.y),
                };
                // A glyph that cannot be drawn is left out (the test of the screens
                // finds characters without glyphs before that).
                let _ = outline.draw(
                    DrawSettings::unhinted(Size::new(px), LocationRef::default()),
                    &mut pen,
                );
            }
        }
        let bounds = path.control_box();
        if path.elements().is_empty() || bounds.width() <= 0.0 || bounds.height() <= 0.0 {
            return Mask {
                width: 0,
                height: 0,
                offset: (0.0, 0.0),
                coverage: Vec::new(),
            };
        }
        let (x0, y0) = (bounds.x0.floor(), bounds.y0.floor());
        let width = (bounds.x1.ceil() - x0 + 1.0).clamp(1.0, f64::from(u16::MAX)) as u16;
        let height = (bounds.y1.ceil() - y0 + 1.0).clamp(1.0, f64::from(u16::MAX)) as u16;
        let mut ctx = vello_cpu::RenderContext::new(width, height);
        ctx.set_transform(kurbo::Affine::translate((-x0, -y0)));
        ctx.set_paint(vello_cpu::color::OpaqueColor::<vello_cpu::color::Srgb>::WHITE);
        ctx.fill_path(&path);
        let mut pixmap = vello_cpu::Pixmap::new(width, height);
        ctx.render_to_pixmap(&mut pixmap);
        let coverage = pixmap
            .data_as_u8_slice()
            .chunks_exact(4)
            .map(|p| p[3])
            .collect();
        Mask {
            width: usize::from(width),
            height: usize::from(height),
            offset: (x0 as f32, y0 as f32),
            coverage,
        }
    }
}

/// Collects a glyph's outline into one path, at its place (font units are already
/// scaled to pixels by `skrifa`; y is flipped: fonts count up, images down).
struct Pen<'a> {
    path: &'a mut kurbo::BezPath,
    x: f64,
    y: f64,
}

impl Pen<'_> {
    fn at(&self, x: f32, y: f32) -> kurbo::Point {
        kurbo::Point::new(self.x + f64::from(x), self.y - f64::from(y))
    }
}

impl OutlinePen for Pen<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let p = self.at(x, y);
        self.path.move_to(p);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let p = self.at(x, y);
        self.path.line_to(p);
    }

    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        let (c, p) = (self.at(cx0, cy0), self.at(x, y));
        self.path.quad_to(c, p);
    }

    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        let (c0, c1, p) = (self.at(cx0, cy0), self.at(cx1, cy1), self.at(x, y));
        self.path.curve_to(c0, c1, p);
    }

    fn close(&mut self) {
        self.path.close_path();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaper() -> Shaper {
        let path = crate::fonts::DEVANAGARI
            .iter()
            .find(|p| std::path::Path::new(p).is_file())
            .expect("a Devanagari font: apt-get install fonts-lohit-deva");
        Shaper::new(std::fs::read(path).unwrap()).unwrap()
    }

    fn glyph_of(s: &Shaper, c: char) -> u32 {
        s.font().charmap().map(c).unwrap().to_u32()
    }

    /// The short-i sign follows its consonant in the text and comes before it on the
    /// line: what egui's one-glyph-per-character layout gets wrong.
    #[test]
    fn the_short_i_sign_is_drawn_before_its_consonant() {
        let s = shaper();
        let line = s.line("कि", 40.0);
        assert_eq!(line.glyphs.len(), 2);
        assert_eq!(line.glyphs[1].glyph, glyph_of(&s, 'क'), "{line:?}");
        assert_ne!(line.glyphs[0].glyph, glyph_of(&s, 'क'));
        assert!(line.glyphs[0].x < line.glyphs[1].x);
    }

    /// A conjunct is fewer glyphs than its characters (क + ् + ष → क्ष).
    #[test]
    fn a_conjunct_joins() {
        let s = shaper();
        let line = s.line("क्ष", 40.0);
        assert!(line.glyphs.len() < 3, "{line:?}");
        let plain: Vec<u32> = "क्ष".chars().map(|c| glyph_of(&s, c)).collect();
        assert!(
            line.glyphs.iter().all(|g| !plain.contains(&g.glyph)),
            "{line:?}"
        );
    }

    #[test]
    fn lines_break_between_words_and_render_ink() {
        let s = shaper();
        let text = "तपाईंको आवेदन पत्र पठाइयो";
        let one = s.block(text, 30.0, None);
        assert_eq!(one.lines.len(), 1);
        let two = s.block(text, 30.0, Some(one.width() * 0.6));
        assert!(two.lines.len() >= 2, "{two:?}");
        assert!(two.width() <= one.width() * 0.6 + 0.5);
        assert_eq!(
            two.lines
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            text
        );
        let mask = s.render(&two, 30.0);
        assert!(mask.width > 0 && mask.height > 0);
        assert_eq!(mask.coverage.len(), mask.width * mask.height);
        let inked = mask.coverage.iter().filter(|&&c| c > 128).count();
        assert!(
            inked > mask.coverage.len() / 20,
            "{inked} of {}",
            mask.coverage.len()
        );
        assert!(mask.height as f32 > two.line_height);
    }

    #[test]
    fn what_the_font_lacks_is_named_and_bad_fonts_are_refused() {
        let s = shaper();
        assert!(s.missing("नेपाली (PIN) 1234").is_empty());
        assert_eq!(s.missing("नेपाली 漢"), vec!['漢']);
        assert!(matches!(
            Shaper::new(b"not a font".to_vec()),
            Err(ShapeError::NotAFont(_))
        ));
        assert!(needs_shaping("नेपाली") && !needs_shaping("日本語 English"));
    }
}
