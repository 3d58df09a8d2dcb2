//! The runtime's errors, typed. `Display` is a technical English text for logs and the
//! detail line; what a clerk reads is the message table (`shinsei-i18n`: the kiosk's
//! banner and the command line's error line), and the binary maps each kind to an exit
//! code (`shinsei-tablet`, table in its README).

use std::path::PathBuf;

/// Every failure the agent reports to a clerk or to IT. No message contains an
/// application ID, a PIN or photo bytes.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("not enrolled: {0}")]
    NotEnrolled(String),
    /// The tablet holds an enrollment ticket and waits for IT to approve the key it
    /// made (the fingerprint IT compares, as [`shinsei_protocol::csr::fingerprint_text`]).
    #[error("waiting for IT to approve this tablet's own key (fingerprint {0})")]
    AwaitingApproval(String),
    #[error("wiped: the tablet must be enrolled again")]
    Wiped,
    #[error("disabled by IT")]
    Disabled,
    #[error("locked: offline for too long")]
    OfflineLocked,
    #[error("staff login required")]
    LoginRequired,
    #[error("login failed: {0}")]
    Login(String),
    #[error("login failed; one attempt left before the lock-out")]
    LoginLastAttempt,
    #[error("locked out for {0} s")]
    LockedOut(u64),
    #[error("invalid input: {0}")]
    Input(String),
    #[error("relay unreachable (kept in the outbox): {0}")]
    RelayUnreachable(String),
    /// The relay refused this tablet's certificate at the TLS layer (revoked or
    /// wiped): the tablet locks (issue 18) instead of working offline.
    #[error("the relay refused this tablet's certificate: {0}")]
    CertificateRefused(String),
    /// The agent refused the server's TLS certificate: WebPKI on the pinned root, or
    /// the relay pin (issued directly by the root, OU `shinsei relay`) failed. Nothing
    /// was sent and nothing it says is obeyed; unlike [`AgentError::CertificateRefused`]
    /// this says nothing about the tablet's own certificate, so the tablet does not lock.
    #[error("not the ward's relay: its certificate was refused ({0})")]
    UntrustedRelay(String),
    /// This tablet's own certificate has ended (unix seconds): it renews itself ahead
    /// of time through check-in; once ended, only a new enrollment helps. Nothing is
    /// sent; the outbox keeps what it holds.
    #[error("this tablet's certificate expired at {0} (unix time); IT must enroll it again")]
    CertificateExpired(u64),
    #[error("the relay refused: {0}")]
    RelayRefused(String),
    #[error("invalid answer from the relay: {0}")]
    BadRelayAnswer(String),
    #[error("disk full: {0}")]
    DiskFull(String),
    #[error("the outbox is corrupt: {0}")]
    CorruptOutbox(String),
    #[error("file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit log verification failed: {0}")]
    AuditBroken(String),
    #[error("enrollment: {0}")]
    Enroll(String),
    #[error("already submitted ({0})")]
    AlreadySubmitted(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AgentError {
    /// A short, stable name of the kind of failure (for the audit log and metrics;
    /// never a message). Exit codes and clerk texts are the binary's and the kiosk's.
    pub fn kind(&self) -> &'static str {
        match self {
            AgentError::NotEnrolled(_) => "not_enrolled",
            AgentError::AwaitingApproval(_) => "awaiting_approval",
            AgentError::Wiped => "wiped",
            AgentError::Disabled => "disabled",
            AgentError::OfflineLocked => "offline_locked",
            AgentError::LoginRequired => "login_required",
            AgentError::Login(_) => "login",
            AgentError::LoginLastAttempt => "login_last_attempt",
            AgentError::LockedOut(_) => "locked_out",
            AgentError::Input(_) => "input",
            AgentError::RelayUnreachable(_) => "relay_unreachable",
            AgentError::CertificateRefused(_) => "certificate_refused",
            AgentError::UntrustedRelay(_) => "untrusted_relay",
            AgentError::CertificateExpired(_) => "certificate_expired",
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
