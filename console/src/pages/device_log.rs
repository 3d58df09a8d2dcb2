//! One device's operations log as the relay holds it, with the relay's verdict on the
//! chain (intact through the head the device signed, or what is wrong) and any alert.

use maud::{html, Markup};
use shinsei_protocol::api::DeviceAuditView;

use super::when;

pub(crate) fn body(v: &DeviceAuditView) -> Markup {
    html! {
        h2 { "端末の操作ログ / Operations log of " (v.device_id) }
        p id="chain" class={"flash" @if !v.chain_ok { " error" }} {
            "チェーン / chain: " (v.chain)
        }
        @if let Some(a) = &v.alert {
            p.flash.error id="alert" { "警告 / alert: " (a) }
        }
        p.note {
            "申請者の情報は含みません / no applicant data (events, staff IDs, envelope IDs only). "
            @if v.total > v.entries.len() {
                "新しい " (v.entries.len()) " 件を表示（全 " (v.total) " 件、チェーンの判定は全件） / the newest "
                (v.entries.len()) " of " (v.total) " entries (the chain verdict covers all)."
            }
        }
        table id="device-log" {
            thead { tr {
                th { "#" } th { "日時 / at" } th { "出来事 / event" } th { "職員 / staff" }
                th { "詳細 / detail" } th { "回数 / count" }
            } }
            tbody {
                @for e in v.entries.iter().rev() {
                    tr {
                        td { (e.seq) }
                        td { (when(e.at)) }
                        td { (e.event) }
                        td { (e.staff.as_deref().unwrap_or("-")) }
                        td { (e.detail.as_deref().unwrap_or("")) }
                        td { (e.count.map(|c| c.to_string()).unwrap_or_default()) }
                    }
                }
            }
        }
    }
}
