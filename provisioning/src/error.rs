//! Errors of the provisioning tool. Every message is bilingual: 日本語 / English.

use std::path::PathBuf;

use shinsei_pki::PkiError;

use shinsei_protocol::{
    bundle::BundleError,
    device::DeviceIdError,
    keys::KeyError,
    signed::SignedError,
    staff::{PasswordPolicyError, StaffError},
};

/// Everything that can go wrong in `shinsei-provision`.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// A PKI file error (I/O, existing file, missing relay, bad PEM or JSON, missing
    /// HPKE key, bad key): the texts are `shinsei_pki`'s, not repeated here.
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("CA が見つかりません。先に `shinsei-provision ca init` を実行してください / no CA at {path}: run `shinsei-provision ca init` first")]
    CaMissing { path: PathBuf },
    #[error("{which} の有効期間外です（期限 {not_after}）。CA を作り直してください / the {which} is expired or not yet valid (valid until {not_after}); re-create it")]
    CaNotValidNow {
        which: &'static str,
        not_after: String,
    },
    #[error("{which} の秘密鍵が証明書と一致しません / the {which} private key does not match its certificate")]
    KeyCertMismatch { which: &'static str },
    #[error("証明書の生成に失敗しました / certificate generation failed: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("CSR を読み取れません / cannot parse the CSR: {0}")]
    CsrMalformed(String),
    #[error("CSR の自己署名が不正です（主張する鍵とは別の鍵で署名されています） / the CSR's self-signature does not verify (it was signed by a different key than the one it carries)")]
    CsrSignature,
    #[error("CSR の鍵が ECDSA P-256 ではありません / the CSR's key is not ECDSA P-256")]
    CsrKeyType,
    #[error("CSR の CN「{csr_cn}」が端末ID「{device_id}」と一致しません / the CSR's CN '{csr_cn}' is not the device ID '{device_id}'")]
    CsrDeviceIdMismatch { csr_cn: String, device_id: String },
    #[error("承認の指定が不正です / bad approval: {0}")]
    BadApproval(String),
    #[error("端末IDが不正です / bad device ID: {0}")]
    DeviceId(#[from] DeviceIdError),
    #[error("名前が不正です（英数字と . _ - で1〜32文字） / bad name '{0}': use 1-32 characters of A-Z a-z 0-9 . _ -")]
    BadName(String),
    #[error("ホスト名が不正です / bad host name '{0}'")]
    BadHost(String),
    #[error("日数が不正です（1〜{max}） / bad number of days {days}: must be 1..={max}")]
    BadDays { days: u32, max: u32 },
    #[error("リレー証明書の SAN にホスト名 {host} がありません / the relay certificate has no SAN for {host}")]
    RelayHostNotInCert { host: String },
    #[error("署名付き文書の検証に失敗しました / signed document check failed: {0}")]
    Signed(#[from] SignedError),
    #[error("端末バンドルの検証に失敗しました / device bundle check failed: {0}")]
    Bundle(#[from] BundleError),
    #[error("職員リスト / staff list: {0}")]
    Staff(#[from] StaffError),
    #[error("パスワードの条件を満たしていません / password rejected: {0}")]
    PasswordPolicy(#[from] PasswordPolicyError),
    #[error("職員ID {0} は既に登録されています（パスワードを変更するには --replace） / staff ID {0} already exists (use --replace to set a new password)")]
    StaffExists(String),
    #[error("職員ID {0} は登録されていません / no staff ID {0}")]
    StaffUnknown(String),
    #[error("パスワードは --password-stdin で標準入力から渡してください / pass the password on standard input with --password-stdin")]
    PasswordStdinRequired,
    #[error("管理者証明書がありません。`shinsei-provision admin issue --name NAME` で発行してください / no admin certificate {name}: issue one with `shinsei-provision admin issue --name NAME`")]
    AdminCertMissing { name: String },
    #[error("管理者証明書を --admin-cert で指定してください（候補: {candidates}） / choose an admin certificate with --admin-cert (one of: {candidates})")]
    AdminCertAmbiguous { candidates: String },
    #[error("リレーの管理 URL が不明です。`relay init` を実行するか --admin-url を指定してください / no admin URL: run `relay init` or pass --admin-url")]
    NoAdminUrl,
    #[error("管理 URL は https://HOST:PORT の形式にしてください / the admin URL must be https://HOST[:PORT], got {0}")]
    BadAdminUrl(String),
    #[error("TLS の設定に失敗しました / TLS setup failed: {0}")]
    Tls(String),
    #[error("リレー ({url}) に接続できません。リレーが起動しているか、URL と証明書を確認してください / cannot connect to the relay at {url}: {detail}")]
    Connection { url: String, detail: String },
    #[error(
        "リレーがエラーを返しました (HTTP {status}) / the relay answered HTTP {status}: {message}"
    )]
    Http { status: u16, message: String },
    #[error("リレーの応答を読み取れません / cannot read the relay's answer: {0}")]
    BadResponse(String),
    #[error("{failed} 件の CSR の署名に失敗しました / {failed} of {total} CSRs failed")]
    BulkFailed { failed: usize, total: usize },
    #[error("ディレクトリに CSR (*.csr.pem) がありません / no *.csr.pem files in {path}")]
    NoCsrs { path: PathBuf },
    #[error("ファームウェア設定 / firmware: {0}")]
    Firmware(#[from] crate::firmware::render::FirmwareError),
    #[error("Wi-Fi のパスワードは --wifi-password-stdin で標準入力から渡してください / pass the Wi-Fi password on standard input with --wifi-password-stdin")]
    WifiPasswordStdinRequired,
    #[error("Wi-Fi パスワードを含むファイルを git の作業ツリー ({repo}) 内に書き込みません。--out にリポジトリ外のディレクトリを指定してください / refusing to write the Wi-Fi password inside the git work tree {repo}: choose an --out directory outside any repository")]
    SecretInGitTree { repo: PathBuf },
}

impl ProvisionError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PkiError::Io {
            path: path.into(),
            source,
        }
        .into()
    }

    /// `path` exists and is not overwritten.
    pub(crate) fn already_exists(path: PathBuf) -> Self {
        PkiError::AlreadyExists { path }.into()
    }

    /// `path` is not a valid PEM `what`.
    pub(crate) fn bad_pem(path: PathBuf, what: &'static str) -> Self {
        PkiError::BadPem { path, what }.into()
    }

    /// `path` is not valid JSON of the expected shape.
    pub(crate) fn bad_json(path: PathBuf, detail: String) -> Self {
        PkiError::BadJson { path, detail }.into()
    }
}

impl From<KeyError> for ProvisionError {
    fn from(e: KeyError) -> Self {
        PkiError::Key(e).into()
    }
}

/// Result alias.
pub type Result<T, E = ProvisionError> = std::result::Result<T, E>;
