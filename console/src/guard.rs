//! The web-security rules every request passes, before any handler: the `Host` must be
//! the console's own loopback address (a page that rebinds its DNS name to 127.0.0.1
//! still sends its own name: refused), a state-changing request must carry an `Origin`
//! equal to the console's own, and every answer carries a strict Content-Security-Policy
//! (no inline script or style, nothing from any other origin, no framing) and
//! `no-store`. Pure checks ([`host_ok`], [`origin_ok`]) plus the axum middleware.

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The policy: only this origin's own script, style and form targets; nothing else.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The names the console answers to on `port`.
pub fn allowed_hosts(port: u16) -> [String; 3] {
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ]
}

/// Is `host` (the `Host` header) one of the console's own names?
pub fn host_ok(host: Option<&str>, port: u16) -> bool {
    host.is_some_and(|h| allowed_hosts(port).iter().any(|a| a == h))
}

/// May a request with `method` and `origin` change anything? Reads always may; other
/// methods need `Origin: http://HOST` with HOST one of the console's names.
pub fn origin_ok(method: &Method, origin: Option<&str>, port: u16) -> bool {
    if matches!(*method, Method::GET | Method::HEAD) {
        return true;
    }
    origin.is_some_and(|o| {
        allowed_hosts(port)
            .iter()
            .any(|h| o == format!("http://{h}"))
    })
}

/// The console's port (the middleware's state).
#[derive(Debug, Clone, Copy)]
pub struct Port(pub u16);

fn header_text(req: &Request, name: header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The middleware: refuses a foreign `Host` or `Origin` (403), adds the headers.
pub async fn guard(State(Port(port)): State<Port>, req: Request, next: Next) -> Response {
    let host = header_text(&req, header::HOST);
    let origin = header_text(&req, header::ORIGIN);
    let mut resp = if !host_ok(host.as_deref(), port) {
        tracing::warn!(host = ?host, "refused: foreign Host (DNS rebinding?)");
        (StatusCode::FORBIDDEN, "forbidden: foreign Host").into_response()
    } else if !origin_ok(req.method(), origin.as_deref(), port) {
        tracing::warn!(origin = ?origin, "refused: foreign or missing Origin");
        (
            StatusCode::FORBIDDEN,
            "forbidden: foreign or missing Origin",
        )
            .into_response()
    } else {
        next.run(req).await
    };
    let hs = resp.headers_mut();
    hs.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    hs.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    hs.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` Chromium sends `Origin: null`
    // with the console's own form posts (found by the browser test), which the Origin
    // check must refuse. Nothing is sent to any other origin either way.
    hs.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    hs.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_consoles_own_names_and_origin() {
        assert!(host_ok(Some("127.0.0.1:8450"), 8450));
        assert!(host_ok(Some("localhost:8450"), 8450));
        assert!(!host_ok(Some("127.0.0.1:8451"), 8450));
        assert!(!host_ok(Some("evil.example:8450"), 8450));
        assert!(!host_ok(Some("127.0.0.1"), 8450));
        assert!(!host_ok(None, 8450));
        assert!(origin_ok(&Method::GET, None, 8450));
        assert!(origin_ok(
            &Method::POST,
            Some("http://127.0.0.1:8450"),
            8450
        ));
        assert!(!origin_ok(&Method::POST, None, 8450));
        assert!(!origin_ok(&Method::POST, Some("null"), 8450));
        assert!(!origin_ok(
            &Method::POST,
            Some("http://evil.example:8450"),
            8450
        ));
        assert!(!origin_ok(
            &Method::POST,
            Some("https://127.0.0.1:8450"),
            8450
        ));
    }
}
