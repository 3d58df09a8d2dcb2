//! Audio guidance (issue 22): an applicant who cannot see the screen answers the choices
//! and sets the PINs with a physical number keypad, told what to do through headphones,
//! as at an accessible ATM. The clerk starts it ([`Kiosk::start_guide`]); the audit log
//! records that it was used, nothing else.
//!
//! Part of the kiosk's model and free of I/O: this file maps keys to the model and says
//! what to speak ([`Say`]);
//! `speech` synthesises and plays it. What it never says is a typed character: after
//! each key of a PIN it says how many the field holds, in words ("digit three of four
//! entered"); the words are `shinsei_i18n::guide`, where no text holds a digit.
//!
//! Keys (a USB number keypad; its 5 has a bump to find by touch):
//! - `0`–`9`: answer (1 yes, 2 no) or type;
//! - Enter: confirm, go on; Backspace: delete the last character;
//! - `/`: say it again; `+` / `-`: louder / softer; `.`: back;
//! - `*`: letters or digits, in the signature password (a letter is two digits, its
//!   place in the alphabet: A = 01 … Z = 26; nothing says which letter it was).
//!
//! The guidance speaks the applicant's language (Open JTalk for Japanese, eSpeak NG's
//! voices for the others); the clerk's screens stay as they are.

use zeroize::Zeroizing;

use super::{Kiosk, Screen};
use crate::entry::Kind;
use crate::i18n::guide as g;
use crate::i18n::Lang;

/// A key of the number keypad. No `Debug`: a digit may be a PIN's.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Digit(u8),
    Enter,
    Delete,
    Repeat,
    Louder,
    Softer,
    Letters,
    Back,
}

impl Key {
    /// The key of a character the keypad types (`0`–`9`, `*`, `/`, `+`, `-`, `.`).
    pub fn from_char(c: char) -> Option<Key> {
        Some(match c {
            '0'..='9' => Key::Digit(c as u8 - b'0'),
            '*' => Key::Letters,
            '/' => Key::Repeat,
            '+' => Key::Louder,
            '-' => Key::Softer,
            '.' => Key::Back,
            _ => return None,
        })
    }
}

/// Loudest volume step (1 is the softest).
pub const VOLUME_MAX: u8 = 5;

/// Something to say: the words, their language (Japanese or English) and how loud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say {
    pub text: String,
    pub lang: Lang,
    pub volume: u8,
}

/// The guidance of one applicant. No `Debug`: it may hold a password's digit.
pub struct Guide {
    pub volume: u8,
    /// The signature password's keys type letters (two digits each).
    letters: bool,
    /// The first digit of a letter (a piece of the password: wiped when dropped).
    pending: Option<Zeroizing<u8>>,
    /// The screen the last prompt was about (a change is announced).
    pub(crate) screen: Screen,
}

impl Guide {
    pub fn new(screen: Screen) -> Self {
        Self {
            volume: 3,
            letters: false,
            pending: None,
            screen,
        }
    }

    fn say(&mut self, k: &Kiosk, parts: Vec<String>) -> Say {
        Say {
            text: parts.join(" "),
            lang: k.applicant_lang(),
            volume: self.volume,
        }
    }

    /// What the current screen asks, said when it appears and on "again".
    pub fn prompt_text(&self, k: &Kiosk) -> String {
        let lang = k.applicant_lang();
        let a = &k.applicant;
        match k.screen {
            Screen::Choices => match (a.cert, a.braille) {
                (None, _) => g::question(true, lang),
                (Some(_), None) => g::question(false, lang),
                _ => g::go_on(lang),
            },
            Screen::Pins => {
                if a.pins.all_ok() {
                    g::all_set(lang)
                } else {
                    let f = a.pins.focus;
                    g::field(f / 2, f % 2 == 1, lang)
                }
            }
            Screen::Summary => g::summary(
                a.cert == Some(true),
                a.braille == Some(true),
                k.profile() == Some(shinsei_protocol::application::Profile::Express),
                lang,
            ),
            Screen::Sending => g::sending(lang),
            Screen::Receipt => g::done(a.receipt.as_ref().is_some_and(|r| r.delivered), lang),
            _ => g::wait_for_staff(lang),
        }
    }

    /// The prompt of the screen now showing, remembered as the screen announced.
    pub fn announce(&mut self, k: &Kiosk) -> Say {
        self.screen = k.screen;
        let t = self.prompt_text(k);
        self.say(k, vec![t])
    }

    /// One key: applied to the kiosk, and what to say about it.
    pub fn press(&mut self, k: &mut Kiosk, key: Key) -> Say {
        let lang = k.applicant_lang();
        match key {
            Key::Repeat => {
                let t = self.prompt_text(k);
                return self.say(k, vec![t]);
            }
            Key::Louder | Key::Softer => {
                let louder = key == Key::Louder;
                self.volume = if louder {
                    (self.volume + 1).min(VOLUME_MAX)
                } else {
                    self.volume.saturating_sub(1).max(1)
                };
                return self.say(k, vec![g::volume(louder, lang)]);
            }
            Key::Back => {
                k.back();
                self.letters = false;
                self.pending = None;
                return self.announce(k);
            }
            _ => {}
        }
        match k.screen {
            Screen::Choices => self.choices(k, key),
            Screen::Pins => self.pins(k, key),
            Screen::Summary if key == Key::Enter => {
                k.send(false);
                self.announce(k)
            }
            _ => self.say(k, vec![g::refused(lang), self.prompt_text(k)]),
        }
    }

    fn choices(&mut self, k: &mut Kiosk, key: Key) -> Say {
        let lang = k.applicant_lang();
        match key {
            Key::Digit(d @ (1 | 2)) => {
                let yes = d == 1;
                let a = &mut k.applicant;
                if a.cert.is_none() {
                    a.cert = Some(yes);
                } else if a.braille.is_none() {
                    a.braille = Some(yes);
                } else {
                    return self.say(k, vec![g::refused(lang), g::go_on(lang)]);
                }
                let next = self.prompt_text(k);
                self.say(k, vec![g::chosen(yes, lang), next])
            }
            Key::Enter if k.choices_done() => {
                k.after_choices();
                self.announce(k)
            }
            _ => {
                let t = self.prompt_text(k);
                self.say(k, vec![g::refused(lang), t])
            }
        }
    }

    fn pins(&mut self, k: &mut Kiosk, key: Key) -> Say {
        let lang = k.applicant_lang();
        let focus = k.applicant.pins.focus;
        let (field, confirmation) = (focus / 2, focus % 2 == 1);
        let kind = k.applicant.pins.focused().kind();
        match key {
            Key::Letters if kind == Kind::SignaturePassword => {
                self.letters = !self.letters;
                self.pending = None;
                self.say(k, vec![g::letters(self.letters, lang)])
            }
            Key::Digit(d) if self.letters && kind == Kind::SignaturePassword => {
                let Some(first) = self.pending.take() else {
                    self.pending = Some(Zeroizing::new(d));
                    return self.say(k, vec![g::one_more_digit(lang)]);
                };
                let n = *first * 10 + d;
                if !(1..=26).contains(&n) {
                    return self.say(k, vec![g::no_letter(lang)]);
                }
                self.type_char(k, char::from(b'A' + n - 1))
            }
            Key::Digit(d) => self.type_char(k, char::from(b'0' + d)),
            Key::Delete => {
                self.pending = None;
                let e = k.applicant.pins.focused();
                e.backspace();
                let left = e.len();
                self.say(k, vec![g::deleted(left, lang)])
            }
            Key::Enter => {
                if k.applicant.pins.all_ok() {
                    k.after_pins();
                    self.letters = false;
                    return self.announce(k);
                }
                if kind == Kind::SignaturePassword {
                    return self.finish_signature(k, field, confirmation);
                }
                let t = self.prompt_text(k);
                self.say(k, vec![t])
            }
            _ => {
                let t = self.prompt_text(k);
                self.say(k, vec![g::refused(lang), t])
            }
        }
    }

    /// Types into the focused field and says how many it holds; a full 4-digit
    /// confirmation is checked at once (the form moves the focus on by itself).
    fn type_char(&mut self, k: &mut Kiosk, c: char) -> Say {
        let lang = k.applicant_lang();
        let pins = &mut k.applicant.pins;
        let focus = pins.focus;
        let kind = pins.focused().kind();
        if !pins.push(c) {
            return self.say(k, vec![g::refused(lang)]);
        }
        let (field, confirmation) = (focus / 2, focus % 2 == 1);
        let held = {
            let (a, b) = &pins.fields[field];
            if confirmation {
                b.len()
            } else {
                a.len()
            }
        };
        let mut parts = vec![g::typed(
            held,
            (kind == Kind::Pin4).then_some(Kind::Pin4.max_len()),
            lang,
        )];
        if kind == Kind::Pin4 && held == Kind::Pin4.max_len() {
            if confirmation && pins.mismatch(field) {
                pins.restart(field);
                parts.push(g::mismatch(lang));
            }
            parts.push(self.prompt_text(k));
        }
        self.say(k, parts)
    }

    /// Enter in the signature password: its entry goes on to the confirmation when the
    /// rules hold; the confirmation to the next PIN when it matches.
    fn finish_signature(&mut self, k: &mut Kiosk, field: usize, confirmation: bool) -> Say {
        let lang = k.applicant_lang();
        self.pending = None;
        let pins = &mut k.applicant.pins;
        let mut parts = Vec::new();
        if !confirmation {
            if !pins.fields[field].0.rules().iter().all(|(_, ok)| *ok) {
                return self.say(k, vec![g::rules_unmet(lang)]);
            }
            pins.focus = field * 2 + 1;
        } else if pins.field_ok(field) {
            pins.focus = (field + 1) * 2;
            self.letters = false;
        } else {
            pins.restart(field);
            parts.push(g::mismatch(lang));
        }
        parts.push(self.prompt_text(k));
        self.say(k, parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypad_characters_map_to_keys() {
        assert!(Key::from_char('7') == Some(Key::Digit(7)));
        assert!(Key::from_char('*') == Some(Key::Letters));
        assert!(Key::from_char('/') == Some(Key::Repeat));
        assert!(Key::from_char('+') == Some(Key::Louder));
        assert!(Key::from_char('-') == Some(Key::Softer));
        assert!(Key::from_char('.') == Some(Key::Back));
        assert!(Key::from_char('a').is_none());
    }
}
