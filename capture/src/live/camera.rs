//! The camera work off the UI thread: a thread owns the [`Vision`] and, while the
//! kiosk is on the scan or photo screen, reads frames (at most [`FPS`] a second),
//! scans or checks them, and posts the result. The screen stays responsive whatever a
//! frame costs (a 1280×720 face check takes ~75 ms on one tablet core; see the `kiosk`
//! benchmark).
//!
//! Every result carries the epoch of the request that produced it; the kiosk bumps the
//! epoch on every mode change and reset, and drops older results, so nothing from a
//! previous applicant (a code read, a captured photo) can arrive late and be taken for
//! the current one. Dropped results zeroize themselves.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::vision::{Captured, PhotoView, ScanView, Vision};
use crate::CaptureError;

/// Frames analysed per second, at most.
pub const FPS: u32 = 15;

/// What the camera thread does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing: the camera is not read.
    Idle,
    /// Look for the form's QR code.
    Scan,
    /// Check the applicant's face.
    Photo,
}

enum Command {
    /// New mode; forget the tracked code and the last passing frame.
    Set(Mode, u64),
    /// Cut the photo from the last frame that passed every check.
    Capture(u64),
    /// Cut the photo around face `usize` of the last frame, checks set aside (a
    /// supervisor approved it).
    CaptureOverride(u64, usize),
}

/// A result, tagged with the epoch of the request.
pub enum Event {
    Scan(u64, Box<ScanView>),
    /// The view, and whether a capture can be made from it.
    Photo(u64, Box<PhotoView>, bool),
    Captured(u64, Box<Result<Captured, CaptureError>>),
    Failed(u64, CaptureError),
}

/// The handle the kiosk keeps.
pub struct Camera {
    tx: Option<Sender<Command>>,
    rx: Receiver<Event>,
    handle: Option<JoinHandle<()>>,
    epoch: u64,
    mode: Mode,
}

impl Camera {
    pub fn spawn(vision: Vision) -> std::io::Result<Self> {
        let (tx, cmd_rx) = mpsc::channel::<Command>();
        let (ev_tx, rx) = mpsc::channel::<Event>();
        let source = vision.into_source();
        let handle = std::thread::Builder::new()
            .name("shinsei-kiosk-camera".into())
            .spawn(move || {
                let mut vision = Vision::new(source);
                let period = Duration::from_secs(1) / FPS;
                let (mut mode, mut epoch) = (Mode::Idle, 0u64);
                let mut next = Instant::now();
                loop {
                    // Wait for a command; while working, only until the next frame is due.
                    let cmd = if mode == Mode::Idle {
                        match cmd_rx.recv() {
                            Ok(c) => Some(c),
                            Err(_) => return,
                        }
                    } else {
                        match cmd_rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                            Ok(c) => Some(c),
                            Err(RecvTimeoutError::Timeout) => None,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    };
                    match cmd {
                        Some(Command::Set(m, e)) => {
                            vision.reset();
                            mode = m;
                            epoch = e;
                            next = Instant::now();
                            continue;
                        }
                        Some(Command::Capture(e)) => {
                            let r = vision.capture();
                            if ev_tx.send(Event::Captured(e, Box::new(r))).is_err() {
                                return;
                            }
                            continue;
                        }
                        Some(Command::CaptureOverride(e, face)) => {
                            let r = vision.capture_override(face);
                            if ev_tx.send(Event::Captured(e, Box::new(r))).is_err() {
                                return;
                            }
                            continue;
                        }
                        None => {}
                    }
                    next = Instant::now() + period;
                    let ev = match mode {
                        Mode::Idle => continue,
                        Mode::Scan => match vision.scan_step() {
                            Ok(Some(v)) => Event::Scan(epoch, Box::new(v)),
                            Ok(None) => continue,
                            Err(e) => Event::Failed(epoch, e),
                        },
                        Mode::Photo => match vision.photo_step() {
                            Ok(Some(v)) => {
                                let ok = vision.can_capture();
                                Event::Photo(epoch, Box::new(v), ok)
                            }
                            Ok(None) => continue,
                            Err(e) => Event::Failed(epoch, e),
                        },
                    };
                    let failed = matches!(ev, Event::Failed(..));
                    if ev_tx.send(ev).is_err() {
                        return;
                    }
                    if failed {
                        // Wait for the kiosk to ask again (a retry or another mode).
                        mode = Mode::Idle;
                    }
                }
            })?;
        Ok(Self {
            tx: Some(tx),
            rx,
            handle: Some(handle),
            epoch: 0,
            mode: Mode::Idle,
        })
    }

    /// The current epoch: results of older requests are stale.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Switches mode (a no-op when unchanged). Returns the new epoch.
    pub fn set_mode(&mut self, m: Mode) -> u64 {
        if m != self.mode {
            self.restart(m);
        }
        self.epoch
    }

    /// Starts the mode afresh (new epoch, tracker and last frame forgotten), also
    /// after a camera error stopped the thread's work.
    pub fn restart(&mut self, m: Mode) {
        self.mode = m;
        self.epoch += 1;
        if let Some(tx) = &self.tx {
            let _ = tx.send(Command::Set(m, self.epoch));
        }
    }

    /// Asks for the photo from the last frame that passed.
    pub fn capture(&mut self) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Command::Capture(self.epoch));
        }
    }

    /// Asks for the photo around face `face` of the last frame, the checks set aside
    /// (after a supervisor's approval); the answer is an [`Event::Captured`].
    pub fn capture_override(&mut self, face: usize) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Command::CaptureOverride(self.epoch, face));
        }
    }

    /// The next result, if any (stale ones included: the caller compares epochs).
    pub fn poll(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
