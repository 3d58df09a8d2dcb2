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
        Lang::En => &c.message_en,
    }
}

/// The display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn other(self) -> Self {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// The label of the switch button: the *other* language, in that language.
    pub fn switch_label(self) -> &'static str {
        match self {
            Lang::Ja => "English",
            Lang::En => "日本語",
        }
    }

    fn pick(self, ja: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
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

            pub fn get(self, lang: Lang) -> &'static str {
                match self { $(T::$key => lang.pick($ja, $en)),* }
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
}

/// "N 件" / "N".
pub fn outbox_count(n: usize, lang: Lang) -> String {
    match lang {
        Lang::Ja => format!("{n} 件"),
        Lang::En => format!("{n}"),
    }
}

/// Why a QR code that was read is not an application form's, and what to do.
pub fn qr_refusal(e: &shinsei_protocol::application::ApplicationIdError, lang: Lang) -> String {
    use shinsei_protocol::application::ApplicationIdError as E;
    let why = match (e, lang) {
        (E::WrongLength(n), Lang::Ja) => format!("数字が{n}桁です（申請書IDは23桁）"),
        (E::WrongLength(n), Lang::En) => format!("it holds {n} digits (an application ID has 23)"),
        (E::Ambiguous(n), Lang::Ja) => format!("23桁の番号が{n}つあります"),
        (E::Ambiguous(n), Lang::En) => format!("it holds {n} different 23-digit numbers"),
        (_, Lang::Ja) => "申請書IDが含まれていません".to_string(),
        (_, Lang::En) => "it holds no application ID".to_string(),
    };
    match lang {
        Lang::Ja => format!(
            "申請書のQRコードではありません（{why}）。交付申請書のQRコードを映すか、申請書IDを手入力してください。"
        ),
        Lang::En => format!(
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
        Lang::En => {
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
        Lang::En => format!("Too many failed logins: locked out. Try again in {secs} s."),
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
        Lang::En => format!("{n} / 23 digits"),
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
