//! The binary's errors: the runtime's [`AgentError`], or what the command line itself
//! found wrong, each kept as its typed source (a QR error stays a `QrError` up to
//! here), and the exit code of each (the table in `tablet/README.md`). What the clerk
//! reads is [`CliError::message`]: the sentence from the message table
//! (`shinsei-i18n`, the same words as the kiosk's), Japanese then English, then the
//! technical detail; none contains an application ID, a PIN or photo bytes.

use shinsei_agent::enroll::EnrollError;
use shinsei_agent::error::AgentError;
use shinsei_capture::qr::QrError;
use shinsei_capture::CaptureError;
use shinsei_protocol::application::ApplicationIdError;
use shinsei_protocol::device::DeviceIdError;
use shinsei_protocol::photo::PhotoError;
use shinsei_protocol::pins::PinError;

/// Every failure of a command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error("invalid input: {0}")]
    Input(#[from] InputError),
    #[error("enrollment: {0}")]
    Enroll(#[from] EnrollError),
}

/// What was wrong with the command's input.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    #[error(transparent)]
    Qr(#[from] QrError),
    #[error(transparent)]
    ApplicationId(#[from] ApplicationIdError),
    #[error(transparent)]
    Photo(#[from] PhotoError),
    /// The cropping pipeline refused the photo: the reasons, one per failed check.
    #[error("{0}")]
    PhotoRejected(String),
    #[error(transparent)]
    Capture(CaptureError),
    #[error(transparent)]
    Pins(#[from] PinError),
    #[error(transparent)]
    Application(#[from] shinsei_protocol::application::ApplicationError),
    #[error(transparent)]
    DeviceId(#[from] DeviceIdError),
    /// A line of standard input (`what` names it) was missing or unreadable.
    #[error("{0}")]
    Stdin(String),
    /// The arguments do not make a command.
    #[error("{0}")]
    Usage(String),
}

impl From<CaptureError> for InputError {
    fn from(e: CaptureError) -> Self {
        match e {
            CaptureError::Rejected { reasons, .. } => InputError::PhotoRejected(reasons),
            other => InputError::Capture(other),
        }
    }
}

impl CliError {
    /// The line printed on standard error (the message table's sentence, both
    /// languages, then the detail).
    pub(crate) fn message(&self) -> String {
        use shinsei_i18n::{cli_line, cli_text, T};
        match self {
            CliError::Agent(e) => cli_line(e),
            CliError::Input(e) => cli_text(T::ErrInput, &e.to_string()),
            CliError::Enroll(e) => cli_text(T::ErrEnroll, &e.to_string()),
        }
    }

    /// Process exit code.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CliError::Input(_) => 2,
            CliError::Enroll(_) => 4,
            CliError::Agent(e) => agent_exit_code(e),
        }
    }
}

fn agent_exit_code(e: &AgentError) -> i32 {
    match e {
        AgentError::Input(_) => 2,
        AgentError::Login(_)
        | AgentError::LoginLastAttempt
        | AgentError::LoginRequired
        | AgentError::LockedOut(_) => 3,
        AgentError::NotEnrolled(_) | AgentError::Enroll(_) | AgentError::AwaitingApproval(_) => 4,
        AgentError::Disabled
        | AgentError::OfflineLocked
        | AgentError::CertificateRefused(_)
        | AgentError::CertificateExpired(_) => 5,
        AgentError::Wiped => 6,
        // Not delivered, kept in the outbox, sent automatically later: for a script the
        // same outcome; the message says which (README's exit code table).
        AgentError::RelayUnreachable(_) | AgentError::UntrustedRelay(_) => 7,
        AgentError::RelayRefused(_) | AgentError::BadRelayAnswer(_) => 8,
        AgentError::DiskFull(_) | AgentError::CorruptOutbox(_) | AgentError::File { .. } => 9,
        AgentError::AuditBroken(_) => 10,
        AgentError::AlreadySubmitted(_) => 11,
        AgentError::Internal(_) => 70,
    }
}

pub(crate) type Result<T> = std::result::Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_input_errors_keep_the_clerk_text_and_exit_2() {
        let e = CliError::from(InputError::from(ApplicationIdError::WrongLength(3)));
        assert_eq!(e.exit_code(), 2);
        // What the clerk reads: the message table's sentence, both languages, then the
        // typed error's detail.
        let s = e.message();
        assert!(
            s.starts_with("入力が正しくありません。 / The input is not valid. ("),
            "{s}"
        );
        assert!(s.contains("23 digits"), "{s}");
        let rejected = CaptureError::Rejected {
            reasons: "blur".into(),
            report_json: "{}".into(),
        };
        assert!(matches!(
            InputError::from(rejected),
            InputError::PhotoRejected(r) if r == "blur"
        ));
        assert_eq!(CliError::from(AgentError::Wiped).exit_code(), 6);
        assert_eq!(
            CliError::from(AgentError::RelayUnreachable("x".into())).exit_code(),
            7
        );
        let untrusted = CliError::from(AgentError::UntrustedRelay("x".into()));
        assert_eq!(untrusted.exit_code(), 7);
        assert!(
            untrusted.message().contains("not the ward's relay"),
            "{}",
            untrusted.message()
        );
    }
}
