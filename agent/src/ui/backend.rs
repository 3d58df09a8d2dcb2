//! What the kiosk asks of the agent, behind a trait so screen tests can script it, and
//! the worker thread that runs it so the screen never waits on the network.
//!
//! [`CounterBackend`] is the whole surface: log in/out, note activity, record a scan or
//! capture in the audit log, submit, and a periodic tick (check-in, outbox flush,
//! status). [`AgentBackend`] implements it over [`runtime::Agent`]; [`Worker`] owns a
//! backend on its own thread and talks to the UI through channels.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use shinsei_protocol::application::{Application, ApplicationId, Profile};

use crate::clock::Clock;
use crate::error::{AgentError, Result};
use crate::memguard::LockedBuf;
use crate::runtime::{Agent, SubmitOutcome};
use crate::session::Session;

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
    /// "active", "disabled", …
    pub device_state: String,
    pub outbox: usize,
    /// The relay's host name.
    pub relay: String,
}

/// Everything the kiosk needs from the agent. Blocking; called on the worker thread.
pub trait CounterBackend: Send + 'static {
    fn login(&mut self, staff_id: &str, password: &[u8]) -> Result<LoginInfo>;
    fn logout(&mut self);
    /// The clerk is active (keeps the session alive).
    fn touch(&mut self);
    fn record_scan(&mut self, id: &ApplicationId);
    fn record_capture(&mut self);
    fn submit(&mut self, app: Application, resend: bool) -> Result<SubmitOutcome>;
    /// Check in, send what waits in the outbox, report. `Err(Disabled | Wiped |
    /// OfflineLocked)` puts the kiosk on its blocked screen.
    fn tick(&mut self) -> Result<StatusInfo>;
}

/// The real backend: one [`Agent`] and the current staff session.
pub struct AgentBackend {
    agent: Agent,
    clock: Arc<dyn Clock>,
    session: Option<Session>,
    online: bool,
}

impl AgentBackend {
    pub fn new(agent: Agent, clock: Arc<dyn Clock>) -> Self {
        Self {
            agent,
            clock,
            session: None,
            online: false,
        }
    }

    fn status_info(&mut self) -> Result<StatusInfo> {
        let r = self.agent.status()?;
        let relay = r
            .relay
            .rsplit_once(':')
            .map_or(r.relay.clone(), |(h, _)| h.to_string());
        Ok(StatusInfo {
            device_id: r.device_id,
            network: has_default_route(
                &std::fs::read_to_string("/proc/net/route").unwrap_or_default(),
                &std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default(),
            ),
            online: self.online,
            device_state: r.state,
            outbox: r.outbox,
            relay,
        })
    }
}

impl CounterBackend for AgentBackend {
    fn login(&mut self, staff_id: &str, password: &[u8]) -> Result<LoginInfo> {
        let s = self.agent.login(staff_id, password)?;
        let p = &self.agent.enrollment().policy;
        let info = LoginInfo {
            staff_id: s.staff_id().to_string(),
            auto_lock_secs: u64::from(p.auto_lock_secs),
            profile: match p.profile {
                shinsei_protocol::bundle::Profile::Express => Profile::Express,
                shinsei_protocol::bundle::Profile::Standard => Profile::Standard,
            },
        };
        self.session = Some(s);
        Ok(info)
    }

    fn logout(&mut self) {
        if let Some(mut s) = self.session.take() {
            self.agent.logout(&mut s);
        }
    }

    fn touch(&mut self) {
        let now = self.clock.now();
        if let Some(s) = &mut self.session {
            s.touch(now);
        }
    }

    fn record_scan(&mut self, id: &ApplicationId) {
        if let Some(s) = &self.session {
            self.agent.record_scan(s, id.as_bytes());
        }
    }

    fn record_capture(&mut self) {
        if let Some(s) = &self.session {
            self.agent.record_capture(s);
        }
    }

    fn submit(&mut self, app: Application, resend: bool) -> Result<SubmitOutcome> {
        let Some(s) = self.session.as_mut() else {
            return Err(AgentError::LoginRequired);
        };
        let r = self.agent.submit_with(s, app, resend);
        self.online = !matches!(r, Ok(SubmitOutcome::Queued { .. }));
        r
    }

    fn tick(&mut self) -> Result<StatusInfo> {
        // As `Agent::sync_state`, but noting whether the relay answered.
        self.agent.tick_lease()?;
        match self.agent.checkin(0) {
            Ok(_) => self.online = true,
            Err(e @ AgentError::Wiped) => return Err(e),
            Err(e) => {
                self.online = false;
                tracing::warn!("check-in: {e}");
            }
        }
        self.agent.check_allowed()?;
        if self.online && !self.agent.outbox().is_empty() {
            match self.agent.flush_outbox(false) {
                Err(e @ AgentError::Wiped) => return Err(e),
                Err(e) => tracing::warn!("outbox: {e}"),
                Ok(_) => {}
            }
        }
        self.status_info()
    }
}

/// Whether the kernel's routing tables (`/proc/net/route`, `/proc/net/ipv6_route`)
/// hold a default route that is up on an interface other than loopback.
pub fn has_default_route(ipv4: &str, ipv6: &str) -> bool {
    let v4 = ipv4.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3
            && f[0] != "lo"
            && f[1] == "00000000"
            && u32::from_str_radix(f[3], 16).is_ok_and(|flags| flags & 1 == 1)
    });
    let v6 = ipv6.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() == 10
            && f[0] == "00000000000000000000000000000000"
            && f[1] == "00"
            && f[9] != "lo"
            && u32::from_str_radix(f[8], 16).is_ok_and(|flags| flags & 1 == 1)
    });
    v4 || v6
}

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
    Submit {
        app: Application,
        resend: bool,
    },
    Tick,
}

/// An answer to the screen.
pub enum Reply {
    Login(Result<LoginInfo>),
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
                        Request::RecordCapture => {
                            backend.record_capture();
                            None
                        }
                        Request::Submit { app, resend } => {
                            Some(Reply::Submit(backend.submit(app, resend)))
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
        })
    }

    /// Sends a request (fire and forget for those without a reply).
    pub fn send(&mut self, r: Request) {
        let expects_reply = matches!(
            r,
            Request::Login { .. } | Request::Submit { .. } | Request::Tick
        );
        if let Some(tx) = &self.tx {
            if tx.send(r).is_ok() && expects_reply {
                self.pending += 1;
            }
        }
    }

    /// A reply, if one arrived.
    pub fn poll(&mut self) -> Option<Reply> {
        match self.rx.try_recv() {
            Ok(r) => {
                self.pending = self.pending.saturating_sub(1);
                Some(r)
            }
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => None,
        }
    }

    /// Waits up to `timeout` for a reply (tests, and the clean shutdown).
    pub fn wait(&mut self, timeout: std::time::Duration) -> Option<Reply> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => {
                self.pending = self.pending.saturating_sub(1);
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

#[cfg(test)]
mod tests {
    use super::has_default_route;

    #[test]
    fn default_route_from_proc() {
        let v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                  wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\n\
                  wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\n";
        assert!(has_default_route(v4, ""));
        let no_default = "Iface\tDestination\tGateway\tFlags\n\
                          wlan0\t0001A8C0\t00000000\t0001\n";
        assert!(!has_default_route(no_default, ""));
        let down = "Iface\tDestination\tGateway\tFlags\n\
                    wlan0\t00000000\t0101A8C0\t0002\n";
        assert!(!has_default_route(down, ""));
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n\
                  00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n";
        assert!(has_default_route("", v6));
        assert!(!has_default_route("garbage", "garbage\n"));
    }
}
