//! `shinsei-i18n`: every word a clerk or an applicant reads on the tablet, in Japanese
//! and English: the kiosk's screens and the command line's error lines come from this
//! one table. Japanese is the default; the kiosk can switch the language on every
//! screen and the switch changes nothing else.
//!
//! Texts are keys ([`T`]) so a test can check that every key has both languages and
//! that the two differ; parameterised messages are functions below. The runtime's
//! errors ([`AgentError`]) carry only a technical English `Display` (for logs and the
//! detail line); what a person reads about them is [`error_text`] here, and the
//! command line prints [`cli_line`]. The photo checks' names and refusal reasons are
//! the table of `shinsei_capture::checks` (the crate that defines the checks), read
//! through [`check_name`] and [`check_failure`]. Texts for IT (the provisioning tool,
//! the relay, protocol errors) stay with their error types: IT reads English and
//! Japanese logs, not this table.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod guide;

use shinsei_agent::error::AgentError;

/// The plain name of a passed photo check (the table is `shinsei_capture::checks`).
pub fn check_name(id: shinsei_capture::checks::CheckId, lang: Lang) -> &'static str {
    let t = id.name();
    lang.pick(t.ja, t.en)
}

/// What a failed photo check tells the clerk (the table is `shinsei_capture::checks`).
pub fn check_failure(c: &shinsei_capture::CheckResult, lang: Lang) -> &str {
    match lang {
        Lang::Ja => &c.message_ja,
        _ => &c.message_en,
    }
}

/// A display language. The clerk's screens are in Japanese or English ([`Lang::Ja`],
/// [`Lang::En`]); the applicant's screens (photo review, choices, PINs, summary,
/// receipt) also in Simplified Chinese, Korean, Vietnamese and Nepali
/// ([`Lang::APPLICANT`]).
/// A key without a translation in an applicant language reads in English (the kiosk's
/// tests fail when an applicant screen shows one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
    /// Simplified Chinese (简体中文).
    Zh,
    /// Korean (한국어).
    Ko,
    /// Vietnamese (Tiếng Việt).
    Vi,
    /// Nepali (नेपाली), in Devanagari: the kiosk shapes its text itself (egui cannot).
    Ne,
}

impl Lang {
    /// The languages an applicant can choose, in the order the picker shows them.
    pub const APPLICANT: [Lang; 6] = [Lang::Ja, Lang::En, Lang::Zh, Lang::Ko, Lang::Vi, Lang::Ne];

    /// The clerk's other language (Japanese ⇄ English; an applicant language goes to
    /// Japanese).
    pub fn other(self) -> Self {
        match self {
            Lang::Ja => Lang::En,
            _ => Lang::Ja,
        }
    }

    /// Japanese or English: the language of texts that exist only for the clerk.
    pub fn clerk(self) -> Self {
        match self {
            Lang::Ja => Lang::Ja,
            _ => Lang::En,
        }
    }

    /// The label of the switch button: the *other* language, in that language.
    pub fn switch_label(self) -> &'static str {
        self.other().native_name()
    }

    /// The language's own name, as its speakers write it (the picker shows these, not
    /// flags: a flag is a country, not a language).
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Ja => "日本語",
            Lang::En => "English",
            Lang::Zh => "简体中文",
            Lang::Ko => "한국어",
            Lang::Vi => "Tiếng Việt",
            Lang::Ne => "नेपाली",
        }
    }

    /// The BCP 47 tag (names the kiosk's per-language snapshots and test messages).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
            Lang::Zh => "zh-Hans",
            Lang::Ko => "ko",
            Lang::Vi => "vi",
            Lang::Ne => "ne",
        }
    }

    fn pick(self, ja: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ja => ja,
            _ => en,
        }
    }
}

macro_rules! texts {
    ($($key:ident => $ja:literal, $en:literal;)*) => {
        /// A fixed text of the kiosk.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum T { $($key),* }

        impl T {
            /// Every key (for the completeness test).
            pub const ALL: &'static [T] = &[$(T::$key),*];

            /// The text in `lang`; in an applicant language, a key the applicant's
            /// screens do not use reads in English.
            pub fn get(self, lang: Lang) -> &'static str {
                if let Some(t) = self.applicant(lang) {
                    return t;
                }
                match self { $(T::$key => lang.pick($ja, $en)),* }
            }
        }
    };
}

macro_rules! applicant_texts {
    ($($key:ident => $zh:literal, $ko:literal, $vi:literal, $ne:literal;)*) => {
        impl T {
            /// The keys the applicant's screens use: each has every applicant language.
            pub const APPLICANT: &'static [T] = &[$(T::$key),*];

            fn applicant(self, lang: Lang) -> Option<&'static str> {
                match (self, lang) {
                    $(
                        (T::$key, Lang::Zh) => Some($zh),
                        (T::$key, Lang::Ko) => Some($ko),
                        (T::$key, Lang::Vi) => Some($vi),
                        (T::$key, Lang::Ne) => Some($ne),
                    )*
                    _ => None,
                }
            }
        }
    };
}

texts! {
    Title => "マイナンバーカード申請補助", "My Number card application";
    StaffLogin => "職員ログイン", "Staff login";
    StaffId => "職員ID", "Staff ID";
    Password => "パスワード", "Password";
    LogIn => "ログイン", "Log in";
    LogOut => "ログアウト", "Log out";
    DeviceId => "端末ID", "Device ID";
    OverrideButton => "例外として撮影（管理者の承認）", "Exception (supervisor approves)";
    OverrideTitle => "写真の基準の例外：管理者の承認", "Photo rules exception: supervisor approval";
    OverrideWhy => "理由を選んでください", "Choose the reason";
    ReasonInfant => "乳幼児（保護者が支えている）", "Infant held by a parent";
    ReasonDisability => "障害・病気で姿勢を保てない", "Disability or illness: cannot hold still";
    ReasonHeadCovering => "医療・宗教上の理由の被り物", "Head covering, medical or religious";
    ReasonOther => "その他（管理者の判断）", "Other (supervisor's judgement)";
    OverrideFace => "申請者の顔", "The applicant's face";
    FaceLeft => "左の顔", "Left face";
    FaceRight => "右の顔", "Right face";
    SupervisorId => "承認する職員のID", "Approving staff ID";
    SupervisorPassword => "承認する職員のパスワード", "Approving staff password";
    Approve => "承認して撮影", "Approve and take";
    OverrideApproved => "例外承認", "Exception approved";
    ConfirmDiscard => "入力中の申請があります。破棄してログアウトしますか？", "An application is open. Discard it and log out?";
    DiscardAndLogOut => "申請を破棄してログアウト", "Discard and log out";
    KeepApplication => "申請を続ける", "Keep the application";
    Continue => "続ける", "Continue";
    LoggingIn => "確認しています…", "Checking…";
    AutoLocked => "一定時間操作がなかったためロックしました。もう一度ログインしてください。", "Locked after a period without use. Please log in again.";
    Clear => "消去", "Clear";
    Backspace => "1字削除", "Delete";
    Next => "次へ", "Next";
    Back => "戻る", "Back";
    Cancel => "中止", "Cancel";
    StepScan => "1. 申請書のQRコード", "1. Form QR code";
    StepPhoto => "2. 顔写真", "2. Photo";
    StepChoices => "3. ご希望", "3. Choices";
    StepPins => "4. 暗証番号", "4. PINs";
    StepSend => "送信", "Send";
    ScanHint => "申請書のQRコードをカメラに向けてください。", "Hold the QR code of the application form to the camera.";
    ScanFound => "申請書IDを読み取りました。下4桁を申請書と照合してください。", "Application ID read. Check the last 4 digits against the form.";
    ScanConfirm => "この申請書IDで進む", "Use this application ID";
    Rescan => "読み取り直す", "Scan again";
    ManualEntry => "申請書IDを手で入力", "Type the application ID";
    ManualHint => "申請書IDの数字23桁を入力してください。", "Enter the 23 digits of the application ID.";
    UseCamera => "カメラで読み取る", "Use the camera";
    NoCamera => "カメラの映像がありません", "No camera picture";
    PhotoHint => "枠に顔を合わせ、正面を向いてください。", "Fit the face in the guide and look straight ahead.";
    PhotoChecking => "確認中", "Checking";
    PhotoCountdown => "撮影します", "Taking the photo in";
    TakePhoto => "撮影", "Take photo";
    Retake => "撮り直す", "Retake";
    UsePhoto => "この写真を使う", "Use this photo";
    ReviewTitle => "写真の確認（縦45mm×横35mm）", "Check the photo (45 mm × 35 mm)";
    ReviewOriginal => "撮影した画像", "Captured picture";
    ReviewCropped => "申請用写真", "Application photo";
    CertQuestion => "電子証明書の発行を希望しますか", "Do you want electronic certificates?";
    BrailleQuestion => "点字表記を希望しますか", "Do you want a braille label?";
    Yes => "希望する", "Yes";
    No => "希望しない", "No";
    ExpressNote => "特急発行: 次の画面で暗証番号を設定します。", "Express issuance: the PINs are set on the next screen.";
    PinsTitle => "暗証番号の設定（申請者ご本人が入力してください）", "Set the PINs (the applicant types them)";
    PinSignature => "署名用電子証明書のパスワード（英大文字と数字6〜16文字）", "Signature certificate password (6–16 letters A–Z and digits)";
    PinUser => "利用者証明用電子証明書の暗証番号（数字4桁）", "User-certificate PIN (4 digits)";
    PinResident => "住民基本台帳用の暗証番号（数字4桁）", "Resident-registry PIN (4 digits)";
    PinCardInfo => "券面事項入力補助用の暗証番号（数字4桁）", "Card-info PIN (4 digits)";
    PinEnter => "入力", "Enter";
    PinConfirm => "確認のためもう一度", "Once more to confirm";
    RuleLength6to16 => "6〜16文字", "6–16 characters";
    RuleLetter => "英字を1文字以上", "at least one letter";
    RuleDigit => "数字を1文字以上", "at least one digit";
    Rule4Digits => "数字4桁", "4 digits";
    RuleMatch => "確認入力が一致", "confirmation matches";
    PinMismatch => "確認の入力が一致しません。もう一度入力してください。", "The two entries differ. Please type it again.";
    SummaryTitle => "送信内容の確認", "Check before sending";
    SummaryId => "申請書ID", "Application ID";
    SummaryCert => "電子証明書", "Electronic certificates";
    SummaryBraille => "点字表記", "Braille label";
    SummaryPins => "暗証番号", "PINs";
    PinsSet => "設定済み（表示しません）", "set (not shown)";
    SendNow => "送信する", "Send";
    Sending => "暗号化して送信しています…", "Encrypting and sending…";
    Delivered => "送信しました", "Sent";
    Queued => "送信待ちに保存しました。接続が戻ると自動で送信します。", "Queued: it will be sent automatically when the connection is back.";
    ReceiptTitle => "受付票", "Receipt";
    ReceiptTime => "時刻", "Time";
    ReceiptStatus => "状態", "Status";
    ReceiptDelivered => "申請サーバーが受け付けました", "accepted by the relay";
    ReceiptQueued => "送信待ち（自動で送信します）", "queued (will send automatically)";
    NextApplicant => "次の申請者へ", "Next applicant";
    AlreadySent => "この申請書IDはこの端末から送信済みです。写真を撮り直して送り直す場合は「撮り直した写真で再送信する」を押してください。", "This application ID was already sent from this tablet. To send it again with a new photo, press 'Send again with the new photo'.";
    SendAgain => "撮り直した写真で再送信する", "Send again with the new photo";
    Network => "ネットワーク", "Network";
    Relay => "申請サーバー", "Relay";
    NetOnline => "接続中", "Online";
    NetOffline => "オフライン", "Offline";
    NetUnknown => "確認中", "Checking";
    Outbox => "送信待ち", "Outbox";
    Device => "端末", "Device";
    DeviceActive => "有効", "active";
    DeviceDisabled => "停止", "disabled";
    DeviceWiped => "消去", "wiped";
    DeviceAwaitingApproval => "承認待ち", "awaiting approval";
    Staff => "担当", "Staff";
    NotLoggedIn => "未ログイン", "not logged in";
    BlockedDisabled => "この端末は停止されています", "This tablet has been disabled";
    BlockedWiped => "この端末のデータは消去されました", "This tablet has been wiped";
    BlockedOffline => "長時間オフラインのためロックされました", "Locked: offline for too long";
    BlockedNotEnrolled => "この端末は登録されていません", "This tablet is not enrolled";
    BlockedFatal => "端末に問題があります", "The tablet has a problem";
    BlockedContactIt => "IT担当に連絡してください。この画面から先へは進めません。", "Please contact IT. Nothing can be done from this screen.";
    BlockedCertExpired => "この端末の証明書の有効期限が切れています", "This tablet's certificate has expired";
    BlockedCertExpiredWhat => "IT担当に連絡してください。証明書は通常、期限前に自動で更新されます。期限が切れた端末は再登録が必要です。送信待ちの申請は端末に残っています。", "Please contact IT. Certificates normally renew themselves before they end; an expired tablet must be enrolled again. Applications waiting to be sent stay on the tablet.";
    BlockedOfflineWhat => "ネットワークに接続してください。接続が戻ると自動で解除されます。", "Connect to the network; the lock lifts by itself once the tablet is back online.";
    ErrorTitle => "エラー", "Error";
    ErrLoginFailed => "職員IDまたはパスワードが違います。", "Wrong staff ID or password.";
    ErrLoginLastAttempt => "職員IDまたはパスワードが違います。あと1回間違えると、このIDはしばらくロックされます。", "Wrong staff ID or password. One more wrong attempt locks this ID for a while.";
    ErrLoginRequired => "ログインが必要です。", "Please log in.";
    ErrAwaitingApproval => "この端末の登録はIT担当の承認待ちです。", "This tablet waits for IT to approve its enrollment.";
    BlockedAwaitingApproval => "登録の承認待ち", "Waiting for IT to approve this tablet";
    BlockedAwaitingApprovalWhat => "IT担当に下の指紋を伝えてください。承認されると、この画面はログイン画面に変わります。", "Tell IT the fingerprint below. Once they approve it, this screen turns into the login screen.";
    KeyFingerprint => "鍵の指紋", "Key fingerprint";
    ErrNotEnrolled => "この端末は登録されていません。IT担当に連絡してください。", "This tablet is not enrolled. Please contact IT.";
    ErrWiped => "この端末のデータは消去されました。再登録が必要です。", "This tablet has been wiped and must be enrolled again.";
    ErrCertExpired => "この端末の証明書の有効期限が切れました。何も送信していません（送信待ちに残っています）。IT担当に連絡してください。", "This tablet's certificate has expired. Nothing was sent (kept in the outbox). Please contact IT.";
    ErrRevoked => "申請サーバーがこの端末を拒否しました（失効）。IT担当に連絡してください。", "The relay refuses this tablet (revoked). Please contact IT.";
    ErrDisabled => "この端末は停止されています。IT担当に連絡してください。", "This tablet has been disabled. Please contact IT.";
    ErrOfflineLocked => "長時間オフラインのためロックされました。ネットワークに接続してください。", "Locked: offline for too long. Connect to the network.";
    ErrRelayUnreachable => "申請サーバーに接続できません。送信待ちに保存しました。接続が戻ると自動で送信します。", "Cannot reach the relay: kept in the outbox; it will be sent automatically when the connection is back.";
    ErrUntrustedRelay => "申請サーバーの証明書を拒否しました。接続先はこの区の申請サーバーではありません。何も送信せず、送信待ちに保存しました。IT担当に連絡してください。", "The relay's certificate was refused: this is not the ward's relay. Nothing was sent; kept in the outbox. Please contact IT.";
    ErrAudit => "操作ログの検証に失敗しました。IT担当に連絡してください。", "The operations log failed its check. Please contact IT.";
    ErrEnroll => "端末の登録に失敗しました。IT担当に連絡してください。", "Enrolling this tablet failed. Please contact IT.";
    AlreadySentResend => "この申請書IDはこの端末から送信済みです。撮り直した写真で送り直す場合は --resend を指定してください。", "This application ID was already sent from this tablet. To send it again with a new photo, add --resend.";
    ErrRelayRefused => "申請サーバーが受け付けませんでした。IT担当に連絡してください。", "The relay refused the application. Please contact IT.";
    ErrBadAnswer => "申請サーバーの応答が不正です。送信待ちに保存しました。", "Invalid answer from the relay; kept in the outbox.";
    ErrDiskFull => "端末の保存領域がいっぱいです。IT担当に連絡してください。", "The tablet's storage is full. Please contact IT.";
    ErrCorrupt => "送信待ちデータが壊れています。IT担当に連絡してください。", "The outbox is damaged. Please contact IT.";
    ErrInternal => "内部エラーです。IT担当に連絡してください。", "Internal error. Please contact IT.";
    ErrInput => "入力が正しくありません。", "The input is not valid.";
    ErrPhoto => "写真を使えません。撮り直してください。", "The photo cannot be used. Please retake it.";
    ErrCamera => "カメラに問題があります。手入力か、IT担当に連絡してください。", "Camera problem. Type the ID, or contact IT.";
    Ok => "OK", "OK";
    AudioGuide => "音声案内", "Audio guidance";
    LargeText => "大きな文字", "Large text";
    GuideUnavailable => "この端末では音声案内を使えません（音声合成がありません）。IT担当に連絡してください。", "Audio guidance is not available on this tablet (no speech synthesis). Please contact IT.";
}

// The applicant's screens in Simplified Chinese, Korean, Vietnamese and Nepali, translated from
// the Japanese (the ward's wording) and checked against the English. They need review
// by native speakers before a ward uses them (README, "Languages").
applicant_texts! {
    StepScan => "1. 申请书二维码", "1. 신청서 QR코드", "1. Mã QR của đơn", "1. आवेदन फारामको QR कोड";
    StepPhoto => "2. 照片", "2. 얼굴 사진", "2. Ảnh chân dung", "2. फोटो";
    StepChoices => "3. 选择", "3. 희망 사항", "3. Lựa chọn", "3. छनोट";
    StepPins => "4. 密码", "4. 비밀번호", "4. Mã PIN", "4. पिन नम्बर";
    StepSend => "发送", "전송", "Gửi", "पठाउने";
    ReviewTitle => "确认照片（高45毫米×宽35毫米）", "사진 확인 (세로 45mm × 가로 35mm)", "Kiểm tra ảnh (cao 45 mm × rộng 35 mm)", "फोटो जाँच (उचाइ 45 mm × चौडाइ 35 mm)";
    ReviewOriginal => "拍摄的图像", "촬영한 이미지", "Ảnh đã chụp", "खिचिएको तस्बिर";
    ReviewCropped => "申请用照片", "신청용 사진", "Ảnh dùng cho đơn", "आवेदनको फोटो";
    UsePhoto => "使用这张照片", "이 사진 사용", "Dùng ảnh này", "यो फोटो प्रयोग गर्ने";
    Retake => "重新拍摄", "다시 찍기", "Chụp lại", "फेरि खिच्ने";
    OverrideApproved => "已批准例外", "예외 승인", "Ngoại lệ đã được duyệt", "अपवाद स्वीकृत";
    ReasonInfant => "婴幼儿（由监护人抱着）", "영유아 (보호자가 안고 있음)", "Trẻ nhỏ (cha mẹ bế)", "शिशु (अभिभावकले बोकेको)";
    ReasonDisability => "因残疾或疾病无法保持姿势", "장애·질병으로 자세를 유지할 수 없음", "Khuyết tật hoặc bệnh: không giữ được tư thế", "अपाङ्गता वा रोगका कारण मुद्रा राख्न नसक्ने";
    ReasonHeadCovering => "因医疗或宗教原因佩戴头饰", "의료·종교상 이유의 머리 가리개", "Đội khăn/mũ vì lý do y tế hoặc tôn giáo", "स्वास्थ्य वा धार्मिक कारणले टाउको ढाकेको";
    ReasonOther => "其他（由负责人判断）", "기타 (관리자 판단)", "Khác (người phụ trách quyết định)", "अन्य (जिम्मेवार कर्मचारीको निर्णय)";
    CertQuestion => "您是否希望发行电子证书？", "전자증명서 발급을 희망하십니까?", "Quý vị có muốn cấp chứng thư điện tử không?", "के तपाईं विद्युतीय प्रमाणपत्र जारी गराउन चाहनुहुन्छ?";
    BrailleQuestion => "您是否希望标注盲文？", "점자 표기를 희망하십니까?", "Quý vị có muốn in chữ nổi (braille) không?", "के तपाईं ब्रेल (braille) अंकन चाहनुहुन्छ?";
    Yes => "希望", "희망함", "Có", "चाहन्छु";
    No => "不希望", "희망하지 않음", "Không", "चाहन्नँ";
    ExpressNote => "特急发行：在下一个画面设置密码。", "특급 발급: 다음 화면에서 비밀번호를 설정합니다.", "Cấp nhanh: mã PIN được đặt ở màn hình tiếp theo.", "छिटो जारी: अर्को स्क्रिनमा पिन नम्बर राखिन्छ।";
    Back => "返回", "뒤로", "Quay lại", "पछाडि";
    Next => "下一步", "다음", "Tiếp", "अर्को";
    PinsTitle => "设置密码（请申请人本人输入）", "비밀번호 설정 (신청자 본인이 입력해 주십시오)", "Đặt mã PIN (người nộp đơn tự nhập)", "पिन नम्बर राख्नुहोस् (आवेदक आफैंले प्रविष्ट गर्नुहोस्)";
    PinSignature => "签名用电子证书的密码（大写英文字母和数字，6〜16位）", "서명용 전자증명서 비밀번호 (영문 대문자와 숫자 6~16자)", "Mật khẩu chứng thư chữ ký (6–16 chữ in hoa A–Z và số)", "हस्ताक्षर प्रमाणपत्रको पासवर्ड (ठूला अङ्ग्रेजी अक्षर र अङ्क, 6–16 वटा)";
    PinUser => "用户证明用电子证书的密码（4位数字）", "이용자증명용 전자증명서 비밀번호 (숫자 4자리)", "Mã PIN chứng thư xác thực người dùng (4 chữ số)", "प्रयोगकर्ता प्रमाणीकरण प्रमाणपत्रको पिन (4 अङ्क)";
    PinResident => "居民基本台账用密码（4位数字）", "주민기본대장용 비밀번호 (숫자 4자리)", "Mã PIN sổ đăng ký cư trú (4 chữ số)", "बासिन्दा आधारभूत दर्ताको पिन (4 अङ्क)";
    PinCardInfo => "卡面信息输入辅助用密码（4位数字）", "카드 기재사항 입력보조용 비밀번호 (숫자 4자리)", "Mã PIN hỗ trợ nhập thông tin thẻ (4 chữ số)", "कार्ड विवरण प्रविष्टि सहायताको पिन (4 अङ्क)";
    PinEnter => "输入", "입력", "Nhập", "प्रविष्टि";
    PinConfirm => "再输入一次以确认", "확인을 위해 한 번 더", "Nhập lại để xác nhận", "पुष्टिका लागि फेरि";
    RuleLength6to16 => "6〜16位", "6~16자", "6–16 ký tự", "6–16 वटा";
    RuleLetter => "至少1个字母", "영문자 1자 이상", "ít nhất 1 chữ cái", "कम्तीमा 1 अक्षर";
    RuleDigit => "至少1个数字", "숫자 1자 이상", "ít nhất 1 chữ số", "कम्तीमा 1 अङ्क";
    Rule4Digits => "4位数字", "숫자 4자리", "4 chữ số", "4 अङ्क";
    RuleMatch => "两次输入一致", "확인 입력 일치", "nhập lại khớp", "दुवै प्रविष्टि मिले";
    PinMismatch => "两次输入不一致。请重新输入。", "확인 입력이 일치하지 않습니다. 다시 입력해 주십시오.", "Hai lần nhập không khớp. Vui lòng nhập lại.", "दुई प्रविष्टि मिलेनन्। कृपया फेरि प्रविष्ट गर्नुहोस्।";
    Clear => "清除", "지우기", "Xóa hết", "सबै मेटाउने";
    Backspace => "删除1位", "한 글자 삭제", "Xóa 1 ký tự", "1 अक्षर मेटाउने";
    SummaryTitle => "确认发送内容", "전송 내용 확인", "Kiểm tra trước khi gửi", "पठाउनुअघि जाँच";
    SummaryId => "申请书ID", "신청서 ID", "Mã số đơn", "आवेदन ID";
    SummaryCert => "电子证书", "전자증명서", "Chứng thư điện tử", "विद्युतीय प्रमाणपत्र";
    SummaryBraille => "盲文标注", "점자 표기", "Chữ nổi (braille)", "ब्रेल अंकन";
    SummaryPins => "密码", "비밀번호", "Mã PIN", "पिन नम्बर";
    PinsSet => "已设置（不显示）", "설정됨 (표시하지 않음)", "đã đặt (không hiển thị)", "राखिसकियो (देखाइँदैन)";
    SendNow => "发送", "전송하기", "Gửi đi", "पठाउने";
    SendAgain => "用重新拍摄的照片再次发送", "다시 찍은 사진으로 재전송", "Gửi lại với ảnh mới", "नयाँ फोटोसहित फेरि पठाउने";
    Sending => "正在加密并发送…", "암호화하여 전송하고 있습니다…", "Đang mã hóa và gửi…", "इन्क्रिप्ट गरेर पठाउँदै…";
    Delivered => "已发送", "전송했습니다", "Đã gửi", "पठाइयो";
    Queued => "已保存为待发送。连接恢复后将自动发送。", "전송 대기에 저장했습니다. 연결이 복구되면 자동으로 전송합니다.", "Đã lưu chờ gửi. Đơn sẽ tự động được gửi khi có kết nối trở lại.", "पठाउन बाँकीमा सुरक्षित गरियो। जडान फर्किएपछि आफैं पठाइनेछ।";
    ReceiptTitle => "受理单", "접수증", "Phiếu tiếp nhận", "प्राप्ति रसिद";
    ReceiptTime => "时间", "시각", "Thời gian", "समय";
    ReceiptStatus => "状态", "상태", "Trạng thái", "अवस्था";
    ReceiptDelivered => "申请服务器已受理", "신청 서버가 접수했습니다", "máy chủ tiếp nhận đã nhận", "आवेदन सर्भरमा प्राप्त भयो";
    ReceiptQueued => "待发送（将自动发送）", "전송 대기 (자동으로 전송합니다)", "chờ gửi (sẽ tự động gửi)", "पठाउन बाँकी (आफैं पठाइनेछ)";
    NextApplicant => "下一位申请人", "다음 신청자", "Người nộp đơn tiếp theo", "अर्को आवेदक";
    AudioGuide => "语音引导", "음성 안내", "Hướng dẫn giọng nói", "ध्वनि निर्देशन";
    LargeText => "大字体", "큰 글씨", "Chữ lớn", "ठूला अक्षर";
}

/// "N 件" / "N".
pub fn outbox_count(n: usize, lang: Lang) -> String {
    match lang {
        Lang::Ja => format!("{n} 件"),
        _ => format!("{n}"),
    }
}

/// Why a QR code that was read is not an application form's, and what to do.
pub fn qr_refusal(e: &shinsei_protocol::application::ApplicationIdError, lang: Lang) -> String {
    use shinsei_protocol::application::ApplicationIdError as E;
    let lang = lang.clerk();
    let why = match (e, lang) {
        (E::WrongLength(n), Lang::Ja) => format!("数字が{n}桁です（申請書IDは23桁）"),
        (E::WrongLength(n), Lang::En) => format!("it holds {n} digits (an application ID has 23)"),
        (E::Ambiguous(n), Lang::Ja) => format!("23桁の番号が{n}つあります"),
        (E::Ambiguous(n), Lang::En) => format!("it holds {n} different 23-digit numbers"),
        (_, Lang::Ja) => "申請書IDが含まれていません".to_string(),
        _ => "it holds no application ID".to_string(),
    };
    match lang {
        Lang::Ja => format!(
            "申請書のQRコードではありません（{why}）。交付申請書のQRコードを映すか、申請書IDを手入力してください。"
        ),
        _ => format!(
            "Not an application form's QR code ({why}). Show the code on the application form, or type the ID."
        ),
    }
}

/// A supervisor's reason for an override, in words.
pub fn override_reason(r: shinsei_agent::audit::OverrideReason, lang: Lang) -> &'static str {
    use shinsei_agent::audit::OverrideReason as R;
    match r {
        R::Infant => T::ReasonInfant,
        R::Disability => T::ReasonDisability,
        R::HeadCovering => T::ReasonHeadCovering,
        R::Other => T::ReasonOther,
    }
    .get(lang)
}

/// The warning before the idle lock.
pub fn idle_warning(secs: u64, lang: Lang) -> String {
    match lang {
        Lang::Ja => format!(
            "操作がないため、あと{secs}秒でロックします。続ける場合は「続ける」を押してください。"
        ),
        _ => {
            format!("No activity: the tablet locks in {secs} s. Press Continue to keep working.")
        }
    }
}

/// The lock-out message with the remaining wait.
pub fn locked_out(secs: u64, lang: Lang) -> String {
    match lang {
        Lang::Ja => {
            format!("ログインの失敗が続いたためロックしています。あと{secs}秒お待ちください。")
        }
        _ => format!("Too many failed logins: locked out. Try again in {secs} s."),
    }
}

/// The photo countdown, "3".
pub fn countdown(secs: u32, lang: Lang) -> String {
    format!("{} {secs}", T::PhotoCountdown.get(lang))
}

/// Digits typed so far of the 23.
pub fn digits_typed(n: usize, lang: Lang) -> String {
    match lang {
        Lang::Ja => format!("{n} / 23 桁"),
        _ => format!("{n} / 23 digits"),
    }
}

/// What the clerk reads about a failure of the runtime: the sentence (from the table)
/// and a technical detail for IT (empty where the sentence says it all, and always
/// empty for a failed login, which must not hint which part was wrong).
pub fn error_text(e: &AgentError, lang: Lang) -> (String, String) {
    let t = match e {
        AgentError::Login(_) => T::ErrLoginFailed,
        AgentError::LoginLastAttempt => T::ErrLoginLastAttempt,
        AgentError::LoginRequired => T::ErrLoginRequired,
        AgentError::LockedOut(s) => return (locked_out(*s, lang), String::new()),
        AgentError::Disabled => T::ErrDisabled,
        AgentError::CertificateRefused(_) => T::ErrRevoked,
        AgentError::Wiped => T::ErrWiped,
        AgentError::OfflineLocked => T::ErrOfflineLocked,
        AgentError::NotEnrolled(_) => T::ErrNotEnrolled,
        AgentError::AwaitingApproval(_) => T::ErrAwaitingApproval,
        AgentError::Enroll(_) => T::ErrEnroll,
        AgentError::RelayUnreachable(_) => T::ErrRelayUnreachable,
        AgentError::UntrustedRelay(_) => T::ErrUntrustedRelay,
        AgentError::CertificateExpired(_) => T::ErrCertExpired,
        AgentError::RelayRefused(_) => T::ErrRelayRefused,
        AgentError::BadRelayAnswer(_) => T::ErrBadAnswer,
        AgentError::DiskFull(_) => T::ErrDiskFull,
        AgentError::CorruptOutbox(_) => T::ErrCorrupt,
        AgentError::AuditBroken(_) => T::ErrAudit,
        AgentError::File { .. } | AgentError::Internal(_) => T::ErrInternal,
        AgentError::Input(_) => T::ErrInput,
        AgentError::AlreadySubmitted(_) => T::AlreadySent,
    };
    let detail = match e {
        AgentError::Login(_) => String::new(), // never hint which part was wrong
        // The clerk's words say it all; the rest (envelope, time, flags) is for logs.
        AgentError::AlreadySubmitted(_)
        | AgentError::LoginLastAttempt
        | AgentError::LoginRequired
        | AgentError::Disabled
        | AgentError::Wiped
        | AgentError::OfflineLocked => String::new(),
        other => other.to_string(),
    };
    (t.get(lang).to_string(), detail)
}

/// The line the command line prints for a failure of the runtime: the sentence in
/// Japanese, then English, then the technical detail (from the same table as the
/// kiosk's banner; the `--resend` hint replaces the kiosk's button).
pub fn cli_line(e: &AgentError) -> String {
    let (ja, detail) = error_text(e, Lang::Ja);
    let (en, _) = error_text(e, Lang::En);
    let (ja, en) = match e {
        AgentError::AlreadySubmitted(_) => (
            T::AlreadySentResend.get(Lang::Ja).to_owned(),
            T::AlreadySentResend.get(Lang::En).to_owned(),
        ),
        _ => (ja, en),
    };
    let detail = match e {
        // The envelope and its time help IT find it; the login rule still holds.
        AgentError::AlreadySubmitted(_) => e.to_string(),
        _ => detail,
    };
    line(&ja, &en, &detail)
}

/// The line the command line prints for a failure it found itself (`what`: the key of
/// the sentence, `detail`: the typed error's technical text).
pub fn cli_text(what: T, detail: &str) -> String {
    line(what.get(Lang::Ja), what.get(Lang::En), detail)
}

fn line(ja: &str, en: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("{ja} / {en}")
    } else {
        format!("{ja} / {en} ({detail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_exists_in_both_languages_and_differs() {
        for t in T::ALL {
            let (ja, en) = (t.get(Lang::Ja), t.get(Lang::En));
            assert!(!ja.is_empty() && !en.is_empty(), "{t:?}");
            if *t != T::Ok {
                assert_ne!(ja, en, "{t:?} is not translated");
            }
            assert!(
                en.is_ascii() || en.contains('–') || en.contains('…') || en.contains('×'),
                "{t:?}: {en}"
            );
        }
    }

    #[test]
    fn switching_twice_returns() {
        assert_eq!(Lang::Ja.other().other(), Lang::Ja);
        assert_eq!(Lang::Ja.switch_label(), "English");
        assert_eq!(Lang::En.switch_label(), "日本語");
        // From an applicant language the clerk's switch goes to Japanese.
        assert_eq!(Lang::Ko.other(), Lang::Ja);
        assert_eq!(Lang::Vi.clerk(), Lang::En);
    }

    fn has(s: &str, range: std::ops::RangeInclusive<char>) -> bool {
        s.chars().any(|c| range.contains(&c))
    }

    /// Every text of the applicant's screens exists in every applicant language, in its
    /// script (Han for Chinese, Hangul for Korean), and none is the English text left
    /// untranslated.
    #[test]
    fn every_applicant_text_exists_in_every_applicant_language() {
        assert_eq!(T::APPLICANT.len(), 56);
        for t in T::APPLICANT {
            let en = t.get(Lang::En);
            for lang in [Lang::Zh, Lang::Ko, Lang::Vi, Lang::Ne] {
                let s = t.get(lang);
                assert!(!s.trim().is_empty(), "{t:?} {lang:?}");
                assert_ne!(s, en, "{t:?} is not translated to {lang:?}");
                assert_ne!(s, t.get(Lang::Ja), "{t:?} {lang:?} is the Japanese");
            }
            assert!(has(t.get(Lang::Zh), '\u{4E00}'..='\u{9FFF}'), "{t:?} zh");
            assert!(has(t.get(Lang::Ko), '\u{AC00}'..='\u{D7A3}'), "{t:?} ko");
            // Vietnamese is Latin with tone marks: each text has at least one letter
            // outside ASCII (a text of plain ASCII would be English or untoned).
            assert!(!t.get(Lang::Vi).is_ascii(), "{t:?} vi");
            assert!(has(t.get(Lang::Ne), '\u{0900}'..='\u{097F}'), "{t:?} ne");
        }
        // A clerk's text keeps Japanese and English only: in an applicant language it
        // reads in English.
        assert_eq!(T::LogIn.get(Lang::Zh), T::LogIn.get(Lang::En));
    }

    /// The picker shows each language's own name, and each is distinct.
    #[test]
    fn the_picker_names_each_language_in_itself() {
        let names: Vec<_> = Lang::APPLICANT.iter().map(|l| l.native_name()).collect();
        assert_eq!(
            names,
            [
                "日本語",
                "English",
                "简体中文",
                "한국어",
                "Tiếng Việt",
                "नेपाली"
            ]
        );
        let tags: std::collections::BTreeSet<_> = Lang::APPLICANT.iter().map(|l| l.tag()).collect();
        assert_eq!(tags.len(), Lang::APPLICANT.len());
    }

    #[test]
    fn errors_map_to_sentences_without_hints() {
        let (m, d) = error_text(&AgentError::Login("no such staff".into()), Lang::En);
        assert_eq!(m, "Wrong staff ID or password.");
        assert!(
            d.is_empty(),
            "a login error must not say which part was wrong"
        );
        let (m, _) = error_text(&AgentError::LockedOut(42), Lang::Ja);
        assert!(m.contains("42"));
        let (m, d) = error_text(&AgentError::DiskFull("ENOSPC".into()), Lang::Ja);
        assert!(m.contains("いっぱい") && d.contains("ENOSPC"));
    }

    #[test]
    fn command_line_reads_the_same_table() {
        let e = AgentError::RelayUnreachable("connection refused".into());
        let l = cli_line(&e);
        assert!(l.starts_with(T::ErrRelayUnreachable.get(Lang::Ja)), "{l}");
        assert!(l.contains(T::ErrRelayUnreachable.get(Lang::En)), "{l}");
        assert!(l.contains("connection refused"), "{l}");
        // A server certificate the relay pin refused: its own sentence, not the
        // revoked-tablet one, with the pin's reason as the detail.
        let l = cli_line(&AgentError::UntrustedRelay(
            "not issued directly by the root".into(),
        ));
        assert!(l.starts_with(T::ErrUntrustedRelay.get(Lang::Ja)), "{l}");
        assert!(l.contains("not the ward's relay"), "{l}");
        assert!(l.contains("not issued directly by the root"), "{l}");
        assert!(!l.contains(T::ErrRevoked.get(Lang::En)), "{l}");
        let l = cli_line(&AgentError::Login("no such staff".into()));
        assert!(!l.contains("no such staff"), "{l}");
        let l = cli_line(&AgentError::AlreadySubmitted("env 1f".into()));
        assert!(l.contains("--resend") && l.contains("env 1f"), "{l}");
        assert_eq!(
            cli_text(T::ErrInput, "bad digit"),
            "入力が正しくありません。 / The input is not valid. (bad digit)"
        );
    }
}
