//! The runtime's errors. Each message is bilingual (Japanese, then English) for the
//! command line; the kiosk maps each kind to its own text (`shinsei-kiosk::i18n`), and
//! the binary maps each to an exit code (`shinsei-tablet`, table in its README).

use std::path::PathBuf;

/// Every failure the agent reports to a clerk or to IT. Messages are Japanese first,
/// then English; none contains an application ID, a PIN or photo bytes.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("この端末は登録されていません。IT担当に連絡してください / this tablet is not enrolled: contact IT ({0})")]
    NotEnrolled(String),
    #[error(
        "この端末は消去済みです。再登録が必要です / this tablet was wiped and must be re-enrolled"
    )]
    Wiped,
    #[error("この端末は停止されています。IT担当に連絡してください / this tablet is disabled: contact IT")]
    Disabled,
    #[error("長時間オフラインのためロックされました。ネットワークに接続してください / locked: offline for too long; connect to the network")]
    OfflineLocked,
    #[error("ログインが必要です / staff login required")]
    LoginRequired,
    #[error("ログインできません: {0} / login failed")]
    Login(String),
    #[error("職員IDまたはパスワードが違います。あと1回間違えるとロックされます / login failed: one attempt left before the lock-out")]
    LoginLastAttempt,
    #[error("ロック中です。あと{0}秒お待ちください / locked out: try again in {0} s")]
    LockedOut(u64),
    #[error("入力が正しくありません: {0} / invalid input")]
    Input(String),
    #[error("申請サーバーに接続できません（送信待ちに保存しました）: {0} / relay unreachable (kept in the outbox)")]
    RelayUnreachable(String),
    #[error("申請サーバーが受け付けませんでした: {0} / the relay refused the application")]
    RelayRefused(String),
    #[error("申請サーバーの応答が不正です: {0} / invalid answer from the relay")]
    BadRelayAnswer(String),
    #[error("ディスクの空きがありません。IT担当に連絡してください / disk full: contact IT ({0})")]
    DiskFull(String),
    #[error("送信待ちデータが壊れています。IT担当に連絡してください / the outbox is corrupt: contact IT ({0})")]
    CorruptOutbox(String),
    #[error("ファイル {path} を扱えません: {source} / file error")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("監査ログの検証に失敗しました: {0} / audit log verification failed")]
    AuditBroken(String),
    #[error("登録: {0} / enrollment")]
    Enroll(String),
    #[error("この申請書IDは送信済みです（{0}）。撮り直して再送信する場合は --resend を指定してください / this application ID was already submitted ({0}); use --resend to send it again")]
    AlreadySubmitted(String),
    #[error("内部エラー: {0} / internal error")]
    Internal(String),
}

impl AgentError {
    /// A short, stable name of the kind of failure (for the audit log and metrics;
    /// never a message). Exit codes and clerk texts are the binary's and the kiosk's.
    pub fn kind(&self) -> &'static str {
        match self {
            AgentError::NotEnrolled(_) => "not_enrolled",
            AgentError::Wiped => "wiped",
            AgentError::Disabled => "disabled",
            AgentError::OfflineLocked => "offline_locked",
            AgentError::LoginRequired => "login_required",
            AgentError::Login(_) => "login",
            AgentError::LoginLastAttempt => "login_last_attempt",
            AgentError::LockedOut(_) => "locked_out",
            AgentError::Input(_) => "input",
            AgentError::RelayUnreachable(_) => "relay_unreachable",
            AgentError::RelayRefused(_) => "relay_refused",
            AgentError::BadRelayAnswer(_) => "bad_relay_answer",
            AgentError::DiskFull(_) => "disk_full",
            AgentError::CorruptOutbox(_) => "corrupt_outbox",
            AgentError::File { .. } => "file",
            AgentError::AuditBroken(_) => "audit_broken",
            AgentError::Enroll(_) => "enroll",
            AgentError::AlreadySubmitted(_) => "already_submitted",
            AgentError::Internal(_) => "internal",
        }
    }

    /// A file error, or [`AgentError::DiskFull`] when the disk is full.
    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        if is_disk_full(&source) {
            return AgentError::DiskFull(source.to_string());
        }
        AgentError::File {
            path: path.into(),
            source,
        }
    }
}

/// ENOSPC / EDQUOT.
pub(crate) fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(28) | Some(122))
}

pub(crate) fn from_sled(e: sled::Error) -> AgentError {
    match e {
        sled::Error::Io(io) if is_disk_full(&io) => AgentError::DiskFull(io.to_string()),
        sled::Error::Corruption { .. } => AgentError::CorruptOutbox(e.to_string()),
        other => AgentError::CorruptOutbox(other.to_string()),
    }
}

pub type Result<T> = std::result::Result<T, AgentError>;
