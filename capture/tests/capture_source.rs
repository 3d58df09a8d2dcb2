#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Frame sources without a camera: replay directory, single-slot mailbox (newest frame
//! wins), threaded source error propagation, camera absent.

use std::time::Duration;

use shinsei_capture::source::{
    open_camera_threaded, Mailbox, MemorySource, ReplaySource, ThreadedSource,
};
use shinsei_capture::{CaptureError, Frame, FrameSource, PixelFormat};
use zeroize::Zeroizing;

fn frame(v: u8) -> Frame {
    Frame::new(4, 2, PixelFormat::Luma8, Zeroizing::new(vec![v; 8])).unwrap()
}

#[test]
fn frame_validates_its_buffer() {
    assert!(Frame::new(4, 2, PixelFormat::Rgb8, Zeroizing::new(vec![0; 8])).is_err());
    assert!(Frame::new(0, 2, PixelFormat::Luma8, Zeroizing::new(vec![])).is_err());
    let f = Frame::new(
        2,
        1,
        PixelFormat::Rgb8,
        Zeroizing::new(vec![255, 0, 0, 0, 0, 255]),
    )
    .unwrap();
    assert_eq!(f.to_luma().pixels().len(), 2);
}

#[test]
fn replay_directory_in_order_then_end_or_loop() {
    let dir = tempfile::tempdir().unwrap();
    for (i, v) in [10u8, 20, 30].iter().enumerate() {
        image::GrayImage::from_pixel(8, 8, image::Luma([*v]))
            .save(dir.path().join(format!("f{i}.png")))
            .unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let mut s = ReplaySource::open(dir.path(), false).unwrap();
    assert_eq!(s.len(), 3);
    let firsts: Vec<u8> = (0..3).map(|_| s.next_frame().unwrap().data()[0]).collect();
    assert_eq!(firsts, vec![10, 20, 30]);
    assert!(matches!(s.next_frame(), Err(CaptureError::EndOfStream)));
    let mut looping = ReplaySource::open(dir.path(), true).unwrap();
    for _ in 0..7 {
        looping.next_frame().unwrap();
    }
}

#[test]
fn replay_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        ReplaySource::open(dir.path(), false),
        Err(CaptureError::Image(_))
    ));
    assert!(matches!(
        ReplaySource::open(&dir.path().join("missing"), false),
        Err(CaptureError::Io(_))
    ));
    std::fs::write(dir.path().join("bad.jpg"), b"\xFF\xD8garbage").unwrap();
    let mut s = ReplaySource::open(dir.path(), false).unwrap();
    assert!(matches!(s.next_frame(), Err(CaptureError::Image(_))));
}

#[test]
fn mailbox_keeps_only_the_newest() {
    let mb = Mailbox::new();
    assert!(!mb.put(frame(1)));
    assert!(mb.put(frame(2)));
    assert!(mb.put(frame(3)));
    assert_eq!(mb.replaced_count(), 2);
    assert_eq!(mb.take(Duration::ZERO).unwrap().data()[0], 3);
    assert!(mb.take(Duration::from_millis(10)).is_none());
    mb.close();
    assert!(mb.take(Duration::from_secs(5)).is_none());
}

/// A source the test paces: each `next_frame` waits for the test to hand it a frame,
/// and reports the end once the test drops its sender.
struct GatedSource(std::sync::mpsc::Receiver<Frame>);

impl FrameSource for GatedSource {
    fn next_frame(&mut self) -> Result<Frame, CaptureError> {
        self.0.recv().map_err(|_| CaptureError::EndOfStream)
    }
}

#[test]
fn threaded_source_delivers_then_reports_the_end() {
    // Paced: every frame is taken before the next is produced, so all must arrive in order.
    let (tx, rx) = std::sync::mpsc::channel();
    let mut src =
        ThreadedSource::spawn(move || Ok(GatedSource(rx)), Duration::from_secs(10)).unwrap();
    for i in 0..5u8 {
        tx.send(frame(i)).unwrap();
        assert_eq!(src.next_frame().unwrap().data()[0], i);
    }
    drop(tx);
    assert!(matches!(src.next_frame(), Err(CaptureError::EndOfStream)));
    assert!(matches!(src.next_frame(), Err(CaptureError::EndOfStream)));
    assert_eq!(src.dropped_frames(), 0);
}

#[test]
fn threaded_source_never_reorders_a_fast_producer() {
    // Unpaced: the producer may overwrite frames (newest wins, possibly all of them before
    // the end marker), but what is delivered is strictly increasing and the end is reported.
    let frames: Vec<Frame> = (0..50).map(frame).collect();
    let mut src = ThreadedSource::spawn(
        move || Ok(MemorySource::new(frames)),
        Duration::from_secs(10),
    )
    .unwrap();
    let mut seen = Vec::new();
    loop {
        match src.next_frame() {
            Ok(f) => seen.push(f.data()[0]),
            Err(CaptureError::EndOfStream) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    // Every frame was either delivered or counted as dropped; the end marker is never lost.
    assert_eq!(seen.len() as u64 + src.dropped_frames(), 50);
    assert!(matches!(src.next_frame(), Err(CaptureError::EndOfStream)));
}

#[test]
fn threaded_source_open_failure_is_reported() {
    let mut src = ThreadedSource::spawn(
        || -> Result<MemorySource, CaptureError> { Err(CaptureError::CameraAbsent("test".into())) },
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(matches!(
        src.next_frame(),
        Err(CaptureError::CameraAbsent(_))
    ));
}

#[test]
fn camera_absent_or_unsupported_is_a_clear_error() {
    match open_camera_threaded(97, 1280, 720, 30) {
        Err(CaptureError::CameraUnsupported) => {}
        Ok(mut s) => {
            let e = s.next_frame().unwrap_err();
            assert!(
                matches!(
                    e,
                    CaptureError::CameraAbsent(_) | CaptureError::CameraBusy(_)
                ),
                "{e}"
            );
            assert!(e.to_string().contains('/'));
        }
        Err(e) => panic!("unexpected {e}"),
    }
}
