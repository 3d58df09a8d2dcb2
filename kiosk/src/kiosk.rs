//! The kiosk's state machine: which screen, what has been gathered for the current
//! applicant, what the clerk may do next. No egui here — the view ([`crate::view`])
//! draws this state and calls its methods; tests can drive it directly.
//!
//! Flow: login → scan (or typed ID) → photo → review → choices → (PINs, express only)
//! → summary → sending → receipt → next applicant. Disabled, wiped or offline-locked
//! tablets show a blocked screen with no way past it. Idle for the policy's auto-lock
//! time, the kiosk logs out and forgets the applicant.
//!
//! What is held about the applicant (ID, photo, PINs) lives in zeroizing buffers and
//! is dropped — so wiped — on "next applicant", logout, auto-lock and block.

use shinsei_protocol::api::DeviceState;
use std::sync::Arc;

use shinsei_protocol::application::{
    Application, ApplicationId, BrailleWish, CertificateWish, Profile,
};
use zeroize::Zeroizing;

use crate::backend::{LoginInfo, Reply, Request, StatusInfo, Worker};
use crate::entry::{Entry, Kind, PinForm};
use crate::i18n::{self, Lang, T};
use guide::{Guide, Key, Say};
use shinsei_agent::audit::OverrideReason;
use shinsei_agent::clock::Clock;
use shinsei_agent::error::AgentError;
use shinsei_agent::runtime::SubmitOutcome;
use shinsei_capture::live::camera::{Camera, Event, Mode};
use shinsei_capture::live::vision::{Captured, PhotoView, ScanView, Vision};
use shinsei_capture::CaptureError;

pub mod guide;

/// Seconds between status ticks (check-in, outbox, status bar).
pub const TICK_SECS: f64 = 10.0;
/// Countdown before the automatic capture, seconds.
pub const COUNTDOWN_SECS: f64 = 3.0;
/// Seconds between activity notes sent to the agent's session.
pub const TOUCH_SECS: f64 = 5.0;

/// Seconds a send may take, once the application is safe in the outbox, before the
/// kiosk tells the clerk it is queued and lets them go on (a slow or silent relay).
pub const SEND_PATIENCE_SECS: f64 = 3.0;

/// Seconds after a camera failure before the camera is asked again.
pub const CAMERA_RETRY_SECS: f64 = 2.0;

/// Seconds of warning before the idle lock.
pub const IDLE_WARNING_SECS: f64 = 30.0;

/// A question the clerk answers before the kiosk goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Log out although an application is open (it is dropped).
    DiscardAndLogOut,
}

/// Why the tablet cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Disabled,
    Wiped,
    OfflineLocked,
    NotEnrolled,
    /// A freshly imaged tablet with an enrollment ticket: it made its own key and waits
    /// for IT to approve it by the fingerprint on this screen ([`Kiosk::fingerprint`]).
    AwaitingApproval,
    /// The tablet's own certificate ended (it was not renewed in time).
    CertificateExpired,
    Fatal,
}

impl Block {
    pub fn title(self) -> T {
        match self {
            Block::Disabled => T::BlockedDisabled,
            Block::Wiped => T::BlockedWiped,
            Block::OfflineLocked => T::BlockedOffline,
            Block::NotEnrolled => T::BlockedNotEnrolled,
            Block::AwaitingApproval => T::BlockedAwaitingApproval,
            Block::CertificateExpired => T::BlockedCertExpired,
            Block::Fatal => T::BlockedFatal,
        }
    }

    /// What the clerk should do.
    pub fn advice(self) -> T {
        match self {
            Block::OfflineLocked => T::BlockedOfflineWhat,
            Block::CertificateExpired => T::BlockedCertExpiredWhat,
            Block::AwaitingApproval => T::BlockedAwaitingApprovalWhat,
            _ => T::BlockedContactIt,
        }
    }

    fn of(e: &AgentError) -> Option<Self> {
        match e {
            AgentError::Disabled | AgentError::CertificateRefused(_) => Some(Block::Disabled),
            AgentError::Wiped => Some(Block::Wiped),
            AgentError::OfflineLocked => Some(Block::OfflineLocked),
            AgentError::CertificateExpired(_) => Some(Block::CertificateExpired),
            AgentError::NotEnrolled(_) | AgentError::Enroll(_) => Some(Block::NotEnrolled),
            AgentError::AwaitingApproval(_) => Some(Block::AwaitingApproval),
            AgentError::CorruptOutbox(_) | AgentError::AuditBroken(_) => Some(Block::Fatal),
            _ => None,
        }
    }
}

/// How the applicant's screens look (chosen by the applicant, for themselves only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Look {
    /// Dark on light, the size every screen has.
    #[default]
    Standard,
    /// Large text, high contrast: for applicants with low vision.
    Large,
}

/// The screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Login,
    Scan,
    ManualId,
    Photo,
    Review,
    Choices,
    Pins,
    Summary,
    Sending,
    Receipt,
    Blocked(Block),
}

impl Screen {
    /// A screen the applicant reads and answers (in their language), not the clerk.
    pub fn is_applicant(self) -> bool {
        matches!(
            self,
            Screen::Review
                | Screen::Choices
                | Screen::Pins
                | Screen::Summary
                | Screen::Sending
                | Screen::Receipt
        )
    }
}

/// Which login field the keyboard types into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginField {
    StaffId,
    Password,
}

/// A banner message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub error: bool,
    /// In the chosen language.
    pub text: String,
    /// Technical detail for IT (may be empty).
    pub detail: String,
}

/// The receipt screen's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptInfo {
    pub masked_id: String,
    /// Japan time, "YYYY-MM-DD HH:MM".
    pub time: String,
    pub delivered: bool,
}

/// The whole kiosk.
pub struct Kiosk {
    pub lang: Lang,
    pub screen: Screen,
    /// What the audio guidance has to say, oldest first (the app hands it to the
    /// speaker and empties it).
    pub speech: Vec<Say>,
    worker: Worker,
    camera: Option<Camera>,
    clock: Arc<dyn Clock>,

    pub staff_id: Zeroizing<String>,
    pub password: Entry,
    pub login_field: LoginField,
    /// The on-screen keypad types capitals into the password.
    pub keypad_upper: bool,
    pub login: Option<LoginInfo>,
    pub busy: bool,
    /// A staff ID's lock-out: the ID, and the kiosk time (seconds) it ends. Only that
    /// ID waits; another clerk can log in meanwhile.
    lockout: Option<(String, f64)>,
    /// A question the clerk must answer before going on (an overlay).
    pub confirm: Option<Confirm>,
    pub banner: Option<Banner>,
    /// Error kept to re-render the banner in the other language.
    banner_error: Option<AgentError>,
    banner_text: Option<T>,

    now: f64,
    last_activity: f64,
    last_touch_sent: f64,
    last_tick: Option<f64>,
    pub status: Option<StatusInfo>,
    /// The fingerprint of the tablet's own key while it waits for IT's approval.
    pub fingerprint: Option<String>,
    pub camera_error: Option<String>,
    /// When the camera last failed (kiosk time): it is asked again after
    /// [`CAMERA_RETRY_SECS`].
    camera_failed_at: f64,
    /// The send in progress is sealed in the outbox: its envelope and since when.
    queued: Option<(shinsei_protocol::envelope::EnvelopeId, f64)>,
    /// The kiosk moved on from a send still in progress: its late outcome only
    /// matters if it blocks the tablet.
    detached_send: bool,
    /// Incremented with every camera frame processed (the view re-uploads its texture).
    pub frame_serial: u64,
    /// Incremented with every photo taken (the review screen's textures follow it).
    pub capture_serial: u64,

    /// The applicant at the counter: everything of theirs, dropped whole.
    pub applicant: Applicant,
}

/// Everything about the applicant at the counter. `Kiosk::forget_applicant` replaces
/// it whole, so a field added here can never survive "next applicant", a logout, the
/// idle lock or a block (privacy by type, not by a list of fields to clear); the ID,
/// photo and PINs zeroize themselves when dropped.
pub struct Applicant {
    pub scan: Option<ScanView>,
    pub found: Option<ApplicationId>,
    pub manual: Entry,
    pub photo: Option<PhotoView>,
    countdown_from: Option<f64>,
    /// The last photo view passed every check (the camera thread can cut it).
    photo_ok: bool,
    /// A capture was asked for and has not come back.
    capturing: bool,
    pub captured: Option<Captured>,
    pub cert: Option<bool>,
    pub braille: Option<bool>,
    pub pins: PinForm,
    pub receipt: Option<ReceiptInfo>,
    /// The relay said this ID was sent before: offer an explicit resend.
    pub offer_resend: bool,
    /// A supervisor's override of the photo checks being filled in.
    pub override_form: Option<OverrideForm>,
    /// The photo was taken under a supervisor's override, for this reason.
    pub overridden: Option<OverrideReason>,
    /// The language the applicant chose for their screens (none: the clerk's). It
    /// lives and dies with the applicant: never logged, never sent (a language can
    /// hint at a nationality, which is not a permitted field).
    pub lang: Option<Lang>,
    /// The audio guidance, when the clerk started it for this applicant.
    pub guide: Option<Guide>,
    /// How their screens look. Like the language: theirs only, never logged or sent.
    pub look: Look,
}

/// The supervisor's approval of a photo the checks refuse: why, which face, and the
/// supervisor's own staff ID and password (another staff member than the clerk's).
pub struct OverrideForm {
    pub reason: Option<OverrideReason>,
    /// Which face to cut around, left to right.
    pub face: usize,
    pub supervisor: Zeroizing<String>,
    pub password: Entry,
    pub field: LoginField,
    /// The keypad types capitals.
    pub upper: bool,
    /// Sent to the agent; waiting for its answer.
    pub waiting: bool,
}

impl Applicant {
    /// Nobody yet.
    pub fn new() -> Self {
        Self {
            scan: None,
            found: None,
            manual: Entry::new(Kind::ApplicationId),
            photo: None,
            countdown_from: None,
            photo_ok: false,
            capturing: false,
            captured: None,
            cert: None,
            braille: None,
            pins: PinForm::new(),
            receipt: None,
            offer_resend: false,
            override_form: None,
            overridden: None,
            lang: None,
            guide: None,
            look: Look::Standard,
        }
    }
}

impl Default for Applicant {
    fn default() -> Self {
        Self::new()
    }
}

impl Kiosk {
    /// `vision`: `None` when the tablet has no camera (typed IDs only; photos cannot
    /// be taken, so applications cannot be completed — the screen says so).
    pub fn new(worker: Worker, vision: Option<Vision>, clock: Arc<dyn Clock>) -> Self {
        Self {
            lang: Lang::Ja,
            screen: Screen::Login,
            speech: Vec::new(),
            worker,
            camera: vision.and_then(|v| match Camera::spawn(v) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!("camera thread: {e}");
                    None
                }
            }),
            clock,
            staff_id: Zeroizing::new(String::new()),
            password: Entry::new(Kind::StaffPassword),
            login_field: LoginField::StaffId,
            keypad_upper: false,
            login: None,
            busy: false,
            lockout: None,
            confirm: None,
            banner: None,
            banner_error: None,
            banner_text: None,
            now: 0.0,
            last_activity: 0.0,
            last_touch_sent: 0.0,
            last_tick: None,
            status: None,
            fingerprint: None,
            camera_error: None,
            camera_failed_at: 0.0,
            queued: None,
            detached_send: false,
            frame_serial: 0,
            capture_serial: 0,
            applicant: Applicant::new(),
        }
    }

    /// A kiosk that starts on its blocked screen (a tablet whose agent cannot open).
    pub fn start_blocked(mut self, b: Block) -> Self {
        self.screen = Screen::Blocked(b);
        self
    }

    pub fn profile(&self) -> Option<Profile> {
        self.login.as_ref().map(|l| l.profile)
    }

    pub fn has_camera(&self) -> bool {
        self.camera.is_some()
    }

    // ---------------------------------------------------------------- messages

    fn show_error(&mut self, e: AgentError) {
        let (text, detail) = i18n::error_text(&e, self.lang);
        self.banner = Some(Banner {
            error: true,
            text,
            detail,
        });
        self.banner_error = Some(e);
        self.banner_text = None;
    }

    fn show_text(&mut self, t: T, error: bool) {
        self.banner = Some(Banner {
            error,
            text: t.get(self.lang).to_string(),
            detail: String::new(),
        });
        self.banner_text = Some(t);
        self.banner_error = None;
    }

    pub fn clear_banner(&mut self) {
        self.banner = None;
        self.banner_error = None;
        self.banner_text = None;
    }

    /// The language of the applicant's screens: the applicant's choice, else the
    /// clerk's.
    pub fn applicant_lang(&self) -> Lang {
        self.applicant.lang.unwrap_or(self.lang)
    }

    /// The applicant chooses the language of their screens (one tap on the picker).
    pub fn choose_applicant_lang(&mut self, lang: Lang) {
        self.applicant.lang = Some(lang);
    }

    /// The applicant turns large text and high contrast on or off, for their screens.
    pub fn toggle_look(&mut self) {
        self.applicant.look = match self.applicant.look {
            Look::Standard => Look::Large,
            Look::Large => Look::Standard,
        };
    }

    /// The look of the screen now showing: the applicant's on theirs, the standard one
    /// on the clerk's.
    pub fn screen_look(&self) -> Look {
        if self.screen.is_applicant() {
            self.applicant.look
        } else {
            Look::Standard
        }
    }

    /// The clerk starts the audio guidance for this applicant (on the applicant's
    /// screens): the audit log records that it was used; the keys are announced, then
    /// the screen's question.
    pub fn start_guide(&mut self) {
        if !self.screen.is_applicant() || self.applicant.guide.is_some() {
            return;
        }
        self.worker.send(Request::RecordGuidance);
        let mut g = Guide::new(self.screen);
        let intro = i18n::guide::intro(self.applicant_lang());
        let mut first = g.announce(self);
        first.text = format!("{intro} {}", first.text);
        self.speech.push(first);
        self.applicant.guide = Some(g);
    }

    /// The guidance cannot speak on this tablet (a synthesiser or the player is
    /// missing): it stops, and the clerk reads why.
    pub fn guide_unavailable(&mut self) {
        self.applicant.guide = None;
        self.speech.clear();
        self.show_text(T::GuideUnavailable, true);
    }

    /// The clerk stops the guidance (the screen works by touch as before).
    pub fn stop_guide(&mut self) {
        self.applicant.guide = None;
    }

    /// A key of the guidance keypad (ignored when the guidance is off).
    pub fn guide_key(&mut self, key: Key) {
        if let Some(mut g) = self.applicant.guide.take() {
            let say = g.press(self, key);
            self.speech.push(say);
            // A key that leaves the applicant's screens (back to the photo) ends it.
            if self.screen.is_applicant() {
                self.applicant.guide = Some(g);
            }
        }
    }

    /// A screen the guidance did not cause (sending → receipt) is announced.
    fn guide_follow(&mut self) {
        if let Some(mut g) = self.applicant.guide.take() {
            if g.screen != self.screen {
                let say = g.announce(self);
                self.speech.push(say);
            }
            self.applicant.guide = Some(g);
        }
    }

    /// The language of the texts now on screen (the fonts follow it).
    pub fn screen_lang(&self) -> Lang {
        if self.screen.is_applicant() {
            self.applicant_lang()
        } else {
            self.lang
        }
    }

    /// Switches the language; everything on screen, banners included, follows.
    pub fn toggle_lang(&mut self) {
        self.lang = self.lang.other();
        if let Some(e) = self.banner_error.take() {
            self.show_error(e);
        } else if let Some(t) = self.banner_text {
            let err = self.banner.as_ref().is_some_and(|b| b.error);
            self.show_text(t, err);
        }
    }

    /// Seconds left of the lock-out of the staff ID in the login field, for the
    /// countdown on the login screen.
    pub fn lockout_remaining(&self) -> Option<u64> {
        self.lockout
            .as_ref()
            .filter(|(id, _)| id.as_str() == self.staff_id.as_str())
            .map(|(_, t)| (t - self.now).ceil())
            .filter(|s| *s > 0.0)
            .map(|s| s as u64)
    }

    /// The idle lock's time limit (seconds without a touch): a little before the
    /// agent's own session would expire (touches lag by up to [`TOUCH_SECS`]), so the
    /// kiosk, not a failed send, ends the session.
    fn idle_limit(&self) -> Option<f64> {
        self.login
            .as_ref()
            .map(|l| (l.auto_lock_secs as f64 - TOUCH_SECS - 1.0).max(10.0))
    }

    // ---------------------------------------------------------------- time

    /// Called once per frame with the kiosk time (seconds, monotonic) and whether the
    /// clerk touched anything. Handles replies, ticks, auto-lock, camera frames and the
    /// capture countdown.
    pub fn update(&mut self, now: f64, activity: bool) {
        self.now = now;
        if activity {
            self.last_activity = now;
        }
        // Activity reaches the agent's session at most every 5 s, trailing included,
        // so the session never expires while the clerk is working.
        if self.login.is_some()
            && self.last_activity > self.last_touch_sent
            && now - self.last_touch_sent >= TOUCH_SECS
        {
            self.worker.send(Request::Touch);
            self.last_touch_sent = now;
        }
        while let Some(r) = self.worker.poll() {
            self.on_reply(r);
        }
        self.guide_follow();
        if self.worker.is_dead() && self.screen != Screen::Blocked(Block::Fatal) {
            tracing::error!("the agent worker thread stopped");
            self.block(Block::Fatal);
        }
        if let Some(limit) = self.idle_limit() {
            if now - self.last_activity >= limit && !self.busy {
                self.logout();
                self.show_text(T::AutoLocked, false);
            }
        }
        // A wiped, unenrolled or broken tablet has nothing more to ask the agent.
        let final_block = matches!(
            self.screen,
            Screen::Blocked(Block::Wiped | Block::NotEnrolled | Block::Fatal)
        );
        if !final_block
            && self.last_tick.is_none_or(|t| now - t >= TICK_SECS)
            && self.worker.pending() == 0
        {
            self.worker.send(Request::Tick);
            self.last_tick = Some(now);
        }
        if let Some(s) = self.lockout_remaining() {
            if let Some(b) = &mut self.banner {
                b.text = i18n::locked_out(s, self.lang);
            }
        } else if let Some((id, until)) = &self.lockout {
            if now >= *until {
                self.lockout = None;
                self.clear_banner();
            } else if id.as_str() != self.staff_id.as_str()
                && matches!(self.banner_error, Some(AgentError::LockedOut(_)))
            {
                // Another staff ID is being typed: the lock-out is not theirs.
                self.clear_banner();
            }
        }
        if let Some((id, since)) = self.queued {
            if self.screen == Screen::Sending && now - since >= SEND_PATIENCE_SECS {
                // Sealed in the outbox; the relay is slow or silent. The agent keeps
                // sending it; the clerk goes on.
                self.queued = None;
                self.detached_send = true;
                self.busy = false;
                self.on_sent(SubmitOutcome::Queued {
                    envelope_id: id,
                    reason: "the relay did not answer in time".into(),
                });
            }
        }
        self.camera_step();
        if self.screen == Screen::Photo && !self.applicant.capturing {
            match (
                self.applicant.countdown_from,
                self.applicant
                    .photo
                    .as_ref()
                    .map(|p| p.accepted() && self.applicant.photo_ok),
            ) {
                (Some(t), Some(true)) if now - t >= COUNTDOWN_SECS => self.take_photo(),
                (None, Some(true)) => self.applicant.countdown_from = Some(now),
                (_, Some(false)) => self.applicant.countdown_from = None,
                _ => {}
            }
        }
    }

    /// Seconds left before the idle lock, while its warning shows: the last
    /// [`IDLE_WARNING_SECS`] (at most half the limit). Any touch puts the lock off.
    pub fn idle_warning(&self) -> Option<u64> {
        let limit = self.idle_limit()?;
        if self.busy {
            return None;
        }
        let idle = self.now - self.last_activity;
        let warn = IDLE_WARNING_SECS.min(limit / 2.0);
        (idle >= limit - warn && idle < limit).then(|| (limit - idle).ceil() as u64)
    }

    /// Whether an application is open: something of the applicant would be lost.
    pub fn has_open_application(&self) -> bool {
        let a = &self.applicant;
        self.login.is_some()
            && !matches!(self.screen, Screen::Receipt | Screen::Sending)
            && (a.found.is_some()
                || a.captured.is_some()
                || a.cert.is_some()
                || a.braille.is_some()
                || !a.manual.is_empty())
    }

    /// The logout button: asks first when an application is open.
    pub fn request_logout(&mut self) {
        if self.has_open_application() {
            self.confirm = Some(Confirm::DiscardAndLogOut);
        } else {
            self.logout();
        }
    }

    /// The clerk's answer to [`Kiosk::confirm`]: `true` goes ahead.
    pub fn answer_confirm(&mut self, yes: bool) {
        match (self.confirm.take(), yes) {
            (Some(Confirm::DiscardAndLogOut), true) => self.logout(),
            _ => self.last_activity = self.now,
        }
    }

    /// Whole seconds left before the automatic capture.
    pub fn countdown(&self) -> Option<u32> {
        self.applicant
            .countdown_from
            .map(|t| (COUNTDOWN_SECS - (self.now - t)).ceil().max(1.0) as u32)
    }

    /// Whether something is in progress that needs frequent redraws.
    pub fn animating(&self) -> bool {
        self.busy
            || self.worker.pending() > 0
            || matches!(self.screen, Screen::Scan | Screen::Photo)
            || self.lockout.is_some()
            || self.idle_warning().is_some()
    }

    fn on_reply(&mut self, r: Reply) {
        match r {
            Reply::Login(r) => {
                self.busy = false;
                self.password.clear();
                match r {
                    Ok(info) => {
                        self.clear_banner();
                        self.lockout = None;
                        self.login = Some(info);
                        self.last_activity = self.now;
                        self.new_applicant();
                    }
                    Err(AgentError::LockedOut(s)) => {
                        self.lockout = Some((self.staff_id.to_string(), self.now + s as f64));
                        self.show_error(AgentError::LockedOut(s));
                    }
                    Err(e) => self.fail(e),
                }
            }
            Reply::Override(r) => {
                self.busy = false;
                let Some(form) = self.applicant.override_form.as_mut() else {
                    return;
                };
                form.waiting = false;
                form.password.clear();
                match r {
                    Ok(()) => {
                        let face = form.face;
                        self.applicant.overridden = form.reason;
                        self.applicant.override_form = None;
                        self.clear_banner();
                        if let Some(c) = &mut self.camera {
                            if self.screen == Screen::Photo {
                                c.capture_override(face);
                                self.applicant.capturing = true;
                            }
                        }
                    }
                    Err(e) => self.fail(e),
                }
            }
            Reply::Queued(id) => {
                if self.screen == Screen::Sending {
                    self.queued = Some((id, self.now));
                }
            }
            Reply::Submit(r) => {
                self.busy = false;
                self.queued = None;
                if std::mem::take(&mut self.detached_send) {
                    // The clerk was told it is queued and went on; the agent sends it.
                    if let Err(e) = r {
                        if Block::of(&e).is_some() {
                            self.fail(e);
                        }
                    }
                    return;
                }
                // Logged out, auto-locked or blocked while the send was in flight: the
                // outcome is the agent's business now (queued or delivered); the
                // kiosk only forgets the applicant, and still honours a block.
                if self.login.is_none() || self.screen != Screen::Sending {
                    self.forget_applicant();
                    if let Err(e) = r {
                        if Block::of(&e).is_some() {
                            self.fail(e);
                        }
                    }
                    return;
                }
                match r {
                    Ok(o) => self.on_sent(o),
                    Err(AgentError::AlreadySubmitted(d)) => {
                        self.screen = Screen::Summary;
                        self.applicant.offer_resend = true;
                        self.show_error(AgentError::AlreadySubmitted(d));
                    }
                    Err(AgentError::LoginRequired) => {
                        self.logout();
                        self.show_error(AgentError::LoginRequired);
                    }
                    Err(e) => {
                        self.screen = Screen::Summary;
                        self.fail(e);
                    }
                }
            }
            Reply::Tick(r) => match r {
                Ok(s) => {
                    if let Some(fp) = &s.awaiting_approval {
                        // A freshly imaged tablet: its key waits for IT's approval.
                        if self.screen != Screen::Blocked(Block::AwaitingApproval) {
                            self.fingerprint = Some(fp.clone());
                            self.block(Block::AwaitingApproval);
                        }
                    } else if let Screen::Blocked(b) = self.screen {
                        // IT re-enabled the tablet, or it came back online, or IT
                        // approved its own key (the tick passed the agent's checks).
                        if matches!(
                            b,
                            Block::Disabled | Block::OfflineLocked | Block::AwaitingApproval
                        ) && s.device_state == DeviceState::Active
                        {
                            self.screen = Screen::Login;
                            self.fingerprint = None;
                            self.clear_banner();
                        }
                    }
                    // A queued receipt on screen: once the queue is empty, it was sent.
                    if s.outbox == 0 && s.online {
                        if let Some(r) = &mut self.applicant.receipt {
                            r.delivered = true;
                        }
                    }
                    self.status = Some(s);
                }
                Err(e) => {
                    if Block::of(&e).is_some() {
                        self.fail(e);
                    } else {
                        tracing::warn!("status: {e}");
                    }
                }
            },
        }
    }

    /// An error: a blocking one ends the session and shows the blocked screen.
    fn fail(&mut self, e: AgentError) {
        if let AgentError::AwaitingApproval(fp) = &e {
            self.fingerprint = Some(fp.clone());
        }
        match Block::of(&e) {
            Some(b) => self.block(b),
            None => self.show_error(e),
        }
    }

    /// Ends the session, forgets the applicant, shows the blocked screen.
    pub fn block(&mut self, b: Block) {
        self.logout();
        self.clear_banner();
        self.busy = false;
        self.screen = Screen::Blocked(b);
        if let Some(s) = &mut self.status {
            s.device_state = match b {
                Block::Disabled => DeviceState::Disabled,
                Block::Wiped => DeviceState::Wiped,
                _ => s.device_state,
            };
        }
    }

    // ---------------------------------------------------------------- login

    /// Types a character into the focused login field.
    pub fn login_type(&mut self, c: char) {
        type_credential(self.login_field, &mut self.staff_id, &mut self.password, c);
    }

    pub fn login_backspace(&mut self) {
        backspace_credential(self.login_field, &mut self.staff_id, &mut self.password);
    }

    pub fn can_login(&self) -> bool {
        !self.busy
            && self.lockout_remaining().is_none()
            && !self.staff_id.is_empty()
            && !self.password.is_empty()
    }

    /// Sends the login; the password buffer goes to the worker, which wipes it.
    pub fn submit_login(&mut self) {
        if !self.can_login() {
            return;
        }
        let mut pw = Entry::new(Kind::StaffPassword);
        std::mem::swap(&mut pw, &mut self.password);
        self.busy = true;
        self.worker.send(Request::Login {
            staff_id: self.staff_id.to_string(),
            password: pw.into_buf(),
        });
    }

    pub fn logout(&mut self) {
        if self.login.take().is_some() {
            self.worker.send(Request::Logout);
        }
        self.confirm = None;
        self.forget_applicant();
        self.staff_id.clear();
        self.password.clear();
        self.login_field = LoginField::StaffId;
        self.keypad_upper = false;
        if !matches!(self.screen, Screen::Blocked(_)) {
            self.screen = Screen::Login;
        }
    }

    // ---------------------------------------------------------------- applicant

    /// Wipes everything about the current applicant.
    fn forget_applicant(&mut self) {
        self.applicant = Applicant::new();
        self.reset_camera();
    }

    /// A fresh start of the camera's current mode: results already on their way are
    /// stale (older epoch) and dropped.
    fn reset_camera(&mut self) {
        self.applicant.photo_ok = false;
        self.applicant.capturing = false;
        if let Some(c) = &mut self.camera {
            let m = c.mode();
            c.restart(m);
        }
    }

    /// Keeps the camera thread on what the screen needs, and takes its results.
    fn camera_step(&mut self) {
        let Some(cam) = &mut self.camera else { return };
        let want = match self.screen {
            Screen::Scan if self.applicant.found.is_none() => Mode::Scan,
            Screen::Photo => Mode::Photo,
            _ => Mode::Idle,
        };
        if want != cam.mode() {
            cam.set_mode(want);
            self.applicant.photo_ok = false;
            self.applicant.capturing = false;
        } else if want != Mode::Idle
            && self.camera_error.is_some()
            && self.now - self.camera_failed_at >= CAMERA_RETRY_SECS
        {
            // A lost frame or a camera that came back: ask again (the thread waits
            // after a failure).
            cam.restart(want);
            self.camera_failed_at = self.now;
        }
        let epoch = cam.epoch();
        let mut events = Vec::new();
        while let Some(ev) = cam.poll() {
            events.push(ev);
        }
        for ev in events {
            match ev {
                Event::Scan(e, view) if e == epoch && self.screen == Screen::Scan => {
                    if let Some(id) = &view.id {
                        self.applicant.found = Some(id.duplicate());
                    }
                    self.applicant.scan = Some(*view);
                    self.frame_serial += 1;
                    self.camera_works_again();
                }
                Event::Photo(e, view, ok) if e == epoch && self.screen == Screen::Photo => {
                    self.applicant.photo = Some(*view);
                    self.applicant.photo_ok = ok;
                    self.frame_serial += 1;
                    self.camera_works_again();
                }
                Event::Captured(e, r) if e == epoch && self.screen == Screen::Photo => {
                    self.applicant.capturing = false;
                    match *r {
                        Ok(c) => {
                            self.applicant.captured = Some(c);
                            self.capture_serial += 1;
                            self.worker.send(Request::RecordCapture);
                            self.clear_banner();
                            self.screen = Screen::Review;
                        }
                        Err(err) => {
                            tracing::warn!("capture: {err}");
                            self.applicant.photo_ok = false;
                            self.show_text(T::ErrPhoto, true);
                        }
                    }
                }
                Event::Failed(e, err) if e == epoch => self.camera_failed(err),
                // Stale (an earlier screen or applicant): dropped, and so wiped.
                _ => {}
            }
        }
    }

    /// Starts over for the next applicant.
    pub fn new_applicant(&mut self) {
        self.forget_applicant();
        self.clear_banner();
        if matches!(self.screen, Screen::Blocked(_)) {
            return;
        }
        self.screen = if self.login.is_none() {
            Screen::Login
        } else if self.has_camera() {
            Screen::Scan
        } else {
            Screen::ManualId
        };
    }

    /// A frame arrived: the camera error and its banner go.
    fn camera_works_again(&mut self) {
        if self.camera_error.take().is_some() && self.banner_text == Some(T::ErrCamera) {
            self.clear_banner();
        }
    }

    fn camera_failed(&mut self, e: CaptureError) {
        self.camera_error = Some(e.to_string());
        self.camera_failed_at = self.now;
        self.show_text(T::ErrCamera, true);
        tracing::warn!("camera: {e}");
    }

    /// The clerk checked the last four digits against the form.
    pub fn confirm_scan(&mut self) {
        if let Some(id) = &self.applicant.found {
            self.worker.send(Request::RecordScan(id.duplicate()));
            self.clear_banner();
            // A fresh photo screen: no earlier frame's countdown or verdict carries over.
            self.applicant.photo = None;
            self.applicant.photo_ok = false;
            self.applicant.countdown_from = None;
            self.screen = Screen::Photo;
        }
    }

    pub fn rescan(&mut self) {
        self.applicant.found = None;
        self.applicant.scan = None;
        self.applicant.photo = None;
        self.applicant.countdown_from = None;
        self.reset_camera();
    }

    pub fn manual_entry(&mut self) {
        self.applicant.manual.clear();
        self.screen = Screen::ManualId;
    }

    pub fn back_to_camera(&mut self) {
        if self.has_camera() {
            self.rescan();
            self.screen = Screen::Scan;
        }
    }

    /// The typed ID, accepted when it is 23 valid digits.
    pub fn confirm_manual(&mut self) {
        match self.applicant.manual.application_id() {
            Some(id) => {
                self.applicant.found = Some(id);
                self.confirm_scan();
            }
            None => self.show_text(T::ErrInput, true),
        }
    }

    /// A capture can be asked for: the last frame passed every check.
    pub fn can_take_photo(&self) -> bool {
        self.applicant.photo_ok && !self.applicant.capturing && self.screen == Screen::Photo
    }

    /// Asks the camera thread for the photo (the review screen follows its answer).
    pub fn take_photo(&mut self) {
        self.applicant.countdown_from = None;
        if !self.can_take_photo() {
            return;
        }
        if let Some(c) = &mut self.camera {
            c.capture();
            self.applicant.capturing = true;
        }
    }

    /// Whether a supervisor's override can be asked for: a face is in view but the
    /// checks refuse the photo.
    pub fn can_override(&self) -> bool {
        self.screen == Screen::Photo
            && !self.applicant.capturing
            && self
                .applicant
                .photo
                .as_ref()
                .is_some_and(|p| !p.faces.is_empty() && !p.accepted())
    }

    /// Opens the override form (the automatic capture stops meanwhile).
    pub fn start_override(&mut self) {
        if self.can_override() {
            self.applicant.countdown_from = None;
            self.applicant.override_form = Some(OverrideForm {
                reason: None,
                face: 0,
                supervisor: Zeroizing::new(String::new()),
                password: Entry::new(Kind::StaffPassword),
                field: LoginField::StaffId,
                upper: false,
                waiting: false,
            });
        }
    }

    pub fn cancel_override(&mut self) {
        self.applicant.override_form = None;
    }

    /// Types into the override form's focused field.
    pub fn override_type(&mut self, c: char) {
        if let Some(f) = &mut self.applicant.override_form {
            type_credential(f.field, &mut f.supervisor, &mut f.password, c);
        }
    }

    pub fn override_backspace(&mut self) {
        if let Some(f) = &mut self.applicant.override_form {
            backspace_credential(f.field, &mut f.supervisor, &mut f.password);
        }
    }

    pub fn override_clear(&mut self) {
        if let Some(f) = &mut self.applicant.override_form {
            match f.field {
                LoginField::StaffId => f.supervisor.clear(),
                LoginField::Password => f.password.clear(),
            }
        }
    }

    pub fn can_approve(&self) -> bool {
        !self.busy
            && self.applicant.override_form.as_ref().is_some_and(|f| {
                f.reason.is_some() && !f.supervisor.is_empty() && !f.password.is_empty()
            })
    }

    /// Sends the supervisor's approval; the password buffer goes to the worker.
    pub fn submit_override(&mut self) {
        if !self.can_approve() {
            return;
        }
        let Some(f) = &mut self.applicant.override_form else {
            return;
        };
        let Some(reason) = f.reason else { return };
        let mut pw = Entry::new(Kind::StaffPassword);
        std::mem::swap(&mut pw, &mut f.password);
        f.waiting = true;
        let supervisor = f.supervisor.to_string();
        self.busy = true;
        self.worker.send(Request::ApproveOverride {
            supervisor,
            password: pw.into_buf(),
            reason,
        });
    }

    /// Whether a capture is being cut and encoded.
    pub fn is_capturing(&self) -> bool {
        self.applicant.capturing
    }

    pub fn retake(&mut self) {
        self.applicant.override_form = None;
        self.applicant.overridden = None;
        self.applicant.captured = None;
        self.applicant.photo = None;
        self.applicant.countdown_from = None;
        self.reset_camera();
        self.screen = Screen::Photo;
    }

    pub fn use_photo(&mut self) {
        if self.applicant.captured.is_some() {
            self.screen = Screen::Choices;
        }
    }

    pub fn choices_done(&self) -> bool {
        self.applicant.cert.is_some() && self.applicant.braille.is_some()
    }

    pub fn after_choices(&mut self) {
        if !self.choices_done() {
            return;
        }
        self.screen = if self.profile() == Some(Profile::Express) {
            self.applicant
                .pins
                .set_certificates(self.applicant.cert == Some(true));
            Screen::Pins
        } else {
            Screen::Summary
        };
    }

    pub fn after_pins(&mut self) {
        if self.applicant.pins.all_ok() {
            self.screen = Screen::Summary;
        }
    }

    /// Goes one step back in the applicant's flow.
    pub fn back(&mut self) {
        self.clear_banner();
        self.applicant.offer_resend = false;
        self.screen = match self.screen {
            Screen::ManualId | Screen::Photo => {
                self.rescan();
                self.applicant.found = None;
                if self.has_camera() {
                    Screen::Scan
                } else {
                    Screen::ManualId
                }
            }
            Screen::Review => {
                self.retake();
                Screen::Photo
            }
            Screen::Choices => Screen::Review,
            Screen::Pins => Screen::Choices,
            Screen::Summary if self.profile() == Some(Profile::Express) => Screen::Pins,
            Screen::Summary => Screen::Choices,
            s => s,
        };
    }

    /// Builds the application from what was gathered (the draft stays until the
    /// relay's receipt or a queued outcome, so a refused send can be retried).
    fn build(&self) -> Result<Application, AgentError> {
        let id = self
            .applicant
            .found
            .as_ref()
            .map(ApplicationId::duplicate)
            .ok_or_else(|| AgentError::Input("application ID".into()))?;
        let c = self
            .applicant
            .captured
            .as_ref()
            .ok_or_else(|| AgentError::Input("photo".into()))?;
        let photo = shinsei_capture::photo::photo_from_jpeg(c.jpeg())
            .map_err(|e| AgentError::Input(e.to_string()))?;
        let cert = if self.applicant.cert == Some(true) {
            CertificateWish::Yes
        } else {
            CertificateWish::No
        };
        let braille = if self.applicant.braille == Some(true) {
            BrailleWish::Yes
        } else {
            BrailleWish::No
        };
        Ok(match self.profile() {
            Some(Profile::Express) => {
                let pins = self
                    .applicant
                    .pins
                    .build()
                    .map_err(|e| AgentError::Input(e.to_string()))?;
                Application::express(id, photo, cert, braille, pins)
                    .map_err(|e| AgentError::Input(e.to_string()))?
            }
            _ => Application::standard(id, photo, cert, braille),
        })
    }

    /// Seals and sends (on the worker); `resend` after an "already sent" answer.
    pub fn send(&mut self, resend: bool) {
        if self.busy {
            return;
        }
        match self.build() {
            Ok(app) => {
                self.busy = true;
                self.applicant.offer_resend = false;
                self.clear_banner();
                self.screen = Screen::Sending;
                self.worker.send(Request::Submit { app, resend });
            }
            Err(e) => self.show_error(e),
        }
    }

    fn on_sent(&mut self, o: SubmitOutcome) {
        let masked = self
            .applicant
            .found
            .as_ref()
            .map(ApplicationId::masked)
            .unwrap_or_default();
        let delivered = matches!(o, SubmitOutcome::Delivered { .. });
        let time = jst(self.clock.now());
        // The relay has it (or the outbox does, encrypted): forget the plaintext now.
        // The receipt stays in the applicant's language.
        let lang = self.applicant.lang;
        let guide = self.applicant.guide.take();
        let look = self.applicant.look;
        self.forget_applicant();
        self.applicant.lang = lang;
        self.applicant.guide = guide;
        self.applicant.look = look;
        self.applicant.receipt = Some(ReceiptInfo {
            masked_id: masked,
            time,
            delivered,
        });
        if let Some(s) = &mut self.status {
            if !delivered {
                s.outbox += 1;
                s.online = false;
            }
        }
        self.screen = Screen::Receipt;
        // Refresh the status bar soon.
        self.last_tick = Some(self.now - TICK_SECS + 0.5);
    }
}

/// Types `c` into a staff ID (the characters a staff ID may hold, at most 32) or a
/// password, whichever `field` is.
fn type_credential(field: LoginField, id: &mut Zeroizing<String>, password: &mut Entry, c: char) {
    match field {
        LoginField::StaffId => {
            if id.len() < 32 && (c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                id.push(c);
            }
        }
        LoginField::Password => {
            password.push(c);
        }
    }
}

fn backspace_credential(field: LoginField, id: &mut Zeroizing<String>, password: &mut Entry) {
    match field {
        LoginField::StaffId => {
            id.pop();
        }
        LoginField::Password => password.backspace(),
    }
}

/// Unix seconds as Japan time, "YYYY-MM-DD HH:MM" (JST has no daylight saving).
pub fn jst(unix: u64) -> String {
    let t = unix + 9 * 3600;
    let (days, secs) = (t / 86_400, t % 86_400);
    // Civil-from-days (H. Hinnant), for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jst_formats_japan_time() {
        assert_eq!(jst(0), "1970-01-01 09:00");
        // 2026-11-23 12:00 UTC = 21:00 JST.
        assert_eq!(jst(1_795_435_200), "2026-11-23 21:00");
        // Leap day, crossing midnight in JST.
        assert_eq!(jst(1_709_218_800), "2024-03-01 00:00");
    }
}
