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
pub mod local;
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
    api::{ActionRequest, AdminAction, RenewalHold},
    device::DeviceId,
};

use crate::{auth::Sessions, backend::Backend, guard::Port};

/// The session cookie's name.
const COOKIE: &str = "shinsei_console";

/// The console: its sessions, the relay client, its own port, the local PKI directory.
pub struct Console {
    sessions: Sessions,
    backend: Arc<dyn Backend>,
    port: u16,
    local: Option<Arc<local::LocalPki>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// A console on `port` over `backend` (and, for the staff and certificate pages,
    /// the local PKI directory), and its one-time login token.
    pub fn new(
        backend: Arc<dyn Backend>,
        port: u16,
        local: Option<local::LocalPki>,
    ) -> Result<(Arc<Self>, String), auth::AuthError> {
        let (sessions, token) = Sessions::new()?;
        Ok((
            Arc::new(Self {
                sessions,
                backend,
                port,
                local: local.map(Arc::new),
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
        .route("/devices/{id}/renewal-hold", post(renewal_hold))
        .route("/devices/{id}/{action}", post(order))
        .route("/certificates", get(certificates))
        .route("/staff", get(staff_page))
        .route("/staff/add", post(staff_add))
        .route("/staff/publish", post(staff_publish))
        .route("/staff/{id}/{op}", post(staff_change))
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

async fn fleet(
    State(c): State<Arc<Console>>,
    Query(f): Query<pages::fleet::Filter>,
    headers: HeaderMap,
) -> Response {
    let Some((id, csrf)) = session(&c, &headers) else {
        return not_logged_in();
    };
    let flash = c.sessions.take_flash(&id);
    let b = c.backend.clone();
    let body = match blocking(move || b.devices()).await {
        Ok(list) => pages::fleet::body(&list, &f, &csrf),
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

fn relay_error(e: &str) -> maud::Markup {
    maud::html! { p.flash.error id="error" { "リレーに問い合わせできません / cannot ask the relay: " (e) } }
}

fn no_local() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "PKIディレクトリがありません / No PKI directory",
        "このコンソールは PKI ディレクトリなしで起動されました / this console was started without the PKI directory.",
    )
}

async fn certificates(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let Some((id, csrf)) = session(&c, &headers) else {
        return not_logged_in();
    };
    let flash = c.sessions.take_flash(&id);
    let b = c.backend.clone();
    let local = c.local.clone();
    let got = blocking(move || {
        let ward = local.map(|l| l.ward_certificates()).unwrap_or_default();
        Ok((b.devices()?, ward))
    })
    .await;
    let body = match got {
        Ok((list, ward)) => pages::certificates::body(&list, &ward, &csrf, pages::fleet::now()),
        Err(e) => relay_error(&e),
    };
    Html(pages::layout::page("証明書 / Certificates", &csrf, flash.as_deref(), body).into_string())
        .into_response()
}

#[derive(Deserialize)]
struct HoldForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hold: String,
    #[serde(default)]
    reason: String,
}

async fn renewal_hold(
    State(c): State<Arc<Console>>,
    Path(device): Path<String>,
    headers: HeaderMap,
    Form(f): Form<HoldForm>,
) -> Response {
    let id = match check_form(&c, &headers, &f.csrf) {
        Ok(id) => id,
        Err(e) => return refused_form(e),
    };
    let Ok(dev) = DeviceId::parse(&device) else {
        return message(
            StatusCode::BAD_REQUEST,
            "不正な要求 / Bad request",
            "no such device",
        );
    };
    let reason = f.reason.trim().to_owned();
    let ask = RenewalHold {
        hold: f.hold == "1",
        reason: (!reason.is_empty()).then_some(reason),
    };
    let b = c.backend.clone();
    let d = dev.clone();
    let text = match blocking(move || b.renewal_hold(&d, &ask)).await {
        Ok(v) => format!("{dev}: 証明書の更新 / renewals: {}", v.renewal.as_str()),
        Err(e) => format!("{dev}: 拒否されました / refused: {e}"),
    };
    c.sessions.set_flash(&id, text);
    Redirect::to("/certificates").into_response()
}

async fn staff_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let Some((id, csrf)) = session(&c, &headers) else {
        return not_logged_in();
    };
    let Some(local) = c.local.clone() else {
        return no_local();
    };
    let flash = c.sessions.take_flash(&id);
    let l = local.clone();
    let body = match blocking(move || l.staff()).await {
        Ok(rows) => {
            let (_, role) = local.who();
            pages::staff::body(&rows, local.may_change_staff(), role.as_str(), &csrf)
        }
        Err(e) => maud::html! { p.flash.error id="error" { (e) } },
    };
    Html(pages::layout::page("職員 / Staff", &csrf, flash.as_deref(), body).into_string())
        .into_response()
}

#[derive(Deserialize)]
struct StaffForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
}

/// The typed passwords are cleared when the form is dropped (the request body they were
/// read from is hyper's, on loopback only).
impl Drop for StaffForm {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.password.zeroize();
        self.again.zeroize();
    }
}

/// Runs a staff change for a checked form and puts its outcome in the flash.
async fn staff_do(
    c: &Arc<Console>,
    headers: &HeaderMap,
    csrf: &str,
    what: String,
    f: impl FnOnce(&local::LocalPki) -> Result<String, String> + Send + 'static,
) -> Response {
    let id = match check_form(c, headers, csrf) {
        Ok(id) => id,
        Err(e) => return refused_form(e),
    };
    let Some(local) = c.local.clone() else {
        return no_local();
    };
    let text = match blocking(move || f(&local)).await {
        Ok(t) => t,
        Err(e) => format!("{what}: 拒否されました / refused: {e}"),
    };
    c.sessions.set_flash(&id, text);
    Redirect::to("/staff").into_response()
}

fn same_twice(f: &StaffForm) -> Result<(), String> {
    if f.password.as_bytes() == f.again.as_bytes() {
        Ok(())
    } else {
        Err("2つのパスワードが一致しません / the two passwords differ".into())
    }
}

async fn staff_add(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<StaffForm>,
) -> Response {
    let csrf = f.csrf.clone();
    let who = f.id.trim().to_owned();
    staff_do(&c, &headers, &csrf, who.clone(), move |l| {
        same_twice(&f)?;
        l.set_password(&who, &f.password, false)?;
        Ok(format!(
            "{who}: 追加しました。公開してください / added; publish the staff list"
        ))
    })
    .await
}

async fn staff_change(
    State(c): State<Arc<Console>>,
    Path((who, op)): Path<(String, String)>,
    headers: HeaderMap,
    Form(f): Form<StaffForm>,
) -> Response {
    let csrf = f.csrf.clone();
    staff_do(&c, &headers, &csrf, who.clone(), move |l| match op.as_str() {
        "disable" => {
            l.disable(&who)?;
            Ok(format!("{who}: 無効にしました。公開してください / disabled; publish the staff list"))
        }
        "reset" => {
            same_twice(&f)?;
            l.set_password(&who, &f.password, true)?;
            Ok(format!("{who}: パスワードを再設定しました。公開してください / password reset; publish the staff list"))
        }
        _ => Err("no such operation".into()),
    })
    .await
}

#[derive(Deserialize)]
struct PublishForm {
    #[serde(default)]
    csrf: String,
    /// `1`: hand the list to the relay too.
    #[serde(default)]
    push: Option<String>,
}

async fn staff_publish(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<PublishForm>,
) -> Response {
    let b = c.backend.clone();
    let push = f.push.is_some();
    staff_do(&c, &headers, &f.csrf, "publish".into(), move |l| {
        let (seq, path) = l.publish(pages::fleet::now())?;
        let sent = if push {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            match b.publish_staff_list(&bytes) {
                Ok(_) => "リレーに送りました。端末は次の接続で取得します / sent to the relay: the tablets fetch it at their next check-in".to_owned(),
                Err(e) => format!("リレーに送れませんでした / not sent to the relay: {e}"),
            }
        } else {
            "リレーには送っていません。端末に手で導入してください / not sent to the relay: install it on the tablets by hand".to_owned()
        };
        Ok(format!(
            "職員リスト {seq} 番を作成しました: {} / wrote staff list number {seq}: {}. {sent}",
            path.display(),
            path.display()
        ))
    })
    .await
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
