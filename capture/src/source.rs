//! Where frames come from: the [`FrameSource`] trait, a replay source (a directory of
//! images), a single-slot [`Mailbox`] (the newest frame wins, nothing queues up), a
//! [`ThreadedSource`] that runs any source on its own thread (needed for nokhwa, whose
//! `Camera` is not `Send`) and, with cargo feature `camera`, `camera::CameraSource`.
//!
//! Every frame's pixels live in a `Zeroizing` buffer: a frame that is dropped — consumed,
//! or replaced in the mailbox by a newer one — is wiped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use zeroize::Zeroizing;

use super::{imgops, CaptureError};
use crate::raster::{Luma, Rgb, RgbRef};

/// Largest image file a replay source reads.
pub const MAX_FRAME_FILE: u64 = 32 * 1024 * 1024;
/// Largest frame side accepted.
pub const MAX_FRAME_SIDE: u32 = 8000;

/// Pixel layout of a [`Frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// 3 bytes per pixel, R G B.
    Rgb8,
    /// 1 byte per pixel.
    Luma8,
}

impl PixelFormat {
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Luma8 => 1,
        }
    }
}

/// One camera frame. The pixels are wiped when the frame is dropped.
pub struct Frame {
    width: u32,
    height: u32,
    format: PixelFormat,
    data: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({}x{} {:?})", self.width, self.height, self.format)
    }
}

impl Frame {
    /// Checks that the buffer matches the dimensions.
    pub fn new(
        width: u32,
        height: u32,
        format: PixelFormat,
        data: Zeroizing<Vec<u8>>,
    ) -> Result<Self, CaptureError> {
        if width == 0 || height == 0 || width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
            return Err(CaptureError::Image(format!(
                "frame size {width}×{height} out of range"
            )));
        }
        let need = width as usize * height as usize * format.bytes_per_pixel();
        if data.len() != need {
            return Err(CaptureError::Image(format!(
                "frame buffer has {} bytes, {need} expected",
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            format,
            data,
        })
    }
    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// The frame as 8-bit greyscale (a copy, also zeroizing).
    pub fn to_luma(&self) -> Luma {
        let (w, h) = (self.width as usize, self.height as usize);
        match self.format {
            PixelFormat::Luma8 => Luma::from_checked(w, h, Zeroizing::new(self.data.to_vec())),
            PixelFormat::Rgb8 => imgops::rgb_to_luma(self.rgb_view_unchecked()),
        }
    }
    /// The frame as RGB8 (greyscale is replicated; a copy, also zeroizing).
    pub fn to_rgb(&self) -> Rgb {
        let (w, h) = (self.width as usize, self.height as usize);
        match self.format {
            PixelFormat::Rgb8 => Rgb::from_checked(w, h, Zeroizing::new(self.data.to_vec())),
            PixelFormat::Luma8 => {
                let mut v = Zeroizing::new(Vec::with_capacity(self.data.len() * 3));
                for &y in self.data.iter() {
                    v.extend_from_slice(&[y, y, y]);
                }
                Rgb::from_checked(w, h, v)
            }
        }
    }
    /// An RGB frame's pixels as an image (sizes checked by [`Frame::new`]).
    fn rgb_view_unchecked(&self) -> RgbRef<'_> {
        RgbRef::from_checked(self.width as usize, self.height as usize, &self.data)
    }
}

/// Anything that yields frames.
pub trait FrameSource {
    /// The next frame; blocks until one is available.
    fn next_frame(&mut self) -> Result<Frame, CaptureError>;
}

/// Decodes an image file's bytes (JPEG or PNG) into an RGB8 frame, bounded in size.
pub fn decode_image(bytes: &[u8]) -> Result<Frame, CaptureError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| CaptureError::Image(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_FRAME_SIDE);
    limits.max_image_height = Some(MAX_FRAME_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| CaptureError::Image(e.to_string()))?;
    let (w, h) = (img.width(), img.height());
    let rgb = match img {
        image::DynamicImage::ImageRgb8(buf) => Zeroizing::new(buf.into_raw()),
        other => {
            let rgb = Zeroizing::new(other.to_rgb8().into_raw());
            // Wipe the decoder's own copy too.
            drop(Zeroizing::new(other.into_bytes()));
            rgb
        }
    };
    Frame::new(w, h, PixelFormat::Rgb8, rgb)
}

/// Reads a file with a size bound into a zeroizing buffer.
pub fn read_bounded(path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>, CaptureError> {
    let f = std::fs::File::open(path)
        .map_err(|e| CaptureError::Io(format!("{}: {e}", path.display())))?;
    let mut bytes = Zeroizing::new(Vec::new());
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CaptureError::Io(format!("{}: {e}", path.display())))?;
    if bytes.len() as u64 > max {
        return Err(CaptureError::Image(format!(
            "{}: file larger than {max} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Replays the images (`.jpg`, `.jpeg`, `.png`) of a directory in name order.
#[derive(Debug)]
pub struct ReplaySource {
    files: Vec<PathBuf>,
    next: usize,
    looping: bool,
}

impl ReplaySource {
    /// Lists the directory. An empty directory is an error.
    pub fn open(dir: &Path, looping: bool) -> Result<Self, CaptureError> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| CaptureError::Io(format!("{}: {e}", dir.display())))?;
        let mut files: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .map(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
                    .unwrap_or(false)
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(CaptureError::Image(format!(
                "{}: no .jpg/.png images to replay",
                dir.display()
            )));
        }
        Ok(Self {
            files,
            next: 0,
            looping,
        })
    }

    /// Number of images in the replay.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl FrameSource for ReplaySource {
    fn next_frame(&mut self) -> Result<Frame, CaptureError> {
        if self.next >= self.files.len() {
            if !self.looping {
                return Err(CaptureError::EndOfStream);
            }
            self.next = 0;
        }
        let path = &self.files[self.next];
        self.next += 1;
        let bytes = read_bounded(path, MAX_FRAME_FILE)?;
        decode_image(&bytes).map_err(|e| match e {
            CaptureError::Image(m) => CaptureError::Image(format!("{}: {m}", path.display())),
            other => other,
        })
    }
}

/// A source over frames already in memory (tests, benchmarks).
#[derive(Debug, Default)]
pub struct MemorySource {
    frames: std::collections::VecDeque<Frame>,
}

impl MemorySource {
    pub fn new(frames: Vec<Frame>) -> Self {
        Self {
            frames: frames.into(),
        }
    }
}

impl FrameSource for MemorySource {
    fn next_frame(&mut self) -> Result<Frame, CaptureError> {
        self.frames.pop_front().ok_or(CaptureError::EndOfStream)
    }
}

/// A single-slot mailbox: `put` replaces (and so wipes) any frame not yet taken.
#[derive(Debug)]
pub struct Mailbox<T> {
    slot: Mutex<MailboxState<T>>,
    ready: Condvar,
    replaced: AtomicU64,
}

#[derive(Debug)]
struct MailboxState<T> {
    item: Option<T>,
    closed: bool,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Mailbox<T> {
    pub fn new() -> Self {
        Self {
            slot: Mutex::new(MailboxState {
                item: None,
                closed: false,
            }),
            ready: Condvar::new(),
            replaced: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MailboxState<T>> {
        // A poisoned lock only means a holder panicked; the slot itself is still valid.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts an item, replacing the unread one (returns true when one was replaced).
    pub fn put(&self, item: T) -> bool {
        let old = {
            let mut s = self.lock();
            s.item.replace(item)
        };
        self.ready.notify_one();
        let replaced = old.is_some();
        if replaced {
            self.replaced.fetch_add(1, Ordering::Relaxed);
        }
        drop(old); // wiped here, outside the lock
        replaced
    }

    /// Takes the newest item, waiting up to `timeout`. `None` on time-out or when closed
    /// and empty.
    pub fn take(&self, timeout: Duration) -> Option<T> {
        let mut s = self.lock();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(item) = s.item.take() {
                return Some(item);
            }
            if s.closed {
                return None;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return None;
            }
            s = match self.ready.wait_timeout(s, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Marks the mailbox closed: `take` returns what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// How many items were overwritten before being read (dropped frames).
    pub fn replaced_count(&self) -> u64 {
        self.replaced.load(Ordering::Relaxed)
    }
}

/// Runs a source on its own thread and hands out only the newest frame.
///
/// The source is built *inside* the thread by `open` (nokhwa's `Camera` is not `Send`).
/// An error from the source (camera unplugged, end of replay) is delivered once to the
/// consumer and stops the thread. Dropping the `ThreadedSource` stops and joins it.
pub struct ThreadedSource {
    mailbox: Arc<Mailbox<Result<Frame, CaptureError>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    timeout: Duration,
    finished: bool,
}

impl std::fmt::Debug for ThreadedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadedSource")
            .field("dropped_frames", &self.dropped_frames())
            .finish()
    }
}

impl ThreadedSource {
    /// Starts the capture thread. `timeout`: how long `next_frame` waits before
    /// [`CaptureError::Timeout`] (a camera that stops delivering).
    pub fn spawn<S, F>(open: F, timeout: Duration) -> Result<Self, CaptureError>
    where
        S: FrameSource,
        F: FnOnce() -> Result<S, CaptureError> + Send + 'static,
    {
        let mailbox = Arc::new(Mailbox::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (mb, st) = (Arc::clone(&mailbox), Arc::clone(&stop));
        let handle = std::thread::Builder::new()
            .name("shinsei-capture".into())
            .spawn(move || {
                let mut source = match open() {
                    Ok(s) => s,
                    Err(e) => {
                        mb.put(Err(e));
                        mb.close();
                        return;
                    }
                };
                while !st.load(Ordering::Relaxed) {
                    let r = source.next_frame();
                    let failed = r.is_err();
                    mb.put(r);
                    if failed {
                        break;
                    }
                }
                mb.close();
            })
            .map_err(|e| CaptureError::Io(format!("cannot start capture thread: {e}")))?;
        Ok(Self {
            mailbox,
            stop,
            handle: Some(handle),
            timeout,
            finished: false,
        })
    }

    /// How long `next_frame` waits for a frame before [`CaptureError::Timeout`]. The
    /// kiosk polls with a zero wait so its screen never stalls on the camera.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Frames overwritten before the consumer took them.
    pub fn dropped_frames(&self) -> u64 {
        self.mailbox.replaced_count()
    }
}

impl FrameSource for ThreadedSource {
    fn next_frame(&mut self) -> Result<Frame, CaptureError> {
        if self.finished {
            return Err(CaptureError::EndOfStream);
        }
        match self.mailbox.take(self.timeout) {
            Some(Ok(f)) => Ok(f),
            Some(Err(e)) => {
                self.finished = true;
                Err(e)
            }
            None if self.mailbox.is_closed() => {
                self.finished = true;
                Err(CaptureError::EndOfStream)
            }
            None => Err(CaptureError::Timeout),
        }
    }
}

impl Drop for ThreadedSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Drain (and wipe) whatever is waiting so a blocked producer can finish.
        let _ = self.mailbox.take(Duration::ZERO);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Opens the default camera (feature `camera` only; otherwise
/// [`CaptureError::CameraUnsupported`]) on its own thread.
pub fn open_camera_threaded(
    index: u32,
    width: u32,
    height: u32,
    fps: u32,
) -> Result<ThreadedSource, CaptureError> {
    #[cfg(feature = "camera")]
    {
        ThreadedSource::spawn(
            move || camera::CameraSource::open(index, width, height, fps),
            Duration::from_secs(3),
        )
    }
    #[cfg(not(feature = "camera"))]
    {
        let _ = (index, width, height, fps);
        Err(CaptureError::CameraUnsupported)
    }
}

/// Converts a YUYV (YUY2) buffer to RGB8 (BT.601, limited range).
pub fn yuyv_to_rgb(yuyv: &[u8], w: usize, h: usize) -> Result<Zeroizing<Vec<u8>>, CaptureError> {
    if w & 1 == 1 || yuyv.len() < w * h * 2 {
        return Err(CaptureError::Image("YUYV buffer too small".into()));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(w * h * 3));
    for px in yuyv[..w * h * 2].chunks_exact(4) {
        let (y0, u, y1, v) = (
            f32::from(px[0]),
            f32::from(px[1]) - 128.0,
            f32::from(px[2]),
            f32::from(px[3]) - 128.0,
        );
        for y in [y0, y1] {
            let c = 1.164 * (y - 16.0);
            let r = c + 1.596 * v;
            let g = c - 0.392 * u - 0.813 * v;
            let b = c + 2.017 * u;
            out.extend_from_slice(&[
                r.clamp(0.0, 255.0) as u8,
                g.clamp(0.0, 255.0) as u8,
                b.clamp(0.0, 255.0) as u8,
            ]);
        }
    }
    Ok(out)
}

#[cfg(feature = "camera")]
pub mod camera {
    //! The live camera through nokhwa (V4L2 on Linux). Build with `--features camera`.
    //! `nokhwa::Camera` is not `Send`: use it through [`super::ThreadedSource`]
    //! (see [`super::open_camera_threaded`]).

    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{
        CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
    };
    use nokhwa::NokhwaError;
    use zeroize::Zeroizing;

    use super::{decode_image, yuyv_to_rgb, Frame, FrameSource, PixelFormat};
    use crate::CaptureError;

    /// An open camera stream.
    pub struct CameraSource {
        camera: nokhwa::Camera,
    }

    impl std::fmt::Debug for CameraSource {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("CameraSource")
        }
    }

    fn classify_open(e: NokhwaError) -> CaptureError {
        let msg = e.to_string();
        let lower = msg.to_ascii_lowercase();
        if lower.contains("busy") || lower.contains("ebusy") || lower.contains("resource busy") {
            CaptureError::CameraBusy(msg)
        } else if lower.contains("no such")
            || lower.contains("not found")
            || lower.contains("enoent")
            || lower.contains("os error 2")
            || lower.contains("os error 19")
        {
            CaptureError::CameraAbsent(msg)
        } else {
            match e {
                NokhwaError::OpenStreamError(_) => CaptureError::CameraBusy(msg),
                _ => CaptureError::CameraAbsent(msg),
            }
        }
    }

    impl CameraSource {
        /// Opens camera `index` asking for the format closest to `width`×`height`@`fps`.
        pub fn open(index: u32, width: u32, height: u32, fps: u32) -> Result<Self, CaptureError> {
            if !std::path::Path::new(&format!("/dev/video{index}")).exists()
                && cfg!(target_os = "linux")
            {
                return Err(CaptureError::CameraAbsent(format!(
                    "/dev/video{index} does not exist"
                )));
            }
            let wanted = CameraFormat::new(Resolution::new(width, height), FrameFormat::MJPEG, fps);
            let req = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted));
            let mut camera =
                nokhwa::Camera::new(CameraIndex::Index(index), req).map_err(classify_open)?;
            camera.open_stream().map_err(classify_open)?;
            Ok(Self { camera })
        }
    }

    impl FrameSource for CameraSource {
        fn next_frame(&mut self) -> Result<Frame, CaptureError> {
            let buf = self
                .camera
                .frame()
                .map_err(|e| CaptureError::CameraLost(e.to_string()))?;
            let res = buf.resolution();
            let (w, h) = (res.width() as usize, res.height() as usize);
            let raw = buf.buffer();
            match buf.source_frame_format() {
                FrameFormat::MJPEG => decode_image(raw),
                FrameFormat::YUYV => Frame::new(
                    w as u32,
                    h as u32,
                    PixelFormat::Rgb8,
                    yuyv_to_rgb(raw, w, h)?,
                ),
                FrameFormat::GRAY | FrameFormat::NV12 => {
                    let luma = raw
                        .get(..w * h)
                        .ok_or_else(|| CaptureError::Image("short frame".into()))?;
                    Frame::new(
                        w as u32,
                        h as u32,
                        PixelFormat::Luma8,
                        Zeroizing::new(luma.to_vec()),
                    )
                }
                FrameFormat::RAWRGB => Frame::new(
                    w as u32,
                    h as u32,
                    PixelFormat::Rgb8,
                    Zeroizing::new(raw.to_vec()),
                ),
                FrameFormat::RAWBGR => {
                    let mut v = Zeroizing::new(raw.to_vec());
                    for p in v.chunks_exact_mut(3) {
                        p.swap(0, 2);
                    }
                    Frame::new(w as u32, h as u32, PixelFormat::Rgb8, v)
                }
            }
        }
    }

    impl Drop for CameraSource {
        fn drop(&mut self) {
            let _ = self.camera.stop_stream();
        }
    }
}
