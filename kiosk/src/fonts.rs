//! The kiosk's fonts: one file per script, and which comes first for the language on
//! screen.
//!
//! egui picks, for each character, the first font of the family that has it. Japanese
//! (IPA Gothic) comes first by default. A Simplified Chinese screen puts the Chinese
//! font first, so that characters Chinese and Japanese share take their Chinese shapes;
//! a Korean screen puts NanumGothic first (Hangul, and its spaces and digits in the same
//! design); a Vietnamese screen puts DejaVu Sans first, so that a word's letters and tone
//! marks come from one font.
//! egui lays text out without shaping, which these scripts do not need. Devanagari
//! does: Nepali text is shaped and drawn by [`crate::shaping`] from [`DEVANAGARI`],
//! which egui's fonts never get.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use egui::{FontData, FontDefinitions, FontFamily};
use shinsei_agent::error::{AgentError, Result};

use crate::i18n::Lang;

/// Where the Japanese font is looked for (Debian packages `fonts-ipafont-gothic`,
/// `fonts-noto-cjk`), after `SHINSEI_UI_FONT`.
pub const JAPANESE: &[&str] = &[
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
];

/// Simplified Chinese (Debian `fonts-droid-fallback`, 4 MB, or `fonts-noto-cjk`).
pub const CHINESE: &[&str] = &[
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
];

/// Hangul (Debian `fonts-nanum`, or `fonts-noto-cjk`).
pub const KOREAN: &[&str] = &[
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
];

/// Latin with Vietnamese tone marks (Debian `fonts-dejavu-core`).
pub const LATIN: &[&str] = &["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"];

/// Devanagari, for Nepali (Debian `fonts-lohit-deva`, or `fonts-noto-core`): shaped by
/// [`crate::shaping`], not given to egui.
pub const DEVANAGARI: &[&str] = &[
    "/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf",
];

/// Which font leads the proportional family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    Japanese,
    Chinese,
    Korean,
    Latin,
}

impl Lead {
    pub fn of(lang: Lang) -> Self {
        match lang {
            Lang::Zh => Lead::Chinese,
            Lang::Ko => Lead::Korean,
            Lang::Vi => Lead::Latin,
            // Nepali's Devanagari is shaped apart (`shaping`); what egui draws on
            // its screens (digits, "QR", the clerk's bar) is Japanese or Latin.
            Lang::Ja | Lang::En | Lang::Ne => Lead::Japanese,
        }
    }
}

/// The kiosk's fonts, loaded once.
pub struct FontBook {
    base: FontDefinitions,
    /// Devanagari, shaped apart from egui.
    pub devanagari: Arc<crate::shaping::Shaper>,
    /// The Japanese font's file (reported by `setup_context`).
    pub japanese: PathBuf,
}

fn find(env: Option<&str>, candidates: &[&str]) -> Option<PathBuf> {
    env.and_then(std::env::var_os)
        .map(PathBuf::from)
        .into_iter()
        .chain(candidates.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

fn read(path: &Path) -> Result<Arc<FontData>> {
    let bytes = std::fs::read(path).map_err(|e| AgentError::file(path, e))?;
    Ok(Arc::new(FontData::from_owned(bytes)))
}

impl FontBook {
    /// Finds and reads every font; fails naming the package of a missing one (a
    /// language without its font would show empty boxes).
    pub fn load() -> Result<Self> {
        let missing = |what: &str, package: &str, looked: &[&str]| {
            AgentError::Internal(format!(
                "{what}: install {package} (looked in {})",
                looked.join(", ")
            ))
        };
        let japanese = find(Some("SHINSEI_UI_FONT"), JAPANESE).ok_or_else(|| {
            missing(
                "日本語フォントがありません / no Japanese font",
                "fonts-ipafont-gothic or set SHINSEI_UI_FONT",
                JAPANESE,
            )
        })?;
        let chinese = find(None, CHINESE).ok_or_else(|| {
            missing(
                "no font for Simplified Chinese (简体中文)",
                "fonts-droid-fallback",
                CHINESE,
            )
        })?;
        let korean = find(None, KOREAN)
            .ok_or_else(|| missing("no font for Korean (한국어)", "fonts-nanum", KOREAN))?;
        let latin = find(None, LATIN).ok_or_else(|| {
            missing(
                "no font for Vietnamese (Tiếng Việt)",
                "fonts-dejavu-core",
                LATIN,
            )
        })?;
        let deva = find(None, DEVANAGARI)
            .ok_or_else(|| missing("no font for Nepali (नेपाली)", "fonts-lohit-deva", DEVANAGARI))?;
        let devanagari = std::fs::read(&deva)
            .map_err(|e| AgentError::file(&deva, e))
            .and_then(|b| {
                crate::shaping::Shaper::new(b)
                    .map_err(|e| AgentError::Internal(format!("{}: {e}", deva.display())))
            })?;
        let mut base = FontDefinitions::default();
        base.font_data.insert("japanese".into(), read(&japanese)?);
        base.font_data.insert("chinese".into(), read(&chinese)?);
        base.font_data.insert("korean".into(), read(&korean)?);
        base.font_data.insert("latin".into(), read(&latin)?);
        Ok(Self {
            base,
            japanese,
            devanagari: Arc::new(devanagari),
        })
    }

    /// The font definitions for a screen in `lang`: the leading font first, the
    /// others after egui's own, so that no character lacks a glyph.
    pub fn definitions(&self, lang: Lang) -> FontDefinitions {
        let mut d = self.base.clone();
        let lead = match Lead::of(lang) {
            Lead::Japanese => "japanese",
            Lead::Chinese => "chinese",
            Lead::Korean => "korean",
            Lead::Latin => "latin",
        };
        if let Some(p) = d.families.get_mut(&FontFamily::Proportional) {
            p.insert(0, lead.into());
            for f in OURS {
                if f != lead {
                    p.push(f.into());
                }
            }
        }
        if let Some(m) = d.families.get_mut(&FontFamily::Monospace) {
            m.extend(OURS.map(String::from));
        }
        d
    }
}

/// Our fonts' names in the definitions, in their fallback order.
const OURS: [&str; 4] = ["japanese", "chinese", "korean", "latin"];

/// Where the context keeps its [`FontBook`] (set by `setup_context`).
fn key() -> egui::Id {
    egui::Id::new("shinsei-font-book")
}

/// Keeps the book in the context and sets the default (Japanese-first) fonts.
pub fn install(ctx: &egui::Context, book: FontBook) {
    ctx.set_fonts(book.definitions(Lang::Ja));
    ctx.data_mut(|d| d.insert_temp(key(), Arc::new(book)));
}

/// The Devanagari shaper of the context's book.
pub fn shaper(ctx: &egui::Context) -> Option<Arc<crate::shaping::Shaper>> {
    let book: Arc<FontBook> = ctx.data(|d| d.get_temp(key()))?;
    Some(book.devanagari.clone())
}

/// Puts the font of `lang` first when it is not already; returns the lead now in
/// force (`None`: no book in this context).
pub fn follow(ctx: &egui::Context, lang: Lang, current: Option<Lead>) -> Option<Lead> {
    let lead = Lead::of(lang);
    if current == Some(lead) {
        return current;
    }
    let book: Arc<FontBook> = ctx.data(|d| d.get_temp(key()))?;
    ctx.set_fonts(book.definitions(lang));
    ctx.request_repaint();
    Some(lead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_leads_with_its_font() {
        assert_eq!(Lead::of(Lang::Zh), Lead::Chinese);
        assert_eq!(Lead::of(Lang::Vi), Lead::Latin);
        assert_eq!(Lead::of(Lang::Ko), Lead::Korean);
        assert_eq!(Lead::of(Lang::En), Lead::Japanese);
        let Ok(book) = FontBook::load() else {
            panic!("the kiosk's fonts are installed by scripts/test")
        };
        let first = |l| book.definitions(l).families[&FontFamily::Proportional][0].clone();
        assert_eq!(first(Lang::Ja), "japanese");
        assert_eq!(first(Lang::Zh), "chinese");
        assert_eq!(first(Lang::Ko), "korean");
        assert_eq!(first(Lang::Vi), "latin");
        let all = &book.definitions(Lang::Zh).families[&FontFamily::Proportional];
        for f in OURS {
            assert_eq!(all.iter().filter(|x| *x == f).count(), 1, "{f} in {all:?}");
        }
    }
}
