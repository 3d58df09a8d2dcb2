//! Capture pipeline (issue 6): camera frames, QR scanning, face detection and the
//! 35:45 ID-photo crop with self-explaining quality checks.
//!
//! - [`source`] — [`source::FrameSource`], the replay source, the single-slot mailbox
//!   (newest frame wins) and, with feature `camera`, the nokhwa camera on its own thread.
//! - [`qr`] — the application ID from a QR code (rqrr, bounded image input, typed errors).
//! - [`qr_scan`] — the fast/robust QR reader ([`qr_scan::scan_luma`], [`qr_scan::QrTracker`]).
//! - [`face`] — SeetaFace detection (rustface, model embedded at build time).
//! - [`crop`] — ID-photo geometry, quality checks, JPEG output ([`crop_report`]).
//! - [`synth`] — generators for the test corpus and benchmarks (QR scenes).

pub mod crop;
pub mod face;
pub mod geometry;
pub mod imgops;
pub mod qr;
mod qr_grid;
pub mod qr_scan;
pub mod source;
#[doc(hidden)]
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
