//! IT's fleet console in the browser (issue 17): served on loopback by `shinsei-console`,
//! which holds the admin credential, so the browser never sees a private key.
//!
//! - [`auth`]: one-time login token, expiring sessions, CSRF tokens;
//! - [`guard`]: `Host` and `Origin` checks (no DNS rebinding), strict CSP, `no-store`;
//! - `pages/`: one file per screen (fleet, audit) and the shell; HTML from `maud`
//!   (escaped by construction), no inline script or style, assets compiled in;
//! - [`backend`]: the relay's admin API through the provisioning tool's client.
//!
//! Every order is the relay's to allow: roles, the two-person rule and the audit are
//! enforced there, whoever the client is; the console shows what the relay answers.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod assets;
pub mod auth;
pub mod backend;
pub mod guard;
mod pages;

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{Form, Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use shinsei_protocol::{
    api::{ActionRequest, AdminAction},
    device::DeviceId,
};

use crate::{auth::Sessions, backend::Backend, guard::Port};

/// The session cookie's name.
const COOKIE: &str = "shinsei_console";

/// The console: its sessions, the relay client, its own port.
pub struct Console {
    sessions: Sessions,
    backend: Arc<dyn Backend>,
    port: u16,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// A console on `port` over `backend`, and its one-time login token.
    pub fn new(
        backend: Arc<dyn Backend>,
        port: u16,
    ) -> Result<(Arc<Self>, String), auth::AuthError> {
        let (sessions, token) = Sessions::new()?;
        Ok((
            Arc::new(Self {
                sessions,
                backend,
                port,
            }),
            token,
        ))
    }

    /// The URL that logs in once.
    pub fn login_url(&self, token: &str) -> String {
        format!("http://127.0.0.1:{}/login?token={token}", self.port)
    }
}

/// The routes, behind [`guard::guard`].
pub fn router(console: Arc<Console>) -> Router {
    let port = Port(console.port);
    Router::new()
        .route("/", get(fleet))
        .route("/login", get(login))
        .route("/logout", post(logout))
        .route("/audit", get(audit))
        .route("/fleet/state.json", get(fleet_state))
        .route("/devices/{id}/{action}", post(order))
        .route("/devices/{id}/log", get(device_log))
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .with_state(console)
        .layer(axum::middleware::from_fn_with_state(port, guard::guard))
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE).then(|| v.to_owned())
        })
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    (
        status,
        Html(pages::message::page(title, text).into_string()),
    )
        .into_response()
}

fn not_logged_in() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "ログインしていません / Not logged in",
        "コンソールを起動したコマンドが表示したURLを開いてください（1回限り） / open the URL the console command printed (it works once).",
    )
}

/// The session (ID and CSRF token) of a request, if live.
fn session(c: &Console, headers: &HeaderMap) -> Option<(String, String)> {
    let id = session_id(headers)?;
    let csrf = c.sessions.check(&id, Instant::now()).ok()?;
    Some((id, csrf))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
}

#[derive(Deserialize)]
struct LoginQuery {
    token: String,
}

async fn login(State(c): State<Arc<Console>>, Query(q): Query<LoginQuery>) -> Response {
    match c.sessions.redeem(&q.token, Instant::now()) {
        Ok(id) => {
            let cookie = format!(
                "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                auth::MAX_SECS
            );
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            tracing::info!("console: logged in with the one-time token");
            r
        }
        Err(e) => {
            tracing::warn!("console: login refused: {e}");
            message(
                StatusCode::FORBIDDEN,
                "ログインできません / Login refused",
                "このURLは無効か使用済みです。コンソールを起動し直すと新しいURLが表示されます / this URL is wrong or was already used; restart the console for a new one.",
            )
        }
    }
}

async fn fleet(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let Some((id, csrf)) = session(&c, &headers) else {
        return not_logged_in();
    };
    let flash = c.sessions.take_flash(&id);
    let b = c.backend.clone();
    let body = match blocking(move || b.devices()).await {
        Ok(list) => pages::fleet::body(&list, &csrf),
        Err(e) => {
            maud::html! { p.flash.error id="error" { "リレーに問い合わせできません / cannot ask the relay: " (e) } }
        }
    };
    Html(pages::layout::page("端末 / Devices", &csrf, flash.as_deref(), body).into_string())
        .into_response()
}

async fn fleet_state(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if session(&c, &headers).is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let b = c.backend.clone();
    match blocking(move || b.devices()).await {
        Ok(list) => Json(pages::fleet::states(&list)).into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn audit(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let Some((id, csrf)) = session(&c, &headers) else {
        return not_logged_in();
    };
    let flash = c.sessions.take_flash(&id);
    let b = c.backend.clone();
    let body = match blocking(move || b.audit()).await {
        Ok(log) => pages::audit::body(&log),
        Err(e) => {
            maud::html! { p.flash.error id="error" { "リレーに問い合わせできません / cannot ask the relay: " (e) } }
        }
    };
    Html(pages::layout::page("監査ログ / Audit", &csrf, flash.as_deref(), body).into_string())
        .into_response()
}

async fn device_log(
    State(c): State<Arc<Console>>,
    Path(device): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((id, csrf)) = session(&c, &headers) else {
        return not_logged_in();
    };
    let Ok(dev) = DeviceId::parse(&device) else {
        return message(
            StatusCode::BAD_REQUEST,
            "不正な要求 / Bad request",
            "no such device",
        );
    };
    let flash = c.sessions.take_flash(&id);
    let b = c.backend.clone();
    let body = match blocking(move || b.device_audit(&dev)).await {
        Ok(v) => pages::device_log::body(&v),
        Err(e) => {
            maud::html! { p.flash.error id="error" { "リレーに問い合わせできません / cannot ask the relay: " (e) } }
        }
    };
    Html(
        pages::layout::page("操作ログ / Operations log", &csrf, flash.as_deref(), body)
            .into_string(),
    )
    .into_response()
}

#[derive(Deserialize)]
struct OrderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    emergency: Option<String>,
}

/// Checks the form's session and CSRF token: the session ID.
fn check_form(c: &Console, headers: &HeaderMap, csrf: &str) -> Result<String, auth::AuthError> {
    let id = session_id(headers).ok_or(auth::AuthError::NoSession)?;
    c.sessions.check_post(&id, csrf, Instant::now())?;
    Ok(id)
}

/// The answer to a form refused by [`check_form`].
fn refused_form(e: auth::AuthError) -> Response {
    if e == auth::AuthError::BadCsrf {
        tracing::warn!("console: refused a form without its CSRF token");
        message(
            StatusCode::FORBIDDEN,
            "拒否しました / Refused",
            "フォームのCSRFトークンがありません / the form's CSRF token is missing or wrong.",
        )
    } else {
        not_logged_in()
    }
}

async fn order(
    State(c): State<Arc<Console>>,
    Path((device, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(f): Form<OrderForm>,
) -> Response {
    let id = match check_form(&c, &headers, &f.csrf) {
        Ok(id) => id,
        Err(e) => return refused_form(e),
    };
    let (Some(action), Ok(dev)) = (AdminAction::parse(&action), DeviceId::parse(&device)) else {
        return message(
            StatusCode::BAD_REQUEST,
            "不正な要求 / Bad request",
            "no such device or order",
        );
    };
    let reason = f.reason.trim().to_owned();
    let ask = ActionRequest {
        reason: (!reason.is_empty()).then_some(reason),
        emergency: f.emergency.is_some(),
    };
    let b = c.backend.clone();
    let d = dev.clone();
    let text = match blocking(move || b.action(&d, action, &ask)).await {
        Ok(r) => match &r.pending {
            Some(p) => format!(
                "{dev}: {action} は2人目のセキュリティ責任者の承認待ちです（{} まで） / the {action} waits for a second security officer until then",
                pages::when(p.expires_at)
            ),
            None => format!("{dev}: {action} → {}", r.state.as_str()),
        },
        Err(e) => format!("{dev}: {action} は拒否されました / was refused: {e}"),
    };
    tracing::info!(device = %dev, action = %action, "console: order given");
    c.sessions.set_flash(&id, text);
    Redirect::to("/").into_response()
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    match check_form(&c, &headers, &f.csrf) {
        Ok(id) => {
            c.sessions.end(&id);
            message(
                StatusCode::OK,
                "ログアウトしました / Logged out",
                "セッションを終了しました / the session has ended.",
            )
        }
        Err(e) => refused_form(e),
    }
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        assets::CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        assets::JS,
    )
}
