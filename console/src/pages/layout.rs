//! The page shell: header with navigation and logout, the flash message, the body.

use maud::{html, Markup, DOCTYPE};

/// A whole page. `csrf` is the session's token (for the logout form).
pub(crate) fn page(title: &str, csrf: &str, flash: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                title { (title) " — shinsei" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header {
                    h1 { "shinsei 管理コンソール / fleet console" }
                    nav {
                        a href="/" { "端末 / Devices" } " · "
                        a href="/certificates" id="nav-certificates" { "証明書 / Certificates" } " · "
                        a href="/staff" id="nav-staff" { "職員 / Staff" } " · "
                        a href="/audit" { "監査ログ / Audit" }
                    }
                    form method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "ログアウト / Log out" }
                    }
                }
                main {
                    @if let Some(f) = flash {
                        p.flash role="status" id="flash" { (f) }
                    }
                    (body)
                }
            }
        }
    }
}
