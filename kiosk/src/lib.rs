//! `shinsei-kiosk`: the counter kiosk, a native, full-screen, touch-first egui
//! application inside the agent process (`shinsei-agent ui`), over the agent runtime
//! (`shinsei-agent`) and the capture pipeline (`shinsei-capture`).
//!
//! # Why egui/eframe
//! - **The secrets stay in our memory.** An immediate-mode UI keeps no copy of what it
//!   draws: each frame reads the model ([`kiosk::Kiosk`]) and paints. PINs and the
//!   staff password are typed into [`shinsei_agent::memguard::LockedBuf`]s through our own
//!   keypad ([`entry`]) — never into a toolkit text widget with its own undo history —
//!   and are shown as dots. A web view would put them in a browser's heap and caches.
//! - **One process, one language, no runtime to ship.** egui is pure Rust, draws with
//!   OpenGL through eframe (glow), and runs on the X11 session of the tablet's kiosk
//!   image (Wayland compositors through XWayland). No Chromium, no JavaScript.
//! - **Testable as it runs.** `egui_kittest` drives the same code through AccessKit
//!   (buttons found by their label and clicked), and renders snapshots on the CPU
//!   (`egui_software_backend`) so they are the same on every machine.
//!
//! # Layout
//! - [`i18n`] — every text in Japanese and English; the applicant's screens also in
//!   Simplified Chinese, Korean, Vietnamese and Nepali.
//! - [`fonts`] — a font per script, the one of the language on screen first.
//! - [`shaping`] — Devanagari (Nepali) shaped and drawn, which egui cannot lay out.
//! - [`guide`] (part of the kiosk's model) — audio guidance by a number keypad;
//!   [`speech`] speaks it.
//! - [`entry`] — keypad fields, PIN rules as typed (pure).
//! - `shinsei_capture::live` — camera frames → preview, QR region, face checks, crop,
//!   on their own thread, results tagged so stale ones are dropped (no egui).
//! - [`backend`] — the agent behind a trait, on a worker thread.
//! - [`kiosk`] — the state machine of the screens (no egui).
//! - [`view`] — drawing it with egui.
//!
//! What the kiosk holds about an applicant (ID, photo, PINs) is dropped — and so
//! wiped, by the types themselves and by the zeroizing allocator — on "next
//! applicant", logout, auto-lock and when the tablet is blocked. Camera previews go to
//! GPU textures (as any display does); they are replaced frame by frame and released
//! with the screen.

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod backend;
pub mod entry;
pub mod fit;
pub mod fonts;
pub mod shaping;
pub mod speech;
/// Every text (the one message table, shared with the command line).
pub use shinsei_i18n as i18n;
pub mod kiosk;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod view;

/// The camera side of the kiosk lives in the capture crate (no toolkit types there).
pub use shinsei_capture::live::{camera, vision};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use shinsei_agent::clock::Clock;
use shinsei_agent::error::{AgentError, Result};

pub use backend::{AgentBackend, CounterBackend, LoginInfo, StatusInfo, Worker};
pub use kiosk::{guide, Block, Kiosk, Screen};

/// Where a Japanese font is looked for ([`fonts::JAPANESE`]).
pub const FONT_CANDIDATES: &[&str] = fonts::JAPANESE;

/// Sets up a context for the kiosk: style and fonts (Japanese first; Chinese, Korean
/// and Vietnamese ones for the applicant's languages, see [`fonts`]). Fails when a
/// font is missing, naming its package. Returns the Japanese font's file.
pub fn setup_context(ctx: &egui::Context) -> Result<PathBuf> {
    view::apply_style(ctx);
    let book = fonts::FontBook::load()?;
    let japanese = book.japanese.clone();
    fonts::install(ctx, book);
    Ok(japanese)
}

/// A backend for a tablet that cannot open its agent (wiped, not enrolled): every
/// call reports why, so the kiosk shows its blocked screen.
pub struct Unavailable(pub Block);

impl Unavailable {
    fn err(&self) -> AgentError {
        match self.0 {
            Block::Wiped => AgentError::Wiped,
            Block::Disabled => AgentError::Disabled,
            Block::OfflineLocked => AgentError::OfflineLocked,
            Block::NotEnrolled => AgentError::NotEnrolled("not enrolled".into()),
            Block::AwaitingApproval => AgentError::AwaitingApproval(String::new()),
            Block::CertificateExpired => AgentError::CertificateExpired(0),
            Block::Fatal => AgentError::CorruptOutbox("cannot open the agent".into()),
        }
    }
}

impl CounterBackend for Unavailable {
    fn login(&mut self, _: &str, _: &[u8]) -> Result<LoginInfo> {
        Err(self.err())
    }
    fn logout(&mut self) {}
    fn touch(&mut self) {}
    fn record_scan(&mut self, _: &shinsei_protocol::application::ApplicationId) {}
    fn record_capture(&mut self) {}
    fn submit(
        &mut self,
        _: shinsei_protocol::application::Application,
        _: bool,
    ) -> Result<shinsei_agent::runtime::SubmitOutcome> {
        Err(self.err())
    }
    fn tick(&mut self) -> Result<StatusInfo> {
        Err(self.err())
    }
}

/// Closing the kiosk by itself after a while, with a screenshot (the CI smoke test
/// under Xvfb, and IT's "what does the tablet show" check).
#[derive(Debug, Clone, Default)]
pub struct AutoExit {
    /// Take a screenshot (PNG) of the window before exiting — refused unless the login
    /// or a blocked screen is showing (never an applicant's data on disk).
    pub screenshot: Option<PathBuf>,
    /// Exit after this many seconds.
    pub after_secs: Option<f64>,
}

/// The kiosk plus its textures: what runs in the window and in the tests.
pub struct KioskApp {
    pub kiosk: Kiosk,
    tex: view::Textures,
    exit: AutoExit,
    shot_requested: bool,
    /// The font leading for the language on screen ([`fonts::follow`]).
    font_lead: Option<fonts::Lead>,
    /// Where the audio guidance speaks (the tablet's speaker, started at its first
    /// prompt; tests put a recorder).
    speech: Option<Box<dyn speech::Sink>>,
    /// Set when the screenshot was written (or failed): the window closes.
    pub done: Option<std::result::Result<PathBuf, String>>,
}

impl KioskApp {
    pub fn new(kiosk: Kiosk, exit: AutoExit) -> Self {
        Self {
            kiosk,
            tex: view::Textures::default(),
            exit,
            shot_requested: false,
            font_lead: None,
            speech: None,
            done: None,
        }
    }

    /// Draws one frame.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.font_lead = fonts::follow(ui.ctx(), self.kiosk.screen_lang(), self.font_lead);
        view::show(ui, &mut self.kiosk, &mut self.tex);
        self.speak();
        self.auto_exit(ui.ctx());
    }

    /// Where the audio guidance speaks, instead of the tablet's speaker.
    pub fn set_speech(&mut self, sink: Box<dyn speech::Sink>) {
        self.speech = Some(sink);
    }

    /// Hands what the guidance has to say to the speaker (started at the first
    /// prompt; when it cannot start, the guidance stops and the clerk reads why).
    fn speak(&mut self) {
        if self.kiosk.speech.is_empty() {
            return;
        }
        if self.speech.is_none() {
            match speech::Speaker::start() {
                Ok(s) => self.speech = Some(Box::new(s)),
                Err(e) => {
                    tracing::error!("audio guidance: {e}");
                    self.kiosk.guide_unavailable();
                    return;
                }
            }
        }
        if let Some(sink) = &mut self.speech {
            for s in std::mem::take(&mut self.kiosk.speech) {
                sink.say(s);
            }
        }
    }

    fn auto_exit(&mut self, ctx: &egui::Context) {
        let Some(after) = self.exit.after_secs else {
            return;
        };
        let t = ctx.input(|i| i.time);
        let shot = ctx.input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::Screenshot { image, .. } => Some(image.clone()),
                _ => None,
            })
        });
        if let Some(img) = shot {
            if let Some(path) = &self.exit.screenshot {
                self.done = Some(save_png(path, &img).map(|()| path.clone()));
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        if t >= after && self.done.is_none() {
            // A screenshot goes to disk: only of screens that show nothing of an
            // applicant (login and the blocked screens).
            let no_applicant = matches!(self.kiosk.screen, Screen::Login | Screen::Blocked(_));
            if self.exit.screenshot.is_some() && !no_applicant {
                self.done = Some(Err(
                    "refused: an applicant's data may be on screen (only the login and \
                     blocked screens are saved)"
                        .into(),
                ));
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            } else if self.exit.screenshot.is_some() {
                if !self.shot_requested {
                    self.shot_requested = true;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
                        egui::UserData::default(),
                    ));
                }
            } else {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
        ctx.request_repaint_after(std::time::Duration::from_millis(100));
    }
}

fn save_png(path: &Path, img: &egui::ColorImage) -> std::result::Result<(), String> {
    let [w, h] = img.size;
    let mut rgba = Vec::with_capacity(w * h * 4);
    for p in &img.pixels {
        rgba.extend_from_slice(&p.to_array());
    }
    let buf = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or_else(|| "screenshot has the wrong size".to_string())?;
    buf.save(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

impl eframe::App for KioskApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        KioskApp::ui(self, ui);
    }
}

/// Options of `shinsei-agent ui`.
#[derive(Debug, Clone, Default)]
pub struct KioskOptions {
    /// Full screen (the kiosk) or a 1280×800 window.
    pub fullscreen: bool,
    pub exit: AutoExit,
}

/// Runs the kiosk window until it is closed.
/// `backend` opens the agent: its worker, and the block to start on when the agent
/// cannot be opened (wiped, not enrolled).
pub fn run_kiosk(
    backend: Box<dyn FnOnce() -> std::io::Result<(Worker, Option<Block>)>>,
    vision: Option<vision::Vision>,
    clock: Arc<dyn Clock>,
    opts: KioskOptions,
) -> Result<Option<PathBuf>> {
    let (worker, block) = backend().map_err(|e| AgentError::Internal(format!("worker: {e}")))?;
    let mut kiosk = Kiosk::new(worker, vision, clock);
    if let Some(b) = block {
        kiosk = kiosk.start_blocked(b);
    }
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("shinsei")
        .with_inner_size([1280.0, 800.0]);
    if opts.fullscreen {
        viewport = viewport.with_fullscreen(true).with_decorations(false);
    }
    let native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    let result: std::sync::Arc<std::sync::Mutex<Option<std::result::Result<PathBuf, String>>>> =
        Default::default();
    let out = result.clone();
    let exit = opts.exit.clone();
    eframe::run_native(
        "shinsei",
        native,
        Box::new(move |cc| {
            setup_context(&cc.egui_ctx)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(Reporting {
                app: KioskApp::new(kiosk, exit),
                out,
            }))
        }),
    )
    .map_err(|e| AgentError::Internal(format!("window: {e}")))?;
    let done = result.lock().map(|mut g| g.take()).unwrap_or(None);
    match done {
        Some(Ok(p)) => Ok(Some(p)),
        Some(Err(e)) => Err(AgentError::Internal(format!("screenshot: {e}"))),
        None => Ok(None),
    }
}

/// Passes the screenshot result out of eframe (which owns the app).
struct Reporting {
    app: KioskApp,
    out: std::sync::Arc<std::sync::Mutex<Option<std::result::Result<PathBuf, String>>>>,
}

impl eframe::App for Reporting {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        fit::fit_to_screen(ui.ctx());
        self.app.ui(ui);
        if let Some(d) = self.app.done.clone() {
            if let Ok(mut g) = self.out.lock() {
                *g = Some(d);
            }
        }
    }
}

/// The kiosk's backend on this tablet's agent (`data_dir`): the worker, and the block
/// to start on when the agent cannot be opened (wiped, not enrolled): a tablet that
/// cannot open its agent still shows the kiosk, on its blocked screen.
pub fn agent_backend(
    data_dir: PathBuf,
    relay_addr: Option<std::net::SocketAddr>,
    clock: Arc<dyn Clock>,
) -> Box<dyn FnOnce() -> std::io::Result<(Worker, Option<Block>)>> {
    Box::new(move || {
        match shinsei_agent::runtime::Agent::open(&data_dir, clock.clone(), relay_addr) {
            Ok(agent) => Ok((Worker::spawn(AgentBackend::new(agent, clock))?, None)),
            Err(e) => {
                tracing::error!("agent: {e}");
                let b = match e {
                    AgentError::Wiped => Block::Wiped,
                    AgentError::NotEnrolled(_) | AgentError::Enroll(_) => Block::NotEnrolled,
                    _ => Block::Fatal,
                };
                Ok((Worker::spawn(Unavailable(b))?, Some(b)))
            }
        }
    })
}
