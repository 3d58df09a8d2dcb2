//! The words of the audio guidance (`shinsei_kiosk::guide`): what an applicant who
//! cannot see the screen hears through the headphones, in every applicant language
//! (translated from the Japanese by the developers: to be reviewed by native speakers).
//! Nepali names keys in Devanagari (इन्टर, डट) so that eSpeak NG's Nepali voice says them.
//!
//! Numbers are words here, never digits: a count said after a key press ("digit three
//! of four entered") can then never be confused with, or leak, a typed PIN digit, and a
//! test checks that no text of this module holds a digit at all.

use crate::Lang;

/// Japanese and Chinese numerals (the same characters).
const HAN_DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
const KO_DIGITS: [&str; 10] = ["영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"];
/// Korean native numbers (for "the third", "three left").
const KO_NATIVE: [&str; 27] = [
    "영",
    "한",
    "두",
    "세",
    "네",
    "다섯",
    "여섯",
    "일곱",
    "여덟",
    "아홉",
    "열",
    "열한",
    "열두",
    "열세",
    "열네",
    "열다섯",
    "열여섯",
    "열일곱",
    "열여덟",
    "열아홉",
    "스무",
    "스물한",
    "스물두",
    "스물세",
    "스물네",
    "스물다섯",
    "스물여섯",
];
const VI_WORDS: [&str; 10] = [
    "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
];
/// Nepali numbers, each its own word up to a hundred.
const NE_WORDS: [&str; 27] = [
    "शून्य",
    "एक",
    "दुई",
    "तीन",
    "चार",
    "पाँच",
    "छ",
    "सात",
    "आठ",
    "नौ",
    "दस",
    "एघार",
    "बाह्र",
    "तेह्र",
    "चौध",
    "पन्ध्र",
    "सोह्र",
    "सत्र",
    "अठार",
    "उन्नाइस",
    "बीस",
    "एक्काइस",
    "बाइस",
    "तेइस",
    "चौबीस",
    "पच्चीस",
    "छब्बीस",
];
/// Nepali ordinals: the first, the second, … the sixteenth.
const NE_ORDINALS: [&str; 17] = [
    "",
    "पहिलो",
    "दोस्रो",
    "तेस्रो",
    "चौथो",
    "पाँचौँ",
    "छैटौँ",
    "सातौँ",
    "आठौँ",
    "नवौँ",
    "दसौँ",
    "एघारौँ",
    "बाह्रौँ",
    "तेह्रौँ",
    "चौधौँ",
    "पन्ध्रौँ",
    "सोह्रौँ",
];
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

/// `n` (0–26) in words, as counted in `lang` (Japanese and Chinese numerals, Korean
/// native numbers, Vietnamese, English and Nepali words). Larger numbers are not said.
pub fn number(n: usize, lang: Lang) -> String {
    let n = n.min(26);
    let (tens, ones) = (n / 10, n % 10);
    match lang {
        Lang::Ja | Lang::Zh => {
            let d = HAN_DIGITS;
            match n {
                0..=9 => d[n].to_string(),
                _ => format!(
                    "{}十{}",
                    if tens == 1 { "" } else { d[tens] },
                    if ones == 0 { "" } else { d[ones] }
                ),
            }
        }
        Lang::Ko => KO_NATIVE[n].to_string(),
        Lang::Vi => match n {
            0..=9 => VI_WORDS[n].to_string(),
            10 => "mười".to_string(),
            11..=19 => format!("mười {}", if ones == 5 { "lăm" } else { VI_WORDS[ones] }),
            _ => match ones {
                0 => "hai mươi".to_string(),
                1 => "hai mươi mốt".to_string(),
                5 => "hai mươi lăm".to_string(),
                _ => format!("hai mươi {}", VI_WORDS[ones]),
            },
        },
        Lang::En => EN_WORDS[n].to_string(),
        Lang::Ne => NE_WORDS[n].to_string(),
    }
}

/// The digits of a letter's code said one by one (A = "zero one").
fn code(n: usize, lang: Lang) -> String {
    let d = |i: usize| match lang {
        Lang::Ko => KO_DIGITS[i].to_string(),
        _ => number(i, lang),
    };
    let sep = if matches!(lang, Lang::Ja | Lang::Zh) {
        ""
    } else {
        " "
    };
    format!("{}{sep}{}", d(n / 10), d(n % 10))
}

/// One text in each language: Japanese, English, Chinese, Korean, Vietnamese, Nepali.
fn say(lang: Lang, t: [&str; 6]) -> String {
    let i = match lang {
        Lang::Ja => 0,
        Lang::En => 1,
        Lang::Zh => 2,
        Lang::Ko => 3,
        Lang::Vi => 4,
        Lang::Ne => 5,
    };
    t[i].to_string()
}

/// When the clerk starts the guidance: the keys.
pub fn intro(lang: Lang) -> String {
    say(lang, [
        "音声案内を始めます。操作はテンキーです。決定はエンター、一文字消すのはバックスペース、もう一度聞くのはスラッシュ、音量はプラスとマイナス、前の画面に戻るのはピリオドです。",
        "Audio guidance. Use the number keypad: Enter to confirm, Backspace to delete, slash to hear again, plus and minus for the volume, period to go back.",
        "语音引导开始。请使用数字键盘：确认按回车键，删除按退格键，再听一遍按斜杠键，音量按加号和减号，返回上一个画面按小数点键。",
        "음성 안내를 시작합니다. 숫자 키패드를 사용합니다. 확인은 엔터, 한 글자 지우기는 백스페이스, 다시 듣기는 슬래시, 음량은 플러스와 마이너스, 이전 화면은 마침표입니다.",
        "Bắt đầu hướng dẫn bằng giọng nói. Dùng bàn phím số: Enter để xác nhận, Backspace để xóa, gạch chéo để nghe lại, cộng và trừ để chỉnh âm lượng, dấu chấm để quay lại.",
        "ध्वनि निर्देशन सुरु भयो। अङ्कको किप्याड प्रयोग गर्नुहोस्: पुष्टि गर्न इन्टर, मेटाउन ब्याकस्पेस, फेरि सुन्न स्ल्यास, आवाजका लागि प्लस र माइनस, पछाडि जान डट थिच्नुहोस्।",
    ])
}

/// The two questions of the choices screen (`certificates`: the first).
pub fn question(certificates: bool, lang: Lang) -> String {
    if certificates {
        say(lang, [
            "電子証明書の発行を希望しますか。希望する場合は一、希望しない場合は二を押してください。",
            "Do you want electronic certificates? Press one for yes, two for no.",
            "您是否希望发行电子证书？希望请按一，不希望请按二。",
            "전자증명서 발급을 희망하십니까? 희망하시면 일, 희망하지 않으시면 이를 누르십시오.",
            "Quý vị có muốn cấp chứng thư điện tử không? Bấm một nếu có, hai nếu không.",
            "के तपाईं विद्युतीय प्रमाणपत्र चाहनुहुन्छ? चाहनुहुन्छ भने एक, चाहनुहुन्न भने दुई थिच्नुहोस्।",
        ])
    } else {
        say(
            lang,
            [
                "点字表記を希望しますか。希望する場合は一、希望しない場合は二を押してください。",
                "Do you want a braille label? Press one for yes, two for no.",
                "您是否希望标注盲文？希望请按一，不希望请按二。",
                "점자 표기를 희망하십니까? 희망하시면 일, 희망하지 않으시면 이를 누르십시오.",
                "Quý vị có muốn in chữ nổi không? Bấm một nếu có, hai nếu không.",
                "के तपाईं ब्रेल अंकन चाहनुहुन्छ? चाहनुहुन्छ भने एक, चाहनुहुन्न भने दुई थिच्नुहोस्।",
            ],
        )
    }
}

/// An answer was taken.
pub fn chosen(yes: bool, lang: Lang) -> String {
    if yes {
        say(
            lang,
            [
                "希望する、を選びました。",
                "You chose yes.",
                "您选择了希望。",
                "희망함을 선택했습니다.",
                "Quý vị đã chọn có.",
                "तपाईंले चाहन्छु छान्नुभयो।",
            ],
        )
    } else {
        say(
            lang,
            [
                "希望しない、を選びました。",
                "You chose no.",
                "您选择了不希望。",
                "희망하지 않음을 선택했습니다.",
                "Quý vị đã chọn không.",
                "तपाईंले चाहन्नँ छान्नुभयो।",
            ],
        )
    }
}

/// Every answer of the screen is given.
pub fn go_on(lang: Lang) -> String {
    say(
        lang,
        [
            "エンターで次へ進みます。",
            "Press Enter to go on.",
            "请按回车键继续。",
            "엔터를 누르면 다음으로 넘어갑니다.",
            "Bấm Enter để tiếp tục.",
            "अगाडि बढ्न इन्टर थिच्नुहोस्।",
        ],
    )
}

/// The PIN field `i` (0 signature password, 1 user PIN, 2 resident PIN, 3 card-info
/// PIN) asks for its entry or its confirmation.
pub fn field(i: usize, confirmation: bool, lang: Lang) -> String {
    if confirmation {
        return say(
            lang,
            [
                "確認のため、もう一度同じものを入力し、エンターを押してください。",
                "Once more, the same, to confirm; then press Enter.",
                "为了确认，请再输入一次相同的内容，然后按回车键。",
                "확인을 위해 같은 것을 한 번 더 입력하고 엔터를 누르십시오.",
                "Để xác nhận, nhập lại giống hệt, rồi bấm Enter.",
                "पुष्टिका लागि उही कुरा फेरि प्रविष्ट गरेर इन्टर थिच्नुहोस्।",
            ],
        );
    }
    match i {
        0 => format!(
            "{}{}",
            say(lang, [
                "署名用電子証明書のパスワードです。英大文字と数字をそれぞれ一文字以上含む、六文字から十六文字です。英字を打つにはアスタリスクで英字に切り替え、アルファベットの何番目かを二桁で押します。",
                "Signature certificate password: six to sixteen capital letters and digits, at least one of each. For a letter, press star to switch to letters, then its place in the alphabet as two digits.",
                "签名用电子证书的密码：六到十六位，大写英文字母和数字各至少一个。输入字母时，按星号键切换到字母，再用两位数输入它在字母表中的位置。",
                "서명용 전자증명서 비밀번호입니다. 영문 대문자와 숫자를 각각 한 자 이상 포함한 여섯 자에서 열여섯 자입니다. 영문자는 별표로 영문자로 바꾼 뒤, 알파벳 순서를 두 자리로 누릅니다.",
                "Mật khẩu chứng thư chữ ký: từ sáu đến mười sáu ký tự gồm chữ in hoa và chữ số, mỗi loại ít nhất một. Để nhập chữ cái, bấm dấu sao để chuyển sang chữ cái, rồi bấm vị trí của nó trong bảng chữ cái bằng hai chữ số.",
                "हस्ताक्षर प्रमाणपत्रको पासवर्ड: छदेखि सोह्र वटा ठूला अङ्ग्रेजी अक्षर र अङ्क, दुवै कम्तीमा एक एक। अक्षरका लागि तारा चिह्न थिचेर अक्षरमा जानुहोस्, अनि वर्णमालामा त्यसको स्थान दुई अङ्कमा थिच्नुहोस्।",
            ]),
            match lang {
                Lang::Ja => format!("エーは{}、ゼットは{}です。もう一度アスタリスクで数字に戻ります。終わったらエンターを押してください。", code(1, lang), code(26, lang)),
                Lang::Zh => format!("A是{}，Z是{}。再按星号键回到数字。完成后请按回车键。", code(1, lang), code(26, lang)),
                Lang::Ko => format!(" A는 {}, Z는 {}입니다. 별표를 다시 누르면 숫자로 돌아갑니다. 끝나면 엔터를 누르십시오.", code(1, lang), code(26, lang)),
                Lang::Vi => format!(" A là {}, Z là {}. Bấm dấu sao lần nữa để quay lại chữ số. Xong thì bấm Enter.", code(1, lang), code(26, lang)),
                Lang::En => format!(" A is {}, Z is {}. Star again goes back to digits. Press Enter when done.", code(1, lang), code(26, lang)),
                Lang::Ne => format!(" ए भनेको {}, जेड भनेको {} हो। फेरि तारा चिह्न थिच्दा अङ्कमा फर्किन्छ। सकिएपछि इन्टर थिच्नुहोस्।", code(1, lang), code(26, lang)),
            }
        ),
        1 => say(lang, ["利用者証明用電子証明書の暗証番号です。数字四桁を押してください。", "User certificate PIN: press four digits.", "用户证明用电子证书的密码：请按四位数字。", "이용자증명용 전자증명서 비밀번호입니다. 숫자 네 자리를 누르십시오.", "Mã PIN chứng thư xác thực người dùng: bấm bốn chữ số.", "प्रयोगकर्ता प्रमाणीकरण प्रमाणपत्रको पिन: चार अङ्क थिच्नुहोस्।"]),
        2 => say(lang, ["住民基本台帳用の暗証番号です。数字四桁を押してください。", "Resident registry PIN: press four digits.", "居民基本台账用密码：请按四位数字。", "주민기본대장용 비밀번호입니다. 숫자 네 자리를 누르십시오.", "Mã PIN sổ đăng ký cư trú: bấm bốn chữ số.", "बासिन्दा दर्ताको पिन: चार अङ्क थिच्नुहोस्।"]),
        _ => say(lang, ["券面事項入力補助用の暗証番号です。数字四桁を押してください。", "Card information PIN: press four digits.", "卡面信息输入辅助用密码：请按四位数字。", "카드 기재사항 입력보조용 비밀번호입니다. 숫자 네 자리를 누르십시오.", "Mã PIN hỗ trợ nhập thông tin thẻ: bấm bốn chữ số.", "कार्ड विवरण सहायताको पिन: चार अङ्क थिच्नुहोस्।"]),
    }
}

/// Letters or digits now (the signature password's `*`).
pub fn letters(on: bool, lang: Lang) -> String {
    if on {
        say(
            lang,
            [
                "英字です。二桁で一文字です。",
                "Letters: two digits make one letter.",
                "字母。两位数字为一个字母。",
                "영문자입니다. 두 자리가 한 글자입니다.",
                "Chữ cái: hai chữ số là một chữ cái.",
                "अक्षर: दुई अङ्कले एउटा अक्षर।",
            ],
        )
    } else {
        say(
            lang,
            [
                "数字です。",
                "Digits.",
                "数字。",
                "숫자입니다.",
                "Chữ số.",
                "अङ्क।",
            ],
        )
    }
}

/// The first of a letter's two digits was taken.
pub fn one_more_digit(lang: Lang) -> String {
    say(
        lang,
        [
            "もう一桁。",
            "One more digit.",
            "再按一位。",
            "한 자리 더.",
            "Thêm một chữ số.",
            "अर्को एक अङ्क।",
        ],
    )
}

/// A letter's two digits name no letter (00, 27–99).
pub fn no_letter(lang: Lang) -> String {
    say(
        lang,
        [
            "その番号の英字はありません。もう一度二桁で押してください。",
            "No letter has that number. Press its two digits again.",
            "没有这个编号的字母。请重新按两位数字。",
            "그 번호의 영문자는 없습니다. 두 자리를 다시 누르십시오.",
            "Không có chữ cái nào mang số đó. Bấm lại hai chữ số.",
            "त्यो नम्बरको कुनै अक्षर छैन। दुई अङ्क फेरि थिच्नुहोस्।",
        ],
    )
}

/// A character was typed: the field now holds `count` (of `of` for a 4-digit PIN).
/// Never the character itself.
pub fn typed(count: usize, of: Option<usize>, lang: Lang) -> String {
    let n = number(count, lang);
    match (of.map(|o| number(o, lang)), lang) {
        (Some(of), Lang::Ja) => format!("{of}桁のうち、{n}桁目を入力しました。"),
        (None, Lang::Ja) => format!("{n}文字目を入力しました。"),
        (Some(of), Lang::Zh) => format!("{of}位中的第{n}位已输入。"),
        (None, Lang::Zh) => format!("第{n}个字符已输入。"),
        (Some(of), Lang::Ko) => format!(
            "{of} 자리 중 {} 번째 자리를 입력했습니다.",
            ko_ordinal(count)
        ),
        (None, Lang::Ko) => format!("{} 번째 글자를 입력했습니다.", ko_ordinal(count)),
        (Some(of), Lang::Vi) => format!("Đã nhập chữ số thứ {} trên {of}.", vi_ordinal(count)),
        (None, Lang::Vi) => format!("Đã nhập ký tự thứ {}.", vi_ordinal(count)),
        (Some(of), Lang::En) => format!("Digit {n} of {of} entered."),
        (None, Lang::En) => format!("Character {n} entered."),
        (Some(of), Lang::Ne) => format!("{of} मध्ये {} अङ्क प्रविष्ट भयो।", ne_ordinal(count)),
        (None, Lang::Ne) => format!("{} अक्षर प्रविष्ट भयो।", ne_ordinal(count)),
    }
}

/// Korean ordinals count natively, the first being 첫 (not 한).
fn ko_ordinal(n: usize) -> String {
    if n == 1 {
        "첫".to_string()
    } else {
        number(n, Lang::Ko)
    }
}

/// Nepali ordinals (no field holds more than sixteen; beyond, the plain number).
fn ne_ordinal(n: usize) -> String {
    NE_ORDINALS
        .get(n)
        .filter(|o| !o.is_empty())
        .map_or_else(|| number(n, Lang::Ne), |o| o.to_string())
}

/// Vietnamese ordinals: thứ nhất, thứ hai, thứ ba, thứ tư, thứ năm …
fn vi_ordinal(n: usize) -> String {
    match n {
        1 => "nhất".to_string(),
        4 => "tư".to_string(),
        _ => number(n, Lang::Vi),
    }
}

/// One character was deleted; `left` remain.
pub fn deleted(left: usize, lang: Lang) -> String {
    let n = number(left, lang);
    match lang {
        Lang::Ja => format!("一文字消しました。残りは{n}文字です。"),
        Lang::Zh => format!("已删除一个。还剩{n}个。"),
        Lang::Ko => format!("한 글자 지웠습니다. {n} 글자 남았습니다."),
        Lang::Vi => format!("Đã xóa một ký tự; còn {n}."),
        Lang::En => format!("Deleted one; {n} left."),
        Lang::Ne => format!("एउटा मेटाइयो; {n} बाँकी।"),
    }
}

/// The field takes no more characters (or refused the key).
pub fn refused(lang: Lang) -> String {
    say(
        lang,
        [
            "ここでは入力できません。",
            "That key cannot be typed here.",
            "这里不能输入。",
            "여기에서는 입력할 수 없습니다.",
            "Không nhập được phím đó ở đây.",
            "त्यो कुञ्जी यहाँ प्रविष्ट गर्न मिल्दैन।",
        ],
    )
}

/// The confirmation differs: both are cleared and asked for again.
pub fn mismatch(lang: Lang) -> String {
    say(
        lang,
        [
            "確認の入力が一致しませんでした。最初から入力し直してください。",
            "The two entries differ. Please type it again from the start.",
            "两次输入不一致。请从头重新输入。",
            "확인 입력이 일치하지 않았습니다. 처음부터 다시 입력하십시오.",
            "Hai lần nhập không khớp. Vui lòng nhập lại từ đầu.",
            "दुई प्रविष्टि मिलेनन्। कृपया सुरुदेखि फेरि प्रविष्ट गर्नुहोस्।",
        ],
    )
}

/// The signature password does not meet its rules yet.
pub fn rules_unmet(lang: Lang) -> String {
    say(lang, [
        "パスワードは、英字と数字をそれぞれ一文字以上含む、六文字から十六文字です。続けて入力するか、バックスペースで消してください。",
        "The password needs six to sixteen characters with at least one letter and one digit. Type on, or delete with Backspace.",
        "密码需要六到十六位，字母和数字各至少一个。请继续输入，或按退格键删除。",
        "비밀번호는 영문자와 숫자를 각각 한 자 이상 포함한 여섯 자에서 열여섯 자입니다. 계속 입력하거나 백스페이스로 지우십시오.",
        "Mật khẩu cần từ sáu đến mười sáu ký tự, có ít nhất một chữ cái và một chữ số. Nhập tiếp, hoặc xóa bằng Backspace.",
        "पासवर्डमा छदेखि सोह्र वटा वर्ण चाहिन्छ, कम्तीमा एउटा अक्षर र एउटा अङ्क। प्रविष्ट गर्दै जानुहोस्, वा ब्याकस्पेसले मेटाउनुहोस्।",
    ])
}

/// Every PIN asked for is set.
pub fn all_set(lang: Lang) -> String {
    say(
        lang,
        [
            "すべての暗証番号を設定しました。エンターで送信内容の確認へ進みます。",
            "All PINs are set. Press Enter to check before sending.",
            "所有密码已设置。请按回车键确认发送内容。",
            "모든 비밀번호를 설정했습니다. 엔터를 누르면 전송 내용 확인으로 넘어갑니다.",
            "Đã đặt tất cả mã PIN. Bấm Enter để kiểm tra trước khi gửi.",
            "सबै पिन नम्बर राखियो। पठाउनुअघि जाँच गर्न इन्टर थिच्नुहोस्।",
        ],
    )
}

/// The summary, read out before sending.
pub fn summary(certificates: bool, braille: bool, pins: bool, lang: Lang) -> String {
    let yn = |b: bool| {
        say(
            lang,
            if b {
                ["希望する", "yes", "希望", "희망함", "có", "चाहन्छु"]
            } else {
                [
                    "希望しない",
                    "no",
                    "不希望",
                    "희망하지 않음",
                    "không",
                    "चाहन्नँ",
                ]
            },
        )
    };
    let (c, b) = (yn(certificates), yn(braille));
    // "PINs, set." only when the express PINs were asked for.
    let p = |t: &'static str| if pins { t } else { "" };
    match lang {
        Lang::Ja => format!("送信内容の確認です。電子証明書、{c}。点字表記、{b}。{}送信するにはエンター、直すにはピリオドを押してください。", p("暗証番号、設定済み。")),
        Lang::Zh => format!("确认发送内容。电子证书，{c}。盲文标注，{b}。{}发送请按回车键，修改请按小数点键。", p("密码，已设置。")),
        Lang::Ko => format!("전송 내용 확인입니다. 전자증명서, {c}. 점자 표기, {b}. {}전송하려면 엔터, 고치려면 마침표를 누르십시오.", p("비밀번호, 설정됨. ")),
        Lang::Vi => format!("Kiểm tra trước khi gửi: chứng thư điện tử, {c}. Chữ nổi, {b}. {}Bấm Enter để gửi, hoặc dấu chấm để quay lại.", p("Mã PIN, đã đặt. ")),
        Lang::En => format!("Before sending: electronic certificates, {c}. Braille label, {b}. {}Press Enter to send, or period to go back.", p("PINs, set. ")),
        Lang::Ne => format!("पठाउनुअघि जाँच: विद्युतीय प्रमाणपत्र, {c}। ब्रेल अंकन, {b}। {}पठाउन इन्टर, वा पछाडि जान डट थिच्नुहोस्।", p("पिन नम्बर, राखिसकियो। ")),
    }
}

/// Sending; then sent or queued.
pub fn sending(lang: Lang) -> String {
    say(
        lang,
        [
            "暗号化して送信しています。",
            "Encrypting and sending.",
            "正在加密并发送。",
            "암호화하여 전송하고 있습니다.",
            "Đang mã hóa và gửi.",
            "इन्क्रिप्ट गरेर पठाउँदै।",
        ],
    )
}

pub fn done(delivered: bool, lang: Lang) -> String {
    if delivered {
        say(
            lang,
            [
                "送信しました。職員にお知らせください。",
                "Sent. Please tell the staff.",
                "已发送。请告知工作人员。",
                "전송했습니다. 직원에게 알려 주십시오.",
                "Đã gửi. Vui lòng báo cho nhân viên.",
                "पठाइयो। कृपया कर्मचारीलाई भन्नुहोस्।",
            ],
        )
    } else {
        say(lang, [
            "送信待ちに保存しました。接続が戻ると自動で送信します。職員にお知らせください。",
            "Saved to send automatically when the connection is back. Please tell the staff.",
            "已保存为待发送。连接恢复后将自动发送。请告知工作人员。",
            "전송 대기에 저장했습니다. 연결이 복구되면 자동으로 전송합니다. 직원에게 알려 주십시오.",
            "Đã lưu chờ gửi; đơn sẽ tự động được gửi khi có kết nối. Vui lòng báo cho nhân viên.",
            "पठाउन बाँकीमा सुरक्षित गरियो; जडान फर्किएपछि आफैं पठाइनेछ। कृपया कर्मचारीलाई भन्नुहोस्।",
        ])
    }
}

/// The volume changed.
pub fn volume(louder: bool, lang: Lang) -> String {
    if louder {
        say(
            lang,
            [
                "音量を上げました。",
                "Louder.",
                "音量已调大。",
                "소리를 키웠습니다.",
                "To hơn.",
                "आवाज बढाइयो।",
            ],
        )
    } else {
        say(
            lang,
            [
                "音量を下げました。",
                "Softer.",
                "音量已调小。",
                "소리를 줄였습니다.",
                "Nhỏ hơn.",
                "आवाज घटाइयो।",
            ],
        )
    }
}

/// A screen the guidance does not lead (the clerk's part).
pub fn wait_for_staff(lang: Lang) -> String {
    say(
        lang,
        [
            "職員が操作します。お待ちください。",
            "The staff will continue. Please wait.",
            "工作人员将继续操作。请稍候。",
            "직원이 조작합니다. 잠시 기다려 주십시오.",
            "Nhân viên sẽ tiếp tục. Vui lòng chờ.",
            "कर्मचारीले अगाडि बढाउनुहुनेछ। कृपया पर्खनुहोस्।",
        ],
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
        for lang in Lang::APPLICANT {
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
        assert_eq!(number(26, Lang::En), "twenty-six");
        assert_eq!(number(26, Lang::Zh), "二十六");
        assert_eq!(number(15, Lang::Vi), "mười lăm");
        assert_eq!(number(21, Lang::Vi), "hai mươi mốt");
        assert_eq!(number(3, Lang::Ko), "세");
        assert_eq!(code(26, Lang::Ko), "이 육");
        assert_eq!(code(1, Lang::Ja), "零一");
        assert_eq!(
            typed(1, Some(4), Lang::Ko),
            "네 자리 중 첫 번째 자리를 입력했습니다."
        );
        assert_eq!(
            typed(4, Some(4), Lang::Vi),
            "Đã nhập chữ số thứ tư trên bốn."
        );
        assert_eq!(typed(3, Some(4), Lang::En), "Digit three of four entered.");
        assert_eq!(number(19, Lang::Ne), "उन्नाइस");
        assert_eq!(code(26, Lang::Ne), "दुई छ");
        assert_eq!(typed(3, Some(4), Lang::Ne), "चार मध्ये तेस्रो अङ्क प्रविष्ट भयो।");
        assert_eq!(typed(16, None, Lang::Ne), "सोह्रौँ अक्षर प्रविष्ट भयो।");
        assert_eq!(
            typed(3, Some(4), Lang::Ja),
            "四桁のうち、三桁目を入力しました。"
        );
    }
}
