//! Keypad entry fields: the staff password, the express-issuance PINs and the typed
//! application ID. Pure logic (no egui): what a key press does, what the rules say.
//!
//! Secrets (passwords and PINs) live only in [`LockedBuf`]s (locked pages, cleared on
//! drop, no `Debug`/`Clone`); they are never turned into a `String`, never echoed (the
//! screen shows one dot per character) and compared in constant time.

use shinsei_protocol::application::{ApplicationId, APPLICATION_ID_LEN};
use shinsei_protocol::ct;
use shinsei_protocol::pins::{
    ExpressPins, PinError, PIN_LEN, SIGNATURE_PASSWORD_MAX, SIGNATURE_PASSWORD_MIN,
};

use crate::i18n::T;
use shinsei_agent::memguard::LockedBuf;

/// What a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Staff password: printable ASCII and space, up to 128 characters.
    StaffPassword,
    /// Signature password: A–Z (lower case folded) and 0–9, up to 16.
    SignaturePassword,
    /// A 4-digit PIN.
    Pin4,
    /// The 23 digits of an application ID (not secret; shown as typed).
    ApplicationId,
}

impl Kind {
    pub fn max_len(self) -> usize {
        match self {
            Kind::StaffPassword => 128,
            Kind::SignaturePassword => SIGNATURE_PASSWORD_MAX,
            Kind::Pin4 => PIN_LEN,
            Kind::ApplicationId => APPLICATION_ID_LEN,
        }
    }

    /// The byte stored for a typed character, or `None` if the field refuses it.
    pub fn accept(self, c: char) -> Option<u8> {
        if !c.is_ascii() {
            return None;
        }
        let b = c as u8;
        match self {
            Kind::StaffPassword => (b == b' ' || b.is_ascii_graphic()).then_some(b),
            Kind::SignaturePassword => {
                let u = b.to_ascii_uppercase();
                (u.is_ascii_uppercase() || u.is_ascii_digit()).then_some(u)
            }
            Kind::Pin4 | Kind::ApplicationId => b.is_ascii_digit().then_some(b),
        }
    }

    pub fn is_secret(self) -> bool {
        !matches!(self, Kind::ApplicationId)
    }
}

/// One field typed on the keypad (or a hardware keyboard).
pub struct Entry {
    kind: Kind,
    buf: LockedBuf,
}

impl Entry {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            buf: LockedBuf::new(kind.max_len()),
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Types one character; `false` when refused (wrong class, or full).
    pub fn push(&mut self, c: char) -> bool {
        if self.buf.len() >= self.kind.max_len() {
            return false;
        }
        match self.kind.accept(c) {
            Some(b) => self.buf.push(b).is_ok(),
            None => false,
        }
    }

    pub fn backspace(&mut self) {
        let n = self.buf.len();
        if n > 0 {
            self.buf.truncate(n - 1);
        }
    }

    pub fn clear(&mut self) {
        self.buf.truncate(0);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.buf.len() >= self.kind.max_len()
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_slice()
    }

    /// The locked buffer itself (to hand a password to the worker thread).
    pub fn into_buf(self) -> LockedBuf {
        self.buf
    }

    /// What the screen shows: dots for a secret, the digits (grouped by 4) otherwise.
    pub fn display(&self) -> String {
        if self.kind.is_secret() {
            "●".repeat(self.len())
        } else {
            let mut s = String::new();
            for (i, b) in self.as_bytes().iter().enumerate() {
                if i > 0 && i.is_multiple_of(4) {
                    s.push(' ');
                }
                s.push(char::from(*b));
            }
            s
        }
    }

    /// Constant-time equality of two fields' contents.
    pub fn same_as(&self, other: &Entry) -> bool {
        ct::eq(self.as_bytes(), other.as_bytes())
    }

    /// The rules of this field and whether the text typed so far meets each.
    pub fn rules(&self) -> Vec<(T, bool)> {
        let b = self.as_bytes();
        match self.kind {
            Kind::SignaturePassword => vec![
                (
                    T::RuleLength6to16,
                    (SIGNATURE_PASSWORD_MIN..=SIGNATURE_PASSWORD_MAX).contains(&b.len()),
                ),
                (T::RuleLetter, b.iter().any(u8::is_ascii_uppercase)),
                (T::RuleDigit, b.iter().any(u8::is_ascii_digit)),
            ],
            Kind::Pin4 => vec![(T::Rule4Digits, b.len() == PIN_LEN)],
            Kind::StaffPassword | Kind::ApplicationId => Vec::new(),
        }
    }

    /// The application ID, once 23 valid digits are typed (same validation as a QR code).
    pub fn application_id(&self) -> Option<ApplicationId> {
        if self.kind != Kind::ApplicationId {
            return None;
        }
        ApplicationId::parse(self.as_bytes()).ok()
    }
}

/// The express-issuance secrets, each typed twice: all four with e-certificates; the
/// resident-registry and card-info PINs only without (the first two fields are then
/// neither shown nor sent).
pub struct PinForm {
    /// (entry, confirmation) per field, in the order of [`PinForm::LABELS`].
    pub fields: [(Entry, Entry); 4],
    /// Which field has the keypad: index * 2 (+1 for the confirmation).
    pub focus: usize,
    /// The applicant wants the e-certificates (their two secrets are asked for).
    certificates: bool,
}

impl Default for PinForm {
    fn default() -> Self {
        Self::new()
    }
}

impl PinForm {
    pub const LABELS: [T; 4] = [T::PinSignature, T::PinUser, T::PinResident, T::PinCardInfo];

    pub fn new() -> Self {
        let pair = |k| (Entry::new(k), Entry::new(k));
        Self {
            fields: [
                pair(Kind::SignaturePassword),
                pair(Kind::Pin4),
                pair(Kind::Pin4),
                pair(Kind::Pin4),
            ],
            focus: 0,
            certificates: true,
        }
    }

    /// Asks for the e-certificates' two secrets or not (the applicant's wish); the
    /// keypad goes to the first field asked for.
    pub fn set_certificates(&mut self, wanted: bool) {
        if self.certificates != wanted {
            self.clear();
        }
        self.certificates = wanted;
        self.focus = self.visible().start * 2;
    }

    /// The fields asked for (indices into [`PinForm::fields`]).
    pub fn visible(&self) -> std::ops::Range<usize> {
        if self.certificates {
            0..4
        } else {
            2..4
        }
    }

    /// A confirmation was typed and differs from its entry.
    pub fn mismatch(&self, i: usize) -> bool {
        let (a, b) = &self.fields[i];
        !b.is_empty() && !a.same_as(b)
    }

    pub fn focused(&mut self) -> &mut Entry {
        let (a, b) = &mut self.fields[self.focus / 2];
        if self.focus.is_multiple_of(2) {
            a
        } else {
            b
        }
    }

    /// Types a character into the focused field; a full 4-digit field moves the focus on.
    pub fn push(&mut self, c: char) -> bool {
        let ok = self.focused().push(c);
        let e = self.focused();
        if ok && e.kind() == Kind::Pin4 && e.is_full() && self.focus < 7 {
            self.focus += 1;
        }
        ok
    }

    /// Rules of field `i`, plus "confirmation matches" once the confirmation is typed.
    pub fn rules(&self, i: usize) -> Vec<(T, bool)> {
        let (a, b) = &self.fields[i];
        let mut r = a.rules();
        r.push((T::RuleMatch, !b.is_empty() && a.same_as(b)));
        r
    }

    pub fn field_ok(&self, i: usize) -> bool {
        self.rules(i).iter().all(|(_, ok)| *ok)
    }

    pub fn all_ok(&self) -> bool {
        self.visible().all(|i| self.field_ok(i))
    }

    /// The validated PINs (checked again by the protocol's own types): exactly those
    /// asked for.
    pub fn build(&self) -> Result<ExpressPins, PinError> {
        if self.certificates {
            ExpressPins::new(
                self.fields[0].0.as_bytes(),
                self.fields[1].0.as_bytes(),
                self.fields[2].0.as_bytes(),
                self.fields[3].0.as_bytes(),
            )
        } else {
            ExpressPins::without_certificates(
                self.fields[2].0.as_bytes(),
                self.fields[3].0.as_bytes(),
            )
        }
    }

    /// Field `i` typed again from the start: its entry and confirmation cleared, the
    /// keypad on its entry (after a confirmation that differs).
    pub fn restart(&mut self, i: usize) {
        let (a, b) = &mut self.fields[i];
        a.clear();
        b.clear();
        self.focus = i * 2;
    }

    pub fn clear(&mut self) {
        for (a, b) in &mut self.fields {
            a.clear();
            b.clear();
        }
        self.focus = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(kind: Kind, s: &str) -> Entry {
        let mut e = Entry::new(kind);
        for c in s.chars() {
            e.push(c);
        }
        e
    }

    #[test]
    fn fields_accept_only_their_characters() {
        assert_eq!(typed(Kind::Pin4, "12a34").as_bytes(), b"1234");
        assert_eq!(typed(Kind::Pin4, "123456").as_bytes(), b"1234");
        assert_eq!(typed(Kind::SignaturePassword, "ab-c1").as_bytes(), b"ABC1");
        assert_eq!(typed(Kind::SignaturePassword, "あA1").as_bytes(), b"A1");
        assert_eq!(typed(Kind::StaffPassword, "p w\u{7f}!").as_bytes(), b"p w!");
        assert_eq!(typed(Kind::SignaturePassword, &"A1".repeat(10)).len(), 16);
    }

    #[test]
    fn secrets_show_dots_and_ids_show_groups() {
        assert_eq!(typed(Kind::Pin4, "1234").display(), "●●●●");
        assert_eq!(
            typed(Kind::ApplicationId, "123456789").display(),
            "1234 5678 9"
        );
    }

    #[test]
    fn backspace_and_clear() {
        let mut e = typed(Kind::Pin4, "123");
        e.backspace();
        assert_eq!(e.as_bytes(), b"12");
        e.clear();
        assert!(e.is_empty());
        e.backspace();
        assert!(e.is_empty());
    }

    #[test]
    fn signature_rules_as_typed() {
        let state = |s: &str| {
            typed(Kind::SignaturePassword, s)
                .rules()
                .iter()
                .map(|(_, ok)| *ok)
                .collect::<Vec<_>>()
        };
        assert_eq!(state(""), [false, false, false]);
        assert_eq!(state("ABCDEF"), [true, true, false]);
        assert_eq!(state("123456"), [true, false, true]);
        assert_eq!(state("ABC12"), [false, true, true]);
        assert_eq!(state("ABC123"), [true, true, true]);
    }

    #[test]
    fn application_id_needs_23_valid_digits() {
        assert!(typed(Kind::ApplicationId, &"1".repeat(22))
            .application_id()
            .is_none());
        let e = typed(Kind::ApplicationId, "12345678901234567890123");
        assert_eq!(
            e.application_id().map(|i| i.as_str().to_string()),
            Some("12345678901234567890123".to_string())
        );
    }

    #[test]
    fn pin_form_moves_on_and_checks_confirmation() {
        let mut f = PinForm::new();
        for c in "abc123".chars() {
            f.push(c);
        }
        assert!(!f.field_ok(0), "confirmation missing");
        f.focus = 1;
        for c in "ABC124".chars() {
            f.push(c);
        }
        assert!(!f.field_ok(0), "confirmation differs");
        f.focused().backspace();
        f.push('3');
        assert!(f.field_ok(0));
        f.focus = 2;
        for c in "1111222233334444".chars() {
            f.push(c);
        }
        assert_eq!(
            f.focus, 6,
            "each full PIN moves the focus to the next field"
        );
        for c in "4444".chars() {
            f.push(c);
        }
        assert_eq!(f.focus, 7, "on to the card-info confirmation");
        assert!(!f.field_ok(3), "card-info confirmation is still empty");
        // 1111/2222 are user PIN + confirmation: they differ.
        assert!(!f.field_ok(1));
        assert!(!f.all_ok());
        f.clear();
        for (i, s) in [
            "ABC123", "ABC123", "1111", "1111", "2222", "2222", "3333", "3333",
        ]
        .iter()
        .enumerate()
        {
            f.focus = i;
            for c in s.chars() {
                f.focused().push(c);
            }
        }
        assert!(f.all_ok());
        let pins = f.build().expect("valid pins");
        assert_eq!(
            pins.signature_password().map(|p| p.as_bytes()),
            Some(&b"ABC123"[..])
        );
        assert_eq!(pins.card_info().as_bytes(), b"3333");
    }
}
