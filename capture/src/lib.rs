//! `shinsei-capture`: camera frames, the form's QR code, face detection and the 35:45
//! ID-photo crop with self-explaining quality checks. No UI, no network, no disk
//! writes: images come in (a [`FrameSource`], a file, bytes) and an
//! [`ApplicationId`](shinsei_protocol::application::ApplicationId) or a
//! [`FacePhoto`](shinsei_protocol::photo::FacePhoto) goes out.
//!
//! - [`source`] — [`source::FrameSource`], the replay source, the single-slot mailbox
//!   (newest frame wins) and, with feature `camera`, the nokhwa camera on its own thread.
//! - [`qr`] — the application ID from a QR code: locating, grid sampling, and the one
//!   door to rqrr ([`qr::scan_luma`], [`qr::QrTracker`], [`qr::decode_file`]).
//! - [`face`] — SeetaFace detection (rustface, model embedded at build time).
//! - [`checks`] — the photo checks and every word said about them (one table).
//! - [`crop`] — ID-photo geometry, quality checks, JPEG output ([`crop_report`]).
//! - [`raster`] — typed images (`Luma`, `Rgb` and their borrowed views), sizes checked once.
//! - [`photo`] — a JPEG file or bytes → `FacePhoto` (metadata stripped).
//! - [`live`] — the camera as a counter screen sees it: previews, scan and photo views,
//!   the camera thread with epoch-tagged results (no toolkit types).
//! - `synth` (feature `testkit`) — generators for the test corpus and benchmarks.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod checks;
pub mod crop;
pub mod face;
pub mod geometry;
pub mod imgops;
pub mod live;
pub mod photo;
pub mod qr;
pub mod raster;
pub mod resample;
pub mod source;
/// Test and benchmark generators (QR scenes); only with feature `testkit`.
#[cfg(any(test, feature = "testkit"))]
pub mod synth;

pub use crop::{crop_report, run_crop_cli, CheckResult, CropReport, Verdict};
pub use source::{Frame, FrameSource, PixelFormat};

/// Errors of the capture pipeline. Messages are bilingual (ja / en) for the clerk.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("カメラが見つかりません: {0} / no camera found")]
    CameraAbsent(String),
    #[error("カメラは他のアプリが使用中です: {0} / camera is busy (in use by another program)")]
    CameraBusy(String),
    #[error("カメラとの接続が切れました: {0} / camera disconnected or stopped delivering frames")]
    CameraLost(String),
    #[error("カメラ機能なしでビルドされています / built without the `camera` feature")]
    CameraUnsupported,
    #[error("これ以上フレームがありません / no more frames (end of replay)")]
    EndOfStream,
    #[error("フレーム待ちがタイムアウトしました / timed out waiting for a frame")]
    Timeout,
    #[error("画像を読めません: {0} / cannot read the image")]
    Image(String),
    #[error("入出力エラー: {0} / I/O error")]
    Io(String),
    #[error("顔検出器を初期化できません: {0} / face detector failed to initialise")]
    Detector(String),
    #[error("写真が規格外です: {0} / photo does not meet the rules")]
    Photo(#[from] shinsei_protocol::photo::PhotoError),
    #[error("写真が基準を満たしません: {reasons} / photo rejected by the quality checks")]
    Rejected {
        /// The bilingual reasons, one per failed check, separated by "; ".
        reasons: String,
        /// The full JSON report.
        report_json: String,
    },
}
