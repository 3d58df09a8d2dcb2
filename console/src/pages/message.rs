//! A page with one message and no session (login refused, not logged in, errors).

use maud::{html, Markup, DOCTYPE};

pub(crate) fn page(title: &str, text: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                title { (title) " — shinsei" }
                link rel="stylesheet" href="/assets/console.css";
            }
            body {
                main {
                    h1 { (title) }
                    p id="message" { (text) }
                }
            }
        }
    }
}
