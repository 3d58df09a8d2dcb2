//! What the kiosk asks of the agent, behind a trait so screen tests can script it, and
//! the worker thread that runs it so the screen never waits on the network.
//!
//! [`CounterBackend`] is the whole surface: log in/out, note activity, record a scan or
//! capture in the audit log, submit, and a periodic tick (check-in, outbox flush,
//! status). [`AgentBackend`] implements it over [`shinsei_agent::runtime::Agent`]; [`Worker`] owns a
//! backend on its own thread and talks to the UI through channels.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use shinsei_protocol::application::{Application, ApplicationId, Profile};

use shinsei_agent::clock::Clock;
use shinsei_agent::error::{AgentError, Result};
use shinsei_agent::memguard::LockedBuf;
use shinsei_agent::runtime::{Agent, SubmitOutcome};
use shinsei_agent::session::Session;

/// Returned by a successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginInfo {
    pub staff_id: String,
    /// Idle seconds before the kiosk locks (device policy).
    pub auto_lock_secs: u64,
    /// Standard or express issuance (device policy).
    pub profile: Profile,
}

/// The status bar's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInfo {
    pub device_id: String,
    /// The tablet has a network route (a default route on an interface that is up).
    pub network: bool,
    /// Relay answered the last check-in.
    pub online: bool,
    /// As the relay last reported it.
    pub device_state: shinsei_protocol::api::DeviceState,
    pub outbox: usize,
    /// The relay's host name.
    pub relay: String,
    /// A freshly imaged tablet waiting for IT to approve its own key: the key's
    /// fingerprint. The kiosk shows its approval screen, with the device ID, while set.
    pub awaiting_approval: Option<String>,
}

/// Everything the kiosk needs from the agent. Blocking; called on the worker thread.
pub trait CounterBackend: Send + 'static {
    fn login(&mut self, staff_id: &str, password: &[u8]) -> Result<LoginInfo>;
    fn logout(&mut self);
    /// The clerk is active (keeps the session alive).
    fn touch(&mut self);
    fn record_scan(&mut self, id: &ApplicationId);
    fn record_capture(&mut self);
    /// The audio guidance was started (the audit log says it was used, nothing else).
    fn record_guidance(&mut self) {}
    fn submit(&mut self, app: Application, resend: bool) -> Result<SubmitOutcome>;
    /// Like [`CounterBackend::submit`], calling `queued` as soon as the application is
    /// sealed and durably in the outbox (before the network is tried), so the kiosk can
    /// let the clerk move on when the relay is slow or silent. The default never calls
    /// it (the kiosk then waits for the outcome).
    fn submit_reporting(
        &mut self,
        app: Application,
        resend: bool,
        queued: &mut dyn FnMut(shinsei_protocol::envelope::EnvelopeId),
    ) -> Result<SubmitOutcome> {
        let _ = queued;
        self.submit(app, resend)
    }
    /// A supervisor's approval to set the photo checks aside (another staff member's
    /// ID and password, and the reason). The default refuses (a backend that cannot).
    fn approve_override(
        &mut self,
        supervisor: &str,
        password: &[u8],
        reason: shinsei_agent::audit::OverrideReason,
    ) -> Result<()> {
        let _ = (supervisor, password, reason);
        Err(AgentError::Internal(
            "photo overrides are not available".into(),
        ))
    }
    /// Check in, send what waits in the outbox, report. `Err(Disabled | Wiped |
    /// OfflineLocked)` puts the kiosk on its blocked screen.
    fn tick(&mut self) -> Result<StatusInfo>;
}

/// The real backend: one [`Agent`] and the current staff session. Once the agent
/// reports the tablet wiped, it is closed (which removes what is left of its outbox),
/// and every later call answers [`AgentError::Wiped`].
pub struct AgentBackend {
    agent: Option<Agent>,
    clock: Arc<dyn Clock>,
    session: Option<Session>,
    online: bool,
    /// When the operations log was last shipped (as the headless `run` does: at most
    /// once a minute while the relay answers).
    last_audit_ship: Option<std::time::Instant>,
}

/// How often the kiosk ships the operations log while online.
pub const AUDIT_SHIP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

impl AgentBackend {
    pub fn new(agent: Agent, clock: Arc<dyn Clock>) -> Self {
        Self {
            agent: Some(agent),
            clock,
            session: None,
            online: false,
            last_audit_ship: None,
        }
    }

    fn agent(&mut self) -> Result<&mut Agent> {
        self.agent.as_mut().ok_or(AgentError::Wiped)
    }

    /// Closes the agent after a wipe (closing it removes what is left of the outbox).
    fn after<T>(&mut self, r: Result<T>) -> Result<T> {
        if matches!(r, Err(AgentError::Wiped)) && self.agent.is_some() {
            self.session = None;
            drop(self.agent.take());
        }
        r
    }

    fn status_info(&mut self) -> Result<StatusInfo> {
        let online = self.online;
        let r = self.agent()?.status()?;
        let relay = r
            .relay
            .rsplit_once(':')
            .map_or(r.relay.clone(), |(h, _)| h.to_string());
        Ok(StatusInfo {
            device_id: r.device_id,
            network: has_default_route(
                // Through `self`: the kiosk's unit shows only process directories
                // (`ProcSubset=pid`), where `/proc/net` does not exist; the booted
                // image showed "network offline" while the relay answered.
                &std::fs::read_to_string("/proc/self/net/route").unwrap_or_default(),
                &std::fs::read_to_string("/proc/self/net/ipv6_route").unwrap_or_default(),
            ),
            online,
            device_state: r.state,
            outbox: r.outbox,
            relay,
            awaiting_approval: r.awaiting_approval,
        })
    }

    fn tick_inner(&mut self) -> Result<StatusInfo> {
        // As `Agent::sync_state`, but noting whether the relay answered.
        let due = self
            .last_audit_ship
            .is_none_or(|t| t.elapsed() >= AUDIT_SHIP_INTERVAL);
        let agent = self.agent()?;
        agent.tick_lease()?;
        let online = match agent.checkin(0) {
            Ok(_) => true,
            Err(e @ AgentError::Wiped) => return Err(e),
            Err(e) => {
                tracing::warn!("check-in: {e}");
                false
            }
        };
        match agent.check_allowed() {
            Ok(()) => {}
            // Waiting for IT: the status (device ID, fingerprint) for the approval
            // screen; nothing else runs until the tablet's own certificate is in.
            Err(AgentError::AwaitingApproval(_)) => {
                self.online = online;
                return self.status_info();
            }
            Err(e) => return Err(e),
        }
        if online && !agent.outbox().is_empty() {
            match agent.flush_outbox(false) {
                Err(e @ AgentError::Wiped) => return Err(e),
                Err(e) => tracing::warn!("outbox: {e}"),
                Ok(_) => {}
            }
        }
        if online && due {
            match agent.ship_audit() {
                Err(e @ AgentError::Wiped) => return Err(e),
                Err(e) => tracing::warn!("audit shipping: {e}"),
                Ok(_) => {}
            }
        }
        if online && due {
            self.last_audit_ship = Some(std::time::Instant::now());
        }
        self.online = online;
        self.status_info()
    }
}

impl CounterBackend for AgentBackend {
    fn login(&mut self, staff_id: &str, password: &[u8]) -> Result<LoginInfo> {
        let r = (|| {
            let agent = self.agent()?;
            let s = agent.login(staff_id, password)?;
            let p = &agent.enrollment().policy;
            let info = LoginInfo {
                staff_id: s.staff_id().to_string(),
                auto_lock_secs: u64::from(p.auto_lock_secs),
                profile: match p.profile {
                    shinsei_protocol::bundle::Profile::Express => Profile::Express,
                    shinsei_protocol::bundle::Profile::Standard => Profile::Standard,
                },
            };
            Ok((s, info))
        })();
        let (s, info) = self.after(r)?;
        self.session = Some(s);
        Ok(info)
    }

    fn logout(&mut self) {
        if let (Some(mut s), Some(agent)) = (self.session.take(), self.agent.as_mut()) {
            agent.logout(&mut s);
        }
    }

    fn touch(&mut self) {
        let now = self.clock.now();
        if let Some(s) = &mut self.session {
            s.touch(now);
        }
    }

    fn record_scan(&mut self, id: &ApplicationId) {
        if let (Some(s), Some(agent)) = (&self.session, &self.agent) {
            agent.record_scan(s, id.as_bytes());
        }
    }

    fn record_capture(&mut self) {
        if let (Some(s), Some(agent)) = (&self.session, &self.agent) {
            agent.record_capture(s);
        }
    }

    fn record_guidance(&mut self) {
        if let (Some(s), Some(agent)) = (&self.session, &self.agent) {
            agent.record_guidance(s);
        }
    }

    fn submit(&mut self, app: Application, resend: bool) -> Result<SubmitOutcome> {
        self.submit_reporting(app, resend, &mut |_| {})
    }

    fn submit_reporting(
        &mut self,
        app: Application,
        resend: bool,
        queued: &mut dyn FnMut(shinsei_protocol::envelope::EnvelopeId),
    ) -> Result<SubmitOutcome> {
        let r = match (self.session.as_mut(), self.agent.as_mut()) {
            (Some(s), Some(agent)) => match agent.queue_application(s, app, resend) {
                Ok(id) => {
                    queued(id);
                    agent.deliver(id)
                }
                Err(e) => Err(e),
            },
            (_, None) => Err(AgentError::Wiped),
            (None, _) => Err(AgentError::LoginRequired),
        };
        if r.is_ok() {
            self.online = !matches!(r, Ok(SubmitOutcome::Queued { .. }));
        }
        self.after(r)
    }

    fn approve_override(
        &mut self,
        supervisor: &str,
        password: &[u8],
        reason: shinsei_agent::audit::OverrideReason,
    ) -> Result<()> {
        let r = match (self.session.as_mut(), self.agent.as_mut()) {
            (Some(s), Some(agent)) => agent.approve_photo_override(s, supervisor, password, reason),
            (_, None) => Err(AgentError::Wiped),
            (None, _) => Err(AgentError::LoginRequired),
        };
        self.after(r)
    }

    fn tick(&mut self) -> Result<StatusInfo> {
        let r = self.tick_inner();
        self.after(r)
    }
}

pub use shinsei_agent::route::has_default_route;

/// A request from the screen.
pub enum Request {
    Login {
        staff_id: String,
        password: LockedBuf,
    },
    Logout,
    Touch,
    RecordScan(ApplicationId),
    RecordCapture,
    RecordGuidance,
    /// A supervisor's approval of a photo the checks refuse.
    ApproveOverride {
        supervisor: String,
        password: LockedBuf,
        reason: shinsei_agent::audit::OverrideReason,
    },
    Submit {
        app: Application,
        resend: bool,
    },
    Tick,
}

/// An answer to the screen.
pub enum Reply {
    Login(Result<LoginInfo>),
    Override(Result<()>),
    /// The application of the submit in progress is sealed in the outbox (the final
    /// [`Reply::Submit`] still follows).
    Queued(shinsei_protocol::envelope::EnvelopeId),
    Submit(Result<SubmitOutcome>),
    Tick(Result<StatusInfo>),
}

/// A backend on its own thread.
pub struct Worker {
    tx: Option<Sender<Request>>,
    rx: Receiver<Reply>,
    handle: Option<JoinHandle<()>>,
    /// Requests sent whose reply has not arrived.
    pending: usize,
    /// The thread is gone (it panicked): nothing will ever answer.
    dead: bool,
}

impl Worker {
    pub fn spawn(mut backend: impl CounterBackend) -> std::io::Result<Self> {
        let (tx, req_rx) = mpsc::channel::<Request>();
        let (rep_tx, rx) = mpsc::channel::<Reply>();
        let handle = std::thread::Builder::new()
            .name("shinsei-kiosk-agent".into())
            .spawn(move || {
                while let Ok(req) = req_rx.recv() {
                    let reply = match req {
                        Request::Login { staff_id, password } => {
                            let r = backend.login(&staff_id, password.as_slice());
                            drop(password);
                            Some(Reply::Login(r))
                        }
                        Request::Logout => {
                            backend.logout();
                            None
                        }
                        Request::Touch => {
                            backend.touch();
                            None
                        }
                        Request::RecordScan(id) => {
                            backend.record_scan(&id);
                            None
                        }
                        Request::RecordGuidance => {
                            backend.record_guidance();
                            None
                        }
                        Request::RecordCapture => {
                            backend.record_capture();
                            None
                        }
                        Request::ApproveOverride {
                            supervisor,
                            password,
                            reason,
                        } => {
                            let r =
                                backend.approve_override(&supervisor, password.as_slice(), reason);
                            drop(password);
                            Some(Reply::Override(r))
                        }
                        Request::Submit { app, resend } => {
                            let progress = rep_tx.clone();
                            let r = backend.submit_reporting(app, resend, &mut |id| {
                                let _ = progress.send(Reply::Queued(id));
                            });
                            Some(Reply::Submit(r))
                        }
                        Request::Tick => Some(Reply::Tick(backend.tick())),
                    };
                    if let Some(r) = reply {
                        if rep_tx.send(r).is_err() {
                            break;
                        }
                    }
                }
                backend.logout();
            })?;
        Ok(Self {
            tx: Some(tx),
            rx,
            handle: Some(handle),
            pending: 0,
            dead: false,
        })
    }

    /// Sends a request (fire and forget for those without a reply); `false` when the
    /// worker is gone.
    pub fn send(&mut self, r: Request) -> bool {
        let expects_reply = matches!(
            r,
            Request::Login { .. }
                | Request::Submit { .. }
                | Request::Tick
                | Request::ApproveOverride { .. }
        );
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(r).is_ok());
        if !sent {
            self.dead = true;
        } else if expects_reply {
            self.pending += 1;
        }
        sent
    }

    /// A reply, if one arrived.
    pub fn poll(&mut self) -> Option<Reply> {
        match self.rx.try_recv() {
            Ok(r) => {
                // A progress note is not the reply a request waits for.
                if !matches!(r, Reply::Queued(_)) {
                    self.pending = self.pending.saturating_sub(1);
                }
                Some(r)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.dead = true;
                None
            }
        }
    }

    /// The worker thread ended (a panic): the kiosk must stop.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Waits up to `timeout` for a reply (tests, and the clean shutdown).
    pub fn wait(&mut self, timeout: std::time::Duration) -> Option<Reply> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => {
                // A progress note is not the reply a request waits for.
                if !matches!(r, Reply::Queued(_)) {
                    self.pending = self.pending.saturating_sub(1);
                }
                Some(r)
            }
            Err(_) => None,
        }
    }

    pub fn pending(&self) -> usize {
        self.pending
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread after the request in progress (which
        // logs the session out).
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
