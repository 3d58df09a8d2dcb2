//! Why a PKI file could not be used. The texts are the clerk/IT-facing messages of the
//! provisioning tool (Japanese first, English after `/`); the provisioning tool maps each
//! variant to its own error of the same name.

use std::path::PathBuf;

use shinsei_protocol::keys::KeyError;

/// A PKI file error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    #[error("ファイルを読み書きできません / cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("既に存在するため上書きしません / {path} already exists; not overwriting it")]
    AlreadyExists { path: PathBuf },
    #[error("リレーが初期化されていません。先に `shinsei-provision relay init --host NAME` を実行してください / the relay is not initialised: run `shinsei-provision relay init --host NAME` first")]
    RelayMissing,
    #[error("PEM ファイルを読み取れません / {path} is not a valid PEM {what}")]
    BadPem { path: PathBuf, what: &'static str },
    #[error("JSON ファイルの形式が不正です / {path} is not valid: {detail}")]
    BadJson { path: PathBuf, detail: String },
    #[error("リレーの HPKE 鍵がありません / no current relay HPKE key in {path}")]
    NoCurrentHpkeKey { path: PathBuf },
    #[error("鍵が不正です / bad key: {0}")]
    Key(#[from] KeyError),
}

impl PkiError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PkiError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;
