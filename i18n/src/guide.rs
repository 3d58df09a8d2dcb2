//! The words of the audio guidance (`shinsei_kiosk::guide`): what an applicant who
//! cannot see the screen hears through the headphones, in Japanese and English (the
//! other applicant languages hear English: their synthesis is not set up yet).
//!
//! Numbers are words here, never digits: a count said after a key press ("digit three
//! of four entered") can then never be confused with, or leak, a typed PIN digit, and a
//! test checks that no text of this module holds a digit at all.

use crate::Lang;

/// The language the guidance speaks for a screen language.
pub fn spoken(lang: Lang) -> Lang {
    match lang {
        Lang::Ja => Lang::Ja,
        _ => Lang::En,
    }
}

const JA_DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
const EN_WORDS: [&str; 27] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "twenty-one",
    "twenty-two",
    "twenty-three",
    "twenty-four",
    "twenty-five",
    "twenty-six",
];

/// `n` (0–26) in words: kanji numerals for Japanese (read by Open JTalk), English
/// words otherwise. Larger numbers are not said by the guidance.
pub fn number(n: usize, lang: Lang) -> String {
    let n = n.min(26);
    match spoken(lang) {
        Lang::Ja => match n {
            0..=9 => JA_DIGITS[n].to_string(),
            10 => "十".to_string(),
            11..=19 => format!("十{}", JA_DIGITS[n - 10]),
            _ => format!(
                "{}十{}",
                JA_DIGITS[n / 10],
                if n.is_multiple_of(10) {
                    ""
                } else {
                    JA_DIGITS[n % 10]
                }
            ),
        },
        _ => EN_WORDS[n].to_string(),
    }
}

fn say(lang: Lang, ja: &str, en: &str) -> String {
    match spoken(lang) {
        Lang::Ja => ja.to_string(),
        _ => en.to_string(),
    }
}

/// When the clerk starts the guidance: the keys.
pub fn intro(lang: Lang) -> String {
    say(
        lang,
        "音声案内を始めます。操作はテンキーです。決定はエンター、一文字消すのはバックスペース、もう一度聞くのはスラッシュ、音量はプラスとマイナス、前の画面に戻るのはピリオドです。",
        "Audio guidance. Use the number keypad: Enter to confirm, Backspace to delete, slash to hear again, plus and minus for the volume, period to go back.",
    )
}

/// The two questions of the choices screen (`certificates`: the first).
pub fn question(certificates: bool, lang: Lang) -> String {
    match (certificates, spoken(lang)) {
        (true, Lang::Ja) => {
            "電子証明書の発行を希望しますか。希望する場合は一、希望しない場合は二を押してください。"
                .into()
        }
        (false, Lang::Ja) => {
            "点字表記を希望しますか。希望する場合は一、希望しない場合は二を押してください。".into()
        }
        (true, _) => "Do you want electronic certificates? Press one for yes, two for no.".into(),
        (false, _) => "Do you want a braille label? Press one for yes, two for no.".into(),
    }
}

/// An answer was taken.
pub fn chosen(yes: bool, lang: Lang) -> String {
    match (yes, spoken(lang)) {
        (true, Lang::Ja) => "希望する、を選びました。".into(),
        (false, Lang::Ja) => "希望しない、を選びました。".into(),
        (true, _) => "You chose yes.".into(),
        (false, _) => "You chose no.".into(),
    }
}

/// Every answer of the screen is given.
pub fn go_on(lang: Lang) -> String {
    say(lang, "エンターで次へ進みます。", "Press Enter to go on.")
}

/// The PIN field `i` (0 signature password, 1 user PIN, 2 resident PIN, 3 card-info
/// PIN) asks for its entry or its confirmation.
pub fn field(i: usize, confirmation: bool, lang: Lang) -> String {
    if confirmation {
        return say(
            lang,
            "確認のため、もう一度同じものを入力し、エンターを押してください。",
            "Once more, the same, to confirm; then press Enter.",
        );
    }
    match (i, spoken(lang)) {
        (0, Lang::Ja) => "署名用電子証明書のパスワードです。英大文字と数字をそれぞれ一文字以上含む、六文字から十六文字です。英字を打つにはアスタリスクで英字に切り替え、アルファベットの何番目かを二桁で押します。エーは零一、ゼットは二六です。もう一度アスタリスクで数字に戻ります。終わったらエンターを押してください。".into(),
        (1, Lang::Ja) => "利用者証明用電子証明書の暗証番号です。数字四桁を押してください。".into(),
        (2, Lang::Ja) => "住民基本台帳用の暗証番号です。数字四桁を押してください。".into(),
        (_, Lang::Ja) => "券面事項入力補助用の暗証番号です。数字四桁を押してください。".into(),
        (0, _) => "Signature certificate password: six to sixteen capital letters and digits, at least one of each. For a letter, press star to switch to letters, then its place in the alphabet as two digits: A is zero one, Z is two six. Star again goes back to digits. Press Enter when done.".into(),
        (1, _) => "User certificate PIN: press four digits.".into(),
        (2, _) => "Resident registry PIN: press four digits.".into(),
        (_, _) => "Card information PIN: press four digits.".into(),
    }
}

/// Letters or digits now (the signature password's `*`).
pub fn letters(on: bool, lang: Lang) -> String {
    match (on, spoken(lang)) {
        (true, Lang::Ja) => "英字です。二桁で一文字です。".into(),
        (false, Lang::Ja) => "数字です。".into(),
        (true, _) => "Letters: two digits make one letter.".into(),
        (false, _) => "Digits.".into(),
    }
}

/// The first of a letter's two digits was taken.
pub fn one_more_digit(lang: Lang) -> String {
    say(lang, "もう一桁。", "One more digit.")
}

/// A letter's two digits name no letter (00, 27–99).
pub fn no_letter(lang: Lang) -> String {
    say(
        lang,
        "その番号の英字はありません。もう一度二桁で押してください。",
        "No letter has that number. Press its two digits again.",
    )
}

/// A character was typed: the field now holds `count` (of `of` for a 4-digit PIN).
/// Never the character itself.
pub fn typed(count: usize, of: Option<usize>, lang: Lang) -> String {
    let n = number(count, lang);
    match (of, spoken(lang)) {
        (Some(of), Lang::Ja) => format!("{}桁のうち、{n}桁目を入力しました。", number(of, lang)),
        (None, Lang::Ja) => format!("{n}文字目を入力しました。"),
        (Some(of), _) => format!("Digit {n} of {} entered.", number(of, lang)),
        (None, _) => format!("Character {n} entered."),
    }
}

/// One character was deleted; `left` remain.
pub fn deleted(left: usize, lang: Lang) -> String {
    let n = number(left, lang);
    match spoken(lang) {
        Lang::Ja => format!("一文字消しました。残りは{n}文字です。"),
        _ => format!("Deleted one; {n} left."),
    }
}

/// The field takes no more characters (or refused the key).
pub fn refused(lang: Lang) -> String {
    say(
        lang,
        "ここでは入力できません。",
        "That key cannot be typed here.",
    )
}

/// The confirmation differs: both are cleared and asked for again.
pub fn mismatch(lang: Lang) -> String {
    say(
        lang,
        "確認の入力が一致しませんでした。最初から入力し直してください。",
        "The two entries differ. Please type it again from the start.",
    )
}

/// The signature password does not meet its rules yet.
pub fn rules_unmet(lang: Lang) -> String {
    say(
        lang,
        "パスワードは、英字と数字をそれぞれ一文字以上含む、六文字から十六文字です。続けて入力するか、バックスペースで消してください。",
        "The password needs six to sixteen characters with at least one letter and one digit. Type on, or delete with Backspace.",
    )
}

/// Every PIN asked for is set.
pub fn all_set(lang: Lang) -> String {
    say(
        lang,
        "すべての暗証番号を設定しました。エンターで送信内容の確認へ進みます。",
        "All PINs are set. Press Enter to check before sending.",
    )
}

/// The summary, read out before sending.
pub fn summary(certificates: bool, braille: bool, pins: bool, lang: Lang) -> String {
    let yn = |b: bool| match (b, spoken(lang)) {
        (true, Lang::Ja) => "希望する",
        (false, Lang::Ja) => "希望しない",
        (true, _) => "yes",
        (false, _) => "no",
    };
    match spoken(lang) {
        Lang::Ja => format!(
            "送信内容の確認です。電子証明書、{}。点字表記、{}。{}送信するにはエンター、直すにはピリオドを押してください。",
            yn(certificates),
            yn(braille),
            if pins { "暗証番号、設定済み。" } else { "" }
        ),
        _ => format!(
            "Before sending: electronic certificates, {}. Braille label, {}. {}Press Enter to send, or period to go back.",
            yn(certificates),
            yn(braille),
            if pins { "PINs, set. " } else { "" }
        ),
    }
}

/// Sending; then sent or queued.
pub fn sending(lang: Lang) -> String {
    say(
        lang,
        "暗号化して送信しています。",
        "Encrypting and sending.",
    )
}

pub fn done(delivered: bool, lang: Lang) -> String {
    match (delivered, spoken(lang)) {
        (true, Lang::Ja) => "送信しました。職員にお知らせください。".into(),
        (false, Lang::Ja) => {
            "送信待ちに保存しました。接続が戻ると自動で送信します。職員にお知らせください。".into()
        }
        (true, _) => "Sent. Please tell the staff.".into(),
        (false, _) => {
            "Saved to send automatically when the connection is back. Please tell the staff.".into()
        }
    }
}

/// The volume changed.
pub fn volume(louder: bool, lang: Lang) -> String {
    match (louder, spoken(lang)) {
        (true, Lang::Ja) => "音量を上げました。".into(),
        (false, Lang::Ja) => "音量を下げました。".into(),
        (true, _) => "Louder.".into(),
        (false, _) => "Softer.".into(),
    }
}

/// A screen the guidance does not lead (the clerk's part).
pub fn wait_for_staff(lang: Lang) -> String {
    say(
        lang,
        "職員が操作します。お待ちください。",
        "The staff will continue. Please wait.",
    )
}

/// Every text of this module with sample parameters (for the no-digit test and the
/// synthesis test).
pub fn all_samples(lang: Lang) -> Vec<String> {
    let mut v = vec![
        intro(lang),
        question(true, lang),
        question(false, lang),
        chosen(true, lang),
        chosen(false, lang),
        go_on(lang),
        letters(true, lang),
        letters(false, lang),
        one_more_digit(lang),
        no_letter(lang),
        deleted(3, lang),
        refused(lang),
        mismatch(lang),
        rules_unmet(lang),
        all_set(lang),
        summary(true, false, true, lang),
        sending(lang),
        done(true, lang),
        done(false, lang),
        volume(true, lang),
        volume(false, lang),
        wait_for_staff(lang),
    ];
    for i in 0..4 {
        v.push(field(i, false, lang));
    }
    v.push(field(1, true, lang));
    for n in 1..=16 {
        v.push(typed(n, None, lang));
    }
    for n in 1..=4 {
        v.push(typed(n, Some(4), lang));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_text_holds_a_digit() {
        for lang in [Lang::Ja, Lang::En] {
            for t in all_samples(lang) {
                assert!(
                    !t.chars()
                        .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c)),
                    "{t}"
                );
                assert!(!t.trim().is_empty());
            }
        }
    }

    #[test]
    fn numbers_in_words() {
        assert_eq!(number(3, Lang::Ja), "三");
        assert_eq!(number(16, Lang::Ja), "十六");
        assert_eq!(number(20, Lang::Ja), "二十");
        assert_eq!(number(26, Lang::Ja), "二十六");
        assert_eq!(number(3, Lang::En), "three");
        assert_eq!(number(26, Lang::Vi), "twenty-six");
        assert_eq!(typed(3, Some(4), Lang::En), "Digit three of four entered.");
        assert_eq!(
            typed(3, Some(4), Lang::Ja),
            "四桁のうち、三桁目を入力しました。"
        );
    }
}
